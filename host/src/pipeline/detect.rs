//! Detection, end to end: events read from the inputs as a stream
//! (`events`), handed in batches to every detector plugin in order
//! (sources from `catalog`, loaded by `runtime`), the alerts and the
//! detectors' state stored in one transaction (`store`). Records past the
//! input limits were refused before batching (`events`). A batch that fails
//! in a plugin is bisected (`runtime::evaluate::bisect`): what still fails is
//! recorded (plugin, cause, the event when it is one), the plugin's state
//! stays as it was before each failed part, and the run goes on.
//!
//! Detectors that declare prefilters (`runtime::detector::Screen`) get only
//! the events of each batch that can match one of their rules, plus the
//! batch's newest left-out event so that time moves on for them as it would
//! have: batches keep their boundaries, so alerts and state are the same as
//! without the prefilter (`--no-prefilter`). Each event is read once for all
//! detectors' prefilters.

use std::time::Instant;

use anyhow::bail;

use crate::catalog::DetectorSources;
use crate::events::{InputLimits, Inputs, TimeRange};
use crate::model::{Alert, Event, FailureRecord};
use crate::runtime::detector::{Found, Screen, event_millis};
use crate::runtime::evaluate::{FailedPart, part_of};
use crate::runtime::{DetectorPlugin, DetectorState, Runtime, StateQuota};
use crate::store::{DetectionWriter, RunTotals, Store, Suppression};

/// How a detection run reads and calls.
#[derive(Debug, Clone, Copy)]
pub struct DetectOptions {
    /// Quota of each detector's kept state.
    pub quota: StateQuota,
    /// Events per plugin call.
    pub batch_size: usize,
    /// Only events in this time range.
    pub range: TimeRange,
    /// What one input and one record may be (records past them are refused
    /// before batching, as input errors).
    pub limits: InputLimits,
    /// Screen events with the detectors' prefilters (off: every detector
    /// gets every event, for comparison).
    pub prefilter: bool,
}

impl Default for DetectOptions {
    fn default() -> Self {
        DetectOptions {
            quota: StateQuota::default(),
            batch_size: 2000,
            range: TimeRange::default(),
            limits: InputLimits::default(),
            prefilter: true,
        }
    }
}

/// A detector as it ran.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DetectorSummary {
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
    pub load_ms: f64,
    /// Whether its prefilter screened the events it was handed.
    pub prefilter: bool,
    /// Events it was handed (all of them without a prefilter).
    pub events_in: u64,
}

/// What a run did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DetectReport {
    /// The stored run's id.
    pub run_id: i64,
    /// The inputs as given.
    pub inputs: Vec<String>,
    /// Counts as stored.
    pub totals: RunTotals,
    /// The detectors that ran.
    pub detectors: Vec<DetectorSummary>,
    /// Batches that failed.
    pub failures: Vec<FailureRecord>,
    /// Wall time of the run.
    pub elapsed_ms: f64,
    /// Alerts of this run that no earlier run raised (what notify sends).
    #[serde(skip)]
    pub new_alerts: Vec<Alert>,
}

impl DetectReport {
    /// Any failed batch, rule that did not load or unreadable input.
    pub fn has_errors(&self) -> bool {
        self.totals.has_errors()
    }
}

/// The detectors of a run, loaded and checked: the Sigma engine with its
/// rules (built-in, files, packs) and every other detector plugin.
pub struct DetectorSet {
    /// The detectors, in the order batches go through them.
    pub plugins: Vec<DetectorPlugin>,
    /// Sigma rules loaded plus the rules of the other plugins.
    pub rules: usize,
    /// Sigma rules that did not load, and why.
    pub rule_errors: Vec<String>,
}

/// Load the detectors a selection resolved to. Names must be unique: they
/// key the state.
pub fn load_detectors(rt: &Runtime, sources: DetectorSources) -> anyhow::Result<DetectorSet> {
    if sources.sources.is_empty() {
        bail!(
            "no detection rules to run: the built-in rules are excluded or not built in, and no --rules, --plugin or --pack gave any"
        );
    }
    let mut rules = sources.sigma_rules;
    let mut plugins: Vec<DetectorPlugin> = Vec::new();
    for src in sources.sources {
        let plugin = DetectorPlugin::load(rt, src)?;
        if plugins.iter().any(|d| d.name == plugin.name) {
            bail!(
                "{}: a detector named {} is already loaded; detector names key their state and must be unique",
                plugin.origin,
                plugin.name
            );
        }
        if !plugin.origin.starts_with("builtin:") {
            rules += plugin.rules.len();
        }
        plugins.push(plugin);
    }
    Ok(DetectorSet {
        plugins,
        rules,
        rule_errors: sources.rule_errors,
    })
}

