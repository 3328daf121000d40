//! Hostile inputs: host (see the module doc of `hostile`). What reaches the
//! terminal, the database file `--db` names, the component cache, numeric
//! limits, and the files reports write. Issue 12, cases 8, 12, 13 and 14,
//! and three found by reading: links in HTML reports (unit tests in
//! `report::html`), formulas in CSV, and the memory of a large JSON output.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{Value, json};

use super::*;
use crate::support::{DEMO_FAIL, DEMO_PASS, count, demo};

/// SHA-256 of a file, to prove it was left untouched.
fn checksum(path: &Path) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(std::fs::read(path).unwrap()))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A root console sign-in with terminal control sequences in the fields an
/// alert shows: its id, region, account, source address and user.
fn hostile_login(i: usize) -> Value {
    json!({
        "eventVersion": "1.09",
        "userIdentity": {"type": "Root", "arn": "arn:aws:iam::111122223333:root\u{1b}]0;owned\u{7}", "accountId": "111122223333"},
        "eventTime": format!("2024-05-01T10:{i:02}:00Z"),
        "eventSource": "signin.amazonaws.com",
        "eventName": "ConsoleLogin",
        "awsRegion": "us-east-1\u{1b}[2J\u{1b}[H",
        "sourceIPAddress": "203.0.113.9\u{9b}31m",
        "responseElements": {"ConsoleLogin": "Success"},
        "additionalEventData": {"MFAUsed": "Yes"},
        "eventID": format!("ev-{i}\u{1b}[8m"),
        "eventType": "AwsConsoleSignIn",
        "recipientAccountId": "111122223333\r"
    })
}

/// No raw ESC, BEL, CR or C1 CSI in `out`.
fn assert_no_raw_controls(what: &str, out: &str) {
    for c in ['\u{1b}', '\u{7}', '\r', '\u{9b}'] {
        assert!(
            !out.contains(c),
            "{what} prints {c:?} raw to the terminal:\n{out:?}"
        );
    }
}

#[test]
fn control_sequences_in_log_fields_never_reach_the_terminal_raw() {
    let env = Env::new();
    let log = env.path("hostile.ndjson");
    let lines: Vec<String> = (1..=2).map(|i| hostile_login(i).to_string()).collect();
    std::fs::write(&log, lines.join("\n") + "\n").unwrap();
    let out = run_bounded(
        &env,
        &["detect", "-i", log.to_str().unwrap()],
        MEMORY_LIMIT_MIB,
    );
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(
        stdout.contains("\\u{1b}"),
        "the alerts table shows the escapes: {stdout}\n{stderr}"
    );
    assert_no_raw_controls("detect (table)", &stdout);
    assert_no_raw_controls("detect (summary)", &stderr);
    for args in [
        &["alerts"][..],
        &["alerts", "--include-duplicates"][..],
        &["alerts", "--format", "json"][..],
        &["alerts", "--format", "csv"][..],
    ] {
        let out = env.run(args);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert_no_raw_controls(&format!("{args:?}"), &text(&out.stdout));
    }
    // An error message quoting what the user gave: escaped too.
    let out = env.run(&[
        "findings",
        "--db",
        "/nonexistent/\u{1b}[2J/stance.db",
        "--scan",
        "7",
    ]);
    assert_refused(&out, &["no complete scan #7", "\\u{1b}[2J"]);
    assert_no_raw_controls("an error", &text(&out.stderr));
}

/// Another application's SQLite file: its table, its user_version,
/// application id 0, rollback journal.
fn foreign_db(path: &Path, user_version: i64) {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.execute_batch(&format!(
        "PRAGMA user_version = {user_version};
         CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT);
         INSERT INTO notes (body) VALUES ('my notes, not Stance''s');"
    ))
    .unwrap();
}

