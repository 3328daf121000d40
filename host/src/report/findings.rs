//! Findings as a table (for people), JSON (`docs/output-schema.md`) or CSV;
//! SARIF, OCSF and JUnit XML through [`super::exchange`] (`docs/output-formats.md`).
//!
//! JSON and CSV of a query are written as the store reads them
//! ([`write_query`], [`write_scan_json`]): one finding in memory at a time,
//! however many the scan stored.

use std::cell::Cell as Tally;
use std::collections::BTreeMap;
use std::io::{self, Write};

use comfy_table::{Cell, Color};
use serde::ser::{Error as _, SerializeSeq};
use serde::{Serialize, Serializer};

use super::{CsvOut, Format, table, write_csv, write_json};
use crate::model::{Severity, Status};
use crate::pipeline::ScanReport;
use crate::store::{AssetFilter, FindingFilter, FindingRow, Store, StoreError};

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
    "muted_by",
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
        other => Err(super::unsupported(other, "findings without their scan")),
    }
}

/// Write the findings `filter` selects from `store` in `format`: JSON and
/// CSV stream from the query; a table (for people) is built whole. Returns
/// the worst severity among the unmuted failing findings written, for
/// `--fail-on` (a muted failure never trips it).
pub fn write_query(
    out: &mut dyn Write,
    store: &Store,
    filter: &FindingFilter,
    format: Format,
    color: bool,
) -> io::Result<Option<Severity>> {
    match format {
        Format::Json => {
            let stream = FindingStream::new(store, filter);
            write_json(out, &stream)?;
            Ok(stream.worst.get())
        }
        Format::Csv => {
            let worst = Tally::new(None);
            let mut csv = CsvOut::new(&mut *out, CSV_HEADER)?;
            store.for_each_finding(filter, |f| {
                note(&worst, &f);
                csv.row(&csv_row(&f)).map_err(Stop::<io::Error>::Ser)
            })?;
            csv.finish()?;
            Ok(worst.get())
        }
        Format::Table => {
            let rows = store.findings(filter).map_err(io::Error::other)?;
            write_table(out, &rows, color)?;
            Ok(worst_failing(&rows))
        }
        Format::Sarif | Format::Ocsf | Format::Junit => {
            let rows = store.findings(filter).map_err(io::Error::other)?;
            super::exchange::write_findings(out, store, filter.scan, &rows, format)?;
            Ok(worst_failing(&rows))
        }
        Format::Asff => {
            let rows = store.findings(filter).map_err(io::Error::other)?;
            let (tags, scanned_at) = asff_context(store, filter.scan)?;
            let target = super::asff::Target {
                region: None,
                account: None,
            };
            let (_, imported) = super::asff::write(out, &rows, &target, &tags, &scanned_at)?;
            if imported > 0 {
                tracing::info!("{imported} imported findings left out of the ASFF output");
            }
            Ok(worst_failing(&rows))
        }
    }
}

/// The JSON of `stance scan --format json`: `{"scan": REPORT, "findings":
/// [...]}`, the findings streamed from the store. Returns the worst failing
/// severity written.
pub fn write_scan_json(
    out: &mut dyn Write,
    report: &ScanReport,
    store: &Store,
    filter: &FindingFilter,
) -> io::Result<Option<Severity>> {
    #[derive(Serialize)]
    struct ScanJson<'a> {
        scan: &'a ScanReport,
        findings: &'a FindingStream<'a>,
    }
    let findings = FindingStream::new(store, filter);
    write_json(
        out,
        &ScanJson {
            scan: report,
            findings: &findings,
        },
    )?;
    Ok(findings.worst.get())
}

/// Tags by asset id.
pub type AssetTags = BTreeMap<String, BTreeMap<String, String>>;

/// Tags of a scan's assets by id, and when the scan finished: what ASFF
/// documents need beyond the finding rows.
pub fn asff_context(store: &Store, scan: Option<i64>) -> io::Result<(AssetTags, String)> {
    let scan = match scan {
        Some(s) => Some(s),
        None => store.latest_scan_id().map_err(io::Error::other)?,
    };
    let Some(scan) = scan else {
        return Ok((BTreeMap::new(), crate::model::now_rfc3339()));
    };
    let finished = store
        .scan(scan)
        .map_err(io::Error::other)?
        .map_or_else(crate::model::now_rfc3339, |s| s.finished_at);
    let assets = store
        .assets(&AssetFilter {
            scan: Some(scan),
            ..AssetFilter::default()
        })
        .map_err(io::Error::other)?;
    let tags = assets
        .into_iter()
        .filter_map(|a| {
            let map: BTreeMap<String, String> = a
                .tags
                .as_object()?
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect();
            (!map.is_empty()).then_some((a.id, map))
        })
        .collect();
    Ok((tags, finished))
}

/// The worst severity among unmuted failing findings.
pub fn worst_failing(rows: &[FindingRow]) -> Option<Severity> {
    rows.iter()
        .filter(|f| counts_for_fail_on(f))
        .map(|f| f.severity)
        .max()
}

/// A failure no mute covers: what `--fail-on` counts.
fn counts_for_fail_on(f: &FindingRow) -> bool {
    f.status == Status::Fail && f.muted_by.is_none()
}

fn note(worst: &Tally<Option<Severity>>, f: &FindingRow) {
    if counts_for_fail_on(f) && worst.get().is_none_or(|w| f.severity > w) {
        worst.set(Some(f.severity));
    }
}

/// The findings of a query as a JSON array, serialised as they are read.
struct FindingStream<'a> {
    store: &'a Store,
    filter: &'a FindingFilter,
    worst: Tally<Option<Severity>>,
}

impl<'a> FindingStream<'a> {
    fn new(store: &'a Store, filter: &'a FindingFilter) -> FindingStream<'a> {
        FindingStream {
            store,
            filter,
            worst: Tally::new(None),
        }
    }
}

/// Why a stream stopped: the writer's error or the store's.
enum Stop<E> {
    Ser(E),
    Store(StoreError),
}

impl<E> From<StoreError> for Stop<E> {
    fn from(e: StoreError) -> Self {
        Stop::Store(e)
    }
}

impl From<Stop<io::Error>> for io::Error {
    fn from(stop: Stop<io::Error>) -> io::Error {
        match stop {
            Stop::Ser(e) => e,
            Stop::Store(e) => io::Error::other(e),
        }
    }
}

impl Serialize for FindingStream<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(None)?;
        let streamed = self.store.for_each_finding(self.filter, |f| {
            note(&self.worst, &f);
            seq.serialize_element(&f).map_err(Stop::Ser)
        });
        match streamed {
            Ok(()) => seq.end(),
            Err(Stop::Ser(e)) => Err(e),
            Err(Stop::Store(e)) => Err(S::Error::custom(e)),
        }
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
        f.muted_by
            .as_ref()
            .map(|m| m.id.clone())
            .unwrap_or_default(),
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
        let status = match (&f.lifecycle, &f.muted_by) {
            (_, Some(m)) if f.status == Status::Fail => format!("muted ({})", m.id),
            (Some(l), None) if f.status == Status::Fail => format!("fail ({l})"),
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
