"""What seed.py and its per-service modules share: the accounts and regions of the estate, the table of
starter policies by resource type (extended by the modules that seed more services), what moto cannot
serve, and small helpers."""

from __future__ import annotations

import datetime as dt
import json
import sys
import time
from pathlib import Path




MOTO_VERSION = "5.2.5"
ACCOUNT_A = "123456789012"  # moto's default account
ACCOUNT_B = "111111111111"  # reached through sts:AssumeRole
ROLE_B = f"arn:aws:iam::{ACCOUNT_B}:role/stance-audit"
REGION = "us-east-1"
REGION2 = "eu-west-1"
PARTNER_ACCOUNT = "210987654321"  # an outside account things are shared with

# Every starter policy and the resource type it reads (checked against policies/aws when present).
POLICIES: dict[str, str] = {
    "aws-cloudtrail-cloudwatch-logs": "aws_cloudtrail_trail",
    "aws-cloudtrail-kms-encryption": "aws_cloudtrail_trail",
    "aws-cloudtrail-log-file-validation": "aws_cloudtrail_trail",
    "aws-cloudtrail-management-events-read-write": "aws_cloudtrail_trail",
    "aws-cloudtrail-multi-region-logging": "aws_cloudtrail_trail",
    "aws-ec2-ebs-encryption-by-default": "aws_ec2_regional_settings",
    "aws-ec2-instance-imdsv2-required": "aws_ec2_instance",
    "aws-ec2-instance-no-public-ip": "aws_ec2_instance",
    "aws-ec2-nacl-no-admin-ports-from-internet": "aws_ec2_network_acl",
    "aws-ec2-sg-default-restrict-all-traffic": "aws_ec2_security_group",
    "aws-ec2-sg-no-all-traffic-from-internet": "aws_ec2_security_group",
    "aws-ec2-sg-no-db-ports-from-internet": "aws_ec2_security_group",
    "aws-ec2-sg-no-rdp-from-internet": "aws_ec2_security_group",
    "aws-ec2-sg-no-ssh-from-internet": "aws_ec2_security_group",
    "aws-ec2-snapshot-not-public": "aws_ec2_snapshot",
    "aws-ec2-volume-encrypted": "aws_ec2_volume",
    "aws-ec2-vpc-flow-logs-enabled": "aws_ec2_vpc",
    "aws-iam-access-key-rotation-90-days": "aws_iam_user",
    "aws-iam-password-min-length-14": "aws_iam_account",
    "aws-iam-password-reuse-prevention": "aws_iam_account",
    "aws-iam-policy-no-full-admin": "aws_iam_policy",
    "aws-iam-role-trust-no-public-principal": "aws_iam_role",
    "aws-iam-root-hardware-mfa": "aws_iam_account",
    "aws-iam-root-mfa-enabled": "aws_iam_account",
    "aws-iam-root-no-access-keys": "aws_iam_account",
    "aws-iam-user-console-mfa": "aws_iam_user",
    "aws-iam-user-no-attached-policies": "aws_iam_user",
    "aws-iam-user-single-active-access-key": "aws_iam_user",
    "aws-iam-user-unused-credentials-45-days": "aws_iam_user",
    "aws-kms-key-not-pending-deletion": "aws_kms_key",
    "aws-kms-key-policy-no-public-principal": "aws_kms_key",
    "aws-kms-key-rotation-enabled": "aws_kms_key",
    "aws-rds-instance-auto-minor-version-upgrade": "aws_rds_db_instance",
    "aws-rds-instance-backup-retention-7-days": "aws_rds_db_instance",
    "aws-rds-instance-deletion-protection": "aws_rds_db_instance",
    "aws-rds-instance-multi-az": "aws_rds_db_instance",
    "aws-rds-instance-not-publicly-accessible": "aws_rds_db_instance",
    "aws-rds-instance-storage-encrypted": "aws_rds_db_instance",
    "aws-rds-snapshot-encrypted": "aws_rds_db_snapshot",
    "aws-rds-snapshot-not-public": "aws_rds_db_snapshot",
    "aws-s3-account-public-access-block": "aws_s3_account_public_access_block",
    "aws-s3-bucket-access-logging": "aws_s3_bucket",
    "aws-s3-bucket-default-encryption": "aws_s3_bucket",
    "aws-s3-bucket-no-public-acl": "aws_s3_bucket",
    "aws-s3-bucket-no-public-policy": "aws_s3_bucket",
    "aws-s3-bucket-public-access-block": "aws_s3_bucket",
    "aws-s3-bucket-tls-only": "aws_s3_bucket",
    "aws-s3-bucket-versioning-enabled": "aws_s3_bucket",
}
TYPES: dict[str, list[str]] = {}
for _pid, _t in POLICIES.items():
    TYPES.setdefault(_t, []).append(_pid)

