//! Findings as a table (for people), JSON (`docs/output-schema.md`) or CSV.

use std::io::{self, Write};

use comfy_table::{Cell, Color};

use super::{Format, table, write_csv, write_json};
use crate::model::{Severity, Status};
use crate::store::FindingRow;

/// The CSV columns of a finding.
const CSV_HEADER: &[&str] = &[
    "scan_id",
    "severity",
    "status",
    "lifecycle",
    "rule_id",
    "title",
    "resource_id",
    "resource_type",
    "account",
    "region",
    "message",
    "evidence",
    "compliance",
    "fingerprint",
    "first_seen",
    "last_seen",
];

/// Write findings as a table (coloured when `color`), JSON or CSV.
pub fn write(
    out: &mut dyn Write,
    rows: &[FindingRow],
    format: Format,
    color: bool,
) -> io::Result<()> {
    match format {
        Format::Json => write_json(out, &rows),
        Format::Csv => write_csv(out, CSV_HEADER, rows.iter().map(csv_row)),
        Format::Table => write_table(out, rows, color),
    }
}

fn csv_row(f: &FindingRow) -> Vec<String> {
    let evidence: Vec<String> = f
        .evidence
        .iter()
        .map(|e| format!("{} = {}", e.path, e.actual))
        .collect();
    let compliance: Vec<String> = f
        .compliance
        .iter()
        .map(|c| format!("{} {} {}", c.framework, c.version, c.control))
        .collect();
    vec![
        f.scan_id.to_string(),
        f.severity.to_string(),
        f.status.to_string(),
        f.lifecycle.clone().unwrap_or_default(),
        f.rule_id.clone(),
        f.title.clone(),
        f.resource.id.clone(),
        f.resource.resource_type.clone(),
        f.resource.account.clone(),
        f.resource.region.clone(),
        f.message.clone(),
        evidence.join("; "),
        compliance.join("; "),
        f.fingerprint.clone(),
        f.first_seen.clone().unwrap_or_default(),
        f.last_seen.clone().unwrap_or_default(),
    ]
}

fn write_table(out: &mut dyn Write, rows: &[FindingRow], color: bool) -> io::Result<()> {
    if rows.is_empty() {
        return writeln!(out, "No findings match.");
    }
    let mut t = table(&["SEVERITY", "STATUS", "RULE", "RESOURCE", "MESSAGE"]);
    for f in rows {
        let resource = if f.resource.name.is_empty() {
            &f.resource.id
        } else {
            &f.resource.name
        };
        let status = match &f.lifecycle {
            Some(l) if f.status == Status::Fail => format!("fail ({l})"),
            _ => f.status.to_string(),
        };
        t.add_row(vec![
            severity_cell(f.severity, color),
            status_cell(f.status, status, color),
            Cell::new(&f.rule_id),
            Cell::new(format!(
                "{resource}\n{} · {}",
                f.resource.resource_type, f.resource.region
            )),
            Cell::new(&f.message),
        ]);
    }
    // Identifiers never wrap; the message takes what width is left.
    for i in 0..4 {
        if let Some(c) = t.column_mut(i) {
            c.set_constraint(comfy_table::ColumnConstraint::ContentWidth);
        }
    }
    if let Some(c) = t.column_mut(4) {
        c.set_constraint(comfy_table::ColumnConstraint::LowerBoundary(
            comfy_table::Width::Fixed(30),
        ));
    }
    writeln!(out, "{t}")
}

/// A severity cell, coloured by how bad it is.
pub fn severity_cell(s: Severity, color: bool) -> Cell {
    let cell = Cell::new(s.as_str());
    if !color {
        return cell;
    }
    match s {
        Severity::Critical => cell.fg(Color::Magenta),
        Severity::High => cell.fg(Color::Red),
        Severity::Medium => cell.fg(Color::Yellow),
        Severity::Low => cell.fg(Color::Blue),
        Severity::Info => cell,
    }
}

fn status_cell(s: Status, text: String, color: bool) -> Cell {
    let cell = Cell::new(text);
    if !color {
        return cell;
    }
    match s {
        Status::Fail => cell.fg(Color::Red),
        Status::Error => cell.fg(Color::Magenta),
        Status::Pass => cell.fg(Color::Green),
    }
}
