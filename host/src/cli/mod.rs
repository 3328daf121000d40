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
mod diff;
#[cfg(feature = "securityhub-export")]
mod export;
mod findings;
mod key;
mod limits;
mod mutes;
mod pack;
mod plugin;
mod plugin_dev;
mod policies;
mod prune;
mod report;
mod rules;
mod scan;
mod scans;
mod source;
mod version;
mod watch;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};

use crate::model::Severity;
use crate::runtime::{ComponentCache, Runtime};
use crate::settings::{Env, Flags, Settings, StorageBackend};
use crate::store::Store;

#[derive(Debug, Parser)]
#[command(
    name = "stance",
    version,
    about = "Cloud security policy engine: every rule runs as a sandboxed WebAssembly component",
    after_help = "Exit codes: 0 clean, 1 findings at or above --fail-on, 2 errors.\n\
                  Environment: STANCE_DB_PATH, STANCE_AWS_REGION, STANCE_LOG_LEVEL, STANCE_CACHE_DIR, STANCE_CACHE_KEY, STANCE_STORAGE_BACKEND, STANCE_HOME, STANCE_PACK_DIR, STANCE_SDK_DIR, NO_COLOR, COLUMNS (`stance version` shows what they resolve to)."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,

    /// SQLite database (default: STANCE_DB_PATH, else ~/.stance/stance.db)
    #[arg(long, global = true, value_name = "FILE")]
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
    /// Mutes of failing findings (accepted risks, with a reason and an end date): add, list, audit
    #[command(subcommand)]
    Mutes(mutes::Command),
    /// List the assets of a scan
    Assets(assets::Args),
    /// List past scans
    Scans(scans::Args),
    /// Compare two scans of one scope: new, reopened, fixed and still-failing findings, changed severity and evidence
    Diff(diff::Args),
    /// Retention: delete old scans (--keep-scans, --older-than) and detection runs, and reclaim the space
    Prune(prune::Args),
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
    /// Send findings off the machine: `export securityhub` imports a scan's findings into AWS Security Hub
    #[cfg(feature = "securityhub-export")]
    #[command(subcommand)]
    Export(export::Command),
    /// Send findings off the machine (not in this build: it lacks the `securityhub-export` feature)
    #[cfg(not(feature = "securityhub-export"))]
    Export {
        /// Whatever followed `export`
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
        rest: Vec<String>,
    },
    /// Check Sigma detection rules
    #[command(subcommand)]
    Rules(rules::Command),
    /// Measure scan throughput, native-versus-wasm cost, cold start and memory (Markdown for BENCHMARKS.md)
    Bench(bench::Args),
    /// Run scans on an interval and detection over a log directory, hot-reloading plugins, policies and packs
    Watch(watch::Args),
    /// Print versions of Stance, its WIT contract, wasmtime and the database schema, and the resolved settings
    Version(VersionArgs),
}

/// `stance version`.
#[derive(Debug, clap::Args)]
pub struct VersionArgs {
    /// table, or json (versions and every resolved setting with where it came from)
    #[arg(long, value_enum, default_value = "table")]
    format: crate::report::Format,
}

