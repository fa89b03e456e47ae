#!/usr/bin/env bash
# Benchmark: AppView requests/s, p50/p99 latency and RSS per endpoint, as real traffic would
# send them, on a large generated network loaded with `plyr-gen load`.
#
#   bench/appview.sh [--small] [--tracks N] [--likes N] [--artists N] [--seed S]
#                    [--duration 15s] [--warmup 3s] [--concurrency 64] [--count 1000]
#                    [--cache on|off|both] [--signed] [--viewers 200] [--rounds 1]
#                    [--baseline REV] [--reuse] [--keep] [--only ENDPOINT,...]
#
# Builds release binaries, (re)creates the database plyr_bench_appview on $PLYR_ADMIN_URL's
# server (default postgres://postgres@127.0.0.1:5432/postgres) and loads the dataset into it
# (default 1,000,000 tracks, 10,000,000 likes, 100,000 artists; --small: 20,000 / 200,000 /
# 2,000 and 5 s runs). Starts one AppView per response-cache mode (`--cache`, default both: "on"
# is the default configuration, "off" sets PLYR_RESPONSE_CACHE_SECS=0 so every request is
# hydrated, as every signed-in viewer's is), and with `--baseline REV` the same for REV's AppView
# (built in a worktree under target/). bench/appview_targets.py then writes, per endpoint, at
# least --count distinct URLs: deep cursors taken by paging, random artists, track sets and
# track ids, and distinct search queries built from the dataset's titles and names (words,
# phrases, prefixes, typos). For each endpoint and server the `oha` load generator (installed
# under target/bench-tools) warms up, then sends those URLs at a fixed concurrency for a fixed
# time, gzip like a browser; printed: requests/s, p50, p99, the share of 200s and the AppView's
# peak RSS, and with a baseline the ratios per cache mode. With the cache on, each URL is sent
# many times over, so most of those answers are cache hits: the table says which mode each row
# ran in. `--rounds N` measures every endpoint on every server N times, interleaved, and reports
# each figure's median (this machine's figures move by 10 % from run to run).
# `--signed` adds a signed-in server per binary: every XRPC request carries a service token
# minted for it (a fresh `jti` each time, as a viewer's PDS proxies; the AppView verifies it
# and adds viewer state to every track), from `--viewers` accounts that like the most (their
# keys derived from their DIDs and published by a loopback PLC directory, `plyr-bench
# viewers-plc`); the load client is `plyr-bench signed-load`, which mints tokens as it sends.
# Signed requests never use the response cache. REST rows have no signed variant (plyr.fm's
# REST auth is its own session cookie).
# The Subsonic rows (`sub_*`: album lists of every type at deep offsets, albums, artists,
# search3 over the same distinct queries) are anonymous, like REST's.
# `--reuse` keeps an already loaded database; `--keep` leaves it behind at the end; `--only`
# measures the endpoints named (the names below, e.g. `--only sub_album_list,sub_search3`).
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
. bench/lib.sh

tracks=1000000 likes=10000000 artists=100000 seed=42
duration=15s warmup=3s concurrency=64 count=1000 rounds=1
baseline="" reuse=0 keep=0 modes=(on off) signed=0 viewers=200 only=""
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
    --count) count="$2"; shift ;;
    --rounds) rounds="$2"; shift ;;
    --cache) case "$2" in on|off) modes=("$2") ;; both) modes=(on off) ;; *) echo "--cache takes on, off or both" >&2; exit 2 ;; esac; shift ;;
    --baseline) baseline="$2"; shift ;;
    --signed) signed=1 ;;
    --viewers) viewers="$2"; shift ;;
    --reuse) reuse=1 ;;
    --keep) keep=1 ;;
    --only) only="$2"; shift ;;
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
cargo build --release --locked -q -p plyr-appview -p plyr-gen -p plyr-indexer
appview_bin="$root/target/release/appview"
bench_bin="$root/target/release/plyr-bench"
indexer_bin="$root/target/release/indexer"
gen_bin="$root/target/release/plyr-gen"
baseline_bin=""
if [ -n "$baseline" ]; then
  bench_baseline "$root" "$baseline" plyr-appview appview
  baseline_bin="$BENCH_BASELINE_BIN" worktree="$BENCH_BASELINE_WORKTREE" rev="$BENCH_BASELINE_REV"
