"""Run one query on both sides, compare the answers, and reduce a disagreement."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Dict, List, Optional, Sequence, Set

from solidb_odm import exceptions as odm_exc
from solidb_odm.database import Database

from .data import FIELDS, Row
from .models import OracleRow
from .odm import OracleDoc
from .translate import DJANGO, ODM
from .trees import FieldRef, Query, leaves, subtrees


@dataclass
class Outcome:
    """What one side answered: keys (in order when the query is ordered), count, aggregates."""

    keys: Optional[List[str]] = None
    #: the keys before ordering and slicing, when aggregates were asked for
    filtered_keys: Optional[List[str]] = None
    count: Optional[int] = None
    aggregates: Optional[Dict[str, Any]] = None
    error: Optional[BaseException] = None

    def describe_error(self) -> str:
        return f"{type(self.error).__name__}: {self.error}"


def run_django(query: Query, count: bool = False) -> Outcome:
    out = Outcome()
    try:
        qs = DJANGO.filtered(OracleRow.objects.all(), query)
        final = DJANGO.ordered(qs, query)
        out.keys = list(final.values_list("key", flat=True))
        if count:
            out.count = final.count()
        if query.aggregates:
            out.filtered_keys = list(qs.values_list("key", flat=True))
            out.aggregates = qs.aggregate(**DJANGO.aggregate_kwargs(query))
    except Exception as error:  # a refusal is an answer to compare
        out.error = error
    return out


def run_odm(query: Query, db: Database, count: bool = False) -> Outcome:
    out = Outcome()
    try:
        qs = ODM.filtered(OracleDoc.objects.using(db), query)
        final = ODM.ordered(qs, query)
        out.keys = list(final.values_list("key", flat=True))
        if count:
            out.count = final.count()
        if query.aggregates:
            out.aggregates = qs.aggregate(**ODM.aggregate_kwargs(query))
    except Exception as error:
        out.error = error
    return out


async def arun_odm(query: Query, db: Database, count: bool = False) -> Outcome:
    """``run_odm`` through the awaitable terminals."""
    out = Outcome()
    try:
        qs = ODM.filtered(OracleDoc.objects.using(db), query)
        final = ODM.ordered(qs, query)
        out.keys = [key async for key in final.values_list("key", flat=True)]
        if count:
            out.count = await final.acount()
        if query.aggregates:
            out.aggregates = await qs.aaggregate(**ODM.aggregate_kwargs(query))
    except Exception as error:
        out.error = error
    return out


# -- comparing ---------------------------------------------------------------------------


def _close(a: Any, b: Any, slack: float = 0.0) -> bool:
    return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=max(1e-9, slack))


def aggregate_agrees(func: str, want: Any, got: Any, slack: float = 0.0) -> bool:
    """Numbers numerically (Decimal exactly when both are Decimal), the rest by value and type.

    ``slack`` is how far a sum computed in floats may honestly be off (the
    rounding bound of adding the values as doubles); it only applies when the
    ODM's answer is a float.
    """
    if want is None or got is None:
        return want is None and got is None
    if isinstance(want, Decimal) and isinstance(got, Decimal):
        if func == "Avg":  # SQLite averages in floats; PostgreSQL's numeric has more digits
            return _close(want, got)
        return want == got
    numeric = (int, float, Decimal)
    if isinstance(want, numeric) and not isinstance(want, bool):
        if not isinstance(got, numeric) or isinstance(got, bool):
            return False
        if isinstance(want, int) and isinstance(got, int) and func != "Avg":
            return want == got
        return _close(want, got, slack if isinstance(got, float) else 0.0)
    if isinstance(want, dt.datetime):
        return isinstance(got, dt.datetime) and got.tzinfo is not None and got == want
    return type(want) is type(got) and want == got


def float_sum_slack(rows: Dict[str, Row], keys: Sequence[str], name: str, mean: bool) -> float:
    """The rounding bound of a float sum of the field, (n - 1) * eps * sum(|x|); / n for a mean."""
    values = [abs(float(rows[k].values[name])) for k in keys if rows[k].values[name] is not None]
    bound = max(len(values) - 1, 0) * 2.3e-16 * sum(values)
    return bound / len(values) if mean and values else bound


def exact_decimal_sum(rows: Dict[str, Row], keys: Sequence[str], name: str) -> Optional[Decimal]:
    """The exact sum a numeric column would give (SQLite adds Decimals as floats)."""
    values = [rows[k].values[name] for k in keys if rows[k].values[name] is not None]
    return sum(values, Decimal(0)) if values else None


def _keys(keys: Optional[Sequence[str]]) -> str:
    if keys is None:
        return "nothing"
    shown = ", ".join(keys[:12])
    return f"[{shown}{', ...' if len(keys) > 12 else ''}] ({len(keys)} keys)"


def problems(query: Query, want: Outcome, got: Outcome, rows: Dict[str, Row]) -> List[str]:
    """Where the ODM's answer differs from Django's (empty when they agree)."""
    if want.error is not None or got.error is not None:
        if want.error is not None and got.error is not None:
            if isinstance(got.error, odm_exc.SoliDBError):
                return []
            return [f"both refuse, but the ODM's error is untyped: {got.describe_error()}"]
        if want.error is not None:
            return [f"Django refuses ({want.describe_error()}); the ODM answers {_keys(got.keys)}"]
        return [f"the ODM refuses ({got.describe_error()}); Django answers {_keys(want.keys)}"]
    out = []
    assert want.keys is not None and got.keys is not None
    if query.order:
        if want.keys != got.keys:
            first = next(i for i, (a, b) in enumerate(zip([*want.keys, None], [*got.keys, None],
                                                          strict=False)) if a != b)
            out.append(f"ordered keys differ from position {first}:\n"
                       f"  Django  {_keys(want.keys[first:])}\n  the ODM {_keys(got.keys[first:])}")
    elif sorted(want.keys) != sorted(got.keys):
        only_d = sorted(set(want.keys) - set(got.keys))
        only_o = sorted(set(got.keys) - set(want.keys))
        out.append(f"key sets differ: only Django {only_d}, only the ODM {only_o}")
    if len(set(got.keys)) != len(got.keys):
        out.append(f"the ODM returned a key twice: {got.keys}")
    if want.count != got.count:
        out.append(f"count: Django {want.count}, the ODM {got.count}")
    for agg in query.aggregates:
        assert want.aggregates is not None and got.aggregates is not None
        expected = want.aggregates[agg.alias]
        if agg.func == "Sum" and agg.field and FIELDS[agg.field][0] == "decimal":
            assert want.filtered_keys is not None
            expected = exact_decimal_sum(rows, want.filtered_keys, agg.field)
        actual = got.aggregates.get(agg.alias, "<absent>")
        slack = 0.0
        if agg.func in ("Sum", "Avg") and agg.field:
            assert want.filtered_keys is not None
            slack = float_sum_slack(rows, want.filtered_keys, agg.field, agg.func == "Avg")
        if not aggregate_agrees(agg.func, expected, actual, slack):
            out.append(f"{agg!r}: Django {expected!r}, the ODM {actual!r}")
    return out


# -- reducing ----------------------------------------------------------------------------


@dataclass
class Report:
    query: Query
    found: List[str]
    smallest: Optional[Query] = None
    smallest_found: List[str] = field(default_factory=list)
    rows: List[str] = field(default_factory=list)
    sdbql: str = ""

    def __str__(self) -> str:
        lines = [f"query: {self.query!r}", *[f"  {p}" for p in self.found]]
        if self.smallest is not None:
            lines += [f"smallest failing part: {self.smallest!r}",
                      *[f"  {p}" for p in self.smallest_found]]
        if self.sdbql:
            lines += ["ODM query:", self.sdbql]
        if self.rows:
            lines += ["rows involved:", *[f"  {r}" for r in self.rows]]
        return "\n".join(lines)


def describe_row(row: Row, names: Set[str]) -> str:
    parts = []
    for name in sorted(names):
        if name in row.missing:
            parts.append(f"{name}=<missing>")
        else:
            parts.append(f"{name}={row.values[name]!r}")
    return f"{row.key}: " + ", ".join(parts)


def reduce_disagreement(query: Query, found: List[str], db: Database,
                        rows: Dict[str, Row]) -> Report:
    """The smallest single-step subtree that still disagrees, and the rows it splits."""
    report = Report(query, found)
    candidates: List[Query] = []
    for method, tree in query.steps:
        candidates += [Query(((method, sub),)) for sub in subtrees(tree)]
    candidates += [Query((), aggregates=(agg,)) for agg in query.aggregates]
    if query.order:
        candidates.append(Query((), query.order))
    candidates.append(query)
    for candidate in candidates:
        want, got = run_django(candidate), run_odm(candidate, db)
        trouble = problems(candidate, want, got, rows)
        if trouble:
            report.smallest, report.smallest_found = candidate, trouble
            if want.keys is not None and got.keys is not None:
                split = set(want.keys) ^ set(got.keys)
                names = set(candidate.order) | {a.field or "key" for a in candidate.aggregates}
                for _, tree in candidate.steps:
                    for leaf in leaves(tree):
                        names.add(leaf.path[0])
                        if isinstance(leaf.value, FieldRef):
                            names.add(leaf.value.name)
                names = {n.lstrip("-") for n in names} - {"key"}
                report.rows = [describe_row(rows[k], names) for k in sorted(split)[:8]]
            try:
                qs = ODM.filtered(OracleDoc.objects.using(db), candidate)
                compiled = qs.compile()
                report.sdbql = f"{compiled.sdbql}\nbind_vars: {compiled.bind_vars!r}"
            except Exception as error:
                report.sdbql = f"(does not compile: {error!r})"
            break
    return report
