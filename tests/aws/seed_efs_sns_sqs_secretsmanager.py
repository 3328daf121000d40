"""Seed EFS, SNS, SQS and Secrets Manager for Stance's AWS tests (called from seed.py: `seed(s)`).

Everything goes into account 123456789012, us-east-1, after seed_kms and seed_ec2 (it uses the
`stance-data` KMS key and the subnets of the `stance-app` VPC). Each resource is recorded with the
policies it is designed to fail; all other policies of its type are expected to pass.
"""

from __future__ import annotations

import json

import seed_common  # the estate's constants, policy tables and helpers

# The policies this module seeds, by resource type (registered into seed.py's POLICIES/TYPES).
POLICIES: dict[str, str] = {
    "aws-efs-file-system-encrypted": "aws_efs_file_system",
    "aws-efs-file-system-encrypted-with-cmk": "aws_efs_file_system",
    "aws-efs-file-system-automatic-backups": "aws_efs_file_system",
    "aws-efs-file-system-policy-not-public": "aws_efs_file_system",
    "aws-efs-file-system-policy-requires-tls": "aws_efs_file_system",
    "aws-efs-mount-targets-not-in-public-subnets": "aws_efs_file_system",
    "aws-efs-access-point-enforces-root-directory": "aws_efs_access_point",
    "aws-efs-access-point-enforces-user-identity": "aws_efs_access_point",
    "aws-sns-topic-encrypted": "aws_sns_topic",
    "aws-sns-topic-policy-not-public": "aws_sns_topic",
    "aws-sns-topic-no-http-subscriptions": "aws_sns_topic",
    "aws-sqs-queue-encrypted": "aws_sqs_queue",
    "aws-sqs-queue-policy-not-public": "aws_sqs_queue",
    "aws-sqs-queue-policy-no-cross-account-full-access": "aws_sqs_queue",
    "aws-sqs-queue-dead-letter-queue": "aws_sqs_queue",
    "aws-secretsmanager-secret-rotation-enabled": "aws_secretsmanager_secret",
    "aws-secretsmanager-secret-rotation-on-schedule": "aws_secretsmanager_secret",
    "aws-secretsmanager-secret-rotated-within-90-days": "aws_secretsmanager_secret",
    "aws-secretsmanager-secret-unused-90-days": "aws_secretsmanager_secret",
    "aws-secretsmanager-secret-encrypted-with-cmk": "aws_secretsmanager_secret",
    "aws-secretsmanager-secret-policy-not-public": "aws_secretsmanager_secret",
}

SECRET_CLOCK_REASON = (
    "needs a secret created and rotated more than 90 days ago; moto stamps CreatedDate and LastRotatedDate with "
    "its own clock, which only libfaketime (moto.sh) can move back; it was not available for this moto"
)


def seed(s) -> None:
    seed_common.register(POLICIES)
    m = seed_common
    A, R = m.ACCOUNT_A, m.REGION
    key = s.ids["kms:stance-data"]
    seed_efs(s, m, A, R, key)
    seed_sns_sqs(s, m, A, R, key)
    seed_secrets(s, m, A, R, key)


