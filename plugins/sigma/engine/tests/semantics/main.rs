//! The engine's semantics through its public API: every modifier, every
//! condition form, escapes and wildcards, rule-document handling, field
//! mapping and correlations across batches.
//!
//! These need nothing outside the crate; the tests beside this folder read
//! shared data (SigmaHQ rules, the CloudTrail pack) or run pySigma.

mod conditions;
mod correlations;
mod documents;
mod limits;
mod matching;
mod modifiers;

use serde_json::{Value, json};
use stance_sigma_engine::*;

const HEAD: &str =
    "title: T\nid: rule-1\nlogsource:\n  product: aws\n  service: cloudtrail\nlevel: high\n";

fn engine_with(detection: &str, config: EngineConfig) -> Engine {
    let text = format!("{HEAD}detection:\n{detection}");
    let (engine, errors) = Engine::load(&[("t.yml", text.as_str())], config);
    assert!(errors.is_empty(), "load errors: {errors:?}\n{text}");
    engine
}

fn engine(detection: &str) -> Engine {
    engine_with(detection, EngineConfig::default())
}

fn load_error(detection: &str) -> LoadError {
    let text = format!("{HEAD}detection:\n{detection}");
    let (_, errors) = Engine::load(&[("bad.yml", text.as_str())], EngineConfig::default());
    assert_eq!(errors.len(), 1, "expected one error, got {errors:?}");
    errors[0].clone()
}

fn ev(body: Value) -> Event {
    Event::new("e1", "aws_cloudtrail", "2024-05-01T10:00:00Z", body)
}

fn hits(e: &Engine, body: Value) -> bool {
    !e.evaluate(&[ev(body)], &mut MemoryStore::default())
        .is_empty()
}

/// One field, one value: does `value` (YAML) under `key` match the event field `actual`?
fn field_case(key: &str, value: &str, actual: Value) -> bool {
    let e = engine(&format!("  sel:\n    {key}: {value}\n  condition: sel\n"));
    hits(&e, json!({ "f": actual }))
}
