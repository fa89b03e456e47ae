#!/usr/bin/env bash
# Soak: the AppView with the response cache off under 256 clients for 10 minutes over every
# endpoint (distinct requests), with 20,000 idle connections held open and the database's
# backends terminated twice during the run. Passes when no well-formed request got a 5xx
# outside the seconds after a termination, the RSS stayed flat, and it came back within 20 % of
# its starting level once the idle connections closed.
#
#   bench/soak.sh [--tracks N] [--likes N] [--artists N] [--seed S] [--clients 256]
#                 [--duration-secs 600] [--warmup-secs 60] [--idle 20000] [--reuse] [--keep]
#
# Builds release binaries, (re)creates the database plyr_bench_soak on $PLYR_ADMIN_URL's
# server (default postgres://postgres@127.0.0.1:5432/postgres) and loads a generated network
# (default 100,000 tracks, 1,000,000 likes, 10,000 artists), starts `appview serve` with
# `--response-cache-secs 0` and the file-descriptor limit raised to the hard limit, writes the request paths (every
# XRPC query and REST route, thousands of distinct ids, cursors and search queries), and runs
# `plyr-bench soak`, which prints a line per 10 s window and the totals.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
. bench/lib.sh

tracks=100000 likes=1000000 artists=10000 seed=42
clients=256 duration=600 warmup=60 idle=20000 reuse=0 keep=0
while [ $# -gt 0 ]; do
  case "$1" in
    --tracks) tracks="$2"; shift ;;
    --likes) likes="$2"; shift ;;
    --artists) artists="$2"; shift ;;
    --seed) seed="$2"; shift ;;
    --clients) clients="$2"; shift ;;
    --duration-secs) duration="$2"; shift ;;
    --warmup-secs) warmup="$2"; shift ;;
    --idle) idle="$2"; shift ;;
    --reuse) reuse=1 ;;
    --keep) keep=1 ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

admin="${PLYR_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
db=plyr_bench_soak
url="${admin%/*}/$db"
work="$(mktemp -d)"
appview_pid=""
cleanup() {
  [ -n "$appview_pid" ] && kill "$appview_pid" 2>/dev/null && wait "$appview_pid" 2>/dev/null || true
  if [ "$keep" = 0 ]; then psql "$admin" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
say() { printf '%s\n' "$*" >&2; }

bench_machine >&2
# Descriptors: the driver holds its clients, and child processes hold the idle connections
# (8,000 each); the AppView holds up to its connection cap (10,000).
ulimit -n "$(ulimit -Hn)"
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt 10512 ]; then
  say "the file-descriptor limit ($(ulimit -n)) is below 10,512: raise the hard limit"; exit 1
fi

say "building release binaries..."
cargo build --release --locked -q -p plyr-appview -p plyr-gen
bin="${CARGO_TARGET_DIR:-$root/target}/release"
appview_bin="$bin/appview"

if [ "$reuse" = 1 ] && psql "$url" -Atc "SELECT count(*) > 0 FROM tracks" 2>/dev/null | grep -q t; then
  say "reusing the loaded database $db"
else
  psql "$admin" -q -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)"
  psql "$admin" -qc "CREATE DATABASE $db"
  say "loading $tracks tracks, $likes likes, $artists artists (seed $seed)..."
  "$bin/plyr-gen" load --database-url "$url" --tracks "$tracks" --likes "$likes" \
    --artists "$artists" --seed "$seed" 2>&1 | sed 's/^/  /' >&2
fi
DATABASE_URL="$url" "$appview_bin" migrate >/dev/null

