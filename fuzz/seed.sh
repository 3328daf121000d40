#!/usr/bin/env bash
# Seed every fuzz target's corpus (fuzz/corpus/TARGET) from the test
# fixtures, at run time. SigmaHQ rules are read in place from
# ../shared/data/sigmahq (data that is not ours: never copied into the
# repository; corpus/ is ignored by git). Idempotent: seeds are named by
# content, and what the fuzzer added to a corpus stays.
#
# A new target gets its seeds here: add a `seed_TARGET` function and call it
# below (see README.md).
set -euo pipefail

fuzz=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$fuzz")
sigmahq=${SIGMAHQ_RULES:-$root/../shared/data/sigmahq/rules}
corpus=$fuzz/corpus

# seed TARGET FILE...: copy each file into the target's corpus, named by its hash.
seed() {
    local target=$1
    shift
    mkdir -p "$corpus/$target"
    local f
    for f in "$@"; do
        [ -f "$f" ] || continue
        cp "$f" "$corpus/$target/seed-$(sha1sum <"$f" | cut -c1-16)"
    done
}

# seed_text TARGET: each line of stdin becomes one seed.
seed_text() {
    local target=$1 line
    mkdir -p "$corpus/$target"
    while IFS= read -r line; do
        [ -n "$line" ] || continue
        printf '%s' "$line" >"$corpus/$target/seed-$(printf '%s' "$line" | sha1sum | cut -c1-16)"
    done
}

policy_files() {
    find "$root/policies/aws" "$root/tests/fixtures" -name '*.yaml' -not -path '*/frameworks/*' 2>/dev/null | sort
}

sigma_files() {
    find "$root/policies/cloudtrail" "$root/tests/fixtures/sigma" -name '*.yml' 2>/dev/null | sort
    if [ -d "$sigmahq" ]; then
        find "$sigmahq" -name '*.yml' | sort
    fi
}

# The `expression:` of every policy, one per line: plain or quoted scalars
# on the key's line, and folded/literal blocks joined with spaces.
expressions() {
    policy_files | xargs -r awk '
        function flush() { if (block != "") print block; block = ""; inblock = 0 }
        FNR == 1 { flush() }
        inblock {
            if ($0 ~ /^[[:space:]]*$/) next
            match($0, /^[[:space:]]*/)
            if (indent < 0) indent = RLENGTH
            if (RLENGTH >= indent) { block = block (block == "" ? "" : " ") substr($0, RLENGTH + 1); next }
            flush()
        }
        /^[[:space:]]*(- )?expression:/ {
            v = $0; sub(/^[^:]*expression:[[:space:]]*/, "", v)
            if (v ~ /^[>|]/) { inblock = 1; indent = -1; block = ""; next }
            if (v ~ /^".*"$/ || v ~ /^'\''.*'\''$/) v = substr(v, 2, length(v) - 2)
            print v
        }
        END { flush() }
    '
}

# The `condition:` of every Sigma rule whose condition is on one line.
conditions() {
    sigma_files | xargs -r grep -h -E '^[[:space:]]+condition:[[:space:]]*[^[:space:]{|>-]' |
        sed -E 's/^[[:space:]]+condition:[[:space:]]*//; s/^'\''(.*)'\''$/\1/; s/^"(.*)"$/\1/' | sort -u
}

# shellcheck disable=SC2046 # file lists are split on purpose (no spaces in fixture paths)
seed policy_file $(policy_files)
expressions | seed_text policy_expression
seed sigma_rule $(sigma_files)
conditions | seed_text sigma_condition

# Pack manifests and lock files: small documents written here (no pack or
# lock is committed as a fixture); the fuzzer grows them.
seed_file() {
    local target=$1 text=$2
    mkdir -p "$corpus/$target"
    printf '%s' "$text" >"$corpus/$target/seed-$(printf '%s' "$text" | sha1sum | cut -c1-16)"
}
seed_file pack_manifest '[pack]
name = "acme"
version = "1.2.0"
description = "x"
authors = ["A <a@example.com>"]
license = "Apache-2.0"
wit = "stance:plugin@0.1.0"
min-stance-version = "0.1.0"

[[plugin]]
name = "check"
path = "plugins/check.wasm"
world = "policy"
digest = "sha256:0000000000000000000000000000000000000000000000000000000000000000"
[plugin.settings]
strict = true

[data]
policies = ["policies/**/*.yaml"]
rules = ["rules/*.yml"]

[dependencies]
base = "^1.0"
'
seed_file pack_lock 'version = 1
requires = ["acme"]
keys = []

[[pack]]
name = "acme"
version = "1.0.0"
digest = "sha256:0000000000000000000000000000000000000000000000000000000000000000"
dependencies = ["base"]

[[pack]]
name = "base"
version = "1.1.0"
digest = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
'
seed_file pack_archive "$(printf '\001')"

# Event logs and snapshots: the test fixtures, gzip included.
# shellcheck disable=SC2046
seed cloudtrail_log $(find "$root/tests/fixtures/cloudtrail" -type f | sort)
# shellcheck disable=SC2046
seed guardduty_findings $(find "$root/tests/fixtures/guardduty" -type f | sort)
# shellcheck disable=SC2046
seed flow_log $(find "$root/tests/fixtures/vpcflow" -type f | sort)
# The demo snapshot is larger than the inputs the fuzzer makes (64 KiB): its
# first assets, as one JSON document and as NDJSON (one asset per line).
demo_head() {
    python3 - "$root/examples/demo-account.json" "$1" <<'PY'
import json, sys
snapshot = json.load(open(sys.argv[1]))
snapshot["assets"] = snapshot["assets"][:8]
if sys.argv[2] == "ndjson":
    print("\n".join(json.dumps(a) for a in snapshot["assets"]))
else:
    print(json.dumps(snapshot, indent=1))
PY
}
seed_file snapshot "$(demo_head json)"
seed_file snapshot "$(demo_head ndjson)"

for dir in "$corpus"/*/; do
    printf '%-20s %6d inputs\n' "$(basename "$dir")" "$(find "$dir" -type f | wc -l)"
done
