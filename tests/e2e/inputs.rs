//! Bad input gets a clear error naming the file, the place and what to do,
//! and nothing already stored is lost.

use serde_json::Value;

use crate::support::{DEMO_FAIL, Env, demo, stderr};

fn scan_count(env: &Env) -> usize {
    let (_, scans) = env.json(&["scans", "--format", "json"]);
    scans.as_array().unwrap().len()
}

#[test]
fn a_broken_snapshot_names_the_field_and_stores_nothing() {
    let env = Env::new();
    let demo = demo();
    assert_eq!(
        env.run(&["scan", "--snapshot", demo.to_str().unwrap(), "-q"])
            .status
            .code(),
        Some(0)
    );

    let mut snapshot: Value = serde_json::from_slice(&std::fs::read(&demo).unwrap()).unwrap();
    let asset = snapshot["assets"][12].as_object_mut().unwrap();
    let body = asset.remove("body").unwrap();
    asset.insert("bdy".into(), body);
    let bad = env.path("bad.json");
    std::fs::write(&bad, serde_json::to_string_pretty(&snapshot).unwrap()).unwrap();
    let out = env.run(&["scan", "--snapshot", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("bad.json: assets[12].bdy") && err.contains("unknown field `bdy`"),
        "{err}"
    );

    let ndjson = env.path("bad.ndjson");
    std::fs::write(&ndjson, "{\"stance_snapshot\":1,\"collected_at\":\"2026-11-20T09:30:00Z\"}\n{\"id\":\"a\",\"resource_type\":\"aws_s3_bucket\",\"account\":\"1\",\"region\":\"us-east-1\",\"body\":[]}\n").unwrap();
    let err = stderr(&env.run(&["scan", "--snapshot", ndjson.to_str().unwrap()]));
    assert!(
        err.contains("bad.ndjson: line 2.body: must be a JSON object"),
        "{err}"
    );

    let err = stderr(&env.run(&["scan", "--snapshot", "no/such/file.json"]));
    assert!(err.contains("no/such/file.json: cannot read"), "{err}");

    assert_eq!(
        scan_count(&env),
        1,
        "the earlier scan must be intact and no new one recorded"
    );
    let (_, findings) = env.json(&["findings", "--format", "json"]);
    assert_eq!(findings.as_array().unwrap().len() as u64, DEMO_FAIL);
}

#[test]
fn a_policy_that_does_not_parse_names_file_line_and_column() {
    let env = Env::new();
    let dir = env.path("policies");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("mine.yaml"),
        "id: acme-bucket-owner\nname: Buckets have an owner tag\nseverity: low\nresource_type: aws_s3_bucket\ncheck:\n  expression: asset.tags.owner exists and\n",
    )
    .unwrap();
    let demo = demo();
    let out = env.run(&[
        "scan",
        "--snapshot",
        demo.to_str().unwrap(),
        "--policies",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("mine.yaml:6:42: policy acme-bucket-owner: expected an operand after `and`"),
        "{err}"
    );
    assert_eq!(scan_count(&env), 0);

    let out = env.run(&["policies", "validate", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("mine.yaml:6:42"), "{}", stderr(&out));
}

#[test]
fn local_policies_run_beside_the_builtin_pack() {
    let env = Env::new();
    let dir = env.path("policies");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("owner.yaml"),
        "id: acme-bucket-owner\nname: Buckets have an owner tag\nseverity: low\nresource_type: aws_s3_bucket\ncheck:\n  expression: asset.tags.owner exists\n",
    )
    .unwrap();
    let demo = demo();
    let snapshot: Value = serde_json::from_slice(&std::fs::read(&demo).unwrap()).unwrap();
    let unowned = snapshot["assets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["resource_type"] == "aws_s3_bucket" && a["tags"]["owner"].is_null())
        .count();
    let (code, v) = env.json(&[
        "scan",
        "--snapshot",
        demo.to_str().unwrap(),
        "--policies",
        dir.to_str().unwrap(),
        "--format",
        "json",
        "-q",
    ]);
    assert_eq!(code, 0);
    let mine = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule_id"] == "acme-bucket-owner")
        .count();
    assert_eq!(mine, unowned);

    let (_, only) = env.json(&[
        "scan",
        "--snapshot",
        demo.to_str().unwrap(),
        "--policies",
        dir.to_str().unwrap(),
        "--no-builtin-policies",
        "--format",
        "json",
        "-q",
    ]);
    assert_eq!(only["scan"]["totals"]["findings"], 8);

    let (_, listed) = env.json(&[
        "policies",
        "list",
        "--policies",
        dir.to_str().unwrap(),
        "--type",
        "aws_s3_bucket",
        "--format",
        "json",
    ]);
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["id"] == "acme-bucket-owner")
    );
}

#[test]
fn policies_list_show_and_validate_the_builtin_pack() {
    let env = Env::new();
    let out = env.run(&["policies", "validate"]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("policies in") && text.contains("are valid"),
        "{text}"
    );

    let (_, all) = env.json(&["policies", "list", "--format", "json"]);
    let all = all.as_array().unwrap();
    assert!(all.len() >= 25);
    for p in all {
        assert!(
            !p["remediation"]["guidance"].as_str().unwrap().is_empty(),
            "{} has no remediation",
            p["id"]
        );
    }
    let services: std::collections::BTreeSet<&str> = all
        .iter()
        .map(|p| {
            p["resource_type"]
                .as_str()
                .unwrap()
                .split('_')
                .nth(1)
                .unwrap()
        })
        .collect();
    for s in ["s3", "iam", "ec2", "rds", "cloudtrail", "kms"] {
        assert!(services.contains(s), "no {s} policy");
    }
    let (_, cis) = env.json(&[
        "policies",
        "list",
        "--framework",
        "cis-aws-v5",
        "--format",
        "json",
    ]);
    let cis = cis.as_array().unwrap();
    assert!(!cis.is_empty() && cis.len() < all.len());
    assert!(cis.iter().all(|p| {
        p["compliance"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["framework"] == "cis-aws")
    }));

    let out = env.run(&["policies", "show", "aws-s3-bucket-versioning-enabled"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("resource type: aws_s3_bucket") && text.contains("remediation:"),
        "{text}"
    );
    let out = env.run(&["policies", "show", "nope"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("no policy with id \"nope\""));
}

#[test]
fn an_unknown_storage_backend_is_an_error() {
    let env = Env::new();
    let out = env
        .cmd()
        .args(["scans"])
        .env("STANCE_STORAGE_BACKEND", "s3")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("STANCE_STORAGE_BACKEND=s3 is not available"),
        "{}",
        stderr(&out)
    );
}
