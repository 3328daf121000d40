//! `stance detect`, `stance alerts` and `stance rules check`: CloudTrail in
//! every shape AWS and its tools produce, a SigmaHQ rule read in place, a
//! correlation window spanning two runs, a batch that breaks its memory limit,
//! and rule checks; log sources beyond CloudTrail in `sources`, alert routing
//! and suppressions in `routing`.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

use crate::support::{Env, root, stderr};

/// SigmaHQ data is not ours: read in place, never copied.
fn sigmahq(rel: &str) -> PathBuf {
    root().join("../shared/data/sigmahq/rules/cloud").join(rel)
}

fn disable_logging_rule() -> String {
    sigmahq("aws/cloudtrail/aws_cloudtrail_disable_logging.yml")
        .display()
        .to_string()
}

fn fixture(rel: &str) -> String {
    root()
        .join("tests/fixtures")
        .join(rel)
        .display()
        .to_string()
}

fn event_ids(alerts: &Value) -> BTreeSet<String> {
    alerts
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|a| a["event_ids"].as_array().unwrap().clone())
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

fn set(ids: &[&str]) -> BTreeSet<String> {
    ids.iter().map(|s| s.to_string()).collect()
}

#[test]
fn every_cloudtrail_shape_is_read_and_a_sigmahq_rule_matches() {
    let env = Env::new();
    let rule = disable_logging_rule();
    let (delivered, exports) = (
        fixture("cloudtrail/delivered"),
        fixture("cloudtrail/exports"),
    );
    // Records files (.json and .json.gz, a digest file skipped), a JSON array, NDJSON.
    let args = [
        "detect",
        "-i",
        &delivered,
        &exports,
        "--rules",
        &rule,
        "--no-builtin-rules",
        "--format",
        "json",
    ];
    let (code, v) = env.json(&args);
    assert_eq!(code, 0, "{v:#}");
    let totals = &v["run"]["totals"];
    assert_eq!(totals["files"], 4);
    assert_eq!(totals["events"], 9);
    assert_eq!(totals["alerts"], 4);
    assert_eq!(
        event_ids(&v["alerts"]),
        set(&["ev-d2", "ev-d4", "ev-x1", "ev-n1"])
    );
    let a = v["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["event_ids"][0] == "ev-d4")
        .unwrap();
    assert_eq!(a["rule_id"], "4db60cc0-36fb-42b7-9b58-a5b53019fb74");
    assert_eq!(a["severity"], "medium");
    assert_eq!(a["account"], "111122223333");
    assert_eq!(a["region"], "eu-west-1");
    assert_eq!(a["window_start"], "2024-05-02T08:00:00.000Z");
    assert!(
        a["evidence"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["path"] == "eventName" && e["actual"] == "DeleteTrail"),
        "{a:#}"
    );

    // The same events again: stored, but marked as raised by the earlier run.
    let mut args2 = args.to_vec();
    args2.extend(["--fail-on", "medium"]);
    let (code, v) = env.json(&args2);
    assert_eq!(code, 1, "--fail-on medium with medium alerts exits 1");
    assert_eq!(v["run"]["totals"]["alerts"], 0);
    assert_eq!(v["run"]["totals"]["duplicates"], 4);
    let (_, all) = env.json(&["alerts", "--format", "json"]);
    assert_eq!(
        all.as_array().unwrap().len(),
        4,
        "duplicates are not listed"
    );
    let (_, dups) = env.json(&["alerts", "--include-duplicates", "--format", "json"]);
    assert_eq!(dups.as_array().unwrap().len(), 8);
    let out = env.run(&["alerts", "--format", "csv", "--severity", "high"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 1);

    // --since/--until (until is exclusive), in a fresh database.
    let env = Env::new();
    let (code, v) = env.json(&[
        "detect",
        "-i",
        &delivered,
        &exports,
        "--rules",
        &rule,
        "--no-builtin-rules",
        "--since",
        "2024-05-02",
        "--until",
        "2024-05-04T00:00:00Z",
        "--format",
        "json",
    ]);
    assert_eq!(code, 0);
    assert_eq!(event_ids(&v["alerts"]), set(&["ev-d4", "ev-x1"]));
    assert_eq!(v["run"]["totals"]["out_of_range"], 5);

    // stdin, gzipped.
    let gz = std::fs::read(root().join(
        "tests/fixtures/cloudtrail/delivered/111122223333_CloudTrail_eu-west-1_20240502T0805Z_b2.json.gz",
    ))
    .unwrap();
    let mut child = env
        .cmd()
        .args([
            "detect",
            "-i",
            "-",
            "--rules",
            &rule,
            "--no-builtin-rules",
            "--format",
            "json",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&gz).unwrap();
    let out = child.wait_with_output().unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["run"]["totals"]["events"], 2, "{}", stderr(&out));
    assert_eq!(v["run"]["totals"]["duplicates"], 1);
}

#[test]
fn unsupported_and_broken_inputs_are_errors() {
    let env = Env::new();
    let rule = disable_logging_rule();
    let out = env.run(&["detect", "-i", "gs://bucket/logs/", "--rules", &rule]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("not supported yet"),
        "{}",
        stderr(&out)
    );
    // JSON read as VPC Flow Logs text is an input error.
    let out = env.run(&[
        "detect",
        "-i",
        &fixture("cloudtrail/exports/events.ndjson"),
        "--log-format",
        "vpc-flow",
        "--rules",
        &rule,
        "--no-builtin-rules",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("neither a VPC Flow Logs header line"),
        "{}",
        stderr(&out)
    );

    // A truncated file: its good records are used, the error is reported, exit 2.
    let broken = env.path("broken.json");
    let text = std::fs::read_to_string(fixture(
        "cloudtrail/delivered/111122223333_CloudTrail_us-east-1_20240501T1010Z_a1.json",
    ))
    .unwrap();
    std::fs::write(&broken, &text[..text.len() - 200]).unwrap();
    let (code, v) = env.json(&[
        "detect",
        "-i",
        broken.to_str().unwrap(),
        "--rules",
        &rule,
        "--no-builtin-rules",
        "--format",
        "json",
    ]);
    assert_eq!(code, 2);
    assert_eq!(event_ids(&v["alerts"]), set(&["ev-d2"]));
    let errors = v["run"]["totals"]["input_errors"].as_array().unwrap();
    assert!(
        errors[0].as_str().unwrap().contains("not valid JSON"),
        "{errors:?}"
    );
}

#[test]
fn a_correlation_window_spans_two_runs() {
    let env = Env::new();
    let rules = fixture("sigma/console-bruteforce.yml");
    let run = |part: &str| {
        env.json(&[
            "detect",
            "-i",
            &fixture(&format!("cloudtrail/bruteforce/{part}.ndjson")),
            "--rules",
            &rules,
            "--no-builtin-rules",
            "--fail-on",
            "high",
            "--format",
            "json",
        ])
    };
    // Two failures from 203.0.113.9 (and one from elsewhere): below the threshold.
    let (code, v) = run("part1");
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(v["alerts"].as_array().unwrap().len(), 0);
    assert!(v["run"]["totals"]["state_keys"]["sigma"].as_u64().unwrap() > 0);
    // A third failure in a later run, a new process: the window kept in SQLite completes.
    let (code, v) = run("part2");
    assert_eq!(code, 1, "a high alert with --fail-on high: {v:#}");
    let alerts = v["alerts"].as_array().unwrap();
    assert_eq!(alerts.len(), 1, "{v:#}");
    let a = &alerts[0];
    assert_eq!(a["rule_id"], "stance-test-console-bruteforce");
    assert_eq!(a["severity"], "high");
    assert_eq!(a["group_key"], "sourceIPAddress=203.0.113.9");
    assert_eq!(event_ids(&v["alerts"]), set(&["ev-b1", "ev-b2", "ev-b4"]));
    assert_eq!(a["window_start"], "2024-05-05T22:00:00.000Z");
    assert_eq!(a["window_end"], "2024-05-05T22:03:00.000Z");

    // Without the first run's state the second run alone raises nothing.
    let fresh = Env::new();
    let (code, v) = fresh.json(&[
        "detect",
        "-i",
        &fixture("cloudtrail/bruteforce/part2.ndjson"),
        "--rules",
        &rules,
        "--no-builtin-rules",
        "--format",
        "json",
    ]);
    assert_eq!(code, 0);
    assert_eq!(v["alerts"].as_array().unwrap().len(), 0);

    let (_, listed) = env.json(&["alerts", "--min-severity", "high", "--format", "json"]);
    assert_eq!(listed.as_array().unwrap().len(), 1);
    let table = env.run(&["alerts", "--latest"]);
    assert!(String::from_utf8_lossy(&table.stdout).contains("sourceIPAddress=203.0.113.9"));
}

#[test]
fn a_batch_over_its_memory_limit_fails_alone_and_is_recorded() {
    let env = Env::new();
    let big = env.path("big.ndjson");
    let pad = "x".repeat(6 << 20);
    std::fs::write(
        &big,
        format!(
            "{{\"eventID\":\"big-1\",\"eventTime\":\"2024-05-06T00:00:00Z\",\"eventSource\":\"cloudtrail.amazonaws.com\",\"eventName\":\"StopLogging\",\"requestParameters\":{{\"pad\":\"{pad}\"}}}}\n"
        ),
    )
    .unwrap();
    let (code, v) = env.json(&[
        "detect",
        "-i",
        &fixture("cloudtrail/exports/events.ndjson"),
        &fixture("cloudtrail/exports/console-export.json"),
        big.to_str().unwrap(),
        &fixture(
            "cloudtrail/delivered/111122223333_CloudTrail_eu-west-1_20240502T0805Z_b2.json.gz",
        ),
        "--rules",
        &disable_logging_rule(),
        "--no-builtin-rules",
        "--batch-size",
        "1",
        "--memory-mib",
        "4",
        "--format",
        "json",
    ]);
    assert_eq!(code, 2, "a failed batch is an error: {v:#}");
    let failures = v["run"]["failures"].as_array().unwrap();
    assert_eq!(failures.len(), 1, "{v:#}");
    assert_eq!(failures[0]["kind"], "memory-limit");
    assert_eq!(failures[0]["batch"], 4);
    assert_eq!(v["run"]["totals"]["batches"], 7);
    // The batches before and after it ran.
    assert_eq!(event_ids(&v["alerts"]), set(&["ev-n1", "ev-x1", "ev-d4"]));
}

#[test]
fn rules_check_reports_what_loads_and_why_not() {
    let env = Env::new();
    let bad = env.path("bad.yml");
    std::fs::write(
        &bad,
        "title: Broken\nid: broken-1\nlogsource: {product: aws}\ndetection:\n  sel:\n    eventName|nosuchmodifier: x\n  condition: sel\n",
    )
    .unwrap();
    let out = env.run(&["rules", "check", &disable_logging_rule()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = env.run(&[
        "rules",
        "check",
        &disable_logging_rule(),
        bad.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("FAILED") && text.contains("bad.yml"),
        "{text}"
    );
    assert!(text.contains("1 of 2 rules load"), "{text}");

    // The SigmaHQ cloud rules, read in place: at least 98% load.
    let out = env.run(&[
        "rules",
        "check",
        sigmahq("").to_str().unwrap(),
        "--format",
        "json",
    ]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let rate = v["load_rate_percent"].as_f64().unwrap();
    assert!(
        rate >= 98.0,
        "SigmaHQ cloud load rate {rate}: {:#}",
        v["errors"]
    );
    assert!(v["loaded"].as_u64().unwrap() > 100);

    // detect with a rule that does not load: the rest runs, the run exits 2.
    let (code, v) = env.json(&[
        "detect",
        "-i",
        &fixture("cloudtrail/exports"),
        "--rules",
        &disable_logging_rule(),
        "--rules",
        bad.to_str().unwrap(),
        "--no-builtin-rules",
        "--format",
        "json",
    ]);
    assert_eq!(code, 2);
    assert_eq!(
        v["run"]["totals"]["rule_errors"].as_array().unwrap().len(),
        1
    );
    assert_eq!(event_ids(&v["alerts"]), set(&["ev-n1", "ev-x1"]));
}

mod prefilter;
mod routing;
mod sources;
