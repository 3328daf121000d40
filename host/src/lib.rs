//! Stance: a cloud security policy engine whose every rule runs as a
//! sandboxed WebAssembly component.
//!
//! The modules are the pipeline (docs/architecture.md):
//!
//! ```text
//! collect (assets) ─┐                                        ┌─► report (files, terminal)
//!                   ├─► catalog ─► runtime ─► pipeline ─► store
//! events (logs) ────┘   (rules)    (wasm)     (scan,      └─► notify (leaves the machine)
//!                                              detect)
//! ```
//!
//! [`collect`] and [`events`] read sources; [`catalog`] resolves which
//! rules run (built-in, files, plugins, packs); [`runtime`] loads and calls
//! the wasm plugins; [`pipeline`] wires a scan or a detection run together;
//! [`store`] keeps scans, findings and alerts; [`report`] renders what the
//! store holds; [`notify`] sends alerts off the machine. Around them:
//! [`settings`] (every path and switch, resolved once), [`net`] (the one
//! async runtime and HTTP client), [`intake`] (bounded reading of local
//! input: limits, gzip, lines, JSON, the directory walker), [`pack`] (a rule pack's life),
//! [`mutes`] (accepted risks: the mute file and what it covers),
//! [`devkit`] (building and testing plugins), [`bench`] (measurements),
//! [`watch`] (the long-running mode) and [`cli`], the thin skin over it all.
//! The records every stage shares are [`model`] (the `stance-model` crate).

#![warn(missing_docs)]

pub mod bench;
pub mod catalog;
pub mod cli;
pub mod collect;
pub mod devkit;
pub mod events;
pub mod intake;
pub mod model;
pub mod mutes;
pub mod net;
pub mod notify;
pub mod pack;
pub mod pipeline;
pub mod report;
pub mod runtime;
pub mod settings;
pub mod store;
pub mod watch;
