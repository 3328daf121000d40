//! `stance alerts`: query stored alerts; manage suppressions.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::bail;

use super::{Globals, exit_code};
use crate::events::parse_time_bound;
use crate::model::Severity;
use crate::report::{self, Format};
use crate::store::AlertFilter;

#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Args {
    #[command(subcommand)]
    command: Option<Command>,

    /// Only the alerts of this detection run (default: every run)
    #[arg(long, value_name = "ID")]
    run: Option<i64>,

    /// Only the alerts of the latest detection run
    #[arg(long, conflicts_with = "run")]
    latest: bool,

    /// Only these severities (repeatable or comma-separated)
    #[arg(long, value_delimiter = ',', value_name = "SEVERITY")]
    severity: Vec<Severity>,

    /// Only alerts at or above this severity
    #[arg(long, value_name = "SEVERITY")]
    min_severity: Option<Severity>,

    /// Only these rule ids (repeatable or comma-separated)
    #[arg(long, value_delimiter = ',', value_name = "RULE")]
    rule: Vec<String>,

    /// Only alerts whose window ends at or after this time (RFC 3339, a date, or an age such as 7d)
    #[arg(long, value_name = "TIME")]
    since: Option<String>,

    /// Also list alerts that repeat one raised by an earlier run
    #[arg(long)]
    include_duplicates: bool,

    /// Also list alerts a suppression silenced
    #[arg(long)]
    include_suppressed: bool,

    /// At most this many alerts
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32))]
    limit: Option<u32>,

    #[arg(long, value_enum, default_value = "table")]
    format: Format,

    /// Write to FILE instead of stdout
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,

    /// Exit 1 when a listed alert is at or above this severity
    #[arg(long, value_name = "SEVERITY")]
    fail_on: Option<Severity>,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Silence the alerts of a rule until a time: they are stored (marked), not routed, not counted by --fail-on
    Suppress(SuppressArgs),
    /// List the suppressions in force (--all: expired ones too)
    Suppressions {
        /// Also expired suppressions
        #[arg(long)]
        all: bool,
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
    /// Delete a suppression
    Unsuppress {
        /// Its id (`stance alerts suppressions`)
        id: i64,
    },
}

#[derive(Debug, clap::Args)]
struct SuppressArgs {
    /// The rule id whose alerts to silence, or a glob (`stance-test-*`, as in mutes)
    #[arg(long, value_name = "RULE")]
    rule: String,

    /// Only alerts with this correlation group key
    #[arg(long, value_name = "KEY")]
    group_key: Option<String>,

    /// Only alerts whose FIELD has VALUE (account, region, source, plugin, title, message, or an evidence path such as userIdentity.arn; repeatable, all must hold)
    #[arg(long = "match", value_name = "FIELD=VALUE")]
    matches: Vec<String>,

    /// Expiry: RFC 3339, a date (midnight UTC), or a duration from now (90m, 36h, 7d)
    #[arg(long, value_name = "TIME")]
    until: String,

    /// Why (kept with the suppression)
    #[arg(long, value_name = "TEXT")]
    reason: String,
}

