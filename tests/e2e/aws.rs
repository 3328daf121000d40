//! Live AWS collection against moto in server mode on 127.0.0.1, seeded by
//! `tests/aws/seed.py` with good and bad resources in two accounts: the
//! whole pipeline from API calls to stored findings, the field contract
//! between policies and collectors, and honest results when permissions
//! are missing.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::Value;

use crate::support::{Env, Moto, root, stderr, venv_python};

/// Results that moto 5.2.5 cannot give the Rust SDK: these must come out as
/// `error` (never a verdict), with the reason.
const EMULATOR_GAPS: &[(&str, &str)] = &[
    (
        "aws-s3-bucket-versioning-enabled",
        "GetBucketVersioning", // moto answers with the wrong XML root
    ),
    (
        "aws-config-delivery-channel-healthy",
        "DescribeDeliveryChannelStatus", // moto raises NotImplementedError (HTTP 500)
    ),
    (
        "aws-securityhub-fsbp-standard-enabled",
        "GetEnabledStandards", // not implemented by moto (404 page)
    ),
];

/// Fields no collector can fill on moto, by (type, top-level field).
const EMULATOR_FIELD_GAPS: &[(&str, &str)] = &[
    ("aws_s3_bucket", "versioning"),
    ("aws_config_recorder", "delivery_status"), // DescribeDeliveryChannelStatus
    ("aws_securityhub_hub", "standards"),       // GetEnabledStandards
    // the trail → log group → filter → alarm chains need alarms (DescribeAlarms)
    ("aws_account_context", "monitoring"),
];

/// Types moto cannot list for the Rust SDK at all, with the operation that
/// fails: the scan must report that operation as `unsupported`.
const EMULATOR_TYPE_GAPS: &[(&str, &str)] = &[
    (
        "aws_cloudwatch_alarm",
        "DescribeAlarms", // the SDK speaks RPCv2 CBOR, which moto answers with 404
    ),
    (
        "aws_accessanalyzer_region",
        "ListAnalyzers", // moto 5.2.5 has no Access Analyzer at all (404 page)
    ),
];

const ACCOUNTS: [&str; 2] = ["123456789012", "111111111111"];

fn aws_args(extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = vec!["--provider".into(), "aws".into()];
    for account in ACCOUNTS {
        args.push("--role-arn".into());
        args.push(format!("arn:aws:iam::{account}:role/stance-audit"));
    }
    for region in ["us-east-1", "eu-west-1"] {
        args.push("--region".into());
        args.push(region.into());
    }
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

fn run_json(env: &Env, moto: &Moto, args: &[String]) -> (i32, Value, String) {
    let mut cmd = env.cmd();
    moto.env(&mut cmd);
    let out = cmd.args(args).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let v = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("stance {args:?}: no JSON ({e}); stderr:\n{}", stderr(&out)));
    (out.status.code().unwrap_or(-1), v, stderr(&out))
}

/// (rule, resource) → status of every result of the latest scan.
fn results(env: &Env) -> HashMap<(String, String), (String, String)> {
    let (_, all) = env.json(&["findings", "--status", "all", "--format", "json"]);
    all.as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                (
                    f["rule_id"].as_str().unwrap().to_string(),
                    f["resource"]["id"].as_str().unwrap().to_string(),
                ),
                (
                    f["status"].as_str().unwrap().to_string(),
                    f["message"].as_str().unwrap().to_string(),
                ),
            )
        })
        .collect()
}

