//! The instances of one scan's calls to one policy plugin ([`Session`]).
//!
//! A plugin that declares itself stateless ([`Reuse::PerScan`]) pays its
//! start once per evaluation thread, not once per batch: a call takes an
//! idle instance of the session (or starts one), and gives it back when the
//! call went well. Each call still has its whole deadline, and the memory
//! cap holds for the instance. An instance whose call failed in any way, or
//! that wrote to stdout or stderr (whose capture explains a later trap), is
//! dropped, so the next call starts a fresh one; and every instance is
//! dropped with its session, which lives for one scan and one plugin. Any
//! other plugin runs each call on a fresh instance, as
//! [`PolicyPlugin::evaluate`] does.
//!
//! It owns the pool of idle instances and nothing else: calls, limits and
//! validation are the plugin's (`plugin`, `policy`).

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use wasmtime::Store;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;

use super::bindings::policy::Policy;
use super::bindings::policy::stance::plugin::types as wit;
use super::convert;
use super::failure::PluginFailure;
use super::host_api::CallData;
use super::policy::PolicyPlugin;
use super::source::Reuse;
use crate::model::{Asset, Finding};

/// The instances one scan keeps for one policy plugin. Shared by the
/// evaluation threads; at most one instance per thread is ever busy, so the
/// pool holds at most as many as there are threads.
pub struct Session<'p> {
    plugin: &'p PolicyPlugin,
    idle: Mutex<Vec<Warm>>,
    started: AtomicUsize,
    calls: AtomicUsize,
}

/// An instance between two calls, with the pipe its output goes to.
struct Warm {
    store: Store<CallData>,
    instance: Policy,
    stderr: MemoryOutputPipe,
}

impl<'p> Session<'p> {
    pub(crate) fn new(plugin: &'p PolicyPlugin) -> Session<'p> {
        Session {
            plugin,
            idle: Mutex::new(Vec::new()),
            started: AtomicUsize::new(0),
            calls: AtomicUsize::new(0),
        }
    }

    /// The plugin this session calls.
    pub fn plugin(&self) -> &'p PolicyPlugin {
        self.plugin
    }

    /// Instances started so far (one per call for a plugin that keeps none).
    pub fn instances(&self) -> usize {
        self.started.load(Ordering::Relaxed)
    }

    /// Calls made so far.
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::Relaxed)
    }

    /// Evaluate one batch: on a kept instance when the plugin declares
    /// itself stateless, else on a fresh one. What comes back is validated
    /// as [`PolicyPlugin::evaluate`] validates it.
    pub fn evaluate(&self, batch: &[&Asset]) -> Result<Vec<Finding>, PluginFailure> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        if self.plugin.reuse() == Reuse::PerCall {
            self.started.fetch_add(1, Ordering::Relaxed);
            return self.plugin.evaluate(batch);
        }
        let mut warm = match self.take() {
            Some(warm) => warm,
            None => self.start()?,
        };
        let spec = self.plugin.call_spec();
        spec.arm(&mut warm.store);
        let input: Vec<wit::Asset> = batch.iter().map(|a| convert::asset(a)).collect();
        // On every early return below the instance is dropped, never kept.
        let returned = warm
            .instance
            .stance_plugin_policy_plugin()
            .call_evaluate(&mut warm.store, &input)
            .map_err(|e| spec.failure(&warm.store, &warm.stderr, e, false))?;
        let findings = self.plugin.validate(batch, returned)?;
        if warm.stderr.contents().is_empty() {
            self.give_back(warm);
        }
        Ok(findings)
    }

    fn take(&self) -> Option<Warm> {
        self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop()
    }

    fn give_back(&self, warm: Warm) {
        self.idle
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(warm);
    }

    /// A fresh instance in a fresh store with the plugin's limits.
    fn start(&self) -> Result<Warm, PluginFailure> {
        let spec = self.plugin.call_spec();
        let (mut store, stderr) = spec.store(None);
        let instance = self
            .plugin
            .pre
            .instantiate(&mut store)
            .map_err(|e| spec.failure(&store, &stderr, e, true))?;
        self.started.fetch_add(1, Ordering::Relaxed);
        Ok(Warm {
            store,
            instance,
            stderr,
        })
    }
}
