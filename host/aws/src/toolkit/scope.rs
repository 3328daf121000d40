//! The scope of a collection: the accounts (the caller's own, or one per
//! assumed role, each identified through STS) and the regions of each (the
//! named ones, every enabled one, or the default region). Never collects a
//! resource.

use aws_config::SdkConfig;
use aws_config::sts::AssumeRoleProvider;
use aws_types::sdk_config::SharedCredentialsProvider;
use stance_model::CollectionError;

use super::errors::classify;
use crate::{AwsError, AwsOptions};

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
        "--all-regions needs EC2 DescribeRegions; this binary was built without the `stance-aws/ec2` cargo feature".into(),
    ))
}
