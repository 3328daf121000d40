//! `stance detect`, `stance alerts` and `stance rules check`: CloudTrail in
//! every shape AWS and its tools produce, a SigmaHQ rule read in place, a
//! correlation window spanning two runs, a batch that breaks its memory limit,
//! and routing to a webhook listening on loopback.

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

/// A webhook on loopback: answers each POST with `status` and hands over its body.
fn listener(status: u16) -> (String, mpsc::Receiver<(String, String)>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hooks/stance", l.local_addr().unwrap());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for conn in l.incoming() {
            let Ok(mut conn) = conn else { break };
            let mut reader = BufReader::new(conn.try_clone().unwrap());
            let mut request_line = String::new();
            reader.read_line(&mut request_line).unwrap();
            let mut len = 0usize;
            loop {
                let mut h = String::new();
                reader.read_line(&mut h).unwrap();
                if h.trim().is_empty() {
                    break;
                }
                if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap();
                }
            }
            let mut body = vec![0; len];
            reader.read_exact(&mut body).unwrap();
            let _ = conn.write_all(
                format!("HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                    .as_bytes(),
            );
            if tx
                .send((request_line, String::from_utf8(body).unwrap()))
                .is_err()
            {
                break;
            }
        }
    });
    (url, rx)
}

#[test]
fn new_alerts_are_routed_by_severity_to_a_webhook_and_a_file() {
    let env = Env::new();
    let (url, rx) = listener(200);
    let file = env.path("routed/alerts.ndjson");
    let config = env.path("routes.toml");
    std::fs::write(
        &config,
        format!(
            "[[route]]\nmin_severity = \"high\"\nwebhook = {url:?}\n\n[[route]]\nfile = {:?}\n",
            file.display().to_string()
        ),
    )
    .unwrap();
    let failed_login =
        sigmahq("aws/cloudtrail/aws_cloudtrail_console_login_failed_authentication.yml");
    let args = [
        "detect",
        "-i",
        &fixture("cloudtrail/bruteforce"),
        "--rules",
        &fixture("sigma/console-bruteforce.yml"),
        "--rules",
        failed_login.to_str().unwrap(),
        "--no-builtin-rules",
        "--route",
        config.to_str().unwrap(),
        "--format",
        "json",
    ];
    // --dry-run sends nothing and says what it would send.
    let mut dry = args.to_vec();
    dry.push("--dry-run");
    let (code, v) = env.json(&dry);
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(v["routes"][0]["alerts"], 1);
    assert!(rx.recv_timeout(Duration::from_millis(300)).is_err());
    assert!(!file.exists());

    let env = Env::new();
    let (code, v) = env.json(&args);
    assert_eq!(code, 0, "{v:#}");
    // Four medium failed logins (SigmaHQ) and one high brute force.
    assert_eq!(v["run"]["totals"]["alerts"], 5, "{v:#}");
    let (request, body) = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert!(
        request.starts_with("POST /hooks/stance HTTP/1.1"),
        "{request}"
    );
    let payload: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(payload["source"], "stance");
    let sent = payload["alerts"].as_array().unwrap();
    assert_eq!(sent.len(), 1, "only high and above: {payload:#}");
    assert_eq!(sent[0]["rule_id"], "stance-test-console-bruteforce");
    assert_eq!(sent[0]["group_key"], "sourceIPAddress=203.0.113.9");
    let lines = std::fs::read_to_string(&file).unwrap();
    assert_eq!(lines.lines().count(), 5);
    for l in lines.lines() {
        let a: Value = serde_json::from_str(l).unwrap();
        assert!(a["run_id"].as_i64().is_some() && a["fingerprint"].is_string());
    }

    // A second run over the same logs raises nothing new and routes nothing.
    let (_, v) = env.json(&args);
    assert_eq!(v["run"]["totals"]["alerts"], 0, "{v:#}");
    assert!(v["run"]["totals"]["duplicates"].as_u64().unwrap() >= 4);
    assert!(rx.recv_timeout(Duration::from_millis(300)).is_err());
    assert_eq!(std::fs::read_to_string(&file).unwrap().lines().count(), 5);
}

