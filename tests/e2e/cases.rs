//! Every policy of the built-in pack against its own test cases, through
//! the real wasm plugin (the component embedded in `stance`).

use std::collections::{BTreeMap, BTreeSet};

use stance::catalog;
use stance::devkit::cases as testing;
use stance::model::{Asset, Status};
use stance::runtime::{ComponentCache, Limits, PolicyPlugin, Runtime};

use crate::support::root;

#[test]
fn every_policy_passes_its_cases_in_the_wasm_plugin() {
    let files = catalog::policy_files(true, &[]).unwrap();
    let cache = tempfile::tempdir().unwrap();
    let rt = Runtime::new(ComponentCache::at(cache.path())).unwrap();
    let plugin = PolicyPlugin::load(&rt, catalog::yaml_engine(&files, Limits::default())).unwrap();
    let policy_ids: BTreeSet<String> = plugin.rules.iter().map(|r| r.id.clone()).collect();
    assert!(
        policy_ids.len() >= 25,
        "the starter pack has {} policies",
        policy_ids.len()
    );

    let mut problems = Vec::new();
    // policy id -> statuses its cases expect
    let mut covered: BTreeMap<String, BTreeSet<&'static str>> = BTreeMap::new();
    let mut cases_run = 0;
    let dir = root().join("policies/aws/tests");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    paths.sort();
    for path in paths {
        let file = testing::read(&path).unwrap_or_else(|e| panic!("{e}"));
        for case in &file.cases {
            cases_run += 1;
            let assets: Vec<Asset> = case.assets.iter().map(|a| a.to_asset()).collect();
            let batch: Vec<&Asset> = assets.iter().collect();
            let findings = plugin.evaluate(&batch).unwrap_or_else(|e| {
                panic!(
                    "{}: case {:?}: plugin failed: {e}",
                    path.display(),
                    case.name
                )
            });
            for p in testing::check(case, &findings) {
                problems.push(format!("{}: {:?}: {p}", path.display(), case.name));
            }
            for e in &case.expect {
                if !policy_ids.contains(&e.rule) {
                    problems.push(format!(
                        "{}: {:?}: no policy {}",
                        path.display(),
                        case.name,
                        e.rule
                    ));
                }
                let label = match e.status {
                    Status::Pass => "pass",
                    Status::Fail => "fail",
                    _ => "other",
                };
                covered.entry(e.rule.clone()).or_default().insert(label);
            }
        }
    }
    for id in &policy_ids {
        let statuses = covered.get(id).cloned().unwrap_or_default();
        if !(statuses.contains("pass") && statuses.contains("fail")) {
            problems.push(format!(
                "policy {id} needs at least one passing and one failing case (has {statuses:?})"
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "{} problem(s):\n{}",
        problems.len(),
        problems.join("\n")
    );
    assert!(cases_run >= 2 * policy_ids.len(), "{cases_run} cases");
}

#[test]
fn a_wrong_expectation_is_caught() {
    // The checker itself must be able to fail: flip one expectation.
    let files = catalog::policy_files(true, &[]).unwrap();
    let cache = tempfile::tempdir().unwrap();
    let rt = Runtime::new(ComponentCache::at(cache.path())).unwrap();
    let plugin = PolicyPlugin::load(&rt, catalog::yaml_engine(&files, Limits::default())).unwrap();
    let file =
        testing::read(&root().join("policies/aws/tests/aws-s3-bucket-versioning-enabled.yaml"))
            .unwrap();
    let mut case = file
        .cases
        .into_iter()
        .find(|c| c.expect.iter().any(|e| e.status == Status::Fail))
        .unwrap();
    for e in &mut case.expect {
        e.status = Status::Pass;
    }
    let assets: Vec<Asset> = case.assets.iter().map(|a| a.to_asset()).collect();
    let findings = plugin.evaluate(&assets.iter().collect::<Vec<_>>()).unwrap();
    let problems = testing::check(&case, &findings);
    assert!(
        problems.iter().any(|p| p.contains("to be pass, got fail")),
        "{problems:?}"
    );
}
