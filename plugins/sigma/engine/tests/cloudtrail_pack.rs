//! Runs Stance's own CloudTrail pack (`policies/cloudtrail`) through the
//! engine: every rule must load, every case in `policies/cloudtrail/tests`
//! must produce exactly the matches it expects, and every rule must have at
//! least one positive and one negative case. The case format is described in
//! `policies/cloudtrail/README.md`. Every case gives the same matches when
//! its events are first screened with the rules' prefilters.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;
use stance_sigma_engine::{
    Engine, EngineConfig, Event, Match, MemoryStore, Prefilter, RuleKind, Screen,
};

fn pack_dir() -> PathBuf {
    common::manifest_dir().join("../../../policies/cloudtrail")
}

fn collect(dir: &Path, exts: &[&str], out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            collect(&p, exts, out);
        } else if p
            .extension()
            .and_then(|x| x.to_str())
            .is_some_and(|x| exts.contains(&x))
        {
            out.push(p);
        }
    }
}

fn stem(p: &Path) -> String {
    p.file_stem().unwrap().to_string_lossy().into_owned()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseFile {
    cases: Vec<Case>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    events: Vec<Value>,
    expect: Vec<Expect>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Expect {
    rule: String,
    count: usize,
}

/// The pack's rule files and the engine built from all of them.
struct Pack {
    engine: Engine,
    /// Rule file stem → ids of the rules in it that report matches.
    emitting_by_file: BTreeMap<String, Vec<String>>,
    /// Sigma `name` or `id` → reported id.
    ids: BTreeMap<String, String>,
}

fn load_pack() -> Pack {
    let rules_dir = pack_dir().join("rules");
    let mut files = Vec::new();
    collect(&rules_dir, &["yml", "yaml"], &mut files);
    files.sort();
    let sources: Vec<(String, String)> = files
        .iter()
        .map(|p| {
            let name = p.strip_prefix(&rules_dir).unwrap().display().to_string();
            (
                name,
                std::fs::read_to_string(p).expect("rule file is readable"),
            )
        })
        .collect();
    let (engine, errors) = Engine::load(&sources, EngineConfig::default());
    assert!(
        errors.is_empty(),
        "every pack rule must load:\n{}",
        errors
            .iter()
            .map(|e| format!("  {e}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    let mut emitting_by_file: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut ids = BTreeMap::new();
    for r in engine.rules() {
        let file = stem(Path::new(&r.source));
        let entry = emitting_by_file.entry(file).or_default();
        if r.emits {
            entry.push(r.id.clone());
        }
        ids.insert(r.id.clone(), r.id.clone());
        if let Some(n) = &r.meta.name {
            assert!(
                ids.insert(n.clone(), r.id.clone()).is_none(),
                "rule name {n} is used twice"
            );
        }
    }
    Pack {
        engine,
        emitting_by_file,
        ids,
    }
}

fn is_uuid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.iter().map(|p| p.len()).collect::<Vec<_>>() == [8, 4, 4, 4, 12]
        && parts.iter().all(|p| {
            p.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        })
}

#[test]
fn pack_rules_are_complete_sigma_rules() {
    let pack = load_pack();
    let mut problems = Vec::new();
    let mut emitting = 0;
    for r in pack.engine.rules() {
        let m = &r.meta;
        let who = format!("{} ({})", m.title, r.source);
        if !m.id.as_deref().is_some_and(is_uuid) {
            problems.push(format!("{who}: id is not a lowercase UUID"));
        }
        if m.author.as_deref() != Some("Stance") {
            problems.push(format!("{who}: author is not Stance"));
        }
        if m.description.as_deref().unwrap_or("").len() < 20 {
            problems.push(format!("{who}: no real description"));
        }
        if m.level.is_none() || m.falsepositives.is_empty() || m.references.is_empty() {
            problems.push(format!("{who}: needs level, falsepositives and references"));
        }
        if !m.tags.iter().any(|t| {
            t.strip_prefix("attack.t")
                .is_some_and(|n| n.starts_with(|c: char| c.is_ascii_digit()))
        }) {
            problems.push(format!("{who}: no ATT&CK technique tag (attack.tNNNN)"));
        }
        if r.kind == RuleKind::Detection
            && (m.logsource.product.as_deref() != Some("aws")
                || m.logsource.service.as_deref() != Some("cloudtrail"))
        {
            problems.push(format!("{who}: logsource is not aws/cloudtrail"));
        }
        if r.emits {
            emitting += 1;
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    println!("{emitting} rules report alerts");
    assert!(
        emitting >= 40,
        "the pack has {emitting} alerting rules, fewer than 40"
    );
}

fn event_of(v: &Value, case: &str) -> Event {
    let id = v["eventID"]
        .as_str()
        .unwrap_or_else(|| panic!("case '{case}': an event has no eventID"));
    let time = v["eventTime"]
        .as_str()
        .unwrap_or_else(|| panic!("case '{case}': event {id} has no eventTime"));
    Event::new(id, "aws_cloudtrail", time, v.clone())
}

#[test]
fn pack_cases_pass_and_cover_every_rule() {
    let pack = load_pack();
    let tests_dir = pack_dir().join("tests");
    let mut files = Vec::new();
    collect(&tests_dir, &["yaml", "yml"], &mut files);
    files.sort();

    let prefilters = pack.engine.prefilters();
    let screen = Screen::new(&prefilters);
    let pinned = prefilters
        .iter()
        .filter(|(_, p)| matches!(p, Prefilter::AllOf(_)))
        .count();
    println!("{pinned} of {} rules pin fields", prefilters.len());
    for (id, p) in &prefilters {
        if matches!(p, Prefilter::Any) {
            println!("  any event: {id}");
        }
    }
    let mut screened_out = 0;
    let mut failures = Vec::new();
    let mut positive: BTreeSet<String> = BTreeSet::new();
    let mut negative: BTreeSet<String> = BTreeSet::new();
    let mut n_cases = 0;
    let mut tested_files = BTreeSet::new();
    for path in &files {
        let file = stem(path);
        let Some(own) = pack.emitting_by_file.get(&file) else {
            failures.push(format!("{}: no rule file is named {file}", path.display()));
            continue;
        };
        tested_files.insert(file.clone());
        let text = std::fs::read_to_string(path).unwrap();
        let cf: CaseFile = serde_norway::from_str(&text)
            .unwrap_or_else(|e| panic!("{}: not a case file: {e}", path.display()));
        for case in &cf.cases {
            n_cases += 1;
            let at = format!("{file}: case '{}'", case.name);
            let events: Vec<Event> = case.events.iter().map(|v| event_of(v, &at)).collect();
            let ids: BTreeSet<&str> = events.iter().map(|e| e.id.as_str()).collect();
            if ids.len() != events.len() {
                failures.push(format!("{at}: eventIDs repeat within the case"));
            }
            let matches = run(&pack.engine, &events);
            let kept: Vec<Event> = events
                .iter()
                .filter(|e| screen.admits(&e.body))
                .cloned()
                .collect();
            screened_out += events.len() - kept.len();
            if sorted(&run(&pack.engine, &kept)) != sorted(&matches) {
                failures.push(format!("{at}: screened events give other matches"));
            }
            let mut got: BTreeMap<&str, usize> = BTreeMap::new();
            for m in &matches {
                *got.entry(m.rule_id.as_str()).or_default() += 1;
            }
            let mut expected: BTreeMap<String, usize> = BTreeMap::new();
            for e in &case.expect {
                match pack.ids.get(&e.rule) {
                    Some(id) => {
                        expected.insert(id.clone(), e.count);
                    }
                    None => failures.push(format!("{at}: expects unknown rule {}", e.rule)),
                }
            }
            // The file's own rules match exactly as listed (absent = 0); other
            // rules of the pack are checked only when listed.
            let checked: BTreeSet<&String> = own.iter().chain(expected.keys()).collect();
            for id in checked {
                let want = expected.get(id).copied().unwrap_or(0);
                let have = got.get(id.as_str()).copied().unwrap_or(0);
                if want != have {
                    let detail: Vec<String> = matches
                        .iter()
                        .filter(|m| &m.rule_id == id)
                        .map(|m| format!("{:?} {:?}", m.group_key, m.event_ids))
                        .collect();
                    failures.push(format!(
                        "{at}: rule {id} matched {have} times, expected {want} {detail:?}"
                    ));
                }
                if own.contains(id) {
                    if want > 0 {
                        positive.insert(id.clone());
                    } else {
                        negative.insert(id.clone());
                    }
                }
            }
        }
    }
    for (file, own) in &pack.emitting_by_file {
        if !tested_files.contains(file) {
            failures.push(format!("rule file {file} has no tests/{file}.yaml"));
        }
        for id in own {
            if !positive.contains(id) {
                failures.push(format!("{file}: rule {id} has no positive case"));
            }
            if !negative.contains(id) {
                failures.push(format!("{file}: rule {id} has no negative case"));
            }
        }
    }
    println!(
        "{n_cases} cases in {} files; {} rules with positive and negative cases; \
         {screened_out} case events screened out, matches unchanged",
        files.len(),
        positive.intersection(&negative).count()
    );
    assert!(screened_out > 0, "the prefilters screened out no event");
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The matches of `events` as one batch, then the end of input.
fn run(engine: &Engine, events: &[Event]) -> Vec<Match> {
    let mut store = MemoryStore::default();
    let mut matches = engine.evaluate(events, &mut store);
    matches.extend(engine.flush(&mut store).matches);
    matches
}

/// Matches in a stable order: windows closed by the batch or at the end
/// come out in a different order when fewer events moved time on.
fn sorted(matches: &[Match]) -> Vec<String> {
    let mut out: Vec<String> = matches.iter().map(|m| format!("{m:?}")).collect();
    out.sort();
    out
}
