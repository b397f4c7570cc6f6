"""What the web-app tests share: the model, what a request reports, and the audit.

Every request writes ``n`` documents tagged with its own request id (``rid``)
and a sequence number, and answers with a report of each write:

- ``route``: ``"session"`` (through the request's session, explicitly or
  implicitly) or ``"plain"`` (a ``save()`` meant to write on its own);
- ``via``: the request id whose session tracked the object right after the
  write (None: no session tracked it);
- ``ctx``: the request id whose session was open in the calling context at
  the moment of the write (``current_session(db)``; None: none was).

A request that fails on purpose raises :class:`Deliberate`, which carries the
same report to the 500 answer. After all requests, :func:`audit` compares the
reports and the documents really stored on the server with what each case
must produce.
"""

from __future__ import annotations

import threading
import time
import weakref
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from solidb_odm import Database, Document
from solidb_odm.models import state_of
from solidb_odm.session import Session, current_session


class WebNote(Document):
    class Meta:
        collection = "web_notes"

    request: str
    case: str
    seq: int
    route: str


class Deliberate(Exception):
    """The failure a request raises on purpose after writing (its session must roll back)."""

    def __init__(self, report: Dict[str, Any]) -> None:
        super().__init__(f"deliberate failure of request {report['rid']}")
        self.report = report


class Owners:
    """Which request opened which session (weakly held: sessions end with their requests)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_session: weakref.WeakKeyDictionary[Session, str] = weakref.WeakKeyDictionary()

    def claim(self, session: Session, rid: str) -> Session:
        with self._lock:
            self._by_session[session] = rid
        return session

    def of(self, session: Any) -> Optional[str]:
        if session is None:
            return None
        with self._lock:
            return self._by_session.get(session, "<a session no request opened>")


class Recorder:
    """Builds one request's report while its endpoint writes."""

    def __init__(self, db: Database, owners: Owners, rid: str, case: str) -> None:
        self.db = db
        self.owners = owners
        self.rid = rid
        self.case = case
        self.writes: List[Dict[str, Any]] = []
        self.seen: Dict[str, Optional[int]] = {}
        self.started = time.monotonic()

    def note(self, seq: int, route: str) -> WebNote:
        return WebNote(request=self.rid, case=self.case, seq=seq, route=route)

    def context_owner(self) -> Optional[str]:
        """The request whose session is open in the calling context, if any."""
        return self.owners.of(current_session(self.db))

    def wrote(self, obj: WebNote, ctx: Optional[str]) -> None:
        self.writes.append({
            "seq": obj.seq,
            "route": obj.route,
            "key": obj.key,  # None for s.add() until the session flushes
            "via": self.owners.of(state_of(obj).session),
            "ctx": ctx,
        })

    def report(self) -> Dict[str, Any]:
        return {"rid": self.rid, "case": self.case, "writes": self.writes, "seen": self.seen,
                "span": [self.started, time.monotonic()]}

    def fail(self) -> Deliberate:
        return Deliberate(self.report())


# -- expectations and the audit ---------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One kind of request and what it must produce."""

    name: str
    path: str
    fail: bool
    #: the route of write ``seq`` (``"session"`` or ``"plain"``)
    routes: tuple[str, ...]
    #: whose session the calling context shows at write ``seq``: "own" or None
    ctx: tuple[Optional[str], ...]
    #: what a query through the context sees of this request's documents after the writes
    seen_ctx: int
    #: what a query through the request's session sees (None: no session)
    seen_session: Optional[int]

    @property
    def kept(self) -> set[int]:
        """The sequence numbers that must be stored once the request is over."""
        return {seq for seq, route in enumerate(self.routes)
                if route == "plain" or not self.fail}

    @property
    def category(self) -> str:
        if "plain" in self.routes and "session" in self.routes:
            return "mixed-rollback" if self.fail else "mixed-commit"
        if "session" in self.routes:
            return "rollback" if self.fail else "commit"
        return "plain-then-raise" if self.fail else "plain"


@dataclass
class Outcome:
    """One request as the client saw it."""

    rid: str
    case: Case
    status: Optional[int]
    body: Any
    error: Optional[str] = None


@dataclass
class Figures:
    requests: int = 0
    by_category: Dict[str, int] = field(default_factory=dict)
    writes_attempted: int = 0
    writes_expected_kept: int = 0
    writes_expected_rolled_back: int = 0
    stored: int = 0
    lost_writes: List[str] = field(default_factory=list)
    foreign_session_writes: List[str] = field(default_factory=list)
    kept_rolled_back: List[str] = field(default_factory=list)
    unexpected_errors: List[str] = field(default_factory=list)
    context_mismatches: List[str] = field(default_factory=list)
    #: the most requests that were between their first write and their answer at once
    max_in_flight: int = 0

    def line(self, label: str) -> str:
        cats = ", ".join(f"{k}={v}" for k, v in sorted(self.by_category.items()))
        return (
            f"[{label}] requests={self.requests} ({cats}), at most {self.max_in_flight} in flight; writes attempted={self.writes_attempted}, "
            f"expected kept={self.writes_expected_kept}, expected rolled back="
            f"{self.writes_expected_rolled_back}, stored={self.stored}; "
            f"lost={len(self.lost_writes)}, in another request's session="
            f"{len(self.foreign_session_writes)}, rolled-back kept={len(self.kept_rolled_back)}, "
            f"unexpected errors={len(self.unexpected_errors)}, "
            f"context mismatches={len(self.context_mismatches)}"
        )

    def assert_clean(self) -> None:
        problems = {
            "lost writes": self.lost_writes,
            "writes in another request's session": self.foreign_session_writes,
            "rolled-back writes kept": self.kept_rolled_back,
            "unexpected errors": self.unexpected_errors,
            "context mismatches": self.context_mismatches,
        }
        found = {k: v[:10] for k, v in problems.items() if v}
        assert not found, found


