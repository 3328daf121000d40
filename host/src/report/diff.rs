//! `stance diff` output: the comparison of two scans (`store::ScanDiff`) as
//! tables for a terminal, JSON, CSV, or Markdown for a pull-request comment.
//! Renders only what the store computed.
//!
//! Tables and Markdown show at most `limit` rows per category ("… and N
//! more"); JSON and CSV list every entry. Still-failing findings are
//! counted in tables and folded away in Markdown; the lists of changed
//! severity and changed evidence are subsets of them.

use std::fmt::Write as _;
use std::io::{self, Write};

use serde::Serialize;

use super::{escape_control, table, write_json};
use crate::model::Evidence;
use crate::store::{Change, DiffEntry, ScanDiff};

/// Output format of `stance diff`. The variants carry no doc comments of
/// their own: clap would show them in the help of `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
#[allow(missing_docs)]
pub enum DiffFormat {
    Table,
    Json,
    Csv,
    Markdown,
}

/// Write `diff` in `format`; tables and Markdown show at most `limit` rows
/// per category (all when 0).
pub fn write(
    out: &mut dyn Write,
    diff: &ScanDiff,
    format: DiffFormat,
    limit: usize,
) -> io::Result<()> {
    match format {
        DiffFormat::Json => write_json(out, &DiffJson::of(diff)),
        DiffFormat::Csv => write_csv(out, diff),
        DiffFormat::Table => write_table(out, diff, limit),
        DiffFormat::Markdown => out.write_all(markdown(diff, limit).as_bytes()),
    }
}

/// A scan as the diff's JSON names it.
#[derive(Serialize)]
struct ScanRef<'a> {
    id: i64,
    started_at: &'a str,
    finished_at: &'a str,
    source: &'a str,
}

/// The JSON of a diff (`docs/findings-workflow.md`).
#[derive(Serialize)]
struct DiffJson<'a> {
    scope: &'a str,
    from: ScanRef<'a>,
    to: ScanRef<'a>,
    consecutive: bool,
    counts: std::collections::BTreeMap<&'static str, usize>,
    new: Vec<&'a DiffEntry>,
    reopened: Vec<&'a DiffEntry>,
    fixed: Vec<&'a DiffEntry>,
    still_failing: Vec<&'a DiffEntry>,
    unknown: Vec<&'a DiffEntry>,
    severity_changed: Vec<&'a DiffEntry>,
    evidence_changed: Vec<&'a DiffEntry>,
}

impl<'a> DiffJson<'a> {
    fn of(d: &'a ScanDiff) -> DiffJson<'a> {
        let scan = |s: &'a crate::store::ScanRow| ScanRef {
            id: s.id,
            started_at: &s.started_at,
            finished_at: &s.finished_at,
            source: &s.source,
        };
        let severity_changed: Vec<&DiffEntry> =
            d.entries.iter().filter(|e| e.severity_changed()).collect();
        let evidence_changed: Vec<&DiffEntry> =
            d.entries.iter().filter(|e| e.evidence_changed()).collect();
        let mut counts: std::collections::BTreeMap<&'static str, usize> = Change::ALL
            .iter()
            .map(|c| (c.as_str(), d.count(*c)))
            .collect();
        counts.insert("severity_changed", severity_changed.len());
        counts.insert("evidence_changed", evidence_changed.len());
        DiffJson {
            scope: &d.to.scope,
            from: scan(&d.from),
            to: scan(&d.to),
            consecutive: d.consecutive,
            counts,
            new: d.of(Change::New).collect(),
            reopened: d.of(Change::Reopened).collect(),
            fixed: d.of(Change::Fixed).collect(),
            still_failing: d.of(Change::StillFailing).collect(),
            unknown: d.of(Change::Unknown).collect(),
            severity_changed,
            evidence_changed,
        }
    }
}

/// The CSV columns of a diff entry.
const CSV_HEADER: &[&str] = &[
    "change",
    "reason",
    "severity",
    "severity_from",
    "evidence_changed",
    "rule_id",
    "title",
    "resource_id",
    "resource_type",
    "resource_name",
    "account",
    "region",
    "status_from",
    "status_to",
    "message",
    "evidence",
    "evidence_from",
    "first_seen",
    "fingerprint",
    "source",
    "from_scan",
    "to_scan",
];

