//! The services Stance collects, the resource types each one owns, and the
//! fan-out of one account's collection over regions and services.

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::{AwsError, AwsOptions, Ctx, Output, Progress};
use stance_model::CollectionError;

/// A service collector: its name, cargo feature, resource types and reach.
#[derive(Debug)]
pub struct ServiceInfo {
    pub name: &'static str,
    pub feature: &'static str,
    /// Stance resource types this collector emits.
    pub types: &'static [&'static str],
    /// Collected once per account (`global` region) rather than per region.
    pub global: bool,
    /// Imports findings instead of (or besides) assets.
    pub findings: bool,
}

/// Every service Stance knows, built into this binary or not.
pub const KNOWN_SERVICES: &[ServiceInfo] = &[
    ServiceInfo {
        name: "s3",
        feature: "aws-s3",
        types: &["aws_s3_bucket", "aws_s3_account_public_access_block"],
        global: true,
        findings: false,
    },
    ServiceInfo {
        name: "iam",
        feature: "aws-iam",
        types: &[
            "aws_iam_account",
            "aws_iam_user",
            "aws_iam_role",
            "aws_iam_policy",
            "aws_iam_server_certificate",
        ],
        global: true,
        findings: false,
    },
    ServiceInfo {
        name: "ec2",
        feature: "aws-ec2",
        types: &[
            "aws_ec2_instance",
            "aws_ec2_security_group",
            "aws_ec2_network_acl",
            "aws_ec2_volume",
            "aws_ec2_snapshot",
            "aws_ec2_vpc",
            "aws_ec2_regional_settings",
        ],
        global: false,
        findings: false,
    },
    ServiceInfo {
        name: "rds",
        feature: "aws-rds",
        types: &["aws_rds_db_instance", "aws_rds_db_snapshot"],
        global: false,
        findings: false,
    },
    ServiceInfo {
        name: "cloudtrail",
        feature: "aws-cloudtrail",
        types: &["aws_cloudtrail_trail"],
        global: false,
        findings: false,
    },
    ServiceInfo {
        name: "kms",
        feature: "aws-kms",
        types: &["aws_kms_key"],
        global: false,
        findings: false,
    },
    ServiceInfo {
        name: "lambda",
        feature: "aws-lambda",
        types: &["aws_lambda_function"],
        global: false,
        findings: false,
    },
    ServiceInfo {
        name: "logs",
        feature: "aws-logs",
        types: &["aws_logs_log_group", "aws_cloudwatch_alarm"],
        global: false,
        findings: false,
    },
    ServiceInfo {
        name: "dynamodb",
        feature: "aws-dynamodb",
        types: &["aws_dynamodb_table"],
        global: false,
        findings: false,
    },
    ServiceInfo {
        name: "acm",
        feature: "aws-acm",
        types: &["aws_acm_certificate"],
        global: false,
        findings: false,
    },
    ServiceInfo {
        name: "elbv2",
        feature: "aws-elbv2",
        types: &["aws_elbv2_load_balancer"],
        global: false,
        findings: false,
    },
    ServiceInfo {
        name: "ecr",
        feature: "aws-ecr",
        types: &["aws_ecr_repository"],
        global: false,
        findings: false,
    },
    ServiceInfo {
        name: "eks",
        feature: "aws-eks",
        types: &["aws_eks_cluster"],
        global: false,
        findings: false,
    },
    ServiceInfo {
        name: "efs",
        feature: "aws-efs",
        types: &["aws_efs_file_system", "aws_efs_access_point"],
        global: false,
        findings: false,
    },
    ServiceInfo {
        name: "sns",
        feature: "aws-sns",
        types: &["aws_sns_topic"],
        global: false,
        findings: false,
    },
    ServiceInfo {
        name: "sqs",
        feature: "aws-sqs",
        types: &["aws_sqs_queue"],
        global: false,
        findings: false,
    },
    ServiceInfo {
        name: "secretsmanager",
        feature: "aws-secretsmanager",
        types: &["aws_secretsmanager_secret"],
        global: false,
        findings: false,
    },
    ServiceInfo {
        name: "config",
        feature: "aws-config-recorder",
        types: &["aws_config_recorder"],
        global: false,
        findings: false,
    },
    ServiceInfo {
        name: "guardduty",
        feature: "aws-guardduty",
        types: &["aws_guardduty_detector"],
        global: false,
        findings: false,
    },
    ServiceInfo {
        name: "accessanalyzer",
        feature: "aws-accessanalyzer",
        types: &["aws_accessanalyzer_region"],
        global: false,
        findings: false,
    },
    // The hub's state is collected whether or not findings are imported.
    ServiceInfo {
        name: "securityhub",
        feature: "aws-securityhub",
        types: &["aws_securityhub_hub"],
        global: false,
        findings: true,
    },
    ServiceInfo {
        name: "inspector2",
        feature: "aws-inspector2",
        types: &[],
        global: false,
        findings: true,
    },
];

