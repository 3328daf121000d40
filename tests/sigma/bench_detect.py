#!/usr/bin/env python3
"""Detection throughput: Stance versus sigma-rust and a pySigma-to-SQLite pipeline, in one run.

1. Generates (once; cached under ~/.cache/stance-build/bench-corpus, keyed by
   the parameters) a CloudTrail corpus in AWS's delivery layout,
   AWSLogs/ACCOUNT/CloudTrail/REGION/YYYY/MM/DD/
   ACCOUNT_CloudTrail_REGION_YYYYMMDDTHHmmZ_RANDOM.json.gz, each file a gzipped
   {"Records": [...]} of 100-1000 records. --size-mb is the size of the
   uncompressed JSON (MiB; default 1024 = 1 GiB); the gzipped size is measured
   and printed too. The generator is seeded: the same parameters give the same
   bytes. Background traffic is a mix of read and write calls of many services,
   IAM users, assumed roles, AWS services and the root user, many source IPs
   and user agents; about one event in 4,000 is one of the pack's test cases
   (policies/cloudtrail/tests, positive and negative), retimed into the file,
   so that rules and correlations fire.
2. Runs `stance detect --input CORPUS -q --format json` with the built-in pack
   and a fresh database, timing it and taking its peak RSS (wait4); again
   with `--no-prefilter` (every event handed to the Sigma plugin, as before
   prefilters), and with only the pack's single-event rules (the files of
   policies/cloudtrail/rules outside correlations/, `--no-builtin-rules
   --rules FILE...`), the rules the sigma-rust row runs.
2b. Builds (on demand, into ~/.cache/stance-build/sigma-rust-bench, outside
   the workspace) and runs tests/sigma/sigma-rust-bench: the crates.io
   `sigma-rust` 0.7 library with the same single-event rule files over the
   same .gz files on one thread, gunzip and JSON parsing included.
3. Runs pySigma's SQLite backend on the same events and the pack's
   non-correlation rules (the backend cannot convert correlation rules):
   converts the rules, streams the events from the same .gz files into an
   in-memory SQLite table flattened exactly as tests/sigma/pysigma_diff.py
   does (its rows_of is imported), then runs every query. The pipeline runs
   as a child process in the pySigma venv, so its peak RSS is its own.
   --pysigma-max-mb limits it to the first files of the corpus (a stated
   subset; nothing is extrapolated).
4. Prints a Markdown table and notes.

    python3 tests/sigma/bench_detect.py --stance target/release/stance [--size-mb 1024] [--out DIR] [--skip-pysigma]
"""

import argparse
import datetime as dt
import gzip
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import zlib
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACK = ROOT / "policies/cloudtrail"
VENV_PY = Path.home() / ".cache/stance-build/venv/bin/python"
CACHE = Path.home() / ".cache/stance-build/bench-corpus"
GEN_VERSION = 1
MiB = 1024 * 1024

ACCOUNTS = ["111122223333", "444455556666", "777788889999"]
REGIONS = ["us-east-1", "eu-west-1", "eu-central-1", "ap-southeast-2"]
START = dt.datetime(2026, 11, 1, tzinfo=dt.timezone.utc)
SLOT = dt.timedelta(minutes=5)
TRIGGER_EVERY = 4000  # about one test-case event per this many background events

USERS = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy",
         "mallory", "niaj", "olivia", "peggy", "rupert", "sybil", "trent", "victor", "walter", "ci-deploy"]
ROLES = ["OrganizationAccountAccessRole", "AWSReservedSSO_AdministratorAccess_0a1b2c",
         "AWSReservedSSO_ReadOnly_9f8e7d", "github-actions-deploy", "eks-node-group", "lambda-exec-orders",
         "ecs-task-payments", "terraform-plan", "datadog-integration", "backup-operator"]
SERVICES = ["ec2.amazonaws.com", "lambda.amazonaws.com", "ecs-tasks.amazonaws.com", "config.amazonaws.com",
            "cloudtrail.amazonaws.com", "autoscaling.amazonaws.com", "elasticloadbalancing.amazonaws.com"]
