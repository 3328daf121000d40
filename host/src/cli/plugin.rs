//! `stance plugin new|build|test|bench|list` (alias `plugins`): the plugin
//! developer's loop over the devkit, and the list of every plugin a scan
//! would run, loaded exactly as a scan loads it.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use super::Globals;
use super::plugin_dev as dev;
pub use super::plugin_dev::{BenchArgs, BuildArgs, NewArgs, TestArgs};
use crate::catalog::{PolicySelection, Selection};
use crate::pack::TrustConfig;
use crate::pipeline;
use crate::report::plugins::PluginListing;
use crate::report::{self, Format};
use crate::runtime::Limits;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Write a new plugin project (Rust, Python or JavaScript) that builds and passes its own cases
    New(NewArgs),
    /// Build a plugin project into a checked component (dist/NAME.wasm)
    Build(BuildArgs),
    /// Run a project's case files (or a YAML policy directory's tests/) against the component
    Test(TestArgs),
    /// Measure compile (cold and warm cache), instantiation, per-batch and per-item time, and memory
    Bench(BenchArgs),
    /// List plugins: name, version, world, digest and rules
    List(ListArgs),
}

#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// Extra plugin: a .wasm component or a plugin.toml manifest (repeatable)
    #[arg(long = "plugin", value_name = "PATH")]
    plugins: Vec<PathBuf>,

    /// Extra YAML policy file or directory for the built-in engine (repeatable)
    #[arg(long = "policies", value_name = "PATH")]
    policies: Vec<PathBuf>,

    /// Also list each plugin's rules
    #[arg(long)]
    rules: bool,

    #[arg(long, value_enum, default_value = "table")]
    format: Format,
}

pub fn run(g: &Globals, cmd: Command) -> anyhow::Result<ExitCode> {
    match cmd {
        Command::New(a) => dev::new(g, a),
        Command::Build(a) => dev::build(g, a),
        Command::Test(a) => dev::test(g, a),
        Command::Bench(a) => dev::bench(g, a),
        Command::List(a) => list(g, a),
    }
}

fn list(g: &Globals, a: ListArgs) -> anyhow::Result<ExitCode> {
    let rt = g.runtime()?;
    let selection = Selection {
        policies: Some(PolicySelection {
            builtin: true,
            paths: a.policies,
            plugins: a.plugins,
        }),
        detectors: None,
        packs: Vec::new(),
        pack_dir: g.settings().pack_dir.value.clone(),
        trust: TrustConfig::default(),
        limits: Limits::default(),
    };
    let plugins = pipeline::load_plugins(&rt, selection.resolve()?.policies)?;
    let listing: Vec<PluginListing> = plugins
        .iter()
        .map(|p| PluginListing {
            name: p.name.clone(),
            version: p.version.clone(),
            description: p.description.clone(),
            world: p.world.as_str(),
            wit_version: p.wit_version.clone(),
            digest: format!("sha256:{}", p.digest),
            origin: p.origin.clone(),
            settings: serde_json::to_value(&p.settings_spec).unwrap_or_default(),
            rules: p.rules.clone(),
        })
        .collect();
    let mut out = report::open_output(None)?;
    report::plugins::write(&mut out, &listing, a.format, a.rules)?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