#[test]
fn a_seeded_account_scans_end_to_end_and_every_policy_field_is_collected() {
    let moto = Moto::start(&[]);
    let manifest = moto.seed("seed.py", &[]);
    let env = Env::new();

    // 1. The live scan of both accounts and two regions.
    let mut args = vec!["scan".to_string()];
    args.extend(aws_args(&["--format", "json", "-q"]));
    let (code, scan, err) = run_json(&env, &moto, &args);
    assert_eq!(
        code, 2,
        "moto's unsupported operations are collection errors: exit 2\n{err}"
    );
    let errors = scan["scan"]["collection_errors"].as_array().unwrap();
    assert!(
        errors
            .iter()
            .any(|e| e["operation"] == "GetBucketVersioning" && e["kind"] == "unsupported"),
        "{errors:#?}"
    );
    let accounts: BTreeSet<&str> = scan["scan"]["scope"]
        .as_str()
        .unwrap()
        .split(':')
        .nth(1)
        .unwrap()
        .split(',')
        .collect();
    assert_eq!(accounts, BTreeSet::from(ACCOUNTS));

    // 2. Every result the seed designed, pass or fail, on every resource it made.
    let got = results(&env);
    let mut problems = Vec::new();
    let mut checked = 0;
    let resources = manifest["resources"]
        .as_array()
        .unwrap()
        .iter()
        .chain(manifest["implicit"].as_array().unwrap());
    for r in resources {
        let id = r["id"].as_str().unwrap();
        for (expected, key) in [("pass", "pass"), ("fail", "fail")] {
            for rule in r[key].as_array().into_iter().flatten() {
                let rule = rule.as_str().unwrap();
                checked += 1;
                let want = match EMULATOR_GAPS.iter().find(|(p, _)| *p == rule) {
                    Some(_) => "error",
                    None => expected,
                };
                match got.get(&(rule.to_string(), id.to_string())) {
                    Some((status, _)) if status == want => {}
                    Some((status, message)) => problems.push(format!(
                        "{rule} on {id}: expected {want}, got {status} ({message})"
                    )),
                    None => {
                        problems.push(format!("{rule} on {id}: expected {want}, got no result"))
                    }
                }
            }
        }
    }
    assert!(
        problems.is_empty(),
        "{} of {checked} designed results differ:\n{}",
        problems.len(),
        problems.join("\n")
    );
    assert!(checked > 150, "only {checked} results checked");
    eprintln!("moto scan: {checked} designed results matched");
    for (rule, operation) in EMULATOR_GAPS {
        let errors: Vec<_> = got
            .iter()
            .filter(|((r, _), (s, _))| r == rule && s == "error")
            .collect();
        assert!(!errors.is_empty(), "{rule}");
        assert!(
            errors.iter().all(|(_, (_, m))| m.contains(operation)),
            "{errors:?}"
        );
        assert!(
            !got.iter().any(|((r, _), (s, _))| r == rule && s == "pass"),
            "{rule} must never pass on unknown data"
        );
    }

    // 3. Imported findings: Security Hub (de-duplicated against ours) and Inspector2.
    let (_, hub) = env.json(&[
        "findings",
        "--source",
        "securityhub",
        "--status",
        "all",
        "--include-duplicates",
        "--format",
        "json",
    ]);
    let hub = hub.as_array().unwrap();
    let dup = hub
        .iter()
        .find(|f| {
            f["resource"]["id"] == "arn:aws:s3:::stance-public-website"
                && f["rule_id"] == "securityhub:S3.8"
        })
        .unwrap_or_else(|| panic!("no S3.8 finding imported: {hub:#?}"));
    assert!(dup["duplicate_of"].is_string(), "{dup:#}");
    let (_, listed) = env.json(&[
        "findings",
        "--source",
        "securityhub",
        "--status",
        "all",
        "--format",
        "json",
    ]);
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["duplicate_of"].is_null())
    );
    assert_eq!(listed.as_array().unwrap().len() + 1, hub.len());
    let (_, vulns) = env.json(&["findings", "--source", "inspector2", "--format", "json"]);
    let cves: BTreeSet<&str> = vulns
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["details"]["cve"].as_str().unwrap())
        .collect();
    assert_eq!(
        cves,
        BTreeSet::from(["CVE-2021-44228", "CVE-2023-0286", "CVE-2024-6387"])
    );
    let ssh = vulns
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["details"]["cve"] == "CVE-2024-6387")
        .unwrap();
    assert_eq!(ssh["details"]["package_name"], "openssh-server");
    assert_eq!(ssh["details"]["cvss_score"], 8.1);
    assert!(
        ssh["details"]["fixed_version"].is_string()
            && ssh["details"]["installed_version"].is_string()
    );

    // 4. The field contract: every path a policy reads exists in what the collector emitted.
    let (_, policies) = env.json(&["policies", "list", "--format", "json"]);
    let (_, assets) = env.json(&["assets", "--with-body", "--format", "json"]);
    let mut by_type: BTreeMap<&str, Vec<&Value>> = BTreeMap::new();
    for a in assets.as_array().unwrap() {
        by_type
            .entry(a["type"].as_str().unwrap())
            .or_default()
            .push(&a["body"]);
    }
    let mut missing = Vec::new();
    let mut paths_checked = 0;
    for p in policies.as_array().unwrap() {
        let ty = p["resource_type"].as_str().unwrap();
        let bodies = by_type.get(ty).cloned().unwrap_or_default();
        if bodies.is_empty() {
            if let Some((_, op)) = EMULATOR_TYPE_GAPS.iter().find(|(t, _)| *t == ty) {
                assert!(
                    errors
                        .iter()
                        .any(|e| e["operation"] == *op && e["kind"] == "unsupported"),
                    "{ty} is missing but {op} is not reported unsupported: {errors:#?}"
                );
                continue;
            }
            missing.push(format!("{}: no asset of type {ty} was collected", p["id"]));
            continue;
        }
        for path in p["reads"].as_array().unwrap() {
            let path = contract_path(path.as_str().unwrap());
            let top = path.split(['.', '[']).next().unwrap();
            if EMULATOR_FIELD_GAPS.contains(&(ty, top)) {
                continue;
            }
            paths_checked += 1;
            if !bodies.iter().any(|b| present(b, &path)) {
                missing.push(format!(
                    "{}: `{path}` is in no {ty} the collector emitted",
                    p["id"]
                ));
            }
        }
    }
    assert!(missing.is_empty(), "{}", missing.join("\n"));
    assert!(paths_checked > 80, "{paths_checked}");
    eprintln!("field contract: {paths_checked} (policy, path) pairs found in collected assets");

    // 4b. AWS Organizations as moto holds it: the seeded organization in its
    // management account, and the account in none, neither a collection error.
    organizations_match_moto(&manifest, &assets, errors);

    // 5. Collect once, scan offline: the same results.
    let snapshot = env.path("moto.json");
    let mut collect = vec!["collect".to_string()];
    collect.extend(aws_args(&["-q", "-o", snapshot.to_str().unwrap()]));
    let mut cmd = env.cmd();
    moto.env(&mut cmd);
    let out = cmd.args(&collect).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let offline = Env::new();
    let (code, v) = offline.json(&[
        "scan",
        "--snapshot",
        snapshot.to_str().unwrap(),
        "--format",
        "json",
        "-q",
    ]);
    assert_eq!(code, 2);
    assert_eq!(
        v["scan"]["totals"]["by_status"],
        scan["scan"]["totals"]["by_status"]
    );
    assert_eq!(
        v["scan"]["totals"]["assets"],
        scan["scan"]["totals"]["assets"]
    );
}

