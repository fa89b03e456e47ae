#!/usr/bin/env bash
# Benchmark: how old the top-track rankings are. On a loaded database (`plyr-gen load`, or
# bench/appview.sh --keep), starts `indexer run` following a local Jetstream v1
# (bench/jetstream_tail.py serving a file as it grows), then each round likes one random track
# that is in no ranking with enough fresh likes (created now, from new accounts) to enter every
# window's top 1,000, appends them to the stream, waits until all are committed (visible in
# `likes`), and times from that commit until the `rankings` table ranks the track in the day,
# week and month rankings. Printed per round, then the median and maximum per period, and the
# ranker's tick cost from its log.
#
#   bench/ranking-freshness.sh [--database-url URL] [--rounds 10] [--baseline REV]
#
# Default database: postgres://postgres@127.0.0.1:5432/plyr_bench_appview. `--baseline REV`
# first measures REV's indexer the same way: its migrations must be a prefix of ours, and the
# newer ones are hidden from it (their rows in `_sqlx_migrations`) while it runs, then put back.
# Likes it writes stay in the database (a few thousand per run, from accounts did:plc:fresh…).
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
. bench/lib.sh
bench_help "$0" "${1:-}"
url="postgres://postgres@127.0.0.1:5432/plyr_bench_appview"
rounds=10
baseline=""
while [ $# -gt 0 ]; do
  case "$1" in
    --database-url) url="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --baseline) baseline="$2"; shift 2 ;;
    *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
bench_machine
cargo build --release --locked -q -p plyr-indexer
work="$(mktemp -d)"
indexer_pid=""
hidden=""
cleanup() {
  [ -n "${tail_pid:-}" ] && kill "$tail_pid" 2>/dev/null
  [ -n "$indexer_pid" ] && kill "$indexer_pid" 2>/dev/null && wait "$indexer_pid" 2>/dev/null
  if [ -n "$hidden" ]; then psql -qAt "$url" -c "INSERT INTO _sqlx_migrations SELECT * FROM bench_hidden_migrations; DROP TABLE bench_hidden_migrations" >/dev/null; fi
  [ -n "${BENCH_BASELINE_WORKTREE:-}" ] && git worktree remove --force "$BENCH_BASELINE_WORKTREE" >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT
port=$((20000 + RANDOM % 20000))
: >"$work/stream.jsonl"
python3 bench/jetstream_tail.py "$work/stream.jsonl" "$port" &
tail_pid=$!
q() { psql -qAt "$url" -c "$1"; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }

# measure BINARY LABEL: the rounds against one indexer binary.
measure() {
  local bin="$1" label="$2" start
  start="$(now_ms)"
  RUST_LOG="plyr_indexer::ranking=debug,info" DATABASE_URL="$url" "$bin" run \
    --jetstream "ws://127.0.0.1:$port/subscribe" --jetstream-protocol v1 --metrics-listen '' \
    --resolve-identities false >"$work/$label.log" 2>&1 &
  indexer_pid=$!
  # The first pass: every window counted (or recomputed) and every ranking written.
  until [ "$(q "SELECT count(*) FROM ranking_periods WHERE computed_at >= to_timestamp($start / 1000.0)")" -ge 8 ]; do
    kill -0 "$indexer_pid" 2>/dev/null || { cat "$work/$label.log" >&2; exit 1; }
    sleep 0.5
  done
  echo "$label: first pass done after $(( $(now_ms) - start )) ms"
  printf '%-6s %6s %10s %10s %10s %10s\n' round likes commit_ms day_ms week_ms month_ms
  for r in $(seq 1 "$rounds"); do
    local track need file t0 seen day week month
    track="$(q "SELECT uri FROM tracks t WHERE NOT EXISTS (SELECT 1 FROM rankings r WHERE r.subject_uri = t.uri)
               AND NOT EXISTS (SELECT 1 FROM actors a WHERE a.did = t.did AND a.hidden)
               OFFSET floor(random() * 10000)::int LIMIT 1")"
    need="$(q "SELECT COALESCE(max(score), 0) + 5 FROM rankings WHERE period IN ('day', 'week', 'month') AND position = 1000")"
    file="$work/likes-$label-$r.jsonl"
    python3 - "$file" "$need" "$track" "$label$r" <<'EOF'
import datetime, json, sys, time
path, need, track, tag = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
cid = "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm"
alphabet = "234567abcdefghijklmnopqrstuvwxyz"
def tid(us):
    v = (us << 10) | 7
    return "".join(alphabet[(v >> (5 * i)) & 31] for i in range(12, -1, -1))
now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")
base = time.time_ns() // 1000
with open(path, "w") as f:
    for i in range(need):
        rk = tid(base + i)
        record = {"$type": "fm.plyr.like", "subject": {"uri": track, "cid": cid}, "createdAt": now}
        f.write(json.dumps({"did": f"did:plc:fresh{tag}x{i}", "time_us": base + i, "kind": "commit",
                            "commit": {"rev": rk, "operation": "create", "collection": "fm.plyr.like",
                                       "rkey": rk, "cid": cid, "record": record}}) + "\n")
EOF
    local appended committed
    appended="$(now_ms)"
    cat "$file" >>"$work/stream.jsonl"
    until [ "$(q "SELECT count(*) FROM likes WHERE subject_uri = '$track' AND did LIKE 'did:plc:fresh$label${r}x%'")" -ge "$need" ]; do
      [ $(( $(now_ms) - appended )) -gt 120000 ] && { echo "round $r: likes not committed within 120 s" >&2; cat "$work/$label.log" >&2; exit 1; }
      sleep 0.02
    done
    t0="$(now_ms)"
    committed=$(( t0 - appended ))
    day="" week="" month=""
    while [ -z "$day" ] || [ -z "$week" ] || [ -z "$month" ]; do
      seen="$(q "SELECT string_agg(period, ',') FROM rankings WHERE subject_uri = '$track' AND period IN ('day', 'week', 'month')")"
      case ",$seen," in *,day,*) [ -z "$day" ] && day=$(( $(now_ms) - t0 )) ;; esac
      case ",$seen," in *,week,*) [ -z "$week" ] && week=$(( $(now_ms) - t0 )) ;; esac
      case ",$seen," in *,month,*) [ -z "$month" ] && month=$(( $(now_ms) - t0 )) ;; esac
      [ $(( $(now_ms) - t0 )) -gt 300000 ] && { echo "round $r: not ranked within 300 s" >&2; break; }
      sleep 0.02
    done
    printf '%-6s %6s %10s %10s %10s %10s\n' "$r" "$need" "$committed" "$day" "$week" "$month"
    echo "$day $week $month" >>"$work/$label.times"
  done
  python3 - "$work/$label.times" "$label" <<'EOF'
