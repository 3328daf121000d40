#!/usr/bin/env python3
"""The pySigma half of the differential test of Stance's Sigma engine.

Converts Sigma rules with pySigma's SQLite backend, runs the SQL over a corpus
of CloudTrail records loaded into an SQLite table, and prints, as JSON on
stdout, the corpus and every rule's matched event ids. The Rust test
plugins/sigma/engine/tests/pysigma_diff.rs runs this script, evaluates the same
rules over the same events with the engine and compares the match sets.

Rules: the SigmaHQ AWS rules, read in place (never copied) from
../shared/data/sigmahq/rules/cloud/aws, and the detection rules of Stance's
CloudTrail pack (policies/cloudtrail/rules, without correlations/).

Corpus: every event of the pack's test cases and, for every rule, records
built from its detection items (all of them, and each alone) so that
community rules meet events that come close to them; plus variants of each
(failed with AccessDenied, made by an assumed role or the root user,
eventName and eventSource upper-cased, requestParameters nulled, eventName
with a suffix).

Table: one row per event, one column per dotted path, as pySigma's SQLite
backend expects (Zircolite's layout): nested objects are flattened to
`a.b.c` columns declared COLLATE NOCASE; an object is also stored whole, as
compact JSON with sorted keys, under its own path (the engine matches an
object as that text); booleans are the text 'true'/'false'; numbers stay
numbers; JSON null is SQL NULL. SQL has no arrays, so an array fans the event
out into one row per element (the cartesian product across arrays, capped),
and an event matches when any of its rows does: the engine's "any element
may match". An empty array leaves its column NULL.

    tests/sigma/pysigma_diff.py [--sigmahq DIR] [--pack DIR]
"""

import argparse
import copy
import itertools
import json
import re
import sqlite3
import sys
from pathlib import Path

import yaml
from sigma.backends.sqlite import sqliteBackend
from sigma.collection import SigmaCollection
from sigma.correlations import SigmaCorrelationRule

ROOT = Path(__file__).resolve().parents[2]
MAX_ROWS = 256  # fan-out cap per event


def rule_files(sigmahq, pack):
    files = sorted(p for p in sigmahq.rglob("*") if p.suffix in (".yml", ".yaml"))
    files += sorted(p for p in (pack / "rules").glob("*") if p.suffix in (".yml", ".yaml"))
    return files


# ---------------------------------------------------------------- corpus

def case_events(pack):
    events = []
    for path in sorted((pack / "tests").glob("*.yaml")):
        for case in yaml.safe_load(path.read_text())["cases"]:
            events.extend(case["events"])
    return events


def as_role(ev):
    ev["userIdentity"] = {
        "type": "AssumedRole", "principalId": "AROAEXAMPLEDIFF0001:s",
        "arn": "arn:aws:sts::111122223333:assumed-role/Diff/s", "accountId": "111122223333",
        "sessionContext": {"sessionIssuer": {"type": "Role", "userName": "Diff",
                                             "arn": "arn:aws:iam::111122223333:role/Diff"}}}


def as_root(ev):
    ev["userIdentity"] = {"type": "Root", "principalId": "111122223333",
                          "arn": "arn:aws:iam::111122223333:root", "accountId": "111122223333"}


def denied(ev):
    ev["errorCode"] = "AccessDenied"
    ev["errorMessage"] = "User is not authorized"


def upper(ev):
    for k in ("eventName", "eventSource"):
        if isinstance(ev.get(k), str):
            ev[k] = ev[k].upper()


def no_params(ev):
    ev["requestParameters"] = None


def suffixed(ev):
    if isinstance(ev.get("eventName"), str):
        ev["eventName"] += "Tail"


VARIANTS = {"denied": denied, "role": as_role, "root": as_root, "upper": upper, "noparams": no_params,
            "suffix": suffixed}


def set_path(obj, path, value):
    parts = path.split(".")
    for p in parts[:-1]:
        if not isinstance(obj.get(p), dict):
            obj[p] = {}
        obj = obj[p]
    obj[parts[-1]] = value


def sample(value, mods):
    """A value that satisfies `value` under the (string) modifiers, or None."""
    if isinstance(value, bool) or isinstance(value, (int, float)):
        return value
    if value is None:
        return None
    if not isinstance(value, str) or any(m in mods for m in ("re", "cidr", "exists", "fieldref", "base64", "base64offset", "lt", "lte", "gt", "gte")):
        return None
    v = value.replace("\\*", "\x00").replace("*", "").replace("?", "x").replace("\x00", "*")
    if "contains" in mods:
        return "pre " + v + " post"
    if "startswith" in mods:
        return v + "-tail"
    if "endswith" in mods:
        return "head-" + v
    return v


def rule_events(doc, serial):
    """Records built from a rule's detection items: one with every item, one per item."""
    det = (doc or {}).get("detection") or {}
    items = []
    for ident, body in det.items():
        if ident == "condition":
            continue
        maps = body if isinstance(body, list) else [body]
        for m in maps:
            if not isinstance(m, dict):
                continue
            one = {}
            for key, val in m.items():
                field, *mods = str(key).split("|")
                vals = val if isinstance(val, list) else [val]
                if "all" in mods and len(vals) > 1 and "contains" in mods:
                    s = " ".join(str(sample(x, mods) or "") for x in vals)
                else:
                    s = sample(vals[0], mods) if vals else None
                if s is not None:
                    one[field] = s
            if one:
                items.append(one)
    base = {"eventVersion": "1.09", "eventTime": "2026-11-21T08:00:00Z", "awsRegion": "eu-west-1",
            "sourceIPAddress": "192.0.2.10", "userAgent": "Boto3/1.34.0", "eventType": "AwsApiCall",
            "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/gen",
                             "userName": "gen", "accountId": "111122223333"},
            "recipientAccountId": "111122223333"}
    out = []
    combos = [items] + [[i] for i in items] if len(items) > 1 else [items]
    for n, combo in enumerate(combos):
        ev = copy.deepcopy(base)
        for one in combo:
            for f, v in one.items():
                set_path(ev, f, v)
        ev["eventID"] = f"gen-{serial}-{n}"
        out.append(ev)
    return out


