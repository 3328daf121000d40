//! Hostile rules (issue 12): a YAML syntax error costs only its own
//! document, every document's fate is reported with its line, and every
//! part of a rule that could make loading or matching unbounded (deep YAML,
//! deep conditions, long field paths, modifier expansion) is refused with a
//! precise error.

use super::*;

fn ok_rule(id: &str, field: &str) -> String {
    format!(
        "title: {id}\nid: {id}\nlogsource: {{product: aws, service: cloudtrail}}\ndetection:\n  s:\n    {field}: 1\n  condition: s\n"
    )
}

#[test]
fn a_yaml_syntax_error_costs_only_its_own_document() {
    // Case 11: the third document vanished ("1 of 2 rules").
    let text = format!(
        "{}---\ntitle: broken\nid: [unclosed\n---\n{}",
        ok_rule("first", "a"),
        ok_rule("third", "b")
    );
    let (engine, errors) = Engine::load(&[("three.yml", text.as_str())], EngineConfig::default());
    let ids: Vec<&str> = engine.rules().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["first", "third"], "{errors:?}");
    assert_eq!(errors.len(), 1, "{errors:?}");
    let e = &errors[0];
    assert_eq!(e.document, 2);
    assert!((9..=11).contains(&e.line), "{e:?}");
    assert!(e.message.starts_with("invalid YAML"), "{e}");
    assert!(
        e.to_string()
            .starts_with(&format!("three.yml:{} (document 2): invalid YAML", e.line)),
        "{e}"
    );
    // The loaded rules know where they came from.
    let third = engine.rules().find(|r| r.id == "third");
    assert_eq!(third.map(|r| (r.document, r.line)), Some((3, 12)));
}

#[test]
fn every_document_is_numbered_as_yaml_numbers_it() {
    // A leading comment and `---`, an explicit end marker, an empty document.
    let text = format!(
        "# rules\n---\n{}...\n---\n---\n{}---\ntitle: [x\n",
        ok_rule("one", "a"),
        ok_rule("three", "b")
    );
    let (engine, errors) = Engine::load(&[("n.yml", text.as_str())], EngineConfig::default());
    let docs: Vec<(usize, usize)> = engine.rules().map(|r| (r.document, r.line)).collect();
    assert_eq!(docs, [(1, 3), (3, 13)], "{errors:?}");
    assert_eq!(errors.len(), 1);
    assert_eq!(
        (errors[0].document, errors[0].line),
        (4, 21),
        "{:?}",
        errors[0]
    );
}

#[test]
fn field_errors_name_the_line_their_document_starts_on() {
    let text = format!("{}---\n{}", ok_rule("a", "x"), ok_rule("b", "x|nope"));
    let (_, errors) = Engine::load(&[("f.yml", text.as_str())], EngineConfig::default());
    assert_eq!(errors.len(), 1);
    assert_eq!((errors[0].document, errors[0].line), (2, 9));
    assert!(
        errors[0]
            .to_string()
            .starts_with("f.yml:9 (document 2) [b]: detection.s.x|nope"),
        "{}",
        errors[0]
    );
}

#[test]
fn deep_yaml_is_refused_by_the_parser_limit() {
    let deep = format!(
        "title: deep\nid: deep\nlogsource: {{product: aws}}\ndetection:\n  s:\n    a: {}1{}\n  condition: s\n",
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    let text = format!("{deep}---\n{}", ok_rule("fine", "a"));
    let (engine, errors) = Engine::load(&[("d.yml", text.as_str())], EngineConfig::default());
    assert_eq!(engine.rules().count(), 1);
    assert!(
        errors[0].message.contains("recursion limit"),
        "{}",
        errors[0]
    );
}

#[test]
fn deep_conditions_are_refused() {
    for condition in [
        format!("{}s{}", "(".repeat(100_000), ")".repeat(100_000)),
        format!("{}s", "not ".repeat(100_000)),
    ] {
        let e = load_error(&format!("  s:\n    a: 1\n  condition: '{condition}'\n"));
        assert!(e.message.contains("nests deeper than 64"), "{e}");
    }
    // At the limit it loads and matches.
    let condition = format!("{}s{}", "(".repeat(63), ")".repeat(63));
    let e = engine(&format!("  s:\n    a: 1\n  condition: '{condition}'\n"));
    assert!(hits(&e, json!({"a": 1})));
}

#[test]
fn long_field_paths_are_refused_at_load() {
    // 100,000 segments: matching would join ever longer prefixes per event.
    // (A YAML key this long must be explicit: `? key`.)
    let field = vec!["a"; 100_000].join(".");
    let e = load_error(&format!("  s:\n    ? {field}\n    : 1\n  condition: s\n"));
    assert!(e.message.contains("more than 128"), "{e}");
    let e = load_error(&format!("  s:\n    b|fieldref: {field}\n  condition: s\n"));
    assert!(e.message.contains("more than 128"), "{e}");
    // 128 segments load and match.
    let field = vec!["a"; 128].join(".");
    let mut body = json!(1);
    for _ in 0..128 {
        body = json!({ "a": body });
    }
    let e = engine(&format!("  s:\n    {field}: 1\n  condition: s\n"));
    assert!(hits(&e, body));
}

#[test]
fn modifier_expansion_is_bounded_before_it_allocates() {
    // Each windash multiplies by five per flag: twice over five flags would
    // be 9.7 million alternatives.
    let e = load_error("  s:\n    f|windash|windash: '-a -b -c -d -e'\n  condition: s\n");
    assert!(e.message.contains("alternatives"), "{e}");
    let e =
        load_error("  s:\n    f|windash|base64offset|windash: '-a -b -c -d -e'\n  condition: s\n");
    assert!(e.message.contains("alternatives"), "{e}");
}