import statistics, sys
rows = [list(map(int, l.split())) for l in open(sys.argv[1]) if l.strip()]
for i, p in enumerate(["day", "week", "month"]):
    v = [r[i] for r in rows]
    print(f"{sys.argv[2]}: {p}: from the commit, median {statistics.median(v):.0f} ms, max {max(v)} ms")
EOF
  kill "$indexer_pid"; wait "$indexer_pid" 2>/dev/null || true; indexer_pid=""
  { sed 's/\x1b\[[0-9;]*m//g' "$work/$label.log" | grep 'rankings refreshed' | grep -o 'took_ms=[0-9]*' || true; } | cut -d= -f2 | sort -n | python3 -c "
import sys; v=[int(x) for x in sys.stdin]
print(f'$label: ranker ticks {len(v)}, median {v[len(v)//2] if v else 0} ms, max {max(v) if v else 0} ms')"
  rm -f "$work/$label.times"
}

if [ -n "$baseline" ]; then
  bench_baseline "$root" "$baseline" plyr-indexer indexer
  last="$(ls "$BENCH_BASELINE_WORKTREE/migrations" | sed -n 's/^0*\([0-9]\+\)_.*/\1/p' | sort -n | tail -1)"
  q "CREATE TABLE bench_hidden_migrations AS SELECT * FROM _sqlx_migrations WHERE version > $last;
     DELETE FROM _sqlx_migrations WHERE version > $last" >/dev/null
  hidden=1
  measure "$BENCH_BASELINE_BIN" "$BENCH_BASELINE_REV"
  q "INSERT INTO _sqlx_migrations SELECT * FROM bench_hidden_migrations; DROP TABLE bench_hidden_migrations" >/dev/null
  hidden=""
fi
# Ours counts every window afresh first (the baseline's writes did not keep them): the first
# pass is a rebuild.
q "DELETE FROM ranking_windows" >/dev/null
measure "$root/target/release/indexer" "ours"
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
