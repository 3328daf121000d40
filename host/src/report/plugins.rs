//! The plugins a scan would run (`stance plugin list`), as a table (with
//! each plugin's rules on request), JSON or CSV.

use std::io::{self, Write};

use serde::Serialize;

use super::{Format, safe, table, write_csv, write_json};
use crate::model::Rule;

/// One loaded plugin, as listed.
#[derive(Debug, Clone, Serialize)]
pub struct PluginListing {
    /// The plugin's name.
    pub name: String,
    /// Its version.
    pub version: String,
    /// What it says it does.
    pub description: String,
    /// `policy` or `detector`.
    pub world: &'static str,
    /// The WIT version it was built against.
    pub wit_version: String,
    /// `sha256:` and the component's digest.
    pub digest: String,
    /// Where it came from.
    pub origin: String,
    /// The settings it accepts, as declared.
    pub settings: serde_json::Value,
    /// Its rules.
    pub rules: Vec<Rule>,
}

/// Write the listing; `with_rules` adds a table of rules per plugin.
pub fn write(
    out: &mut dyn Write,
    plugins: &[PluginListing],
    format: Format,
    with_rules: bool,
) -> io::Result<()> {
    match format {
        Format::Sarif | Format::Ocsf | Format::Junit | Format::Asff => {
            Err(super::unsupported(format, "plugins"))
        }
        Format::Json => write_json(out, &plugins),
        Format::Csv => write_csv(
            out,
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
                    p.world.into(),
                    p.wit_version.clone(),
                    p.digest.clone(),
                    p.rules.len().to_string(),
                    p.origin.clone(),
                ]
            }),
        ),
        Format::Table => write_table(out, plugins, with_rules),
    }
}

fn write_table(out: &mut dyn Write, plugins: &[PluginListing], with_rules: bool) -> io::Result<()> {
    let mut t = table(&[
        "NAME", "VERSION", "WORLD", "WIT", "DIGEST", "RULES", "ORIGIN",
    ]);
    for p in plugins {
        t.add_row(vec![
            p.name.clone(),
            p.version.clone(),
            p.world.into(),
            p.wit_version.clone(),
            p.digest.chars().take("sha256:".len() + 12).collect(),
            p.rules.len().to_string(),
            p.origin.clone(),
        ]);
    }
    writeln!(out, "{t}")?;
    if with_rules {
        for p in plugins {
            let mut t = table(&["RULE", "SEVERITY", "RESOURCE TYPES", "TITLE"]);
            for r in &p.rules {
                t.add_row(vec![
                    r.id.clone(),
                    r.severity.to_string(),
                    r.resource_types.join(", "),
                    r.title.clone(),
                ]);
            }
            writeln!(out, "\n{} rules:\n{t}", safe(&p.name))?;
        }
    }
    Ok(())
}
