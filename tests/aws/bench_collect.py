"""Benchmark: collect an emulated account with Stance and with Prowler, in one run.

    tests/aws/bench_collect.py --stance target/release/stance [--buckets 2000] [--security-groups 2000]
        [--latency-ms 50] [--baseline OTHER_STANCE [--baseline-label before] [--label after]]

Starts moto (tests/aws/moto.sh), seeds the small account of seed.py plus N
buckets and M security groups, then runs, against the same endpoint and the
same services (s3, ec2, iam):

- `stance collect --provider aws --services s3,ec2,iam` (writes a snapshot);
- `stance scan` of the same (collects again, evaluates, stores);
- `prowler aws --services s3 ec2 iam` (from its own venv, installed here on
  first use with pip; Prowler runs its checks too, which is its only mode).

Two passes: first every tool straight to moto (no added latency), then every
tool through tests/aws/latency_proxy.py, a loopback proxy that adds
`--latency-ms` to every request (as real AWS API calls take tens of
milliseconds) with unlimited concurrency, and counts the requests it
forwards per operation. Moto answers from one Python process, so the first
pass mostly measures how many calls a tool makes; the second how well it
overlaps them. `--baseline` runs a second Stance binary (e.g. built before a
change) in both passes too and says whether both collected the same assets.

Each tool runs as a child process; wall time is measured around it and peak
memory is the child's maximum resident set size (getrusage). Prints Markdown
tables for BENCHMARKS.md: the runs, and the calls per operation of each
tool's collection. Nothing here is asserted.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from latency_proxy import LatencyProxy  # noqa: E402

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


GNU_TIME = Path("/usr/bin/time")


def run_child_rss(cmd, env):
    """Run cmd; return (wall seconds, this child's own peak RSS in MiB, exit code).

    Linux keeps a process's peak RSS across exec, so a child forked from this
    (by then large) Python process would report at least this process's size:
    GNU time, a small process, forks the child and reports its peak (%M).
    Without GNU time, wait4's figure is taken as it is.
    """
    with tempfile.NamedTemporaryFile(prefix="rss-") as rss_file:
        wrapped = ([str(GNU_TIME), "-f", "%M", "-o", rss_file.name, *cmd] if GNU_TIME.exists() else list(cmd))
        start = time.monotonic()
        proc = subprocess.Popen(wrapped, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        stderr = proc.stderr.read()
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.monotonic() - start
        code = os.waitstatus_to_exitcode(status)
        peak_kib = usage.ru_maxrss
        if GNU_TIME.exists():
            lines = Path(rss_file.name).read_text().split()
            peak_kib = int(lines[-1]) if lines and lines[-1].isdigit() else peak_kib
    if code not in (0, 1, 2, 3):
        log(f"{Path(cmd[0]).name} exited {code}: {stderr.decode(errors='replace')[-2000:]}")
    return seconds, peak_kib / 1024, code


def snapshot_key(snap):
    """The snapshot's assets and errors without the times of the run, to compare two collections."""
    def strip(x):
        return {k: v for k, v in x.items() if k != "collected_at"}
    return (sorted(json.dumps(strip(a), sort_keys=True) for a in snap["assets"]),
            sorted(json.dumps(e, sort_keys=True) for e in snap.get("errors", [])))


def run_stance(name, stance, env, tmp, tag):
    """Collect, then scan, with one Stance binary: two rows and the snapshot."""
    version = subprocess.run([stance, "--version"], capture_output=True, text=True).stdout.split()[-1]
    label = f"Stance {version}" + (f" ({name})" if name else "")
    log(f"{label}: collect ({tag})")
    out = f"{tmp}/stance-{tag}.json"
    cmd = [stance, "collect", "--provider", "aws", "--services", "s3,ec2,iam", "--region", "us-east-1", "-q", "-o", out]
    secs, rss, _ = run_child_rss(cmd, env)
    snap = json.load(open(out))
    rows = [Row(label, " ".join(cmd[1:-2]), secs, rss, f"{len(snap['assets'])} assets")]
    take_counts = counts_of(env)
    rows[0].counts = take_counts()
    # Prowler always evaluates its checks too: the fair comparison is a full scan.
    log(f"{label}: scan ({tag})")
    cmd = [stance, "scan", "--provider", "aws", "--services", "s3,ec2,iam",
           "--region", "us-east-1", "-q", "--format", "json", "--output", f"{tmp}/scan-{tag}.json"]
    secs, rss, _ = run_child_rss(cmd, {**env, "STANCE_DB_PATH": f"{tmp}/stance-{tag}.db"})
    results = json.load(open(f"{tmp}/scan-{tag}.json"))["scan"]["totals"]["findings"]
    rows.append(Row(label, " ".join(cmd[1:-4]), secs, rss, f"{results} check results, stored in SQLite"))
    rows[1].counts = take_counts()
    for row in rows:
        row.assets = len(snap["assets"])
    return rows, snap


def run_prowler(prowler, env, tmp, tag):
    log(f"prowler ({tag}; this takes minutes)")
    cmd = [str(prowler), "aws", "--services", "s3", "ec2", "iam", "--region", "us-east-1",
           "--output-formats", "json-ocsf", "--output-directory", f"{tmp}/prowler-{tag}", "--no-banner"]
    secs, rss, _ = run_child_rss(cmd, env)
    out = 0
    for f in Path(f"{tmp}/prowler-{tag}").glob("*.ocsf.json"):
        out += len(json.load(open(f)))
    row = Row(f"Prowler {PROWLER_VERSION}", " ".join(cmd[1:-3]), secs, rss, f"{out} check results")
    row.counts = counts_of(env)()
    return row


class Row:
    def __init__(self, tool, command, secs, rss, output):
        self.tool, self.command, self.secs, self.rss, self.output = tool, command, secs, rss, output
        self.counts = None  # requests per operation, when they went through the proxy
        self.assets = None  # the account's assets, as this pass's Stance snapshot counts them
        self.latency = "none"


PROXIES = {}


def counts_of(env):
    """A function returning the proxy's counts since its last call (None without a proxy)."""
    proxy = PROXIES.get(env["AWS_ENDPOINT_URL"])
    return proxy.take_counts if proxy else (lambda: None)


def one_pass(args, prowler, endpoint, tmp, tag):
    """Every tool once against `endpoint`: the rows, and whether the baseline collected the same."""
    env = dict(os.environ)
    env.update({
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
    })
    same = None
    if args.baseline:
        rows, before_snap = run_stance(args.baseline_label, args.baseline, env, tmp, f"{tag}-before")
    rows_new, snap = run_stance(args.label if args.baseline else "", args.stance, env, tmp, f"{tag}-new")
    if args.baseline:
        rows += rows_new
        same = (tag, snapshot_key(before_snap) == snapshot_key(snap))
    else:
        rows = rows_new
    if prowler:
        row = run_prowler(prowler, env, tmp, tag)
        row.assets = len(snap["assets"])
        rows.append(row)
    return rows, same


def print_tables(args, seeded, rows, same):
    print(f"Emulated account: moto {seeded.get('moto_version')} on 127.0.0.1 with {args.buckets} extra buckets "
          f"and {args.security_groups} extra security groups (plus seed.py's small account), services s3, ec2, iam, "
          f"region us-east-1. API calls are the requests the latency proxy forwarded (tests/aws/latency_proxy.py); "
          f"calls per asset divide them by the assets of Stance's snapshot.\n")
    print("| tool | command | added latency per call | wall time (s) | peak RSS (MiB) | API calls | calls per asset | output |")
    print("|---|---|---:|---:|---:|---:|---:|---|")
    for r in rows:
        calls = sum(r.counts.values()) if r.counts is not None else None
        per = f"{calls / r.assets:.2f}" if calls is not None and r.assets else "–"
        print(f"| {r.tool} | `{r.command}` | {r.latency} | {r.secs:.1f} | {r.rss:.0f} | "
              f"{calls if calls is not None else '–'} | {per} | {r.output} |")
    if same is not None:
        print("\nBoth Stance binaries collected the same assets and errors (ignoring collected_at): "
              + ", ".join(f"{tag}: {'yes' if ok else 'NO'}" for tag, ok in same) + ".")
    counted = [r for r in rows if r.counts and (r.command.startswith("collect") or r.tool.startswith("Prowler"))]
    if counted:
        ops = sorted({op for r in counted for op in r.counts},
                     key=lambda op: -max(r.counts.get(op, 0) for r in counted))
        print("\nAPI calls per operation (latency pass; Stance's `collect` runs):\n")
        print("| operation | " + " | ".join(r.tool for r in counted) + " |")
        print("|---|" + "---:|" * len(counted))
        for op in ops[:args.top_operations]:
            print(f"| {op} | " + " | ".join(str(r.counts.get(op, 0)) for r in counted) + " |")
        rest = ops[args.top_operations:]
        if rest:
            print(f"| {len(rest)} other operations | " + " | ".join(
                str(sum(r.counts.get(op, 0) for op in rest)) for r in counted) + " |")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--stance", required=True, help="the stance binary (release build)")
    parser.add_argument("--baseline", help="another stance binary (e.g. before a change), run and compared too")
    parser.add_argument("--label", default="after", help="the label of --stance's rows when --baseline is given")
    parser.add_argument("--baseline-label", default="before", help="the label of --baseline's rows")
    parser.add_argument("--buckets", type=int, default=2000)
    parser.add_argument("--security-groups", type=int, default=2000)
    parser.add_argument("--latency-ms", type=float, default=50.0,
                        help="added latency per API call of the second pass (through the proxy); 0 skips that pass")
    parser.add_argument("--top-operations", type=int, default=20)
    parser.add_argument("--skip-prowler", action="store_true")
    args = parser.parse_args()

    moto_sh = ROOT / "tests" / "aws" / "moto.sh"
    subprocess.run([str(moto_sh), "install"], check=True)
    prowler = None if args.skip_prowler else ensure_prowler()
    port = subprocess.run([str(moto_sh), "start"], check=True, capture_output=True, text=True).stdout.strip()
    endpoint = f"http://127.0.0.1:{port}"
    proxy = None
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
        rows, same = [], []
        with tempfile.TemporaryDirectory() as tmp:
            # Without latency: every tool straight to moto (no proxy in the way, so nothing counted here).
            pass_rows, pass_same = one_pass(args, prowler, endpoint, tmp, "direct")
            rows += pass_rows
            same.append(pass_same)
            if args.latency_ms > 0:
                proxy = LatencyProxy(endpoint, args.latency_ms)
                PROXIES[proxy.url] = proxy
                log(f"latency proxy on {proxy.url}: {args.latency_ms:g} ms per call in front of moto")
                pass_rows, pass_same = one_pass(args, prowler, proxy.url, tmp, "latency")
                for r in pass_rows:
                    r.latency = f"{args.latency_ms:g} ms"
                rows += pass_rows
                same.append(pass_same)
        print_tables(args, seeded, rows, same if args.baseline else None)
    finally:
        if proxy:
            proxy.stop()
        subprocess.run([str(moto_sh), "stop", port], check=False)


if __name__ == "__main__":
    main()
