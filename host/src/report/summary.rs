//! The human summary printed at the end of a scan.

use std::io::{self, Write};

use super::TerminalWriter;
use crate::model::Severity;
use crate::pipeline::ScanReport;

/// Write the summary of a scan: totals by status, severity and lifecycle,
/// each plugin's load, what was not collected, and the batches that failed.
/// Control characters in names and messages are escaped (`report::terminal`).
pub fn write(out: &mut dyn Write, r: &ScanReport) -> io::Result<()> {
    let out = &mut TerminalWriter::new(out);
    let t = &r.totals;
    let n = |k: &str| t.by_status.get(k).copied().unwrap_or(0);
    writeln!(out, "Scan #{} of {} ({})", r.scan_id, r.source, r.scope)?;
    writeln!(
        out,
        "  {} assets, {} results in {} batches, {:.2}s",
        t.assets,
        t.findings,
        r.batches,
        r.elapsed.as_secs_f64()
    )?;
    writeln!(
        out,
        "  pass {}  fail {}  error {}",
        n("pass"),
        n("fail"),
        n("error")
    )?;
    let by_sev: Vec<String> = Severity::ALL
        .iter()
        .map(|s| {
            format!(
                "{} {}",
                s,
                t.failed_by_severity.get(s.as_str()).copied().unwrap_or(0)
            )
        })
        .collect();
    let muted = if t.muted > 0 {
        " (muted ones apart)"
    } else {
        ""
    };
    writeln!(out, "  failing by severity{muted}: {}", by_sev.join(", "))?;
    mutes(out, r)?;
    let life = |k: &str| t.by_lifecycle.get(k).copied().unwrap_or(0);
    writeln!(
        out,
        "  lifecycle: new {}, recurring {}, reopened {}, resolved {}",
        life("new"),
        life("recurring"),
        life("reopened"),
        life("resolved")
    )?;
    for p in &r.plugins {
        writeln!(
            out,
            "  plugin {} {} ({} rules, cache {}, {:.1} ms to load)",
            p.name, p.version, p.rules, p.cache, p.compile_ms
        )?;
    }
    collection_errors(out, &r.collection_errors)?;
    if !r.failures.is_empty() {
        writeln!(
            out,
            "  {} plugin batch(es) failed; their results are recorded as error:",
            r.failures.len()
        )?;
        for f in &r.failures {
            writeln!(
                out,
                "    {} batch {} ({} assets{}): {}",
                f.plugin,
                f.batch,
                f.assets,
                f.rule_id
                    .as_ref()
                    .map(|r| format!(", rule {r}"))
                    .unwrap_or_default(),
                f.cause
            )?;
        }
    }
    Ok(())
}

/// What the mutes did: failures muted (kept apart from the counts `--fail-on`
/// looks at), and mutes past their end date whose findings fail again.
fn mutes(out: &mut dyn Write, r: &ScanReport) -> io::Result<()> {
    let m = &r.mutes;
    let Some(file) = &m.file else {
        return Ok(());
    };
    writeln!(
        out,
        "  muted {} of the failures ({} mute(s) in force, {}; shown with --show-muted, not counted by --fail-on)",
        m.muted, m.in_force, file
    )?;
    for e in &m.expired {
        writeln!(
            out,
            "  mute {} expired on {}: {} finding(s) it covered fail again",
            e.id, e.expires, e.failing
        )?;
    }
    Ok(())
}

/// What could not be collected, grouped by kind, so a reader sees at once
/// which permissions or regions are missing.
pub fn collection_errors(
    out: &mut dyn Write,
    errors: &[crate::model::CollectionError],
) -> io::Result<()> {
    if errors.is_empty() {
        return Ok(());
    }
    let out = &mut TerminalWriter::new(out);
    writeln!(
        out,
        "  not collected ({} error(s); rules that needed the data report error):",
        errors.len()
    )?;
    for e in errors {
        let types = if e.resource_types.is_empty() {
            String::new()
        } else {
            format!(" [{}]", e.resource_types.join(", "))
        };
        writeln!(
            out,
            "    {} {} {}/{} {}: {}{types}",
            e.kind, e.service, e.account, e.region, e.operation, e.message
        )?;
    }
    Ok(())
}
