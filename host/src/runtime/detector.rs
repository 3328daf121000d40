//! Detector plugins (the `detector` world): loaded with the same checks,
//! cache and limits as policies, and called on a fresh instance per batch
//! with the plugin's state journaled (`state`), so that a batch that traps,
//! times out or returns garbage fails alone and leaves the state as it was.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::Arc;

use sha2::{Digest, Sha256};
use wasmtime::{Engine, Store};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;

use super::bindings::detector::DetectorPre;
use super::bindings::policy::stance::plugin::types as wit;
use super::cache::CacheOutcome;
use super::engine::{Runtime, deadline_ticks};
use super::host_api::{STDERR_CAPTURE, StoreData};
use super::limits::Limits;
use super::load::{Prepared, described, prepare};
use super::plugin::{
    PluginFailure, PluginLoadError, PluginSource, SettingSpec, World, classify, severity,
};
use super::state::{CallState, DetectorState};
use crate::events::{Alert, Event};
use crate::model::{Evidence, Rule};

/// A loaded, validated detector plugin.
pub struct DetectorPlugin {
    pub name: String,
    pub version: String,
    pub description: String,
    pub wit_version: String,
    pub digest: String,
    pub origin: String,
    pub rules: Vec<Rule>,
    pub settings_spec: Vec<SettingSpec>,
    pub limits: Limits,
    pub compile: CacheOutcome,
    rule_index: HashMap<String, usize>,
    engine: Engine,
    pre: DetectorPre<StoreData>,
    settings_json: Arc<str>,
    name_arc: Arc<str>,
}

impl fmt::Debug for DetectorPlugin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DetectorPlugin")
            .field("name", &self.name)
            .field("version", &self.version)
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

/// The stable identity of an alert: the rule and the events it matched (a
/// single-event rule), or the rule, group and window start (a correlation).
pub fn alert_fingerprint(
    rule_id: &str,
    group_key: Option<&str>,
    window_start: &str,
    event_ids: &[String],
) -> String {
    let mut h = Sha256::new();
    h.update(rule_id.as_bytes());
    h.update([0]);
    match group_key {
        Some(g) => {
            h.update(b"g");
            h.update(g.as_bytes());
            h.update([0]);
            h.update(window_start.as_bytes());
        }
        None if event_ids.len() > 1 => {
            h.update(b"w");
            h.update(window_start.as_bytes());
        }
        None => {
            h.update(b"e");
            for id in event_ids {
                h.update(id.as_bytes());
                h.update([0]);
            }
        }
    }
    hex::encode(&h.finalize()[..16])
}

fn to_wit(e: &Event) -> wit::Event {
    wit::Event {
        id: e.id.clone(),
        source: e.source.clone(),
        time: e.time.clone(),
        account: e.account.clone(),
        region: e.region.clone(),
        body: e.body.clone(),
    }
}

impl DetectorPlugin {
    /// Load a detector: the checks of `Plugin::load`, for the detector world.
    pub fn load(rt: &Runtime, src: PluginSource) -> Result<DetectorPlugin, PluginLoadError> {
        let origin = src.origin.clone();
        let Prepared {
            digest,
            compile,
            wit_version,
            instance_pre,
            settings,
            settings_json,
            ..
        } = prepare(rt, &src, World::Detector)?;
        let pre = DetectorPre::new(instance_pre).map_err(|e| PluginLoadError::Link {
            origin: origin.clone(),
            message: format!("{e:#}"),
        })?;
        let provisional: Arc<str> = Arc::from(origin.as_str());
        let (_, outcome) = call(
            &rt.engine,
            &pre,
            &provisional,
            &settings_json,
            &src.limits,
            DetectorState::default(),
            |store, instance| {
                instance
                    .stance_plugin_detector_plugin()
                    .call_describe(store)
            },
        );
        let d = described(&origin, &settings, outcome)?;
        Ok(DetectorPlugin {
            name_arc: Arc::from(d.name.as_str()),
            name: d.name,
            version: d.version,
            description: d.description,
            wit_version,
            digest,
            origin,
            rules: d.rules,
            settings_spec: d.settings_spec,
            limits: src.limits,
            compile,
            rule_index: d.rule_index,
            engine: rt.engine.clone(),
            pre,
            settings_json,
        })
    }

    /// The settings the plugin runs with, as JSON text.
    pub fn settings_json(&self) -> &str {
        &self.settings_json
    }

    pub fn rule(&self, id: &str) -> Option<&Rule> {
        self.rule_index.get(id).map(|&i| &self.rules[i])
    }

