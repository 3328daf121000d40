//! `stance report --framework NAME`: a compliance report of a scan, as
//! self-contained HTML, JSON, CSV or a table.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

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
    let store = g.store_read()?;
    let r = compliance::build(&store, &args.framework, args.scan)?;
    let mut out = super::output(args.output.as_deref())?;
    match args.format {
        ReportFormat::Html => out.write_all(html::render(&r).as_bytes())?,
        ReportFormat::Json => report::write_json(&mut out, &r)?,
        ReportFormat::Csv => compliance::write_csv(&mut out, &r)?,
        ReportFormat::Table => compliance::write_table(&mut out, &r)?,
    }
    out.flush()?;
    if let Some(path) = &args.output
        && !g.quiet()
    {
        crate::say_err!(
            "Wrote the {} report of scan #{} to {} (score {})",
            r.framework.name,
            r.scan.id,
            path.display(),
            compliance::score_text(r.score)
        );
    }
    Ok(ExitCode::SUCCESS)
}
