//! Semantics of the policy language through the crate's public API, one
//! behaviour per test: operators, missing paths, type errors, quantifiers,
//! functions, evidence, messages, load errors and the paths a policy reads.

use serde_json::{Value, json};
use stance_policy_engine::*;

fn policy_yaml(expr: &str) -> String {
    format!(
        "id: t-1\nname: Test policy\nseverity: high\nresource_type: aws_test\ncheck:\n  expression: {}\n",
        serde_json::to_string(expr).unwrap()
    )
}

fn set(expr: &str) -> PolicySet {
    PolicySet::load(&[SourceFile {
        path: "t.yaml".into(),
        text: policy_yaml(expr),
    }])
    .unwrap_or_else(|e| panic!("{e}"))
}

fn run(expr: &str, body: Value) -> (Status, String, Vec<Evidence>) {
    let set = set(expr);
    let tags = vec![("team".to_string(), "core".to_string())];
    let out = set.evaluate(&AssetInput {
        id: "arn:aws:test:::x",
        resource_type: "aws_test",
        provider: "aws",
        account: "123456789012",
        region: "us-east-1",
        name: "x",
        tags: &tags,
        collected_at: "2026-11-01T00:00:00Z",
        body: &body,
    });
    assert_eq!(out.len(), 1);
    let o = &out[0];
    (o.status, o.message.clone(), o.evidence.clone())
}

fn status(expr: &str, body: Value) -> Status {
    run(expr, body).0
}

#[test]
fn comparison_operators() {
    let b = json!({"n": 5, "s": "Enabled", "f": 1.5, "t": true});
    assert_eq!(status("resource.n == 5", b.clone()), Status::Pass);
    assert_eq!(status("resource.n == 5.0", b.clone()), Status::Pass);
    assert_eq!(status("resource.n != 4", b.clone()), Status::Pass);
    assert_eq!(
        status(
            "resource.n > 4 and resource.n >= 5 and resource.n < 6 and resource.n <= 5",
            b.clone()
        ),
        Status::Pass
    );
    assert_eq!(status("resource.f > 1", b.clone()), Status::Pass);
    assert_eq!(status("resource.s == 'Enabled'", b.clone()), Status::Pass);
    assert_eq!(
        status("resource.s == \"Suspended\"", b.clone()),
        Status::Fail
    );
    assert_eq!(status("resource.t == true", b.clone()), Status::Pass);
    assert_eq!(status("resource.s < 'F'", b), Status::Pass);
}

#[test]
fn missing_path_is_null() {
    let b = json!({"a": {"b": null}});
    assert_eq!(status("resource.a.b == null", b.clone()), Status::Pass);
    assert_eq!(status("resource.x.y.z == null", b.clone()), Status::Pass);
    assert_eq!(status("resource.x not_exists", b.clone()), Status::Pass);
    assert_eq!(status("resource.a exists", b.clone()), Status::Pass);
    assert_eq!(status("resource.a.b exists", b), Status::Fail);
}

#[test]
fn type_mismatch_is_an_error_not_a_pass() {
    let b = json!({"port": 22, "s": "x", "list": [1]});
    let (st, msg, _) = run("resource.port == '22'", b.clone());
    assert_eq!(st, Status::Error);
    assert!(msg.contains("different kinds"), "{msg}");
    assert!(msg.contains("resource.port"), "{msg}");
    assert_eq!(status("resource.missing > 3", b.clone()), Status::Error);
    assert_eq!(status("resource.s > 3", b.clone()), Status::Error);
    assert_eq!(status("resource.s.field == 1", b.clone()), Status::Error);
    assert_eq!(status("resource.list.x == 1", b.clone()), Status::Error);
    assert_eq!(status("resource.port and true", b.clone()), Status::Error);
    assert_eq!(status("not resource.missing", b.clone()), Status::Error);
    assert_eq!(status("resource.port", b.clone()), Status::Error);
    assert_eq!(status("len(resource.port) == 1", b.clone()), Status::Error);
    assert_eq!(
        status("any(resource.s, item == 1)", b.clone()),
        Status::Error
    );
    assert_eq!(status("resource.port in 'abc'", b), Status::Error);
}

