//! `stance export securityhub` against moto's Security Hub: the findings of
//! a scan go in (counts in and out match), a second export changes nothing,
//! a fixed resource's finding ends up archived and resolved, and a scan of
//! another account, bad credentials, no credentials and access denied are
//! refused with exit 2 and nothing stored changed. Also the structure of
//! `stance findings --format asff`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

use crate::support::{Env, Moto, demo, root, stderr, venv_python};

const ACCOUNT: &str = "123456789012";
const FIXED_RULE: &str = "aws-s3-bucket-versioning-enabled";
const FIXED_BUCKET: &str = "arn:aws:s3:::acme-eu-analytics-scratch";

/// The demo snapshot, written to `path` after `edit`.
fn snapshot(path: &Path, edit: impl FnOnce(&mut Value)) -> PathBuf {
    let mut v: Value = serde_json::from_slice(&std::fs::read(demo()).unwrap()).unwrap();
    edit(&mut v);
    std::fs::write(path, serde_json::to_vec(&v).unwrap()).unwrap();
    path.to_path_buf()
}

fn scan(env: &Env, snapshot: &Path) {
    let out = env.run(&["scan", "--snapshot", snapshot.to_str().unwrap(), "-q"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

fn export(env: &Env, moto: &Moto, extra: &[&str]) -> Output {
    let mut cmd = env.cmd();
    moto.env(&mut cmd);
    cmd.args([
        "export",
        "securityhub",
        "--region",
        "us-east-1",
        "--format",
        "json",
    ])
    .args(extra)
    .output()
    .unwrap()
}

fn export_json(env: &Env, moto: &Moto) -> Value {
    let out = export(env, moto, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Every finding moto's Security Hub holds, by id.
fn hub_findings(moto: &Moto) -> BTreeMap<String, Value> {
    let out = Command::new(venv_python())
        .arg(root().join("tests/aws/securityhub_findings.py"))
        .args(["--endpoint", &moto.endpoint()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let all: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    all.into_iter()
        .map(|f| (f["Id"].as_str().unwrap().to_string(), f))
        .collect()
}

/// (rule, resource) → fingerprint of the failing Stance findings of the latest scan.
fn failing(env: &Env) -> BTreeMap<(String, String), String> {
    let (_, v) = env.json(&[
        "findings", "--status", "fail", "--source", "stance", "--format", "json",
    ]);
    v.as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                (
                    f["rule_id"].as_str().unwrap().to_string(),
                    f["resource"]["id"].as_str().unwrap().to_string(),
                ),
                f["fingerprint"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn findings_round_trip_through_security_hub_and_resolved_ones_are_archived() {
    let moto = Moto::start(&[]);
    let env = Env::new();
    let first = snapshot(&env.path("first.json"), |_| {});
    scan(&env, &first);
    let failing1 = failing(&env);
    let fixed_fp = failing1
        .get(&(FIXED_RULE.to_string(), FIXED_BUCKET.to_string()))
        .expect("the demo's scratch bucket fails versioning")
        .clone();

    // 1. In: every failing Stance finding of the scan; out: exactly those.
    let v = export_json(&env, &moto);
    assert_eq!(v["imported"], failing1.len(), "{v:#}");
    assert_eq!(
        (v["archived"].as_u64(), v["failed"].as_u64()),
        (Some(0), Some(0))
    );
    let hub1 = hub_findings(&moto);
    assert_eq!(hub1.len(), failing1.len());
    for fp in failing1.values() {
        let f = &hub1[&format!("stance/{fp}")];
        assert_eq!(f["RecordState"], "ACTIVE");
        assert_eq!(f["Compliance"]["Status"], "FAILED");
        assert_eq!(f["AwsAccountId"], ACCOUNT);
    }
    eprintln!(
        "security hub round trip: {} failing findings in, {} findings out",
        failing1.len(),
        hub1.len()
    );

    // 2. Again: nothing sent, Security Hub unchanged.
    let v = export_json(&env, &moto);
    assert_eq!(
        (v["imported"].as_u64(), v["archived"].as_u64()),
        (Some(0), Some(0)),
        "{v:#}"
    );
    assert_eq!(v["unchanged"], failing1.len());
    assert_eq!(hub_findings(&moto), hub1, "a second export changes nothing");

    // 3. Fix the bucket, scan, export: its finding is archived and resolved.
    let second = snapshot(&env.path("second.json"), |v| {
        for a in v["assets"].as_array_mut().unwrap() {
            if a["id"] == FIXED_BUCKET {
                a["body"]["versioning"]["status"] = "Enabled".into();
            }
        }
    });
    scan(&env, &second);
    let failing2 = failing(&env);
    assert_eq!(failing2.len() + 1, failing1.len());
    let v = export_json(&env, &moto);
    assert_eq!(v["archived"], 1, "{v:#}");
    assert_eq!(
        v["imported"],
        failing2.len(),
        "a new scan refreshes the active findings"
    );
    let hub2 = hub_findings(&moto);
    assert_eq!(hub2.len(), hub1.len(), "archived, not deleted");
    let gone = &hub2[&format!("stance/{fixed_fp}")];
    assert_eq!(gone["RecordState"], "ARCHIVED", "{gone:#}");
    assert_eq!(gone["Workflow"]["Status"], "RESOLVED");
    assert_eq!(gone["Compliance"]["Status"], "PASSED");
    let active = hub2
        .values()
        .filter(|f| f["RecordState"] == "ACTIVE")
        .count();
    assert_eq!(active, failing2.len());
    eprintln!(
        "after the fix: {} active, {} archived ({} in Security Hub)",
        active,
        hub2.len() - active,
        hub2.len()
    );

    // 4. Exporting the older scan again would undo that: refused.
    let out = export(&env, &moto, &["--scan", "1"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("older than scan #2"),
        "{}",
        stderr(&out)
    );
    assert_eq!(hub_findings(&moto), hub2);
}

#[test]
fn another_account_bad_or_missing_credentials_and_access_denied_are_refused() {
    let moto = Moto::start(&[]);
    let env = Env::new();
    let other = std::fs::read_to_string(demo())
        .unwrap()
        .replace(ACCOUNT, "111111111111");
    let path = env.path("other.json");
    std::fs::write(&path, other).unwrap();
    scan(&env, &path);
    let db = std::fs::read(&env.db).unwrap();

    let out = export(&env, &moto, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("refused") && err.contains("111111111111") && err.contains(ACCOUNT),
        "{err}"
    );
    assert!(hub_findings(&moto).is_empty());

    // Credentials moto does not know (its IAM enforcement on), then no credentials at all.
    let denied = Moto::start(&[]);
    let creds = denied.seed("securityhub_denied.py", &[]);
    let mut cmd = env.cmd();
    denied.env(&mut cmd);
    let out = cmd
        .env("AWS_ACCESS_KEY_ID", "AKIAUNKNOWN000000000")
        .args(["export", "securityhub", "--region", "us-east-1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("cannot identify the AWS account"),
        "{}",
        stderr(&out)
    );
    let mut cmd = env.cmd();
    denied.env(&mut cmd);
    let out = cmd
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .args(["export", "securityhub", "--region", "us-east-1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("cannot identify the AWS account"),
        "{}",
        stderr(&out)
    );

    // Allowed to say who it is, not to import: access denied, on a scan of its own account.
    let own = Env::new();
    scan(&own, &demo());
    let own_db = std::fs::read(&own.db).unwrap();
    let mut cmd = own.cmd();
    denied.env(&mut cmd);
    let out = cmd
        .env(
            "AWS_ACCESS_KEY_ID",
            creds["access_key_id"].as_str().unwrap(),
        )
        .env(
            "AWS_SECRET_ACCESS_KEY",
            creds["secret_access_key"].as_str().unwrap(),
        )
        .args(["export", "securityhub", "--region", "us-east-1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("access denied") && err.contains("securityhub:BatchImportFindings"),
        "{err}"
    );
    assert_eq!(
        std::fs::read(&own.db).unwrap(),
        own_db,
        "nothing stored changed"
    );
    assert_eq!(
        std::fs::read(&env.db).unwrap(),
        db,
        "nothing stored changed"
    );
}

#[test]
fn findings_as_asff_have_every_required_attribute_within_the_limits() {
    let env = Env::new();
    scan(&env, &demo());
    let file = env.path("findings.asff.json");
    let out = env.run(&["findings", "--format", "asff", "-o", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let docs: Vec<Value> = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    let (_, rows) = env.json(&["findings", "--format", "json"]);
    assert_eq!(docs.len(), rows.as_array().unwrap().len());
    let required = [
        "AwsAccountId",
        "CreatedAt",
        "Description",
        "GeneratorId",
        "Id",
        "ProductArn",
        "Resources",
        "SchemaVersion",
        "Severity",
        "Title",
        "Types",
        "UpdatedAt",
    ];
    let chars = |d: &Value, k: &str| d[k].as_str().unwrap().chars().count();
    for d in &docs {
        for k in required {
            assert!(!d[k].is_null(), "{k} missing in {d:#}");
        }
        assert_eq!(d["SchemaVersion"], "2018-10-08");
        assert!(chars(d, "Title") <= 256 && chars(d, "Description") <= 1024);
        assert!(chars(d, "Id") <= 512 && chars(d, "GeneratorId") <= 512);
        assert!(
            d["ProductArn"]
                .as_str()
                .unwrap()
                .ends_with(&format!(":{ACCOUNT}:product/{ACCOUNT}/default"))
        );
        assert!(["FAILED", "NOT_AVAILABLE"].contains(&d["Compliance"]["Status"].as_str().unwrap()));
        assert!(
            d["Compliance"]["RelatedRequirements"]
                .as_array()
                .is_none_or(|r| r.len() <= 32)
        );
        let res = &d["Resources"][0];
        for k in ["Type", "Id", "Partition", "Region"] {
            assert!(res[k].is_string(), "{k}: {d:#}");
        }
    }
    assert!(
        docs.iter()
            .any(|d| d["Resources"][0]["Type"] == "AwsS3Bucket")
    );
    eprintln!("findings --format asff: {} documents checked", docs.len());
}
