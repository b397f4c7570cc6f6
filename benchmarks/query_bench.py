"""Compiled queries against hand-written SDBQL, on the same data, in one run.

Run: ``.venv/bin/python benchmarks/query_bench.py`` (starts its own server;
100,000 documents). Tiny mode for CI: ``--docs 2000 --slices 2``.

For every case the statement the ODM sends (captured from a real QuerySet
call through ``solidb_odm.events``) and the statement an expert would write
for the same result run as raw ``client.query`` calls, in interleaved slices,
with a new bind value on every call (the server caches results by text and
binds). Columns:

- ``hand ms`` / ``odm ms``: the best per-call wall time over the slices;
- ``ratio``: odm / hand (target: at most 1.20);
- ``plan``: whether ``explain()`` reports the same access (scan or which
  index) for both; ``explain()`` does not report the index-ordered SORT +
  LIMIT path (see docs/server-behaviour.md), so that one shows in timing only;
- ``same``: whether both gave the same result (rows compared as sets of
  keys, sort values in order); writes and aggregates are not compared;
  every case matches fewer than 2,000 documents, so the ODM's statement is
  its whole query (a larger result continues on a server-side cursor);
- ``qs cpu us``: client CPU per end-to-end QuerySet call (compile, send,
  decode, hydrate).

The data: ``age`` is an integer with about 1% null, 1% missing and 0.5%
strings mixed in, ``name`` text, ``score`` a float, ``price`` a Decimal,
``joined`` a datetime, ``grp`` one of 20 labels, ``author`` a Reference.
Every case runs on a collection without indexes and on one with persistent
indexes on age, name, score, price, joined.
"""

from __future__ import annotations

import argparse
import datetime as dt
import decimal
import json
import random
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Callable, Dict, List, Optional, Sequence, Tuple, Type, Union

sys.path.insert(0, str(Path(__file__).parent))

from _pinning import pin
from _timing import print_table

from solidb_odm import Avg, Count, Document, Max, Reference, Sum, events
from solidb_odm.database import Database, set_default_database
from solidb_odm.storage import datetime_to_stored
from solidb_odm.testing import SoliDBServer

DB = "qbench"
EPOCH = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)


class Author(Document):
    name: str

    class Meta:
        collection = "qb_authors"


class Person(Document):
    age: Union[int, str, None] = None
    name: str = ""
    score: float = 0.0
    price: Optional[decimal.Decimal] = None
    joined: Optional[dt.datetime] = None
    grp: str = ""
    author: Annotated[Optional[str], Reference(Author, related_name="people")] = None

    class Meta:
        collection = "qb_people"


class PersonIx(Person):
    """The same model on the collection with indexes."""

    author: Annotated[Optional[str], Reference(Author, related_name="people_ix")] = None

    class Meta:
        collection = "qb_people_ix"


INDEXED = ("age", "name", "score", "price", "joined")


def seed_documents(n: int, authors: int) -> List[Dict[str, Any]]:
    rnd = random.Random(20261202)
    docs = []
    for i in range(n):
        doc: Dict[str, Any] = {
            "_key": f"p{i}",
            "name": f"user{rnd.randrange(10**6):06d}",
            "score": round(rnd.random() * 1000, 3),
            "price": round(rnd.randrange(100000) / 100, 2),
            "joined": datetime_to_stored(EPOCH + dt.timedelta(seconds=rnd.randrange(10**8))),
            "grp": f"g{rnd.randrange(20)}",
            "author": f"qb_authors/a{rnd.randrange(authors)}",
        }
        r = rnd.random()
        if r < 0.01:
            doc["age"] = None
        elif r < 0.02:
            pass  # missing
        elif r < 0.025:
            doc["age"] = f"x{i}"
        else:
            doc["age"] = rnd.randrange(10000)
        docs.append(doc)
    return docs


# -- capturing what the ODM sends ------------------------------------------------------


def capture(call: Callable[[], Any]) -> List[Tuple[str, Dict[str, Any]]]:
    """The query statements (text, binds) a QuerySet call sends."""
    seen: List[Tuple[str, Dict[str, Any]]] = []

    def observer(event: events.RequestEvent) -> None:
        if event.operation == "query" and event.statement:
            seen.append((event.statement, dict(event.bind_vars or {})))

    with events.observing(observer):
        call()
    return seen


def substitute(value: Any, mapping: Dict[Any, Any]) -> Any:
    """``value`` with every leaf found in ``mapping`` replaced (sentinel -> this call's value)."""
    if isinstance(value, list):
        return [substitute(v, mapping) for v in value]
    if isinstance(value, dict):
        return {k: substitute(v, mapping) for k, v in value.items()}
    try:
        if value in mapping and type(value) is type(next(k for k in mapping if k == value)):
            return mapping[value]
    except TypeError:
        pass
    return value


