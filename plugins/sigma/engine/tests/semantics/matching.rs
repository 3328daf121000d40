//! Default matching: case-insensitive equality, wildcards and escapes, numbers,
//! nulls, value lists, maps, dotted paths and keyword searches.

use serde_json::json;

use super::*;

#[test]
fn plain_equality_is_case_insensitive_and_whole_value() {
    assert!(field_case("f", "'Hello'", json!("hello")));
    assert!(field_case("f", "'Hello'", json!("HELLO")));
    assert!(!field_case("f", "'Hello'", json!("hello world")));
    assert!(!field_case("f", "'Hello'", json!(null)));
    assert!(!field_case("g", "'Hello'", json!("Hello")));
}

#[test]
fn star_and_question_wildcards() {
    assert!(field_case("f", "'prog?.exe'", json!("progA.exe")));
    assert!(!field_case("f", "'prog?.exe'", json!("prog.exe")));
    assert!(!field_case("f", "'prog?.exe'", json!("progAB.exe")));
    assert!(field_case(
        "f",
        "'antivirus_V*.exe'",
        json!("antivirus_V21.2.1.exe")
    ));
    assert!(field_case("f", "'a*b*c'", json!("aXXbYYc")));
    assert!(field_case("f", "'a*b*c'", json!("abc")));
    assert!(!field_case("f", "'a*b*c'", json!("acb")));
    assert!(field_case("f", "'*'", json!("")));
    assert!(field_case("f", "'*?*'", json!("x")));
    assert!(!field_case("f", "'*?*'", json!("")));
    assert!(field_case("f", "'?é*'", json!("xÉtoile")));
    assert!(field_case("f", "'*ab*ab'", json!("abab")));
    assert!(!field_case("f", "'*ab*ab'", json!("ab")));
}

#[test]
fn backslash_escapes_follow_the_specification() {
    // A plain backslash not before a wildcard: single or double.
    assert!(field_case(
        "f",
        r"'C:\Windows\x.exe'",
        json!(r"C:\Windows\x.exe")
    ));
    assert!(field_case("f", r"'C:\\Windows'", json!(r"C:\Windows")));
    // Escaped wildcards are literal.
    assert!(field_case("f", r"'a\*b'", json!("a*b")));
    assert!(!field_case("f", r"'a\*b'", json!("aXb")));
    assert!(field_case("f", r"'what\?'", json!("what?")));
    assert!(!field_case("f", r"'what\?'", json!("whatx")));
    // `\\*`: a backslash, then a wildcard.
    assert!(field_case("f", r"'dir\\*'", json!(r"dir\anything")));
    assert!(!field_case("f", r"'dir\\*'", json!("dirx")));
    // `\\\*`: a backslash and a literal star.
    assert!(field_case("f", r"'dir\\\*'", json!(r"dir\*")));
    assert!(!field_case("f", r"'dir\\\*'", json!(r"dir\abc")));
    // Three or four backslashes are a double backslash.
    assert!(field_case("f", r"'a\\\\b'", json!(r"a\\b")));
    assert!(field_case("f", r"'a\\\b'", json!(r"a\\b")));
}

#[test]
fn numbers_and_booleans_compare_by_value() {
    assert!(field_case("f", "4625", json!(4625)));
    assert!(field_case("f", "4625", json!("4625")));
    assert!(field_case("f", "4625", json!(4625.0)));
    assert!(!field_case("f", "4625", json!(4626)));
    assert!(field_case("f", "'4625'", json!(4625)));
    assert!(field_case("f", "true", json!(true)));
    assert!(field_case("f", "true", json!("True")));
    assert!(!field_case("f", "true", json!(false)));
    assert!(field_case("f", "'false'", json!(false)));
}

