"""Operations per second of ``solidb_odm.Client`` against a bare socket loop.

Run ``python benchmarks/client_bench.py``. It starts its own throw-away
server, measures ping, insert, get, update, a query returning 100 documents
and a bulk insert of 10,000 documents through our client, then the same
operations through the simplest possible socket + msgpack loop written
below (the floor: no pool, no error mapping, no checks), and prints both
with the ratio ours / bare. A ratio near 1.0 means the client adds little
on top of the wire.
"""

from __future__ import annotations

import argparse
import socket
import struct
import sys
import time
from typing import Any, Callable, Dict, List, Tuple

import msgpack

from solidb_odm import Client
from solidb_odm.testing import SoliDBServer

DB = "bench"
QUERY = "FOR d IN seed LIMIT 100 RETURN d"
BULK_SIZE = 10_000
_HEADER = struct.Struct(">I")
_MAGIC = b"solidb-drv-v1\x00"


class BareConnection:
    """The floor: one socket, pack, send, read exactly one frame, unpack."""

    def __init__(self, host: str, port: int) -> None:
        self.sock = socket.create_connection((host, port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.first = True

    def call(self, message: Dict[str, Any]) -> Dict[str, Any]:
        payload = msgpack.packb(message)
        frame = _HEADER.pack(len(payload)) + payload
        if self.first:
            frame, self.first = _MAGIC + frame, False
        self.sock.sendall(frame)
        (length,) = _HEADER.unpack(self._read(4))
        response: Dict[str, Any] = msgpack.unpackb(self._read(length), raw=False)
        if response.get("status") == "error":
            raise RuntimeError(response["error"])
        return response

    def _read(self, size: int) -> bytes:
        buf = bytearray()
        while len(buf) < size:
            chunk = self.sock.recv(size - len(buf))
            if not chunk:
                raise ConnectionError("server closed the connection")
            buf += chunk
        return bytes(buf)

    def close(self) -> None:
        self.sock.close()


def measure_pair(
    ours: Callable[[int], Any], bare: Callable[[int], Any], seconds: float, rounds: int = 4
) -> Tuple[float, float]:
    """Ops per second of both, measured in alternating slices.

    Both run on one small machine next to the server, so the rate drifts
    (compactions, caches, CPU frequency); alternating short slices makes the
    drift hit both sides alike instead of favouring whichever ran first.
    """
    ours(-1)  # warm-up, not counted
    bare(-1)
    counts = [0, 0]
    elapsed = [0.0, 0.0]
    for _ in range(rounds):
        for side, fn in enumerate((ours, bare)):
            started = time.perf_counter()
            deadline = started + seconds / rounds
            n = 0
            while n < 1 or time.perf_counter() < deadline:
                fn(counts[side] + n)
                n += 1
            elapsed[side] += time.perf_counter() - started
            counts[side] += n
    return counts[0] / elapsed[0], counts[1] / elapsed[1]


def bulk_docs(tag: str) -> List[Dict[str, Any]]:
    return [{"tag": tag, "i": i, "name": f"user-{i}", "score": i * 0.5} for i in range(BULK_SIZE)]


def ours_ops(client: Client) -> Dict[str, Callable[[int], Any]]:
    docs = bulk_docs("ours")
    return {
        "ping": lambda i: client.ping(),
        "insert": lambda i: client.insert(DB, "ours", {"i": i, "name": "x"}),
        "get": lambda i: client.get(DB, "seed", "k00042"),
        "update": lambda i: client.update(DB, "seed", "k00007", {"n": i}),
        "query (100 docs)": lambda i: client.query(DB, QUERY),
        f"bulk insert ({BULK_SIZE:,})": lambda i: client.bulk_insert(DB, "bulk_ours", docs),
    }


def bare_ops(conn: BareConnection) -> Dict[str, Callable[[int], Any]]:
    docs = bulk_docs("bare")
    return {
        "ping": lambda i: conn.call({"cmd": "ping"}),
        "insert": lambda i: conn.call({"cmd": "insert", "database": DB, "collection": "bare",
                                       "document": {"i": i, "name": "x"}}),
        "get": lambda i: conn.call({"cmd": "get", "database": DB, "collection": "seed",
                                    "key": "k00042"}),
        "update": lambda i: conn.call({"cmd": "update", "database": DB, "collection": "seed",
                                       "key": "k00007", "document": {"n": i}, "merge": True}),
        "query (100 docs)": lambda i: conn.call({"cmd": "query", "database": DB,
                                                 "sdbql": QUERY}),
        f"bulk insert ({BULK_SIZE:,})": lambda i: conn.call(
            {"cmd": "bulk_insert", "database": DB, "collection": "bulk_bare",
             "documents": docs}),
    }


def run(seconds: float) -> List[Tuple[str, float, float]]:
    with SoliDBServer() as server:
        client = server.client()
        bare = BareConnection(server.host, server.port)
        try:
            bare.call({"cmd": "auth", "database": "_system", "username": server.username,
                       "password": server.password})
            client.create_database(DB)
            for name in ("seed", "ours", "bare", "bulk_ours", "bulk_bare"):
                client.create_collection(DB, name)
            client.bulk_insert(DB, "seed", [{"_key": f"k{i:05d}", "i": i, "name": f"n{i}"}
                                            for i in range(1000)])
            ours, floor = ours_ops(client), bare_ops(bare)
            rows = []
            for name in ours:
                ours_rate, bare_rate = measure_pair(ours[name], floor[name], seconds)
                rows.append((name, ours_rate, bare_rate))
                print(f"  measured {name}", file=sys.stderr, flush=True)
            return rows
        finally:
            bare.close()
            client.close()


def print_table(rows: List[Tuple[str, float, float]]) -> None:
    header = f"| {'operation':<22} | {'ours ops/s':>11} | {'bare ops/s':>11} | {'ours/bare':>9} |"
    print(header)
    print(f"|{'-' * 24}|{'-' * 12}:|{'-' * 12}:|{'-' * 10}:|")
    for name, ours, bare in rows:
        print(f"| {name:<22} | {ours:>11,.1f} | {bare:>11,.1f} | {ours / bare:>9.2f} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0,
                        help="time spent on each operation, per implementation")
    args = parser.parse_args()
    started = time.perf_counter()
    rows = run(args.seconds)
    print_table(rows)
    print(f"\n(single thread, one connection each; total {time.perf_counter() - started:.1f}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
