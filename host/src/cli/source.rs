//! Where `scan` and `collect` get assets: a snapshot file, or a live
//! collection (`--provider aws` with its credential and scope flags), with a
//! progress bar per account and region.

use std::collections::BTreeSet;
use std::path::PathBuf;

use anyhow::bail;

use crate::collect::context::{self, Covered};
use crate::collect::{self, Snapshot};

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

    /// Only these services (comma-separated: s3, iam, ec2, rds, cloudtrail, kms, lambda, logs, dynamodb, acm, elbv2, ecr, eks, efs, sns, sqs, secretsmanager, config, guardduty, accessanalyzer, securityhub, inspector2)
    #[arg(
        long,
        value_delimiter = ',',
        value_name = "SERVICE",
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

/// Read the snapshot or run the collection; returns it with a label for the scan record.
pub fn gather(args: &SourceArgs, interactive: bool) -> anyhow::Result<(Snapshot, String)> {
    match (&args.snapshot, args.provider) {
        (Some(path), _) => {
            let mut snapshot = collect::snapshot::read(path)?;
            // A snapshot states what exists: every type counts as collected.
            with_context(&mut snapshot, Covered::All);
            Ok((snapshot, format!("snapshot:{}", path.display())))
        }
        (None, Some(Provider::Aws)) => {
            let mut snapshot = collect_aws(&args.aws, interactive)?;
            let selected = selected_types(&args.aws.services);
            with_context(&mut snapshot, Covered::Only(&selected));
            Ok((snapshot, "aws".to_string()))
        }
        (None, None) => {
            bail!("say what to scan: --snapshot FILE, or --provider aws to collect live")
        }
    }
}

/// Add the derived account-context assets (collect/context.rs) to an AWS collection.
fn with_context(snapshot: &mut Snapshot, covered: Covered<'_>) {
    if snapshot.provider != "aws" {
        return;
    }
    let at = snapshot
        .collected_at
        .clone()
        .or_else(|| snapshot.assets.iter().map(|a| a.collected_at.clone()).max())
        .unwrap_or_else(stance_model::now_rfc3339);
    context::derive(
        &mut snapshot.assets,
        &snapshot.errors,
        &snapshot.scope.accounts,
        covered,
        &at,
    );
}

/// The resource types of the services a live collection selected (all when none named).
#[cfg(feature = "aws-core")]
fn selected_types(services: &[String]) -> BTreeSet<String> {
    collect::aws::KNOWN_SERVICES
        .iter()
        .filter(|s| services.is_empty() || services.iter().any(|n| n == s.name))
        .flat_map(|s| s.types.iter().map(|t| t.to_string()))
        .collect()
}

#[cfg(not(feature = "aws-core"))]
fn selected_types(_: &[String]) -> BTreeSet<String> {
    BTreeSet::new()
}

#[cfg(feature = "aws-core")]
fn collect_aws(args: &AwsArgs, interactive: bool) -> anyhow::Result<Snapshot> {
    use anyhow::Context;

    use crate::collect::aws::{self, AwsOptions};

    let opts = AwsOptions {
        profile: args.profile.clone(),
        regions: args.regions.clone(),
        all_regions: args.all_regions,
        role_arns: args.role_arns.clone(),
        external_id: args.external_id.clone(),
        services: args.services.clone(),
        concurrency: args.concurrency as usize,
        use_config: !args.no_config,
        import_findings: !args.no_imported_findings,
    };
    // The collectors' futures are large (the SDK crates and stance-aws are
    // built at opt-level 0, where every match arm keeps its own stack slots):
    // tokio's default 2 MiB worker stack overflowed once the services grew.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(16 * 1024 * 1024)
        .build()
        .context("starting the async runtime")?;
    let progress = bars::Bars::new(interactive);
    let snapshot = runtime.block_on(aws::collect(&opts, &progress))?;
    progress.finish();
    Ok(snapshot)
}

#[cfg(not(feature = "aws-core"))]
fn collect_aws(_: &AwsArgs, _: bool) -> anyhow::Result<Snapshot> {
    bail!("this stance binary was built without AWS collection (the `aws` cargo feature)")
}

#[cfg(feature = "aws-core")]
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

    impl crate::collect::aws::Progress for Bars {
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
