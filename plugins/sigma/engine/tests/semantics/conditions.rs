//! Conditions: and/or/not precedence, `of` patterns, condition lists and
//! condition errors.

use serde_json::json;

use super::*;

fn cond(condition: &str, body: Value) -> bool {
    let e = engine(&format!(
        "  sel_a:\n    a: 1\n  sel_b:\n    b: 1\n  filter_c:\n    c: 1\n  _hidden:\n    h: 1\n  condition: {condition}\n"
    ));
    hits(&e, body)
}

#[test]
fn and_or_not_and_precedence() {
    assert!(cond("sel_a and sel_b", json!({"a": 1, "b": 1})));
    assert!(!cond("sel_a and sel_b", json!({"a": 1})));
    assert!(cond("sel_a or sel_b", json!({"b": 1})));
    assert!(cond("sel_a and not filter_c", json!({"a": 1})));
    assert!(!cond("sel_a and not filter_c", json!({"a": 1, "c": 1})));
    // not > and > or: `not a and b or c` is `((not a) and b) or c`.
    assert!(cond(
        "not sel_a and sel_b or filter_c",
        json!({"c": 1, "a": 1})
    ));
    assert!(cond("not sel_a and sel_b or filter_c", json!({"b": 1})));
    assert!(!cond(
        "not sel_a and sel_b or filter_c",
        json!({"a": 1, "b": 1})
    ));
    // `a or b and c` is `a or (b and c)`.
    assert!(cond("sel_a or sel_b and filter_c", json!({"a": 1})));
    assert!(!cond("sel_a or sel_b and filter_c", json!({"b": 1})));
    assert!(!cond("(sel_a or sel_b) and filter_c", json!({"a": 1})));
    assert!(cond(
        "(sel_a or sel_b) and filter_c",
        json!({"a": 1, "c": 1})
    ));
    assert!(cond("not (sel_a or sel_b)", json!({})));
    assert!(cond("not not sel_a", json!({"a": 1})));
    assert!(cond("sel_a AND NOT filter_c", json!({"a": 1})));
}

#[test]
fn of_patterns_and_them() {
    assert!(cond("1 of sel_*", json!({"b": 1})));
    assert!(!cond("all of sel_*", json!({"b": 1})));
    assert!(cond("all of sel_*", json!({"a": 1, "b": 1})));
    assert!(cond("1 of them", json!({"c": 1})));
    // `them` leaves out identifiers starting with `_`.
    assert!(!cond("1 of them", json!({"h": 1})));
    assert!(cond("all of them", json!({"a": 1, "b": 1, "c": 1})));
    assert!(!cond("all of them", json!({"a": 1, "b": 1})));
    assert!(cond("1 of *_c", json!({"c": 1})));
    assert!(cond("1 of sel* and not 1 of filter*", json!({"a": 1})));
    assert!(!cond(
        "1 of sel* and not 1 of filter*",
        json!({"a": 1, "c": 1})
    ));
    assert!(cond("any of sel_*", json!({"a": 1})));
    // `not 1 of x` negates the whole quantifier.
    assert!(cond("not 1 of sel_*", json!({"c": 1})));
    assert!(cond("not all of sel_*", json!({"a": 1})));
}

#[test]
fn condition_lists_are_or() {
    let e = engine("  a:\n    a: 1\n  b:\n    b: 1\n  condition:\n    - a\n    - b\n");
    assert!(hits(&e, json!({"b": 1})));
}

#[test]
fn condition_errors_are_reported() {
    let bad = |c: &str| load_error(&format!("  sel:\n    a: 1\n  condition: {c}\n"));
    assert!(bad("sel and").message.contains("ends"));
    assert!(bad("sel and nope").message.contains("'nope'"));
    assert!(bad("(sel").message.contains("')'"));
    assert!(bad("sel)").message.contains("')'"));
    assert!(bad("1 of x*").message.contains("matches no"));
    assert!(bad("sel | count() > 5").message.contains("correlation"));
    assert!(bad("2 of sel*").message.contains("only '1 of'"));
    assert_eq!(
        bad("sel or or sel").field.as_deref(),
        Some("detection.condition")
    );
    assert!(
        bad(&format!("{}sel{}", "(".repeat(100), ")".repeat(100)))
            .message
            .contains("deeper")
    );
    assert!(
        bad(&format!("{}sel", "not ".repeat(100)))
            .message
            .contains("deeper")
    );
    let missing = load_error("  sel:\n    a: 1\n");
    assert_eq!(missing.field.as_deref(), Some("detection.condition"));
}
