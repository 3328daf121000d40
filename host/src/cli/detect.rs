//! `stance detect`: run the detection rules over audit logs, store and print
//! the alerts, and route the new ones.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};

use super::{Globals, exit_code};
use crate::detect::{self, DetectOptions, DetectReport};
use crate::events::{Inputs, LogFormat, TimeRange, parse_time_bound};
use crate::model::Severity;
use crate::report::{self, Format, route};
use crate::runtime::{ComponentCache, Runtime, StateQuota};
use crate::store::AlertFilter;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Log file or directory (recursively: *.json, *.ndjson, *.jsonl, *.log, *.txt and their .gz), s3://BUCKET/PREFIX, or - for stdin (repeatable)
    #[arg(long = "input", short = 'i', value_name = "PATH", required = true, num_args = 1..)]
    inputs: Vec<String>,

    /// What the inputs hold (auto: each file by its content)
    #[arg(long, value_enum, default_value = "auto")]
    log_format: LogFormat,

    /// Only events at or after this time (RFC 3339, a date, or an age such as 36h or 7d)
    #[arg(long, value_name = "TIME")]
    since: Option<String>,

    /// Only events before this time (same forms as --since)
    #[arg(long, value_name = "TIME")]
    until: Option<String>,

    /// Extra Sigma rule file or directory, run by the built-in engine (repeatable)
    #[arg(long = "rules", value_name = "PATH")]
    rules: Vec<PathBuf>,

    /// Do not run the built-in Sigma pack
    #[arg(long)]
    no_builtin_rules: bool,

    /// Engine configuration (YAML or JSON): field mappings per log source, placeholders
    #[arg(long, value_name = "FILE")]
    sigma_config: Option<PathBuf>,

    /// Extra detector plugin: a plugin project directory, a .wasm component or a plugin.toml manifest (repeatable)
    #[arg(long = "plugin", value_name = "PATH")]
    plugins: Vec<PathBuf>,

    /// An installed rule pack, NAME or NAME@RANGE (repeatable): its Sigma rules and detector plugins run too; pinned in stance.lock
    #[arg(long = "pack", value_name = "NAME[@RANGE]")]
    packs: Vec<stance_pack::PackSpec>,

    #[command(flatten)]
    trust: super::pack::TrustArgs,

    /// Routes for new alerts: a TOML file of [[route]] tables (min_severity; webhook [+ hmac_secret_env], slack, pagerduty_routing_key_env [+ pagerduty_url], file)
    #[arg(long, value_name = "FILE")]
    route: Option<PathBuf>,

    /// Route new alerts to this webhook (JSON POST; http://, or https:// in builds with the `oci` feature; repeatable)
    #[arg(long = "route-webhook", value_name = "URL")]
    route_webhooks: Vec<String>,

    /// Append new alerts to this file as NDJSON (repeatable)
    #[arg(long = "route-file", value_name = "FILE")]
    route_files: Vec<PathBuf>,

    /// Severity at or above which --route-webhook/--route-file send alerts
    #[arg(long, value_name = "SEVERITY", default_value = "info")]
    route_min_severity: Severity,

    /// Say what routing would send without sending it
    #[arg(long)]
    dry_run: bool,

    /// Exit 1 when an alert of this run is at or above this severity
    #[arg(long, value_name = "SEVERITY")]
    fail_on: Option<Severity>,

    #[arg(long, value_enum, default_value = "table")]
    format: Format,

    /// Write the alerts to FILE instead of stdout
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,

    /// Events per plugin call
    #[arg(long, default_value_t = 2000, value_parser = clap::value_parser!(u32).range(1..))]
    batch_size: u32,

    #[command(flatten)]
    limits: super::limits::LimitArgs,

    /// Quota of each detector's kept state (correlation windows), in KiB
    #[arg(long, default_value_t = 64 << 10, value_parser = clap::value_parser!(u64).range(1..))]
    state_kib: u64,
}

