"""Seed DynamoDB tables, ACM certificates, ELBv2 load balancers, ECR repositories and EKS clusters.

Called from seed.py's seeding sequence as `seed_workloads.step(s)` with its Seeder: everything goes to
account 123456789012 in us-east-1, serially, and each resource is recorded with `s.res(...)` and the
policies it is designed to fail (every other policy of its type must pass). The policies of these types
are registered here in seed.py's POLICIES/TYPES, so seed.py's own tables stay untouched.

moto 5.2.5 facts this relies on (checked by the e2e test through the collector):
- DynamoDB: SSESpecification with a KMSMasterKeyId is echoed as SSEDescription.KMSMasterKeyArn; without
  SSESpecification there is no SSEDescription (the AWS owned key). A table with SSE and no key id would
  make moto create its own alias/aws/dynamodb key labelled KeyManager CUSTOMER, so none is seeded.
- ACM: RequestCertificate gives a PENDING_VALIDATION RSA_2048 certificate that turns ISSUED after 60 s
  (either way in scope and valid for a year); imported certificates are ISSUED, IMPORTED, with the
  key and dates of the PEM.
- ELBv2: attributes moto does not default (access_logs.s3.enabled, desync mode, invalid headers) are set
  explicitly on every load balancer, as AWS always returns them.
- EKS: resourcesVpcConfig is echoed as given, so endpoint access is always passed explicitly.
"""

from __future__ import annotations

import datetime as dt
import json

import seed_common  # the estate's constants, policy tables and helpers

ACCOUNT = "123456789012"
REGION = "us-east-1"

POLICIES = {
    "aws-dynamodb-table-pitr-enabled": "aws_dynamodb_table",
    "aws-dynamodb-table-deletion-protection": "aws_dynamodb_table",
    "aws-dynamodb-table-encrypted-cmk": "aws_dynamodb_table",
    "aws-acm-certificate-not-expiring-30-days": "aws_acm_certificate",
    "aws-acm-certificate-rsa-2048-bits": "aws_acm_certificate",
    "aws-acm-certificate-transparency-logging": "aws_acm_certificate",
    "aws-elbv2-alb-http-redirects-to-https": "aws_elbv2_load_balancer",
    "aws-elbv2-listener-encrypted-protocol": "aws_elbv2_load_balancer",
    "aws-elbv2-listener-modern-tls-policy": "aws_elbv2_load_balancer",
    "aws-elbv2-alb-access-logging": "aws_elbv2_load_balancer",
    "aws-elbv2-deletion-protection": "aws_elbv2_load_balancer",
    "aws-elbv2-alb-drop-invalid-headers": "aws_elbv2_load_balancer",
    "aws-elbv2-alb-desync-mitigation": "aws_elbv2_load_balancer",
    "aws-elbv2-multi-az": "aws_elbv2_load_balancer",
    "aws-ecr-repository-scan-on-push": "aws_ecr_repository",
    "aws-ecr-repository-tag-immutability": "aws_ecr_repository",
    "aws-ecr-repository-lifecycle-policy": "aws_ecr_repository",
    "aws-ecr-repository-policy-not-public": "aws_ecr_repository",
    "aws-eks-endpoint-not-public": "aws_eks_cluster",
    "aws-eks-secrets-encrypted": "aws_eks_cluster",
    "aws-eks-audit-logging-enabled": "aws_eks_cluster",
    "aws-eks-supported-version": "aws_eks_cluster",
}


def _check(s, cond: bool, msg: str) -> None:
    seed_common.check(cond, msg)


def step(s):
    """The seeding step for seed.py's sequence (named, for its progress log)."""

    def seed_workloads() -> None:
        seed(s)

    return seed_workloads


def seed(s) -> None:
    seed_common.register(POLICIES)
    key = kms_key(s)
    dynamodb(s, key)
    good_cert = acm(s)
    elbv2(s, good_cert)
    ecr(s)
    eks(s, key)