/// One detector during a run, with its state between batches.
struct Running<'a> {
    plugin: &'a DetectorPlugin,
    state: Option<DetectorState>,
    /// Events handed to it so far.
    events_in: u64,
}

/// The run in progress: its detectors, its writer, what it has counted.
struct Run<'a, 'w> {
    detectors: Vec<Running<'a>>,
    screen: Screen,
    suppressions: Vec<Suppression>,
    writer: DetectionWriter<'w>,
    totals: RunTotals,
    failures: Vec<FailureRecord>,
    new_alerts: Vec<Alert>,
    batch_no: usize,
}

/// Run detection over `inputs` with detectors already loaded (each starts
/// from the state the store keeps for it) and store the run.
pub fn run(
    store: &mut Store,
    inputs: &Inputs,
    labels: &[String],
    opts: &DetectOptions,
    set: &DetectorSet,
) -> anyhow::Result<DetectReport> {
    let start = Instant::now();
    let (detectors, summaries) = start_detectors(store, set, opts.quota)?;
    let now = chrono::Utc::now();
    let suppressions: Vec<Suppression> = store
        .suppressions()?
        .into_iter()
        .filter(|s| s.active(&now))
        .collect();
    let started_at = now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let screen = if opts.prefilter {
        let prefilters: Vec<_> = detectors.iter().map(|d| d.plugin.prefilter()).collect();
        Screen::new(&prefilters)
    } else {
        Screen::default()
    };
    let mut run = Run {
        detectors,
        screen,
        suppressions,
        writer: store.begin_detection(&started_at, labels)?,
        totals: RunTotals {
            rules: set.rules,
            rule_errors: set.rule_errors.clone(),
            ..RunTotals::default()
        },
        failures: Vec::new(),
        new_alerts: Vec::new(),
        batch_no: 0,
    };
    let batch_size = opts.batch_size.max(1);
    let mut batch: Vec<Event> = Vec::with_capacity(batch_size);
    let stats = inputs.read(opts.range, &opts.limits, &mut |event| {
        batch.push(event);
        if batch.len() >= batch_size {
            run.batch(&mut batch)?;
        }
        Ok(())
    })?;
    run.batch(&mut batch)?;
    run.totals.files = stats.files;
    run.totals.events = stats.events;
    run.totals.out_of_range = stats.out_of_range;
    run.totals.input_errors = stats.errors.iter().map(ToString::to_string).collect();
    run.finish(labels, summaries, start)
}

/// Each detector with the state the store keeps for it, and its summary.
fn start_detectors<'a>(
    store: &Store,
    set: &'a DetectorSet,
    quota: StateQuota,
) -> anyhow::Result<(Vec<Running<'a>>, Vec<DetectorSummary>)> {
    let mut detectors = Vec::new();
    let mut summaries = Vec::new();
    for plugin in &set.plugins {
        let entries = store.detector_state(&plugin.name)?;
        summaries.push(DetectorSummary {
            name: plugin.name.clone(),
            version: plugin.version.clone(),
            origin: plugin.origin.clone(),
            digest: plugin.digest.clone(),
            rules: plugin.rules.len(),
            cache: plugin.compile.label(),
            load_ms: plugin.compile.duration().as_secs_f64() * 1000.0,
            prefilter: false,
            events_in: 0,
        });
        detectors.push(Running {
            state: Some(DetectorState::new(entries, quota)),
            plugin,
            events_in: 0,
        });
    }
    Ok((detectors, summaries))
}

