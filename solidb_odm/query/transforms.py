"""Transforms: functions of a field that lookups then compare (``published_at__year__gte=2024``).

Like lookups, transforms live in an open registry (:func:`register_transform`)
and have two halves, SDBQL (``render``) and Python (``evaluate``, for a
session's uncommitted objects), which must agree.

The date and time transforms read the stored text of :mod:`solidb_odm.storage`
(UTC, fixed width), so they are plain substrings: they never raise on the
server, where an error inside FILTER would count as false. ``year`` and
``date`` compared with a constant are rewritten by the lookups into a range on
the field itself, which an index on the field serves (as Django does).
"""

from __future__ import annotations

import datetime as _dt
from typing import Any, FrozenSet, Optional, Tuple

from .registry import register_transform

__all__ = ["BaseTransform", "register_transform"]

DATE_KINDS: FrozenSet[str] = frozenset({"datetime", "date"})
TIME_KINDS: FrozenSet[str] = frozenset({"datetime", "time"})
TEXT_KINDS: FrozenSet[str] = frozenset({"text", "uuid", "enum", "any", "ref"})

#: Where each part starts in the stored text, by the field's kind.
_OFFSETS = {
    "datetime": {"year": 0, "month": 5, "day": 8, "hour": 11, "minute": 14, "second": 17},
    "date": {"year": 0, "month": 5, "day": 8},
    "time": {"hour": 0, "minute": 3, "second": 6},
}


class BaseTransform:
    """A transform. Subclasses set ``name``, ``applies_to`` and ``output``.

    ``output`` is the kind of value it yields, which decides how the compared
    value is prepared: ``"int"``, ``"date"``, ``"time"`` or ``"text"``.
    """

    name = ""
    applies_to: FrozenSet[str] = frozenset()
    output = "int"

    def render(self, inner: str, source: Optional[str]) -> str:
        """SDBQL for the transformed value of ``inner`` (a field of kind ``source``)."""
        raise NotImplementedError

    def evaluate(self, value: Any, source: Optional[str]) -> Any:
        """The same in Python, on the stored value."""
        raise NotImplementedError

    def bounds(self, value: Any, source: Optional[str]) -> Optional[Tuple[str, str]]:
        """The stored values (first, last) of the field whose transform equals ``value``,
        when that set is one range of the field; None otherwise."""
        return None


def _number(text: str, start: int, length: int) -> str:
    return f"TO_NUMBER(SUBSTRING({text}, {start}, {length}))"


class _Part(BaseTransform):
    """A numeric part of a stored date, time or datetime."""

    length = 2

    def render(self, inner: str, source: Optional[str]) -> str:
        start = _OFFSETS.get(source or "datetime", {}).get(self.name)
        if start is None:
            return "null"
        return f"(IS_STRING({inner}) ? {_number(inner, start, self.length)} : null)"

    def evaluate(self, value: Any, source: Optional[str]) -> Any:
        start = _OFFSETS.get(source or "datetime", {}).get(self.name)
        if start is None or not isinstance(value, str):
            return None
        try:
            return int(value[start:start + self.length])
        except ValueError:
            return None


@register_transform
class Year(_Part):
    name, applies_to, length = "year", DATE_KINDS, 4

    def bounds(self, value: Any, source: Optional[str]) -> Optional[Tuple[str, str]]:
        if not isinstance(value, int) or not 1 <= value <= 9999:
            return None
        if source == "date":
            return f"{value:04d}-01-01", f"{value:04d}-12-31"
        return f"{value:04d}-01-01T00:00:00.000000Z", f"{value:04d}-12-31T23:59:59.999999Z"


@register_transform
class Month(_Part):
    name, applies_to = "month", DATE_KINDS


@register_transform
class Day(_Part):
    name, applies_to = "day", DATE_KINDS


@register_transform
class Hour(_Part):
    name, applies_to = "hour", TIME_KINDS


@register_transform
class Minute(_Part):
    name, applies_to = "minute", TIME_KINDS


@register_transform
class Second(_Part):
    name, applies_to = "second", TIME_KINDS


@register_transform
class Quarter(BaseTransform):
    name, applies_to = "quarter", DATE_KINDS

    def render(self, inner: str, source: Optional[str]) -> str:
        month = _number(inner, 5, 2)
        return f"(IS_STRING({inner}) ? FLOOR(({month} - 1) / 3) + 1 : null)"

    def evaluate(self, value: Any, source: Optional[str]) -> Any:
        month = Month().evaluate(value, source)
        return None if month is None else (month - 1) // 3 + 1