# --- request paths: every endpoint, distinct ids ------------------------------------------------
enc() { python3 -c 'import sys, urllib.parse; [print(urllib.parse.quote(l.rstrip("\n"), safe="")) for l in sys.stdin]'; }
paths="$work/paths"
x=/xrpc
q() { psql "$url" -Atc "$1"; }
# Only what is visible: a hidden account's records answer 404 / NotFound, which the soak would
# count as 4xx on well-formed requests.
visible="JOIN actors a ON a.did = t.did AND NOT a.hidden"
q "SELECT t.uri FROM tracks t $visible ORDER BY t.id LIMIT 2000" | enc > "$work/track_uris"
q "SELECT t.id FROM tracks t $visible ORDER BY t.uri LIMIT 2000" > "$work/track_ids"
q "SELECT a.did FROM actors a JOIN actor_stats s USING (did) WHERE s.tracks > 0 AND NOT a.hidden ORDER BY a.did LIMIT 1000" > "$work/dids"
q "SELECT a.handle FROM actors a JOIN actor_stats s USING (did) WHERE s.tracks > 0 AND NOT a.hidden AND a.handle IS NOT NULL ORDER BY a.did LIMIT 1000" > "$work/handles"
q "SELECT t.uri FROM lists t $visible ORDER BY t.id LIMIT 500" | enc > "$work/list_uris"
q "SELECT t.id FROM lists t $visible WHERE t.list_type = 'playlist' ORDER BY t.uri LIMIT 500" > "$work/playlist_ids"
# Search queries from the dataset's own titles: whole words, two-word phrases, 4-letter prefixes.
q "SELECT title FROM tracks ORDER BY id LIMIT 1500" \
  | awk '{ print $1; if (NF > 1) print $1 " " $2; print substr($1, 1, 4) }' | sort -u | awk "NR <= 2000" | enc > "$work/queries"
{
  # 2,000 distinct sets of 25 (a sliding window over the sample).
  awk -v x="$x" '{ u[NR - 1] = $0 } END { for (i = 0; i < NR; i++) { q = ""; for (j = 0; j < 25; j++) q = q (j ? "&" : "") "uris=" u[(i + j * 7) % NR]; print x "/fm.plyr.feed.getTracks?" q } }' "$work/track_uris"
  awk -v x="$x" '{ print x "/fm.plyr.feed.getLikes?uri=" $0 "&limit=50" }' "$work/track_uris"
  awk -v x="$x" '{ print x "/fm.plyr.feed.getComments?uri=" $0 }' "$work/track_uris"
  awk -v x="$x" '{ print x "/fm.plyr.feed.getActorTracks?actor=" $0 "&limit=50" }' "$work/dids"
  awk -v x="$x" '{ print x "/fm.plyr.feed.getActorLikes?actor=" $0 }' "$work/dids"
  awk -v x="$x" '{ print x "/fm.plyr.actor.getProfile?actor=" $0 }' "$work/handles"
  awk -v x="$x" '{ print x "/fm.plyr.graph.getActorLists?actor=" $0 }' "$work/dids"
  awk -v x="$x" '{ print x "/fm.plyr.graph.getList?list=" $0 }' "$work/list_uris"
  awk -v x="$x" '{ print x "/fm.plyr.feed.searchTracks?q=" $0 "&limit=25" }' "$work/queries"
  awk -v x="$x" '{ print x "/fm.plyr.actor.searchActors?q=" $0 }' "$work/queries" | awk "NR <= 500"
  awk -v x="$x" '{ print x "/fm.plyr.unspecced.search?q=" $0 }' "$work/queries" | awk "NR <= 500"
  for p in day week month all; do echo "$x/fm.plyr.feed.getTopTracks?period=$p&limit=50"; done
for p in day week month all_time; do echo "/tracks/top?period=$p"; done
  for l in 10 25 50 100; do echo "$x/fm.plyr.feed.getLatestTracks?limit=$l"; echo "/tracks/?limit=$l"; done
  echo "$x/fm.plyr.unspecced.getStats"; echo "/stats"; echo "/activity/"
  awk '{ print "/tracks/" $0 }' "$work/track_ids"
  awk '{ print "/tracks/" $0 "/likes" }' "$work/track_ids" | awk "NR <= 500"
  awk '{ print "/tracks/" $0 "/comments" }' "$work/track_ids" | awk "NR <= 500"
  awk '{ print "/artists/" $0 }' "$work/dids"
  awk '{ print "/artists/by-handle/" $0 }' "$work/handles"
  awk '{ print "/albums/" $0 }' "$work/handles"
  awk '{ print "/lists/playlists/by-artist/" $0 }' "$work/dids"
  awk '{ print "/lists/playlists/" $0 }' "$work/playlist_ids"
  awk '{ print "/search/?q=" $0 }' "$work/queries"
} | shuf --random-source=<(yes) > "$paths"
say "request paths: $(wc -l < "$paths") ($(sort -u "$paths" | wc -l) distinct)"

# --- the AppView --------------------------------------------------------------------------------
port=18090
# One address sends all the load: the per-IP rate limit is off for the soak.
PLYR_RATE_LIMIT_PER_SEC=0 DATABASE_URL="$url" RUST_LOG=warn "$appview_bin" serve --listen "127.0.0.1:$port" --response-cache-secs 0 \
  > "$work/appview.log" 2>&1 &
appview_pid=$!
for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$port/xrpc/_health" >/dev/null 2>&1 && break
  kill -0 "$appview_pid" 2>/dev/null || { cat "$work/appview.log" >&2; exit 1; }
  sleep 0.2
done
# Deep cursors of the latest feed, by paging as a client does.
cursor=""
for _ in $(seq 1 150); do
  cursor="$(curl -fsS "http://127.0.0.1:$port$x/fm.plyr.feed.getLatestTracks?limit=50${cursor:+&cursor=$cursor}" \
    | python3 -c 'import json, sys, urllib.parse; c = json.load(sys.stdin).get("cursor"); print(urllib.parse.quote(c, safe="") if c else "")')"
  [ -n "$cursor" ] || break
  echo "$x/fm.plyr.feed.getLatestTracks?limit=50&cursor=$cursor" >> "$paths"
done
shuf --random-source=<(yes) -o "$paths" "$paths"
say "request paths with deep cursors: $(wc -l < "$paths")"

third=$((duration / 3))
"$bin/plyr-bench" soak --base "http://127.0.0.1:$port" --paths "$paths" --clients "$clients" \
  --warmup-secs "$warmup" --duration-secs "$duration" --idle "$idle" --admin-url "$admin" --database "$db" \
  --terminate-at "$third,$((2 * third))" --pid "$appview_pid" | tee "$work/soak.out"
echo "appview_error_log_lines=$(grep -c 'ERROR' "$work/appview.log" || true)"
grep 'ERROR' "$work/appview.log" | head -5 >&2 || true
