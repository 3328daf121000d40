//! The command line: flags, help text and exit codes, one submodule per
//! command. A skin over the library: every command parses its arguments,
//! calls the pipeline, and renders the result.
//!
//! Exit codes: 0 clean, 1 findings at or above `--fail-on`, 2 errors.

mod alerts;
mod assets;
mod bench;
mod collect;
mod detect;

mod findings;
mod key;
mod limits;
mod pack;
mod plugin;
mod plugin_dev;
mod policies;
mod report;
mod rules;
mod scan;
mod scans;
mod source;
mod watch;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};

use crate::model::Severity;
use crate::store::{self, Store};

#[derive(Debug, Parser)]
#[command(
    name = "stance",
    version,
    about = "Cloud security policy engine: every rule runs as a sandboxed WebAssembly component",
    after_help = "Exit codes: 0 clean, 1 findings at or above --fail-on, 2 errors.\n\
                  Environment: STANCE_DB_PATH, STANCE_AWS_REGION, STANCE_LOG_LEVEL, STANCE_CACHE_DIR, STANCE_STORAGE_BACKEND, STANCE_HOME, STANCE_PACK_DIR, NO_COLOR."
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,

    /// SQLite database (default ~/.stance/stance.db)
    #[arg(long, global = true, env = "STANCE_DB_PATH", value_name = "FILE")]
    db: Option<PathBuf>,

    /// More log output (-v info, -vv debug, -vvv trace); overrides STANCE_LOG_LEVEL
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,

    /// No progress bar or summary on stderr
    #[arg(short, long, global = true)]
    quiet: bool,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Evaluate assets (a snapshot, or collected live) through the policy plugins and store the findings
    Scan(scan::Args),
    /// Collect assets live and save them as a snapshot for offline scans
    Collect(collect::Args),
    /// Query the findings of a scan (the latest by default)
    Findings(findings::Args),
    /// List the assets of a scan
    Assets(assets::Args),
    /// List past scans
    Scans(scans::Args),
    /// A compliance report of a scan (HTML, JSON, CSV, table)
    Report(report::Args),
    /// List, show and validate YAML policies
    #[command(subcommand)]
    Policies(policies::Command),
    /// Plugins: scaffold, build, test and benchmark your own; list what a scan runs
    #[command(subcommand, visible_alias = "plugins")]
    Plugin(plugin::Command),
    /// Rule packs: init, build, sign, verify, push, pull, install, list, remove, update
    #[command(subcommand)]
    Pack(pack::Command),
    /// Signing keys for rule packs
    #[command(subcommand)]
    Key(key::Command),
    /// Run detection rules over audit logs (CloudTrail), store the alerts and route them
    Detect(detect::Args),
    /// Query stored alerts
    Alerts(alerts::Args),
    /// Check Sigma detection rules
    #[command(subcommand)]
    Rules(rules::Command),
    /// Measure throughput, cold start and memory (writes BENCHMARKS-style Markdown)

    /// Measure scan throughput, native-versus-wasm cost, cold start and memory (Markdown for BENCHMARKS.md)
    Bench(bench::Args),
    /// Run scans on an interval and detection over a log directory, hot-reloading plugins, policies and packs
    Watch(watch::Args),
    /// Print versions of Stance, its WIT contract, wasmtime and the database schema
    Version,
}

/// Parse the command line, run it, and map the outcome to an exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose);
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let ctx = Globals {
        db: cli.db.clone(),
        quiet: cli.quiet,
    };
    match cli.command {
        Command::Scan(args) => scan::run(&ctx, args),
        Command::Collect(args) => collect::run(&ctx, args),
        Command::Findings(args) => findings::run(&ctx, args),
        Command::Assets(args) => assets::run(&ctx, args),
        Command::Scans(args) => scans::run(&ctx, args),
        Command::Report(args) => report::run(&ctx, args),
        Command::Policies(cmd) => policies::run(&ctx, cmd),
        Command::Plugin(cmd) => plugin::run(&ctx, cmd),
        Command::Pack(cmd) => pack::run(&ctx, cmd),
        Command::Key(cmd) => key::run(&ctx, cmd),
        Command::Detect(args) => detect::run(&ctx, args),
        Command::Alerts(args) => alerts::run(&ctx, args),
        Command::Rules(cmd) => rules::run(&ctx, cmd),

        Command::Bench(args) => bench::run(&ctx, args),
        Command::Watch(args) => watch::run(&ctx, args),
        Command::Version => version(&ctx),
    }
}

/// What every command may need from the global flags.
pub(crate) struct Globals {
    db: Option<PathBuf>,
    quiet: bool,
}

impl Globals {
    /// Open the store named by `--db`/`STANCE_DB_PATH`, or the default.
    pub(crate) fn store(&self) -> anyhow::Result<Store> {
        if let Some(backend) = std::env::var_os("STANCE_STORAGE_BACKEND") {
            let backend = backend.to_string_lossy();
            if !backend.is_empty() && backend != "sqlite" {
                bail!(
                    "STANCE_STORAGE_BACKEND={backend} is not available in this build; the storage backend is sqlite"
                );
            }
        }
        let path = self.db.clone().unwrap_or_else(store::default_path);
        Store::open(&path).with_context(|| format!("opening the database {}", path.display()))
    }

    /// Progress bars and summaries go to stderr only for a terminal and without --quiet.
    pub(crate) fn interactive(&self) -> bool {
        !self.quiet && std::io::stderr().is_terminal()
    }

    pub(crate) fn quiet(&self) -> bool {
        self.quiet
    }
}

fn init_logging(verbose: u8) {
    use tracing_subscriber::EnvFilter;
    let filter = match verbose {
        0 => std::env::var("STANCE_LOG_LEVEL").unwrap_or_else(|_| "warn".into()),
        1 => "info".into(),
        2 => "debug".into(),
        _ => "trace".into(),
    };
    let filter = EnvFilter::try_new(&filter).unwrap_or_else(|_| {
        eprintln!("warning: STANCE_LOG_LEVEL={filter:?} is not a log level or filter; using warn");
        EnvFilter::new("warn")
    });
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none())
        .with_target(false)
        .try_init();
}

/// Exit code for a set of failing severities against `--fail-on`.
pub(crate) fn exit_code(
    errors: bool,
    failing: impl IntoIterator<Item = Severity>,
    fail_on: Option<Severity>,
) -> ExitCode {
    if errors {
        return ExitCode::from(2);
    }
    match fail_on {
        Some(threshold) if failing.into_iter().any(|s| s >= threshold) => ExitCode::from(1),
        _ => ExitCode::SUCCESS,
    }
}

fn version(ctx: &Globals) -> anyhow::Result<ExitCode> {
    println!("stance {}", env!("CARGO_PKG_VERSION"));
    println!("wit stance:plugin@{}", crate::runtime::WIT_VERSION);
    println!("wasmtime {}", crate::runtime::cache::wasmtime_version());
    match ctx.store() {
        Ok(store) => println!(
            "database {} (schema {})",
            store.path().display(),
            store.schema_version()?
        ),
        Err(e) => println!("database unavailable: {e:#}"),
    }
    Ok(ExitCode::SUCCESS)
}
