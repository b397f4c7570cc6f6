"""SoliDB's native driver protocol, without any I/O.

A connection opens with the 14-byte magic ``solidb-drv-v1\\0``; after it, every
message in both directions is a frame: a 4-byte big-endian length followed by
a MessagePack map. Requests are maps tagged by ``cmd``; responses are maps
tagged by ``status`` (``ok``, ``error``, ``pong`` or ``batch``).

Nothing here touches a socket, so the sync transport and any future async one
share every byte-level rule, and the codec can be tested on plain bytes.
"""

from __future__ import annotations

import datetime as _dt
import decimal
import enum
import json
import math
import re
import struct
import uuid
from dataclasses import dataclass, field
from typing import Any, Dict, Iterator, List, Mapping, Optional, Type

import msgpack

from . import exceptions as exc

MAGIC = b"solidb-drv-v1\x00"
MAX_MESSAGE_SIZE = 16 * 1024 * 1024
#: The server refuses larger frames until the connection has authenticated.
MAX_PREAUTH_MESSAGE_SIZE = 64 * 1024
HEADER = struct.Struct(">I")
#: Room left in a frame for what the server adds to a written document
#: (``_id``, ``_rev``, timestamps) when it answers with the stored copy: an
#: answer over 16 MiB would make the server hang up after storing it.
ANSWER_HEADROOM = 64 * 1024
#: The largest document (as MessagePack) a write accepts.
MAX_DOCUMENT_SIZE = MAX_MESSAGE_SIZE - ANSWER_HEADROOM


def _encode_default(value: Any) -> Any:
    """Turn the Python values JSON has no type for into their usual JSON form."""
    if isinstance(value, _dt.datetime):
        return value.isoformat()
    if isinstance(value, (_dt.date, _dt.time)):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (set, frozenset)):
        return list(value)
    raise TypeError(f"cannot encode a value of type {type(value).__name__}")


_SCALARS = (str, int, bool, type(None))


def _not_finite(value: float) -> exc.ProtocolError:
    return exc.ProtocolError(
        f"{value!r} cannot be stored: JSON has no NaN or infinity (the server would keep null)"
    )


def _check_keys(value: Any) -> None:
    """Documents are JSON on the server: string keys, finite numbers, no bytes.

    Walks containers only; scalar leaves are checked inline by type, which
    keeps the walk cheap next to the encoding itself. ``x - x`` is 0.0 for
    every finite float and NaN for NaN and the infinities.
    """
    stack = [value]
    scalars = _SCALARS
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is dict:
            for key, sub in item.items():
                if type(key) is not str:
                    raise exc.ProtocolError(
                        f"map keys must be strings, got {type(key).__name__} {key!r}"
                    )
                sub_kind = type(sub)
                if sub_kind is float:
                    if sub - sub != 0.0:
                        raise _not_finite(sub)
                elif sub_kind not in scalars:
                    stack.append(sub)
        elif kind is CheckedDocuments:
            continue  # walked by check_documents already
        elif kind is list or kind is tuple:
            for sub in item:
                sub_kind = type(sub)
                if sub_kind is float:
                    if sub - sub != 0.0:
                        raise _not_finite(sub)
                elif sub_kind not in scalars:
                    stack.append(sub)
        elif isinstance(item, float):
            if not math.isfinite(item):
                raise _not_finite(item)
        elif isinstance(item, (bytes, bytearray, memoryview)):
            raise exc.ProtocolError(
                "bytes cannot travel in a SoliDB document; encode them (base64) first"
            )
        elif isinstance(item, dict):
            stack.append(dict(item))
        elif isinstance(item, (list, tuple)):
            stack.append(list(item))


def check_document(document: Mapping[str, Any]) -> None:
    """Refuse, before anything is sent, a document the server would store wrongly.

    JSON rules (string keys, finite numbers, no bytes), and a size that leaves
    room for the answer: the server answers a write with the stored document
    plus its system fields; over the frame limit it stores the document and
    hangs up, and the document can then no longer be read through the driver.
    """
    _check_keys(document)
    _check_size(len(_pack(document)))


def _check_size(size: int) -> None:
    if size > MAX_DOCUMENT_SIZE:
        raise exc.MessageTooLargeError(
            f"a document of {size} bytes is over the {MAX_DOCUMENT_SIZE}-byte write limit "
            f"(the 16 MiB frame limit less {ANSWER_HEADROOM} bytes for the server's answer); "
            "nothing was sent"
        )


