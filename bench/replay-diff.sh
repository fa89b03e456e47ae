#!/usr/bin/env bash
# Whether a change to the indexer changes what it writes: replays one generated Jetstream stream
# with this tree's indexer and with the indexer of git revision REV, each into a fresh database,
# and compares every table row for row (each dumped with COPY, sorted). Exits 0 when identical,
# 1 with the differing tables' diffs otherwise. The cursors table is left out (it records where
# each partition stopped, which depends on the partition count, not on what was indexed).
#
#   bench/replay-diff.sh --baseline REV [--events 200000] [--seed 42]
#
# Needs PostgreSQL at $PLYR_ADMIN_URL (default postgres://postgres@127.0.0.1:5432/postgres);
# builds release binaries (the baseline in a worktree under target/).
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
. bench/lib.sh

baseline="" events=200000 seed=42
while [ $# -gt 0 ]; do
  case "$1" in
    --baseline) baseline="$2"; shift ;;
    --events) events="$2"; shift ;;
    --seed) seed="$2"; shift ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
[ -n "$baseline" ] || { echo "--baseline REV is required (see --help)" >&2; exit 2; }

admin="${PLYR_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
base="${admin%/*}"
ours="plyr_replay_diff_ours_$$" theirs="plyr_replay_diff_base_$$"
work="$(mktemp -d)"
worktree=""
cleanup() {
  for db in "$ours" "$theirs"; do psql "$admin" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true; done
  if [ -n "$worktree" ]; then git worktree remove --force "$worktree" >/dev/null 2>&1 || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

bench_indexer_setup "$root" "$baseline" "$events" "$seed" "$work/stream.jsonl"
current="$BENCH_CURRENT" previous="$BENCH_PREVIOUS" worktree="$BENCH_BASELINE_WORKTREE" rev="$BENCH_BASELINE_REV"

replay() {
  local bin="$1" db="$2"
  psql "$admin" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1
  psql "$admin" -qc "CREATE DATABASE $db"
  "$bin" --database-url "$base/$db" migrate >/dev/null 2>&1
  "$bin" --database-url "$base/$db" replay "$work/stream.jsonl" >/dev/null 2>&1
}
replay "$previous" "$theirs"
replay "$current" "$ours"

tables="$(psql "$base/$ours" -Atc "SELECT tablename FROM pg_tables WHERE schemaname = 'public'
  AND tablename NOT IN ('_sqlx_migrations', 'cursors') ORDER BY 1")"
status=0
for t in $tables; do
  psql "$base/$theirs" -Atc "COPY $t TO STDOUT" | LC_ALL=C sort > "$work/$t.base"
  psql "$base/$ours" -Atc "COPY $t TO STDOUT" | LC_ALL=C sort > "$work/$t.ours"
  if cmp -s "$work/$t.base" "$work/$t.ours"; then
    printf '%-16s %9d rows, identical\n' "$t" "$(wc -l < "$work/$t.ours")"
  else
    printf '%-16s differs (%d rows at %s, %d here):\n' "$t" "$(wc -l < "$work/$t.base")" "$rev" "$(wc -l < "$work/$t.ours")"
    diff "$work/$t.base" "$work/$t.ours" | head -20
    status=1
  fi
done
exit $status
