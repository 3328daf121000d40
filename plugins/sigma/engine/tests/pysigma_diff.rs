//! Differential test against pySigma: `tests/sigma/pysigma_diff.py` converts
//! the SigmaHQ AWS rules and the detection rules of Stance's CloudTrail pack
//! with pySigma's SQLite backend, runs the SQL over a CloudTrail corpus and
//! prints the corpus and each rule's matched event ids. This test evaluates
//! the same rule files over the same events with the engine and requires the
//! same match set for every rule pySigma converts, and the same matches
//! again when the events are first screened with the rules' prefilters.
//!
//! It needs the project's Python venv (`tests/aws/moto.sh install`, which
//! `tests/run.sh` runs); without one it says so loudly and does nothing.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Deserialize;
use serde_json::Value;
use stance_sigma_engine::{Engine, EngineConfig, Event, MemoryStore, Prefilter, Screen};

#[derive(Deserialize)]
struct Output {
    pysigma: String,
    backend: String,
    table_rows: usize,
    events: Vec<CorpusEvent>,
    rules: Vec<RuleResult>,
}

#[derive(Deserialize)]
struct CorpusEvent {
    id: String,
    time: String,
    body: Value,
}

#[derive(Deserialize)]
struct RuleResult {
    file: String,
    id: Option<String>,
    #[serde(default)]
    title: Option<String>,
    status: String,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    sql: Vec<String>,
    #[serde(default)]
    matches: Vec<String>,
}

fn repo_root() -> PathBuf {
    common::manifest_dir().join("../../..")
}

fn venv() -> PathBuf {
    match std::env::var_os("STANCE_MOTO_VENV") {
        Some(v) => PathBuf::from(v),
        None => PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
            .join(".cache/stance-build/venv"),
    }
}

#[test]
fn engine_matches_pysigma_sqlite() {
    let python = venv().join("bin/python");
    if !python.exists() {
        eprintln!(
            "\n!!!!!!!! SKIPPED: pySigma differential test: no Python venv at {} \
             (run tests/aws/moto.sh install; tests/run.sh does) !!!!!!!!\n",
            venv().display()
        );
        return;
    }
    let script = repo_root().join("tests/sigma/pysigma_diff.py");
    let out = Command::new(&python)
        .arg(&script)
        .output()
        .expect("runs the pySigma script");
    assert!(
        out.status.success(),
        "{} failed ({}); is pySigma installed in the venv (tests/aws/moto.sh install)?\n{}",
        script.display(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Output = serde_json::from_slice(&out.stdout).expect("the script prints JSON");

    // The same rule files, through the engine.
    let files: BTreeSet<&str> = report.rules.iter().map(|r| r.file.as_str()).collect();
    let sources: Vec<(String, String)> = files
        .iter()
        .map(|f| {
            (
                f.to_string(),
                std::fs::read_to_string(f).expect("rule file"),
            )
        })
        .collect();
    let (engine, errors) = Engine::load(&sources, EngineConfig::default());
    let failed: BTreeMap<&str, String> = errors
        .iter()
        .map(|e| (e.file.as_str(), e.to_string()))
        .collect();

    let events: Vec<Event> = report
        .events
        .iter()
        .map(|e| Event::new(&e.id, "aws_cloudtrail", &e.time, e.body.clone()))
        .collect();
    let mut store = MemoryStore::default();
    let mut matches = engine.evaluate(&events, &mut store);
    matches.extend(engine.flush(&mut store).matches);
    // The prefilter's equality check: the rules that pin fields match the
    // same events when the corpus is first screened with their prefilters.
    let pinned: Vec<(String, Prefilter)> = engine
        .prefilters()
        .into_iter()
        .filter(|(_, p)| matches!(p, Prefilter::AllOf(_)))
        .collect();
    let pinned_ids: BTreeSet<&str> = pinned.iter().map(|(id, _)| id.as_str()).collect();
    let screen = Screen::new(&pinned);
    let kept: Vec<Event> = events
        .iter()
        .filter(|e| screen.admits(&e.body))
        .cloned()
        .collect();
    let mut store = MemoryStore::default();
    let screened = engine.evaluate(&kept, &mut store);
    let of_pinned = |ms: &[stance_sigma_engine::Match]| {
        let mut v: Vec<String> = ms
            .iter()
            .filter(|m| pinned_ids.contains(m.rule_id.as_str()))
            .map(|m| format!("{m:?}"))
            .collect();
        v.sort();
        v
    };
    let (before, after) = (of_pinned(&matches), of_pinned(&screened));
    println!(
        "prefilter: {} of {} rules pin fields; {} of {} events pass their screen; \
         their {} matches identical: {}",
        pinned.len(),
        loaded_count(&engine),
        kept.len(),
        events.len(),
        before.len(),
        before == after
    );
    assert!(
        kept.len() < events.len(),
        "the screen let every event through"
    );
    assert_eq!(
        before, after,
        "screening with the prefilters changed the matches"
    );
    let mut ours: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for m in &matches {
        let set = ours.entry(m.rule_id.as_str()).or_default();
        set.extend(m.event_ids.iter().map(String::as_str));
    }
    let loaded: BTreeSet<&str> = engine.rules().map(|r| r.id.as_str()).collect();

    let mut compared = 0;
    let mut identical = 0;
    let mut matched_any = 0;
    let mut differences = Vec::new();
    println!(
        "pySigma {} with pysigma-backend-sqlite {}: {} events ({} table rows), {} rule files",
        report.pysigma,
        report.backend,
        report.events.len(),
        report.table_rows,
        files.len()
    );
    for r in &report.rules {
        let name = format!(
            "{} ({})",
            r.title.as_deref().unwrap_or("?"),
            Path::new(&r.file)
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
        );
        if r.status != "compared" {
            println!(
                "  not compared: {name}: {} — {}",
                r.status,
                r.reason.as_deref().unwrap_or("")
            );
            continue;
        }
        compared += 1;
        let Some(id) = r.id.as_deref() else {
            differences.push(format!("{name}: pySigma converted a rule without an id"));
            continue;
        };
        if !loaded.contains(id) {
            let why = failed.get(r.file.as_str()).cloned().unwrap_or_default();
            differences.push(format!(
                "{name}: pySigma converts it, the engine does not load it: {why}"
            ));
            continue;
        }
        let theirs: BTreeSet<&str> = r.matches.iter().map(String::as_str).collect();
        let empty = BTreeSet::new();
        let mine = ours.get(id).unwrap_or(&empty);
        if !theirs.is_empty() {
            matched_any += 1;
        }
        if &theirs == mine {
            identical += 1;
        } else {
            differences.push(format!(
                "{name} [{id}]:\n    only pySigma: {:?}\n    only engine:  {:?}\n    SQL: {}",
                theirs.difference(mine).collect::<Vec<_>>(),
                mine.difference(&theirs).collect::<Vec<_>>(),
                r.sql.join(" ; ")
            ));
        }
    }
    println!(
        "{compared} rules compared, {identical} identical ({matched_any} of them matching at least one event), {} different",
        differences.len()
    );
    assert!(compared > 0, "pySigma converted no rule");
    assert!(
        differences.is_empty(),
        "the engine and pySigma disagree:\n{}",
        differences.join("\n")
    );
}

fn loaded_count(engine: &Engine) -> usize {
    engine.rules().count()
}
