"""A fault-injecting TCP proxy on loopback, between a client and a real SoliDB server.

Every request reaches the real server and is executed there; the proxy only
tampers with the way back. It reads the client's driver frames to learn which
command each answer belongs to (the protocol answers in order, one request at
a time per connection), and applies a fault to the answers of the commands it
was told to::

    with FaultProxy(server.host, server.port) as proxy:
        client = Client("127.0.0.1", proxy.port)
        proxy.inject(Drop(after=6), on="insert")       # the next insert's answer
        proxy.inject(Latency(0.05), on=None, times=None)  # every answer, until clear()

Faults: :class:`Latency`, :class:`Drop` (reset after N bytes of the answer),
:class:`Truncate` (orderly close after N bytes), :class:`Garbage` (other bytes
instead of the answer), :class:`Stall` (hold the answer), :class:`Drip` (one
byte every X seconds). :class:`HoldRequests` is the one fault on the way in:
it stops reading the client's bytes for a while.

Bounds: the proxy listens on 127.0.0.1 only and connects only to the target
given; every loop checks a deadline and a step count; after ``lifetime``
seconds it closes everything by itself; ``close()`` joins its threads.
Traffic that does not open with the driver magic (HTTP) is relayed as it is.
"""

from __future__ import annotations

import collections
import select
import socket
import struct
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Optional, Union

import msgpack

from solidb_odm.protocol import MAGIC

HEADER = struct.Struct(">I")
CHUNK = 1 << 16
#: Frames announcing more than this are not parsed (relayed raw from there on).
PARSE_LIMIT = 64 * 1024 * 1024
#: How often a blocked loop wakes to look at its deadline.
TICK = 0.05
#: Upper bound on the iterations of any loop (the lifetime bounds them first).
MAX_STEPS = 10_000_000


# ---------------------------------------------------------------------------
# Faults
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Latency:
    """Forward the answer ``seconds`` late."""

    seconds: float


@dataclass(frozen=True)
class Drop:
    """Forward the first ``after`` bytes of the answer, then reset the connection (RST).

    ``after`` is clipped to one byte short of the answer: the answer is never whole.
    """

    after: int = 0


@dataclass(frozen=True)
class Truncate:
    """Forward the first ``keep`` bytes of the answer, then close in order (FIN).

    Clipped like :class:`Drop`. The client sees end-of-stream mid-frame.
    """

    keep: int


@dataclass(frozen=True)
class Garbage:
    """Send ``data`` instead of the answer and keep the connection open."""

    data: bytes


@dataclass(frozen=True)
class Stall:
    """Hold the answer: forward nothing for ``hold`` seconds (or until the client
    hangs up), then close the connection."""

    hold: float = 30.0


@dataclass(frozen=True)
class Drip:
    """Forward the answer one byte every ``interval`` seconds."""

    interval: float


@dataclass(frozen=True)
class HoldRequests:
    """Stop reading from the client for ``seconds`` once its next bytes arrive.

    The rest of a large request then waits in the kernel's buffers and the
    client's send blocks. Matches no command (the frame is not read yet):
    it applies to the next bytes on any connection.
    """

    seconds: float


AnswerFault = Union[Latency, Drop, Truncate, Garbage, Stall, Drip]
Fault = Union[AnswerFault, HoldRequests]


@dataclass
class _Rule:
    fault: Fault
    on: Optional[frozenset[str]]  # None: any command (and unasked answers)
    remaining: Optional[int]  # None: until cleared

    def matches(self, cmd: Optional[str]) -> bool:
        return self.on is None or (cmd is not None and cmd in self.on)


# ---------------------------------------------------------------------------
# Frames
# ---------------------------------------------------------------------------


def frame(payload: bytes) -> bytes:
    """A driver frame around ``payload`` (for building garbage that is well framed)."""
    return HEADER.pack(len(payload)) + payload


