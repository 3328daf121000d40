//! Hostile plugins, built from `tests/guests/hostile` in this run: each
//! misbehaviour fails only its own batch (bisected down to the asset it
//! happens on, when it happens on one), is recorded with its cause, turns
//! every affected (rule, asset) into `error` (never `pass`), leaves the other
//! plugin's findings intact, and makes the scan exit 2.

use std::io::Read;
use std::net::TcpListener;
use std::time::Duration;

use serde_json::Value;

use crate::support::{DEMO_FAIL, DEMO_PASS, Env, count, demo, guest, stderr};

/// Findings of the hostile plugin's two rules on the demo: 112 assets (the derived account context among them) + 8 buckets.
const HOSTILE_RESULTS: u64 = 120;

struct Run {
    code: i32,
    report: Value,
    text: String,
}

fn scan_with(env: &Env, settings: &str, extra: &[&str]) -> Run {
    let manifest = env.manifest(
        "hostile",
        &guest("stance-hostile-guest"),
        &format!("timeout_ms = 1000\n[settings]\n{settings}"),
    );
    let demo = demo();
    let mut args = vec![
        "scan",
        "--snapshot",
        demo.to_str().unwrap(),
        "--plugin",
        manifest.to_str().unwrap(),
        "--format",
        "json",
        "-q",
    ];
    args.extend_from_slice(extra);
    let out = env
        .cmd()
        .args(&args)
        .env("STANCE_TEST_SECRET", "hunter2-do-not-leak")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let report =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("no JSON ({e}): {}", stderr(&out)));
    Run {
        code: out.status.code().unwrap_or(-1),
        report,
        text,
    }
}

fn assert_contained(run: &Run, kind: &str, cause: &str) {
    assert_eq!(run.code, 2, "exit code");
    let failures = run.report["scan"]["failures"].as_array().unwrap();
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert_eq!(failures[0]["plugin"], "hostile");
    assert_eq!(failures[0]["kind"], kind, "{failures:?}");
    assert!(
        failures[0]["cause"].as_str().unwrap().contains(cause),
        "{failures:?}"
    );
    // Every (rule, asset) of the failed batch is an error, none a pass.
    let hostile: Vec<&Value> = run.report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["plugin"] == "hostile")
        .collect();
    assert_eq!(hostile.len() as u64, HOSTILE_RESULTS);
    assert!(hostile.iter().all(|f| f["status"] == "error"));
    assert!(
        hostile
            .iter()
            .all(|f| f["message"].as_str().unwrap().contains(cause))
    );
    // The YAML engine's results are intact.
    assert_eq!(count(&run.report, "error"), HOSTILE_RESULTS);
    assert_eq!(count(&run.report, "fail"), DEMO_FAIL);
    assert_eq!(count(&run.report, "pass"), DEMO_PASS);
    for secret in ["LEAKED", "hunter2", "root:x:0:0"] {
        assert!(!run.text.contains(secret), "output contains {secret}");
    }
}

#[test]
fn an_infinite_loop_stops_at_the_deadline() {
    let env = Env::new();
    assert_contained(
        &scan_with(&env, "mode = \"loop\"", &[]),
        "timeout",
        "timed out after 1000 ms",
    );
}

#[test]
fn a_one_gib_allocation_hits_the_memory_cap() {
    let env = Env::new();
    assert_contained(
        &scan_with(&env, "mode = \"alloc\"", &[]),
        "memory-limit",
        "memory limit of 256 MiB",
    );
    let env = Env::new();
    assert_contained(
        &scan_with(&env, "mode = \"alloc\"", &["--memory-mib", "64"]),
        "memory-limit",
        "memory limit of 64 MiB",
    );
}

#[test]
fn unbounded_recursion_traps() {
    let env = Env::new();
    let run = scan_with(&env, "mode = \"recurse\"", &[]);
    let kind = run.report["scan"]["failures"][0]["kind"]
        .as_str()
        .unwrap_or("")
        .to_string();
    assert!(kind == "stack-overflow" || kind == "trap", "{kind}");
    let cause = run.report["scan"]["failures"][0]["cause"]
        .as_str()
        .unwrap_or("")
        .to_string();
    assert_contained(
        &run,
        &kind,
        if kind == "trap" {
            "out of bounds"
        } else {
            "stack"
        },
    );
    assert!(!cause.is_empty());
}

