//! The scan pipeline, end to end: take a collection (a snapshot file or a
//! live collection), load the plugins, evaluate in parallel, and store
//! everything in one transaction. Each stage is its own module; this one
//! only wires them together.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use stance_policy_engine::SourceFile;

use crate::catalog::{self, CatalogError};
use crate::collect::{Snapshot, SnapshotError};
use crate::model::{self, CollectionError, Finding, Status, now_rfc3339};
use crate::runtime::plugin::PluginLoadError;
use crate::runtime::{EvaluationPlan, FailureRecord, Limits, Plugin, PluginSource, Runtime};
use crate::store::{ScanMeta, ScanTotals, Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error(transparent)]
    Snapshot(#[from] SnapshotError),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Plugin(#[from] PluginLoadError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(
        "rule {rule} is declared by both {first} and {second}; rule ids must be unique across plugins"
    )]
    DuplicateRule {
        rule: String,
        first: String,
        second: String,
    },
    #[error("cannot start {0} evaluation threads: {1}")]
    Threads(usize, String),
}

/// What to scan with, and how.
#[derive(Debug, Clone)]
pub struct ScanOptions {
    /// Evaluate the built-in policy pack.
    pub builtin_policies: bool,
    /// Extra policy files or directories for the YAML engine.
    pub policy_paths: Vec<PathBuf>,
    /// Extra plugins (`.wasm` or `plugin.toml`).
    pub plugins: Vec<PathBuf>,
    /// Policy files of rule packs (`--pack`), for the YAML engine.
    pub pack_policies: Vec<SourceFile>,
    /// Policy plugins of rule packs (`--pack`), already verified.
    pub pack_plugins: Vec<PluginSource>,
    /// Default limits for every plugin (a manifest may override them).
    pub limits: Limits,
    pub batch_size: usize,
    /// Evaluation threads; all cores when `None`.
    pub jobs: Option<usize>,
}

impl Default for ScanOptions {
    fn default() -> Self {
        ScanOptions {
            builtin_policies: true,
            policy_paths: Vec::new(),
            plugins: Vec::new(),
            pack_policies: Vec::new(),
            pack_plugins: Vec::new(),
            limits: Limits::default(),
            batch_size: 256,
            jobs: None,
        }
    }
}

/// A loaded plugin's identity, for the scan summary.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PluginSummary {
    pub name: String,
    pub version: String,
    pub origin: String,
    pub digest: String,
    pub rules: usize,
    pub cache: &'static str,
    pub compile_ms: f64,
}

/// The result of a scan, as the CLI reports it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ScanReport {
    pub scan_id: i64,
    pub source: String,
    pub scope: String,
    pub totals: ScanTotals,
    pub plugins: Vec<PluginSummary>,
    pub failures: Vec<FailureRecord>,
    /// What could not be collected (each also recorded as `error` results).
    pub collection_errors: Vec<CollectionError>,
    pub batches: usize,
    #[serde(serialize_with = "as_secs")]
    pub elapsed: Duration,
    pub peak_rss_bytes: Option<u64>,
}

fn as_secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

impl ScanReport {
    /// Any failed plugin batch or any `error` result.
    pub fn has_errors(&self) -> bool {
        self.totals.plugin_failures > 0
            || self.totals.collection_errors > 0
            || self.totals.by_status.get("error").copied().unwrap_or(0) > 0
    }
}

/// Load every plugin a scan runs: the YAML engine with its policies, then the extras.
pub fn load_plugins(rt: &Runtime, opts: &ScanOptions) -> Result<Vec<Plugin>, ScanError> {
    let mut sources: Vec<PluginSource> = Vec::new();
    let mut files = catalog::policy_files(opts.builtin_policies, &opts.policy_paths)?;
    files.extend(opts.pack_policies.iter().cloned());
    if !files.is_empty() {
        sources.push(catalog::yaml_engine(&files, opts.limits));
    }
    for path in &opts.plugins {
        sources.push(catalog::plugin_source(path, opts.limits)?);
    }
    sources.extend(opts.pack_plugins.iter().cloned());
    let mut plugins: Vec<Plugin> = Vec::with_capacity(sources.len());
    for src in sources {
        let plugin = Plugin::load(rt, src)?;
        for rule in &plugin.rules {
            if let Some(other) = plugins.iter().find(|p| p.rule(&rule.id).is_some()) {
                return Err(ScanError::DuplicateRule {
                    rule: rule.id.clone(),
                    first: other.origin.clone(),
                    second: plugin.origin.clone(),
                });
            }
        }
        plugins.push(plugin);
    }
    Ok(plugins)
}

/// Run a scan of a collection into the store. `source` names where the
/// collection came from (`snapshot:FILE`, `aws`); `on_batch(done, total)`
/// reports progress.
pub fn run(
    rt: &Runtime,
    store: &mut Store,
    snapshot: &Snapshot,
    source: &str,
    opts: &ScanOptions,
    on_batch: &(dyn Fn(usize, usize) + Sync),
) -> Result<ScanReport, ScanError> {
    let plugins = load_plugins(rt, opts)?;
    run_with(store, snapshot, source, opts, &plugins, on_batch)
}