def doc(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def seed_efs(s, m, A, R, key) -> None:
    efs, ec2 = s.c("efs"), s.c("ec2")

    def subnet(cidr: str) -> str:
        found = ec2.describe_subnets(Filters=[{"Name": "cidr-block", "Values": [cidr]}])["Subnets"]
        m.check(len(found) == 1, f"subnet {cidr} of the stance-app VPC")
        return found[0]["SubnetId"]

    private, public = subnet("10.20.1.0/24"), subnet("10.20.2.0/24")
    m.check(not ec2.describe_subnets(SubnetIds=[private])["Subnets"][0]["MapPublicIpOnLaunch"], "private subnet")

    def fs(name: str, **kw) -> tuple[str, str]:
        d = efs.create_file_system(CreationToken=name, Tags=[{"Key": "Name", "Value": name}], **kw)
        return d["FileSystemId"], d["FileSystemArn"]

    # 1. all good: customer key, automatic backups, TLS-only policy scoped to mount targets, private subnet
    fid, arn = fs("stance-efs-good", Encrypted=True, KmsKeyId=key, Backup=True, PerformanceMode="generalPurpose",
                  ThroughputMode="elastic")
    efs.put_file_system_policy(FileSystemId=fid, Policy=doc(
        {"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "*",
         "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
        {"Sid": "MountThroughMountTargets", "Effect": "Allow", "Principal": {"AWS": "*"},
         "Action": ["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"], "Resource": arn,
         "Condition": {"Bool": {"elasticfilesystem:AccessedViaMountTarget": "true"}}}))
    efs.put_lifecycle_configuration(FileSystemId=fid, LifecyclePolicies=[{"TransitionToIA": "AFTER_30_DAYS"}])
    efs.create_mount_target(FileSystemId=fid, SubnetId=private)
    s.res("aws_efs_file_system", arn, A, R, "stance-efs-good",
          note="customer KMS key, automatic backups, TLS-only policy limited to mount targets, private subnet")
    good = fid

    # 2. all bad: unencrypted, no backup policy, public policy without TLS, mount target in a public subnet
    fid, arn = fs("stance-efs-open", Backup=False)
    efs.put_file_system_policy(FileSystemId=fid, Policy=doc(
        {"Sid": "Everyone", "Effect": "Allow", "Principal": {"AWS": "*"},
         "Action": ["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite",
                    "elasticfilesystem:ClientRootAccess"], "Resource": arn}))
    efs.create_mount_target(FileSystemId=fid, SubnetId=public)
    s.res("aws_efs_file_system", arn, A, R, "stance-efs-open",
          fail=["aws-efs-file-system-encrypted", "aws-efs-file-system-encrypted-with-cmk",
                "aws-efs-file-system-automatic-backups", "aws-efs-file-system-policy-not-public",
                "aws-efs-file-system-policy-requires-tls", "aws-efs-mount-targets-not-in-public-subnets"],
          note="unencrypted, no backup policy (PolicyNotFound), AWS:* policy without condition, mount target in "
               "a subnet with MapPublicIpOnLaunch")

    # 3. encrypted without a key id, no policy, no mount targets
    fid, arn = fs("stance-efs-default-key", Encrypted=True, Backup=True)
    s.res("aws_efs_file_system", arn, A, R, "stance-efs-default-key",
          fail=["aws-efs-file-system-encrypted-with-cmk", "aws-efs-file-system-policy-requires-tls"],
          note="encrypted without KmsKeyId: AWS would name the aws/elasticfilesystem key, moto gives no key id, so "
               "kms_key_manager is null and the CMK check fails either way; no file system policy (public check "
               "passes, TLS check fails); no mount targets")

    ap = efs.create_access_point(FileSystemId=good, Tags=[{"Key": "Name", "Value": "stance-ap-app"}],
                                 PosixUser={"Uid": 1000, "Gid": 1000},
                                 RootDirectory={"Path": "/app", "CreationInfo": {
                                     "OwnerUid": 1000, "OwnerGid": 1000, "Permissions": "750"}})
    s.res("aws_efs_access_point", ap["AccessPointArn"], A, R, "stance-ap-app", note="root /app, POSIX user 1000:1000")
    ap = efs.create_access_point(FileSystemId=good, Tags=[{"Key": "Name", "Value": "stance-ap-root"}])
    s.res("aws_efs_access_point", ap["AccessPointArn"], A, R, "stance-ap-root",
          fail=["aws-efs-access-point-enforces-root-directory", "aws-efs-access-point-enforces-user-identity"],
          note="no root directory (moto and AWS answer path /) and no POSIX user")


def seed_sns_sqs(s, m, A, R, key) -> None:
    sns, sqs = s.c("sns"), s.c("sqs")
    partner = m.PARTNER_ACCOUNT

    # SQS first: the good topic delivers to the good queue.
    dlq_url = sqs.create_queue(QueueName="stance-orders-dlq",
                               Attributes={"MessageRetentionPeriod": "1209600"})["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    s.res("aws_sqs_queue", dlq_arn, A, R, "stance-orders-dlq",
          note="SSE-SQS (moto's default); no redrive policy of its own but the dead-letter queue of stance-orders")
    orders_arn = f"arn:aws:sqs:{R}:{A}:stance-orders"
    topic_arn = f"arn:aws:sns:{R}:{A}:stance-orders-events"
    sqs.create_queue(QueueName="stance-orders", Attributes={
        "SqsManagedSseEnabled": "false",
        "KmsMasterKeyId": key,
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "5"}),
        "Policy": doc(
            {"Sid": "FromTopic", "Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"},
             "Action": "sqs:SendMessage", "Resource": orders_arn,
             "Condition": {"ArnEquals": {"aws:SourceArn": topic_arn}}},
            {"Sid": "PartnerSends", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{partner}:root"},
             "Action": "sqs:SendMessage", "Resource": orders_arn}),
    })
    s.res("aws_sqs_queue", orders_arn, A, R, "stance-orders",
          note="SSE-KMS with the customer key, dead-letter queue, SNS allowed by aws:SourceArn, partner account "
               "allowed sqs:SendMessage only")
    open_arn = f"arn:aws:sqs:{R}:{A}:stance-open-queue"
    sqs.create_queue(QueueName="stance-open-queue", Attributes={
        "SqsManagedSseEnabled": "false",
        "Policy": doc(
            {"Sid": "Anyone", "Effect": "Allow", "Principal": "*",
             "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage"], "Resource": open_arn},
            {"Sid": "PartnerAll", "Effect": "Allow", "Principal": {"AWS": partner}, "Action": "sqs:*",
             "Resource": open_arn}),
    })
    s.res("aws_sqs_queue", open_arn, A, R, "stance-open-queue",
          fail=["aws-sqs-queue-encrypted", "aws-sqs-queue-policy-not-public",
                "aws-sqs-queue-policy-no-cross-account-full-access", "aws-sqs-queue-dead-letter-queue"],
          note="SSE off, Principal * may receive and delete, partner account granted sqs:*, no dead-letter queue")

    # SNS
    arn = sns.create_topic(Name="stance-orders-events", Attributes={"KmsMasterKeyId": "alias/aws/sns"})["TopicArn"]
    m.check(arn == topic_arn, f"topic ARN {arn}")
    sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=orders_arn)
    sns.subscribe(TopicArn=arn, Protocol="https", Endpoint="https://hooks.example.com/stance")
    s.res("aws_sns_topic", arn, A, R, "stance-orders-events",
          note="encrypted with alias/aws/sns, default policy (AWS:SourceOwner), sqs and https subscriptions")
    arn = sns.create_topic(Name="stance-open-topic")["TopicArn"]
    sns.set_topic_attributes(TopicArn=arn, AttributeName="Policy", AttributeValue=doc(
        {"Sid": "Anyone", "Effect": "Allow", "Principal": {"AWS": "*"}, "Action": ["sns:Publish", "sns:Subscribe"],
         "Resource": arn}))
    sns.subscribe(TopicArn=arn, Protocol="http", Endpoint="http://hooks.example.com/plain")
    s.res("aws_sns_topic", arn, A, R, "stance-open-topic",
          fail=["aws-sns-topic-encrypted", "aws-sns-topic-policy-not-public", "aws-sns-topic-no-http-subscriptions"],
          note="no KMS key, AWS:* may publish and subscribe without condition, plain http subscription")
    # The CIS alarms' topic of seed_logging is an SNS topic too.
    alarms = f"arn:aws:sns:{R}:{A}:stance-security-alarms"
    if any(t["TopicArn"] == alarms for t in sns.list_topics()["Topics"]):
        s.res("aws_sns_topic", alarms, A, R, "stance-security-alarms", fail=["aws-sns-topic-encrypted"],
              note="seed_logging's alarm topic: no KMS key, default policy, e-mail subscription")


