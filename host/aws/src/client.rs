//! Credentials, accounts and regions: the SDK configuration every collector
//! starts from (standard credential chain, profile, assumed roles, retry,
//! timeouts, `AWS_ENDPOINT_URL`), and the helpers collectors use to call AWS
//! politely (a concurrency permit per call and per page) and to build assets.

use std::time::Duration;

use aws_config::retry::{RetryConfig, RetryMode};
use aws_smithy_async::future::pagination_stream::PaginationStream;
use aws_config::sts::AssumeRoleProvider;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use aws_types::sdk_config::SharedCredentialsProvider;

use std::collections::HashSet;
use std::sync::Arc;

use tokio::sync::Semaphore;

use super::AwsOptions;
use super::errors::classify;
use stance_model::{Asset, CollectionError, Gap};

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
    if let Ok(r) = std::env::var("STANCE_AWS_REGION")
        && !r.is_empty() {
            return r;
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

/// Settings of the environment that choose the retry behaviour; when any is
/// set, aws-config's own handling of them (and of the profile's
/// `max_attempts` and `retry_mode`) decides.
const RETRY_ENV: [&str; 2] = ["AWS_MAX_ATTEMPTS", "AWS_RETRY_MODE"];

/// Stance's retry behaviour, unless the environment sets its own: adaptive
/// (client-side rate limiting once AWS throttles) with 6 attempts, since a
/// collection makes many calls to a few APIs at once. `None` when
/// `AWS_MAX_ATTEMPTS` or `AWS_RETRY_MODE` is set (then aws-config reads
/// them); an error when a set value is one aws-config would refuse.
fn retry_config(
    env: impl Fn(&str) -> Option<String>,
) -> Result<Option<RetryConfig>, AwsError> {
    let mut from_env = false;
    for name in RETRY_ENV {
        let Some(value) = env(name).filter(|v| !v.is_empty()) else {
            continue;
        };
        from_env = true;
        let valid = match name {
            "AWS_MAX_ATTEMPTS" => value.parse::<u32>().is_ok_and(|n| n > 0),
            _ => value.parse::<RetryMode>().is_ok(),
        };
        if !valid {
            return Err(AwsError::Options(format!(
                "{name}={value:?} is not valid: AWS_MAX_ATTEMPTS is a number of attempts (1 or more), AWS_RETRY_MODE is standard or adaptive"
            )));
        }
    }
    Ok((!from_env).then(|| RetryConfig::adaptive().with_max_attempts(6)))
}

/// The base SDK configuration: credential chain, retry, timeouts, TLS.
///
/// Retry is adaptive with 6 attempts, unless the environment sets
/// `AWS_MAX_ATTEMPTS` or `AWS_RETRY_MODE`: then Stance does not override
/// aws-config, whose own handling of the environment and of the profile's
/// `max_attempts`/`retry_mode` decides (`AWS_MAX_ATTEMPTS=2` alone means 2
/// attempts in the profile's mode, standard by default).
pub async fn base_config(opts: &AwsOptions) -> Result<SdkConfig, AwsError> {
    let retry = retry_config(|name| {
        std::env::var_os(name).map(|v| v.to_string_lossy().into_owned())
    })?;
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
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(10))
                .operation_attempt_timeout(Duration::from_secs(30))
                .operation_timeout(Duration::from_secs(120))
                .build(),
        );
    if let Some(retry) = retry {
        loader = loader.retry_config(retry);
    }
    if let Some(p) = &opts.profile {
        loader = loader.profile_name(p);
    }
    Ok(loader.load().await)
}

/// The ARN partition of a region (`aws`, `aws-cn`, `aws-us-gov`, …).
pub fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else if region.starts_with("us-isob-") {
        "aws-iso-b"
    } else if region.starts_with("us-iso-") {
        "aws-iso"
    } else {
        "aws"
    }
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

#[cfg(feature = "ec2")]
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

#[cfg(not(feature = "ec2"))]
async fn enabled_regions(
    _: &SdkConfig,
    _: &str,
    _: &mut Vec<CollectionError>,
) -> Result<Vec<String>, AwsError> {
    Err(AwsError::Options(
        "--all-regions needs EC2 DescribeRegions; this binary was built without the aws-ec2 feature".into(),
    ))
}

