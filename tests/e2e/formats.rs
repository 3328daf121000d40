//! SARIF, OCSF and JUnit XML of the demo scan's findings and of detected
//! alerts, each read by a real validator from the test venv (the vendored
//! SARIF 2.1.0 schema with `jsonschema`, `py-ocsf-models`, `junitparser`;
//! `tests/fixtures/schemas/`), with counts that must match what the store
//! lists as JSON; and formats a command cannot write, refused before
//! anything is written.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::support::{Env, demo, root, stderr, venv_python};

/// Run a validator of `tests/fixtures/schemas/` on `file`; its one-line verdict.
fn validate(script: &str, file: &Path) -> String {
    let out = Command::new(venv_python())
        .arg(root().join("tests/fixtures/schemas").join(script))
        .arg(file)
        .output()
        .expect("run the validator");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{script} rejected {}:\n{stdout}{}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("{script}: {}", stdout.trim());
    stdout
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// Run stance writing to `-o FILE`; asserts exit 0.
fn write(env: &Env, args: &[&str], file: &Path) {
    let mut all: Vec<&str> = args.to_vec();
    let file_s = file.display().to_string();
    all.extend(["-o", &file_s]);
    let out = env.run(&all);
    assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
}

fn strings<'a>(values: impl Iterator<Item = &'a Value>) -> BTreeSet<String> {
    values
        .map(|v| v.as_str().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn findings_in_sarif_ocsf_and_junit_pass_their_validators_and_match_the_store() {
    let env = Env::new();
    let demo = demo().display().to_string();
    let scan = env.run(&["scan", "--snapshot", &demo, "--format", "json"]);
    assert_eq!(scan.status.code(), Some(0), "{}", stderr(&scan));
    let (_, listed) = env.json(&["findings", "--format", "json"]);
    let listed = listed.as_array().unwrap().clone();
    assert_eq!(listed.len() as u64, crate::support::DEMO_FAIL);
    let fingerprints = strings(listed.iter().map(|f| &f["fingerprint"]));

    // SARIF: one result per failing finding, one run per account and region.
    let sarif_file = env.path("findings.sarif");
    write(&env, &["findings", "--format", "sarif"], &sarif_file);
    let verdict = validate("validate_sarif.py", &sarif_file);
    assert!(
        verdict.contains(&format!("{} result(s)", listed.len())),
        "{verdict}"
    );
    let sarif = read_json(&sarif_file);
    let runs = sarif["runs"].as_array().unwrap();
    let categories = strings(runs.iter().map(|r| &r["automationDetails"]["id"]));
    let expected: BTreeSet<String> = listed
        .iter()
        .map(|f| {
            let r = &f["resource"];
            format!(
                "stance/{}/{}/",
                r["account"].as_str().unwrap(),
                r["region"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(categories, expected);
    let mut seen = BTreeSet::new();
    for run in runs {
        let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
        for r in run["results"].as_array().unwrap() {
            let index = r["ruleIndex"].as_u64().unwrap() as usize;
            assert_eq!(
                rules[index]["id"], r["ruleId"],
                "ruleIndex points at the rule"
            );
            let arn = &r["locations"][0]["logicalLocations"][0];
            assert_eq!(arn["kind"], "resource");
            assert!(
                arn["fullyQualifiedName"]
                    .as_str()
                    .unwrap()
                    .starts_with("arn:")
            );
            seen.insert(
                r["partialFingerprints"]["stance/v1"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            );
        }
        for rule in rules {
            let sev = rule["properties"]["security-severity"].as_str().unwrap();
            assert!(sev.parse::<f64>().is_ok(), "{sev}");
        }
    }
    assert_eq!(
        seen, fingerprints,
        "every failing finding is a result, once"
    );
    let tagged = runs
        .iter()
        .flat_map(|r| r["tool"]["driver"]["rules"].as_array().unwrap());
    assert!(
        tagged
            .flat_map(|r| r["properties"]["tags"].as_array().unwrap())
            .any(|t| t == "cis-aws-5.0.0:2.1.1"),
        "compliance controls are tags"
    );

    // OCSF: one Compliance Finding per finding, keyed by the fingerprint.
    let ocsf_file = env.path("findings.ocsf.json");
    write(&env, &["findings", "--format", "ocsf"], &ocsf_file);
    let verdict = validate("validate_ocsf.py", &ocsf_file);
    assert!(
        verdict.contains(&format!(
            "{} event(s) (class 2003: {})",
            listed.len(),
            listed.len()
        )),
        "{verdict}"
    );
    let events = read_json(&ocsf_file);
    let events = events.as_array().unwrap();
    assert_eq!(
        strings(events.iter().map(|e| &e["finding_info"]["uid"])),
        fingerprints
    );
    assert!(
        events
            .iter()
            .all(|e| e["activity_id"] == 1 && e["status_id"] == 1)
    );
    for (e, f) in events.iter().zip(&listed) {
        assert_eq!(e["finding_info"]["uid"], f["fingerprint"]);
        assert_eq!(e["resources"][0]["uid"], f["resource"]["id"]);
        assert_eq!(e["cloud"]["account"]["uid"], f["resource"]["account"]);
        let sev = match f["severity"].as_str().unwrap() {
            "critical" => 5,
            "high" => 4,
            "medium" => 3,
            "low" => 2,
            _ => 1,
        };
        assert_eq!(e["severity_id"], sev);
    }

    // JUnit: one test per rule with a result, a failure per failing rule.
    let (_, all) = env.json(&["findings", "--status", "all", "--format", "json"]);
    let mut by_rule: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in all.as_array().unwrap() {
        by_rule
            .entry(f["rule_id"].as_str().unwrap().to_string())
            .or_default()
            .insert(f["status"].as_str().unwrap().to_string());
    }
    let failing = by_rule.values().filter(|s| s.contains("fail")).count();
    let erroring = by_rule
        .values()
        .filter(|s| s.contains("error") && !s.contains("fail"))
        .count();
    let junit_file = env.path("findings.junit.xml");
    write(&env, &["findings", "--format", "junit"], &junit_file);
    let verdict = validate("validate_junit.py", &junit_file);
    assert!(
        verdict.contains(&format!(
            "tests {}, failures {failing}, errors {erroring}, skipped 0",
            by_rule.len()
        )),
        "{verdict}"
    );

    // A second scan of the same scope: the same findings, updated, same uids.
    let again = env.run(&["scan", "--snapshot", &demo, "--format", "json"]);
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    let second = env.path("second.ocsf.json");
    write(&env, &["findings", "--format", "ocsf"], &second);
    validate("validate_ocsf.py", &second);
    let events = read_json(&second);
    let events = events.as_array().unwrap();
    assert_eq!(
        strings(events.iter().map(|e| &e["finding_info"]["uid"])),
        fingerprints
    );
    assert!(
        events
            .iter()
            .all(|e| e["activity_id"] == 2 && e["type_uid"] == 200302),
        "a recurring failure is an update"
    );
}

#[test]
fn scan_writes_sarif_and_junit_itself() {
    let env = Env::new();
    let demo = demo().display().to_string();
    let sarif_file = env.path("scan.sarif");
    let s = sarif_file.display().to_string();
    let out = env.run(&["scan", "--snapshot", &demo, "--format", "sarif", "-o", &s]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let verdict = validate("validate_sarif.py", &sarif_file);
    assert!(
        verdict.contains(&format!("{} result(s)", crate::support::DEMO_FAIL)),
        "{verdict}"
    );
    let junit_file = env.path("scan.xml");
    let j = junit_file.display().to_string();
    let out = env.run(&[
        "scan",
        "--snapshot",
        &demo,
        "--format",
        "junit",
        "-o",
        &j,
        "--fail-on",
        "critical",
    ]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "critical failures: {}",
        stderr(&out)
    );
    let verdict = validate("validate_junit.py", &junit_file);
    assert!(verdict.contains("errors 0, skipped 0"), "{verdict}");
}

#[test]
fn alerts_in_sarif_and_ocsf_pass_their_validators_and_junit_is_refused() {
    let env = Env::new();
    let fixtures = root().join("tests/fixtures/cloudtrail");
    let inputs: Vec<String> = ["delivered", "exports", "bruteforce"]
        .iter()
        .map(|d| fixtures.join(d).display().to_string())
        .collect();
    // CloudTrail Trail Logging Stopped (SigmaHQ's id), silenced with a reason.
    let reason = "maintenance window <CHG-7> & \"ops\"";
    let out = env.run(&[
        "alerts",
        "suppress",
        "--rule",
        "127f43de-e080-5c78-b484-c016784bcbb1",
        "--until",
        "30d",
        "--reason",
        reason,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    // JUnit is refused before the run: nothing is detected, nothing written.
    let refused = env.path("alerts.xml");
    let r = refused.display().to_string();
    let mut args = vec!["detect", "-i"];
    args.extend(inputs.iter().map(String::as_str));
    let out = env.run(&[args.as_slice(), &["--format", "junit", "-o", &r]].concat());
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("--format junit is not available for alerts"),
        "{}",
        stderr(&out)
    );
    assert!(!refused.exists());
    let out = env.run(&["alerts", "--format", "json"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "[]",
        "no run was stored"
    );

    let out = env.run(&[args.as_slice(), &["--format", "json"]].concat());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let (_, listed) = env.json(&["alerts", "--include-suppressed", "--format", "json"]);
    let listed = listed.as_array().unwrap().clone();
    let suppressed = listed
        .iter()
        .filter(|a| !a["suppressed_by"].is_null())
        .count();
    assert!(suppressed > 0 && suppressed < listed.len(), "{listed:#?}");

    let sarif_file = env.path("alerts.sarif");
    write(
        &env,
        &["alerts", "--include-suppressed", "--format", "sarif"],
        &sarif_file,
    );
    let verdict = validate("validate_sarif.py", &sarif_file);
    assert!(
        verdict.contains(&format!("{} result(s)", listed.len())),
        "{verdict}"
    );
    let sarif = read_json(&sarif_file);
    let results: Vec<&Value> = sarif["runs"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["results"].as_array().unwrap())
        .collect();
    let justified: Vec<&Value> = results
        .iter()
        .filter_map(|r| r["suppressions"].get(0))
        .collect();
    assert_eq!(justified.len(), suppressed);
    assert!(
        justified
            .iter()
            .all(|s| s["kind"] == "external" && s["justification"] == reason)
    );

    let ocsf_file = env.path("alerts.ocsf.json");
    write(
        &env,
        &["alerts", "--include-suppressed", "--format", "ocsf"],
        &ocsf_file,
    );
    let verdict = validate("validate_ocsf.py", &ocsf_file);
    assert!(
        verdict.contains(&format!(
            "{} event(s) (class 2004: {})",
            listed.len(),
            listed.len()
        )),
        "{verdict}"
    );
    let events = read_json(&ocsf_file);
    let events = events.as_array().unwrap();
    assert_eq!(
        events.iter().filter(|e| e["status_id"] == 3).count(),
        suppressed,
        "suppressed alerts are Suppressed"
    );
    assert_eq!(
        strings(events.iter().map(|e| &e["finding_info"]["uid"])),
        strings(listed.iter().map(|a| &a["fingerprint"]))
    );

    let out = env.run(&["alerts", "--format", "junit", "-o", &r]);
    assert_eq!(out.status.code(), Some(2));
    assert!(!refused.exists(), "refused before anything is written");
}

#[test]
fn commands_refuse_the_interchange_formats_they_cannot_write() {
    let env = Env::new();
    let demo = demo().display().to_string();
    let out = env.run(&["scan", "--snapshot", &demo, "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    for (args, what) in [
        (&["scans", "--format", "sarif"][..], "scans"),
        (&["assets", "--format", "ocsf"][..], "assets"),
        (&["policies", "list", "--format", "junit"][..], "policies"),
    ] {
        let out = env.run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains(&format!("is not available for {what}")),
            "{args:?}: {}",
            stderr(&out)
        );
    }
}
