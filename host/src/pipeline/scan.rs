//! The scan, end to end: a collection (from `collect`) and policy plugins
//! (sources from `catalog`, loaded by `runtime`) in; every asset held to
//! the input limits before batching (an asset whose body plugins cannot
//! take is `error` on its own, never in its batch's neighbours); every
//! batch evaluated in parallel, bisected when it fails; everything stored
//! in one transaction (`store`), each failure with the mute that covers it
//! (`mutes`). Each step is its own function; the stages themselves live in
//! their modules.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::intake::{InputLimits, json};
use crate::model::{
    self, Asset, CollectionError, FailureRecord, Finding, MuteRef, Snapshot, Status, now_rfc3339,
};
use crate::mutes::{MuteError, MuteSet, Subject};
use crate::runtime::evaluate::error_findings_saying;
use crate::runtime::{
    BatchOutcome, EvaluationPlan, PluginLoadError, PluginSource, PolicyPlugin, Runtime,
};
use crate::store::{ScanMeta, ScanTotals, ScanWriter, Store, StoreError};

/// Why a scan could not run or be stored.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    /// A plugin was refused at load.
    #[error(transparent)]
    Plugin(#[from] PluginLoadError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Two plugins declare the same rule id.
    #[error(
        "rule {rule} is declared by both {first} and {second}; rule ids must be unique across plugins"
    )]
    DuplicateRule {
        /// The rule id.
        rule: String,
        /// The plugin loaded first.
        first: String,
        /// The plugin that declared it again.
        second: String,
    },
    /// The evaluation threads could not start.
    #[error("cannot start {0} evaluation threads: {1}")]
    Threads(usize, String),
    /// The mute file names a rule no plugin carries.
    #[error(transparent)]
    Mutes(#[from] MuteError),
}

/// How a scan evaluates.
#[derive(Debug, Clone, Copy)]
pub struct ScanOptions {
    /// Assets per plugin call.
    pub batch_size: usize,
    /// Evaluation threads; all cores when `None`.
    pub jobs: Option<usize>,
    /// What one asset may be: a body past these limits is not handed to
    /// plugins, and every rule that reads the asset reports `error`.
    pub limits: InputLimits,
}

impl Default for ScanOptions {
    fn default() -> Self {
        ScanOptions {
            batch_size: 256,
            jobs: None,
            limits: InputLimits::default(),
        }
    }
}

/// A loaded plugin's identity, for the scan summary.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PluginSummary {
    /// The plugin's name.
    pub name: String,
    /// Its version.
    pub version: String,
    /// Where it came from.
    pub origin: String,
    /// SHA-256 of the component.
    pub digest: String,
    /// Rules it carries.
    pub rules: usize,
    /// `hit`, `miss` or `off`: the component cache.
    pub cache: &'static str,
    /// Time to compile or load it.
    pub compile_ms: f64,
}

impl PluginSummary {
    fn of(p: &PolicyPlugin) -> PluginSummary {
        PluginSummary {
            name: p.name.clone(),
            version: p.version.clone(),
            origin: p.origin.clone(),
            digest: p.digest.clone(),
            rules: p.rules.len(),
            cache: p.compile.label(),
            compile_ms: p.compile.duration().as_secs_f64() * 1000.0,
        }
    }
}

/// The result of a scan, as the CLI reports it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ScanReport {
    /// The stored scan's id.
    pub scan_id: i64,
    /// Where the assets came from (`snapshot:FILE`, `aws`).
    pub source: String,
    /// The scope key lifecycle compares against.
    pub scope: String,
    /// Counts as stored.
    pub totals: ScanTotals,
    /// The plugins that ran.
    pub plugins: Vec<PluginSummary>,
    /// Batches that failed.
    pub failures: Vec<FailureRecord>,
    /// What could not be collected (each also recorded as `error` results).
    pub collection_errors: Vec<CollectionError>,
    /// Plugin calls made.
    pub batches: usize,
    /// Wall time of the scan (evaluation and storage).
    #[serde(serialize_with = "as_secs")]
    pub elapsed: Duration,
    /// Peak resident memory of the process.
    pub peak_rss_bytes: Option<u64>,
    /// What the mutes did.
    pub mutes: MuteSummary,
}

