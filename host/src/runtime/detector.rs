//! Detector plugins (the `detector` world): loaded with the same checks,
//! cache and limits as policies, and called on a fresh instance per batch
//! with the plugin's state journaled (`state`), so that a batch that traps,
//! times out or returns garbage fails alone and leaves the state as it was;
//! [`DetectorPlugin::evaluate_contained`] then bisects it (`evaluate::bisect`)
//! so that one event the plugin cannot take costs that event alone.
//!
//! A detector may also export the optional `prefilter` interface; its tests
//! are read once at load ([`prefilter`]) and the run screens events with them.

mod prefilter;

use std::collections::{HashMap, HashSet};
use std::ops::Deref;

use super::bindings::detector::DetectorPre;
use super::bindings::policy::stance::plugin::types as wit;
use super::bindings::prefiltered::exports::stance::plugin::prefilter::GuestIndices;
use super::convert;
use super::engine::Runtime;
use super::evaluate::{FailedPart, bisect};
use super::failure::PluginFailure;
use super::host_api::CallData;
use super::load::PluginLoadError;
use super::plugin::LoadedPlugin;
use super::source::{PluginSource, World};
use super::state::{CallState, DetectorState};
use crate::model::{Alert, Event, alert_fingerprint};

pub use prefilter::{Found, Prefilter, Screen, event_millis};

/// A loaded, validated detector plugin. Its identity and rules are those of
/// the [`LoadedPlugin`] it derefs to.
pub struct DetectorPlugin {
    core: LoadedPlugin,
    pre: DetectorPre<CallData>,
    prefilter: Option<Prefilter>,
}

impl Deref for DetectorPlugin {
    type Target = LoadedPlugin;
    fn deref(&self) -> &LoadedPlugin {
        &self.core
    }
}

impl std::fmt::Debug for DetectorPlugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.core.fmt(f)
    }
}

impl DetectorPlugin {
    /// Load a detector: the checks of a policy plugin, for the detector world.
    pub fn load(rt: &Runtime, src: PluginSource) -> Result<DetectorPlugin, PluginLoadError> {
        let (core, pre) =
            LoadedPlugin::load(rt, &src, World::Detector, DetectorPre::new, |spec, pre| {
                spec.run(
                    Some(CallState::begin(DetectorState::default())),
                    |store| pre.instantiate(store),
                    |store, instance| {
                        instance
                            .stance_plugin_detector_plugin()
                            .call_describe(store)
                    },
                )
                .1
            })?;
        let prefilter = read_prefilter(&core, &pre);
        Ok(DetectorPlugin {
            core,
            pre,
            prefilter,
        })
    }

    /// The tests an event must pass to be able to match one of the plugin's
    /// rules; `None` when it exports none, or some rule can match any event.
    pub fn prefilter(&self) -> Option<&Prefilter> {
        self.prefilter.as_ref()
    }

    /// Evaluate one batch, bisected when it fails (`evaluate::bisect`): the
    /// alerts of every part that ran, in order, the state after them, and
    /// the parts that failed (each left the state as it found it).
    pub fn evaluate_contained(
        &self,
        batch: &[Event],
        state: DetectorState,
    ) -> (DetectorState, Vec<Alert>, Vec<FailedPart>) {
        let mut state = Some(state);
        let mut alerts = Vec::new();
        let failed = bisect(batch.len(), &mut |range| {
            let (next, result) = self.evaluate(&batch[range], state.take().unwrap_or_default());
            state = Some(next);
            alerts.extend(result?);
            Ok(())
        });
        (state.unwrap_or_default(), alerts, failed)
    }

