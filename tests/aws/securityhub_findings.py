"""Every finding a moto server's Security Hub holds (GetFindings, all pages), as a JSON list.

    python securityhub_findings.py --endpoint http://127.0.0.1:PORT [--region us-east-1]
"""

import argparse
import json

import boto3

parser = argparse.ArgumentParser()
parser.add_argument("--endpoint", required=True)
parser.add_argument("--region", default="us-east-1")
args = parser.parse_args()

client = boto3.client(
    "securityhub", endpoint_url=args.endpoint, region_name=args.region,
    aws_access_key_id="testing", aws_secret_access_key="testing",
)
findings = []
for page in client.get_paginator("get_findings").paginate():
    findings.extend(page["Findings"])
print(json.dumps(findings))
