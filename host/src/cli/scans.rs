//! `stance scans`: list past scans.

use std::process::ExitCode;

use super::Globals;
use crate::report::{self, Format};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// How many scans, newest first
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32))]
    limit: u32,

    #[arg(long, value_enum, default_value = "table")]
    format: Format,
}

pub fn run(g: &Globals, args: Args) -> anyhow::Result<ExitCode> {
    let store = g.store_read()?;
    let scans = store.scans(args.limit as usize)?;
    let mut out = report::open_output(None)?;
    let count =
        |m: &std::collections::BTreeMap<String, usize>, k: &str| m.get(k).copied().unwrap_or(0);
    match args.format {
        Format::Sarif | Format::Ocsf | Format::Junit | Format::Asff => {
            return Err(report::unsupported(args.format, "scans").into());
        }
        Format::Json => report::write_json(&mut out, &scans)?,
        Format::Csv => report::write_csv(
            &mut out,
            &[
                "id",
                "finished_at",
                "source",
                "scope",
                "assets",
                "pass",
                "fail",
                "error",
                "new",
                "resolved",
            ],
            scans.iter().map(|s| {
                vec![
                    s.id.to_string(),
                    s.finished_at.clone(),
                    s.source.clone(),
                    s.scope.clone(),
                    s.assets.to_string(),
                    count(&s.summary.by_status, "pass").to_string(),
                    count(&s.summary.by_status, "fail").to_string(),
                    count(&s.summary.by_status, "error").to_string(),
                    count(&s.summary.by_lifecycle, "new").to_string(),
                    count(&s.summary.by_lifecycle, "resolved").to_string(),
                ]
            }),
        )?,
        Format::Table => {
            let mut t = report::table(&[
                "ID", "FINISHED", "SOURCE", "ASSETS", "PASS", "FAIL", "ERROR", "NEW", "RESOLVED",
            ]);
            for s in &scans {
                t.add_row(vec![
                    s.id.to_string(),
                    s.finished_at.clone(),
                    s.source.clone(),
                    s.assets.to_string(),
                    count(&s.summary.by_status, "pass").to_string(),
                    count(&s.summary.by_status, "fail").to_string(),
                    count(&s.summary.by_status, "error").to_string(),
                    count(&s.summary.by_lifecycle, "new").to_string(),
                    count(&s.summary.by_lifecycle, "resolved").to_string(),
                ]);
            }
            writeln!(out, "{t}")?;
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