/// What a scan's mutes did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct MuteSummary {
    /// The mute file; `None` when there was none.
    pub file: Option<String>,
    /// Mutes in force on the scan's day.
    pub in_force: usize,
    /// Failures they muted.
    pub muted: usize,
    /// Mutes of the file that had expired, each with the failures it would
    /// have covered (now reported failing).
    pub expired: Vec<ExpiredMute>,
}

/// A mute past its end date.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ExpiredMute {
    /// Its id.
    pub id: String,
    /// The day it stopped applying.
    pub expires: String,
    /// Failures it covered that fail again in this scan.
    pub failing: usize,
}

fn as_secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

impl ScanReport {
    /// Any failed plugin batch, collection error or `error` result.
    pub fn has_errors(&self) -> bool {
        self.totals.plugin_failures > 0
            || self.totals.collection_errors > 0
            || self.totals.by_status.get("error").copied().unwrap_or(0) > 0
    }
}

/// Load the policy plugins of a scan, in order; rule ids must be unique
/// across them.
pub fn load_plugins(
    rt: &Runtime,
    sources: Vec<PluginSource>,
) -> Result<Vec<PolicyPlugin>, ScanError> {
    let mut plugins: Vec<PolicyPlugin> = Vec::with_capacity(sources.len());
    for src in sources {
        let plugin = PolicyPlugin::load(rt, src)?;
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

/// Scan a collection with loaded plugins into the store, without mutes.
/// `source` names where the collection came from (`snapshot:FILE`, `aws`);
/// `on_batch(done, total)` reports progress.
pub fn run(
    store: &mut Store,
    snapshot: &Snapshot,
    source: &str,
    opts: &ScanOptions,
    plugins: &[PolicyPlugin],
    on_batch: &(dyn Fn(usize, usize) + Sync),
) -> Result<ScanReport, ScanError> {
    run_muted(
        store,
        snapshot,
        source,
        opts,
        plugins,
        &MuteSet::default(),
        on_batch,
    )
}

/// [`run`], with `mutes` applied to the failures on today's date (UTC).
/// A mute naming a rule that no plugin carries is refused before anything
/// is stored.
pub fn run_muted(
    store: &mut Store,
    snapshot: &Snapshot,
    source: &str,
    opts: &ScanOptions,
    plugins: &[PolicyPlugin],
    mutes: &MuteSet,
    on_batch: &(dyn Fn(usize, usize) + Sync),
) -> Result<ScanReport, ScanError> {
    let start = Instant::now();
    mutes.check_rules(&|id| plugins.iter().any(|p| p.rule(id).is_some()))?;
    let muter = Muter::new(mutes, &snapshot.assets, chrono::Utc::now().date_naive());
    let scope = snapshot.scope.key(&snapshot.provider);
    let (fit, refused) = held_to(&snapshot.assets, &opts.limits);
    let plan = EvaluationPlan::new(plugins, &fit, opts.batch_size);
    let mut writer = begin(store, snapshot, source, &scope, plugins)?;
    writer.add_findings(&refused_findings(plugins, &refused))?;
    let mut failures = evaluate(&plan, plugins, opts, &mut writer, &muter, on_batch)?;
    let (scan_id, totals) = writer.commit(&now_rfc3339())?;
    failures.sort_by(|a, b| (&a.plugin, a.batch).cmp(&(&b.plugin, b.batch)));
    Ok(ScanReport {
        scan_id,
        source: source.to_string(),
        scope,
        totals,
        plugins: plugins.iter().map(PluginSummary::of).collect(),
        failures,
        collection_errors: snapshot.errors.clone(),
        batches: plan.batches(),
        elapsed: start.elapsed(),
        peak_rss_bytes: peak_rss_bytes(),
        mutes: muter.summary(),
    })
}

/// Which mute covers each failure of the scan, counting what the mutes did.
struct Muter<'a> {
    set: &'a MuteSet,
    today: chrono::NaiveDate,
    /// Resource tags, read only when a mute looks at tags.
    tags: HashMap<&'a str, &'a [(String, String)]>,
    muted: RefCell<usize>,
    /// Expired mutes by id: failures each would have covered.
    expired: RefCell<BTreeMap<String, usize>>,
}

impl<'a> Muter<'a> {
    fn new(set: &'a MuteSet, assets: &'a [Asset], today: chrono::NaiveDate) -> Muter<'a> {
        let tags = if set.uses_tags() {
            assets
                .iter()
                .map(|a| (a.id.as_str(), a.tags.as_slice()))
                .collect()
        } else {
            HashMap::new()
        };
        Muter {
            set,
            today,
            tags,
            muted: RefCell::new(0),
            expired: RefCell::new(BTreeMap::new()),
        }
    }

    /// The mute covering a failure, if one in force does.
    fn cover(&self, f: &Finding) -> Option<MuteRef> {
        if self.set.is_empty() {
            return None;
        }
        let subject = Subject {
            rule_id: &f.rule_id,
            resource: &f.asset_id,
            account: &f.account,
            region: &f.region,
            tags: self.tags.get(f.asset_id.as_str()).copied().unwrap_or(&[]),
        };
        let cover = self.set.cover(&subject, self.today);
        if let Some(m) = cover.active {
            *self.muted.borrow_mut() += 1;
            return Some(m.to_ref());
        }
        if let Some(m) = cover.expired {
            *self.expired.borrow_mut().entry(m.id.clone()).or_default() += 1;
        }
        None
    }

    fn summary(&self) -> MuteSummary {
        let hits = self.expired.borrow();
        MuteSummary {
            file: self.set.file.as_ref().map(|f| f.display().to_string()),
            in_force: self
                .set
                .mutes
                .iter()
                .filter(|m| !m.expired(self.today))
                .count(),
            muted: *self.muted.borrow(),
            expired: self
                .set
                .mutes
                .iter()
                .filter(|m| m.expired(self.today))
                .map(|m| ExpiredMute {
                    id: m.id.clone(),
                    expires: m.expires.map(|d| d.to_string()).unwrap_or_default(),
                    failing: hits.get(&m.id).copied().unwrap_or(0),
                })
                .collect(),
        }
    }
}