    /// Evaluate one batch on a fresh instance. The state comes back with the
    /// batch's changes on success, and exactly as it was on failure.
    pub fn evaluate(
        &self,
        batch: &[Event],
        state: DetectorState,
    ) -> (DetectorState, Result<Vec<Alert>, PluginFailure>) {
        let input: Vec<wit::Event> = batch.iter().map(convert::event).collect();
        let (call_state, result) = self.call_spec().run(
            Some(CallState::begin(state)),
            |store| self.pre.instantiate(store),
            |store, instance| {
                instance
                    .stance_plugin_detector_plugin()
                    .call_evaluate(store, &input)
            },
        );
        let call_state = call_state.unwrap_or_else(|| CallState::begin(DetectorState::default()));
        let result = result
            .and_then(|r| {
                r.map_err(|e| PluginFailure::PluginError {
                    rule_id: e.rule_id,
                    message: e.message,
                })
            })
            .and_then(|alerts| self.validate(batch, alerts));
        match result {
            Ok(alerts) => (call_state.commit(), Ok(alerts)),
            Err(f) => (call_state.rollback(), Err(f)),
        }
    }

    fn validate(
        &self,
        batch: &[Event],
        alerts: Vec<wit::Alert>,
    ) -> Result<Vec<Alert>, PluginFailure> {
        let size: usize = alerts
            .iter()
            .map(|a| {
                a.rule_id.len()
                    + a.title.len()
                    + a.message.len()
                    + a.event_ids.iter().map(String::len).sum::<usize>()
                    + a.group_key.as_ref().map_or(0, String::len)
                    + convert::evidence_size(&a.evidence)
            })
            .sum();
        self.check_output(size)?;
        let events: HashMap<&str, &Event> = batch.iter().map(|e| (e.id.as_str(), e)).collect();
        let mut seen = HashSet::new();
        let mut out = Vec::with_capacity(alerts.len());
        for (n, a) in alerts.into_iter().enumerate() {
            let what = format!("alert #{n}");
            let bad = |why: &str| PluginFailure::InvalidOutput(format!("{what}: {why}"));
            if self.rule(&a.rule_id).is_none() {
                return Err(bad(&format!(
                    "rule {:?} is not one the plugin declares",
                    a.rule_id
                )));
            }
            if a.event_ids.is_empty() {
                return Err(bad("names no events"));
            }
            let evidence = convert::evidence(&what, a.evidence)?;
            let fingerprint = alert_fingerprint(
                &a.rule_id,
                a.group_key.as_deref(),
                &a.window_start,
                &a.event_ids,
            );
            if !seen.insert(fingerprint.clone()) {
                // The same alert twice in one batch (two rule documents, say): keep one.
                continue;
            }
            let first = a.event_ids.iter().find_map(|id| events.get(id.as_str()));
            out.push(Alert {
                fingerprint,
                evidence,
                rule_id: a.rule_id,
                title: a.title,
                plugin: self.name.clone(),
                plugin_version: self.version.clone(),
                severity: convert::severity(a.severity),
                message: a.message,
                event_ids: a.event_ids,
                group_key: a.group_key,
                window_start: a.window_start,
                window_end: a.window_end,
                account: first.map(|e| e.account.clone()).unwrap_or_default(),
                region: first.map(|e| e.region.clone()).unwrap_or_default(),
                source: first.map(|e| e.source.clone()).unwrap_or_default(),
            });
        }
        Ok(out)
    }
}

/// The plugin's prefilter, when it exports the interface and its answer
/// holds; a failure is logged and leaves the plugin unfiltered, which changes
/// nothing but speed.
fn read_prefilter(core: &LoadedPlugin, pre: &DetectorPre<CallData>) -> Option<Prefilter> {
    let indices = GuestIndices::new(pre.instance_pre()).ok()?;
    let (_, result) = core.call_spec().run(
        Some(CallState::begin(DetectorState::default())),
        |store| pre.instance_pre().instantiate(store),
        |store, instance| {
            indices
                .load(&mut *store, instance)?
                .call_prefilters(&mut *store)
        },
    );
    let why = match result {
        Ok(Ok(list)) => match Prefilter::declared(&core.rules, list) {
            Ok(p) => return p,
            Err(why) => why,
        },
        Ok(Err(e)) => e.message,
        Err(failure) => format!("prefilters {failure}"),
    };
    tracing::warn!(plugin = %core.name, "plugin {}: no prefilter: {why}", core.name);
    None
}
