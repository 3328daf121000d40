//! Unit tests: every modifier, every condition form, escapes and wildcards,
//! rule-document handling, field mapping and correlations across batches.

use serde_json::{Value, json};

use crate::*;

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

// ---- default matching, wildcards and escapes ----

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

// ---- modifiers ----

#[test]
fn contains_startswith_endswith() {
    assert!(field_case("f|contains", "'MiD'", json!("aamidbb")));
    assert!(!field_case("f|contains", "'mid'", json!("m-i-d")));
    assert!(field_case("f|startswith", "'adm_'", json!("ADM_alice")));
    assert!(!field_case("f|startswith", "'adm_'", json!("x_adm_alice")));
    assert!(field_case(
        "f|endswith",
        r"'\cmd.exe'",
        json!(r"C:\Windows\System32\CMD.EXE")
    ));
    assert!(!field_case("f|endswith", r"'\cmd.exe'", json!("cmd.exe")));
    // Wildcards inside still work; an existing edge star is not doubled.
    assert!(field_case("f|contains", "'a?c'", json!("xxabcxx")));
    assert!(field_case("f|startswith", "'ab*'", json!("abzz")));
    assert!(field_case("f|contains", "4625", json!("id 4625 x")));
}

#[test]
fn cased_is_case_sensitive() {
    assert!(field_case("f|cased", "'Root'", json!("Root")));
    assert!(!field_case("f|cased", "'Root'", json!("root")));
    assert!(field_case("f|contains|cased", "'Key'", json!("AccessKey")));
    assert!(!field_case("f|contains|cased", "'Key'", json!("accesskey")));
}

#[test]
fn re_and_its_flags() {
    assert!(field_case(
        "f|re",
        "'.+:assumed-role/aws:.+'",
        json!("arn:aws:sts::1:assumed-role/aws:ec2-instance/i-1")
    ));
    assert!(!field_case("f|re", "'^abc$'", json!("ABC")));
    assert!(field_case("f|re|i", "'^abc$'", json!("ABC")));
    assert!(field_case("f|re", "'b.d'", json!("abcde")));
    assert!(!field_case("f|re", "'^line2'", json!("line1\nline2")));
    assert!(field_case("f|re|m", "'^line2'", json!("line1\nline2")));
    assert!(!field_case("f|re", "'a.b'", json!("a\nb")));
    assert!(field_case("f|re|s", "'a.b'", json!("a\nb")));
    assert!(field_case("f|re|i|m|s", "'^X.Y$'", json!("q\nx\ny")));
    // Regex is not subject to wildcard processing.
    assert!(field_case("f|re", r"'a\*b'", json!("a*b")));
    let err = load_error("  sel:\n    f|re: '(?<=x)y'\n  condition: sel\n");
    assert_eq!(err.field.as_deref(), Some("detection.sel.f|re"));
    assert!(err.message.contains("invalid regular expression"), "{err}");
    let err = load_error("  sel:\n    f|i: 'x'\n  condition: sel\n");
    assert!(err.message.contains("need the re modifier"), "{err}");
}

#[test]
fn cidr_v4_and_v6() {
    assert!(field_case("f|cidr", "'10.0.0.0/8'", json!("10.20.30.40")));
    assert!(!field_case("f|cidr", "'10.0.0.0/8'", json!("11.0.0.1")));
    assert!(field_case(
        "f|cidr",
        "'192.168.1.7/32'",
        json!("192.168.1.7")
    ));
    assert!(field_case("f|cidr", "'0.0.0.0/0'", json!("8.8.8.8")));
    assert!(field_case(
        "f|cidr",
        "'2001:db8::/32'",
        json!("2001:db8:1::5")
    ));
    assert!(!field_case(
        "f|cidr",
        "'2001:db8::/32'",
        json!("2001:db9::5")
    ));
    assert!(!field_case("f|cidr", "'2001:db8::/32'", json!("10.0.0.1")));
    assert!(!field_case("f|cidr", "'10.0.0.0/8'", json!("not an ip")));
    let e = engine(
        "  sel:\n    f|cidr:\n      - 10.0.0.0/8\n      - 172.16.0.0/12\n  condition: sel\n",
    );
    assert!(hits(&e, json!({"f": "172.20.1.1"})));
    assert!(
        load_error("  sel:\n    f|cidr: 10.0.0.0/40\n  condition: sel\n")
            .message
            .contains("CIDR")
    );
}

