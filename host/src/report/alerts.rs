//! Alerts as a table, JSON or CSV, and the summary of a detection run.

use std::io::{self, Write};

use super::{Format, TerminalWriter, table, write_csv, write_json};
use crate::model::Severity;
use crate::notify::Delivery;
use crate::pipeline::DetectReport;
use crate::store::AlertRow;

const HEADER: &[&str] = &[
    "id",
    "run_id",
    "severity",
    "rule_id",
    "title",
    "window_start",
    "window_end",
    "group_key",
    "event_ids",
    "account",
    "region",
    "duplicate",
    "message",
];

/// Write stored alerts in `format`: every field in JSON, the main columns in
/// CSV; severity, rule, time window, what, where and message in a table
/// (`No alerts.` when there are none); SARIF and OCSF as
/// [`write_with_reasons`] without the suppressions' reasons. JUnit is
/// refused: alerts are events, not tests (`--fail-on` gates CI on them).
pub fn write(out: &mut dyn Write, rows: &[AlertRow], format: Format) -> io::Result<()> {
    match format {
        Format::Sarif | Format::Ocsf => {
            write_with_reasons(out, rows, format, &std::collections::BTreeMap::new())
        }
        Format::Junit | Format::Asff => Err(super::unsupported(format, "alerts")),
        Format::Json => write_json(out, &rows),
        Format::Csv => write_csv(
            out,
            HEADER,
            rows.iter().map(|a| {
                vec![
                    a.id.to_string(),
                    a.run_id.to_string(),
                    a.severity.as_str().to_string(),
                    a.rule_id.clone(),
                    a.title.clone(),
                    a.window_start.clone(),
                    a.window_end.clone(),
                    a.group_key.clone().unwrap_or_default(),
                    a.event_ids.join(" "),
                    a.account.clone(),
                    a.region.clone(),
                    a.duplicate.to_string(),
                    a.message.clone(),
                ]
            }),
        ),
        Format::Table => {
            if rows.is_empty() {
                return writeln!(out, "No alerts.");
            }
            let mut t = table(&["SEVERITY", "RULE", "WHEN", "WHAT", "WHERE", "MESSAGE"]);
            for a in rows {
                let when = if a.window_start == a.window_end {
                    a.window_start.clone()
                } else {
                    format!("{}\n→ {}", a.window_start, a.window_end)
                };
                let what = match &a.group_key {
                    Some(g) => format!("{g}\n{} event(s)", a.event_ids.len()),
                    None if a.event_ids.len() == 1 => a.event_ids[0].clone(),
                    None => format!("{} event(s)", a.event_ids.len()),
                };
                let place = [a.account.as_str(), a.region.as_str()]
                    .iter()
                    .filter(|s| !s.is_empty())
                    .copied()
                    .collect::<Vec<_>>()
                    .join(" · ");
                let sev = match (a.suppressed_by, a.duplicate) {
                    (Some(id), _) => format!("{} (suppressed #{id})", a.severity),
                    (None, true) => format!("{} (seen)", a.severity),
                    (None, false) => a.severity.to_string(),
                };
                t.add_row(vec![
                    sev,
                    format!("{}\n{}", a.title, a.rule_id),
                    when,
                    what,
                    place,
                    a.message.clone(),
                ]);
            }
            writeln!(out, "{t}")
        }
    }
}

/// Write alerts in `format`; SARIF and OCSF name the reason of the
/// suppression that silenced an alert (`reasons`, by suppression id).
pub fn write_with_reasons(
    out: &mut dyn Write,
    rows: &[AlertRow],
    format: Format,
    reasons: &std::collections::BTreeMap<i64, String>,
) -> io::Result<()> {
    match format {
        Format::Sarif => super::sarif::write_alerts(out, rows, reasons),
        Format::Ocsf => super::ocsf::write_alerts(out, rows, reasons),
        other => write(out, rows, other),
    }
}

/// The summary of a detection run on stderr: events, alerts by severity,
/// rules, detectors, errors, and what each route did.
pub fn summary(
    e: &mut dyn Write,
    r: &DetectReport,
    deliveries: &[Delivery],
    dry_run: bool,
) -> io::Result<()> {
    // Rule errors, input errors and failure causes quote what was read.
    let e = &mut TerminalWriter::new(e);
    let t = &r.totals;
    writeln!(
        e,
        "Detection run #{} of {} input file(s)\n  {} events ({} outside --since/--until) in {} batches, {:.2}s",
        r.run_id,
        t.files,
        t.events,
        t.out_of_range,
        t.batches,
        r.elapsed_ms / 1000.0
    )?;
    let sev: Vec<String> = Severity::ALL
        .iter()
        .map(|s| {
            format!(
                "{s} {}",
                t.by_severity.get(s.as_str()).copied().unwrap_or(0)
            )
        })
        .collect();
    writeln!(
        e,
        "  alerts: {} new ({}), {} raised by an earlier run, {} suppressed",
        t.alerts,
        sev.join(", "),
        t.duplicates,
        t.suppressed
    )?;
    writeln!(
        e,
        "  rules: {} loaded, {} not loaded",
        t.rules,
        t.rule_errors.len()
    )?;
    for d in &r.detectors {
        writeln!(
            e,
            "  plugin {} {} ({} rules, cache {}, {:.1} ms to load, {} state keys kept)",
            d.name,
            d.version,
            d.rules,
            d.cache,
            d.load_ms,
            t.state_keys.get(&d.name).copied().unwrap_or(0)
        )?;
    }
    for err in &t.rule_errors {
        writeln!(e, "  rule not loaded: {err}")?;
    }
    for err in &t.input_errors {
        writeln!(e, "  input error: {err}")?;
    }
    for f in &r.failures {
        writeln!(
            e,
            "  failed batch #{} of plugin {} ({} events): {}",
            f.batch, f.plugin, f.assets, f.cause
        )?;
    }
    for d in deliveries {
        delivery(e, d, dry_run)?;
    }
    Ok(())
}

/// What one route did.
fn delivery(e: &mut dyn Write, d: &Delivery, dry_run: bool) -> io::Result<()> {
    match &d.error {
        Some(err) => writeln!(
            e,
            "  route {}: FAILED after {} attempt(s): {err}",
            d.destination, d.attempts
        ),
        None if dry_run => writeln!(
            e,
            "  route {}: would send {} alert(s) (dry run)",
            d.destination, d.alerts
        ),
        None => writeln!(e, "  route {}: sent {} alert(s)", d.destination, d.alerts),
    }
}
