//! Lock files (`stance.lock`): any text parsed as a lock, then written back
//! and parsed again (what we write, we must read).

#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use stance_pack::Lock;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = Path::new("stance.lock");
    match Lock::parse(text, path) {
        Ok(lock) => {
            let _ = lock.requirements();
            let again = Lock::parse(&lock.to_toml(), path);
            assert!(again.is_ok(), "a lock we wrote does not read back: {again:?}");
        }
        Err(error) => {
            let _ = error.to_string();
        }
    }
});
