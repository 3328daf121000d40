//! The CLI of `stance plugin new|build|test|bench`: flags, output and exit
//! codes over `crate::devkit`. Test exit codes: 0 every case passed, 1 a case
//! failed, 2 the plugin could not be built, loaded or run.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;

use super::Globals;
use crate::bench::plugin::{self as devbench, BenchOptions, BenchReport};
use crate::devkit::build::{self, BuildOptions};
use crate::devkit::sdk::Sdk;
use crate::devkit::suite::{self, Subject, SuiteOptions};
use crate::devkit::{Lang, Project, scaffold};
use crate::report;
use crate::runtime::{Limits, World};

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum WorldArg {
    Policy,
    Detector,
}

#[derive(Debug, clap::Args)]
pub struct NewArgs {
    /// Plugin name: lowercase letters, digits and '-' (names the directory and the component)
    name: String,
    /// Language of the plugin
    #[arg(long, value_enum, default_value = "rust")]
    lang: Lang,
    /// World: a policy (assets in, findings out) or a detector (events in, alerts out)
    #[arg(long, value_enum, default_value = "policy")]
    world: WorldArg,
    /// Where to create the project (default ./NAME)
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// The sdk/ directory of a Stance checkout (default STANCE_SDK_DIR, or the checkout Stance was built from)
    #[arg(long, value_name = "DIR")]
    sdk: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct BuildArgs {
    /// The project directory (holding stance-plugin.toml)
    #[arg(default_value = ".")]
    dir: PathBuf,
    /// Rebuild even when the sources have not changed
    #[arg(long)]
    force: bool,
    #[arg(long, value_name = "DIR")]
    sdk: Option<PathBuf>,
    /// Print a JSON summary instead of text
    #[arg(long, value_enum, default_value = "table")]
    format: report::Format,
}

#[derive(Debug, clap::Args)]
pub struct TestArgs {
    /// A plugin project, or a directory of YAML policies with a tests/ directory
    #[arg(default_value = ".")]
    dir: PathBuf,
    /// Only cases whose FILE::NAME contains this text
    #[arg(long, value_name = "TEXT")]
    filter: Option<String>,
    /// Write a JUnit XML report here
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// Write a JSON report here (`-` for stdout, replacing the text)
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Use the component as built (do not build first)
    #[arg(long)]
    no_build: bool,
    #[arg(long, value_name = "DIR")]
    sdk: Option<PathBuf>,
    /// Show every comparison line of passing cases too
    #[arg(long)]
    verbose_cases: bool,
}

#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// A plugin project, or a directory of YAML policies with a tests/ directory
    #[arg(default_value = ".")]
    dir: PathBuf,
    /// Assets (or events) per measured round; the case files' items are repeated to reach it
    #[arg(long, default_value_t = 10_000)]
    items: usize,
    #[arg(long, default_value_t = 100)]
    batch_size: usize,
    /// Measured rounds (after one warm-up round)
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Measure with this snapshot's assets instead of the case files'
    #[arg(long, value_name = "FILE")]
    snapshot: Option<PathBuf>,
    /// A JSON report of an earlier run to compare with
    #[arg(long, value_name = "FILE")]
    baseline: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "table")]
    format: report::Format,
    /// Write the report here instead of stdout
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    #[arg(long)]
    no_build: bool,
    #[arg(long, value_name = "DIR")]
    sdk: Option<PathBuf>,
}

