//! `stance version`: the versions of Stance, its WIT contract, wasmtime and
//! the database schema, and every resolved setting with where it came from
//! (flag, environment variable, default).

use std::io::Write;
use std::process::ExitCode;

use serde_json::json;

use super::{Globals, VersionArgs};
use crate::report::{self, Format};
use crate::settings::{Origin, Setting};

pub fn run(g: &Globals, args: VersionArgs) -> anyhow::Result<ExitCode> {
    // Read only: asking for the version creates, migrates and locks nothing.
    let database = match g.store_read() {
        Ok(_) if !g.settings().db.value.exists() => json!({
            "path": g.settings().db.value,
            "exists": false,
        }),
        Ok(store) => json!({
            "path": store.path(),
            "exists": true,
            "schema": store.schema_version()?,
        }),
        Err(e) => json!({ "error": format!("{e:#}") }),
    };
    let versions = json!({
        "stance": env!("CARGO_PKG_VERSION"),
        "wit": format!("stance:plugin@{}", crate::runtime::WIT_VERSION),
        "wasmtime": crate::runtime::cache::wasmtime_version(),
        "database": database,
        "settings": g.settings(),
    });
    let mut out = report::open_output(None)?;
    match args.format {
        Format::Json => report::write_json(&mut out, &versions)?,
        _ => write_table(&mut out, g, &versions)?,
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

fn write_table(
    out: &mut dyn Write,
    g: &Globals,
    versions: &serde_json::Value,
) -> anyhow::Result<()> {
    writeln!(out, "stance {}", env!("CARGO_PKG_VERSION"))?;
    writeln!(out, "wit {}", versions["wit"].as_str().unwrap_or_default())?;
    writeln!(
        out,
        "wasmtime {}",
        crate::runtime::cache::wasmtime_version()
    )?;
    match versions["database"]["error"].as_str() {
        Some(e) => writeln!(out, "database unavailable: {e}")?,
        None if versions["database"]["exists"] == false => writeln!(
            out,
            "database {} (not created yet: the first scan creates it)",
            report::safe(g.settings().db.value.display())
        )?,
        None => writeln!(
            out,
            "database {} (schema {})",
            report::safe(g.settings().db.value.display()),
            versions["database"]["schema"]
        )?,
    }
    let s = g.settings();
    let path = |p: &Setting<std::path::PathBuf>| (p.value.display().to_string(), p.origin.clone());
    let opt_path = |p: &Setting<Option<std::path::PathBuf>>| {
        let value = p
            .value
            .as_ref()
            .map_or("(none)".into(), |v| v.display().to_string());
        (value, p.origin.clone())
    };
    let rows: Vec<(&str, (String, Origin))> = vec![
        ("database", path(&s.db)),
        ("home", path(&s.home)),
        ("packs", path(&s.pack_dir)),
        ("component cache", opt_path(&s.cache_dir)),
        ("watch status file", path(&s.status_file)),
        ("mute file", path(&s.mutes)),
        (
            "storage backend",
            (
                s.storage_backend.value.to_string(),
                s.storage_backend.origin.clone(),
            ),
        ),
        (
            "log level",
            (s.log_level.value.clone(), s.log_level.origin.clone()),
        ),
        (
            "aws region",
            (
                s.aws_region
                    .value
                    .clone()
                    .unwrap_or_else(|| "(the AWS SDK's chain)".into()),
                s.aws_region.origin.clone(),
            ),
        ),
        ("plugin sdk", opt_path(&s.sdk_dir)),
        ("docker config", opt_path(&s.docker_config)),
        (
            "colour",
            (s.color.value.to_string(), s.color.origin.clone()),
        ),
        (
            "table width",
            (s.columns.value.to_string(), s.columns.origin.clone()),
        ),
    ];
    writeln!(out, "settings:")?;
    for (name, (value, origin)) in rows {
        writeln!(out, "  {name:<18} {value}  ({origin})")?;
    }
    Ok(())
}
