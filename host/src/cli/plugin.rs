//! `stance plugin new|build|test|bench|list` (alias `plugins`): the plugin
//! developer's loop over the devkit, and the list of every plugin a scan
//! would run, loaded exactly as a scan loads it.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use super::Globals;
use super::plugin_dev as dev;
pub use super::plugin_dev::{BenchArgs, BuildArgs, NewArgs, TestArgs};
use crate::report::{self, Format};
use crate::runtime::{ComponentCache, Limits, Runtime};
use crate::scan::{self, ScanOptions};

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
        Command::List(a) => list(a),
    }
}

fn list(a: ListArgs) -> anyhow::Result<ExitCode> {
    let rt = Runtime::new(ComponentCache::from_env())?;
    let opts = ScanOptions {
        plugins: a.plugins,
        policy_paths: a.policies,
        pack_policies: Vec::new(),
        pack_plugins: Vec::new(),
        limits: Limits::default(),
        ..ScanOptions::default()
    };
    let plugins = scan::load_plugins(&rt, &opts)?;
    let mut out = report::open_output(None)?;
    match a.format {
        Format::Json => {
            let rows: Vec<serde_json::Value> = plugins
                .iter()
                .map(|p| {
                    serde_json::json!({
                        "name": p.name, "version": p.version, "description": p.description,
                        "world": p.world.as_str(), "wit_version": p.wit_version, "digest": format!("sha256:{}", p.digest),
                        "origin": p.origin, "settings": p.settings_spec, "rules": p.rules,
                    })
                })
                .collect();
            report::write_json(&mut out, &rows)?;
        }
        Format::Csv => report::write_csv(
            &mut out,
            &[
                "name",
                "version",
                "world",
                "wit_version",
                "digest",
                "rules",
                "origin",
            ],
            plugins.iter().map(|p| {
                vec![
                    p.name.clone(),
                    p.version.clone(),
                    p.world.as_str().into(),
                    p.wit_version.clone(),
                    format!("sha256:{}", p.digest),
                    p.rules.len().to_string(),
                    p.origin.clone(),
                ]
            }),
        )?,
        Format::Table => {
            let mut t = report::table(&[
                "NAME", "VERSION", "WORLD", "WIT", "DIGEST", "RULES", "ORIGIN",
            ]);
            for p in &plugins {
                t.add_row(vec![
                    p.name.clone(),
                    p.version.clone(),
                    p.world.as_str().into(),
                    p.wit_version.clone(),
                    format!("sha256:{}", &p.digest[..12]),
                    p.rules.len().to_string(),
                    p.origin.clone(),
                ]);
            }
            writeln!(out, "{t}")?;
            if a.rules {
                for p in &plugins {
                    let mut t = report::table(&["RULE", "SEVERITY", "RESOURCE TYPES", "TITLE"]);
                    for r in &p.rules {
                        t.add_row(vec![
                            r.id.clone(),
                            r.severity.to_string(),
                            r.resource_types.join(", "),
                            r.title.clone(),
                        ]);
                    }
                    writeln!(out, "\n{} rules:\n{t}", p.name)?;
                }
            }
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