def stored_notes(db: Database) -> List[Dict[str, Any]]:
    """Every stored note, read with a plain query outside any session."""
    return db.query("FOR d IN web_notes RETURN d")


def audit(outcomes: List[Outcome], stored: List[Dict[str, Any]]) -> Figures:
    figures = Figures(requests=len(outcomes), stored=len(stored))
    by_rid: Dict[str, List[Dict[str, Any]]] = {}
    for doc in stored:
        by_rid.setdefault(doc["request"], []).append(doc)
    rids = {o.rid for o in outcomes}
    for rid in sorted(set(by_rid) - rids):
        figures.foreign_session_writes.extend(f"{rid}: stored, but no such request" for _ in by_rid[rid])

    for outcome in outcomes:
        case, rid = outcome.case, outcome.rid
        figures.by_category[case.category] = figures.by_category.get(case.category, 0) + 1
        figures.writes_attempted += len(case.routes)
        figures.writes_expected_kept += len(case.kept)
        figures.writes_expected_rolled_back += len(case.routes) - len(case.kept)
        where = f"{rid} ({case.name})"

        # the answer: 200 with a report, or the deliberate 500 with one
        expected_status = 500 if case.fail else 200
        report = outcome.body if isinstance(outcome.body, dict) else None
        if outcome.error is not None:
            figures.unexpected_errors.append(f"{where}: {outcome.error}")
        elif outcome.status != expected_status or report is None or report.get("rid") != rid or (
            case.fail and not report.get("deliberate")
        ):
            figures.unexpected_errors.append(f"{where}: answered {outcome.status} {outcome.body!r:.300}")
            report = None

        # what is stored for this request
        docs = by_rid.get(rid, [])
        seqs = [d["seq"] for d in docs]
        for seq in sorted(set(seqs)):
            if seqs.count(seq) > 1:
                figures.unexpected_errors.append(f"{where}: seq {seq} stored {seqs.count(seq)} times")
        for seq in sorted(case.kept - set(seqs)):
            figures.lost_writes.append(f"{where}: seq {seq} ({case.routes[seq]}) missing")
        for seq in sorted(set(seqs) - case.kept):
            if seq < len(case.routes):
                figures.kept_rolled_back.append(f"{where}: seq {seq} stored after rollback")
            else:
                figures.unexpected_errors.append(f"{where}: seq {seq} was never written")
        for doc in docs:
            if doc["case"] != case.name or doc["route"] != case.routes[doc["seq"]]:
                figures.foreign_session_writes.append(f"{where}: stored {doc!r}")

        if report is None:
            continue
        # each write went where it had to, and nowhere else
        writes = report.get("writes", [])
        if sorted(w["seq"] for w in writes) != list(range(len(case.routes))):
            figures.unexpected_errors.append(f"{where}: reported writes {writes!r}")
        stored_keys = {d["seq"]: d["_key"] for d in docs}
        for w in writes:
            seq = w["seq"]
            expected_via = rid if case.routes[seq] == "session" else None
            if w["via"] != expected_via:
                figures.foreign_session_writes.append(
                    f"{where}: seq {seq} went through the session of {w['via']!r}, expected {expected_via!r}")
            expected_ctx = rid if case.ctx[seq] == "own" else None
            if w["ctx"] != expected_ctx:
                figures.context_mismatches.append(
                    f"{where}: seq {seq} saw the session of {w['ctx']!r} open, expected {expected_ctx!r}")
            if seq in case.kept and w["key"] is not None and stored_keys.get(seq) not in (None, w["key"]):
                figures.foreign_session_writes.append(
                    f"{where}: seq {seq} reported key {w['key']}, stored {stored_keys[seq]}")
        seen = report.get("seen", {})
        if seen.get("ctx") != case.seen_ctx or seen.get("session") != case.seen_session:
            figures.context_mismatches.append(
                f"{where}: saw {seen!r}, expected ctx={case.seen_ctx}, session={case.seen_session}")
    figures.max_in_flight = _max_overlap(
        [o.body["span"] for o in outcomes if isinstance(o.body, dict) and "span" in o.body])
    return figures


def _max_overlap(spans: List[List[float]]) -> int:
    events = sorted([(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans])
    best = current = 0
    for _, step in events:
        current += step
        best = max(best, current)
    return best