AGENTS = ["aws-cli/2.15.30 Python/3.11.8 Linux/6.1.0 exe/x86_64.ubuntu.22 prompt/off command/",
          "Boto3/1.34.69 md/Botocore#1.34.69 ua/2.0 os/linux#6.1.0 md/arch#x86_64 lang/python#3.11.8",
          "aws-sdk-go-v2/1.26.1 os/linux lang/go#1.22.1 md/GOOS#linux md/GOARCH#amd64 api/ec2#1.155.0",
          "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36",
          "console.amazonaws.com", "Terraform/1.7.5 (+https://www.terraform.io) terraform-provider-aws/5.44.0",
          "aws-internal/3 aws-sdk-java/1.12.690 Linux/5.10 OpenJDK_64-Bit_Server_VM/25.402-b08",
          "datadog-aws-integration/1.0", "AWS Internal"]


def uid(rng):
    h = "%032x" % rng.getrandbits(128)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def ip(rng):
    r = rng.random()
    if r < 0.4:
        return f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
    if r < 0.6:
        return f"198.51.100.{rng.randrange(1, 255)}"
    if r < 0.75:
        return f"203.0.113.{rng.randrange(1, 255)}"
    return f"{rng.randrange(1, 224)}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"


def identity(rng, account):
    r = rng.random()
    if r < 0.35:
        u = rng.choice(USERS)
        return {"type": "IAMUser", "principalId": "AIDA" + u.upper().replace("-", "")[:8].ljust(17, "X"),
                "arn": f"arn:aws:iam::{account}:user/{u}", "accountId": account,
                "accessKeyId": "AKIA" + "%016X" % rng.getrandbits(64), "userName": u}, False
    if r < 0.85:
        role = rng.choice(ROLES)
        sess = rng.choice(USERS) if rng.random() < 0.5 else "i-%017x" % rng.getrandbits(68)
        return {"type": "AssumedRole", "principalId": f"AROA{'%016X' % zlib.crc32(role.encode())}:{sess}",
                "arn": f"arn:aws:sts::{account}:assumed-role/{role}/{sess}", "accountId": account,
                "accessKeyId": "ASIA" + "%016X" % rng.getrandbits(64),
                "sessionContext": {"sessionIssuer": {"type": "Role", "principalId": "AROA" + "%016X" % zlib.crc32(role.encode()),
                                                     "arn": f"arn:aws:iam::{account}:role/{role}",
                                                     "accountId": account, "userName": role},
                                   "webIdFederationData": {},
                                   "attributes": {"creationDate": "2026-11-01T00:00:00Z", "mfaAuthenticated": "false"}}}, False
    if r < 0.999:
        return {"type": "AWSService", "invokedBy": rng.choice(SERVICES)}, True
    return {"type": "Root", "principalId": account, "arn": f"arn:aws:iam::{account}:root", "accountId": account}, False


def bucket(rng):
    return rng.choice(["app-assets", "logs-archive", "data-lake-raw", "backups", "tf-state", "ml-datasets"]) + f"-{rng.randrange(40)}"


