#!/usr/bin/env bash
# Runs every fuzz target (fuzz/fuzz_targets) for a share of a total execution budget and prints,
# per target, the executions, crashes and time. Usage:
#
#   bench/fuzz.sh [TOTAL_EXECS] [SECONDS_CAP_PER_TARGET]    (defaults: 10000000, 7200)
#   FUZZ_SMOKE=30 bench/fuzz.sh                             (CI: 30 s per target, no budget)
#
# Needs cargo-fuzz (`cargo install cargo-fuzz --locked`). The pinned toolchain is stable:
# RUSTC_BOOTSTRAP=1 lets it take cargo-fuzz's nightly-only flags. No sanitizer (`-s none`):
# the code under test forbids `unsafe`, and what we hunt is panics, overflows (debug assertions
# are on), unbounded memory and the storable/presentable invariants the harnesses assert.
# One job per target (the machine is shared). New inputs go to a scratch corpus; crashes to
# fuzz/artifacts/<target>/. A crash fails the script (exit 1) after every target has run.
set -euo pipefail
cd "$(dirname "$0")/.."
export RUSTC_BOOTSTRAP=1
TOTAL=${1:-10000000}
CAP=${2:-7200}
TARGETS=(jetstream_line firehose_frames car record_views)
BUILD=(-s none -a --release)

command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
cargo fuzz build "${BUILD[@]}" >&2

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
failed=0
printf '%-16s %12s %8s %9s\n' target executions crashes seconds
for t in "${TARGETS[@]}"; do
    mkdir -p "$scratch/$t" "fuzz/regressions/$t" "fuzz/artifacts/$t"
    if [[ -n "${FUZZ_SMOKE:-}" ]]; then
        limits=(-max_total_time="$FUZZ_SMOKE")
    else
        limits=(-runs=$((TOTAL / ${#TARGETS[@]})) -max_total_time="$CAP")
    fi
    log="$scratch/$t.log"
    start=$(date +%s)
    status=0
    # The first corpus directory receives new inputs; the committed ones are only read.
    cargo fuzz run "${BUILD[@]}" "$t" "$scratch/$t" "fuzz/corpus/$t" "fuzz/regressions/$t" -- \
        "${limits[@]}" -max_len=65536 -rss_limit_mb=2048 -timeout=20 -print_final_stats=1 \
        -artifact_prefix="fuzz/artifacts/$t/" >"$log" 2>&1 || status=$?
    secs=$(( $(date +%s) - start ))
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
    crashes=0
    if [[ $status -ne 0 ]]; then
        crashes=1
        failed=1
        echo "---- $t failed (exit $status); the end of its log:" >&2
        grep -v '^#[0-9]' "$log" | tail -40 >&2
    fi
    printf '%-16s %12s %8s %9s\n' "$t" "$execs" "$crashes" "$secs"
done
exit $failed
