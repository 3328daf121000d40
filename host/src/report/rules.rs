//! The check of Sigma rules (`stance rules check`): which rules load, which
//! do not and why, as a table, JSON or CSV.

use std::io::{self, Write};

use stance_sigma_engine::{LoadError, RuleInfo as Rule};

use super::{Format, TerminalWriter, write_csv, write_json};

/// What loading a set of rule files found.
pub struct RuleCheck<'a> {
    /// Files read.
    pub files: usize,
    /// Rules that load.
    pub loaded: &'a [&'a Rule],
    /// Rule documents that do not, and why.
    pub errors: &'a [LoadError],
}

/// Write the check; `list` also lists every rule that loads.
pub fn write(
    out: &mut dyn Write,
    check: &RuleCheck<'_>,
    format: Format,
    list: bool,
) -> io::Result<()> {
    let (loaded, errors) = (check.loaded, check.errors);
    let total_docs = loaded.len() + errors.len();
    let rate = if total_docs == 0 {
        100.0
    } else {
        loaded.len() as f64 * 100.0 / total_docs as f64
    };
    match format {
        Format::Sarif | Format::Ocsf | Format::Junit | Format::Asff => {
            return Err(super::unsupported(format, "rule checks"));
        }
        Format::Json => write_json(
            out,
            &serde_json::json!({
                "files": check.files,
                "loaded": loaded.len(),
                "failed": errors.len(),
                "load_rate_percent": rate,
                "rules": loaded.iter().map(|r| serde_json::json!({
                    "id": r.id, "title": r.meta.title, "level": r.level, "kind": r.kind, "source": r.source,
                })).collect::<Vec<_>>(),
                "errors": errors.iter().map(|e| serde_json::json!({
                    "file": e.file, "document": e.document, "line": (e.line > 0).then_some(e.line),
                    "title": e.title, "field": e.field,
                    "message": e.message,
                })).collect::<Vec<_>>(),
            }),
        )?,
        Format::Csv => write_csv(
            out,
            &[
                "status", "file", "document", "line", "title", "field", "message",
            ],
            csv_rows(check, list),
        )?,
        Format::Table => {
            // Messages quote the rule files.
            let out = &mut TerminalWriter::new(&mut *out);
            if list {
                for r in loaded {
                    writeln!(out, "ok      {}  {} [{}]", r.source, r.meta.title, r.id)?;
                }
            }
            for e in errors {
                writeln!(out, "FAILED  {e}")?;
            }
            writeln!(
                out,
                "{} of {} rules load ({rate:.1}%) from {} file(s); {} fail",
                loaded.len(),
                total_docs,
                check.files,
                errors.len()
            )?;
        }
    }
    Ok(())
}

/// The CSV records of a check: the rules that load (with `list`), then
/// every failure.
fn csv_rows<'a>(check: &'a RuleCheck<'_>, list: bool) -> impl Iterator<Item = Vec<String>> + 'a {
    let loaded = check.loaded.iter().filter(move |_| list).map(|r| {
        vec![
            "loaded".into(),
            r.source.clone(),
            String::new(),
            String::new(),
            r.meta.title.clone(),
            String::new(),
            String::new(),
        ]
    });
    let failed = check.errors.iter().map(|e| {
        vec![
            "failed".into(),
            e.file.clone(),
            e.document.to_string(),
            if e.line > 0 {
                e.line.to_string()
            } else {
                String::new()
            },
            e.title.clone().unwrap_or_default(),
            e.field.clone().unwrap_or_default(),
            e.message.clone(),
        ]
    });
    loaded.chain(failed)
}