/// Open the scan's transaction with what is known before evaluation: the
/// assets, the rules, what could not be collected (and the `error` results
/// it implies), and imported findings.
fn begin<'s>(
    store: &'s mut Store,
    snapshot: &Snapshot,
    source: &str,
    scope: &str,
    plugins: &[PolicyPlugin],
) -> Result<ScanWriter<'s>, ScanError> {
    let mut writer = store.begin_scan(ScanMeta {
        started_at: now_rfc3339(),
        source: source.to_string(),
        provider: snapshot.provider.clone(),
        scope: scope.to_string(),
    })?;
    writer.add_assets(&snapshot.assets)?;
    for p in plugins {
        writer.add_rules(&p.name, &p.version, &p.digest, &p.rules)?;
    }
    writer.add_collection_errors(&snapshot.errors)?;
    writer.add_findings(&uncollected(plugins, &snapshot.errors))?;
    writer.add_imported(&snapshot.findings)?;
    Ok(writer)
}

/// Run every batch on a pool of evaluation threads while this thread
/// writes each outcome as it arrives; returns the failed batches.
fn evaluate(
    plan: &EvaluationPlan<'_>,
    plugins: &[PolicyPlugin],
    opts: &ScanOptions,
    writer: &mut ScanWriter<'_>,
    muter: &Muter<'_>,
    on_batch: &(dyn Fn(usize, usize) + Sync),
) -> Result<Vec<FailureRecord>, ScanError> {
    let mut builder = rayon::ThreadPoolBuilder::new().thread_name(|i| format!("stance-eval-{i}"));
    if let Some(n) = opts.jobs {
        builder = builder.num_threads(n);
    }
    let pool = builder
        .build()
        .map_err(|e| ScanError::Threads(opts.jobs.unwrap_or(0), e.to_string()))?;
    let total = plan.batches();
    let (tx, rx) = mpsc::sync_channel::<BatchOutcome>(64);
    let mut failures = Vec::new();
    let mut written: Result<(), StoreError> = Ok(());
    std::thread::scope(|s| {
        let pool = &pool;
        s.spawn(move || {
            // A send fails only when this scope has already ended; nothing to do then.
            pool.install(|| plan.run(plugins, |outcome| drop(tx.send(outcome))))
        });
        for (done, outcome) in rx.into_iter().enumerate() {
            on_batch(done + 1, total);
            if written.is_ok() {
                written = write_outcome(writer, muter, &outcome);
            }
            failures.extend(outcome.failures);
        }
    });
    written?;
    Ok(failures)
}

