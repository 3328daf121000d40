//! Prefilters: `stance detect` hands the Sigma detector only the events its
//! rules can match, and the alerts are the same as with `--no-prefilter`:
//! over the pack's case events and the CloudTrail fixtures, in small batches
//! so that correlation windows cross batch boundaries, with the built-in
//! pack and with the SigmaHQ cloud rules read in place.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use serde_json::Value;

use super::sigmahq;
use crate::support::{Env, root};

/// Every event of the pack's test cases, as NDJSON.
fn case_events() -> String {
    let dir = root().join("policies/cloudtrail/tests");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let mut out = String::new();
    for f in files {
        let doc: serde_norway::Value =
            serde_norway::from_str(&std::fs::read_to_string(&f).unwrap()).unwrap();
        let doc: Value = serde_json::to_value(doc).unwrap();
        for case in doc["cases"].as_array().unwrap() {
            for ev in case["events"].as_array().into_iter().flatten() {
                writeln!(out, "{ev}").unwrap();
            }
        }
    }
    out
}

/// The alerts of a run, comparable across runs, what the detector was
/// handed, the events read, and whether the prefilter screened them.
fn detect(extra: &[&str], prefilter: bool) -> (BTreeSet<String>, u64, u64, bool) {
    let env = Env::new();
    let cases = env.path("cases.ndjson");
    std::fs::write(&cases, case_events()).unwrap();
    let fixtures = root().join("tests/fixtures/cloudtrail");
    let (cases, fixtures) = (cases.display().to_string(), fixtures.display().to_string());
    let mut args = vec![
        "detect",
        "-i",
        &cases,
        &fixtures,
        "--batch-size",
        "7",
        "--format",
        "json",
    ];
    args.extend(extra);
    if !prefilter {
        args.push("--no-prefilter");
    }
    let (code, v) = env.json(&args);
    assert!(code == 0 || code == 1, "{v:#}");
    let alerts = v["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            format!(
                "{} {} {} {} {} {}",
                a["rule_id"],
                a["event_ids"],
                a["group_key"],
                a["window_start"],
                a["window_end"],
                a["message"]
            )
        })
        .collect();
    let d = &v["run"]["detectors"][0];
    let screened = d["prefilter"].as_bool().unwrap();
    assert!(prefilter || !screened, "{d:#}");
    let events = v["run"]["totals"]["events"].as_u64().unwrap();
    (alerts, d["events_in"].as_u64().unwrap(), events, screened)
}

#[test]
fn the_prefilter_hands_over_fewer_events_and_changes_no_alert() {
    // Case events are mostly ones rules are about; with batches of 7, each
    // batch's newest left-out event is handed over too.
    let (with, handed, events, screened) = detect(&[], true);
    assert!(screened, "the built-in pack declares prefilters");
    let (without, all, _, _) = detect(&[], false);
    assert_eq!(
        all, events,
        "without the prefilter every event is handed over"
    );
    assert!(
        handed < events,
        "the built-in pack's prefilter handed over {handed} of {events} events"
    );
    assert!(with.len() > 20, "{with:#?}");
    assert!(
        with.iter().any(|a| a.contains(" event(s)")),
        "correlations fired: {with:#?}"
    );
    assert_eq!(with, without);

    let cloud = sigmahq("").display().to_string();
    let rules = ["--no-builtin-rules", "--rules", &cloud];
    // Some community rules can match any event (keywords, OR of unlike
    // fields): the plugin is then handed everything, and says so.
    let (with, _, _, _) = detect(&rules, true);
    let (without, _, _, _) = detect(&rules, false);
    assert!(!with.is_empty());
    assert_eq!(with, without);
}