def kms_key(s) -> str:
    """A customer managed key for the DynamoDB table and the EKS cluster (passes every KMS policy)."""
    kms = s.c("kms")
    meta = kms.create_key(Description="stance-workloads")["KeyMetadata"]
    kms.create_alias(AliasName="alias/stance-workloads", TargetKeyId=meta["KeyId"])
    kms.enable_key_rotation(KeyId=meta["KeyId"])
    s.known["kms"].add(meta["Arn"])
    s.ids["kms:stance-workloads"] = meta["Arn"]
    s.res("aws_kms_key", meta["Arn"], ACCOUNT, REGION, "alias/stance-workloads",
          note="customer key, rotation on, default policy; encrypts stance-orders and stance-prod")
    return meta["Arn"]


# ---- DynamoDB -----------------------------------------------------------------------------------
def dynamodb(s, key: str) -> None:
    ddb = s.c("dynamodb")
    schema = {"AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
              "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}], "BillingMode": "PAY_PER_REQUEST"}
    t = ddb.create_table(TableName="stance-orders", DeletionProtectionEnabled=True,
                         SSESpecification={"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": key},
                         **schema)["TableDescription"]
    ddb.update_continuous_backups(TableName="stance-orders",
                                  PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True})
    _check(s, t["SSEDescription"]["KMSMasterKeyArn"] == key, "DynamoDB echoes the table's KMS key ARN")
    s.res("aws_dynamodb_table", t["TableArn"], ACCOUNT, REGION, "stance-orders",
          note="PITR on, deletion protection on, SSE with a customer managed key")
    t = ddb.create_table(TableName="stance-sessions", **schema)["TableDescription"]
    s.res("aws_dynamodb_table", t["TableArn"], ACCOUNT, REGION, "stance-sessions",
          fail=["aws-dynamodb-table-pitr-enabled", "aws-dynamodb-table-deletion-protection",
                "aws-dynamodb-table-encrypted-cmk"],
          note="defaults: no PITR, no deletion protection, DynamoDB's AWS owned key")


# ---- ACM ----------------------------------------------------------------------------------------
def self_signed(cn: str, days: int, key_bits: int | None = 2048, ec: bool = False) -> tuple[bytes, bytes]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec as ecc, rsa
    from cryptography.x509.oid import NameOID

    key = ecc.generate_private_key(ecc.SECP256R1()) if ec else rsa.generate_private_key(65537, key_bits)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=days))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(cn)]), critical=False)
            .sign(key, hashes.SHA256()))
    pem_key = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.NoEncryption())
    return cert.public_bytes(serialization.Encoding.PEM), pem_key


def acm(s) -> str:
    acm = s.c("acm")

    def imported(cn: str, days: int, **kw) -> str:
        cert, key = self_signed(cn, days, **kw)
        return acm.import_certificate(Certificate=cert, PrivateKey=key)["CertificateArn"]

    arn = imported("shop.stance.example", 200)
    s.res("aws_acm_certificate", arn, ACCOUNT, REGION, "shop.stance.example",
          note="imported RSA 2048, valid 200 days; used by stance-alb-good's HTTPS listener")
    good = arn
    arn = imported("legacy.stance.example", 10, key_bits=1024)
    d = acm.describe_certificate(CertificateArn=arn)["Certificate"]
    _check(s, d["KeyAlgorithm"] == "RSA_1024" and d["Status"] == "ISSUED", f"imported RSA 1024 certificate: {d}")
    s.res("aws_acm_certificate", arn, ACCOUNT, REGION, "legacy.stance.example",
          fail=["aws-acm-certificate-not-expiring-30-days", "aws-acm-certificate-rsa-2048-bits"],
          note="imported RSA 1024, expires in 10 days")
    arn = imported("edge.stance.example", 90, ec=True)
    s.res("aws_acm_certificate", arn, ACCOUNT, REGION, "edge.stance.example",
          note="imported ECDSA P-256, valid 90 days: the RSA size check does not apply")
    arn = acm.request_certificate(DomainName="www.stance.example", ValidationMethod="DNS")["CertificateArn"]
    s.res("aws_acm_certificate", arn, ACCOUNT, REGION, "www.stance.example",
          note="ACM issued (PENDING_VALIDATION, ISSUED after moto's 60 s), transparency logging on")
    arn = acm.request_certificate(DomainName="quiet.stance.example", ValidationMethod="DNS",
                                  Options={"CertificateTransparencyLoggingPreference": "DISABLED"})["CertificateArn"]
    s.res("aws_acm_certificate", arn, ACCOUNT, REGION, "quiet.stance.example",
          fail=["aws-acm-certificate-transparency-logging"],
          note="ACM issued with the (now deprecated) transparency logging opt-out")
    return good


