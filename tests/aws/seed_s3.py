"""S3 for seed.py: buckets of both accounts with every setting the S3 policies read (encryption, versioning,
logging, policies, ACLs, public access blocks, ownership, object lock, lifecycle) and the account-level
public access block. `seed(s)` takes seed.py's Seeder."""

from __future__ import annotations


from seed_common import *  # noqa: F401,F403 (the estate's constants and helpers)


def seed(s) -> None:
    s3 = s.c("s3")
    s3eu = s.c("s3", REGION2)
    kms_arn = s.ids["kms:stance-data"]
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
    s.res("aws_s3_bucket", f"arn:aws:s3:::{b}", ACCOUNT_A, REGION, b, fail=["aws-s3-bucket-access-logging"],
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
        "Sid": "AppRead", "Effect": "Allow", "Principal": {"AWS": s.ids["role:stance-app"]},
        "Action": ["s3:GetObject"], "Resource": f"arn:aws:s3:::{b}/*"}))
    s3.put_bucket_ownership_controls(Bucket=b, OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]})
    s3.put_bucket_lifecycle_configuration(Bucket=b, LifecycleConfiguration={"Rules": [
        {"ID": "old-versions", "Status": "Enabled", "Filter": {"Prefix": ""},
         "NoncurrentVersionExpiration": {"NoncurrentDays": 90}},
        {"ID": "tmp", "Status": "Enabled", "Filter": {"Prefix": "tmp/"}, "Expiration": {"Days": 7}}]})
    s.res("aws_s3_bucket", f"arn:aws:s3:::{b}", ACCOUNT_A, REGION, b,
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
    s.res("aws_s3_bucket", f"arn:aws:s3:::{b}", ACCOUNT_A, REGION, b, note="CloudTrail and Config delivery bucket")

    b = bucket("stance-public-website", ACL="public-read")
    s3.put_bucket_policy(Bucket=b, Policy=policy_doc({
        "Sid": "PublicRead", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{b}/*"}))
    s.res("aws_s3_bucket", f"arn:aws:s3:::{b}", ACCOUNT_A, REGION, b,
             fail=TYPES["aws_s3_bucket"],
             note="public-read ACL (AllUsers READ) and a Principal * policy, nothing else; moto's Config "
                  "BatchGetResourceConfig/GetResourceConfigHistory answer 500 for this bucket",
             config_batch_get_breaks=True)
    s.ids["bucket:public"] = b

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
    s.res("aws_s3_bucket", f"arn:aws:s3:::{b}", ACCOUNT_A, REGION, b,
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
    s.res("aws_s3_bucket", f"arn:aws:s3:::{b}", ACCOUNT_A, REGION, b,
             fail=["aws-s3-bucket-access-logging", "aws-s3-bucket-default-encryption",
                   "aws-s3-bucket-public-access-block"],
             note="Principal * scoped by aws:SourceVpce (not public), no default encryption, no BPA")

    b = bucket("stance-eu-archive", client=s3eu, region=REGION2)
    sse(s3eu, b, "aws:kms", None)
    s3eu.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Enabled"})
    s3eu.put_public_access_block(Bucket=b, PublicAccessBlockConfiguration=all_block)
    s3eu.put_bucket_policy(Bucket=b, Policy=policy_doc(log_delivery(b), tls(b)))
    logging(s3eu, b, target=b)
    s.res("aws_s3_bucket", f"arn:aws:s3:::{b}", ACCOUNT_A, REGION2, b,
             note="eu-west-1; SSE-KMS with the AWS managed key (no KMSMasterKeyID); logs into itself")

    s3b = s.c("s3", account=ACCOUNT_B)
    b = bucket("stance-acct2-scratch", client=s3b)
    s.res("aws_s3_bucket", f"arn:aws:s3:::{b}", ACCOUNT_B, REGION, b,
             fail=["aws-s3-bucket-access-logging", "aws-s3-bucket-default-encryption",
                   "aws-s3-bucket-public-access-block", "aws-s3-bucket-tls-only", "aws-s3-bucket-versioning-enabled"],
             note="second account: a bucket with nothing configured (moto gives new buckets no default "
                  "encryption and no BPA, unlike AWS since 2023)")

    # account-level Block Public Access: on in A, absent in B (moto does not enforce it on later calls)
    s.c("s3control").put_public_access_block(AccountId=ACCOUNT_A, PublicAccessBlockConfiguration=all_block)
    s.res("aws_s3_account_public_access_block", f"arn:aws:s3::{ACCOUNT_A}:account-public-access-block",
             ACCOUNT_A, "global", ACCOUNT_A, note="all four settings on (S3 Control; Config also lists it)")
    s.res("aws_s3_account_public_access_block", f"arn:aws:s3::{ACCOUNT_B}:account-public-access-block",
             ACCOUNT_B, "global", ACCOUNT_B, fail=["aws-s3-account-public-access-block"],
             note="not configured: S3 Control GetPublicAccessBlock answers 404 NoSuchPublicAccessBlockConfiguration")

    # facts the expectations rely on
    got = s3.get_bucket_logging(Bucket="stance-data-prod").get("LoggingEnabled", {})
    check(got.get("TargetBucket") == "stance-access-logs", f"logging {got}")
    grants = s3.get_bucket_acl(Bucket="stance-public-website")["Grants"]
    check(any(g["Grantee"].get("URI", "").endswith("/AllUsers") for g in grants), "public-read ACL")
    check(s3.get_bucket_versioning(Bucket="stance-partner-share").get("Status") == "Suspended", "suspended")

# ---- EC2 ------------------------------------------------------------------------------------