/// Parse the command line, run it, and map the outcome to an exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let flags = Flags {
        db: cli.db.clone(),
        verbose: cli.verbose,
        quiet: cli.quiet,
        status_file: match &cli.command {
            Command::Watch(args) => args.status_file(),
            _ => None,
        },
        mutes: match &cli.command {
            Command::Scan(args) => args.mutes(),
            Command::Mutes(cmd) => cmd.mutes(),
            Command::Watch(args) => args.mutes(),
            _ => None,
        },
    };
    let settings = Settings::resolve(&flags, Env::from_process());
    init_logging(&settings);
    crate::runtime::cache::use_key_file(settings.cache_key.value.clone());
    crate::report::configure(crate::report::Terminal {
        color: settings.color.value,
        columns: settings.columns.value,
    });
    match run(cli, Globals { settings }) {
        Ok(code) => code,
        Err(e) => {
            // The chain quotes paths, fields and plugin messages: say_err! escapes them.
            crate::say_err!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli, g: Globals) -> anyhow::Result<ExitCode> {
    let g = &g;
    match cli.command {
        Command::Scan(args) => scan::run(g, args),
        Command::Collect(args) => collect::run(g, args),
        Command::Findings(args) => findings::run(g, args),
        Command::Mutes(cmd) => mutes::run(g, cmd),
        Command::Assets(args) => assets::run(g, args),
        Command::Scans(args) => scans::run(g, args),
        Command::Diff(args) => diff::run(g, args),
        Command::Prune(args) => prune::run(g, args),
        Command::Report(args) => report::run(g, args),
        Command::Policies(cmd) => policies::run(g, cmd),
        Command::Plugin(cmd) => plugin::run(g, cmd),
        Command::Pack(cmd) => pack::run(g, cmd),
        Command::Key(cmd) => key::run(g, cmd),
        Command::Detect(args) => detect::run(g, args),
        Command::Alerts(args) => alerts::run(g, args),
        Command::Rules(cmd) => rules::run(g, cmd),
        #[cfg(feature = "securityhub-export")]
        Command::Export(cmd) => export::run(g, cmd),
        #[cfg(not(feature = "securityhub-export"))]
        Command::Export { .. } => anyhow::bail!(
            "this stance binary was built without the Security Hub export (the `securityhub-export` cargo feature); build the full binary with `cargo build --release -p stance`"
        ),
        Command::Bench(args) => bench::run(g, args),
        Command::Watch(args) => watch::run(g, args),
        Command::Version(args) => version::run(g, args),
    }
}

/// What every command receives: the resolved settings.
pub(crate) struct Globals {
    settings: Settings,
}

impl Globals {
    /// The resolved settings.
    pub(crate) fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Open the store the settings name, to write (scans, detection runs,
    /// suppressions): created and migrated when needed.
    pub(crate) fn store(&self) -> anyhow::Result<Store> {
        let path = self.sqlite_path()?;
        // Every store error names the file.
        Store::open(path).context("opening the database")
    }

    /// Open the store the settings name, to read only (the query commands):
    /// nothing is created or written, so a read-only database works.
    pub(crate) fn store_read(&self) -> anyhow::Result<Store> {
        let path = self.sqlite_path()?;
        Store::open_read_only(path).context("opening the database to read")
    }

    fn sqlite_path(&self) -> anyhow::Result<&std::path::Path> {
        if let StorageBackend::Unavailable(backend) = &self.settings.storage_backend.value {
            bail!(
                "STANCE_STORAGE_BACKEND={backend} is not available in this build; the storage backend is sqlite"
            );
        }
        Ok(&self.settings.db.value)
    }

    /// The wasm runtime, with the component cache the settings name.
    pub(crate) fn runtime(&self) -> anyhow::Result<Runtime> {
        let cache = ComponentCache::new(self.settings.cache_dir.value.as_deref());
        Ok(Runtime::new(cache)?)
    }

    /// Progress bars and summaries go to stderr only for a terminal and without --quiet.
    pub(crate) fn interactive(&self) -> bool {
        !self.settings.quiet && std::io::stderr().is_terminal()
    }

    pub(crate) fn quiet(&self) -> bool {
        self.settings.quiet
    }
}

fn init_logging(settings: &Settings) {
    use tracing_subscriber::EnvFilter;
    let filter = &settings.log_level.value;
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| {
        crate::say_err!(
            "warning: STANCE_LOG_LEVEL={filter:?} is not a log level or filter; using warn"
        );
        EnvFilter::new("warn")
    });
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal() && settings.color.value)
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

/// A progress bar on stderr for an interactive terminal, hidden otherwise.
pub(crate) fn progress_bar(g: &Globals, template: &str) -> indicatif::ProgressBar {
    use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
    if !g.interactive() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template(template)
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar
}

/// `--output FILE`, else stdout, with the file named in the error.
pub(crate) fn output(path: Option<&std::path::Path>) -> anyhow::Result<Box<dyn std::io::Write>> {
    crate::report::open_output(path)
        .with_context(|| format!("opening {}", path.unwrap_or("stdout".as_ref()).display()))
}