pub fn new(g: &Globals, a: NewArgs) -> anyhow::Result<ExitCode> {
    let sdk = Sdk::locate(a.sdk.as_deref(), g.settings().sdk_dir.value.as_deref())?;
    let world = match a.world {
        WorldArg::Policy => World::Policy,
        WorldArg::Detector => World::Detector,
    };
    let dir = a.dir.unwrap_or_else(|| PathBuf::from(&a.name));
    let files = scaffold::create(&dir, &a.name, a.lang, world, &sdk)?;
    if !g.quiet() {
        crate::say!(
            "created {} ({} {} plugin, {} files)",
            dir.display(),
            a.lang,
            world.as_str(),
            files.len()
        );
        let cd = shell_path(&dir);
        let install = match a.lang {
            Lang::Rust => String::new(),
            Lang::Python => format!(
                "  (needs componentize-py: pip install componentize-py=={})\n",
                build::COMPONENTIZE_PY
            ),
            Lang::Js => format!("  cd {cd} && npm install\n"),
        };
        crate::say!(
            "next:\n{install}  stance plugin build {cd}\n  stance plugin test {cd}\n  stance {} --plugin {cd}",
            match world {
                World::Policy => "scan --snapshot SNAPSHOT.json",
                World::Detector => "detect --input CLOUDTRAIL_DIR",
            }
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// How `stance plugin build|test|bench` build: `--sdk`, else the settings' SDK.
fn build_options(g: &Globals, sdk: Option<PathBuf>, force: bool, verbose: bool) -> BuildOptions {
    BuildOptions {
        sdk,
        sdk_setting: g.settings().sdk_dir.value.clone(),
        search_path: g.settings().env.get("PATH").cloned().unwrap_or_default(),
        force,
        verbose,
    }
}

fn shell_path(p: &Path) -> String {
    let s = p.display().to_string();
    if s.contains(char::is_whitespace) {
        format!("{s:?}")
    } else {
        s
    }
}

pub fn build(g: &Globals, a: BuildArgs) -> anyhow::Result<ExitCode> {
    let project = Project::open(&a.dir)?;
    let rt = g.runtime()?;
    let opts = build_options(g, a.sdk, a.force, !g.quiet());
    if !g.quiet() {
        crate::say_err!(
            "building {} {} ({}, {} world)",
            project.name,
            project.version,
            project.lang,
            project.world.as_str()
        );
    }
    let built = build::build(&project, &opts, &rt)?;
    match a.format {
        report::Format::Json => {
            let mut out = report::open_output(None)?;
            report::write_json(
                &mut out,
                &serde_json::json!({
                    "component": built.path, "bytes": built.bytes, "rebuilt": built.rebuilt,
                    "seconds": built.build_time.as_secs_f64(), "rules": built.rules, "metadata": built.info,
                }),
            )?;
            out.flush()?;
        }
        _ if g.quiet() => {}
        _ => {
            let what = if built.rebuilt {
                format!("built in {:.1} s", built.build_time.as_secs_f64())
            } else {
                "up to date".to_string()
            };
            crate::say!(
                "{}: {what}; {} bytes, {} rules, {} world, stance:plugin@{}, {}",
                built.path.display(),
                built.bytes,
                built.rules,
                built.info.world,
                built.info.wit,
                built.info.toolchain
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn test(g: &Globals, a: TestArgs) -> anyhow::Result<ExitCode> {
    let subject = Subject::open(&a.dir)?;
    let rt = g.runtime()?;
    let opts = SuiteOptions {
        filter: a.filter,
        build: build_options(g, a.sdk, false, false),
        no_build: a.no_build,
        limits: Limits::default(),
    };
    let r = suite::run(&rt, &subject, &opts)?;
    if let Some(path) = &a.junit {
        std::fs::write(path, report::suite::junit(&r))
            .with_context(|| format!("writing {}", path.display()))?;
    }
    let json_to_stdout = a.json.as_deref() == Some(Path::new("-"));
    if let Some(path) = &a.json {
        let target = if json_to_stdout {
            None
        } else {
            Some(path.as_path())
        };
        let mut out =
            report::open_output(target).with_context(|| format!("writing {}", path.display()))?;
        report::write_json(&mut out, &r)?;
        out.flush()?;
    }
    if !json_to_stdout && !g.quiet() {
        report::suite::write(&mut std::io::stdout().lock(), &r, a.verbose_cases)?;
    }
    Ok(ExitCode::from(if r.errors > 0 {
        2
    } else if r.failed > 0 {
        1
    } else {
        0
    }))
}

pub fn bench(g: &Globals, a: BenchArgs) -> anyhow::Result<ExitCode> {
    let subject = Subject::open(&a.dir)?;
    let baseline: Option<BenchReport> = match &a.baseline {
        None => None,
        Some(p) => {
            let text =
                std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
            Some(serde_json::from_str(&text).with_context(|| {
                format!(
                    "{}: not a JSON report of `stance plugin bench --format json`",
                    p.display()
                )
            })?)
        }
    };
    if !g.quiet() {
        crate::say_err!("measuring {} ...", a.dir.display());
    }
    let r = devbench::run(
        &subject,
        &BenchOptions {
            items: a.items,
            batch_size: a.batch_size,
            rounds: a.rounds,
            snapshot: a.snapshot,
            build: build_options(g, a.sdk, false, false),
            no_build: a.no_build,
            limits: Limits::default(),
            cache_dir: g.settings().cache_dir.value.clone(),
        },
    )?;
    let mut out = report::open_output(a.output.as_deref())?;
    match a.format {
        report::Format::Json => report::write_json(&mut out, &r)?,
        _ => write!(out, "{}", devbench::render(&r, baseline.as_ref()))?,
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