def call(rng, account, region):
    """One background API call: (eventSource, eventName, readOnly, requestParameters, responseElements, resources)."""
    r = rng.random()
    if r < 0.16:
        b = bucket(rng)
        key = f"{rng.choice(['raw', 'processed', 'tmp'])}/{rng.randrange(10**6)}.parquet"
        name = rng.choice(["GetObject", "GetObject", "PutObject", "HeadObject", "ListObjects"])
        return ("s3.amazonaws.com", name, name != "PutObject",
                {"bucketName": b, "Host": f"{b}.s3.{region}.amazonaws.com", "key": key},
                None, [{"type": "AWS::S3::Object", "ARN": f"arn:aws:s3:::{b}/{key}"},
                       {"accountId": account, "type": "AWS::S3::Bucket", "ARN": f"arn:aws:s3:::{b}"}], "Data")
    if r < 0.30:
        return ("sts.amazonaws.com", "AssumeRole", True,
                {"roleArn": f"arn:aws:iam::{account}:role/{rng.choice(ROLES)}", "roleSessionName": uid(rng)[:18],
                 "durationSeconds": 3600},
                {"credentials": {"accessKeyId": "ASIA" + "%016X" % rng.getrandbits(64), "sessionToken": "IQoJb3JpZ2luX2Vj" + "%064x" % rng.getrandbits(256),
                                 "expiration": "Nov 2, 2026, 1:00:00 AM"},
                 "assumedRoleUser": {"assumedRoleId": "AROA" + "%016X" % rng.getrandbits(64) + ":s", "arn": f"arn:aws:sts::{account}:assumed-role/x/s"}},
                [{"accountId": account, "type": "AWS::IAM::Role", "ARN": f"arn:aws:iam::{account}:role/{rng.choice(ROLES)}"}], "Management")
    if r < 0.42:
        name = rng.choice(["DescribeInstances", "DescribeSecurityGroups", "DescribeVolumes", "DescribeSubnets",
                           "DescribeVpcs", "DescribeNetworkInterfaces", "DescribeImages", "DescribeSnapshots"])
        return ("ec2.amazonaws.com", name, True,
                {"filterSet": {"items": [{"name": "tag:env", "valueSet": {"items": [{"value": rng.choice(["prod", "dev", "stage"])}]}}]},
                 "maxResults": 1000}, None, None, "Management")
    if r < 0.52:
        name = rng.choice(["Decrypt", "GenerateDataKey", "Encrypt"])
        return ("kms.amazonaws.com", name, True,
                {"encryptionContext": {"aws:s3:arn": f"arn:aws:s3:::{bucket(rng)}"}, "encryptionAlgorithm": "SYMMETRIC_DEFAULT"},
                None, [{"accountId": account, "type": "AWS::KMS::Key", "ARN": f"arn:aws:kms:{region}:{account}:key/{uid(rng)}"}], "Management")
    if r < 0.60:
        grp = f"/aws/lambda/{rng.choice(['orders', 'payments', 'auth', 'etl'])}-{rng.randrange(20)}"
        name = rng.choice(["CreateLogStream", "DescribeLogGroups", "PutRetentionPolicy"])
        return ("logs.amazonaws.com", name, name == "DescribeLogGroups",
                {"logGroupName": grp, "logStreamName": f"2026/11/01/[$LATEST]{uid(rng).replace('-', '')}"}, None, None, "Management")
    if r < 0.67:
        name = rng.choice(["GetParameter", "GetParameters", "DescribeInstanceInformation", "UpdateInstanceInformation"])
        return ("ssm.amazonaws.com", name, name != "UpdateInstanceInformation",
                {"name": f"/app/{rng.choice(['db', 'api', 'cache'])}/{rng.choice(['url', 'password', 'token'])}", "withDecryption": True},
                None, None, "Management")
    if r < 0.73:
        name = rng.choice(["GetUser", "ListUsers", "ListRoles", "GetRole", "ListAttachedRolePolicies", "GetAccountAuthorizationDetails"])
        return ("iam.amazonaws.com", name, True, {"userName": rng.choice(USERS)} if name == "GetUser" else {"maxItems": 100},
                None, None, "Management")
    if r < 0.78:
        return ("sts.amazonaws.com", "GetCallerIdentity", True, None, None, None, "Management")
    if r < 0.83:
        fn = f"{rng.choice(['orders', 'payments', 'auth', 'etl'])}-{rng.randrange(20)}"
        name = rng.choice(["Invoke", "GetFunction", "ListFunctions20150331"])
        return ("lambda.amazonaws.com", name, name != "Invoke", {"functionName": f"arn:aws:lambda:{region}:{account}:function:{fn}"},
                None, None, "Data" if name == "Invoke" else "Management")
    if r < 0.87:
        name = rng.choice(["PutItem", "GetItem", "Query", "DescribeTable"])
        return ("dynamodb.amazonaws.com", name, name != "PutItem",
                {"tableName": rng.choice(["orders", "sessions", "inventory"]), "key": {"pk": {"S": uid(rng)}}},
                None, None, "Data" if name != "DescribeTable" else "Management")
    if r < 0.90:
        iid = "i-%017x" % rng.getrandbits(68)
        return ("ec2.amazonaws.com", "RunInstances", False,
                {"instancesSet": {"items": [{"imageId": "ami-%017x" % rng.getrandbits(68), "minCount": 1, "maxCount": 1}]},
                 "instanceType": rng.choice(["t3.micro", "m6i.large", "c7g.xlarge"]),
                 "subnetId": "subnet-%017x" % rng.getrandbits(68), "monitoring": {"enabled": False}},
                {"requestId": uid(rng), "reservationId": "r-%017x" % rng.getrandbits(68),
                 "instancesSet": {"items": [{"instanceId": iid, "currentState": {"code": 0, "name": "pending"},
                                             "privateIpAddress": f"10.0.{rng.randrange(256)}.{rng.randrange(256)}"}]}},
                None, "Management")
    if r < 0.93:
        return ("secretsmanager.amazonaws.com", "GetSecretValue", True,
                {"secretId": f"arn:aws:secretsmanager:{region}:{account}:secret:{rng.choice(['db', 'api', 'stripe'])}-{rng.randrange(9)}"},
                None, None, "Management")
    if r < 0.95:
        name = rng.choice(["SendMessage", "ReceiveMessage", "DeleteMessage"])
        return ("sqs.amazonaws.com", name, False, {"queueUrl": f"https://sqs.{region}.amazonaws.com/{account}/jobs-{rng.randrange(8)}"},
                None, None, "Data")
    if r < 0.97:
        name = rng.choice(["AuthorizeSecurityGroupIngress", "CreateTags", "ModifyInstanceAttribute"])
        return ("ec2.amazonaws.com", name, False,
                {"groupId": "sg-%017x" % rng.getrandbits(68),
                 "ipPermissions": {"items": [{"ipProtocol": "tcp", "fromPort": 443, "toPort": 443, "groups": {}, "prefixListIds": {},
                                              "ipRanges": {"items": [{"cidrIp": f"10.{rng.randrange(256)}.0.0/16"}]}, "ipv6Ranges": {}}]}},
                {"requestId": uid(rng), "_return": True}, None, "Management")
    if r < 0.985:
        return ("signin.amazonaws.com", "ConsoleLogin", False, None, {"ConsoleLogin": "Success"}, None, "Management")
    name = rng.choice(["ListBuckets", "GetBucketPolicy", "GetBucketAcl", "GetBucketLocation"])
    return ("s3.amazonaws.com", name, True, {"bucketName": bucket(rng), "Host": "s3.amazonaws.com"}, None, None, "Management")


