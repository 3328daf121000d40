"""Seed a moto server for the Security Hub access-denied test, then turn IAM enforcement on.

    python securityhub_denied.py --endpoint http://127.0.0.1:PORT

Creates an IAM user `stance-exporter` allowed sts:GetCallerIdentity and nothing in Security Hub,
then POSTs /moto-api/reset-auth with 0, so every later request must be signed by a known user and
allowed by its policies. Prints {"access_key_id", "secret_access_key"} as JSON.
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
iam.create_user(UserName="stance-exporter")
key = iam.create_access_key(UserName="stance-exporter")["AccessKey"]
iam.put_user_policy(
    UserName="stance-exporter",
    PolicyName="identity-only",
    PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["sts:GetCallerIdentity"], "Resource": "*"}]}
    ),
)
request = urllib.request.Request(
    f"{args.endpoint}/moto-api/reset-auth", data=b"0", method="POST", headers={"Content-Type": "text/plain"}
)
with urllib.request.urlopen(request) as answer:
    answer.read()
print(json.dumps({"access_key_id": key["AccessKeyId"], "secret_access_key": key["SecretAccessKey"]}))
