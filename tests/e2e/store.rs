//! The store across scans and processes: finding lifecycle, a scan killed
//! half-way, and two scans writing at once.

use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{DEMO_FAIL, Env, demo, guest, stderr};

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

fn scan(env: &Env, snapshot: &Value, name: &str) -> Value {
    let path = env.path(name);
    std::fs::write(&path, snapshot.to_string()).unwrap();
    let (code, v) = env.json(&[
        "scan",
        "--snapshot",
        path.to_str().unwrap(),
        "--format",
        "json",
        "-q",
    ]);
    assert_eq!(code, 0);
    v
}

fn lifecycle(v: &Value, state: &str) -> u64 {
    v["scan"]["totals"]["by_lifecycle"][state]
        .as_u64()
        .unwrap_or(0)
}

#[test]
fn findings_are_new_recurring_resolved_and_reopened_across_scans() {
    let env = Env::new();
    let original = demo_json();
    let first = scan(&env, &original, "s1.json");
    assert_eq!(lifecycle(&first, "new"), DEMO_FAIL);

    // Fix one finding, remove an asset with another, break something new.
    let mut second = original.clone();
    asset_mut(&mut second, "acme-eu-analytics-scratch")["body"]["versioning"]["status"] =
        "Enabled".into();
    second["assets"]
        .as_array_mut()
        .unwrap()
        .retain(|a| a["name"] != "carol.diaz");
    asset_mut(&mut second, "acme-prod-app-data")["body"]["logging"]["enabled"] = false.into();
    let v = scan(&env, &second, "s2.json");
    assert_eq!(lifecycle(&v, "new"), 1, "{}", v["scan"]["totals"]);
    assert_eq!(lifecycle(&v, "recurring"), DEMO_FAIL - 2);
    assert_eq!(lifecycle(&v, "resolved"), 2);
    let (_, resolved) = env.json(&[
        "findings",
        "--lifecycle",
        "resolved",
        "--status",
        "all",
        "--format",
        "json",
    ]);
    assert_eq!(resolved[0]["rule_id"], "aws-s3-bucket-versioning-enabled");
    let (_, new) = env.json(&["findings", "--lifecycle", "new", "--format", "json"]);
    assert_eq!(new[0]["rule_id"], "aws-s3-bucket-access-logging");
    assert_eq!(new[0]["resource"]["name"], "acme-prod-app-data");

    // Back to the original: the fixed finding and the vanished user's come back as reopened.
    let v = scan(&env, &original, "s3.json");
    assert_eq!(lifecycle(&v, "reopened"), 2, "{}", v["scan"]["totals"]);
    assert_eq!(lifecycle(&v, "resolved"), 1);
    let (_, reopened) = env.json(&["findings", "--lifecycle", "reopened", "--format", "json"]);
    let first_seen = reopened[0]["first_seen"].as_str().unwrap();
    let (_, scans) = env.json(&["scans", "--format", "json"]);
    let first_scan_time = scans.as_array().unwrap().last().unwrap()["finished_at"]
        .as_str()
        .unwrap();
    assert!(
        first_seen <= first_scan_time,
        "first_seen {first_seen} is the first failure, not the latest"
    );

    // Another scope (another account) starts its own history.
    let mut other = original.clone();
    other["scope"] =
        serde_json::json!({"accounts": ["210987654321"], "regions": ["us-east-1", "eu-west-1"]});
    let v = scan(&env, &other, "s4.json");
    assert_eq!(lifecycle(&v, "new"), DEMO_FAIL);
}

#[test]
fn a_killed_scan_leaves_earlier_scans_intact_and_no_partial_scan() {
    let env = Env::new();
    let demo = demo();
    assert_eq!(
        env.run(&["scan", "--snapshot", demo.to_str().unwrap(), "-q"])
            .status
            .code(),
        Some(0)
    );

    // A scan that takes long: a big snapshot and a plugin that loops on every batch.
    let big = env.path("big.ndjson");
    stance::collect::synthetic::write_ndjson(&big, 20_000).unwrap();
    let manifest = env.manifest(
        "loop",
        &guest("stance-hostile-guest"),
        "timeout_ms = 60000\n[settings]\nmode = \"loop\"",
    );
    let mut child = env
        .cmd()
        .args([
            "scan",
            "-q",
            "--snapshot",
            big.to_str().unwrap(),
            "--plugin",
            manifest.to_str().unwrap(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the scan holds its write transaction (the WAL grows), then kill it.
    let wal = env.db.with_extension("db-wal");
    let start = Instant::now();
    let before = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
    while std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0) <= before + 65536 {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the scan never started writing"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    child.kill().unwrap();
    child.wait().unwrap();

    let (_, scans) = env.json(&["scans", "--format", "json"]);
    assert_eq!(
        scans.as_array().unwrap().len(),
        1,
        "only the complete scan is visible"
    );
    let (_, findings) = env.json(&["findings", "--format", "json"]);
    assert_eq!(findings.as_array().unwrap().len() as u64, DEMO_FAIL);
    let check = rusqlite::Connection::open(&env.db).unwrap();
    let ok: String = check
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(ok, "ok");
    let assets: i64 = check
        .query_row("SELECT count(*) FROM assets", [], |r| r.get(0))
        .unwrap();
    assert_eq!(assets, 112, "nothing of the killed scan was committed");
    drop(check);
    // And the database takes the next scan.
    let (code, v) = env.json(&[
        "scan",
        "--snapshot",
        demo.to_str().unwrap(),
        "--format",
        "json",
        "-q",
    ]);
    assert_eq!(code, 0);
    assert_eq!(v["scan"]["totals"]["by_lifecycle"]["recurring"], DEMO_FAIL);
}

#[test]
fn two_processes_scan_into_one_database_at_once() {
    let env = Env::new();
    let demo = demo();
    let big = env.path("big.ndjson");
    stance::collect::synthetic::write_ndjson(&big, 5_000).unwrap();
    let spawn = |path: &std::path::Path| {
        env.cmd()
            .args([
                "scan",
                "-q",
                "--snapshot",
                path.to_str().unwrap(),
                "--format",
                "csv",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let children = vec![spawn(&big), spawn(&demo), spawn(&big), spawn(&demo)];
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    }
    let (_, scans) = env.json(&["scans", "--format", "json"]);
    let scans = scans.as_array().unwrap();
    assert_eq!(scans.len(), 4);
    let mut assets: Vec<u64> = scans
        .iter()
        .map(|s| s["assets"].as_u64().unwrap())
        .collect();
    assets.sort();
    assert_eq!(assets, [112, 112, 5001, 5001]);
}
