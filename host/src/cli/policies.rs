//! `stance policies list|show|validate|coverage`: the YAML policies the
//! built-in engine runs, parsed natively with the same crate the plugin
//! embeds, and how they cover a framework's controls.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::bail;
use stance_policy_engine::{Policy, PolicySet};

use super::Globals;
use crate::catalog;
use crate::model::Severity;
use crate::report::compliance;
use crate::report::coverage;
use crate::report::findings::severity_cell;
use crate::report::{self, Format};

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// List policies
    List(ListArgs),
    /// Show one policy in full
    Show(ShowArgs),
    /// Check policy files (the built-in policies when no PATH is given); exit 2 on any error
    Validate(ValidateArgs),
    /// Which policies implement each control of a framework catalogue, and why the others are manual
    Coverage(CoverageArgs),
}

#[derive(Debug, clap::Args)]
pub struct CoverageArgs {
    #[command(flatten)]
    sources: Sources,

    /// Framework catalogue: cis-aws-v5 or aws-fsbp (policies/frameworks)
    #[arg(long, value_name = "NAME")]
    framework: String,

    #[arg(long, value_enum, default_value = "table")]
    format: CoverageFormat,

    /// Write to FILE instead of stdout
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum CoverageFormat {
    Table,
    Json,
    Markdown,
}

#[derive(Debug, clap::Args)]
pub struct Sources {
    /// Extra YAML policy file or directory (repeatable)
    #[arg(long = "policies", value_name = "PATH")]
    policies: Vec<PathBuf>,

    /// Leave out the built-in policies
    #[arg(long)]
    no_builtin_policies: bool,
}

#[derive(Debug, clap::Args)]
pub struct ListArgs {
    #[command(flatten)]
    sources: Sources,

    /// Only policies mapped to this framework (e.g. cis-aws, or cis-aws-v5 for a major version)
    #[arg(long, value_name = "NAME")]
    framework: Option<String>,

    /// Only this severity
    #[arg(long, value_name = "SEVERITY")]
    severity: Option<Severity>,

    /// Only policies that apply to this resource type
    #[arg(long = "type", value_name = "TYPE")]
    resource_type: Option<String>,

    #[arg(long, value_enum, default_value = "table")]
    format: Format,
}

#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    /// Policy id
    id: String,

    #[command(flatten)]
    sources: Sources,

    #[arg(long, value_enum, default_value = "table")]
    format: Format,
}

#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    /// Policy files or directories (default: the built-in pack)
    paths: Vec<PathBuf>,
}

pub fn run(_: &Globals, cmd: Command) -> anyhow::Result<ExitCode> {
    match cmd {
        Command::List(a) => list(a),
        Command::Show(a) => show(a),
        Command::Validate(a) => validate(a),
        Command::Coverage(a) => coverage(a),
    }
}

fn load(sources: &Sources) -> anyhow::Result<PolicySet> {
    let files = catalog::policy_files(!sources.no_builtin_policies, &sources.policies)?;
    PolicySet::load(&files).map_err(|e| anyhow::anyhow!("invalid policies:\n{e}"))
}

/// `cis-aws` matches framework `cis-aws`; `cis-aws-v5` also pins the major version.
fn framework_matches(p: &Policy, wanted: &str) -> bool {
    let wanted = wanted.to_ascii_lowercase();
    p.compliance.iter().any(|c| {
        let name = c.framework.to_ascii_lowercase();
        let major = c
            .version
            .split('.')
            .next()
            .unwrap_or("")
            .trim_start_matches(['v', 'V']);
        name == wanted
            || format!("{name}-v{major}") == wanted
            || format!("{name}-{}", c.version) == wanted
    })
}

fn frameworks(p: &Policy) -> String {
    let mut names: Vec<String> = p
        .compliance
        .iter()
        .map(|c| format!("{} {}", c.framework, c.control))
        .collect();
    names.dedup();
    names.join(", ")
}

