//! The loop of `stance watch`: a scan every interval and a detection run
//! for every settled batch of new log files, each with the generation that
//! is active when it starts (so no run mixes two generations, and none is
//! skipped or repeated when a swap happens during it).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::generation::Generation;
use super::reload::{self, Active, StatusFile, generation_status};
use super::status::Status;
use crate::catalog::Selection;
use crate::collect::{self, NoProgress};
use crate::events::{Inputs, LogFormat};
use crate::intake::walk;
use crate::mutes::MuteSet;
use crate::pipeline::{self, DetectOptions, ScanOptions};
use crate::runtime::Runtime;
use crate::store::Store;

/// What `stance watch` runs and how often.
pub struct WatchOptions {
    /// The rules: policies when scanning, detectors when watching logs.
    pub selection: Selection,
    /// What each scan collects (`None`: no scans).
    pub source: Option<collect::Source>,
    /// How scans evaluate.
    pub scan: ScanOptions,
    /// How detection reads and calls.
    pub detect: DetectOptions,
    /// Time between the starts of two scans.
    pub interval: Duration,
    /// A directory that receives audit-log files (detection).
    pub logs: Option<PathBuf>,
    /// What the log files hold.
    pub log_format: LogFormat,
    /// Stop after this many scans (for tests and one-shot runs).
    pub max_scans: Option<u64>,
    /// Where the status is written.
    pub status_file: PathBuf,
    /// How long changes must settle before a reload.
    pub debounce: Duration,
    /// How often the log directory is looked at.
    pub poll: Duration,
    /// The mute file, read again before every scan.
    pub mutes: MuteFile,
}

/// Where `stance watch` reads its mutes: `path`, which must exist when
/// `required` (named by `--mutes`); a missing default file is no mutes.
#[derive(Debug, Clone)]
pub struct MuteFile {
    /// The file.
    pub path: PathBuf,
    /// Whether a missing file is an error.
    pub required: bool,
}

/// Run until `max_scans` scans are done (or forever). Each scan gathers its
/// assets again (a snapshot read again, or a live collection).
pub fn watch(
    rt: Arc<Runtime>,
    store: &mut Store,
    opts: &WatchOptions,
    on_event: &dyn Fn(&str),
) -> anyhow::Result<()> {
    let first = Generation::load(&rt, &opts.selection, 1)?;
    let status = Arc::new(StatusFile {
        path: opts.status_file.clone(),
        status: Mutex::new(Status {
            pid: std::process::id(),
            started_at: crate::model::now_rfc3339(),
            generation: generation_status(&first),
            ..Status::default()
        }),
    });
    status.update(|_| {});
    let active = Arc::new(Active::new(first));
    let _watcher = reload::spawn(
        rt.clone(),
        opts.selection.clone(),
        active.clone(),
        status.clone(),
        opts.debounce,
    )?;
    on_event(&format!(
        "watching; status in {} (generation 1)",
        opts.status_file.display()
    ));

    let mut next_scan = Instant::now();
    let mut logs = LogDir::default();
    let mut mutes = MuteSet::default();
    loop {
        if opts.source.is_some() && Instant::now() >= next_scan {
            next_scan = Instant::now() + opts.interval;
            let generation = active.get();
            refresh_mutes(&opts.mutes, &mut mutes, &status, on_event);
            scan_once(store, opts, &generation, &mutes, &status, on_event);
            if active.get().number != generation.number {
                // A new generation went live while this scan ran on the old one.
                status.update(|s| s.scans.swapped_during += 1);
            }
            if opts
                .max_scans
                .is_some_and(|max| status_count(&status, |s| s.scans.count) >= max)
            {
                return Ok(());
            }
        }
        if let Some(dir) = &opts.logs {
            let ready = logs.ready(dir);
            if !ready.is_empty() {
                let generation = active.get();
                detect_once(store, opts, &generation, &ready, &status, on_event);
                logs.done(ready);
            }
        }
        // Sleep until the next scan is due, looking at the logs every `poll`.
        let until_scan = match opts.source {
            Some(_) => next_scan.saturating_duration_since(Instant::now()),
            None => opts.poll,
        };
        let nap = if opts.logs.is_some() {
            until_scan.min(opts.poll)
        } else {
            until_scan
        };
        if !nap.is_zero() {
            std::thread::sleep(nap);
        }
    }
}

fn status_count(status: &StatusFile, f: impl Fn(&Status) -> u64) -> u64 {
    match status.status.lock() {
        Ok(s) => f(&s),
        Err(p) => f(&p.into_inner()),
    }
}