pub fn run(ctx: &Globals, args: Args) -> anyhow::Result<ExitCode> {
    let now = chrono::Utc::now();
    let bound = |flag: &str, v: &Option<String>| -> anyhow::Result<_> {
        v.as_deref()
            .map(|s| parse_time_bound(s, now).map_err(anyhow::Error::msg))
            .transpose()
            .with_context(|| format!("--{flag}"))
    };
    let range = TimeRange {
        since: bound("since", &args.since)?,
        until: bound("until", &args.until)?,
    };
    let inputs = Inputs::resolve(&args.inputs, args.log_format).map_err(anyhow::Error::msg)?;
    let mut routes = match &args.route {
        Some(p) => route::load(p)?,
        None => Vec::new(),
    };
    for url in &args.route_webhooks {
        routes.push(route::Route {
            min_severity: Some(args.route_min_severity),
            webhook: Some(url.clone()),
            ..Default::default()
        });
    }
    for f in &args.route_files {
        routes.push(route::Route {
            min_severity: Some(args.route_min_severity),
            file: Some(f.clone()),
            ..Default::default()
        });
    }
    for r in &routes {
        if let Err(e) = route::check(r) {
            bail!("route: {e}");
        }
    }

    let mut store = ctx.store()?;
    let rt = Runtime::new(ComponentCache::from_env())?;
    let limits = args.limits.limits();
    let packs = super::pack::sources(ctx, &args.packs, &args.trust, limits)?;
    let opts = DetectOptions {
        pack_rules: packs
            .rules
            .into_iter()
            .map(|f| detect::RuleFile {
                path: f.path,
                text: f.text,
            })
            .collect(),
        pack_detectors: packs.detectors,
        builtin_rules: !args.no_builtin_rules,
        rule_paths: args.rules.clone(),
        engine_config: args.sigma_config.clone(),
        plugins: args.plugins.clone(),
        limits,
        quota: StateQuota {
            max_bytes: (args.state_kib as usize) << 10,
            ..StateQuota::default()
        },
        batch_size: args.batch_size as usize,
        range,
    };
    let report = detect::run(&rt, &mut store, &inputs, &args.inputs, &opts)?;

    let rows = store.alerts(&AlertFilter {
        run: Some(report.run_id),
        include_duplicates: true,
        include_suppressed: true,
        ..Default::default()
    })?;
    let deliveries = route::deliver(&routes, report.run_id, &report.new_alerts, args.dry_run);
    let route_failed = deliveries.iter().any(|d| d.error.is_some());

    let mut out = report::open_output(args.output.as_deref()).with_context(|| {
        format!(
            "opening {}",
            args.output
                .as_deref()
                .unwrap_or("stdout".as_ref())
                .display()
        )
    })?;
    match args.format {
        Format::Json => report::write_json(
            &mut out,
            &serde_json::json!({"run": report, "alerts": rows, "routes": deliveries}),
        )?,
        format => report::alerts::write(&mut out, &rows, format)?,
    }
    out.flush()?;
    if !ctx.quiet() {
        summary(&report, &deliveries, args.dry_run)?;
    }
    let errors = report.has_errors() || route_failed;
    Ok(exit_code(
        errors,
        rows.iter()
            .filter(|a| a.suppressed_by.is_none())
            .map(|a| a.severity),
        args.fail_on,
    ))
}

fn summary(r: &DetectReport, deliveries: &[route::Delivery], dry_run: bool) -> std::io::Result<()> {
    let mut e = std::io::stderr().lock();
    let t = &r.totals;
    writeln!(
        e,
        "Detection run #{} of {} input file(s)\n  {} events ({} outside --since/--until) in {} batches, {:.2}s",
        r.run_id,
        t.files,
        t.events,
        t.out_of_range,
        t.batches,
        r.elapsed_ms / 1000.0
    )?;
    let sev: Vec<String> = Severity::ALL
        .iter()
        .map(|s| {
            format!(
                "{s} {}",
                t.by_severity.get(s.as_str()).copied().unwrap_or(0)
            )
        })
        .collect();
    writeln!(
        e,
        "  alerts: {} new ({}), {} raised by an earlier run, {} suppressed",
        t.alerts,
        sev.join(", "),
        t.duplicates,
        t.suppressed
    )?;
    writeln!(
        e,
        "  rules: {} loaded, {} not loaded",
        t.rules,
        t.rule_errors.len()
    )?;
    for d in &r.detectors {
        writeln!(
            e,
            "  plugin {} {} ({} rules, cache {}, {:.1} ms to load, {} state keys kept)",
            d.name,
            d.version,
            d.rules,
            d.cache,
            d.load_ms,
            t.state_keys.get(&d.name).copied().unwrap_or(0)
        )?;
    }
    for err in &t.rule_errors {
        writeln!(e, "  rule not loaded: {err}")?;
    }
    for err in &t.input_errors {
        writeln!(e, "  input error: {err}")?;
    }
    for f in &r.failures {
        writeln!(
            e,
            "  failed batch #{} of plugin {} ({} events): {}",
            f.batch, f.plugin, f.assets, f.cause
        )?;
    }
    for d in deliveries {
        match &d.error {
            Some(err) => writeln!(
                e,
                "  route {}: FAILED after {} attempt(s): {err}",
                d.destination, d.attempts
            )?,
            None if dry_run => writeln!(
                e,
                "  route {}: would send {} alert(s) (dry run)",
                d.destination, d.alerts
            )?,
            None => writeln!(e, "  route {}: sent {} alert(s)", d.destination, d.alerts)?,
        }
    }
    Ok(())
}
