//! Whole policy files: any text as a YAML (or JSON) policy file, loaded
//! (schema, expressions, the mapping of errors back to lines and columns)
//! and, when it loads, evaluated.

#![no_main]

use libfuzzer_sys::fuzz_target;
use stance_fuzz::evaluate_policies;
use stance_policy_engine::{PolicySet, SourceFile};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match PolicySet::load(&[SourceFile {
        path: "fuzz.yaml".into(),
        text: text.to_string(),
    }]) {
        Ok(set) => evaluate_policies(&set),
        Err(errors) => {
            let _ = errors.to_string();
        }
    }
});
