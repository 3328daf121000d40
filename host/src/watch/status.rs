//! The status file of `stance watch`: the active generation (every plugin
//! with its version and digest, every pack), reloads and their last failure,
//! scans and detection runs. Rewritten atomically after every change.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::generation::ActivePlugin;

/// Everything the status file holds (`stance watch status` reads it).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Status {
    /// The process id of the `stance watch` that writes it.
    pub pid: u32,
    /// When that process started watching (RFC 3339, UTC).
    pub started_at: String,
    /// When the file was last rewritten (RFC 3339, UTC).
    pub updated_at: String,
    /// The generation running now.
    pub generation: GenerationStatus,
    /// Hot reloads so far.
    pub reloads: Reloads,
    /// Scans so far.
    pub scans: Scans,
    /// Detection runs so far.
    pub detection: Detection,
}

/// The generation running now.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct GenerationStatus {
    /// 1 for the first, then one more per swap.
    pub number: u64,
    /// When it was loaded (RFC 3339, UTC).
    pub loaded_at: String,
    /// How long loading it took, in milliseconds.
    pub load_ms: f64,
    /// Every plugin it runs, with version and digest.
    pub plugins: Vec<ActivePlugin>,
    /// `name@version` and archive digest of every pack loaded.
    pub packs: Vec<(String, String)>,
}

/// Hot reloads since `stance watch` started.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Reloads {
    /// Changes that led to a new generation or a refused one (touches that
    /// change nothing loaded are not counted).
    pub attempts: u64,
    /// New generations that went live.
    pub swaps: u64,
    /// New generations that failed to load (the running one stayed).
    pub failures: u64,
    /// The last generation that went live by a reload; `None` before the first.
    pub last_swap: Option<Swap>,
    /// The last reload that failed; the generation before it kept running.
    pub last_error: Option<Failure>,
}

/// A new generation going live.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Swap {
    /// When (RFC 3339, UTC).
    pub at: String,
    /// The number of the generation that went live.
    pub generation: u64,
    /// From the first change seen to the new generation taking over (ms),
    /// debounce included.
    pub latency_ms: f64,
    /// Of which: verifying, compiling and describing the new generation (ms).
    pub load_ms: f64,
    /// Of which: replacing the active generation (µs).
    pub swap_us: f64,
}

/// A reload that failed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Failure {
    /// When (RFC 3339, UTC).
    pub at: String,
    /// Why the new generation did not load.
    pub message: String,
}

/// The scans `stance watch` ran.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Scans {
    /// Scans started, failed ones included.
    pub count: u64,
    /// Scans that failed.
    pub failed: u64,
    /// The id of the last scan that completed.
    pub last_scan_id: Option<i64>,
    /// When the last scan that completed finished (RFC 3339, UTC).
    pub last_at: Option<String>,
    /// The generation the last scan ran with.
    pub last_generation: Option<u64>,
    /// Findings of the last scan that completed.
    pub last_results: u64,
    /// Why the last scan failed; `None` once a scan completes.
    pub last_error: Option<String>,
    /// Scans during which a new generation went live (they finished on the
    /// generation they started with; the next scan used the new one).
    pub swapped_during: u64,
    /// Failures of the last completed scan that a mute covered.
    #[serde(default)]
    pub last_muted: u64,
    /// Why the mute file was refused when the last scan started (that scan
    /// used the last mute file that was accepted); `None` once it is read.
    #[serde(default)]
    pub mutes_error: Option<String>,
}

/// The detection runs `stance watch` ran over new log files.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Detection {
    /// Runs that completed.
    pub runs: u64,
    /// Log files read by them.
    pub files: u64,
    /// Events they handed to the detectors.
    pub events: u64,
    /// Alerts raised for the first time (not duplicates, not suppressed).
    pub new_alerts: u64,
    /// The id of the last run that completed.
    pub last_run_id: Option<i64>,
    /// Why the last run failed; `None` once a run completes.
    pub last_error: Option<String>,
}

impl Status {
    /// Write to `path` through a temporary file and a rename, so a reader
    /// never sees half a file.
    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let tmp = path.with_extension("json.tmp");
        std::fs::write(
            &tmp,
            serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?,
        )?;
        std::fs::rename(&tmp, path)
    }

    /// Read a status file; the error says whether it is missing or not a status file.
    pub fn read(path: &Path) -> anyhow::Result<Status> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            anyhow::anyhow!(
                "{}: cannot read the watch status ({e}); is `stance watch` running with this --status-file?",
                path.display()
            )
        })?;
        serde_json::from_str(&text)
            .map_err(|e| anyhow::anyhow!("{}: not a watch status file: {e}", path.display()))
    }

    /// Is the process that writes this status still running?
    pub fn alive(&self) -> bool {
        Path::new(&format!("/proc/{}", self.pid)).exists()
    }
}
