"""Seed a moto server for the missing-permissions test, then turn IAM enforcement on.

    python restricted.py --endpoint http://127.0.0.1:PORT

Creates a bucket and an IAM user `stance-auditor` whose policy allows STS and
S3 but denies `s3:ListBucket` (moto authorizes GetBucketEncryption,
GetObjectLockConfiguration and GetBucketOwnershipControls under that action)
and grants nothing in EC2. Then POSTs /moto-api/reset-auth with 0, so every
later request must be signed by a known user and allowed by its policies.
Prints {"access_key_id", "secret_access_key", "bucket"} as JSON.
"""

import argparse
import json
import urllib.request

import boto3

parser = argparse.ArgumentParser()
parser.add_argument("--endpoint", required=True)
args = parser.parse_args()

session = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1")
iam = session.client("iam", endpoint_url=args.endpoint)
s3 = session.client("s3", endpoint_url=args.endpoint)

bucket = "stance-restricted-data"
s3.create_bucket(Bucket=bucket)
iam.create_user(UserName="stance-auditor")
key = iam.create_access_key(UserName="stance-auditor")["AccessKey"]
iam.put_user_policy(
    UserName="stance-auditor",
    PolicyName="audit",
    PolicyDocument=json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": ["sts:GetCallerIdentity", "s3:*"], "Resource": "*"},
                {"Effect": "Deny", "Action": ["s3:ListBucket"], "Resource": "*"},
            ],
        }
    ),
)
# text/plain: under urllib's default (form-encoded) content type Flask parses the
# body as a form and moto reads an empty body.
request = urllib.request.Request(
    f"{args.endpoint}/moto-api/reset-auth", data=b"0", method="POST", headers={"Content-Type": "text/plain"}
)
with urllib.request.urlopen(request) as answer:
    answer.read()
print(json.dumps({"access_key_id": key["AccessKeyId"], "secret_access_key": key["SecretAccessKey"], "bucket": bucket}))
