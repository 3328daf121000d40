//! The Sigma condition grammar: any text as the `condition` of a rule with
//! four search identifiers (one hidden), evaluated on events that match
//! some of them.

#![no_main]

use libfuzzer_sys::fuzz_target;
use stance_fuzz::{evaluate_rules, scalar};
use stance_sigma_engine::{Engine, EngineConfig};

fuzz_target!(|data: &[u8]| {
    let Ok(condition) = std::str::from_utf8(data) else {
        return;
    };
    let rule = format!(
        "title: fuzz\nid: fuzz\nlogsource: {{product: aws, service: cloudtrail}}\ndetection:\n  sel_a: {{eventName: ConsoleLogin}}\n  sel_b: {{userIdentity.type: Root}}\n  filter_c: {{a: 2}}\n  _hidden: {{b: '1'}}\n  condition: {}\n",
        scalar(condition)
    );
    let (engine, _) = Engine::load(&[("fuzz.yml", rule.as_str())], EngineConfig::default());
    evaluate_rules(&engine);
});
