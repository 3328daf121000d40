//! Stance's live AWS collector: credentials and scope (accounts by role,
//! regions), then every service collector across accounts and regions with
//! bounded concurrency. Produces a [`Snapshot`]: assets in the schema of
//! `docs/aws-resources.md`, plus every collection error by service,
//! operation, region and account. Collectors only read AWS; they never
//! evaluate rules, and the crate never reads Stance's own settings (the host
//! resolves them, `STANCE_AWS_REGION` included, into [`AwsOptions`]). The
//! host re-exports this crate as `stance::collect::aws`.
//!
//! The tree: `services/` holds the registry (one line per service, each
//! service a cargo feature) and one collector per service; `toolkit/` what
//! they share (SDK configuration, accounts and regions, `Target`: the account
//! and region a collector reads, error classification, gaps, normalization);
//! `config_source/` AWS Config as a source of other services' assets;
//! `run.rs` the fan-out of one account.
//!
//! One module writes to AWS: [`securityhub_export`], the Security Hub client
//! through which the host's exporter (`stance export securityhub`) imports
//! Stance's findings, on the same credentials and configuration.
#![warn(missing_docs)]

#[cfg(feature = "config-recorder")]
mod config_source;
mod run;
#[cfg(feature = "securityhub")]
pub mod securityhub_export;
mod services;
mod toolkit;

use std::collections::BTreeSet;
use std::sync::Arc;

use stance_model::{Scope, Snapshot};
use tokio::sync::Semaphore;

#[cfg(feature = "s3")]
pub use services::s3::objects::{KeyPage, ObjectBody, S3Objects};
pub use services::{KNOWN_SERVICES, ServiceInfo};
use toolkit::{Output, scope, sdk};

/// A failure that stops the whole collection (before any account is read).
#[derive(Debug, thiserror::Error)]
pub enum AwsError {
    /// The options cannot be used (an unknown service, a malformed role ARN,
    /// an invalid retry setting); the message says which and why.
    #[error("{0}")]
    Options(String),
    /// The credentials do not identify an account (STS GetCallerIdentity failed).
    #[error(
        "cannot identify the AWS account of the credentials ({0}); configure credentials (environment, --profile, SSO or an instance role)"
    )]
    Identity(String),
}

/// What to collect and with which credentials.
///
/// Credentials, region and endpoint come from the standard AWS chain
/// (environment, `--profile`, SSO, instance roles; `AWS_ENDPOINT_URL`).
/// Retry is adaptive with 6 attempts unless the environment sets
/// `AWS_MAX_ATTEMPTS` or `AWS_RETRY_MODE`, in which case aws-config's own
/// handling of those (and of the profile's settings) decides.
#[derive(Debug, Clone)]
pub struct AwsOptions {
    /// A named profile of the shared config files (`--profile`).
    pub profile: Option<String>,
    /// Regions to collect; empty means the default region (`AWS_REGION` or
    /// the profile's, else us-east-1). The host puts its own default region
    /// (`STANCE_AWS_REGION`) here.
    pub regions: Vec<String>,
    /// Every region enabled for the account (from EC2 DescribeRegions).
    pub all_regions: bool,
    /// Roles to assume, one account each; empty means the caller's own account.
    pub role_arns: Vec<String>,
    /// The external id the roles' trust policies require (`--external-id`).
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
    /// Collection in `account` and `region` (or `global`) starts, with this
    /// many services to run there.
    fn begin(&self, account: &str, region: &str, services: usize);
    /// One service finished in `account` and `region`.
    fn done(&self, account: &str, region: &str, service: &str);
}

/// A progress sink that shows nothing.
pub struct NoProgress;

impl Progress for NoProgress {
    fn begin(&self, _: &str, _: &str, _: usize) {}
    fn done(&self, _: &str, _: &str, _: &str) {}
}

/// Collect every requested account, region and service into a snapshot.
pub async fn collect(opts: &AwsOptions, progress: &dyn Progress) -> Result<Snapshot, AwsError> {
    let selected = services::select(&opts.services)?;
    let collected_at = stance_model::now_rfc3339();
    let base = sdk::base_config(opts).await?;
    let accounts = scope::accounts(&base, opts).await?;
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
                out.errors.push(stance_model::CollectionError {
                    resource_types: selected
                        .iter()
                        .flat_map(|s| s.types.iter().map(|t| t.to_string()))
                        .collect(),
                    ..error
                });
                continue;
            }
        };
        let regions = scope::regions(&sdk, opts, &account.id, &mut out.errors).await?;
        scope_regions.extend(regions.iter().cloned());
        let run = run::AccountRun {
            account: &account.id,
            sdk: &sdk,
            regions: Arc::new(regions),
            selected: &selected,
            opts,
            collected_at: &collected_at,
            limiter: &limiter,
        };
        out.extend(run.collect(progress).await);
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