/// Everything one service collector needs for one account and region.
pub(crate) struct Ctx {
    pub account: String,
    /// The region, or `global` for account-wide services.
    pub region: String,
    /// SDK configuration for this account, with `region` set (us-east-1 for global services).
    pub sdk: SdkConfig,
    /// The regions of the scan (global collectors such as S3 keep only these).
    pub regions: Arc<Vec<String>>,
    pub collected_at: String,
    pub limiter: Arc<Semaphore>,
    /// Stance resource types another source (AWS Config) already collected here.
    pub covered: HashSet<&'static str>,
}

impl Ctx {
    /// Run one API call under the concurrency limit.
    pub async fn call<T, E>(&self, fut: impl Future<Output = Result<T, E>>) -> Result<T, E> {
        let _permit = self.limiter.acquire().await;
        fut.await
    }

    /// Every page of a paginated call (`request.into_paginator().send()`),
    /// one concurrency permit per page: the pages, or the first error.
    pub async fn pages<T, E>(&self, mut pages: PaginationStream<Result<T, E>>) -> Result<Vec<T>, E> {
        let mut all = Vec::new();
        while let Some(page) = self.call(pages.try_next()).await? {
            all.push(page);
        }
        Ok(all)
    }

    /// Every item of a paginated call, `items` taking them out of each page:
    /// [`Ctx::pages`], flattened.
    pub async fn items<T, E, I: IntoIterator>(
        &self,
        pages: PaginationStream<Result<T, E>>,
        items: impl FnMut(T) -> I,
    ) -> Result<Vec<I::Item>, E> {
        Ok(self.pages(pages).await?.into_iter().flat_map(items).collect())
    }

    /// The ARN partition of this account's calls (from the region they go
    /// to: global services are called in the scan's first region).
    pub fn partition(&self) -> &'static str {
        partition(self.sdk.region().map_or(self.region.as_str(), |r| r.as_ref()))
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

/// Hand-rolled pagination (where the SDK has no paginator that fits): take
/// the response's next token, and say whether there is another page. An
/// empty token or the same token again ends the listing (emulators repeat it).
pub(crate) fn next_page(token: &mut Option<String>, next: Option<&str>) -> bool {
    match next {
        Some(t) if !t.is_empty() && token.as_deref() != Some(t) => {
            *token = Some(t.to_string());
            true
        }
        _ => false,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A context for tests: no credentials, no calls.
    pub(crate) fn ctx(region: &str) -> Ctx {
        Ctx {
            account: "123456789012".into(),
            region: region.into(),
            sdk: SdkConfig::builder()
                .region(Region::new(region.to_string()))
                .build(),
            regions: Arc::new(vec![region.to_string()]),
            collected_at: "2026-01-01T00:00:00Z".into(),
            limiter: Arc::new(Semaphore::new(1)),
            covered: HashSet::new(),
        }
    }

    #[test]
    fn partitions_follow_the_region() {
        assert_eq!(ctx("eu-west-1").partition(), "aws");
        assert_eq!(ctx("cn-northwest-1").partition(), "aws-cn");
        assert_eq!(ctx("us-gov-west-1").partition(), "aws-us-gov");
        assert_eq!(ctx("us-isob-east-1").partition(), "aws-iso-b");
        assert_eq!(ctx("us-iso-east-1").partition(), "aws-iso");
        // a global service is called in the scan's first region
        let mut global = ctx("cn-north-1");
        global.region = "global".into();
        assert_eq!(global.partition(), "aws-cn");
    }

    #[test]
    fn the_environment_chooses_the_retry_when_it_sets_one() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_string())
            }
        };
        let ours = retry_config(env(&[])).unwrap().unwrap();
        assert_eq!(ours.mode(), RetryMode::Adaptive);
        assert_eq!(ours.max_attempts(), 6);
        // an empty variable counts as unset
        assert!(retry_config(env(&[("AWS_MAX_ATTEMPTS", "")])).unwrap().is_some());
        assert!(retry_config(env(&[("AWS_MAX_ATTEMPTS", "2")])).unwrap().is_none());
        assert!(retry_config(env(&[("AWS_RETRY_MODE", "standard")])).unwrap().is_none());
        assert!(retry_config(env(&[("AWS_MAX_ATTEMPTS", "0")])).is_err());
        assert!(retry_config(env(&[("AWS_RETRY_MODE", "fast")])).is_err());
    }
}
