//! Compliance: the CIS coverage table in the docs is the one the policies
//! give, every automated CIS control is covered, and the report (JSON, CSV,
//! HTML rendered in headless Chromium) says what the demo scan found.

use std::process::Command;

use serde_json::Value;

use crate::support::{Env, demo, root, stderr};

#[test]
fn the_cis_coverage_table_in_the_docs_is_current_and_complete() {
    let env = Env::new();
    let out = env.run(&[
        "policies",
        "coverage",
        "--framework",
        "cis-aws-v5",
        "--format",
        "markdown",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let generated = String::from_utf8(out.stdout).unwrap();
    let doc = root().join("docs/cis-aws-v5-coverage.md");
    let written = std::fs::read_to_string(&doc).unwrap_or_default();
    assert!(
        written == generated,
        "{} is out of date; regenerate it with\n  stance policies coverage --framework cis-aws-v5 --format markdown -o docs/cis-aws-v5-coverage.md",
        doc.display()
    );

    let (_, v) = env.json(&[
        "policies",
        "coverage",
        "--framework",
        "cis-aws-v5",
        "--format",
        "json",
    ]);
    let controls = v["controls"].as_array().unwrap();
    assert_eq!(controls.len(), 63);
    let uncovered: Vec<&str> = controls
        .iter()
        .filter(|c| c["assessment"] == "automated" && c["coverage"] != "covered")
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert!(
        uncovered.is_empty(),
        "automated controls without a policy: {uncovered:?}"
    );
    assert!(
        controls
            .iter()
            .filter(|c| c["coverage"] == "manual")
            .all(|c| c["why_manual"].as_str().is_some_and(|w| !w.is_empty()))
    );
}

#[test]
fn the_report_shows_controls_resources_and_evidence_and_renders_in_chromium() {
    let env = Env::new();
    let out = env.run(&["scan", "-q", "--snapshot", demo().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    let (code, report) = env.json(&["report", "--framework", "cis-aws-v5", "--format", "json"]);
    assert_eq!(code, 0);
    let control = |id: &str| -> &Value {
        report["controls"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == id)
            .unwrap_or_else(|| panic!("no control {id}"))
    };
    // The cross-resource chain: root-use filter with a notifying alarm passes,
    // the CloudTrail-changes filter misses StopLogging and fails.
    assert_eq!(control("4.3")["status"], "pass");
    assert_eq!(control("4.5")["status"], "fail");
    assert_eq!(
        control("3.1")["status"],
        "fail",
        "the regional EU trail fails 3.1's per-trail policy"
    );
    let mfa = control("1.9");
    assert_eq!(mfa["status"], "fail");
    let failing = &mfa["policies"][0]["resources"];
    assert!(
        failing
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["name"] == "carol.diaz" && !r["evidence"].as_array().unwrap().is_empty()),
        "{failing:#}"
    );
    assert!(
        !mfa["policies"][0]["remediation"]["guidance"]
            .as_str()
            .unwrap()
            .is_empty()
    );
    assert_eq!(control("1.1")["status"], "manual");
    let counts = &report["counts"];
    let judged = ["pass", "fail", "error", "not_covered"]
        .iter()
        .map(|k| counts[*k].as_f64().unwrap())
        .sum::<f64>();
    let score = report["score"].as_f64().unwrap();
    assert!((score - 100.0 * counts["pass"].as_f64().unwrap() / judged).abs() < 1e-9);

    let csv_path = env.path("cis.csv");
    let out = env.run(&[
        "report",
        "--framework",
        "cis-aws-v5",
        "--format",
        "csv",
        "-o",
        csv_path.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let csv = std::fs::read_to_string(&csv_path).unwrap();
    assert!(csv.lines().any(|l| l.starts_with("4.5,")), "{csv}");

    let html_path = env.path("cis.html");
    let out = env.run(&[
        "report",
        "--framework",
        "cis-aws-v5",
        "--format",
        "html",
        "-o",
        html_path.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let html = std::fs::read_to_string(&html_path).unwrap();
    // One self-contained file: no scripts, styles or images fetched from elsewhere.
    for external in [
        "<script src",
        "<link",
        "<img src=\"http",
        "url(http",
        "@import",
    ] {
        assert!(!html.contains(external), "the report loads {external}");
    }

    // Rendered by a real browser: the DOM it builds has the controls, and a screenshot is drawn.
    let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .expect("Chromium is not installed (tests/run.sh installs the Debian package `chromium`)");
    let profile = env.path("chromium-profile");
    let browser = |extra: &[&str]| {
        let mut cmd = Command::new(chromium);
        cmd.args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(format!("file://{}", html_path.display()));
        cmd.output().unwrap()
    };
    let dom = browser(&["--dump-dom"]);
    let dom = String::from_utf8_lossy(&dom.stdout);
    assert!(
        dom.contains("CIS Amazon Web Services Foundations Benchmark"),
        "{dom:.2000}"
    );
    assert!(dom.contains("carol.diaz"));
    let png = env.path("cis.png");
    let shot = browser(&[
        &format!("--screenshot={}", png.display()),
        "--window-size=1280,2400",
    ]);
    let bytes = std::fs::read(&png).unwrap_or_else(|e| {
        panic!(
            "no screenshot ({e}): {}",
            String::from_utf8_lossy(&shot.stderr)
        )
    });
    assert_eq!(&bytes[1..4], b"PNG");
    assert!(
        bytes.len() > 20_000,
        "a near-empty screenshot: {} bytes",
        bytes.len()
    );
    if let Ok(dir) = std::env::var("STANCE_REPORT_SCREENSHOT") {
        // Keep the picture for a human to look at.
        std::fs::copy(&png, dir).unwrap();
    }
}