#[test]
fn a_webhook_that_keeps_failing_is_an_error() {
    let env = Env::new();
    let (url, rx) = listener(503);
    let out = env.run(&[
        "detect",
        "-i",
        &fixture("cloudtrail/exports"),
        "--rules",
        &disable_logging_rule(),
        "--no-builtin-rules",
        "--route-webhook",
        &url,
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("HTTP 503 after 3 attempts"),
        "{}",
        stderr(&out)
    );
    assert_eq!(rx.try_iter().count(), 3, "retried");
}

fn alerts_by_source(alerts: &Value) -> Vec<(String, String, String)> {
    let mut v: Vec<_> = alerts
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["source"].as_str().unwrap().to_string(),
                a["window_start"].as_str().unwrap().to_string(),
                a["region"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn vpc_flow_logs_v2_to_v5_are_read_with_and_without_a_header() {
    let env = Env::new();
    let rule = fixture("sigma/aws-vpcflow-ssh-rejected-from-outside.yml");
    // Auto-detected: the default format delivered to S3 (gzipped, with its
    // header), a custom v5 format, and the default format without a header.
    let (code, v) = env.json(&[
        "detect",
        "-i",
        &fixture("vpcflow"),
        "--rules",
        &rule,
        "--no-builtin-rules",
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "{v:#}");
    let totals = &v["run"]["totals"];
    assert_eq!(totals["files"], 3);
    assert_eq!(totals["events"], 9);
    assert_eq!(totals["alerts"], 3);
    let got = alerts_by_source(&v["alerts"]);
    let want = [
        ("2024-05-01T10:00:00", ""),
        ("2024-05-01T11:00:00", "eu-west-1"),
        ("2024-05-02T10:00:00", ""),
    ];
    for ((source, start, region), (t, r)) in got.iter().zip(want) {
        assert_eq!(source, "aws_vpc_flow");
        assert!(start.starts_with(t), "{start} {t}");
        assert_eq!(region, r);
    }
    assert!(
        v["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["account"] == "111122223333")
    );

    // Forced format and a time range.
    let (code, v) = env.json(&[
        "detect",
        "-i",
        &fixture("vpcflow/export/flows-no-header.txt"),
        &fixture("vpcflow/custom-v5.log"),
        "--log-format",
        "vpc-flow",
        "--since",
        "2024-05-02",
        "--rules",
        &rule,
        "--no-builtin-rules",
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(v["run"]["totals"]["events"], 2);
    assert_eq!(v["run"]["totals"]["out_of_range"], 3);
    assert_eq!(v["alerts"].as_array().unwrap().len(), 1);
}

#[test]
fn guardduty_findings_in_every_shape_are_read() {
    let env = Env::new();
    let rule = fixture("sigma/aws-guardduty-high-severity.yml");
    // GetFindings output, EventBridge NDJSON and a gzipped array, auto-detected and forced.
    for format in ["auto", "guardduty"] {
        let env = Env::new();
        let (code, v) = env.json(&[
            "detect",
            "-i",
            &fixture("guardduty"),
            "--log-format",
            format,
            "--rules",
            &rule,
            "--no-builtin-rules",
            "--format",
            "json",
        ]);
        assert_eq!(code, 0, "{v:#}");
        assert_eq!(v["run"]["totals"]["files"], 3);
        assert_eq!(v["run"]["totals"]["events"], 5);
        assert_eq!(event_ids(&v["alerts"]), set(&["gd-f1", "gd-f3", "gd-f5"]));
        let f3 = v["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["event_ids"][0] == "gd-f3")
            .unwrap();
        assert_eq!(f3["source"], "aws_guardduty");
        assert_eq!(f3["region"], "eu-west-1");
        assert_eq!(f3["account"], "111122223333");
        assert_eq!(f3["severity"], "high");
    }
    // Mixed with CloudTrail and flows in one run: each source meets its own rules only.
    let (code, v) = env.json(&[
        "detect",
        "-i",
        &fixture("guardduty"),
        &fixture("vpcflow"),
        &fixture("cloudtrail/delivered"),
        "--since",
        "2024-05-02",
        "--until",
        "2024-05-03",
        "--rules",
        &rule,
        "--rules",
        &fixture("sigma/aws-vpcflow-ssh-rejected-from-outside.yml"),
        "--rules",
        &disable_logging_rule(),
        "--no-builtin-rules",
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "{v:#}");
    let sources: BTreeSet<String> = v["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["source"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        sources,
        set(&["aws_cloudtrail", "aws_guardduty", "aws_vpc_flow"])
    );
    assert_eq!(v["alerts"].as_array().unwrap().len(), 3);
}

/// CloudTrail (and a flow log) as delivered to a bucket, read from moto's S3.
#[cfg(feature = "aws")]
#[test]
fn s3_prefixes_are_read_through_the_sdk() {
    use crate::support::{Moto, venv_python};
    let moto = Moto::start(&[]);
    let delivered = root().join("tests/fixtures/cloudtrail/delivered");
    let day = "AWSLogs/111122223333/CloudTrail/us-east-1/2024/05/01";
    let uploads = [
        (
            format!("{day}/111122223333_CloudTrail_us-east-1_20240501T1010Z_a1.json"),
            delivered.join("111122223333_CloudTrail_us-east-1_20240501T1010Z_a1.json"),
        ),
        (
            "AWSLogs/111122223333/CloudTrail/eu-west-1/2024/05/02/111122223333_CloudTrail_eu-west-1_20240502T0805Z_b2.json.gz".to_string(),
            delivered.join("111122223333_CloudTrail_eu-west-1_20240502T0805Z_b2.json.gz"),
        ),
        (
            "AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2024/05/01/111122223333_CloudTrail-Digest_us-east-1_20240501T1010Z.json".to_string(),
            delivered.join("111122223333_CloudTrail-Digest_us-east-1_20240501T1010Z.json"),
        ),
        (
            "AWSLogs/111122223333/vpcflowlogs/us-east-1/2024/05/01/111122223333_vpcflowlogs_us-east-1_fl-0a1b2c3d_20240501T1000Z_3f2a9b1c.log.gz".to_string(),
            root().join("tests/fixtures/vpcflow/111122223333_vpcflowlogs_us-east-1_fl-0a1b2c3d_20240501T1000Z_3f2a9b1c.log.gz"),
        ),
        (
            "elsewhere/not-under-the-prefix.json".to_string(),
            delivered.join("111122223333_CloudTrail_us-east-1_20240501T1010Z_a1.json"),
        ),
    ];
    let mut script = String::from(
        "import boto3, sys\n\
         s3 = boto3.client('s3', endpoint_url=sys.argv[1], region_name='us-east-1', \
         aws_access_key_id='testing', aws_secret_access_key='testing')\n\
         s3.create_bucket(Bucket='trail-logs')\n",
    );
    for (key, path) in &uploads {
        script.push_str(&format!(
            "s3.upload_file({:?}, 'trail-logs', {:?})\n",
            path.display().to_string(),
            key
        ));
    }
    let out = std::process::Command::new(venv_python())
        .arg("-c")
        .arg(&script)
        .arg(moto.endpoint())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let env = Env::new();
    let rule = disable_logging_rule();
    let flow_rule = fixture("sigma/aws-vpcflow-ssh-rejected-from-outside.yml");
    let run = |extra: &[&str]| -> (i32, Value) {
        let mut cmd = env.cmd();
        moto.env(&mut cmd);
        cmd.args([
            "detect",
            "-i",
            "s3://trail-logs/AWSLogs/",
            "--rules",
            &rule,
            "--rules",
            &flow_rule,
            "--no-builtin-rules",
            "--format",
            "json",
        ])
        .args(extra);
        let out = cmd.output().unwrap();
        let v =
            serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", stderr(&out)));
        (out.status.code().unwrap(), v)
    };
    let (code, v) = run(&[]);
    assert_eq!(code, 0, "{v:#}");
    // Three objects read (the digest skipped), in key order.
    assert_eq!(v["run"]["totals"]["files"], 3, "{v:#}");
    assert_eq!(v["run"]["totals"]["events"], 9, "{v:#}");
    let ids = event_ids(&v["alerts"]);
    assert!(ids.is_superset(&set(&["ev-d2", "ev-d4"])), "{ids:?}");
    assert_eq!(ids.len(), 3, "{ids:?}");

    // --since/--until apply to the events of objects too.
    let (code, v) = run(&["--since", "2024-05-02", "--until", "2024-05-03"]);
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(event_ids(&v["alerts"]), set(&["ev-d4"]));
    assert!(v["run"]["totals"]["out_of_range"].as_u64().unwrap() > 0);

    // A bucket that does not exist is an input error (exit 2).
    let mut cmd = env.cmd();
    moto.env(&mut cmd);
    let out = cmd
        .args(["detect", "-i", "s3://no-such-bucket/x/", "--rules", &rule])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("NoSuchBucket"), "{}", stderr(&out));
}

/// A request as a loopback receiver read it: request line, headers (names
/// lowercased), body.
struct Received {
    request: String,
    headers: Vec<(String, String)>,
    body: String,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

/// A receiver on loopback that answers 202 and hands over each request whole.
fn receiver(path: &str) -> (String, mpsc::Receiver<Received>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}{path}", l.local_addr().unwrap());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for conn in l.incoming() {
            let Ok(mut conn) = conn else { break };
            let mut reader = BufReader::new(conn.try_clone().unwrap());
            let mut request = String::new();
            reader.read_line(&mut request).unwrap();
            let mut headers = Vec::new();
            loop {
                let mut h = String::new();
                reader.read_line(&mut h).unwrap();
                if h.trim().is_empty() {
                    break;
                }
                let (k, v) = h.split_once(':').unwrap();
                headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
            }
            let len: usize = headers
                .iter()
                .find(|(k, _)| k == "content-length")
                .map(|(_, v)| v.parse().unwrap())
                .unwrap_or(0);
            let mut body = vec![0; len];
            reader.read_exact(&mut body).unwrap();
            let _ = conn.write_all(
                b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
            let r = Received {
                request: request.trim_end().to_string(),
                headers,
                body: String::from_utf8(body).unwrap(),
            };
            if tx.send(r).is_err() {
                break;
            }
        }
    });
    (url, rx)
}

/// HMAC-SHA256 written out here (RFC 2104), independent of the host's.
fn hmac_sha256_hex(key: &[u8], msg: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    let mut k = [0u8; 64];
    k[..key.len()].copy_from_slice(key);
    let ipad: Vec<u8> = k.iter().map(|b| b ^ 0x36).collect();
    let opad: Vec<u8> = k.iter().map(|b| b ^ 0x5c).collect();
    let inner = Sha256::new()
        .chain_update(&ipad)
        .chain_update(msg)
        .finalize();
    hex::encode(
        Sha256::new()
            .chain_update(&opad)
            .chain_update(inner)
            .finalize(),
    )
}

const FAILED_LOGIN_RULE: &str = "6393e346-1977-46ef-8987-ad414a145fad";
const BRUTEFORCE_RULE: &str = "stance-test-console-bruteforce";

fn bruteforce_args(extra: &[&str]) -> Vec<String> {
    let failed_login =
        sigmahq("aws/cloudtrail/aws_cloudtrail_console_login_failed_authentication.yml");
    let mut v: Vec<String> = [
        "detect",
        "-i",
        &fixture("cloudtrail/bruteforce"),
        "--rules",
        &fixture("sigma/console-bruteforce.yml"),
        "--rules",
        failed_login.to_str().unwrap(),
        "--no-builtin-rules",
        "--format",
        "json",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    v.extend(extra.iter().map(|s| s.to_string()));
    v
}

#[test]
fn webhooks_are_signed_and_slack_and_pagerduty_get_their_payloads() {
    let env = Env::new();
    let (hook, hook_rx) = receiver("/hooks/signed");
    let (slack, slack_rx) = receiver("/services/T0/B0/X");
    let (pd, pd_rx) = receiver("/v2/enqueue");
    let config = env.path("routes.toml");
    std::fs::write(
        &config,
        format!(
            "[[route]]\nwebhook = {hook:?}\nhmac_secret_env = \"TEST_HOOK_SECRET\"\n\n\
             [[route]]\nslack = {slack:?}\n\n\
             [[route]]\nmin_severity = \"high\"\npagerduty_routing_key_env = \"TEST_PD_KEY\"\npagerduty_url = {pd:?}\n"
        ),
    )
    .unwrap();
    let args = bruteforce_args(&["--route", config.to_str().unwrap()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();

    // A secret the route names but the environment lacks: refused before the run.
    let out = env
        .cmd()
        .args(&args)
        .env("TEST_PD_KEY", "pd-key")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("TEST_HOOK_SECRET"),
        "{}",
        stderr(&out)
    );

    let secret = "s3cr3t-for-tests";
    let out = env
        .cmd()
        .args(&args)
        .env("TEST_HOOK_SECRET", secret)
        .env("TEST_PD_KEY", "pd-routing-key-0123")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["run"]["totals"]["alerts"], 5, "{v:#}");
    let routes = v["routes"].as_array().unwrap();
    assert_eq!(routes.len(), 3, "{v:#}");
    assert!(routes.iter().all(|r| r["error"].is_null()), "{v:#}");
    // The Slack URL is a credential: shown without its path.
    assert!(
        routes[1]["destination"]
            .as_str()
            .unwrap()
            .starts_with("slack http://127.0.0.1:")
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains("/services/T0/B0/X"));
    assert!(
        !stderr(&out).contains("/services/T0/B0/X"),
        "{}",
        stderr(&out)
    );

    // The webhook: signed over the exact body with the secret from the environment.
    let r = hook_rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert!(
        r.request.starts_with("POST /hooks/signed "),
        "{}",
        r.request
    );
    let sig = r.header("x-stance-signature").expect("signature header");
    assert_eq!(
        sig,
        format!(
            "sha256={}",
            hmac_sha256_hex(secret.as_bytes(), r.body.as_bytes())
        )
    );
    assert_ne!(
        sig,
        format!(
            "sha256={}",
            hmac_sha256_hex(b"another secret", r.body.as_bytes())
        )
    );
    assert_eq!(r.json()["alerts"].as_array().unwrap().len(), 5);
    assert!(!std::fs::read_to_string(&config).unwrap().contains(secret));

    // Slack: one message, text and blocks naming severity, rule, count, first event.
    let r = slack_rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert!(r.header("x-stance-signature").is_none());
    let m = r.json();
    let text = m["text"].as_str().unwrap();
    assert!(
        text.contains("5 new alert(s)") && text.contains("1 high") && text.contains("4 medium"),
        "{text}"
    );
    let blocks = serde_json::to_string(&m["blocks"]).unwrap();
    for needle in [
        BRUTEFORCE_RULE,
        FAILED_LOGIN_RULE,
        "*HIGH*",
        "*MEDIUM*",
        "4 alert(s)",
        "first event `ev-b1`",
    ] {
        assert!(blocks.contains(needle), "{needle} not in {blocks}");
    }
    assert!(
        slack_rx.recv_timeout(Duration::from_millis(300)).is_err(),
        "one message per run"
    );

    // PagerDuty: one trigger per alert at or above high, deduplicated by fingerprint.
    let r = pd_rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert!(r.request.starts_with("POST /v2/enqueue "), "{}", r.request);
    let e = r.json();
    let high = v["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["rule_id"] == BRUTEFORCE_RULE)
        .unwrap();
    assert_eq!(e["routing_key"], "pd-routing-key-0123");
    assert_eq!(e["event_action"], "trigger");
    assert_eq!(e["dedup_key"], high["fingerprint"]);
    assert_eq!(e["payload"]["severity"], "error", "high maps to error");
    assert_eq!(e["payload"]["source"], "111122223333/us-east-1");
    assert!(
        e["payload"]["summary"]
            .as_str()
            .unwrap()
            .contains("Console brute force")
    );
    assert!(
        e["payload"]["timestamp"]
            .as_str()
            .unwrap()
            .starts_with("2024-05-05T22:0")
    );
    assert_eq!(e["payload"]["custom_details"]["rule_id"], BRUTEFORCE_RULE);
    assert_eq!(
        e["payload"]["custom_details"]["group_key"],
        "sourceIPAddress=203.0.113.9"
    );
    assert!(
        pd_rx.recv_timeout(Duration::from_millis(300)).is_err(),
        "only high and above"
    );
}

#[test]
fn suppressions_silence_alerts_until_they_expire() {
    let env = Env::new();
    let alerts_file = env.path("routed.ndjson");
    let suppress = |args: &[&str]| {
        let mut all = vec!["alerts", "suppress"];
        all.extend_from_slice(args);
        env.run(&all)
    };
    // Expired: applies to nothing.
    let out = suppress(&[
        "--rule",
        BRUTEFORCE_RULE,
        "--until",
        "2020-01-01",
        "--reason",
        "old pen test",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("expired already"), "{}", stderr(&out));
    // In force for a week: the SigmaHQ failed logins from one address.
    let out = suppress(&[
        "--rule",
        FAILED_LOGIN_RULE,
        "--match",
        "sourceIPAddress=203.0.113.9",
        "--match",
        "account=111122223333",
        "--until",
        "7d",
        "--reason",
        "pen test from the red team's address",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    // A match on another value silences nothing.
    let out = suppress(&[
        "--rule",
        FAILED_LOGIN_RULE,
        "--match",
        "sourceIPAddress=198.51.100.1",
        "--until",
        "2099-12-31T00:00:00Z",
        "--reason",
        "another address",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));

    let (code, list) = env.json(&["alerts", "suppressions", "--format", "json"]);
    assert_eq!(code, 0);
    let ids: Vec<i64> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, [2, 3], "only the active ones: {list:#}");
    let (_, all) = env.json(&["alerts", "suppressions", "--all", "--format", "json"]);
    assert_eq!(all.as_array().unwrap().len(), 3);
    assert_eq!(all[0]["active"], false);
    assert_eq!(all[1]["active"], true);
    assert_eq!(all[1]["matches"]["sourceIPAddress"], "203.0.113.9");
    let until = chrono::DateTime::parse_from_rfc3339(all[1]["until"].as_str().unwrap()).unwrap();
    let days = (until.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_hours();
    assert!((167..=168).contains(&days), "7d from now: {until}");

    let args = bruteforce_args(&[
        "--route-file",
        alerts_file.to_str().unwrap(),
        "--fail-on",
        "medium",
    ]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, v) = env.json(&args);
    // The high brute force (its suppression expired) still fails the run.
    assert_eq!(code, 1, "{v:#}");
    let totals = &v["run"]["totals"];
    // ev-b3 came from another address: its failed login is not suppressed.
    assert_eq!(totals["alerts"], 2, "{v:#}");
    assert_eq!(totals["suppressed"], 3, "{v:#}");
    assert_eq!(totals["by_severity"]["medium"], 1, "{v:#}");
    assert_eq!(totals["by_severity"]["high"], 1, "{v:#}");
    let stored = v["alerts"].as_array().unwrap();
    assert_eq!(stored.len(), 5);
    for a in stored {
        let expect = if a["rule_id"] == FAILED_LOGIN_RULE && a["event_ids"][0] != "ev-b3" {
            Value::from(2)
        } else {
            Value::Null
        };
        assert_eq!(a["suppressed_by"], expect, "{a:#}");
    }
    let routed = std::fs::read_to_string(&alerts_file).unwrap();
    assert_eq!(
        routed.lines().count(),
        2,
        "suppressed alerts are not routed"
    );
    assert!(routed.contains("ev-b3"));
    assert!(routed.contains(BRUTEFORCE_RULE));

    let (_, listed) = env.json(&["alerts", "--format", "json"]);
    assert_eq!(listed.as_array().unwrap().len(), 2);
    let (_, listed) = env.json(&["alerts", "--include-suppressed", "--format", "json"]);
    assert_eq!(listed.as_array().unwrap().len(), 5);
    let table = env.run(&["alerts", "--include-suppressed"]);
    assert!(String::from_utf8_lossy(&table.stdout).contains("(suppressed #2)"));

    // unsuppress deletes; an unknown id is an error.
    let out = env.run(&["alerts", "unsuppress", "2"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = env.run(&["alerts", "unsuppress", "2"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let (_, list) = env.json(&["alerts", "suppressions", "--format", "json"]);
    assert_eq!(list.as_array().unwrap().len(), 1);

    // With every alert of the run silenced (the correlation by its group
    // key), --fail-on is not met and nothing is routed.
    let env = Env::new();
    for (rule, key) in [
        (FAILED_LOGIN_RULE, None),
        (BRUTEFORCE_RULE, Some("sourceIPAddress=203.0.113.9")),
    ] {
        let mut a = vec![
            "alerts", "suppress", "--rule", rule, "--until", "1h", "--reason", "test",
        ];
        if let Some(k) = key {
            a.extend(["--group-key", k]);
        }
        let out = env.run(&a);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let quiet_file = env.path("quiet.ndjson");
    let args = bruteforce_args(&[
        "--route-file",
        quiet_file.to_str().unwrap(),
        "--fail-on",
        "low",
    ]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, v) = env.json(&args);
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(v["run"]["totals"]["alerts"], 0);
    assert_eq!(v["run"]["totals"]["suppressed"], 5);
    assert!(!quiet_file.exists());

    // Bad input is refused.
    let out = env.run(&[
        "alerts", "suppress", "--rule", "x", "--until", "soon", "--reason", "r",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("not an expiry"), "{}", stderr(&out));
    let out = env.run(&[
        "alerts", "suppress", "--rule", "x", "--match", "novalue", "--until", "1d", "--reason", "r",
    ]);
    assert_eq!(out.status.code(), Some(2));
}
