//! Pack manifests (`stance-pack.toml`): any text parsed as a manifest, and
//! what a loaded manifest answers (its id, its plugins' settings).

#![no_main]

use libfuzzer_sys::fuzz_target;
use stance_pack::Manifest;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Manifest::parse(text, "stance-pack.toml") {
        Ok(manifest) => {
            let _ = manifest.id();
            for plugin in &manifest.plugins {
                let _ = plugin.settings_json();
            }
        }
        Err(error) => {
            let _ = error.to_string();
        }
    }
});