@dataclass
class Case:
    label: str
    #: the QuerySet call for one value (the model is passed in)
    odm: Callable[[Type[Document], Any], Any]
    #: the expert's statement for one value: (text with {c} for the collection, binds)
    hand: Callable[[Any], Tuple[str, Dict[str, Any]]]
    #: the value of call number i
    value: Callable[[int], Any]
    #: the wire form of a value, leaf by leaf (what the ODM binds for it)
    wire: Callable[[Any], Sequence[Any]] = lambda v: (v,)
    sentinel: Any = None
    write: bool = False
    #: rows -> something comparable
    norm: Callable[[List[Any]], Any] = field(default=lambda rows: rows)
    #: replays the ODM's statements for a value (default: substitute the sentinel)
    replay: Optional[Callable[[Any, Any], Any]] = None


def keys(rows: List[Any]) -> Any:
    return sorted(r["_key"] if isinstance(r, dict) else r for r in rows)


def approx(rows: List[Any]) -> Any:
    def walk(v: Any) -> Any:
        if isinstance(v, float):
            return round(v, 3)
        if isinstance(v, list):
            return [walk(x) for x in v]
        if isinstance(v, dict):
            return {k: walk(x) for k, x in v.items()}
        return v

    return json.dumps(walk(rows), sort_keys=True, default=str)


def age_value(i: int) -> int:
    return (i * 7919) % 10000 or 1  # never 0: the ODM sends 0 as two spellings


