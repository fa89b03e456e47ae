#!/usr/bin/env bash
# Benchmark: AppView requests/s, p50/p99 latency and RSS per endpoint, on a large generated
# network loaded with `plyr-gen load`.
#
#   bench/appview.sh [--small] [--tracks N] [--likes N] [--artists N] [--seed S]
#                    [--duration 15s] [--warmup 3s] [--concurrency 64]
#                    [--baseline REV] [--reuse] [--keep]
#
# Builds release binaries, (re)creates the database plyr_bench_appview on $PLYR_ADMIN_URL's
# server (default postgres://postgres@127.0.0.1:5432/postgres) and loads the dataset into it
# (default 1,000,000 tracks, 10,000,000 likes, 100,000 artists; --small: 20,000 / 200,000 /
# 2,000 and 5 s runs), starts `appview serve`, installs the `oha` load generator under
# target/bench-tools (`cargo install oha --locked`; `wrk` from apt if that fails), then for each
# endpoint warms up and runs at a fixed concurrency for a fixed time, printing requests/s, p50,
# p99 and the AppView's peak RSS. `--baseline REV` also builds the AppView of git revision REV
# in a worktree under target/ and measures it on the same dataset, interleaved, with ratios.
# `--reuse` keeps an already loaded database; `--keep` leaves the database behind at the end.
# oha sends `Accept-Encoding` like a browser, so responses are gzipped as clients get them; the
# wrk fallback sends none (uncompressed responses) and only requests each endpoint's first URL.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
. bench/lib.sh

tracks=1000000 likes=10000000 artists=100000 seed=42
duration=15s warmup=3s concurrency=64
baseline="" reuse=0 keep=0
while [ $# -gt 0 ]; do
  case "$1" in
    --small) tracks=20000 likes=200000 artists=2000 duration=5s warmup=1s ;;
    --tracks) tracks="$2"; shift ;;
    --likes) likes="$2"; shift ;;
    --artists) artists="$2"; shift ;;
    --seed) seed="$2"; shift ;;
    --duration) duration="$2"; shift ;;
    --warmup) warmup="$2"; shift ;;
    --concurrency) concurrency="$2"; shift ;;
    --baseline) baseline="$2"; shift ;;
    --reuse) reuse=1 ;;
    --keep) keep=1 ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

admin="${PLYR_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
db=plyr_bench_appview
url="${admin%/*}/$db"
work="$(mktemp -d)"
tools="$root/target/bench-tools"
pids=()
worktree=""
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [ "$keep" = 0 ]; then psql "$admin" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true; fi
  if [ -n "$worktree" ]; then git worktree remove --force "$worktree" >/dev/null 2>&1 || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
say() { printf '%s\n' "$*" >&2; }

bench_machine >&2

# --- binaries --------------------------------------------------------------------------------
say "building release binaries..."
cargo build --release --locked -q -p plyr-appview -p plyr-gen
appview_bin="$root/target/release/appview"
gen_bin="$root/target/release/plyr-gen"
baseline_bin=""
if [ -n "$baseline" ]; then
  bench_baseline "$root" "$baseline" plyr-appview appview
  baseline_bin="$BENCH_BASELINE_BIN" worktree="$BENCH_BASELINE_WORKTREE" rev="$BENCH_BASELINE_REV"
fi

# --- load generator --------------------------------------------------------------------------
oha="$tools/bin/oha"
wrk=""
if [ ! -x "$oha" ]; then
  say "installing oha into $tools..."
  if ! cargo install oha --locked --root "$tools" -q; then
    oha=""
    if ! command -v wrk >/dev/null; then apt-get install -y -q wrk >/dev/null; fi
    wrk="$(command -v wrk)"
  fi
fi

# --- dataset ---------------------------------------------------------------------------------
loaded=0
if [ "$reuse" = 1 ] && psql "$url" -Atc "SELECT count(*) > 0 FROM tracks" 2>/dev/null | grep -q t; then
  loaded=1
  say "reusing the loaded database $db"
fi
if [ "$loaded" = 0 ]; then
  psql "$admin" -q -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)"
  psql "$admin" -qc "CREATE DATABASE $db"
  say "loading $tracks tracks, $likes likes, $artists artists (seed $seed)..."
  "$gen_bin" load --database-url "$url" --tracks "$tracks" --likes "$likes" --artists "$artists" --seed "$seed" 2>&1 \
    | sed 's/^/  /' >&2
fi
# A reused database may predate the newest migrations (e.g. an index added since).
DATABASE_URL="$url" "$appview_bin" migrate >/dev/null
say "database size: $(psql "$url" -Atc "SELECT pg_size_pretty(pg_database_size(current_database()))")"