def event(rng, account, region, t):
    ident, by_service = identity(rng, account)
    src, name, ro, req, resp, res, cat = call(rng, account, region)
    ev = {"eventVersion": "1.09", "userIdentity": ident, "eventTime": t, "eventSource": src, "eventName": name,
          "awsRegion": region if src not in ("iam.amazonaws.com", "signin.amazonaws.com") else "us-east-1",
          "sourceIPAddress": ident.get("invokedBy") if by_service else ip(rng),
          "userAgent": ident.get("invokedBy") if by_service else rng.choice(AGENTS),
          "requestParameters": req, "responseElements": resp,
          "requestID": uid(rng), "eventID": uid(rng), "readOnly": ro, "eventType": "AwsApiCall",
          "managementEvent": cat == "Management", "recipientAccountId": account, "eventCategory": cat}
    if res:
        ev["resources"] = res
    if name == "ConsoleLogin":
        ev["eventType"] = "AwsConsoleSignIn"
        ev["additionalEventData"] = {"LoginTo": "https://console.aws.amazon.com/console/home", "MobileVersion": "No",
                                     "MFAUsed": "Yes", "MFAIdentifier": f"arn:aws:iam::{account}:mfa/dev"}
    if not by_service:
        ev["tlsDetails"] = {"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256",
                            "clientProvidedHostHeader": f"{src.split('.')[0]}.{region}.amazonaws.com"}
        ev["sessionCredentialFromConsole"] = "false"
    if rng.random() < 0.02:
        ev["errorCode"] = rng.choice(["AccessDenied", "ThrottlingException", "ResourceNotFoundException"])
        ev["errorMessage"] = "generated error"
    return ev