def build_corpus(pack, docs):
    base = case_events(pack)
    for serial, doc in enumerate(docs):
        base.extend(rule_events(doc, serial))
    events = []
    for ev in base:
        events.append(ev)
        for name, fn in VARIANTS.items():
            v = copy.deepcopy(ev)
            fn(v)
            v["eventID"] = f"{ev['eventID']}~{name}"
            events.append(v)
    seen = set()
    for ev in events:
        assert ev["eventID"] not in seen, ev["eventID"]
        seen.add(ev["eventID"])
    return events


# ---------------------------------------------------------------- table

def scalar(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (dict, list)):
        return json.dumps(v, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return v


def rows_of(v, path=""):
    """Rows (dicts of column -> value) for a JSON value at `path`, arrays fanned out."""
    if isinstance(v, list):
        rows = [r for item in v for r in rows_of(item, path)]
        return rows[:MAX_ROWS] or [{}]
    if isinstance(v, dict):
        per_key = [rows_of(child, f"{path}.{k}" if path else k) for k, child in v.items()]
        rows = []
        for combo in itertools.product(*per_key):
            row = {path: scalar(v)} if path else {}
            for part in combo:
                row.update(part)
            rows.append(row)
            if len(rows) >= MAX_ROWS:
                break
        return rows
    return [{path: scalar(v)}] if v is not None else [{}]


def quote(name):
    return '"' + name.replace('"', '""') + '"'


def load_table(conn, events):
    all_rows = []
    columns = {}
    for ev in events:
        for row in rows_of(ev):
            row["_eid"] = ev["eventID"]
            all_rows.append(row)
            for c in row:
                columns.setdefault(c.lower(), c)
    conn.execute("CREATE TABLE logs (" + ", ".join(f"{quote(c)} COLLATE NOCASE" for c in columns.values()) + ")")
    for row in all_rows:
        cols = list(row)
        conn.execute(f"INSERT INTO logs ({', '.join(quote(c) for c in cols)}) VALUES ({', '.join('?' * len(cols))})",
                     [row[c] for c in cols])
    return len(all_rows), columns


def regexp(pattern, value):
    return value is not None and re.search(pattern, str(value)) is not None


def run_query(conn, columns, sql):
    for _ in range(50):
        try:
            return sorted({r[0] for r in conn.execute(f"SELECT DISTINCT _eid FROM ({sql})")})
        except sqlite3.OperationalError as e:
            m = re.match(r"no such column: (.+)", str(e))
            if not m:
                raise
            name = m.group(1).strip("`\"")
            conn.execute(f"ALTER TABLE logs ADD COLUMN {quote(name)} COLLATE NOCASE")
            columns[name.lower()] = name
    raise RuntimeError("too many missing columns")


# ---------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sigmahq", type=Path, default=ROOT.parent / "shared/data/sigmahq/rules/cloud/aws")
    ap.add_argument("--pack", type=Path, default=ROOT / "policies/cloudtrail")
    args = ap.parse_args()

    files = rule_files(args.sigmahq, args.pack)
    texts = {p: p.read_text() for p in files}
    docs = [d for p in files for d in yaml.safe_load_all(texts[p])]
    events = build_corpus(args.pack, docs)

    conn = sqlite3.connect(":memory:")
    conn.create_function("regexp", 2, regexp, deterministic=True)
    n_rows, columns = load_table(conn, events)

    rules = []
    for path in files:
        rel = str(path)
        try:
            collection = SigmaCollection.from_yaml(texts[path])
        except Exception as e:  # noqa: BLE001 - every failure is reported per file
            rules.append({"file": rel, "id": None, "status": "unconvertible", "reason": f"pySigma cannot parse: {e}"})
            continue
        if collection.errors:
            rules.append({"file": rel, "id": None, "status": "unconvertible",
                          "reason": "; ".join(str(e) for e in collection.errors)})
            continue
        for rule in collection.rules:
            entry = {"file": rel, "id": str(rule.id) if rule.id else None, "title": rule.title}
            if isinstance(rule, SigmaCorrelationRule):
                entry.update(status="skipped", reason="correlation rule (detection rules only are compared)")
                rules.append(entry)
                continue
            try:
                queries = sqliteBackend().convert(SigmaCollection([rule]))
            except Exception as e:  # noqa: BLE001
                entry.update(status="unconvertible", reason=f"{type(e).__name__}: {e}")
                rules.append(entry)
                continue
            matched = set()
            for q in queries:
                matched.update(run_query(conn, columns, q))
            entry.update(status="compared", sql=queries, matches=sorted(matched))
            rules.append(entry)

    json.dump({
        "pysigma": __import__("importlib.metadata").metadata.version("pysigma"),
        "backend": __import__("importlib.metadata").metadata.version("pysigma-backend-sqlite"),
        "table_rows": n_rows,
        "events": [{"id": e["eventID"], "time": e["eventTime"], "body": e} for e in events],
        "rules": rules,
    }, sys.stdout)
    print()


if __name__ == "__main__":
    main()