/// Is the collector of `service` compiled into this binary?
// Each arm is a cfg! of its own: with every feature on they are all `true`.
#[allow(clippy::match_like_matches_macro)]
pub fn built(service: &str) -> bool {
    match service {
        "s3" => cfg!(feature = "s3"),
        "iam" => cfg!(feature = "iam"),
        "ec2" => cfg!(feature = "ec2"),
        "rds" => cfg!(feature = "rds"),
        "cloudtrail" => cfg!(feature = "cloudtrail"),
        "kms" => cfg!(feature = "kms"),
        "lambda" => cfg!(feature = "lambda"),
        "logs" => cfg!(feature = "logs"),
        "securityhub" => cfg!(feature = "securityhub"),
        "inspector2" => cfg!(feature = "inspector2"),
        "config" => cfg!(feature = "config-recorder"),
        "guardduty" => cfg!(feature = "guardduty"),
        "accessanalyzer" => cfg!(feature = "accessanalyzer"),
        "efs" => cfg!(feature = "efs"),
        "sns" => cfg!(feature = "sns"),
        "sqs" => cfg!(feature = "sqs"),
        "secretsmanager" => cfg!(feature = "secretsmanager"),
        "dynamodb" => cfg!(feature = "dynamodb"),
        "acm" => cfg!(feature = "acm"),
        "elbv2" => cfg!(feature = "elbv2"),
        "ecr" => cfg!(feature = "ecr"),
        "eks" => cfg!(feature = "eks"),
        _ => false,
    }
}

/// The built services the user asked for (all built ones when none named).
pub fn select(names: &[String]) -> Result<Vec<&'static ServiceInfo>, AwsError> {
    for n in names {
        if !KNOWN_SERVICES.iter().any(|s| s.name == n) {
            let known: Vec<&str> = KNOWN_SERVICES.iter().map(|s| s.name).collect();
            return Err(AwsError::Options(format!(
                "unknown service {n:?}; services are {}",
                known.join(", ")
            )));
        }
    }
    Ok(KNOWN_SERVICES
        .iter()
        .filter(|s| names.is_empty() || names.iter().any(|n| n == s.name))
        .filter(|s| built(s.name))
        .collect())
}

/// Services that were asked for (or, when none were named, exist) but are
/// not built into this binary: everything they own is not collected.
pub fn not_built(
    names: &[String],
    accounts: &BTreeSet<String>,
    regions: &BTreeSet<String>,
    errors: &mut Vec<CollectionError>,
) {
    for s in KNOWN_SERVICES {
        if built(s.name) || (!names.is_empty() && !names.iter().any(|n| n == s.name)) {
            continue;
        }
        let places: Vec<String> = if s.global {
            vec!["global".into()]
        } else {
            regions.iter().cloned().collect()
        };
        for account in accounts {
            for region in &places {
                errors.push(CollectionError {
                    provider: "aws".into(),
                    account: account.clone(),
                    region: region.clone(),
                    service: s.name.into(),
                    operation: "*".into(),
                    kind: "not-built".into(),
                    message: format!(
                        "this stance binary was built without the `{}` feature",
                        s.feature
                    ),
                    resource_types: s.types.iter().map(|t| t.to_string()).collect(),
                });
            }
        }
    }
}

