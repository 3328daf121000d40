//! Evaluating assets through plugins: split each plugin's assets into
//! batches, run the batches in parallel across cores (each plugin through
//! one [`Session`] for the run, which keeps an instance per thread for a
//! plugin that declares itself stateless), and contain a failed
//! call: the batch is bisected ([`bisect`], also what detectors use) so that
//! one asset the plugin cannot take costs that asset alone, and what still
//! fails becomes `error` results for every (rule, asset) it covered, so that
//! an unknown outcome is never mistaken for a pass.

use std::ops::Range;
use std::time::{Duration, Instant};

use rayon::prelude::*;

use super::failure::PluginFailure;
use super::policy::PolicyPlugin;
use super::reuse::Session;
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
    /// The findings; for the parts of the batch that failed, one `error`
    /// finding per (rule, asset) they covered.
    pub findings: Vec<Finding>,
    /// Why the batch, or parts of it, failed; empty when it ran.
    pub failures: Vec<FailureRecord>,
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
    pub fn new(plugins: &[PolicyPlugin], assets: &[&'a Asset], batch_size: usize) -> Self {
        let batch_size = batch_size.max(1);
        let mut jobs = Vec::new();
        for (p, plugin) in plugins.iter().enumerate() {
            let wanted: Vec<&Asset> = assets
                .iter()
                .copied()
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

    /// Run every batch, in parallel, handing each outcome to `sink` as it
    /// completes. Each plugin's instances live for this run alone.
    pub fn run(&self, plugins: &[PolicyPlugin], sink: impl Fn(BatchOutcome) + Sync + Send) {
        let sessions: Vec<Session<'_>> = plugins.iter().map(PolicyPlugin::session).collect();
        self.jobs
            .par_iter()
            .for_each(|job| sink(run_job(&sessions[job.plugin], job)));
    }
}

/// One batch through its plugin, bisected on failure: the findings of every
/// part that ran, and `error` findings with a failure record for each part
/// that did not.
fn run_job(session: &Session<'_>, job: &Job<'_>) -> BatchOutcome {
    let plugin = session.plugin();
    let start = Instant::now();
    let assets = &job.assets;
    let mut findings = Vec::new();
    let failed = bisect(assets.len(), &mut |range| {
        let part = &assets[range];
        let mut found = session.evaluate(part)?;
        undecidable_on_gaps(plugin, part, &mut found);
        findings.extend(found);
        Ok(())
    });
    let elapsed = start.elapsed();
    let mut failures = Vec::with_capacity(failed.len());
    for part in failed {
        let items = &assets[part.items.clone()];
        let failure = &part.failure;
        tracing::warn!(
            plugin = %plugin.name,
            batch = job.batch,
            "plugin {} {failure}{}",
            plugin.name,
            part_of(&part, assets.len(), |i| items[i].id.as_str())
        );
        findings.extend(error_findings(plugin, items, failure));
        let mut record = plugin.failure_record(failure, job.batch, items.len());
        record
            .cause
            .push_str(&part_of(&part, assets.len(), |i| items[i].id.as_str()));
        failures.push(record);
    }
    BatchOutcome {
        plugin: job.plugin,
        batch: job.batch,
        assets: assets.len(),
        findings,
        failures,
        elapsed,
    }
}

/// A failed part of a batch: the range of its items, and why it failed.
#[derive(Debug, Clone, PartialEq)]
pub struct FailedPart {
    /// The items of the batch it covers.
    pub items: Range<usize>,
    /// Why.
    pub failure: PluginFailure,
}

/// How a failed part is named after its cause: nothing for the whole batch,
/// ` (asset ID, alone)` for one item, ` (K of the batch's N)` otherwise.
pub fn part_of<'i>(part: &FailedPart, batch: usize, id: impl Fn(usize) -> &'i str) -> String {
    match part.items.len() {
        n if n == batch => String::new(),
        1 => format!(" (alone, on {})", id(0)),
        n => format!(" (on {n} of the batch's {batch} items)"),
    }
}

/// Run `call` on a whole batch of `len` items and, when it fails, find the
/// items that fail: the failed range is split in two and each half called
/// in order (the left one, and what it yields, before the right one: a
/// detector sees its events in order), down to single items. So one record
/// a plugin cannot take costs that record, never its neighbours.
///
/// The search is bounded: a part that timed out is not split again (each
/// call that times out costs a whole deadline), and after
/// `2 * log2(len) + 4` splits failing parts are no longer split (parts not
/// tried yet are still tried once). When every item failed, the plugin
/// fails whatever it is given: one failure is reported, for the whole
/// batch, with the first cause.
pub fn bisect(
    len: usize,
    call: &mut dyn FnMut(Range<usize>) -> Result<(), PluginFailure>,
) -> Vec<FailedPart> {
    let whole = 0..len;
    let Err(first) = call(whole.clone()) else {
        return Vec::new();
    };
    let mut search = Search {
        call,
        failed: Vec::new(),
        splits_left: 2 * (usize::BITS - len.leading_zeros()) as usize + 4,
    };
    search.settle(whole.clone(), first.clone());
    let failed_items: usize = search.failed.iter().map(|p| p.items.len()).sum();
    if failed_items == len {
        return vec![FailedPart {
            items: whole,
            failure: first,
        }];
    }
    search.failed
}

/// A bisection in progress.
struct Search<'c> {
    call: &'c mut dyn FnMut(Range<usize>) -> Result<(), PluginFailure>,
    failed: Vec<FailedPart>,
    splits_left: usize,
}

