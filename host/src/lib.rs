//! Stance: a cloud security policy engine whose every rule runs as a
//! sandboxed WebAssembly component.
//!
//! The modules follow the pipeline of `DESIGN.md`: [`collect`] builds
//! assets, [`runtime`] evaluates them in plugins, [`store`] keeps scans and
//! findings, [`report`] renders them, and [`cli`] is the thin skin over it
//! all. [`scan`] wires the stages together; [`catalog`] decides which
//! plugins and policies run.

pub mod bench;
pub mod catalog;
pub mod cli;
pub mod collect;
pub mod detect;
pub mod devkit;
pub mod events;
pub mod model;
pub mod pack;
pub mod report;
pub mod runtime;
pub mod scan;
pub mod store;
pub mod testing;
pub mod watch;
