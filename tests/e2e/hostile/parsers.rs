//! Hostile inputs: parsers (issue 12, cases 9 to 11). A policy expression
//! nests at most `MAX_EXPRESSION_DEPTH` levels, refused alike by `policies
//! validate`, `scan` and `watch` (which keeps its last good generation); an
//! expression at the limit evaluates inside the wasm plugin beside the
//! built-in policies; a runaway evaluation costs one policy its results,
//! never the batch; a YAML error in one Sigma document costs that document
//! alone, and rules at the Sigma parsers' limits load inside the plugin.

use std::path::Path;

use serde_json::{Value, json};
use stance_policy_engine::MAX_EXPRESSION_DEPTH;

use super::{MEMORY_LIMIT_MIB, assert_refused, run_bounded};
use crate::support::{Env, demo, stderr};
use crate::watch::Watch;

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// One policy on buckets, its expression on line 6.
fn policy(id: &str, expr: &str) -> String {
    format!(
        "id: {id}\nname: {id}\nseverity: low\nresource_type: aws_s3_bucket\ncheck:\n  expression: {}\n",
        serde_json::to_string(expr).unwrap()
    )
}

/// `true` inside `depth - 1` pairs of parentheses: `depth` levels.
fn parens(depth: usize) -> String {
    format!("{}true{}", "(".repeat(depth - 1), ")".repeat(depth - 1))
}

/// An NDJSON snapshot of `n` buckets with `body`.
fn snapshot(path: &Path, n: usize, body: &Value) {
    let mut text =
        r#"{"stance_snapshot": 1, "provider": "aws", "collected_at": "2026-11-01T00:00:00Z"}"#
            .to_string();
    for i in 0..n {
        let asset = json!({
            "id": format!("arn:aws:s3:::bucket-{i}"), "resource_type": "aws_s3_bucket",
            "account": "123456789012", "region": "us-east-1", "name": format!("bucket-{i}"),
            "body": body,
        });
        text.push('\n');
        text.push_str(&asset.to_string());
    }
    std::fs::write(path, text + "\n").unwrap();
}

/// Every stored finding of the last scan (pass included).
fn findings(env: &Env) -> Vec<Value> {
    let (_, rows) = env.json(&["findings", "--status", "all", "--format", "json"]);
    rows.as_array().cloned().unwrap_or_default()
}