#[test]
fn base64_and_base64offset() {
    // "http://" → aHR0cDovLw==
    assert!(field_case("f|base64", "'http://'", json!("aHR0cDovLw==")));
    assert!(field_case(
        "f|base64|contains",
        "'http://'",
        json!("xxaHR0cDovLw==yy")
    ));
    assert!(!field_case("f|base64", "'http://'", json!("http://")));
    // The value appears at any byte offset inside a base64 blob.
    let e = engine("  sel:\n    f|base64offset|contains: 'http://'\n  condition: sel\n");
    for prefix in ["", "a", "ab", "abc", "xyzw"] {
        let blob = base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            format!("{prefix}http://evil.example"),
        );
        assert!(hits(&e, json!({"f": blob})), "offset {}", prefix.len());
    }
    assert!(!hits(&e, json!({"f": "aGVsbG8gd29ybGQ="})));
    assert!(
        load_error("  sel:\n    f|base64: 'a*'\n  condition: sel\n")
            .message
            .contains("wildcards")
    );
}

#[test]
fn utf16_encodings_with_base64() {
    let b64 =
        |bytes: &[u8]| base64::Engine::encode(&base64::engine::general_purpose::STANDARD, bytes);
    let le: Vec<u8> = "cmd".encode_utf16().flat_map(u16::to_le_bytes).collect();
    let be: Vec<u8> = "cmd".encode_utf16().flat_map(u16::to_be_bytes).collect();
    let mut bom = vec![0xFF, 0xFE];
    bom.extend(&le);
    assert!(field_case("f|utf16le|base64", "'cmd'", json!(b64(&le))));
    assert!(field_case("f|wide|base64", "'cmd'", json!(b64(&le))));
    assert!(field_case("f|utf16be|base64", "'cmd'", json!(b64(&be))));
    assert!(field_case("f|utf16|base64", "'cmd'", json!(b64(&bom))));
    assert!(!field_case("f|utf16be|base64", "'cmd'", json!(b64(&le))));
    // wide + base64offset + contains: the PowerShell -EncodedCommand idiom.
    let e = engine("  sel:\n    f|wide|base64offset|contains: 'IEX'\n  condition: sel\n");
    for prefix in ["", "a", "ab"] {
        let s: Vec<u8> = format!("{prefix}IEX (New-Object)")
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        assert!(hits(&e, json!({"f": b64(&s)})), "prefix {prefix:?}");
    }
}

#[test]
fn windash_permutes_flag_dashes() {
    let e = engine("  sel:\n    f|windash|contains: ' -exec bypass'\n  condition: sel\n");
    for dash in ["-", "/", "\u{2013}", "\u{2014}", "\u{2015}"] {
        assert!(
            hits(&e, json!({"f": format!("powershell {dash}exec bypass")})),
            "{dash}"
        );
    }
    assert!(!hits(&e, json!({"f": "powershell +exec bypass"})));
    // A dash inside a word is not a flag.
    let e = engine("  sel:\n    f|windash: 'a-b'\n  condition: sel\n");
    assert!(hits(&e, json!({"f": "a-b"})));
    assert!(!hits(&e, json!({"f": "a/b"})));
    // Two flags: every combination.
    let e = engine("  sel:\n    f|windash: '-a -b'\n  condition: sel\n");
    assert!(hits(&e, json!({"f": "/a -b"})));
    assert!(hits(&e, json!({"f": "-a /b"})));
}

#[test]
fn exists() {
    let e = engine("  sel:\n    f|exists: true\n  condition: sel\n");
    assert!(hits(&e, json!({"f": null})));
    assert!(hits(&e, json!({"f": ""})));
    assert!(!hits(&e, json!({"g": 1})));
    let e = engine("  sel:\n    a.b|exists: false\n  condition: sel\n");
    assert!(hits(&e, json!({"a": {}})));
    assert!(!hits(&e, json!({"a": {"b": 0}})));
    assert!(
        load_error("  sel:\n    f|exists: maybe\n  condition: sel\n")
            .message
            .contains("true or false")
    );
}

#[test]
fn numeric_comparisons() {
    assert!(field_case("f|lt", "10", json!(9)));
    assert!(!field_case("f|lt", "10", json!(10)));
    assert!(field_case("f|lte", "10", json!(10)));
    assert!(field_case("f|gt", "10", json!(10.5)));
    assert!(!field_case("f|gt", "10", json!(10)));
    assert!(field_case("f|gte", "10", json!("10")));
    assert!(!field_case("f|gte", "10", json!("ten")));
    assert!(!field_case("f|gte", "10", json!(null)));
    assert!(
        load_error("  sel:\n    f|gt: ten\n  condition: sel\n")
            .message
            .contains("number")
    );
}

#[test]
fn neq() {
    assert!(field_case("f|neq", "'a'", json!("b")));
    assert!(!field_case("f|neq", "'a'", json!("A")));
    assert!(!field_case("f|neq", "'a'", json!(null)));
    assert!(field_case("f|neq", "5", json!(6)));
    let e = engine("  sel:\n    f|neq: a\n  condition: sel\n");
    assert!(!hits(&e, json!({})));
}