fn write_csv(out: &mut dyn Write, d: &ScanDiff) -> io::Result<()> {
    let text = |e: &[Evidence]| {
        e.iter()
            .map(|e| format!("{} = {}", e.path, e.actual))
            .collect::<Vec<_>>()
            .join("; ")
    };
    let opt = |s: Option<String>| s.unwrap_or_default();
    let rows = d.entries.iter().map(|e| {
        vec![
            e.change.as_str().to_string(),
            opt(e.reason.clone()),
            e.severity.to_string(),
            opt(e.severity_from.map(|s| s.to_string())),
            e.evidence_changed().to_string(),
            e.rule_id.clone(),
            e.title.clone(),
            e.resource.id.clone(),
            e.resource.resource_type.clone(),
            e.resource.name.clone(),
            e.resource.account.clone(),
            e.resource.region.clone(),
            opt(e.status_from.map(|s| s.to_string())),
            opt(e.status_to.map(|s| s.to_string())),
            e.message.clone(),
            text(&e.evidence),
            opt(e.evidence_from.as_deref().map(text)),
            opt(e.first_seen.clone()),
            e.fingerprint.clone(),
            e.source.clone(),
            d.from.id.to_string(),
            d.to.id.to_string(),
        ]
    });
    super::write_csv(out, CSV_HEADER, rows)
}

/// The sections a person reads, in order: title, entries, and what the
/// detail column says for each.
const SECTIONS: &[(Section, &str, &str)] = &[
    (Section::Change(Change::New), "New failures", "MESSAGE"),
    (Section::Change(Change::Reopened), "Reopened", "MESSAGE"),
    (Section::Change(Change::Fixed), "Fixed", "WHY"),
    (Section::Severity, "Severity changed", "SEVERITY BEFORE"),
    (
        Section::Evidence,
        "Evidence changed",
        "EVIDENCE (BEFORE → NOW)",
    ),
    (Section::Change(Change::Unknown), "Unknown now", "WHY"),
];

#[derive(Clone, Copy)]
enum Section {
    Change(Change),
    Severity,
    Evidence,
}

impl Section {
    fn entries(self, d: &ScanDiff) -> Vec<&DiffEntry> {
        match self {
            Section::Change(c) => d.of(c).collect(),
            Section::Severity => d.entries.iter().filter(|e| e.severity_changed()).collect(),
            Section::Evidence => d.entries.iter().filter(|e| e.evidence_changed()).collect(),
        }
    }

    /// The detail column of an entry.
    fn detail(self, e: &DiffEntry) -> String {
        match self {
            Section::Change(Change::Fixed | Change::Unknown) => {
                reason_text(e.reason.as_deref().unwrap_or_default()).to_string()
            }
            Section::Severity => e.severity_from.map(|s| s.to_string()).unwrap_or_default(),
            Section::Evidence => {
                evidence_changes(e.evidence_from.as_deref().unwrap_or_default(), &e.evidence)
                    .join("\n")
            }
            Section::Change(_) => match &e.muted_by {
                Some(m) => format!("{} (muted: {})", e.message, m.id),
                None => e.message.clone(),
            },
        }
    }
}

/// What a reason code means, for people.
fn reason_text(reason: &str) -> &str {
    match reason {
        "passes" => "passes now",
        "resource-gone" => "resource no longer exists",
        "rule-removed" => "rule no longer runs",
        "not-reported" => "no longer reported",
        "error" => "the rule erred on it",
        "not-collected" => "its resource type could not be collected",
        other => other,
    }
}

/// `path: before → now` for each evidence value that differs.
pub fn evidence_changes(before: &[Evidence], now: &[Evidence]) -> Vec<String> {
    let shown = |v: Option<&Evidence>| v.map_or("(none)".to_string(), |e| e.actual.to_string());
    let mut paths: Vec<&str> = now.iter().chain(before).map(|e| e.path.as_str()).collect();
    paths.sort_unstable();
    paths.dedup();
    paths
        .into_iter()
        .filter_map(|p| {
            let b = before.iter().find(|e| e.path == p);
            let n = now.iter().find(|e| e.path == p);
            (b.map(|e| &e.actual) != n.map(|e| &e.actual))
                .then(|| format!("{p}: {} → {}", shown(b), shown(n)))
        })
        .collect()
}

