//! How long a policy plugin's instance lives: a fresh one per batch unless
//! the plugin declares itself stateless (`stateless = true`), then one per
//! evaluation thread for the batches of one scan, never shared by two
//! scans or two plugins, and replaced after a trap. The hostile guest's
//! `count` mode numbers the calls each instance served.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use serde_json::Value;
use stance::collect::snapshot;
use stance::model::Asset;
use stance::runtime::{ComponentCache, EvaluationPlan, Limits, PluginSource, PolicyPlugin, Reuse};
use stance::runtime::{Runtime, World};

use crate::support::{Env, count, demo, guest, stderr};

/// Assets of the demo the hostile plugin reads (its rule reads every type):
/// the 111 of the snapshot and the derived account context.
const DEMO_ASSETS: usize = 112;
/// Batches of 10 over them.
const BATCHES: u64 = 12;

/// `call N of this instance` → N.
fn call_number(message: &str) -> u64 {
    message
        .strip_prefix("call ")
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("not a counted message: {message:?}"))
}

/// A scan of the demo with the counting plugin, in batches of 10 on one
/// thread; returns the report.
fn counted_scan(env: &Env, manifest_lines: &str) -> Value {
    let manifest = env.manifest(
        "counter",
        &guest("stance-hostile-guest"),
        &format!("{manifest_lines}\n[settings]\nmode = \"count\"\n"),
    );
    let demo = demo();
    let (_, report) = env.json(&[
        "scan",
        "--snapshot",
        demo.to_str().unwrap(),
        "--no-builtin-policies",
        "--plugin",
        manifest.to_str().unwrap(),
        "--batch-size",
        "10",
        "--jobs",
        "1",
        "--format",
        "json",
        "-q",
    ]);
    report
}

/// The call number of each asset's result in the report.
fn calls_by_asset(report: &Value) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for f in report["findings"].as_array().unwrap() {
        if f["rule_id"] == "hostile-any-asset" && f["status"] == "fail" {
            let id = f["resource"]["id"].as_str().unwrap().to_string();
            out.insert(id, call_number(f["message"].as_str().unwrap()));
        }
    }
    out
}