fn write_outcome(
    writer: &mut ScanWriter<'_>,
    muter: &Muter<'_>,
    outcome: &BatchOutcome,
) -> Result<(), StoreError> {
    writer.add_findings_muted(&outcome.findings, &|f| muter.cover(f))?;
    for f in &outcome.failures {
        writer.add_failure(f)?;
    }
    Ok(())
}

/// The assets whose bodies plugins can take, and the others with why not:
/// the same limits (`--max-record-mib`, `--max-record-depth`) as records of
/// every other input, checked before batching.
fn held_to<'a>(
    assets: &'a [Asset],
    limits: &InputLimits,
) -> (Vec<&'a Asset>, Vec<(&'a Asset, String)>) {
    let mut fit = Vec::with_capacity(assets.len());
    let mut refused = Vec::new();
    for a in assets {
        match limits.check_record(a.body.len() as u64, json::depth(&a.body)) {
            Ok(()) => fit.push(a),
            Err(limit) => {
                tracing::warn!("asset {}: body {limit}; not evaluated", a.id);
                refused.push((a, format!("not evaluated: the asset's body is {limit}")));
            }
        }
    }
    (fit, refused)
}

/// One `error` finding for every rule of every plugin that reads a refused asset.
fn refused_findings(plugins: &[PolicyPlugin], refused: &[(&Asset, String)]) -> Vec<Finding> {
    let mut out = Vec::new();
    for (asset, why) in refused {
        for p in plugins {
            out.extend(error_findings_saying(p, &[*asset], why));
        }
    }
    out
}

/// Every rule that reads a resource type which could not be collected in an
/// account and region reports `error` there, on a stand-in resource named
/// after the scope (`aws:123456789012:us-east-1:aws_ec2_instance`): its
/// verdict is unknown, and unknown is never a pass.
fn uncollected(plugins: &[PolicyPlugin], errors: &[CollectionError]) -> Vec<Finding> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for e in errors {
        for t in &e.resource_types {
            let scope_id = format!("{}:{}:{}:{t}", e.provider, e.account, e.region);
            for p in plugins {
                for rule in p.rules.iter().filter(|r| r.applies_to(t)) {
                    if seen.insert((rule.id.clone(), scope_id.clone())) {
                        out.push(uncollected_finding(p, rule, e, t, &scope_id));
                    }
                }
            }
        }
    }
    out
}

fn uncollected_finding(
    p: &PolicyPlugin,
    rule: &model::Rule,
    e: &CollectionError,
    resource_type: &str,
    scope_id: &str,
) -> Finding {
    Finding {
        fingerprint: model::fingerprint(&rule.id, scope_id),
        rule_id: rule.id.clone(),
        plugin: p.name.clone(),
        plugin_version: p.version.clone(),
        asset_id: scope_id.to_string(),
        resource_type: resource_type.to_string(),
        account: e.account.clone(),
        region: e.region.clone(),
        severity: rule.severity,
        status: Status::Error,
        message: format!(
            "not collected: {} {} in account {} region {} failed ({}: {})",
            e.service, e.operation, e.account, e.region, e.kind, e.message
        ),
        evidence: Vec::new(),
    }
}

/// The process's peak resident set size (Linux), for reports and benchmarks.
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}