#[test]
fn membership_and_strings() {
    let b = json!({"p": "tcp", "ports": [22, 80], "arn": "arn:aws:iam::123:root", "none": null});
    assert_eq!(
        status("resource.p in ['tcp', '-1']", b.clone()),
        Status::Pass
    );
    assert_eq!(status("resource.p not_in ['udp']", b.clone()), Status::Pass);
    assert_eq!(
        status("resource.ports contains 22", b.clone()),
        Status::Pass
    );
    assert_eq!(
        status("resource.ports contains 23", b.clone()),
        Status::Fail
    );
    assert_eq!(
        status("resource.arn contains ':iam::'", b.clone()),
        Status::Pass
    );
    assert_eq!(
        status("resource.arn starts_with 'arn:aws'", b.clone()),
        Status::Pass
    );
    assert_eq!(
        status("resource.arn ends_with ':root'", b.clone()),
        Status::Pass
    );
    assert_eq!(
        status(
            "resource.arn matches '^arn:aws:iam::[0-9]+:root$'",
            b.clone()
        ),
        Status::Pass
    );
    assert_eq!(
        status("resource.none contains 'x'", b.clone()),
        Status::Fail
    );
    assert_eq!(status("resource.none in ['x']", b.clone()), Status::Fail);
    assert_eq!(status("resource.missing not_in ['x']", b), Status::Pass);
}

#[test]
fn boolean_logic_short_circuits() {
    let b = json!({"a": null});
    // The right side would be a type error; short-circuit never reaches it.
    assert_eq!(
        status("resource.a exists and resource.a > 3", b.clone()),
        Status::Fail
    );
    assert_eq!(
        status("resource.a not_exists or resource.a > 3", b.clone()),
        Status::Pass
    );
    assert_eq!(status("not (resource.a exists)", b.clone()), Status::Pass);
    assert_eq!(status("not resource.a exists", b), Status::Pass);
}

#[test]
fn precedence_and_binds_tighter_than_or() {
    let b = json!({});
    assert_eq!(status("true or false and false", b.clone()), Status::Pass);
    assert_eq!(status("(true or false) and false", b), Status::Fail);
}

#[test]
fn lists_indexing_and_functions() {
    let b = json!({"rules": [{"a": 1}, {"a": 2}], "tags": {"cost-center": "42"}, "name": "MiXed", "empty": []});
    assert_eq!(status("resource.rules[1].a == 2", b.clone()), Status::Pass);
    assert_eq!(status("resource.rules[-1].a == 2", b.clone()), Status::Pass);
    assert_eq!(
        status("resource.rules[5].a == null", b.clone()),
        Status::Pass
    );
    assert_eq!(
        status("resource.tags[\"cost-center\"] == '42'", b.clone()),
        Status::Pass
    );
    assert_eq!(status("len(resource.rules) == 2", b.clone()), Status::Pass);
    assert_eq!(
        status("len(resource.missing) == 0", b.clone()),
        Status::Pass
    );
    assert_eq!(status("len(resource.name) == 5", b.clone()), Status::Pass);
    assert_eq!(
        status("lower(resource.name) == 'mixed'", b.clone()),
        Status::Pass
    );
    assert_eq!(
        status("upper(resource.name) == 'MIXED'", b.clone()),
        Status::Pass
    );
    assert_eq!(
        status("keys(resource.tags) == ['cost-center']", b.clone()),
        Status::Pass
    );
    assert_eq!(status("[1, 2] == [1, 2.0]", b.clone()), Status::Pass);
    assert_eq!(status("resource.empty == []", b), Status::Pass);
}

#[test]
fn quantifiers() {
    let b = json!({"rules": [{"port": 22, "cidrs": ["10.0.0.0/8"]}, {"port": 443, "cidrs": ["0.0.0.0/0"]}]});
    assert_eq!(
        status("any(resource.rules, item.port == 443)", b.clone()),
        Status::Pass
    );
    assert_eq!(
        status("all(resource.rules, item.port > 0)", b.clone()),
        Status::Pass
    );
    assert_eq!(
        status("all(resource.rules, item.port == 22)", b.clone()),
        Status::Fail
    );
    assert_eq!(
        status("any(resource.missing, item == 1)", b.clone()),
        Status::Fail
    );
    assert_eq!(
        status("all(resource.missing, item == 1)", b.clone()),
        Status::Pass
    );
    // Nested: `item` is the innermost element; a lambda names the outer one.
    assert_eq!(
        status(
            "any(resource.rules, r => any(r.cidrs, item == '0.0.0.0/0') and r.port == 443)",
            b.clone()
        ),
        Status::Pass
    );
    assert_eq!(
        status(
            "any(resource.rules, r => any(r.cidrs, item == '0.0.0.0/0') and r.port == 22)",
            b
        ),
        Status::Fail
    );
}

