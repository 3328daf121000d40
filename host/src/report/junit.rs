//! JUnit XML of a scan's findings, so that CI systems show them as tests:
//! one `<testsuite>` per scan, one `<testcase>` per rule (classname
//! `stance.RESOURCE_TYPE`, name the rule id, so that test history follows a
//! rule across scans), and at most one outcome per test case, as JUnit
//! allows: a `<failure>` listing every failing resource, else an `<error>`
//! listing the resources the rule could not evaluate, else `<skipped>` when
//! every failure is muted. Mappings are in `docs/output-formats.md`; the
//! end-to-end tests read the output with `junitparser`.
//!
//! Every attribute and text is escaped ([`escape`]). It renders rows the
//! store returned; it never reads the store itself.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{self, Write};

use crate::model::{Rule, Severity, Status};
use crate::store::{FindingRow, ScanRow};

/// How many test cases of each outcome a suite holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Test cases (rules).
    pub tests: usize,
    /// Rules with an unmuted failing resource.
    pub failures: usize,
    /// Rules without failure that could not be evaluated on a resource.
    pub errors: usize,
    /// Rules whose only failures are muted.
    pub skipped: usize,
}

/// The outcome of one rule.
enum Outcome<'a> {
    Pass,
    Failure(Vec<&'a FindingRow>),
    Error(Vec<&'a FindingRow>),
    Skipped(Vec<&'a FindingRow>),
}

/// One test case: a rule and its findings.
struct Case<'a> {
    rule_id: &'a str,
    classname: String,
    rows: Vec<&'a FindingRow>,
}

impl<'a> Case<'a> {
    fn outcome(&self) -> Outcome<'a> {
        let pick = |keep: &dyn Fn(&FindingRow) -> bool| -> Vec<&'a FindingRow> {
            self.rows.iter().copied().filter(|f| keep(f)).collect()
        };
        let failing = pick(&|f| f.status == Status::Fail && f.muted_by.is_none());
        if !failing.is_empty() {
            return Outcome::Failure(failing);
        }
        let errors = pick(&|f| f.status == Status::Error);
        if !errors.is_empty() {
            return Outcome::Error(errors);
        }
        let muted = pick(&|f| f.status == Status::Fail);
        if !muted.is_empty() {
            return Outcome::Skipped(muted);
        }
        Outcome::Pass
    }
}

/// Write the findings of `scan` as a JUnit XML document; returns its counts.
pub fn write_findings(
    out: &mut dyn Write,
    rows: &[FindingRow],
    rules: &[Rule],
    scan: &ScanRow,
) -> io::Result<Counts> {
    let (xml, counts) = render(rows, rules, scan);
    out.write_all(xml.as_bytes())?;
    Ok(counts)
}

/// The document and its counts.
pub fn render(rows: &[FindingRow], rules: &[Rule], scan: &ScanRow) -> (String, Counts) {
    let cases = cases(rows, rules);
    let mut counts = Counts {
        tests: cases.len(),
        ..Counts::default()
    };
    let mut body = String::new();
    for case in &cases {
        match case.outcome() {
            Outcome::Failure(_) => counts.failures += 1,
            Outcome::Error(_) => counts.errors += 1,
            Outcome::Skipped(_) => counts.skipped += 1,
            Outcome::Pass => {}
        }
        testcase(&mut body, case);
    }
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let c = counts;
    let _ = writeln!(
        xml,
        "<testsuites name=\"stance\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{}\">",
        c.tests,
        c.failures,
        c.errors,
        c.skipped,
        seconds(scan)
    );
    let _ = writeln!(
        xml,
        "  <testsuite name=\"{}\" id=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{}\" timestamp=\"{}\">",
        escape(&format!("stance scan #{} {}", scan.id, scan.scope)),
        scan.id,
        c.tests,
        c.failures,
        c.errors,
        c.skipped,
        seconds(scan),
        escape(&timestamp(&scan.started_at)),
    );
    properties(&mut xml, scan);
    xml.push_str(&body);
    xml.push_str("  </testsuite>\n</testsuites>\n");
    (xml, counts)
}

