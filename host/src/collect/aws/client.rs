//! Credentials, accounts and regions: the SDK configuration every collector
//! starts from (standard credential chain, profile, assumed roles, adaptive
//! retry, timeouts, `AWS_ENDPOINT_URL`), and the helpers collectors use to
//! call AWS politely (a concurrency permit per call) and to build assets.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::sts::AssumeRoleProvider;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use aws_types::sdk_config::SharedCredentialsProvider;

use super::errors::classify;
use super::{AwsOptions, Ctx};
use crate::model::{Asset, CollectionError, Gap};

/// A failure that stops the whole collection (before any account is read).
#[derive(Debug, thiserror::Error)]
pub enum AwsError {
    #[error("{0}")]
    Options(String),
    #[error(
        "cannot identify the AWS account of the credentials ({0}); configure credentials (environment, --profile, SSO or an instance role)"
    )]
    Identity(String),
}

/// The region used when none is given: `STANCE_AWS_REGION`, else the SDK's
/// own chain (`AWS_REGION`, the profile), else us-east-1.
pub async fn default_region(profile: Option<&str>) -> String {
    if let Ok(r) = std::env::var("STANCE_AWS_REGION") {
        if !r.is_empty() {
            return r;
        }
    }
    let mut chain = aws_config::meta::region::RegionProviderChain::default_provider();
    if let Some(p) = profile {
        chain = aws_config::meta::region::RegionProviderChain::first_try(
            aws_config::profile::ProfileFileRegionProvider::builder()
                .profile_name(p)
                .build(),
        )
        .or_default_provider();
    }
    chain
        .region()
        .await
        .map_or_else(|| "us-east-1".to_string(), |r| r.to_string())
}

/// The base SDK configuration: credential chain, retry, timeouts, TLS.
pub async fn base_config(opts: &AwsOptions) -> SdkConfig {
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .build_https();
    let region = match opts.regions.first() {
        Some(r) => r.clone(),
        None => default_region(opts.profile.as_deref()).await,
    };
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .http_client(http)
        .region(Region::new(region))
        .retry_config(RetryConfig::adaptive().with_max_attempts(6))
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(10))
                .operation_attempt_timeout(Duration::from_secs(30))
                .operation_timeout(Duration::from_secs(120))
                .build(),
        );
    if let Some(p) = &opts.profile {
        loader = loader.profile_name(p);
    }
    loader.load().await
}

/// The configuration for one region.
pub fn for_region(sdk: &SdkConfig, region: &str) -> SdkConfig {
    sdk.to_builder()
        .region(Region::new(region.to_string()))
        .build()
}

/// One account to collect: its id and configuration, or why it cannot be entered.
pub struct Account {
    pub id: String,
    pub config: Result<SdkConfig, CollectionError>,
}

/// The caller's own account, or one account per `--role-arn`.
pub async fn accounts(base: &SdkConfig, opts: &AwsOptions) -> Result<Vec<Account>, AwsError> {
    if opts.role_arns.is_empty() {
        let id = caller_account(base)
            .await
            .map_err(|e| AwsError::Identity(e.message))?;
        return Ok(vec![Account {
            id,
            config: Ok(base.clone()),
        }]);
    }
    let mut out = Vec::new();
    for arn in &opts.role_arns {
        let account_of_arn = arn.split(':').nth(4).unwrap_or("").to_string();
        if account_of_arn.len() != 12 {
            return Err(AwsError::Options(format!(
                "--role-arn {arn:?} is not a role ARN such as arn:aws:iam::123456789012:role/StanceAudit"
            )));
        }
        let mut builder = AssumeRoleProvider::builder(arn.clone())
            .session_name("stance")
            .configure(base);
        if let Some(x) = &opts.external_id {
            builder = builder.external_id(x.clone());
        }
        let provider = builder.build().await;
        let config = base
            .to_builder()
            .credentials_provider(SharedCredentialsProvider::new(provider))
            .build();
        // Assuming the role happens on the first call: identify through it.
        let checked = match caller_account(&config).await {
            Ok(id) if id == account_of_arn => Ok(config),
            Ok(id) => Err(account_error(
                &account_of_arn,
                "AssumeRole",
                "other",
                format!("assuming {arn} gave credentials for account {id}"),
            )),
            Err(e) => Err(CollectionError {
                account: account_of_arn.clone(),
                operation: "AssumeRole".into(),
                message: format!("cannot assume {arn}: {}", e.message),
                ..e
            }),
        };
        out.push(Account {
            id: account_of_arn,
            config: checked,
        });
    }
    Ok(out)
}

fn account_error(account: &str, operation: &str, kind: &str, message: String) -> CollectionError {
    CollectionError {
        provider: "aws".into(),
        account: account.to_string(),
        region: "global".into(),
        service: "sts".into(),
        operation: operation.into(),
        kind: kind.into(),
        message,
        resource_types: Vec::new(),
    }
}