fn list(a: ListArgs) -> anyhow::Result<ExitCode> {
    let set = load(&a.sources)?;
    let selected: Vec<&Policy> = set
        .policies()
        .iter()
        .filter(|p| {
            a.framework
                .as_deref()
                .is_none_or(|f| framework_matches(p, f))
        })
        .filter(|p| a.severity.is_none_or(|s| s.as_str() == p.severity.as_str()))
        .filter(|p| a.resource_type.as_deref().is_none_or(|t| p.applies_to(t)))
        .collect();
    let mut out = report::open_output(None)?;
    match a.format {
        Format::Sarif | Format::Ocsf | Format::Junit | Format::Asff => {
            return Err(report::unsupported(a.format, "policies").into());
        }
        Format::Json => report::write_json(
            &mut out,
            &selected.iter().map(|p| policy_json(p)).collect::<Vec<_>>(),
        )?,
        Format::Csv => report::write_csv(
            &mut out,
            &[
                "id",
                "severity",
                "resource_type",
                "name",
                "enabled",
                "compliance",
                "file",
            ],
            selected.iter().map(|p| {
                vec![
                    p.id.clone(),
                    p.severity.as_str().into(),
                    p.resource_type.clone(),
                    p.name.clone(),
                    p.enabled.to_string(),
                    frameworks(p),
                    p.file.clone(),
                ]
            }),
        )?,
        Format::Table => {
            let color = report::use_color(false);
            let mut t = report::table(&["ID", "SEVERITY", "RESOURCE TYPE", "NAME"]);
            for p in &selected {
                let sev: Severity = p.severity.as_str().parse().map_err(anyhow::Error::msg)?;
                let id = if p.enabled {
                    p.id.clone()
                } else {
                    format!("{} (disabled)", p.id)
                };
                t.add_row(vec![
                    comfy_table::Cell::new(id),
                    severity_cell(sev, color),
                    comfy_table::Cell::new(&p.resource_type),
                    comfy_table::Cell::new(&p.name),
                ]);
            }
            writeln!(out, "{t}\n{} policies", selected.len())?;
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

fn policy_json(p: &Policy) -> serde_json::Value {
    serde_json::json!({
        "id": p.id,
        "name": p.name,
        "description": p.description,
        "severity": p.severity,
        "resource_type": p.resource_type,
        "expression": p.expression,
        "compliance": p.compliance,
        "remediation": p.remediation,
        "tags": p.tags,
        "enabled": p.enabled,
        "file": p.file,
        "reads": p.reads(),
    })
}

fn show(a: ShowArgs) -> anyhow::Result<ExitCode> {
    let set = load(&a.sources)?;
    let Some(p) = set.policies().iter().find(|p| p.id == a.id) else {
        bail!(
            "no policy with id {:?}; `stance policies list` shows the ids",
            a.id
        );
    };
    let mut out = report::open_output(None)?;
    if a.format == Format::Json {
        report::write_json(&mut out, &policy_json(p))?;
    } else {
        writeln!(out, "{} — {}", p.id, p.name)?;
        writeln!(out, "severity:      {}", p.severity.as_str())?;
        writeln!(out, "resource type: {}", p.resource_type)?;
        writeln!(out, "enabled:       {}", p.enabled)?;
        writeln!(out, "file:          {}", p.file)?;
        if !p.description.is_empty() {
            writeln!(out, "\n{}", p.description.trim())?;
        }
        writeln!(
            out,
            "\ncheck:\n  {}",
            p.expression.trim().replace('\n', "\n  ")
        )?;
        if !p.compliance.is_empty() {
            writeln!(out, "\ncompliance:")?;
            for c in &p.compliance {
                writeln!(out, "  {} {}: {}", c.framework, c.version, c.control)?;
            }
        }
        let r = &p.remediation;
        if !r.guidance.is_empty() {
            writeln!(out, "\nremediation:\n  {}", r.guidance.trim())?;
        }
        if let Some(c) = &r.console {
            writeln!(out, "  console: {}", c.trim())?;
        }
        if let Some(c) = &r.cli {
            writeln!(out, "  cli:     {}", c.trim())?;
        }
        for link in &r.references {
            writeln!(out, "  see {link}")?;
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

fn validate(a: ValidateArgs) -> anyhow::Result<ExitCode> {
    let builtin = a.paths.is_empty();
    let files = catalog::policy_files(builtin, &a.paths)?;
    if files.is_empty() {
        bail!("no .yaml or .yml policy files found in {:?}", a.paths);
    }
    match PolicySet::load(&files) {
        Ok(set) => {
            crate::say!(
                "{} policies in {} files are valid",
                set.policies().len(),
                files.len()
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(errors) => {
            for e in &errors.0 {
                // Errors quote the policy files: their bytes never reach the terminal raw.
                crate::say_err!("{e}");
            }
            crate::say_err!("{} error(s) in {} files", errors.0.len(), files.len());
            Ok(ExitCode::from(2))
        }
    }
}

fn coverage(a: CoverageArgs) -> anyhow::Result<ExitCode> {
    let set = load(&a.sources)?;
    let catalogues = compliance::catalogues()?;
    let wanted = a.framework.to_ascii_lowercase();
    let Some(cat) = catalogues
        .iter()
        .find(|c| c.id == wanted || format!("{}-{}", c.framework, c.version) == wanted)
    else {
        let known: Vec<&str> = catalogues.iter().map(|c| c.id.as_str()).collect();
        bail!(
            "no catalogue for framework `{}`; known: {}",
            a.framework,
            known.join(", ")
        );
    };
    let rows = coverage::build(cat, set.policies());
    let mut out = super::output(a.output.as_deref())?;
    match a.format {
        CoverageFormat::Json => coverage::write_json_coverage(&mut out, cat, &rows)?,
        CoverageFormat::Markdown => coverage::write_markdown(&mut out, cat, &rows)?,
        CoverageFormat::Table => coverage::write_table(&mut out, &rows)?,
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
