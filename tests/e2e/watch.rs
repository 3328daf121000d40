//! `stance watch`: scans on an interval while policies change under it — a
//! good change is swapped in between scans (every scan whole, by one
//! generation), a broken one is refused and the last good generation keeps
//! running — and detection over a directory that receives log files, each
//! read once, with rules reloaded between runs; the mute file read again
//! before every scan. Waits poll the status file;
//! nothing is asserted on time.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{Env, stderr};

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A policy on buckets that every bucket passes.
fn policy(id: &str) -> String {
    format!(
        "id: {id}\nname: {id}\nseverity: low\nresource_type: aws_s3_bucket\ncheck:\n  expression: asset.name != \"\"\n  message: \"Bucket {{{{asset.name}}}} has no name\"\n"
    )
}

/// A running `stance watch`, killed on drop.
pub struct Watch {
    child: Child,
    status: PathBuf,
}

impl Watch {
    fn start(env: &Env, args: &[&str]) -> Watch {
        Watch::spawn(env.cmd(), &env.path("watch-status.json"), args)
    }

    /// `stance watch ARGS` from `cmd` (environment and directory set), its
    /// status in `status`.
    pub fn spawn(mut cmd: std::process::Command, status: &Path, args: &[&str]) -> Watch {
        let status = status.to_path_buf();
        let child = cmd
            .arg("watch")
            .args(args)
            .arg("--status-file")
            .arg(&status)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start stance watch");
        Watch { child, status }
    }

    pub fn status(&self) -> Value {
        std::fs::read_to_string(&self.status)
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or(Value::Null)
    }