fi

# --- load generator --------------------------------------------------------------------------
oha="$tools/bin/oha"
if [ ! -x "$oha" ]; then
  say "installing oha into $tools (once; several minutes)..."
  cargo install oha --locked --root "$tools" -q || { say "oha could not be installed: it is needed to send many distinct URLs"; exit 2; }
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
# A reused database may predate the newest migrations (e.g. an index added since), and its
# rankings were computed when it was loaded: compute them now, as a running indexer keeps them.
DATABASE_URL="$url" "$appview_bin" migrate >/dev/null
DATABASE_URL="$url" "$indexer_bin" rank 2>&1 | sed 's/^/  /' >&2
say "database size: $(psql "$url" -Atc "SELECT pg_size_pretty(pg_database_size(current_database()))")"

# --- request targets: see bench/appview_targets.py ------------------------------------------
endpoints=(latest actor tracks profile top search search_actors unspecced_search
           rest_latest rest_track rest_top rest_search
           sub_album_list sub_album sub_artist sub_search3)
if [ -n "$only" ]; then
  IFS=, read -r -a endpoints <<< "$only"
fi
label() {
  case "$1" in
    latest) echo "getLatestTracks (50, deep pages)" ;;
    actor) echo "getActorTracks (50, random artists)" ;;
    tracks) echo "getTracks (25 random URIs)" ;;
    profile) echo "getProfile (random artists)" ;;
    top) echo "getTopTracks (4 periods, paged)" ;;
    search) echo "searchTracks (distinct queries)" ;;
    search_actors) echo "searchActors (distinct queries)" ;;
    unspecced_search) echo "unspecced.search (distinct queries)" ;;
    rest_latest) echo "REST /tracks/ (50, deep pages)" ;;
    rest_track) echo "REST /tracks/{id} (random ids)" ;;
    rest_top) echo "REST /tracks/top (4 periods x 50 limits)" ;;
    rest_search) echo "REST /search/ (distinct queries)" ;;
    sub_album_list) echo "Subsonic getAlbumList2 (6 types, offsets)" ;;
    sub_album) echo "Subsonic getAlbum (random albums)" ;;
    sub_artist) echo "Subsonic getArtist (random artists)" ;;
    sub_search3) echo "Subsonic search3 (distinct queries)" ;;
    *) echo "$1" ;;
  esac
}