#[test]
fn fieldref() {
    let e = engine(
        "  sel:\n    userIdentity.arn|fieldref: requestParameters.userName\n  condition: sel\n",
    );
    assert!(hits(
        &e,
        json!({"userIdentity": {"arn": "bob"}, "requestParameters": {"userName": "BOB"}})
    ));
    assert!(!hits(
        &e,
        json!({"userIdentity": {"arn": "bob"}, "requestParameters": {"userName": "alice"}})
    ));
    assert!(!hits(&e, json!({"userIdentity": {"arn": "bob"}})));
    let e = engine("  sel:\n    a|fieldref|endswith: b\n  condition: sel\n");
    assert!(hits(
        &e,
        json!({"a": "arn:aws:iam::1:user/bob", "b": "/bob"})
    ));
    let e = engine("  sel:\n    a|fieldref|cased: b\n  condition: sel\n");
    assert!(!hits(&e, json!({"a": "Bob", "b": "bob"})));
}

#[test]
fn expand_resolves_placeholders() {
    let mut config = EngineConfig::default();
    config
        .placeholders
        .insert("Admins".into(), vec!["root".into(), "adm_*".into()]);
    let e = engine_with(
        "  sel:\n    user|expand: '%Admins%'\n  condition: sel\n",
        config.clone(),
    );
    assert!(hits(&e, json!({"user": "root"})));
    assert!(hits(&e, json!({"user": "adm_alice"})));
    assert!(!hits(&e, json!({"user": "bob"})));
    // Escaped percent and text around the placeholder.
    let e = engine_with(
        "  sel:\n    p|expand: '\\%x-%Admins%'\n  condition: sel\n",
        config.clone(),
    );
    assert!(hits(&e, json!({"p": "%x-root"})));
    // Without expand, %...% is literal.
    let e = engine_with("  sel:\n    user: '%Admins%'\n  condition: sel\n", config);
    assert!(hits(&e, json!({"user": "%admins%"})));
    let err = load_error("  sel:\n    user|expand: '%Nobody%'\n  condition: sel\n");
    assert!(err.message.contains("%Nobody%"), "{err}");
    assert_eq!(err.field.as_deref(), Some("detection.sel.user|expand"));
}

#[test]
fn time_part_modifiers() {
    assert!(field_case("f|hour", "3", json!("2024-01-01T03:15:00Z")));
    assert!(field_case(
        "f|hour|gte",
        "20",
        json!("2024-01-01T22:00:00Z")
    ));
    assert!(!field_case(
        "f|hour|gte",
        "20",
        json!("2024-01-01T09:00:00Z")
    ));
    assert!(field_case("f|month", "12", json!("2023-12-31T23:59:59Z")));
    assert!(field_case(
        "f|year",
        "2024",
        json!("2024-06-01T00:00:00+02:00")
    ));
    assert!(field_case("f|minute", "15", json!("2024-01-01T03:15:00Z")));
    assert!(field_case("f|day", "31", json!("2023-12-31T23:59:59Z")));
    assert!(field_case("f|week", "1", json!("2024-01-03T00:00:00Z")));
}

#[test]
fn unknown_modifier_is_a_precise_error() {
    let err = load_error("  sel:\n    eventName|contain: x\n  condition: sel\n");
    assert_eq!(
        err.field.as_deref(),
        Some("detection.sel.eventName|contain")
    );
    assert!(err.message.contains("'contain'"));
    assert_eq!(err.title.as_deref(), Some("T"));
    assert_eq!(err.file, "bad.yml");
    assert!(
        err.to_string()
            .starts_with("bad.yml [T]: detection.sel.eventName|contain:"),
        "{err}"
    );
}

// ---- conditions ----

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

// ---- documents ----

#[test]
fn rule_documents_and_metadata() {
    let text = "title: Bad level\nlogsource: {product: aws}\nlevel: severe\ndetection: {s: {a: 1}, condition: s}\n";
    let (_, errors) = Engine::load(&[("l.yml", text)], EngineConfig::default());
    assert_eq!(errors[0].field.as_deref(), Some("level"));
    let text = "logsource: {product: aws}\ndetection: {s: {a: 1}, condition: s}\n";
    let (_, errors) = Engine::load(&[("n.yml", text)], EngineConfig::default());
    assert_eq!(errors[0].field.as_deref(), Some("title"));
    let text = "title: x\ndetection: {s: {a: 1}, condition: s}\n";
    let (_, errors) = Engine::load(&[("n.yml", text)], EngineConfig::default());
    assert_eq!(errors[0].field.as_deref(), Some("logsource"));
    let (_, errors) = Engine::load(&[("y.yml", "title: [unclosed\n")], EngineConfig::default());
    assert!(errors[0].message.contains("invalid YAML"));
    let (engine, _) = Engine::load(
        &[(
            "t.yml",
            format!("{HEAD}detection: {{s: {{a: 1}}, condition: s}}\ntags: [attack.t1078]\n"),
        )],
        EngineConfig::default(),
    );
    let info = engine.rules().next().cloned();
    let info = info.unwrap_or_else(|| panic!("no rule"));
    assert_eq!(info.id, "rule-1");
    assert_eq!(info.level, Level::High);
    assert_eq!(info.meta.tags, vec!["attack.t1078".to_string()]);
}

