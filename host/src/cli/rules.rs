//! `stance rules check`: which Sigma rules the built-in engine loads, and why
//! the others do not.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use super::Globals;
use crate::detect;
use crate::report::{self, Format};

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Load Sigma rules (files or directories) and report each one that does not load; exit 2 if any fails
    Check(CheckArgs),
}

#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// Sigma rule files or directories (default: the built-in pack)
    #[arg(value_name = "PATH")]
    paths: Vec<PathBuf>,

    /// Engine configuration (YAML or JSON) to load the rules with
    #[arg(long, value_name = "FILE")]
    sigma_config: Option<PathBuf>,

    /// Also list every rule that loads
    #[arg(long)]
    list: bool,

    #[arg(long, value_enum, default_value = "table")]
    format: Format,
}

pub fn run(_: &Globals, cmd: Command) -> anyhow::Result<ExitCode> {
    let Command::Check(a) = cmd;
    let files = detect::rule_files(a.paths.is_empty(), &a.paths)?;
    let config = detect::engine_config(a.sigma_config.as_deref())?;
    let (engine, errors) = detect::check_rules(&files, &config);
    let loaded: Vec<_> = engine.rules().collect();
    let mut out = report::open_output(None)?;
    let total_docs = loaded.len() + errors.len();
    let rate = if total_docs == 0 {
        100.0
    } else {
        loaded.len() as f64 * 100.0 / total_docs as f64
    };
    match a.format {
        Format::Json => report::write_json(
            &mut out,
            &serde_json::json!({
                "files": files.len(),
                "loaded": loaded.len(),
                "failed": errors.len(),
                "load_rate_percent": rate,
                "rules": loaded.iter().map(|r| serde_json::json!({
                    "id": r.id, "title": r.meta.title, "level": r.level, "kind": r.kind, "source": r.source,
                })).collect::<Vec<_>>(),
                "errors": errors.iter().map(|e| serde_json::json!({
                    "file": e.file, "document": e.document, "title": e.title, "field": e.field,
                    "message": e.message,
                })).collect::<Vec<_>>(),
            }),
        )?,
        Format::Csv => report::write_csv(
            &mut out,
            &["status", "file", "document", "title", "field", "message"],
            loaded
                .iter()
                .filter(|_| a.list)
                .map(|r| {
                    vec![
                        "loaded".into(),
                        r.source.clone(),
                        String::new(),
                        r.meta.title.clone(),
                        String::new(),
                        String::new(),
                    ]
                })
                .chain(errors.iter().map(|e| {
                    vec![
                        "failed".into(),
                        e.file.clone(),
                        e.document.to_string(),
                        e.title.clone().unwrap_or_default(),
                        e.field.clone().unwrap_or_default(),
                        e.message.clone(),
                    ]
                })),
        )?,
        Format::Table => {
            if a.list {
                for r in &loaded {
                    writeln!(out, "ok      {}  {} [{}]", r.source, r.meta.title, r.id)?;
                }
            }
            for e in &errors {
                writeln!(out, "FAILED  {e}")?;
            }
            writeln!(
                out,
                "{} of {} rules load ({rate:.1}%) from {} file(s); {} fail",
                loaded.len(),
                total_docs,
                files.len(),
                errors.len()
            )?;
        }
    }
    out.flush()?;
    Ok(if errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}
