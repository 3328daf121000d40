//! Mutes and `--fail-on-new`: a mute hides a failure, counts it apart and
//! keeps it out of `--fail-on`; a mute expiring between scans (the clock
//! moved with libfaketime); CI gating over three scans; bad mute files
//! refused with file, line and field and nothing stored; `mutes add`,
//! `list` and `audit`.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

use crate::support::{DEMO_FAIL, Env, demo, stderr};

const SCRATCH: &str = "arn:aws:s3:::acme-eu-analytics-scratch";
const VERSIONING: &str = "aws-s3-bucket-versioning-enabled";

/// One mute on the scratch bucket's versioning finding, and one on every
/// critical failure of the demo, both ending on 2027-03-31.
const MUTES: &str = "\
# accepted risks of the demo account
- id: scratch-versioning
  rules: [aws-s3-bucket-versioning-enabled]
  resources: ['arn:aws:s3:::acme-*-scratch']
  reason: scratch buckets are disposable (RISK-142)
  owner: data-platform
  expires: 2027-03-31
- id: criticals
  rules: ['aws-*-snapshot-not-public', aws-iam-role-trust-no-public-principal, aws-s3-bucket-no-public-policy]
  resources: ['*']
  regions: [us-east-1, global]
  reason: reviewed with the CISO (RISK-7)
  expires: 2027-03-31
";

fn write(env: &Env, name: &str, text: &str) -> String {
    let path = env.path(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

fn scan_count(env: &Env) -> usize {
    let (_, v) = env.json(&["scans", "--format", "json"]);
    v.as_array().unwrap().len()
}

/// `stance ARGS` at a fixed time of day on `day` (libfaketime).
fn on_day(env: &Env, day: &str, args: &[&str]) -> Output {
    let cmd = env.cmd();
    let program = cmd.get_program().to_owned();
    let mut faked = Command::new("faketime");
    faked.arg(format!("{day} 12:00:00")).arg(program).args(args);
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => faked.env(k, v),
            None => faked.env_remove(k),
        };
    }
    faked.current_dir(cmd.get_current_dir().unwrap_or(Path::new(".")));
    faked
        .output()
        .expect("run faketime (Debian package faketime)")
}

fn json_of(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "no JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            stderr(out)
        )
    })
}

fn listed(v: &Value, rule: &str, resource: &str) -> Option<Value> {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule_id"] == rule && f["resource"]["id"] == resource)
        .cloned()
}

#[test]
fn a_muted_failure_is_hidden_counted_apart_and_kept_out_of_fail_on() {
    let env = Env::new();
    let mutes = write(&env, "mutes.yaml", MUTES);
    let demo = demo();
    let demo = demo.to_str().unwrap();
    let base = [
        "scan",
        "--snapshot",
        demo,
        "--format",
        "json",
        "--fail-on",
        "critical",
    ];

    // Without the mutes the criticals trip --fail-on critical.
    let out = on_day(&env, "2027-03-30", &base);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let plain = json_of(&out);
    assert!(listed(&plain, VERSIONING, SCRATCH).is_some());

    let mut args = base.to_vec();
    args.extend(["--mutes", &mutes]);
    let out = on_day(&env, "2027-03-30", &args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "muted criticals do not trip --fail-on: {}",
        stderr(&out)
    );
    let v = json_of(&out);
    assert!(
        listed(&v, VERSIONING, SCRATCH).is_none(),
        "a muted failure is hidden"
    );
    let totals = &v["scan"]["totals"];
    assert_eq!(totals["muted"], 5, "{totals}");
    assert_eq!(totals["by_status"]["fail"], DEMO_FAIL, "status stays fail");
    assert!(
        totals["failed_by_severity"]["critical"].is_null(),
        "{totals}"
    );
    assert_eq!(v["scan"]["mutes"]["muted"], 5);
    assert_eq!(v["scan"]["mutes"]["in_force"], 2);
    let summary = stderr(&out);
    assert!(
        summary.is_empty() || summary.contains("muted 5"),
        "{summary}"
    );

    // --show-muted lists them with the mute; `findings` hides them too.
    args.push("--show-muted");
    let v = json_of(&on_day(&env, "2027-03-30", &args));
    let f = listed(&v, VERSIONING, SCRATCH).expect("--show-muted lists it");
    assert_eq!(f["status"], "fail");
    assert_eq!(f["muted_by"]["id"], "scratch-versioning");
    assert_eq!(
        f["muted_by"]["reason"],
        "scratch buckets are disposable (RISK-142)"
    );
    assert_eq!(f["muted_by"]["expires"], "2027-03-31");
    let (code, rows) = env.json(&["findings", "--format", "json", "--fail-on", "critical"]);
    assert_eq!(code, 0);
    assert_eq!(rows.as_array().unwrap().len() as u64, DEMO_FAIL - 5);
    let (_, rows) = env.json(&["findings", "--format", "json", "--show-muted"]);
    assert_eq!(rows.as_array().unwrap().len() as u64, DEMO_FAIL);
    let table = env.run(&["findings", "--show-muted", "--rule", VERSIONING]);
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(text.contains("muted (scratch-versioning)"), "{text}");
}