#[test]
fn global_action_and_multiple_documents() {
    let text = "action: global\ntitle: Shared\nlogsource: {product: aws, service: cloudtrail}\ndetection:\n  base:\n    eventSource: iam.amazonaws.com\n  condition: base and sel\n---\nid: g1\ndetection:\n  sel:\n    eventName: CreateUser\n---\nid: g2\ntitle: Second\ndetection:\n  sel:\n    eventName: DeleteUser\n";
    let (engine, errors) = Engine::load(&[("g.yml", text)], EngineConfig::default());
    assert!(errors.is_empty(), "{errors:?}");
    let titles: Vec<_> = engine
        .rules()
        .map(|r| (r.id.clone(), r.meta.title.clone()))
        .collect();
    assert_eq!(
        titles,
        vec![
            ("g1".into(), "Shared".into()),
            ("g2".into(), "Second".into())
        ]
    );
    let m = engine.evaluate(
        &[ev(
            json!({"eventSource": "iam.amazonaws.com", "eventName": "DeleteUser"}),
        )],
        &mut MemoryStore::default(),
    );
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].rule_id, "g2");
}

#[test]
fn one_bad_document_does_not_stop_the_others() {
    let text = format!(
        "{HEAD}detection: {{s: {{a|nope: 1}}, condition: s}}\n---\ntitle: ok\nid: ok\nlogsource: {{product: aws}}\ndetection: {{s: {{a: 1}}, condition: s}}\n"
    );
    let (engine, errors) = Engine::load(&[("m.yml", text)], EngineConfig::default());
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].document, 1);
    assert_eq!(engine.rules().count(), 1);
}

#[test]
fn logsource_routing_and_field_mapping() {
    let text = "title: Okta\nid: okta\nlogsource: {product: okta}\ndetection: {s: {user: bob}, condition: s}\n";
    let (engine, _) = Engine::load(&[("o.yml", text)], EngineConfig::default());
    // A CloudTrail event never reaches an Okta rule.
    assert!(
        engine
            .evaluate(&[ev(json!({"user": "bob"}))], &mut MemoryStore::default())
            .is_empty()
    );
    // An unknown source is tested against every rule by default...
    let other = Event::new(
        "e",
        "custom",
        "2024-01-01T00:00:00Z",
        json!({"user": "bob"}),
    );
    assert_eq!(
        engine
            .evaluate(std::slice::from_ref(&other), &mut MemoryStore::default())
            .len(),
        1
    );
    // ...and mapped fields are read where the mapping says.
    let mut config = EngineConfig::default();
    config.sources.push(SourceMapping {
        source: "okta_system".into(),
        logsource: LogSource {
            product: Some("okta".into()),
            ..LogSource::default()
        },
        fields: [(
            "user".to_string(),
            FieldTarget::Many(vec!["actor.alternateId".into(), "actor.displayName".into()]),
        )]
        .into_iter()
        .collect(),
    });
    config.match_unknown_sources = false;
    let (engine, _) = Engine::load(&[("o.yml", text)], config);
    let okta = Event::new(
        "e",
        "okta_system",
        "2024-01-01T00:00:00Z",
        json!({"actor": {"displayName": "Bob"}}),
    );
    assert_eq!(
        engine.evaluate(&[okta], &mut MemoryStore::default()).len(),
        1
    );
    assert!(
        engine
            .evaluate(&[other], &mut MemoryStore::default())
            .is_empty()
    );
}

#[test]
fn config_deserializes_from_plugin_settings() {
    let config: EngineConfig = serde_json::from_value(json!({
        "placeholders": {"Admins": ["root"]},
        "sources": [{"source": "aws_cloudtrail", "logsource": {"product": "aws", "service": "cloudtrail"},
                     "fields": {"User": "userIdentity.userName", "Ip": ["sourceIPAddress"]}}]
    }))
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.sources[0].fields.len(), 2);
    assert!(config.match_unknown_sources);
}