def test_cases():
    import yaml
    cases = []
    for path in sorted((PACK / "tests").glob("*.yaml")):
        for case in yaml.safe_load(path.read_text())["cases"]:
            if case.get("events"):
                cases.append(case["events"])
    return cases


def iso(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(s):
    return dt.datetime.strptime(s[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=dt.timezone.utc)


def make_file(args):
    """Generates file `i` of the corpus; returns (relative path, events, uncompressed bytes, gzipped bytes)."""
    root, seed, i, cases = args
    rng = random.Random(f"{seed}:{i}")
    account = ACCOUNTS[i % len(ACCOUNTS)]
    region = REGIONS[(i // len(ACCOUNTS)) % len(REGIONS)]
    start = START + SLOT * (i // (len(ACCOUNTS) * len(REGIONS)))
    n = rng.randint(100, 1000)
    offsets = sorted(rng.randrange(300) for _ in range(n))
    records = [event(rng, account, region, iso(start + dt.timedelta(seconds=o))) for o in offsets]
    # Test-case events, each case kept together and retimed (relative offsets kept) into this file.
    k = sum(1 for _ in range(n) if rng.random() < 1 / TRIGGER_EVERY)
    for j in range(k):
        evs = rng.choice(cases)
        t0 = parse_time(evs[0]["eventTime"])
        base = start + dt.timedelta(seconds=rng.randrange(300))
        pos = rng.randrange(len(records) + 1)
        for m, ev in enumerate(evs):
            ev = json.loads(json.dumps(ev))
            ev["eventTime"] = iso(base + (parse_time(ev["eventTime"]) - t0))
            ev["eventID"] = f"{uid(rng)[:-6]}{j:03d}{m:03d}"
            records.insert(pos + m, ev)
    body = json.dumps({"Records": records}, separators=(",", ":")).encode()
    stamp = (start + SLOT).strftime("%Y%m%dT%H%MZ")
    rel = (f"AWSLogs/{account}/CloudTrail/{region}/{start:%Y/%m/%d}/"
           f"{account}_CloudTrail_{region}_{stamp}_{'%016X' % rng.getrandbits(64)}.json.gz")
    path = Path(root) / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    gz = gzip.compress(body, compresslevel=6, mtime=0)
    path.write_bytes(gz)
    return rel, len(records), len(body), len(gz)


def corpus(size_mb, seed, jobs):
    root = CACHE / f"cloudtrail-v{GEN_VERSION}-seed{seed}-{size_mb}mib"
    manifest = root / "manifest.json"
    if manifest.exists():
        print(f"corpus: cached at {root}", file=sys.stderr)
        return root, json.loads(manifest.read_text())
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    cases = test_cases()
    target = size_mb * MiB
    files, total, i, batch = [], 0, 0, 64
    t0 = time.monotonic()
    with ProcessPoolExecutor(jobs) as pool:
        while total < target:
            out = list(pool.map(make_file, [(str(root), seed, j, cases) for j in range(i, i + batch)]))
            i += batch
            for f in out:
                files.append(f)
                total += f[2]
            print(f"\rcorpus: {total / MiB:,.0f} / {size_mb:,} MiB", end="", file=sys.stderr)
    print(f" in {time.monotonic() - t0:.0f} s", file=sys.stderr)
    gen_s = time.monotonic() - t0
    m = {"root": str(root), "seed": seed, "size_mb": size_mb, "files": [f[0] for f in files],
         "file_events": [f[1] for f in files], "file_bytes": [f[2] for f in files], "file_gz_bytes": [f[3] for f in files],
         "generated_in_s": round(gen_s, 1), "events": sum(f[1] for f in files), "bytes": sum(f[2] for f in files), "gz_bytes": sum(f[3] for f in files)}
    manifest.write_text(json.dumps(m))
    return root, m


# ---------------------------------------------------------------- runs

def run_child(cmd, env=None, stdout=None):
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, env=env, stdout=stdout)
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.monotonic() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    return wall, ru.ru_maxrss / 1024, p.returncode  # ru_maxrss is KiB on Linux


SINGLE_RULES = sorted((PACK / "rules").glob("*.yml"))  # the pack's single-event rules (not correlations/)
HARNESS = ROOT / "tests/sigma/sigma-rust-bench"
HARNESS_TARGET = Path.home() / ".cache/stance-build/sigma-rust-bench"


def run_stance(stance, root, out, extra=(), label="stance"):
    tmp = Path(tempfile.mkdtemp(prefix="stance-bench-"))
    env = dict(os.environ, STANCE_DB_PATH=str(tmp / "stance.db"))
    alerts_file = out / f"{label}-alerts.json"
    wall, rss, rc = run_child([stance, "detect", "--input", str(root), "-q", "--format", "json",
                               "-o", str(alerts_file), *extra], env=env)
    shutil.rmtree(tmp, ignore_errors=True)
    if rc not in (0, 1):
        sys.exit(f"stance detect exited {rc}")
    doc = json.loads(alerts_file.read_text())
    alerts = doc.get("alerts", doc) if isinstance(doc, dict) else doc
    by_kind = {"detection": 0, "correlation": 0}
    for a in alerts:
        is_corr = bool(a.get("group_key") or a.get("correlation")) or "correlation" in json.dumps(a.get("tags", ""))
        by_kind["correlation" if is_corr else "detection"] += 1
    return {"wall": wall, "rss": rss, "alerts": len(alerts), "by_kind": by_kind,
            "run": doc.get("run") if isinstance(doc, dict) else None}


def run_sigma_rust(root, files, out):
    """Builds the harness if needed (its own Cargo project and target dir), then runs it."""
    subprocess.run(["cargo", "build", "--quiet", "--profile", "ci", "--target-dir", str(HARNESS_TARGET)],
                   cwd=HARNESS, check=True, env={k: v for k, v in os.environ.items() if k != "CARGO_TARGET_DIR"})
    lst = out / "sigma-rust-files.txt"
    lst.write_text("\n".join(str(root / f) for f in files) + "\n")
    result = out / "sigma-rust.json"
    with open(result, "w") as fh:
        wall, rss, rc = run_child([str(HARNESS_TARGET / "ci/sigma-rust-bench"), str(PACK / "rules"), str(lst)], stdout=fh)
    if rc != 0:
        sys.exit(f"sigma-rust harness exited {rc}")
    r = json.loads(result.read_text())
    r.update(wall=wall, rss=rss)
    return r


def run_pysigma(root, files, out):
    result = out / "pysigma.json"
    lst = out / "pysigma-files.txt"
    lst.write_text("\n".join(str(root / f) for f in files) + "\n")
    wall, rss, rc = run_child([str(VENV_PY), __file__, "--pysigma-child", str(lst), str(result)])
    if rc != 0:
        sys.exit(f"pySigma pipeline exited {rc}")
    r = json.loads(result.read_text())
    r.update(wall=wall, rss=rss)
    return r


def pysigma_child(list_file, result_file):
    """Runs inside the pySigma venv: convert, load, query; writes timings and matches as JSON."""
    import importlib.metadata
    import sqlite3
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from pysigma_diff import quote, regexp, rows_of, run_query
    from sigma.backends.sqlite import sqliteBackend
    from sigma.collection import SigmaCollection
    from sigma.correlations import SigmaCorrelationRule

    t0 = time.monotonic()
    rules, skipped = [], []
    for path in sorted((PACK / "rules").rglob("*.yml")):
        for rule in SigmaCollection.from_yaml(path.read_text()).rules:
            if isinstance(rule, SigmaCorrelationRule):
                skipped.append(rule.name or rule.title)
                continue
            rules.append((rule.name or rule.title, sqliteBackend().convert(SigmaCollection([rule]))))
    t_convert = time.monotonic() - t0

    t0 = time.monotonic()
    conn = sqlite3.connect(":memory:")
    conn.create_function("regexp", 2, regexp, deterministic=True)
    conn.execute('CREATE TABLE logs ("_eid" COLLATE NOCASE)')
    columns = {"_eid": "_eid"}
    n_events = n_rows = n_bytes = 0
    for path in Path(list_file).read_text().split():
        raw = gzip.open(path).read()
        n_bytes += len(raw)
        groups = {}
        for ev in json.loads(raw)["Records"]:
            n_events += 1
            for row in rows_of(ev):
                row["_eid"] = ev["eventID"]
                for c in row:
                    if c.lower() not in columns:
                        conn.execute(f"ALTER TABLE logs ADD COLUMN {quote(c)} COLLATE NOCASE")
                        columns[c.lower()] = c
                groups.setdefault(tuple(row), []).append(tuple(row.values()))
                n_rows += 1
        for cols, vals in groups.items():
            conn.executemany(f"INSERT INTO logs ({', '.join(quote(c) for c in cols)}) VALUES ({', '.join('?' * len(cols))})", vals)
    conn.commit()
    t_load = time.monotonic() - t0

    t0 = time.monotonic()
    matches = {}
    for name, queries in rules:
        hit = set()
        for q in queries:
            hit.update(run_query(conn, columns, q))
        matches[name] = len(hit)
    t_query = time.monotonic() - t0
    Path(result_file).write_text(json.dumps({
        "pysigma": importlib.metadata.version("pysigma"),
        "backend": importlib.metadata.version("pysigma-backend-sqlite"),
        "rules": len(rules), "skipped_correlations": skipped, "events": n_events, "rows": n_rows, "bytes": n_bytes,
        "columns": len(columns), "convert": t_convert, "load": t_load, "query": t_query,
        "matches": sum(matches.values()), "per_rule": matches}))


# ---------------------------------------------------------------- main

def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--pysigma-child":
        return pysigma_child(sys.argv[2], sys.argv[3])
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--stance", required=True, help="the stance binary")
    ap.add_argument("--size-mb", type=int, default=1024, help="uncompressed CloudTrail JSON to generate, MiB")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--out", type=Path, help="where to keep the alerts and pySigma results (default: a temp dir)")
    ap.add_argument("--pysigma-max-mb", type=int, default=0,
                    help="run pySigma only on the first files, up to this many uncompressed MiB (0: all)")
    ap.add_argument("--skip-pysigma", action="store_true")
    ap.add_argument("--skip-sigma-rust", action="store_true")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="generator processes")
    args = ap.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="bench-detect-"))
    out.mkdir(parents=True, exist_ok=True)

    root, m = corpus(args.size_mb, args.seed, args.jobs)
    ev, gb, gz = m["events"], m["bytes"], m["gz_bytes"]
    print(f"corpus: {root}\n  {len(m['files']):,} files, {ev:,} events, {gb:,} bytes uncompressed "
          f"({gb / MiB:,.1f} MiB, {gb / 2**30:.3f} GiB), {gz:,} bytes gzipped ({gz / MiB:,.1f} MiB, ratio {gb / gz:.1f}x)",
          file=sys.stderr)

    print("running stance detect ...", file=sys.stderr)
    st = run_stance(args.stance, root / "AWSLogs", out)
    print(f"  {st['wall']:.1f} s, {st['alerts']} alerts", file=sys.stderr)
    print("running stance detect --no-prefilter ...", file=sys.stderr)
    st_all = run_stance(args.stance, root / "AWSLogs", out, ["--no-prefilter"], "stance-no-prefilter")
    print(f"  {st_all['wall']:.1f} s, {st_all['alerts']} alerts", file=sys.stderr)
    single = ["--no-builtin-rules"] + [a for f in SINGLE_RULES for a in ("--rules", str(f))]
    print(f"running stance detect with the {len(SINGLE_RULES)} single-event rules ...", file=sys.stderr)
    st_one = run_stance(args.stance, root / "AWSLogs", out, single, "stance-single")
    print(f"  {st_one['wall']:.1f} s, {st_one['alerts']} alerts", file=sys.stderr)
    sr = None
    if not args.skip_sigma_rust:
        print("running sigma-rust ...", file=sys.stderr)
        sr = run_sigma_rust(root, m["files"], out)
        print(f"  {sr['seconds']:.1f} s, {sr['matches']} matches", file=sys.stderr)

    py = None
    if not args.skip_pysigma:
        files, acc = [], 0
        for f, b in zip(m["files"], m["file_bytes"]):
            if args.pysigma_max_mb and acc >= args.pysigma_max_mb * MiB:
                break
            files.append(f)
            acc += b
        py_gz = sum(g for f, g in zip(m["files"], m["file_gz_bytes"]) if f in set(files))
        print(f"running pySigma to SQLite over {len(files):,} files ...", file=sys.stderr)
        py = run_pysigma(root, files, out)
        py["gz_bytes"] = py_gz
        print(f"  {py['wall']:.1f} s, {py['matches']} matches", file=sys.stderr)

    def row(tool, events, b, g, wall, rss, hits):
        return (f"| {tool} | {events:,} | {b / 2**30:.3f} ({g / 2**30:.3f} gz) | {wall:,.1f} | {events / wall:,.0f} | "
                f"{b / MiB / wall:,.1f} ({g / MiB / wall:,.1f} gz) | {rss:,.0f} | {hits} |")

    lines = ["| tool | events | GiB JSON (gzipped) | wall s | events/s | MiB/s JSON (gzipped) | peak RSS MiB | alerts / matches |",
             "|---|---:|---:|---:|---:|---:|---:|---|"]
    n_rules = (st.get("run") or {}).get("totals", {}).get("rules", "?")
    def handed(r):
        ds = (r.get("run") or {}).get("detectors") or []
        return sum(d.get("events_in", 0) for d in ds)
    for label, r in ((f"Stance `detect`, built-in pack ({n_rules} rules incl. correlations), prefilter", st),
                     ("Stance `detect --no-prefilter`, built-in pack (every event to the plugin, as before)", st_all),
                     (f"Stance `detect`, the {len(SINGLE_RULES)} single-event rules only", st_one)):
        lines.append(row(label, ev, gb, gz, r["wall"], r["rss"],
                         f"{r['alerts']:,} alerts ({r['by_kind']['detection']:,} single-event, "
                         f"{r['by_kind']['correlation']:,} correlation); {handed(r):,} events handed to the plugin"))
    if sr:
        lines.append(row(f"sigma-rust {sr['sigma_rust']}, {sr['rules']} single-event rules, one thread (harness time)",
                         sr["events"], sr["bytes"], gz, sr["seconds"], sr["rss"], f"{sr['matches']:,} rule-event matches"))
    if py:
        lines.append(row(f"pySigma {py['pysigma']} + SQLite backend {py['backend']}, {py['rules']} detection rules: total",
                         py["events"], py["bytes"], py["gz_bytes"], py["wall"], py["rss"],
                         f"{py['matches']:,} rule-event matches"))
        for label, t in (("convert", py["convert"]), ("load (gunzip, parse, flatten, insert)", py["load"]),
                         ("query", py["query"])):
            lines.append(f"| &nbsp;&nbsp;pySigma: {label} | | | {t:,.1f} | | | | |")
    print("\n".join(lines))
    print()
    print(f"- Corpus: {len(m['files']):,} files in AWS's layout, {ev:,} events, {gb:,} bytes of JSON "
          f"({gb / 2**30:.3f} GiB), {gz:,} bytes gzipped ({gz / MiB:,.1f} MiB); seed {args.seed}; at {root}.")
    if py:
        print(f"- pySigma's SQLite backend converts no correlation rules; skipped: {', '.join(py['skipped_correlations'])}.")
        print(f"- SQLite table: {py['rows']:,} rows (arrays fan out), {py['columns']:,} columns, in memory.")
        print("- pySigma per-rule matches: " + ", ".join(f"{k} {v}" for k, v in sorted(py["per_rule"].items()) if v))
        if py["events"] != ev:
            print(f"- pySigma ran on a subset: the first {len(files):,} files ({py['events']:,} events); nothing extrapolated.")
    if sr and sr["refused"]:
        print(f"- sigma-rust refused {len(sr['refused'])} rule file(s): " + "; ".join(sr["refused"]))
    if sr:
        print("- sigma-rust per-rule matches: " + ", ".join(f"{k} {v}" for k, v in sorted(sr["per_rule"].items()) if v))
    if st.get("run"):
        print(f"- Stance run totals: {json.dumps(st['run'].get('totals', st['run']))[:600]}")
    print(f"- Outputs in {out}")


if __name__ == "__main__":
    main()
