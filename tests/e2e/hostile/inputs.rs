//! Hostile inputs: inputs (see the module doc of `hostile`). Audit logs and
//! snapshots that are wrong-typed, deep, huge, gzip bombs or reached through
//! link loops: each costs only itself, memory stays flat, the walk ends.
//! Issue 12, cases 4 to 7.

use std::io::Write;
use std::path::Path;

use serde_json::{Value, json};

use super::*;
use crate::support::root;

/// A root console sign-in: the built-in rules alert on each one.
fn root_login(i: usize) -> Value {
    json!({
        "eventVersion": "1.09",
        "userIdentity": {"type": "Root", "arn": "arn:aws:iam::111122223333:root", "accountId": "111122223333"},
        "eventTime": format!("2024-05-01T10:{i:02}:00Z"),
        "eventSource": "signin.amazonaws.com",
        "eventName": "ConsoleLogin",
        "awsRegion": "us-east-1",
        "sourceIPAddress": format!("203.0.113.{i}"),
        "responseElements": {"ConsoleLogin": "Success"},
        "additionalEventData": {"MFAUsed": "Yes"},
        "eventID": format!("ev-{i}"),
        "eventType": "AwsConsoleSignIn",
        "recipientAccountId": "111122223333"
    })
}

fn fixture(rel: &str) -> String {
    root()
        .join("tests/fixtures")
        .join(rel)
        .display()
        .to_string()
}

/// `stance detect --format json` under the memory limit: exit code, report, stderr.
fn detect(env: &Env, args: &[&str]) -> (Option<i32>, Value, String) {
    let mut all = vec!["detect", "--format", "json"];
    all.extend_from_slice(args);
    let out = run_bounded(env, &all, MEMORY_LIMIT_MIB);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let v = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("no JSON ({e}), {:?}:\n{stderr}", out.status));
    (out.status.code(), v, stderr)
}

/// `detect` of one input with one fixture rule and no built-in rules.
fn detect_with_rule(env: &Env, input: &Path, rule: &str) -> (Option<i32>, Value, String) {
    let rules = fixture(rule);
    detect(
        env,
        &[
            "-i",
            input.to_str().unwrap(),
            "--rules",
            &rules,
            "--no-builtin-rules",
        ],
    )
}

