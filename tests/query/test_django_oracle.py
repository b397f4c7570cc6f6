"""Issue 9's proof: Django's own ORM is the oracle for the ODM's queries.

The same seeded rows (``ORACLE_ROWS``, 200) go into Django on in-memory
SQLite and into the ODM on the real server: ints, floats, strings with mixed
case, ``%``, ``_`` and non-ASCII letters, booleans, ``Decimal`` (12 digits, 2
places, written with 0 to 2 places), aware datetimes in many UTC offsets,
dates, and nulls that the ODM stores either as null or by leaving the field
out. Random queries (``ORACLE_TREES``, 1000 by default; seed ``ORACLE_SEED``)
are built once as neutral trees (lookups, date transforms the ODM registers,
``Q`` with ``& | ~``, ``exclude``, ``F`` comparisons, ``order_by`` ending with
the key, slices, aggregates) and run on both, once on a collection without
indexes and once on one with an index on every field, and a tenth more through
the awaitable terminals; the key sets must agree, the key lists too where the
order is total, and the aggregates (numbers numerically, Decimals exactly).

Which string lookups are compared where SQLite differs from Django on
PostgreSQL is said in ``django_oracle/trees.py``. Disagreements found so far
are pinned by the xfail regression tests at the end of this file, whose
features (``django_oracle/gaps.py``) the random queries leave out while the
gap is open. A failure prints its seed, its query, the smallest part of it
that still disagrees, the ODM's query and the rows that split the answers;
``ORACLE_ONLY=<index>`` reruns one query.
"""

from __future__ import annotations

import datetime as dt
import os
import random
from decimal import Decimal
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

import pytest

from solidb_odm import Client
from solidb_odm import exceptions as exc
from solidb_odm.database import Database
from solidb_odm.testing import SoliDBServer
from solidb_odm.testing.pytest_plugin import isolated_database

from .django_oracle import data, load, oracle, trees
from .django_oracle.gaps import gap_mark, known_gap
from .django_oracle.models import OracleRow
from .django_oracle.odm import OracleDoc
from .django_oracle.translate import DJANGO, ODM

