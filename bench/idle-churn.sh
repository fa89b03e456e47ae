#!/usr/bin/env bash
# Churns idle connections through an AppView with empty caches and prints its RSS at rest after
# each round: whether closed connections leave memory behind (a leak grows round after round; an
# allocator that keeps freed pages wanders), and what the held connections cost while open (RSS
# and the allocator's live bytes from /metrics, 20 s into each round).
# Usage: bench/idle-churn.sh [ROUNDS=6] [PER_ROUND=8000]
# Needs release binaries (cargo build --release -p plyr-appview -p plyr-gen) and PostgreSQL at
# $PLYR_ADMIN_URL (default postgres://postgres@127.0.0.1:5432/postgres).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-6} count=${2:-8000}
admin="${PLYR_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
db=plyr_bench_churn url="${admin%/*}/plyr_bench_churn"
bin="${CARGO_TARGET_DIR:-$PWD/target}/release"
ulimit -n "$(ulimit -Hn)"
psql "$admin" -q -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db"
DATABASE_URL="$url" "$bin/appview" migrate >/dev/null
# A 1 s header-read timeout: every idle connection is closed and reopened about once a second.
PLYR_RATE_LIMIT_PER_SEC=0 DATABASE_URL="$url" RUST_LOG=warn "$bin/appview" serve \
  --listen 127.0.0.1:18091 --header-read-timeout-secs 1 >/dev/null 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; psql "$admin" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)"' EXIT
sleep 2
rss() { awk '/VmRSS/ { print $2 }' "/proc/$pid/status"; }
allocated() {
  curl -fsS http://127.0.0.1:18091/metrics | awk '/^process_allocator_bytes\{kind="allocated"\}/ { printf "%d", $2 / 1024 }'
}
echo "start rss_kib=$(rss) allocated_kib=$(allocated)"
for round in $(seq 1 "$rounds"); do
  (sleep 30) | "$bin/plyr-bench" hold-idle --target 127.0.0.1:18091 --count "$count" > "/tmp/churn.$$" &
  holder=$!
  sleep 20
  held="held_rss_kib=$(rss) held_allocated_kib=$(allocated)"
  wait $holder
  sleep 5
  echo "round=$round $(tail -1 "/tmp/churn.$$") $held rest_rss_kib=$(rss) rest_allocated_kib=$(allocated)"
done
rm -f "/tmp/churn.$$"