/// The organization assets against what `tests/aws/seed_organizations.py`
/// seeded: account 123456789012 manages the organization, 111111111111 is in
/// none, and Organizations is no collection error in either account.
fn organizations_match_moto(manifest: &Value, assets: &Value, errors: &[Value]) {
    let org_errors: Vec<&Value> = errors
        .iter()
        .filter(|e| e["service"] == "organizations")
        .collect();
    assert!(org_errors.is_empty(), "{org_errors:#?}");
    let seeded = |ty: &str, account: &str| -> Value {
        manifest["resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["type"] == ty && r["account"] == account)
            .unwrap_or_else(|| panic!("the seed made no {ty} in {account}"))
            .clone()
    };
    let body = |id: &Value| -> Value {
        assets
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["id"] == *id)
            .unwrap_or_else(|| panic!("no asset {id}"))["body"]
            .clone()
    };
    let [management, outside] = ACCOUNTS;
    let none = body(&seeded("aws_organizations_account", outside)["id"]);
    assert_eq!(none["in_organization"], false, "{none:#}");
    assert!(none["organization_id"].is_null(), "{none:#}");
    let seeded_org = seeded("aws_organizations_organization", management);
    let facts = &seeded_org["facts"];
    let member = body(&seeded("aws_organizations_account", management)["id"]);
    assert_eq!(member["is_management_account"], true, "{member:#}");
    assert_eq!(
        member["organization_id"], facts["organization_id"],
        "{member:#}"
    );
    let org = body(&seeded_org["id"]);
    assert_eq!(org["feature_set"], "ALL", "{org:#}");
    assert_eq!(
        org["enabled_policy_types"], facts["enabled_policy_types"],
        "{org:#}"
    );
    assert_eq!(org["restrictive_scp_attached"], true, "{org:#}");
    let admins = org["delegated_administrators"].as_array().unwrap();
    assert_eq!(admins.len(), 1, "{org:#}");
    assert_eq!(admins[0]["account_id"], facts["delegated_administrator"]);
    assert_eq!(admins[0]["services"], facts["delegated_services"]);
    let ai = &org["ai_opt_out_policies"][0];
    assert_eq!(ai["default_opt_out"], "optOut", "{org:#}");
    assert_eq!(ai["targets"][0]["type"], "ORGANIZATIONAL_UNIT", "{org:#}");
}

