//! `stance plugin bench`: measure one plugin — compile time with a cold and
//! a warm component cache, instantiation, time per batch and per asset (or
//! event), peak memory — as a table or as JSON that a later run compares with.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::devkit::build::BuildOptions;
use crate::devkit::cases as testing;
use crate::devkit::suite::{Loaded, Subject, SuiteError};
use crate::events::{self, LogFormat};
use crate::intake::walk;
use crate::model::{Asset, Event};
use crate::runtime::{CacheOutcome, ComponentCache, DetectorState, Limits, Runtime};

/// What `stance plugin bench` measures and how, from its flags.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// Items evaluated per measured round (the workload is repeated to reach it).
    pub items: usize,
    /// Items per call of the plugin (`--batch-size`, 100 by default; 0 counts as 1).
    pub batch_size: usize,
    /// Measured rounds over the workload (after one warm-up round).
    pub rounds: usize,
    /// Assets to use instead of the case files' (policy plugins).
    pub snapshot: Option<PathBuf>,
    /// How to build the project first (toolchain, SDK).
    pub build: BuildOptions,
    /// Measure the component as built, without building it first.
    pub no_build: bool,
    /// Time, memory and output limits of each call of the measured plugin.
    pub limits: Limits,
    /// The user's component cache (`Settings::cache_dir`), for the build.
    pub cache_dir: Option<PathBuf>,
}

/// Summary statistics of a series of durations, in milliseconds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Stats {
    /// The fastest sample.
    pub min: f64,
    /// The middle sample (the nearest one to the 50th percentile).
    pub median: f64,
    /// The 95th percentile (the nearest sample to it).
    pub p95: f64,
    /// The arithmetic mean of all samples.
    pub mean: f64,
    /// The slowest sample.
    pub max: f64,
    /// How many durations were measured; `min`, `median`, `p95` and `max`
    /// are NaN when 0.
    pub samples: usize,
}

impl Stats {
    fn of(mut v: Vec<Duration>) -> Stats {
        v.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let n = v.len().max(1);
        let at = |q: f64| {
            v.get(((n - 1) as f64 * q).round() as usize)
                .copied()
                .map_or(f64::NAN, ms)
        };
        Stats {
            min: at(0.0),
            median: at(0.5),
            p95: at(0.95),
            mean: v.iter().map(|d| ms(*d)).sum::<f64>() / n as f64,
            max: at(1.0),
            samples: v.len(),
        }
    }
}

/// One run of the benchmark, stable keys for comparison between runs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BenchReport {
    /// The plugin's name, as its `describe` gave it.
    pub plugin: String,
    /// The plugin's version, as its `describe` gave it.
    pub version: String,
    /// The project's language: `rust`, `python`, `js`, or `yaml` for a directory of policies.
    pub lang: String,
    /// The plugin's WIT world: `policy` or `detector`.
    pub world: String,
    /// Size of the component measured, in bytes.
    pub component_bytes: usize,
    /// SHA-256 of the component, as `sha256:HEX`.
    pub digest: String,
    /// Compiling the component with an empty cache (ms).
    pub compile_cold_ms: f64,
    /// Loading the precompiled component from the cache (ms).
    pub compile_warm_ms: f64,
    /// A whole load (cache hit + link + describe + settings check), ms.
    pub load_warm_ms: f64,
    /// Instantiating and calling with an empty batch (ms).
    pub instantiate: Stats,
    /// One batch of `batch_size` items (ms).
    pub batch: Stats,
    /// Mean time per asset or event over all measured rounds (µs).
    pub per_item_us: f64,
    /// Assets or events evaluated per second over all measured rounds.
    pub items_per_second: f64,
    /// Items per measured round (the workload after repetition).
    pub items: usize,
    /// Items per call of the plugin (at least 1).
    pub batch_size: usize,
    /// Measured rounds (at least 1; the warm-up round is not counted).
    pub rounds: usize,
    /// Results (findings or alerts) per round.
    pub results_per_round: usize,
    /// Peak resident memory of the process (MiB), all of the above included.
    pub peak_rss_mib: f64,
    /// The version of Stance that measured.
    pub stance: String,
    /// The version of wasmtime that compiled and ran the plugin.
    pub wasmtime: String,
    /// The machine measured on: cores, CPU model, OS ([`crate::bench::machine`]).
    pub machine: String,
}

/// The workload: assets or events, repeated to `n` with unique ids.
enum Workload {
    Assets(Vec<Asset>),
    Events(Vec<Event>),
}