impl Search<'_> {
    /// `range` failed with `failure`: split it and try its halves (a half
    /// that times out is recorded as it is), or record it as failed.
    fn settle(&mut self, range: Range<usize>, failure: PluginFailure) {
        if range.len() <= 1 || self.splits_left == 0 {
            self.failed.push(FailedPart {
                items: range,
                failure,
            });
            return;
        }
        self.splits_left -= 1;
        let mid = range.start + range.len() / 2;
        for half in [range.start..mid, mid..range.end] {
            if let Err(f) = (self.call)(half.clone()) {
                if matches!(f, PluginFailure::Timeout(_)) {
                    self.failed.push(FailedPart {
                        items: half,
                        failure: f,
                    });
                } else {
                    self.settle(half, f);
                }
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
    error_findings_saying(plugin, assets, &format!("plugin {} {failure}", plugin.name))
}

/// One `error` finding for every (rule, asset) of `assets` the plugin
/// reads, each saying `message`.
pub fn error_findings_saying(
    plugin: &PolicyPlugin,
    assets: &[&Asset],
    message: &str,
) -> Vec<Finding> {
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
                message: message.to_string(),
                evidence: Vec::new(),
            });
        }
    }
    out
}

#[cfg(test)]
// The tests compare lists of failed ranges; a list of one range is meant.
#[allow(clippy::single_range_in_vec_init)]
mod tests {
    use super::*;

    /// Bisect a batch of `len` items that fails on `poisoned` ones (with
    /// `failure`); returns the failed parts and the ranges called, in order.
    fn run(
        len: usize,
        poisoned: &[usize],
        failure: PluginFailure,
    ) -> (Vec<Range<usize>>, Vec<Range<usize>>) {
        let mut calls = Vec::new();
        let failed = bisect(len, &mut |r: Range<usize>| {
            calls.push(r.clone());
            match poisoned.iter().any(|p| r.contains(p)) {
                true => Err(failure.clone()),
                false => Ok(()),
            }
        });
        (failed.into_iter().map(|p| p.items).collect(), calls)
    }

    fn panic() -> PluginFailure {
        PluginFailure::Panic("boom".into())
    }

    #[test]
    fn one_poisoned_item_costs_itself_alone() {
        let (failed, calls) = run(2000, &[1234], panic());
        assert_eq!(failed, [1234..1235]);
        // The whole batch, then two halves a level: 1 + 2 * 11 calls.
        assert_eq!(calls.len(), 23);
        // In order: every part before the next one starts.
        let starts: Vec<usize> = calls[1..].iter().map(|r| r.start).collect();
        assert!(starts.windows(2).all(|w| w[0] <= w[1]), "{calls:?}");
    }

    #[test]
    fn a_batch_that_runs_is_called_once() {
        let (failed, calls) = run(10, &[], panic());
        assert!(failed.is_empty());
        assert_eq!(calls, [0..10]);
    }

    #[test]
    fn a_plugin_that_fails_on_everything_fails_the_batch_once_and_boundedly() {
        let all: Vec<usize> = (0..2000).collect();
        let (failed, calls) = run(2000, &all, panic());
        assert_eq!(failed, [0..2000]);
        // At most 2 * log2 + 4 splits (two calls each), then what was not
        // tried yet once.
        assert!(calls.len() <= 1 + 2 * 26 + 11, "{} calls", calls.len());
    }

    #[test]
    fn a_timed_out_part_is_not_split_again() {
        let timeout = PluginFailure::Timeout(Duration::from_millis(10));
        let (failed, calls) = run(100, &[70], timeout.clone());
        assert_eq!(failed, [50..100]);
        assert_eq!(calls, [0..100, 0..50, 50..100]);
        let all: Vec<usize> = (0..100).collect();
        let (failed, calls) = run(100, &all, timeout);
        assert_eq!(failed, [0..100]);
        assert_eq!(calls.len(), 3);
    }

    #[test]
    fn parts_are_named_by_what_they_cover() {
        let part = |items| FailedPart {
            items,
            failure: panic(),
        };
        assert_eq!(part_of(&part(0..10), 10, |_| "x"), "");
        assert_eq!(part_of(&part(3..4), 10, |_| "ev-3"), " (alone, on ev-3)");
        assert_eq!(
            part_of(&part(0..5), 10, |_| "x"),
            " (on 5 of the batch's 10 items)"
        );
    }
}