#[test]
fn sigma_filters_exclude_matches() {
    let rule = "title: Login\nid: login\nlogsource: {product: aws, service: cloudtrail}\ndetection: {s: {eventName: ConsoleLogin}, condition: s}\n";
    let filter = "title: Skip admins\nlogsource: {product: aws, service: cloudtrail}\nfilter:\n  rules: [login]\n  selection:\n    user|startswith: adm_\n  condition: selection\n";
    let (engine, errors) = Engine::load(
        &[("r.yml", rule), ("f.yml", filter)],
        EngineConfig::default(),
    );
    assert!(errors.is_empty(), "{errors:?}");
    let mut st = MemoryStore::default();
    assert_eq!(
        engine
            .evaluate(
                &[ev(json!({"eventName": "ConsoleLogin", "user": "bob"}))],
                &mut st
            )
            .len(),
        1
    );
    assert!(
        engine
            .evaluate(
                &[ev(json!({"eventName": "ConsoleLogin", "user": "adm_x"}))],
                &mut st
            )
            .is_empty()
    );
}

// ---- correlations ----

const FAILED: &str = "title: Failed console login\nid: failed\nname: failed_login\nlogsource: {product: aws, service: cloudtrail}\nlevel: low\ndetection:\n  s:\n    eventName: ConsoleLogin\n    responseElements.ConsoleLogin: Failure\n  condition: s\n";
const SUCCESS: &str = "title: Console login\nid: success\nname: good_login\nlogsource: {product: aws, service: cloudtrail}\nlevel: low\ndetection:\n  s:\n    eventName: ConsoleLogin\n    responseElements.ConsoleLogin: Success\n  condition: s\n";

fn login(id: &str, time: &str, user: &str, ok: bool, ip: &str) -> Event {
    Event::new(
        id,
        "aws_cloudtrail",
        time,
        json!({"eventName": "ConsoleLogin", "userIdentity": {"userName": user}, "sourceIPAddress": ip,
               "responseElements": {"ConsoleLogin": if ok { "Success" } else { "Failure" }}}),
    )
}

fn corr_engine(corr: &str) -> Engine {
    let (engine, errors) = Engine::load(
        &[
            ("failed.yml", FAILED),
            ("success.yml", SUCCESS),
            ("corr.yml", corr),
        ],
        EngineConfig::default(),
    );
    assert!(errors.is_empty(), "{errors:?}");
    engine
}

fn corr_matches(m: &[Match]) -> Vec<&Match> {
    m.iter().filter(|m| m.kind != RuleKind::Detection).collect()
}

#[test]
fn event_count_window_survives_batches() {
    let engine = corr_engine(
        "title: Brute force\nid: brute\ncorrelation:\n  type: event_count\n  rules: [failed_login]\n  group-by: [userIdentity.userName]\n  timespan: 5m\n  condition: {gte: 3}\nlevel: high\n",
    );
    let mut st = MemoryStore::default();
    let m = engine.evaluate(
        &[
            login("1", "2024-01-01T00:00:00Z", "bob", false, "1.1.1.1"),
            login("2", "2024-01-01T00:01:00Z", "bob", false, "1.1.1.1"),
        ],
        &mut st,
    );
    // Base rules feed the correlation only (generate: false).
    assert!(m.is_empty(), "{m:?}");
    assert!(!st.entries.is_empty());
    // A second batch, with another user's failure and bob's third.
    let m = engine.evaluate(
        &[
            login("3", "2024-01-01T00:02:00Z", "alice", false, "1.1.1.1"),
            login("4", "2024-01-01T00:03:00Z", "bob", false, "1.1.1.1"),
        ],
        &mut st,
    );
    assert_eq!(m.len(), 1, "{m:?}");
    assert_eq!(m[0].rule_id, "brute");
    assert_eq!(m[0].level, Level::High);
    assert_eq!(m[0].event_ids, vec!["1", "2", "4"]);
    assert_eq!(m[0].group_key.as_deref(), Some("userIdentity.userName=bob"));
    assert_eq!(m[0].window_start, "2024-01-01T00:00:00.000Z");
    assert_eq!(m[0].window_end, "2024-01-01T00:03:00.000Z");
    assert_eq!(m[0].value, Some(3.0));
    // The fired window is cleared: one more failure does not re-alert.
    assert!(
        engine
            .evaluate(
                &[login("5", "2024-01-01T00:03:30Z", "bob", false, "1.1.1.1")],
                &mut st
            )
            .is_empty()
    );
}

#[test]
fn event_count_respects_the_timespan_and_prunes() {
    let engine = corr_engine(
        "title: Brute force\nid: brute\ncorrelation:\n  type: event_count\n  rules: [failed]\n  group-by: [userIdentity.userName]\n  timespan: 5m\n  condition: {gte: 3}\n",
    );
    let mut st = MemoryStore::default();
    let m = engine.evaluate(
        &[
            login("1", "2024-01-01T00:00:00Z", "bob", false, "x"),
            login("2", "2024-01-01T00:04:00Z", "bob", false, "x"),
        ],
        &mut st,
    );
    assert!(m.is_empty());
    // 00:09: the first is out of the window.
    let m = engine.evaluate(
        &[login("3", "2024-01-01T00:09:00Z", "bob", false, "x")],
        &mut st,
    );
    assert!(m.is_empty());
    // Much later, another user's event moves the watermark: bob's entries are pruned.
    engine.evaluate(
        &[login("4", "2024-01-01T02:00:00Z", "carol", false, "x")],
        &mut st,
    );
    let bob_keys = st
        .keys("sigma/w/brute/")
        .into_iter()
        .filter(|k| k.contains("bob"))
        .count();
    assert_eq!(bob_keys, 0, "{:?}", st.entries.keys());
}