    /// Evaluate one batch on a fresh instance. The state comes back with the
    /// batch's changes on success, and exactly as it was on failure.
    pub fn evaluate(
        &self,
        batch: &[Event],
        state: DetectorState,
    ) -> (DetectorState, Result<Vec<Alert>, PluginFailure>) {
        let input: Vec<wit::Event> = batch.iter().map(to_wit).collect();
        let (state, result) = call(
            &self.engine,
            &self.pre,
            &self.name_arc,
            &self.settings_json,
            &self.limits,
            state,
            |store, instance| {
                instance
                    .stance_plugin_detector_plugin()
                    .call_evaluate(store, &input)
            },
        );
        let result = result
            .and_then(|r| {
                r.map_err(|e| PluginFailure::PluginError {
                    rule_id: e.rule_id,
                    message: e.message,
                })
            })
            .and_then(|alerts| self.validate(batch, alerts));
        match result {
            Ok(alerts) => (state.commit(), Ok(alerts)),
            Err(f) => (state.rollback(), Err(f)),
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
                    + a.evidence
                        .iter()
                        .map(|e| e.path.len() + e.actual.len() + e.expected.len())
                        .sum::<usize>()
            })
            .sum();
        if size > self.limits.output_bytes {
            return Err(PluginFailure::OutputTooLarge {
                size,
                limit: self.limits.output_bytes,
            });
        }
        let events: HashMap<&str, &Event> = batch.iter().map(|e| (e.id.as_str(), e)).collect();
        let mut seen = HashSet::new();
        let mut out = Vec::with_capacity(alerts.len());
        for (n, a) in alerts.into_iter().enumerate() {
            let bad = |why: String| PluginFailure::InvalidOutput(format!("alert #{n}: {why}"));
            if self.rule(&a.rule_id).is_none() {
                return Err(bad(format!(
                    "rule {:?} is not one the plugin declares",
                    a.rule_id
                )));
            }
            if a.event_ids.is_empty() {
                return Err(bad("names no events".into()));
            }
            let mut evidence = Vec::with_capacity(a.evidence.len());
            for e in a.evidence {
                let actual = serde_json::from_str(&e.actual).map_err(|_| {
                    bad(format!(
                        "evidence {:?} has an actual value that is not JSON",
                        e.path
                    ))
                })?;
                evidence.push(Evidence {
                    path: e.path,
                    actual,
                    expected: e.expected,
                });
            }
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
                rule_id: a.rule_id,
                title: a.title,
                plugin: self.name.clone(),
                plugin_version: self.version.clone(),
                severity: severity(a.severity),
                message: a.message,
                event_ids: a.event_ids,
                group_key: a.group_key,
                window_start: a.window_start,
                window_end: a.window_end,
                evidence,
                account: first.map(|e| e.account.clone()).unwrap_or_default(),
                region: first.map(|e| e.region.clone()).unwrap_or_default(),
                source: first.map(|e| e.source.clone()).unwrap_or_default(),
            });
        }
        Ok(out)
    }
}

/// Run `f` on a fresh instance with the plugin's limits and `state` journaled.
fn call<R>(
    engine: &Engine,
    pre: &DetectorPre<StoreData>,
    name: &Arc<str>,
    settings: &Arc<str>,
    limits: &Limits,
    state: DetectorState,
    f: impl FnOnce(&mut Store<StoreData>, &super::bindings::detector::Detector) -> wasmtime::Result<R>,
) -> (CallState, Result<R, PluginFailure>) {
    let stderr = MemoryOutputPipe::new(STDERR_CAPTURE);
    let mut data = StoreData::new(
        name.clone(),
        settings.clone(),
        limits.memory_bytes,
        stderr.clone(),
    );
    data.state = Some(CallState::begin(state));
    let mut store = Store::new(engine, data);
    store.limiter(|d| &mut d.limiter);
    store.set_epoch_deadline(deadline_ticks(limits.timeout));
    store.epoch_deadline_trap();
    let result = match pre.instantiate(&mut store) {
        Err(e) => Err(classify(e, store.data().limiter.hit, &stderr, limits, true)),
        Ok(instance) => f(&mut store, &instance)
            .map_err(|e| classify(e, store.data().limiter.hit, &stderr, limits, false)),
    };
    let state = store
        .data_mut()
        .state
        .take()
        .unwrap_or_else(|| CallState::begin(DetectorState::default()));
    (state, result)
}
