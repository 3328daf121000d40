//! Value modifiers: string anchoring, cased, re, cidr, encodings, windash,
//! exists, comparisons, neq, fieldref, expand, time parts and unknown names.

use serde_json::json;

use super::*;

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
            .starts_with("bad.yml:1 [T]: detection.sel.eventName|contain:"),
        "{err}"
    );
}
