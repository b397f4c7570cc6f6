"""Read a whole collection in key order, one batch at a time, in constant memory.

SoliDB 2.6.0 has no cursor and no key-range read: a ``FILTER d._key > @k``
query scans the whole collection for every batch. Its ``list`` command pages
in key order by offset, skipping cheaply (about a microsecond per document),
but offsets shift when documents before the page are inserted or deleted.

So the cursor remembers both the last key it returned and its offset, and
reads each page one document early: the page is accepted only if it
starts at or before that key and continues after it. When it does not (a
concurrent writer moved things), the offset is recounted for the last key
and the page read again. Every document present for the whole scan is
returned exactly once, whatever the writers do meanwhile.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from .. import names
from ..client.commands import ClientOps
from ..ops import Op

JSON = Dict[str, Any]

#: Server-owned fields: dropped before a document is written back or exported.
SERVER_FIELDS = ("_id", "_rev", "_created_at", "_updated_at")


def quoted(collection: str) -> str:
    """A collection name for SDBQL text: validated, in backticks (``_odm_...`` included)."""
    return f"`{names.system_collection_name(collection)}`"


def without_server_fields(doc: JSON) -> JSON:
    return {k: v for k, v in doc.items() if k not in SERVER_FIELDS}


class KeyCursor:
    """Batches of one collection's documents in key order, resumable after any key.

    ``yield from cursor.next_batch()`` gives the next batch (``[]`` at the
    end). A caller that deletes documents of a batch it was given tells the
    cursor with :meth:`removed`, so that the next page needs no recount.
    """

    def __init__(self, ops: ClientOps, database: str, collection: str, *,
                 batch_size: int = 1000, after: Optional[str] = None) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self._ops = ops
        self._db = database
        self._collection = names.system_collection_name(collection)
        self.batch_size = batch_size
        self.last_key: Optional[str] = after
        """The key of the last document returned (or the key to resume after)."""
        self._offset: Optional[int] = 0 if after is None else None
        self.recounts = 0
        """How many times the offset had to be recounted (concurrent writers, or a resume)."""

    def removed(self, count: int) -> None:
        """``count`` documents of the last batch were deleted by the caller."""
        if self._offset is not None:
            self._offset = max(0, self._offset - count)

    def next_batch(self) -> Op[List[JSON]]:
        """The next documents after :attr:`last_key`, at most ``batch_size`` of them."""
        for _ in range(5):
            if self._offset is None:
                self._offset = yield from self._count_through(self.last_key)
                self.recounts += 1
            batch = yield from self._page(self._offset)
            if batch is not None:
                if batch:
                    self.last_key = str(batch[-1]["_key"])
                    self._offset += len(batch)
                return batch
            self._offset = None  # the page moved under us: recount
        # Writers keep moving the pages: fall back to a key-range query (a full scan).
        return (yield from self._after_key_query())

    def _page(self, offset: int) -> Op[Optional[List[JSON]]]:
        """The page after ``last_key`` read at ``offset``, or None when misaligned."""
        last = self.last_key
        if last is None:
            rows, _ = yield from self._ops.list_page(self._db, self._collection, self.batch_size, 0)
            return rows
        start = max(offset - 1, 0)
        rows, _ = yield from self._ops.list_page(self._db, self._collection, self.batch_size + 1,
                                                 start)
        if offset == 0:
            return rows if all(str(r["_key"]) > last for r in rows[:1]) else None
        if not rows or str(rows[0]["_key"]) > last:
            return None  # documents at or before the last key were deleted
        rest = rows[1:]
        if rest and str(rest[0]["_key"]) <= last:
            return None  # documents were inserted before the last key
        return rest[: self.batch_size]

    def _count_through(self, key: Optional[str]) -> Op[int]:
        if key is None:
            return 0
        rows = yield from self._ops.query(
            self._db,
            f"FOR d IN {quoted(self._collection)} FILTER d._key <= @k "
            "COLLECT WITH COUNT INTO n RETURN n",
            {"k": key},
        )
        return int(rows[0]) if rows else 0

    def _after_key_query(self) -> Op[List[JSON]]:
        rows = yield from self._ops.query(
            self._db,
            f"FOR d IN {quoted(self._collection)} FILTER d._key > @k SORT d._key LIMIT @n RETURN d",
            {"k": self.last_key or "", "n": self.batch_size},
        )
        batch = [dict(r) for r in rows]
        if batch:
            self.last_key = str(batch[-1]["_key"])
        self._offset = None
        return batch
