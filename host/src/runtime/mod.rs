//! The sandboxed plugin runtime: one wasmtime engine, a cache of precompiled
//! components, the host side of the WIT imports, and calls into plugins with
//! limits and containment.
//!
//! Layout, along a plugin's life: the shared vocabulary ([`source`]: what to
//! load, which world; [`failure`]: why a call failed), loading ([`load`]: the
//! checks of the WIT contract), the loaded-plugin core both worlds share
//! ([`plugin`]), then each world's plugin ([`policy`], [`detector`] with its
//! journaled [`state`]), the instances a scan keeps for a policy plugin that
//! declares itself stateless ([`reuse`]) and the parallel evaluation of
//! asset batches ([`evaluate`]).
//!
//! It knows nothing of the store, the CLI, reports or where assets and
//! events came from: it takes plugin sources and batches, and returns
//! findings, alerts and failures.

mod bindings;
pub mod builtin;
pub mod cache;
mod convert;
pub mod detector;
pub mod engine;
pub mod evaluate;
pub mod failure;
mod host_api;
pub mod limits;
pub mod load;
pub mod plugin;
pub mod policy;
pub mod reuse;
pub mod source;
pub mod state;

pub use cache::{CacheOutcome, ComponentCache};
pub use detector::DetectorPlugin;
pub use engine::Runtime;
pub use evaluate::{BatchOutcome, EvaluationPlan};
pub use failure::PluginFailure;
pub use limits::Limits;
pub use load::{PluginLoadError, check_settings, compatible};
pub use plugin::LoadedPlugin;
pub use policy::PolicyPlugin;
pub use reuse::Session;
pub use source::{PluginSource, Reuse, SettingSpec, World};
pub use state::{DetectorState, StateQuota};

/// The version of the WIT package (`wit/stance-plugin.wit`) this host speaks.
pub const WIT_VERSION: &str = "0.1.0";
