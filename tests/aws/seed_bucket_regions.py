"""Buckets in two regions, for the test of how S3 buckets are listed by region.

    python seed_bucket_regions.py --endpoint http://127.0.0.1:PORT [--per-region 6]

Creates `--per-region` buckets in us-east-1 and as many in eu-west-1 (not
with the legacy `EU` constraint: moto's BucketRegion filter misses those,
see MOTO.md), and prints a JSON manifest:
{"us-east-1": [names], "eu-west-1": [names]}.
"""

import argparse
import json

import boto3

parser = argparse.ArgumentParser()
parser.add_argument("--endpoint", required=True)
parser.add_argument("--per-region", type=int, default=6)
args = parser.parse_args()

s3 = boto3.client(
    "s3", endpoint_url=args.endpoint, region_name="us-east-1",
    aws_access_key_id="testing", aws_secret_access_key="testing",
)
manifest = {"us-east-1": [], "eu-west-1": []}
for i in range(args.per_region):
    name = f"stance-east-{i:03d}"
    s3.create_bucket(Bucket=name)
    manifest["us-east-1"].append(name)
    name = f"stance-west-{i:03d}"
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    manifest["eu-west-1"].append(name)
print(json.dumps(manifest))