#[test]
fn events_are_processed_in_time_order() {
    let engine = corr_engine(
        "title: Fail then success\nid: fts\ncorrelation:\n  type: temporal_ordered\n  rules: [failed_login, good_login]\n  group-by: [userIdentity.userName]\n  timespan: 10m\n",
    );
    // Success listed first in the batch but happened later.
    let m = engine.evaluate(
        &[
            login("2", "2024-01-01T00:05:00Z", "bob", true, "x"),
            login("1", "2024-01-01T00:01:00Z", "bob", false, "x"),
        ],
        &mut MemoryStore::default(),
    );
    let c = corr_matches(&m);
    assert_eq!(c.len(), 1, "{m:?}");
    assert_eq!(c[0].event_ids, vec!["1", "2"]);
    // Wrong order does not fire.
    let m = engine.evaluate(
        &[
            login("1", "2024-01-01T00:01:00Z", "bob", true, "x"),
            login("2", "2024-01-01T00:05:00Z", "bob", false, "x"),
        ],
        &mut MemoryStore::default(),
    );
    assert!(corr_matches(&m).is_empty());
}

#[test]
fn temporal_any_order_within_span() {
    let engine = corr_engine(
        "title: Both\nid: both\ncorrelation:\n  type: temporal\n  rules: [failed_login, good_login]\n  group-by: [userIdentity.userName]\n  timespan: 10m\n  generate: true\n",
    );
    let mut st = MemoryStore::default();
    let m = engine.evaluate(
        &[login("1", "2024-01-01T00:01:00Z", "bob", true, "x")],
        &mut st,
    );
    // generate: true keeps the base rules' own matches.
    assert_eq!(m.len(), 1);
    let m = engine.evaluate(
        &[login("2", "2024-01-01T00:08:00Z", "bob", false, "x")],
        &mut st,
    );
    let c = corr_matches(&m);
    assert_eq!(c.len(), 1, "{m:?}");
    assert_eq!(c[0].kind, RuleKind::Correlation(CorrelationType::Temporal));
    // Too far apart.
    let m = engine.evaluate(
        &[
            login("3", "2024-01-01T01:00:00Z", "amy", true, "x"),
            login("4", "2024-01-01T01:11:00Z", "amy", false, "x"),
        ],
        &mut MemoryStore::default(),
    );
    assert!(corr_matches(&m).is_empty());
}

#[test]
fn value_count_counts_distinct_values() {
    let engine = corr_engine(
        "title: Spray\nid: spray\ncorrelation:\n  type: value_count\n  rules: [failed_login]\n  group-by: [sourceIPAddress]\n  timespan: 1h\n  condition:\n    field: userIdentity.userName\n    gte: 3\n",
    );
    let mut st = MemoryStore::default();
    let m = engine.evaluate(
        &[
            login("1", "2024-01-01T00:00:00Z", "a", false, "9.9.9.9"),
            login("2", "2024-01-01T00:01:00Z", "a", false, "9.9.9.9"),
            login("3", "2024-01-01T00:02:00Z", "b", false, "9.9.9.9"),
        ],
        &mut st,
    );
    assert!(m.is_empty());
    let m = engine.evaluate(
        &[login("4", "2024-01-01T00:03:00Z", "c", false, "9.9.9.9")],
        &mut st,
    );
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].value, Some(3.0));
    assert_eq!(
        m[0].group,
        vec![("sourceIPAddress".to_string(), Some("9.9.9.9".to_string()))]
    );
}

#[test]
fn upper_bound_conditions_wait_for_the_window_to_close() {
    let engine = corr_engine(
        "title: Few\nid: few\ncorrelation:\n  type: event_count\n  rules: [good_login]\n  group-by: [userIdentity.userName]\n  timespan: 10m\n  condition: {lt: 2}\n",
    );
    let mut st = MemoryStore::default();
    assert!(
        engine
            .evaluate(
                &[
                    login("1", "2024-01-01T00:00:00Z", "bob", true, "x"),
                    login("2", "2024-01-01T00:01:00Z", "amy", true, "x"),
                    login("3", "2024-01-01T00:02:00Z", "amy", true, "x")
                ],
                &mut st
            )
            .is_empty()
    );
    // Time moves past both windows: bob's (1 event) fires, amy's (2) does not.
    let m = engine.evaluate(
        &[login("4", "2024-01-01T00:30:00Z", "zed", true, "x")],
        &mut st,
    );
    assert_eq!(m.len(), 1, "{m:?}");
    assert_eq!(m[0].group_key.as_deref(), Some("userIdentity.userName=bob"));
    // flush() judges what is still open.
    let m = engine.flush(&mut st).matches;
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].event_ids, vec!["4"]);
    assert!(st.keys("sigma/w/").is_empty());
}