#[test]
fn asset_fields_and_days_since() {
    let b = json!({"created": "2026-07-01T00:00:00Z", "bad": "yesterday"});
    assert_eq!(
        status(
            "asset.region == 'us-east-1' and asset.tags.team == 'core'",
            b.clone()
        ),
        Status::Pass
    );
    assert_eq!(status("asset.type == 'aws_test'", b.clone()), Status::Pass);
    assert_eq!(
        status("days_since(resource.created) == 123", b.clone()),
        Status::Pass
    );
    assert_eq!(
        status("days_since(resource.missing) == null", b.clone()),
        Status::Pass
    );
    assert_eq!(status("days_since(resource.bad) > 1", b), Status::Error);
}

#[test]
fn evidence_names_the_deciding_paths() {
    let b = json!({"enc": {"enabled": false}, "v": {"status": "Enabled"}});
    let (st, _, ev) = run(
        "resource.v.status == 'Enabled' and resource.enc.enabled == true",
        b,
    );
    assert_eq!(st, Status::Fail);
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].path, "resource.enc.enabled");
    assert_eq!(ev[0].actual, json!(false));
    assert_eq!(ev[0].expected, "resource.enc.enabled == true");

    let b =
        json!({"ingress": [{"cidr": "10.0.0.0/8", "port": 22}, {"cidr": "0.0.0.0/0", "port": 22}]});
    let (st, _, ev) = run(
        "not any(resource.ingress, item.cidr == '0.0.0.0/0' and item.port == 22)",
        b,
    );
    assert_eq!(st, Status::Fail);
    let paths: Vec<&str> = ev.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(
        paths,
        ["resource.ingress[1].cidr", "resource.ingress[1].port"]
    );

    let b = json!({"keys": [{"age": 10}, {"age": 200}]});
    let (_, _, ev) = run("all(resource.keys, item.age < 90)", b);
    assert_eq!(ev[0].path, "resource.keys[1].age");
    assert_eq!(ev[0].actual, json!(200));

    // A function's evidence is the field it read, with what it computed.
    let b = json!({"keys": [{"created": "2026-01-01T00:00:00Z"}], "list": [1, 2]});
    let (_, _, ev) = run(
        "all(resource.keys, days_since(item.created) <= 90) and len(resource.list) == 2",
        b.clone(),
    );
    assert_eq!(ev[0].path, "resource.keys[0].created");
    assert_eq!(ev[0].actual, json!("2026-01-01T00:00:00Z"));
    assert_eq!(
        ev[0].expected,
        "days_since(item.created) <= 90 (where days_since(item.created) = 304)"
    );
    let (_, _, ev) = run("len(resource.list) == 0", b);
    assert_eq!(
        (ev[0].path.as_str(), &ev[0].actual),
        ("resource.list", &json!([1, 2]))
    );
}

#[test]
fn messages_are_templated() {
    let text = "id: t-1\nname: T\nseverity: low\nresource_type: aws_*\ncheck:\n  expression: resource.ok == true\n  message: \"{{asset.name}} in {{asset.region}} is not ok ({{resource.ok}})\"\n";
    let set = PolicySet::load(&[SourceFile {
        path: "t.yaml".into(),
        text: text.into(),
    }])
    .unwrap();
    let body = json!({"ok": false});
    let out = set.evaluate(&AssetInput {
        id: "a",
        resource_type: "aws_x",
        provider: "aws",
        account: "1",
        region: "eu-west-1",
        name: "bucket-1",
        tags: &[],
        collected_at: "2026-11-01T00:00:00Z",
        body: &body,
    });
    assert_eq!(out[0].message, "bucket-1 in eu-west-1 is not ok (false)");
}

fn load_err(text: &str) -> LoadError {
    PolicySet::load(&[SourceFile {
        path: "p.yaml".into(),
        text: text.into(),
    }])
    .err()
    .expect("should fail")
    .0
    .remove(0)
}

