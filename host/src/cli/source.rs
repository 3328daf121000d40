//! Where `scan`, `collect` and `watch` get assets: the flags of a snapshot
//! file or a live collection (`--provider aws` with its credential and scope
//! flags), turned into a `collect::Source`, and a progress bar per account
//! and region while it is gathered. Also the input-limit flags
//! ([`InputLimitArgs`]) that hold every snapshot, asset and log record
//! (`intake::InputLimits`), shared with `detect`.

use std::path::PathBuf;

use anyhow::bail;

use crate::collect::{self, Snapshot, Source};
use crate::intake::InputLimits;
use crate::settings::Settings;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Provider {
    Aws,
}

#[derive(Debug, clap::Args)]
pub struct SourceArgs {
    /// Snapshot of assets to scan (JSON or NDJSON, optionally gzipped; see docs/snapshot-format.md)
    #[arg(long, value_name = "FILE", conflicts_with = "provider")]
    pub snapshot: Option<PathBuf>,

    /// Collect live from a cloud provider
    #[arg(long, value_enum)]
    pub provider: Option<Provider>,

    #[command(flatten)]
    pub aws: AwsArgs,

    #[command(flatten)]
    pub limits: InputLimitArgs,
}

/// The limits on what one input may make Stance hold (`intake::InputLimits`).
#[derive(Debug, Clone, clap::Args)]
pub struct InputLimitArgs {
    /// Largest record read (a log record, a snapshot asset), in MiB (1 to 1024); a larger one is refused alone
    #[arg(
        long,
        value_name = "MIB",
        default_value_t = (InputLimits::DEFAULT.record_bytes >> 20) as u64,
        value_parser = clap::value_parser!(u64).range(1..=1024)
    )]
    max_record_mib: u64,

    /// Longest line of line-oriented input (VPC Flow Logs, NDJSON snapshots), in MiB (1 to 1024)
    #[arg(
        long,
        value_name = "MIB",
        default_value_t = (InputLimits::DEFAULT.line_bytes >> 20) as u64,
        value_parser = clap::value_parser!(u64).range(1..=1024)
    )]
    max_line_mib: u64,

    /// Most a gzipped input may decompress to, in GiB (1 to 1024; streamed, never held)
    #[arg(
        long,
        value_name = "GIB",
        default_value_t = InputLimits::DEFAULT.decompressed_bytes >> 30,
        value_parser = clap::value_parser!(u64).range(1..=1024)
    )]
    max_decompressed_gib: u64,

    /// Deepest nesting (objects and arrays) of a record (1 to 100: plugins refuse 128); a deeper one is refused alone
    #[arg(
        long,
        value_name = "LEVELS",
        default_value_t = InputLimits::DEFAULT.depth as u64,
        value_parser = clap::value_parser!(u64).range(1..=InputLimits::MAX_DEPTH as u64)
    )]
    max_record_depth: u64,
}

impl InputLimitArgs {
    /// The limits the flags set.
    pub fn limits(&self) -> InputLimits {
        InputLimits {
            record_bytes: (self.max_record_mib as usize) << 20,
            line_bytes: (self.max_line_mib as usize) << 20,
            decompressed_bytes: self.max_decompressed_gib << 30,
            depth: self.max_record_depth as usize,
        }
    }
}

#[derive(Debug, Default, clap::Args)]
pub struct AwsArgs {
    /// AWS profile from the shared config files (default: the standard credential chain)
    #[arg(long, value_name = "NAME", requires = "provider")]
    pub profile: Option<String>,

    /// Region to collect (repeatable; default STANCE_AWS_REGION, AWS_REGION or the profile's)
    #[arg(long = "region", value_name = "REGION", requires = "provider")]
    pub regions: Vec<String>,

    /// Collect every region enabled for each account
    #[arg(long, conflicts_with = "regions", requires = "provider")]
    pub all_regions: bool,

    /// Assume this role to collect its account (repeatable: one account each)
    #[arg(long = "role-arn", value_name = "ARN", requires = "provider")]
    pub role_arns: Vec<String>,

    /// External id to pass when assuming --role-arn
    #[arg(long, value_name = "ID", requires = "role_arns")]
    pub external_id: Option<String>,

