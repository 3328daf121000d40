#!/usr/bin/env python3
"""Capture real AWS Config items from a moto seeded by seed.py into tests/aws/config-items/.

    python capture_config_items.py --endpoint http://127.0.0.1:PORT [--out DIR]

One file per resource type, named after the type with "::" replaced by "_" (AWS_S3_Bucket.json, ...).
Each file holds the item exactly as moto puts it on the wire in a BatchGetResourceConfig answer
(`wire_item`; note the string timestamps), plus `configuration` and `supplementaryConfiguration`
decoded from their JSON strings so the Rust mapping can be written against real shapes.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import boto3
from botocore.config import Config

ACCOUNT = "123456789012"
# (resource type, how to pick the resource from ListDiscoveredResources)
WANTED = [
    ("AWS::S3::Bucket", "stance-data-prod", "the fully configured bucket (SSE-KMS, versioning, object lock, "
                                            "logging, BPA, policy, lifecycle, ownership controls)"),
    ("AWS::S3::AccountPublicAccessBlock", ACCOUNT, "account-level Block Public Access, all four on"),
    ("AWS::IAM::Role", "stance-app", "role with a trust policy, two managed policies, one inline policy and "
                                     "an instance profile"),
    ("AWS::IAM::Policy", "stance-narrowed", "customer managed policy with two versions (v2 default)"),
]


def decode(value):
    # moto double-encodes some values (AccessControlList is a JSON string holding a JSON string)
    while isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            break
    return value


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--endpoint", required=True)
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "config-items")
    args = ap.parse_args()
    cfg = boto3.client("config", endpoint_url=args.endpoint, region_name="us-east-1",
                       aws_access_key_id="testing", aws_secret_access_key="testing",
                       config=Config(retries={"max_attempts": 1}))
    raw: dict = {}
    cfg.meta.events.register("before-parse.config.BatchGetResourceConfig",
                             lambda **kw: raw.__setitem__("body", kw["response_dict"]["body"]))
    args.out.mkdir(parents=True, exist_ok=True)
    for rtype, name, what in WANTED:
        ids = cfg.list_discovered_resources(resourceType=rtype)["resourceIdentifiers"]
        match = [i for i in ids if i.get("resourceName", i["resourceId"]) == name or i["resourceId"] == name]
        if not match:
            print(f"{rtype}: {name} not discovered (seed first)", file=sys.stderr)
            return 1
        key = {"resourceType": rtype, "resourceId": match[0]["resourceId"]}
        cfg.batch_get_resource_config(resourceKeys=[key])
        body = json.loads(raw["body"])
        item = body["baseConfigurationItems"][0]
        doc = {
            "_about": f"moto 5.2.5 BatchGetResourceConfig item for {what}; wire_item is verbatim",
            "list_discovered_resources_identifier": match[0],
            "request": {"resourceKeys": [key]},
            "wire_item": item,
            "configuration": decode(item.get("configuration")),
            "supplementaryConfiguration": {k: decode(v) for k, v in (item.get("supplementaryConfiguration") or {}).items()},
        }
        path = args.out / (rtype.replace("::", "_") + ".json")
        path.write_text(json.dumps(doc, indent=2, sort_keys=False) + "\n")
        print(f"wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