ROWS = int(os.environ.get("ORACLE_ROWS", "200"))
TREES = int(os.environ.get("ORACLE_TREES", "1000"))
SEED = int(os.environ.get("ORACLE_SEED", "9009"))
ONLY = os.environ.get("ORACLE_ONLY")
CHUNK = 50
ASYNC_TREES = max(TREES // 10, 20)


@pytest.fixture(scope="module")
def rows() -> Dict[str, data.Row]:
    made = data.make_rows(SEED, ROWS)
    load.load_django(made)
    return {row.key: row for row in made}


@pytest.fixture(scope="module", params=["plain", "indexed"])
def db(request: pytest.FixtureRequest, solidb_server: SoliDBServer, solidb_admin: Client,
       rows: Dict[str, data.Row]) -> Iterator[Database]:
    """The rows in a fresh database: without indexes, and with one on every field.

    (The server's index fast paths have dropped rows before: see test_differential.)
    """
    with isolated_database(solidb_server, solidb_admin) as database:
        load.load_odm(database, list(rows.values()), indexed=request.param == "indexed")
        yield database


@pytest.fixture(scope="module")
def plain_db(solidb_server: SoliDBServer, solidb_admin: Client,
             rows: Dict[str, data.Row]) -> Iterator[Database]:
    """The rows without indexes, for the tests of single lookups."""
    with isolated_database(solidb_server, solidb_admin) as database:
        load.load_odm(database, list(rows.values()))
        yield database


def queries(first: int, count: int, rows: Dict[str, data.Row]) -> Iterator[Tuple[int, trees.Query]]:
    """Query ``i`` is drawn from its own seed, so that one can be rerun alone.

    With ``ORACLE_ONLY=i`` the first chunk and the async test run query ``i`` only.
    """
    if ONLY is not None:
        indexes: Sequence[int] = [int(ONLY)] if first in (0, TREES) else []
    else:
        indexes = range(first, first + count)
    for i in indexes:
        generator = trees.Generator(list(rows.values()), random.Random(f"{SEED}:{i}"))
        yield i, generator.query()


def fail_with(reports: List[Tuple[int, oracle.Report]], total: int) -> None:
    shown = "\n\n".join(f"#{i} (ORACLE_SEED={SEED} ORACLE_ONLY={i}):\n{report}"
                        for i, report in reports[:3])
    pytest.fail(f"{len(reports)} of {total} queries disagree with Django\n\n{shown}", pytrace=False)


@pytest.mark.parametrize("chunk", range((TREES + CHUNK - 1) // CHUNK))
def test_random_queries_agree_with_django(chunk: int, db: Database,
                                          rows: Dict[str, data.Row]) -> None:
    failures = []
    ran = 0
    for i, query in queries(chunk * CHUNK, min(CHUNK, TREES - chunk * CHUNK), rows):
        ran += 1
        count = i % 4 == 0
        want = oracle.run_django(query, count=count)
        got = oracle.run_odm(query, db, count=count)
        found = oracle.problems(query, want, got, rows)
        if found:
            failures.append((i, oracle.reduce_disagreement(query, found, db, rows)))
    if failures:
        fail_with(failures, ran)


@pytest.fixture(scope="module")
def async_cases(rows: Dict[str, data.Row]) -> List[Tuple[int, trees.Query, oracle.Outcome]]:
    """Django's answers, computed outside the event loop (Django's ORM is sync only)."""
    return [(i, query, oracle.run_django(query, count=True))
            for i, query in queries(TREES, ASYNC_TREES, rows)]


async def test_random_queries_agree_with_django_async(
    db: Database, rows: Dict[str, data.Row], monkeypatch: pytest.MonkeyPatch,
    async_cases: List[Tuple[int, trees.Query, oracle.Outcome]],
) -> None:
    """Other queries, through the awaitable terminals (``alist``, ``acount``, ``aaggregate``)."""
    failures = []
    for i, query, want in async_cases:
        got = await oracle.arun_odm(query, db, count=True)
        found = oracle.problems(query, want, got, rows)
        if found:
            failures.append((i, query, found))
    if failures:
        # reducing asks Django again; its ORM refuses to run inside an event loop unless told
        monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        fail_with([(i, oracle.reduce_disagreement(query, found, db, rows))
                   for i, query, found in failures[:3]], len(async_cases))


# -- regression tests: each disagreement found, reduced to a few rows ---------------------
#
# Each runs one small query on a handful of explicit rows, in Django (inside a
# transaction that is rolled back, so the module's rows stay) and in a fresh
# server database, and requires the same answer. ``known_gap`` marks those
# that still disagree (strict xfail) and keeps their features out of the random
# queries above; delete the decorator once the ODM is fixed.

UTC = dt.UTC


def tz(minutes: int) -> dt.timezone:
    return dt.timezone(dt.timedelta(minutes=minutes))


def row(key: str, *, missing: Tuple[str, ...] = (), **values: Any) -> data.Row:
    """A row with ``values``; unnamed nullable fields null, ``flt``/``flag`` 0.0/False."""
    full: Dict[str, Any] = {name: None for name in data.FIELDS}
    full.update(flt=0.0, flag=False)
    full.update(values)
    return data.Row(key, full, frozenset(missing))


def agree(odm_db: Database, rows: List[data.Row], query: trees.Query) -> None:
    with load.django_rows_for_a_moment(rows):
        want = oracle.run_django(query, count=True)
    load.load_odm(odm_db, rows)
    got = oracle.run_odm(query, odm_db, count=True)
    by_key = {r.key: r for r in rows}
    found = oracle.problems(query, want, got, by_key)
    assert not found, f"{query!r}\n" + "\n".join(found) + "\nrows:\n" + "\n".join(
        oracle.describe_row(r, {n for n in data.FIELDS if r.values[n] is not None or n in r.missing})
        for r in rows)


def one(keyword: str, value: Any, method: str = "filter") -> trees.Query:
    path = tuple(keyword.split("__"))
    lookup = path[-1] if path[-1] in trees.LOOKUPS["str"] else "exact"
    if lookup == "exact" and path[-1] != "exact":
        path = (*path, "exact")
    value = trees.FieldRef(value[2:]) if isinstance(value, str) and value.startswith("F:") else value
    return trees.Query(((method, trees.Leaf(path[:-1], lookup, value)),))


def aggregate(*aggregates: Tuple[str, Optional[str]]) -> trees.Query:
    return trees.Query((), aggregates=tuple(
        trees.Aggregate(f"a{i}", func, field) for i, (func, field) in enumerate(aggregates)))


@pytest.mark.parametrize("method", ["filter", "exclude"])
def test_transform_then_in(odm_db: Database, method: str) -> None:
    rows = [row("r1", at=dt.datetime(2024, 3, 31, 23, 0, tzinfo=tz(-120)), day=dt.date(2024, 2, 1)),
            row("r2", at=dt.datetime(2024, 1, 1, 0, 30, tzinfo=tz(60)), day=dt.date(2024, 3, 1))]
    agree(odm_db, rows, one("at__year__in", [2024], method))
    agree(odm_db, rows, one("day__month__in", [2, 5], method))


def test_min_and_max_of_dates_and_datetimes(odm_db: Database) -> None:
    rows = [row("r1", at=dt.datetime(2024, 1, 1, 1, 0, tzinfo=tz(60)), day=dt.date(2024, 2, 1)),
            row("r2", at=dt.datetime(2023, 12, 31, 20, 0, tzinfo=tz(-60)), day=dt.date(2023, 2, 1))]
    agree(odm_db, rows, aggregate(("Max", "at"), ("Min", "at"), ("Max", "day"), ("Min", "day")))


@pytest.mark.parametrize(("keyword", "value"), [
    ("at__time__second__gt", 0), ("at__time__hour", 12), ("at__time__minute", 15)])
def test_time_then_hour_minute_second(odm_db: Database, keyword: str, value: int) -> None:
    rows = [row("r1", at=dt.datetime(2024, 7, 1, 17, 45, 5, tzinfo=tz(330))),
            row("r2", at=dt.datetime(2024, 7, 1, 12, 0, 0, 250000, tzinfo=UTC))]
    agree(odm_db, rows, one(keyword, value))


# -- refusals: where Django raises, the ODM must raise a typed error, and vice versa -----------
#
# Django's FieldError (a name it cannot resolve: a field, a lookup, a transform
# on a field it does not apply to) must be the ODM's FieldError; Django's other
# refusals (ValueError, TypeError, django's ValidationError, IndexError...) the
# ODM's ValidationError (FieldError is one). Where Django answers, the ODM must
# answer the same keys, for filter() and exclude() alike.

def django_exception_kind(error: BaseException) -> str:
    from django.core.exceptions import FieldError

    return "FieldError" if isinstance(error, FieldError) else "ValidationError"


def refused_alike(want: BaseException, got: Optional[BaseException]) -> bool:
    expected = exc.FieldError if django_exception_kind(want) == "FieldError" else exc.ValidationError
    return isinstance(got, expected)


def lookup_outcomes(db: Database, keyword: str, value: Any, method: str
                    ) -> Tuple[oracle.Outcome, oracle.Outcome]:
    outcomes = []
    for side, base in ((DJANGO, OracleRow.objects.all()), (ODM, OracleDoc.objects.using(db))):
        out = oracle.Outcome()
        try:
            qs = getattr(base, method)(side.Q(**{keyword: value}))
            out.keys = sorted(qs.values_list("key", flat=True))
        except Exception as error:  # the refusal is the answer
            out.error = error
        outcomes.append(out)
    return outcomes[0], outcomes[1]


def check_lookup(db: Database, keyword: str, value: Any) -> None:
    for method in ("filter", "exclude"):
        want, got = lookup_outcomes(db, keyword, value, method)
        where = f"{method}({keyword}={value!r})"
        if want.error is not None:
            assert refused_alike(want.error, got.error), (
                f"{where}: Django refuses ({want.describe_error()}), the ODM "
                + (f"raises {got.describe_error()}" if got.error else f"answers {got.keys}"))
        else:
            assert got.error is None, (
                f"{where}: Django answers {want.keys}, the ODM refuses ({got.describe_error()})")
            assert want.keys == got.keys, f"{where}: Django {want.keys}, the ODM {got.keys}"


NOW = dt.datetime(2024, 1, 1, tzinfo=UTC)

#: Django refuses these; the ODM does too
BOTH_REFUSE = [
    ("nosuch", 1), ("nosuch__gt", 1), ("nosuch__year", 2024), ("day__hour", 1), ("flag__month", 1),
    ("num", "abc"), ("num__gt", "x"), ("num__in", ["1", "x"]), ("amount", "abc"),
    ("amount", float("nan")), ("at__lt", "soon"), ("day", "tomorrow"), ("flag", "maybe"),
    ("at__year", "x"), ("num__range", (1,)), ("num__range", (1, 2, 3)), ("num__gt", None),
    ("txt__contains", None), ("txt__startswith", None), ("at__lt", None), ("num__in", None),
    ("num__in", 5), ("num__isnull", "yes"), ("num__isnull", 1),
]

#: Django converts these values through the field (or takes them as they are); the ODM too
BOTH_ANSWER = [
    ("num", "30"), ("num", 30.0), ("num", True), ("num", 2**63), ("num__range", ("1", "5")),
    ("flt", "2.5"), ("flt", Decimal("2.5")), ("amount", 10), ("amount", 1.1), ("amount", "1e2"),
    ("amount__gt", "10"), ("amount__in", ["1.5", 10]), ("flag", "1"), ("flag", "t"),
    ("flag", "True"), ("flag", 0), ("at__gte", "2024-01-01T00:00:00+01:00"),
    ("at", "2024-01-01T00:00:00"), ("at", dt.date(2024, 1, 1)), ("day", "2024-01-01"),
    ("day", NOW), ("at__date", "2024-01-01"), ("at__date__year", 2024), ("at__time", "12:00"),
    ("at__year", "2024"), ("at__week_day", 8), ("at__hour", 25), ("txt", None),
    ("txt__iexact", None), ("at", None), ("txt__in", []),
]


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # Django: a naive datetime while USE_TZ
@pytest.mark.parametrize(("keyword", "value"), BOTH_REFUSE + BOTH_ANSWER,
                         ids=[f"{k}={v!r}" for k, v in BOTH_REFUSE + BOTH_ANSWER])
def test_refusals_and_conversions_agree_with_django(plain_db: Database, keyword: str, value: Any) -> None:
    check_lookup(plain_db, keyword, value)


@pytest.mark.parametrize(("keyword", "value"), [("num__bogus", 1), ("at__year__bogus", 1)])
def test_unknown_lookup_is_a_field_error(plain_db: Database, keyword: str, value: Any) -> None:
    check_lookup(plain_db, keyword, value)


@pytest.mark.parametrize(("keyword", "value"), [
    ("num__year", 2024), ("txt__year", 1), ("at__year__year", 1)])
def test_transform_on_a_field_it_does_not_apply_to(plain_db: Database, keyword: str, value: Any) -> None:
    check_lookup(plain_db, keyword, value)


@known_gap("boolean_words", [],
           "flag='yes' (and 'no', 'on', 'off') are taken as booleans by pydantic; Django accepts "
           "only True/False, 1/0, 't'/'f', 'True'/'False', '1'/'0' and raises ValidationError "
           "('“yes” value must be either True or False.')")
@pytest.mark.parametrize("value", ["yes", "no", "on", "off"])
def test_boolean_words_django_refuses(plain_db: Database, value: str) -> None:
    check_lookup(plain_db, "flag", value)


# A query value is compared, not stored: a bound with more places than the field keeps
# (once refused by the field's decimal_places) compares numerically, as in Django.
@pytest.mark.parametrize(("keyword", "value"), [
    ("amount", Decimal("1.005")), ("amount__lt", Decimal("0.005")),
    ("amount__gt", Decimal("12345678901.5")), ("amount__range", (Decimal("0.001"), Decimal("9.999")))])
def test_decimal_bound_with_more_places_than_the_field(plain_db: Database, keyword: str, value: Any) -> None:
    check_lookup(plain_db, keyword, value)


#: Django converts these lossily (a float or Decimal truncated to an integer, a number to its
#: text, a float rounded to the field's precision) or treats a number as text (``contains``);
#: the ODM refuses them with ValidationError instead. Pinned as the ODM's choice, not Django's.
NOT_COPIED = [
    ("num", 2.5, "Django matches num=2 (int(2.5))"),
    ("num__lt", Decimal("2.5"), "Django means num < 2 (int(Decimal('2.5'))), missing num=2"),
    ("at__year__gt", 2024.5, "Django means year > 2024"),
    ("txt", 5, "Django compares with the text '5'"),
    ("txt__gt", 5, "Django compares with the text '5'"),
    ("amount", 0.1 + 0.2, "Django rounds the float to 12 digits, 0.300000000000"),
    ("num__contains", 1, "Django matches the numbers whose text contains '1'"),
]


@pytest.mark.parametrize(("keyword", "value", "django_does"), NOT_COPIED,
                         ids=[f"{k}={v!r}" for k, v, _ in NOT_COPIED])
def test_lossy_conversions_django_makes_are_refused(
    plain_db: Database, keyword: str, value: Any, django_does: str
) -> None:
    want, got = lookup_outcomes(plain_db, keyword, value, "filter")
    assert want.error is None, f"Django now refuses {keyword}={value!r}: {want.describe_error()}"
    assert isinstance(got.error, exc.ValidationError), (
        f"{keyword}={value!r}: {django_does}; the ODM answers {got.keys}")


def test_nan_is_refused_by_the_odm(plain_db: Database) -> None:
    """Not compared: SQLite stores a NaN as NULL (so flt=nan matches nothing) and PostgreSQL
    holds NaN equal to itself; JSON has no NaN, and the ODM refuses it with a typed error."""
    _, got = lookup_outcomes(plain_db, "flt", float("nan"), "filter")
    assert isinstance(got.error, exc.SoliDBError), got


@pytest.mark.parametrize("values", [[None], [None, "alice", "Bob"]])
def test_none_in_an_in_list_is_dropped(plain_db: Database, values: List[Any]) -> None:
    """``f__in=[None, ...]`` never matches a null; ``exclude()`` is its complement (Django 5.2).

    Django 6.1 changed the negated form only: ``exclude(f__in=[None, x])`` becomes
    ``NOT (f IN (x) OR f IS NULL)`` and leaves the null rows out as well, so
    ``filter()`` and ``exclude()`` no longer split the rows between them. The
    ODM keeps 5.2's meaning; under 6.1 only ``filter()`` is compared here.
    """
    import django

    want, got = lookup_outcomes(plain_db, "txt__in", values, "filter")
    assert want.error is None and got.error is None and want.keys == got.keys
    filtered = set(got.keys or [])
    want, got = lookup_outcomes(plain_db, "txt__in", values, "exclude")
    assert got.error is None and want.keys is not None
    everything = OracleRow.objects.values_list("key", flat=True)
    non_null = OracleRow.objects.filter(txt__isnull=False).values_list("key", flat=True)
    assert got.keys == sorted(set(everything) - filtered)
    if django.VERSION < (6, 1):
        assert want.keys == got.keys
    else:
        assert want.keys == sorted(set(non_null) - filtered)


# -- the other QuerySet methods: names, values read back, empty Q, aggregates ------------------


def same_value(a: Any, b: Any) -> bool:
    """Equal and of the same type (``Decimal('1.50')`` is not ``1.5``), recursively."""
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(
            same_value(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_value(a[k], b[k]) for k in a)
    if isinstance(a, dt.datetime) and isinstance(b, dt.datetime):
        return (a.tzinfo is None) == (b.tzinfo is None) and a == b
    return type(a) is type(b) and a == b


def keys(qs: Any) -> List[str]:
    return list(qs.values_list("key", flat=True))


def count_rows(side: Any) -> Any:
    return side.aggregates["Count"]("key") if side is DJANGO else side.aggregates["Count"]()


#: name -> what to do with a QuerySet of either side (``side`` spells Q, F and aggregates)
ACTIONS: Dict[str, Any] = {
    "order_by('nosuch')": lambda qs, side: keys(qs.order_by("nosuch")),
    "order_by('-nosuch')": lambda qs, side: keys(qs.order_by("-nosuch")),
    "values('nosuch')": lambda qs, side: list(qs.values("nosuch")),
    "values_list('nosuch')": lambda qs, side: list(qs.values_list("nosuch")),
    "only('nosuch')": lambda qs, side: list(qs.only("nosuch")),
    "aggregate(Sum('nosuch'))": lambda qs, side: qs.aggregate(x=side.aggregates["Sum"]("nosuch")),
    "filter(num=F('nosuch'))": lambda qs, side: keys(qs.filter(num=side.F("nosuch"))),
    "values_list('key', 'num', 'txt', 'flag', 'flt')": lambda qs, side: sorted(
        qs.values_list("key", "num", "txt", "flag", "flt")),
    "filter(Q())": lambda qs, side: sorted(keys(qs.filter(side.Q()))),
    "filter(Q() & Q(num=1))": lambda qs, side: sorted(keys(qs.filter(side.Q() & side.Q(num=1)))),
    "filter(num=F('num2') + 1)": lambda qs, side: sorted(keys(qs.filter(num=side.F("num2") + 1))),
    "filter(num__gt=F('num2') * 2)": lambda qs, side: sorted(keys(qs.filter(num__gt=side.F("num2") * 2))),
    "filter(flt__lt=F('flt2') - 1.5)": lambda qs, side: sorted(keys(qs.filter(flt__lt=side.F("flt2") - 1.5))),
    "filter(amount__gt=F('amount2') + 1)": lambda qs, side: sorted(
        keys(qs.filter(amount__gt=side.F("amount2") + 1))),
    "filter(num__gt=F('flt'))": lambda qs, side: sorted(keys(qs.filter(num__gt=side.F("flt")))),
    "filter(amount__gt=F('num'))": lambda qs, side: sorted(keys(qs.filter(amount__gt=side.F("num")))),
    "filter(at__gt=F('day'))": lambda qs, side: sorted(keys(qs.filter(at__gt=side.F("day")))),
    "latest('at')": lambda qs, side: qs.filter(at__isnull=False).latest("at").key,
    "earliest('day')": lambda qs, side: qs.filter(day__isnull=False).earliest("day").key,
    "values('flag').annotate(n=Count())": lambda qs, side: sorted(
        (d["flag"], d["n"]) for d in qs.values("flag").annotate(n=count_rows(side))),
    "values('flag').distinct().count()": lambda qs, side: qs.values("flag").distinct().count(),
}

ACTIONS.update({
    "values_list('key', 'amount', 'at', 'day')": lambda qs, side: sorted(
        qs.values_list("key", "amount", "at", "day")),
    "filter(~Q())": lambda qs, side: sorted(keys(qs.filter(~side.Q()))),
    "exclude(Q())": lambda qs, side: sorted(keys(qs.exclude(side.Q()))),
    "filter(Q() | Q(num=1))": lambda qs, side: sorted(keys(qs.filter(side.Q() | side.Q(num=1)))),
    "filter(num__in=[F('num2')])": lambda qs, side: sorted(keys(qs.filter(num__in=[side.F("num2")]))),
    "filter(pk='r001')": lambda qs, side: keys(qs.filter(pk="r001")),
    "order_by('-pk')": lambda qs, side: keys(qs.order_by("-pk")),
    "order_by('at__year', 'key')": lambda qs, side: keys(qs.order_by("at__year", "key")),
    "order_by('num__bogus')": lambda qs, side: keys(qs.order_by("num__bogus")),
    "aggregate(Avg('at'))": lambda qs, side: qs.aggregate(x=side.aggregates["Avg"]("at")),
    "aggregate(Sum('day'))": lambda qs, side: qs.aggregate(x=side.aggregates["Sum"]("day")),
})


def check_action(db: Database, name: str, action: Any) -> None:
    outcomes = []
    for side, base in ((DJANGO, OracleRow.objects.all()), (ODM, OracleDoc.objects.using(db))):
        try:
            outcomes.append((action(base, side), None))
        except Exception as error:  # the refusal is the answer
            outcomes.append((None, error))
    (want, want_error), (got, got_error) = outcomes
    if want_error is not None:
        from django.core.exceptions import FieldDoesNotExist

        if isinstance(want_error, FieldDoesNotExist):  # only(): Django's other name for it
            assert isinstance(got_error, exc.FieldError), f"{name}: the ODM {got_error or got!r}"
            return
        assert refused_alike(want_error, got_error), (
            f"{name}: Django refuses ({type(want_error).__name__}: {want_error}), the ODM "
            + (f"raises {type(got_error).__name__}: {got_error}" if got_error else f"gives {got!r}"))
        return
    assert got_error is None, f"{name}: Django gives {want!r}, the ODM raises {got_error!r}"
    assert same_value(want, got), f"{name}:\n  Django  {want!r}\n  the ODM {got!r}"


@pytest.mark.parametrize(("name", "action"), [
    pytest.param(name, action, id=name) for name, action in ACTIONS.items()])
def test_other_queryset_methods_agree_with_django(plain_db: Database, name: str, action: Any) -> None:
    check_action(plain_db, name, action)


def test_sum_of_text_is_not_compared(rows: Dict[str, data.Row]) -> None:
    """Not compared: ``Sum``/``Avg``/``Max`` over text or booleans are backend-specific in Django.

    SQLite adds up the numeric prefixes of strings (``Sum('txt')`` is 550.0 on
    these rows) and takes the maximum of booleans stored as 0/1; PostgreSQL
    has no ``sum(varchar)`` or ``max(boolean)`` and fails. The ODM answers
    ``None`` (aggregates ignore values of the wrong kind, docs/querying.md):
    the random queries never ask for these.
    """
    assert OracleRow.objects.aggregate(x=DJANGO.aggregates["Sum"]("txt"))["x"] is not None


@known_gap("integer_sum_as_float", ["int:sum"],
           "Sum of an IntegerField is a float: Sum('num') of 2**53, 1 and -7 is 9007199254740985.0 "
           "(Django: 9007199254740986)")
def test_integer_sum_is_exact(odm_db: Database) -> None:
    rows = [row("r1", num=2**53), row("r2", num=1), row("r3", num=-7)]
    with load.django_rows_for_a_moment(rows):
        want = OracleRow.objects.aggregate(n=DJANGO.aggregates["Sum"]("num"))
    load.load_odm(odm_db, rows)
    got = OracleDoc.objects.using(odm_db).aggregate(n=ODM.aggregates["Sum"]("num"))
    assert same_value(want, got), f"Django {want!r}, the ODM {got!r}"


DECIMAL_ROWS = [row("r1", amount=Decimal("0.10"), amount2=Decimal("0.10")),
                row("r2", amount=Decimal("0.2"), amount2=Decimal("0.2")),
                row("r3", amount=Decimal("9999999999.99"), amount2=Decimal("9999999999.99")),
                row("r4", amount=Decimal("-9999999999.99"), amount2=Decimal("-9999999999.99")),
                row("r5", amount=Decimal("0.01"), amount2=Decimal("0.01"))]


@pytest.mark.parametrize(("func", "field"), [
    ("Sum", "amount"), ("Sum", "amount2"),
    ("Min", "amount"), ("Min", "amount2"), ("Max", "amount"), ("Max", "amount2"),
])
def test_decimal_aggregates_are_exact(odm_db: Database, field: str, func: str) -> None:
    with load.django_rows_for_a_moment(DECIMAL_ROWS):
        want = OracleRow.objects.aggregate(a=DJANGO.aggregates[func](field))
    load.load_odm(odm_db, DECIMAL_ROWS)
    got = OracleDoc.objects.using(odm_db).aggregate(a=ODM.aggregates[func](field))
    if func == "Sum":
        want["a"] = Decimal("0.31")  # exact; SQLite adds the Decimals as floats
    assert same_value(want, got), f"Django {want!r}, the ODM {got!r}"


# -- update(): names and values go through the fields there too ---------------------------------

UPDATE_ROWS = [row("r1", num=1, num2=5, txt="a", amount=Decimal("2.50"),
                   at=dt.datetime(2024, 1, 1, tzinfo=UTC), day=dt.date(2024, 1, 1)),
               row("r2", num=2, missing=("txt", "amount", "at", "day"))]

UPDATES: List[Any] = [
    ("nosuch", 1), ("num", "abc"), ("num__gt", 1), ("day", "tomorrow"), ("amount", "abc"),
    ("flt", None), ("num", "30"), ("num", None), ("txt", "x%_é"), ("amount", "1.5"),
    ("amount", 7), ("at", "2024-01-01T01:00:00+01:00"), ("day", "2024-02-29"), ("flag", "t"),
    pytest.param("flag", "yes", marks=gap_mark(
        "boolean_words", [], "update(flag='yes') writes True; Django refuses it")),
]


@pytest.mark.parametrize(("name", "value"), UPDATES)
def test_update_agrees_with_django(odm_db: Database, name: str, value: Any) -> None:
    """``update(field=value)`` on both; the rows read back through their models must agree."""
    load.load_odm(odm_db, UPDATE_ROWS)
    with load.django_rows_for_a_moment(UPDATE_ROWS):
        try:
            want_count = OracleRow.objects.filter(num__gte=1).update(**{name: value})
            want = sorted((r.key, getattr(r, name.split("__")[0], None))
                          for r in OracleRow.objects.all())
            want_error = None
        except Exception as error:  # the refusal is the answer
            want_error = error
    try:
        got_count = OracleDoc.objects.using(odm_db).filter(num__gte=1).update(**{name: value})
        got = sorted((d.key, getattr(d, name.split("__")[0], None))
                     for d in OracleDoc.objects.using(odm_db))
        got_error = None
    except Exception as error:  # the refusal is the answer
        got_error = error
    if want_error is not None:
        assert refused_alike(want_error, got_error), (
            f"update({name}={value!r}): Django refuses ({type(want_error).__name__}: {want_error}), "
            f"the ODM " + (f"raises {got_error!r}" if got_error else f"writes {got!r}"))
        return
    assert got_error is None, f"update({name}={value!r}): Django writes {want!r}, the ODM raises {got_error!r}"
    assert want_count == got_count
    assert same_value(want, got), f"update({name}={value!r}):\n  Django  {want!r}\n  the ODM {got!r}"


def test_update_with_an_f_expression_agrees_with_django(odm_db: Database) -> None:
    load.load_odm(odm_db, UPDATE_ROWS)
    with load.django_rows_for_a_moment(UPDATE_ROWS):
        OracleRow.objects.update(num=DJANGO.F("num2") + 1, num2=DJANGO.F("num") * 2)
        want = sorted(OracleRow.objects.values_list("key", "num", "num2"))
    OracleDoc.objects.using(odm_db).update(num=ODM.F("num2") + 1, num2=ODM.F("num") * 2)
    got = sorted(OracleDoc.objects.using(odm_db).values_list("key", "num", "num2"))
    assert got == want


@pytest.mark.parametrize(("keyword", "value", "means"), [
    ("day__year__gte", 0, {"day__isnull": False}), ("day__year", 0, {"pk__in": []}),
    ("day__year__lt", 10000, {"day__isnull": False}), ("at__year__gt", -5, {"at__isnull": False}),
])
def test_years_django_cannot_make_a_date_of(plain_db: Database, keyword: str, value: int,
                                            means: Dict[str, Any]) -> None:
    """Not copied: Django turns ``year`` compared with a constant into a range of dates and
    raises ``ValueError('year 0 is out of range')`` outside 1..9999 (``__in`` and ``__range``
    have no such limit); the ODM answers what the comparison means."""
    want, got = lookup_outcomes(plain_db, keyword, value, "filter")
    assert isinstance(want.error, ValueError), want
    assert got.keys == sorted(OracleRow.objects.filter(**means).values_list("key", flat=True))
