//! `stance watch`: the long-running mode's flags, and `stance watch --status`.
//! Scans on an interval (`--snapshot` or `--provider aws`), detects over
//! `--logs DIR`, and hot-reloads plugins, policies, rules and packs.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};

use super::Globals;
use super::source::SourceArgs;
use crate::catalog::{DetectorSelection, PolicySelection, Selection};
use crate::events::LogFormat;
use crate::pipeline::{DetectOptions, ScanOptions};
use crate::report::{self, Format};
use crate::settings::Origin;
use crate::watch::run::MuteFile;
use crate::watch::status::Status;
use crate::watch::{WatchOptions, watch};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print the status of a running (or the last) `stance watch` and exit
    #[arg(long)]
    status: bool,

    /// The status file (default: watch-status.json beside the database)
    #[arg(long, value_name = "FILE")]
    status_file: Option<PathBuf>,

    /// With --status: table or json
    #[arg(long, value_enum, default_value = "table")]
    format: Format,

    #[command(flatten)]
    source: SourceArgs,

    /// Seconds between the starts of two scans (fractions allowed)
    #[arg(long, default_value_t = 300.0, value_name = "SECONDS")]
    interval: f64,

    /// Stop after this many scans (default: run until stopped)
    #[arg(long, value_name = "N")]
    max_scans: Option<u64>,

    /// Do not evaluate the built-in policies
    #[arg(long)]
    no_builtin_policies: bool,

    /// Extra YAML policy file or directory (repeatable; watched)
    #[arg(long = "policies", value_name = "PATH")]
    policies: Vec<PathBuf>,

    /// Extra policy plugin: a project directory, .wasm or plugin.toml (repeatable; watched)
    #[arg(long = "plugin", value_name = "PATH")]
    plugins: Vec<PathBuf>,

    /// A directory that receives audit-log files: each new file is read once, when its size settles
    #[arg(long, value_name = "DIR")]
    logs: Option<PathBuf>,

    /// What the log files hold
    #[arg(long, value_enum, default_value = "auto")]
    log_format: LogFormat,

    /// Sigma rule file or directory for detection (repeatable; watched)
    #[arg(long = "rules", value_name = "PATH")]
    rules: Vec<PathBuf>,

    /// Do not run the built-in Sigma rules
    #[arg(long)]
    no_builtin_rules: bool,

    /// Sigma engine configuration (field mappings; watched)
    #[arg(long, value_name = "FILE")]
    sigma_config: Option<PathBuf>,

    /// Extra detector plugin (repeatable; watched)
    #[arg(long = "detector", value_name = "PATH")]
    detectors: Vec<PathBuf>,

    /// An installed rule pack, NAME or NAME@RANGE (repeatable): the installed packs and stance.lock are watched
    #[arg(long = "pack", value_name = "NAME[@RANGE]")]
    packs: Vec<stance_pack::PackSpec>,

    #[command(flatten)]
    trust: super::pack::TrustArgs,

    /// Mute file (default: .stance/mutes.yaml in the current directory, when
    /// it exists); read again before every scan
    #[arg(long, value_name = "FILE")]
    mutes: Option<PathBuf>,

    /// How long changes must settle before a reload, in milliseconds
    #[arg(long, default_value_t = 250)]
    debounce_ms: u64,

    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u32).range(1..))]
    batch_size: u32,

    /// Evaluation threads (default: all cores)
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    jobs: Option<u32>,

    #[command(flatten)]
    limits: super::limits::LimitArgs,
}

impl Args {
    /// `--status-file`, for the settings (its default is beside the database).
    pub fn status_file(&self) -> Option<PathBuf> {
        self.status_file.clone()
    }

    /// `--mutes FILE`, for the settings.
    pub(crate) fn mutes(&self) -> Option<PathBuf> {
        self.mutes.clone()
    }
}

pub fn run(g: &Globals, args: Args) -> anyhow::Result<ExitCode> {
    let status_file = g.settings().status_file.value.clone();
    if args.status {
        return print_status(&status_file, args.format);
    }
    let opts = options(g, &args, status_file)?;
    if args.source.given() {
        // A bad mute file is refused at the start; later bad edits keep the last good one.
        super::mutes::load(g).context("the mute file is refused; nothing was watched")?;
    }
    let mut store = g.store()?;
    let rt = Arc::new(g.runtime()?);
    let quiet = g.quiet();
    watch(rt, &mut store, &opts, &|line| {
        if !quiet {
            crate::say_err!("{line}");
        }
    })?;
    Ok(ExitCode::SUCCESS)
}