#[test]
fn null_and_empty_values() {
    let e = engine("  sel:\n    errorCode: null\n  condition: sel\n");
    assert!(hits(&e, json!({})));
    assert!(hits(&e, json!({"errorCode": null})));
    assert!(!hits(&e, json!({"errorCode": "AccessDenied"})));
    let e = engine("  sel:\n    f: ''\n  condition: sel\n");
    assert!(hits(&e, json!({"f": ""})));
    assert!(!hits(&e, json!({"f": "x"})));
    assert!(!hits(&e, json!({})));
}

#[test]
fn value_lists_are_or_and_all_makes_them_and() {
    let e = engine("  sel:\n    f:\n      - a\n      - b\n  condition: sel\n");
    assert!(hits(&e, json!({"f": "a"})));
    assert!(hits(&e, json!({"f": "B"})));
    assert!(!hits(&e, json!({"f": "c"})));
    let e = engine("  sel:\n    f|contains|all:\n      - new\n      - export\n  condition: sel\n");
    assert!(hits(&e, json!({"f": "New-ComplianceSearchAction -Export"})));
    assert!(!hits(&e, json!({"f": "New-Thing"})));
}

#[test]
fn maps_are_and_and_lists_of_maps_are_or() {
    let e = engine("  sel:\n    a: 1\n    b: 2\n  condition: sel\n");
    assert!(hits(&e, json!({"a": 1, "b": 2})));
    assert!(!hits(&e, json!({"a": 1, "b": 3})));
    let e = engine("  sel:\n    - a: 1\n    - b: 2\n  condition: sel\n");
    assert!(hits(&e, json!({"a": 1})));
    assert!(hits(&e, json!({"b": 2})));
    assert!(!hits(&e, json!({"a": 2, "b": 1})));
}

#[test]
fn dotted_paths_arrays_and_objects() {
    let e = engine("  sel:\n    userIdentity.type: Root\n  condition: sel\n");
    assert!(hits(&e, json!({"userIdentity": {"type": "Root"}})));
    assert!(hits(&e, json!({"userIdentity.type": "Root"})));
    assert!(!hits(&e, json!({"userIdentity": {"type": "IAMUser"}})));
    // Arrays fan out along the path and at the leaf.
    let e = engine("  sel:\n    items.cidr: 0.0.0.0/0\n  condition: sel\n");
    assert!(hits(
        &e,
        json!({"items": [{"cidr": "10.0.0.0/8"}, {"cidr": "0.0.0.0/0"}]})
    ));
    let e = engine("  sel:\n    tags: prod\n  condition: sel\n");
    assert!(hits(&e, json!({"tags": ["dev", "prod"]})));
    // Objects are matched as their JSON text.
    let e =
        engine("  sel:\n    requestParameters|contains: '\"s3:GetObject\"'\n  condition: sel\n");
    assert!(hits(
        &e,
        json!({"requestParameters": {"action": "s3:GetObject"}})
    ));
}

#[test]
fn keywords_search_every_value() {
    let e = engine("  keywords:\n    - 'event::clear'\n    - 'evil*svc'\n  condition: keywords\n");
    assert!(hits(&e, json!({"a": {"b": "run event::CLEAR now"}})));
    assert!(hits(&e, json!({"list": ["x", "the evil-svc"]})));
    assert!(!hits(
        &e,
        json!({"event::clear": "key names are not searched"})
    ));
    let e = engine(
        "  keywords:\n    '|all':\n      - 'OabVirtualDirectory'\n      - ' -ExternalUrl '\n  condition: keywords\n",
    );
    assert!(hits(
        &e,
        json!({"cmd": "Set-OabVirtualDirectory -ExternalUrl x"})
    ));
    assert!(hits(
        &e,
        json!({"a": "OabVirtualDirectory", "b": "y -ExternalUrl z"})
    ));
    assert!(!hits(&e, json!({"cmd": "Set-OabVirtualDirectory"})));
    let e = engine("  keywords: 4625\n  condition: keywords\n");
    assert!(hits(&e, json!({"id": 14625})));
}