# --- request targets -------------------------------------------------------------------------
base="http://127.0.0.1:PORT/xrpc"
enc() { python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$1"; }
echo "$base/fm.plyr.feed.getLatestTracks?limit=50" > "$work/latest.urls"
# 25 URIs per request, 400 different requests (ids are hashes of the URIs: a random sample).
psql "$url" -Atc "SELECT uri FROM tracks ORDER BY id LIMIT 10000" \
  | awk -v b="$base" '{ q = q (n % 25 ? "&" : "") "uris=" $0; n++; if (n % 25 == 0) { print b "/fm.plyr.feed.getTracks?" q; q = "" } }' \
  > "$work/tracks.urls"
prolific="$(psql "$url" -Atc "SELECT a.handle FROM actor_stats s JOIN actors a USING (did)
                                WHERE NOT a.hidden ORDER BY s.tracks DESC, a.did LIMIT 1")"
prolific_tracks="$(psql "$url" -Atc "SELECT tracks FROM actor_stats s JOIN actors a USING (did) WHERE a.handle = '$prolific'")"
echo "$base/fm.plyr.feed.getActorTracks?actor=$prolific&limit=50" > "$work/actor.urls"
echo "$base/fm.plyr.feed.getTopTracks?period=week&limit=50" > "$work/top.urls"
: > "$work/search.urls"
for q in "midnight" "velvet harbor" "neon rive" "café" "summer of" "lonely ocean" "dj echo" "midnigt"; do
  echo "$base/fm.plyr.feed.searchTracks?q=$(enc "$q")&limit=25" >> "$work/search.urls"
done
psql "$url" -Atc "SELECT a.handle FROM actors a JOIN actor_stats s USING (did)
                   WHERE s.tracks > 0 AND NOT a.hidden ORDER BY a.did LIMIT 1000" \
  | awk -v b="$base" '{ print b "/fm.plyr.actor.getProfile?actor=" $0 }' > "$work/profile.urls"
# The same reads through the plyr.fm-compatible REST surface (issue 6's figure).
rest="http://127.0.0.1:PORT"
echo "$rest/tracks/?limit=50" > "$work/rest_latest.urls"
psql "$url" -Atc "SELECT id FROM tracks ORDER BY uri LIMIT 1000" \
  | awk -v b="$rest" '{ print b "/tracks/" $0 }' > "$work/rest_track.urls"
echo "$rest/tracks/top?period=week&limit=50" > "$work/rest_top.urls"
: > "$work/rest_search.urls"
for q in "midnight" "velvet harbor" "neon rive" "café" "summer of" "lonely ocean" "dj echo" "midnigt"; do
  echo "$rest/search/?q=$(enc "$q")&limit=20" >> "$work/rest_search.urls"
done
endpoints=(latest tracks actor top search profile rest_latest rest_track rest_top rest_search)
label() {
  case "$1" in
    latest) echo "getLatestTracks (limit 50)" ;;
    tracks) echo "getTracks (25 URIs, 400 sets)" ;;
    actor) echo "getActorTracks ($prolific_tracks tracks, limit 50)" ;;
    top) echo "getTopTracks (week, limit 50)" ;;
    search) echo "searchTracks (8 queries, limit 25)" ;;
    profile) echo "getProfile (1,000 artists)" ;;
    rest_latest) echo "REST GET /tracks/ (50)" ;;
    rest_track) echo "REST GET /tracks/{id} (1,000 ids)" ;;
    rest_top) echo "REST GET /tracks/top?period=week" ;;
    rest_search) echo "REST GET /search/ (8 queries)" ;;
  esac
}

# --- servers ---------------------------------------------------------------------------------
start_appview() { # name binary port; sets pid_of[name]
  if curl -fsS "http://127.0.0.1:$3/xrpc/_health" >/dev/null 2>&1; then
    say "port $3 is already taken (an AppView left running?)"; return 1
  fi
  # The load generator is one client: the per-client rate limit is off for the benchmark.
  DATABASE_URL="$url" RUST_LOG=warn PLYR_RATE_LIMIT_PER_SEC=0 "$2" serve --listen "127.0.0.1:$3" > "$work/$1.log" 2>&1 &
  local pid=$!
  pids+=("$pid")
  pid_of[$1]="$pid"
  for _ in $(seq 1 100); do
    if ! kill -0 "$pid" 2>/dev/null; then break; fi
    if curl -fsS "http://127.0.0.1:$3/xrpc/_health" >/dev/null 2>&1; then return 0; fi
    sleep 0.2
  done
  say "the $1 AppView did not come up:"; cat "$work/$1.log" >&2; return 1
}
declare -A pid_of port_of
port_of[current]=18080
start_appview current "$appview_bin" 18080
servers=(current)
if [ -n "$baseline_bin" ]; then
  port_of[baseline]=18081
  start_appview baseline "$baseline_bin" 18081
  servers+=(baseline)
