//! `stance diff` and `stance prune` through the binary: three scans of the
//! demo account with changes between them, compared in every format; the
//! comparisons refused; retention by count and by age (scans made in the
//! past with faketime), lifecycle after a prune, and a prune beside a scan
//! and a reader in other processes.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{DEMO_FAIL, Env, demo, stderr};

fn demo_json() -> Value {
    serde_json::from_slice(&std::fs::read(demo()).unwrap()).unwrap()
}

fn asset_mut<'a>(snapshot: &'a mut Value, name: &str) -> &'a mut Value {
    snapshot["assets"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|a| a["name"] == name)
        .unwrap_or_else(|| panic!("no asset {name}"))
}

/// A policy of our own on every bucket's MFA delete, at `severity`.
fn mfa_policy(env: &Env, severity: &str) -> String {
    let path = env.path(&format!("mfa-{severity}.yaml"));
    std::fs::write(
        &path,
        format!(
            "id: acme-bucket-mfa-delete\nname: Buckets require MFA delete\ndescription: test policy\nseverity: {severity}\n\
             resource_type: aws_s3_bucket\ncheck:\n  expression: \"resource.versioning.mfa_delete == 'Enabled'\"\n\
             \x20 message: \"Bucket {{{{asset.name}}}} does not require MFA delete\"\nremediation:\n  guidance: Enable MFA delete.\n"
        ),
    )
    .unwrap();
    path.to_str().unwrap().to_string()
}

/// Scan `snapshot` (written to `name`) with extra `args`; returns the scan id.
fn scan(env: &Env, snapshot: &Value, name: &str, args: &[&str]) -> i64 {
    let path = env.path(name);
    std::fs::write(&path, snapshot.to_string()).unwrap();
    let mut all = vec!["scan", "-q", "--format", "json", "--snapshot"];
    all.push(path.to_str().unwrap());
    all.extend_from_slice(args);
    let (code, v) = env.json(&all);
    assert_eq!(code, 0, "{v}");
    v["scan"]["scan_id"].as_i64().expect("a scan id")
}

/// Three scans: the demo; a bucket fixed, another broken, a user removed;
/// the fix undone, an MFA-delete value changed and our policy's severity lowered.
fn three_scans(env: &Env) -> (i64, i64, i64) {
    let high = mfa_policy(env, "high");
    let medium = mfa_policy(env, "medium");
    let original = demo_json();
    let s1 = scan(env, &original, "s1.json", &["--policies", &high]);
    let mut second = original.clone();
    asset_mut(&mut second, "acme-eu-analytics-scratch")["body"]["versioning"]["status"] =
        "Enabled".into();
    asset_mut(&mut second, "acme-prod-app-data")["body"]["logging"]["enabled"] = false.into();
    second["assets"]
        .as_array_mut()
        .unwrap()
        .retain(|a| a["name"] != "carol.diaz");
    let s2 = scan(env, &second, "s2.json", &["--policies", &high]);
    let mut third = second.clone();
    asset_mut(&mut third, "acme-eu-analytics-scratch")["body"]["versioning"]["status"] =
        "Suspended".into();
    asset_mut(&mut third, "acme-data-exports")["body"]["versioning"]["mfa_delete"] = "Off".into();
    let s3 = scan(env, &third, "s3.json", &["--policies", &medium]);
    (s1, s2, s3)
}

fn entries<'a>(v: &'a Value, key: &str) -> &'a Vec<Value> {
    v[key]
        .as_array()
        .unwrap_or_else(|| panic!("no {key} in {v}"))
}

fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn diff_compares_three_demo_scans_in_every_format() {
    let env = Env::new();
    let (s1, s2, s3) = three_scans(&env);

    // --from/--to, JSON: what the second scan changed.
    let (code, v) = env.json(&[
        "diff",
        "--from",
        &s1.to_string(),
        "--to",
        &s2.to_string(),
        "--format",
        "json",
    ]);
    assert_eq!(code, 0);
    assert_eq!(v["counts"]["new"], 1, "{}", v["counts"]);
    assert_eq!(v["counts"]["fixed"], 2);
    assert_eq!(v["counts"]["reopened"], 0);
    assert_eq!(v["counts"]["still_failing"], DEMO_FAIL + 7 - 2);
    assert_eq!(v["from"]["id"], s1);
    assert_eq!(v["consecutive"], true);
    let new = &entries(&v, "new")[0];
    assert_eq!(new["rule_id"], "aws-s3-bucket-access-logging");
    assert_eq!(new["resource"]["name"], "acme-prod-app-data");
    let mut fixed: Vec<(String, String)> = entries(&v, "fixed")
        .iter()
        .map(|e| {
            (
                e["rule_id"].as_str().unwrap().to_string(),
                e["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    fixed.sort();
    assert_eq!(
        fixed[1],
        ("aws-s3-bucket-versioning-enabled".into(), "passes".into())
    );
    assert_eq!(
        fixed[0].1, "resource-gone",
        "carol.diaz was deleted: {fixed:?}"
    );

    // Default: the latest scan against the one before it.
    let (_, v) = env.json(&["diff", "--format", "json"]);
    assert_eq!(
        (v["from"]["id"].as_i64(), v["to"]["id"].as_i64()),
        (Some(s2), Some(s3))
    );
    assert_eq!(v["counts"]["new"], 0, "{}", v["counts"]);
    assert_eq!(v["counts"]["reopened"], 1);
    assert_eq!(
        entries(&v, "reopened")[0]["rule_id"],
        "aws-s3-bucket-versioning-enabled"
    );
    assert_eq!(v["counts"]["severity_changed"], 7);
    let sev = &entries(&v, "severity_changed")[0];
    assert_eq!(
        (sev["severity"].as_str(), sev["severity_from"].as_str()),
        (Some("medium"), Some("high"))
    );
    let ours = entries(&v, "evidence_changed")
        .iter()
        .find(|e| e["rule_id"] == "acme-bucket-mfa-delete")
        .expect("our policy's evidence changed on acme-data-exports");
    assert_eq!(ours["resource"]["name"], "acme-data-exports");
    assert_eq!(ours["evidence"][0]["actual"], "Off");
    assert_eq!(ours["evidence_from"][0]["actual"], "Disabled");

    // CSV: one row per entry with its change.
    let out = env.run(&["diff", "--format", "csv"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let csv = text(&out);
    assert!(csv.starts_with("change,reason,severity,severity_from,evidence_changed,rule_id,"));
    assert_eq!(csv.lines().count() as u64, 1 + 1 + DEMO_FAIL + 7 - 1);
    assert!(
        csv.lines()
            .any(|l| l.starts_with("reopened,,low,,false,aws-s3-bucket-versioning-enabled,")),
        "{csv}"
    );
    assert!(
        csv.lines()
            .any(|l| l.starts_with("still_failing,,medium,high,true,acme-bucket-mfa-delete,"))
    );

    // Markdown for a pull request, capped.
    let md_file = env.path("diff.md");
    let out = env.run(&[
        "diff",
        "--format",
        "markdown",
        "--limit",
        "3",
        "-o",
        md_file.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let md = std::fs::read_to_string(&md_file).unwrap();
    assert!(
        md.starts_with(&format!("## Stance: scan #{s2} → #{s3}\n")),
        "{md}"
    );
    assert!(
        md.contains("**1 new or reopened failure**, 0 fixed"),
        "{md}"
    );
    assert!(md.contains(
        "| new | reopened | fixed | still failing | severity changed | evidence changed | unknown |\n|---:|---:|---:|---:|---:|---:|---:|\n| 0 | 1 | 0 | 124 |"
    ));
    assert!(md.contains("### Reopened (1)"));
    assert!(md.contains("| low | `aws-s3-bucket-versioning-enabled` | `acme-eu-analytics-scratch` (aws\\_s3\\_bucket, eu-west-1) |"), "{md}");
    assert!(md.contains("### Severity changed (7)"));
    assert!(md.contains(&format!(
        "… and 4 more (`stance diff --from {s2} --to {s3} --format csv` lists every one)"
    )));
    assert!(md.contains(&format!(
        "<details><summary>Still failing ({})</summary>",
        DEMO_FAIL + 7 - 1
    )));
    assert!(!md.contains("### New"), "an empty category has no section");

    // The table, for people.
    let out = env.run(&["diff", "--from", &s1.to_string(), "--to", &s2.to_string()]);
    let table = text(&out);
    assert!(
        table.contains(&format!("Scan #{s1}"))
            && table.contains("New failures (1)")
            && table.contains("Fixed (2)"),
        "{table}"
    );
    assert!(table.contains("resource no longer exists") && table.contains("passes now"));

    // Non-consecutive: from the demo to the last scan, nothing reopened.
    let (_, v) = env.json(&[
        "diff",
        "--from",
        &s1.to_string(),
        "--to",
        &s3.to_string(),
        "--format",
        "json",
    ]);
    assert_eq!(v["consecutive"], false);
    assert_eq!(v["counts"]["reopened"], 0);
    assert_eq!(v["counts"]["new"], 1);
}

#[test]
fn diff_fail_on_counts_only_new_and_reopened_failures() {
    let env = Env::new();
    let (s1, s2, _) = three_scans(&env);
    let code = |args: &[&str]| env.run(args).status.code();
    let (from, to) = (s1.to_string(), s2.to_string());
    // The new access-logging failure is medium.
    let span = ["diff", "--from", &from, "--to", &to, "--fail-on"];
    let with = |sev: &str| {
        let mut a = span.to_vec();
        a.push(sev);
        code(&a)
    };
    assert_eq!(with("medium"), Some(1));
    assert_eq!(
        with("high"),
        Some(0),
        "still-failing high findings do not count"
    );
    // The latest diff: the reopened versioning failure is low.
    assert_eq!(code(&["diff", "--fail-on", "low"]), Some(1));
    assert_eq!(code(&["diff", "--fail-on", "medium"]), Some(0));
}

#[test]
fn diff_lists_a_new_muted_failure_with_its_mute_and_fail_on_leaves_it_out() {
    let mute = "- id: scratch-versioning\n  rules: [aws-s3-bucket-versioning-enabled]\n  \
                resources: ['arn:aws:s3:::acme-*-scratch']\n  reason: disposable (RISK-142)\n  expires: 2099-12-31\n";
    let mut fixed = demo_json();
    asset_mut(&mut fixed, "acme-eu-analytics-scratch")["body"]["versioning"]["status"] =
        "Enabled".into();
    let mut broken = fixed.clone();
    asset_mut(&mut broken, "acme-eu-analytics-scratch")["body"]["versioning"]["status"] =
        "Suspended".into();
    for muted in [false, true] {
        let env = Env::new();
        let file = env.path("mutes.yaml");
        std::fs::write(&file, mute).unwrap();
        scan(&env, &fixed, "s1.json", &[]);
        let args: &[&str] = match muted {
            true => &["--mutes", file.to_str().unwrap()],
            false => &[],
        };
        scan(&env, &broken, "s2.json", args);
        let (code, v) = env.json(&["diff", "--format", "json", "--fail-on", "low"]);
        let new = entries(&v, "new");
        assert_eq!(new.len(), 1, "{v}");
        assert_eq!(new[0]["rule_id"], "aws-s3-bucket-versioning-enabled");
        match muted {
            true => {
                assert_eq!(code, 0, "a muted new failure does not trip --fail-on");
                assert_eq!(new[0]["muted_by"]["id"], "scratch-versioning");
                let table = text(&env.run(&["diff"]));
                // The message column wraps: the mute's id follows "(muted:".
                assert!(table.contains("(muted:"), "{table}");
                assert!(table.contains("scratch-versioning)"), "{table}");
            }
            false => {
                assert_eq!(code, 1, "the same failure unmuted does");
                assert!(new[0].get("muted_by").is_none(), "{v}");
            }
        }
    }
}

fn checksum(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_default()
}

#[test]
fn diff_refuses_other_scopes_unknown_scans_and_a_lone_scan_and_changes_nothing() {
    let env = Env::new();
    let out = env.run(&["diff"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("no scans in"), "{}", stderr(&out));

    let original = demo_json();
    let s1 = scan(&env, &original, "a.json", &[]);
    let out = env.run(&["diff"]);
    assert_eq!(out.status.code(), Some(2));
    let e = stderr(&out);
    assert!(
        e.contains("has only one scan") && e.contains("aws:123456789012:eu-west-1,us-east-1"),
        "{e}"
    );

    let mut other = original.clone();
    other["scope"] = serde_json::json!({"accounts": ["210987654321"], "regions": ["us-east-1"]});
    let o1 = scan(&env, &other, "b.json", &[]);
    let wal = env.db.with_extension("db-wal");
    let before = (checksum(&env.db), checksum(&wal));
    let out = env.run(&["diff", "--from", &s1.to_string(), "--to", &o1.to_string()]);
    assert_eq!(out.status.code(), Some(2));
    let e = stderr(&out);
    assert!(
        e.contains("different scopes")
            && e.contains("aws:123456789012:eu-west-1,us-east-1")
            && e.contains("aws:210987654321:us-east-1"),
        "{e}"
    );
    for args in [["--from", "4242"], ["--to", "4242"]] {
        let out = env.run(&["diff", args[0], args[1]]);
        assert_eq!(out.status.code(), Some(2));
        assert!(
            stderr(&out).contains("no complete scan #4242"),
            "{}",
            stderr(&out)
        );
    }
    assert!(
        text(&env.run(&["diff", "--from", "4242"])).is_empty(),
        "nothing on stdout"
    );
    assert_eq!(
        (checksum(&env.db), checksum(&wal)),
        before,
        "nothing stored changed"
    );
}

fn scan_ids(env: &Env) -> Vec<i64> {
    let (_, scans) = env.json(&["scans", "--format", "json"]);
    let mut ids: Vec<i64> = scans
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_i64().unwrap())
        .collect();
    ids.sort();
    ids
}

fn db_count(env: &Env, sql: &str) -> i64 {
    let conn = rusqlite::Connection::open(&env.db).unwrap();
    conn.query_row(sql, [], |r| r.get(0)).unwrap()
}

#[test]
fn prune_keeps_the_newest_scans_removes_orphans_shrinks_the_file_and_lifecycle_goes_on() {
    let env = Env::new();
    let original = demo_json();
    // The first scan alone has a body of its own (a tag value).
    let mut tagged = original.clone();
    asset_mut(&mut tagged, "acme-prod-app-data")["body"]["marker"] = "only-in-scan-1".into();
    let s1 = scan(&env, &tagged, "s1.json", &[]);
    let mut fixed = original.clone();
    asset_mut(&mut fixed, "acme-eu-analytics-scratch")["body"]["versioning"]["status"] =
        "Enabled".into();
    let ids: Vec<i64> = (2..=5)
        .map(|i| scan(&env, &fixed, &format!("s{i}.json"), &[]))
        .collect();
    let marker = "SELECT count(*) FROM asset_bodies WHERE body LIKE '%only-in-scan-1%'";
    assert_eq!(db_count(&env, marker), 1);

    // A dry run lists what would go and changes nothing.
    let (code, plan) = env.json(&[
        "prune",
        "--keep-scans",
        "2",
        "--dry-run",
        "--format",
        "json",
    ]);
    assert_eq!(code, 0);
    let planned: Vec<i64> = entries(&plan, "scans")
        .iter()
        .map(|s| s["id"].as_i64().unwrap())
        .collect();
    assert_eq!(planned, [s1, ids[0], ids[1]]);
    assert_eq!(scan_ids(&env).len(), 5);

    let (code, report) = env.json(&["prune", "--keep-scans", "2", "--format", "json", "-q"]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(scan_ids(&env), [ids[2], ids[3]]);
    assert_eq!(
        db_count(&env, marker),
        0,
        "the pruned scan's own body is gone"
    );
    assert_eq!(
        db_count(
            &env,
            "SELECT count(*) FROM asset_bodies WHERE hash NOT IN (SELECT body_hash FROM assets)"
        ),
        0
    );
    assert_eq!(
        db_count(
            &env,
            &format!("SELECT count(*) FROM findings WHERE scan_id <= {}", ids[1])
        ),
        0
    );
    let (before, after) = (
        report["bytes_before"].as_u64().unwrap(),
        report["bytes_after"].as_u64().unwrap(),
    );
    assert!(after < before, "{before} → {after}");
    let on_disk = std::fs::metadata(&env.db).unwrap().len()
        + std::fs::metadata(env.db.with_extension("db-wal"))
            .map(|m| m.len())
            .unwrap_or(0);
    assert_eq!(on_disk, after);

    // The scratch bucket's versioning failure, fixed since scan 2, comes
    // back: reopened, first seen in the pruned first scan.
    let (_, scans) = env.json(&["scans", "--format", "json", "--limit", "100"]);
    let s6 = scan(&env, &original, "s6.json", &[]);
    let (_, reopened) = env.json(&[
        "findings",
        "--scan",
        &s6.to_string(),
        "--lifecycle",
        "reopened",
        "--format",
        "json",
    ]);
    let reopened = reopened.as_array().unwrap();
    assert_eq!(reopened.len(), 1, "{reopened:?}");
    assert_eq!(reopened[0]["rule_id"], "aws-s3-bucket-versioning-enabled");
    let first = reopened[0]["first_seen"].as_str().unwrap();
    let oldest_kept = scans
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["finished_at"].as_str().unwrap())
        .min()
        .unwrap();
    assert!(
        first <= oldest_kept,
        "first_seen {first} predates the scans kept"
    );
    let (_, v) = env.json(&["diff", "--format", "json"]);
    assert_eq!(v["counts"]["reopened"], 1);
    assert_eq!(v["counts"]["new"], 0);
}

/// `stance ARGS` with the clock of `faketime` at `when`.
fn at(env: &Env, when: &str, args: &[&str]) -> Output {
    let inner = env.cmd();
    let mut c = Command::new("faketime");
    c.args(["-m", "--exclude-monotonic", when])
        .arg(inner.get_program())
        .args(args);
    for (k, v) in inner.get_envs() {
        match v {
            Some(v) => c.env(k, v),
            None => c.env_remove(k),
        };
    }
    c.current_dir(crate::support::root());
    c.output().expect("run faketime (libfaketime)")
}

#[test]
fn prune_older_than_drops_old_scans_and_detection_runs_but_never_a_scopes_newest() {
    let env = Env::new();
    let demo = demo();
    let demo = demo.to_str().unwrap();
    let trail = crate::support::root().join("tests/fixtures/cloudtrail/bruteforce");
    for when in ["2026-01-05 10:00:00", "2026-02-05 10:00:00"] {
        let out = at(&env, when, &["scan", "-q", "--snapshot", demo]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let out = at(
            &env,
            when,
            &["detect", "-q", "--input", trail.to_str().unwrap()],
        );
        assert!(matches!(out.status.code(), Some(0 | 1)), "{}", stderr(&out));
    }
    let (_, scans) = env.json(&["scans", "--format", "json"]);
    assert!(
        scans[0]["finished_at"]
            .as_str()
            .unwrap()
            .starts_with("2026-02-05"),
        "faketime took: {scans}"
    );
    let mut other = demo_json();
    other["scope"] = serde_json::json!({"accounts": ["210987654321"], "regions": ["us-east-1"]});
    let path = env.path("other.json");
    std::fs::write(&path, other.to_string()).unwrap();
    let out = at(
        &env,
        "2026-01-10 10:00:00",
        &["scan", "-q", "--snapshot", path.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let fresh = env.run(&["scan", "-q", "--snapshot", demo]);
    assert_eq!(fresh.status.code(), Some(0));
    let before = scan_ids(&env);
    assert_eq!(before.len(), 4);
    let runs = db_count(&env, "SELECT count(*) FROM detection_runs");
    assert_eq!(runs, 2);

    let (code, report) = env.json(&["prune", "--older-than", "90d", "--format", "json", "-q"]);
    assert_eq!(code, 0, "{report}");
    // The demo scope keeps only today's scan; the other scope's only scan stays though it is old.
    assert_eq!(scan_ids(&env), [before[2], before[3]]);
    assert_eq!(entries(&report, "runs").len(), 2);
    assert_eq!(db_count(&env, "SELECT count(*) FROM detection_runs"), 0);
    assert_eq!(db_count(&env, "SELECT count(*) FROM alerts"), 0);

    let out = env.run(&["prune", "--older-than", "ninety days"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("--older-than: \"ninety days\" is not an age"),
        "{}",
        stderr(&out)
    );
    let out = env.run(&["prune"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--keep-scans N"), "{}", stderr(&out));
    let out = env.run(&["prune", "--keep-scans", "0"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(scan_ids(&env).len(), 2, "refusals change nothing");
}

#[test]
fn prune_runs_beside_a_scan_and_a_reader_in_other_processes() {
    let env = Env::new();
    let demo = demo();
    for _ in 0..3 {
        let out = env.run(&["scan", "-q", "--snapshot", demo.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(0));
    }
    let big = env.path("big.ndjson");
    stance::collect::synthetic::write_ndjson(&big, 20_000).unwrap();
    let wal = env.db.with_extension("db-wal");
    let wal_before = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
    let scan = env
        .cmd()
        .args([
            "scan",
            "-q",
            "--format",
            "csv",
            "--snapshot",
            big.to_str().unwrap(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Prune once the scan holds its write transaction (the WAL grows).
    let start = Instant::now();
    while std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0) <= wal_before + 65536 {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "the scan never started writing"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // And a reader in the middle of a read transaction all along.
    let reader = rusqlite::Connection::open(&env.db).unwrap();
    reader.execute_batch("BEGIN").unwrap();
    let seen: i64 = reader
        .query_row("SELECT count(*) FROM scans", [], |r| r.get(0))
        .unwrap();
    let prune = env.run(&["prune", "--keep-scans", "1", "--format", "json"]);
    let scanned = scan.wait_with_output().unwrap();
    assert_eq!(scanned.status.code(), Some(0), "{}", stderr(&scanned));
    assert_eq!(prune.status.code(), Some(0), "{}", stderr(&prune));
    let report: Value = serde_json::from_slice(&prune.stdout).unwrap();
    assert_eq!(report["vacuum"], "full");
    assert_eq!(report["wal_truncated"], false, "the reader holds the log");
    let still: i64 = reader
        .query_row("SELECT count(*) FROM scans", [], |r| r.get(0))
        .unwrap();
    assert_eq!(still, seen, "the reader's snapshot is intact");
    reader.execute_batch("COMMIT").unwrap();
    drop(reader);

    // The big scan is complete and whole; the demo scope keeps its newest scan.
    let (_, scans) = env.json(&["scans", "--format", "json"]);
    let big_scan = scans
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["assets"] == 20_001)
        .unwrap_or_else(|| panic!("the big scan is there: {scans}"));
    let id = big_scan["id"].as_i64().unwrap();
    let stored = db_count(
        &env,
        &format!("SELECT count(*) FROM findings WHERE scan_id = {id}"),
    );
    assert_eq!(
        stored as u64,
        big_scan["summary"]["findings"].as_u64().unwrap()
    );
    let demo_scans = scans
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["assets"] == 112)
        .count();
    assert_eq!(demo_scans, 1);
    let conn = rusqlite::Connection::open(&env.db).unwrap();
    let ok: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(ok, "ok");
}
