#!/usr/bin/env python3
"""Agreement with a peer: Stance and Prowler on the same emulated AWS account.

    python3 tests/aws/prowler_agreement.py --stance target/release/stance > report.md

Starts moto (tests/aws/moto.sh), seeds it with tests/aws/seed.py (two accounts,
123456789012 and 111111111111 reached through sts:AssumeRole, regions us-east-1
and eu-west-1), then runs against the same endpoint and credentials:

- `stance scan --provider aws` for both accounts (one --role-arn each, as
  tests/e2e/aws.rs does) and both regions, then `stance findings --status all`;
- Prowler 5.46.0 (its own venv; installed on first use) with only the checks
  of the mapping table below, once per account (the second with --role), same
  regions, `--scan-unused-services` so that it evaluates the same population
  as Stance (without it Prowler skips security groups, VPCs and NACLs that
  nothing uses).

Results are matched per (mapped pair, subject). The subject is the resource
ARN for per-resource pairs, (account, region) for regional settings and the
account for account-wide settings. Prints a Markdown report on stdout: a
summary table per pair, then every disagreement with both verdicts and the
seed's designed verdict, then the results only one tool produced. Exits 0
whatever the results (a report, not a test); progress goes to stderr.

--keep DIR keeps every raw output there (Stance findings and assets with
bodies, Prowler OCSF files and logs, the seed manifest) for investigation.
--policies DIR evaluates that YAML directory (e.g. policies/aws) instead of the
pack built into the binary. The explanations of every disagreement are in
docs/prowler-agreement.md.
Needs only the Python 3 standard library (moto and Prowler run from their venvs).
"""

import argparse
import collections
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "stance-build"
MOTO_VENV = Path(os.environ.get("STANCE_MOTO_VENV", CACHE / "venv"))
PROWLER_VENV = Path(os.environ.get("STANCE_PROWLER_VENV", CACHE / "prowler-venv"))
PROWLER_VERSION = "5.46.0"
ACCOUNTS = ["123456789012", "111111111111"]  # seed.py's ACCOUNT_A (default credentials) and ACCOUNT_B
ROLE = "arn:aws:iam::{account}:role/stance-audit"
REGIONS = ["us-east-1", "eu-west-1"]


@dataclass
class Pair:
    """One genuine equivalence between Prowler check(s) and Stance polic(y/ies).

    prowler / stance: one id or a tuple of ids. With several ids on a side, that
    side's verdict for a subject is the conjunction: FAIL when any of them fails
    (e.g. Prowler's separate port-22 and port-3389 NACL checks against our one
    admin-ports policy).
    scope: "resource" (subject = the resource ARN), "region" (account, region)
    or "account".
    stance_any: for an account-scoped pair whose Stance policy is per resource,
    the account passes when ANY of its resources passes (Prowler asks "does
    some trail record S3 data events"); the default is ALL.
    prowler_key: optional function mapping a Prowler resource uid to the Stance
    subject (e.g. an SNS subscription ARN to its topic ARN).
    stance_key: optional function (finding's resource, asset body) -> the
    Prowler subject (e.g. an EFS access point to its file system ARN).
    note: what differs (thresholds, scope) even though the requirement is the same.
    """

    prowler: object
    stance: object
    scope: str = "resource"
    note: str = ""
    stance_any: bool = False
    prowler_key: object = None
    stance_key: object = None

    @property
    def prowler_ids(self):
        return (self.prowler,) if isinstance(self.prowler, str) else tuple(self.prowler)

    @property
    def stance_ids(self):
        return (self.stance,) if isinstance(self.stance, str) else tuple(self.stance)


def sns_topic_of_subscription(uid):
    # arn:aws:sns:REGION:ACCOUNT:TOPIC:SUBSCRIPTION-UUID -> the topic ARN
    parts = uid.split(":")
    return ":".join(parts[:6]) if len(parts) == 7 else uid


def efs_file_system_of_access_point(resource, body):
    # Prowler reports the access-point checks per file system (FAIL when any access point fails)
    fs = (body or {}).get("file_system_id")
    if not fs:
        return resource["id"]
    return f"arn:aws:elasticfilesystem:{resource['region']}:{resource['account']}:file-system/{fs}"


