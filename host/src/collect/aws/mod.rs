//! Live collection from AWS: credentials and scope (accounts by role,
//! regions), then every service collector across accounts and regions with
//! bounded concurrency. Produces a [`Snapshot`]: assets in the schema of
//! `docs/aws-resources.md`, plus every collection error by service,
//! operation, region and account. Collectors only read AWS; they never
//! evaluate rules.

mod client;
mod doc;
mod errors;
mod services;

#[cfg(feature = "aws-cloudtrail")]
mod cloudtrail;
#[cfg(feature = "aws-config-recorder")]
mod config;
#[cfg(feature = "aws-ec2")]
mod ec2;
#[cfg(feature = "aws-iam")]
mod iam;
#[cfg(feature = "aws-inspector2")]
mod inspector2;
#[cfg(feature = "aws-kms")]
mod kms;
#[cfg(feature = "aws-lambda")]
mod lambda;
#[cfg(feature = "aws-logs")]
mod logs;
#[cfg(feature = "aws-rds")]
mod rds;
#[cfg(feature = "aws-s3")]
mod s3;
#[cfg(feature = "aws-securityhub")]
mod securityhub;

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;

use tokio::sync::Semaphore;

pub use client::AwsError;
pub use services::{KNOWN_SERVICES, ServiceInfo};

use crate::collect::{Scope, Snapshot};
use crate::model::{Asset, CollectionError, ImportedFinding};

/// What to collect and with which credentials.
#[derive(Debug, Clone)]
pub struct AwsOptions {
    /// A named profile of the shared config files (`--profile`).
    pub profile: Option<String>,
    /// Regions to collect; empty means the default region.
    pub regions: Vec<String>,
    /// Every region enabled for the account (from EC2 DescribeRegions).
    pub all_regions: bool,
    /// Roles to assume, one account each; empty means the caller's own account.
    pub role_arns: Vec<String>,
    pub external_id: Option<String>,
    /// Services to collect (`s3`, `iam`, …); empty means all that are built.
    pub services: Vec<String>,
    /// API calls in flight at once, across accounts, regions and services.
    pub concurrency: usize,
    /// Read resources from AWS Config where a recorder records them.
    pub use_config: bool,
    /// Import Security Hub and Inspector2 findings.
    pub import_findings: bool,
}

impl Default for AwsOptions {
    fn default() -> Self {
        AwsOptions {
            profile: None,
            regions: Vec::new(),
            all_regions: false,
            role_arns: Vec::new(),
            external_id: None,
            services: Vec::new(),
            concurrency: 16,
            use_config: true,
            import_findings: true,
        }
    }
}

/// Progress of a collection, one unit per (account, region, service).
pub trait Progress: Send + Sync {
    fn begin(&self, account: &str, region: &str, services: usize);
    fn done(&self, account: &str, region: &str, service: &str);
}

/// A progress sink that shows nothing.
pub struct NoProgress;

impl Progress for NoProgress {
    fn begin(&self, _: &str, _: &str, _: usize) {}
    fn done(&self, _: &str, _: &str, _: &str) {}
}

/// Everything one service collector needs for one account and region.
pub(crate) struct Ctx {
    pub account: String,
    /// The region, or `global` for account-wide services.
    pub region: String,
    /// SDK configuration for this account, with `region` set (us-east-1 for global services).
    pub sdk: aws_config::SdkConfig,
    /// The regions of the scan (global collectors such as S3 keep only these).
    pub regions: Arc<Vec<String>>,
    pub collected_at: String,
    pub limiter: Arc<Semaphore>,
    /// Stance resource types another source (AWS Config) already collected here.
    pub covered: HashSet<&'static str>,
}

/// What one collector produced.
#[derive(Default)]
pub(crate) struct Output {
    pub assets: Vec<Asset>,
    pub errors: Vec<CollectionError>,
    pub findings: Vec<ImportedFinding>,
    /// Resource types fully collected by this output (AWS Config reports these).
    pub covered: Vec<&'static str>,
}

impl Output {
    pub fn extend(&mut self, other: Output) {
        self.assets.extend(other.assets);
        self.errors.extend(other.errors);
        self.findings.extend(other.findings);
        self.covered.extend(other.covered);
    }
}

/// Collect every requested account, region and service into a snapshot.
pub async fn collect(opts: &AwsOptions, progress: &dyn Progress) -> Result<Snapshot, AwsError> {
    let selected = services::select(&opts.services)?;
    let collected_at = crate::model::now_rfc3339();
    let base = client::base_config(opts).await;
    let accounts = client::accounts(&base, opts).await?;
    let limiter = Arc::new(Semaphore::new(opts.concurrency.max(1)));

    let mut out = Output::default();
    let mut scope_accounts = BTreeSet::new();
    let mut scope_regions = BTreeSet::new();
    for account in accounts {
        scope_accounts.insert(account.id.clone());
        let sdk = match account.config {
            Ok(sdk) => sdk,
            Err(error) => {
                // The account could not be entered: nothing in it was collected.
                out.errors.push(CollectionError {
                    resource_types: selected
                        .iter()
                        .flat_map(|s| s.types.iter().map(|t| t.to_string()))
                        .collect(),
                    ..error
                });
                continue;
            }
        };
        let regions = client::regions(&sdk, opts, &account.id, &mut out.errors).await?;
        scope_regions.extend(regions.iter().cloned());
        let regions = Arc::new(regions);
        let account_out = services::run_account(
            &account.id,
            &sdk,
            regions,
            &selected,
            opts,
            &collected_at,
            &limiter,
            progress,
        )
        .await;
        out.extend(account_out);
    }
    services::not_built(
        &opts.services,
        &scope_accounts,
        &scope_regions,
        &mut out.errors,
    );
    out.assets.sort_by(|a, b| a.id.cmp(&b.id));
    out.assets.dedup_by(|a, b| a.id == b.id);
    Ok(Snapshot {
        provider: "aws".into(),
        collected_at: Some(collected_at),
        scope: Scope {
            accounts: scope_accounts.into_iter().collect(),
            regions: scope_regions.into_iter().collect(),
        },
        assets: out.assets,
        errors: out.errors,
        findings: out.findings,
    })
}
