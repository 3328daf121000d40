#!/usr/bin/env python3
"""Swap latency of `stance watch`: how long from a change on disk to the new generation being live.

    python3 tests/watch/bench_swap.py --stance target/release/stance [--rounds 20] [--plugins]

Runs `stance watch` on the demo snapshot (scans back to back) and changes its sources while it runs,
reading each swap from the status file:

- a YAML policy file rewritten (`--policies DIR`), `--rounds` times;
- with --plugins: a Rust and a Python plugin project (scaffolded by `stance plugin new`) rebuilt with a
  changed rule (`stance plugin build`), 3 times each, once with the component cache shared between the
  build and the watcher (the build already compiled the component) and once with separate caches (the
  watcher compiles the new component: a cache miss).

Each row gives the median and max of: latency (first change seen -> live, the 250 ms debounce included),
load (verify, compile, describe the new generation) and the pointer swap itself. Needs componentize-py on
PATH for the Python plugin (tests/aws/moto.sh install puts it in ~/.cache/stance-build/venv/bin).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
POLICY = """id: bench-bucket-named
name: bench-bucket-named
severity: low
resource_type: aws_s3_bucket
check:
  expression: asset.name != "{marker}"
  message: "Bucket {{{{asset.name}}}} is named {marker}"
"""


def status(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return {}


def wait(path: Path, cond, what: str, timeout: float = 300) -> dict:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        s = status(path)
        if s and cond(s):
            return s
        time.sleep(0.05)
    sys.exit(f"timed out waiting for {what}: {status(path)}")


def run(stance: str, work: Path, args: list[str], change, rounds: int, env: dict) -> list[dict]:
    st = work / f"status-{time.monotonic_ns()}.json"
    proc = subprocess.Popen([stance, "watch", "--snapshot", str(ROOT / "examples/demo-account.json"),
                             "--no-builtin-policies", "--interval", "0.2", "--status-file", str(st), *args],
                            env=env, stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    swaps = []
    try:
        wait(st, lambda s: s.get("scans", {}).get("last_scan_id"), "the first scan")
        for i in range(rounds):
            before = status(st)["reloads"]["swaps"]
            change(i)
            s = wait(st, lambda s: s["reloads"]["swaps"] > before or s["reloads"]["failures"], "a swap")
            if s["reloads"]["failures"]:
                sys.exit(f"reload refused: {s['reloads']['last_error']}")
            swaps.append(s["reloads"]["last_swap"])
            time.sleep(0.5)
    finally:
        proc.kill()
        proc.wait()
    return swaps


def row(name: str, swaps: list[dict]) -> str:
    def col(key, fmt):
        v = [s[key] for s in swaps]
        return f"{fmt.format(statistics.median(v))} / {fmt.format(max(v))}"
    return (f"| {name} | {len(swaps)} | {col('latency_ms', '{:.0f}')} | {col('load_ms', '{:.1f}')} "
            f"| {col('swap_us', '{:.0f}')} |")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--stance", required=True)
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--plugins", action="store_true", help="also rebuild Rust and Python plugin projects")
    a = ap.parse_args()
    stance = str(Path(a.stance).resolve())
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        env = dict(os.environ, STANCE_DB_PATH=str(work / "stance.db"), STANCE_CACHE_DIR=str(work / "cache"),
                   STANCE_SDK_DIR=str(ROOT / "sdk"))
        pol = work / "policies"
        pol.mkdir()
        (pol / "bench.yaml").write_text(POLICY.format(marker="initial"))
        swaps = run(stance, work, ["--policies", str(pol)],
                    lambda i: (pol / "bench.yaml").write_text(POLICY.format(marker=f"change-{i}")), a.rounds, env)
        rows.append(row("YAML policy file rewritten (built-in engine, 1 policy)", swaps))
        if a.plugins:
            for lang, source, old in [("rust", "src/lib.rs", "keeps no object versions"),
                                      ("python", "app.py", "does not keep object versions")]:
                proj = work / f"bench-{lang}"
                subprocess.run([stance, "plugin", "new", proj.name, "--lang", lang, "--dir", str(proj)],
                               env=env, check=True, stdout=subprocess.DEVNULL)
                subprocess.run([stance, "plugin", "build", str(proj), "-q"], env=env, check=True)
                text = (proj / source).read_text()

                for shared in (True, False):
                    # `plugin build` compiles the component it checks into the component cache: shared
                    # with the watcher, the reload only loads it; with a cache of its own, the watcher
                    # compiles the new component itself.
                    build_env = env if shared else dict(env, STANCE_CACHE_DIR=str(work / "build-cache"))

                    def rebuild(i, proj=proj, source=source, text=text, old=old, build_env=build_env):
                        (proj / source).write_text(text.replace(old, f"{old} ({shared}-{i})"))
                        subprocess.run([stance, "plugin", "build", str(proj), "-q"], env=build_env, check=True)

                    swaps = run(stance, work, ["--plugin", str(proj)], rebuild, 3, env)
                    how = "cache shared with the build" if shared else "compiled by the watcher"
                    rows.append(row(f"{lang} plugin rebuilt by `stance plugin build` ({how})", swaps))
    print("| change | swaps | latency, change to live (ms, median / max) | load: verify + compile + describe "
          "(ms, median / max) | swap (µs, median / max) |")
    print("|---|---:|---:|---:|---:|")
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
