#!/usr/bin/env bash
# Benchmark: backfill records/s from getRepo CARs of generated repos, end to end into
# PostgreSQL and fetch + verify + decode only.
#
#   bench/backfill.sh [--baseline REV] [REPOS] [SEED]      (defaults: 10000 42)
#
# Environment: RECORDS_PER_REPO (other apps' records per repo on average, default 100),
# BACKFILL_ARGS (more `indexer backfill` flags, e.g. "--backfill-concurrency 32"),
# PLYR_ADMIN_URL (default postgres://postgres@127.0.0.1:5432/postgres).
#
# Builds release binaries, writes one repo CAR per account of a generated plyr network with
# `plyr-gen repos` (signed commit, full MST, its fm.plyr and profile records plus other apps'
# records), serves them with `plyr-bench pds` (a loopback PDS: listRepos, getRepo; and PLC
# directory: DID documents with each repo's key), then:
#   1. `plyr-bench snapshots`: every repo fetched with getRepo, its CAR verified (block hashes,
#      commit signature, MST walk) and its indexed records decoded by the indexer's backfill
#      code, 8 at a time, nothing written: records/s of that part alone;
#   2. `indexer backfill --pds URL --plc-url URL --backfill-mode car` into a fresh database:
#      discovery, identity lookups, fetch, verify, decode, validation and the write path,
#      records/s end to end (wall clock of the command, indexed records / seconds).
# Prints both, the rows indexed and the load average at start and end; drops the database.
# `--baseline REV` also builds the indexer of git revision REV (in a worktree under target/) and
# runs step 2 with it first, on the same PDS, and prints the ratio of the end-to-end figures.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
bench_help "$0" "${1:-}"
baseline=""
if [ "${1:-}" = "--baseline" ]; then baseline="$2"; shift 2; fi
repos="${1:-10000}"
seed="${2:-42}"
admin="${PLYR_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
base="${admin%/*}"
db="plyr_bench_backfill_$$"
work="$(mktemp -d)"
pds_pid=""
BENCH_BASELINE_WORKTREE=""
cleanup() {
  if [ -n "$pds_pid" ]; then kill "$pds_pid" 2>/dev/null || true; wait "$pds_pid" 2>/dev/null || true; fi
  psql "$admin" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  if [ -n "$BENCH_BASELINE_WORKTREE" ]; then git worktree remove --force "$BENCH_BASELINE_WORKTREE" >/dev/null 2>&1 || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

bench_machine
cargo build --release --locked -q -p plyr-indexer -p plyr-gen
if [ -n "$baseline" ]; then bench_baseline "$PWD" "$baseline" plyr-indexer indexer; fi
target/release/plyr-gen repos --repos "$repos" --seed "$seed" --records-per-repo "${RECORDS_PER_REPO:-100}" \
  --out "$work/repos" 2> "$work/gen.txt"
echo "dataset (seed $seed): $(head -1 "$work/gen.txt")"

target/release/plyr-bench pds --dir "$work/repos" > "$work/pds.txt" 2>&1 &
pds_pid=$!
for _ in $(seq 1 600); do grep -q '^url=' "$work/pds.txt" && break; sleep 0.1; done
url=$(sed -n 's/^url=\([^ ]*\).*/\1/p' "$work/pds.txt")
[ -n "$url" ] || { echo "the PDS did not start:"; cat "$work/pds.txt"; exit 1; }

fetched=$(target/release/plyr-bench snapshots --pds "$url" --keys "$work/repos/keys.json")
echo "fetch + verify + decode only (8 repos at a time): $fetched"

# One end-to-end backfill of every repo into a fresh database with indexer binary $1; prints
# "records/s" and leaves the database for the row counts.
backfill() {
  psql "$admin" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1
  psql "$admin" -qc "CREATE DATABASE $db"
  "$1" --database-url "$base/$db" migrate >/dev/null 2>&1
  local start end
  start=$(date +%s.%N)
  RUST_LOG=info "$1" --database-url "$base/$db" backfill --pds "$url" --plc-url "$url" \
    --resolve-identities false --backfill-mode car ${BACKFILL_ARGS:-} > "$work/backfill.log" 2>&1 || { cat "$work/backfill.log" >&2; exit 1; }
  end=$(date +%s.%N)
  finished=$(sed 's/\x1b\[[0-9;]*m//g' "$work/backfill.log" | grep 'backfill finished' | tail -1 || true)
  echo "indexer backfill ($1): $(grep -o 'done=[0-9]* failed=[0-9]*' <<< "$finished" || echo "no summary line")" >&2
  rows=$(psql "$base/$db" -Atc "SELECT (SELECT count(*) FROM tracks) + (SELECT count(*) FROM likes) + (SELECT count(*) FROM comments) + (SELECT count(*) FROM lists) + (SELECT count(*) FROM plyr_profiles) + (SELECT count(*) FROM bsky_profiles)")
  awk -v n="$rows" -v s="$start" -v e="$end" 'BEGIN { printf "%.0f %d %.2f\n", n / (e - s), n, e - s }'
}
if [ -n "$baseline" ]; then
  read -r prev prev_rows prev_secs < <(backfill "$BENCH_BASELINE_BIN")
  echo "baseline $BENCH_BASELINE_REV end to end: $prev_rows records in $prev_secs s = $prev records/s"
fi
read -r rate rows secs < <(backfill target/release/indexer)
detail=$(psql "$base/$db" -Atc "SELECT (SELECT count(*) FROM tracks) || ' tracks, ' || (SELECT count(*) FROM likes) || ' likes, ' || (SELECT count(*) FROM comments) || ' comments, ' || (SELECT count(*) FROM lists) || ' lists, ' || (SELECT count(*) FROM plyr_profiles) || ' + ' || (SELECT count(*) FROM bsky_profiles) || ' profiles'")
printf "backfill end to end: %d records in %s s = %s records/s (%s); fetch + verify + decode only: %s records/s\n" \
  "$rows" "$secs" "$rate" "$detail" "$(sed -n 's/.*records_per_s=\([0-9]*\).*/\1/p' <<< "$fetched")"
if [ -n "$baseline" ]; then
  awk -v c="$rate" -v p="$prev" -v r="$BENCH_BASELINE_REV" 'BEGIN { printf "ratio against %s: %.2fx\n", r, c / p }'
fi
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