#[test]
fn value_sum_avg_min_max_percentile() {
    let base = "title: Bytes\nid: bytes\nlogsource: {product: aws, service: cloudtrail}\ndetection: {s: {eventName: GetObject}, condition: s}\n";
    let get = |id: &str, t: &str, n: u64, key: &str| {
        Event::new(
            id,
            "aws_cloudtrail",
            t,
            json!({"eventName": "GetObject", "bytes": n, "key": key, "user": "u"}),
        )
    };
    let run = |corr: &str| {
        let (engine, errors) =
            Engine::load(&[("b.yml", base), ("c.yml", corr)], EngineConfig::default());
        assert!(errors.is_empty(), "{errors:?}");
        let mut st = MemoryStore::default();
        let mut m = engine.evaluate(
            &[
                get("1", "2024-01-01T00:00:00Z", 100, "a"),
                get("2", "2024-01-01T00:01:00Z", 300, "a"),
                get("3", "2024-01-01T00:02:00Z", 200, "b"),
                get("4", "2024-01-01T00:02:30Z", 200, "a"),
            ],
            &mut st,
        );
        m.extend(engine.flush(&mut st).matches);
        m
    };
    let corr = |kind: &str, cond: &str, field: &str| {
        format!(
            "title: C\nid: c\ncorrelation:\n  type: {kind}\n  rules: [bytes]\n  group-by: [user]\n  timespan: 1h\n  condition:\n    field: {field}\n    {cond}\n"
        )
    };
    let m = run(&corr("value_sum", "gte: 600", "bytes"));
    assert_eq!((m.len(), m[0].value), (1, Some(600.0)));
    assert!(run(&corr("value_sum", "gte: 900", "bytes")).is_empty());
    let m = run(&corr("value_avg", "gt: 150", "bytes"));
    assert_eq!((m.len(), m[0].value), (1, Some(200.0)));
    assert!(run(&corr("value_avg", "gt: 250", "bytes")).is_empty());
    assert_eq!(run(&corr("value_max", "gte: 300", "bytes")).len(), 1);
    assert_eq!(run(&corr("value_min", "lte: 100", "bytes")).len(), 1);
    // key "b" is 25% of the group's events.
    let m = run(&corr("value_percentile", "lte: 25", "key"));
    assert_eq!((m.len(), m[0].value), (1, Some(25.0)));
    assert!(run(&corr("value_percentile", "lte: 10", "key")).is_empty());
}

#[test]
fn aliases_and_chained_correlations() {
    let corr = "title: Fail then success\nid: inner\nname: fail_success\ncorrelation:\n  type: temporal_ordered\n  rules: [failed_login, good_login]\n  group-by: [who]\n  timespan: 10m\n  aliases:\n    who:\n      failed_login: requestParameters.userName\n      good_login: userIdentity.userName\n---\ntitle: Repeated\nid: outer\ncorrelation:\n  type: event_count\n  rules: [fail_success]\n  group-by: [who]\n  timespan: 1h\n  condition: {gte: 2}\nlevel: critical\n";
    let engine = corr_engine(corr);
    let failed = |id: &str, t: &str| {
        Event::new(
            id,
            "aws_cloudtrail",
            t,
            json!({"eventName": "ConsoleLogin", "requestParameters": {"userName": "bob"}, "responseElements": {"ConsoleLogin": "Failure"}}),
        )
    };
    let mut st = MemoryStore::default();
    let m = engine.evaluate(
        &[
            failed("1", "2024-01-01T00:00:00Z"),
            login("2", "2024-01-01T00:01:00Z", "bob", true, "x"),
        ],
        &mut st,
    );
    assert!(
        m.is_empty(),
        "inner correlation feeds the outer one only: {m:?}"
    );
    let m = engine.evaluate(
        &[
            failed("3", "2024-01-01T00:20:00Z"),
            login("4", "2024-01-01T00:21:00Z", "bob", true, "x"),
        ],
        &mut st,
    );
    assert_eq!(m.len(), 1, "{m:?}");
    assert_eq!(m[0].rule_id, "outer");
    assert_eq!(m[0].level, Level::Critical);
    assert_eq!(m[0].event_ids, vec!["1", "2", "3", "4"]);
    assert_eq!(m[0].group_key.as_deref(), Some("who=bob"));
}

