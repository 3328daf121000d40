//! Evaluating assets through plugins: split each plugin's assets into
//! batches, run the batches in parallel across cores, and turn a failed
//! batch into `error` results for every (rule, asset) it covered, so that
//! an unknown outcome is never mistaken for a pass.

use std::time::{Duration, Instant};

use rayon::prelude::*;

use super::failure::PluginFailure;
use super::policy::PolicyPlugin;
use crate::model::{self, Asset, FailureRecord, Finding, Status};

/// What one batch produced.
#[derive(Debug)]
pub struct BatchOutcome {
    /// The plugin's index in the slice the plan was made for.
    pub plugin: usize,
    /// The batch's index among that plugin's batches, from 0.
    pub batch: usize,
    /// Assets in the batch.
    pub assets: usize,
    /// The findings; when the batch failed, one `error` finding per (rule, asset) it covered.
    pub findings: Vec<Finding>,
    /// Why the batch failed; `None` when it ran.
    pub failure: Option<FailureRecord>,
    /// Wall time of the plugin call.
    pub elapsed: Duration,
}

struct Job<'a> {
    plugin: usize,
    batch: usize,
    assets: Vec<&'a Asset>,
}

/// The batches of one evaluation, decided before anything runs.
pub struct EvaluationPlan<'a> {
    jobs: Vec<Job<'a>>,
}

impl<'a> EvaluationPlan<'a> {
    /// Each plugin gets only the assets its rules read, in batches of `batch_size`.
    pub fn new(plugins: &[PolicyPlugin], assets: &'a [Asset], batch_size: usize) -> Self {
        let batch_size = batch_size.max(1);
        let mut jobs = Vec::new();
        for (p, plugin) in plugins.iter().enumerate() {
            let wanted: Vec<&Asset> = assets
                .iter()
                .filter(|a| plugin.wants(&a.resource_type))
                .collect();
            for (b, chunk) in wanted.chunks(batch_size).enumerate() {
                jobs.push(Job {
                    plugin: p,
                    batch: b,
                    assets: chunk.to_vec(),
                });
            }
        }
        EvaluationPlan { jobs }
    }

    /// How many batches the plan holds (0 when no plugin wants any asset).
    pub fn batches(&self) -> usize {
        self.jobs.len()
    }

    /// Run every batch, in parallel, handing each outcome to `sink` as it completes.
    pub fn run(&self, plugins: &[PolicyPlugin], sink: impl Fn(BatchOutcome) + Sync + Send) {
        self.jobs
            .par_iter()
            .for_each(|job| sink(run_job(&plugins[job.plugin], job)));
    }
}

fn run_job(plugin: &PolicyPlugin, job: &Job<'_>) -> BatchOutcome {
    let start = Instant::now();
    let result = plugin.evaluate(&job.assets);
    let elapsed = start.elapsed();
    match result {
        Ok(mut findings) => {
            undecidable_on_gaps(plugin, &job.assets, &mut findings);
            BatchOutcome {
                plugin: job.plugin,
                batch: job.batch,
                assets: job.assets.len(),
                findings,
                failure: None,
                elapsed,
            }
        }
        Err(failure) => {
            tracing::warn!(
                plugin = %plugin.name,
                batch = job.batch,
                "plugin {} {failure}",
                plugin.name
            );
            BatchOutcome {
                plugin: job.plugin,
                batch: job.batch,
                assets: job.assets.len(),
                findings: error_findings(plugin, &job.assets, &failure),
                failure: Some(plugin.failure_record(&failure, job.batch, job.assets.len())),
                elapsed,
            }
        }
    }
}

/// A rule cannot judge an asset whose fields it reads were not collected:
/// its result there becomes `error`, naming the field and the failed call,
/// instead of a verdict on a `null` (rules that declare no reads are
/// assumed to read every field).
fn undecidable_on_gaps(plugin: &PolicyPlugin, assets: &[&Asset], findings: &mut [Finding]) {
    if assets.iter().all(|a| a.gaps.is_empty()) {
        return;
    }
    for f in findings.iter_mut() {
        let Some(asset) = assets.iter().find(|a| a.id == f.asset_id) else {
            continue;
        };
        let Some(rule) = plugin.rule(&f.rule_id) else {
            continue;
        };
        let reads = |field: &str| {
            rule.reads.is_empty()
                || rule.reads.iter().any(|p| {
                    p == field
                        || p.strip_prefix(field)
                            .is_some_and(|rest| rest.starts_with('.') || rest.starts_with('['))
                })
        };
        if let Some(gap) = asset.gaps.iter().find(|g| reads(&g.field)) {
            f.status = Status::Error;
            f.message = format!(
                "cannot decide: `{}` was not collected ({}: {})",
                gap.field, gap.operation, gap.error
            );
            f.evidence.clear();
        }
    }
}

/// One `error` finding for every (rule, asset) of a failed batch.
pub fn error_findings(
    plugin: &PolicyPlugin,
    assets: &[&Asset],
    failure: &PluginFailure,
) -> Vec<Finding> {
    let message = format!("plugin {} {failure}", plugin.name);
    let mut out = Vec::new();
    for asset in assets {
        for rule in plugin
            .rules
            .iter()
            .filter(|r| r.applies_to(&asset.resource_type))
        {
            out.push(Finding {
                fingerprint: model::fingerprint(&rule.id, &asset.id),
                rule_id: rule.id.clone(),
                plugin: plugin.name.clone(),
                plugin_version: plugin.version.clone(),
                asset_id: asset.id.clone(),
                resource_type: asset.resource_type.clone(),
                account: asset.account.clone(),
                region: asset.region.clone(),
                severity: rule.severity,
                status: Status::Error,
                message: message.clone(),
                evidence: Vec::new(),
            });
        }
    }
    out
}