/// One line naming the two scans and the scope.
fn heading(d: &ScanDiff) -> String {
    let gap = if d.consecutive {
        String::new()
    } else {
        " (not consecutive: scans in between are not compared)".to_string()
    };
    format!(
        "Scan #{} ({}) → scan #{} ({}), scope {}{gap}",
        d.from.id, d.from.finished_at, d.to.id, d.to.finished_at, d.to.scope
    )
}

/// The counts, in the order of the sections.
fn counts(d: &ScanDiff) -> Vec<(&'static str, usize)> {
    vec![
        ("new", d.count(Change::New)),
        ("reopened", d.count(Change::Reopened)),
        ("fixed", d.count(Change::Fixed)),
        ("still failing", d.count(Change::StillFailing)),
        ("severity changed", Section::Severity.entries(d).len()),
        ("evidence changed", Section::Evidence.entries(d).len()),
        ("unknown", d.count(Change::Unknown)),
    ]
}

fn resource_label(e: &DiffEntry) -> String {
    let name = if e.resource.name.is_empty() {
        &e.resource.id
    } else {
        &e.resource.name
    };
    format!(
        "{name}\n{} · {}",
        e.resource.resource_type, e.resource.region
    )
}

fn write_table(out: &mut dyn Write, d: &ScanDiff, limit: usize) -> io::Result<()> {
    writeln!(out, "{}", escape_control(&heading(d)))?;
    let line: Vec<String> = counts(d)
        .into_iter()
        .map(|(k, n)| format!("{k} {n}"))
        .collect();
    writeln!(out, "{}", line.join(" · "))?;
    for (section, title, detail) in SECTIONS {
        let entries = section.entries(d);
        if entries.is_empty() {
            continue;
        }
        writeln!(out, "\n{title} ({})", entries.len())?;
        let mut t = table(&["SEVERITY", "RULE", "RESOURCE", *detail]);
        for e in entries.iter().take(cap(limit, entries.len())) {
            t.add_row(vec![
                e.severity.to_string(),
                e.rule_id.clone(),
                resource_label(e),
                section.detail(e),
            ]);
        }
        writeln!(out, "{t}")?;
        more(out, entries.len(), limit, d, "")?;
    }
    Ok(())
}

/// How many rows of `n` to show under `limit` (0: all).
fn cap(limit: usize, n: usize) -> usize {
    if limit == 0 { n } else { limit.min(n) }
}

/// "… and N more" with the command that lists them all.
fn more(out: &mut dyn Write, n: usize, limit: usize, d: &ScanDiff, indent: &str) -> io::Result<()> {
    if limit != 0 && n > limit {
        writeln!(
            out,
            "{indent}… and {} more (`stance diff --from {} --to {} --format csv` lists every one)",
            n - limit,
            d.from.id,
            d.to.id
        )?;
    }
    Ok(())
}

/// The diff as Markdown for a pull-request comment: a heading, the counts,
/// one table per category (at most `limit` rows each), still-failing
/// findings folded in a `<details>` block. Every value from a scan is
/// escaped so that it renders as text (no links, HTML, mentions or table breaks).
pub fn markdown(d: &ScanDiff, limit: usize) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "## Stance: scan #{} → #{}\n\n{} · scope `{}` · {} → {}{}\n",
        d.from.id,
        d.to.id,
        verdict(d),
        code(&d.to.scope),
        md(&d.from.finished_at, 40),
        md(&d.to.finished_at, 40),
        if d.consecutive {
            ""
        } else {
            " (scans in between not compared)"
        }
    );
    let counts = counts(d);
    let _ = writeln!(
        s,
        "| {} |\n|{}\n| {} |\n",
        counts
            .iter()
            .map(|(k, _)| *k)
            .collect::<Vec<_>>()
            .join(" | "),
        "---:|".repeat(counts.len()),
        counts
            .iter()
            .map(|(_, n)| n.to_string())
            .collect::<Vec<_>>()
            .join(" | ")
    );
    for (section, title, detail) in SECTIONS {
        let entries = section.entries(d);
        if !entries.is_empty() {
            let _ = writeln!(s, "### {title} ({})\n", entries.len());
            md_table(&mut s, d, *section, &entries, detail, limit);
        }
    }
    let still: Vec<&DiffEntry> = d.of(Change::StillFailing).collect();
    if !still.is_empty() {
        let _ = writeln!(
            s,
            "<details><summary>Still failing ({})</summary>\n",
            still.len()
        );
        md_table(
            &mut s,
            d,
            Section::Change(Change::StillFailing),
            &still,
            "MESSAGE",
            limit,
        );
        s.push_str("</details>\n");
    }
    s
}