/// Read the mute file again before a scan. A refused file (a bad edit while
/// watching) keeps the last accepted mutes in force and says why in the
/// status, rather than dropping every mute or stopping the scans.
fn refresh_mutes(
    file: &MuteFile,
    mutes: &mut MuteSet,
    status: &StatusFile,
    on_event: &dyn Fn(&str),
) {
    match MuteSet::load(&file.path, file.required) {
        Ok(set) => {
            *mutes = set;
            status.update(|s| s.scans.mutes_error = None);
        }
        Err(e) => {
            let message = format!("{e}; the scan keeps the last mute file that was accepted");
            tracing::warn!("{message}");
            on_event(&format!("mute file refused: {message}"));
            status.update(|s| s.scans.mutes_error = Some(message));
        }
    }
}

fn scan_once(
    store: &mut Store,
    opts: &WatchOptions,
    generation: &Generation,
    mutes: &MuteSet,
    status: &StatusFile,
    on_event: &dyn Fn(&str),
) {
    let Some(source) = &opts.source else {
        return;
    };
    let result = collect::gather(source, &NoProgress)
        .map_err(anyhow::Error::from)
        .and_then(|(snapshot, label)| {
            pipeline::scan::run_muted(
                store,
                &snapshot,
                &label,
                &opts.scan,
                &generation.scan,
                mutes,
                &|_, _| {},
            )
            .map_err(anyhow::Error::from)
        });
    match result {
        Ok(report) => {
            on_event(&format!(
                "scan #{} with generation {}: {} results, {} failing ({} muted), {} errors",
                report.scan_id,
                generation.number,
                report.totals.findings,
                report.totals.by_status.get("fail").copied().unwrap_or(0),
                report.totals.muted,
                report.totals.by_status.get("error").copied().unwrap_or(0),
            ));
            status.update(|s| {
                s.scans.count += 1;
                s.scans.last_scan_id = Some(report.scan_id);
                s.scans.last_at = Some(crate::model::now_rfc3339());
                s.scans.last_generation = Some(generation.number);
                s.scans.last_results = report.totals.findings as u64;
                s.scans.last_muted = report.totals.muted as u64;
                s.scans.last_error = None;
            });
        }
        Err(e) => {
            let message = format!("{e:#}");
            tracing::error!("scan failed: {message}");
            status.update(|s| {
                s.scans.count += 1;
                s.scans.failed += 1;
                s.scans.last_error = Some(message);
            });
        }
    }
}

fn detect_once(
    store: &mut Store,
    opts: &WatchOptions,
    generation: &Generation,
    files: &[PathBuf],
    status: &StatusFile,
    on_event: &dyn Fn(&str),
) {
    let Some(set) = &generation.detect else {
        return;
    };
    let labels: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    let result = Inputs::resolve(&labels, opts.log_format)
        .map_err(anyhow::Error::msg)
        .and_then(|inputs| pipeline::detect::run(store, &inputs, &labels, &opts.detect, set));
    match result {
        Ok(report) => {
            on_event(&format!(
                "detection run #{} with generation {}: {} files, {} events, {} new alerts",
                report.run_id,
                generation.number,
                report.totals.files,
                report.totals.events,
                report.new_alerts.len()
            ));
            status.update(|s| {
                s.detection.runs += 1;
                s.detection.files += report.totals.files as u64;
                s.detection.events += report.totals.events as u64;
                s.detection.new_alerts += report.new_alerts.len() as u64;
                s.detection.last_run_id = Some(report.run_id);
                s.detection.last_error = None;
            });
        }
        Err(e) => {
            let message = format!("{e:#}");
            tracing::error!("detection failed: {message}");
            status.update(|s| s.detection.last_error = Some(message));
        }
    }
}

/// New files of the log directory: a file is ready once its size has not
/// changed between two looks (a writer is done with it); each is read once.
#[derive(Default)]
struct LogDir {
    seen: BTreeMap<PathBuf, u64>,
    done: BTreeSet<PathBuf>,
}

impl LogDir {
    fn ready(&mut self, dir: &std::path::Path) -> Vec<PathBuf> {
        let mut ready = Vec::new();
        let mut now = BTreeMap::new();
        let visible = |name: &str| !name.starts_with('.');
        let filter = walk::Filter {
            enter: &visible,
            want: &|p: &std::path::Path| {
                p.file_name().is_some_and(|n| visible(&n.to_string_lossy()))
            },
        };
        // Unreadable now, perhaps readable at the next look: nothing yet.
        let files = walk::walk(dir, &filter, &mut Default::default())
            .map(|w| w.files)
            .unwrap_or_default();
        for path in files {
            if self.done.contains(&path) {
                continue;
            }
            let Ok(meta) = std::fs::metadata(&path) else {
                continue;
            };
            if self.seen.get(&path) == Some(&meta.len()) {
                ready.push(path.clone());
            }
            now.insert(path, meta.len());
        }
        self.seen = now;
        ready
    }

    fn done(&mut self, files: Vec<PathBuf>) {
        for f in files {
            self.seen.remove(&f);
            self.done.insert(f);
        }
    }
}