    /// Only these services (comma-separated)
    #[arg(
        long,
        value_delimiter = ',',
        value_name = "SERVICE",
        value_parser = service_names(),
        requires = "provider"
    )]
    pub services: Vec<String>,

    /// AWS API calls in flight at once
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub concurrency: u32,

    /// Do not read resources from AWS Config, even where a recorder is on
    #[arg(long, requires = "provider")]
    pub no_config: bool,

    /// Do not import Security Hub and Inspector2 findings
    #[arg(long, requires = "provider")]
    pub no_imported_findings: bool,
}

/// The service names `--services` takes: every service of the registry
/// (`stance_aws::KNOWN_SERVICES`), built into this binary or not.
fn service_names() -> clap::builder::PossibleValuesParser {
    #[cfg(feature = "aws-core")]
    let names: Vec<&'static str> = collect::aws::KNOWN_SERVICES
        .iter()
        .map(|s| s.name)
        .collect();
    #[cfg(not(feature = "aws-core"))]
    let names: Vec<&'static str> = Vec::new();
    clap::builder::PossibleValuesParser::new(names)
}

impl SourceArgs {
    /// Did the flags name something to collect?
    pub fn given(&self) -> bool {
        self.snapshot.is_some() || self.provider.is_some()
    }

    /// The collection source the flags name (the region defaults to
    /// `STANCE_AWS_REGION` when no `--region` is given).
    pub fn source(&self, settings: &Settings) -> anyhow::Result<Source> {
        match (&self.snapshot, self.provider) {
            (Some(path), _) => Ok(Source::Snapshot(path.clone(), self.limits.limits())),
            (None, Some(Provider::Aws)) => aws_source(&self.aws, settings),
            (None, None) => {
                bail!("say what to scan: --snapshot FILE, or --provider aws to collect live")
            }
        }
    }
}

/// Collect, with one progress bar per account and region on a terminal.
pub fn gather(source: &Source, interactive: bool) -> anyhow::Result<(Snapshot, String)> {
    let bars = bars::Bars::new(interactive);
    let gathered = collect::gather(source, &bars);
    bars.finish();
    Ok(gathered?)
}

#[cfg(feature = "aws-core")]
fn aws_source(args: &AwsArgs, settings: &Settings) -> anyhow::Result<Source> {
    // STANCE_AWS_REGION stands for --region when none is given (with
    // --all-regions it is where the enabled regions are asked for).
    let mut regions = args.regions.clone();
    if regions.is_empty()
        && let Some(r) = &settings.aws_region.value
    {
        regions.push(r.clone());
    }
    Ok(Source::Aws(collect::aws::AwsOptions {
        profile: args.profile.clone(),
        regions,
        all_regions: args.all_regions,
        role_arns: args.role_arns.clone(),
        external_id: args.external_id.clone(),
        services: args.services.clone(),
        concurrency: args.concurrency as usize,
        use_config: !args.no_config,
        import_findings: !args.no_imported_findings,
    }))
}

#[cfg(not(feature = "aws-core"))]
fn aws_source(_: &AwsArgs, _: &Settings) -> anyhow::Result<Source> {
    bail!(
        "this stance binary was built without AWS collection (the `aws` cargo feature); build the full binary with `cargo build --release -p stance`"
    )
}

mod bars {
    use std::collections::HashMap;
    use std::sync::Mutex;

    use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

    /// One bar per account and region, counting services.
    pub struct Bars {
        multi: MultiProgress,
        bars: Mutex<HashMap<String, ProgressBar>>,
    }

    impl Bars {
        pub fn new(visible: bool) -> Bars {
            let target = if visible {
                ProgressDrawTarget::stderr()
            } else {
                ProgressDrawTarget::hidden()
            };
            Bars {
                multi: MultiProgress::with_draw_target(target),
                bars: Mutex::new(HashMap::new()),
            }
        }

        pub fn finish(&self) {
            let bars = self.bars.lock().unwrap_or_else(|e| e.into_inner());
            for b in bars.values() {
                b.finish_and_clear();
            }
        }
    }

    impl crate::collect::Progress for Bars {
        fn begin(&self, account: &str, region: &str, services: usize) {
            let bar = self.multi.add(ProgressBar::new(services as u64));
            bar.set_style(
                ProgressStyle::with_template("{prefix:>30} [{bar:20}] {pos}/{len} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            bar.set_prefix(format!("{account} {region}"));
            self.bars
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(format!("{account}/{region}"), bar);
        }

        fn done(&self, account: &str, region: &str, service: &str) {
            if let Some(bar) = self
                .bars
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(&format!("{account}/{region}"))
            {
                bar.inc(1);
                bar.set_message(format!("{service} done"));
            }
        }
    }
}