/// Rules in id order, each with its findings; the class is the resource
/// type the rule reads (its first, or the first finding's).
fn cases<'a>(rows: &'a [FindingRow], rules: &'a [Rule]) -> Vec<Case<'a>> {
    let by_id: BTreeMap<&str, &Rule> = rules.iter().map(|r| (r.id.as_str(), r)).collect();
    let mut grouped: BTreeMap<&str, Vec<&FindingRow>> = BTreeMap::new();
    for f in rows {
        grouped.entry(&f.rule_id).or_default().push(f);
    }
    grouped
        .into_iter()
        .map(|(rule_id, rows)| {
            let resource_type = by_id
                .get(rule_id)
                .and_then(|r| r.resource_types.first())
                .map(|t| t.trim_end_matches('*').trim_end_matches('_'))
                .filter(|t| !t.is_empty())
                .unwrap_or(&rows[0].resource.resource_type);
            Case {
                rule_id,
                classname: format!("stance.{resource_type}"),
                rows,
            }
        })
        .collect()
}

fn properties(xml: &mut String, scan: &ScanRow) {
    xml.push_str("    <properties>\n");
    for (name, value) in [
        ("scan_id", scan.id.to_string()),
        ("source", scan.source.clone()),
        ("scope", scan.scope.clone()),
        ("stance_version", scan.stance_version.clone()),
    ] {
        let _ = writeln!(
            xml,
            "      <property name=\"{name}\" value=\"{}\"/>",
            escape(&value)
        );
    }
    xml.push_str("    </properties>\n");
}

fn testcase(xml: &mut String, case: &Case<'_>) {
    let title = case.rows.first().map_or("", |f| f.title.as_str());
    let _ = write!(
        xml,
        "    <testcase classname=\"{}\" name=\"{}\" time=\"0\">",
        escape(&case.classname),
        escape(case.rule_id)
    );
    let total = case.rows.len();
    match case.outcome() {
        Outcome::Pass => {}
        Outcome::Failure(rows) => {
            let message = format!("{} of {total} resource(s) fail: {title}", rows.len());
            element(xml, "failure", &message, worst(&rows), &listing(&rows));
        }
        Outcome::Error(rows) => {
            let message = format!(
                "{} of {total} resource(s) could not be evaluated",
                rows.len()
            );
            element(xml, "error", &message, "error", &listing(&rows));
        }
        Outcome::Skipped(rows) => {
            let reasons: Vec<String> = rows
                .iter()
                .filter_map(|f| f.muted_by.as_ref())
                .map(|m| format!("{} ({})", m.reason, m.id))
                .collect();
            let message = format!(
                "{} failing resource(s) muted: {}",
                rows.len(),
                reasons.join("; ")
            );
            let _ = write!(xml, "\n      <skipped message=\"{}\"/>", escape(&message));
        }
    }
    let muted: Vec<&FindingRow> = case
        .rows
        .iter()
        .copied()
        .filter(|f| f.muted_by.is_some())
        .collect();
    if !muted.is_empty() && !matches!(case.outcome(), Outcome::Skipped(_)) {
        let _ = write!(
            xml,
            "\n      <system-out>{}</system-out>",
            escape(&listing(&muted))
        );
    }
    if !matches!(case.outcome(), Outcome::Pass) || !muted.is_empty() {
        xml.push_str("\n    ");
    }
    xml.push_str("</testcase>\n");
}

fn element(xml: &mut String, name: &str, message: &str, kind: &str, text: &str) {
    let _ = write!(
        xml,
        "\n      <{name} message=\"{}\" type=\"{}\">{}</{name}>",
        escape(message),
        escape(kind),
        escape(text)
    );
}

/// The worst severity among rows, as the failure's type.
fn worst(rows: &[&FindingRow]) -> &'static str {
    rows.iter()
        .map(|f| f.severity)
        .max()
        .unwrap_or(Severity::Info)
        .as_str()
}

/// One paragraph per resource: its id, type, account and region, the
/// message, each piece of evidence, and the mute covering it.
fn listing(rows: &[&FindingRow]) -> String {
    let mut text = String::new();
    for f in rows {
        let _ = writeln!(
            text,
            "{} [{}] {} {}/{}: {}",
            f.severity,
            f.lifecycle.as_deref().unwrap_or(f.status.as_str()),
            f.resource.id,
            f.resource.account,
            f.resource.region,
            f.message
        );
        for e in &f.evidence {
            let _ = writeln!(
                text,
                "    {} = {} (expected {})",
                e.path, e.actual, e.expected
            );
        }
        if let Some(m) = &f.muted_by {
            let _ = writeln!(text, "    muted by {}: {}", m.id, m.reason);
        }
    }
    text
}