# ---- ELBv2 --------------------------------------------------------------------------------------
def elbv2(s, cert: str) -> None:
    ec2, elb = s.c("ec2"), s.c("elbv2")
    vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]
    by_zone: dict[str, str] = {}
    for sn in sorted(subnets, key=lambda x: x["AvailabilityZone"]):
        by_zone.setdefault(sn["AvailabilityZone"], sn["SubnetId"])
    two = list(by_zone.values())[:2]
    _check(s, len(two) == 2, "the default VPC has subnets in two zones")
    sg = ec2.create_security_group(GroupName="stance-alb", Description="Stance load balancers", VpcId=vpc)["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=sg, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": p, "ToPort": p, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]} for p in (80, 443)])
    s.res("aws_ec2_security_group", f"arn:aws:ec2:{REGION}:{ACCOUNT}:security-group/{sg}", ACCOUNT, REGION,
          "stance-alb", note="HTTP and HTTPS from anywhere, for the load balancers")
    tg = elb.create_target_group(Name="stance-web", Protocol="HTTP", Port=80, VpcId=vpc,
                                 TargetType="instance")["TargetGroups"][0]["TargetGroupArn"]
    tcp_tg = elb.create_target_group(Name="stance-tcp", Protocol="TCP", Port=80, VpcId=vpc,
                                     TargetType="instance")["TargetGroups"][0]["TargetGroupArn"]
    forward = [{"Type": "forward", "TargetGroupArn": tg}]

    def lb(name: str, kind: str, subnets: list[str], attrs: dict[str, str], sgs=()) -> str:
        args = {"Name": name, "Subnets": subnets, "Type": kind, "Scheme": "internet-facing"}
        if sgs:
            args["SecurityGroups"] = list(sgs)
        arn = elb.create_load_balancer(**args)["LoadBalancers"][0]["LoadBalancerArn"]
        elb.modify_load_balancer_attributes(LoadBalancerArn=arn, Attributes=[
            {"Key": k, "Value": v} for k, v in attrs.items()])
        return arn

    good = lb("stance-alb-good", "application", two, {
        "access_logs.s3.enabled": "true", "access_logs.s3.bucket": "stance-access-logs",
        "deletion_protection.enabled": "true", "routing.http.drop_invalid_header_fields.enabled": "true",
        "routing.http.desync_mitigation_mode": "defensive"}, [sg])
    elb.create_listener(LoadBalancerArn=good, Protocol="HTTP", Port=80, DefaultActions=[{
        "Type": "redirect", "RedirectConfig": {"Protocol": "HTTPS", "Port": "443", "StatusCode": "HTTP_301"}}])
    elb.create_listener(LoadBalancerArn=good, Protocol="HTTPS", Port=443, Certificates=[{"CertificateArn": cert}],
                        SslPolicy="ELBSecurityPolicy-TLS13-1-2-2021-06", DefaultActions=forward)
    s.res("aws_elbv2_load_balancer", good, ACCOUNT, REGION, "stance-alb-good",
          note="ALB in two zones: HTTP redirects to HTTPS, TLS 1.3 policy, access logs, deletion protection, "
               "drops invalid headers, defensive desync mitigation")

    bad = lb("stance-alb-bad", "application", two, {
        "access_logs.s3.enabled": "false", "deletion_protection.enabled": "false",
        "routing.http.drop_invalid_header_fields.enabled": "false",
        "routing.http.desync_mitigation_mode": "monitor"}, [sg])
    elb.create_listener(LoadBalancerArn=bad, Protocol="HTTP", Port=80, DefaultActions=forward)
    elb.create_listener(LoadBalancerArn=bad, Protocol="HTTPS", Port=443, Certificates=[{"CertificateArn": cert}],
                        SslPolicy="ELBSecurityPolicy-2016-08", DefaultActions=forward)
    s.res("aws_elbv2_load_balancer", bad, ACCOUNT, REGION, "stance-alb-bad",
          fail=["aws-elbv2-alb-http-redirects-to-https", "aws-elbv2-listener-encrypted-protocol",
                "aws-elbv2-listener-modern-tls-policy", "aws-elbv2-alb-access-logging",
                "aws-elbv2-deletion-protection", "aws-elbv2-alb-drop-invalid-headers",
                "aws-elbv2-alb-desync-mitigation"],
          note="ALB forwarding plain HTTP, HTTPS on ELBSecurityPolicy-2016-08, no logs, no deletion protection, "
               "keeps invalid headers, desync monitor mode")

    nlb = lb("stance-nlb-single", "network", two[:1], {
        "access_logs.s3.enabled": "false", "deletion_protection.enabled": "false"})
    elb.create_listener(LoadBalancerArn=nlb, Protocol="TCP", Port=80,
                        DefaultActions=[{"Type": "forward", "TargetGroupArn": tcp_tg}])
    s.res("aws_elbv2_load_balancer", nlb, ACCOUNT, REGION, "stance-nlb-single",
          fail=["aws-elbv2-listener-encrypted-protocol", "aws-elbv2-deletion-protection", "aws-elbv2-multi-az"],
          note="NLB in one zone with a plain TCP listener; the ALB-only checks pass")