SG = "ec2_securitygroup_allow_ingress_from_internet_to_"
# Prowler check id(s) -> Stance policy id(s). Only genuine equivalents: the same
# requirement on the same subject. Checks that only resemble one of ours are NOT
# mapped (e.g. Prowler's cloudtrail_multi_region_enabled asks "is every region
# covered by some logging trail", ours asks "is this trail multi-region and
# logging"; iam_policy_no_full_access_to_kms is "kms:*", ours is "decrypt with
# every key"; s3_bucket_public_list_acl / public_write_acl are subsets of our
# public-ACL policy).
PAIRS = [
    # --- S3 ---
    Pair("s3_account_level_public_access_blocks", "aws-s3-account-public-access-block", "account"),
    Pair("s3_bucket_acl_prohibited", "aws-s3-bucket-acls-disabled"),
    Pair("s3_bucket_default_encryption", "aws-s3-bucket-default-encryption"),
    Pair("s3_bucket_level_public_access_block", "aws-s3-bucket-public-access-block",
         note="Prowler reads only IgnorePublicAcls and RestrictPublicBuckets (bucket, else account level); "
              "ours needs all four bucket-level settings (FSBP S3.8)"),
    Pair("s3_bucket_no_mfa_delete", "aws-s3-bucket-mfa-delete-enabled"),
    Pair("s3_bucket_object_versioning", "aws-s3-bucket-versioning-enabled"),
    Pair("s3_bucket_secure_transport_policy", "aws-s3-bucket-tls-only"),
    Pair("s3_bucket_server_access_logging_enabled", "aws-s3-bucket-access-logging"),
    Pair("s3_bucket_lifecycle_enabled", "aws-s3-bucket-lifecycle-configured",
         note="Prowler needs an ENABLED rule; ours counts rules"),
    Pair("s3_bucket_public_access", ("aws-s3-bucket-no-public-acl", "aws-s3-bucket-no-public-policy"),
         note="one Prowler check (ACL or policy public) against our two policies"),
    Pair("s3_bucket_cross_account_access", "aws-s3-bucket-no-cross-account-sensitive-actions",
         note="Prowler fails any Allow to another account; ours only sensitive (write/ACL/policy) actions"),
    # --- IAM: account settings ---
    Pair("iam_password_policy_minimum_length_14", "aws-iam-password-min-length-14", "account"),
    Pair("iam_password_policy_lowercase", "aws-iam-password-requires-lowercase", "account"),
    Pair("iam_password_policy_uppercase", "aws-iam-password-requires-uppercase", "account"),
    Pair("iam_password_policy_number", "aws-iam-password-requires-numbers", "account"),
    Pair("iam_password_policy_symbol", "aws-iam-password-requires-symbols", "account"),
    Pair("iam_password_policy_reuse_24", "aws-iam-password-reuse-prevention", "account"),
    Pair("iam_password_policy_expires_passwords_within_90_days_or_less", "aws-iam-password-max-age-90-days", "account"),
    Pair("iam_root_mfa_enabled", "aws-iam-root-mfa-enabled", "account"),
    Pair("iam_root_hardware_mfa_enabled", "aws-iam-root-hardware-mfa", "account"),
    Pair("iam_no_root_access_key", "aws-iam-root-no-access-keys", "account"),
    Pair("iam_avoid_root_usage", "aws-iam-root-no-recent-use", "account",
         note="threshold differs: Prowler fails a root login within 1 day, ours within 90 days"),
    Pair("iam_support_role_created", "aws-iam-support-role-exists", "account"),
    # --- IAM: users, roles, policies ---
    Pair("iam_rotate_access_key_90_days", "aws-iam-access-key-rotation-90-days",
         note="same 90 days; Prowler reads the credential report's last_rotated, ours the key's create date"),
    Pair("iam_user_mfa_enabled_console_access", "aws-iam-user-console-mfa"),
    Pair("iam_user_two_active_access_key", "aws-iam-user-single-active-access-key"),
    Pair(("iam_user_accesskey_unused", "iam_user_console_access_unused"), "aws-iam-user-unused-credentials-45-days",
         note="same 45 days (Prowler's max_unused_access_keys_days / max_console_access_days defaults)"),
    Pair("iam_policy_attached_only_to_group_or_roles", "aws-iam-user-no-attached-policies"),
    Pair("iam_user_administrator_access_policy", "aws-iam-user-no-administrator-access"),
    Pair("iam_customer_attached_policy_no_administrative_privileges", "aws-iam-policy-no-full-admin",
         note="Prowler reports attached policies only; ours passes unattached ones (only-in-Stance)"),
    Pair("iam_no_expired_server_certificates_stored", "aws-iam-server-certificate-not-expired"),
    # --- EC2 / VPC ---
    Pair("ec2_ebs_default_encryption", "aws-ec2-ebs-encryption-by-default", "region"),
    Pair("ec2_ebs_snapshot_account_block_public_access", "aws-ec2-snapshot-block-public-access", "region"),
    Pair("ec2_ebs_public_snapshot", "aws-ec2-snapshot-not-public"),
    Pair("ec2_ebs_snapshots_encrypted", "aws-ec2-snapshot-encrypted"),
    Pair("ec2_ebs_volume_encryption", "aws-ec2-volume-encrypted"),
    Pair("ec2_instance_detailed_monitoring_enabled", "aws-ec2-instance-detailed-monitoring"),
    Pair("ec2_instance_imdsv2_enabled", "aws-ec2-instance-imdsv2-required"),
    Pair("ec2_instance_public_ip", "aws-ec2-instance-no-public-ip"),
    Pair("ec2_instance_profile_attached", "aws-ec2-instance-iam-profile-attached"),
    Pair("ec2_networkacl_allow_ingress_any_port", "aws-ec2-nacl-no-all-traffic-from-internet"),
    Pair(("ec2_networkacl_allow_ingress_tcp_port_22", "ec2_networkacl_allow_ingress_tcp_port_3389"),
         "aws-ec2-nacl-no-admin-ports-from-internet"),
    Pair(SG + "all_ports", "aws-ec2-sg-no-all-traffic-from-internet"),
    Pair(SG + "tcp_port_22", "aws-ec2-sg-no-ssh-from-internet"),
    Pair(SG + "tcp_port_3389", "aws-ec2-sg-no-rdp-from-internet"),
    Pair(SG + "tcp_port_telnet_23", "aws-ec2-sg-no-telnet-from-internet"),
    Pair(SG + "tcp_port_ftp_20_21", "aws-ec2-sg-no-ftp-from-internet"),
    Pair(SG + "tcp_port_kafka_9092", "aws-ec2-sg-no-kafka-from-internet"),
    Pair(SG + "tcp_port_memcached_11211", "aws-ec2-sg-no-memcached-from-internet"),
    Pair(SG + "tcp_port_elasticsearch_kibana_9200_9300_5601", "aws-ec2-sg-no-elasticsearch-kibana-from-internet"),
    Pair(SG + "tcp_port_cassandra_7199_9160_8888", "aws-ec2-sg-no-cassandra-from-internet",
         note="ours also covers 9042 (CQL)"),
    Pair((SG + "tcp_port_mysql_3306", SG + "tcp_port_postgres_5432", SG + "tcp_port_sql_server_1433_1434",
          SG + "tcp_port_oracle_1521_2483", SG + "tcp_port_mongodb_27017_27018", SG + "tcp_port_redis_6379"),
         "aws-ec2-sg-no-db-ports-from-internet", note="six Prowler checks against our one database-ports policy"),
    Pair("ec2_securitygroup_default_restrict_traffic", "aws-ec2-sg-default-restrict-all-traffic"),
    Pair("vpc_flow_logs_enabled", "aws-ec2-vpc-flow-logs-enabled"),
    # --- RDS ---
    Pair("rds_instance_minor_version_upgrade_enabled", "aws-rds-instance-auto-minor-version-upgrade"),
    Pair("rds_instance_backup_enabled", "aws-rds-instance-backup-retention-7-days",
         note="threshold differs: Prowler passes any retention > 0 days, ours needs >= 7"),
    Pair("rds_instance_copy_tags_to_snapshots", "aws-rds-instance-copy-tags-to-snapshot"),
    Pair("rds_instance_deletion_protection", "aws-rds-instance-deletion-protection"),
    Pair("rds_instance_iam_authentication_enabled", "aws-rds-instance-iam-authentication"),
    Pair("rds_instance_integration_cloudwatch_logs", "aws-rds-instance-logs-to-cloudwatch",
         note="Prowler: any log export; ours: the engine's full CIS set of log types"),
    Pair("rds_instance_multi_az", "aws-rds-instance-multi-az"),
    Pair("rds_instance_no_public_access", "aws-rds-instance-not-publicly-accessible"),
    Pair("rds_instance_storage_encrypted", "aws-rds-instance-storage-encrypted"),
    Pair("rds_snapshots_encrypted", "aws-rds-snapshot-encrypted"),
    Pair("rds_snapshots_public_access", "aws-rds-snapshot-not-public"),
    # --- CloudTrail ---
    Pair("cloudtrail_cloudwatch_logging_enabled", "aws-cloudtrail-cloudwatch-logs",
         note="Prowler also needs a delivery to CloudWatch Logs within the last day"),
    Pair("cloudtrail_kms_encryption_enabled", "aws-cloudtrail-kms-encryption"),
    Pair("cloudtrail_log_file_validation_enabled", "aws-cloudtrail-log-file-validation"),
    Pair("cloudtrail_multi_region_enabled_logging_management_events", "aws-account-multi-region-trail-logging",
         "account", note="Prowler reports it per region; a multi-region trail covers every region"),
    Pair("cloudtrail_logs_s3_bucket_is_not_publicly_accessible", "aws-account-trail-bucket-not-public", "account",
         note="Prowler reports per trail, ours once per account over all trails"),
    Pair("cloudtrail_s3_dataevents_read_enabled", "aws-cloudtrail-s3-object-read-events", "account",
         stance_any=True, note="Prowler: some trail records them (per account); ours per trail, ANY-aggregated here"),
    Pair("cloudtrail_s3_dataevents_write_enabled", "aws-cloudtrail-s3-object-write-events", "account",
         stance_any=True, note="as for read events"),
    # --- CloudWatch: the CIS metric filter + alarm controls (account-wide) ---
    Pair("cloudwatch_log_metric_filter_unauthorized_api_calls", "aws-account-cis-alarm-unauthorized-api-calls", "account"),
    Pair("cloudwatch_log_metric_filter_sign_in_without_mfa", "aws-account-cis-alarm-console-login-without-mfa", "account"),
    Pair("cloudwatch_log_metric_filter_root_usage", "aws-account-cis-alarm-root-account-usage", "account"),
    Pair("cloudwatch_log_metric_filter_policy_changes", "aws-account-cis-alarm-iam-policy-changes", "account"),
    Pair("cloudwatch_log_metric_filter_and_alarm_for_cloudtrail_configuration_changes_enabled",
         "aws-account-cis-alarm-cloudtrail-configuration-changes", "account"),
    Pair("cloudwatch_log_metric_filter_authentication_failures",
         "aws-account-cis-alarm-console-authentication-failures", "account"),
    Pair("cloudwatch_log_metric_filter_disable_or_scheduled_deletion_of_kms_cmk",
         "aws-account-cis-alarm-kms-key-disable-or-deletion", "account"),
    Pair("cloudwatch_log_metric_filter_for_s3_bucket_policy_changes",
         "aws-account-cis-alarm-s3-bucket-policy-changes", "account"),
    Pair("cloudwatch_log_metric_filter_and_alarm_for_aws_config_configuration_changes_enabled",
         "aws-account-cis-alarm-config-changes", "account"),
    Pair("cloudwatch_log_metric_filter_security_group_changes", "aws-account-cis-alarm-security-group-changes", "account"),
    Pair("cloudwatch_changes_to_network_acls_alarm_configured", "aws-account-cis-alarm-network-acl-changes", "account"),
    Pair("cloudwatch_changes_to_network_gateways_alarm_configured",
         "aws-account-cis-alarm-network-gateway-changes", "account"),
    Pair("cloudwatch_changes_to_network_route_tables_alarm_configured",
         "aws-account-cis-alarm-route-table-changes", "account"),
    Pair("cloudwatch_changes_to_vpcs_alarm_configured", "aws-account-cis-alarm-vpc-changes", "account"),
    Pair("cloudwatch_log_metric_filter_aws_organizations_changes", "aws-account-cis-alarm-organizations-changes", "account"),
    Pair(("cloudwatch_alarm_actions_enabled", "cloudwatch_alarm_actions_alarm_state_configured"),
         "aws-cloudwatch-alarm-has-action", note="two Prowler checks (actions enabled, an ALARM action) against our one"),
    # --- CloudWatch Logs ---
    Pair("cloudwatch_log_group_kms_encryption_enabled", "aws-logs-log-group-kms-encrypted"),
    Pair("cloudwatch_log_group_retention_policy_specific_days_enabled", "aws-logs-log-group-retention-365-days",
         note="same 365 days (Prowler's log_group_retention_days default)"),
    # --- KMS ---
    Pair("kms_cmk_rotation_enabled", "aws-kms-key-rotation-enabled"),
    Pair("kms_cmk_not_deleted_unintentionally", "aws-kms-key-not-pending-deletion"),
    Pair("kms_key_not_publicly_accessible", "aws-kms-key-policy-no-public-principal"),
    # --- Lambda ---
    Pair("awslambda_function_inside_vpc", "aws-lambda-function-in-vpc"),
    Pair("awslambda_function_not_publicly_accessible", "aws-lambda-function-not-public"),
    Pair("awslambda_function_url_public", "aws-lambda-function-url-auth-required"),
    Pair("awslambda_function_using_supported_runtimes", "aws-lambda-function-supported-runtime"),
    Pair("awslambda_function_env_vars_not_encrypted_with_cmk", "aws-lambda-function-env-encrypted-with-cmk"),
    Pair("awslambda_function_no_secrets_in_variables", "aws-lambda-function-no-secrets-in-environment",
         note="method differs: Prowler scans the VALUES with detect-secrets, ours reads only the NAMES"),
    # --- services added later (their Stance policies exist in policies/aws) ---
    Pair("efs_encryption_at_rest_enabled", "aws-efs-file-system-encrypted"),
    Pair("efs_have_backup_enabled", "aws-efs-file-system-automatic-backups"),
    Pair("efs_not_publicly_accessible", "aws-efs-file-system-policy-not-public"),
    Pair("efs_access_point_enforce_root_directory", "aws-efs-access-point-enforces-root-directory",
         stance_key=efs_file_system_of_access_point,
         note="Prowler per file system, ours per access point, ALL-aggregated to the file system here"),
    Pair("efs_access_point_enforce_user_identity", "aws-efs-access-point-enforces-user-identity",
         stance_key=efs_file_system_of_access_point, note="as for the root directory"),
    Pair("efs_mount_target_not_publicly_accessible", "aws-efs-mount-targets-not-in-public-subnets"),
    Pair("sns_topics_kms_encryption_at_rest_enabled", "aws-sns-topic-encrypted"),
    Pair("sns_topics_not_publicly_accessible", "aws-sns-topic-policy-not-public"),
    Pair("sns_subscription_not_using_http_endpoints", "aws-sns-topic-no-http-subscriptions",
         prowler_key=sns_topic_of_subscription, note="Prowler per subscription, mapped to its topic"),
    Pair("sqs_queues_server_side_encryption_enabled", "aws-sqs-queue-encrypted"),
    Pair("sqs_queues_not_publicly_accessible", "aws-sqs-queue-policy-not-public"),
    Pair("secretsmanager_automatic_rotation_enabled", "aws-secretsmanager-secret-rotation-enabled"),
    Pair("secretsmanager_not_publicly_accessible", "aws-secretsmanager-secret-policy-not-public"),
    Pair("secretsmanager_secret_rotated_periodically", "aws-secretsmanager-secret-rotated-within-90-days",
         note="same 90 days (max_days_secret_unrotated)"),
    Pair("secretsmanager_secret_unused", "aws-secretsmanager-secret-unused-90-days",
         note="same 90 days (max_days_secret_unused)"),
    Pair("dynamodb_table_deletion_protection_enabled", "aws-dynamodb-table-deletion-protection"),
    Pair("dynamodb_tables_kms_cmk_encryption_enabled", "aws-dynamodb-table-encrypted-cmk"),
    Pair("dynamodb_tables_pitr_enabled", "aws-dynamodb-table-pitr-enabled"),
    Pair("acm_certificates_expiration_check", "aws-acm-certificate-not-expiring-30-days",
         note="threshold differs: Prowler 7 days (days_to_expire_threshold), ours 30"),
    Pair("acm_certificates_transparency_logs_enabled", "aws-acm-certificate-transparency-logging"),
    Pair("acm_certificates_with_secure_key_algorithms", "aws-acm-certificate-rsa-2048-bits",
         note="Prowler refuses RSA-1024 and P-192 (insecure_key_algorithms); ours any RSA key below 2048 bits"),
    Pair("elbv2_alb_drop_invalid_header_fields_enabled", "aws-elbv2-alb-drop-invalid-headers"),
    Pair("elbv2_deletion_protection", "aws-elbv2-deletion-protection"),
    Pair("elbv2_desync_mitigation_mode", "aws-elbv2-alb-desync-mitigation"),
    Pair("elbv2_logging_enabled", "aws-elbv2-alb-access-logging"),
    Pair("elbv2_is_in_multiple_az", "aws-elbv2-multi-az"),
    Pair("elbv2_ssl_listeners", "aws-elbv2-listener-encrypted-protocol"),
    Pair("ecr_repositories_lifecycle_policy_enabled", "aws-ecr-repository-lifecycle-policy"),
    Pair("ecr_repositories_not_publicly_accessible", "aws-ecr-repository-policy-not-public"),
    Pair("ecr_repositories_scan_images_on_push_enabled", "aws-ecr-repository-scan-on-push"),
    Pair("ecr_repositories_tag_immutability", "aws-ecr-repository-tag-immutability"),
    Pair("eks_cluster_not_publicly_accessible", "aws-eks-endpoint-not-public"),
    Pair("eks_cluster_kms_cmk_encryption_in_secrets_enabled", "aws-eks-secrets-encrypted"),
    Pair("eks_cluster_uses_a_supported_version", "aws-eks-supported-version",
         note="threshold differs: Prowler's oldest supported 1.28 (config), ours 1.32"),
    Pair("eks_control_plane_logging_all_types_enabled", "aws-eks-audit-logging-enabled",
         note="Prowler needs all five log types, ours the audit log"),
    Pair("guardduty_is_enabled", "aws-guardduty-enabled", "region"),
    Pair("guardduty_s3_protection_enabled", "aws-guardduty-s3-protection", "region"),
    Pair("guardduty_rds_protection_enabled", "aws-guardduty-rds-protection", "region"),
    Pair("guardduty_lambda_protection_enabled", "aws-guardduty-lambda-protection", "region"),
    Pair("guardduty_ec2_malware_protection_enabled", "aws-guardduty-malware-protection", "region"),
    Pair("guardduty_eks_audit_log_enabled", "aws-guardduty-eks-audit-log-monitoring", "region"),
    Pair("guardduty_runtime_monitoring_enabled", "aws-guardduty-runtime-monitoring", "region"),
    Pair("config_recorder_all_regions_enabled", "aws-config-recorder-recording-all-resources", "region"),
    Pair("securityhub_enabled", "aws-securityhub-enabled", "region"),
    Pair("accessanalyzer_enabled", "aws-accessanalyzer-external-access-enabled", "region"),
    # --- AWS Organizations (organizations_delegated_administrators is left out: Prowler fails every delegated
    # administrator outside its configured trusted list, ours fails those that are not ACTIVE accounts) ---
    Pair("organizations_account_part_of_organizations", "aws-organizations-account-in-organization", "account"),
    Pair("organizations_scp_check_deny_regions", "aws-organizations-scp-restricts-regions",
         note="Prowler also compares the allowed regions with its organizations_enabled_regions config"),
    Pair("organizations_tags_policies_enabled_and_attached", "aws-organizations-tag-policy-attached"),
    Pair("organizations_opt_out_ai_services_policy", "aws-organizations-ai-services-opt-out",
         note="ours also needs the opt-out policy attached to the root"),
]

