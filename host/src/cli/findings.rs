//! `stance findings`: query the findings of a scan.

use std::path::PathBuf;
use std::process::ExitCode;

use std::io::Write;

use anyhow::{Context, bail};

use super::{Globals, exit_code};
use crate::model::{Lifecycle, Severity, Status};
use crate::report::{self, Format};
use crate::store::FindingFilter;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Scan id (default: the latest scan)
    #[arg(long, value_name = "ID")]
    scan: Option<i64>,

    /// Only these severities (repeatable or comma-separated)
    #[arg(long, value_delimiter = ',', value_name = "SEVERITY")]
    severity: Vec<Severity>,

    /// Only findings at or above this severity
    #[arg(long, value_name = "SEVERITY")]
    min_severity: Option<Severity>,

    /// Only these statuses: pass, fail, error, or all (default: fail and error; all for junit, where passing rules are passing tests)
    #[arg(long, value_delimiter = ',', value_name = "STATUS")]
    status: Vec<String>,

    /// Only these rule ids (repeatable or comma-separated)
    #[arg(long, value_delimiter = ',', value_name = "RULE")]
    rule: Vec<String>,

    /// Only failing findings in this lifecycle state: new, recurring, reopened, resolved
    #[arg(long, value_name = "STATE")]
    lifecycle: Option<Lifecycle>,

    /// Only this resource type (exact or prefix*)
    #[arg(long = "type", value_name = "TYPE")]
    resource_type: Option<String>,

    /// Only findings of these sources: stance, securityhub, inspector2 (comma-separated)
    #[arg(long = "source", value_delimiter = ',', value_name = "SOURCE")]
    sources: Vec<String>,

    /// Also list imported findings that repeat one of Stance's own
    #[arg(long)]
    include_duplicates: bool,

    #[arg(long, value_enum, default_value = "table")]
    format: Format,

    /// Write to FILE instead of stdout
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,

    /// Exit 1 when a listed, unmuted finding fails at or above this severity
    #[arg(long, value_name = "SEVERITY")]
    fail_on: Option<Severity>,

    /// Exit 1 only for the scan's unmuted failures that are new or reopened
    /// since the previous scan of its scope (or whose mute expired since);
    /// with --fail-on, only those at or above its severity
    #[arg(long)]
    fail_on_new: bool,

    /// Also list failures a mute covered when the scan ran
    #[arg(long)]
    show_muted: bool,
}

pub fn run(g: &Globals, args: Args) -> anyhow::Result<ExitCode> {
    let store = g.store_read()?;
    let statuses = if args.status.is_empty() && args.format == Format::Junit {
        Vec::new()
    } else if args.status.is_empty() {
        vec![Status::Fail, Status::Error]
    } else if args.status.iter().any(|s| s == "all") {
        Vec::new()
    } else {
        args.status
            .iter()
            .map(|s| s.parse::<Status>().map_err(anyhow::Error::msg))
            .collect::<anyhow::Result<_>>()
            .context("--status")?
    };
    let scan = match args.scan {
        Some(id) => {
            if store.scan(id)?.is_none() {
                bail!(
                    "there is no complete scan #{id} in {}; `stance scans` lists them",
                    store.path().display()
                );
            }
            Some(id)
        }
        None => match store.latest_scan_id()? {
            Some(id) => Some(id),
            None => bail!(
                "no scans in {} yet; run `stance scan` first",
                store.path().display()
            ),
        },
    };
    let filter = FindingFilter {
        scan,
        severities: args.severity,
        min_severity: args.min_severity,
        statuses,
        rules: args.rule,
        lifecycle: args.lifecycle.map(|l| l.as_str().to_string()),
        resource_type: args.resource_type,
        sources: args.sources,
        include_duplicates: args.include_duplicates,
        hide_muted: !args.show_muted,
    };
    let mut out = super::output(args.output.as_deref())?;
    // JSON and CSV stream from the query: memory stays flat however many
    // findings. SARIF, OCSF and JUnit group them (runs, rules), so they are read whole.
    let worst = report::findings::write_query(
        &mut out,
        &store,
        &filter,
        args.format,
        report::use_color(args.output.is_some()),
    )?;
    out.flush()?;
    if let (true, Some(scan)) = (args.fail_on_new, scan) {
        let gating = new_failures(g, &store, scan, args.fail_on)?;
        return Ok(exit_code(false, gating, Some(Severity::Info)));
    }
    Ok(exit_code(false, worst, args.fail_on))
}

/// The severities of the failures `--fail-on-new` counts in `scan` (at or
/// above `min`), each named on stderr unless `--quiet`.
pub(crate) fn new_failures(
    g: &Globals,
    store: &crate::store::Store,
    scan: i64,
    min: Option<Severity>,
) -> anyhow::Result<Vec<Severity>> {
    let found = store
        .new_failures(scan, min)
        .context("reading the new failures")?;
    if !g.quiet() {
        let mut err = report::TerminalWriter::new(std::io::stderr().lock());
        let at = min.map(|m| format!(" at or above {m}")).unwrap_or_default();
        writeln!(
            err,
            "--fail-on-new: {} unmuted failure(s){at} new or reopened since the previous scan of the scope",
            found.len()
        )?;
        for f in found.iter().take(20) {
            writeln!(
                err,
                "  {} {} {} ({})",
                f.severity, f.rule_id, f.resource, f.why
            )?;
        }
        if found.len() > 20 {
            writeln!(err, "  … and {} more", found.len() - 20)?;
        }
    }
    Ok(found.iter().map(|f| f.severity).collect())
}
