//! `stance prune` output: what a prune removed (or, dry, would remove) and
//! the space it gave back, as text or JSON. Renders only the store's report.

use std::io::{self, Write};

use super::{escape_control, write_json};
use crate::store::PruneReport;

/// Write the report as JSON (`json`) or as a few lines for people.
pub fn write(out: &mut dyn Write, r: &PruneReport, json: bool) -> io::Result<()> {
    if json {
        return write_json(out, r);
    }
    let verb = if r.dry_run { "Would prune" } else { "Pruned" };
    let assets: i64 = r.scans.iter().map(|s| s.assets).sum();
    let findings: i64 = r.scans.iter().map(|s| s.findings).sum();
    let alerts: i64 = r.runs.iter().map(|s| s.alerts).sum();
    writeln!(
        out,
        "{verb} {} scan{} ({assets} assets, {findings} findings) and {} detection run{} ({alerts} alerts); {} complete scan{} {}.",
        r.scans.len(),
        plural(r.scans.len()),
        r.runs.len(),
        plural(r.runs.len()),
        r.scans_kept,
        plural(r.scans_kept as usize),
        match (r.dry_run, r.scans_kept) {
            (true, _) => "would remain",
            (false, 1) => "remains",
            (false, _) => "remain",
        }
    )?;
    for s in &r.scans {
        writeln!(
            out,
            "  scan #{} {} {} ({} assets, {} findings)",
            s.id,
            s.finished_at,
            escape_control(&s.scope),
            s.assets,
            s.findings
        )?;
    }
    for run in &r.runs {
        writeln!(
            out,
            "  detection run #{} {} ({} alerts)",
            run.id, run.finished_at, run.alerts
        )?;
    }
    if r.dry_run {
        return writeln!(out, "Dry run: nothing was changed.");
    }
    writeln!(
        out,
        "Removed {} unreferenced asset bod{} and {} lifecycle entr{} of findings that never failed; vacuum: {}.",
        r.asset_bodies,
        if r.asset_bodies == 1 { "y" } else { "ies" },
        r.lifecycle_states,
        if r.lifecycle_states == 1 { "y" } else { "ies" },
        r.vacuum
    )?;
    writeln!(
        out,
        "Database: {} → {}{}.",
        mib(r.bytes_before),
        mib(r.bytes_after),
        if r.wal_truncated {
            ""
        } else {
            " (the write-ahead log is in use by another process; later writes reuse it)"
        }
    )
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}
