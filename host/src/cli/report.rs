//! `stance report --framework NAME`: a compliance report of a scan, as
//! self-contained HTML, JSON, CSV or a table.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use super::Globals;
use crate::report::compliance;
use crate::report::{self, html};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    Html,
    Json,
    Csv,
    Table,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Framework: cis-aws-v5, aws-fsbp, or any framework named in the policies' mappings (nist-800-53, pci-dss, soc2)
    #[arg(long, value_name = "NAME")]
    framework: String,

    /// Scan id (default: the latest scan)
    #[arg(long, value_name = "ID")]
    scan: Option<i64>,

    #[arg(long, value_enum, default_value = "table")]
    format: ReportFormat,

    /// Write the report to FILE (default stdout)
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
}

pub fn run(g: &Globals, args: Args) -> anyhow::Result<ExitCode> {
    let store = g.store()?;
    let r = compliance::build(&store, &args.framework, args.scan)?;
    let mut out = report::open_output(args.output.as_deref()).with_context(|| {
        format!(
            "opening {}",
            args.output
                .as_deref()
                .unwrap_or("stdout".as_ref())
                .display()
        )
    })?;
    match args.format {
        ReportFormat::Html => out.write_all(html::render(&r).as_bytes())?,
        ReportFormat::Json => report::write_json(&mut out, &r)?,
        ReportFormat::Csv => report::write_csv(
            &mut out,
            &[
                "control",
                "title",
                "section",
                "assessment",
                "status",
                "policy",
                "severity",
                "pass",
                "fail",
                "error",
                "failing_resources",
            ],
            r.controls.iter().flat_map(|c| {
                let base = vec![
                    c.id.clone(),
                    c.title.clone(),
                    c.section.clone().unwrap_or_default(),
                    format!("{:?}", c.assessment).to_lowercase(),
                    c.status.as_str().to_string(),
                ];
                if c.policies.is_empty() {
                    let mut row = base;
                    row.extend([
                        String::new(),
                        String::new(),
                        "0".into(),
                        "0".into(),
                        "0".into(),
                        String::new(),
                    ]);
                    return vec![row];
                }
                c.policies
                    .iter()
                    .map(|p| {
                        let mut row = base.clone();
                        row.extend([
                            p.rule_id.clone(),
                            p.severity.to_string(),
                            p.pass.to_string(),
                            p.fail.to_string(),
                            p.error.to_string(),
                            p.resources
                                .iter()
                                .map(|x| x.id.as_str())
                                .collect::<Vec<_>>()
                                .join("; "),
                        ]);
                        row
                    })
                    .collect()
            }),
        )?,
        ReportFormat::Table => {
            let mut t = report::table(&["CONTROL", "STATUS", "TITLE", "POLICIES", "FAILING"]);
            for c in &r.controls {
                let failing: usize = c.policies.iter().map(|p| p.fail).sum();
                t.add_row(vec![
                    c.id.clone(),
                    c.status.as_str().replace('_', " "),
                    c.title.clone(),
                    c.policies.len().to_string(),
                    failing.to_string(),
                ]);
            }
            writeln!(out, "{t}")?;
            let s = &r.counts;
            writeln!(
                out,
                "{} {}: score {} · pass {} · fail {} · error {} · manual {} · not applicable {} · not covered {}",
                r.framework.name,
                r.framework.version,
                r.score.map_or("n/a".to_string(), |v| format!("{v:.0}%")),
                s.pass,
                s.fail,
                s.error,
                s.manual,
                s.not_applicable,
                s.not_covered
            )?;
        }
    }
    out.flush()?;
    if let Some(path) = &args.output
        && !g.quiet()
    {
        eprintln!(
            "Wrote the {} report of scan #{} to {} (score {})",
            r.framework.name,
            r.scan.id,
            path.display(),
            r.score.map_or("n/a".to_string(), |v| format!("{v:.0}%"))
        );
    }
    Ok(ExitCode::SUCCESS)
}
