#!/usr/bin/env bash
# Benchmark: `indexer replay` throughput (events/s) and peak RSS on a generated fm.plyr stream.
#
#   bench/indexer-replay.sh [--events N] [--seed S] [--runs R] [--partitions P]
#                           [--baseline REV] [--live-windows] [--smoke]
#
# Builds release binaries, generates the stream with plyr-gen (default 200,000 events, seed 42),
# replays it R times (default 3) into a fresh database each time on $PLYR_ADMIN_URL's server
# (default postgres://postgres@127.0.0.1:5432/postgres), and prints events/s and the replay
# process's peak RSS per run and their median. `--partitions P` passes `--write-partitions P`.
# `--baseline REV` also builds the indexer of git revision REV in a worktree under target/ and
# replays the same stream with it, run for run interleaved with ours (so both see the same
# machine), and prints the ratio of the medians. `--live-windows`: our replays write the ranking
# windows' counters as `indexer run` does once its ranker has counted them (a fresh database has
# no window edges, so a plain replay skips them), with every edge at 1970 so every like and play
# counts in every window: the write path's worst case. `--smoke`: 2,000 events, one run, for CI-style
# checks that the script still works. Databases are dropped at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
. bench/lib.sh
events=200000 seed=42 runs=3 partitions="" baseline="" live_windows=0
while [ $# -gt 0 ]; do
  case "$1" in
    --events) events="$2"; shift ;;
    --seed) seed="$2"; shift ;;
    --runs) runs="$2"; shift ;;
    --partitions) partitions="$2"; shift ;;
    --baseline) baseline="$2"; shift ;;
    --live-windows) live_windows=1 ;;
    --smoke) events=2000 runs=1 ;;
    -h|--help) bench_help "$0" "$1" ;;
    [0-9]*) events="$1" ;;  # the old positional form: EVENTS [SEED]
    *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
admin="${PLYR_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
base="${admin%/*}"
db="plyr_bench_replay_$$"
work="$(mktemp -d)"
worktree=""
cleanup() {
  psql "$admin" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  if [ -n "$worktree" ]; then git worktree remove --force "$worktree" >/dev/null 2>&1 || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
say() { printf '%s\n' "$*" >&2; }

bench_indexer_setup "$root" "$baseline" "$events" "$seed" "$work/stream.jsonl"
current="$BENCH_CURRENT" previous="$BENCH_PREVIOUS" worktree="$BENCH_BASELINE_WORKTREE" rev="$BENCH_BASELINE_REV"

# One replay into a fresh database: prints "events/s rss_mib".
replay() {
  local bin="$1" extra=()
  if [ -n "$partitions" ] && [ "$bin" = "$current" ]; then extra=(--write-partitions "$partitions"); fi
  psql "$admin" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1
  psql "$admin" -qc "CREATE DATABASE $db"
  "$bin" --database-url "$base/$db" migrate >/dev/null 2>&1
  if [ "$live_windows" = 1 ] && [ "$bin" = "$current" ]; then
    psql "$base/$db" -qc "INSERT INTO ranking_windows SELECT p, 'epoch' FROM unnest(ARRAY['day', 'week', 'month']) p"
  fi
  local start end
  start=$(date +%s.%N)
  /usr/bin/time -f "%M" -o "$work/rss" "$bin" --database-url "$base/$db" replay "$work/stream.jsonl" "${extra[@]}" \
    >/dev/null 2>&1
  end=$(date +%s.%N)
  awk -v n="$events" -v s="$start" -v e="$end" -v rss="$(cat "$work/rss")" \
    'BEGIN { printf "%.0f %.1f\n", n / (e - s), rss / 1024 }'
}
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

: > "$work/current" ; : > "$work/previous"
for i in $(seq 1 "$runs"); do
  read -r rate rss < <(replay "$current")
  echo "$rate $rss" >> "$work/current"
  say "run $i: current $rate events/s, peak RSS $rss MiB (load $(cut -d' ' -f1 /proc/loadavg))"
  if [ -n "$previous" ]; then
    read -r rate rss < <(replay "$previous")
    echo "$rate $rss" >> "$work/previous"
    say "run $i: baseline $rate events/s, peak RSS $rss MiB"
  fi
done
rows=$(psql "$base/$db" -Atc "SELECT (SELECT count(*) FROM tracks) || ' tracks, ' || (SELECT count(*) FROM likes) || ' likes, ' || (SELECT count(*) FROM comments) || ' comments, ' || (SELECT count(*) FROM lists) || ' lists'")
cur=$(cut -d' ' -f1 "$work/current" | median)
cur_rss=$(cut -d' ' -f2 "$work/current" | median)
printf 'indexer replay: %d events, median of %d runs: %s events/s; peak RSS %s MiB; indexed %s\n' \
  "$events" "$runs" "$cur" "$cur_rss" "$rows"
if [ -n "$previous" ]; then
  prev=$(cut -d' ' -f1 "$work/previous" | median)
  awk -v c="$cur" -v p="$prev" -v r="$rev" 'BEGIN { printf "baseline %s: %s events/s; ratio %.2fx\n", r, p, c / p }'
fi
say "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
