#!/usr/bin/env python3
"""A local Jetstream v1 for benchmarks: serves a file of Jetstream v1 JSON lines, followed as it
grows (like `tail -f`), as websocket text frames on 127.0.0.1, standard library only.

    bench/jetstream_tail.py FILE PORT

A client's `cursor` (µs) skips the lines with an earlier `time_us`; everything after is sent as
it is appended. Client frames (pings, closes) are read and dropped; a pong is not required by
the indexer. Not for tests: the tests' Jetstream is `plyr_e2e::jetstream_server`.
"""
import base64
import hashlib
import json
import socket
import sys
import threading
import time
import urllib.parse

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def frame(text: bytes) -> bytes:
    n = len(text)
    if n < 126:
        head = bytes([0x81, n])
    elif n < 65536:
        head = bytes([0x81, 126]) + n.to_bytes(2, "big")
    else:
        head = bytes([0x81, 127]) + n.to_bytes(8, "big")
    return head + text


def serve(conn: socket.socket, path: str) -> None:
    request = b""
    while b"\r\n\r\n" not in request:
        chunk = conn.recv(4096)
        if not chunk:
            return
        request += chunk
    lines = request.decode("latin-1").split("\r\n")
    target = lines[0].split(" ")[1]
    headers = {k.strip().lower(): v.strip() for k, v in (l.split(":", 1) for l in lines[1:] if ":" in l)}
    key = headers.get("sec-websocket-key", "")
    accept = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()
    conn.sendall(
        (
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Accept: {accept}\r\n\r\n"
        ).encode()
    )
    query = urllib.parse.parse_qs(urllib.parse.urlparse(target).query)
    cursor = int(query.get("cursor", ["0"])[0] or 0)
    threading.Thread(target=drain, args=(conn,), daemon=True).start()
    with open(path, "rb") as f:
        pending = b""
        while True:
            chunk = f.readline()
            if not chunk:
                time.sleep(0.005)
                continue
            pending += chunk
            if not pending.endswith(b"\n"):
                continue
            line, pending = pending.strip(), b""
            if not line:
                continue
            if json.loads(line).get("time_us", 0) < cursor:
                continue
            try:
                conn.sendall(frame(line))
            except OSError:
                return


def drain(conn: socket.socket) -> None:
    try:
        while conn.recv(65536):
            pass
    except OSError:
        pass


def main() -> None:
    path, port = sys.argv[1], int(sys.argv[2])
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", port))
    server.listen()
    while True:
        conn, _ = server.accept()
        threading.Thread(target=serve, args=(conn, path), daemon=True).start()


if __name__ == "__main__":
    main()