# ---- ECR ----------------------------------------------------------------------------------------
def ecr(s) -> None:
    ecr = s.c("ecr")
    lifecycle = json.dumps({"rules": [{"rulePriority": 1, "description": "expire untagged",
                                       "selection": {"tagStatus": "untagged", "countType": "sinceImagePushed",
                                                     "countUnit": "days", "countNumber": 14},
                                       "action": {"type": "expire"}}]})
    r = ecr.create_repository(repositoryName="stance/api", imageTagMutability="IMMUTABLE",
                              imageScanningConfiguration={"scanOnPush": True})["repository"]
    ecr.put_lifecycle_policy(repositoryName="stance/api", lifecyclePolicyText=lifecycle)
    s.res("aws_ecr_repository", r["repositoryArn"], ACCOUNT, REGION, "stance/api",
          note="scan on push, immutable tags, lifecycle policy, no repository policy")
    r = ecr.create_repository(repositoryName="stance/batch")["repository"]
    ecr.set_repository_policy(repositoryName="stance/batch", policyText=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Sid": "AnyonePull", "Effect": "Allow", "Principal": "*",
                                                "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]}]}))
    s.res("aws_ecr_repository", r["repositoryArn"], ACCOUNT, REGION, "stance/batch",
          fail=["aws-ecr-repository-scan-on-push", "aws-ecr-repository-tag-immutability",
                "aws-ecr-repository-lifecycle-policy", "aws-ecr-repository-policy-not-public"],
          note="defaults (no scanning, mutable tags, no lifecycle policy) and a policy open to Principal *")


# ---- EKS ----------------------------------------------------------------------------------------
def eks(s, key: str) -> None:
    eks, ec2 = s.c("eks"), s.c("ec2")
    vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    subnets = [sn["SubnetId"] for sn in ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]][:2]
    role = f"arn:aws:iam::{ACCOUNT}:role/stance-eks-cluster"
    c = eks.create_cluster(
        name="stance-prod", version="1.33", roleArn=role,
        resourcesVpcConfig={"subnetIds": subnets, "endpointPublicAccess": False, "endpointPrivateAccess": True},
        encryptionConfig=[{"resources": ["secrets"], "provider": {"keyArn": key}}],
        logging={"clusterLogging": [{"types": ["api", "audit", "authenticator"], "enabled": True},
                                    {"types": ["controllerManager", "scheduler"], "enabled": False}]},
    )["cluster"]
    s.res("aws_eks_cluster", c["arn"], ACCOUNT, REGION, "stance-prod",
          note="1.33, private endpoint only, secrets encrypted with a customer key, audit logs on")
    c = eks.create_cluster(
        name="stance-dev", version="1.29", roleArn=role,
        resourcesVpcConfig={"subnetIds": subnets, "endpointPublicAccess": True, "endpointPrivateAccess": False,
                            "publicAccessCidrs": ["0.0.0.0/0"]},
    )["cluster"]
    s.res("aws_eks_cluster", c["arn"], ACCOUNT, REGION, "stance-dev",
          fail=["aws-eks-endpoint-not-public", "aws-eks-secrets-encrypted", "aws-eks-audit-logging-enabled",
                "aws-eks-supported-version"],
          note="1.29, public endpoint open to 0.0.0.0/0, no envelope encryption, moto's default logging (all off)")