impl Run<'_, '_> {
    /// Hand one batch to every detector in turn, then empty it.
    fn batch(&mut self, batch: &mut Vec<Event>) -> anyhow::Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        let read = self.read(batch);
        for i in 0..self.detectors.len() {
            let kept = read.as_ref().and_then(|r| self.screened(i, batch, r));
            let events: &[Event] = kept.as_deref().unwrap_or(batch);
            if events.is_empty() {
                continue;
            }
            self.detectors[i].events_in += events.len() as u64;
            let plugin = self.detectors[i].plugin;
            let state = self.detectors[i].state.take().unwrap_or_default();
            let (mut state, alerts, failed) = plugin.evaluate_contained(events, state);
            self.alerts(alerts)?;
            for part in &failed {
                self.failure(plugin, events, part)?;
            }
            self.writer
                .save_state(&plugin.name, &state.take_changes())?;
            self.detectors[i].state = Some(state);
        }
        self.totals.batches += 1;
        self.batch_no += 1;
        batch.clear();
        Ok(())
    }

    /// What the prefilters need of each event of the batch, read once, and
    /// each event's time; `None` when no detector has a prefilter.
    fn read(&self, batch: &[Event]) -> Option<Screened> {
        if !self.screen.active() {
            return None;
        }
        Some(Screened {
            found: batch.iter().map(|e| self.screen.read(&e.body)).collect(),
            times: batch.iter().map(|e| event_millis(&e.time)).collect(),
        })
    }

    /// The events of the batch detector `i` can match, in order, with the
    /// newest of the others (so that its clock moves on as without the
    /// prefilter); `None` when it has no prefilter.
    fn screened(&self, i: usize, batch: &[Event], read: &Screened) -> Option<Vec<Event>> {
        if !self.screen.filters(i) {
            return None;
        }
        let admitted: Vec<bool> = read
            .found
            .iter()
            .map(|f| self.screen.admits(i, f))
            .collect();
        let newest_left = (0..batch.len())
            .filter(|&n| !admitted[n])
            .filter_map(|n| read.times[n].map(|t| (t, n)))
            .max()
            .map(|(_, n)| n);
        Some(
            batch
                .iter()
                .enumerate()
                .filter(|(n, _)| admitted[*n] || newest_left == Some(*n))
                .map(|(_, e)| e.clone())
                .collect(),
        )
    }

    /// Record a part of a batch that failed in a plugin.
    fn failure(
        &mut self,
        plugin: &DetectorPlugin,
        batch: &[Event],
        part: &FailedPart,
    ) -> anyhow::Result<()> {
        let events = &batch[part.items.clone()];
        let on = part_of(part, batch.len(), |i| events[i].id.as_str());
        let failure = &part.failure;
        tracing::warn!(plugin = %plugin.name, batch = self.batch_no, "plugin {} {failure}{on}", plugin.name);
        let mut record = plugin.failure_record(failure, self.batch_no, events.len());
        record.cause.push_str(&on);
        self.writer.add_failure(&record)?;
        self.failures.push(record);
        self.totals.failed_batches += 1;
        Ok(())
    }

    /// Store a detector's alerts, each with the suppression that covers it,
    /// and count what is new, repeated and suppressed.
    fn alerts(&mut self, alerts: Vec<Alert>) -> anyhow::Result<()> {
        let alerts: Vec<(Alert, Option<i64>)> = alerts
            .into_iter()
            .map(|a| {
                let by = self
                    .suppressions
                    .iter()
                    .find(|s| s.covers(&a))
                    .map(|s| s.id);
                (a, by)
            })
            .collect();
        let fresh = self.writer.add_alerts(&alerts)?;
        for ((a, suppressed_by), new) in alerts.into_iter().zip(fresh) {
            match (suppressed_by, new) {
                (Some(_), true) => self.totals.suppressed += 1,
                (_, false) => self.totals.duplicates += 1,
                (None, true) => {
                    self.totals.alerts += 1;
                    *self
                        .totals
                        .by_severity
                        .entry(a.severity.as_str().to_string())
                        .or_default() += 1;
                    self.new_alerts.push(a);
                }
            }
        }
        Ok(())
    }

    /// Commit the run and report it.
    fn finish(
        mut self,
        labels: &[String],
        mut detectors: Vec<DetectorSummary>,
        start: Instant,
    ) -> anyhow::Result<DetectReport> {
        for (i, (d, summary)) in self.detectors.iter().zip(&mut detectors).enumerate() {
            summary.prefilter = self.screen.filters(i);
            summary.events_in = d.events_in;
        }
        for d in &self.detectors {
            if let Some(s) = &d.state {
                self.totals
                    .state_keys
                    .insert(d.plugin.name.clone(), s.len());
            }
        }
        let run_id = self.writer.run_id();
        let finished_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        self.writer.finish(&finished_at, &self.totals)?;
        Ok(DetectReport {
            run_id,
            inputs: labels.to_vec(),
            totals: self.totals,
            detectors,
            failures: self.failures,
            elapsed_ms: start.elapsed().as_secs_f64() * 1000.0,
            new_alerts: self.new_alerts,
        })
    }
}

/// What the prefilters read of one batch: per event, the values their
/// tests name and the event's time.
struct Screened {
    found: Vec<Vec<Found>>,
    times: Vec<Option<i64>>,
}
