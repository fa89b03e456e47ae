#!/usr/bin/env python3
"""Builds the committed seed corpora of the fuzz targets from the generator's output.

    cargo build -p plyr-gen --bin plyr-gen && G=target/debug/plyr-gen && mkdir -p /tmp/fz
    $G jetstream --events 400 --seed 7 -o /tmp/fz/js.jsonl
    $G firehose --frames 400 --plyr-share 0.5 --preload 8 --other-repos 10 --seed 7 \
        -o /tmp/fz/fh.bin --keys /tmp/fz/fh-keys.json
    $G repos --repos 12 --records-per-repo 5 --seed 7 -o /tmp/fz/repos
    python3 fuzz/scripts/make-corpus.py /tmp/fz

Writes fuzz/corpus/{jetstream_line,record_views,firehose_frames,car}/ and fuzz/keys.json. Seeds
are named by content hash (as libFuzzer names what it finds), so reruns are idempotent.
"""
import glob
import hashlib
import json
import os
import struct
import sys

SRC = sys.argv[1]
FUZZ = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")


def write(target, data):
    d = os.path.join(FUZZ, "corpus", target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, hashlib.sha1(data).hexdigest()), "wb") as f:
        f.write(data)


# --- Jetstream: the first two lines of every (kind, collection, operation), a few as v2 frames,
# and the hostile values of issue 18 on every collection.
lines = open(os.path.join(SRC, "js.jsonl")).read().splitlines()
seen = {}
picked = []
for line in lines:
    v = json.loads(line)
    c = v.get("commit", {})
    key = (v["kind"], c.get("collection"), c.get("operation"))
    if seen.get(key, 0) < 2:
        seen[key] = seen.get(key, 0) + 1
        picked.append(v)


def v2(v, seq):
    from datetime import datetime, timezone
    t = datetime.fromtimestamp(v["time_us"] / 1e6, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    p = {"$type": "network.bsky.jetstream.subscribeEvents#" + v["kind"], "seq": seq, "did": v["did"], "time": t}
    if v["kind"] == "commit":
        p.update(v["commit"])
    else:
        p[v["kind"]] = v[v["kind"]]
    return {"$type": "message", "payload": p}


seeds = [json.dumps(v, separators=(",", ":")) for v in picked]
seeds += [json.dumps(v2(v, i + 1), separators=(",", ":")) for i, v in enumerate(picked[:6])]
by_collection = {}
for v in picked:
    c = v.get("commit", {})
    if c.get("operation") == "create" and c["collection"] not in by_collection:
        by_collection[c["collection"]] = v
for collection, v in by_collection.items():
    for date in ["9999-12-31T23:59:59Z", "1000-01-01T00:00:00Z", "0000-01-01T00:00:00+14:00"]:
        h = json.loads(json.dumps(v))
        h["commit"]["record"]["createdAt"] = date
        seeds.append(json.dumps(h, separators=(",", ":")))
    record = v["commit"]["record"]
    for field, value in record.items():
        if isinstance(value, str) and field not in ("$type", "createdAt", "updatedAt"):
            h = json.loads(json.dumps(v))
            h["commit"]["record"][field] = value + "\u0000"
            seeds.append(json.dumps(h, separators=(",", ":")))
            break
identity = next(v for v in picked if v["kind"] == "identity")
nul = json.loads(json.dumps(identity))
nul["identity"]["handle"] = "a\u0000.example.com"
seeds.append(json.dumps(nul))
for s in seeds:
    write("jetstream_line", s)
    write("record_views", s)

# --- Firehose: the first commit of each repo (single frames), then pairs of consecutive commits
# of one repo (the chain), and every non-commit frame kind present.
data = open(os.path.join(SRC, "fh.bin"), "rb").read()
frames = []
i = 0
while i + 4 <= len(data):
    (n,) = struct.unpack(">I", data[i : i + 4])
    frames.append(data[i + 4 : i + 4 + n])
    i += 4 + n


def prefixed(fs):
    return b"".join(struct.pack(">I", len(f)) + f for f in fs)


def header(f):
    # The header map is small; its `t` text is enough to tell the kind.
    for t in (b"#commit", b"#identity", b"#account", b"#sync", b"#info"):
        if t in f[:32]:
            return t.decode()
    return "?"


firsts, kinds = {}, set()
for idx, f in enumerate(frames):
    t = header(f)
    if t != "#commit" and t not in kinds:
        kinds.add(t)
        write("firehose_frames", prefixed([f]))
for idx, f in enumerate(frames[:120]):
    if header(f) == "#commit" and len(f) < 6000:
        write("firehose_frames", prefixed([f]))
    if len(os.listdir(os.path.join(FUZZ, "corpus", "firehose_frames"))) >= 24:
        break
write("firehose_frames", prefixed(frames[:6]))
write("firehose_frames", prefixed(frames[10:14]))

# --- CARs: every generated repo.
for car in sorted(glob.glob(os.path.join(SRC, "repos", "*.car"))):
    write("car", open(car, "rb").read())

# --- The keys the seeds are signed with.
keys = json.load(open(os.path.join(SRC, "fh-keys.json")))
keys.update(json.load(open(os.path.join(SRC, "repos", "keys.json"))))
with open(os.path.join(FUZZ, "keys.json"), "w") as f:
    json.dump(dict(sorted(keys.items())), f, indent=1)
    f.write("\n")
