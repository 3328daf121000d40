//! The first thing a user runs: the demo scan, its findings, and the
//! commands that query them.

use serde_json::Value;

use crate::support::{DEMO_FAIL, DEMO_PASS, DEMO_RESULTS, Env, count, demo, stderr};

fn failing(v: &Value) -> Vec<(String, String)> {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["status"] == "fail")
        .map(|f| {
            (
                f["rule_id"].as_str().unwrap().to_string(),
                f["resource"]["name"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn demo_scan_reports_the_designed_findings() {
    let env = Env::new();
    let demo = demo();
    let (code, v) = env.json(&[
        "scan",
        "--snapshot",
        demo.to_str().unwrap(),
        "--format",
        "json",
        "-q",
    ]);
    assert_eq!(code, 0);
    assert_eq!(v["scan"]["totals"]["assets"], 112);
    assert_eq!(
        (count(&v, "pass"), count(&v, "fail"), count(&v, "error")),
        (DEMO_PASS, DEMO_FAIL, 0)
    );
    let sev = &v["scan"]["totals"]["failed_by_severity"];
    assert_eq!(
        (&sev["critical"], &sev["high"], &sev["medium"], &sev["low"]),
        (&4.into(), &16.into(), &62.into(), &36.into())
    );
    let fails = failing(&v);
    for expected in [
        ("aws-s3-bucket-no-public-policy", "acme-web-static-assets"),
        ("aws-ec2-sg-no-ssh-from-internet", "acme-bastion-sg"),
        ("aws-iam-user-console-mfa", "carol.diaz"),
        ("aws-rds-instance-storage-encrypted", "acme-reporting-mysql"),
        ("aws-ec2-instance-imdsv2-required", "legacy-reporting-01"),
        ("aws-cloudtrail-log-file-validation", "acme-eu-app-trail"),
    ] {
        assert!(
            fails
                .iter()
                .any(|(r, n)| r == expected.0 && n == expected.1),
            "{expected:?} not among {fails:?}"
        );
    }
    // A finding carries its evidence, compliance and remediation.
    let f = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule_id"] == "aws-ec2-sg-no-ssh-from-internet")
        .unwrap();
    let evidence = f["evidence"].as_array().unwrap();
    assert!(
        evidence.iter().any(
            |e| e["path"].as_str().unwrap().starts_with("resource.ingress[")
                && e["actual"] == "0.0.0.0/0"
        ),
        "{evidence:?}"
    );
    assert!(
        f["compliance"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["framework"] == "cis-aws")
    );
    assert!(!f["remediation"]["guidance"].as_str().unwrap().is_empty());
    assert_eq!(f["lifecycle"], "new");
}

#[test]
fn findings_assets_and_scans_query_the_stored_scan() {
    let env = Env::new();
    let demo = demo();
    assert_eq!(
        env.run(&["scan", "--snapshot", demo.to_str().unwrap(), "-q"])
            .status
            .code(),
        Some(0)
    );

    let (code, high) = env.json(&["findings", "--severity", "high", "--format", "json"]);
    assert_eq!(code, 0);
    let high = high.as_array().unwrap();
    assert_eq!(high.len(), 16);
    assert!(
        high.iter()
            .all(|f| f["severity"] == "high" && f["status"] == "fail")
    );

    let (_, all) = env.json(&["findings", "--status", "all", "--format", "json"]);
    assert_eq!(all.as_array().unwrap().len() as u64, DEMO_RESULTS);
    let (_, passes) = env.json(&[
        "findings",
        "--status",
        "pass",
        "--rule",
        "aws-s3-bucket-versioning-enabled",
        "--format",
        "json",
    ]);
    assert_eq!(passes.as_array().unwrap().len(), 7);
    let (_, min) = env.json(&["findings", "--min-severity", "high", "--format", "json"]);
    assert_eq!(min.as_array().unwrap().len(), 20);

    let csv = env.run(&["findings", "--format", "csv"]);
    let text = String::from_utf8(csv.stdout).unwrap();
    let mut rows = csv::Reader::from_reader(text.as_bytes());
    assert_eq!(rows.headers().unwrap().get(1), Some("severity"));
    assert_eq!(rows.records().count() as u64, DEMO_FAIL);

    let out = env.path("findings.json");
    assert_eq!(
        env.run(&[
            "findings",
            "--format",
            "json",
            "--output",
            out.to_str().unwrap()
        ])
        .status
        .code(),
        Some(0)
    );
    let written: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(written.as_array().unwrap().len() as u64, DEMO_FAIL);

    let (_, buckets) = env.json(&["assets", "--type", "aws_s3_bucket", "--format", "json"]);
    assert_eq!(buckets.as_array().unwrap().len(), 8);
    let (_, ec2) = env.json(&[
        "assets",
        "--type",
        "aws_ec2_*",
        "--format",
        "json",
        "--with-body",
    ]);
    assert_eq!(ec2.as_array().unwrap().len(), 36);
    assert!(ec2[0]["body"].is_object());

    let (_, scans) = env.json(&["scans", "--format", "json"]);
    assert_eq!(scans.as_array().unwrap().len(), 1);
    assert_eq!(scans[0]["summary"]["by_status"]["fail"], DEMO_FAIL);

    let table = env.run(&["findings", "--rule", "aws-iam-user-console-mfa"]);
    let text = String::from_utf8(table.stdout).unwrap();
    assert!(
        text.contains("carol.diaz") && text.contains("fail (new)"),
        "{text}"
    );
}

#[test]
fn fail_on_sets_the_exit_code() {
    let env = Env::new();
    let demo = demo();
    let d = demo.to_str().unwrap();
    assert_eq!(
        env.run(&["scan", "--snapshot", d, "-q", "--fail-on", "critical"])
            .status
            .code(),
        Some(1)
    );
    assert_eq!(
        env.run(&["findings", "--fail-on", "high"]).status.code(),
        Some(1)
    );
    assert_eq!(
        env.run(&[
            "findings",
            "--rule",
            "aws-iam-user-no-attached-policies",
            "--fail-on",
            "medium"
        ])
        .status
        .code(),
        Some(0)
    );

    // A snapshot with nothing failing exits 0 even with --fail-on info.
    let clean = env.path("clean.json");
    let snapshot: Value = serde_json::from_slice(&std::fs::read(&demo).unwrap()).unwrap();
    let mut only_good = snapshot.clone();
    only_good["assets"] = Value::Array(
        snapshot["assets"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["resource_type"] == "aws_ec2_volume" && a["body"]["encrypted"] == true)
            .cloned()
            .collect(),
    );
    std::fs::write(&clean, only_good.to_string()).unwrap();
    let out = env.run(&[
        "scan",
        "--snapshot",
        clean.to_str().unwrap(),
        "--fail-on",
        "info",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("pass 12  fail 0  error 0"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn version_names_every_contract() {
    let env = Env::new();
    let out = env.run(&["version"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("wit stance:plugin@0.1.0"), "{text}");
    assert!(text.contains("wasmtime 48."), "{text}");
    assert!(text.contains("not created yet"), "{text}");
    assert!(text.contains("settings:"), "{text}");
    assert!(
        !env.db.exists(),
        "asking for the version creates no database"
    );
    let scan = env.run(&["scan", "--snapshot", demo().to_str().unwrap()]);
    assert_eq!(scan.status.code(), Some(0), "{}", stderr(&scan));
    let (code, v) = env.json(&["version", "--format", "json"]);
    assert_eq!(code, 0);
    assert_eq!(v["database"]["exists"], true, "{v:#}");
    assert!(
        v["database"]["schema"].as_i64().is_some_and(|s| s >= 5),
        "{v:#}"
    );
}

#[test]
fn version_shows_every_setting_and_where_it_came_from() {
    let env = Env::new();
    let mut cmd = env.cmd();
    cmd.env("STANCE_LOG_LEVEL", "info")
        .env("STANCE_HOME", env.path("home"))
        .env("STANCE_AWS_REGION", "eu-west-3")
        .env("STANCE_STORAGE_BACKEND", "s3");
    let out = cmd
        .args(["version", "--format", "json", "-vv"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let s = &v["settings"];
    assert_eq!(s["db"]["value"], env.db.display().to_string());
    assert_eq!(s["db"]["origin"]["from"], "env");
    assert_eq!(s["db"]["origin"]["name"], "STANCE_DB_PATH");
    assert_eq!(
        s["log_level"]["value"], "debug",
        "-vv beats STANCE_LOG_LEVEL"
    );
    assert_eq!(s["log_level"]["origin"]["from"], "flag");
    assert_eq!(
        s["pack_dir"]["value"],
        env.path("home").join("packs").display().to_string()
    );
    assert_eq!(s["pack_dir"]["origin"]["from"], "derived");
    assert_eq!(s["aws_region"]["value"], "eu-west-3");
    assert_eq!(
        s["status_file"]["value"],
        env.path("watch-status.json").display().to_string(),
        "the watch status file sits beside the database"
    );
    assert_eq!(
        s["storage_backend"]["origin"]["name"],
        "STANCE_STORAGE_BACKEND"
    );
    assert!(
        v["database"]["error"]
            .as_str()
            .is_some_and(|e| e.contains("STANCE_STORAGE_BACKEND=s3 is not available")),
        "{v:#}"
    );
    let flag = env.run(&[
        "--db",
        env.path("other.db").to_str().unwrap(),
        "version",
        "--format",
        "json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&flag.stdout).unwrap();
    assert_eq!(
        v["settings"]["db"]["origin"]["name"], "--db",
        "a flag beats the variable"
    );
}
