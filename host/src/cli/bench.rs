//! `stance bench`: run the benchmarks and print Markdown (or JSON).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use super::Globals;
use crate::bench::{self, BenchOptions};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Snapshot sizes for the scan throughput (comma-separated)
    #[arg(long, value_delimiter = ',', default_value = "10000,100000")]
    sizes: Vec<usize>,

    /// Assets for the native-versus-wasm comparison
    #[arg(long, default_value_t = 10_000)]
    engine_assets: usize,

    /// Scratch directory (default: a new temporary directory)
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,

    /// Print JSON instead of Markdown
    #[arg(long)]
    json: bool,
}

pub fn run(g: &Globals, args: Args) -> anyhow::Result<ExitCode> {
    let tmp;
    let dir = match &args.dir {
        Some(d) => d.clone(),
        None => {
            tmp = tempfile::tempdir().context("creating a scratch directory")?;
            tmp.path().to_path_buf()
        }
    };
    let opts = BenchOptions {
        sizes: args.sizes.clone(),
        engine_assets: args.engine_assets,
        dir,
        exe: std::env::current_exe().context("locating the stance binary")?,
    };
    let quiet = g.quiet();
    let report = bench::run(&opts, &|step| {
        if !quiet {
            crate::say_err!("bench: {step}…");
        }
    })?;
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln!(out)?;
    } else {
        let sizes: Vec<String> = args.sizes.iter().map(|s| s.to_string()).collect();
        let command = format!(
            "stance bench --sizes {} --engine-assets {}",
            sizes.join(","),
            args.engine_assets
        );
        write!(out, "{}", bench::markdown(&report, &command))?;
    }
    Ok(ExitCode::SUCCESS)
}