    /// Wait (polling the status file) until `cond` holds; panics with the
    /// status and the process's log if it never does or the process dies.
    pub fn until(&mut self, what: &str, cond: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(300);
        loop {
            let v = self.status();
            if cond(&v) {
                return v;
            }
            if let Ok(Some(code)) = self.child.try_wait() {
                let mut log = String::new();
                if let Some(mut e) = self.child.stderr.take() {
                    let _ = std::io::Read::read_to_string(&mut e, &mut log);
                }
                panic!("stance watch exited ({code}) before {what}: {v:#}\n{log}");
            }
            assert!(Instant::now() < deadline, "never {what}: {v:#}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An NDJSON snapshot of `n` buckets.
fn buckets(path: &Path, n: usize) {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    writeln!(
        f,
        r#"{{"stance_snapshot": 1, "provider": "aws", "collected_at": "2026-11-01T00:00:00Z"}}"#
    )
    .unwrap();
    for i in 0..n {
        writeln!(
            f,
            r#"{{"id": "arn:aws:s3:::bucket-{i}", "resource_type": "aws_s3_bucket", "account": "123456789012", "region": "us-east-1", "name": "bucket-{i}", "body": {{"versioning": {{"status": "Enabled"}}}}}}"#
        )
        .unwrap();
    }
}

#[test]
fn a_changed_policy_is_swapped_in_between_scans_and_a_broken_one_never_replaces_it() {
    let env = Env::new();
    const BUCKETS: usize = 3000;
    let snapshot = env.path("buckets.ndjson");
    buckets(&snapshot, BUCKETS);
    let dir = env.path("policies");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("one.yaml"), policy("acme-one")).unwrap();
    // Small batches on one thread: every scan is hundreds of batches long,
    // so changes land while a scan runs.
    let mut w = Watch::start(
        &env,
        &[
            "--snapshot",
            s(&snapshot),
            "--no-builtin-policies",
            "--policies",
            s(&dir),
            "--interval",
            "0",
            "--batch-size",
            "5",
            "--jobs",
            "1",
            "--debounce-ms",
            "100",
        ],
    );
    w.until("a first scan", |v| v["scans"]["last_scan_id"].is_i64());
    assert_eq!(w.status()["scans"]["failed"], 0);

    // A new policy: generation 2, verified and swapped in the background.
    std::fs::write(dir.join("two.yaml"), policy("acme-two")).unwrap();
    let v = w.until("generation 2 ran a scan", |v| {
        v["generation"]["number"] == 2 && v["scans"]["last_generation"] == 2
    });
    assert_eq!(v["reloads"]["swaps"], 1);
    assert!(v["reloads"]["last_swap"]["latency_ms"].as_f64().unwrap() > 0.0);
    assert_eq!(v["generation"]["plugins"][0]["rules"], 2);

    // A broken file: refused, generation 2 keeps scanning.
    std::fs::write(dir.join("three.yaml"), "id: [broken\n").unwrap();
    let v = w.until("the broken reload was refused", |v| {
        v["reloads"]["failures"] == 1
    });
    let message = v["reloads"]["last_error"]["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(message.contains("three.yaml"), "{message}");
    let after = v["scans"]["count"].as_u64().unwrap();
    let v = w.until("a scan after the refusal", |v| {
        v["scans"]["count"].as_u64() > Some(after + 1)
    });
    assert_eq!(v["generation"]["number"], 2);
    assert_eq!(v["scans"]["last_generation"], 2);
    assert_eq!(v["reloads"]["swaps"], 1);
    assert_eq!(v["scans"]["failed"], 0);
    // Scans run back to back: the swap landed inside one, which finished on
    // generation 1 (the stored scans below show it whole).
    assert!(v["scans"]["swapped_during"].as_u64() >= Some(1), "{v:#}");
    w.stop();

    // Every stored scan is whole and of one generation: each of its rules has
    // exactly one result per bucket, none twice, none missing.
    let (_, scans) = env.json(&["scans", "--format", "json"]);
    let scans = scans.as_array().unwrap();
    let mut by_rules = std::collections::BTreeMap::new();
    for scan in scans {
        let id = scan["id"].as_i64().unwrap().to_string();
        let (_, rows) = env.json(&[
            "findings", "--scan", &id, "--status", "all", "--format", "json",
        ]);
        let mut per_rule: std::collections::BTreeMap<String, std::collections::BTreeSet<String>> =
            Default::default();
        let rows = rows.as_array().unwrap();
        for r in rows {
            let fresh = per_rule
                .entry(r["rule_id"].as_str().unwrap().to_string())
                .or_default()
                .insert(r["resource"]["id"].as_str().unwrap().to_string());
            assert!(fresh, "scan {id}: a bucket evaluated twice by one rule");
        }
        for (rule, assets) in &per_rule {
            assert_eq!(assets.len(), BUCKETS, "scan {id}: rule {rule}");
        }
        let rules: Vec<String> = per_rule.into_keys().collect();
        *by_rules.entry(rules).or_insert(0) += 1;
    }
    let one = vec!["acme-one".to_string()];
    let two = vec!["acme-one".to_string(), "acme-two".to_string()];
    assert!(by_rules.get(&one).is_some_and(|n| *n >= 1), "{by_rules:?}");
    assert!(by_rules.get(&two).is_some_and(|n| *n >= 2), "{by_rules:?}");
    assert_eq!(by_rules.len(), 2, "no other rule set: {by_rules:?}");

    // `watch --status` reads the file the run left.
    let out = env.run(&[
        "watch",
        "--status",
        "--status-file",
        s(&env.path("watch-status.json")),
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        text.contains("not running") && text.contains("generation 2"),
        "{text}"
    );
    assert!(
        text.contains("1 swapped, 1 refused") && text.contains("three.yaml"),
        "{text}"
    );
}

/// A CloudTrail file of one event.
fn trail(id: &str, name: &str) -> String {
    format!(
        r#"{{"Records": [{{"eventVersion": "1.09", "eventID": "{id}", "eventTime": "2026-11-20T10:00:00Z", "eventSource": "cloudtrail.amazonaws.com", "eventName": "{name}", "awsRegion": "us-east-1", "recipientAccountId": "123456789012"}}]}}"#
    )
}

fn sigma(id: &str, event: &str) -> String {
    format!(
        "title: {event} seen\nid: {id}\nstatus: test\nlogsource: {{product: aws, service: cloudtrail}}\ndetection:\n  sel: {{eventName: {event}}}\n  condition: sel\nlevel: high\n"
    )
}

/// Written under a hidden name, then renamed: the watcher never sees half a file.
fn drop_file(dir: &Path, name: &str, text: &str) {
    let tmp = dir.join(format!(".{name}.tmp"));
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(tmp, dir.join(name)).unwrap();
}

#[test]
fn detection_reads_each_new_log_file_once_and_picks_up_new_rules_between_runs() {
    let env = Env::new();
    let logs = env.path("logs");
    let rules = env.path("rules");
    std::fs::create_dir_all(&logs).unwrap();
    std::fs::create_dir_all(&rules).unwrap();
    const STOP: &str = "9a1c9f1e-0000-4000-8000-000000000001";
    const DELETE: &str = "9a1c9f1e-0000-4000-8000-000000000002";
    std::fs::write(rules.join("stop.yml"), sigma(STOP, "StopLogging")).unwrap();
    let mut w = Watch::start(
        &env,
        &[
            "--logs",
            s(&logs),
            "--rules",
            s(&rules),
            "--no-builtin-rules",
            "--debounce-ms",
            "100",
        ],
    );
    w.until("started", |v| v["generation"]["number"] == 1);
    drop_file(&logs, "a.json", &trail("ev-a", "StopLogging"));
    w.until("file a was read", |v| v["detection"]["files"] == 1);
    drop_file(&logs, "b.json", &trail("ev-b", "DeleteTrail"));
    w.until("file b was read", |v| v["detection"]["files"] == 2);

    // A new rule: generation 2, then a file it matches.
    std::fs::write(rules.join("delete.yml"), sigma(DELETE, "DeleteTrail")).unwrap();
    w.until("generation 2", |v| v["generation"]["number"] == 2);
    drop_file(&logs, "c.json", &trail("ev-c", "DeleteTrail"));
    let v = w.until("file c was read", |v| v["detection"]["files"] == 3);
    assert_eq!(v["detection"]["events"], 3, "every file read once: {v:#}");
    assert_eq!(v["detection"]["new_alerts"], 2);
    w.stop();

    let (_, alerts) = env.json(&["alerts", "--format", "json"]);
    let mut got: Vec<(String, String)> = alerts
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["rule_id"].as_str().unwrap().to_string(),
                a["event_ids"][0].as_str().unwrap().to_string(),
            )
        })
        .collect();
    got.sort();
    // ev-b came before the DeleteTrail rule existed: not judged again.
    assert_eq!(
        got,
        [
            (STOP.to_string(), "ev-a".to_string()),
            (DELETE.to_string(), "ev-c".to_string())
        ]
    );
}

#[test]
fn watch_refuses_to_start_without_work_or_with_bad_sources() {
    let env = Env::new();
    let out = env.run(&["watch", "--status-file", s(&env.path("st.json"))]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("nothing to watch"),
        "{}",
        stderr(&out)
    );
    // The first generation must load: a broken policy stops the start.
    let dir = env.path("bad");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("x.yaml"), "id: [broken\n").unwrap();
    let out = env.run(&[
        "watch",
        "--snapshot",
        s(&crate::support::demo()),
        "--policies",
        s(&dir),
        "--status-file",
        s(&env.path("st.json")),
        "--max-scans",
        "1",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("x.yaml"), "{}", stderr(&out));
    let out = env.run(&[
        "watch",
        "--status",
        "--status-file",
        s(&env.path("none.json")),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("cannot read the watch status"),
        "{}",
        stderr(&out)
    );
}

const SCRATCH_MUTE: &str = "\
- id: scratch-versioning
  rules: [aws-s3-bucket-versioning-enabled]
  resources: ['arn:aws:s3:::acme-*-scratch']
  reason: scratch buckets are disposable (RISK-142)
  expires: 2099-12-31
";

#[test]
fn watch_applies_the_mute_file_read_before_each_scan_and_keeps_the_last_good_one() {
    let env = Env::new();
    let mutes = env.path("mutes.yaml");
    std::fs::write(&mutes, "- id: [broken\n").unwrap();
    let demo = crate::support::demo();
    let args = [
        "--snapshot",
        s(&demo),
        "--mutes",
        s(&mutes),
        "--interval",
        "0",
    ];
    // A bad mute file at the start: refused, nothing watched.
    let mut start = env.cmd();
    start
        .arg("watch")
        .args(args)
        .args(["--max-scans", "1", "--status-file"]);
    let out = start.arg(env.path("st.json")).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("mutes.yaml"), "{}", stderr(&out));

    std::fs::write(&mutes, SCRATCH_MUTE).unwrap();
    let mut w = Watch::start(&env, &args);
    let v = w.until("a scan with the mute", |v| {
        v["scans"]["last_scan_id"].is_i64() && v["scans"]["last_muted"] == 1
    });
    assert!(v["scans"]["mutes_error"].is_null(), "{v:#}");

    // A bad edit keeps the last accepted mutes and says why.
    std::fs::write(&mutes, "- id: [broken\n").unwrap();
    let count = v["scans"]["count"].as_u64().unwrap();
    let v = w.until("a scan after the bad edit", |v| {
        v["scans"]["mutes_error"].is_string() && v["scans"]["count"].as_u64() > Some(count + 1)
    });
    assert_eq!(v["scans"]["last_muted"], 1, "the last good mutes: {v:#}");
    assert!(
        v["scans"]["mutes_error"]
            .as_str()
            .unwrap()
            .contains("mutes.yaml"),
        "{v:#}"
    );

    // A good edit is picked up by the next scan: this one mutes nothing.
    std::fs::write(&mutes, "[]\n").unwrap();
    w.until("a scan without mutes", |v| {
        v["scans"]["mutes_error"].is_null() && v["scans"]["last_muted"] == 0
    });
    w.stop();
}