/// The part of a read path that the schema defines: stop at policy-document
/// keys (PascalCase, as AWS writes them) and at condition keys (`aws:…`).
fn contract_path(path: &str) -> String {
    let mut out = String::new();
    for seg in path.split('.') {
        let name = seg.trim_end_matches("[]");
        if name.starts_with(|c: char| c.is_ascii_uppercase()) || name.contains(':') {
            break;
        }
        if !out.is_empty() {
            out.push('.');
        }
        out.push_str(seg);
    }
    out
}

/// Does `path` (`a.b[].c`) exist in `v` (a key present, in some element for lists)?
fn present(v: &Value, path: &str) -> bool {
    fn walk(v: &Value, segs: &[&str]) -> bool {
        let Some((first, rest)) = segs.split_first() else {
            return true;
        };
        let (key, list) = match first.strip_suffix("[]") {
            Some(k) => (k, true),
            None => (*first, false),
        };
        let Some(child) = v.as_object().and_then(|o| o.get(key)) else {
            return false;
        };
        if list {
            match child.as_array() {
                Some(items) if rest.is_empty() => !items.is_empty() || child.is_array(),
                Some(items) => items.iter().any(|i| walk(i, rest)),
                None => false,
            }
        } else {
            rest.is_empty() || walk(child, rest)
        }
    }
    let segs: Vec<&str> = path.split('.').collect();
    walk(v, &segs)
}

