"""Frame limits, broken connections, timeouts and threads, against real servers.

Servers that a test kills or restarts are private to that test (``own_server``);
everything else uses the session's server.
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from typing import Any, Dict, List, Optional

import msgpack
import pytest

from solidb_odm import Client, protocol
from solidb_odm import exceptions as exc
from solidb_odm.testing import SoliDBServer

#: A read-only query that keeps the server busy for a few seconds.
SLOW_QUERY = "FOR i IN 1..6000 LET s = SUM(FOR j IN 1..6000 RETURN i * j) FILTER s < 0 RETURN s"


def raw_connection(server: SoliDBServer) -> socket.socket:
    """A bare socket that has sent the magic; for checking what the server does."""
    sock = socket.create_connection((server.host, server.port), timeout=10)
    sock.sendall(protocol.MAGIC + protocol.encode_frame({"cmd": "ping"}))
    assert read_frame(sock)["status"] == "pong"
    return sock


def read_frame(sock: socket.socket) -> Dict[str, Any]:
    decoder = protocol.FrameDecoder()
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            raise EOFError("server closed the connection")
        decoder.feed(chunk)
        payload = decoder.next_payload()
        if payload is not None:
            return protocol.decode_payload(payload)


def closed_by_peer(sock: socket.socket) -> bool:
    sock.settimeout(5)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


def raw_auth(sock: socket.socket, server: SoliDBServer) -> None:
    sock.sendall(
        protocol.encode_frame(
            {"cmd": "auth", "database": "_system", "username": server.username,
             "password": server.password}
        )
    )
    assert read_frame(sock)["status"] == "ok"


# ---------------------------------------------------------------------------
# Frame size limits
# ---------------------------------------------------------------------------


def test_oversized_request_is_refused_without_being_sent(
    solidb_server: SoliDBServer, db: str
) -> None:
    client = solidb_server.client(pool_size=1)
    client.triggers.routing(route=False)  # count the insert's frames alone, no trigger lookup
    try:
        client.create_collection(db, "big")
        [conn] = client._pool._idle
        sent: List[int] = []
        assert conn._sock is not None
        real_sock: socket.socket = conn._sock

        class CountingSocket:
            """Counts the bytes handed to the kernel; the server stays real."""

            def __getattr__(self, name: str) -> Any:
                return getattr(real_sock, name)

            def sendall(self, data: bytes) -> None:
                sent.append(len(data))
                real_sock.sendall(data)

            def send(self, data: bytes) -> int:
                sent.append(len(data))
                return real_sock.send(data)

        conn._sock = CountingSocket()  # type: ignore[assignment]
        blob = "x" * (protocol.MAX_MESSAGE_SIZE + 1)
        with pytest.raises(exc.MessageTooLargeError, match="limit"):
            client.insert(db, "big", {"blob": blob})
        assert sent == []
        # The same connection is still in the pool and still works.
        assert client._pool._idle == [conn] and not conn.broken
        assert client.insert(db, "big", {"small": 1})["small"] == 1
        assert len(sent) == 1
    finally:
        client.close()


def test_a_request_just_under_the_limit_goes_through(
    solidb_client: Client, db: str, col: str
) -> None:
    blob = "y" * (4 * 1024 * 1024)
    stored = solidb_client.insert(db, col, {"blob": blob})
    assert len(solidb_client.get(db, col, stored["_key"])["blob"]) == len(blob)


def test_unauthenticated_connection_has_a_64_kib_limit(solidb_server: SoliDBServer) -> None:
    """Client side: before auth, frames over 64 KiB are refused before sending."""
    with Client(solidb_server.host, solidb_server.port) as client:
        with pytest.raises(exc.MessageTooLargeError):
            client.auth("_system", "admin", "p" * (70 * 1024))
        assert client.ping() > 0


def test_server_refuses_a_large_frame_before_auth_and_hangs_up(
    solidb_server: SoliDBServer,
) -> None:
    """Server fact: pre-auth frames over 64 KiB get MessageTooLarge, then EOF."""
    sock = raw_connection(solidb_server)
    with sock:
        sock.sendall(struct.pack(">I", 64 * 1024 + 1))
        response = read_frame(sock)
        assert response == {"status": "error", "error": "MessageTooLarge"}
        assert closed_by_peer(sock)


def test_server_refuses_a_frame_over_16_mib_after_auth(solidb_server: SoliDBServer) -> None:
    """Server fact: after auth the limit is 16 MiB; the header alone is judged."""
    sock = raw_connection(solidb_server)
    with sock:
        raw_auth(sock, solidb_server)
        sock.sendall(struct.pack(">I", protocol.MAX_MESSAGE_SIZE + 1))
        response = read_frame(sock)
        assert response == {"status": "error", "error": "MessageTooLarge"}
        assert isinstance(protocol.error_from_server(response["error"]),
                          exc.MessageTooLargeError)
        assert closed_by_peer(sock)


def test_server_answers_requests_in_order_on_one_socket(solidb_server: SoliDBServer) -> None:
    """Server fact: no request ids; pipelined requests are answered FIFO."""
    sock = raw_connection(solidb_server)
    with sock:
        raw_auth(sock, solidb_server)
        frames = b"".join(
            protocol.encode_frame({"cmd": "query", "database": "_system",
                                   "sdbql": "RETURN @i", "bind_vars": {"i": i}})
            for i in range(20)
        )
        sock.sendall(frames)
        decoder = protocol.FrameDecoder()
        answers: List[Any] = []
        while len(answers) < 20:
            decoder.feed(sock.recv(65536))
            while (payload := decoder.next_payload()) is not None:
                answers.append(protocol.decode_payload(payload)["data"])
        assert answers == [[i] for i in range(20)]


def test_server_request_shapes_and_bad_payloads(solidb_server: SoliDBServer) -> None:
    """Server facts: a positional array is a command too; garbage is a ProtocolError.

    Neither closes the connection. The client only ever sends maps.
    """
    def send(sock: socket.socket, payload: bytes) -> Dict[str, Any]:
        sock.sendall(struct.pack(">I", len(payload)) + payload)
        return read_frame(sock)

    sock = raw_connection(solidb_server)
    with sock:
        assert send(sock, msgpack.packb(["ping"]))["status"] == "pong"
        raw_auth(sock, solidb_server)
        assert send(sock, msgpack.packb(["list_databases"]))["data"][0] == "_system"
        for payload in (msgpack.packb(42), b"\xc1\xc1\xc1",
                        msgpack.packb({"cmd": "get", "database": "_system"})):
            response = send(sock, payload)
            assert response["status"] == "error"
            error = protocol.error_from_server(response["error"])
            assert isinstance(error, exc.ProtocolError)
            assert "Deserialization failed" in str(error)
        assert send(sock, msgpack.packb({"cmd": "ping"}))["status"] == "pong"


def test_magic_split_across_writes_is_not_the_driver(solidb_server: SoliDBServer) -> None:
    """Server fact: the protocol is sniffed from one read; the magic must be one write."""
    with socket.create_connection((solidb_server.host, solidb_server.port), timeout=10) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.sendall(protocol.MAGIC[:5])
        time.sleep(0.3)
        sock.sendall(protocol.MAGIC[5:] + protocol.encode_frame({"cmd": "ping"}))
        # Routed to HTTP, whose parser waits for a request line: no pong
        # frame ever comes (a hang-up or an HTTP error would do as well).
        sock.settimeout(2)
        try:
            data = sock.recv(4096)
        except (TimeoutError, ConnectionResetError):
            data = b""
        assert data == b"" or data.startswith(b"HTTP/")


# ---------------------------------------------------------------------------
# Broken connections, restarts, timeouts
# ---------------------------------------------------------------------------


def test_server_killed_mid_request_gives_connection_error_then_recovers(
    own_server: SoliDBServer,
) -> None:
    client = own_server.client(timeout=20.0)
    try:
        client.create_database("crash")
        client.create_collection("crash", "c")
        client.insert("crash", "c", {"v": 1}, key="before")

        outcome: Dict[str, Any] = {}

        def slow() -> None:
            started = time.monotonic()
            try:
                client.query("_system", SLOW_QUERY)
                outcome["result"] = "finished"
            except BaseException as err:
                outcome["error"] = err
            outcome["elapsed"] = time.monotonic() - started

        worker = threading.Thread(target=slow)
        worker.start()
        time.sleep(0.5)
        assert worker.is_alive(), "the slow query finished before the kill"
        own_server.kill()
        worker.join(15)
        assert not worker.is_alive()
        assert isinstance(outcome.get("error"), exc.ConnectionError), outcome
        assert not isinstance(outcome["error"], exc.TimeoutError)
        assert outcome["elapsed"] < 20.0

        # While the server is down, calls fail fast with ConnectionError.
        with pytest.raises(exc.ConnectionError):
            client.get("crash", "c", "before")

        own_server.start()  # same port, same data directory
        assert client.get("crash", "c", "before")["v"] == 1
        assert client.insert("crash", "c", {"v": 2}, key="after")["_key"] == "after"
    finally:
        client.close()


def test_idle_pooled_connections_survive_a_restart(own_server: SoliDBServer) -> None:
    """Dead idle sockets are noticed at checkout; reads and writes both go through."""
    client = own_server.client(pool_size=4)
    try:
        client.create_database("r")
        client.create_collection("r", "c")
        own_server.restart()
        assert client.insert("r", "c", {"v": 1}, key="k")["_key"] == "k"
        assert client.get("r", "c", "k")["v"] == 1
    finally:
        client.close()


class CuttingProxy:
    """A TCP relay to the real server that can hang up instead of relaying an answer.

    Fault injection on the network path, not a fake server: every request
    reaches the real server and is executed there; only its answer is lost.
    """

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self.cut_next_answer = threading.Event()
        self.connections = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                downstream, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            upstream = socket.create_connection(self.target)
            for src, dst, answers in ((downstream, upstream, False),
                                      (upstream, downstream, True)):
                threading.Thread(target=self._pump, args=(src, dst, answers),
                                 daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, answers: bool) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if answers and self.cut_next_answer.is_set():
                    self.cut_next_answer.clear()
                    break
                dst.sendall(data)
        except OSError:
            pass
        for sock in (src, dst):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def close(self) -> None:
        self.listener.close()


def test_write_whose_answer_is_lost_is_not_retried(
    solidb_server: SoliDBServer, solidb_client: Client, db: str, col: str
) -> None:
    """The write ran on the server, its answer was lost: ConnectionError, never a resend."""
    proxy = CuttingProxy(solidb_server.host, solidb_server.port)
    client = Client("127.0.0.1", proxy.port, pool_size=1)
    client.triggers.routing(route=False)  # the cut answer must be the insert's, not a lookup's
    try:
        client.auth("_system", solidb_server.username, solidb_server.password)
        proxy.cut_next_answer.set()
        with pytest.raises(exc.ConnectionError):
            client.insert(db, col, {"v": 1})  # no key: a resend would store a second one
        assert solidb_client.collection_stats(db, col)["document_count"] == 1
        assert proxy.connections == 1
        # The next call reconnects (and re-authenticates) on its own.
        assert client.insert(db, col, {"v": 2})["v"] == 2
        assert proxy.connections == 2
    finally:
        client.close()
        proxy.close()


def test_read_whose_answer_is_lost_is_retried_once(
    solidb_server: SoliDBServer, solidb_client: Client, db: str, col: str
) -> None:
    solidb_client.insert(db, col, {"v": 1}, key="k")
    proxy = CuttingProxy(solidb_server.host, solidb_server.port)
    client = Client("127.0.0.1", proxy.port, pool_size=1)
    try:
        client.auth("_system", solidb_server.username, solidb_server.password)
        proxy.cut_next_answer.set()
        assert client.get(db, col, "k")["v"] == 1
        assert proxy.connections == 2
    finally:
        client.close()
        proxy.close()


def test_request_timeout_closes_the_connection(solidb_server: SoliDBServer) -> None:
    client = solidb_server.client(pool_size=1, timeout=0.3)
    try:
        [conn] = client._pool._idle
        started = time.monotonic()
        with pytest.raises(exc.TimeoutError):
            client.query("_system", SLOW_QUERY)
        assert time.monotonic() - started < 2.0
        assert conn.broken and conn.closed
        # The late answer can never be mistaken for the next one's.
        assert client.query("_system", "RETURN 42") == [42]
    finally:
        client.close()


def test_pool_checkout_times_out_when_every_connection_is_busy(
    solidb_server: SoliDBServer, db: str
) -> None:
    client = solidb_server.client(pool_size=1, pool_timeout=0.2)
    try:
        errors: List[BaseException] = []

        def other_thread() -> None:
            try:
                client.ping()
            except BaseException as err:
                errors.append(err)

        with client._pool.connection():  # the only connection, held by a request
            worker = threading.Thread(target=other_thread)
            worker.start()
            worker.join(5)
        assert len(errors) == 1 and isinstance(errors[0], exc.TimeoutError)
        assert client.ping() > 0
    finally:
        client.close()


def test_transactions_do_not_take_the_pool_s_connections(
    solidb_server: SoliDBServer, db: str
) -> None:
    """A unit of work held for a whole web request must not starve plain requests."""
    client = solidb_server.client(pool_size=1, pool_timeout=0.2)
    try:
        tx_ids = [client.begin_transaction(db) for _ in range(3)]
        results: List[float] = []
        worker = threading.Thread(target=lambda: results.append(client.ping()))
        worker.start()
        worker.join(5)
        assert len(results) == 1  # another thread's plain call still gets a connection
        for tx_id in tx_ids:
            client.rollback_transaction(tx_id)
        assert len(client._pool._idle) == 1  # back to the pool's size, extras closed
    finally:
        client.close()


# ---------------------------------------------------------------------------
# Threads
# ---------------------------------------------------------------------------


def test_eight_threads_get_the_answers_to_their_own_requests(
    solidb_server: SoliDBServer, db: str
) -> None:
    """8 threads x 500 mixed operations on one Client; every answer is checked."""
    client = solidb_server.client(pool_size=4)
    client.create_collection(db, "t")
    threads, per_thread = 8, 500
    failures: List[str] = []
    done = [0] * threads

    def work(t: int) -> None:
        try:
            for i in range(per_thread):
                key = f"t{t}-{i}"
                op = i % 5
                if op == 0:
                    doc = client.insert(db, "t", {"t": t, "i": i}, key=key)
                    assert doc["_key"] == key and doc["t"] == t and doc["i"] == i
                elif op == 1:
                    got = client.get(db, "t", f"t{t}-{i - 1}")
                    assert got["t"] == t and got["i"] == i - 1, got
                elif op == 2:
                    client.update(db, "t", f"t{t}-{i - 2}", {"seen": i})
                    got = client.get(db, "t", f"t{t}-{i - 2}")
                    assert got["seen"] == i and got["t"] == t, got
                elif op == 3:
                    rows = client.query(db, "RETURN {t: @t, i: @i}", {"t": t, "i": i})
                    assert rows == [{"t": t, "i": i}], rows
                else:
                    assert client.ping() > 0
                done[t] += 1
        except BaseException as err:
            failures.append(f"thread {t}: {err!r}")

    try:
        workers = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join(120)
        assert failures == []
        assert done == [per_thread] * threads
        stored = client.query(db, "RETURN LENGTH(FOR d IN `t` RETURN d._key)")[0]
        assert stored == threads * per_thread // 5  # counted, not collection_stats (it can lag)
    finally:
        client.close()


def test_threads_with_transactions_do_not_leak_into_each_other(
    solidb_server: SoliDBServer, db: str
) -> None:
    client = solidb_server.client(pool_size=6)
    client.create_collection(db, "tx")
    errors: List[BaseException] = []

    def work(t: int, commit: bool) -> None:
        try:
            for round_ in range(10):
                tx_id = client.begin_transaction(db)
                for i in range(5):
                    client.insert(db, "tx", {"t": t}, key=f"{t}-{round_}-{i}")
                if commit:
                    client.commit_transaction(tx_id)
                else:
                    client.rollback_transaction(tx_id)
        except BaseException as err:
            errors.append(err)

    try:
        workers = [threading.Thread(target=work, args=(t, t % 2 == 0)) for t in range(6)]
        for w in workers:
            w.start()
        for w in workers:
            w.join(60)
        assert errors == []
        rows: Optional[List[Any]] = client.query(db, "FOR d IN tx RETURN d.t")
        assert rows is not None
        assert sorted(set(rows)) == [0, 2, 4]
        assert len(rows) == 3 * 10 * 5
    finally:
        client.close()


def test_server_stores_a_document_whose_answer_is_over_the_limit_then_hangs_up(
    solidb_server: SoliDBServer, solidb_client: Client, db: str
) -> None:
    """Server fact behind ``protocol.MAX_DOCUMENT_SIZE``: a write just under 16 MiB is stored,
    but its answer (the document plus system fields) is over the limit, so the server hangs up
    without answering, and the stored document can no longer be read through the driver."""
    solidb_client.create_collection(db, "huge")
    sock = raw_connection(solidb_server)
    try:
        raw_auth(sock, solidb_server)
        filler = "x" * (protocol.MAX_MESSAGE_SIZE - 200)
        payload = msgpack.packb({"cmd": "insert", "database": db, "collection": "huge",
                                 "document": {"_key": "big", "f": filler}})
        assert len(payload) < protocol.MAX_MESSAGE_SIZE
        sock.sendall(struct.pack(">I", len(payload)) + payload)
        assert closed_by_peer(sock)  # no answer: the connection is gone
    finally:
        sock.close()
    assert solidb_client.list_page(db, "huge", limit=0)[1] == 1  # but the document was stored
    with pytest.raises(exc.ConnectionError):
        solidb_client.get(db, "huge", "big")
    # The client refuses such a write before sending it.
    with pytest.raises(exc.MessageTooLargeError, match="write limit"):
        solidb_client.insert(db, "huge", {"_key": "big2", "f": filler})


def test_the_socket_blocks_and_the_kernel_enforces_the_deadline() -> None:
    """No Python-level timeout (no poll() per call): SO_RCVTIMEO bounds the wait instead.

    A peer that accepts and never answers: the request fails at its deadline,
    as our TimeoutError, and the connection is closed for good.
    """
    from solidb_odm.client.connection import KERNEL_TIMEOUTS, Connection

    listener = socket.create_server(("127.0.0.1", 0))
    try:
        conn = Connection("127.0.0.1", listener.getsockname()[1], request_timeout=0.3)
        peer, _ = listener.accept()
        try:
            assert conn._sock is not None
            if KERNEL_TIMEOUTS:
                assert conn._sock.gettimeout() is None
            assert conn.usable()
            started = time.monotonic()
            with pytest.raises(exc.TimeoutError):
                conn.request({"cmd": "ping"})
            assert 0.25 <= time.monotonic() - started < 1.0
            assert conn.broken and conn.closed and not conn.usable()
        finally:
            peer.close()
    finally:
        listener.close()


def test_an_idle_connection_the_peer_closed_is_not_usable() -> None:
    from solidb_odm.client.connection import Connection

    listener = socket.create_server(("127.0.0.1", 0))
    try:
        conn = Connection("127.0.0.1", listener.getsockname()[1])
        peer, _ = listener.accept()
        assert conn.usable()
        peer.close()
        deadline = time.monotonic() + 2.0
        while conn.usable() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not conn.usable() and conn.broken
    finally:
        listener.close()
