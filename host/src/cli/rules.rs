//! `stance rules check`: which Sigma rules the built-in engine loads, and why
//! the others do not.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use super::Globals;
use crate::catalog;
use crate::report::{self, Format};

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Load Sigma rules (files or directories) and report each one that does not load; exit 2 if any fails
    Check(CheckArgs),
}

#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// Sigma rule files or directories (default: the built-in rules)
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
    let files = catalog::rule_files(a.paths.is_empty(), &a.paths)?;
    let config = catalog::engine_config(a.sigma_config.as_deref())?;
    let (engine, errors) = catalog::check_rules(&files, &config);
    let loaded: Vec<_> = engine.rules().collect();
    let mut out = report::open_output(None)?;
    let check = report::rules::RuleCheck {
        files: files.len(),
        loaded: &loaded,
        errors: &errors,
    };
    report::rules::write(&mut out, &check, a.format, a.list)?;
    out.flush()?;
    Ok(if errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}