def seed_secrets(s, m, A, R, key) -> None:
    sm = s.c("secretsmanager")

    d = sm.create_secret(Name="stance/prod/db", SecretString='{"password":"seed-only"}', KmsKeyId=key)
    sm.rotate_secret(SecretId=d["ARN"], RotationRules={"AutomaticallyAfterDays": 30})
    sm.put_resource_policy(SecretId=d["ARN"], ResourcePolicy=doc(
        {"Sid": "Org", "Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "secretsmanager:GetSecretValue",
         "Resource": "*", "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-stance1234"}}}))
    s.res("aws_secretsmanager_secret", d["ARN"], A, R, "stance/prod/db",
          note="customer key, rotated now every 30 days (moto rotates without a Lambda function), policy scoped "
               "by aws:PrincipalOrgID; never accessed (moto never records access) but created now")

    d = sm.create_secret(Name="stance/prod/api-key", SecretString="seed-only")
    sm.put_resource_policy(SecretId=d["ARN"], ResourcePolicy=doc(
        {"Sid": "Anyone", "Effect": "Allow", "Principal": "*", "Action": "secretsmanager:GetSecretValue",
         "Resource": "*"}))
    s.res("aws_secretsmanager_secret", d["ARN"], A, R, "stance/prod/api-key",
          fail=["aws-secretsmanager-secret-rotation-enabled", "aws-secretsmanager-secret-encrypted-with-cmk",
                "aws-secretsmanager-secret-policy-not-public"],
          note="no rotation (created now, so the 90-day checks pass), default aws/secretsmanager key, Principal * "
               "may read the value")

    aged = ["aws-secretsmanager-secret-rotation-on-schedule", "aws-secretsmanager-secret-rotated-within-90-days",
            "aws-secretsmanager-secret-unused-90-days"]
    if s.clock.works:
        try:
            s.clock.set("-200d")
            d = sm.create_secret(Name="stance/legacy/db-password", SecretString="seed-only", KmsKeyId=key)
            s.clock.set("-100d")
            sm.rotate_secret(SecretId=d["ARN"], RotationRules={"AutomaticallyAfterDays": 30})
        finally:
            s.clock.set("+0")
        s.res("aws_secretsmanager_secret", d["ARN"], A, R, "stance/legacy/db-password", fail=aged,
              note="created 200 days ago, rotation every 30 days last run 100 days ago (next rotation 70 days "
                   "overdue), never accessed (moto clock shifted)")
    else:
        for p in aged:
            s.unsupported.append({"policy": p, "missing": "fail", "reason": SECRET_CLOCK_REASON})


def step(s):
    """seed(s) as a step of seed.py's sequence (named for its progress log)."""

    def seed_efs_sns_sqs_secretsmanager() -> None:
        seed(s)

    return seed_efs_sns_sqs_secretsmanager
