//! Sigma rule files: any text as a YAML stream of rule documents (detection
//! rules, correlations, filters, `action` documents), loaded with and
//! without placeholders, and evaluated on a few events with state.

#![no_main]

use libfuzzer_sys::fuzz_target;
use stance_fuzz::evaluate_rules;
use stance_sigma_engine::{Engine, EngineConfig};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut with_placeholders = EngineConfig::default();
    with_placeholders.placeholders.insert(
        "admins".to_string(),
        vec!["alice".to_string(), "b*b".to_string(), "-x".to_string()],
    );
    for config in [EngineConfig::default(), with_placeholders] {
        let (engine, errors) = Engine::load(&[("fuzz.yml", text)], config);
        for e in &errors {
            let _ = e.to_string();
        }
        evaluate_rules(&engine);
    }
});
