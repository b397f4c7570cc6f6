"""Our low-level client against a bare socket loop and the official Python client.

Run ``python benchmarks/client_bench.py`` (``--tiny`` for a few-second smoke
run). It starts its own throw-away server, pins itself and the server to
different CPUs (``_pinning.py``), and measures ping, insert, get, update, a
query returning 100 documents and a bulk insert through:

- our blocking ``Client``;
- our ``AsyncClient``, one ``await`` at a time, on asyncio (and on uvloop
  when it is installed);
- the simplest possible socket + msgpack loop written below (the floor: no
  pool, no error mapping, no checks);
- the official Python client, when ``SOLIDB_OFFICIAL_CLIENT`` names the
  directory holding its ``solidb`` package (it is never vendored here). Its
  pool authenticates one socket only, so it runs with ``pool_size=1``.

Every variant of an operation runs in interleaved slices, so the machine's
drift hits all of them alike. Ratios are throughputs, ours divided by the
other (1.0: as fast; below 1.0: slower). Client CPU time per operation
(``time.process_time``) is printed too: the server's share of the wall time
is the same for every variant, so CPU shows the client's own cost with less
noise than wall time.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import struct
import sys
import time
from collections.abc import Awaitable
from typing import Any, Callable, Dict, List, Optional, Tuple

import msgpack

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _pinning import pin

from solidb_odm import AsyncClient
from solidb_odm.testing import SoliDBServer

try:  # measured too when installed (pip install solidb-odm[uvloop])
    import uvloop
except ImportError:  # pragma: no cover
    uvloop = None

DB = "bench"
QUERY = "FOR d IN seed LIMIT 100 RETURN d"
_HEADER = struct.Struct(">I")
_MAGIC = b"solidb-drv-v1\x00"
OFFICIAL_ENV = "SOLIDB_OFFICIAL_CLIENT"

Op = Callable[[int], Any]


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


class Variant:
    """One implementation of one operation, with the time and CPU it has used."""

    def __init__(self, name: str, fn: Op, loop: Optional[asyncio.AbstractEventLoop] = None,
                 afn: Optional[Callable[[int], Awaitable[Any]]] = None) -> None:
        self.name = name
        self.fn = fn
        self.loop = loop
        self.afn = afn
        self.ops = 0
        self.wall = 0.0
        self.cpu = 0.0

    def _slice(self, seconds: float, start: int) -> int:
        if self.loop is not None and self.afn is not None:
            return self.loop.run_until_complete(self._aslice(seconds, start))
        fn = self.fn
        deadline = time.perf_counter() + seconds
        n = 0
        while n < 1 or time.perf_counter() < deadline:
            fn(start + n)
            n += 1
        return n

    async def _aslice(self, seconds: float, start: int) -> int:
        afn = self.afn
        assert afn is not None
        deadline = time.perf_counter() + seconds
        n = 0
        while n < 1 or time.perf_counter() < deadline:
            await afn(start + n)
            n += 1
        return n

    def measure(self, seconds: float) -> None:
        wall, cpu = time.perf_counter(), time.process_time()
        self.ops += self._slice(seconds, self.ops)
        self.wall += time.perf_counter() - wall
        self.cpu += time.process_time() - cpu

    def warm(self) -> None:
        self._slice(0.0, -1_000_000)

    @property
    def us(self) -> float:
        """Wall µs per operation."""
        return self.wall / self.ops * 1e6 if self.ops else float("nan")

    @property
    def cpu_us(self) -> float:
        """Client CPU µs per operation."""
        return self.cpu / self.ops * 1e6 if self.ops else float("nan")


def bulk_docs(tag: str, size: int) -> List[Dict[str, Any]]:
    return [{"tag": tag, "i": i, "name": f"user-{i}", "score": i * 0.5} for i in range(size)]


def sdk_ops(client: Any, tag: str, update_key: str, bulk: int) -> Dict[str, Op]:
    """The operations through a client with the reference SDK's methods (ours, the official).

    Each variant updates its own seed document, so none waits behind another's writes.
    """
    docs = bulk_docs(tag, bulk)
    bulk_insert = getattr(client, "bulk_insert", None)
    if bulk_insert is None:
        # the official client has no bulk_insert method: its one request function, as a
        # user would call it
        def bulk_insert(database: str, collection: str, documents: Any) -> Any:
            return client._send_command("bulk_insert", database=database,
                                        collection=collection, documents=documents)
    return {
        "ping": lambda i: client.ping(),
        "get": lambda i: client.get(DB, "seed", "k00042"),
        "insert": lambda i: client.insert(DB, tag, {"i": i, "name": "x"}),
        "update": lambda i: client.update(DB, "seed", update_key, {"n": i}),
        "query (100 docs)": lambda i: client.query(DB, QUERY),
        "bulk insert": lambda i: bulk_insert(DB, f"bulk_{tag}", docs),
    }


def async_ops(client: AsyncClient, tag: str, bulk: int) -> Dict[str, Callable[[int], Awaitable[Any]]]:
    docs = bulk_docs(tag, bulk)
    return {
        "ping": lambda i: client.ping(),
        "get": lambda i: client.get(DB, "seed", "k00042"),
        "insert": lambda i: client.insert(DB, tag, {"i": i, "name": "x"}),
        "update": lambda i: client.update(DB, "seed", "k00008", {"n": i}),
        "query (100 docs)": lambda i: client.query(DB, QUERY),
        "bulk insert": lambda i: client.bulk_insert(DB, f"bulk_{tag}", docs),
    }


def bare_ops(conn: BareConnection, bulk: int) -> Dict[str, Op]:
    docs = bulk_docs("bare", bulk)
    return {
        "ping": lambda i: conn.call({"cmd": "ping"}),
        "get": lambda i: conn.call({"cmd": "get", "database": DB, "collection": "seed",
                                    "key": "k00042"}),
        "insert": lambda i: conn.call({"cmd": "insert", "database": DB, "collection": "bare",
                                       "document": {"i": i, "name": "x"}}),
        "update": lambda i: conn.call({"cmd": "update", "database": DB, "collection": "seed",
                                       "key": "k00009", "document": {"n": i}, "merge": True}),
        "query (100 docs)": lambda i: conn.call({"cmd": "query", "database": DB,
                                                 "sdbql": QUERY}),
        "bulk insert": lambda i: conn.call(
            {"cmd": "bulk_insert", "database": DB, "collection": "bulk_bare",
             "documents": docs}),
    }


def load_official(host: str, port: int, username: str, password: str) -> Optional[Any]:
    """The official client, connected and authenticated, or None when not supplied."""
    where = os.environ.get(OFFICIAL_ENV)
    if not where:
        return None
    sys.path.insert(0, where)
    import solidb  # type: ignore[import-not-found]

    client = solidb.Client(host, port, pool_size=1)  # its pool authenticates one socket
    client.connect()
    client.auth("_system", username, password)
    return client


def run(seconds: float, rounds: int, bulk: int) -> Tuple[str, Dict[str, List[Variant]], bool]:
    with SoliDBServer() as server:
        placement = pin(server.process.pid if server.process else None)
        client = server.client(pool_size=1)
        bare = BareConnection(server.host, server.port)
        official = load_official(server.host, server.port, server.username, server.password)
        loops: Dict[str, asyncio.AbstractEventLoop] = {"asyncio": asyncio.new_event_loop()}
        if uvloop is not None:
            loops["uvloop"] = uvloop.new_event_loop()
        aclients: List[Tuple[asyncio.AbstractEventLoop, AsyncClient]] = []
        try:
            bare.call({"cmd": "auth", "database": "_system", "username": server.username,
                       "password": server.password})
            client.create_database(DB)
            names = ["seed", "ours", "bare", "official", "bulk_ours", "bulk_bare",
                     "bulk_official"]
            names += [f"{tag}{suffix}" for tag in loops for suffix in ("", "_x")]
            names += [f"bulk_{tag}" for tag in loops]
            for name in names:
                client.create_collection(DB, name)
            client.bulk_insert(DB, "seed", [{"_key": f"k{i:05d}", "i": i, "name": f"n{i}"}
                                            for i in range(1000)])
            table: Dict[str, Dict[str, Op]] = {
                "ours": sdk_ops(client, "ours", "k00007", bulk), "bare": bare_ops(bare, bulk)}
            if official is not None:
                table["official"] = sdk_ops(official, "official", "k00010", bulk)
            atable: Dict[str, Tuple[asyncio.AbstractEventLoop,
                                    Dict[str, Callable[[int], Awaitable[Any]]]]] = {}
            for loop_name, loop in loops.items():
                aclient = AsyncClient(server.host, server.port, pool_size=1)
                loop.run_until_complete(aclient.auth("_system", server.username, server.password))
                aclients.append((loop, aclient))
                atable[f"ours async ({loop_name})"] = (loop, async_ops(aclient, loop_name, bulk))
            results: Dict[str, List[Variant]] = {}
            for op in table["ours"]:
                variants = [Variant(name, ops[op]) for name, ops in table.items()]
                variants += [Variant(name, lambda i: None, loop=loop, afn=ops[op])
                             for name, (loop, ops) in atable.items()]
                for variant in variants:
                    variant.warm()
                for _ in range(rounds):
                    for variant in variants:
                        variant.measure(seconds / rounds)
                results[op] = variants
                print(f"  measured {op}", file=sys.stderr, flush=True)
            return placement, results, official is not None
        finally:
            for loop, aclient in aclients:
                loop.run_until_complete(aclient.close())
            for loop in loops.values():
                loop.close()
            if official is not None:
                official.close()
            bare.close()
            client.close()


def print_tables(results: Dict[str, List[Variant]], has_official: bool) -> None:
    def by(variants: List[Variant]) -> Dict[str, Variant]:
        return {v.name: v for v in variants}

    print("\nBlocking client (ratios: throughput, ours / other)\n")
    head = ["operation", "ours µs", "bare µs", "official µs", "ours/bare", "ours/official",
            "CPU µs ours", "CPU µs bare", "CPU µs official"]
    print("| " + " | ".join(head) + " |")
    print("|---|" + "---:|" * (len(head) - 1))
    for op, variants in results.items():
        v = by(variants)
        ours, bare = v["ours"], v["bare"]
        off = v.get("official")
        cells = [op, f"{ours.us:.1f}", f"{bare.us:.1f}", f"{off.us:.1f}" if off else "-",
                 f"{bare.us / ours.us:.2f}", f"{off.us / ours.us:.2f}" if off else "-",
                 f"{ours.cpu_us:.1f}", f"{bare.cpu_us:.1f}", f"{off.cpu_us:.1f}" if off else "-"]
        print("| " + " | ".join(cells) + " |")
    if not has_official:
        print("\nofficial client: not supplied "
              f"(set {OFFICIAL_ENV} to the directory holding its solidb package)")

    loops = [name for name in by(next(iter(results.values()))) if name.startswith("ours async")]
    if not loops:
        return
    print("\nAsyncClient, one await at a time (ratios: throughput)\n")
    head = ["operation"]
    for name in loops:
        loop = name[len("ours async ("):-1]
        head += [f"{loop} µs", f"{loop}/bare", f"{loop}/official", f"{loop}/sync",
                 f"CPU µs {loop}"]
    print("| " + " | ".join(head) + " |")
    print("|---|" + "---:|" * (len(head) - 1))
    for op, variants in results.items():
        v = by(variants)
        ours, bare = v["ours"], v["bare"]
        off = v.get("official")
        cells = [op]
        for name in loops:
            a = v[name]
            cells += [f"{a.us:.1f}", f"{bare.us / a.us:.2f}",
                      f"{off.us / a.us:.2f}" if off else "-", f"{ours.us / a.us:.2f}",
                      f"{a.cpu_us:.1f}"]
        print("| " + " | ".join(cells) + " |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0,
                        help="time spent on each operation, per variant")
    parser.add_argument("--rounds", type=int, default=8, help="interleaved slices per variant")
    parser.add_argument("--bulk", type=int, default=10_000, help="documents per bulk insert")
    parser.add_argument("--tiny", action="store_true",
                        help="a few seconds in all (CI: the script still runs)")
    args = parser.parse_args()
    if args.tiny:
        args.seconds, args.rounds, args.bulk = 0.05, 2, 100
    started = time.perf_counter()
    placement, results, has_official = run(args.seconds, args.rounds, args.bulk)
    print(f"\nclient_bench ({placement}; {args.rounds} interleaved slices, "
          f"{args.seconds:g}s per variant and operation; bulk insert of {args.bulk:,} documents; "
          "one connection each)")
    print_tables(results, has_official)
    print(f"\n(total {time.perf_counter() - started:.1f}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
