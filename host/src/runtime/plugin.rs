//! The core every loaded plugin shares, whatever its world: its identity
//! and rules as `describe` declared them, its limits, and calls — each on a
//! fresh store with the plugin's limits, whose failures are classified
//! instead of propagated. [`PolicyPlugin`](super::PolicyPlugin) and
//! [`DetectorPlugin`](super::DetectorPlugin) wrap it with their world's
//! bindings and their own validation of what comes back.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use wasmtime::component::InstancePre;
use wasmtime::{Engine, Store};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;

use super::bindings::policy::stance::plugin::types as wit;
use super::cache::CacheOutcome;
use super::engine::{Runtime, deadline_ticks};
use super::failure::{PluginFailure, classify};
use super::host_api::{CallData, STDERR_CAPTURE};
use super::limits::Limits;
use super::load::{PluginLoadError, Prepared, described, prepare};
use super::source::{PluginSource, SettingSpec, World};
use super::state::CallState;
use crate::model::{FailureRecord, Rule};

/// A loaded, validated plugin of either world.
pub struct LoadedPlugin {
    /// The name `describe` gave (unique per run; keys detector state).
    pub name: String,
    /// The version `describe` gave.
    pub version: String,
    /// What the plugin says it does.
    pub description: String,
    /// The world it implements.
    pub world: World,
    /// The WIT package version it was built against.
    pub wit_version: String,
    /// SHA-256 of the component, hex.
    pub digest: String,
    /// Where it came from (a path, or `builtin:NAME`).
    pub origin: String,
    /// The rules it carries.
    pub rules: Vec<Rule>,
    /// The settings it accepts.
    pub settings_spec: Vec<SettingSpec>,
    /// What one call may use.
    pub limits: Limits,
    /// How the component was compiled (cache hit or miss, and how long).
    pub compile: CacheOutcome,
    rule_index: HashMap<String, usize>,
    engine: Engine,
    settings_json: Arc<str>,
    name_arc: Arc<str>,
}

impl fmt::Debug for LoadedPlugin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoadedPlugin")
            .field("name", &self.name)
            .field("version", &self.version)
            .field("world", &self.world)
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

/// What a call needs before (and after) the plugin has named itself.
pub(crate) struct CallSpec<'a> {
    engine: &'a Engine,
    name: &'a Arc<str>,
    settings: &'a Arc<str>,
    limits: &'a Limits,
}

impl CallSpec<'_> {
    /// Run `f` on an instance made by `instantiate` in a fresh store with
    /// the plugin's limits, with `state` (a detector's) for the call; the
    /// state comes back whatever happened.
    pub(crate) fn run<I, R>(
        &self,
        state: Option<CallState>,
        instantiate: impl FnOnce(&mut Store<CallData>) -> wasmtime::Result<I>,
        f: impl FnOnce(&mut Store<CallData>, &I) -> wasmtime::Result<R>,
    ) -> (Option<CallState>, Result<R, PluginFailure>) {
        let (mut store, stderr) = self.store(state);
        let result = match instantiate(&mut store) {
            Err(e) => Err(self.failure(&store, &stderr, e, true)),
            Ok(instance) => {
                f(&mut store, &instance).map_err(|e| self.failure(&store, &stderr, e, false))
            }
        };
        (store.data_mut().state.take(), result)
    }

    /// A fresh store with the plugin's limits, armed for one call, and the
    /// pipe its stdout and stderr go to.
    pub(crate) fn store(&self, state: Option<CallState>) -> (Store<CallData>, MemoryOutputPipe) {
        let stderr = MemoryOutputPipe::new(STDERR_CAPTURE);
        let mut data = CallData::new(
            self.name.clone(),
            self.settings.clone(),
            self.limits.memory_bytes,
            stderr.clone(),
        );
        data.state = state;
        let mut store = Store::new(self.engine, data);
        store.limiter(|d| &mut d.limiter);
        store.epoch_deadline_trap();
        self.arm(&mut store);
        (store, stderr)
    }

    /// Arm a store for its next call: the whole deadline again, the memory
    /// flag and the log budget reset. Memory itself is capped per instance.
    pub(crate) fn arm(&self, store: &mut Store<CallData>) {
        store.set_epoch_deadline(deadline_ticks(self.limits.timeout));
        store.data_mut().begin_call();
    }

    /// Why a call on `store` failed, from what wasmtime reported.
    pub(crate) fn failure(
        &self,
        store: &Store<CallData>,
        stderr: &MemoryOutputPipe,
        e: wasmtime::Error,
        instantiating: bool,
    ) -> PluginFailure {
        classify(
            e,
            store.data().limiter.hit,
            stderr,
            self.limits,
            instantiating,
        )
    }
}