#[test]
fn a_mute_expires_on_its_end_date_and_the_summary_names_it() {
    let env = Env::new();
    let mutes = write(&env, "mutes.yaml", MUTES);
    let demo = demo();
    let args = [
        "scan",
        "--snapshot",
        demo.to_str().unwrap(),
        "--mutes",
        &mutes,
        "--format",
        "json",
    ];
    let muted_of = |day: &str| {
        let out = on_day(&env, day, &args);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let v = json_of(&out);
        (v, stderr(&out))
    };
    let (before, _) = muted_of("2027-03-30");
    assert!(
        listed(&before, VERSIONING, SCRATCH).is_none(),
        "muted the day before"
    );
    assert_eq!(before["scan"]["mutes"]["expired"], serde_json::json!([]));

    // On the end date it fails again, and --fail-on-new counts it: it was
    // muted in the previous scan.
    let mut gated = args.to_vec();
    gated.push("--fail-on-new");
    let out = on_day(&env, "2027-03-31", &gated);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!("{SCRATCH} (unmuted)")),
        "{}",
        stderr(&out)
    );
    let on_the_day = json_of(&out);
    let f = listed(&on_the_day, VERSIONING, SCRATCH).expect("failing again on the end date");
    assert!(f.get("muted_by").is_none());
    assert_eq!(f["lifecycle"], "recurring");

    let (after, _) = muted_of("2027-04-01");
    assert!(
        listed(&after, VERSIONING, SCRATCH).is_some(),
        "failing the day after"
    );
    let expired = &after["scan"]["mutes"]["expired"];
    assert_eq!(expired[0]["id"], "scratch-versioning");
    assert_eq!(expired[0]["expires"], "2027-03-31");
    assert_eq!(expired[0]["failing"], 1);
    assert_eq!(after["scan"]["totals"]["muted"], 0);

    // The human summary says it (stderr, without -q).
    let table = [
        "scan",
        "--snapshot",
        demo.to_str().unwrap(),
        "--mutes",
        &mutes,
    ];
    let out = on_day(&env, "2027-04-01", &table);
    let summary = stderr(&out);
    assert!(
        summary.contains(
            "mute scratch-versioning expired on 2027-03-31: 1 finding(s) it covered fail again"
        ),
        "{summary}"
    );
}

fn asset_mut<'a>(snapshot: &'a mut Value, name: &str) -> &'a mut Value {
    snapshot["assets"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|a| a["name"] == name)
        .unwrap_or_else(|| panic!("no asset {name}"))
}

