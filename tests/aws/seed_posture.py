"""Seeding of the account- and region-level security services for seed.py: GuardDuty detectors, AWS Config
recorder state, Security Hub hubs, IAM Access Analyzer (which moto does not serve), IAM server certificates
and the AWSSupportAccess attachment (CIS 1.16).

`seed(s)` takes seed.py's Seeder once the rest of the estate exists (it relies on seed_findings having
started Config in both regions of account A and enabled Security Hub in us-east-1 of account A). It adds its
policies to seed.py's POLICIES/TYPES, records every resource with `s.res(...)`, and lists what moto cannot
provide in `s.unsupported`.

Per account and region (the e2e scans 123456789012 and 111111111111 in us-east-1 and eu-west-1):

    GuardDuty      A/us-east-1 enabled, every plan on    A/eu-west-1 enabled, every plan off
                   B/us-east-1 suspended                 B/eu-west-1 no detector
    Config         A/* recording all types (seed_findings)
                   B/us-east-1 recorder never started, no delivery channel    B/eu-west-1 no recorder
    Security Hub   A/us-east-1 enabled (seed_findings), everywhere else not enabled
"""

from __future__ import annotations

import datetime as dt

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

import seed_common  # the estate's constants, policy tables and helpers

POLICIES = {
    "aws-config-recorder-recording-all-resources": "aws_config_recorder",
    "aws-config-delivery-channel-healthy": "aws_config_recorder",
    "aws-securityhub-enabled": "aws_securityhub_hub",
    "aws-securityhub-fsbp-standard-enabled": "aws_securityhub_hub",
    "aws-guardduty-enabled": "aws_guardduty_detector",
    "aws-guardduty-s3-protection": "aws_guardduty_detector",
    "aws-guardduty-eks-audit-log-monitoring": "aws_guardduty_detector",
    "aws-guardduty-malware-protection": "aws_guardduty_detector",
    "aws-guardduty-rds-protection": "aws_guardduty_detector",
    "aws-guardduty-lambda-protection": "aws_guardduty_detector",
    "aws-guardduty-runtime-monitoring": "aws_guardduty_detector",
    "aws-accessanalyzer-external-access-enabled": "aws_accessanalyzer_region",
    "aws-iam-server-certificate-not-expired": "aws_iam_server_certificate",
    "aws-iam-server-certificate-not-expiring-30-days": "aws_iam_server_certificate",
    "aws-iam-support-role-exists": "aws_iam_account",
}
GD_FEATURES = {
    "aws-guardduty-s3-protection": "S3_DATA_EVENTS",
    "aws-guardduty-eks-audit-log-monitoring": "EKS_AUDIT_LOGS",
    "aws-guardduty-malware-protection": "EBS_MALWARE_PROTECTION",
    "aws-guardduty-rds-protection": "RDS_LOGIN_EVENTS",
    "aws-guardduty-lambda-protection": "LAMBDA_NETWORK_LOGS",
    "aws-guardduty-runtime-monitoring": "RUNTIME_MONITORING",
}
FSBP_RULE = "aws-securityhub-fsbp-standard-enabled"
SUPPORT_POLICY = "arn:aws:iam::aws:policy/AWSSupportAccess"


