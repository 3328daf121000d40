//! The result of running a plugin's case files (`stance plugin test`): one
//! line per case, a `-`/`+` diff of every failing case, rules that lack
//! cases, and a verdict line, coloured on a terminal; or JUnit XML.

use std::io::{self, Write};

use super::{escape_control, safe, use_color};
use crate::devkit::suite::{CaseReport, Outcome, SuiteReport};

/// ANSI colour when the terminal takes it.
struct Paint(bool);

impl Paint {
    fn red(&self, s: &str) -> String {
        self.code("31", s)
    }
    fn green(&self, s: &str) -> String {
        self.code("32", s)
    }
    fn code(&self, code: &str, s: &str) -> String {
        match self.0 {
            true => format!("\x1b[{code}m{}\x1b[0m", escape_control(s)),
            false => escape_control(s).into_owned(),
        }
    }
}

/// Write the run; `verbose` also shows the comparison of passing cases.
pub fn write(out: &mut dyn Write, r: &SuiteReport, verbose: bool) -> io::Result<()> {
    let paint = Paint(use_color(false));
    writeln!(
        out,
        "running {} cases: {} {} ({}, {} world), {}",
        r.cases.len(),
        safe(&r.plugin),
        safe(&r.version),
        r.lang,
        r.world,
        safe(&r.component)
    )?;
    for c in &r.cases {
        let label = match c.outcome {
            Outcome::Passed => paint.green("ok     "),
            Outcome::Failed => paint.red("FAILED "),
            Outcome::Error => paint.red("ERROR  "),
        };
        writeln!(out, "{label} {}  ({:.1} ms)", safe(c.id()), c.millis)?;
        if verbose && c.outcome == Outcome::Passed {
            for line in &c.diff {
                writeln!(out, "        {}", safe(line))?;
            }
        }
    }
    failures(out, r, &paint)?;
    uncovered(out, r)?;
    let verdict = match r.ok() {
        true => paint.green("ok"),
        false => paint.red("FAILED"),
    };
    writeln!(
        out,
        "\ntest result: {verdict}. {} passed; {} failed; {} errors; {} filtered out; {:.2} s",
        r.passed, r.failed, r.errors, r.filtered_out, r.seconds
    )
}

/// Every case that did not pass, with its diff.
fn failures(out: &mut dyn Write, r: &SuiteReport, paint: &Paint) -> io::Result<()> {
    let bad: Vec<&CaseReport> = r
        .cases
        .iter()
        .filter(|c| c.outcome != Outcome::Passed)
        .collect();
    if bad.is_empty() {
        return Ok(());
    }
    writeln!(out, "\nfailures:")?;
    for c in bad {
        writeln!(out, "\n--- {}", safe(c.id()))?;
        if let Some(m) = &c.message {
            writeln!(out, "    {}", safe(m))?;
        }
        for line in &c.diff {
            let shown = match line.as_bytes().first() {
                Some(b'-') => paint.red(line),
                Some(b'+') => paint.green(line),
                _ => escape_control(line).into_owned(),
            };
            writeln!(out, "    {shown}")?;
        }
    }
    Ok(())
}

/// Rules without cases, and rules whose cases show one verdict only.
fn uncovered(out: &mut dyn Write, r: &SuiteReport) -> io::Result<()> {
    if !r.rules_without_cases.is_empty() {
        writeln!(
            out,
            "\nrules without cases ({}): {}",
            r.rules_without_cases.len(),
            safe(r.rules_without_cases.join(", "))
        )?;
    }
    if !r.rules_one_sided.is_empty() {
        let which = if r.world == "policy" {
            "a passing and a failing case"
        } else {
            "a case that alerts and one that does not"
        };
        writeln!(
            out,
            "rules lacking {which} ({}): {}",
            r.rules_one_sided.len(),
            safe(r.rules_one_sided.join(", "))
        )?;
    }
    Ok(())
}

/// The report as JUnit XML (one testsuite; a testcase per case).
pub fn junit(r: &SuiteReport) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str(&format!(
        "<testsuites name=\"stance plugin test\" tests=\"{}\" failures=\"{}\" errors=\"{}\" time=\"{:.3}\">\n",
        r.cases.len(),
        r.failed,
        r.errors,
        r.seconds
    ));
    out.push_str(&format!(
        "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"0\" time=\"{:.3}\">\n",
        xml(&format!("{} {}", r.plugin, r.version)),
        r.cases.len(),
        r.failed,
        r.errors,
        r.seconds
    ));
    out.push_str(&format!(
        "    <properties><property name=\"world\" value=\"{}\"/><property name=\"lang\" value=\"{}\"/><property name=\"component\" value=\"{}\"/><property name=\"rules_without_cases\" value=\"{}\"/></properties>\n",
        r.world,
        r.lang,
        xml(&r.component),
        xml(&r.rules_without_cases.join(","))
    ));
    for c in &r.cases {
        out.push_str(&format!(
            "    <testcase classname=\"{}\" name=\"{}\" time=\"{:.3}\"",
            xml(&c.file),
            xml(&c.name),
            c.millis / 1000.0
        ));
        match c.outcome {
            Outcome::Passed => out.push_str("/>\n"),
            Outcome::Failed => out.push_str(&format!(
                ">\n      <failure message=\"expectations not met\" type=\"mismatch\">{}</failure>\n    </testcase>\n",
                xml(&c.diff.join("\n"))
            )),
            Outcome::Error => out.push_str(&format!(
                ">\n      <error message=\"{}\" type=\"plugin\"/>\n    </testcase>\n",
                xml(c.message.as_deref().unwrap_or(""))
            )),
        }
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}

/// Text for XML: escaped, and without the control characters XML 1.0 cannot carry.
fn xml(s: &str) -> String {
    let clean: String = s
        .chars()
        .map(|c| {
            if (c as u32) < 0x20 && !matches!(c, '\n' | '\t' | '\r') {
                '\u{fffd}'
            } else {
                c
            }
        })
        .collect();
    super::html::esc(&clean)
}
