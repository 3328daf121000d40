//! The sandboxed plugin runtime: one wasmtime engine, a cache of precompiled
//! components, the host side of the WIT imports, and the evaluation of asset
//! batches with limits and containment; detectors (event batches, with a
//! journaled key-value state) likewise. It knows nothing of SQLite, the CLI
//! or where assets came from.

mod bindings;
pub mod builtin;
pub mod cache;
pub mod detector;
pub mod engine;
pub mod evaluate;
mod host_api;
pub mod limits;
mod load;
pub mod plugin;
pub mod state;

pub use cache::{CacheOutcome, ComponentCache};
pub use detector::DetectorPlugin;
pub use engine::Runtime;
pub use evaluate::{BatchOutcome, EvaluationPlan, FailureRecord};
pub use limits::Limits;
pub use plugin::{Plugin, PluginFailure, PluginSource, World};
pub use state::{DetectorState, StateQuota};

/// The version of the WIT package (`wit/stance-plugin.wit`) this host speaks.
pub const WIT_VERSION: &str = "0.1.0";
