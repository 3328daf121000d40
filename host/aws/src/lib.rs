//! Stance's live AWS collector: credentials and scope (accounts by role,
//! regions), then every service collector across accounts and regions with
//! bounded concurrency. Produces a [`Snapshot`]: assets in the schema of
//! `docs/aws-resources.md`, plus every collection error by service,
//! operation, region and account. Collectors only read AWS; they never
//! evaluate rules. One cargo feature per service; the host re-exports this
//! crate as `stance::collect::aws`.

/// The toolkit the service collectors share: the SDK configuration and
/// [`Ctx`] (calls, pages, assets), normalization, error classification and
/// gap recording. A build with only some services leaves parts of it unused,
/// which is no defect: the build with every service checks it for dead code.
macro_rules! toolkit {
    ($($module:item)*) => {$(
        #[cfg_attr(
            not(all(
                feature = "s3",
                feature = "iam",
                feature = "ec2",
                feature = "rds",
                feature = "cloudtrail",
                feature = "kms",
                feature = "lambda",
                feature = "logs",
                feature = "config-recorder",
                feature = "securityhub",
                feature = "inspector2",
                feature = "guardduty",
                feature = "accessanalyzer",
                feature = "efs",
                feature = "sns",
                feature = "sqs",
                feature = "secretsmanager",
                feature = "dynamodb",
                feature = "acm",
                feature = "elbv2",
                feature = "ecr",
                feature = "eks",
            )),
            allow(dead_code)
        )]
        $module
    )*};
}

toolkit! {
    mod client;
    mod doc;
    mod errors;
    mod record;
}
mod services;

#[cfg(feature = "accessanalyzer")]
mod accessanalyzer;
#[cfg(feature = "acm")]
mod acm;
#[cfg(feature = "cloudtrail")]
mod cloudtrail;
#[cfg(feature = "config-recorder")]
mod config;
#[cfg(feature = "config-recorder")]
mod config_status;
#[cfg(feature = "dynamodb")]
mod dynamodb;
#[cfg(feature = "ec2")]
mod ec2;
#[cfg(feature = "ecr")]
mod ecr;
#[cfg(feature = "efs")]
mod efs;
#[cfg(feature = "eks")]
mod eks;
#[cfg(feature = "elbv2")]
mod elbv2;
#[cfg(feature = "guardduty")]
mod guardduty;
#[cfg(feature = "iam")]
mod iam;
#[cfg(feature = "inspector2")]
mod inspector2;
#[cfg(feature = "kms")]
mod kms;
#[cfg(feature = "lambda")]
mod lambda;
#[cfg(feature = "logs")]
mod logs;
#[cfg(feature = "s3")]
mod objects;
#[cfg(feature = "rds")]
mod rds;
#[cfg(feature = "s3")]
mod s3;
#[cfg(feature = "secretsmanager")]
mod secretsmanager;
#[cfg(feature = "securityhub")]
mod securityhub;
#[cfg(feature = "securityhub")]
mod securityhub_hub;
#[cfg(feature = "sns")]
mod sns;
#[cfg(feature = "sqs")]
mod sqs;

use std::collections::BTreeSet;
use std::sync::Arc;

use tokio::sync::Semaphore;

pub use client::AwsError;
use client::Ctx;
#[cfg(feature = "s3")]
pub use objects::{KeyPage, ObjectBody, S3Objects};
pub use services::{KNOWN_SERVICES, ServiceInfo};
use stance_model::{Asset, CollectionError, ImportedFinding, Scope, Snapshot};

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

/// What one collector produced.
#[derive(Default)]
pub(crate) struct Output {
    pub assets: Vec<Asset>,
    pub errors: Vec<CollectionError>,
    pub findings: Vec<ImportedFinding>,
}

impl Output {
    pub fn extend(&mut self, other: Output) {
        self.assets.extend(other.assets);
        self.errors.extend(other.errors);
        self.findings.extend(other.findings);
    }

    /// Add assets whose detail calls may have failed: the assets (with their
    /// gaps) go in, and each failing operation is reported once, naming the
    /// `what` (e.g. "topics") it failed for.
    #[cfg_attr(
        not(any(
            feature = "lambda",
            feature = "dynamodb",
            feature = "ecr",
            feature = "efs",
            feature = "eks",
            feature = "secretsmanager",
            feature = "sns"
        )),
        allow(dead_code)
    )]
    pub fn add_detailed(
        &mut self,
        ctx: &Ctx,
        service: &str,
        what: &str,
        built: impl IntoIterator<Item = (Asset, Vec<record::Failed>)>,
    ) {
        let mut failures = record::Failures::default();
        for (asset, failed) in built {
            failures.add_all(&asset.name, failed);
            self.assets.push(asset);
        }
        self.errors.extend(failures.report(ctx, service, what));
    }
}

/// Collect every requested account, region and service into a snapshot.
pub async fn collect(opts: &AwsOptions, progress: &dyn Progress) -> Result<Snapshot, AwsError> {
    let selected = services::select(&opts.services)?;
    let collected_at = stance_model::now_rfc3339();
    let base = client::base_config(opts).await?;
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