_DATE_TEXT = '"^[0-9]{4}-[0-9]{2}-[0-9]{2}"'


@register_transform
class WeekDay(BaseTransform):
    """Django's ``week_day``: 1 is Sunday, 7 is Saturday."""

    name, applies_to = "week_day", DATE_KINDS

    def render(self, inner: str, source: Optional[str]) -> str:
        # DATE_DAYOFWEEK raises on text that is not a date: test the form first
        return (f"((IS_STRING({inner}) AND REGEX_TEST({inner}, {_DATE_TEXT}))"
                f" ? DATE_DAYOFWEEK(SUBSTRING({inner}, 0, 10)) + 1 : null)")

    def evaluate(self, value: Any, source: Optional[str]) -> Any:
        try:
            day = _dt.date.fromisoformat(value[:10]) if isinstance(value, str) else None
        except ValueError:
            return None
        return None if day is None else day.isoweekday() % 7 + 1


@register_transform
class DatePart(BaseTransform):
    """The date of a datetime (in UTC, as stored)."""

    name, applies_to, output = "date", frozenset({"datetime"}), "date"

    def render(self, inner: str, source: Optional[str]) -> str:
        return f"(IS_STRING({inner}) ? SUBSTRING({inner}, 0, 10) : null)"

    def evaluate(self, value: Any, source: Optional[str]) -> Any:
        return value[:10] if isinstance(value, str) else None

    def bounds(self, value: Any, source: Optional[str]) -> Optional[Tuple[str, str]]:
        if not isinstance(value, str):
            return None
        return f"{value}T00:00:00.000000Z", f"{value}T23:59:59.999999Z"


@register_transform
class TimePart(BaseTransform):
    """The time of day of a datetime (in UTC, as stored)."""

    name, applies_to, output = "time", frozenset({"datetime"}), "time"

    def render(self, inner: str, source: Optional[str]) -> str:
        return f"(IS_STRING({inner}) ? SUBSTRING({inner}, 11, 15) : null)"

    def evaluate(self, value: Any, source: Optional[str]) -> Any:
        return value[11:26] if isinstance(value, str) else None


@register_transform
class Length(BaseTransform):
    """The number of elements of a list, or characters of a string."""

    name, applies_to = "len", frozenset({"list", "text", "any", "uuid", "enum", "ref"})

    def render(self, inner: str, source: Optional[str]) -> str:
        return f"((IS_ARRAY({inner}) OR IS_STRING({inner})) ? LENGTH({inner}) : null)"

    def evaluate(self, value: Any, source: Optional[str]) -> Any:
        return len(value) if isinstance(value, (list, str)) else None


@register_transform
class Lower(BaseTransform):
    name, applies_to, output = "lower", TEXT_KINDS, "text"

    def render(self, inner: str, source: Optional[str]) -> str:
        return f"(IS_STRING({inner}) ? LOWER({inner}) : null)"

    def evaluate(self, value: Any, source: Optional[str]) -> Any:
        return value.lower() if isinstance(value, str) else None


@register_transform
class Upper(BaseTransform):
    name, applies_to, output = "upper", TEXT_KINDS, "text"

    def render(self, inner: str, source: Optional[str]) -> str:
        return f"(IS_STRING({inner}) ? UPPER({inner}) : null)"

    def evaluate(self, value: Any, source: Optional[str]) -> Any:
        return value.upper() if isinstance(value, str) else None


# -- values compared with a transform ------------------------------------------------


def prepare_output(transform: BaseTransform, value: Any, label: str) -> Any:
    """A value compared with ``transform``'s result, checked and in stored form."""
    from .. import exceptions as exc
    from ..storage import time_to_stored

    what = f"{label}__{transform.name}"
    if value is None:
        return None
    out = transform.output
    try:
        if out == "int":
            if isinstance(value, bool):
                raise ValueError("a boolean is not a number")
            if isinstance(value, str):
                value = int(value.strip())
            if not isinstance(value, int):
                raise ValueError("an integer is expected")
            return value
        if out == "date":
            if isinstance(value, _dt.datetime):
                raise ValueError("a date is expected, not a datetime")
            if isinstance(value, str):
                value = _dt.date.fromisoformat(value)
            if not isinstance(value, _dt.date):
                raise ValueError("a date is expected")
            return value.isoformat()
        if out == "time":
            return time_to_stored(value if isinstance(value, (str, _dt.time)) else str(value))
        if not isinstance(value, str):
            raise ValueError("a string is expected")
        return value
    except (TypeError, ValueError) as err:
        raise exc.ValidationError(f"{what}: {value!r} is not a valid value ({err})") from None