#[test]
fn missing_permissions_and_unknown_data_are_errors_never_passes() {
    // restricted.py turns moto's IAM enforcement on after seeding.
    let moto = Moto::start(&[]);
    let creds = moto.seed("restricted.py", &[]);
    let env = Env::new();
    let mut cmd = env.cmd();
    moto.env(&mut cmd);
    cmd.env(
        "AWS_ACCESS_KEY_ID",
        creds["access_key_id"].as_str().unwrap(),
    )
    .env(
        "AWS_SECRET_ACCESS_KEY",
        creds["secret_access_key"].as_str().unwrap(),
    );
    let out = cmd
        .args([
            "scan",
            "--provider",
            "aws",
            "--services",
            "s3,ec2",
            "--region",
            "us-east-1",
            "--format",
            "json",
            "-q",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let errors = v["scan"]["collection_errors"].as_array().unwrap();
    // A denied list call: the whole type is not collected, and its rules report error for the scope.
    let denied = errors
        .iter()
        .find(|e| e["service"] == "ec2" && e["kind"] == "access-denied")
        .unwrap_or_else(|| panic!("{errors:#?}"));
    assert_eq!(denied["account"], "123456789012");
    assert_eq!(denied["region"], "us-east-1");
    let all = env
        .json(&["findings", "--status", "all", "--format", "json"])
        .1;
    let all = all.as_array().unwrap();
    let ec2: Vec<&Value> = all
        .iter()
        .filter(|f| f["rule_id"].as_str().unwrap().starts_with("aws-ec2-"))
        .collect();
    assert!(!ec2.is_empty());
    assert!(ec2.iter().all(|f| f["status"] == "error"), "{ec2:#?}");
    assert!(ec2.iter().any(|f| {
        f["message"]
            .as_str()
            .unwrap()
            .contains("not collected: ec2")
    }));
    // A denied detail call: only the rules reading that field report error on that bucket.
    let enc = all
        .iter()
        .find(|f| f["rule_id"] == "aws-s3-bucket-default-encryption")
        .unwrap_or_else(|| panic!("no encryption result"));
    assert_eq!(enc["status"], "error", "{enc:#}");
    assert!(
        enc["message"].as_str().unwrap().contains("encryption"),
        "{enc:#}"
    );
    let logging = all
        .iter()
        .find(|f| f["rule_id"] == "aws-s3-bucket-access-logging")
        .unwrap();
    assert_ne!(
        logging["status"], "error",
        "a rule whose data was collected still decides: {logging:#}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e["operation"] == "GetBucketEncryption" && e["kind"] == "access-denied"),
        "{errors:#?}"
    );
    // -q: no progress, only the summary of what was not collected and
    // warnings (here: moto serves no AWS Config, so the direct APIs are used).
    let summary = stderr(&out);
    assert!(
        summary
            .lines()
            .all(|l| l.trim().is_empty() || l.contains("not collected") || l.contains(" WARN ")),
        "{summary}"
    );
}

/// `tests/aws/latency_proxy.py` without added latency in front of moto: it
/// counts the requests of the commands pointed at it, per operation.
struct CountingProxy {
    child: std::process::Child,
    url: String,
}

impl CountingProxy {
    fn start(moto: &Moto) -> CountingProxy {
        use std::io::BufRead;
        let mut child = std::process::Command::new(venv_python())
            .arg(root().join("tests/aws/latency_proxy.py"))
            .args(["--upstream", &moto.endpoint(), "--delay-ms", "0"])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("run tests/aws/latency_proxy.py");
        let mut url = String::new();
        let stdout = child.stdout.take().expect("the proxy's stdout");
        std::io::BufReader::new(stdout)
            .read_line(&mut url)
            .expect("the proxy prints its URL");
        CountingProxy {
            child,
            url: url.trim().to_string(),
        }
    }

    /// Requests forwarded so far, by operation (`s3:GET ?location`, …).
    fn counts(&self) -> BTreeMap<String, u64> {
        let out = std::process::Command::new("curl")
            .args(["-s", &format!("{}/__latency_proxy/counts", self.url)])
            .output()
            .expect("run curl");
        serde_json::from_slice(&out.stdout).expect("the proxy answers its counts as JSON")
    }
}

impl Drop for CountingProxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn buckets_are_listed_by_region_without_a_location_call_per_bucket() {
    let moto = Moto::start(&[]);
    let seeded = moto.seed("seed_bucket_regions.py", &["--per-region", "5"]);
    let proxy = CountingProxy::start(&moto);
    let env = Env::new();
    let snapshot = env.path("s3.json");
    let mut cmd = env.cmd();
    moto.env(&mut cmd);
    let out = cmd
        .env("AWS_ENDPOINT_URL", &proxy.url)
        .args(["collect", "--provider", "aws", "--services", "s3"])
        .args(["--region", "us-east-1", "--region", "eu-west-1", "-q", "-o"])
        .arg(&snapshot)
        .output()
        .unwrap();
    let snap: Value = serde_json::from_slice(&std::fs::read(&snapshot).unwrap())
        .unwrap_or_else(|e| panic!("no snapshot ({e}): {}", stderr(&out)));
    let buckets: BTreeSet<(String, String)> = snap["assets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["resource_type"] == "aws_s3_bucket")
        .map(|a| {
            let region = a["region"].as_str().unwrap().to_string();
            (a["name"].as_str().unwrap().to_string(), region)
        })
        .collect();
    let expected: BTreeSet<(String, String)> = ["us-east-1", "eu-west-1"]
        .iter()
        .flat_map(|region| {
            seeded[region]
                .as_array()
                .unwrap()
                .iter()
                .map(|name| (name.as_str().unwrap().to_string(), region.to_string()))
        })
        .collect();
    assert_eq!(buckets, expected, "{snap:#}\n{}", stderr(&out));
    let counts = proxy.counts();
    // One ListBuckets per scanned region, each bucket's region from it.
    assert_eq!(counts.get("s3:GET /"), Some(&2), "{counts:?}");
    assert_eq!(counts.get("s3:GET ?location"), None, "{counts:?}");
    // Ten configuration calls per bucket, the account's block, the listings.
    let s3_calls: u64 = counts
        .iter()
        .filter(|(op, _)| op.starts_with("s3:"))
        .map(|(_, n)| n)
        .sum();
    assert_eq!(s3_calls, 10 * 10 + 1 + 2, "{counts:?}");
}