/// An expiry: RFC 3339, a date, or a duration from now (`7d`).
pub(crate) fn parse_expiry(
    s: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<chrono::DateTime<chrono::Utc>, String> {
    let t = s.trim();
    let is_duration = t.len() > 1
        && t[..t.len() - 1].parse::<i64>().is_ok()
        && matches!(&t[t.len() - 1..], "s" | "m" | "h" | "d");
    let at = parse_time_bound(t, now).map_err(|_| {
        format!(
            "{s:?} is not an expiry: use RFC 3339 (2026-12-31T00:00:00Z), a date (2026-12-31) or a duration from now (90m, 36h, 7d)"
        )
    })?;
    // parse_time_bound reads a duration as an age before now; an expiry is after.
    Ok(if is_duration { now + (now - at) } else { at })
}

fn suppress(g: &Globals, a: SuppressArgs) -> anyhow::Result<ExitCode> {
    let now = chrono::Utc::now();
    let until = parse_expiry(&a.until, now).map_err(anyhow::Error::msg)?;
    let mut matches = Vec::new();
    for m in &a.matches {
        let Some((field, value)) = m.split_once('=') else {
            bail!("--match {m:?}: expected FIELD=VALUE");
        };
        if field.trim().is_empty() {
            bail!("--match {m:?}: the field is empty");
        }
        matches.push((field.trim().to_string(), value.to_string()));
    }
    if a.reason.trim().is_empty() {
        bail!("--reason: say why the alerts are suppressed");
    }
    let store = g.store()?;
    let until_s = until.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let id = store.add_suppression(
        &a.rule,
        a.group_key.as_deref(),
        &matches,
        &until_s,
        &a.reason,
        &now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    )?;
    if until <= now {
        crate::say_err!(
            "warning: suppression #{id} expired already ({until_s}); it silences nothing"
        );
    }
    crate::say!(
        "suppression #{id}: rule {} until {until_s}",
        report::safe(&a.rule)
    );
    Ok(ExitCode::SUCCESS)
}

fn list_suppressions(g: &Globals, all: bool, format: Format) -> anyhow::Result<ExitCode> {
    let store = g.store_read()?;
    let now = chrono::Utc::now();
    let rows: Vec<_> = store
        .suppressions()?
        .into_iter()
        .filter(|s| all || s.active(&now))
        .collect();
    let mut out = std::io::stdout().lock();
    match format {
        Format::Json => {
            let v: Vec<serde_json::Value> = rows
                .iter()
                .map(|s| {
                    let mut v = serde_json::to_value(s).unwrap_or_default();
                    v["matches"] = s
                        .matches
                        .iter()
                        .map(|(f, val)| (f.clone(), serde_json::Value::from(val.clone())))
                        .collect::<serde_json::Map<_, _>>()
                        .into();
                    v["active"] = s.active(&now).into();
                    v
                })
                .collect();
            report::write_json(&mut out, &v)?;
        }
        _ => {
            // Rules, keys, values and reasons are the user's text: escaped.
            let mut out = report::TerminalWriter::new(&mut out);
            if rows.is_empty() {
                writeln!(out, "no {}suppressions", if all { "" } else { "active " })?;
            }
            for s in &rows {
                let mut scope = format!("rule {}", s.rule_id);
                if let Some(k) = &s.group_key {
                    scope.push_str(&format!(", group {k}"));
                }
                for (f, v) in &s.matches {
                    scope.push_str(&format!(", {f}={v}"));
                }
                let state = if s.active(&now) { "until" } else { "expired" };
                writeln!(out, "#{} {scope} {state} {}: {}", s.id, s.until, s.reason)?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn run(g: &Globals, args: Args) -> anyhow::Result<ExitCode> {
    match args.command {
        Some(Command::Suppress(a)) => return suppress(g, a),
        Some(Command::Suppressions { all, format }) => return list_suppressions(g, all, format),
        Some(Command::Unsuppress { id }) => {
            let store = g.store()?;
            if !store.remove_suppression(id)? {
                bail!(
                    "there is no suppression #{id} in {}",
                    store.path().display()
                );
            }
            crate::say!("suppression #{id} deleted");
            return Ok(ExitCode::SUCCESS);
        }
        None => {}
    }
    if args.format == Format::Junit {
        return Err(report::unsupported(args.format, "alerts").into());
    }
    let store = g.store_read()?;
    let run = if args.latest {
        match store.latest_detection_run_id()? {
            Some(id) => Some(id),
            None => bail!(
                "no detection runs in {} yet; run `stance detect` first",
                store.path().display()
            ),
        }
    } else {
        if let Some(id) = args.run
            && store.detection_runs(Some(id), 1)?.is_empty()
        {
            bail!(
                "there is no complete detection run #{id} in {}",
                store.path().display()
            );
        }
        args.run
    };
    let since = args
        .since
        .as_deref()
        .map(|s| parse_time_bound(s, chrono::Utc::now()).map_err(anyhow::Error::msg))
        .transpose()?
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
    let rows = store.alerts(&AlertFilter {
        run,
        severities: args.severity,
        min_severity: args.min_severity,
        rules: args.rule,
        since,
        include_duplicates: args.include_duplicates,
        include_suppressed: args.include_suppressed,
        limit: args.limit.map(|l| l as usize),
    })?;
    let mut out = report::open_output(args.output.as_deref())?;
    let reasons = report::exchange::suppression_reasons(&store)?;
    report::alerts::write_with_reasons(&mut out, &rows, args.format, &reasons)?;
    out.flush()?;
    Ok(exit_code(
        false,
        rows.iter().map(|a| a.severity),
        args.fail_on,
    ))
}
