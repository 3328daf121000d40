//! The AWS services Stance collects: the registry (the table below, one line
//! per service) and one module per service collector.
//!
//! A line reads `NAME: "cargo-feature", global|regional, [resource types]`,
//! with `, findings` when the service imports findings. From it `registry!`
//! derives the module `services/NAME.rs` (compiled only with its cargo
//! feature), the service's entry of [`KNOWN_SERVICES`] (known, and reported
//! `not-built`, even when it is not compiled), and the dispatch to its
//! `pub(crate) async fn collect(target: &Target) -> Output`. A `global`
//! service runs once per account, a `regional` one in every scanned region.
//! Adding a service is its file, its line here, and its SDK dependency and
//! cargo feature in `host/aws/Cargo.toml` (`docs/aws-collection.md`, "Adding
//! a service").
//!
//! A collector reads AWS through its [`Target`](crate::toolkit::Target) and
//! returns what it found; it never evaluates rules, never reads another
//! service's assets, and never decides where it runs (`run.rs` does).

#[macro_use]
mod registry;

pub use registry::ServiceInfo;
pub(crate) use registry::{not_built, select};

registry! {
    // name          cargo feature       reach     resource types, then `findings` for importers
    s3:              "s3",               global,   ["aws_s3_bucket", "aws_s3_account_public_access_block"];
    iam:             "iam",              global,   ["aws_iam_account", "aws_iam_user", "aws_iam_role", "aws_iam_policy", "aws_iam_server_certificate"];
    ec2:             "ec2",              regional, ["aws_ec2_instance", "aws_ec2_security_group", "aws_ec2_network_acl", "aws_ec2_volume", "aws_ec2_snapshot", "aws_ec2_vpc", "aws_ec2_regional_settings"];
    rds:             "rds",              regional, ["aws_rds_db_instance", "aws_rds_db_snapshot"];
    cloudtrail:      "cloudtrail",       regional, ["aws_cloudtrail_trail"];
    kms:             "kms",              regional, ["aws_kms_key"];
    lambda:          "lambda",           regional, ["aws_lambda_function"];
    logs:            "logs",             regional, ["aws_logs_log_group", "aws_cloudwatch_alarm"];
    dynamodb:        "dynamodb",         regional, ["aws_dynamodb_table"];
    acm:             "acm",              regional, ["aws_acm_certificate"];
    elbv2:           "elbv2",            regional, ["aws_elbv2_load_balancer"];
    ecr:             "ecr",              regional, ["aws_ecr_repository"];
    eks:             "eks",              regional, ["aws_eks_cluster"];
    efs:             "efs",              regional, ["aws_efs_file_system", "aws_efs_access_point"];
    sns:             "sns",              regional, ["aws_sns_topic"];
    sqs:             "sqs",              regional, ["aws_sqs_queue"];
    secretsmanager:  "secretsmanager",   regional, ["aws_secretsmanager_secret"];
    config:          "config-recorder",  regional, ["aws_config_recorder"];
    guardduty:       "guardduty",        regional, ["aws_guardduty_detector"];
    accessanalyzer:  "accessanalyzer",   regional, ["aws_accessanalyzer_region"];
    organizations:   "organizations",    global,   ["aws_organizations_account", "aws_organizations_organization"];
    // The hub's state is collected whether or not findings are imported.
    securityhub:     "securityhub",      regional, ["aws_securityhub_hub"], findings;
    inspector2:      "inspector2",       regional, [], findings;
}