def _expired_certificate() -> tuple[str, str]:
    """A self-signed certificate that expired on 2012-05-08 (the date moto reports for every certificate)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "legacy.stance.example")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(dt.datetime(2011, 5, 8, tzinfo=dt.timezone.utc))
            .not_valid_after(dt.datetime(2012, 5, 8, 1, 2, 3, tzinfo=dt.timezone.utc))
            .sign(key, hashes.SHA256()))
    pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    pk = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                           serialization.NoEncryption()).decode()
    return pem, pk


def seed(s) -> None:
    m = seed_common
    seed_common.register(POLICIES)
    A, B, R1, R2 = m.ACCOUNT_A, m.ACCOUNT_B, m.REGION, m.REGION2
    m.log("seed_posture: GuardDuty, Config, Security Hub, Access Analyzer, IAM certificates, support role")
    gd_rules = [p for p in m.TYPES["aws_guardduty_detector"] if p != "aws-guardduty-enabled"]

    # ---- GuardDuty --------------------------------------------------------------------------------
    def features(status: str) -> list[dict]:
        out = []
        for f in GD_FEATURES.values():
            entry = {"Name": f, "Status": status}
            if f == "RUNTIME_MONITORING":
                entry["AdditionalConfiguration"] = [{"Name": "EKS_ADDON_MANAGEMENT", "Status": status}]
            out.append(entry)
        return out

    def detector_id(region: str, account: str) -> str:
        return f"arn:aws:guardduty:{region}:{account}:detector-status"

    gd = s.c("guardduty", R1)
    gd.create_detector(Enable=True, FindingPublishingFrequency="FIFTEEN_MINUTES", Features=features("ENABLED"))
    s.res("aws_guardduty_detector", detector_id(R1, A), A, R1, R1, note="enabled, every protection plan on")
    gd = s.c("guardduty", R2)
    gd.create_detector(Enable=True, FindingPublishingFrequency="SIX_HOURS", Features=features("DISABLED"))
    s.res("aws_guardduty_detector", detector_id(R2, A), A, R2, R2, fail=gd_rules,
          note="enabled, every protection plan off")
    gd = s.c("guardduty", R1, account=B)
    gd.create_detector(Enable=False, Features=features("ENABLED"))
    s.res("aws_guardduty_detector", detector_id(R1, B), B, R1, R1, fail=m.TYPES["aws_guardduty_detector"],
          note="suspended detector (its plans are on but nothing runs)")
    s.res("aws_guardduty_detector", detector_id(R2, B), B, R2, R2, fail=m.TYPES["aws_guardduty_detector"],
          note="no detector: detector_id null")

    # ---- AWS Config (account A: seed_findings) --------------------------------------------------------
    def recorder_id(region: str, account: str) -> str:
        return f"arn:aws:config:{region}:{account}:recorder-status"

    for region in (R1, R2):
        s.res("aws_config_recorder", recorder_id(region, A), A, region, region,
              note="recording all supported types with a delivery channel (seed_findings); the delivery "
                   "rule is an EMULATOR_GAP (DescribeDeliveryChannelStatus)")
    cfg = s.c("config", R1, account=B)
    cfg.put_configuration_recorder(ConfigurationRecorder={
        "name": "default", "roleARN": f"arn:aws:iam::{B}:role/stance-config",
        "recordingGroup": {"allSupported": True, "includeGlobalResourceTypes": True}})
    s.res("aws_config_recorder", recorder_id(R1, B), B, R1, R1,
          fail=["aws-config-recorder-recording-all-resources", "aws-config-delivery-channel-healthy"],
          note="recorder defined but never started, and no delivery channel")
    s.res("aws_config_recorder", recorder_id(R2, B), B, R2, R2,
          fail=["aws-config-recorder-recording-all-resources"], note="no recorder: recorders []")

    # ---- Security Hub (enabled in A/us-east-1 by seed_findings) ------------------------------------------
    def hub_id(region: str, account: str) -> str:
        return f"arn:aws:securityhub:{region}:{account}:hub/default"

    s.res("aws_securityhub_hub", hub_id(R1, A), A, R1, R1,
          note="enabled; moto has no GetEnabledStandards, so the FSBP rule reports error (EMULATOR_GAPS)")
    for account, region in ((A, R2), (B, R1), (B, R2)):
        e = s.res("aws_securityhub_hub", hub_id(region, account), account, region, region,
                  fail=["aws-securityhub-enabled"], note="not enabled (DescribeHub: InvalidAccessException)")
        # Not listed: the FSBP rule fails here without GetEnabledStandards, but the e2e expects `error`
        # for every designed result of an EMULATOR_GAPS rule; its failing side is covered by its cases.
        e["pass"].remove(FSBP_RULE)
    s.unsupported.append({
        "policy": FSBP_RULE, "missing": "fail",
        "reason": "moto 5.2.5 does not implement GetEnabledStandards, so the rule is in EMULATOR_GAPS (error "
                  "wherever designed); where the hub is off it fails without that call, which is not listed"})

    # ---- IAM Access Analyzer ----------------------------------------------------------------------------
    for side in ("pass", "fail"):
        s.unsupported.append({
            "policy": "aws-accessanalyzer-external-access-enabled", "missing": side,
            "reason": "moto 5.2.5 has no Access Analyzer: ListAnalyzers is answered with a 404 page, so the "
                      "type is an EMULATOR_TYPE_GAP reported `unsupported`"})

    # ---- IAM server certificates (global) ----------------------------------------------------------------
    iam = s.c("iam")
    pem, key = _expired_certificate()
    cert = iam.upload_server_certificate(ServerCertificateName="stance-legacy-tls", CertificateBody=pem,
                                         PrivateKey=key)["ServerCertificateMetadata"]
    s.res("aws_iam_server_certificate", cert["Arn"], A, "global", "stance-legacy-tls",
          fail=["aws-iam-server-certificate-not-expired"],
          note="expired 2012-05-08; the 30-day rule leaves expired certificates to the expiry rule")
    reason = ("moto 5.2.5 reports Expiration 2012-05-08T01:02:03Z for every server certificate, whatever its "
              "body says, so no certificate can be valid")
    s.unsupported.append({"policy": "aws-iam-server-certificate-not-expired", "missing": "pass", "reason": reason})
    s.unsupported.append({"policy": "aws-iam-server-certificate-not-expiring-30-days", "missing": "fail",
                          "reason": reason})

    # ---- AWSSupportAccess (CIS 1.16): on a role in A, nowhere in B ------------------------------------------
    trust = m.policy_doc({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{A}:root"},
                          "Action": "sts:AssumeRole"})
    arn = iam.create_role(RoleName="stance-support", AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    iam.attach_role_policy(RoleName="stance-support", PolicyArn=SUPPORT_POLICY)
    s.res("aws_iam_role", arn, A, "global", "stance-support", note="holds AWSSupportAccess (CIS 1.16)")
    for e in s.resources:
        if e["type"] != "aws_iam_account":
            continue
        rule = "aws-iam-support-role-exists"
        for side in ("pass", "fail"):
            if rule in e[side]:
                e[side].remove(rule)
        e["pass" if e["account"] == A else "fail"].append(rule)
        e.setdefault("facts", {})["support_access_role"] = "stance-support" if e["account"] == A else None
