#!/usr/bin/env bash
# Seed, build and run every fuzz target (fuzz/fuzz_targets/*.rs) for
# SECONDS each (default 10); exit non-zero on the first crash, leak, hang
# (an input running past 10 s) or build failure. Prints, per target, the
# executions and the corpus size. Needs the nightly toolchain and
# cargo-fuzz (`cargo install cargo-fuzz --locked`).
#
#   fuzz/run.sh            # 10 s each: the test suite's build-and-smoke run
#   fuzz/run.sh 600        # 10 minutes each
#   fuzz/run.sh 60 sigma_rule policy_file   # only these targets
#   FUZZ_SANITIZER=address fuzz/run.sh 600  # with AddressSanitizer
#
# Without a sanitizer by default: the targets are safe Rust, where panics,
# stack overflows, timeouts and memory blow-ups are caught either way, and
# AddressSanitizer (which also checks the unsafe code of dependencies, such
# as unsafe-libyaml) runs these targets 3 to 30 times slower.
set -euo pipefail

fuzz=$(cd "$(dirname "$0")" && pwd)
seconds=${1:-10}
shift || true
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/stance-build/fuzz-target}
sanitizer=${FUZZ_SANITIZER:-none}

if [ $# -gt 0 ]; then
    targets=("$@")
else
    targets=()
    for t in "$fuzz"/fuzz_targets/*.rs; do
        targets+=("$(basename "$t" .rs)")
    done
fi

"$fuzz/seed.sh" >/dev/null
cd "$fuzz/.."
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
status=0
for target in "${targets[@]}"; do
    dict=()
    [ -f "$fuzz/dict/$target.dict" ] && dict=("-dict=$fuzz/dict/$target.dict")
    mkdir -p "$fuzz/artifacts/$target"
    log=$logs/$target.log
    if cargo +nightly fuzz run --sanitizer "$sanitizer" --fuzz-dir "$fuzz" "$target" "$fuzz/corpus/$target" -- \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
        -print_final_stats=1 "${dict[@]}" >"$log" 2>&1; then
        runs=$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+)/\1/p' "$log" | tail -1)
        inputs=$(find "$fuzz/corpus/$target" -type f | wc -l)
        printf '%-20s ok: %s executions in %s s (sanitizer %s), corpus %s inputs, 0 crashes\n' \
            "$target" "${runs:-?}" "$seconds" "$sanitizer" "$inputs"
    else
        status=1
        printf '%-20s FAILED (log below; the input is in fuzz/artifacts/%s)\n' "$target" "$target"
        tail -60 "$log"
    fi
done
exit $status
