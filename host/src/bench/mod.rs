//! Measurements, each a command of its own whose Markdown goes into
//! BENCHMARKS.md with the command that reproduces it: [`scan`] (`stance
//! bench`: scan throughput, the policy engine natively versus in the
//! sandbox, cold and warm start, memory) and [`plugin`] (`stance plugin
//! bench`: one component's compile, load, instantiate and per-item cost).
//! Benchmarks measure; they never assert on time.

pub mod plugin;
pub mod scan;

pub use scan::{BenchOptions, BenchReport, machine, markdown, run};
