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
import json
import os
import re
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

import seed_workloads  # DynamoDB, ACM, ELBv2, ECR, EKS (tests/aws/seed_workloads.py)

import seed_posture  # GuardDuty, Config/Security Hub state, Access Analyzer, IAM certificates

import seed_ec2  # VPCs, security groups, NACLs, instances, volumes, snapshots (tests/aws/seed_ec2.py)
import seed_findings  # Config, Security Hub and Inspector2 findings (tests/aws/seed_findings.py)
import seed_organizations  # AWS Organizations: the organization of account A (tests/aws/seed_organizations.py)
import seed_rds_logging  # RDS, CloudTrail, CloudWatch Logs and alarms (tests/aws/seed_rds_logging.py)
import seed_s3  # buckets and the account public access block (tests/aws/seed_s3.py)
from seed_common import *  # noqa: F401,F403 (accounts, regions, policy tables, helpers)

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
        seed_s3.seed(self)

    def seed_ec2(self) -> None:
        seed_ec2.seed(self)

    def seed_rds(self) -> None:
        seed_rds_logging.seed_rds(self)

    def seed_logging(self) -> None:
        seed_rds_logging.seed_logging(self)

    def seed_findings(self) -> None:
        seed_findings.seed(self)

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
                     seed_organizations.step(s),
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