#[test]
fn an_instance_serves_several_batches_only_when_the_plugin_declares_itself_stateless() {
    // Not declared: every batch on a fresh instance, each its first call.
    let env = Env::new();
    let report = counted_scan(&env, "");
    let calls = calls_by_asset(&report);
    assert_eq!(calls.len(), DEMO_ASSETS, "{report:#}");
    assert!(calls.values().all(|n| *n == 1), "{calls:?}");

    // Declared: one thread, one instance for the scan's twelve batches.
    let env = Env::new();
    let report = counted_scan(&env, "stateless = true");
    let calls = calls_by_asset(&report);
    assert_eq!(calls.len(), DEMO_ASSETS, "{report:#}");
    let numbers: BTreeSet<u64> = calls.values().copied().collect();
    assert_eq!(numbers, (1..=BATCHES).collect(), "{calls:?}");
    assert_eq!(count(&report, "error"), 0);

    // A value that is not a boolean is refused, naming the field.
    let env = Env::new();
    let manifest = env.manifest(
        "counter",
        &guest("stance-hostile-guest"),
        "stateless = \"yes\"\n[settings]\nmode = \"count\"\n",
    );
    let out = env.run(&[
        "scan",
        "--snapshot",
        demo().to_str().unwrap(),
        "--plugin",
        manifest.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("stateless"), "{}", stderr(&out));
}

#[test]
fn a_trap_drops_the_instance_and_the_next_batch_runs_on_a_fresh_one() {
    let env = Env::new();
    let plain_report = counted_scan(&env, "stateless = true");
    let plain = calls_by_asset(&plain_report);
    // An asset of the eighth batch: its instance has served seven calls.
    let k = 8;
    let (target, _) = plain.iter().find(|(_, n)| **n == k).unwrap();
    let target_results = plain_report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["resource"]["id"] == target.as_str())
        .count() as u64;
    let env = Env::new();
    let manifest = env.manifest(
        "counter",
        &guest("stance-hostile-guest"),
        &format!("stateless = true\n[settings]\nmode = \"count\"\ntrigger_asset = \"{target}\"\n"),
    );
    let (code, report) = env.json(&[
        "scan",
        "--snapshot",
        demo().to_str().unwrap(),
        "--no-builtin-policies",
        "--plugin",
        manifest.to_str().unwrap(),
        "--batch-size",
        "10",
        "--jobs",
        "1",
        "--format",
        "json",
        "-q",
    ]);
    assert_eq!(code, 2);
    // The panic costs the asset alone (each of its rules), found by bisection.
    let failures = report["scan"]["failures"].as_array().unwrap();
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert_eq!(failures[0]["assets"], 1, "{failures:?}");
    assert_eq!(count(&report, "error"), target_results);
    let calls = calls_by_asset(&report);
    assert_eq!(
        calls.len(),
        DEMO_ASSETS - 1,
        "every other asset has its result"
    );
    // Before the trap: the same instance as without it.
    for (id, n) in &plain {
        if *n < k {
            assert_eq!(calls.get(id), Some(n), "{id}");
        }
    }
    // The batch after it runs on an instance started after the trap (the
    // bisection's last, whose count started again from 1), never on the
    // trapped one, whose next call would be call k + 1.
    let next: BTreeSet<u64> = plain
        .iter()
        .filter(|(_, n)| **n == k + 1)
        .map(|(id, _)| calls[id])
        .collect();
    assert_eq!(next.len(), 1, "{next:?}");
    assert!(
        next.iter().all(|n| *n < k),
        "{next:?} after a trap in call {k}"
    );
}

/// The counting plugin, stateless, loaded once per call of this function:
/// two loads are two plugins.
fn counter(rt: &Runtime) -> PolicyPlugin {
    let src = PluginSource {
        origin: "counter".into(),
        bytes: std::fs::read(guest("stance-hostile-guest")).unwrap().into(),
        settings: serde_json::json!({"mode": "count"}),
        limits: Limits::default(),
        reuse: Reuse::PerScan,
    };
    PolicyPlugin::load(rt, src).unwrap()
}

#[test]
fn no_instance_is_shared_by_two_scans_or_two_plugins() {
    let cache = tempfile::tempdir().unwrap();
    let rt = Runtime::new(ComponentCache::at(cache.path())).unwrap();
    let plugins = vec![counter(&rt), counter(&rt)];
    assert!(plugins.iter().all(|p| p.world == World::Policy));
    let snapshot = snapshot::read(&demo()).unwrap();
    let assets: Vec<&Asset> = snapshot.assets.iter().collect();
    let batches = assets.len().div_ceil(10) as u64;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    // The same loaded plugins through two runs, as `stance watch` scans.
    for run in 0..2 {
        let plan = EvaluationPlan::new(&plugins, &assets, 10);
        let seen: Mutex<BTreeMap<usize, BTreeSet<u64>>> = Mutex::default();
        pool.install(|| {
            plan.run(&plugins, |outcome| {
                assert!(outcome.failures.is_empty(), "{:?}", outcome.failures);
                let mut seen = seen.lock().unwrap();
                let calls = seen.entry(outcome.plugin).or_default();
                calls.extend(outcome.findings.iter().map(|f| call_number(&f.message)));
            })
        });
        let seen = seen.into_inner().unwrap();
        for plugin in 0..2 {
            // Each plugin's instance counted its own batches of this run
            // from 1: neither the other plugin's nor the last run's.
            assert_eq!(
                seen[&plugin],
                (1..=batches).collect::<BTreeSet<u64>>(),
                "run {run}, plugin {plugin}"
            );
        }
    }
}