#[test]
fn correlation_errors() {
    let load = |corr: &str| {
        let (_, errors) = Engine::load(
            &[("failed.yml", FAILED), ("c.yml", corr)],
            EngineConfig::default(),
        );
        errors
    };
    let e = load(
        "title: C\ncorrelation:\n  type: event_count\n  rules: [nope]\n  timespan: 5m\n  condition: {gte: 1}\n",
    );
    assert!(e[0].message.contains("'nope'"), "{e:?}");
    let e = load(
        "title: C\ncorrelation:\n  type: event_count\n  rules: [failed]\n  timespan: 5 minutes\n  condition: {gte: 1}\n",
    );
    assert_eq!(e[0].field.as_deref(), Some("correlation.timespan"));
    let e = load(
        "title: C\ncorrelation:\n  type: value_count\n  rules: [failed]\n  timespan: 5m\n  condition: {gte: 1}\n",
    );
    assert_eq!(e[0].field.as_deref(), Some("correlation.condition.field"));
    let e =
        load("title: C\ncorrelation:\n  type: event_count\n  rules: [failed]\n  timespan: 5m\n");
    assert_eq!(e[0].field.as_deref(), Some("correlation.condition"));
    let e = load("title: C\ncorrelation:\n  type: nearby\n  rules: [failed]\n  timespan: 5m\n");
    assert_eq!(e[0].field.as_deref(), Some("correlation.type"));
    // A cycle between two correlations.
    let e = load(
        "title: A\nname: a\ncorrelation: {type: event_count, rules: [b], timespan: 5m, condition: {gte: 1}}\n---\ntitle: B\nname: b\ncorrelation: {type: event_count, rules: [a], timespan: 5m, condition: {gte: 1}}\n",
    );
    assert_eq!(e.len(), 2, "{e:?}");
}

#[test]
fn bad_times_skip_correlations_only() {
    let engine = corr_engine(
        "title: Both\nid: both\ncorrelation:\n  type: event_count\n  rules: [failed]\n  timespan: 10m\n  condition: {gte: 1}\n  generate: true\n",
    );
    let r = engine.evaluate_detailed(
        &[login("1", "yesterday", "bob", false, "x")],
        &mut MemoryStore::default(),
    );
    assert_eq!(r.matches.len(), 1);
    assert_eq!(r.matches[0].kind, RuleKind::Detection);
    assert!(matches!(r.issues[0], EvalIssue::BadTime { .. }));
}

#[test]
fn refused_state_writes_are_reported() {
    struct Full(MemoryStore);
    impl StateStore for Full {
        fn get(&self, k: &str) -> Option<Vec<u8>> {
            self.0.get(k)
        }
        fn set(&mut self, _: &str, _: Vec<u8>) -> Result<(), String> {
            Err("quota exceeded".into())
        }
        fn delete(&mut self, k: &str) {
            self.0.delete(k)
        }
        fn keys(&self, p: &str) -> Vec<String> {
            self.0.keys(p)
        }
    }
    let engine = corr_engine(
        "title: B\nid: b\ncorrelation:\n  type: event_count\n  rules: [failed]\n  timespan: 10m\n  condition: {gte: 5}\n",
    );
    let r = engine.evaluate_detailed(
        &[login("1", "2024-01-01T00:00:00Z", "bob", false, "x")],
        &mut Full(MemoryStore::default()),
    );
    assert!(
        r.issues
            .iter()
            .any(|i| matches!(i, EvalIssue::State { message, .. } if message == "quota exceeded"))
    );
}

#[test]
fn state_survives_an_engine_reload() {
    let corr = "title: Brute force\nid: brute\ncorrelation:\n  type: event_count\n  rules: [failed]\n  group-by: [userIdentity.userName]\n  timespan: 5m\n  condition: {gte: 2}\n";
    let mut st = MemoryStore::default();
    corr_engine(corr).evaluate(
        &[login("1", "2024-01-01T00:00:00Z", "bob", false, "x")],
        &mut st,
    );
    let m = corr_engine(corr).evaluate(
        &[login("2", "2024-01-01T00:01:00Z", "bob", false, "x")],
        &mut st,
    );
    assert_eq!(m.len(), 1);
}

#[test]
fn timespans() {
    assert_eq!(parse_timespan("30s"), Some(30_000));
    assert_eq!(parse_timespan("5m"), Some(300_000));
    assert_eq!(parse_timespan("1h"), Some(3_600_000));
    assert_eq!(parse_timespan("2d"), Some(172_800_000));
    assert_eq!(parse_timespan("1w"), Some(604_800_000));
    assert_eq!(parse_timespan("0s"), None);
    assert_eq!(parse_timespan("h"), None);
    assert_eq!(parse_timespan("5y"), None);
}
