"""Drives the real plyr.fm clients (the `plyrfm` SDK and CLI, and the `plyrfm-mcp` server over
stdio) against an AppView, and checks that they return the seeded data.

Run by tests/tests/plyr_sdk.rs with the virtualenv's Python:

    python plyr_sdk_check.py EXPECT.json

EXPECT.json names the AppView (`api_url`) and what was seeded (see the Rust test). Every raw
response is also checked field by field against the SDK's pydantic models: every declared field
present (under its alias) and valid in strict mode. Prints one line per check; exits non-zero on
the first failure.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx
from plyrfm import PlyrClient
from plyrfm._internal.types import (
    AlbumSearchResult,
    ArtistSearchResult,
    Playlist,
    PlaylistSearchResult,
    PlaylistWithTracks,
    SearchResponse,
    Tag,
    Track,
    TrackSearchResult,
)
from pydantic import BaseModel

# Declared by the SDK but not emitted by plyr.fm's backend either (plyr-api.md §2).
NOT_EMITTED = {"publishing", "policy_origin"}
SEARCH_MODELS = {
    "track": TrackSearchResult,
    "artist": ArtistSearchResult,
    "album": AlbumSearchResult,
    "playlist": PlaylistSearchResult,
}


def check(cond: bool, what: str, seen: object = "") -> None:
    if not cond:
        raise SystemExit(f"FAIL: {what}\n{seen}")
    print(f"ok: {what}", flush=True)


def strict(model: type[BaseModel], raw: dict) -> None:
    """Every field `model` declares is in `raw` (by alias) and `raw` validates strictly."""
    for name, field in model.model_fields.items():
        key = field.alias or name
        if key not in NOT_EMITTED and key not in raw:
            raise SystemExit(f"FAIL: {model.__name__}.{key} missing from {json.dumps(raw)[:400]}")
    model.model_validate_json(json.dumps(raw), strict=True)


def raw_shapes(api: str, e: dict) -> None:
    """The raw JSON the SDK parses, checked strictly against its models."""
    with httpx.Client(base_url=api, headers={"Authorization": "Bearer not-a-plyr-session"}) as h:
        feed = h.get("/tracks/", params={"limit": 50}).raise_for_status().json()
        for t in feed["tracks"]:
            strict(Track, t)
        check(len(feed["tracks"]) == len(e["tracks"]), "raw /tracks/ tracks validate strictly")
        for t in h.get("/tracks/top", params={"limit": 10}).raise_for_status().json():
            strict(Track, t)
        pl = h.get(f"/lists/playlists/{e['playlist']['id']}").raise_for_status().json()
        strict(PlaylistWithTracks, pl)
        for t in pl["tracks"]:
            strict(Track, t)
        for p in h.get(f"/lists/playlists/by-artist/{e['playlist']['owner_did']}").raise_for_status().json():
            strict(Playlist, p)
        check(True, "raw top tracks and playlists validate strictly")
        for kind, (query, _) in e["search"].items():
            body = h.get("/search/", params={"q": query, "type": kind}).raise_for_status().json()
            strict(SearchResponse, body)
            for r in body["results"]:
                strict(SEARCH_MODELS[r["type"]], r)
            check(body["counts"][kind] >= 1, f"raw /search/ type={kind} validates strictly")
        for t in h.get("/tracks/tags", params={"limit": 20}).raise_for_status().json():
            strict(Tag, t)


def sdk(api: str, e: dict, work: Path) -> None:
    titles = [t["title"] for t in e["tracks"]]
    with PlyrClient(api_url=api, token="not-a-plyr-session") as c:
        listed = c.tracks.list(limit=50)
        check([t.title for t in listed] == titles, "sdk tracks.list returns the seeded tracks newest first")
        check(all(t.like_count == x["like_count"] for t, x in zip(listed, e["tracks"])), "sdk like counts")
        first = e["tracks"][0]
        by_id = c.tracks.get(first["id"])
        check(by_id.title == first["title"] and by_id.atproto_uri == first["uri"], "sdk tracks.get(id)")
        by_uri = c.tracks.get(first["uri"])
        check(by_uri.id == first["id"] and by_uri.file_id == first["file_id"], "sdk tracks.get(at-uri)")
        top = c.discover.top_tracks(limit=10)
        check([t.id for t in top] == e["top"], "sdk discover.top_tracks by likes")
        for kind, (query, key) in e["search"].items():
            res = c.discover.search(query, type=kind)
            found = [getattr(r, "title", None) or getattr(r, "name", None) or getattr(r, "did", None) for r in res.results]
            found += [getattr(r, "did", None) for r in res.results]
            check(key in found and res.counts[kind] >= 1, f"sdk discover.search type={kind} finds {key!r}")
        pl = c.playlists.get(e["playlist"]["id"])
        check(pl.name == e["playlist"]["name"] and [t.id for t in pl.tracks] == e["playlist"]["track_ids"], "sdk playlists.get")
        mine = c.playlists.by_artist(e["playlist"]["owner_did"])
        check([p.id for p in mine] == [e["playlist"]["id"]], "sdk playlists.by_artist")
        tags = c.discover.search("light", type="tags")
        check(tags.results == [] and tags.counts.get("tags") == 0, "sdk discover.search type=tags (none exist)")
        check(c.tags.list() == [], "sdk tags.list (no tags on the network)")
        out = c.tracks.download(e["download"]["id"], work / "sdk-download.bin")
        want = Path(e["download"]["blob_path"]).read_bytes()
        check(out.read_bytes() == want, f"sdk tracks.download bytes equal the PDS blob ({len(want)} bytes)")


def cli(api: str, e: dict, work: Path) -> None:
    exe = str(Path(sys.executable).with_name("plyrfm"))
    env = {**os.environ, "PLYR_API_URL": api, "PLYR_TOKEN": "not-a-plyr-session", "COLUMNS": "200", "NO_COLOR": "1"}

    def run(*args: str) -> str:
        p = subprocess.run([exe, *args], env=env, cwd=work, capture_output=True, text=True, timeout=120)
        if p.returncode != 0:
            raise SystemExit(f"FAIL: plyrfm {' '.join(args)} exited {p.returncode}\n{p.stdout}\n{p.stderr}")
        return p.stdout

    first = e["tracks"][0]
    out = run("tracks", "list", "--limit", "20")
    check(all(t["title"] in out for t in e["tracks"]), "cli tracks list")
    out = run("tracks", "get", str(first["id"]))
    check(first["title"] in out and f"id: {first['id']}" in out, "cli tracks get <id>")
    out = run("tracks", "get", first["uri"])
    check(first["title"] in out and first["uri"] in out, "cli tracks get <at-uri>")
    out = run("discover", "top")
    check(all(str(i) in out for i in e["top"]), "cli discover top")
    for kind, (query, key) in e["search"].items():
        out = run("discover", "search", query, "--type", kind)
        check(e["search_cli"][kind] in out, f"cli discover search --type {kind}", out)
    out = run("discover", "search", "light", "--type", "tags")
    check("no results found" in out, "cli discover search --type tags")
    out = run("playlists", "get", e["playlist"]["id"])
    check(e["playlist"]["name"] in out, "cli playlists get")
    out = run("tags", "list")
    check("no tags found" in out, "cli tags list")
    target = work / "cli-download.bin"
    run("tracks", "download", str(e["download"]["id"]), "--output", str(target))
    check(target.read_bytes() == Path(e["download"]["blob_path"]).read_bytes(), "cli tracks download bytes equal the PDS blob")


async def mcp(api: str, e: dict, work: Path) -> None:
    from fastmcp import Client
    from fastmcp.client.transports import StdioTransport

    exe = str(Path(sys.executable).with_name("plyrfm-mcp"))
    env = {**os.environ, "PLYR_API_URL": api, "PLYR_TOKEN": "not-a-plyr-session"}
    transport = StdioTransport(command=exe, args=[], env=env, cwd=str(work), keep_alive=False)
    first = e["tracks"][0]
    async with Client(transport) as c:
        tools = {t.name for t in await c.list_tools()}
        check({"list_tracks", "get_track", "search", "top_tracks", "get_playlist"} <= tools, "mcp lists the tools")

        def result(r):  # structured content of a tool call: lists are wrapped in {"result": ...}
            check(not r.is_error, "mcp call succeeded")
            sc = r.structured_content or {}
            return sc.get("result", sc)

        listed = result(await c.call_tool("list_tracks", {"limit": 50}))
        check([t["title"] for t in listed] == [t["title"] for t in e["tracks"]], "mcp list_tracks")
        got = result(await c.call_tool("get_track", {"track_id": first["id"]}))
        check(got["id"] == first["id"] and got["title"] == first["title"], "mcp get_track(id)")
        got = result(await c.call_tool("get_track", {"track_id": first["uri"]}))
        check(got["id"] == first["id"], "mcp get_track(at-uri)")
        found = result(await c.call_tool("search", {"query": e["search"]["tracks"][0]}))
        check(any(r.get("title") == e["search"]["tracks"][1] for r in found["results"]), "mcp search")
        top = result(await c.call_tool("top_tracks", {"limit": 10}))
        check([t["id"] for t in top] == e["top"], "mcp top_tracks")
        pl = result(await c.call_tool("get_playlist", {"playlist_id": e["playlist"]["id"]}))
        check([t["id"] for t in pl["tracks"]] == e["playlist"]["track_ids"], "mcp get_playlist")


def main() -> None:
    e = json.loads(Path(sys.argv[1]).read_text())
    api = e["api_url"]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)  # no stray .env is read from here
        os.chdir(work)
        raw_shapes(api, e)
        sdk(api, e, work)
        cli(api, e, work)
        asyncio.run(mcp(api, e, work))
    print("ALL CHECKS PASSED", flush=True)


if __name__ == "__main__":
    main()