def _pack(value: Any) -> bytes:
    """MessagePack bytes of ``value`` (a packer per call: nothing is tied to a thread).

    A packer kept per thread would save about 0.2 µs per request; not worth
    state that outlives the request.
    """
    try:
        return msgpack.packb(value, default=_encode_default, use_bin_type=True)  # type: ignore[no-any-return]
    except (TypeError, ValueError, OverflowError) as err:
        raise exc.ProtocolError(f"cannot encode request: {err}") from err


class CheckedDocuments(List[Dict[str, Any]]):
    """Documents ``check_documents`` passed, and their encoded size.

    The encoder's walk does not enter this list again, and ``chunks_by_size``
    does not encode it again to size it: a bulk insert checks and sizes its
    documents once. Only the client's own copies of the caller's documents
    are wrapped, between the check and the send of one call.
    """

    __slots__ = ("size",)

    def __init__(self, documents: List[Dict[str, Any]], size: int) -> None:
        super().__init__(documents)
        self.size = size


def check_documents(documents: List[Dict[str, Any]]) -> CheckedDocuments:
    """``check_document`` for each of ``documents``, in one walk and one encoding when small.

    No document is larger than all of them together: when the whole list is
    under the write limit, no document needs sizing on its own.
    """
    _check_keys(documents)
    size = encoded_size(documents)
    if size > MAX_DOCUMENT_SIZE:
        for document in documents:
            _check_size(encoded_size(document))
    return CheckedDocuments(documents, size)


def encoded_size(value: Any) -> int:
    """Bytes ``value`` takes as MessagePack (no checks: for sizing batches)."""
    return len(_pack(value))


def encode_payload(message: Mapping[str, Any]) -> bytes:
    """Encode one request map as MessagePack, refusing what the server cannot read."""
    if type(message) is not dict and not isinstance(message, Mapping):
        raise exc.ProtocolError("a request must be a map")
    _check_keys(message)
    return _pack(message)


def encode_frame(message: Mapping[str, Any], limit: int = MAX_MESSAGE_SIZE) -> bytes:
    """Return the whole frame for ``message``; over ``limit`` nothing is returned."""
    if type(message) is not dict:
        payload = encode_payload(message)
    else:  # encode_payload, one call less on every request
        _check_keys(message)
        payload = _pack(message)
    if len(payload) > limit:
        raise exc.MessageTooLargeError(
            f"request of {len(payload)} bytes is over the {limit}-byte frame limit; "
            "split it (bulk operations accept batches)"
        )
    return HEADER.pack(len(payload)) + payload


def frame_length(header: bytes, limit: int = MAX_MESSAGE_SIZE) -> int:
    """Read a frame header; an announced length over ``limit`` is a protocol error."""
    if len(header) != HEADER.size:
        raise exc.ProtocolError(f"truncated frame header ({len(header)} of 4 bytes)")
    (length,) = HEADER.unpack(header)
    if length > limit:
        raise exc.MessageTooLargeError(
            f"frame announces {length} bytes, over the {limit}-byte limit"
        )
    return int(length)


def decode_payload(payload: bytes | bytearray) -> Dict[str, Any]:
    """Decode one response payload into a map with a ``status``."""
    try:
        value = msgpack.unpackb(payload, raw=False, strict_map_key=False)
    except Exception as err:  # msgpack raises several unrelated types
        raise exc.ProtocolError(f"malformed MessagePack payload: {err}") from err
    if type(value) is not dict:
        raise exc.ProtocolError(f"response is not a status map: {value!r:.200}")
    status = value.get("status")
    if status != "ok" and status != "pong":  # the common answers need no more checks
        if not isinstance(status, str):
            raise exc.ProtocolError(f"response is not a status map: {value!r:.200}")
        _check_shape(value)
    return value


def _check_shape(response: Dict[str, Any]) -> None:
    """Refuse an answer this client cannot read, while the connection can still be dropped.

    A connection that carried such an answer is not one to keep: the callers
    close it on a ProtocolError from decoding, never on a server error.
    """
    status = response["status"]
    if status == "batch":
        responses = response.get("responses")
        if not isinstance(responses, list) or not all(isinstance(r, dict) for r in responses):
            raise exc.ProtocolError("batch response without a list of responses")
        for item in responses:
            if not isinstance(item.get("status"), str):
                raise exc.ProtocolError(f"batch item is not a status map: {item!r:.200}")
            _check_shape(item)
    elif status == "error":
        error = response.get("error")
        if not (isinstance(error, str) or (isinstance(error, dict) and len(error) == 1)):
            raise exc.ProtocolError(f"unrecognised error shape from server: {error!r:.200}")
    elif status not in ("ok", "pong"):
        raise exc.ProtocolError(f"unknown response status {status!r}")


