"""Server-side query cursors: a large result read in pages from one evaluation.

The driver protocol has no cursors, and the pinned server evaluates a
``FILTER`` over the whole collection before it applies ``LIMIT`` (see
docs/server-behaviour.md), so reading a large result with ``LIMIT offset, n``
pages costs a full evaluation per page: quadratic in the size of the result.
The server's HTTP API (on the driver's port) keeps the evaluated result of
``POST /_api/database/{db}/cursor`` for five minutes and hands it out a batch
at a time; reading through it is linear, and every page comes from the same
snapshot. These operations speak that API; a cursor is a request outside any
transaction, so the ODM keeps offset pages for reads inside one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, List, Optional

from .. import exceptions as exc
from ..ops import HttpRequest, Op, http
from .http import path

#: The largest batch the server hands out (its ``MAX_BATCH_SIZE``).
MAX_BATCH = 10_000


class CursorPage:
    """One batch of a cursor's rows, and the cursor to read the next one from (None: no more)."""

    __slots__ = ("cursor_id", "rows")

    def __init__(self, rows: List[Any], cursor_id: Optional[str]) -> None:
        self.rows = rows
        self.cursor_id = cursor_id


def _page(body: Any) -> CursorPage:
    if not isinstance(body, Mapping) or not isinstance(body.get("result"), list):
        raise exc.ProtocolError(f"cursor answer without a result list: {body!r:.200}")
    more = bool(body.get("has_more", body.get("hasMore", False)))
    cursor_id = body.get("id") if more else None
    if more and not isinstance(cursor_id, str):
        raise exc.ProtocolError("cursor answer says more rows follow, but names no cursor")
    return CursorPage(body["result"], cursor_id)


def open_cursor(database: str, sdbql: str, bind_vars: Mapping[str, Any],
                batch_size: int) -> Op[CursorPage]:
    """Evaluate ``sdbql`` once on the server; its first batch of at most ``batch_size`` rows."""
    size = max(1, min(int(batch_size), MAX_BATCH))
    body = {"query": sdbql, "bindVars": dict(bind_vars), "batchSize": size}
    response = yield from http(HttpRequest("POST", path("_api", "database", database, "cursor"),
                                           body, binary=True))
    return _page(response.body)


def next_page(cursor_id: str) -> Op[CursorPage]:
    """The next batch of an open cursor (``NotFoundError`` once it expired: 5 minutes idle)."""
    response = yield from http(HttpRequest("PUT", path("_api", "cursor", cursor_id),
                                           binary=True))
    return _page(response.body)


def close_cursor(cursor_id: str) -> Op[None]:
    """Free a cursor that will not be read to its end (best effort: it expires on its own)."""
    try:
        yield from http(HttpRequest("DELETE", path("_api", "cursor", cursor_id), raw=True))
    except exc.SoliDBError:
        pass  # the server frees it after five idle minutes anyway
