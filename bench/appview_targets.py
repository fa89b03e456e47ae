#!/usr/bin/env python3
"""Request targets for bench/appview.sh: per endpoint, a file of distinct URLs as real traffic
would send them.

    bench/appview_targets.py --database-url URL --appview http://127.0.0.1:18080 --out DIR
                             [--count 1000] [--seed 42]

Writes DIR/<endpoint>.urls, one URL per line, with the host written as `http://127.0.0.1:PORT`
so the harness can aim the same requests at either AppView:

- latest, rest_latest: deep pages, cursors taken by paging the running AppView from the top
  (`--count` pages of 50, or as many as the dataset has);
- actor: the first page of `--count` random artists (every artist with a track, sampled);
- tracks: `2 x --count` random sets of 25 track URIs; profile: `3 x --count` random artists;
- top: every period, paged by cursor (up to a quarter of `--count` pages each); rest_top: every
  period at every limit from 1 to 50 (REST pages no further: 200 URLs);
- search, search_actors, unspecced_search, rest_search: `1.5 x --count` distinct queries built
  from the dataset's own titles and artist names: whole words, two-word phrases, four-letter
  prefixes and one-letter typos, in equal shares;
- rest_track: `3 x --count` random track ids;
- sub_album_list: Subsonic `getAlbumList2` of six types (newest, frequent, highest, random,
  alphabeticalByName, alphabeticalByArtist), 50 albums a page at offsets 0, 50, 100, ... (a sixth
  of `--count` pages each); sub_album: `--count` random albums; sub_artist: `--count` random
  artists; sub_search3: the search queries above through `search3` (20 songs, 20 albums, 20
  artists). Anonymous credentials (`u=bench&p=bench`), JSON.

Random choices come from `--seed` (PostgreSQL's setseed for sampling, Python's random for the
queries), so two runs on one dataset send the same requests. Only the standard library and
`psql` are used.
"""

import argparse
import json
import random
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

PLACEHOLDER = "http://127.0.0.1:PORT"


def psql(url, sql):
    out = subprocess.run(["psql", url, "-XAtqc", sql], check=True, capture_output=True, text=True)
    return [line for line in out.stdout.split("\n") if line]


def sampled(url, seed, sql):
    """Rows of `sql` after seeding PostgreSQL's random() from `seed`."""
    s = (seed % 1000) / 1000.0
    # setseed() returns void, which psql prints as an empty line (dropped by psql()).
    return psql(url, f"SELECT setseed({s}); {sql}")


def get_json(url):
    """The JSON answer of `url`; a 503 or 504 (a busy or slow AppView) is retried a few times."""
    for attempt in range(5):
        try:
            with urllib.request.urlopen(url, timeout=120) as r:
                return json.load(r)
        except urllib.error.HTTPError as e:
            if e.code not in (503, 504) or attempt == 4:
                raise
            time.sleep(2 * (attempt + 1))
    raise AssertionError("unreachable")


def paged(appview, path, cursor_key, pages, param="cursor"):
    """Paths of the first `pages` pages of `path`, each page's URL naming the cursor that
    reaches it (the first page has none)."""
    out, cursor = [path], None
    while len(out) < pages:
        sep = "&" if "?" in path else "?"
        url = appview + path + (f"{sep}{param}={urllib.parse.quote(cursor, safe='')}" if cursor else "")
        try:
            cursor = get_json(url).get(cursor_key)
        except urllib.error.HTTPError as e:
            # Still measured, from the pages reached: the harness reports the status codes.
            print(f"paging {path} stopped after {len(out)} pages: HTTP {e.code}", file=sys.stderr)
            break
        if not cursor:
            break
        out.append(f"{path}{sep}{param}={urllib.parse.quote(cursor, safe='')}")
    return out


def typo(word, rng):
    """One-letter typo: a letter dropped, doubled or swapped with its neighbour."""
    i = rng.randrange(1, len(word) - 1)
    kind = rng.randrange(3)
    if kind == 0:
        return word[:i] + word[i + 1 :]
    if kind == 1:
        return word[:i] + word[i] + word[i:]
    return word[: i - 1] + word[i] + word[i - 1] + word[i + 1 :]


