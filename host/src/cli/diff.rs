//! `stance diff`: compare two scans of one scope (by default the latest
//! scan against the one before it in its scope).

use std::path::PathBuf;
use std::process::ExitCode;

use super::{Globals, exit_code};
use crate::model::Severity;
use crate::report::diff::{self, DiffFormat};
use crate::store::Change;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The earlier scan (default: the scan before --to in its scope)
    #[arg(long, value_name = "ID")]
    from: Option<i64>,

    /// The later scan (default: the latest scan, or the latest of --from's scope)
    #[arg(long, value_name = "ID")]
    to: Option<i64>,

    /// table, json, csv, or markdown (for a pull-request comment)
    #[arg(long, value_enum, default_value = "table")]
    format: DiffFormat,

    /// Rows per category in table and markdown output (0: all); JSON and CSV list every one
    #[arg(long, default_value_t = 20, value_name = "N")]
    limit: usize,

    /// Write to FILE instead of stdout
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,

    /// Exit 1 when a new or reopened failure is at or above this severity (muted ones do not count)
    #[arg(long, value_name = "SEVERITY")]
    fail_on: Option<Severity>,
}

pub fn run(g: &Globals, args: Args) -> anyhow::Result<ExitCode> {
    let store = g.store_read()?;
    let (from, to) = store.diff_scans(args.from, args.to)?;
    let d = store.diff(&from, &to)?;
    let mut out = super::output(args.output.as_deref())?;
    diff::write(&mut out, &d, args.format, args.limit)?;
    out.flush()?;
    let gating = d
        .entries
        .iter()
        .filter(|e| matches!(e.change, Change::New | Change::Reopened) && e.muted_by.is_none())
        .map(|e| e.severity);
    Ok(exit_code(false, gating, args.fail_on))
}
