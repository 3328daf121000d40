//! Snapshot files (`stance scan --snapshot`): any bytes, as a JSON document
//! through `read_json` and as a file (gzip and NDJSON detection included)
//! through `read_with` and the default limits. A snapshot that loads is
//! written and read back unchanged.

#![no_main]

use std::io::Write;
use std::path::Path;

use libfuzzer_sys::fuzz_target;
use stance_fuzz::snapshot::{read, read_json, write};

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = read_json(Path::new("fuzz.json"), text).map_err(|e| e.to_string());
    }
    let Ok(dir) = tempfile::tempdir() else {
        return;
    };
    let path = dir.path().join("snapshot.json");
    let Ok(mut file) = std::fs::File::create(&path) else {
        return;
    };
    if file.write_all(data).is_err() {
        return;
    }
    drop(file);
    match read(&path) {
        Ok(snapshot) => {
            let again = dir.path().join("again.json");
            write(&again, &snapshot).expect("a loaded snapshot can be written");
            let back = read(&again).expect("a written snapshot reads back");
            assert_eq!(back.assets.len(), snapshot.assets.len());
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }
});