def whole_frame(data: bytes) -> Optional[bytes]:
    """The payload when ``data`` is exactly one whole frame, else None.

    The common answer arrives in one read: both connections take it without
    a ``FrameDecoder``, and hand anything else to theirs.
    """
    size = len(data)
    if size >= HEADER.size and HEADER.unpack_from(data)[0] + HEADER.size == size:
        return data[HEADER.size:]
    return None


class FrameDecoder:
    """Incremental splitter: feed it bytes as they arrive, take whole payloads out."""

    def __init__(self, limit: int = MAX_MESSAGE_SIZE) -> None:
        self._buffer = bytearray()
        self._limit = limit

    def feed(self, data: bytes) -> None:
        self._buffer += data

    def next_payload(self) -> Optional[bytes]:
        """The next complete payload, or None while more bytes are needed."""
        if len(self._buffer) < HEADER.size:
            return None
        length = frame_length(bytes(self._buffer[: HEADER.size]), self._limit)
        end = HEADER.size + length
        if len(self._buffer) < end:
            return None
        payload = bytes(self._buffer[HEADER.size : end])
        del self._buffer[:end]
        return payload

    def missing(self) -> int:
        """Bytes still needed for the frame being received (4 while no header is in)."""
        if len(self._buffer) < HEADER.size:
            return HEADER.size - len(self._buffer)
        length = frame_length(bytes(self._buffer[: HEADER.size]), self._limit)
        return max(HEADER.size + length - len(self._buffer), 0)

    @property
    def pending(self) -> int:
        """Bytes received that do not yet form a whole frame."""
        return len(self._buffer)


def command(cmd: str, **fields: Any) -> Dict[str, Any]:
    """Build a request map; fields set to None are left out (the server's default)."""
    message: Dict[str, Any] = {"cmd": cmd}
    message.update({k: v for k, v in fields.items() if v is not None})
    return message


@dataclass(slots=True)
class Reply:
    """A successful response, whatever its status tag."""

    status: str
    data: Any = None
    count: Optional[int] = None
    tx_id: Optional[str] = None
    timestamp: Optional[int] = None
    responses: List[Dict[str, Any]] = field(default_factory=list)


# Ordered: the first pattern found in the server's message decides the class.
_MESSAGE_RULES: List[tuple[re.Pattern[str], Type[exc.ServerError]]] = [
    (re.compile(r"Too many failed login attempts", re.I), exc.RateLimitedError),
    # a duplicate key is a unique violation of the primary key
    (re.compile(r"Unique constraint violated|Duplicate _key|Document (with _key )?'[^']*' "
                r"already exists", re.I), exc.UniqueViolationError),
    (re.compile(r"already exists", re.I), exc.AlreadyExistsError),
    (re.compile(r"Schema validation failed", re.I), exc.SchemaValidationError),
    (re.compile(r"Forbidden|Access denied|permission", re.I), exc.PermissionDeniedError),
    (re.compile(r"Invalid credentials|Invalid API key|API key expired|Authentication required"
                r"|Session no longer valid|Unauthorized", re.I), exc.AuthenticationError),
    (re.compile(r"Transaction conflict|Deadlock detected|conflict", re.I), exc.ConflictError),
    (re.compile(r"Transaction .*not found|Transaction not found", re.I), exc.TransactionError),
    # "Query execution error: Bind variable '@x' not found": a query error, not a missing thing.
    (re.compile(r"Bind variable .*not found", re.I), exc.QueryError),
    (re.compile(r"not found", re.I), exc.NotFoundError),
    (re.compile(r"Parse error|Query execution error|Lexer|Expected ", re.I), exc.QueryError),
    (re.compile(r"not supported|requires? HTTP API|not yet supported", re.I),
     exc.InvalidCommandError),
]

_KIND_FALLBACK: Dict[str, Type[exc.SoliDBError]] = {
    "AuthError": exc.AuthenticationError,
    "TransactionError": exc.TransactionError,
    "InvalidCommand": exc.InvalidCommandError,
    "ProtocolError": exc.ProtocolError,
    "ConnectionError": exc.ServerError,
    "DatabaseError": exc.ServerError,
}


_UNIQUE = re.compile(
    r"fields '(?P<fields>\[.*?\])' with value \[(?P<values>.*)\] already exists"
    r"(?: in index '(?P<index>[^']*)')?")
_DEBUG_VALUE = re.compile(r'String\("((?:[^"\\]|\\.)*)"\)|(?:Number|Int|Float|U64|I64|F64)\(([^)]*)\)'
                          r"|(Null)|Bool\((true|false)\)")


