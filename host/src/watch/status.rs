//! The status file of `stance watch`: the active generation (every plugin
//! with its version and digest, every pack), reloads and their last failure,
//! scans and detection runs. Rewritten atomically after every change.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::generation::ActivePlugin;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Status {
    pub pid: u32,
    pub started_at: String,
    pub updated_at: String,
    pub generation: GenerationStatus,
    pub reloads: Reloads,
    pub scans: Scans,
    pub detection: Detection,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct GenerationStatus {
    pub number: u64,
    pub loaded_at: String,
    pub load_ms: f64,
    pub plugins: Vec<ActivePlugin>,
    /// `name@version` and archive digest of every pack loaded.
    pub packs: Vec<(String, String)>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Reloads {
    /// Changes that led to a new generation or a refused one (touches that
    /// change nothing loaded are not counted).
    pub attempts: u64,
    pub swaps: u64,
    pub failures: u64,
    pub last_swap: Option<Swap>,
    /// The last reload that failed; the generation before it kept running.
    pub last_error: Option<Failure>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Swap {
    pub at: String,
    pub generation: u64,
    /// From the first change seen to the new generation taking over (ms),
    /// debounce included.
    pub latency_ms: f64,
    /// Of which: verifying, compiling and describing the new generation (ms).
    pub load_ms: f64,
    /// Of which: replacing the active generation (µs).
    pub swap_us: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Failure {
    pub at: String,
    pub message: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Scans {
    pub count: u64,
    pub failed: u64,
    pub last_scan_id: Option<i64>,
    pub last_at: Option<String>,
    /// The generation the last scan ran with.
    pub last_generation: Option<u64>,
    pub last_results: u64,
    pub last_error: Option<String>,
    /// Scans during which a new generation went live (they finished on the
    /// generation they started with; the next scan used the new one).
    pub swapped_during: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Detection {
    pub runs: u64,
    pub files: u64,
    pub events: u64,
    pub new_alerts: u64,
    pub last_run_id: Option<i64>,
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

/// `~/.stance/watch-status.json` unless given.
pub fn default_path() -> PathBuf {
    crate::store::default_path()
        .parent()
        .map(|d| d.join("watch-status.json"))
        .unwrap_or_else(|| PathBuf::from("watch-status.json"))
}
