#!/usr/bin/env python3
"""Seed a fresh moto (server mode) with a small, realistic AWS estate for Stance's AWS tests.

    python seed.py --endpoint http://127.0.0.1:PORT [--buckets N --security-groups M] [--reset]

Everything is created SERIALLY (moto is not safe for concurrent writes). The JSON manifest on stdout
lists every resource created (asset id as Stance names it, see docs/aws-resources.md), and for each
resource which starter policies (policies/aws/*/*.yaml) it is designed to PASS or FAIL. Progress goes
to stderr.

Two accounts are seeded: 123456789012 (moto's default credentials) and 111111111111 (reached with
sts:AssumeRole into arn:aws:iam::111111111111:role/stance-audit with the default credentials), because
account-level settings are one asset per account and a policy needs one passing and one failing asset.

Age-based IAM checks need resources older than 45/90 days. moto stamps everything with its own clock,
so when moto.sh started moto under libfaketime (a clock file PORT.clock next to its pid file), this
script moves moto's clock back for a few calls. Without that file those users are not created and
the two policies are listed under "unsupported" for their failing side.

--buckets N --security-groups M additionally create N plain buckets and M security groups in
us-east-1 (benchmark fast path); the rest of the estate is unchanged.

Needs only boto3 (Python 3.11).
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import os
import re
import sys
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

import seed_workloads  # DynamoDB, ACM, ELBv2, ECR, EKS (tests/aws/seed_workloads.py)

import seed_posture  # GuardDuty, Config/Security Hub state, Access Analyzer, IAM certificates

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


class Seeder:
    def __init__(self, endpoint: str, clock_file: Path | None):
        self.endpoint = endpoint.rstrip("/")
        self.host = urlsplit(self.endpoint).netloc
        self.clients: dict[tuple, object] = {}
        self.creds = {
            ACCOUNT_A: {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"},
        }
        self.resources: list[dict] = []
        self.implicit: list[dict] = []
        self.extra: dict = {}
        self.unsupported: list[dict] = list(ALWAYS_UNSUPPORTED)
        self.clock = Clock(clock_file)
        self.known: dict[str, set] = {"kms": set(), "snapshot": set(), "volume": set(), "rds_snapshot": set()}
        self.ids: dict[str, str] = {}

    # ---- plumbing -------------------------------------------------------------------------------
    def c(self, service: str, region: str = REGION, account: str = ACCOUNT_A):
        key = (service, region, account)
        if key not in self.clients:
            cfg = Config(
                retries={"max_attempts": 1, "mode": "standard"},
                s3={"addressing_style": "path"},
                connect_timeout=5,
                read_timeout=300,
            )
            cl = boto3.client(service, endpoint_url=self.endpoint, region_name=region, config=cfg,
                              **self.creds[account])
            if service == "s3control":
                # S3 Control puts the account id in the host name (123456789012.127.0.0.1:PORT), which
                # does not resolve; moto routes /v20180820/ paths by path, so send them to the endpoint.
                host = self.host

                def rewrite(request, **_):
                    u = urlsplit(request.url)
                    request.url = urlunsplit((u.scheme, host, u.path, u.query, u.fragment))
                    request.headers["Host"] = host

                cl.meta.events.register("before-send.s3-control", rewrite)
            self.clients[key] = cl
        return self.clients[key]

    def res(self, rtype: str, rid: str, account: str, region: str, name: str, fail=(), note: str | None = None,
            **facts) -> dict:
        fail = list(fail)
        for p in fail:
            check(POLICIES.get(p) == rtype, f"internal: {p} is not a {rtype} policy")
        entry = {
            "type": rtype,
            "id": rid,
            "account": account,
            "region": region,
            "name": name,
            "pass": [p for p in TYPES.get(rtype, []) if p not in fail],
            "fail": fail,
        }
        if note:
            entry["note"] = note
        if facts:
            entry["facts"] = facts
        self.resources.append(entry)
        return entry

    def moto_api(self, path: str, body: dict) -> int:
        req = urllib.request.Request(self.endpoint + path, data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status

    # ---- preflight ------------------------------------------------------------------------------
    def preflight(self, reset: bool) -> None:
        if reset:
            self.moto_api("/moto-api/reset", {})
            log("moto reset")
        ident = self.c("sts").get_caller_identity()
        check(ident["Account"] == ACCOUNT_A, f"default credentials are for {ident['Account']}")
        if self.c("s3").list_buckets().get("Buckets"):
            raise SeedError("moto is not fresh (buckets exist): restart it or pass --reset")
        r = self.c("sts").assume_role(RoleArn=ROLE_B, RoleSessionName="stance-seed")["Credentials"]
        self.creds[ACCOUNT_B] = {"aws_access_key_id": r["AccessKeyId"], "aws_secret_access_key": r["SecretAccessKey"],
                                 "aws_session_token": r["SessionToken"]}
        check(self.c("sts", account=ACCOUNT_B).get_caller_identity()["Account"] == ACCOUNT_B, "assume_role account")
        if self.clock.probe(self.c("sts")):
            log(f"moto clock can be shifted ({self.clock.path})")
        else:
            log("moto clock cannot be shifted: age-based IAM failures will be listed as unsupported")

    # ---- KMS ------------------------------------------------------------------------------------
    def seed_kms(self) -> None:
        kms = self.c("kms")
        root = {"Sid": "EnableIAMUserPermissions", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT_A}:root"},
                "Action": "kms:*", "Resource": "*"}

        def key(alias: str, rotate: bool, policy: str | None = None, **kw) -> str:
            args = {"Description": alias, **kw}
            if policy:
                args["Policy"] = policy
            meta = kms.create_key(**args)["KeyMetadata"]
            kms.create_alias(AliasName=f"alias/{alias}", TargetKeyId=meta["KeyId"])
            if rotate:
                kms.enable_key_rotation(KeyId=meta["KeyId"])
            self.known["kms"].add(meta["Arn"])
            self.ids[f"kms:{alias}"] = meta["Arn"]
            return meta["Arn"]

        a = key("stance-data", True)
        self.res("aws_kms_key", a, ACCOUNT_A, REGION, "alias/stance-data", note="customer key, rotation on, default policy")
        a = key("stance-legacy", False)
        self.res("aws_kms_key", a, ACCOUNT_A, REGION, "alias/stance-legacy", fail=["aws-kms-key-rotation-enabled"],
                 note="symmetric customer key, rotation off")
        a = key("stance-open", True, policy_doc(root, {"Sid": "Everyone", "Effect": "Allow", "Principal": {"AWS": "*"},
                                                      "Action": ["kms:Decrypt", "kms:DescribeKey"], "Resource": "*"}))
        self.res("aws_kms_key", a, ACCOUNT_A, REGION, "alias/stance-open", fail=["aws-kms-key-policy-no-public-principal"],
                 note="key policy allows AWS:* without a condition")
        a = key("stance-org-shared", True, policy_doc(root, {
            "Sid": "Org", "Effect": "Allow", "Principal": "*", "Action": "kms:Decrypt", "Resource": "*",
            "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-stance1234"}}}))
        self.res("aws_kms_key", a, ACCOUNT_A, REGION, "alias/stance-org-shared",
                 note="Principal * restricted by aws:PrincipalOrgID: passes the public-principal check")
        a = key("stance-retired", False)
        # moto answers 500 (KeyError) when ScheduleKeyDeletion gets a key ARN: pass the bare key id
        kms.schedule_key_deletion(KeyId=a.split("/")[-1], PendingWindowInDays=7)
        self.res("aws_kms_key", a, ACCOUNT_A, REGION, "alias/stance-retired", fail=["aws-kms-key-not-pending-deletion"],
                 note="PendingDeletion; rotation check passes because key_state is not Enabled")
        a = key("stance-signing", False, KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY")
        self.res("aws_kms_key", a, ACCOUNT_A, REGION, "alias/stance-signing",
                 note="RSA_2048 SIGN_VERIFY: rotation does not apply (moto answers KeyRotationEnabled=false "
                      "instead of an error; rotation_enabled should be null)")
        st = kms.describe_key(KeyId=self.ids["kms:stance-retired"])["KeyMetadata"]["KeyState"]
        check(st == "PendingDeletion", f"retired key state {st}")

    # ---- IAM ------------------------------------------------------------------------------------
    def seed_iam(self) -> None:
        iam = self.c("iam")
        now = dt.datetime.now(dt.timezone.utc)

        # account settings: one asset per account, so the two accounts take opposite sides
        iam.update_account_password_policy(
            MinimumPasswordLength=14, RequireSymbols=True, RequireNumbers=True, RequireUppercaseCharacters=True,
            RequireLowercaseCharacters=True, AllowUsersToChangePassword=True, MaxPasswordAge=90,
            PasswordReusePrevention=5)
        self.res("aws_iam_account", f"arn:aws:iam::{ACCOUNT_A}:account", ACCOUNT_A, "global", ACCOUNT_A,
                 fail=["aws-iam-password-reuse-prevention", "aws-iam-root-mfa-enabled", "aws-iam-root-hardware-mfa"],
                 note="password policy length 14 (pass), reuse prevention 5 (< 24, fail); root has no MFA and "
                      "no access keys (moto cannot represent anything else)")
        iam_b = self.c("iam", account=ACCOUNT_B)
        iam_b.update_account_password_policy(MinimumPasswordLength=8, RequireNumbers=True, PasswordReusePrevention=24,
                                             AllowUsersToChangePassword=True)
        self.res("aws_iam_account", f"arn:aws:iam::{ACCOUNT_B}:account", ACCOUNT_B, "global", ACCOUNT_B,
                 fail=["aws-iam-password-min-length-14", "aws-iam-root-mfa-enabled", "aws-iam-root-hardware-mfa"],
                 note="password policy length 8 (fail), reuse prevention 24 (pass)")

        # customer managed policies
        p = iam.create_policy(PolicyName="stance-admin", PolicyDocument=policy_doc(
            {"Effect": "Allow", "Action": "*", "Resource": "*"}))["Policy"]["Arn"]
        self.ids["policy:admin"] = p
        self.res("aws_iam_policy", p, ACCOUNT_A, "global", "stance-admin", fail=["aws-iam-policy-no-full-admin"])
        p = iam.create_policy(PolicyName="stance-star-colon-star", PolicyDocument=policy_doc(
            {"Effect": "Allow", "Action": ["*:*"], "Resource": ["*"]}))["Policy"]["Arn"]
        # attached (to a group of its own), since an unattached policy grants nothing and passes
        iam.create_group(GroupName="stance-ops")
        iam.attach_group_policy(GroupName="stance-ops", PolicyArn=p)
        self.res("aws_iam_policy", p, ACCOUNT_A, "global", "stance-star-colon-star", fail=["aws-iam-policy-no-full-admin"],
                 note="Action *:*, attached to group stance-ops")
        p = iam.create_policy(PolicyName="stance-unattached-admin", PolicyDocument=policy_doc(
            {"Effect": "Allow", "Action": "*", "Resource": "*"}))["Policy"]["Arn"]
        self.res("aws_iam_policy", p, ACCOUNT_A, "global", "stance-unattached-admin",
                 note="full admin but attached to nothing: grants nothing, passes")
        p = iam.create_policy(PolicyName="stance-s3-read", PolicyDocument=policy_doc(
            {"Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"],
             "Resource": ["arn:aws:s3:::stance-data-prod", "arn:aws:s3:::stance-data-prod/*"]}))["Policy"]["Arn"]
        self.ids["policy:s3read"] = p
        self.res("aws_iam_policy", p, ACCOUNT_A, "global", "stance-s3-read")
        p = iam.create_policy(PolicyName="stance-narrowed", PolicyDocument=policy_doc(
            {"Effect": "Allow", "Action": "*", "Resource": "*"}))["Policy"]["Arn"]
        iam.create_policy_version(PolicyArn=p, SetAsDefault=True, PolicyDocument=policy_doc(
            {"Effect": "Allow", "Action": "ec2:Describe*", "Resource": "*"}))
        self.res("aws_iam_policy", p, ACCOUNT_A, "global", "stance-narrowed",
                 note="v1 was full admin, default version v2 is ec2:Describe* only: the check must read the default version")

        # roles
        def role(name: str, trust: dict, fail=(), note=None, **kw) -> str:
            arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=policy_doc(trust), **kw)["Role"]["Arn"]
            self.res("aws_iam_role", arn, ACCOUNT_A, "global", name, fail=fail, note=note)
            self.ids[f"role:{name}"] = arn
            return arn

        svc = lambda s: {"Effect": "Allow", "Principal": {"Service": s}, "Action": "sts:AssumeRole"}  # noqa: E731
        role("stance-app", svc("ec2.amazonaws.com"), MaxSessionDuration=7200,
             note="EC2 instance role; assumed once by the seed so RoleLastUsed is set")
        iam.attach_role_policy(RoleName="stance-app", PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess")
        iam.attach_role_policy(RoleName="stance-app", PolicyArn=self.ids["policy:s3read"])
        iam.put_role_policy(RoleName="stance-app", PolicyName="logs", PolicyDocument=policy_doc(
            {"Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Resource": "*"}))
        iam.create_instance_profile(InstanceProfileName="stance-app")
        iam.add_role_to_instance_profile(InstanceProfileName="stance-app", RoleName="stance-app")
        role("stance-lambda-exec", svc("lambda.amazonaws.com"))
        role("stance-config", svc("config.amazonaws.com"))
        role("stance-cloudtrail-logs", svc("cloudtrail.amazonaws.com"))
        role("stance-public-trust", {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"},
             fail=["aws-iam-role-trust-no-public-principal"], note='Principal {"AWS": "*"} without a condition')
        role("stance-anyone", {"Effect": "Allow", "Principal": "*", "Action": "sts:AssumeRole"},
             fail=["aws-iam-role-trust-no-public-principal"], note='Principal "*" without a condition')
        role("stance-partner", {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole",
                                "Condition": {"StringEquals": {"sts:ExternalId": "stance-partner-7f3a"}}},
             note="wildcard principal scoped by sts:ExternalId")
        role("stance-admin-break-glass", {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT_A}:root"},
                                          "Action": "sts:AssumeRole",
                                          "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}}})
        iam.attach_role_policy(RoleName="stance-admin-break-glass", PolicyArn=self.ids["policy:admin"])
        slr = iam.create_service_linked_role(AWSServiceName="elasticbeanstalk.amazonaws.com")["Role"]
        self.res("aws_iam_role", slr["Arn"], ACCOUNT_A, "global", slr["RoleName"], note="service-linked (path /aws-service-role/)")
        # make RoleLastUsed non-empty for stance-app
        cr = self.c("sts").assume_role(RoleArn=self.ids["role:stance-app"], RoleSessionName="seed")["Credentials"]
        boto3.client("sts", endpoint_url=self.endpoint, region_name=REGION, aws_access_key_id=cr["AccessKeyId"],
                     aws_secret_access_key=cr["SecretAccessKey"], aws_session_token=cr["SessionToken"]).get_caller_identity()

        # users
        iam.create_group(GroupName="developers")
        iam.attach_group_policy(GroupName="developers", PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess")

        def user(name: str, console=False, mfa=False, keys=0, inactive=0, attach=None, inline=False, groups=()):
            u = iam.create_user(UserName=name, Path="/people/" if console else "/service/")["User"]
            if console:
                iam.create_login_profile(UserName=name, Password="Stance-Seed-Passw0rd!")
            if mfa:
                sn = iam.create_virtual_mfa_device(VirtualMFADeviceName=name)["VirtualMFADevice"]["SerialNumber"]
                iam.enable_mfa_device(UserName=name, SerialNumber=sn, AuthenticationCode1="123456",
                                      AuthenticationCode2="654321")
            made = [iam.create_access_key(UserName=name)["AccessKey"] for _ in range(keys + inactive)]
            for k in made[keys:]:
                iam.update_access_key(UserName=name, AccessKeyId=k["AccessKeyId"], Status="Inactive")
            if attach:
                iam.attach_user_policy(UserName=name, PolicyArn=attach)
            if inline:
                iam.put_user_policy(UserName=name, PolicyName="inline", PolicyDocument=policy_doc(
                    {"Effect": "Allow", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::stance-cloudtrail-logs/*"}))
            for g in groups:
                iam.add_user_to_group(GroupName=g, UserName=name)
            return u, made

        u, ks = user("alice", console=True, mfa=True, keys=1, groups=["developers"])
        boto3.client("sts", endpoint_url=self.endpoint, region_name=REGION, aws_access_key_id=ks[0]["AccessKeyId"],
                     aws_secret_access_key=ks[0]["SecretAccessKey"]).get_caller_identity()
        self.res("aws_iam_user", u["Arn"], ACCOUNT_A, "global", "alice",
                 note="console + virtual MFA, one active key used today, permissions only through group developers")
        u, _ = user("bob", console=True, attach="arn:aws:iam::aws:policy/AdministratorAccess")
        self.res("aws_iam_user", u["Arn"], ACCOUNT_A, "global", "bob",
                 fail=["aws-iam-user-console-mfa", "aws-iam-user-no-attached-policies"],
                 note="console without MFA, AdministratorAccess attached directly")
        u, _ = user("carol-ci", keys=2, inline=True)
        self.res("aws_iam_user", u["Arn"], ACCOUNT_A, "global", "carol-ci",
                 fail=["aws-iam-user-single-active-access-key", "aws-iam-user-no-attached-policies"],
                 note="no console, two active keys, inline policy")
        u, _ = user("dan-svc", keys=1, inactive=1)
        self.res("aws_iam_user", u["Arn"], ACCOUNT_A, "global", "dan-svc", note="one active and one inactive key")

        if self.clock.works:
            try:
                self.clock.set("-100d")
                u, _ = user("dave-stale", console=True, mfa=True, keys=1)
                self.clock.set("-50d")
                u2, _ = user("erin-dormant", keys=1)
            finally:
                self.clock.set("+0")
            check((now - u["CreateDate"]).days >= 99, f"dave-stale created {u['CreateDate']}")
            check(40 < (now - u2["CreateDate"]).days < 90, f"erin-dormant created {u2['CreateDate']}")
            self.res("aws_iam_user", u["Arn"], ACCOUNT_A, "global", "dave-stale",
                     fail=["aws-iam-access-key-rotation-90-days", "aws-iam-user-unused-credentials-45-days"],
                     note="created 100 days ago (moto clock shifted): console+MFA never used, active key 100 days old never used",
                     create_date=u["CreateDate"].isoformat())
            self.res("aws_iam_user", u2["Arn"], ACCOUNT_A, "global", "erin-dormant",
                     fail=["aws-iam-user-unused-credentials-45-days"],
                     note="created 50 days ago: active key 50 days old (rotation passes), never used",
                     create_date=u2["CreateDate"].isoformat())
        else:
            for pid, days in (("aws-iam-access-key-rotation-90-days", 90), ("aws-iam-user-unused-credentials-45-days", 45)):
                self.unsupported.append({"policy": pid, "missing": "fail", "reason": CLOCK_REASON.format(days=days)})
        # moto's report is ready at once; generating it here saves the collector a STARTED round trip
        iam.generate_credential_report()

    # ---- S3 -------------------------------------------------------------------------------------
    def seed_s3(self) -> None:
        s3 = self.c("s3")
        s3eu = self.c("s3", REGION2)
        kms_arn = self.ids["kms:stance-data"]
        all_block = {"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
                     "RestrictPublicBuckets": True}

        def tls(b: str) -> dict:
            return {"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
                    "Resource": [f"arn:aws:s3:::{b}", f"arn:aws:s3:::{b}/*"],
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}}}

        def log_delivery(b: str) -> dict:
            return {"Sid": "S3ServerAccessLogs", "Effect": "Allow", "Principal": {"Service": "logging.s3.amazonaws.com"},
                    "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{b}/*",
                    "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT_A}}}

        def bucket(name: str, client=s3, region=REGION, **kw) -> str:
            args = {"Bucket": name, **kw}
            if region != REGION:
                args["CreateBucketConfiguration"] = {"LocationConstraint": region}
            client.create_bucket(**args)
            return name

        def sse(client, b, algo="AES256", key=None):
            d = {"SSEAlgorithm": algo}
            if key:
                d["KMSMasterKeyID"] = key
            client.put_bucket_encryption(Bucket=b, ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": d, "BucketKeyEnabled": key is not None}]})

        # access-log target first
        b = bucket("stance-access-logs")
        sse(s3, b)
        s3.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Enabled"})
        s3.put_public_access_block(Bucket=b, PublicAccessBlockConfiguration=all_block)
        # the logging statement must come first: moto's PutBucketLogging check crashes (500) on a
        # statement whose Principal is the string "*" before it finds the logging one
        s3.put_bucket_policy(Bucket=b, Policy=policy_doc(log_delivery(b), tls(b)))
        s3.put_bucket_ownership_controls(Bucket=b, OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]})
        s3.put_bucket_lifecycle_configuration(Bucket=b, LifecycleConfiguration={"Rules": [
            {"ID": "expire-logs", "Status": "Enabled", "Filter": {"Prefix": ""}, "Expiration": {"Days": 365}}]})
        self.res("aws_s3_bucket", f"arn:aws:s3:::{b}", ACCOUNT_A, REGION, b, fail=["aws-s3-bucket-access-logging"],
                 note="the access-log target: everything on except its own logging")

        def logging(client, b, target="stance-access-logs"):
            client.put_bucket_logging(Bucket=b, BucketLoggingStatus={
                "LoggingEnabled": {"TargetBucket": target, "TargetPrefix": f"{b}/"}})

        b = bucket("stance-data-prod", ObjectLockEnabledForBucket=True)
        sse(s3, b, "aws:kms", kms_arn)
        s3.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Enabled"})
        logging(s3, b)
        s3.put_public_access_block(Bucket=b, PublicAccessBlockConfiguration=all_block)
        s3.put_bucket_policy(Bucket=b, Policy=policy_doc(tls(b), {
            "Sid": "AppRead", "Effect": "Allow", "Principal": {"AWS": self.ids["role:stance-app"]},
            "Action": ["s3:GetObject"], "Resource": f"arn:aws:s3:::{b}/*"}))
        s3.put_bucket_ownership_controls(Bucket=b, OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]})
        s3.put_bucket_lifecycle_configuration(Bucket=b, LifecycleConfiguration={"Rules": [
            {"ID": "old-versions", "Status": "Enabled", "Filter": {"Prefix": ""},
             "NoncurrentVersionExpiration": {"NoncurrentDays": 90}},
            {"ID": "tmp", "Status": "Enabled", "Filter": {"Prefix": "tmp/"}, "Expiration": {"Days": 7}}]})
        self.res("aws_s3_bucket", f"arn:aws:s3:::{b}", ACCOUNT_A, REGION, b,
                 note="SSE-KMS + bucket key, versioning, object lock, logging, all four BPA, TLS-only policy, "
                      "BucketOwnerEnforced, 2 lifecycle rules")

        b = bucket("stance-cloudtrail-logs")
        sse(s3, b)
        s3.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Enabled"})
        logging(s3, b)
        s3.put_public_access_block(Bucket=b, PublicAccessBlockConfiguration=all_block)
        s3.put_bucket_policy(Bucket=b, Policy=policy_doc(tls(b), {
            "Sid": "AWSCloudTrailWrite", "Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"},
            "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{b}/AWSLogs/{ACCOUNT_A}/*",
            "Condition": {"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control"}}}, {
            "Sid": "AWSCloudTrailAclCheck", "Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"},
            "Action": "s3:GetBucketAcl", "Resource": f"arn:aws:s3:::{b}"}))
        self.res("aws_s3_bucket", f"arn:aws:s3:::{b}", ACCOUNT_A, REGION, b, note="CloudTrail and Config delivery bucket")

        b = bucket("stance-public-website", ACL="public-read")
        s3.put_bucket_policy(Bucket=b, Policy=policy_doc({
            "Sid": "PublicRead", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
            "Resource": f"arn:aws:s3:::{b}/*"}))
        self.res("aws_s3_bucket", f"arn:aws:s3:::{b}", ACCOUNT_A, REGION, b,
                 fail=TYPES["aws_s3_bucket"],
                 note="public-read ACL (AllUsers READ) and a Principal * policy, nothing else; moto's Config "
                      "BatchGetResourceConfig/GetResourceConfigHistory answer 500 for this bucket",
                 config_batch_get_breaks=True)
        self.ids["bucket:public"] = b

        b = bucket("stance-partner-share", ACL="authenticated-read")
        sse(s3, b)
        s3.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Enabled"})
        s3.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Suspended"})
        s3.put_bucket_policy(Bucket=b, Policy=policy_doc({
            "Sid": "AnyAws", "Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "s3:GetObject",
            "Resource": f"arn:aws:s3:::{b}/*"}))
        s3.put_public_access_block(Bucket=b, PublicAccessBlockConfiguration={
            "BlockPublicAcls": False, "IgnorePublicAcls": True, "BlockPublicPolicy": False, "RestrictPublicBuckets": True})
        s3.put_bucket_ownership_controls(Bucket=b, OwnershipControls={"Rules": [{"ObjectOwnership": "ObjectWriter"}]})
        self.res("aws_s3_bucket", f"arn:aws:s3:::{b}", ACCOUNT_A, REGION, b,
                 fail=["aws-s3-bucket-access-logging", "aws-s3-bucket-public-access-block", "aws-s3-bucket-tls-only",
                       "aws-s3-bucket-versioning-enabled"],
                 note="AuthenticatedUsers READ ACL and AWS:* policy, neutralised by BPA IgnorePublicAcls + "
                      "RestrictPublicBuckets (only 2 of 4 set); versioning Suspended; Config BatchGet answers 500",
                 config_batch_get_breaks=True)

        b = bucket("stance-vpce-only")
        s3.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Enabled"})
        s3.put_bucket_policy(Bucket=b, Policy=policy_doc(tls(b), {
            "Sid": "VpceOnly", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
            "Resource": f"arn:aws:s3:::{b}/*", "Condition": {"StringEquals": {"aws:SourceVpce": "vpce-0a1b2c3d"}}}))
        self.res("aws_s3_bucket", f"arn:aws:s3:::{b}", ACCOUNT_A, REGION, b,
                 fail=["aws-s3-bucket-access-logging", "aws-s3-bucket-default-encryption",
                       "aws-s3-bucket-public-access-block"],
                 note="Principal * scoped by aws:SourceVpce (not public), no default encryption, no BPA")

        b = bucket("stance-eu-archive", client=s3eu, region=REGION2)
        sse(s3eu, b, "aws:kms", None)
        s3eu.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Enabled"})
        s3eu.put_public_access_block(Bucket=b, PublicAccessBlockConfiguration=all_block)
        s3eu.put_bucket_policy(Bucket=b, Policy=policy_doc(log_delivery(b), tls(b)))
        logging(s3eu, b, target=b)
        self.res("aws_s3_bucket", f"arn:aws:s3:::{b}", ACCOUNT_A, REGION2, b,
                 note="eu-west-1; SSE-KMS with the AWS managed key (no KMSMasterKeyID); logs into itself")

        s3b = self.c("s3", account=ACCOUNT_B)
        b = bucket("stance-acct2-scratch", client=s3b)
        self.res("aws_s3_bucket", f"arn:aws:s3:::{b}", ACCOUNT_B, REGION, b,
                 fail=["aws-s3-bucket-access-logging", "aws-s3-bucket-default-encryption",
                       "aws-s3-bucket-public-access-block", "aws-s3-bucket-tls-only", "aws-s3-bucket-versioning-enabled"],
                 note="second account: a bucket with nothing configured (moto gives new buckets no default "
                      "encryption and no BPA, unlike AWS since 2023)")

        # account-level Block Public Access: on in A, absent in B (moto does not enforce it on later calls)
        self.c("s3control").put_public_access_block(AccountId=ACCOUNT_A, PublicAccessBlockConfiguration=all_block)
        self.res("aws_s3_account_public_access_block", f"arn:aws:s3::{ACCOUNT_A}:account-public-access-block",
                 ACCOUNT_A, "global", ACCOUNT_A, note="all four settings on (S3 Control; Config also lists it)")
        self.res("aws_s3_account_public_access_block", f"arn:aws:s3::{ACCOUNT_B}:account-public-access-block",
                 ACCOUNT_B, "global", ACCOUNT_B, fail=["aws-s3-account-public-access-block"],
                 note="not configured: S3 Control GetPublicAccessBlock answers 404 NoSuchPublicAccessBlockConfiguration")

        # facts the expectations rely on
        got = s3.get_bucket_logging(Bucket="stance-data-prod").get("LoggingEnabled", {})
        check(got.get("TargetBucket") == "stance-access-logs", f"logging {got}")
        grants = s3.get_bucket_acl(Bucket="stance-public-website")["Grants"]
        check(any(g["Grantee"].get("URI", "").endswith("/AllUsers") for g in grants), "public-read ACL")
        check(s3.get_bucket_versioning(Bucket="stance-partner-share").get("Status") == "Suspended", "suspended")

    # ---- EC2 ------------------------------------------------------------------------------------
    def seed_ec2(self) -> None:
        ec2 = self.c("ec2")
        A, R = ACCOUNT_A, REGION
        arn = lambda kind, i, region=R: f"arn:aws:ec2:{region}:{A}:{kind}/{i}"  # noqa: E731
        kms_arn = self.ids["kms:stance-data"]

        ec2.enable_ebs_encryption_by_default()
        check(ec2.get_ebs_encryption_by_default()["EbsEncryptionByDefault"], "ebs default")
        self.res("aws_ec2_regional_settings", f"arn:aws:ec2:{R}:{A}:regional-settings", A, R, R,
                 note="EBS encryption by default on (moto does not apply it to new volumes)")
        ec2eu = self.c("ec2", REGION2)
        check(not ec2eu.get_ebs_encryption_by_default()["EbsEncryptionByDefault"], "eu ebs default")
        self.res("aws_ec2_regional_settings", f"arn:aws:ec2:{REGION2}:{A}:regional-settings", A, REGION2, REGION2,
                 fail=["aws-ec2-ebs-encryption-by-default"])

        ami = ec2.register_image(Name="stance-al2023", Description="Stance seed AMI", RootDeviceName="/dev/xvda",
                                 Architecture="x86_64", VirtualizationType="hvm",
                                 BlockDeviceMappings=[{"DeviceName": "/dev/xvda", "Ebs": {"VolumeSize": 8}}])["ImageId"]
        self.extra["ami"] = ami

        # network
        default_vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
        # moto 5.2.5 reads an S3 destination with a prefix as a bucket named "bucket/prefix" and reports the
        # flow log under Unsuccessful without raising: deliver to the bucket itself and check.
        created = ec2.create_flow_logs(ResourceIds=[default_vpc], ResourceType="VPC", TrafficType="ALL",
                                       LogDestinationType="s3", LogDestination="arn:aws:s3:::stance-access-logs")
        if created.get("Unsuccessful"):
            raise SystemExit(f"create_flow_logs failed: {created['Unsuccessful']}")
        self.res("aws_ec2_vpc", arn("vpc", default_vpc), A, R, "default", note="default VPC with an ACTIVE flow log to S3")
        vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16", TagSpecifications=[{"ResourceType": "vpc", "Tags": [
            {"Key": "Name", "Value": "stance-app"}]}])["Vpc"]["VpcId"]
        self.res("aws_ec2_vpc", arn("vpc", vpc), A, R, "stance-app", fail=["aws-ec2-vpc-flow-logs-enabled"])
        vpc2 = ec2.create_vpc(CidrBlock="10.40.0.0/16", TagSpecifications=[{"ResourceType": "vpc", "Tags": [
            {"Key": "Name", "Value": "stance-analytics"}]}])["Vpc"]["VpcId"]
        ec2.create_flow_logs(ResourceIds=[vpc2], ResourceType="VPC", TrafficType="REJECT",
                             LogDestinationType="cloud-watch-logs", LogGroupName="/stance/vpc-flow",
                             DeliverLogsPermissionArn=self.ids["role:stance-cloudtrail-logs"])
        self.res("aws_ec2_vpc", arn("vpc", vpc2), A, R, "stance-analytics", note="REJECT-only flow log to CloudWatch Logs")
        private = ec2.create_subnet(VpcId=vpc, CidrBlock="10.20.1.0/24", AvailabilityZone="us-east-1a")["Subnet"]["SubnetId"]
        public = ec2.create_subnet(VpcId=vpc, CidrBlock="10.20.2.0/24", AvailabilityZone="us-east-1b")["Subnet"]["SubnetId"]
        ec2.modify_subnet_attribute(SubnetId=public, MapPublicIpOnLaunch={"Value": True})

        # the new VPCs' default security groups: stance-app's is emptied (passes), stance-analytics' keeps egress
        for v, name, empty in ((vpc, "stance-app", True), (vpc2, "stance-analytics", False)):
            sg = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [v]},
                                                       {"Name": "group-name", "Values": ["default"]}])["SecurityGroups"][0]
            check(sg["IpPermissions"] == [], "default SG has no ingress in moto")
            if empty:
                ec2.revoke_security_group_egress(GroupId=sg["GroupId"], IpPermissions=sg["IpPermissionsEgress"])
                self.res("aws_ec2_security_group", arn("security-group", sg["GroupId"]), A, R, f"default ({name})",
                         note="default SG with every rule removed")
            else:
                self.res("aws_ec2_security_group", arn("security-group", sg["GroupId"]), A, R, f"default ({name})",
                         fail=["aws-ec2-sg-default-restrict-all-traffic"], note="default SG, egress to 0.0.0.0/0")
        for v, name in ((vpc, "stance-app"), (vpc2, "stance-analytics")):
            acl = ec2.describe_network_acls(Filters=[{"Name": "vpc-id", "Values": [v]},
                                                     {"Name": "default", "Values": ["true"]}])["NetworkAcls"][0]
            self.res("aws_ec2_network_acl", arn("network-acl", acl["NetworkAclId"]), A, R, f"default ({name})",
                     fail=["aws-ec2-nacl-no-admin-ports-from-internet"], note="default NACL: allow all inbound")
        acl = ec2.create_network_acl(VpcId=vpc)["NetworkAcl"]["NetworkAclId"]
        ec2.create_network_acl_entry(NetworkAclId=acl, RuleNumber=100, Protocol="6", RuleAction="allow", Egress=False,
                                     CidrBlock="0.0.0.0/0", PortRange={"From": 443, "To": 443})
        ec2.create_network_acl_entry(NetworkAclId=acl, RuleNumber=110, Protocol="6", RuleAction="allow", Egress=False,
                                     CidrBlock="0.0.0.0/0", PortRange={"From": 32768, "To": 65535})
        ec2.create_network_acl_entry(NetworkAclId=acl, RuleNumber=120, Protocol="6", RuleAction="allow", Egress=False,
                                     CidrBlock="10.0.0.0/8", PortRange={"From": 22, "To": 22})
        ec2.create_network_acl_entry(NetworkAclId=acl, RuleNumber=100, Protocol="-1", RuleAction="allow", Egress=True,
                                     CidrBlock="0.0.0.0/0")
        ec2.create_tags(Resources=[acl], Tags=[{"Key": "Name", "Value": "stance-private"}])
        self.res("aws_ec2_network_acl", arn("network-acl", acl), A, R, "stance-private",
                 note="inbound 443 and 32768-65535 from anywhere, 22 from 10.0.0.0/8 only")
        acl = ec2.create_network_acl(VpcId=vpc)["NetworkAcl"]["NetworkAclId"]
        ec2.create_network_acl_entry(NetworkAclId=acl, RuleNumber=90, Protocol="6", RuleAction="deny", Egress=False,
                                     CidrBlock="0.0.0.0/0", PortRange={"From": 3389, "To": 3389})
        ec2.create_network_acl_entry(NetworkAclId=acl, RuleNumber=100, Protocol="6", RuleAction="allow", Egress=False,
                                     Ipv6CidrBlock="::/0", PortRange={"From": 22, "To": 22})
        ec2.create_tags(Resources=[acl], Tags=[{"Key": "Name", "Value": "stance-bastion"}])
        self.res("aws_ec2_network_acl", arn("network-acl", acl), A, R, "stance-bastion",
                 fail=["aws-ec2-nacl-no-admin-ports-from-internet"], note="inbound SSH from ::/0")

        # security groups
        def sg(name: str, perms: list, fail=(), vpc_id=vpc, client=ec2, region=R, note=None) -> str:
            gid = client.create_security_group(GroupName=name, Description=f"Stance seed {name}", VpcId=vpc_id)["GroupId"]
            if perms:
                client.authorize_security_group_ingress(GroupId=gid, IpPermissions=perms)
            self.res("aws_ec2_security_group", arn("security-group", gid, region), A, region, name, fail=fail, note=note)
            self.ids[f"sg:{name}"] = gid
            return gid

        anywhere = [{"CidrIp": "0.0.0.0/0"}]
        pl = ec2.create_managed_prefix_list(PrefixListName="stance-office", MaxEntries=5, AddressFamily="IPv4",
                                            Entries=[{"Cidr": "198.51.100.0/24", "Description": "office"}])
        pl = pl["PrefixList"]["PrefixListId"]
        web = sg("stance-web", [
            {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "0.0.0.0/0", "Description": "https"}],
             "Ipv6Ranges": [{"CidrIpv6": "::/0"}]},
            {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "10.0.0.0/8"}],
             "PrefixListIds": [{"PrefixListId": pl}]},
        ], note="443 from anywhere (IPv4+IPv6), 22 from 10/8 and a prefix list")
        ec2.authorize_security_group_ingress(GroupId=web, IpPermissions=[
            {"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": web}]}])
        sg("stance-ssh-open", [{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": anywhere}],
           fail=["aws-ec2-sg-no-ssh-from-internet"])
        sg("stance-rdp-ipv6", [{"IpProtocol": "tcp", "FromPort": 3389, "ToPort": 3389, "Ipv6Ranges": [{"CidrIpv6": "::/0"}]}],
           fail=["aws-ec2-sg-no-rdp-from-internet"])
        sg("stance-rdp-udp", [{"IpProtocol": "udp", "FromPort": 3389, "ToPort": 3389, "IpRanges": anywhere}],
           fail=["aws-ec2-sg-no-rdp-from-internet"], note="UDP 3389 (RDP UDP transport) from anywhere")
        sg("stance-db-open", [{"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "IpRanges": anywhere},
                              {"IpProtocol": "tcp", "FromPort": 6379, "ToPort": 6379, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}],
           fail=["aws-ec2-sg-no-db-ports-from-internet"])
        sg("stance-all-open", [{"IpProtocol": "-1", "IpRanges": anywhere}],
           fail=["aws-ec2-sg-no-all-traffic-from-internet", "aws-ec2-sg-no-ssh-from-internet",
                 "aws-ec2-sg-no-rdp-from-internet", "aws-ec2-sg-no-db-ports-from-internet"],
           note="protocol -1 from 0.0.0.0/0 (ports normalise to 0-65535)")
        sg("stance-tcp-all-ports", [{"IpProtocol": "tcp", "FromPort": 0, "ToPort": 65535,
                                     "Ipv6Ranges": [{"CidrIpv6": "::/0"}]}],
           fail=["aws-ec2-sg-no-all-traffic-from-internet", "aws-ec2-sg-no-ssh-from-internet",
                 "aws-ec2-sg-no-rdp-from-internet", "aws-ec2-sg-no-db-ports-from-internet"],
           note="tcp 0-65535 from ::/0")
        sg("stance-eu-web", [{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": anywhere}],
           vpc_id=ec2eu.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"],
           client=ec2eu, region=REGION2)
        self.extra["prefix_list"] = pl

        # instances
        def instance(name: str, subnet: str, sgs: list, md: dict, monitoring: bool, encrypted: bool, profile=False):
            bdm = {"DeviceName": "/dev/xvda", "Ebs": {"VolumeSize": 8, "VolumeType": "gp3", "DeleteOnTermination": True}}
            if encrypted:
                bdm["Ebs"].update(Encrypted=True, KmsKeyId=kms_arn)
            args = dict(ImageId=ami, MinCount=1, MaxCount=1, InstanceType="t3.micro", SubnetId=subnet,
                        SecurityGroupIds=sgs, MetadataOptions=md, Monitoring={"Enabled": monitoring},
                        BlockDeviceMappings=[bdm],
                        TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": name}]}])
            if profile:
                args["IamInstanceProfile"] = {"Name": "stance-app"}
            i = ec2.run_instances(**args)["Instances"][0]
            d = ec2.describe_instances(InstanceIds=[i["InstanceId"]])["Reservations"][0]["Instances"][0]
            vol = d["BlockDeviceMappings"][0]["Ebs"]["VolumeId"]
            got = ec2.describe_volumes(VolumeIds=[vol])["Volumes"][0]["Encrypted"]
            check(got == encrypted, f"root volume of {name} encrypted={got}")
            self.known["volume"].add(vol)
            return d, vol

        d, vol = instance("stance-app-1", private, [web], {"HttpTokens": "required", "HttpEndpoint": "enabled",
                                                            "HttpPutResponseHopLimit": 2}, True, True, profile=True)
        check(d.get("PublicIpAddress") is None and d["MetadataOptions"]["HttpTokens"] == "required", "app instance")
        self.res("aws_ec2_instance", arn("instance", d["InstanceId"]), A, R, "stance-app-1",
                 note="private subnet, IMDSv2 required, detailed monitoring, instance profile")
        self.res("aws_ec2_volume", arn("volume", vol), A, R, "stance-app-1 root", note="encrypted with alias/stance-data")
        d, vol = instance("stance-legacy-1", public, [self.ids["sg:stance-ssh-open"]], {"HttpTokens": "optional"}, False, False)
        check(d.get("PublicIpAddress") is not None and d["MetadataOptions"]["HttpTokens"] == "optional", "legacy instance")
        self.res("aws_ec2_instance", arn("instance", d["InstanceId"]), A, R, "stance-legacy-1",
                 fail=["aws-ec2-instance-imdsv2-required", "aws-ec2-instance-no-public-ip"],
                 note="public subnet with public IP, IMDSv1 allowed; Inspector2 findings point at it")
        self.res("aws_ec2_volume", arn("volume", vol), A, R, "stance-legacy-1 root", fail=["aws-ec2-volume-encrypted"])
        self.ids["instance:legacy"] = d["InstanceId"]
        self.extra["legacy_instance"] = d
        d, vol = instance("stance-batch-1", public, [web], {"HttpEndpoint": "disabled"}, False, True)
        check(d.get("PublicIpAddress") is not None and d["MetadataOptions"]["HttpEndpoint"] == "disabled", "batch instance")
        self.res("aws_ec2_instance", arn("instance", d["InstanceId"]), A, R, "stance-batch-1",
                 fail=["aws-ec2-instance-no-public-ip"], note="metadata endpoint disabled (passes IMDSv2), public IP")
        self.res("aws_ec2_volume", arn("volume", vol), A, R, "stance-batch-1 root", note="encrypted")

        # volumes and snapshots
        enc = ec2.create_volume(AvailabilityZone="us-east-1a", Size=20, VolumeType="gp3", Encrypted=True, KmsKeyId=kms_arn,
                                TagSpecifications=[{"ResourceType": "volume", "Tags": [{"Key": "Name", "Value": "stance-data"}]}])
        plain = ec2.create_volume(AvailabilityZone="us-east-1a", Size=10, VolumeType="gp2",
                                  TagSpecifications=[{"ResourceType": "volume", "Tags": [{"Key": "Name", "Value": "stance-scratch"}]}])
        check(not plain["Encrypted"], "moto ignores EBS encryption by default for new volumes")
        for v in (enc, plain):
            self.known["volume"].add(v["VolumeId"])
        self.res("aws_ec2_volume", arn("volume", enc["VolumeId"]), A, R, "stance-data")
        self.res("aws_ec2_volume", arn("volume", plain["VolumeId"]), A, R, "stance-scratch",
                 fail=["aws-ec2-volume-encrypted"],
                 note="unencrypted although EBS encryption by default is on in the region (moto does not apply it)")
        s_enc = ec2.create_snapshot(VolumeId=enc["VolumeId"], Description="stance-data nightly")["SnapshotId"]
        ec2.modify_snapshot_attribute(SnapshotId=s_enc, Attribute="createVolumePermission", OperationType="add",
                                      UserIds=[PARTNER_ACCOUNT])
        s_pub = ec2.create_snapshot(VolumeId=plain["VolumeId"], Description="stance-scratch export")["SnapshotId"]
        ec2.modify_snapshot_attribute(SnapshotId=s_pub, Attribute="createVolumePermission", OperationType="add",
                                      GroupNames=["all"])
        perms = ec2.describe_snapshot_attribute(SnapshotId=s_pub, Attribute="createVolumePermission")["CreateVolumePermissions"]
        check({"Group": "all"} in perms, f"public snapshot {perms}")
        self.known["snapshot"] |= {s_enc, s_pub}
        self.res("aws_ec2_snapshot", arn("snapshot", s_enc), A, R, "stance-data nightly",
                 note=f"encrypted, shared with {PARTNER_ACCOUNT} only", shared_with_accounts=[PARTNER_ACCOUNT])
        self.res("aws_ec2_snapshot", arn("snapshot", s_pub), A, R, "stance-scratch export",
                 fail=["aws-ec2-snapshot-not-public"], note="createVolumePermission group all")

    # ---- RDS ------------------------------------------------------------------------------------
    def seed_rds(self) -> None:
        rds = self.c("rds")
        kms_arn = self.ids["kms:stance-data"]
        common = dict(DBInstanceClass="db.t3.micro", AllocatedStorage=20, MasterUsername="stance",
                      MasterUserPassword="Stance-Seed-Passw0rd")
        prod = rds.create_db_instance(
            DBInstanceIdentifier="stance-db-prod", Engine="postgres", EngineVersion="16.3", StorageEncrypted=True,
            KmsKeyId=kms_arn, MultiAZ=True, BackupRetentionPeriod=14, AutoMinorVersionUpgrade=True,
            DeletionProtection=True, PubliclyAccessible=False, EnableIAMDatabaseAuthentication=True,
            EnableCloudwatchLogsExports=["postgresql", "upgrade"], CopyTagsToSnapshot=True, **common)["DBInstance"]
        self.res("aws_rds_db_instance", prod["DBInstanceArn"], ACCOUNT_A, REGION, "stance-db-prod")
        legacy = rds.create_db_instance(
            DBInstanceIdentifier="stance-db-legacy", Engine="mysql", EngineVersion="8.0.35", StorageEncrypted=False,
            MultiAZ=False, BackupRetentionPeriod=0, AutoMinorVersionUpgrade=False, DeletionProtection=False,
            PubliclyAccessible=True, **common)["DBInstance"]
        self.res("aws_rds_db_instance", legacy["DBInstanceArn"], ACCOUNT_A, REGION, "stance-db-legacy",
                 fail=TYPES["aws_rds_db_instance"], note="every RDS instance check fails")
        staging = rds.create_db_instance(
            DBInstanceIdentifier="stance-db-staging", Engine="postgres", EngineVersion="15.5", StorageEncrypted=True,
            KmsKeyId=kms_arn, MultiAZ=False, BackupRetentionPeriod=7, AutoMinorVersionUpgrade=True,
            DeletionProtection=False, PubliclyAccessible=False, **common)["DBInstance"]
        self.res("aws_rds_db_instance", staging["DBInstanceArn"], ACCOUNT_A, REGION, "stance-db-staging",
                 fail=["aws-rds-instance-multi-az", "aws-rds-instance-deletion-protection"],
                 note="backup retention exactly 7 (boundary, passes)")
        d = {i["DBInstanceIdentifier"]: i for i in rds.describe_db_instances()["DBInstances"]}
        check(d["stance-db-legacy"]["PubliclyAccessible"] and not d["stance-db-legacy"]["StorageEncrypted"], "legacy db")
        check(d["stance-db-prod"]["MultiAZ"] and d["stance-db-prod"]["DeletionProtection"], "prod db")

        s = rds.create_db_snapshot(DBSnapshotIdentifier="stance-db-prod-manual", DBInstanceIdentifier="stance-db-prod")
        rds.modify_db_snapshot_attribute(DBSnapshotIdentifier="stance-db-prod-manual", AttributeName="restore",
                                         ValuesToAdd=[PARTNER_ACCOUNT])
        self.known["rds_snapshot"].add(s["DBSnapshot"]["DBSnapshotArn"])
        self.res("aws_rds_db_snapshot", s["DBSnapshot"]["DBSnapshotArn"], ACCOUNT_A, REGION, "stance-db-prod-manual",
                 note=f"encrypted, shared with {PARTNER_ACCOUNT}", shared_with_accounts=[PARTNER_ACCOUNT])
        check(s["DBSnapshot"]["Encrypted"], "snapshot of an encrypted instance is encrypted")
        s = rds.create_db_snapshot(DBSnapshotIdentifier="stance-db-legacy-export", DBInstanceIdentifier="stance-db-legacy")
        check(not s["DBSnapshot"]["Encrypted"], "snapshot of an unencrypted instance is unencrypted")
        rds.modify_db_snapshot_attribute(DBSnapshotIdentifier="stance-db-legacy-export", AttributeName="restore",
                                         ValuesToAdd=["all"])
        self.known["rds_snapshot"].add(s["DBSnapshot"]["DBSnapshotArn"])
        self.res("aws_rds_db_snapshot", s["DBSnapshot"]["DBSnapshotArn"], ACCOUNT_A, REGION, "stance-db-legacy-export",
                 fail=["aws-rds-snapshot-encrypted", "aws-rds-snapshot-not-public"], note="unencrypted, restore=all")

    # ---- CloudTrail, Logs, CloudWatch, SNS, Lambda ----------------------------------------------
    def seed_logging(self) -> None:
        logs, ct, cw, sns = self.c("logs"), self.c("cloudtrail"), self.c("cloudwatch"), self.c("sns")
        logs.create_log_group(logGroupName="/stance/cloudtrail")
        logs.put_retention_policy(logGroupName="/stance/cloudtrail", retentionInDays=365)
        logs.create_log_group(logGroupName="/stance/vpc-flow")
        lg = [g for g in logs.describe_log_groups(logGroupNamePrefix="/stance/cloudtrail")["logGroups"]][0]["arn"]
        metric_filters = {
            "root-usage": '{ $.userIdentity.type = "Root" && $.userIdentity.invokedBy NOT EXISTS && $.eventType != "AwsServiceEvent" }',
            "unauthorized-api-calls": '{ ($.errorCode = "*UnauthorizedOperation") || ($.errorCode = "AccessDenied*") }',
        }
        topic = sns.create_topic(Name="stance-security-alarms")["TopicArn"]
        sub = sns.subscribe(TopicArn=topic, Protocol="email", Endpoint="security@example.com")["SubscriptionArn"]
        for name, pattern in metric_filters.items():
            metric = "".join(w.capitalize() for w in name.split("-"))
            logs.put_metric_filter(logGroupName="/stance/cloudtrail", filterName=name, filterPattern=pattern,
                                   metricTransformations=[{"metricName": metric, "metricNamespace": "CISBenchmark",
                                                           "metricValue": "1"}])
            # root-usage gets an alarm with an SNS action; unauthorized-api-calls deliberately has none
            if name == "root-usage":
                cw.put_metric_alarm(AlarmName="stance-root-usage", MetricName=metric, Namespace="CISBenchmark",
                                    Statistic="Sum", Period=300, EvaluationPeriods=1, Threshold=1,
                                    ComparisonOperator="GreaterThanOrEqualToThreshold", AlarmActions=[topic],
                                    TreatMissingData="notBreaching")
        self.extra["monitoring"] = {
            "log_groups": ["/stance/cloudtrail", "/stance/vpc-flow"],
            "metric_filters": [{"log_group": "/stance/cloudtrail", "name": n, "metric": "".join(w.capitalize() for w in n.split("-")),
                                "namespace": "CISBenchmark", "alarm": "stance-root-usage" if n == "root-usage" else None}
                               for n in metric_filters],
            "alarms": [{"name": "stance-root-usage", "metric": "RootUsage", "actions": [topic]}],
            "sns": {"topic": topic, "subscriptions": [{"arn": sub, "protocol": "email", "endpoint": "security@example.com"}]},
            "note": "no starter policy reads these; CloudWatch alarms are not reachable with the Rust SDK (CBOR)",
        }

        kms_arn = self.ids["kms:stance-data"]
        trail_arn = lambda n: f"arn:aws:cloudtrail:{REGION}:{ACCOUNT_A}:trail/{n}"  # noqa: E731
        ct.create_trail(Name="stance-org", S3BucketName="stance-cloudtrail-logs", IsMultiRegionTrail=True,
                        IncludeGlobalServiceEvents=True, EnableLogFileValidation=True, KmsKeyId=kms_arn,
                        CloudWatchLogsLogGroupArn=lg, CloudWatchLogsRoleArn=self.ids["role:stance-cloudtrail-logs"])
        ct.put_event_selectors(TrailName="stance-org", EventSelectors=[{
            "ReadWriteType": "All", "IncludeManagementEvents": True,
            "DataResources": [{"Type": "AWS::S3::Object", "Values": ["arn:aws:s3:::stance-data-prod/"]}]}])
        ct.start_logging(Name="stance-org")
        self.res("aws_cloudtrail_trail", trail_arn("stance-org"), ACCOUNT_A, REGION, "stance-org",
                 note="multi-Region, logging, validation, SSE-KMS, CloudWatch Logs, basic selector All + S3 data events; "
                      "moto also returns it (a shadow copy, HomeRegion us-east-1) from DescribeTrails in every region")
        ct.create_trail(Name="stance-legacy", S3BucketName="stance-cloudtrail-logs")
        ct.put_event_selectors(TrailName="stance-legacy", EventSelectors=[{"ReadWriteType": "WriteOnly",
                                                                           "IncludeManagementEvents": True}])
        self.res("aws_cloudtrail_trail", trail_arn("stance-legacy"), ACCOUNT_A, REGION, "stance-legacy",
                 fail=TYPES["aws_cloudtrail_trail"], note="single-Region, never started, WriteOnly, nothing else")
        ct.create_trail(Name="stance-advanced", S3BucketName="stance-cloudtrail-logs", IsMultiRegionTrail=True)
        ct.put_event_selectors(TrailName="stance-advanced", AdvancedEventSelectors=[{
            "Name": "management", "FieldSelectors": [{"Field": "eventCategory", "Equals": ["Management"]}]}])
        ct.start_logging(Name="stance-advanced")
        self.res("aws_cloudtrail_trail", trail_arn("stance-advanced"), ACCOUNT_A, REGION, "stance-advanced",
                 fail=["aws-cloudtrail-cloudwatch-logs", "aws-cloudtrail-kms-encryption", "aws-cloudtrail-log-file-validation"],
                 note="advanced selector eventCategory=Management without readOnly")
        ct.create_trail(Name="stance-readonly", S3BucketName="stance-cloudtrail-logs", IsMultiRegionTrail=True,
                        EnableLogFileValidation=True)
        ct.put_event_selectors(TrailName="stance-readonly", AdvancedEventSelectors=[{
            "Name": "reads", "FieldSelectors": [{"Field": "eventCategory", "Equals": ["Management"]},
                                                {"Field": "readOnly", "Equals": ["true"]}]}])
        ct.start_logging(Name="stance-readonly")
        ct.stop_logging(Name="stance-readonly")
        self.res("aws_cloudtrail_trail", trail_arn("stance-readonly"), ACCOUNT_A, REGION, "stance-readonly",
                 fail=["aws-cloudtrail-cloudwatch-logs", "aws-cloudtrail-kms-encryption",
                       "aws-cloudtrail-management-events-read-write", "aws-cloudtrail-multi-region-logging"],
                 note="advanced selector with readOnly=true; multi-Region but logging stopped")
        check(not ct.get_trail_status(Name="stance-readonly")["IsLogging"], "stopped trail")

        # Lambda (no starter policy; exercised for collection only)
        lam, iam_arn = self.c("lambda"), self.ids["role:stance-lambda-exec"]
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            z.writestr("index.py", "def handler(event, context):\n    return {'statusCode': 200}\n")
        fns = []
        for name, public in (("stance-public-fn", True), ("stance-private-fn", False)):
            f = lam.create_function(FunctionName=name, Runtime="python3.12", Role=iam_arn, Handler="index.handler",
                                    Code={"ZipFile": buf.getvalue()}, Timeout=10)["FunctionArn"]
            entry = {"arn": f, "function_url_auth_type": None, "resource_policy_public": False}
            if public:
                lam.create_function_url_config(FunctionName=name, AuthType="NONE")
                lam.add_permission(FunctionName=name, StatementId="public-url", Action="lambda:InvokeFunctionUrl",
                                   Principal="*", FunctionUrlAuthType="NONE")
                lam.add_permission(FunctionName=name, StatementId="public-invoke", Action="lambda:InvokeFunction",
                                   Principal="*")
                entry.update(function_url_auth_type="NONE", resource_policy_public=True)
            fns.append(entry)
        self.extra["lambda"] = {"functions": fns, "note": "no starter policy reads Lambda; create_function needs no docker"}

    # ---- Config, Security Hub, Inspector2 -------------------------------------------------------
    def seed_findings(self) -> None:
        recorders = []
        for region in (REGION, REGION2):
            cfg = self.c("config", region)
            cfg.put_configuration_recorder(ConfigurationRecorder={
                "name": "default", "roleARN": self.ids["role:stance-config"],
                "recordingGroup": {"allSupported": True, "includeGlobalResourceTypes": region == REGION}})
            cfg.put_delivery_channel(DeliveryChannel={"name": "default", "s3BucketName": "stance-cloudtrail-logs",
                                                      "s3KeyPrefix": "config"})
            cfg.start_configuration_recorder(ConfigurationRecorderName="default")
            st = cfg.describe_configuration_recorder_status()["ConfigurationRecordersStatus"][0]
            check(st["recording"], "config recorder recording")
            recorders.append({"region": region, "name": "default", "recording": True, "all_supported": True,
                              "include_global_resource_types": region == REGION})
        self.extra["config"] = {
            "recorders": recorders,
            "resource_types_moto_answers": ["AWS::S3::Bucket", "AWS::S3::AccountPublicAccessBlock", "AWS::IAM::Role",
                                            "AWS::IAM::Policy", "AWS::SNS::Topic"],
            "batch_get_breaks_for": [f"arn:aws:s3:::{r['name']}" for r in self.resources
                                     if r.get("facts", {}).get("config_batch_get_breaks")],
            "note": "moto answers Config queries from its service backends whether or not a recorder runs; "
                    "BatchGetResourceConfig answers 500 for the whole batch when any bucket in it has an "
                    "AllUsers/AuthenticatedUsers grant; timestamps in items are strings, not epoch numbers",
        }

        # Security Hub
        sh = self.c("securityhub")
        sh.enable_security_hub(EnableDefaultStandards=False)
        now = iso(time.time())
        fsbp = "standards/aws-foundational-security-best-practices/v/1.0.0"

        def finding(fid: str, control: str, status: str, rtype: str, rid: str, sev: str, title: str) -> dict:
            return {
                "SchemaVersion": "2018-10-08",
                "Id": f"arn:aws:securityhub:{REGION}:{ACCOUNT_A}:security-control/{control}/finding/{fid}",
                "ProductArn": f"arn:aws:securityhub:{REGION}::product/aws/securityhub",
                "ProductName": "Security Hub", "CompanyName": "AWS", "Region": REGION,
                "GeneratorId": f"security-control/{control}", "AwsAccountId": ACCOUNT_A,
                "Types": ["Software and Configuration Checks/Industry and Regulatory Standards"],
                "FirstObservedAt": now, "LastObservedAt": now, "CreatedAt": now, "UpdatedAt": now,
                "Severity": {"Label": sev, "Normalized": {"CRITICAL": 90, "HIGH": 70, "MEDIUM": 40, "LOW": 1,
                                                          "INFORMATIONAL": 0}[sev], "Original": sev},
                "Title": title, "Description": title,
                "Remediation": {"Recommendation": {"Text": "See the control documentation",
                                                   "Url": f"https://docs.aws.amazon.com/console/securityhub/{control}/remediation"}},
                "ProductFields": {"aws/securityhub/ProductName": "Security Hub", "aws/securityhub/CompanyName": "AWS",
                                  "RelatedAWSResources:0/type": "AWS::Config::ConfigRule"},
                "Resources": [{"Type": rtype, "Id": rid, "Partition": "aws", "Region": REGION}],
                "Compliance": {"Status": status, "SecurityControlId": control,
                               "AssociatedStandards": [{"StandardsId": fsbp}]},
                "Workflow": {"Status": "NEW" if status == "FAILED" else "RESOLVED"},
                "WorkflowState": "NEW", "RecordState": "ACTIVE",
            }

        bucket_pub = f"arn:aws:s3:::{self.ids['bucket:public']}"
        findings = [
            finding("5f1e0c3a-0001-4c1e-9d51-stance000001", "S3.8", "FAILED", "AwsS3Bucket", bucket_pub, "HIGH",
                    "S3 general purpose buckets should block public access"),
            finding("5f1e0c3a-0002-4c1e-9d51-stance000002", "S3.8", "PASSED", "AwsS3Bucket", "arn:aws:s3:::stance-data-prod",
                    "INFORMATIONAL", "S3 general purpose buckets should block public access"),
            finding("5f1e0c3a-0003-4c1e-9d51-stance000003", "GuardDuty.1", "FAILED", "AwsAccount", f"AWS::::Account:{ACCOUNT_A}",
                    "HIGH", "GuardDuty should be enabled"),
        ]
        r = sh.batch_import_findings(Findings=findings)
        check(r["SuccessCount"] == len(findings), f"BatchImportFindings {r}")
        self.extra["security_hub"] = {
            "region": REGION,
            "findings": [
                {"id": findings[0]["Id"], "control": "S3.8", "status": "FAILED", "resource": bucket_pub,
                 "same_check_as": "aws-s3-bucket-public-access-block", "stance_result": "fail",
                 "note": "duplicate of Stance's own failing result for the same bucket (de-duplication test)"},
                {"id": findings[1]["Id"], "control": "S3.8", "status": "PASSED", "resource": "arn:aws:s3:::stance-data-prod",
                 "same_check_as": "aws-s3-bucket-public-access-block", "stance_result": "pass"},
                {"id": findings[2]["Id"], "control": "GuardDuty.1", "status": "FAILED",
                 "resource": f"AWS::::Account:{ACCOUNT_A}", "same_check_as": None,
                 "note": "no Stance policy covers it: must come through as an imported finding"},
            ],
            "note": "moto ignores GetFindings filters (every finding comes back whatever the filter) but pages "
                    "with MaxResults/NextToken; GetFindings works even before EnableSecurityHub",
        }

        # Inspector2
        i2 = self.c("inspector2")
        i2.enable(accountIds=[ACCOUNT_A], resourceTypes=["EC2", "ECR", "LAMBDA"])
        inst = self.extra.pop("legacy_instance")
        iid = inst["InstanceId"]
        t_now = time.time()
        ec2_details = {"awsEc2Instance": {
            "type": inst["InstanceType"], "imageId": inst["ImageId"], "ipV4Addresses": [inst["PrivateIpAddress"],
                                                                                         inst["PublicIpAddress"]],
            "ipV6Addresses": [], "vpcId": inst["VpcId"], "subnetId": inst["SubnetId"],
            "launchedAt": inst["LaunchTime"].timestamp(), "platform": "AMAZON_LINUX_2023"}}

        def vuln(n: int, cve: str, score: float, vector: str, severity: str, pkg: str, version: str, release: str,
                 fixed: str, manager: str, title: str, epoch: int = 0, exploit: str = "NO") -> dict:
            return {
                "findingArn": f"arn:aws:inspector2:{REGION}:{ACCOUNT_A}:finding/{n:032x}",
                "awsAccountId": ACCOUNT_A, "type": "PACKAGE_VULNERABILITY",
                "title": f"{cve} - {pkg}", "description": title, "severity": severity, "status": "ACTIVE",
                "firstObservedAt": t_now - 3 * 86400, "lastObservedAt": t_now - 3600, "updatedAt": t_now - 3600,
                "inspectorScore": score,
                "inspectorScoreDetails": {"adjustedCvss": {"score": score, "scoreSource": "NVD", "scoringVector": vector,
                                                           "version": "3.1", "adjustments": [], "cvssSource": "NVD"}},
                "fixAvailable": "YES", "exploitAvailable": exploit,
                "remediation": {"recommendation": {"text": f"Upgrade {pkg} to {fixed} or later."}},
                "resources": [{"type": "AWS_EC2_INSTANCE", "id": iid, "partition": "aws", "region": REGION,
                               "tags": {"Name": "stance-legacy-1"}, "details": ec2_details}],
                "packageVulnerabilityDetails": {
                    "vulnerabilityId": cve, "source": "NVD", "sourceUrl": f"https://nvd.nist.gov/vuln/detail/{cve}",
                    "vendorSeverity": severity, "relatedVulnerabilities": [],
                    "referenceUrls": [f"https://nvd.nist.gov/vuln/detail/{cve}"],
                    "cvss": [{"baseScore": score, "scoringVector": vector, "version": "3.1", "source": "NVD"}],
                    "vulnerablePackages": [{"name": pkg, "version": version, "epoch": epoch, "release": release,
                                            "arch": "X86_64", "packageManager": manager, "fixedInVersion": fixed,
                                            "remediation": f"dnf update {pkg}" if manager == "OS" else None}],
                },
            }

        ifindings = [
            vuln(1, "CVE-2024-6387", 8.1, "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:H", "HIGH", "openssh-server",
                 "8.7p1", "8.amzn2023.0.4", "8.7p1-8.amzn2023.0.11", "OS",
                 "regreSSHion: signal handler race condition in OpenSSH's server (sshd)", exploit="YES"),
            vuln(2, "CVE-2023-0286", 7.4, "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:N/A:H", "HIGH", "openssl-libs",
                 "3.0.8", "1.amzn2023.0.1", "1:3.0.8-1.amzn2023.0.3", "OS",
                 "X.400 address type confusion in X.509 GeneralName", epoch=1),
            vuln(3, "CVE-2021-44228", 10.0, "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", "CRITICAL",
                 "org.apache.logging.log4j:log4j-core", "2.14.1", "", "2.15.0", "JAR",
                 "Log4Shell: JNDI lookup remote code execution in Apache Log4j2", exploit="YES"),
        ]
        ifindings[2]["packageVulnerabilityDetails"]["vulnerablePackages"][0]["filePath"] = "/opt/app/lib/log4j-core-2.14.1.jar"
        code = self.moto_api("/moto-api/static/inspector2/findings-results",
                             {"results": [ifindings], "account_id": ACCOUNT_A, "region": REGION})
        check(code == 201, f"inspector2 static results: HTTP {code}")
        self.extra["inspector2"] = {
            "region": REGION,
            "findings": [{"arn": f["findingArn"], "cve": f["packageVulnerabilityDetails"]["vulnerabilityId"],
                          "cvss": f["packageVulnerabilityDetails"]["cvss"][0]["baseScore"], "severity": f["severity"],
                          "package": f["packageVulnerabilityDetails"]["vulnerablePackages"][0]["name"],
                          "installed": f["packageVulnerabilityDetails"]["vulnerablePackages"][0]["version"],
                          "fixed": f["packageVulnerabilityDetails"]["vulnerablePackages"][0]["fixedInVersion"],
                          "resource": iid,
                          "resource_arn": f"arn:aws:ec2:{REGION}:{ACCOUNT_A}:instance/{iid}"} for f in ifindings],
            "note": "moto returns this list from the FIRST ListFindings call of a given argument set (filterCriteria, "
                    "maxResults, nextToken, sortCriteria) and the same list for that exact set ever after; any other "
                    "argument set gets []; no nextToken. Call ListFindings once per region with fixed arguments. "
                    "Not consumed by the seed.",
        }

    # ---- implicit resources moto creates on its own ---------------------------------------------
    def collect_implicit(self) -> None:
        A = ACCOUNT_A
        seen = {r["id"] for r in self.resources}
        for region in (REGION, REGION2):
            ec2 = self.c("ec2", region)
            arn = lambda kind, i: f"arn:aws:ec2:{region}:{A}:{kind}/{i}"  # noqa: E731
            flows = {f["ResourceId"] for f in ec2.describe_flow_logs()["FlowLogs"] if f["FlowLogStatus"] == "ACTIVE"}
            for v in ec2.describe_vpcs()["Vpcs"]:
                if arn("vpc", v["VpcId"]) not in seen:
                    self.implicit.append(self._imp("aws_ec2_vpc", arn("vpc", v["VpcId"]), region, "default VPC",
                                                   [] if v["VpcId"] in flows else ["aws-ec2-vpc-flow-logs-enabled"]))
            for g in ec2.describe_security_groups()["SecurityGroups"]:
                if arn("security-group", g["GroupId"]) in seen:
                    continue
                check(g["GroupName"] == "default" and not g["IpPermissions"] and g["IpPermissionsEgress"],
                      f"unexpected SG {g['GroupId']}")
                self.implicit.append(self._imp("aws_ec2_security_group", arn("security-group", g["GroupId"]), region,
                                               "default SG of the default VPC", ["aws-ec2-sg-default-restrict-all-traffic"]))
            for n in ec2.describe_network_acls()["NetworkAcls"]:
                if arn("network-acl", n["NetworkAclId"]) in seen:
                    continue
                check(n["IsDefault"], f"unexpected NACL {n['NetworkAclId']}")
                self.implicit.append(self._imp("aws_ec2_network_acl", arn("network-acl", n["NetworkAclId"]), region,
                                               "default NACL of the default VPC", ["aws-ec2-nacl-no-admin-ports-from-internet"]))
            for v in ec2.describe_volumes()["Volumes"]:
                check(v["VolumeId"] in self.known["volume"], f"unexpected volume {v['VolumeId']}")
            for s in ec2.describe_snapshots(Filters=[{"Name": "owner-id", "Values": [A]}])["Snapshots"]:
                if s["SnapshotId"] in self.known["snapshot"]:
                    continue
                perms = ec2.describe_snapshot_attribute(SnapshotId=s["SnapshotId"], Attribute="createVolumePermission")
                public = {"Group": "all"} in perms["CreateVolumePermissions"]
                self.implicit.append(self._imp("aws_ec2_snapshot", arn("snapshot", s["SnapshotId"]), region,
                                               s.get("Description", ""), ["aws-ec2-snapshot-not-public"] if public else []))
            kms = self.c("kms", region)
            for k in kms.list_keys()["Keys"]:
                if k["KeyArn"] in self.known["kms"]:
                    continue
                m = kms.describe_key(KeyId=k["KeyId"])["KeyMetadata"]
                rot = kms.get_key_rotation_status(KeyId=k["KeyId"])["KeyRotationEnabled"]
                fail = []
                if m["KeyState"] in ("PendingDeletion", "PendingReplicaDeletion"):
                    fail.append("aws-kms-key-not-pending-deletion")
                if m["KeyManager"] == "CUSTOMER" and m["KeySpec"] == "SYMMETRIC_DEFAULT" and m["KeyState"] == "Enabled" and not rot:
                    fail.append("aws-kms-key-rotation-enabled")
                self.implicit.append(self._imp("aws_kms_key", k["KeyArn"], region, m.get("Description", ""), fail,
                                               note="created by moto on first use of an alias/aws/* key; moto labels "
                                                    "it KeyManager CUSTOMER"))
        rds = self.c("rds")
        for s in rds.describe_db_snapshots()["DBSnapshots"]:
            if s["DBSnapshotArn"] in self.known["rds_snapshot"]:
                continue
            attrs = rds.describe_db_snapshot_attributes(DBSnapshotIdentifier=s["DBSnapshotIdentifier"])
            vals = [v for a in attrs["DBSnapshotAttributesResult"]["DBSnapshotAttributes"] if a["AttributeName"] == "restore"
                    for v in a["AttributeValues"]]
            fail = ([] if s["Encrypted"] else ["aws-rds-snapshot-encrypted"]) + (["aws-rds-snapshot-not-public"] if "all" in vals else [])
            self.implicit.append(self._imp("aws_rds_db_snapshot", s["DBSnapshotArn"], REGION, s["DBSnapshotIdentifier"], fail,
                                           note=f"{s['SnapshotType']} snapshot moto creates with every DB instance "
                                                "(even with BackupRetentionPeriod 0)"))

    def _imp(self, rtype, rid, region, name, fail, note=None) -> dict:
        e = {"type": rtype, "id": rid, "account": ACCOUNT_A, "region": region, "name": name,
             "pass": [p for p in TYPES[rtype] if p not in fail], "fail": list(fail)}
        if note:
            e["note"] = note
        return e

    # ---- bulk (benchmark) -------------------------------------------------------------------------
    def seed_bulk(self, buckets: int, groups: int) -> dict:
        out: dict = {}
        if buckets:
            s3 = self.c("s3")
            names = [f"stance-bench-{i:05d}" for i in range(buckets)]
            for n in names:
                s3.create_bucket(Bucket=n)
            out["buckets"] = {
                "count": buckets, "region": REGION, "account": ACCOUNT_A,
                "ids": [f"arn:aws:s3:::{n}" for n in names],
                "pass": ["aws-s3-bucket-no-public-acl", "aws-s3-bucket-no-public-policy"],
                "fail": [p for p in TYPES["aws_s3_bucket"] if p not in ("aws-s3-bucket-no-public-acl",
                                                                       "aws-s3-bucket-no-public-policy")],
                "note": "plain buckets, nothing configured",
            }
        if groups:
            ec2 = self.c("ec2")
            vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
            ids_pass, ids_fail = [], []
            for i in range(groups):
                gid = ec2.create_security_group(GroupName=f"stance-bench-sg-{i:05d}", Description="Stance benchmark",
                                                VpcId=vpc)["GroupId"]
                port, cidr = (22, "0.0.0.0/0") if i % 2 else (443, "0.0.0.0/0")
                ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=[
                    {"IpProtocol": "tcp", "FromPort": port, "ToPort": port, "IpRanges": [{"CidrIp": cidr}]}])
                (ids_fail if i % 2 else ids_pass).append(f"arn:aws:ec2:{REGION}:{ACCOUNT_A}:security-group/{gid}")
            out["security_groups"] = {
                "count": groups, "region": REGION, "account": ACCOUNT_A, "vpc": vpc,
                "even": {"rule": "tcp 443 from 0.0.0.0/0", "ids": ids_pass, "pass": SG_POLICIES, "fail": []},
                "odd": {"rule": "tcp 22 from 0.0.0.0/0", "ids": ids_fail,
                        "pass": [p for p in SG_POLICIES if p != "aws-ec2-sg-no-ssh-from-internet"],
                        "fail": ["aws-ec2-sg-no-ssh-from-internet"]},
            }
        return out

    # ---- manifest -------------------------------------------------------------------------------
    def manifest(self, seconds: float, bulk: dict, bulk_seconds: float | None) -> dict:
        coverage = {p: {"pass": 0, "fail": 0} for p in POLICIES}
        for r in self.resources + self.implicit:
            for p in r["pass"]:
                coverage[p]["pass"] += 1
            for p in r["fail"]:
                coverage[p]["fail"] += 1
        declared = {(u["policy"], u["missing"]) for u in self.unsupported if "policy" in u}
        for p, c in coverage.items():
            for side in ("pass", "fail"):
                if c[side] == 0 and (p, side) not in declared:
                    raise SeedError(f"internal: {p} has no {side}ing resource and no unsupported reason")
                if c[side] > 0 and (p, side) in declared:
                    raise SeedError(f"internal: {p} is declared unsupported for {side} but has one")
        return {
            "moto_version": MOTO_VERSION,
            "endpoint": self.endpoint,
            "seeded_at": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "seconds": round(seconds, 2),
            "bulk_seconds": None if bulk_seconds is None else round(bulk_seconds, 2),
            "accounts": {
                ACCOUNT_A: {"credentials": "any access key (moto default account)"},
                ACCOUNT_B: {"assume_role_arn": ROLE_B,
                            "credentials": "sts:AssumeRole into assume_role_arn with the default credentials"},
            },
            "regions": [REGION, REGION2],
            "clock_shift": self.clock.works,
            "resources": self.resources,
            "implicit": self.implicit,
            "implicit_rules": [
                {"applies_to": "every region of either account not listed in `resources`/`implicit` that the collector "
                               "visits (moto creates a default VPC with a default security group, a default network ACL "
                               "and default subnets in every region on first EC2 call; DescribeRegions returns 38 regions, "
                               "opted-in or not)",
                 "expect": [
                     {"type": "aws_ec2_vpc", "which": "default VPC", "fail": ["aws-ec2-vpc-flow-logs-enabled"]},
                     {"type": "aws_ec2_security_group", "which": "default security group",
                      "fail": ["aws-ec2-sg-default-restrict-all-traffic"],
                      "pass": [p for p in SG_POLICIES if p != "aws-ec2-sg-default-restrict-all-traffic"]},
                     {"type": "aws_ec2_network_acl", "which": "default network ACL",
                      "fail": ["aws-ec2-nacl-no-admin-ports-from-internet"]},
                     {"type": "aws_ec2_regional_settings", "which": "regional settings",
                      "fail": ["aws-ec2-ebs-encryption-by-default"]},
                 ]},
                {"applies_to": f"account {ACCOUNT_B}, every region including us-east-1",
                 "expect": "as above: only the default EC2 resources and regional settings exist there"},
            ],
            "coverage": coverage,
            "unsupported": self.unsupported + UNSUPPORTED_FIELDS,
            "ids": {k: v for k, v in self.ids.items()},
            **self.extra,
            "bulk": bulk,
        }


def check_policies(policy_dir: Path) -> None:
    """Compare POLICIES with policies/aws/*/*.yaml (id: and resource_type: lines), without PyYAML."""
    found = {}
    for f in sorted(policy_dir.glob("*/*.yaml")):
        if f.parent.name == "tests":
            continue
        text = f.read_text()
        pid = re.search(r"^id:\s*(\S+)", text, re.M)
        rt = re.search(r"^resource_type:\s*(\S+)", text, re.M)
        if pid and rt:
            found[pid.group(1)] = rt.group(1)
    if found and found != POLICIES:
        missing = sorted(set(found) - set(POLICIES))
        extra = sorted(set(POLICIES) - set(found))
        changed = sorted(p for p in set(found) & set(POLICIES) if found[p] != POLICIES[p])
        log(f"WARNING: policies/aws differs from seed.py: new {missing}, gone {extra}, retyped {changed}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--endpoint", required=True, help="moto server URL, e.g. http://127.0.0.1:5000")
    ap.add_argument("--buckets", type=int, default=0, help="additionally create N plain buckets")
    ap.add_argument("--security-groups", type=int, default=0, help="additionally create M security groups")
    ap.add_argument("--reset", action="store_true", help="POST /moto-api/reset first")
    ap.add_argument("--clock-file", type=Path, default=None,
                    help="moto's libfaketime clock file (default: $STANCE_MOTO_STATE or /tmp/stance-moto, PORT.clock)")
    ap.add_argument("--output", type=Path, default=None, help="also write the manifest to this file")
    args = ap.parse_args()

    for k in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
        os.environ.pop(k, None)
    os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
    clock = args.clock_file
    if clock is None:
        port = urlsplit(args.endpoint).port
        clock = Path(os.environ.get("STANCE_MOTO_STATE", "/tmp/stance-moto")) / f"{port}.clock"
    check_policies(Path(__file__).resolve().parents[2] / "policies" / "aws")

    s = Seeder(args.endpoint, clock)
    t0 = time.monotonic()
    try:
        s.preflight(args.reset)
        for step in (s.seed_kms, s.seed_iam, s.seed_s3, s.seed_ec2, s.seed_rds, s.seed_logging, s.seed_findings,
                     seed_workloads.step(s),
                     __import__("seed_efs_sns_sqs_secretsmanager").step(s),
                     s.collect_implicit):
            t = time.monotonic()
            step()
            log(f"{step.__name__} done in {time.monotonic() - t:.1f}s")
        seed_posture.seed(s)
        seconds = time.monotonic() - t0
        bulk, bulk_seconds = {}, None
        if args.buckets or args.security_groups:
            t = time.monotonic()
            bulk = s.seed_bulk(args.buckets, args.security_groups)
            bulk_seconds = time.monotonic() - t
            log(f"bulk: {args.buckets} buckets, {args.security_groups} security groups in {bulk_seconds:.1f}s")
        m = s.manifest(seconds, bulk, bulk_seconds)
    except (SeedError, ClientError, urllib.error.URLError) as e:
        log(f"FAILED: {e}")
        return 1
    text = json.dumps(m, indent=1, default=str)
    if args.output:
        args.output.write_text(text + "\n")
    print(text)
    log(f"seeded {len(m['resources'])} resources (+{len(m['implicit'])} implicit) in {m['seconds']}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
