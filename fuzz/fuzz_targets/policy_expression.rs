//! The policy expression language: any text as a policy's `check.expression`
//! (and as a `{{ }}` placeholder of its message), parsed, analysed for the
//! paths it reads and evaluated on an asset with a value of every kind.
//! Nothing may panic, overflow the stack or run unbounded.

#![no_main]

use libfuzzer_sys::fuzz_target;
use stance_fuzz::{evaluate_policies, scalar};
use stance_policy_engine::{PolicySet, SourceFile};

fuzz_target!(|data: &[u8]| {
    let Ok(expr) = std::str::from_utf8(data) else {
        return;
    };
    let message = scalar(&format!("got {{{{ {expr} }}}}"));
    for check in [
        format!("  expression: {}\n", scalar(expr)),
        format!("  expression: 'true'\n  message: {message}\n"),
        format!("  expression: {}\n  message: {message}\n", scalar(expr)),
    ] {
        let text = format!(
            "id: fuzz\nname: fuzz\nseverity: low\nresource_type: aws_test\ncheck:\n{check}"
        );
        if let Ok(set) = PolicySet::load(&[SourceFile {
            path: "fuzz.yaml".into(),
            text,
        }]) {
            evaluate_policies(&set);
        }
    }
});