/// What `describe` answered.
pub(crate) type Describe = Result<Result<wit::PluginInfo, wit::PluginError>, PluginFailure>;

impl LoadedPlugin {
    /// Load a plugin of `world`: every check of the WIT contract, then
    /// `link` turns the instance-pre into the world's bindings and
    /// `describe` calls the plugin's `describe`, whose answer is checked
    /// against the plugin's settings.
    pub(crate) fn load<P>(
        rt: &Runtime,
        src: &PluginSource,
        world: World,
        link: impl FnOnce(InstancePre<CallData>) -> wasmtime::Result<P>,
        describe: impl FnOnce(&CallSpec<'_>, &P) -> Describe,
    ) -> Result<(LoadedPlugin, P), PluginLoadError> {
        let origin = src.origin.clone();
        let Prepared {
            digest,
            compile,
            world: found,
            wit_version,
            instance_pre,
            settings,
            settings_json,
        } = prepare(rt, src, world)?;
        let pre = link(instance_pre).map_err(|e| PluginLoadError::Link {
            origin: origin.clone(),
            message: format!("{e:#}"),
        })?;
        let provisional: Arc<str> = Arc::from(origin.as_str());
        let spec = CallSpec {
            engine: &rt.engine,
            name: &provisional,
            settings: &settings_json,
            limits: &src.limits,
        };
        let d = described(&origin, &settings, describe(&spec, &pre))?;
        let plugin = LoadedPlugin {
            name_arc: Arc::from(d.name.as_str()),
            name: d.name,
            version: d.version,
            description: d.description,
            world: found,
            wit_version,
            digest,
            origin,
            rules: d.rules,
            settings_spec: d.settings_spec,
            limits: src.limits,
            compile,
            rule_index: d.rule_index,
            engine: rt.engine.clone(),
            settings_json,
        };
        Ok((plugin, pre))
    }

    /// The settings the plugin runs with, as JSON text.
    pub fn settings_json(&self) -> &str {
        &self.settings_json
    }

    /// The rule of this id, if the plugin carries it.
    pub fn rule(&self, id: &str) -> Option<&Rule> {
        self.rule_index.get(id).map(|&i| &self.rules[i])
    }

    /// How the next call runs: this plugin's engine, name, settings and limits.
    pub(crate) fn call_spec(&self) -> CallSpec<'_> {
        CallSpec {
            engine: &self.engine,
            name: &self.name_arc,
            settings: &self.settings_json,
            limits: &self.limits,
        }
    }

    /// Refuse output over the plugin's cap.
    pub(crate) fn check_output(&self, size: usize) -> Result<(), PluginFailure> {
        if size > self.limits.output_bytes {
            return Err(PluginFailure::OutputTooLarge {
                size,
                limit: self.limits.output_bytes,
            });
        }
        Ok(())
    }

    /// The record of a failed batch of `items` assets or events.
    pub fn failure_record(
        &self,
        failure: &PluginFailure,
        batch: usize,
        items: usize,
    ) -> FailureRecord {
        FailureRecord {
            plugin: self.name.clone(),
            plugin_version: self.version.clone(),
            rule_id: failure.rule_id().map(str::to_string),
            batch,
            assets: items,
            kind: failure.kind().to_string(),
            cause: failure.to_string(),
        }
    }
}
