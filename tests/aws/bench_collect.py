"""Benchmark: collect an emulated account with Stance and with Prowler, in one run.

    tests/aws/bench_collect.py --stance target/release/stance [--buckets 2000] [--security-groups 2000]

Starts moto (tests/aws/moto.sh), seeds the small account of seed.py plus N
buckets and M security groups, then runs, against the same endpoint and the
same services (s3, ec2, iam):

- `stance collect --provider aws --services s3,ec2,iam` (writes a snapshot);
- `prowler aws --services s3 ec2 iam` (from its own venv, installed here on
  first use with pip; Prowler runs its checks too, which is its only mode).

Each tool runs as a child process; wall time is measured around it and peak
memory is the child's maximum resident set size (getrusage). Prints a
Markdown table for BENCHMARKS.md. Nothing here is asserted.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "stance-build"
MOTO_VENV = Path(os.environ.get("STANCE_MOTO_VENV", CACHE / "venv"))
PROWLER_VENV = Path(os.environ.get("STANCE_PROWLER_VENV", CACHE / "prowler-venv"))
PROWLER_VERSION = "5.46.0"


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def ensure_prowler():
    prowler = PROWLER_VENV / "bin" / "prowler"
    if prowler.exists():
        return prowler
    log(f"installing prowler {PROWLER_VERSION} into {PROWLER_VENV} (takes a while)")
    subprocess.run([sys.executable, "-m", "venv", str(PROWLER_VENV)], check=True)
    subprocess.run(
        [str(PROWLER_VENV / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check", f"prowler=={PROWLER_VERSION}"],
        check=True,
    )
    return prowler


def run_child_rss(cmd, env):
    """Run cmd; return (wall seconds, this child's own peak RSS in MiB via wait4, exit code)."""
    start = time.monotonic()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    stderr = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.monotonic() - start
    if proc.returncode not in (0, 1, 2, 3):
        log(f"{Path(cmd[0]).name} exited {proc.returncode}: {stderr.decode(errors='replace')[-2000:]}")
    return seconds, usage.ru_maxrss / 1024, proc.returncode


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--stance", required=True, help="the stance binary (release build)")
    parser.add_argument("--buckets", type=int, default=2000)
    parser.add_argument("--security-groups", type=int, default=2000)
    parser.add_argument("--skip-prowler", action="store_true")
    args = parser.parse_args()

    moto_sh = ROOT / "tests" / "aws" / "moto.sh"
    subprocess.run([str(moto_sh), "install"], check=True)
    prowler = None if args.skip_prowler else ensure_prowler()
    port = subprocess.run([str(moto_sh), "start"], check=True, capture_output=True, text=True).stdout.strip()
    endpoint = f"http://127.0.0.1:{port}"
    try:
        log(f"seeding {args.buckets} buckets and {args.security_groups} security groups into moto on {endpoint}")
        start = time.monotonic()
        manifest = subprocess.run(
            [str(MOTO_VENV / "bin" / "python"), str(ROOT / "tests" / "aws" / "seed.py"), "--endpoint", endpoint,
             "--buckets", str(args.buckets), "--security-groups", str(args.security_groups)],
            check=True, capture_output=True, text=True,
        ).stdout
        seeded = json.loads(manifest)
        log(f"seeded in {time.monotonic() - start:.0f} s")
        env = dict(os.environ)
        env.update({
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1",
            "AWS_EC2_METADATA_DISABLED": "true",
        })
        rows = []
        with tempfile.TemporaryDirectory() as tmp:
            log("stance collect")
            cmd = [args.stance, "collect", "--provider", "aws", "--services", "s3,ec2,iam",
                   "--region", "us-east-1", "-q", "-o", f"{tmp}/stance.json"]
            secs, rss, code = run_child_rss(cmd, env)
            snap = json.load(open(f"{tmp}/stance.json"))
            rows.append(("Stance " + subprocess.run([args.stance, "--version"], capture_output=True, text=True).stdout.split()[-1],
                         " ".join(cmd[1:-2]), secs, rss, f"{len(snap['assets'])} assets"))
            # Prowler always evaluates its checks too: the fair comparison is a full scan.
            log("stance scan")
            cmd = [args.stance, "scan", "--provider", "aws", "--services", "s3,ec2,iam",
                   "--region", "us-east-1", "-q", "--format", "json", "--output", f"{tmp}/scan.json"]
            secs, rss, code = run_child_rss(cmd, {**env, "STANCE_DB_PATH": f"{tmp}/stance.db"})
            results = json.load(open(f"{tmp}/scan.json"))["scan"]["totals"]["findings"]
            rows.append(("Stance " + subprocess.run([args.stance, "--version"], capture_output=True, text=True).stdout.split()[-1],
                         " ".join(cmd[1:-4]), secs, rss, f"{results} check results, stored in SQLite"))
            if prowler:
                log("prowler (this takes minutes)")
                cmd = [str(prowler), "aws", "--services", "s3", "ec2", "iam", "--region", "us-east-1",
                       "--output-formats", "json-ocsf", "--output-directory", f"{tmp}/prowler", "--no-banner"]
                secs, rss, code = run_child_rss(cmd, env)
                out = 0
                for f in Path(f"{tmp}/prowler").glob("*.ocsf.json"):
                    out += len(json.load(open(f)))
                rows.append((f"Prowler {PROWLER_VERSION}", " ".join(cmd[1:-3]), secs, rss, f"{out} check results"))
        print(f"Emulated account: moto {seeded.get('moto_version')} on 127.0.0.1 with {args.buckets} extra buckets "
              f"and {args.security_groups} extra security groups (plus seed.py's small account), services s3, ec2, iam, "
              f"region us-east-1.\n")
        print("| tool | command | wall time (s) | peak RSS (MiB) | output |")
        print("|---|---|---:|---:|---|")
        for name, cmd, secs, rss, out in rows:
            print(f"| {name} | `{cmd}` | {secs:.1f} | {rss:.0f} | {out} |")
    finally:
        subprocess.run([str(moto_sh), "stop", port], check=False)


if __name__ == "__main__":
    main()