# --- servers ---------------------------------------------------------------------------------
start_appview() { # name binary port response-cache-secs (empty: the default) [PLC url]; sets pid_of[name]
  if curl -fsS "http://127.0.0.1:$3/xrpc/_health" >/dev/null 2>&1; then
    say "port $3 is already taken (an AppView left running?)"; return 1
  fi
  # The load generator is one client: the per-client rate limit is off for the benchmark.
  local env=(-u PLYR_RESPONSE_CACHE_SECS DATABASE_URL="$url" RUST_LOG=warn PLYR_RATE_LIMIT_PER_SEC=0)
  [ -n "$4" ] && env+=(PLYR_RESPONSE_CACHE_SECS="$4")
  # Signed-in: the viewers' keys come from the loopback PLC directory.
  [ -n "${5:-}" ] && env+=(PLYR_PLC_URL="$5" PLYR_ALLOW_TEST_NETWORK=true PLYR_SERVICE_DID="$aud")
  env "${env[@]}" "$2" serve --listen "127.0.0.1:$3" > "$work/$1.log" 2>&1 &
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
# Deep cursors come from paging a throwaway AppView, so no measured one starts with warm caches.
start_appview pager "$appview_bin" 18090 0
say "request targets (paging for deep cursors)..."
python3 "$root/bench/appview_targets.py" --database-url "$url" --appview "http://127.0.0.1:18090" \
  --out "$work" --count "$count" --seed "$seed"
kill "${pid_of[pager]}"; wait "${pid_of[pager]}" 2>/dev/null || true

# Signed-in viewers: the accounts that like the most, their keys published by a PLC directory.
aud="did:web:appview.bench"
plc_url=""
if [ "$signed" = 1 ]; then
  psql "$url" -Atc "SELECT did FROM actor_stats ORDER BY likes DESC, did LIMIT $viewers" > "$work/viewers"
  "$bench_bin" viewers-plc --dids "$work/viewers" > "$work/plc.out" 2> "$work/plc.log" &
  pids+=("$!")
  for _ in $(seq 1 50); do grep -q '^url=' "$work/plc.out" 2>/dev/null && break; sleep 0.1; done
  plc_url="$(sed -n 's/^url=\([^ ]*\).*/\1/p' "$work/plc.out")"
  [ -n "$plc_url" ] || { say "the viewers' PLC directory did not start:"; cat "$work/plc.log" >&2; exit 1; }
  modes+=(signed)
fi

# One AppView per binary and mode: "on" keeps anonymous answers (the default), "off"
# (PLYR_RESPONSE_CACHE_SECS=0) hydrates every request, "signed" is sent signed-in requests.
servers=() port=18080
for bin in current ${baseline_bin:+baseline}; do
  for mode in "${modes[@]}"; do
    name="$bin.$mode"
    port_of[$name]=$port
    cache_secs=""; [ "$mode" = off ] && cache_secs=0
    binary="$appview_bin"; [ "$bin" = baseline ] && binary="$baseline_bin"
    plc=""; [ "$mode" = signed ] && plc="$plc_url"
    start_appview "$name" "$binary" "$port" "$cache_secs" "$plc"
    servers+=("$name")
    port=$((port + 1))
  done
done

# --- measuring -------------------------------------------------------------------------------
rss_kib() { ps -o rss= -p "$1" 2>/dev/null | tr -d ' ' || echo 0; }
# run SERVER ENDPOINT -> "req/s p50_ms p99_ms ok_ratio peak_rss_mib"
run() {
  local server="$1" ep="$2" port="${port_of[$1]}" pid="${pid_of[$1]}"
  sed "s/PORT/$port/" "$work/$ep.urls" > "$work/$server.$ep.urls"
  local sampler
  ( peak=0; while kill -0 "$pid" 2>/dev/null; do r="$(rss_kib "$pid")"; [ "${r:-0}" -gt "$peak" ] && peak="$r" && echo "$peak" > "$work/$server.$ep.rss"; sleep 0.2; done ) &
  sampler=$!
  if [ "${server#*.}" = signed ]; then
    sed "s#^http://127.0.0.1:$port##" "$work/$server.$ep.urls" > "$work/$server.$ep.paths"
    local figures
    figures="$("$bench_bin" signed-load --base "http://127.0.0.1:$port" --paths "$work/$server.$ep.paths" \
      --dids "$work/viewers" --aud "$aud" --concurrency "$concurrency" \
      --warmup-secs "${warmup%s}" --duration-secs "${duration%s}")"
    kill "$sampler" 2>/dev/null || true; wait "$sampler" 2>/dev/null || true
    echo "$figures $(awk -v k="$(cat "$work/$server.$ep.rss" 2>/dev/null || echo 0)" 'BEGIN { print k / 1024 }')"
    return
  fi
  "$oha" --no-tui --urls-from-file -z "$warmup" -c "$concurrency" --output-format quiet "$work/$server.$ep.urls" >/dev/null 2>&1 || true
  "$oha" --no-tui --urls-from-file -z "$duration" -c "$concurrency" --output-format json "$work/$server.$ep.urls" > "$work/$server.$ep.json"
  kill "$sampler" 2>/dev/null || true; wait "$sampler" 2>/dev/null || true
  jq -r --arg rss "$(cat "$work/$server.$ep.rss" 2>/dev/null || echo 0)" '
    ((.statusCodeDistribution // {}) | to_entries | map(.value) | add // 0) as $all
    | ((.statusCodeDistribution // {})["200"] // 0) as $ok
    | "\(.summary.requestsPerSec) \(.latencyPercentiles.p50 * 1000) \(.latencyPercentiles.p99 * 1000) \(if $all > 0 then $ok / $all else 0 end) \(($rss | tonumber) / 1024)"' \
    "$work/$server.$ep.json"
}

# Searches are answered from SQL until an AppView's search index is built (seconds, longer
# under load): measure only once every server says it is ready (a binary that does not say is
# not waited for).
for server in "${!port_of[@]}"; do
  for _ in $(seq 1 600); do
    curl -fsS "http://127.0.0.1:${port_of[$server]}/xrpc/_health" 2>/dev/null | grep -q '"searchIndex":"building"' || break
    sleep 0.5
  done
done
tool="oha $("$oha" --version 2>/dev/null | awk '{print $2}')"
say "measuring: concurrency $concurrency, ${warmup} warm-up + ${duration} per endpoint, $rounds round(s), load generator $tool"
say "cache on: after the warm-up most answers are response-cache hits (every URL file is short"
say "enough to be sent many times over); cache off: every request is hydrated"
printf '\n%-42s %-15s %9s %6s %11s %9s %9s %7s %9s\n' endpoint server cache URLs "req/s" "p50 ms" "p99 ms" "ok" "RSS MiB"
declare -A result
median() { tr ' ' '\n' | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }
for ep in "${endpoints[@]}"; do
  urls="$(sort -u "$work/$ep.urls" | wc -l)"
  declare -A runs=()
  # Signed-in requests are XRPC's only.
  eps_servers=()
  for server in "${servers[@]}"; do
    [ "${server#*.}" = signed ] && [[ "$ep" == rest_* || "$ep" == sub_* ]] && continue
    eps_servers+=("$server")
  done
  for _ in $(seq 1 "$rounds"); do
    for server in "${eps_servers[@]}"; do
      runs[$server]+="$(run "$server" "$ep")"$'\n'
    done
  done
  for server in "${eps_servers[@]}"; do
    # Per column, the median over the rounds (peak RSS: the largest).
    cols=()
    for c in 1 2 3 4; do cols+=("$(printf '%s' "${runs[$server]}" | awk -v c="$c" 'NF { print $c }' | median)"); done
    cols+=("$(printf '%s' "${runs[$server]}" | awk 'NF { print $5 }' | sort -g | tail -n1)")
    line="${cols[*]}"
    result[$server.$ep]="$line"
    read -r rps p50 p99 ok rss <<< "$line"
    printf '%-42s %-15s %9s %6s %11.0f %9.2f %9.2f %6.1f%% %9.1f\n' "$(label "$ep")" "${server%.*}" "${server#*.}" "$urls" \
      "$rps" "$p50" "$p99" "$(awk -v o="$ok" 'BEGIN { print o * 100 }')" "$rss"
  done
  unset runs
done
for server in "${servers[@]}"; do
  say "$server AppView RSS after the runs: $(awk -v k="$(rss_kib "${pid_of[$server]}")" 'BEGIN { printf "%.1f MiB", k / 1024 }')"
done
if [ -n "$baseline_bin" ]; then
  for mode in "${modes[@]}"; do
    printf '\nratios, current / baseline (%s), response cache %s:\n' "$rev" "$mode"
    for ep in "${endpoints[@]}"; do
      [ -n "${result[current.$mode.$ep]:-}" ] || continue
      read -r rc _ pc _ _ <<< "${result[current.$mode.$ep]}"
      read -r rb _ pb _ _ <<< "${result[baseline.$mode.$ep]}"
      awk -v l="$(label "$ep")" -v rc="$rc" -v rb="$rb" -v pc="$pc" -v pb="$pb" \
        'BEGIN { printf "%-42s req/s %6.2fx   p99 %6.2fx\n", l, (rb > 0 ? rc / rb : 0), (pb > 0 ? pc / pb : 0) }'
    done
  done
fi
say "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
