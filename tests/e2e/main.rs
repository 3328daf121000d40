//! End-to-end tests: the built `stance` binary against real wasm components
//! built from source in this run, real SQLite files and real processes.

#[cfg(feature = "aws")]
mod aws;
mod cases;
mod compliance;
mod containment;
mod demo;
mod detect;
mod diff;
mod formats;
mod hostile;
mod inputs;
mod instances;
mod mutes;
mod packs;
mod plugin_dev;
mod plugins;
#[cfg(feature = "aws")]
mod securityhub;
mod store;
mod support;
mod watch;