#[test]
fn a_foreign_database_is_refused_before_anything_in_it_changes() {
    let env = Env::new();
    let demo = demo();
    for user_version in [0, 1, 3] {
        let db = env.path(&format!("notes-{user_version}.db"));
        foreign_db(&db, user_version);
        let before = checksum(&db);
        let db_arg = db.to_str().unwrap();
        for args in [
            &["scans"][..],
            &["findings"][..],
            &["alerts"][..],
            &["scan", "--snapshot", demo.to_str().unwrap()][..],
        ] {
            let mut all = vec!["--db", db_arg];
            all.extend_from_slice(args);
            let out = env.run(&all);
            assert_refused(&out, &["not a Stance database", "left untouched"]);
            let stderr = text(&out.stderr);
            assert_eq!(
                stderr.matches("not a Stance database").count(),
                1,
                "said once: {stderr}"
            );
            assert!(!stderr.contains("CREATE TABLE"), "no SQL: {stderr}");
            assert_eq!(checksum(&db), before, "{args:?} changed {}", db.display());
            assert!(
                !Path::new(&format!("{db_arg}-wal")).exists(),
                "{args:?} switched it to WAL"
            );
        }
    }
}

/// Run `stance ARGS` unable to write what its owner (root included) cannot:
/// as root, without the capabilities that bypass file permissions.
fn run_without_override(env: &Env, args: &[&str]) -> Output {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"));
    let cmd = env.cmd();
    if !root {
        let mut cmd = cmd;
        return cmd.args(args).output().unwrap();
    }
    let mut wrapped = Command::new("setpriv");
    wrapped
        .args(["--bounding-set=-all", "--inh-caps=-all", "--"])
        .arg(cmd.get_program())
        .args(args);
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => wrapped.env(k, v),
            None => wrapped.env_remove(k),
        };
    }
    if let Some(dir) = cmd.get_current_dir() {
        wrapped.current_dir(dir);
    }
    wrapped.output().unwrap()
}

/// Sets a directory and a file read-only, and back on drop.
struct ReadOnly(PathBuf, PathBuf);

impl ReadOnly {
    fn new(dir: PathBuf, file: PathBuf) -> ReadOnly {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o444)).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o555)).unwrap();
        ReadOnly(dir, file)
    }
}

impl Drop for ReadOnly {
    fn drop(&mut self) {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&self.0, std::fs::Permissions::from_mode(0o755));
        let _ = std::fs::set_permissions(&self.1, std::fs::Permissions::from_mode(0o644));
    }
}

#[test]
fn query_commands_read_a_read_only_database() {
    let env = Env::new();
    let dir = env.path("ro");
    std::fs::create_dir(&dir).unwrap();
    let db = dir.join("stance.db");
    let db_arg = db.to_str().unwrap().to_string();
    let demo = demo();
    let out = env.run(&[
        "--db",
        &db_arg,
        "scan",
        "--snapshot",
        demo.to_str().unwrap(),
        "-q",
    ]);
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{}",
        text(&out.stderr)
    );
    let before = checksum(&db);
    let _guard = ReadOnly::new(dir.clone(), db.clone());
    // The setup holds: a write is refused.
    let write = [
        "--db", &db_arg, "alerts", "suppress", "--rule", "r", "--until", "1d", "--reason", "test",
    ];
    let out = run_without_override(&env, &write);
    assert_eq!(out.status.code(), Some(2), "the database is not read-only");
    for args in [
        &["scans"][..],
        &["findings"][..],
        &["findings", "--format", "json"][..],
        &["assets"][..],
        &["report", "--framework", "cis-aws-v5", "--format", "json"][..],
        &["alerts"][..],
        &["alerts", "suppressions"][..],
    ] {
        let mut all = vec!["--db", db_arg.as_str()];
        all.extend_from_slice(args);
        let out = run_without_override(&env, &all);
        let stderr = text(&out.stderr);
        assert!(
            matches!(out.status.code(), Some(0 | 1)),
            "{args:?} on a read-only database: {:?}\n{stderr}",
            out.status
        );
        assert!(!stderr.contains("readonly"), "{args:?}: {stderr}");
    }
    assert_eq!(checksum(&db), before, "reading changed the database");
}

