#!/usr/bin/env bash
# Database size over many scans of the benchmark snapshot, without and with
# retention (BENCHMARKS.md, "Retention").
#
#   tests/bench/retention.sh                 # 100 scans of 100,000 assets, --keep-scans 30
#   N=10 tests/bench/retention.sh            # a short run first
#
# Variables: N (scans per series, default 100), ASSETS (default 100000, the
# `stance bench` snapshot), KEEP (default 30), EVERY (record the size every
# EVERY scans, default 10), WORK (scratch directory, default a new one under
# /tmp; the snapshot in it is reused), STANCE (the binary; default the
# release build when it knows `prune`, else the ci build, under
# CARGO_TARGET_DIR or ~/.cache/stance-build/target), SERIES (`none prune`).
#
# Each series starts from a fresh database and the same warm component cache.
# The size is the database file plus its write-ahead log after a
# `PRAGMA wal_checkpoint(TRUNCATE)`. The "prune" series runs
# `stance prune --keep-scans KEEP` after every scan. The snapshot is the one
# `stance bench` measures throughput on (synthetic copies of the demo
# account's assets), written by `stance bench --sizes ASSETS`.
set -euo pipefail

N=${N:-100}
ASSETS=${ASSETS:-100000}
KEEP=${KEEP:-30}
EVERY=${EVERY:-10}
SERIES=${SERIES:-"none prune"}
TARGET=${CARGO_TARGET_DIR:-$HOME/.cache/stance-build/target}

knows_prune() { [ -x "$1" ] && "$1" prune --help >/dev/null 2>&1; }
if [ -z "${STANCE:-}" ]; then
    if knows_prune "$TARGET/release/stance"; then
        STANCE=$TARGET/release/stance
    else
        STANCE=$TARGET/ci/stance
    fi
fi
knows_prune "$STANCE" || { echo "retention.sh: $STANCE is missing or has no 'prune' command; build it (cargo build -p stance --profile ci) or set STANCE" >&2; exit 2; }

WORK=${WORK:-$(mktemp -d /tmp/stance-retention.XXXXXX)}
mkdir -p "$WORK"
SNAPSHOT=$WORK/synthetic-$ASSETS.ndjson
export STANCE_CACHE_DIR=$WORK/cache
if [ ! -s "$SNAPSHOT" ]; then
    echo "retention.sh: writing the $ASSETS-asset snapshot with stance bench (one extra scan)" >&2
    "$STANCE" bench --quiet --sizes "$ASSETS" --engine-assets 256 --dir "$WORK" --json >"$WORK/bench.json"
fi

size_of() { # database + WAL after a checkpoint, in bytes
    sqlite3 "$1" 'PRAGMA wal_checkpoint(TRUNCATE);' >/dev/null
    local wal=0
    [ -f "$1-wal" ] && wal=$(stat -c %s "$1-wal")
    echo $(($(stat -c %s "$1") + wal))
}

cpu_of() { # run a command, append "wall user sys" to $TIMES
    /usr/bin/time -f "%e %U %S" -a -o "$TIMES" "$@" >/dev/null
}

for series in $SERIES; do
    db=$WORK/$series.db
    rm -f "$db" "$db-wal" "$db-shm"
    TIMES=$WORK/$series.scan-times; : >"$TIMES"
    PRUNE_TIMES=$WORK/$series.prune-times; : >"$PRUNE_TIMES"
    : >"$WORK/$series.sizes"
    for i in $(seq 1 "$N"); do
        cpu_of "$STANCE" scan --quiet --format csv --db "$db" --snapshot "$SNAPSHOT"
        if [ "$series" = prune ]; then
            /usr/bin/time -f "%e %U %S" -a -o "$PRUNE_TIMES" \
                "$STANCE" prune --quiet --keep-scans "$KEEP" --db "$db" >/dev/null
        fi
        if [ $((i % EVERY)) -eq 0 ] || [ "$i" -eq "$N" ]; then
            echo "$i $(size_of "$db")" >>"$WORK/$series.sizes"
            echo "retention.sh: $series: $i scans, $(tail -1 "$WORK/$series.sizes" | cut -d' ' -f2) bytes" >&2
        fi
    done
done

mib() { awk -v b="$1" 'BEGIN { printf "%.0f", b / 1048576 }'; }
avg() { # mean wall and CPU (user+sys) seconds of a times file
    awk '{ w += $1; c += $2 + $3; n++ } END { if (n) printf "%.1f s wall, %.1f s CPU", w / n, c / n; else printf "-" }' "$1"
}

echo "Command: N=$N ASSETS=$ASSETS KEEP=$KEEP tests/bench/retention.sh ($STANCE), $(date -u +%F), $(nproc) cores"
echo
echo "| scans | without pruning (MiB) | with \`prune --keep-scans $KEEP\` after each scan (MiB) |"
echo "|---:|---:|---:|"
for i in $(cut -d' ' -f1 "$WORK/$(echo "$SERIES" | cut -d' ' -f1).sizes"); do
    row="| $i"
    for series in none prune; do
        bytes=$(awk -v i="$i" '$1 == i { print $2 }' "$WORK/$series.sizes" 2>/dev/null || true)
        row="$row | ${bytes:+$(mib "$bytes")}"
    done
    echo "$row |"
done
echo
for series in $SERIES; do
    echo "- $series: per scan $(avg "$WORK/$series.scan-times")"
    if [ "$series" = prune ]; then
        echo "- prune after each scan: $(avg "$WORK/$series.prune-times")"
    fi
done
echo
echo "(scratch: $WORK)"
