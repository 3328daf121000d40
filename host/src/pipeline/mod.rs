//! The two runs that wire the stages together, one module each: a scan
//! (collection → policy plugins → store) and detection (events → detector
//! plugins → store). They own the order of the steps and nothing else: each
//! stage's work is in its own module, and reporting or notifying what a run
//! produced is the caller's (`report`, `notify`).

pub mod detect;
pub mod scan;

pub use detect::{DetectOptions, DetectReport, DetectorSet, DetectorSummary, load_detectors};
pub use scan::{
    ExpiredMute, MuteSummary, PluginSummary, ScanError, ScanOptions, ScanReport, load_plugins,
    peak_rss_bytes,
};