RANK = {"FAIL": 3, "ERROR": 2, "MANUAL": 2, "PASS": 1}


def log(msg):
    print(f"[agreement {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def ensure_prowler():
    prowler = PROWLER_VENV / "bin" / "prowler"
    if prowler.exists():
        return prowler
    log(f"installing prowler {PROWLER_VERSION} into {PROWLER_VENV} (takes a while)")
    subprocess.run([sys.executable, "-m", "venv", str(PROWLER_VENV)], check=True)
    subprocess.run([str(PROWLER_VENV / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check",
                    f"prowler=={PROWLER_VERSION}"], check=True)
    return prowler


def norm_arn(uid):
    """One spelling per resource: log group ARNs lose the trailing ':*' Prowler keeps."""
    uid = uid.strip()
    if uid.startswith("arn:") and ":logs:" in uid and uid.endswith(":*"):
        uid = uid[:-2]
    return uid


def arn_account(uid):
    parts = uid.split(":")
    return parts[4] if len(parts) > 4 and uid.startswith("arn:") else ""


def subject(scope, account, region, uid):
    if scope == "account":
        return account
    if scope == "region":
        return f"{account}/{region}"
    return norm_arn(uid)


def combine(verdicts):
    """Conjunction of verdicts: FAIL beats an undecided ERROR/MANUAL, which beats PASS."""
    return max(verdicts, key=lambda v: RANK.get(v, 0))


def run(cmd, env, what, ok=(0,)):
    log(f"{what}: {' '.join(str(c) for c in cmd)[:300]}")
    p = subprocess.run([str(c) for c in cmd], env=env, capture_output=True, text=True)
    if p.returncode not in ok:
        log(f"{what} exited {p.returncode}:\n{p.stderr[-3000:]}")
    return p


def aws_env(endpoint):
    env = dict(os.environ)
    for k in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        env.pop(k, None)
    env.update({
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        "AWS_EC2_METADATA_DISABLED": "true",
        # moto answers unimplemented operations with HTTP 500; two attempts keep it quick (as tests/e2e).
        "AWS_MAX_ATTEMPTS": "2",
    })
    return env


def run_stance(stance, env, work, policies=None):
    env = {**env, "STANCE_DB_PATH": str(work / "stance.db")}
    args = [stance, "scan", "--provider", "aws"]
    if policies:  # evaluate the working tree's YAML instead of the pack built into the binary
        args += ["--no-builtin-policies", "--policies", policies]
    for a in ACCOUNTS:
        args += ["--role-arn", ROLE.format(account=a)]
    for r in REGIONS:
        args += ["--region", r]
    args += ["--format", "json", "-q", "-o", work / "stance-scan.json"]
    # exit 2: moto's unsupported operations are collection errors (see tests/e2e/aws.rs)
    run(args, env, "stance scan", ok=(0, 1, 2))
    run([stance, "findings", "--status", "all", "--format", "json", "-q", "-o", work / "stance-findings.json"],
        env, "stance findings")
    run([stance, "assets", "--with-body", "--format", "json", "-q", "-o", work / "stance-assets.json"],
        env, "stance assets")
    scan = json.loads((work / "stance-scan.json").read_text())
    return json.loads((work / "stance-findings.json").read_text()), scan


def run_prowler(prowler, env, work, checks):
    records = []
    for account in ACCOUNTS:
        out = work / f"prowler-{account}"
        shutil.rmtree(out, ignore_errors=True)  # a reused --keep directory must not mix runs
        args = [prowler, "aws", "--checks", *checks, "--region", *REGIONS, "--scan-unused-services",
                "--output-formats", "json-ocsf", "--output-directory", out, "--no-banner"]
        if account != ACCOUNTS[0]:  # the default credentials are ACCOUNT_A's; B is reached like Stance does
            args += ["--role", ROLE.format(account=account)]
        # exit 3: some check failed (Prowler's normal outcome)
        p = run(args, env, f"prowler ({account})", ok=(0, 3))
        (work / f"prowler-{account}.log").write_text(p.stdout + p.stderr)
        for f in sorted(glob.glob(str(out / "*.ocsf.json"))):
            records += json.loads(Path(f).read_text())
    return records


def stance_table(findings, pair_of_policy, bodies):
    """pair index -> subject -> [(policy, verdict, resource id, message)]"""
    t = collections.defaultdict(lambda: collections.defaultdict(list))
    rules = {f["rule_id"] for f in findings}
    for f in findings:
        for i in pair_of_policy.get(f["rule_id"], ()):
            p = PAIRS[i]
            r = f["resource"]
            uid = p.stance_key(r, bodies.get(r["id"])) if p.stance_key else r["id"]
            t[i][subject(p.scope, r["account"], r["region"], uid)].append(
                (f["rule_id"], f["status"].upper(), r["id"], f.get("message") or ""))
    # "Does SOME resource of the account pass": an account Stance scanned with no such resource fails
    # (only when the policy ran at all, i.e. the build has it).
    for i, p in enumerate(PAIRS):
        if p.stance_any and p.scope == "account":
            for pid in p.stance_ids:
                for a in ACCOUNTS:
                    if pid in rules and not any(e[0] == pid for e in t[i].get(a, [])):
                        t[i][a].append((pid, "FAIL", f"(account {a})", "no resource of the type in the account"))
    return t


def prowler_table(records, pair_of_check):
    t = collections.defaultdict(lambda: collections.defaultdict(list))
    for rec in records:
        code = rec["metadata"]["event_code"]
        for i in pair_of_check.get(code, ()):
            p = PAIRS[i]
            account = rec["cloud"]["account"]["uid"]
            for res in rec["resources"] or [{}]:
                uid = res.get("uid", "")
                if p.prowler_key:
                    uid = p.prowler_key(uid)
                region = res.get("region") or rec["cloud"].get("region", "")
                t[i][subject(p.scope, account, region, uid)].append(
                    (code, rec["status_code"].upper(), res.get("uid", ""), rec.get("status_detail") or rec.get("message", "")))
    return t


def designed(manifest):
    """(policy, resource id) -> 'PASS'/'FAIL' as seed.py designed it."""
    d = {}
    for r in manifest.get("resources", []) + manifest.get("implicit", []):
        if not isinstance(r, dict) or "id" not in r:
            continue
        for pol in r.get("pass", []):
            d[(pol, r["id"])] = "PASS"
        for pol in r.get("fail", []):
            d[(pol, r["id"])] = "FAIL"
    return d


def side_verdict(entries, ids, any_mode=False):
    """The side's verdict for one subject: per id, combine its results (ALL, or ANY when any_mode);
    then the conjunction over ids. An id with no result on this subject is left out."""
    per_id = []
    for i in ids:
        vs = [v for (pid, v, _, _) in entries if pid == i]
        if not vs:
            continue
        if any_mode and "PASS" in vs:
            per_id.append("PASS")
        else:
            per_id.append(combine(vs))
    return combine(per_id) if per_id else None


def short(ids):
    """Several ids sharing a long prefix: `prefix{a, b}`."""
    ids = list(ids)
    if len(ids) == 1:
        return ids[0]
    pre = os.path.commonprefix(ids)
    pre = pre[: pre.rfind("_") + 1] if "_" in pre else pre[: pre.rfind("-") + 1]
    if len(pre) < 8:
        return " + ".join(ids)
    return pre + "{" + ", ".join(i[len(pre):] for i in ids) + "}"


def md_escape(s, n=220):
    s = re.sub(r"\s+", " ", str(s)).replace("|", "\\|")
    return s if len(s) <= n else s[: n - 1] + "…"


def report(stance_t, prowler_t, design, scan_meta, seeded, prowler_count, stance_version):
    lines = []
    w = lines.append
    w(f"{stance_version} against Prowler {PROWLER_VERSION}. Emulated account: moto {seeded.get('moto_version')} seeded by tests/aws/seed.py (accounts "
      f"{', '.join(ACCOUNTS)}; regions {', '.join(REGIONS)}); Prowler {PROWLER_VERSION} with "
      f"`--scan-unused-services`; {len(PAIRS)} mapped pairs; {prowler_count} Prowler results and "
      f"{sum(len(v) for t in stance_t.values() for v in t.values())} Stance results on mapped ids.\n")
    w("Verdicts: PASS, FAIL, and ERROR (Stance could not decide) / MANUAL (Prowler). A side with several ids "
      "is their conjunction. *Compared* counts subjects both tools judged.\n")
    w("## Summary\n")
    w("| # | Prowler check | Stance policy | scope | compared | agree | disagree | of which undecided | only in Stance | only in Prowler |")
    w("|---:|---|---|---|---:|---:|---:|---:|---:|---:|")
    disagreements, only_s, only_p = [], [], []
    tot = collections.Counter()
    for i, p in enumerate(PAIRS):
        s, pr = stance_t.get(i, {}), prowler_t.get(i, {})
        c = collections.Counter()
        for subj in sorted(set(s) | set(pr)):
            vs = side_verdict(s.get(subj, []), p.stance_ids, p.stance_any) if subj in s else None
            vp = side_verdict(pr.get(subj, []), p.prowler_ids) if subj in pr else None
            if vs and vp:
                c["compared"] += 1
                if vs == vp:
                    c["agree"] += 1
                else:
                    c["disagree"] += 1
                    if "PASS" not in (vs, vp) or "FAIL" not in (vs, vp):
                        c["undecided"] += 1
                    disagreements.append((i, p, subj, vs, vp, s[subj], pr[subj]))
            elif vs:
                c["only_s"] += 1
                only_s.append((p, subj, vs))
            else:
                c["only_p"] += 1
                only_p.append((p, subj, vp))
        tot.update(c)
        w(f"| {i + 1} | `{short(p.prowler_ids)}` | `{short(p.stance_ids)}` | {p.scope} | {c['compared']} | "
          f"{c['agree']} | {c['disagree']} | {c['undecided']} | {c['only_s']} | {c['only_p']} |")
    w(f"| | **total** | | | **{tot['compared']}** | **{tot['agree']}** | **{tot['disagree']}** | "
      f"**{tot['undecided']}** | **{tot['only_s']}** | **{tot['only_p']}** |\n")
    w("Notes on pairs (what differs although the requirement is the same):\n")
    for i, p in enumerate(PAIRS):
        if p.note:
            w(f"- {i + 1}: {p.note}")
    w("")
    w(f"## Disagreements ({len(disagreements)})\n")
    if disagreements:
        w("| # | Stance policy | subject | Stance | Prowler | seed designed | Stance says | Prowler says |")
        w("|---:|---|---|---|---|---|---|---|")
        for i, p, subj, vs, vp, se, pe in disagreements:
            des = sorted({design[(pid, rid)] for (pid, _, rid, _) in se if (pid, rid) in design})
            smsg = "; ".join(f"{v}" + (f" ({m})" if v != "PASS" else "") for pid, v, _, m in se[:3])
            pmsg = "; ".join(f"{pid}: {v} ({m})" for pid, v, _, m in pe[:3] if v != "PASS" or vp == "PASS")
            w(f"| {i + 1} | `{short(p.stance_ids)}` | `{subj}` | {vs} | {vp} | "
              f"{'/'.join(des) or '-'} | {md_escape(smsg)} | {md_escape(pmsg)} |")
        w("")
    else:
        w("None.\n")
    w(f"## Only in Stance ({len(only_s)})\n")
    for p, subj, v in only_s:
        w(f"- {PAIRS.index(p) + 1} `{short(p.stance_ids)}` on `{subj}`: {v}")
    w(f"\n## Only in Prowler ({len(only_p)})\n")
    for p, subj, v in only_p:
        w(f"- {PAIRS.index(p) + 1} `{short(p.prowler_ids)}` on `{subj}`: {v}")
    errs = scan_meta.get("scan", {}).get("collection_errors") or []
    w(f"\n## Stance collection errors ({len(errs)})\n")
    for e in errs:
        if isinstance(e, dict):
            w(f"- {md_escape(e.get('service', ''))} {md_escape(e.get('operation', ''))} "
              f"({md_escape(e.get('account', ''))} {md_escape(e.get('region', ''))}): {md_escape(e.get('kind', ''))}")
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--stance", required=True, help="the stance binary (e.g. target/release/stance)")
    ap.add_argument("--keep", type=Path, default=None, help="keep raw outputs in this directory")
    ap.add_argument("--policies", default=None,
                    help="evaluate this policy directory (e.g. policies/aws) instead of the binary's built-in pack")
    args = ap.parse_args()
    stance = str(Path(args.stance).resolve())

    pair_of_check, pair_of_policy = collections.defaultdict(list), collections.defaultdict(list)
    for i, p in enumerate(PAIRS):
        for c in p.prowler_ids:
            pair_of_check[c].append(i)
        for s in p.stance_ids:
            pair_of_policy[s].append(i)
    known = {Path(f).stem for f in glob.glob(str(ROOT / "policies" / "aws" / "*" / "*.yaml"))}
    for s in pair_of_policy:
        if s not in known:
            log(f"WARNING: mapped policy {s} is not in policies/aws")

    moto_sh = ROOT / "tests" / "aws" / "moto.sh"
    subprocess.run([str(moto_sh), "install"], check=True)
    prowler = ensure_prowler()
    port = subprocess.run([str(moto_sh), "start"], check=True, capture_output=True, text=True).stdout.strip()
    endpoint = f"http://127.0.0.1:{port}"
    tmp = Path(tempfile.mkdtemp(prefix="stance-prowler-"))
    work = args.keep or tmp
    work.mkdir(parents=True, exist_ok=True)
    try:
        log(f"seeding moto on {endpoint}")
        seed = subprocess.run([str(MOTO_VENV / "bin" / "python"), str(ROOT / "tests" / "aws" / "seed.py"),
                               "--endpoint", endpoint, "--output", str(work / "seed-manifest.json")],
                              capture_output=True, text=True, cwd=str(ROOT / "tests" / "aws"))
        if seed.returncode != 0:
            log(f"seed.py failed:\n{seed.stderr[-3000:]}")
            print(f"seed.py failed; no report.\n\n```\n{seed.stderr[-3000:]}\n```")
            return 0
        manifest = json.loads(seed.stdout)
        env = aws_env(endpoint)
        findings, scan = run_stance(stance, env, work, args.policies and str(Path(args.policies).resolve()))
        records = run_prowler(prowler, env, work, sorted(pair_of_check))
        (work / "prowler-all.ocsf.json").write_text(json.dumps(records))
        bodies = {a["id"]: a.get("body") for a in json.loads((work / "stance-assets.json").read_text())}
        text = report(stance_table(findings, pair_of_policy, bodies), prowler_table(records, pair_of_check),
                      designed(manifest), scan, manifest, len(records),
                      subprocess.run([stance, "--version"], capture_output=True, text=True).stdout.strip())
        print(text)
    except Exception as e:  # a report, not a test: say what broke and exit 0
        log(f"FAILED: {e!r}")
        print(f"The comparison did not complete: {e!r}")
    finally:
        subprocess.run([str(moto_sh), "stop", port], check=False)
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