#[test]
fn fail_on_new_counts_only_new_unmuted_failures_across_three_scans() {
    let env = Env::new();
    let original: Value = serde_json::from_slice(&std::fs::read(demo()).unwrap()).unwrap();
    let first = write(&env, "s1.json", &original.to_string());
    let mut worse = original.clone();
    asset_mut(&mut worse, "acme-prod-app-data")["body"]["logging"]["enabled"] = false.into();
    let third = write(&env, "s3.json", &worse.to_string());
    let gate = |snapshot: &str, extra: &[&str]| {
        let mut args = vec![
            "scan",
            "--snapshot",
            snapshot,
            "--fail-on-new",
            "--format",
            "csv",
        ];
        args.extend(extra);
        let out = env.run(&args);
        (out.status.code(), stderr(&out))
    };
    // 1: the scope's first scan: every failure is new.
    let (code, err) = gate(&first, &[]);
    assert_eq!(code, Some(1), "{err}");
    // 2: the same snapshot again: nothing new.
    let (code, err) = gate(&first, &[]);
    assert_eq!(code, Some(0), "{err}");
    // 3: one more failing resource: new.
    let (code, err) = gate(&third, &[]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("arn:aws:s3:::acme-prod-app-data (new)"),
        "{err}"
    );
    // The new failure is medium: below --fail-on high it does not count.
    let (code, err) = gate(&third, &["--fail-on", "high"]);
    assert_eq!(code, Some(0), "{err}");
    // `findings --fail-on-new` judges a stored scan the same way.
    let out = env.run(&[
        "findings",
        "--scan",
        "3",
        "--fail-on-new",
        "--format",
        "csv",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let out = env.run(&[
        "findings",
        "--scan",
        "2",
        "--fail-on-new",
        "--format",
        "csv",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn bad_mute_files_are_refused_with_file_line_and_field_and_nothing_is_stored() {
    let env = Env::new();
    let demo = demo();
    let demo = demo.to_str().unwrap();
    assert_eq!(
        env.run(&["scan", "--snapshot", demo, "-q", "--format", "csv"])
            .status
            .code(),
        Some(0)
    );
    let head = "- id: a\n  rules: [aws-s3-bucket-versioning-enabled]\n  resources: ['*']\n";
    let cases: &[(&str, String, &str, &str)] = &[
        ("bad date", format!("{head}  reason: x\n  expires: 2027-02-30\n"), ":5:", "`expires`"),
        ("unknown key", format!("{head}  reason: x\n  expires: 2027-01-01\n  owners: me\n"), ":6:", "owners"),
        ("bad regex", "- id: a\n  rules: [r*]\n  resources: ['re:arn:(']\n  reason: x\n  expires: 2027-01-01\n".into(), ":3:", "`resources`"),
        ("empty reason", format!("{head}  reason: ''\n  expires: 2027-01-01\n"), ":4:", "`reason`"),
        ("no expiry", format!("{head}  reason: x\n"), ":1:", "`expires`"),
        ("unknown rule", "- id: a\n  rules: [aws-s3-bucket-versioning-enabld]\n  resources: ['*']\n  reason: x\n  expires: 2027-01-01\n".into(), ":2:", "no loaded rule"),
        ("not a list", "id: a\n".into(), ":1:", "YAML list"),
    ];
    for (what, text, line, field) in cases {
        let path = write(&env, "bad.yaml", text);
        let out = env.run(&["scan", "--snapshot", demo, "--mutes", &path]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{what}: {err}");
        assert!(
            err.contains(&format!("{path}{line}")),
            "{what}: names file and line: {err}"
        );
        assert!(err.contains(field), "{what}: names the field: {err}");
        assert_eq!(scan_count(&env), 1, "{what}: nothing stored");
    }
    let missing = env.path("missing.yaml");
    let out = env.run(&[
        "scan",
        "--snapshot",
        demo,
        "--mutes",
        missing.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2), "a named mute file must exist");
    assert!(stderr(&out).contains("missing.yaml"), "{}", stderr(&out));
    assert_eq!(scan_count(&env), 1);
}

#[test]
fn mutes_add_appends_keeps_comments_and_audit_reports_problems() {
    let env = Env::new();
    let dir = env.dir.path();
    let file = dir.join(".stance/mutes.yaml");
    let run_here = |args: &[&str]| {
        let out = env.cmd().current_dir(dir).args(args).output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr(&out),
        )
    };
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(&file, "# reviewed by the platform team\n").unwrap();
    let (code, out, err) = run_here(&[
        "mutes",
        "add",
        "--rule",
        VERSIONING,
        "--resource",
        "arn:aws:s3:::acme-*-scratch",
        "--reason",
        "scratch buckets are disposable (RISK-142)",
        "--owner",
        "data-platform",
        "--expires",
        "2099-03-31",
    ]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("added mute mute-1"), "{out}");
    let (code, _, err) = run_here(&[
        "mutes",
        "add",
        "--rule",
        "aws-ec2-*",
        "--resource",
        "arn:aws:ec2:*:*:instance/i-nothing",
        "--reason",
        "lab instances",
        "--allow-permanent",
        "--tag",
        "Environment=lab",
    ]);
    assert_eq!(code, Some(0), "{err}");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        text.starts_with("# reviewed by the platform team\n- id: mute-1\n"),
        "{text}"
    );
    assert!(text.contains("permanent: true"), "{text}");
    // Refused: no end date without --allow-permanent; the file is unchanged.
    let (code, _, err) = run_here(&[
        "mutes",
        "add",
        "--rule",
        "x",
        "--resource",
        "*",
        "--reason",
        "r",
    ]);
    assert_eq!(code, Some(2), "{err}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), text);

    let (code, out, _) = run_here(&["mutes", "list", "--format", "json"]);
    assert_eq!(code, Some(0));
    let list: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(list[0]["state"], "active");
    assert_eq!(list[1]["state"], "permanent");

    // The default file applies to a scan run in that directory.
    let demo = demo();
    let (code, out, err) = run_here(&[
        "scan",
        "--snapshot",
        demo.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(code, Some(0), "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["scan"]["totals"]["muted"], 1);

    // The audit: mute-2 matches nothing and has no owner.
    let (code, out, err) = run_here(&["mutes", "audit", "--format", "json"]);
    assert_eq!(code, Some(1), "problems exit 1: {err}");
    let audit: Value = serde_json::from_str(&out).unwrap();
    let problems: Vec<(String, String)> = audit["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["mute"].as_str().unwrap().into(),
                p["kind"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        problems,
        [
            ("mute-2".to_string(), "no-owner".to_string()),
            ("mute-2".into(), "unmatched".into())
        ]
    );
    let (code, out, _) = run_here(&["mutes", "audit"]);
    assert_eq!(code, Some(1));
    assert!(
        out.contains("unmatched") && out.contains("no-owner"),
        "{out}"
    );
}

/// The versioning policy in the SOC 2 report of the latest scan, or `--scan N`.
fn versioning_policy(env: &Env, scan: &str) -> Value {
    let (code, report) = env.json(&[
        "report",
        "--framework",
        "soc2",
        "--format",
        "json",
        "--scan",
        scan,
    ]);
    assert_eq!(code, 0);
    report["controls"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["policies"].as_array().unwrap())
        .find(|p| p["rule_id"] == VERSIONING)
        .cloned()
        .expect("the versioning policy is mapped to SOC 2")
}

#[test]
fn a_compliance_report_lists_a_muted_failure_with_its_reason_apart_from_the_failures() {
    let env = Env::new();
    let mutes = write(&env, "mutes.yaml", MUTES);
    let demo = demo();
    let scan = ["scan", "--snapshot", demo.to_str().unwrap(), "-q"];
    on_day(&env, "2027-03-30", &scan);
    let mut muted_scan = scan.to_vec();
    muted_scan.extend(["--mutes", &mutes]);
    on_day(&env, "2027-03-30", &muted_scan);

    let before = versioning_policy(&env, "1");
    let after = versioning_policy(&env, "2");
    let fail = before["fail"].as_u64().unwrap();
    assert!(fail >= 1, "{before}");
    assert_eq!(before["muted"], 0);
    assert_eq!(after["fail"].as_u64(), Some(fail - 1), "{after}");
    assert_eq!(after["muted"], 1, "{after}");
    let resources = after["resources"].as_array().unwrap();
    let last = resources.last().unwrap();
    assert_eq!(last["id"], SCRATCH, "muted resources come last: {after}");
    assert_eq!(last["muted_by"]["id"], "scratch-versioning");
    assert_eq!(
        last["muted_by"]["reason"],
        "scratch buckets are disposable (RISK-142)"
    );
    assert!(
        resources[..resources.len() - 1]
            .iter()
            .all(|r| r.get("muted_by").is_none())
    );

    let html = env.run(&["report", "--framework", "soc2", "--format", "html"]);
    let html = String::from_utf8_lossy(&html.stdout);
    assert!(
        html.contains("muted (accepted risk)"),
        "the policy's counts say so"
    );
    assert!(html.contains("scratch buckets are disposable (RISK-142)"));
    let table = env.run(&["report", "--framework", "soc2"]);
    let table = String::from_utf8_lossy(&table.stdout);
    assert!(table.contains("muted failure(s) left out"), "{table}");
}
