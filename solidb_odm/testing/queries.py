"""Count and inspect the requests a block of code sends: ``capture_queries`` and friends.

Every request either executor sends (a query, a get-by-key, a batch, a
begin or a commit, an HTTP call) is one :class:`~solidb_odm.events.RequestEvent`;
these helpers collect them through :func:`solidb_odm.events.observing`, so a
block sees the requests made in its own context (and in the tasks and
context-copying threads started from it) and nobody else's. The same ``with``
works around blocking and awaited code::

    with capture_queries() as captured:
        await Post.objects.acount()
    assert len(captured) == 1

``kinds`` narrows what is counted: operation names as the driver spells them
(``"query"``, ``"get"``, ``"batch"``, ``"begin_transaction"``, ``"HTTP GET"``...)
or one of the groups in :data:`KIND_GROUPS`.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from typing import Dict, FrozenSet, List, Optional, Tuple, Union

from .. import events
from ..client.routing import READ_ONLY_COMMANDS
from ..events import RequestEvent

__all__ = [
    "KIND_GROUPS",
    "CapturedQueries",
    "NPlusOneDetector",
    "NPlusOneError",
    "assert_max_queries",
    "assert_num_queries",
    "capture_queries",
    "detect_n_plus_one",
    "matches",
    "shape_of",
]

Kinds = Union[str, Collection[str], None]

#: SDBQL keywords that make a query a write
_WRITE_KEYWORDS = re.compile(r"\b(INSERT|UPDATE|REPLACE|REMOVE|UPSERT)\b", re.IGNORECASE)
_DOCUMENT_WRITES = frozenset({"insert", "update", "delete", "bulk_insert", "bulk_update",
                              "bulk_delete", "replace", "truncate"})
_TRANSACTION = frozenset({"begin_transaction", "commit_transaction", "rollback_transaction"})

#: Named groups of operations a ``kinds`` argument may use.
#:
#: - ``reads``: get-by-key, listings and other commands that change nothing,
#:   and every ``query`` whose text has no INSERT/UPDATE/REPLACE/REMOVE/UPSERT;
#: - ``writes``: document writes (insert, update, delete, bulk_insert...),
#:   queries with one of those keywords, and batches carrying a write;
#: - ``transaction``: begin, commit and rollback;
#: - ``http``: calls to the server's HTTP API (management calls).
KIND_GROUPS: Dict[str, str] = {
    "reads": "commands that change nothing, and queries without a write keyword",
    "writes": "document writes, writing queries, and batches that carry a write",
    "transaction": "begin_transaction, commit_transaction, rollback_transaction",
    "http": "requests to the HTTP API (operation 'HTTP <method>')",
}


def _is_write(event: RequestEvent) -> bool:
    if event.operation in _DOCUMENT_WRITES:
        return True
    if event.operation == "query":
        return bool(event.statement and _WRITE_KEYWORDS.search(event.statement))
    if event.operation == "batch":
        return any(op in _DOCUMENT_WRITES or op == "query" for op in event.batch)
    return False


def _in_group(event: RequestEvent, group: str) -> bool:
    if group == "reads":
        return event.operation in READ_ONLY_COMMANDS or (
            event.operation == "query" and not _is_write(event))
    if group == "writes":
        return _is_write(event)
    if group == "transaction":
        return event.operation in _TRANSACTION
    return group == "http" and event.operation.startswith("HTTP ")


def _normalize(kinds: Kinds) -> Optional[FrozenSet[str]]:
    if kinds is None:
        return None
    chosen = frozenset({kinds} if isinstance(kinds, str) else kinds)
    if not chosen:
        raise ValueError("kinds is empty: pass None to count every request")
    return chosen


def matches(event: RequestEvent, kinds: Kinds) -> bool:
    """True when ``event`` is one of ``kinds`` (an operation name or a group); None is all."""
    chosen = _normalize(kinds)
    if chosen is None:
        return True
    return any(event.operation == kind or (kind in KIND_GROUPS and _in_group(event, kind))
               for kind in chosen)


def label(event: RequestEvent) -> str:
    """One line for a request: what it was, where, how long, how many rows."""
    where = ".".join(p for p in (event.database, event.collection) if p)
    head = event.operation + (f" {where}" if where else "")
    if event.batch:
        head += f" [{', '.join(event.batch)}]"
    if event.tx_id:
        head += " (in transaction)"
    details = f"{event.duration * 1000:.2f} ms"
    if event.rows is not None:
        details += f", {event.rows} rows"
    if event.error is not None:
        details += f", failed: {type(event.error).__name__}"
    text = f"{head} ({details})"
    if event.statement:
        statement = " ".join(event.statement.split())
        text += f": {statement}"
        if event.bind_names:
            text += "  binds: " + ", ".join(f"@{n}" for n in event.bind_names)
    return text


class CapturedQueries:
    """The requests seen while a :func:`capture_queries` block ran (it is the observer)."""

    def __init__(self, kinds: Kinds = None) -> None:
        self.kinds = _normalize(kinds)
        #: every request seen, whatever its kind
        self.all: List[RequestEvent] = []

    def __call__(self, event: RequestEvent) -> None:
        self.all.append(event)

    @property
    def queries(self) -> List[RequestEvent]:
        """The requests of the chosen kinds, in the order they were sent."""
        return [e for e in self.all if matches(e, self.kinds)]

    @property
    def statements(self) -> List[str]:
        """The SDBQL text of each captured query (placeholders, never values)."""
        return [e.statement for e in self.queries if e.operation == "query" and e.statement]

    def __len__(self) -> int:
        return len(self.queries)

    def __iter__(self) -> Iterator[RequestEvent]:
        return iter(self.queries)

    def __getitem__(self, index: int) -> RequestEvent:
        return self.queries[index]

    def clear(self) -> None:
        self.all.clear()

    def report(self) -> str:
        """The captured requests, numbered, one per line."""
        lines = [f"{i}. {label(e)}" for i, e in enumerate(self.queries, 1)]
        return "\n".join(lines) if lines else "(no requests)"

    def __repr__(self) -> str:
        return f"<CapturedQueries {len(self)} requests>"


@contextmanager
def capture_queries(kinds: Kinds = None) -> Iterator[CapturedQueries]:
    """Record the requests this context sends until the block ends."""
    captured = CapturedQueries(kinds)
    with events.observing(captured):
        yield captured


def _kinds_text(kinds: Optional[FrozenSet[str]]) -> str:
    return "" if kinds is None else f" of kinds {sorted(kinds)}"


@contextmanager
def assert_num_queries(n: int, kinds: Kinds = None) -> Iterator[CapturedQueries]:
    """Fail (``AssertionError``, listing them) unless the block sends exactly ``n`` requests."""
    with capture_queries(kinds) as captured:
        yield captured
    if len(captured) != n:
        raise AssertionError(
            f"expected {n} requests{_kinds_text(captured.kinds)}, {len(captured)} were sent:\n"
            + captured.report())


@contextmanager
def assert_max_queries(n: int, kinds: Kinds = None) -> Iterator[CapturedQueries]:
    """Fail (``AssertionError``, listing them) when the block sends more than ``n`` requests."""
    with capture_queries(kinds) as captured:
        yield captured
    if len(captured) > n:
        raise AssertionError(
            f"expected at most {n} requests{_kinds_text(captured.kinds)}, "
            f"{len(captured)} were sent:\n" + captured.report())


# -- N+1 -----------------------------------------------------------------------

Shape = Tuple[str, Optional[str], str]

#: what the detector looks at unless told otherwise
N_PLUS_ONE_KINDS = frozenset({"query", "get"})


def shape_of(event: RequestEvent) -> Optional[Shape]:
    """What repeats in an N+1: a query's text (values are bind variables), an operation
    on one collection (a get-by-key, an insert...), or a batch's list of commands.
    None for requests with none of these (begin, commit, DDL on a database...)."""
    if event.operation == "query":
        if not event.statement:
            return None
        return ("query", event.database, " ".join(event.statement.split()))
    if event.collection:
        return (event.operation, event.database, event.collection)
    if event.batch:
        return ("batch", event.database, ", ".join(event.batch))
    return None


class NPlusOneError(AssertionError):
    """One request shape ran more often than the detector allows."""


class NPlusOneDetector:
    """Counts request shapes; :meth:`check` fails when one ran more than ``threshold`` times."""

    def __init__(self, threshold: int = 5, kinds: Kinds = N_PLUS_ONE_KINDS) -> None:
        if threshold < 1:
            raise ValueError("threshold must be at least 1")
        self.threshold = threshold
        self.kinds = _normalize(kinds)
        self.events: Dict[Shape, List[RequestEvent]] = {}

    def __call__(self, event: RequestEvent) -> None:
        if not matches(event, self.kinds):
            return
        shape = shape_of(event)
        if shape is not None:
            self.events.setdefault(shape, []).append(event)

    @property
    def counts(self) -> Counter[Shape]:
        return Counter({shape: len(seen) for shape, seen in self.events.items()})

    @property
    def offenders(self) -> List[Tuple[Shape, List[RequestEvent]]]:
        """The shapes that ran more than ``threshold`` times, most repeated first."""
        over = [(s, seen) for s, seen in self.events.items() if len(seen) > self.threshold]
        return sorted(over, key=lambda item: -len(item[1]))

    def report(self) -> str:
        lines = []
        for (operation, database, what), seen in self.offenders:
            values = {repr(sorted((e.bind_vars or {}).items())) for e in seen}
            where = f" in {database}" if database else ""
            distinct = ""
            if operation == "query":
                distinct = f", {len(values)} distinct bind value set{'s' if len(values) != 1 else ''}"
            lines.append(f"{len(seen)}x {operation}{where}{distinct}: {what}")
        return "\n".join(lines)

    def check(self) -> None:
        if self.offenders:
            raise NPlusOneError(
                f"N+1 queries: a request shape ran more than {self.threshold} times "
                "(load the related documents with select_related()/prefetch_related(), "
                "or fetch the keys in one query):\n" + self.report())


@contextmanager
def detect_n_plus_one(threshold: int = 5, kinds: Kinds = N_PLUS_ONE_KINDS
                      ) -> Iterator[NPlusOneDetector]:
    """Fail (:class:`NPlusOneError`) when one request shape runs more than ``threshold``
    times in the block: the same SDBQL text, or the same get-by-key on one collection.

    ``kinds`` chooses which requests are looked at (queries and get-by-key by
    default; add ``"writes"`` to catch a ``save()`` per row). A block that
    raises is not checked: its own error is the one reported.
    """
    detector = NPlusOneDetector(threshold, kinds)
    with events.observing(detector):
        yield detector
    detector.check()
