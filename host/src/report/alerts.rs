//! Alerts as a table, JSON or CSV.

use std::io::{self, Write};

use super::{Format, table, write_csv, write_json};
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

pub fn write(out: &mut dyn Write, rows: &[AlertRow], format: Format) -> io::Result<()> {
    match format {
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
