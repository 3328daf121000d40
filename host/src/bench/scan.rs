//! Benchmarks of the pipeline (`stance bench`): scan throughput on synthetic
//! snapshots, the policy engine natively versus in the wasm sandbox, cold
//! and warm plugin start, and peak memory. Measures only; never asserts.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde::Serialize;
use stance_policy_engine::{AssetInput, PolicySet};

use crate::catalog;
use crate::collect::synthetic;
use crate::model::{self, Asset, Evidence, Finding};
use crate::runtime::{ComponentCache, Limits, PolicyPlugin, Runtime};

/// What `stance bench` measures, and where it keeps its scratch files.
pub struct BenchOptions {
    /// Snapshot sizes for the end-to-end scan throughput.
    pub sizes: Vec<usize>,
    /// Assets for the native-versus-wasm comparison.
    pub engine_assets: usize,
    /// Scratch directory for snapshots, databases and caches.
    pub dir: PathBuf,
    /// The `stance` binary to run scans with.
    pub exe: PathBuf,
}

/// One end-to-end `stance scan` of a synthetic snapshot.
#[derive(Debug, Serialize)]
pub struct ScanRow {
    /// Assets in the snapshot.
    pub assets: usize,
    /// Findings the scan reported (every status).
    pub results: u64,
    /// The scan's elapsed time as it reported it, in seconds (NaN when absent).
    pub seconds: f64,
    /// `assets / seconds`.
    pub assets_per_second: f64,
    /// Peak resident memory of the scan process, in MiB (NaN when unknown).
    pub peak_rss_mib: f64,
    /// The database after the scan (file and write-ahead log, checkpointed), in MiB.
    pub db_mib: f64,
    /// How much a second scan of the same snapshot into the same database
    /// grows it (checkpointed), in MiB: what each scan costs in storage.
    pub growth_mib: f64,
}

/// The built-in policies evaluated natively and in the wasm sandbox over
/// the same synthetic assets: the same JSON text of each asset parsed on
/// both sides, in the same 256-asset batches.
#[derive(Debug, Serialize)]
pub struct EngineRow {
    /// Synthetic assets evaluated.
    pub assets: usize,
    /// Results of one pass; native and wasm must agree on it.
    pub results: usize,
    /// The engine linked into the host, on one thread, turning its outcomes
    /// into the host's findings as the plugin's are (fingerprint, asset
    /// fields, evidence), in seconds: the same work as the wasm side.
    pub native_seconds: f64,
    /// The engine alone (parse each body, evaluate), on one thread, in seconds.
    pub native_engine_seconds: f64,
    /// The embedded wasm plugin on one thread as a scan runs it: one
    /// instance kept for every batch (the engine declares itself
    /// stateless), in seconds.
    pub wasm_seconds: f64,
    /// The embedded wasm plugin on one thread with a fresh instance per
    /// batch (what a plugin that does not declare itself stateless gets,
    /// and what every scan did before), in seconds.
    pub wasm_fresh_seconds: f64,
    /// The embedded wasm plugin across `threads` threads, instances kept, in seconds.
    pub wasm_parallel_seconds: f64,
    /// Instances the parallel run started.
    pub parallel_instances: usize,
    /// Threads of the parallel run (rayon's pool).
    pub threads: usize,
}

/// How long the embedded YAML engine takes to start, in milliseconds.
#[derive(Debug, Serialize)]
pub struct StartRow {
    /// Compiling the component with an empty cache.
    pub compile_cold_ms: f64,
    /// Loading the precompiled component from a warm cache.
    pub load_warm_ms: f64,
    /// Instantiating and calling `describe` (which parses the built-in policies), per load.
    pub instantiate_describe_ms: f64,
    /// A whole `stance scan` of the demo snapshot with an empty component cache.
    pub demo_scan_cold_ms: f64,
    /// The same scan again, with the cache warm.
    pub demo_scan_warm_ms: f64,
}

/// Everything one `stance bench` measured; [`markdown`] renders it.
#[derive(Debug, Serialize)]
pub struct BenchReport {
    /// The machine measured on ([`machine`]).
    pub machine: String,
    /// Built-in policies evaluated.
    pub policies: usize,
    /// One row per snapshot size, in the order of `BenchOptions::sizes`.
    pub scans: Vec<ScanRow>,
    /// Native versus wasm evaluation.
    pub engine: EngineRow,
    /// Cold and warm start.
    pub start: StartRow,
}

