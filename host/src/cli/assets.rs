//! `stance assets`: list the assets of a scan.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::bail;

use super::Globals;
use crate::report::{self, Format};
use crate::store::AssetFilter;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Scan id (default: the latest scan)
    #[arg(long, value_name = "ID")]
    scan: Option<i64>,

    /// Only this resource type (exact or prefix*)
    #[arg(long = "type", value_name = "TYPE")]
    resource_type: Option<String>,

    /// Include each asset's body (JSON output)
    #[arg(long)]
    with_body: bool,

    #[arg(long, value_enum, default_value = "table")]
    format: Format,

    /// Write to FILE instead of stdout
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
}

pub fn run(g: &Globals, args: Args) -> anyhow::Result<ExitCode> {
    let store = g.store_read()?;
    if store.latest_scan_id()?.is_none() {
        bail!(
            "no scans in {} yet; run `stance scan` first",
            store.path().display()
        );
    }
    let rows = store.assets(&AssetFilter {
        scan: args.scan,
        resource_type: args.resource_type,
        with_body: args.with_body && args.format == Format::Json,
    })?;
    let mut out = report::open_output(args.output.as_deref())?;
    match args.format {
        Format::Sarif | Format::Ocsf | Format::Junit | Format::Asff => {
            return Err(report::unsupported(args.format, "assets").into());
        }
        Format::Json => report::write_json(&mut out, &rows)?,
        Format::Csv => report::write_csv(
            &mut out,
            &[
                "scan_id",
                "id",
                "type",
                "name",
                "account",
                "region",
                "tags",
                "collected_at",
            ],
            rows.iter().map(|a| {
                vec![
                    a.scan_id.to_string(),
                    a.id.clone(),
                    a.resource_type.clone(),
                    a.name.clone(),
                    a.account.clone(),
                    a.region.clone(),
                    a.tags.to_string(),
                    a.collected_at.clone(),
                ]
            }),
        )?,
        Format::Table => {
            let mut t = report::table(&["TYPE", "NAME", "ACCOUNT", "REGION", "ID"]);
            for a in &rows {
                t.add_row(vec![
                    &a.resource_type,
                    &a.name,
                    &a.account,
                    &a.region,
                    &a.id,
                ]);
            }
            writeln!(out, "{t}\n{} assets", rows.len())?;
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