/// Build the plugin if needed, then measure it with component caches of its
/// own; fails when the project does not build or load, when it has no items
/// of its kind to measure with, or when the plugin fails during a call.
pub fn run(subject: &Subject, opts: &BenchOptions) -> Result<BenchReport, SuiteError> {
    let io = |path: PathBuf| move |source| SuiteError::Io { path, source };
    // Build (if needed) through the user's cache, then measure with caches of our own.
    let user_rt = Runtime::new(ComponentCache::new(opts.cache_dir.as_deref()))
        .map_err(|e| SuiteError::Load(e.to_string()))?;
    let src = subject.source(&user_rt, &opts.build, opts.no_build, opts.limits)?;
    drop(user_rt);
    let cache = tempfile::tempdir().map_err(io(std::env::temp_dir()))?;

    let cold_rt = Runtime::new(ComponentCache::at(cache.path()))
        .map_err(|e| SuiteError::Load(e.to_string()))?;
    let cold = Loaded::load(&cold_rt, subject.world(), src.clone()).map_err(SuiteError::Load)?;
    let compile_cold = compile_time(&cold);
    drop(cold);
    drop(cold_rt);

    let warm_rt = Runtime::new(ComponentCache::at(cache.path()))
        .map_err(|e| SuiteError::Load(e.to_string()))?;
    let t = Instant::now();
    let plugin = Loaded::load(&warm_rt, subject.world(), src.clone()).map_err(SuiteError::Load)?;
    let load_warm = t.elapsed();
    let compile_warm = compile_time(&plugin);

    let workload = workload(subject, &plugin, opts)?;
    let batch_size = opts.batch_size.max(1);
    let rounds = opts.rounds.max(1);

    let mut instantiate = Vec::new();
    for _ in 0..20 {
        let t = Instant::now();
        call(&plugin, &Workload::empty_like(&workload), 0..0)?;
        instantiate.push(t.elapsed());
    }

    let n = workload.len();
    let mut batches = Vec::new();
    let mut results = 0;
    let mut total = Duration::ZERO;
    for round in 0..=rounds {
        let mut round_results = 0;
        let mut start = 0;
        while start < n {
            let end = (start + batch_size).min(n);
            let t = Instant::now();
            round_results += call(&plugin, &workload, start..end)?;
            let d = t.elapsed();
            if round > 0 {
                batches.push(d);
                total += d;
            }
            start = end;
        }
        results = round_results;
    }
    let measured = (n * rounds).max(1);
    Ok(BenchReport {
        plugin: plugin.core().name.clone(),
        version: plugin.core().version.clone(),
        lang: subject.lang().to_string(),
        world: subject.world().as_str().to_string(),
        component_bytes: src.bytes.len(),
        digest: format!("sha256:{}", crate::runtime::cache::digest(&src.bytes)),
        compile_cold_ms: ms(compile_cold),
        compile_warm_ms: ms(compile_warm),
        load_warm_ms: ms(load_warm),
        instantiate: Stats::of(instantiate),
        batch: Stats::of(batches),
        per_item_us: total.as_secs_f64() * 1e6 / measured as f64,
        items_per_second: measured as f64 / total.as_secs_f64().max(1e-9),
        items: n,
        batch_size,
        rounds,
        results_per_round: results,
        peak_rss_mib: crate::pipeline::peak_rss_bytes().map_or(f64::NAN, |b| b as f64 / 1048576.0),
        stance: env!("CARGO_PKG_VERSION").into(),
        wasmtime: crate::runtime::cache::wasmtime_version().into(),
        machine: crate::bench::machine(),
    })
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn compile_time(p: &Loaded) -> Duration {
    let outcome: CacheOutcome = match p {
        Loaded::Policy(p) => p.compile,
        Loaded::Detector(d) => d.compile,
    };
    outcome.duration()
}

impl Workload {
    fn len(&self) -> usize {
        match self {
            Workload::Assets(a) => a.len(),
            Workload::Events(e) => e.len(),
        }
    }

    fn empty_like(&self) -> Workload {
        match self {
            Workload::Assets(_) => Workload::Assets(Vec::new()),
            Workload::Events(_) => Workload::Events(Vec::new()),
        }
    }
}

/// Evaluate `range` of the workload; the number of results.
fn call(plugin: &Loaded, w: &Workload, range: std::ops::Range<usize>) -> Result<usize, SuiteError> {
    let failed =
        |e: String| SuiteError::Load(format!("the plugin failed during the benchmark: {e}"));
    match (plugin, w) {
        (Loaded::Policy(p), Workload::Assets(a)) => {
            let batch: Vec<&Asset> = a[range].iter().collect();
            p.evaluate(&batch)
                .map(|f| f.len())
                .map_err(|e| failed(e.to_string()))
        }
        (Loaded::Detector(d), Workload::Events(e)) => {
            let (_, r) = d.evaluate(&e[range], DetectorState::default());
            r.map(|a| a.len()).map_err(|e| failed(e.to_string()))
        }
        _ => Err(SuiteError::Load(
            "the workload does not match the plugin's world".into(),
        )),
    }
}

/// The case files' assets or events (or a snapshot's assets) the plugin
/// reads, repeated with unique ids up to `opts.items`.
fn workload(
    subject: &Subject,
    plugin: &Loaded,
    opts: &BenchOptions,
) -> Result<Workload, SuiteError> {
    let target = opts.items.max(1);
    let tests = subject.tests_dir();
    let filter = walk::Filter {
        enter: &|_| true,
        want: &|p| crate::devkit::suite::is_case_file(p),
    };
    let files: Vec<PathBuf> = match walk::walk(&tests, &filter, &mut Default::default()) {
        Ok(walked) => walked.files,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => {
            return Err(SuiteError::Io {
                path: tests,
                source: e,
            });
        }
    };
    match plugin {
        Loaded::Policy(p) => {
            let mut base: Vec<Asset> = match &opts.snapshot {
                Some(path) => {
                    crate::collect::snapshot::read(path)
                        .map_err(|e| SuiteError::Load(e.to_string()))?
                        .assets
                }
                None => {
                    let mut out = Vec::new();
                    for f in &files {
                        for case in testing::read(f)?.cases {
                            out.extend(case.assets.iter().map(|a| a.to_asset()));
                        }
                    }
                    out
                }
            };
            base.retain(|a| p.wants(&a.resource_type));
            // Cases reuse ids; a batch must not hold one twice.
            let mut seen = std::collections::HashSet::new();
            base.retain(|a| seen.insert(a.id.clone()));
            if base.is_empty() {
                return Err(SuiteError::Load(format!(
                    "no assets of the plugin's resource types to measure with (in {}{}); give --snapshot",
                    tests.display(),
                    opts.snapshot
                        .as_ref()
                        .map(|s| format!(" or {}", s.display()))
                        .unwrap_or_default()
                )));
            }
            Ok(Workload::Assets(repeat(&base, target, |a| &mut a.id)))
        }
        Loaded::Detector(_) => {
            let mut base = Vec::new();
            for f in &files {
                for case in testing::read_events(f)?.cases {
                    let text = serde_json::Value::Array(case.events).to_string();
                    base.extend(
                        events::read_bytes(text.as_bytes(), LogFormat::Auto)
                            .map_err(|e| SuiteError::Load(format!("{}: {e}", f.display())))?,
                    );
                }
            }
            let mut seen = std::collections::HashSet::new();
            base.retain(|e: &Event| seen.insert(e.id.clone()));
            if base.is_empty() {
                return Err(SuiteError::Load(format!(
                    "no events in the case files of {} to measure with",
                    tests.display()
                )));
            }
            Ok(Workload::Events(repeat(&base, target, |e| &mut e.id)))
        }
    }
}

/// `base` repeated up to `n` items; copies get `#k` appended to their id.
fn repeat<T: Clone>(base: &[T], n: usize, id: fn(&mut T) -> &mut String) -> Vec<T> {
    (0..n)
        .map(|i| {
            let mut item = base[i % base.len()].clone();
            if i >= base.len() {
                let id = id(&mut item);
                *id = format!("{id}#{}", i / base.len());
            }
            item
        })
        .collect()
}

/// The metrics a report compares: (name, value, unit).
fn metrics(r: &BenchReport) -> [(&'static str, f64, &'static str); 8] {
    [
        ("compile, cold cache", r.compile_cold_ms, "ms"),
        ("compile, warm cache", r.compile_warm_ms, "ms"),
        ("load, warm (link + describe)", r.load_warm_ms, "ms"),
        (
            "instantiate + empty call (median)",
            r.instantiate.median,
            "ms",
        ),
        ("batch (median)", r.batch.median, "ms"),
        ("batch (p95)", r.batch.p95, "ms"),
        ("per item (mean)", r.per_item_us, "µs"),
        ("peak RSS", r.peak_rss_mib, "MiB"),
    ]
}

/// Plain text of one report, with the change against `baseline` when given.
pub fn render(r: &BenchReport, baseline: Option<&BenchReport>) -> String {
    let mut out = format!(
        "{} {} ({}, {} world), {} bytes, {}\n{} items in batches of {}, {} rounds, {} results a round; {}\n\n",
        r.plugin,
        r.version,
        r.lang,
        r.world,
        r.component_bytes,
        &r.digest[..r.digest.len().min(19)],
        r.items,
        r.batch_size,
        r.rounds,
        r.results_per_round,
        r.machine
    );
    let mut t = crate::report::table(if baseline.is_some() {
        &["METRIC", "NOW", "BASELINE", "CHANGE"][..]
    } else {
        &["METRIC", "VALUE"][..]
    });
    let before = baseline.map(metrics);
    for (i, (name, now, unit)) in metrics(r).into_iter().enumerate() {
        let mut row = vec![name.to_string(), format!("{now:.3} {unit}")];
        if let Some(b) = before.as_ref().map(|m| m[i].1) {
            row.push(format!("{b:.3} {unit}"));
            row.push(if b > 0.0 {
                format!("{:+.1}%", (now - b) / b * 100.0)
            } else {
                "-".into()
            });
        }
        t.add_row(row);
    }
    out.push_str(&t.to_string());
    out.push('\n');
    out
}