def packed_frame(value: Any) -> bytes:
    """A driver frame holding ``value`` as MessagePack."""
    return frame(msgpack.packb(value, use_bin_type=True))


def _take_frame(buffer: bytearray) -> Optional[bytes]:
    """Cut one whole frame off the front of ``buffer``, or None while it is incomplete."""
    if len(buffer) < HEADER.size:
        return None
    (length,) = HEADER.unpack_from(buffer)
    end = HEADER.size + length
    if len(buffer) < end:
        return None
    whole = bytes(buffer[:end])
    del buffer[:end]
    return whole


def _announced(buffer: bytearray) -> int:
    if len(buffer) < HEADER.size:
        return 0
    return int(HEADER.unpack_from(buffer)[0])


def _command_of(payload: bytes) -> str:
    """The ``cmd`` of a request payload; ``"?"`` when it does not say."""
    try:
        value = msgpack.unpackb(payload, raw=False, strict_map_key=False)
    except Exception:  # msgpack raises several unrelated types
        return "?"
    if isinstance(value, dict) and isinstance(value.get("cmd"), str):
        return str(value["cmd"])
    if isinstance(value, list) and value and isinstance(value[0], str):
        return str(value[0])
    return "?"


class _RequestReader:
    """Splits the client's byte stream into commands; decides driver or raw once."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.driver: Optional[bool] = None  # None until the first bytes tell

    def feed(self, data: bytes) -> list[str]:
        if self.driver is False:
            return []
        self.buffer += data
        if self.driver is None:
            if len(self.buffer) < len(MAGIC) and MAGIC.startswith(bytes(self.buffer)):
                return []
            self.driver = self.buffer.startswith(MAGIC)
            if not self.driver:
                self.buffer.clear()
                return []
            del self.buffer[: len(MAGIC)]
        commands: list[str] = []
        for _ in range(MAX_STEPS):
            if _announced(self.buffer) > PARSE_LIMIT:
                self.driver = False  # not a frame this proxy can follow: relay raw
                self.buffer.clear()
                break
            whole = _take_frame(self.buffer)
            if whole is None:
                break
            commands.append(_command_of(whole[HEADER.size :]))
        return commands


# ---------------------------------------------------------------------------
# The proxy
# ---------------------------------------------------------------------------


@dataclass(eq=False)
class Link:
    """One proxied connection: the client's socket and the proxy's to the server."""

    number: int
    client: socket.socket
    server: socket.socket
    pending: collections.deque[str] = field(default_factory=collections.deque)
    driver: Optional[bool] = None
    #: set when the client closed its side (it stopped using this connection)
    client_gone: threading.Event = field(default_factory=threading.Event)
    #: set once both sockets are closed, whoever closed them
    closed: threading.Event = field(default_factory=threading.Event)
    #: the faults applied on this connection, in order, with the command they hit
    faults: list[tuple[Optional[str], Fault]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def close(self, *, reset: bool = False) -> None:
        with self._lock:
            if self.closed.is_set():
                return
            self.closed.set()
        if reset:
            try:  # linger 0: close() sends RST instead of FIN
                self.client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            except OSError:
                pass
        for sock in (self.client, self.server):
            if not reset or sock is self.server:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            try:
                sock.close()
            except OSError:
                pass


class FaultProxy:
    """A threaded relay from ``127.0.0.1:<port>`` to ``host:port`` with switchable faults."""

    def __init__(self, host: str, port: int, *, lifetime: float = 120.0,
                 max_connections: int = 512) -> None:
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError("the fault proxy only relays to a server on loopback")
        self.target = (host, port)
        self.lifetime = lifetime
        self.max_connections = max_connections
        self._expires = time.monotonic() + lifetime
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._rules: list[_Rule] = []
        self._threads: list[threading.Thread] = []
        self.links: list[Link] = []
        #: commands the proxy forwarded to the server, by name
        self.requests: collections.Counter[str] = collections.Counter()
        #: bytes read from clients (all of them were forwarded unless a link broke)
        self.bytes_from_client = 0
        #: bytes read from the server (what reached clients depends on the faults)
        self.bytes_from_server = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.host = "127.0.0.1"
        self.port = int(self._listener.getsockname()[1])
        self._spawn(self._accept_loop, "fault-proxy-accept")

    # -- control ---------------------------------------------------------

    def inject(self, fault: Fault, *, on: Union[str, Iterable[str], None] = None,
               times: Optional[int] = 1) -> None:
        """Apply ``fault`` to the next ``times`` answers of the commands ``on``.

        ``on=None`` matches every answer; ``times=None`` keeps the fault until
        :meth:`clear`. Rules are tried in the order they were injected.
        """
        names: Optional[frozenset[str]]
        if on is None:
            names = None
        elif isinstance(on, str):
            names = frozenset({on})
        else:
            names = frozenset(on)
        with self._lock:
            self._rules.append(_Rule(fault, names, times))

    def clear(self) -> None:
        """Remove every fault; answers flow untouched from now on."""
        with self._lock:
            self._rules.clear()

    @property
    def accepted(self) -> int:
        """Connections the proxy accepted so far."""
        return len(self.links)

    def open_links(self) -> list[Link]:
        return [link for link in self.links if not link.closed.is_set()]

    def running_threads(self) -> int:
        with self._lock:
            return sum(thread.is_alive() for thread in self._threads)

    def send_to_client(self, link: Link, data: bytes) -> None:
        """Send ``data`` to the client of ``link`` now, unasked (between answers)."""
        link.client.sendall(data)

    def _take_rule(self, want: type | tuple[type, ...], cmd: Optional[str]) -> Optional[Fault]:
        with self._lock:
            for rule in self._rules:
                if isinstance(rule.fault, want) and (isinstance(rule.fault, HoldRequests)
                                                     or rule.matches(cmd)):
                    if rule.remaining is not None:
                        rule.remaining -= 1
                        if rule.remaining <= 0:
                            self._rules.remove(rule)
                    return rule.fault
        return None

    # -- lifecycle -------------------------------------------------------

    def _alive(self) -> bool:
        return not self._stop.is_set() and time.monotonic() < self._expires

    def _ticks(self) -> Iterator[int]:
        """The iterations of a loop: bounded by the proxy's lifetime and by MAX_STEPS."""
        for step in range(MAX_STEPS):
            if not self._alive():
                return
            yield step

    def _wait(self, link: Link, seconds: float) -> bool:
        """Sleep up to ``seconds``; True when the link closed or the proxy stopped meanwhile."""
        limit = min(seconds, max(self._expires - time.monotonic(), 0.0))
        if link.closed.wait(limit) or self._stop.is_set():
            return True
        return limit < seconds  # the lifetime ran out first

    def _spawn(self, target: Any, name: str, *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()]
            self._threads.append(thread)
        thread.start()

    def close(self) -> None:
        """Stop accepting, close every connection, join the threads (bounded)."""
        self._stop.set()
        try:
            self._listener.close()
        except OSError:
            pass
        for link in list(self.links):
            link.close()
        current = threading.current_thread()
        with self._lock:
            threads = list(self._threads)
        deadline = time.monotonic() + 5.0
        for thread in threads:
            if thread is not current:
                thread.join(max(deadline - time.monotonic(), 0.0))

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # -- threads ---------------------------------------------------------

    def _accept_loop(self) -> None:
        try:
            for _ in self._ticks():
                if len(self.links) >= self.max_connections:
                    break
                readable, _, _ = select.select([self._listener], [], [], TICK)
                if not readable:
                    continue
                try:
                    client, _ = self._listener.accept()
                except OSError:
                    break
                try:
                    server = socket.create_connection(self.target, timeout=5.0)
                except OSError:
                    client.close()
                    continue
                for sock in (client, server):
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    sock.settimeout(10.0)  # sends only: reads wait in select()
                link = Link(len(self.links), client, server)
                self.links.append(link)
                self._spawn(self._pump_requests, f"fault-proxy-up-{link.number}", link)
                self._spawn(self._pump_answers, f"fault-proxy-down-{link.number}", link)
        finally:
            try:
                self._listener.close()
            except OSError:
                pass
            if not self._alive():  # the lifetime is over: stop by itself
                for link in list(self.links):
                    link.close()

    def _readable(self, link: Link, sock: socket.socket) -> bool:
        if link.closed.is_set():
            raise OSError("link closed")
        readable, _, _ = select.select([sock], [], [], TICK)
        return bool(readable)

    def _pump_requests(self, link: Link) -> None:
        """Client to server: forward as it comes, noting each command on the way."""
        reader = _RequestReader()
        try:
            for _ in self._ticks():
                if not self._readable(link, link.client):
                    continue
                data = link.client.recv(CHUNK)
                if not data:
                    link.client_gone.set()
                    break
                hold = self._take_rule(HoldRequests, None)
                if isinstance(hold, HoldRequests):
                    link.faults.append((None, hold))
                    if self._wait(link, hold.seconds):
                        break
                commands = reader.feed(data)
                link.driver = reader.driver
                with self._lock:
                    self.bytes_from_client += len(data)
                    self.requests.update(commands)
                link.pending.extend(commands)  # before the server can answer them
                link.server.sendall(data)
        except (OSError, ValueError):  # ValueError: select() on a socket closed meanwhile
            if not link.closed.is_set():
                link.client_gone.set()
        finally:
            link.close()

    def _pump_answers(self, link: Link) -> None:
        """Server to client: whole answers, each one through the fault it matches."""
        buffer = bytearray()
        try:
            for _ in self._ticks():
                if not self._readable(link, link.server):
                    continue
                data = link.server.recv(CHUNK)
                if not data:
                    break
                with self._lock:
                    self.bytes_from_server += len(data)
                if link.driver is not True or _announced(buffer) > PARSE_LIMIT:
                    if buffer:
                        link.client.sendall(bytes(buffer))
                        buffer.clear()
                    link.client.sendall(data)
                    continue
                buffer += data
                for _ in range(MAX_STEPS):
                    whole = _take_frame(buffer)
                    if whole is None:
                        break
                    cmd = link.pending.popleft() if link.pending else None
                    fault = self._take_rule((Latency, Drop, Truncate, Garbage, Stall, Drip), cmd)
                    if fault is not None:
                        link.faults.append((cmd, fault))
                    if not self._deliver(link, whole, fault):
                        return
        except (OSError, ValueError):
            pass
        finally:
            link.close()

    def _deliver(self, link: Link, answer: bytes, fault: Optional[Fault]) -> bool:
        """Send ``answer`` to the client as ``fault`` says; False when the link is done."""
        client = link.client
        short = max(len(answer) - 1, 0)
        if fault is None:
            client.sendall(answer)
        elif isinstance(fault, Latency):
            if self._wait(link, fault.seconds):
                return False
            client.sendall(answer)
        elif isinstance(fault, Drop):
            part = answer[: min(fault.after, short)]
            if part:
                client.sendall(part)
            link.close(reset=True)
            return False
        elif isinstance(fault, Truncate):
            part = answer[: min(fault.keep, short)]
            if part:
                client.sendall(part)
            try:
                client.shutdown(socket.SHUT_WR)  # FIN right after the last byte
            except OSError:
                pass
            link.close()
            return False
        elif isinstance(fault, Garbage):
            client.sendall(fault.data)
        elif isinstance(fault, Stall):
            self._wait(link, fault.hold)
            link.close()
            return False
        elif isinstance(fault, Drip):
            for index in range(len(answer)):  # bounded by the answer's length
                if index and self._wait(link, fault.interval):
                    return False
                client.sendall(answer[index : index + 1])
        else:  # pragma: no cover - a test bug
            raise TypeError(f"not an answer fault: {fault!r}")
        return True