async fn caller_account(config: &SdkConfig) -> Result<String, CollectionError> {
    let sts = aws_sdk_sts::Client::new(config);
    let r = sts.get_caller_identity().send().await.map_err(|e| {
        let (kind, message) = classify(&e);
        account_error("unknown", "GetCallerIdentity", kind, message)
    })?;
    r.account().map(str::to_string).ok_or_else(|| {
        account_error(
            "unknown",
            "GetCallerIdentity",
            "other",
            "no account in the answer".into(),
        )
    })
}

/// The regions to collect in an account: the named ones, every enabled one,
/// or the default region.
pub async fn regions(
    sdk: &SdkConfig,
    opts: &AwsOptions,
    account: &str,
    errors: &mut Vec<CollectionError>,
) -> Result<Vec<String>, AwsError> {
    if !opts.all_regions {
        let mut r = opts.regions.clone();
        if r.is_empty() {
            r.push(
                sdk.region()
                    .map_or_else(|| "us-east-1".to_string(), |r| r.to_string()),
            );
        }
        r.sort();
        r.dedup();
        return Ok(r);
    }
    enabled_regions(sdk, account, errors).await
}

#[cfg(feature = "aws-ec2")]
async fn enabled_regions(
    sdk: &SdkConfig,
    account: &str,
    errors: &mut Vec<CollectionError>,
) -> Result<Vec<String>, AwsError> {
    let ec2 = aws_sdk_ec2::Client::new(sdk);
    match ec2.describe_regions().all_regions(true).send().await {
        Ok(r) => {
            let mut out: Vec<String> = r
                .regions()
                .iter()
                .filter(|r| r.opt_in_status() != Some("not-opted-in"))
                .filter_map(|r| r.region_name().map(str::to_string))
                .collect();
            out.sort();
            Ok(out)
        }
        Err(e) => {
            let (kind, message) = classify(&e);
            let region = sdk.region().map_or("us-east-1".into(), |r| r.to_string());
            errors.push(CollectionError {
                provider: "aws".into(),
                account: account.to_string(),
                region: region.clone(),
                service: "ec2".into(),
                operation: "DescribeRegions".into(),
                kind: kind.into(),
                message: format!(
                    "cannot list the enabled regions, collecting {region} only: {message}"
                ),
                resource_types: Vec::new(),
            });
            Ok(vec![region])
        }
    }
}

#[cfg(not(feature = "aws-ec2"))]
async fn enabled_regions(
    _: &SdkConfig,
    _: &str,
    _: &mut Vec<CollectionError>,
) -> Result<Vec<String>, AwsError> {
    Err(AwsError::Options(
        "--all-regions needs EC2 DescribeRegions; this binary was built without the aws-ec2 feature".into(),
    ))
}

impl Ctx {
    /// Run one API call under the concurrency limit.
    pub async fn call<T, E>(&self, fut: impl Future<Output = Result<T, E>>) -> Result<T, E> {
        let _permit = self.limiter.acquire().await;
        fut.await
    }

    /// A collection error in this account and region.
    pub fn error(
        &self,
        service: &str,
        operation: &str,
        kind: &str,
        message: impl Into<String>,
        types: &[&str],
    ) -> CollectionError {
        CollectionError {
            provider: "aws".into(),
            account: self.account.clone(),
            region: self.region.clone(),
            service: service.into(),
            operation: operation.into(),
            kind: kind.into(),
            message: message.into(),
            resource_types: types.iter().map(|t| t.to_string()).collect(),
        }
    }

    /// A collection error from an SDK failure.
    pub fn sdk_error<E, R>(
        &self,
        service: &str,
        operation: &str,
        err: &aws_smithy_runtime_api::client::result::SdkError<E, R>,
        types: &[&str],
    ) -> CollectionError
    where
        E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        let (kind, message) = classify(err);
        self.error(service, operation, kind, message, types)
    }

    /// Was `resource_type` already collected by another source (AWS Config)?
    pub fn covered(&self, resource_type: &str) -> bool {
        self.covered.contains(resource_type)
    }

    /// An asset of this account in `region`.
    #[allow(clippy::too_many_arguments)]
    pub fn asset(
        &self,
        region: &str,
        id: String,
        resource_type: &str,
        name: String,
        tags: Vec<(String, String)>,
        body: serde_json::Value,
        gaps: Vec<Gap>,
    ) -> Asset {
        Asset {
            id,
            resource_type: resource_type.to_string(),
            provider: "aws".into(),
            account: self.account.clone(),
            region: region.to_string(),
            name,
            tags,
            collected_at: self.collected_at.clone(),
            body: body.to_string(),
            gaps,
        }
    }

    /// Is the SDK pointed at a custom endpoint (an emulator)?
    pub fn custom_endpoint(&self) -> Option<&str> {
        self.sdk.endpoint_url()
    }
}