/// One sentence: what a reviewer most wants to know.
fn verdict(d: &ScanDiff) -> String {
    let (new, reopened, fixed) = (
        d.count(Change::New),
        d.count(Change::Reopened),
        d.count(Change::Fixed),
    );
    match (new + reopened, fixed) {
        (0, 0) => "**No new or fixed failures**".to_string(),
        (0, f) => format!("**No new failures**, {f} fixed"),
        (n, f) => format!("**{n} new or reopened failure{}**, {f} fixed", plural(n)),
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn md_table(
    s: &mut String,
    d: &ScanDiff,
    section: Section,
    entries: &[&DiffEntry],
    detail: &str,
    limit: usize,
) {
    let detail = detail.to_lowercase();
    let mut head = detail.chars();
    let detail: String = head
        .next()
        .map(|c| c.to_uppercase().chain(head).collect())
        .unwrap_or_default();
    let _ = writeln!(
        s,
        "| Severity | Rule | Resource | {detail} |\n|---|---|---|---|"
    );
    for e in entries.iter().take(cap(limit, entries.len())) {
        let name = if e.resource.name.is_empty() {
            &e.resource.id
        } else {
            &e.resource.name
        };
        let _ = writeln!(
            s,
            "| {} | `{}` | `{}` ({}, {}) | {} |",
            e.severity,
            code(&e.rule_id),
            code(name),
            md(&e.resource.resource_type, 60),
            md(&e.resource.region, 30),
            md(&section.detail(e), 300)
        );
    }
    let mut tail = Vec::new();
    let _ = more(&mut tail, entries.len(), limit, d, "\n");
    s.push_str(&String::from_utf8_lossy(&tail));
    s.push('\n');
}

/// Text for a Markdown table cell: control characters escaped, one line,
/// at most `max` characters, and every character Markdown or HTML would
/// read as syntax escaped.
pub fn md(text: &str, max: usize) -> String {
    let text = escape_control(text);
    let mut out = String::with_capacity(text.len());
    for (i, c) in text.chars().enumerate() {
        if i == max {
            out.push('…');
            break;
        }
        match c {
            '\n' => out.push_str("; "),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\\' | '`' | '*' | '_' | '[' | ']' | '(' | ')' | '#' | '!' | '|' | '~' | '@' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// Text for inside a Markdown code span in a table: one line, no backticks,
/// pipes escaped (GitHub splits cells on them even in code).
fn code(text: &str) -> String {
    let text = escape_control(text);
    text.chars()
        .take(200)
        .map(|c| match c {
            '`' => "'".to_string(),
            '|' => "\\|".to_string(),
            '\n' => " ".to_string(),
            c => c.to_string(),
        })
        .collect::<String>()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_cells_render_as_text_and_stay_in_their_cell() {
        let hostile =
            "x | y\n# h <img src=x onerror=alert(1)> [link](http://e) @team `c` **b**\u{1b}[2J";
        let cell = md(hostile, 500);
        for raw in ["<img", "[link](", " | ", "\n", "\u{1b}", "**"] {
            assert!(!cell.contains(raw), "{raw:?} survived in {cell}");
        }
        assert!(cell.contains("&lt;img") && cell.contains("\\@team") && cell.contains("\\|"));
        assert_eq!(md("abcdef", 3), "abc…");
        assert_eq!(code("a|b`c"), "a\\|b'c");
    }

    #[test]
    fn evidence_changes_name_each_path_that_differs() {
        let ev = |p: &str, v: serde_json::Value| Evidence {
            path: p.into(),
            actual: v,
            expected: String::new(),
        };
        let before = [
            ev("a", "Suspended".into()),
            ev("b", 1.into()),
            ev("gone", true.into()),
        ];
        let now = [
            ev("a", "Disabled".into()),
            ev("b", 1.into()),
            ev("added", false.into()),
        ];
        assert_eq!(
            evidence_changes(&before, &now),
            [
                "a: \"Suspended\" → \"Disabled\"",
                "added: (none) → false",
                "gone: true → (none)"
            ]
        );
    }
}