/// Collect one account: AWS Config first (it decides which types the direct
/// collectors may skip), then every selected service in every region at once.
#[allow(clippy::too_many_arguments)]
pub async fn run_account(
    account: &str,
    sdk: &aws_config::SdkConfig,
    regions: Arc<Vec<String>>,
    selected: &[&'static ServiceInfo],
    opts: &AwsOptions,
    collected_at: &str,
    limiter: &Arc<Semaphore>,
    progress: &dyn Progress,
) -> Output {
    let ctx_for = |region: &str, covered: HashSet<&'static str>| Ctx {
        account: account.to_string(),
        region: region.to_string(),
        sdk: super::client::for_region(
            sdk,
            if region == "global" {
                regions.first().map_or("us-east-1", String::as_str)
            } else {
                region
            },
        ),
        regions: regions.clone(),
        collected_at: collected_at.to_string(),
        limiter: limiter.clone(),
        covered,
    };

    let mut out = Output::default();
    let covered = config_source(opts, &regions, selected, &ctx_for, &mut out).await;

    let mut places: Vec<(String, Vec<&'static ServiceInfo>)> = Vec::new();
    let global: Vec<&'static ServiceInfo> = selected.iter().copied().filter(|s| s.global).collect();
    if !global.is_empty() {
        places.push(("global".into(), global));
    }
    for region in regions.iter() {
        let regional: Vec<&'static ServiceInfo> = selected
            .iter()
            .copied()
            .filter(|s| !s.global && (opts.import_findings || !s.findings || !s.types.is_empty()))
            .collect();
        places.push((region.clone(), regional));
    }
    for (region, services) in &places {
        progress.begin(account, region, services.len());
    }
    let mut tasks = JoinSet::new();
    for (region, services) in places {
        for service in services {
            let ctx = ctx_for(&region, covered.clone());
            let import_findings = opts.import_findings;
            tasks.spawn(async move {
                let output = dispatch(service.name, &ctx, import_findings).await;
                (ctx.region, service.name, output)
            });
        }
    }
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((region, service, output)) => {
                progress.done(account, &region, service);
                out.extend(output);
            }
            Err(e) => out.errors.push(CollectionError {
                provider: "aws".into(),
                account: account.to_string(),
                region: "?".into(),
                service: "?".into(),
                operation: "*".into(),
                kind: "other".into(),
                message: format!("a collector task failed: {e}"),
                resource_types: Vec::new(),
            }),
        }
    }
    out
}

