"""The frame codec on plain bytes: no server involved."""

from __future__ import annotations

import datetime as dt
import struct
import uuid

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from solidb_odm import exceptions as exc
from solidb_odm import protocol


def frame(obj: object) -> bytes:
    payload = msgpack.packb(obj, use_bin_type=True)
    return struct.pack(">I", len(payload)) + payload


def test_magic_is_fourteen_bytes_with_nul() -> None:
    assert protocol.MAGIC == b"solidb-drv-v1\x00"
    assert len(protocol.MAGIC) == 14


def test_encode_frame_is_length_prefixed_msgpack_map() -> None:
    data = protocol.encode_frame({"cmd": "ping"})
    (length,) = struct.unpack(">I", data[:4])
    assert length == len(data) - 4
    assert msgpack.unpackb(data[4:]) == {"cmd": "ping"}


def test_command_leaves_out_none_fields() -> None:
    assert protocol.command("insert", key=None, database="d") == {"cmd": "insert", "database": "d"}


def test_oversized_request_is_refused_before_sending() -> None:
    big = {"cmd": "insert", "document": {"blob": "x" * (protocol.MAX_MESSAGE_SIZE + 1)}}
    with pytest.raises(exc.MessageTooLargeError):
        protocol.encode_frame(big)


def test_preauth_limit_is_smaller() -> None:
    with pytest.raises(exc.MessageTooLargeError):
        protocol.encode_frame({"cmd": "auth", "password": "x" * 70_000},
                              limit=protocol.MAX_PREAUTH_MESSAGE_SIZE)


def test_values_json_lacks_are_encoded_as_strings() -> None:
    when = dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    ident = uuid.UUID(int=7)
    payload = protocol.encode_payload({"at": when, "id": ident, "day": when.date()})
    assert msgpack.unpackb(payload) == {
        "at": "2024-01-02T03:04:05+00:00",
        "id": str(ident),
        "day": "2024-01-02",
    }


@pytest.mark.parametrize("bad", [{1: "x"}, {"a": [{"b": {2: 1}}]}, {"blob": b"raw"}])
def test_values_the_server_cannot_store_are_refused(bad: dict) -> None:
    with pytest.raises(exc.ProtocolError):
        protocol.encode_payload({"cmd": "insert", "document": bad})


def test_unencodable_object_is_protocol_error() -> None:
    with pytest.raises(exc.ProtocolError):
        protocol.encode_payload({"x": object()})


def test_decoder_waits_for_whole_frames() -> None:
    data = frame({"status": "ok", "data": [1, 2]}) + frame({"status": "pong", "timestamp": 1})
    decoder = protocol.FrameDecoder()
    out = []
    for i in range(len(data)):  # one byte at a time
        decoder.feed(data[i : i + 1])
        payload = decoder.next_payload()
        if payload is not None:
            out.append(protocol.decode_payload(payload))
    assert out == [{"status": "ok", "data": [1, 2]}, {"status": "pong", "timestamp": 1}]
    assert decoder.pending == 0


def test_truncated_frame_yields_nothing_and_never_blocks() -> None:
    decoder = protocol.FrameDecoder()
    decoder.feed(frame({"status": "ok"})[:-1])
    assert decoder.next_payload() is None


def test_oversized_announced_frame_is_protocol_error() -> None:
    decoder = protocol.FrameDecoder()
    decoder.feed(struct.pack(">I", protocol.MAX_MESSAGE_SIZE + 1))
    with pytest.raises(exc.MessageTooLargeError):
        decoder.next_payload()


def test_truncated_header_is_protocol_error() -> None:
    with pytest.raises(exc.ProtocolError):
        protocol.frame_length(b"\x00\x00")


@pytest.mark.parametrize(
    "payload",
    [b"\xc1", b"\x92\x01\x02", msgpack.packb({"no": "status"}), msgpack.packb("text"), b""],
)
def test_malformed_payloads_are_protocol_errors(payload: bytes) -> None:
    with pytest.raises(exc.ProtocolError):
        protocol.decode_payload(payload)


@given(st.binary(max_size=64))
def test_any_garbage_decodes_or_raises_protocol_error(blob: bytes) -> None:
    try:
        protocol.decode_payload(blob)
    except exc.ProtocolError:
        pass