/// Run every measurement, calling `progress` with the name of each step;
/// fails when a scratch file cannot be written, a child `stance scan` fails,
/// or native and wasm evaluation disagree.
pub fn run(opts: &BenchOptions, progress: &dyn Fn(&str)) -> anyhow::Result<BenchReport> {
    std::fs::create_dir_all(&opts.dir)
        .with_context(|| format!("creating {}", opts.dir.display()))?;
    let files = catalog::policy_files(true, &[])?;
    let policies = PolicySet::load(&files).map_err(|e| anyhow::anyhow!("{e}"))?;

    progress("cold and warm start");
    let start = start_times(opts, &files)?;

    progress("native versus wasm engine");
    let engine = engine_ratio(opts, &files, &policies)?;

    let mut scans = Vec::new();
    for &n in &opts.sizes {
        progress(&format!("scan of {n} assets"));
        scans.push(scan_throughput(opts, n)?);
    }
    Ok(BenchReport {
        machine: machine(),
        policies: policies.policies().len(),
        scans,
        engine,
        start,
    })
}

/// The machine a benchmark ran on: cores, CPU model, OS.
pub fn machine() -> String {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_string());
    format!("{cpus} cores, {model}, {}", std::env::consts::OS)
}

fn start_times(
    opts: &BenchOptions,
    files: &[crate::model::SourceFile],
) -> anyhow::Result<StartRow> {
    let cache_dir = opts.dir.join("start-cache");
    let _ = std::fs::remove_dir_all(&cache_dir);
    let rt = Runtime::new(ComponentCache::at(&cache_dir))?;
    let cold = PolicyPlugin::load(&rt, catalog::yaml_engine(files, Limits::default()))?;
    let warm = PolicyPlugin::load(&rt, catalog::yaml_engine(files, Limits::default()))?;
    // Instantiate + describe: what every plugin load costs after compilation.
    let runs = 20;
    let t = Instant::now();
    for _ in 0..runs {
        PolicyPlugin::load(&rt, catalog::yaml_engine(files, Limits::default()))?;
    }
    let per_load = t.elapsed() / runs;
    let describe = per_load.saturating_sub(warm.compile.duration());

    let demo = opts.dir.join("demo-account.json");
    std::fs::write(&demo, synthetic::DEMO_SNAPSHOT)?;
    let scan_cache = opts.dir.join("demo-cache");
    let _ = std::fs::remove_dir_all(&scan_cache);
    let db = opts.dir.join("demo.db");
    let cold_scan = timed_scan(opts, &demo, &db, &scan_cache)?.0;
    let warm_scan = timed_scan(opts, &demo, &db, &scan_cache)?.0;
    Ok(StartRow {
        compile_cold_ms: ms(cold.compile.duration()),
        load_warm_ms: ms(warm.compile.duration()),
        instantiate_describe_ms: ms(describe),
        demo_scan_cold_ms: ms(cold_scan),
        demo_scan_warm_ms: ms(warm_scan),
    })
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Assets per plugin call, as `stance scan` sends them by default.
const BATCH: usize = 256;

fn engine_ratio(
    opts: &BenchOptions,
    files: &[crate::model::SourceFile],
    policies: &PolicySet,
) -> anyhow::Result<EngineRow> {
    let assets = synthetic::assets(opts.engine_assets);
    let refs: Vec<&Asset> = assets.iter().collect();

    // Native: the same crate, linked into the host, one thread, parsing the
    // same JSON text of each body the plugin is handed, batch by batch;
    // once as the engine alone, once producing the host's findings.
    let t = Instant::now();
    let mut engine_results = 0;
    for batch in refs.chunks(BATCH) {
        for a in batch {
            engine_results += evaluate_native(policies, a)?;
        }
    }
    let native_engine = t.elapsed();
    let (native, native_results) = timed_batches(&refs, |batch| {
        let mut out = Vec::new();
        for a in batch {
            out.extend(native_findings(policies, a)?);
        }
        Ok(out)
    })?;
    if engine_results != native_results {
        bail!("the native engine returned {engine_results} and then {native_results} results");
    }

    let rt = Runtime::new(ComponentCache::at(&opts.dir.join("start-cache")))?;
    let plugin = PolicyPlugin::load(&rt, catalog::yaml_engine(files, Limits::default()))?;
    // Wasm as a scan runs it: one session, its instance kept between batches.
    let session = plugin.session();
    let (wasm, wasm_results) = timed_batches(&refs, |b| Ok(session.evaluate(b)?))?;
    // Wasm with a fresh instance (and a fresh parse of the pack) per batch.
    let (fresh, fresh_results) = timed_batches(&refs, |b| Ok(plugin.evaluate(b)?))?;
    for (side, n) in [("kept", wasm_results), ("fresh", fresh_results)] {
        if n != native_results {
            bail!(
                "the wasm plugin ({side} instance) returned {n} results and the native engine {native_results}; they must agree"
            );
        }
    }

    // Wasm across all cores, as `stance scan` runs it: a session of its own.
    use rayon::prelude::*;
    let parallel = plugin.session();
    let t = Instant::now();
    let parallel_results: usize = refs
        .par_chunks(BATCH)
        .map(|batch| parallel.evaluate(batch).map(|f| f.len()))
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .sum();
    let wasm_parallel = t.elapsed();
    if parallel_results != native_results {
        bail!("the parallel wasm run returned {parallel_results} results, not {native_results}");
    }
    Ok(EngineRow {
        assets: assets.len(),
        results: wasm_results,
        native_seconds: native.as_secs_f64(),
        native_engine_seconds: native_engine.as_secs_f64(),
        wasm_seconds: wasm.as_secs_f64(),
        wasm_fresh_seconds: fresh.as_secs_f64(),
        wasm_parallel_seconds: wasm_parallel.as_secs_f64(),
        parallel_instances: parallel.instances(),
        threads: rayon::current_num_threads(),
    })
}

/// Every batch of `assets` through `evaluate` on this thread: the time and
/// the number of results.
fn timed_batches(
    assets: &[&Asset],
    evaluate: impl Fn(&[&Asset]) -> anyhow::Result<Vec<Finding>>,
) -> anyhow::Result<(Duration, usize)> {
    let t = Instant::now();
    let mut results = 0;
    for batch in assets.chunks(BATCH) {
        results += evaluate(batch)?.len();
    }
    Ok((t.elapsed(), results))
}

/// The native engine's outcomes for one asset as the host's findings: what
/// `PolicyPlugin::validate` makes of the plugin's records (the evidence is
/// already a JSON value natively; the plugin's arrives as text).
fn native_findings(policies: &PolicySet, a: &Asset) -> anyhow::Result<Vec<Finding>> {
    with_input(a, |input| {
        let outcomes = policies.evaluate(input);
        let mut out = Vec::with_capacity(outcomes.len());
        for o in outcomes {
            out.push(Finding {
                fingerprint: model::fingerprint(&o.policy.id, &a.id),
                rule_id: o.policy.id.clone(),
                plugin: "yaml-policy".to_string(),
                plugin_version: env!("CARGO_PKG_VERSION").to_string(),
                asset_id: a.id.clone(),
                resource_type: a.resource_type.clone(),
                account: a.account.clone(),
                region: a.region.clone(),
                severity: o.policy.severity,
                status: o.status,
                message: o.message,
                evidence: o
                    .evidence
                    .into_iter()
                    .map(|e| Evidence {
                        path: e.path,
                        actual: e.actual,
                        expected: e.expected,
                    })
                    .collect(),
            });
        }
        out
    })
}

fn evaluate_native(policies: &PolicySet, a: &Asset) -> anyhow::Result<usize> {
    with_input(a, |input| policies.evaluate(input).len())
}

/// Parse the asset's body and hand the native engine's view of it to `f`.
fn with_input<T>(a: &Asset, f: impl FnOnce(&AssetInput) -> T) -> anyhow::Result<T> {
    let body: serde_json::Value = serde_json::from_str(&a.body)?;
    Ok(f(&AssetInput {
        id: &a.id,
        resource_type: &a.resource_type,
        provider: &a.provider,
        account: &a.account,
        region: &a.region,
        name: &a.name,
        tags: &a.tags,
        collected_at: &a.collected_at,
        body: &body,
    }))
}

/// What the bench reads of a scan's JSON report: its `scan` object. The
/// findings (GiBs of JSON at a million assets) are skipped, never held.
#[derive(serde::Deserialize)]
struct ScanOutput {
    scan: serde_json::Value,
}

/// Run `stance scan` in a child process; returns its wall time and the
/// `scan` object of its JSON report.
fn timed_scan(
    opts: &BenchOptions,
    snapshot: &Path,
    db: &Path,
    cache: &Path,
) -> anyhow::Result<(Duration, serde_json::Value)> {
    let out = opts.dir.join("scan-output.json");
    let t = Instant::now();
    let status = Command::new(&opts.exe)
        .args(["scan", "--quiet", "--format", "json", "--output"])
        .arg(&out)
        .arg("--snapshot")
        .arg(snapshot)
        .arg("--db")
        .arg(db)
        .env("STANCE_CACHE_DIR", cache)
        .status()
        .with_context(|| format!("running {}", opts.exe.display()))?;
    let wall = t.elapsed();
    if !status.success() {
        bail!("stance scan of {} exited with {status}", snapshot.display());
    }
    let file = std::fs::File::open(&out).with_context(|| format!("opening {}", out.display()))?;
    let report: ScanOutput = serde_json::from_reader(std::io::BufReader::new(file))
        .with_context(|| format!("reading {}", out.display()))?;
    Ok((wall, report.scan))
}

fn scan_throughput(opts: &BenchOptions, n: usize) -> anyhow::Result<ScanRow> {
    let snapshot = opts.dir.join(format!("synthetic-{n}.ndjson"));
    synthetic::write_ndjson(&snapshot, n)?;
    let db = opts.dir.join(format!("bench-{n}.db"));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
    let cache = opts.dir.join("start-cache");
    let (_, scan) = timed_scan(opts, &snapshot, &db, &cache)?;
    let first = db_bytes(&db)?;
    timed_scan(opts, &snapshot, &db, &cache)?;
    let second = db_bytes(&db)?;
    let seconds = scan["elapsed"].as_f64().unwrap_or(f64::NAN);
    let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
    Ok(ScanRow {
        assets: n,
        results: scan["totals"]["findings"].as_u64().unwrap_or(0),
        seconds,
        assets_per_second: n as f64 / seconds,
        peak_rss_mib: scan["peak_rss_bytes"].as_f64().unwrap_or(f64::NAN) / (1024.0 * 1024.0),
        db_mib: mib(first),
        growth_mib: mib(second.saturating_sub(first)),
    })
}

/// The database file plus its write-ahead log after a checkpoint, in bytes.
fn db_bytes(db: &Path) -> anyhow::Result<u64> {
    let conn =
        rusqlite::Connection::open(db).with_context(|| format!("opening {}", db.display()))?;
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .with_context(|| format!("checkpointing {}", db.display()))?;
    drop(conn);
    let size = |p: PathBuf| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    Ok(size(db.to_path_buf()) + size(PathBuf::from(format!("{}-wal", db.display()))))
}

/// The report as Markdown, for BENCHMARKS.md.
pub fn markdown(r: &BenchReport, command: &str) -> String {
    let mut s = String::new();
    s.push_str(&format!(
        "Machine: {}. Built-in pack: {} policies. Command: `{command}`\n\n",
        r.machine, r.policies
    ));
    s.push_str(
        "### Scan throughput (synthetic snapshots, end to end: read, evaluate in wasm, store)\n\n",
    );
    s.push_str(
        "| assets | results | seconds | assets/s | peak RSS (MiB) | database (MiB) | growth per scan (MiB) |\n|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for row in &r.scans {
        s.push_str(&format!(
            "| {} | {} | {:.2} | {:.0} | {:.0} | {:.1} | {:.1} |\n",
            row.assets,
            row.results,
            row.seconds,
            row.assets_per_second,
            row.peak_rss_mib,
            row.db_mib,
            row.growth_mib
        ));
    }
    s.push_str(
        "\nGrowth per scan: the database (file and write-ahead log, checkpointed) after a second scan of the same snapshot into the same database, less its size after the first.\n",
    );
    let e = &r.engine;
    let rate = |seconds: f64| e.assets as f64 / seconds;
    s.push_str(&format!(
        "\n### Policy engine: native versus wasm ({} assets, {} results, the same JSON text parsed on both sides, batches of {BATCH})\n\n\
         | engine | threads | seconds | assets/s |\n|---|---:|---:|---:|\n\
         | native engine alone (parse, evaluate) | 1 | {:.3} | {:.0} |\n\
         | native, producing the host's findings (the same work as the wasm side) | 1 | {:.3} | {:.0} |\n\
         | wasm plugin, one instance kept for every batch (stateless) | 1 | {:.3} | {:.0} |\n\
         | wasm plugin, fresh instance per batch | 1 | {:.3} | {:.0} |\n\
         | wasm plugin, parallel, instances kept ({} started) | {} | {:.3} | {:.0} |\n\n\
         wasm / native time ratio on one thread, the same output on both sides: **{:.2}x** \
         (a fresh instance per batch: {:.2}x; against the native engine alone: {:.2}x)\n",
        e.assets,
        e.results,
        e.native_engine_seconds,
        rate(e.native_engine_seconds),
        e.native_seconds,
        rate(e.native_seconds),
        e.wasm_seconds,
        rate(e.wasm_seconds),
        e.wasm_fresh_seconds,
        rate(e.wasm_fresh_seconds),
        e.parallel_instances,
        e.threads,
        e.wasm_parallel_seconds,
        rate(e.wasm_parallel_seconds),
        e.wasm_seconds / e.native_seconds,
        e.wasm_fresh_seconds / e.native_seconds,
        e.wasm_seconds / e.native_engine_seconds,
    ));
    let st = &r.start;
    s.push_str(&format!(
        "\n### Plugin start (the embedded YAML engine)\n\n\
         | step | ms |\n|---|---:|\n\
         | compile, empty cache | {:.1} |\n\
         | load precompiled, warm cache | {:.2} |\n\
         | instantiate + describe (parse the pack) | {:.2} |\n\
         | whole demo scan (examples/demo-account.json), empty cache | {:.0} |\n\
         | whole demo scan, warm cache | {:.0} |\n",
        st.compile_cold_ms,
        st.load_warm_ms,
        st.instantiate_describe_ms,
        st.demo_scan_cold_ms,
        st.demo_scan_warm_ms
    ));
    s
}
