//! Hot reload: watch the sources of the running generation (notify), load a
//! new generation in the background after the changes settle, and swap it in
//! atomically; a generation that fails to load never replaces the running
//! one, and its failure goes to the log and the status file.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use notify::{RecursiveMode, Watcher};

use super::generation::Generation;
use super::status::{Failure, GenerationStatus, Status, Swap};
use crate::catalog::Selection;
use crate::runtime::Runtime;

/// The generation runs take their plugins from. A run holds its `Arc` from
/// start to end, so a swap takes effect between runs, never inside one.
pub struct Active {
    current: RwLock<Arc<Generation>>,
}

impl Active {
    /// Start with `first` as the running generation.
    pub fn new(first: Generation) -> Active {
        Active {
            current: RwLock::new(Arc::new(first)),
        }
    }

    /// The running generation; a run holds it until it ends.
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
    /// Where the status is written (`--status-file`, beside the database by default).
    pub path: PathBuf,
    /// The status as last written.
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

/// What the status file shows of a generation.
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
    sources: Selection,
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
    sources: &Selection,
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
            Ok(next) => swap_in(next, active, status, first),
            Err(e) => refuse(&e, number, status),
        }
    }
}

/// Make `next` the active generation and record the swap.
fn swap_in(next: Generation, active: &Active, status: &StatusFile, changed: Instant) {
    status.update(|s| s.reloads.attempts += 1);
    let number = next.number;
    let load_ms = next.load_ms;
    let shown = generation_status(&next);
    let t = Instant::now();
    active.swap(next);
    let swap_us = t.elapsed().as_secs_f64() * 1e6;
    let latency_ms = changed.elapsed().as_secs_f64() * 1000.0;
    tracing::info!(
        "generation {number} is live ({latency_ms:.0} ms after the change; {load_ms:.0} ms to load)"
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

/// Record a generation that did not load; the running one stays.
fn refuse(e: &anyhow::Error, number: u64, status: &StatusFile) {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn generation(number: u64, fingerprint: &str) -> Generation {
        Generation {
            number,
            loaded_at: crate::model::now_rfc3339(),
            load_ms: 1.0,
            scan: Vec::new(),
            detect: None,
            packs: vec![(format!("pack@{number}.0.0"), "sha256:00".into())],
            fingerprint: fingerprint.into(),
        }
    }

    fn status_file(dir: &Path) -> StatusFile {
        StatusFile {
            path: dir.join("status.json"),
            status: Mutex::new(Status::default()),
        }
    }

    #[test]
    fn a_run_keeps_the_generation_it_started_with_across_a_swap() {
        let dir = tempfile::tempdir().unwrap();
        let status = status_file(dir.path());
        let active = Active::new(generation(1, "a"));
        let held = active.get();
        swap_in(generation(2, "b"), &active, &status, Instant::now());
        assert_eq!(
            held.number, 1,
            "a run holding generation 1 still has it whole"
        );
        assert_eq!(held.packs[0].0, "pack@1.0.0");
        assert_eq!(active.get().number, 2, "the next run takes generation 2");
        let s = Status::read(&status.path).unwrap();
        assert_eq!((s.reloads.attempts, s.reloads.swaps), (1, 1));
        assert_eq!(s.generation.number, 2);
        assert_eq!(s.reloads.last_swap.map(|w| w.generation), Some(2));
    }

    #[test]
    fn a_refused_generation_leaves_the_running_one() {
        let dir = tempfile::tempdir().unwrap();
        let status = status_file(dir.path());
        let active = Active::new(generation(1, "a"));
        refuse(
            &anyhow::anyhow!("policies/bad.yaml: line 3: no such field"),
            2,
            &status,
        );
        assert_eq!(active.get().number, 1);
        let s = Status::read(&status.path).unwrap();
        assert_eq!(
            (s.reloads.attempts, s.reloads.failures, s.reloads.swaps),
            (1, 1, 0)
        );
        let last = s.reloads.last_error.unwrap();
        assert!(
            last.message.contains("policies/bad.yaml"),
            "{}",
            last.message
        );
    }

    #[test]
    fn only_changes_to_watched_sources_count() {
        let dir = tempfile::tempdir().unwrap();
        let policies = dir.path().join("policies");
        std::fs::create_dir_all(policies.join("target")).unwrap();
        let config = dir.path().join("sigma.yaml");
        let watched = Watched::new(&[policies.clone(), config.clone()]);
        let event = |p: PathBuf, kind: notify::EventKind| notify::Event {
            kind,
            paths: vec![p.canonicalize().unwrap_or(p)],
            attrs: Default::default(),
        };
        let modify = notify::EventKind::Modify(notify::event::ModifyKind::Any);
        let access = notify::EventKind::Access(notify::event::AccessKind::Any);
        std::fs::write(policies.join("s3.yaml"), "x").unwrap();
        std::fs::write(&config, "x").unwrap();
        assert!(watched.relevant(&event(policies.join("s3.yaml"), modify)));
        assert!(watched.relevant(&event(config.clone(), modify)));
        assert!(
            !watched.relevant(&event(policies.join("s3.yaml"), access)),
            "reading is not changing"
        );
        assert!(
            !watched.relevant(&event(policies.join("target/x.o"), modify)),
            "build trees are noise"
        );
        assert!(!watched.relevant(&event(dir.path().join("other.yaml"), modify)));
    }
}