def _debug_values(text: str) -> List[Any]:
    """Values out of the server's Rust debug text: ``[String("alice"), Number(3)]``."""
    out: List[Any] = []
    for match in _DEBUG_VALUE.finditer(text):
        string, number, null, boolean = match.groups()
        if string is not None:
            out.append(string.encode("utf-8").decode("unicode_escape")
                       if "\\" in string else string)
        elif number is not None:
            try:
                out.append(int(number) if number.lstrip("-").isdigit() else float(number))
            except ValueError:
                out.append(number)
        elif null is not None:
            out.append(None)
        else:
            out.append(boolean == "true")
    return out


def unique_violation(message: str, kind: Optional[str]) -> exc.UniqueViolationError:
    """A ``UniqueViolationError`` whose message names the fields and values in plain words."""
    found = _UNIQUE.search(message)
    if found is None:
        key = re.search(r"'([^']*)'", message)
        if key and "Duplicate _key" in message:
            text = f"the key {key.group(1)!r} appears more than once in one batch"
        elif key and "_key" in message:
            text = f"a document with key {key.group(1)!r} already exists"
        else:
            text = message
        return exc.UniqueViolationError(text, kind=kind, server_message=message)
    try:
        fields = [str(f) for f in json.loads(found.group("fields"))]
    except ValueError:
        fields = []
    values = _debug_values(found.group("values"))
    index = found.group("index")
    pairs = ", ".join(f"{f} {v!r}" for f, v in zip(fields, values, strict=False)) or found.group(0)
    text = f"a document with {pairs} already exists" + (
        f" (unique index {index})" if index else "")
    return exc.UniqueViolationError(text, kind=kind, fields=fields, values=values, index=index,
                                    server_message=message)


def error_from_server(error: Any) -> exc.SoliDBError:
    """Map the server's ``DriverError`` value to the most specific exception.

    The server sends ``{"Variant": "message"}`` for most errors and the bare
    string ``"MessageTooLarge"`` for oversized frames.
    """
    if isinstance(error, str):
        kind, message = error, error
    elif isinstance(error, dict) and len(error) == 1:
        kind, raw = next(iter(error.items()))
        message = raw if isinstance(raw, str) else repr(raw)
    else:
        return exc.ProtocolError(f"unrecognised error shape from server: {error!r:.200}")
    if kind == "MessageTooLarge":
        return exc.MessageTooLargeError("the server refused a frame over its size limit")
    if kind == "ProtocolError":
        return exc.ProtocolError(message)
    for pattern, cls in _MESSAGE_RULES:
        if pattern.search(message):
            if cls is exc.UniqueViolationError:
                return unique_violation(message, kind)
            if cls is exc.RateLimitedError:
                seconds = re.search(r"wait (\d+) seconds", message)
                return exc.RateLimitedError(
                    message, kind=kind, retry_after=int(seconds.group(1)) if seconds else None
                )
            return cls(message, kind=kind)
    fallback = _KIND_FALLBACK.get(kind, exc.ServerError)
    if issubclass(fallback, exc.ServerError):
        return fallback(message, kind=kind)
    return fallback(message)


def interpret(response: Mapping[str, Any]) -> Reply:
    """Turn a decoded response into a ``Reply``, or raise its typed error."""
    status = response.get("status")
    if status == "ok":
        count = response.get("count")
        return Reply("ok", response.get("data"), count if isinstance(count, int) else None,
                     response.get("tx_id"), None, [])
    if status == "pong":
        return Reply(status="pong", timestamp=response.get("timestamp"))
    if status == "batch":
        responses = response.get("responses")
        if not isinstance(responses, list):
            raise exc.ProtocolError("batch response without a list of responses")
        return Reply(status="batch", responses=responses)
    if status == "error":
        raise error_from_server(response.get("error"))
    raise exc.ProtocolError(f"unknown response status {status!r}")


def chunks_by_size(items: List[Any], limit: int) -> Iterator[List[Any]]:
    """Split ``items`` into runs whose encoded size stays under ``limit`` bytes.

    Bulk inserts and session flushes use it so that no frame comes near the
    16 MiB limit.
    """
    size = items.size if type(items) is CheckedDocuments else encoded_size(items)
    if size <= limit:
        yield items
        return
    chunk: List[Any] = []
    size = 0
    for item in items:
        item_size = encoded_size(item)
        if chunk and size + item_size > limit:
            yield chunk
            chunk, size = [], 0
        chunk.append(item)
        size += item_size
    if chunk:
        yield chunk
