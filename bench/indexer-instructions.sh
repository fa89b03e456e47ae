#!/usr/bin/env bash
# Benchmark: instructions executed by `indexer replay` and by the PostgreSQL server it writes to,
# counted by valgrind (cachegrind, no cache simulation), for comparing changes on a machine whose
# speed moves from hour to hour. Counts repeat to within about 0.3 % on a quiet machine; under
# load, batches are cut sooner by their deadline and both binaries' counts rise alike by a few
# per cent, so compare the pair of one run. Wall-clock times here move by up to 1.6x within an
# hour (docs/BENCHMARKS.md).
#
#   bench/indexer-instructions.sh [--events N] [--seed S] [--baseline REV] [-- REPLAY-ARGS...]
#
# Builds release binaries, generates the stream with plyr-gen (default 60,000 events, seed 42),
# then for our indexer (and, with `--baseline REV`, REV's indexer, built in a worktree):
#   1. the indexer under cachegrind replays the stream into a fresh database on
#      $PLYR_ADMIN_URL's server (default postgres://postgres@127.0.0.1:5432/postgres);
#   2. a private PostgreSQL 15 cluster (initdb in a temporary directory, port 54329, no TLS,
#      autovacuum off) is migrated, restarted under cachegrind with every backend traced, and
#      the indexer (not traced) replays the stream into it; the count is the sum over all of the
#      server's processes from its start to its shutdown.
# Prints both counts per indexer and, with a baseline, their ratios. Arguments after `--` go to
# `indexer replay` (e.g. `-- --batch-size 8000`). Needs valgrind and PostgreSQL 15's server
# binaries (/usr/lib/postgresql/15/bin); runs as root by starting the cluster as `postgres`.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
. bench/lib.sh
events=60000 seed=42 baseline="" extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --events) events="$2"; shift ;;
    --seed) seed="$2"; shift ;;
    --baseline) baseline="$2"; shift ;;
    --) shift; extra=("$@"); break ;;
    -h|--help) bench_help "$0" "$1" ;;
    *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
command -v valgrind >/dev/null || { echo "valgrind is needed" >&2; exit 2; }
pgbin=/usr/lib/postgresql/15/bin
[ -x "$pgbin/postgres" ] || { echo "PostgreSQL 15 server binaries not found in $pgbin" >&2; exit 2; }
admin="${PLYR_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
base="${admin%/*}"
db="plyr_bench_instructions_$$"
port=54329
work="$(mktemp -d)"
cluster="$work/cluster" # the private server's data, socket and logs: its own user must own it
mkdir -p "$cluster"
chmod 755 "$work"
if [ "$(id -u)" = 0 ]; then chown postgres "$cluster"; fi
worktree=""
as_postgres() { if [ "$(id -u)" = 0 ]; then su postgres -c "$*"; else sh -c "$*"; fi; }
stop_cluster() { as_postgres "$pgbin/pg_ctl -D $cluster/data -w -t 300 stop -m fast" >/dev/null 2>&1 || true; }
cleanup() {
  stop_cluster
  psql "$admin" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  if [ -n "$worktree" ]; then git worktree remove --force "$worktree" >/dev/null 2>&1 || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

bench_indexer_setup "$root" "$baseline" "$events" "$seed" "$work/stream.jsonl"
current="$BENCH_CURRENT" previous="$BENCH_PREVIOUS" worktree="$BENCH_BASELINE_WORKTREE" rev="$BENCH_BASELINE_REV"

# The indexer's own instructions for one replay into a fresh database on the admin server.
indexer_ir() {
  local bin="$1"
  psql "$admin" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1
  psql "$admin" -qc "CREATE DATABASE $db"
  "$bin" --database-url "$base/$db" migrate >/dev/null 2>&1
  valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null --log-file="$work/indexer.vg" \
    "$bin" --database-url "$base/$db" replay "$work/stream.jsonl" "${extra[@]}" >/dev/null 2>&1
  awk '/I *refs:/ { gsub(",", "", $NF); print $NF }' "$work/indexer.vg"
}

# PostgreSQL's instructions (all of its processes) for one replay into a fresh private cluster.
server_ir() {
  local bin="$1"
  stop_cluster
  as_postgres "rm -rf $cluster/data $cluster/vg.*"
  as_postgres "$pgbin/initdb -D $cluster/data -A trust --locale=C.UTF-8" >/dev/null
  printf "port=%s\nlisten_addresses='127.0.0.1'\nunix_socket_directories='%s'\nautovacuum=off\nssl=off\n" \
    "$port" "$cluster" > "$work/settings.conf"
  chmod 644 "$work/settings.conf"
  as_postgres "cat $work/settings.conf >> $cluster/data/postgresql.conf"
  as_postgres "$pgbin/pg_ctl -D $cluster/data -l $cluster/log -w -t 120 start" >/dev/null
  psql -h 127.0.0.1 -p "$port" -U postgres -qc "CREATE DATABASE replay"
  "$bin" --database-url "postgres://postgres@127.0.0.1:$port/replay" migrate >/dev/null 2>&1
  stop_cluster
  as_postgres "valgrind --tool=cachegrind --cache-sim=no --trace-children=yes --log-file=$cluster/vg.%p \
    --cachegrind-out-file=/dev/null $pgbin/postgres -D $cluster/data >> $cluster/log 2>&1 &"
  for _ in $(seq 1 120); do pg_isready -h 127.0.0.1 -p "$port" -q && break; sleep 1; done
  "$bin" --database-url "postgres://postgres@127.0.0.1:$port/replay" replay "$work/stream.jsonl" "${extra[@]}" \
    >/dev/null 2>&1
  stop_cluster
  sleep 1
  cat "$cluster"/vg.* | awk '/I *refs:/ { gsub(",", "", $NF); s += $NF } END { printf "%.0f\n", s }'
}

echo "counting our indexer..." >&2
ours_indexer=$(indexer_ir "$current")
ours_server=$(server_ir "$current")
printf 'indexer replay of %s events (seed %s): indexer %s instructions, PostgreSQL %s, total %s\n' \
  "$events" "$seed" "$ours_indexer" "$ours_server" "$((ours_indexer + ours_server))"
if [ -n "$previous" ]; then
  echo "counting the baseline $rev..." >&2
  theirs_indexer=$(indexer_ir "$previous")
  theirs_server=$(server_ir "$previous")
  printf 'baseline %s: indexer %s instructions, PostgreSQL %s, total %s\n' \
    "$rev" "$theirs_indexer" "$theirs_server" "$((theirs_indexer + theirs_server))"
  awk -v a="$ours_indexer" -v b="$theirs_indexer" -v c="$ours_server" -v d="$theirs_server" \
    'BEGIN { printf "ours / baseline: indexer %.3f, PostgreSQL %.3f, total %.3f\n", a / b, c / d, (a + c) / (b + d) }'
fi
