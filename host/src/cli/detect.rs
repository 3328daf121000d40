//! `stance detect`: run the detection rules over audit logs, store and print
//! the alerts, and route the new ones.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};

use super::{Globals, exit_code};
use crate::catalog::{DetectorSelection, Selection};
use crate::events::{Inputs, LogFormat, TimeRange, parse_time_bound};
use crate::model::Severity;
use crate::notify::{self, Route};
use crate::pipeline::{self, DetectOptions};
use crate::report::{self, Format};
use crate::runtime::StateQuota;
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

    /// Do not run the built-in Sigma rules
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

    /// Route new alerts to this webhook (JSON POST; http:// or https://; repeatable)
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

    /// Hand every detector every event, ignoring the prefilters detectors declare (the alerts are the same; for comparison)
    #[arg(long)]
    no_prefilter: bool,

    #[command(flatten)]
    limits: super::limits::LimitArgs,

    /// Quota of each detector's kept state (correlation windows), in KiB
    #[arg(long, default_value_t = 64 << 10, value_parser = crate::runtime::limits::STATE_KIB.parser())]
    state_kib: u64,

    #[command(flatten)]
    input_limits: super::source::InputLimitArgs,
}

pub fn run(g: &Globals, args: Args) -> anyhow::Result<ExitCode> {
    if args.format == Format::Junit {
        return Err(report::unsupported(args.format, "alerts").into());
    }
    let range = time_range(&args)?;
    let inputs = Inputs::resolve(&args.inputs, args.log_format)
        .map_err(anyhow::Error::msg)?
        .with_region(g.settings().aws_region.value.clone());
    let routes = routes(g, &args)?;
    let mut store = g.store()?;
    let rt = g.runtime()?;
    let selection = Selection {
        policies: None,
        detectors: Some(DetectorSelection {
            builtin: !args.no_builtin_rules,
            rule_paths: args.rules.clone(),
            engine_config: args.sigma_config.clone(),
            plugins: args.plugins.clone(),
        }),
        packs: args.packs.clone(),
        pack_dir: g.settings().pack_dir.value.clone(),
        trust: args.trust.config(g.settings()),
        limits: args.limits.limits(),
    };
    let resolved = super::pack::resolve(g, &selection)?;
    let set = pipeline::load_detectors(&rt, resolved.detectors.unwrap_or_default())?;
    let opts = DetectOptions {
        quota: StateQuota {
            max_bytes: crate::runtime::limits::state_bytes(args.state_kib)?,
            ..StateQuota::default()
        },
        batch_size: args.batch_size as usize,
        range,
        limits: args.input_limits.limits(),
        prefilter: !args.no_prefilter,
    };
    let report = pipeline::detect::run(&mut store, &inputs, &args.inputs, &opts, &set)?;

    let rows = store.alerts(&AlertFilter {
        run: Some(report.run_id),
        include_duplicates: true,
        include_suppressed: true,
        ..Default::default()
    })?;
    let deliveries = notify::deliver(
        &routes,
        report.run_id,
        &report.new_alerts,
        args.dry_run,
        &g.settings().env,
    );
    let route_failed = deliveries.iter().any(|d| d.error.is_some());

    let mut out = super::output(args.output.as_deref())?;
    match args.format {
        Format::Json => report::write_json(
            &mut out,
            &serde_json::json!({"run": report, "alerts": rows, "routes": deliveries}),
        )?,
        format => {
            let reasons = report::exchange::suppression_reasons(&store)?;
            report::alerts::write_with_reasons(&mut out, &rows, format, &reasons)?
        }
    }
    out.flush()?;
    if !g.quiet() {
        let mut e = std::io::stderr().lock();
        report::alerts::summary(&mut e, &report, &deliveries, args.dry_run)?;
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

/// `--since` and `--until`, relative to now.
fn time_range(args: &Args) -> anyhow::Result<TimeRange> {
    let now = chrono::Utc::now();
    let bound = |flag: &str, v: &Option<String>| -> anyhow::Result<_> {
        v.as_deref()
            .map(|s| parse_time_bound(s, now).map_err(anyhow::Error::msg))
            .transpose()
            .with_context(|| format!("--{flag}"))
    };
    Ok(TimeRange {
        since: bound("since", &args.since)?,
        until: bound("until", &args.until)?,
    })
}

/// The routes of `--route FILE` and of the route flags, checked.
fn routes(g: &Globals, args: &Args) -> anyhow::Result<Vec<Route>> {
    let env = &g.settings().env;
    let mut routes = match &args.route {
        Some(p) => notify::load(p, env)?,
        None => Vec::new(),
    };
    for url in &args.route_webhooks {
        routes.push(Route {
            min_severity: Some(args.route_min_severity),
            webhook: Some(url.clone()),
            ..Default::default()
        });
    }
    for f in &args.route_files {
        routes.push(Route {
            min_severity: Some(args.route_min_severity),
            file: Some(f.clone()),
            ..Default::default()
        });
    }
    for r in &routes {
        if let Err(e) = notify::check(r, env) {
            bail!("route: {e}");
        }
    }
    Ok(routes)
}
