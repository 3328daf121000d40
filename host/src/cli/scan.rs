//! `stance scan`: evaluate a snapshot or a live collection and store the findings.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use super::source::{self, SourceArgs};
use super::{Globals, exit_code};
use crate::catalog::{PolicySelection, Selection};
use crate::model::{Severity, Status};
use crate::pipeline::{self, ScanOptions};
use crate::report::{self, Format};
use crate::store::FindingFilter;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    source: SourceArgs,

    /// Extra YAML policy file or directory (repeatable)
    #[arg(long = "policies", value_name = "PATH")]
    policies: Vec<PathBuf>,

    /// Do not evaluate the built-in policies
    #[arg(long)]
    no_builtin_policies: bool,

    /// Extra plugin: a .wasm component or a plugin.toml manifest (repeatable)
    #[arg(long = "plugin", value_name = "PATH")]
    plugins: Vec<PathBuf>,

    /// An installed rule pack, NAME or NAME@RANGE (repeatable): its policies and plugins run too; pinned in stance.lock
    #[arg(long = "pack", value_name = "NAME[@RANGE]")]
    packs: Vec<stance_pack::PackSpec>,

    #[command(flatten)]
    trust: super::pack::TrustArgs,

    /// Exit 1 when an unmuted finding fails at or above this severity
    #[arg(long, value_name = "SEVERITY")]
    fail_on: Option<Severity>,

    /// Exit 1 only for unmuted failures that are new or reopened since the
    /// previous scan of the same scope (or whose mute expired since); with
    /// --fail-on, only those at or above its severity
    #[arg(long)]
    fail_on_new: bool,

    /// Mute file (default: .stance/mutes.yaml in the current directory, when it exists)
    #[arg(long, value_name = "FILE")]
    mutes: Option<PathBuf>,

    /// Also list failures a mute covers (marked `muted`)
    #[arg(long)]
    show_muted: bool,

    /// Output format of the failing findings
    #[arg(long, value_enum, default_value = "table")]
    format: Format,

    /// Write the findings to FILE instead of stdout
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,

    /// Assets per plugin call
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u32).range(1..))]
    batch_size: u32,

    /// Evaluation threads (default: one per core)
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    jobs: Option<u32>,

    #[command(flatten)]
    limits: super::limits::LimitArgs,
}

impl Args {
    /// `--mutes FILE`, for the settings.
    pub(crate) fn mutes(&self) -> Option<PathBuf> {
        self.mutes.clone()
    }
}

pub fn run(g: &Globals, args: Args) -> anyhow::Result<ExitCode> {
    // A bad mute file is refused before anything is opened or stored.
    let mutes =
        super::mutes::load(g).context("the mute file is refused; nothing was scanned or stored")?;
    let mut store = g.store()?;
    let rt = g.runtime()?;
    let selection = Selection {
        policies: Some(PolicySelection {
            builtin: !args.no_builtin_policies,
            paths: args.policies.clone(),
            plugins: args.plugins.clone(),
        }),
        detectors: None,
        packs: args.packs.clone(),
        pack_dir: g.settings().pack_dir.value.clone(),
        trust: args.trust.config(g.settings()),
        limits: args.limits.limits(),
    };
    let resolved = super::pack::resolve(g, &selection)?;
    let plugins = pipeline::load_plugins(&rt, resolved.policies)?;
    let source = args.source.source(g.settings())?;
    let (snapshot, label) = source::gather(&source, g.interactive())?;
    let opts = ScanOptions {
        batch_size: args.batch_size as usize,
        jobs: args.jobs.map(|j| j as usize),
        limits: args.source.limits.limits(),
    };
    let bar = super::progress_bar(
        g,
        "{spinner} evaluating [{bar:30}] {pos}/{len} batches {elapsed}",
    );
    let report = pipeline::scan::run_muted(
        &mut store,
        &snapshot,
        &label,
        &opts,
        &plugins,
        &mutes,
        &|done, total| {
            bar.set_length(total as u64);
            bar.set_position(done as u64);
        },
    )
    .with_context(|| format!("scanning {label}"))?;
    bar.finish_and_clear();

    // JUnit lists every rule, passing ones as passing tests.
    let statuses = match args.format {
        Format::Junit => Vec::new(),
        _ => vec![Status::Fail, Status::Error],
    };
    let filter = FindingFilter {
        scan: Some(report.scan_id),
        statuses,
        hide_muted: !args.show_muted,
        ..Default::default()
    };
    let mut out = super::output(args.output.as_deref())?;
    // JSON and CSV stream from the store: memory stays flat however many findings.
    let worst = match args.format {
        Format::Json => report::findings::write_scan_json(&mut out, &report, &store, &filter)?,
        format => report::findings::write_query(
            &mut out,
            &store,
            &filter,
            format,
            report::use_color(args.output.is_some()),
        )?,
    };
    out.flush()?;
    if !g.quiet() {
        report::summary::write(&mut std::io::stderr().lock(), &report)?;
    }
    if args.fail_on_new {
        let gating = super::findings::new_failures(g, &store, report.scan_id, args.fail_on)?;
        return Ok(exit_code(report.has_errors(), gating, Some(Severity::Info)));
    }
    Ok(exit_code(report.has_errors(), worst, args.fail_on))
}