/// The flags, checked, as what `watch` runs.
fn options(g: &Globals, args: &Args, status_file: PathBuf) -> anyhow::Result<WatchOptions> {
    let scanning = args.source.given();
    if !scanning && args.logs.is_none() {
        bail!(
            "nothing to watch: give --snapshot FILE or --provider aws to scan, or --logs DIR to detect"
        );
    }
    // A week at most: `Duration::from_secs_f64` panics past u64 seconds.
    const MAX_INTERVAL_SECS: f64 = 7.0 * 24.0 * 3600.0;
    if !(args.interval.is_finite() && (0.0..=MAX_INTERVAL_SECS).contains(&args.interval)) {
        bail!(
            "--interval {}: give a number of seconds from 0 to {MAX_INTERVAL_SECS} (one week)",
            args.interval
        );
    }
    if let Some(dir) = &args.logs
        && !dir.is_dir()
    {
        bail!("--logs {}: not a directory", dir.display());
    }
    let selection = Selection {
        policies: scanning.then(|| PolicySelection {
            builtin: !args.no_builtin_policies,
            paths: args.policies.clone(),
            plugins: args.plugins.clone(),
        }),
        detectors: args.logs.is_some().then(|| DetectorSelection {
            builtin: !args.no_builtin_rules,
            rule_paths: args.rules.clone(),
            engine_config: args.sigma_config.clone(),
            plugins: args.detectors.clone(),
        }),
        packs: args.packs.clone(),
        pack_dir: g.settings().pack_dir.value.clone(),
        trust: args.trust.config(g.settings()),
        limits: args.limits.limits(),
    };
    Ok(WatchOptions {
        selection,
        source: match scanning {
            true => Some(args.source.source(g.settings())?),
            false => None,
        },
        scan: ScanOptions {
            batch_size: args.batch_size as usize,
            jobs: args.jobs.map(|j| j as usize),
            limits: args.source.limits.limits(),
        },
        detect: DetectOptions {
            limits: args.source.limits.limits(),
            ..DetectOptions::default()
        },
        interval: Duration::from_secs_f64(args.interval),
        logs: args.logs.clone(),
        log_format: args.log_format,
        max_scans: args.max_scans,
        status_file,
        debounce: Duration::from_millis(args.debounce_ms),
        poll: Duration::from_millis(200),
        mutes: MuteFile {
            path: g.settings().mutes.value.clone(),
            required: matches!(g.settings().mutes.origin, Origin::Flag(_)),
        },
    })
}

fn print_status(path: &std::path::Path, format: Format) -> anyhow::Result<ExitCode> {
    let s = Status::read(path)?;
    let mut out = report::open_output(None)?;
    if let Format::Json = format {
        let mut v = serde_json::to_value(&s)?;
        v["running"] = serde_json::Value::Bool(s.alive());
        report::write_json(&mut out, &v)?;
        out.flush()?;
        return Ok(ExitCode::SUCCESS);
    }
    let state = if s.alive() { "running" } else { "not running" };
    writeln!(
        out,
        "stance watch (pid {}, {state}), started {}, updated {}",
        s.pid, s.started_at, s.updated_at
    )?;
    writeln!(
        out,
        "generation {} loaded {} ({:.0} ms to load)",
        s.generation.number, s.generation.loaded_at, s.generation.load_ms
    )?;
    let mut t = report::table(&["WORLD", "PLUGIN", "VERSION", "RULES", "DIGEST", "ORIGIN"]);
    for p in &s.generation.plugins {
        t.add_row(vec![
            p.world.clone(),
            p.name.clone(),
            p.version.clone(),
            p.rules.to_string(),
            p.digest.chars().take(19).collect(),
            p.origin.clone(),
        ]);
    }
    writeln!(out, "{t}")?;
    for (pack, digest) in &s.generation.packs {
        writeln!(out, "pack {pack} ({digest})")?;
    }
    let r = &s.reloads;
    writeln!(
        out,
        "reloads: {} attempted, {} swapped, {} refused",
        r.attempts, r.swaps, r.failures
    )?;
    if let Some(w) = &r.last_swap {
        writeln!(
            out,
            "  last swap: generation {} at {}, {:.0} ms after the change ({:.0} ms to load, {:.1} µs to swap)",
            w.generation, w.at, w.latency_ms, w.load_ms, w.swap_us
        )?;
    }
    if let Some(e) = &r.last_error {
        writeln!(out, "  last refused reload at {}: {}", e.at, e.message)?;
    }
    writeln!(
        out,
        "scans: {} ({} failed, {} with a swap during them), last #{} with generation {} at {}, {} results",
        s.scans.count,
        s.scans.failed,
        s.scans.swapped_during,
        s.scans.last_scan_id.map_or("-".into(), |i| i.to_string()),
        s.scans
            .last_generation
            .map_or("-".into(), |g| g.to_string()),
        s.scans.last_at.as_deref().unwrap_or("-"),
        s.scans.last_results
    )?;
    if let Some(e) = &s.scans.last_error {
        writeln!(out, "  last scan error: {e}")?;
    }
    writeln!(
        out,
        "detection: {} runs, {} files, {} events, {} new alerts",
        s.detection.runs, s.detection.files, s.detection.events, s.detection.new_alerts
    )?;
    if let Some(e) = &s.detection.last_error {
        writeln!(out, "  last detection error: {e}")?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