fi

# --- measuring -------------------------------------------------------------------------------
rss_kib() { ps -o rss= -p "$1" 2>/dev/null | tr -d ' ' || echo 0; }
# run SERVER ENDPOINT -> "req/s p50_ms p99_ms ok_ratio peak_rss_mib"
run() {
  local server="$1" ep="$2" port="${port_of[$1]}" pid="${pid_of[$1]}"
  sed "s/PORT/$port/" "$work/$ep.urls" > "$work/$server.$ep.urls"
  local sampler
  ( peak=0; while kill -0 "$pid" 2>/dev/null; do r="$(rss_kib "$pid")"; [ "${r:-0}" -gt "$peak" ] && peak="$r" && echo "$peak" > "$work/$server.$ep.rss"; sleep 0.2; done ) &
  sampler=$!
  if [ -n "$oha" ]; then
    "$oha" --no-tui --urls-from-file -z "$warmup" -c "$concurrency" --output-format quiet "$work/$server.$ep.urls" >/dev/null 2>&1 || true
    "$oha" --no-tui --urls-from-file -z "$duration" -c "$concurrency" --output-format json "$work/$server.$ep.urls" > "$work/$server.$ep.json"
    kill "$sampler" 2>/dev/null || true; wait "$sampler" 2>/dev/null || true
    jq -r --arg rss "$(cat "$work/$server.$ep.rss" 2>/dev/null || echo 0)" '
      ((.statusCodeDistribution // {}) | to_entries | map(.value) | add // 0) as $all
      | ((.statusCodeDistribution // {})["200"] // 0) as $ok
      | "\(.summary.requestsPerSec) \(.latencyPercentiles.p50 * 1000) \(.latencyPercentiles.p99 * 1000) \(if $all > 0 then $ok / $all else 0 end) \(($rss | tonumber) / 1024)"' \
      "$work/$server.$ep.json"
  else
    local first; first="$(head -n1 "$work/$server.$ep.urls")"
    "$wrk" -t2 -c"$concurrency" -d"$warmup" "$first" >/dev/null 2>&1 || true
    "$wrk" -t2 -c"$concurrency" -d"$duration" --latency "$first" > "$work/$server.$ep.wrk"
    kill "$sampler" 2>/dev/null || true; wait "$sampler" 2>/dev/null || true
    awk -v rss="$(cat "$work/$server.$ep.rss" 2>/dev/null || echo 0)" '
      function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
      /^ +50%/ { p50 = ms($2) } /^ +99%/ { p99 = ms($2) } /^Requests\/sec/ { rps = $2 }
      /Non-2xx/ { bad = $NF } /requests in/ { all = $1 }
      END { print rps, p50, p99, (all > 0 ? 1 - bad / all : 0), rss / 1024 }' "$work/$server.$ep.wrk"
  fi
}

tool="oha $("${oha:-true}" --version 2>/dev/null | awk '{print $2}')"; [ -n "$wrk" ] && tool="wrk"
say "measuring: concurrency $concurrency, ${warmup} warm-up + ${duration} per endpoint, load generator $tool"
printf '\n%-40s %-9s %11s %9s %9s %7s %9s\n' endpoint server "req/s" "p50 ms" "p99 ms" "ok" "RSS MiB"
declare -A result
for ep in "${endpoints[@]}"; do
  for server in "${servers[@]}"; do
    line="$(run "$server" "$ep")"
    result[$server.$ep]="$line"
    read -r rps p50 p99 ok rss <<< "$line"
    printf '%-40s %-9s %11.0f %9.2f %9.2f %6.1f%% %9.1f\n' "$(label "$ep")" "$server" "$rps" "$p50" "$p99" \
      "$(awk -v o="$ok" 'BEGIN { print o * 100 }')" "$rss"
  done
done
for server in "${servers[@]}"; do
  say "$server AppView RSS after the runs: $(awk -v k="$(rss_kib "${pid_of[$server]}")" 'BEGIN { printf "%.1f MiB", k / 1024 }')"
done
if [ -n "$baseline_bin" ]; then
  printf '\nratios, current / baseline (%s):\n' "$rev"
  for ep in "${endpoints[@]}"; do
    read -r rc _ pc _ _ <<< "${result[current.$ep]}"
    read -r rb _ pb _ _ <<< "${result[baseline.$ep]}"
    awk -v l="$(label "$ep")" -v rc="$rc" -v rb="$rb" -v pc="$pc" -v pb="$pb" \
      'BEGIN { printf "%-40s req/s %6.2fx   p99 %6.2fx\n", l, (rb > 0 ? rc / rb : 0), (pb > 0 ? pc / pb : 0) }'
  done
fi
say "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
