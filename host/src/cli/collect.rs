//! `stance collect`: collect live and save a snapshot (scanned later with
//! `stance scan --snapshot`).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use super::Globals;
use super::source::{self, Provider, SourceArgs};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    source: SourceArgs,

    /// Where to write the snapshot (.json, .ndjson, optionally .gz)
    #[arg(short, long, value_name = "FILE")]
    output: PathBuf,
}

pub fn run(g: &Globals, args: Args) -> anyhow::Result<ExitCode> {
    if args.source.provider != Some(Provider::Aws) {
        anyhow::bail!("say what to collect: --provider aws");
    }
    let source = args.source.source(g.settings())?;
    let (snapshot, _) = source::gather(&source, g.interactive())?;
    crate::collect::snapshot::write(&args.output, &snapshot)
        .with_context(|| format!("writing {}", args.output.display()))?;
    if !g.quiet() {
        crate::say_err!(
            "Collected {} assets in {} account(s) and {} region(s) into {}",
            snapshot.assets.len(),
            snapshot.scope.accounts.len(),
            snapshot.scope.regions.len(),
            args.output.display()
        );
        if !snapshot.findings.is_empty() {
            crate::say_err!(
                "  {} findings imported from Security Hub and Inspector2",
                snapshot.findings.len()
            );
        }
        crate::report::summary::collection_errors(&mut std::io::stderr().lock(), &snapshot.errors)?;
    }
    Ok(if snapshot.errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}