/// Seconds the scan took, as JUnit's `time`.
fn seconds(scan: &ScanRow) -> String {
    let at = |t: &str| chrono::DateTime::parse_from_rfc3339(t).ok();
    match (at(&scan.started_at), at(&scan.finished_at)) {
        (Some(a), Some(b)) => format!("{:.3}", (b - a).num_milliseconds().max(0) as f64 / 1000.0),
        _ => "0".into(),
    }
}

/// JUnit's timestamp: ISO 8601 without a zone (the Ant schema's form), in UTC.
fn timestamp(t: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(t)
        .map(|t| {
            t.with_timezone(&chrono::Utc)
                .format("%Y-%m-%dT%H:%M:%S")
                .to_string()
        })
        .unwrap_or_else(|_| t.to_string())
}

/// Text safe in an XML attribute or element: the five markup characters as
/// entities; the controls XML 1.0 forbids (all below U+0020 but tab, line
/// feed and carriage return) written visibly as `\u{…}`; DEL, C1 controls
/// and bidirectional overrides as character references, so the file is as
/// safe on a terminal as a table and parses back to the same characters.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            '\u{0}'..='\u{1f}' | '\u{fffe}' | '\u{ffff}' => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            '\u{7f}'..='\u{9f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' => {
                let _ = write!(out, "&#x{:x};", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::exchange::samples::{finding, mute, rule, scan};

    #[test]
    fn one_case_per_rule_with_one_outcome_each() {
        let mut muted = finding("r3", "arn:aws:s3:::m", Status::Fail, Some("new"));
        muted.muted_by = Some(mute("accepted"));
        let mut muted_too = finding("r1", "arn:aws:s3:::n", Status::Fail, Some("new"));
        muted_too.muted_by = Some(mute("also accepted"));
        let rows = vec![
            finding("r1", "arn:aws:s3:::a", Status::Fail, Some("new")),
            finding("r1", "arn:aws:s3:::b", Status::Fail, Some("recurring")),
            finding("r1", "arn:aws:s3:::c", Status::Pass, None),
            muted_too,
            finding("r2", "arn:aws:s3:::a", Status::Error, None),
            muted,
            finding("r4", "arn:aws:s3:::a", Status::Pass, None),
        ];
        let (xml, counts) = render(&rows, &[rule("r1")], &scan());
        assert_eq!(
            counts,
            Counts {
                tests: 4,
                failures: 1,
                errors: 1,
                skipped: 1
            }
        );
        assert!(xml.contains("tests=\"4\" failures=\"1\" errors=\"1\" skipped=\"1\" time=\"2.500\" timestamp=\"2026-12-07T10:00:00\""), "{xml}");
        assert!(xml.contains("<testcase classname=\"stance.aws_s3_bucket\" name=\"r1\" time=\"0\">\n      <failure message=\"2 of 4 resource(s) fail: title of r1\" type=\"high\">"), "{xml}");
        assert!(
            xml.contains("arn:aws:s3:::b")
                && xml.contains("versioning.status = &quot;Suspended&quot; (expected Enabled)")
        );
        assert!(
            xml.contains("<system-out>high [new] arn:aws:s3:::n"),
            "muted beside a failure: {xml}"
        );
        assert!(xml.contains(
            "<error message=\"1 of 1 resource(s) could not be evaluated\" type=\"error\">"
        ));
        assert!(xml.contains("<skipped message=\"1 failing resource(s) muted: accepted (m-1)\"/>"));
        assert!(xml.contains("name=\"r4\" time=\"0\"></testcase>"));
        assert_eq!(
            xml.matches("<testcase ").count(),
            xml.matches("</testcase>").count()
        );
    }

    #[test]
    fn everything_is_escaped() {
        assert_eq!(escape("a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c&apos;");
        assert_eq!(escape("bell\u{7}\u{1b}[31m"), "bell\\u{7}\\u{1b}[31m");
        assert_eq!(
            escape("del\u{7f} rlo\u{202e} tab\tnl\n"),
            "del&#x7f; rlo&#x202e; tab\tnl\n"
        );
        assert_eq!(escape("é 東京 ]]>"), "é 東京 ]]&gt;");
        let mut row = finding("r<1>", "arn:aws:s3:::\"x\"", Status::Fail, Some("new"));
        row.message = "</failure><injected/>\u{0}".into();
        let (xml, _) = render(&[row], &[], &scan());
        assert!(
            !xml.contains("<injected/>") && !xml.contains('\u{0}'),
            "{xml}"
        );
        assert!(xml.contains("name=\"r&lt;1&gt;\""));
    }
}
