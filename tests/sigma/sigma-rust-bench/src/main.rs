//! The sigma-rust peer of `tests/sigma/bench_detect.py`: loads every Sigma
//! rule file of a directory (not its subdirectories) with `sigma-rust`, then
//! reads the `.json.gz` CloudTrail files listed in a file (one path a line),
//! gunzips and parses each, and checks every record against every rule on
//! one thread. Prints one JSON object: rules loaded and refused, events,
//! bytes, matches per rule and the seconds spent (reading, gunzip, parsing
//! and matching all included; rule loading apart).
//!
//!     sigma-rust-bench RULES_DIR FILE_LIST

use std::collections::BTreeMap;
use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use flate2::read::GzDecoder;
use serde::Deserialize;

#[derive(Deserialize)]
struct Records {
    #[serde(rename = "Records")]
    records: Vec<serde_json::Value>,
}

/// Rules loaded (by file stem) and the files refused, with why.
type Loaded = (Vec<(String, sigma_rust::Rule)>, Vec<String>);

fn rules(dir: &str) -> Result<Loaded, String> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("{dir}: {e}"))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yml" || x == "yaml"))
        .collect();
    paths.sort();
    let (mut loaded, mut refused) = (Vec::new(), Vec::new());
    for p in paths {
        let name = p
            .file_stem()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let text = std::fs::read_to_string(&p).map_err(|e| format!("{}: {e}", p.display()))?;
        match sigma_rust::rule_from_yaml(&text) {
            Ok(r) => loaded.push((name, r)),
            Err(e) => refused.push(format!("{name}: {e}")),
        }
    }
    Ok((loaded, refused))
}

fn run(rules_dir: &str, list: &str) -> Result<serde_json::Value, String> {
    let t_load = Instant::now();
    let (rules, refused) = rules(rules_dir)?;
    let load_s = t_load.elapsed().as_secs_f64();
    let files = std::fs::read_to_string(list).map_err(|e| format!("{list}: {e}"))?;
    let mut hits = vec![0u64; rules.len()];
    let (mut events, mut bytes, mut bad) = (0u64, 0u64, 0u64);
    let t0 = Instant::now();
    let mut text = String::new();
    for path in files.lines().filter(|l| !l.is_empty()) {
        let file = std::fs::File::open(path).map_err(|e| format!("{path}: {e}"))?;
        text.clear();
        GzDecoder::new(file)
            .read_to_string(&mut text)
            .map_err(|e| format!("{path}: {e}"))?;
        bytes += text.len() as u64;
        let doc: Records = serde_json::from_str(&text).map_err(|e| format!("{path}: {e}"))?;
        for record in doc.records {
            events += 1;
            let Ok(event) = sigma_rust::Event::try_from(record) else {
                bad += 1;
                continue;
            };
            for (n, (_, rule)) in rules.iter().enumerate() {
                if rule.is_match(&event) {
                    hits[n] += 1;
                }
            }
        }
    }
    let seconds = t0.elapsed().as_secs_f64();
    let per_rule: BTreeMap<&str, u64> = rules
        .iter()
        .zip(&hits)
        .map(|((name, _), h)| (name.as_str(), *h))
        .collect();
    Ok(serde_json::json!({
        "sigma_rust": "0.7",
        "rules": rules.len(),
        "refused": refused,
        "load_seconds": load_s,
        "events": events,
        "unconvertible_events": bad,
        "bytes": bytes,
        "seconds": seconds,
        "events_per_second": events as f64 / seconds,
        "matches": hits.iter().sum::<u64>(),
        "per_rule": per_rule,
    }))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let [_, rules_dir, list] = args.as_slice() else {
        eprintln!("usage: sigma-rust-bench RULES_DIR FILE_LIST");
        return ExitCode::from(2);
    };
    match run(rules_dir, list) {
        Ok(v) => {
            println!("{v}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("sigma-rust-bench: {e}");
            ExitCode::from(2)
        }
    }
}