#[test]
fn parse_errors_name_file_line_and_column() {
    // Inline expression: column points into the expression.
    let e = load_err(
        "id: x\nname: X\nseverity: low\nresource_type: aws_x\ncheck:\n  expression: resource.a == \n",
    );
    assert_eq!(
        (e.file.as_str(), e.line, e.column),
        ("p.yaml", 6, 28),
        "{e}"
    );
    assert!(e.message.contains("operand after `==`"), "{e}");
    assert!(e.to_string().starts_with("p.yaml:6:28: policy x:"), "{e}");

    // Block scalar: the line of the bad token inside the block.
    let e = load_err(
        "id: x\nname: X\nseverity: low\nresource_type: aws_x\ncheck:\n  expression: |\n    resource.a == 1 and\n    resource.b === 2\n",
    );
    assert_eq!((e.line, e.column), (8, 18), "{e}");

    // Quoted scalar.
    let e = load_err(
        "id: x\nname: X\nseverity: low\nresource_type: aws_x\ncheck:\n  expression: \"resource.a = 1\"\n",
    );
    assert_eq!((e.line, e.column), (6, 27), "{e}");
    assert!(e.message.contains("compare with `==`"));

    // YAML problems and schema problems are located by the YAML parser.
    let e = load_err("id: x\nname: X\nseverty: low\n");
    assert_eq!(e.line, 3, "{e}");
    assert!(e.message.contains("severty"), "{e}");
    let e = load_err("id: x\nname: [unclosed\n");
    assert!(e.line >= 2, "{e}");

    let e = load_err(
        "id: x\nname: X\nseverity: urgent\nresource_type: aws_x\ncheck: {expression: 'true'}\n",
    );
    assert_eq!(e.line, 3, "{e}");

    let e = load_err(
        "id: x\nname: X\nseverity: low\nresource_type: aws_x\ncheck:\n  expression: resource.a == bogus\n",
    );
    assert!(e.message.contains("unknown name `bogus`"), "{e}");
    assert_eq!((e.line, e.column), (6, 29));
}

#[test]
fn duplicate_ids_are_refused() {
    let p = "id: same\nname: X\nseverity: low\nresource_type: aws_x\ncheck: {expression: 'true'}\n";
    let errs = PolicySet::load(&[
        SourceFile {
            path: "one.yaml".into(),
            text: p.into(),
        },
        SourceFile {
            path: "two.yaml".into(),
            text: p.into(),
        },
    ])
    .err()
    .unwrap();
    assert!(
        errs.to_string().contains(
            "two.yaml: policy same: duplicate policy id; it is already defined in one.yaml"
        ),
        "{errs}"
    );
}

#[test]
fn a_file_may_hold_a_list_of_policies() {
    let text = "- id: a\n  name: A\n  severity: low\n  resource_type: aws_x\n  check:\n    expression: resource.a == 1\n- id: b\n  name: B\n  severity: low\n  resource_type: aws_x\n  check:\n    expression: resource.b ==\n";
    let e = load_err(text);
    assert_eq!(e.policy_id.as_deref(), Some("b"));
    assert_eq!(e.line, 12);
}

#[test]
fn non_boolean_result_is_an_error() {
    assert_eq!(status("len(resource.x)", json!({})), Status::Error);
    assert_eq!(status("resource.s", json!({"s": "yes"})), Status::Error);
}

#[test]
fn json_policy_files_take_the_fast_path_and_bad_json_falls_back_to_yaml_errors() {
    let json = r#"{"id":"j","name":"J","severity":"low","resource_type":"aws_x","check":{"expression":"resource.a == 1"}}"#;
    let set = PolicySet::load(&[SourceFile {
        path: "j.yaml".into(),
        text: json.into(),
    }])
    .unwrap();
    assert_eq!(set.policies()[0].id, "j");
    // `{` starts a YAML flow mapping too; YAML-only syntax still loads.
    let flow = "{id: f, name: F, severity: low, resource_type: aws_x, check: {expression: 'true'}}";
    assert!(
        PolicySet::load(&[SourceFile {
            path: "f.yaml".into(),
            text: flow.into()
        }])
        .is_ok()
    );
    let e = load_err("{\"id\": \"x\", \"name\": \"X\", \"severty\": \"low\"}");
    assert!(e.message.contains("severty"), "{e}");
    assert_eq!(e.line, 1);
}

#[test]
fn reads_lists_the_body_paths_an_expression_may_touch() {
    let s = set(
        "resource.enc.enabled == true and any(resource.ingress, r => r.cidr == '0.0.0.0/0' and any(r.ports, item > 0)) and days_since(resource.keys[0].created) < 90 and asset.tags.owner exists and resource.policy.Condition[\"aws:x\"] == null",
    );
    assert_eq!(
        s.policies()[0].reads(),
        [
            "enc.enabled",
            "ingress[].cidr",
            "ingress[].ports[]",
            "keys[].created",
            "policy.Condition.aws:x"
        ]
    );
}