#[test]
fn a_panic_is_reported_with_its_message() {
    let env = Env::new();
    assert_contained(
        &scan_with(&env, "mode = \"panic\"", &[]),
        "panic",
        "hostile plugin panicked on purpose",
    );
}

#[test]
fn the_filesystem_is_invisible() {
    let env = Env::new();
    assert_contained(
        &scan_with(&env, "mode = \"read-file\"", &[]),
        "plugin-error",
        "cannot read /etc/passwd",
    );
}

#[test]
fn the_environment_is_invisible() {
    let env = Env::new();
    assert_contained(
        &scan_with(&env, "mode = \"env\"", &[]),
        "plugin-error",
        "no environment variables are visible",
    );
}

#[test]
fn sockets_are_refused() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    let env = Env::new();
    let run = scan_with(&env, &format!("mode = \"socket\"\naddr = \"{addr}\""), &[]);
    assert_contained(&run, "plugin-error", &format!("cannot connect to {addr}"));
    std::thread::sleep(Duration::from_millis(100));
    match listener.accept() {
        Ok((mut s, _)) => {
            let mut buf = String::new();
            let _ = s.read_to_string(&mut buf);
            panic!("the plugin reached the listener: {buf:?}");
        }
        Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::WouldBlock),
    }
}

#[test]
fn a_hundred_megabytes_of_output_is_refused() {
    let env = Env::new();
    assert_contained(
        &scan_with(&env, "mode = \"big-output\"", &[]),
        "output-too-large",
        "over the output limit",
    );
}

#[test]
fn invalid_records_are_refused() {
    for (kind, cause) in [
        ("unknown-rule", "is not one the plugin declares"),
        ("unknown-asset", "is not in the batch"),
        ("bad-evidence", "not JSON"),
        ("duplicate", "a second result"),
        ("wrong-type", "does not declare resource type"),
    ] {
        let env = Env::new();
        let run = scan_with(
            &env,
            &format!("mode = \"invalid\"\ninvalid = \"{kind}\""),
            &[],
        );
        assert_contained(&run, "invalid-output", cause);
    }
}

#[test]
fn one_bad_batch_spoils_nothing_else() {
    let env = Env::new();
    // Batches of 10: the panic happens only in the batch holding this bucket.
    let target = "arn:aws:s3:::acme-web-static-assets";
    let run = scan_with(
        &env,
        &format!("mode = \"panic\"\ntrigger_asset = \"{target}\""),
        &["--batch-size", "10"],
    );
    assert_eq!(run.code, 2);
    // The failed batch is bisected down to the bucket that triggers the
    // panic: it alone is `error` (its two rules), its nine neighbours pass.
    let failures = run.report["scan"]["failures"].as_array().unwrap();
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert_eq!(failures[0]["assets"], 1);
    assert!(
        failures[0]["cause"]
            .as_str()
            .unwrap()
            .contains(&format!("(alone, on {target})")),
        "{failures:?}"
    );
    let hostile: Vec<&Value> = run.report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["plugin"] == "hostile")
        .collect();
    assert!(
        hostile
            .iter()
            .all(|f| f["resource"]["id"] == target && f["status"] == "error")
    );
    let errors = hostile.len() as u64;
    assert_eq!(errors, 2);
    // Every other batch of the hostile plugin passed honestly.
    assert_eq!(count(&run.report, "error"), errors);
    assert_eq!(
        count(&run.report, "pass"),
        DEMO_PASS + HOSTILE_RESULTS - errors
    );
}

#[test]
fn a_plugin_that_panics_in_describe_is_refused_before_the_scan() {
    let env = Env::new();
    let manifest = env.manifest(
        "hostile",
        &guest("stance-hostile-guest"),
        "[settings]\nmode = \"describe-panic\"",
    );
    let demo = demo();
    let out = env.run(&[
        "scan",
        "--snapshot",
        demo.to_str().unwrap(),
        "--plugin",
        manifest.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("describe panicked: hostile plugin panics in describe"),
        "{err}"
    );
    // Nothing was stored.
    let (_, scans) = env.json(&["scans", "--format", "json"]);
    assert_eq!(scans.as_array().unwrap().len(), 0);
}
