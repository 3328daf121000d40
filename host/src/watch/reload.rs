//! Hot reload: watch the sources of the running generation (notify), load a
//! new generation in the background after the changes settle, and swap it in
//! atomically; a generation that fails to load never replaces the running
//! one, and its failure goes to the log and the status file.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use notify::{RecursiveMode, Watcher};

use super::generation::{Generation, WatchSources};
use super::status::{Failure, GenerationStatus, Status, Swap};
use crate::runtime::Runtime;

/// The generation runs take their plugins from. A run holds its `Arc` from
/// start to end, so a swap takes effect between runs, never inside one.
pub struct Active {
    current: RwLock<Arc<Generation>>,
}

impl Active {
    pub fn new(first: Generation) -> Active {
        Active {
            current: RwLock::new(Arc::new(first)),
        }
    }

    pub fn get(&self) -> Arc<Generation> {
        match self.current.read() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn swap(&self, next: Generation) {
        let next = Arc::new(next);
        match self.current.write() {
            Ok(mut g) => *g = next,
            Err(poisoned) => *poisoned.into_inner() = next,
        }
    }
}

/// The status, shared by the run loop and the reloader, and its file.
pub struct StatusFile {
    pub path: PathBuf,
    pub status: Mutex<Status>,
}

impl StatusFile {
    /// Change the status and rewrite the file (a failed write is logged: the
    /// status is a report, not a reason to stop watching).
    pub fn update(&self, f: impl FnOnce(&mut Status)) {
        let mut s = match self.status.lock() {
            Ok(s) => s,
            Err(poisoned) => poisoned.into_inner(),
        };
        f(&mut s);
        s.updated_at = crate::model::now_rfc3339();
        if let Err(e) = s.write(&self.path) {
            tracing::warn!("cannot write the watch status {}: {e}", self.path.display());
        }
    }
}

pub fn generation_status(g: &Generation) -> GenerationStatus {
    GenerationStatus {
        number: g.number,
        loaded_at: g.loaded_at.clone(),
        load_ms: g.load_ms,
        plugins: g.plugins(),
        packs: g.packs.clone(),
    }
}

/// What to watch: directories recursively (without build and dependency
/// trees), files through their directory (editors and builds replace files).
struct Watched {
    dirs: Vec<PathBuf>,
    files: Vec<PathBuf>,
}

impl Watched {
    fn new(paths: &[PathBuf]) -> Watched {
        let abs = |p: &Path| p.canonicalize().unwrap_or_else(|_| p.to_path_buf());
        let (mut dirs, mut files) = (Vec::new(), Vec::new());
        for p in paths {
            if p.is_dir() {
                dirs.push(abs(p));
            } else {
                let parent = p
                    .parent()
                    .filter(|d| !d.as_os_str().is_empty())
                    .unwrap_or(Path::new("."));
                files.push(abs(parent).join(p.file_name().unwrap_or_default()));
            }
        }
        Watched { dirs, files }
    }

    fn relevant(&self, event: &notify::Event) -> bool {
        if event.kind.is_access() {
            return false;
        }
        event.paths.iter().any(|p| {
            let noise = p.components().any(|c| {
                matches!(
                    c.as_os_str().to_str(),
                    Some("target" | "node_modules" | "__pycache__" | ".git")
                )
            });
            !noise
                && (self.dirs.iter().any(|d| p.starts_with(d)) || self.files.iter().any(|f| p == f))
        })
    }
}

/// Start watching `sources`; reloads run on a thread of their own until the
/// returned watcher is dropped.
pub fn spawn(
    rt: Arc<Runtime>,
    sources: WatchSources,
    active: Arc<Active>,
    status: Arc<StatusFile>,
    debounce: Duration,
) -> anyhow::Result<notify::RecommendedWatcher> {
    let paths = sources.watched_paths();
    let watched = Watched::new(&paths);
    let (tx, rx) = mpsc::channel();
    let mut watcher = notify::recommended_watcher(tx)?;
    for d in &watched.dirs {
        watcher
            .watch(d, RecursiveMode::Recursive)
            .map_err(|e| anyhow::anyhow!("cannot watch {}: {e}", d.display()))?;
    }
    let mut parents: Vec<&Path> = watched.files.iter().filter_map(|f| f.parent()).collect();
    parents.sort();
    parents.dedup();
    for d in parents {
        if d.is_dir() {
            watcher
                .watch(d, RecursiveMode::NonRecursive)
                .map_err(|e| anyhow::anyhow!("cannot watch {}: {e}", d.display()))?;
        }
    }
    std::thread::Builder::new()
        .name("stance-reload".into())
        .spawn(move || {
            reload_loop(&rx, &watched, &rt, &sources, &active, &status, debounce);
        })?;
    Ok(watcher)
}

fn reload_loop(
    rx: &mpsc::Receiver<notify::Result<notify::Event>>,
    watched: &Watched,
    rt: &Runtime,
    sources: &WatchSources,
    active: &Active,
    status: &StatusFile,
    debounce: Duration,
) {
    loop {
        // Wait for a change that concerns a source...
        let first = match rx.recv() {
            Ok(Ok(e)) if watched.relevant(&e) => Instant::now(),
            Ok(Ok(_)) => continue,
            Ok(Err(e)) => {
                tracing::warn!("watching: {e}");
                continue;
            }
            Err(_) => return,
        };
        // ...then for the burst to settle (a build writes several files).
        loop {
            match rx.recv_timeout(debounce) {
                Ok(_) => continue,
                Err(RecvTimeoutError::Timeout) => break,
                Err(RecvTimeoutError::Disconnected) => return,
            }
        }
        let current = active.get();
        let number = current.number + 1;
        match Generation::load(rt, sources, number) {
            Ok(next) if next.fingerprint == current.fingerprint => {
                // Touched but not changed (a file saved as it was, a lock
                // rewritten the same): nothing to swap.
                tracing::debug!("sources touched, generation {} unchanged", current.number);
            }
            Ok(next) => {
                status.update(|s| s.reloads.attempts += 1);
                let load_ms = next.load_ms;
                let shown = generation_status(&next);
                let t = Instant::now();
                active.swap(next);
                let swap_us = t.elapsed().as_secs_f64() * 1e6;
                let latency_ms = first.elapsed().as_secs_f64() * 1000.0;
                tracing::info!(
                    "generation {number} is live ({:.0} ms after the change; {load_ms:.0} ms to load)",
                    latency_ms
                );
                status.update(|s| {
                    s.generation = shown;
                    s.reloads.swaps += 1;
                    s.reloads.last_swap = Some(Swap {
                        at: crate::model::now_rfc3339(),
                        generation: number,
                        latency_ms,
                        load_ms,
                        swap_us,
                    });
                });
            }
            Err(e) => {
                status.update(|s| s.reloads.attempts += 1);
                let message = format!("{e:#}");
                tracing::error!(
                    "reload refused, generation {} keeps running: {message}",
                    number - 1
                );
                status.update(|s| {
                    s.reloads.failures += 1;
                    s.reloads.last_error = Some(Failure {
                        at: crate::model::now_rfc3339(),
                        message,
                    });
                });
            }
        }
    }
}