/// A scan with plugins already loaded (`stance watch` keeps them across scans).
pub fn run_with(
    store: &mut Store,
    snapshot: &Snapshot,
    source: &str,
    opts: &ScanOptions,
    plugins: &[Plugin],
    on_batch: &(dyn Fn(usize, usize) + Sync),
) -> Result<ScanReport, ScanError> {
    let start = Instant::now();
    let started_at = now_rfc3339();
    let scope = snapshot.scope.key(&snapshot.provider);
    let source = source.to_string();

    let plan = EvaluationPlan::new(plugins, &snapshot.assets, opts.batch_size);
    let total = plan.batches();
    let mut writer = store.begin_scan(ScanMeta {
        started_at,
        source: source.clone(),
        provider: snapshot.provider.clone(),
        scope: scope.clone(),
    })?;
    writer.add_assets(&snapshot.assets)?;
    for p in plugins {
        writer.add_rules(&p.name, &p.version, &p.digest, &p.rules)?;
    }
    writer.add_collection_errors(&snapshot.errors)?;
    writer.add_findings(&uncollected(plugins, &snapshot.errors))?;
    writer.add_imported(&snapshot.findings)?;

    let pool = {
        let mut b = rayon::ThreadPoolBuilder::new().thread_name(|i| format!("stance-eval-{i}"));
        if let Some(n) = opts.jobs {
            b = b.num_threads(n);
        }
        b.build()
            .map_err(|e| ScanError::Threads(opts.jobs.unwrap_or(0), e.to_string()))?
    };
    let (tx, rx) = mpsc::sync_channel(64);
    let mut failures = Vec::new();
    let mut write_result = Ok(());
    std::thread::scope(|s| {
        let plan = &plan;
        let pool = &pool;
        s.spawn(move || {
            pool.install(|| {
                plan.run(plugins, |outcome| {
                    // The receiver only goes away after a write error; stop sending then.
                    let _ = tx.send(outcome);
                })
            })
        });
        let mut done = 0;
        for outcome in rx {
            done += 1;
            on_batch(done, total);
            if write_result.is_err() {
                continue;
            }
            write_result = writer.add_findings(&outcome.findings);
            if let Some(f) = outcome.failure {
                if write_result.is_ok() {
                    write_result = writer.add_failure(&f);
                }
                failures.push(f);
            }
        }
    });
    write_result?;
    let (scan_id, totals) = writer.commit(&now_rfc3339())?;
    failures.sort_by(|a, b| (&a.plugin, a.batch).cmp(&(&b.plugin, b.batch)));
    Ok(ScanReport {
        scan_id,
        source,
        scope,
        totals,
        plugins: plugins
            .iter()
            .map(|p| PluginSummary {
                name: p.name.clone(),
                version: p.version.clone(),
                origin: p.origin.clone(),
                digest: p.digest.clone(),
                rules: p.rules.len(),
                cache: p.compile.label(),
                compile_ms: p.compile.duration().as_secs_f64() * 1000.0,
            })
            .collect(),
        failures,
        collection_errors: snapshot.errors.clone(),
        batches: total,
        elapsed: start.elapsed(),
        peak_rss_bytes: peak_rss_bytes(),
    })
}

/// Every rule that reads a resource type which could not be collected in an
/// account and region reports `error` there, on a stand-in resource named
/// after the scope (`aws:123456789012:us-east-1:aws_ec2_instance`): its
/// verdict is unknown, and unknown is never a pass.
fn uncollected(plugins: &[Plugin], errors: &[CollectionError]) -> Vec<Finding> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for e in errors {
        for t in &e.resource_types {
            let scope_id = format!("{}:{}:{}:{t}", e.provider, e.account, e.region);
            for p in plugins {
                for rule in p.rules.iter().filter(|r| r.applies_to(t)) {
                    if !seen.insert((rule.id.clone(), scope_id.clone())) {
                        continue;
                    }
                    out.push(Finding {
                        fingerprint: model::fingerprint(&rule.id, &scope_id),
                        rule_id: rule.id.clone(),
                        plugin: p.name.clone(),
                        plugin_version: p.version.clone(),
                        asset_id: scope_id.clone(),
                        resource_type: t.clone(),
                        account: e.account.clone(),
                        region: e.region.clone(),
                        severity: rule.severity,
                        status: Status::Error,
                        message: format!(
                            "not collected: {} {} in account {} region {} failed ({}: {})",
                            e.service, e.operation, e.account, e.region, e.kind, e.message
                        ),
                        evidence: Vec::new(),
                    });
                }
            }
        }
    }
    out
}

/// The process's peak resident set size (Linux), for reports and benchmarks.
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}