/// The files of a directory.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn a_precompiled_component_copied_over_another_is_refused_and_recompiled() {
    let env = Env::new();
    let cache = env.path("cache");
    let key = env.path("home/cache.key");
    let stance = |args: &[&str]| {
        let mut c = env.cmd();
        c.env("STANCE_CACHE_DIR", &cache)
            .env("STANCE_CACHE_KEY", &key)
            .args(args);
        c.output().unwrap()
    };
    let demo = demo();
    let scan = [
        "scan",
        "--snapshot",
        demo.to_str().unwrap(),
        "--format",
        "json",
    ];
    let out = stance(&scan);
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{}",
        text(&out.stderr)
    );
    let components = cache.join("components");
    let policy_engine = files(&components);
    assert_eq!(policy_engine.len(), 1, "{policy_engine:?}");
    // The detector engine's entry.
    let log = env.path("logins.ndjson");
    std::fs::write(&log, json!({"eventID": "e1", "eventTime": "2024-05-01T10:00:00Z", "eventSource": "s3.amazonaws.com", "eventName": "ListBuckets"}).to_string() + "\n").unwrap();
    let out = stance(&["detect", "-i", log.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let detector: Vec<PathBuf> = files(&components)
        .into_iter()
        .filter(|p| !policy_engine.contains(p))
        .collect();
    assert_eq!(detector.len(), 1, "{detector:?}");
    // Private: the directory, the entries, the key (outside the cache).
    assert_eq!(mode(&components), 0o700);
    assert_eq!(mode(&policy_engine[0]), 0o600);
    assert_eq!(mode(&key), 0o600);
    assert!(!key.starts_with(&cache));

    // One component's native code copied over another's.
    std::fs::copy(&detector[0], &policy_engine[0]).unwrap();
    let out = stance(&scan);
    let stderr = text(&out.stderr);
    assert!(matches!(out.status.code(), Some(0 | 1)), "{stderr}");
    assert!(
        stderr.contains("refusing a precompiled component"),
        "the swap is reported: {stderr}"
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(count(&v, "pass"), DEMO_PASS, "the right engine ran");
    assert_eq!(count(&v, "fail"), DEMO_FAIL);
    assert_eq!(
        v["scan"]["plugins"][0]["cache"], "miss",
        "compiled again: {v:#}"
    );
    // The entry was replaced: the next scan loads it, silently.
    let out = stance(&scan);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["scan"]["plugins"][0]["cache"], "hit", "{v:#}");
    assert!(!text(&out.stderr).contains("refusing"));

    // An entry written without the key (here: under another installation's).
    let other_key = env.path("other.key");
    let mut c = env.cmd();
    c.env("STANCE_CACHE_DIR", env.path("other-cache"))
        .env("STANCE_CACHE_KEY", &other_key)
        .args(scan);
    assert!(matches!(c.output().unwrap().status.code(), Some(0 | 1)));
    let forged = files(&env.path("other-cache/components"));
    std::fs::copy(&forged[0], &policy_engine[0]).unwrap();
    let out = stance(&scan);
    assert!(text(&out.stderr).contains("refusing a precompiled component"));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(count(&v, "pass"), DEMO_PASS);
}

#[test]
fn numeric_limits_out_of_range_are_refused_by_name_never_wrapped() {
    let env = Env::new();
    let demo = demo();
    let snapshot = demo.to_str().unwrap();
    // 2^44 MiB is 2^64 bytes: it wrapped to "0 MiB", one more to "1 MiB".
    for (flag, value) in [
        ("--memory-mib", "17592186044416"),
        ("--memory-mib", "17592186044417"),
        ("--memory-mib", "4097"),
        ("--timeout-ms", "18446744073709551615"),
        ("--timeout-ms", "0"),
        ("--max-output-mib", "17592186044416"),
    ] {
        let out = env.run(&["scan", "--snapshot", snapshot, flag, value]);
        assert_refused(&out, &[flag, value]);
        let out = env.run(&["detect", "-i", snapshot, flag, value]);
        assert_refused(&out, &[flag, value]);
    }
    // A float interval past u64 seconds once panicked in Duration::from_secs_f64.
    let out = env.run(&["watch", "--snapshot", snapshot, "--interval", "1e300"]);
    assert_refused(&out, &["--interval", "one week"]);
    // The same limits in a plugin manifest.
    for (field, value) in [
        ("memory_mib", "17592186044417"),
        ("timeout_ms", "18446744073709551615"),
        ("max_output_mib", "0"),
    ] {
        let manifest = env.path(&format!("{field}.toml"));
        std::fs::write(
            &manifest,
            format!("path = \"none.wasm\"\n{field} = {value}\n"),
        )
        .unwrap();
        let out = env.run(&[
            "scan",
            "--snapshot",
            snapshot,
            "--plugin",
            manifest.to_str().unwrap(),
        ]);
        assert_refused(
            &out,
            &[&format!("{field} = {value} is out of range"), "between"],
        );
    }
    let out = env.run(&["scans", "--limit", "18446744073709551616"]);
    assert_refused(&out, &["--limit"]);
    // 2^54 KiB of detector state wrapped to 0 bytes.
    let out = env.run(&["detect", "-i", snapshot, "--state-kib", "18014398509481984"]);
    assert_refused(&out, &["--state-kib", "18014398509481984"]);
}

#[test]
fn csv_cells_that_start_like_formulas_are_defused() {
    let env = Env::new();
    let mut snapshot: Value =
        serde_json::from_str(&std::fs::read_to_string(demo()).unwrap()).unwrap();
    // Buckets named like formulas: names and ids are the collected account's.
    for (i, a) in snapshot["assets"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .filter(|a| a["resource_type"] == "aws_s3_bucket")
        .enumerate()
    {
        a["id"] = format!("=HYPERLINK(\"http://evil.example/{i}\",\"x\")").into();
        a["name"] = format!("@SUM(1+{i})").into();
    }
    let path = env.path("formulas.json");
    std::fs::write(&path, snapshot.to_string()).unwrap();
    let out = env.run(&[
        "scan",
        "--snapshot",
        path.to_str().unwrap(),
        "-q",
        "--format",
        "csv",
    ]);
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{}",
        text(&out.stderr)
    );
    let csv_out = text(&out.stdout);
    assert!(csv_out.contains("'=HYPERLINK("), "{csv_out}");
    for args in [
        &["findings", "--format", "csv"][..],
        &["assets", "--format", "csv"][..],
        &["report", "--framework", "cis-aws-v5", "--format", "csv"][..],
    ] {
        let out = env.run(args);
        let body = text(&out.stdout);
        let mut reader = csv::ReaderBuilder::new().from_reader(body.as_bytes());
        let mut seen = false;
        for record in reader.records() {
            for cell in record.unwrap().iter() {
                assert!(
                    !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                    "{args:?}: a cell a spreadsheet would run: {cell:?}"
                );
                seen |= cell.contains("HYPERLINK") || cell.contains("@SUM");
            }
        }
        assert!(seen, "{args:?} lists the hostile names: {body}");
    }
}

/// The memory `stance findings --format json -o` may use for 200,000
/// findings: streaming needs a few MiB; holding them all (the defect) needs
/// several hundred.
const OUTPUT_MEMORY_MIB: u64 = 256;

/// A database with one scan of `n` failing findings, written through the
/// store (seconds, not the minutes a scan of as many assets takes). Each of
/// the 20 rules carries 1 KiB of remediation, stored once per rule and
/// repeated in every finding that is listed, as in a real scan.
fn fill(db: &Path, n: usize) {
    use stance::model::{ComplianceRef, Finding, Remediation, Rule, Severity, Status, fingerprint};
    use stance::store::{ScanMeta, Store};
    let mut store = Store::open(db).unwrap();
    let mut w = store
        .begin_scan(ScanMeta {
            started_at: "2026-12-01T00:00:00Z".into(),
            source: "test:fill".into(),
            provider: "aws".into(),
            scope: "aws:111111111111:eu-west-1".into(),
        })
        .unwrap();
    let rules: Vec<Rule> = (0..20)
        .map(|r| Rule {
            id: format!("rule-{r}"),
            title: format!("rule {r}"),
            description: String::new(),
            severity: Severity::High,
            resource_types: vec!["aws_s3_bucket".into()],
            compliance: vec![ComplianceRef {
                framework: "cis-aws".into(),
                version: "5.0.0".into(),
                control: format!("2.1.{r}"),
            }],
            remediation: Remediation {
                guidance: "Turn it on. ".repeat(85),
                ..Remediation::default()
            },
            tags: Vec::new(),
            reads: Vec::new(),
        })
        .collect();
    w.add_rules("p", "1", "digest", &rules).unwrap();
    let mut batch = Vec::with_capacity(10_000);
    for i in 0..n {
        let rule = format!("rule-{}", i % 20);
        let asset = format!("arn:aws:s3:::bucket-{i}");
        batch.push(Finding {
            fingerprint: fingerprint(&rule, &asset),
            rule_id: rule,
            plugin: "p".into(),
            plugin_version: "1".into(),
            asset_id: asset,
            resource_type: "aws_s3_bucket".into(),
            account: "111111111111".into(),
            region: "eu-west-1".into(),
            severity: Severity::High,
            status: Status::Fail,
            message: "versioning is off".into(),
            evidence: Vec::new(),
        });
        if batch.len() == batch.capacity() {
            w.add_findings(&batch).unwrap();
            batch.clear();
        }
    }
    w.add_findings(&batch).unwrap();
    w.commit("2026-12-01T00:10:00Z").unwrap();
}

#[test]
fn a_large_json_output_streams_in_bounded_memory() {
    const N: usize = 200_000;
    let env = Env::new();
    fill(&env.db, N);
    let out_file = env.path("findings.json");
    let out = run_bounded(
        &env,
        &[
            "findings",
            "--format",
            "json",
            "-o",
            out_file.to_str().unwrap(),
        ],
        OUTPUT_MEMORY_MIB,
    );
    assert!(
        out.status.code() == Some(0),
        "findings --format json of {N} findings under {OUTPUT_MEMORY_MIB} MiB: {:?}\n{}",
        out.status,
        text(&out.stderr)
    );
    // Counted line by line: the test holds no more of it than the command.
    use std::io::BufRead;
    let reader = std::io::BufReader::new(std::fs::File::open(&out_file).unwrap());
    let mut first = None;
    let mut findings = 0;
    let mut last = String::new();
    for line in reader.lines() {
        let line = line.unwrap();
        first.get_or_insert_with(|| line.clone());
        if line.starts_with("    \"fingerprint\": ") {
            findings += 1;
        }
        last = line;
    }
    assert_eq!(first.as_deref(), Some("["));
    assert_eq!(last, "]");
    assert_eq!(findings, N);
    // The same stream serves `scan --format json`: one complete document.
    let small = env.path("small.db");
    let out = env.run(&[
        "--db",
        small.to_str().unwrap(),
        "scan",
        "--snapshot",
        demo().to_str().unwrap(),
        "--format",
        "json",
    ]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v["findings"].as_array().unwrap().len() as u64,
        DEMO_FAIL + count(&v, "error")
    );
    assert_eq!(v["scan"]["totals"]["by_status"]["fail"], DEMO_FAIL);
}