@given(st.binary(max_size=64))
def test_decoder_never_raises_anything_but_protocol_error(blob: bytes) -> None:
    decoder = protocol.FrameDecoder()
    decoder.feed(blob)
    try:
        while decoder.next_payload() is not None:
            pass
    except exc.ProtocolError:
        pass


@pytest.mark.parametrize(
    ("error", "cls"),
    [
        ({"DatabaseError": "Document with key 'x' not found"}, exc.NotFoundError),
        ({"DatabaseError": "Collection 'c' not found"}, exc.NotFoundError),
        ({"DatabaseError": "Collection 'c' already exists"}, exc.AlreadyExistsError),
        ({"DatabaseError": "Invalid document: Unique constraint violated: fields"},
         exc.UniqueViolationError),
        ({"DatabaseError": "Invalid document: Schema validation failed: x"},
         exc.SchemaValidationError),
        ({"AuthError": "Invalid credentials"}, exc.AuthenticationError),
        ({"AuthError": "Forbidden: Access denied"}, exc.PermissionDeniedError),
        ({"TransactionError": "Transaction not found"}, exc.TransactionError),
        ({"DatabaseError": "Parse error: Unexpected token"}, exc.QueryError),
        ({"InvalidCommand": "Geo polygon search not supported"}, exc.InvalidCommandError),
        ({"ProtocolError": "Deserialization failed: x"}, exc.ProtocolError),
        ("MessageTooLarge", exc.MessageTooLargeError),
        ({"AuthError": "Too many failed login attempts. Please wait 12 seconds"},
         exc.RateLimitedError),
    ],
)
def test_server_errors_map_to_typed_exceptions(error: object, cls: type) -> None:
    with pytest.raises(cls) as info:
        protocol.interpret({"status": "error", "error": error})
    assert type(info.value) is cls


def test_server_error_keeps_the_message_and_variant() -> None:
    with pytest.raises(exc.NotFoundError) as info:
        protocol.interpret({"status": "error", "error": {"DatabaseError": "Collection 'c' not found"}})
    assert info.value.server_message == "Collection 'c' not found"
    assert info.value.kind == "DatabaseError"


def test_interpret_ok_pong_batch() -> None:
    assert protocol.interpret({"status": "ok", "data": 1, "count": 2}).count == 2
    assert protocol.interpret({"status": "pong", "timestamp": 5}).timestamp == 5
    assert protocol.interpret({"status": "batch", "responses": [{"status": "ok"}]}).responses
    with pytest.raises(exc.ProtocolError):
        protocol.interpret({"status": "weird"})


@pytest.mark.parametrize("bad", [{"v": float("nan")}, {1: "int key"}, {"b": b"bytes"},
                                 {"deep": [{"x": float("inf")}]}])
def test_check_documents_refuses_what_check_document_refuses(bad: dict) -> None:
    docs = [{"i": i} for i in range(50)] + [bad]
    with pytest.raises(exc.ProtocolError):
        protocol.check_document(bad)
    with pytest.raises(exc.ProtocolError):
        protocol.check_documents(docs)


def test_checked_documents_are_sized_once_and_encoded_like_a_list() -> None:
    docs = [{"i": i, "name": f"n{i}"} for i in range(100)]
    checked = protocol.check_documents(docs)
    assert checked == docs and checked.size == protocol.encoded_size(docs)
    assert list(protocol.chunks_by_size(checked, checked.size)) == [checked]
    assert len(list(protocol.chunks_by_size(checked, checked.size // 2))) == 3
    frame = protocol.encode_frame({"cmd": "bulk_insert", "documents": checked})
    assert msgpack.unpackb(frame[4:])["documents"] == docs


def test_a_document_over_the_write_limit_in_a_small_list_is_refused() -> None:
    big = {"blob": "x" * protocol.MAX_DOCUMENT_SIZE}
    with pytest.raises(exc.MessageTooLargeError):
        protocol.check_documents([{"i": 1}, big])


def test_encoding_works_after_an_error_and_after_a_large_payload() -> None:
    with pytest.raises(exc.ProtocolError):
        protocol.encode_payload({"a": [1, object()]})
    assert protocol.encode_payload({"a": 1}) == msgpack.packb({"a": 1})
    protocol.encode_payload({"a": "x" * (2 << 20)})
    assert protocol.encode_payload({"b": 2}) == msgpack.packb({"b": 2})
