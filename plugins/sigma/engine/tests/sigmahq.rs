//! Loads every SigmaHQ cloud rule from the shared data directory (read in
//! place, never copied) and requires at least 98% of them to load.

mod common;

use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use stance_sigma_engine::{Engine, EngineConfig, Event, MemoryStore};

fn rules_dir() -> PathBuf {
    common::manifest_dir().join("../../../../shared/data/sigmahq/rules/cloud")
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            collect(&p, out);
        } else if matches!(p.extension().and_then(|x| x.to_str()), Some("yml" | "yaml")) {
            out.push(p);
        }
    }
}

fn load_all() -> Option<(Engine, Vec<stance_sigma_engine::LoadError>, usize)> {
    let dir = rules_dir();
    let mut files = Vec::new();
    collect(&dir, &mut files);
    files.sort();
    if files.is_empty() {
        eprintln!("skipped: no SigmaHQ rules under {}", dir.display());
        return None;
    }
    let sources: Vec<(String, String)> = files
        .iter()
        .map(|p| {
            let name = p.strip_prefix(&dir).unwrap_or(p).display().to_string();
            let text = std::fs::read_to_string(p).expect("rule file is readable");
            (name, text)
        })
        .collect();
    let (engine, errors) = Engine::load(&sources, EngineConfig::default());
    Some((engine, errors, sources.len()))
}

#[test]
fn sigmahq_cloud_rules_load() {
    let Some((engine, errors, total)) = load_all() else {
        return;
    };
    let failed: std::collections::BTreeSet<&str> = errors.iter().map(|e| e.file.as_str()).collect();
    let loaded = total - failed.len();
    let rate = loaded as f64 * 100.0 / total as f64;
    println!(
        "SigmaHQ cloud rules: {loaded}/{total} files load ({rate:.1}%), {} rules compiled",
        engine.rules().count()
    );
    for e in &errors {
        println!("  not loaded: {e}");
    }
    assert!(rate >= 98.0, "load rate {rate:.1}% is under 98%");
}

fn fired(engine: &Engine, body: Value) -> Vec<String> {
    let ev = Event::new("ev", "aws_cloudtrail", "2024-05-01T10:00:00Z", body);
    let mut ids: Vec<String> = engine
        .evaluate(&[ev], &mut MemoryStore::default())
        .into_iter()
        .map(|m| m.rule_id)
        .collect();
    ids.sort();
    ids
}

const ROOT_USAGE: &str = "8ad1600d-e9dc-4251-b0ee-a65268f29add";
const LOGIN_PROFILE: &str = "055fb148-60f8-462d-ad16-26926ce050f1";
const IMDS: &str = "352a918a-34d8-4882-8470-44830c507aa3";
const S3BROWSER_POLICY: &str = "db014773-7375-4f4e-b83b-133337c0ffee";
const GUARDDUTY: &str = "d2656e78-c069-4571-8220-9e0ab5913f19";

/// Hand-written CloudTrail records against real SigmaHQ rules: each exercises
/// a different construct (negated selection, fieldref, re, contains|all over
/// an object, `1 of` with null).
#[test]
fn sigmahq_aws_rules_match_cloudtrail_records() {
    let Some((engine, _, _)) = load_all() else {
        return;
    };
    let root = json!({"eventSource": "s3.amazonaws.com", "eventName": "ListBuckets",
                      "userIdentity": {"type": "Root", "arn": "arn:aws:iam::111122223333:root"}});
    assert!(fired(&engine, root).contains(&ROOT_USAGE.to_string()));
    let root_service = json!({"eventType": "AwsServiceEvent", "userIdentity": {"type": "Root"}});
    assert!(!fired(&engine, root_service).contains(&ROOT_USAGE.to_string()));

    let other_user = json!({"eventSource": "iam.amazonaws.com", "eventName": "UpdateLoginProfile",
                            "userIdentity": {"arn": "arn:aws:iam::1:user/alice"},
                            "requestParameters": {"userName": "bob"}});
    assert!(fired(&engine, other_user).contains(&LOGIN_PROFILE.to_string()));
    let own = json!({"eventSource": "iam.amazonaws.com", "eventName": "UpdateLoginProfile",
                     "userIdentity": {"arn": "bob"}, "requestParameters": {"userName": "bob"}});
    assert!(!fired(&engine, own).contains(&LOGIN_PROFILE.to_string()));

    let imds = json!({"eventSource": "ec2.amazonaws.com", "eventName": "DescribeInstances",
                      "sourceIPAddress": "203.0.113.9",
                      "userIdentity": {"arn": "arn:aws:sts::1:assumed-role/aws:ec2-instance/i-0abc"}});
    assert!(fired(&engine, imds).contains(&IMDS.to_string()));
    let imds_ssm = json!({"eventSource": "ssm.amazonaws.com", "eventName": "DescribeInstances",
                          "userIdentity": {"arn": "arn:aws:sts::1:assumed-role/aws:ec2-instance/i-0abc"}});
    assert!(!fired(&engine, imds_ssm).contains(&IMDS.to_string()));

    let policy_plain = json!({"eventSource": "iam.amazonaws.com", "eventName": "PutUserPolicy",
                              "userAgent": "S3 Browser 11.5.7",
                              "requestParameters": {"Effect": "Allow", "Action": "s3:GetObject",
                                                    "Resource": "arn:aws:s3:::<YOUR-BUCKET-NAME>/*"}});
    assert!(fired(&engine, policy_plain).contains(&S3BROWSER_POLICY.to_string()));

    let gd = json!({"eventSource": "guardduty.amazonaws.com", "eventName": "DeleteDetector"});
    assert!(fired(&engine, gd).contains(&GUARDDUTY.to_string()));
    let gd_failed = json!({"eventSource": "guardduty.amazonaws.com", "eventName": "DeleteDetector",
                           "errorCode": "AccessDenied"});
    assert!(!fired(&engine, gd_failed).contains(&GUARDDUTY.to_string()));
    let gd_update = json!({"eventSource": "guardduty.amazonaws.com", "eventName": "UpdateDetector",
                           "requestParameters": {"enable": false}});
    assert!(fired(&engine, gd_update).contains(&GUARDDUTY.to_string()));

    // A routine read matches nothing; non-AWS rules never see CloudTrail events.
    let benign = json!({"eventSource": "s3.amazonaws.com", "eventName": "GetObject",
                        "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::1:user/app"}});
    assert_eq!(fired(&engine, benign), Vec::<String>::new());
}
