"""RDS, CloudTrail and CloudWatch for seed.py: database instances and snapshots, trails with their event
selectors, log groups with metric filters and alarms. `seed_rds(s)` and `seed_logging(s)` take seed.py's
Seeder."""

from __future__ import annotations

import io
import zipfile

from seed_common import *  # noqa: F401,F403 (the estate's constants and helpers)


def seed_rds(s) -> None:
    rds = s.c("rds")
    kms_arn = s.ids["kms:stance-data"]
    common = dict(DBInstanceClass="db.t3.micro", AllocatedStorage=20, MasterUsername="stance",
                  MasterUserPassword="Stance-Seed-Passw0rd")
    prod = rds.create_db_instance(
        DBInstanceIdentifier="stance-db-prod", Engine="postgres", EngineVersion="16.3", StorageEncrypted=True,
        KmsKeyId=kms_arn, MultiAZ=True, BackupRetentionPeriod=14, AutoMinorVersionUpgrade=True,
        DeletionProtection=True, PubliclyAccessible=False, EnableIAMDatabaseAuthentication=True,
        EnableCloudwatchLogsExports=["postgresql", "upgrade"], CopyTagsToSnapshot=True, **common)["DBInstance"]
    s.res("aws_rds_db_instance", prod["DBInstanceArn"], ACCOUNT_A, REGION, "stance-db-prod")
    legacy = rds.create_db_instance(
        DBInstanceIdentifier="stance-db-legacy", Engine="mysql", EngineVersion="8.0.35", StorageEncrypted=False,
        MultiAZ=False, BackupRetentionPeriod=0, AutoMinorVersionUpgrade=False, DeletionProtection=False,
        PubliclyAccessible=True, **common)["DBInstance"]
    s.res("aws_rds_db_instance", legacy["DBInstanceArn"], ACCOUNT_A, REGION, "stance-db-legacy",
             fail=TYPES["aws_rds_db_instance"], note="every RDS instance check fails")
    staging = rds.create_db_instance(
        DBInstanceIdentifier="stance-db-staging", Engine="postgres", EngineVersion="15.5", StorageEncrypted=True,
        KmsKeyId=kms_arn, MultiAZ=False, BackupRetentionPeriod=7, AutoMinorVersionUpgrade=True,
        DeletionProtection=False, PubliclyAccessible=False, **common)["DBInstance"]
    s.res("aws_rds_db_instance", staging["DBInstanceArn"], ACCOUNT_A, REGION, "stance-db-staging",
             fail=["aws-rds-instance-multi-az", "aws-rds-instance-deletion-protection"],
             note="backup retention exactly 7 (boundary, passes)")
    d = {i["DBInstanceIdentifier"]: i for i in rds.describe_db_instances()["DBInstances"]}
    check(d["stance-db-legacy"]["PubliclyAccessible"] and not d["stance-db-legacy"]["StorageEncrypted"], "legacy db")
    check(d["stance-db-prod"]["MultiAZ"] and d["stance-db-prod"]["DeletionProtection"], "prod db")

    snap = rds.create_db_snapshot(DBSnapshotIdentifier="stance-db-prod-manual", DBInstanceIdentifier="stance-db-prod")
    rds.modify_db_snapshot_attribute(DBSnapshotIdentifier="stance-db-prod-manual", AttributeName="restore",
                                     ValuesToAdd=[PARTNER_ACCOUNT])
    s.known["rds_snapshot"].add(snap["DBSnapshot"]["DBSnapshotArn"])
    s.res("aws_rds_db_snapshot", snap["DBSnapshot"]["DBSnapshotArn"], ACCOUNT_A, REGION, "stance-db-prod-manual",
             note=f"encrypted, shared with {PARTNER_ACCOUNT}", shared_with_accounts=[PARTNER_ACCOUNT])
    check(snap["DBSnapshot"]["Encrypted"], "snapshot of an encrypted instance is encrypted")
    snap = rds.create_db_snapshot(DBSnapshotIdentifier="stance-db-legacy-export", DBInstanceIdentifier="stance-db-legacy")
    check(not snap["DBSnapshot"]["Encrypted"], "snapshot of an unencrypted instance is unencrypted")
    rds.modify_db_snapshot_attribute(DBSnapshotIdentifier="stance-db-legacy-export", AttributeName="restore",
                                     ValuesToAdd=["all"])
    s.known["rds_snapshot"].add(snap["DBSnapshot"]["DBSnapshotArn"])
    s.res("aws_rds_db_snapshot", snap["DBSnapshot"]["DBSnapshotArn"], ACCOUNT_A, REGION, "stance-db-legacy-export",
             fail=["aws-rds-snapshot-encrypted", "aws-rds-snapshot-not-public"], note="unencrypted, restore=all")