/// The events the alerts of a detect report name.
fn alerted(v: &Value) -> std::collections::BTreeSet<String> {
    v["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|a| a["event_ids"].as_array().unwrap().clone())
        .map(|id| id.as_str().unwrap().to_string())
        .collect()
}

fn input_errors(v: &Value) -> String {
    v["run"]["totals"]["input_errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap().to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

fn ids(range: std::ops::Range<usize>) -> std::collections::BTreeSet<String> {
    range.map(|i| format!("ev-{i}")).collect()
}

/// A gzip file of `prefix`, then `filler` `times` over, then `suffix`, in
/// one member, built without compressing the repeats: the filler is
/// deflated once between two full flushes (so it refers to nothing outside
/// itself) and its blocks written `times` times. A few MB on disk, any size
/// inflated, and no more memory in the test than one filler.
fn gzip_bomb(path: &Path, prefix: &[u8], filler: &[u8], times: usize, suffix: &[u8]) {
    use flate2::{Compress, Compression, Crc, FlushCompress};
    let mut c = Compress::new(Compression::best(), false);
    let mut deflate = |data: &[u8], flush: FlushCompress| -> Vec<u8> {
        let finish = matches!(flush, FlushCompress::Finish);
        let mut out = Vec::with_capacity(data.len() / 100 + (1 << 20));
        let start = c.total_in();
        loop {
            if out.capacity() - out.len() < 64 << 10 {
                out.reserve(1 << 20);
            }
            let done = (c.total_in() - start) as usize;
            let status = c.compress_vec(&data[done..], &mut out, flush).unwrap();
            let consumed = (c.total_in() - start) as usize == data.len();
            let room = out.capacity() > out.len();
            match status {
                flate2::Status::StreamEnd => return out,
                _ if !finish && consumed && room => return out,
                _ => {}
            }
        }
    };
    let head = deflate(prefix, FlushCompress::Full);
    let body = deflate(filler, FlushCompress::Full);
    let tail = deflate(suffix, FlushCompress::Finish);
    let mut crc = Crc::new();
    crc.update(prefix);
    let mut one = Crc::new();
    one.update(filler);
    for _ in 0..times {
        crc.combine(&one);
    }
    let mut last = Crc::new();
    last.update(suffix);
    crc.combine(&last);
    let size = (prefix.len() + filler.len() * times + suffix.len()) as u64;
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    f.write_all(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff])
        .unwrap();
    f.write_all(&head).unwrap();
    for _ in 0..times {
        f.write_all(&body).unwrap();
    }
    f.write_all(&tail).unwrap();
    f.write_all(&crc.sum().to_le_bytes()).unwrap();
    f.write_all(&(size as u32).to_le_bytes()).unwrap();
    f.flush().unwrap();
}

/// 3 GiB of `byte`, 16 MiB at a time.
const BOMB_CHUNK: usize = 16 << 20;
const BOMB_TIMES: usize = 192;

// Case 4: one wrong-typed record costs only itself, in every reader.

#[test]
fn a_wrong_typed_record_costs_only_itself() {
    let env = Env::new();
    let mut second = root_login(2);
    second["eventTime"] = json!(1714564800);
    let trail = env.path("trail.json");
    let records = json!({"Records": [root_login(1), second, root_login(3)]});
    std::fs::write(&trail, records.to_string()).unwrap();
    let (code, v, stderr) = detect(&env, &["-i", trail.to_str().unwrap()]);
    assert_eq!(code, Some(2), "{stderr}");
    assert_eq!(
        alerted(&v),
        ids(1..4).into_iter().filter(|i| i != "ev-2").collect()
    );
    let errors = input_errors(&v);
    for part in [
        "trail.json: record 2 (line 1 column",
        "eventTime",
        "RFC 3339",
    ] {
        assert!(errors.contains(part), "{part:?} not in {errors}");
    }
    assert!(!errors.contains("not valid JSON"), "{errors}");

    // GuardDuty: a finding whose updatedAt is a number.
    let finding = |id: &str, updated: Value| {
        json!({"schemaVersion": "2.0", "accountId": "111122223333", "region": "us-east-1", "id": id,
               "type": "Recon:EC2/PortProbeUnprotectedPort", "severity": 8, "updatedAt": updated})
    };
    let gd = env.path("findings.json");
    let findings = json!({"Findings": [
        finding("f1", json!("2024-05-01T10:00:00.000Z")),
        finding("f2", json!(1714564800)),
        finding("f3", json!("2024-05-01T10:02:00.000Z")),
    ]});
    std::fs::write(&gd, findings.to_string()).unwrap();
    let (code, v, _) = detect_with_rule(&env, &gd, "sigma/aws-guardduty-high-severity.yml");
    assert_eq!(code, Some(2));
    assert_eq!(v["run"]["totals"]["events"], 2);
    let errors = input_errors(&v);
    assert!(
        errors.contains("record 2") && errors.contains("updatedAt"),
        "{errors}"
    );

    // VPC Flow Logs: a line that does not fit the header, between two that do.
    let flow = env.path("flow.log");
    std::fs::write(
        &flow,
        "version account-id srcaddr dstport start action\n\
         3 111122223333 203.0.113.7 22 1714557600 REJECT\n\
         3 111122223333 203.0.113.7\n\
         3 111122223333 203.0.113.8 22 1714557660 REJECT\n",
    )
    .unwrap();
    let (code, v, _) = detect_with_rule(
        &env,
        &flow,
        "sigma/aws-vpcflow-ssh-rejected-from-outside.yml",
    );
    assert_eq!(code, Some(2));
    assert_eq!(v["run"]["totals"]["events"], 2);
    let errors = input_errors(&v);
    assert!(
        errors.contains("flow.log: line 3: 3 values for the 6 fields"),
        "{errors}"
    );
}

// Case 5: one record the plugins cannot take never blinds its batch.

#[test]
fn a_deep_or_huge_record_costs_only_itself() {
    let env = Env::new();
    let path = env.path("mixed.ndjson.gz");
    let mut gz = flate2::write::GzEncoder::new(
        std::fs::File::create(&path).unwrap(),
        flate2::Compression::fast(),
    );
    for i in 0..10 {
        if i == 5 {
            let deep = format!(
                "{{\"eventID\":\"deep\",\"eventTime\":\"2024-05-01T10:30:00Z\",\"x\":{}{}}}\n",
                "[".repeat(199),
                "]".repeat(199)
            );
            gz.write_all(deep.as_bytes()).unwrap();
            gz.write_all(b"{\"eventID\":\"huge\",\"eventTime\":\"2024-05-01T10:31:00Z\",\"x\":\"")
                .unwrap();
            let chunk = vec![b'a'; 1 << 20];
            for _ in 0..200 {
                gz.write_all(&chunk).unwrap();
            }
            gz.write_all(b"\"}\n").unwrap();
        }
        writeln!(gz, "{}", root_login(i)).unwrap();
    }
    gz.finish().unwrap();
    let (code, v, stderr) = detect(&env, &["-i", path.to_str().unwrap()]);
    assert_eq!(code, Some(2), "{stderr}");
    assert_eq!(alerted(&v), ids(0..10), "{stderr}");
    assert!(
        v["run"]["failures"].as_array().unwrap().is_empty(),
        "{}",
        v["run"]["failures"]
    );
    let errors = input_errors(&v);
    for part in [
        "record 6 (line 6 column 1): 200 levels deep, the limit is 64 (--max-record-depth)",
        "record 7 (line 7 column 1): 200.0 MiB long, the limit is 16 MiB (--max-record-mib)",
    ] {
        assert!(errors.contains(part), "{part:?} not in {errors}");
    }
}

#[test]
fn a_record_that_fails_the_plugin_costs_only_itself() {
    // 1e400 is JSON, but not a number serde_json (in the Sigma plugin) can
    // hold: the plugin fails on any batch holding it. The batch is bisected
    // down to that record.
    let env = Env::new();
    let path = env.path("poison.ndjson");
    let mut text = String::new();
    for i in 0..10 {
        if i == 3 {
            text.push_str(
                "{\"eventID\":\"poison\",\"eventTime\":\"2024-05-01T10:30:00Z\",\"x\":1e400}\n",
            );
        }
        text.push_str(&format!("{}\n", root_login(i)));
    }
    std::fs::write(&path, text).unwrap();
    let (code, v, stderr) = detect(&env, &["-i", path.to_str().unwrap()]);
    assert_eq!(code, Some(2), "{stderr}");
    assert_eq!(alerted(&v), ids(0..10), "{stderr}");
    let failures = v["run"]["failures"].as_array().unwrap();
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert_eq!(failures[0]["assets"], 1);
    let cause = failures[0]["cause"].as_str().unwrap();
    assert!(cause.contains("(alone, on poison)"), "{cause}");
}

/// A snapshot of three buckets, the second with `body` (the others with
/// bodies every built-in rule can judge: no `error` of their own).
fn buckets(second: &str) -> String {
    let asset = |i: usize, body: &str| {
        format!(
            r#"{{"id":"arn:aws:s3:::b{i}","resource_type":"aws_s3_bucket","account":"111122223333","region":"us-east-1","body":{body}}}"#
        )
    };
    format!(
        r#"{{"stance_snapshot":1,"collected_at":"2026-11-20T09:30:00Z","assets":[{},{},{}]}}"#,
        asset(1, r#"{"name":"b1","lifecycle_rules_count":1}"#),
        asset(2, second),
        asset(3, r#"{"name":"b3","lifecycle_rules_count":1}"#)
    )
}

fn scan(env: &Env, snapshot: &Path, extra: &[&str]) -> (Option<i32>, Value, String) {
    let mut args = vec![
        "scan",
        "--snapshot",
        snapshot.to_str().unwrap(),
        "--format",
        "json",
    ];
    args.extend_from_slice(extra);
    let out = run_bounded(env, &args, MEMORY_LIMIT_MIB);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let v = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("no JSON ({e}), {:?}:\n{stderr}", out.status));
    (out.status.code(), v, stderr)
}

/// The statuses of the results on each of the three buckets.
fn statuses(v: &Value, bucket: &str) -> std::collections::BTreeSet<String> {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["resource"]["id"] == format!("arn:aws:s3:::{bucket}"))
        .map(|f| f["status"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn an_asset_the_plugins_cannot_take_costs_only_itself() {
    let env = Env::new();
    let deep = format!(
        r#"{{"name":"b2","lifecycle_rules_count":1,"x":{}{}}}"#,
        "[".repeat(199),
        "]".repeat(199)
    );
    let snapshot = env.path("deep.json");
    std::fs::write(&snapshot, buckets(&deep)).unwrap();
    let (code, v, stderr) = scan(&env, &snapshot, &[]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(v["scan"]["failures"].as_array().unwrap().is_empty());
    assert_eq!(statuses(&v, "b2"), ["error".to_string()].into());
    let message = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["resource"]["id"] == "arn:aws:s3:::b2")
        .map(|f| f["message"].as_str().unwrap().to_string())
        .unwrap();
    assert!(
        message.contains("200 levels deep, the limit is 64 (--max-record-depth)"),
        "{message}"
    );
    for b in ["b1", "b3"] {
        assert!(
            !statuses(&v, b).contains("error"),
            "{b}: {:?}",
            statuses(&v, b)
        );
    }

    // A body the plugin fails on (1e400 is out of its number range): the
    // batch is bisected, the neighbours are judged.
    let snapshot = env.path("poison.json");
    std::fs::write(
        &snapshot,
        buckets(r#"{"name":"b2","lifecycle_rules_count":1,"x":1e400}"#),
    )
    .unwrap();
    let (code, v, stderr) = scan(&env, &snapshot, &[]);
    assert_eq!(code, Some(2), "{stderr}");
    let failures = v["scan"]["failures"].as_array().unwrap();
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert_eq!(failures[0]["assets"], 1);
    assert!(
        failures[0]["cause"]
            .as_str()
            .unwrap()
            .contains("(alone, on arn:aws:s3:::b2)"),
        "{failures:?}"
    );
    assert_eq!(statuses(&v, "b2"), ["error".to_string()].into());
    for b in ["b1", "b3"] {
        assert!(
            !statuses(&v, b).contains("error"),
            "{b}: {:?}",
            statuses(&v, b)
        );
    }
}

// Case 6: gzip bombs cost their caps, not their claims.

#[test]
fn a_gzip_bomb_record_is_refused_while_it_is_read() {
    let env = Env::new();
    let path = env.path("bomb.json.gz");
    let prefix = format!(
        "{{\"Records\":[{},{{\"eventID\":\"bomb\",\"eventName\":\"",
        root_login(1)
    );
    let suffix = format!("\"}},{}]}}", root_login(2));
    gzip_bomb(
        &path,
        prefix.as_bytes(),
        &vec![b'A'; BOMB_CHUNK],
        BOMB_TIMES,
        suffix.as_bytes(),
    );
    assert!(std::fs::metadata(&path).unwrap().len() < 16 << 20);
    let (code, v, stderr) = detect(&env, &["-i", path.to_str().unwrap()]);
    assert_eq!(code, Some(2), "{stderr}");
    assert_eq!(alerted(&v), ids(1..3), "{stderr}");
    let errors = input_errors(&v);
    assert!(
        errors.contains("record 2 (line 1 column")
            && errors.contains("3.0 GiB long, the limit is 16 MiB (--max-record-mib)"),
        "{errors}"
    );
}

#[test]
fn a_flow_log_without_newlines_is_refused_line_by_line() {
    let env = Env::new();
    let path = env.path("flow.log.gz");
    let prefix = "version account-id srcaddr dstport start action\n\
                  3 111122223333 203.0.113.7 22 1714557600 REJECT\n";
    gzip_bomb(
        &path,
        prefix.as_bytes(),
        &vec![b'x'; BOMB_CHUNK],
        BOMB_TIMES,
        b"",
    );
    let rules = fixture("sigma/aws-vpcflow-ssh-rejected-from-outside.yml");
    let (code, v, stderr) = detect(
        &env,
        &[
            "-i",
            path.to_str().unwrap(),
            "--rules",
            &rules,
            "--no-builtin-rules",
        ],
    );
    assert_eq!(code, Some(2), "{stderr}");
    assert_eq!(v["run"]["totals"]["events"], 1);
    let errors = input_errors(&v);
    assert!(
        errors.contains("line 3: a line 3 GiB long, the limit is 16 MiB (--max-line-mib)"),
        "{errors}"
    );
}

#[test]
fn a_snapshot_of_whitespace_is_read_in_flat_memory() {
    let env = Env::new();
    let path = env.path("snapshot.json.gz");
    let text = buckets(r#"{"name":"b2","lifecycle_rules_count":1}"#);
    let (prefix, suffix) = text.split_at(text.find("{\"id\":\"arn:aws:s3:::b2").unwrap());
    gzip_bomb(
        &path,
        prefix.as_bytes(),
        &vec![b' '; BOMB_CHUNK],
        BOMB_TIMES,
        suffix.as_bytes(),
    );
    let (code, v, stderr) = scan(&env, &path, &[]);
    assert!(matches!(code, Some(0 | 1)), "{code:?}: {stderr}");
    for b in ["b1", "b2", "b3"] {
        assert!(!statuses(&v, b).is_empty(), "{b} was not scanned");
    }

    // Past --max-decompressed-gib the rest is not read, and the file is refused.
    let out = run_bounded(
        &env,
        &[
            "scan",
            "--snapshot",
            path.to_str().unwrap(),
            "--max-decompressed-gib",
            "1",
        ],
        MEMORY_LIMIT_MIB,
    );
    assert_refused(
        &out,
        &[
            "snapshot.json.gz: cannot read: the content decompresses to more than 1 GiB (--max-decompressed-gib)",
        ],
    );

    // An NDJSON snapshot holds each line to --max-line-mib.
    let ndjson = env.path("long.ndjson");
    let mut f = std::fs::File::create(&ndjson).unwrap();
    writeln!(
        f,
        "{{\"stance_snapshot\":1,\"collected_at\":\"2026-11-20T09:30:00Z\"}}"
    )
    .unwrap();
    writeln!(f, r#"{{"id":"a","resource_type":"aws_s3_bucket","account":"1","region":"us-east-1","body":{{}}}}"#).unwrap();
    f.write_all(&vec![b' '; 20 << 20]).unwrap();
    drop(f);
    let out = run_bounded(
        &env,
        &["scan", "--snapshot", ndjson.to_str().unwrap()],
        MEMORY_LIMIT_MIB,
    );
    assert_refused(
        &out,
        &["long.ndjson: line 3: a line 20 MiB long, the limit is 16 MiB (--max-line-mib)"],
    );
}

// Case 7: walks end, and every file and event counts once.

#[cfg(unix)]
#[test]
fn link_loops_end_and_each_file_is_read_once() {
    use std::os::unix::fs::symlink;
    let env = Env::new();
    let dir = env.path("d");
    std::fs::create_dir(&dir).unwrap();
    // Two failed sign-ins from one address: the brute-force rule wants three.
    let two: String = std::fs::read_to_string(fixture("cloudtrail/bruteforce/part1.ndjson"))
        .unwrap()
        .lines()
        .take(2)
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(dir.join("two.ndjson"), &two).unwrap();
    symlink(".", dir.join("a")).unwrap();
    symlink(".", dir.join("b")).unwrap();
    let rules = fixture("sigma/console-bruteforce.yml");
    let file = dir.join("two.ndjson");
    let file = file.to_str().unwrap();
    for inputs in [
        vec!["-i", dir.to_str().unwrap()],
        vec!["-i", file, "-i", file, "-i", file],
        vec!["-i", dir.to_str().unwrap(), "-i", file],
    ] {
        let env = Env::new();
        let mut args = inputs.clone();
        args.extend(["--rules", &rules, "--no-builtin-rules"]);
        let (code, v, stderr) = detect(&env, &args);
        assert_eq!(code, Some(0), "{inputs:?}: {stderr}");
        assert_eq!(v["run"]["totals"]["files"], 1, "{inputs:?}");
        assert_eq!(v["run"]["totals"]["events"], 2, "{inputs:?}");
        let high = v["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["severity"] == "high")
            .count();
        assert_eq!(high, 0, "{inputs:?}: a brute force out of two sign-ins");
    }
}