def cases() -> List[Case]:
    def stamp(i: int) -> dt.datetime:
        return EPOCH + dt.timedelta(seconds=99_000_000 + i * 37)  # about 1% of the documents

    return [
        Case("count(), age >= v", lambda m, v: m.objects.filter(age__gte=v).count(),
             lambda v: ('RETURN LENGTH((FOR d IN {c} FILTER d.age >= @v AND d.age < "" RETURN 1))',
                        {"v": v}),
             lambda i: 5000 + i, sentinel=123456789),
        Case("count(), no filter", lambda m, v: m.objects.count(),
             lambda v: ("FOR d IN {c} COLLECT WITH COUNT INTO n RETURN n", {}), lambda i: None, sentinel=None),
        Case("exists(), age == v", lambda m, v: m.objects.filter(age=v).exists(),
             lambda v: ("FOR d IN {c} FILTER d.age == @v LIMIT 1 RETURN 1", {"v": v}),
             age_value, sentinel=123456789, norm=lambda rows: bool(rows)),
        Case("age == v", lambda m, v: list(m.objects.filter(age=v)),
             lambda v: ("FOR d IN {c} FILTER d.age == @v RETURN d", {"v": v}),
             age_value, sentinel=123456789, norm=keys),
        Case("age in [v, v+1, v+2]", lambda m, v: list(m.objects.filter(age__in=[v, v + 1, v + 2])),
             lambda v: ("FOR d IN {c} FILTER d.age IN @v RETURN d", {"v": [v, v + 1, v + 2]}),
             age_value, wire=lambda v: (v, v + 1, v + 2), sentinel=123456780, norm=keys),
        Case("age > v (mixed types)", lambda m, v: list(m.objects.filter(age__gt=v)),
             lambda v: ('FOR d IN {c} FILTER d.age > @v AND d.age < "" RETURN d', {"v": v}),
             lambda i: 9900 - i % 50, sentinel=123456789, norm=keys),
        Case("age range(v, v+20)", lambda m, v: list(m.objects.filter(age__range=(v, v + 20))),
             lambda v: ("FOR d IN {c} FILTER d.age >= @lo AND d.age <= @hi RETURN d",
                        {"lo": v, "hi": v + 20}),
             age_value, wire=lambda v: (v, v + 20), sentinel=123456000, norm=keys),
        Case("score > v (clean floats)", lambda m, v: list(m.objects.filter(score__gt=v)),
             lambda v: ("FOR d IN {c} FILTER d.score > @v RETURN d", {"v": v}),
             lambda i: 990.0 + (i % 97) / 10, sentinel=123456.5, norm=keys),
        Case("price < v (Decimal)",
             lambda m, v: list(m.objects.filter(price__lt=decimal.Decimal(v))),
             lambda v: ("FOR d IN {c} FILTER d.price < @v AND d.price != null RETURN d",
                        {"v": float(v)}),
             lambda i: f"{5 + (i % 89) / 100:.2f}", wire=lambda v: (float(v),),
             sentinel="-98765.43", norm=keys),  # matches nothing: one statement
        Case("joined >= t (datetime)", lambda m, v: list(m.objects.filter(joined__gte=v)),
             lambda v: ("FOR d IN {c} FILTER d.joined >= @v RETURN d",
                        {"v": datetime_to_stored(v)}),
             lambda i: stamp(i % 5000), wire=lambda v: (datetime_to_stored(v),),
             sentinel=EPOCH + dt.timedelta(days=20000), norm=keys),
        Case("name startswith", lambda m, v: list(m.objects.filter(name__startswith=v)),
             lambda v: ("FOR d IN {c} FILTER STARTS_WITH(d.name, @v) RETURN d", {"v": v}),
             lambda i: f"user{i % 1000:03d}", sentinel="zz-sentinel", norm=keys),
        Case("order_by(age)[o:o+10]", lambda m, v: list(m.objects.order_by("age")[v:v + 10]),
             lambda v: ("FOR d IN {c} SORT d.age ASC LIMIT @o, 10 RETURN d", {"o": v}),
             lambda i: i % 500, wire=lambda v: (v, 10), sentinel=987654,
             norm=lambda rows: [r.get("age") for r in rows[:10]]),
        Case("order_by(-score)[o:o+10]", lambda m, v: list(m.objects.order_by("-score")[v:v + 10]),
             lambda v: ("FOR d IN {c} SORT d.score DESC LIMIT @o, 10 RETURN d", {"o": v}),
             lambda i: i % 500, wire=lambda v: (v, 10), sentinel=987654,
             norm=lambda rows: [r.get("score") for r in rows[:10]]),
        Case("filter(name >= v).order_by(-score)[:10]",
             lambda m, v: list(m.objects.filter(name__gte=v).order_by("-score")[:10]),
             lambda v: ("FOR d IN {c} FILTER d.name >= @v AND d.name < [] SORT d.score DESC "
                        "LIMIT 10 RETURN d", {"v": v}),
             lambda i: f"user{i % 1000:03d}", sentinel="zz-sentinel",
             norm=lambda rows: [r.get("score") for r in rows[:10]]),
        Case("aggregate(Avg score, Max age)",
             lambda m, v: m.objects.filter(score__lt=v).aggregate(Avg("score"), Max("age")),
             lambda v: ("FOR d IN {c} FILTER d.score < @v AND d.score != null COLLECT AGGREGATE "
                        "s = AVG(d.score), m = MAX(IS_NUMBER(d.age) OR IS_STRING(d.age) ? d.age : null) "
                        "RETURN {s, m}", {"v": v}),
             lambda i: 500.0 + i / 7, sentinel=123456.5, norm=lambda rows: None),
        Case("values(grp).annotate(Sum score, Count)",
             lambda m, v: m.objects.filter(score__lt=v).values("grp").annotate(
                 t=Sum("score"), n=Count("key")),
             lambda v: ("FOR d IN {c} FILTER d.score < @v AND d.score != null COLLECT g = d.grp "
                        "AGGREGATE t = SUM(d.score), n = COUNT(d._key) RETURN {g, t, n}", {"v": v}),
             lambda i: 500.0 + i / 7, sentinel=123456.5, norm=lambda rows: None),
        Case("select_related(author), age == v",
             lambda m, v: list(m.objects.filter(age=v).select_related("author")),
             lambda v: ("FOR d IN {c} FILTER d.age == @v "
                        "RETURN MERGE(d, {__author: DOCUMENT(d.author)})", {"v": v}),
             age_value, sentinel=123456789, norm=keys),
        Case("prefetch_related(author), age in 30 values",
             lambda m, v: list(m.objects.filter(age__in=list(range(v, v + 30)))
                               .prefetch_related("author")),
             lambda v: ("FOR d IN {c} FILTER d.age IN @v "
                        "RETURN MERGE(d, {__author: DOCUMENT(d.author)})",
                        {"v": list(range(v, v + 30))}),
             lambda i: (i * 7919) % 9000 + 1, wire=lambda v: tuple(range(v, v + 30)),
             sentinel=123456000, norm=lambda rows: None),
        Case("update(score) where age == v",
             lambda m, v: m.objects.filter(age=v).update(score=1.5),
             lambda v: ("FOR d IN {c} FILTER d.age == @v UPDATE d WITH {score: 1.5} IN {c}",
                        {"v": v}),
             age_value, sentinel=123456789, write=True),
        Case("delete() where age == v",
             lambda m, v: m.objects.filter(age=v).delete(),
             lambda v: ("FOR d IN {c} FILTER d.age == @v REMOVE d IN {c}", {"v": v}),
             lambda i: (i * 7919) % 10000 or 1, sentinel=123456789, write=True),
    ]