/// The statuses of one rule's findings.
fn statuses(findings: &[Value], rule: &str) -> Vec<String> {
    findings
        .iter()
        .filter(|f| f["rule_id"] == rule)
        .map(|f| f["status"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn deep_expressions_are_refused_alike_by_validate_and_scan() {
    // Case 9: 3,000-5,000 parentheses (a 10 KB file) aborted both commands
    // with SIGABRT. Case 10: 1,000 passed `validate`, then trapped the plugin.
    let env = Env::new();
    let demo = demo();
    for depth in [1_000, 5_000] {
        let file = env.path("deep.yaml");
        std::fs::write(&file, policy("deep-1", &parens(depth))).unwrap();
        let expect = [
            "deep.yaml:6:",
            "policy deep-1",
            "nests deeper than 64 levels",
        ];
        let out = run_bounded(&env, &["policies", "validate", s(&file)], MEMORY_LIMIT_MIB);
        assert_refused(&out, &expect);
        let out = run_bounded(
            &env,
            &["scan", "--snapshot", s(&demo), "--policies", s(&file)],
            MEMORY_LIMIT_MIB,
        );
        assert_refused(&out, &expect);
    }
    let (_, scans) = env.json(&["scans", "--format", "json"]);
    assert_eq!(scans, json!([]), "a refused scan stores nothing");
}

/// One expression per kind of nesting, `n` levels deep (the engine's count:
/// every operator, call, quantifier, list, index, field access and pair of
/// parentheses is a level; a name or literal the last).
fn shapes(n: usize) -> Vec<String> {
    vec![
        parens(n),
        format!("{}true", "not ".repeat(n - 1)),
        format!("resource{} == null", ".a".repeat(n - 2)),
        format!("{}1{} != null", "[".repeat(n - 2), "]".repeat(n - 2)),
        format!(
            "any(resource.l, {}true{}",
            "any(item, ".repeat(n - 2),
            ")".repeat(n - 1)
        ),
        format!("{}resource{} == 0", "len(".repeat(n - 2), ")".repeat(n - 2)),
        format!(
            "{}'k'{} == null",
            "resource[".repeat(n - 2),
            "]".repeat(n - 2)
        ),
    ]
}

/// Every shape as one policy file (a list), ids `deep-0`...
fn shape_file(path: &Path, n: usize) -> usize {
    let shapes = shapes(n);
    let text: String = shapes
        .iter()
        .enumerate()
        .map(|(i, e)| {
            format!(
                "- id: deep-{i}\n  name: deep {i}\n  severity: low\n  resource_type: aws_s3_bucket\n  check:\n    expression: {}\n",
                serde_json::to_string(e).unwrap()
            )
        })
        .collect();
    std::fs::write(path, text).unwrap();
    shapes.len()
}

#[test]
fn expressions_at_the_depth_limit_evaluate_inside_the_plugin_beside_the_builtins() {
    // The limit is the plugin's too: every shape at it loads and evaluates
    // in the wasm guest (no trap), with the 190 built-in policies beside it.
    let env = Env::new();
    let file = env.path("deep.yaml");
    let n = shape_file(&file, MAX_EXPRESSION_DEPTH);
    let out = env.run(&["policies", "validate", s(&file)]);
    assert!(out.status.success(), "{}", stderr(&out));
    // Lists as deep as the quantifiers (63), so every level evaluates; with
    // the body's object, 64 levels: as deep as the host lets a body be.
    let mut lists = json!([1]);
    for _ in 0..MAX_EXPRESSION_DEPTH - 2 {
        lists = json!([lists]);
    }
    let snap = env.path("buckets.ndjson");
    snapshot(&snap, 3, &json!({"l": lists, "a": null, "k": "k"}));
    let (code, report) = env.json(&[
        "scan",
        "--snapshot",
        s(&snap),
        "--policies",
        s(&file),
        "--format",
        "json",
    ]);
    // Exit 2: some shapes are type errors at run time (`len` of a number).
    assert_eq!(code, 2, "{report:#}");
    assert_eq!(report["scan"]["failures"], json!([]), "no batch failed");
    let all = findings(&env);
    // Every shape judged every bucket: evaluated to the bottom, no trap.
    let expected = ["pass", "fail", "pass", "pass", "pass", "error", "fail"];
    for (i, want) in expected.iter().enumerate().take(n) {
        let got = statuses(&all, &format!("deep-{i}"));
        assert_eq!(got, [*want; 3], "deep-{i}");
    }
    let builtin = all
        .iter()
        .filter(|f| {
            !f["rule_id"]
                .as_str()
                .unwrap_or_default()
                .starts_with("deep-")
        })
        .count();
    assert!(builtin > 0, "the built-in policies ran too");

    // One level more, every shape: refused, each at its line and column.
    shape_file(&file, MAX_EXPRESSION_DEPTH + 1);
    let out = run_bounded(&env, &["policies", "validate", s(&file)], MEMORY_LIMIT_MIB);
    assert_refused(&out, &[&format!("{n} error(s) in 1 files")]);
    let text = stderr(&out);
    assert_eq!(
        text.matches("nests deeper than 64 levels").count(),
        n,
        "{text}"
    );
}

#[test]
fn a_runaway_policy_costs_only_its_own_results() {
    // Nested quantifiers over a list: 20^6 combinations. Its step budget
    // ends each evaluation in milliseconds, so the batch (more than one of
    // 256 assets) meets its deadline and the other policy is evaluated.
    let env = Env::new();
    let dir = env.path("policies");
    std::fs::create_dir_all(&dir).unwrap();
    let bomb = "any(resource.l, a => any(resource.l, b => any(resource.l, c => any(resource.l, d => any(resource.l, e => any(resource.l, f => f == -1))))))";
    std::fs::write(dir.join("bomb.yaml"), policy("bomb", bomb)).unwrap();
    std::fs::write(
        dir.join("fine.yaml"),
        policy("fine", "len(resource.l) == 20"),
    )
    .unwrap();
    let snap = env.path("buckets.ndjson");
    snapshot(&snap, 300, &json!({"l": (0..20).collect::<Vec<i32>>()}));
    let (code, report) = env.json(&[
        "scan",
        "--snapshot",
        s(&snap),
        "--no-builtin-policies",
        "--policies",
        s(&dir),
        "--format",
        "json",
    ]);
    // Exit 2: the bomb's results are errors, reported, never passes.
    assert_eq!(code, 2, "{report:#}");
    assert_eq!(report["scan"]["failures"], json!([]), "no batch failed");
    let all = findings(&env);
    assert_eq!(statuses(&all, "bomb"), vec!["error"; 300]);
    assert_eq!(statuses(&all, "fine"), vec!["pass"; 300]);
    let message = all
        .iter()
        .find(|f| f["rule_id"] == "bomb")
        .and_then(|f| f["message"].as_str())
        .unwrap_or_default()
        .to_string();
    assert!(message.contains("evaluation stopped after"), "{message}");
}

#[test]
fn watch_refuses_a_deep_policy_and_keeps_the_last_good_generation() {
    // Case 9: a 2,000-deep policy dropped into the watched directory killed
    // `stance watch` ("thread 'stance-reload' has overflowed its stack").
    let env = Env::new();
    let dir = env.path("policies");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("one.yaml"), policy("one", "asset.name != ''")).unwrap();
    let snap = env.path("buckets.ndjson");
    snapshot(&snap, 3, &json!({}));
    let mut w = Watch::spawn(
        env.cmd(),
        &env.path("watch-status.json"),
        &[
            "--snapshot",
            s(&snap),
            "--no-builtin-policies",
            "--policies",
            s(&dir),
            "--interval",
            "0",
            "--debounce-ms",
            "100",
        ],
    );
    w.until("a first scan", |v| v["scans"]["last_scan_id"].is_i64());
    std::fs::write(dir.join("deep.yaml"), policy("deep", &parens(2_000))).unwrap();
    let v = w.until("the deep policy was refused", |v| {
        v["reloads"]["failures"] == 1
    });
    let message = v["reloads"]["last_error"]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(
        message.contains("deep.yaml:6:") && message.contains("nests deeper than 64 levels"),
        "{message}"
    );
    let after = v["scans"]["count"].as_u64().unwrap_or(0);
    let v = w.until("a scan after the refusal", |v| {
        v["scans"]["count"].as_u64() > Some(after + 1)
    });
    assert_eq!(
        v["generation"]["number"], 1,
        "the last good generation runs"
    );
    assert_eq!(v["scans"]["failed"], 0);
    w.stop();
}

/// A CloudTrail file of one event per name.
fn trail(names: &[&str]) -> String {
    let records: Vec<Value> = names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            json!({"eventVersion": "1.09", "eventID": format!("ev-{i}"), "eventTime": "2026-11-20T10:00:00Z",
                   "eventSource": "cloudtrail.amazonaws.com", "eventName": name, "awsRegion": "us-east-1",
                   "recipientAccountId": "123456789012"})
        })
        .collect();
    json!({ "Records": records }).to_string()
}