/// Run AWS Config in every region; return the resource types it covers (only
/// those are taken from Config; the rest are collected directly). A regional
/// type is covered when Config supplied it in every scanned region; a global
/// type (IAM) when it did in any one of them (AWS advises recording global
/// types in one region only), and is taken from the first such region.
#[allow(unused_variables)]
async fn config_source(
    opts: &AwsOptions,
    regions: &Arc<Vec<String>>,
    selected: &[&'static ServiceInfo],
    ctx_for: &(dyn Fn(&str, HashSet<&'static str>) -> Ctx + Sync),
    out: &mut Output,
) -> HashSet<&'static str> {
    #[cfg(feature = "config-recorder")]
    if opts.use_config {
        let mut wanted: HashSet<&'static str> = selected
            .iter()
            .flat_map(|s| s.types.iter().copied())
            .collect();
        let mut per_region = Vec::new();
        for region in regions.iter() {
            let ctx = ctx_for(region, HashSet::new());
            let sources = super::config::collect(&ctx, &wanted).await;
            // A global type one region supplied is not read again elsewhere.
            for s in sources.iter().filter(|s| s.global) {
                wanted.remove(s.stance_type);
            }
            per_region.push(sources);
        }
        let covered = covered_types(&per_region);
        for source in per_region.into_iter().flatten() {
            // Uncovered types are collected directly (their direct fetchers'
            // failures with them): what Config supplied of them is dropped.
            if covered.contains(source.stance_type) {
                out.extend(source.output);
            }
        }
        return covered;
    }
    HashSet::new()
}

/// The types AWS Config covers, from what it supplied in each scanned
/// region: a global type supplied anywhere, a regional one supplied everywhere.
#[cfg(feature = "config-recorder")]
fn covered_types(per_region: &[Vec<super::config::Source>]) -> HashSet<&'static str> {
    let supplied_in = |t: &str| {
        per_region
            .iter()
            .filter(|sources| sources.iter().any(|s| s.stance_type == t))
            .count()
    };
    per_region
        .iter()
        .flatten()
        .filter(|s| s.global || supplied_in(s.stance_type) == per_region.len())
        .map(|s| s.stance_type)
        .collect()
}

/// `import_findings`: also import findings (Security Hub's, besides its hub asset).
#[cfg_attr(not(feature = "securityhub"), allow(unused_variables))]
async fn dispatch(service: &str, ctx: &Ctx, import_findings: bool) -> Output {
    match service {
        #[cfg(feature = "s3")]
        "s3" => super::s3::collect(ctx).await,
        #[cfg(feature = "iam")]
        "iam" => super::iam::collect(ctx).await,
        #[cfg(feature = "ec2")]
        "ec2" => super::ec2::collect(ctx).await,
        #[cfg(feature = "rds")]
        "rds" => super::rds::collect(ctx).await,
        #[cfg(feature = "cloudtrail")]
        "cloudtrail" => super::cloudtrail::collect(ctx).await,
        #[cfg(feature = "kms")]
        "kms" => super::kms::collect(ctx).await,
        #[cfg(feature = "lambda")]
        "lambda" => super::lambda::collect(ctx).await,
        #[cfg(feature = "logs")]
        "logs" => super::logs::collect(ctx).await,
        #[cfg(feature = "securityhub")]
        "securityhub" => {
            let mut out = super::securityhub_hub::collect(ctx).await;
            if import_findings {
                out.extend(super::securityhub::collect(ctx).await);
            }
            out
        }
        #[cfg(feature = "config-recorder")]
        "config" => super::config_status::collect(ctx).await,
        #[cfg(feature = "guardduty")]
        "guardduty" => super::guardduty::collect(ctx).await,
        #[cfg(feature = "accessanalyzer")]
        "accessanalyzer" => super::accessanalyzer::collect(ctx).await,
        #[cfg(feature = "inspector2")]
        "inspector2" => super::inspector2::collect(ctx).await,
        #[cfg(feature = "efs")]
        "efs" => super::efs::collect(ctx).await,
        #[cfg(feature = "sns")]
        "sns" => super::sns::collect(ctx).await,
        #[cfg(feature = "sqs")]
        "sqs" => super::sqs::collect(ctx).await,
        #[cfg(feature = "secretsmanager")]
        "secretsmanager" => super::secretsmanager::collect(ctx).await,
        #[cfg(feature = "dynamodb")]
        "dynamodb" => super::dynamodb::collect(ctx).await,
        #[cfg(feature = "acm")]
        "acm" => super::acm::collect(ctx).await,
        #[cfg(feature = "elbv2")]
        "elbv2" => super::elbv2::collect(ctx).await,
        #[cfg(feature = "ecr")]
        "ecr" => super::ecr::collect(ctx).await,
        #[cfg(feature = "eks")]
        "eks" => super::eks::collect(ctx).await,
        other => {
            let mut out = Output::default();
            out.errors.push(ctx.error(
                other,
                "*",
                "not-built",
                "no collector for this service in this build",
                &[],
            ));
            out
        }
    }
}

#[cfg(all(test, feature = "config-recorder"))]
mod tests {
    use super::super::config::Source;
    use super::*;

    fn source(stance_type: &'static str, global: bool) -> Source {
        Source {
            stance_type,
            global,
            output: Output::default(),
        }
    }

    #[test]
    fn global_types_need_one_region_regional_types_every_region() {
        let per_region = vec![
            // eu-west-1: records regional types only
            vec![source("aws_s3_bucket", false)],
            // us-east-1: records global types too
            vec![source("aws_s3_bucket", false), source("aws_iam_role", true)],
            // us-west-2: no recorder
            vec![],
        ];
        assert_eq!(covered_types(&per_region), HashSet::from(["aws_iam_role"]));
        assert_eq!(
            covered_types(&per_region[..2]),
            HashSet::from(["aws_iam_role", "aws_s3_bucket"])
        );
        assert!(covered_types(&[]).is_empty());
    }
}