def queries(names, count, rng):
    """`count` distinct search queries from `names` (titles and artist names)."""
    words = sorted({w for n in names for w in n.lower().split() if w.isalpha() and len(w) >= 3})
    long_words = [w for w in words if len(w) >= 5]
    phrases = sorted(
        {" ".join(n.lower().split()[i : i + 2]) for n in names for i in range(max(0, len(n.split()) - 1))}
    )
    makers = [
        lambda: rng.choice(words),
        lambda: rng.choice(phrases) if phrases else rng.choice(words),
        lambda: rng.choice(long_words)[:4] if long_words else rng.choice(words),
        lambda: typo(rng.choice(long_words), rng) if long_words else rng.choice(words),
    ]
    out, seen, tries = [], set(), 0
    while len(out) < count and tries < count * 50:
        tries += 1
        # By attempt, not by result: a kind of query the vocabulary has run out of cannot stall it.
        q = makers[tries % len(makers)]()
        if q and q not in seen:
            seen.add(q)
            out.append(q)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--database-url", required=True)
    ap.add_argument("--appview", required=True, help="a running AppView to page through")
    ap.add_argument("--out", required=True)
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=42)
    a = ap.parse_args()
    n, db, rng = a.count, a.database_url, random.Random(a.seed)
    q = lambda s: urllib.parse.quote(s, safe="")  # noqa: E731
    xrpc = PLACEHOLDER + "/xrpc/"
    files = {}

    files["latest"] = [PLACEHOLDER + p for p in paged(a.appview, "/xrpc/fm.plyr.feed.getLatestTracks?limit=50", "cursor", n)]
    files["rest_latest"] = [PLACEHOLDER + p for p in paged(a.appview, "/tracks/?limit=50", "next_cursor", n)]
    artists = sampled(
        db,
        a.seed,
        "SELECT a.handle FROM actors a JOIN actor_stats s USING (did) "
        f"WHERE s.tracks > 0 AND NOT a.hidden AND a.handle IS NOT NULL ORDER BY random() LIMIT {3 * n}",
    )
    files["actor"] = [f"{xrpc}fm.plyr.feed.getActorTracks?actor={q(h)}&limit=50" for h in artists[:n]]
    files["profile"] = [f"{xrpc}fm.plyr.actor.getProfile?actor={q(h)}" for h in artists]
    uris = sampled(db, a.seed + 1, f"SELECT uri FROM tracks ORDER BY random() LIMIT {2 * n * 25}")
    files["tracks"] = [
        xrpc + "fm.plyr.feed.getTracks?" + "&".join("uris=" + q(u) for u in uris[i : i + 25])
        for i in range(0, len(uris) - 24, 25)
    ]
    ids = sampled(db, a.seed + 2, f"SELECT id FROM tracks ORDER BY random() LIMIT {3 * n}")
    files["rest_track"] = [f"{PLACEHOLDER}/tracks/{q(i)}" for i in ids]
    files["top"], files["rest_top"] = [], []
    for period, rest_period in [("day", "day"), ("week", "week"), ("month", "month"), ("all", "all_time")]:
        path = f"/xrpc/fm.plyr.feed.getTopTracks?period={period}&limit=50"
        files["top"] += [PLACEHOLDER + p for p in paged(a.appview, path, "cursor", max(1, n // 4))]
        # REST has no cursor here and allows 1-50: every limit of every period.
        files["rest_top"] += [f"{PLACEHOLDER}/tracks/top?period={rest_period}&limit={k}" for k in range(1, 51)]
    names = sampled(db, a.seed + 3, "SELECT title FROM tracks ORDER BY random() LIMIT 20000")
    names += sampled(db, a.seed + 4, "SELECT artist FROM tracks ORDER BY random() LIMIT 5000")
    qs = queries(names, n + n // 2, rng)
    files["search"] = [f"{xrpc}fm.plyr.feed.searchTracks?q={q(s)}&limit=25" for s in qs]
    files["search_actors"] = [f"{xrpc}fm.plyr.actor.searchActors?q={q(s)}&limit=25" for s in qs]
    files["unspecced_search"] = [f"{xrpc}fm.plyr.unspecced.search?q={q(s)}&limit=25" for s in qs]
    files["rest_search"] = [f"{PLACEHOLDER}/search/?q={q(s)}&limit=20" for s in qs]

    sub = f"{PLACEHOLDER}/rest/{{}}.view?u=bench&p=bench&v=1.16.1&c=bench&f=json&{{}}"
    files["sub_album_list"] = [
        sub.format("getAlbumList2", f"type={t}&size=50&offset={50 * k}")
        for t in ["newest", "frequent", "highest", "random", "alphabeticalByName", "alphabeticalByArtist"]
        for k in range(max(1, n // 6))
    ]
    albums = sampled(
        db, a.seed + 5, f"SELECT id::TEXT FROM lists WHERE list_type = 'album' AND name IS NOT NULL ORDER BY random() LIMIT {n}"
    )
    files["sub_album"] = [sub.format("getAlbum", f"id={i}") for i in albums]
    dids = sampled(
        db, a.seed + 6, f"SELECT a.did FROM actors a JOIN actor_stats s USING (did) WHERE s.tracks > 0 ORDER BY random() LIMIT {n}"
    )
    files["sub_artist"] = [sub.format("getArtist", f"id={q(d)}") for d in dids]
    files["sub_search3"] = [sub.format("search3", f"query={q(s)}") for s in qs]

    for name, urls in files.items():
        with open(f"{a.out}/{name}.urls", "w") as f:
            f.write("".join(u + "\n" for u in urls))
        print(f"{name}: {len(urls)} distinct URLs" if len(set(urls)) == len(urls) else f"{name}: {len(urls)} URLs, {len(set(urls))} distinct", file=sys.stderr)
    with open(f"{a.out}/queries.txt", "w") as f:
        f.write("".join(s + "\n" for s in qs))


if __name__ == "__main__":
    main()