/// A Sigma rule on one CloudTrail event name, with extra YAML lines.
fn sigma(id: &str, event: &str, extra: &str) -> String {
    format!(
        "title: {event} seen\nid: {id}\nlogsource: {{product: aws, service: cloudtrail}}\ndetection:\n  sel: {{eventName: {event}}}\n  condition: sel\nlevel: high\n{extra}"
    )
}

/// Rule ids of the alerts of a `detect --format json` report.
fn alerted(report: &Value) -> Vec<String> {
    let mut ids: Vec<String> = report["alerts"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|a| a["rule_id"].as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default();
    ids.sort();
    ids
}

#[test]
fn a_yaml_error_in_one_sigma_document_costs_that_document_alone() {
    // Case 11: in a three-document file with an error in the second, the
    // third was neither loaded nor reported ("1 of 2 rules").
    let env = Env::new();
    let rules = env.path("three.yml");
    let text = format!(
        "{}---\ntitle: broken\nid: [unclosed\n---\n{}",
        sigma("stop", "StopLogging", ""),
        sigma("delete", "DeleteTrail", "")
    );
    std::fs::write(&rules, text).unwrap();
    let out = env.run(&["rules", "check", s(&rules)]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{stdout}");
    assert!(stdout.contains("2 of 3 rules load"), "{stdout}");
    assert!(
        stdout.contains("three.yml:10 (document 2): invalid YAML"),
        "{stdout}"
    );
    let (_, json) = env.json(&["rules", "check", s(&rules), "--format", "json"]);
    assert_eq!(
        json["errors"][0]["line"], 10,
        "the line reaches JSON: {json:#}"
    );
    let csv = env.run(&["rules", "check", s(&rules), "--format", "csv"]);
    let csv = String::from_utf8_lossy(&csv.stdout);
    assert!(csv.contains(",2,10,"), "document and line in CSV: {csv}");

    // Inside the Sigma plugin too: the third document's rule alerts.
    let logs = env.path("trail.json");
    std::fs::write(&logs, trail(&["StopLogging", "DeleteTrail"])).unwrap();
    let out = env.run(&[
        "detect",
        "-i",
        s(&logs),
        "--rules",
        s(&rules),
        "--no-builtin-rules",
        "--format",
        "json",
    ]);
    let report: Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", stderr(&out)));
    assert_eq!(alerted(&report), ["delete", "stop"], "{report:#}");
}

#[test]
fn sigma_rules_at_the_parser_limits_load_inside_the_plugin() {
    // The YAML parser's 128 levels, the condition's 64: at the limits the
    // rules load and match in the wasm guest; past them each document is
    // refused alone and the next still loads.
    let env = Env::new();
    let mut deep_yaml = "1".to_string();
    for _ in 0..120 {
        deep_yaml = format!("{{a: {deep_yaml}}}");
    }
    let condition = format!("{}sel{}", "(".repeat(63), ")".repeat(63));
    let at_limits = sigma("limits", "StopLogging", &format!("custom: {deep_yaml}\n"))
        .replace("condition: sel", &format!("condition: '{condition}'"));
    let too_deep_yaml = sigma(
        "yaml",
        "StopLogging",
        &format!("custom: {}1{}\n", "[".repeat(5_000), "]".repeat(5_000)),
    );
    let too_deep_condition = sigma("cond", "StopLogging", "").replace(
        "condition: sel",
        &format!("condition: '{}sel{}'", "(".repeat(5_000), ")".repeat(5_000)),
    );
    let text = [
        at_limits,
        too_deep_yaml,
        too_deep_condition,
        sigma("after", "DeleteTrail", ""),
    ]
    .join("---\n");
    let rules = env.path("limits.yml");
    std::fs::write(&rules, text).unwrap();
    let out = run_bounded(&env, &["rules", "check", s(&rules)], MEMORY_LIMIT_MIB);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{stdout}{}", stderr(&out));
    assert!(stdout.contains("2 of 4 rules load"), "{stdout}");
    assert!(stdout.contains("(document 2): invalid YAML"), "{stdout}");
    assert!(stdout.contains("recursion limit exceeded"), "{stdout}");
    assert!(stdout.contains("nests deeper than 64 levels"), "{stdout}");

    let logs = env.path("trail.json");
    std::fs::write(&logs, trail(&["StopLogging", "DeleteTrail"])).unwrap();
    let out = run_bounded(
        &env,
        &[
            "detect",
            "-i",
            s(&logs),
            "--rules",
            s(&rules),
            "--no-builtin-rules",
            "--format",
            "json",
        ],
        MEMORY_LIMIT_MIB,
    );
    let report: Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", stderr(&out)));
    assert_eq!(alerted(&report), ["after", "limits"], "{report:#}");
}