def plan_of(explained: Dict[str, Any]) -> Tuple[Any, ...]:
    """The index use explain() reports: (access type, index) per collection."""
    return tuple((c.get("access_type"), c.get("index_used"))
                 for c in explained.get("collections", ()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=100_000)
    parser.add_argument("--slices", type=int, default=5, help="interleaved slices per case")
    parser.add_argument("--calls", type=int, default=3, help="calls per slice")
    parser.add_argument("--only", default="", help="run only cases whose label contains this")
    args = parser.parse_args()

    with SoliDBServer() as server:
        print(pin(server.process.pid if server.process else None))
        admin = server.client()
        admin.create_database(DB)
        client = server.client(DB)
        db = Database(client, DB)
        set_default_database(db)
        for model in (Author, Person, PersonIx):
            client.create_collection(DB, model.collection_name())
        authors = max(10, args.docs // 100)
        client.bulk_insert(DB, "qb_authors", [{"_key": f"a{i}", "name": f"author {i}"}
                                              for i in range(authors)])
        docs = seed_documents(args.docs, authors)
        for coll in ("qb_people", "qb_people_ix"):
            for start in range(0, len(docs), 10_000):
                client.bulk_insert(DB, coll, docs[start:start + 10_000])
        for name in INDEXED:
            client.create_index(DB, "qb_people_ix", f"ix_{name}", [name])
        print(f"{args.docs:,} documents per collection; indexes on {', '.join(INDEXED)} "
              "in the indexed one")

        counter = iter(range(1, 10**9))
        rows: List[Tuple[Any, ...]] = []
        for case in cases():
            if args.only and args.only not in case.label:
                continue
            for model, indexed in ((Person, False), (PersonIx, True)):
                rows.append(run_case(client, case, model, indexed, counter, args))
        print_table(
            f"Compiled vs hand-written SDBQL, {args.docs:,} documents (best of "
            f"{args.slices} interleaved slices of {args.calls} calls; ratio = odm / hand)",
            ("case", "index", "hand ms", "odm ms", "ratio", "plan", "same", "qs cpu us"),
            rows)
        client.close()
        admin.close()


def run_case(client: Any, case: Case, model: Type[Document], indexed: bool,
             counter: Any, args: argparse.Namespace) -> Tuple[Any, ...]:
    coll = model.collection_name()
    statements = capture(lambda: case.odm(model, case.sentinel))
    sentinel_wire = case.wire(case.sentinel) if case.sentinel is not None else ()
    prefetch = None
    if "prefetch" in case.label:
        # the second statement only runs when the first finds something
        real = capture(lambda: case.odm(model, case.value(0)))
        prefetch = real[1][0] if len(real) > 1 else None

    def odm_raw(v: Any) -> Any:
        mapping = dict(zip(sentinel_wire, case.wire(v), strict=True)) if v is not None else {}
        out = None
        for text, binds in statements:
            out = client.query(DB, text, substitute(binds, mapping))
        if prefetch is not None and out:
            ids = sorted({r["author"] for r in out if r.get("author")})
            client.query(DB, prefetch, {"ids": ids})
        return out

    def hand_raw(v: Any) -> Any:
        text, binds = case.hand(v)
        return client.query(DB, text.replace("{c}", f"`{coll}`"), binds)

    best_hand = best_odm = float("inf")
    for _ in range(args.slices):
        for which in ("hand", "odm"):
            fn = hand_raw if which == "hand" else odm_raw
            values = [case.value(next(counter)) for _ in range(args.calls)]
            started = time.perf_counter()
            for v in values:
                fn(v)
            per_call = (time.perf_counter() - started) / args.calls
            if which == "hand":
                best_hand = min(best_hand, per_call)
            else:
                best_odm = min(best_odm, per_call)

    same = "n/a (write)"
    plan = "n/a"
    if not case.write:
        v = case.value(next(counter))
        if case.norm(odm_raw(v)) is not None:
            same = "yes" if case.norm(odm_raw(v)) == case.norm(hand_raw(v)) else "NO"
        else:
            same = "-"
    text, binds = case.hand(case.value(0))
    hand_plan = plan_of(client.explain(DB, text.replace("{c}", f"`{coll}`"), binds))
    odm_text, odm_binds = statements[-1] if statements else ("", {})
    if odm_text:
        odm_plan = plan_of(client.explain(DB, odm_text, odm_binds))
        plan = "same" if odm_plan == hand_plan else f"odm {odm_plan} / hand {hand_plan}"

    cpu = float("inf")
    for _ in range(args.slices):
        values = [case.value(next(counter)) for _ in range(args.calls)]
        started = time.process_time()
        for v in values:
            case.odm(model, v)
        cpu = min(cpu, (time.process_time() - started) / args.calls)
    return (case.label, "yes" if indexed else "no", f"{best_hand * 1e3:.2f}",
            f"{best_odm * 1e3:.2f}", f"{best_odm / best_hand:.2f}", plan, same,
            f"{cpu * 1e6:,.0f}")


if __name__ == "__main__":
    main()
