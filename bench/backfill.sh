#!/usr/bin/env bash
# Benchmark: backfill records/s from getRepo CARs of generated repos, end to end into
# PostgreSQL and fetch + verify + decode only.
#
#   bench/backfill.sh [REPOS] [SEED]      (defaults: 10000 42)
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
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
bench_help "$0" "${1:-}"
repos="${1:-10000}"
seed="${2:-42}"
admin="${PLYR_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
base="${admin%/*}"
db="plyr_bench_backfill_$$"
work="$(mktemp -d)"
pds_pid=""
cleanup() {
  if [ -n "$pds_pid" ]; then kill "$pds_pid" 2>/dev/null || true; wait "$pds_pid" 2>/dev/null || true; fi
  psql "$admin" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

bench_machine
cargo build --release --locked -q -p plyr-indexer -p plyr-gen
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

psql "$admin" -qc "CREATE DATABASE $db"
target/release/indexer --database-url "$base/$db" migrate >/dev/null 2>&1
start=$(date +%s.%N)
RUST_LOG=info target/release/indexer --database-url "$base/$db" backfill --pds "$url" --plc-url "$url" \
  --resolve-identities false --backfill-mode car ${BACKFILL_ARGS:-} > "$work/backfill.log" 2>&1 || { cat "$work/backfill.log"; exit 1; }
end=$(date +%s.%N)
finished=$(sed 's/\x1b\[[0-9;]*m//g' "$work/backfill.log" | grep 'backfill finished' | tail -1 || true)
echo "indexer backfill: $(grep -o 'done=[0-9]* failed=[0-9]*' <<< "$finished" || echo "no summary line")"
rows=$(psql "$base/$db" -Atc "SELECT (SELECT count(*) FROM tracks) + (SELECT count(*) FROM likes) + (SELECT count(*) FROM comments) + (SELECT count(*) FROM lists) + (SELECT count(*) FROM plyr_profiles) + (SELECT count(*) FROM bsky_profiles)")
detail=$(psql "$base/$db" -Atc "SELECT (SELECT count(*) FROM tracks) || ' tracks, ' || (SELECT count(*) FROM likes) || ' likes, ' || (SELECT count(*) FROM comments) || ' comments, ' || (SELECT count(*) FROM lists) || ' lists, ' || (SELECT count(*) FROM plyr_profiles) || ' + ' || (SELECT count(*) FROM bsky_profiles) || ' profiles'")
awk -v n="$rows" -v s="$start" -v e="$end" -v d="$detail" -v f="$(sed -n 's/.*records_per_s=\([0-9]*\).*/\1/p' <<< "$fetched")" 'BEGIN {
  t = e - s
  printf "backfill end to end: %d records in %.2f s = %.0f records/s (%s); fetch + verify + decode only: %d records/s\n", n, t, n / t, d, f
}'
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