# ---- CloudTrail, Logs, CloudWatch, SNS, Lambda ----------------------------------------------
def seed_logging(s) -> None:
    logs, ct, cw, sns = s.c("logs"), s.c("cloudtrail"), s.c("cloudwatch"), s.c("sns")
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
    s.extra["monitoring"] = {
        "log_groups": ["/stance/cloudtrail", "/stance/vpc-flow"],
        "metric_filters": [{"log_group": "/stance/cloudtrail", "name": n, "metric": "".join(w.capitalize() for w in n.split("-")),
                            "namespace": "CISBenchmark", "alarm": "stance-root-usage" if n == "root-usage" else None}
                           for n in metric_filters],
        "alarms": [{"name": "stance-root-usage", "metric": "RootUsage", "actions": [topic]}],
        "sns": {"topic": topic, "subscriptions": [{"arn": sub, "protocol": "email", "endpoint": "security@example.com"}]},
        "note": "no starter policy reads these; CloudWatch alarms are not reachable with the Rust SDK (CBOR)",
    }

    kms_arn = s.ids["kms:stance-data"]
    trail_arn = lambda n: f"arn:aws:cloudtrail:{REGION}:{ACCOUNT_A}:trail/{n}"  # noqa: E731
    ct.create_trail(Name="stance-org", S3BucketName="stance-cloudtrail-logs", IsMultiRegionTrail=True,
                    IncludeGlobalServiceEvents=True, EnableLogFileValidation=True, KmsKeyId=kms_arn,
                    CloudWatchLogsLogGroupArn=lg, CloudWatchLogsRoleArn=s.ids["role:stance-cloudtrail-logs"])
    ct.put_event_selectors(TrailName="stance-org", EventSelectors=[{
        "ReadWriteType": "All", "IncludeManagementEvents": True,
        "DataResources": [{"Type": "AWS::S3::Object", "Values": ["arn:aws:s3:::stance-data-prod/"]}]}])
    ct.start_logging(Name="stance-org")
    s.res("aws_cloudtrail_trail", trail_arn("stance-org"), ACCOUNT_A, REGION, "stance-org",
             note="multi-Region, logging, validation, SSE-KMS, CloudWatch Logs, basic selector All + S3 data events; "
                  "moto also returns it (a shadow copy, HomeRegion us-east-1) from DescribeTrails in every region")
    ct.create_trail(Name="stance-legacy", S3BucketName="stance-cloudtrail-logs")
    ct.put_event_selectors(TrailName="stance-legacy", EventSelectors=[{"ReadWriteType": "WriteOnly",
                                                                       "IncludeManagementEvents": True}])
    s.res("aws_cloudtrail_trail", trail_arn("stance-legacy"), ACCOUNT_A, REGION, "stance-legacy",
             fail=TYPES["aws_cloudtrail_trail"], note="single-Region, never started, WriteOnly, nothing else")
    ct.create_trail(Name="stance-advanced", S3BucketName="stance-cloudtrail-logs", IsMultiRegionTrail=True)
    ct.put_event_selectors(TrailName="stance-advanced", AdvancedEventSelectors=[{
        "Name": "management", "FieldSelectors": [{"Field": "eventCategory", "Equals": ["Management"]}]}])
    ct.start_logging(Name="stance-advanced")
    s.res("aws_cloudtrail_trail", trail_arn("stance-advanced"), ACCOUNT_A, REGION, "stance-advanced",
             fail=["aws-cloudtrail-cloudwatch-logs", "aws-cloudtrail-kms-encryption", "aws-cloudtrail-log-file-validation"],
             note="advanced selector eventCategory=Management without readOnly")
    ct.create_trail(Name="stance-readonly", S3BucketName="stance-cloudtrail-logs", IsMultiRegionTrail=True,
                    EnableLogFileValidation=True)
    ct.put_event_selectors(TrailName="stance-readonly", AdvancedEventSelectors=[{
        "Name": "reads", "FieldSelectors": [{"Field": "eventCategory", "Equals": ["Management"]},
                                            {"Field": "readOnly", "Equals": ["true"]}]}])
    ct.start_logging(Name="stance-readonly")
    ct.stop_logging(Name="stance-readonly")
    s.res("aws_cloudtrail_trail", trail_arn("stance-readonly"), ACCOUNT_A, REGION, "stance-readonly",
             fail=["aws-cloudtrail-cloudwatch-logs", "aws-cloudtrail-kms-encryption",
                   "aws-cloudtrail-management-events-read-write", "aws-cloudtrail-multi-region-logging"],
             note="advanced selector with readOnly=true; multi-Region but logging stopped")
    check(not ct.get_trail_status(Name="stance-readonly")["IsLogging"], "stopped trail")

    # Lambda (no starter policy; exercised for collection only)
    lam, iam_arn = s.c("lambda"), s.ids["role:stance-lambda-exec"]
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
    s.extra["lambda"] = {"functions": fns, "note": "no starter policy reads Lambda; create_function needs no docker"}

# ---- Config, Security Hub, Inspector2 -------------------------------------------------------
