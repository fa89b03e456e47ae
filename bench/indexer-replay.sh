#!/usr/bin/env bash
# Benchmark: `indexer replay` throughput (events/s) and peak RSS on a generated fm.plyr stream.
#
#   bench/indexer-replay.sh [EVENTS] [SEED]      (defaults: 200000 42)
#
# Builds release binaries, generates the stream with plyr-gen, replays it into a fresh database
# on $PLYR_ADMIN_URL's server (default postgres://postgres@127.0.0.1:5432/postgres), prints the
# figures, and drops the database again.
set -euo pipefail
cd "$(dirname "$0")/.."
events="${1:-200000}"
seed="${2:-42}"
admin="${PLYR_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
base="${admin%/*}"
db="plyr_bench_replay_$$"
work="$(mktemp -d)"
cleanup() { psql "$admin" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT

cargo build --release --locked -q -p plyr-indexer -p plyr-gen
target/release/plyr-gen jetstream --events "$events" --seed "$seed" --out "$work/stream.jsonl" 2>/dev/null
psql "$admin" -qc "CREATE DATABASE $db"
target/release/indexer --database-url "$base/$db" migrate >/dev/null 2>&1
start=$(date +%s.%N)
/usr/bin/time -f "%M" -o "$work/rss" \
  target/release/indexer --database-url "$base/$db" replay "$work/stream.jsonl" >/dev/null 2>&1
end=$(date +%s.%N)
rows=$(psql "$base/$db" -Atc "SELECT (SELECT count(*) FROM tracks) || ' tracks, ' || (SELECT count(*) FROM likes) || ' likes, ' || (SELECT count(*) FROM comments) || ' comments, ' || (SELECT count(*) FROM lists) || ' lists'")
awk -v n="$events" -v s="$start" -v e="$end" -v rss="$(cat "$work/rss")" -v rows="$rows" 'BEGIN {
  t = e - s
  printf "indexer replay: %d events in %.2f s = %.0f events/s; peak RSS %.1f MiB; indexed %s\n", n, t, n / t, rss / 1024, rows
}'
