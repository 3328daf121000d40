//! The SDK configuration every collector starts from: the standard
//! credential chain and profile, the default region, retry, timeouts, TLS
//! and `AWS_ENDPOINT_URL`, and the configuration of one region. Never reads
//! a `STANCE_*` variable (the host's settings resolve those and pass them in
//! [`AwsOptions`]) and never calls a service.

use std::time::Duration;

use aws_config::retry::{RetryConfig, RetryMode};
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};

use crate::{AwsError, AwsOptions};

/// The region used when none is given: the SDK's own chain (`AWS_REGION`,
/// the profile's), else us-east-1. (`STANCE_AWS_REGION` is the host's: its
/// settings put it in [`AwsOptions::regions`].)
pub async fn default_region(profile: Option<&str>) -> String {
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
fn retry_config(env: impl Fn(&str) -> Option<String>) -> Result<Option<RetryConfig>, AwsError> {
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
    let retry =
        retry_config(|name| std::env::var_os(name).map(|v| v.to_string_lossy().into_owned()))?;
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

#[cfg(test)]
mod tests {
    use super::*;

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
        assert!(
            retry_config(env(&[("AWS_MAX_ATTEMPTS", "")]))
                .unwrap()
                .is_some()
        );
        assert!(
            retry_config(env(&[("AWS_MAX_ATTEMPTS", "2")]))
                .unwrap()
                .is_none()
        );
        assert!(
            retry_config(env(&[("AWS_RETRY_MODE", "standard")]))
                .unwrap()
                .is_none()
        );
        assert!(retry_config(env(&[("AWS_MAX_ATTEMPTS", "0")])).is_err());
        assert!(retry_config(env(&[("AWS_RETRY_MODE", "fast")])).is_err());
    }
}