SG_POLICIES = TYPES["aws_ec2_security_group"]
ROOT_REASON = (
    "moto 5.2.5 hard-codes GetAccountSummary AccountMFAEnabled=0 and AccountAccessKeysPresent=0, its "
    "credential report has no <root_account> row, and no API can give the root user MFA or access keys"
)
# Policies whose passing or failing side moto cannot provide, whatever is seeded.
ALWAYS_UNSUPPORTED = [
    {"policy": "aws-iam-root-mfa-enabled", "missing": "pass", "reason": ROOT_REASON},
    {"policy": "aws-iam-root-hardware-mfa", "missing": "pass", "reason": ROOT_REASON},
    {"policy": "aws-iam-root-no-access-keys", "missing": "fail", "reason": ROOT_REASON},
]
CLOCK_REASON = (
    "needs IAM users/access keys older than {days} days; moto stamps create dates with its own clock and has "
    "no API to back-date them. moto.sh shifts moto's clock with libfaketime (Debian package `faketime`); it "
    "was not available for this moto, so no failing user was seeded"
)
# Fields of the schema that moto cannot provide (no starter policy reads them today).
UNSUPPORTED_FIELDS = [
    {"field": "aws_ec2_regional_settings.ebs_default_kms_key_id",
     "reason": "GetEbsDefaultKmsKeyId is not implemented (HTTP 500 HTML page); always null"},
    {"field": "aws_ec2_regional_settings.snapshot_block_public_access_state",
     "reason": "GetSnapshotBlockPublicAccessState is not implemented (HTTP 500 HTML page); always null"},
    {"field": "aws_iam_user.password_last_used / aws_iam_account.root.password_last_used",
     "reason": "moto never records console logins: GetUser has no PasswordLastUsed, the credential "
               "report says no_information/not_supported; always null"},
    {"field": "aws_iam_account.root.*",
     "reason": "the credential report has no <root_account> row; derive from GetAccountSummary (always 0)"},
    {"field": "aws_ec2_instance.monitoring (change after launch)",
     "reason": "MonitorInstances/UnmonitorInstances are not implemented (500); Monitoring.Enabled at "
               "RunInstances works, so the seed sets it there"},
    {"field": "CloudWatch alarms with the Rust SDK",
     "reason": "aws-sdk-cloudwatch 1.140 speaks Smithy RPCv2 CBOR (POST /service/GraniteServiceVersion20100801/"
               "operation/...), which moto 5.2.5 answers with a 404 HTML page; boto3 (JSON) works. Alarms are "
               "seeded but no starter policy reads them"},
]


class SeedError(RuntimeError):
    pass


def log(msg: str) -> None:
    print(f"[seed {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def check(cond: bool, msg: str) -> None:
    if not cond:
        raise SeedError(f"moto did not behave as the seed assumes: {msg}")


def policy_doc(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


class Clock:
    """moto's clock, when moto.sh started it under libfaketime with a clock file."""

    def __init__(self, path: Path | None):
        self.path = path
        self.works = False

    def set(self, offset: str) -> None:
        assert self.path is not None
        self.path.write_text(offset + "\n")

    def probe(self, sts) -> bool:
        if self.path is None or not self.path.exists():
            return False
        try:
            self.set("-100d")
            exp = sts.get_session_token()["Credentials"]["Expiration"]
        finally:
            self.set("+0")
        age = dt.datetime.now(dt.timezone.utc) - exp
        self.works = age > dt.timedelta(days=90)
        return self.works


def register(policies: dict[str, str]) -> None:
    """Add a service module's policies (id -> resource type) to POLICIES and TYPES."""
    for pid, rtype in policies.items():
        if pid not in POLICIES:
            POLICIES[pid] = rtype
            TYPES.setdefault(rtype, []).append(pid)
