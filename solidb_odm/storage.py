"""How values of types with their own order are stored, so the server orders them right.

Pydantic's JSON form of a ``Decimal`` is text, and of a ``datetime`` is ISO text
in whatever offset it was given: the server would compare both as text
(``"5.00" > "10"``, and ``10:00+01:00`` after ``09:30Z``). So the stored form
differs from the JSON form for three types:

- ``Decimal`` is stored as a JSON number. Every decimal of at most 15
  significant digits maps to a distinct double and back (``DBL_DIG``), and
  rounding to doubles keeps order, so comparisons, sorting and indexes are
  exact for them; a value with more digits is refused, never rounded. Sums
  of a field that declares ``decimal_places`` are computed on scaled integers
  (exact while the total stays under 2**53 units).
- ``datetime`` is stored as UTC text of one fixed width
  (``2024-05-01T09:30:00.000000Z``), so text order is instant order. A naive
  datetime is taken to be UTC.
- ``time`` is stored with microseconds always (``09:30:00.000000``), for the
  same reason.

Documents stored in the older forms (Decimal text, datetimes with offsets)
still load; they compare correctly again once saved.

The same conversions prepare query values (:mod:`solidb_odm.resolution`), so a
bound value is always in the form it is compared with.
"""

from __future__ import annotations

import datetime as _dt
import decimal
import typing
from typing import Any, Callable, Dict, List, Optional, Tuple

from pydantic import BaseModel

from . import exceptions as exc

#: Significant digits a Decimal may have and still be stored exactly.
MAX_DECIMAL_DIGITS = 15

Convert = Callable[[Any], Any]


# -- values ------------------------------------------------------------------------


def decimal_to_stored(value: Any, label: str = "value") -> Any:
    """A Decimal (or its JSON text) as the number stored for it."""
    if value is None:
        return None
    number = value if isinstance(value, decimal.Decimal) else decimal.Decimal(str(value))
    if not number.is_finite():
        raise exc.ValidationError(f"{label}: {number} cannot be stored (only finite decimals)")
    digits = len(number.as_tuple().digits)
    exponent = number.as_tuple().exponent
    assert isinstance(exponent, int)
    significant = len(number.normalize().as_tuple().digits) if number else 1
    if significant > MAX_DECIMAL_DIGITS or (exponent > 0 and digits + exponent > 308):
        raise exc.ValidationError(
            f"{label}: {number} has more than {MAX_DECIMAL_DIGITS} significant digits, "
            "which a stored number cannot hold exactly"
        )
    as_int = number.to_integral_value()
    if number == as_int and abs(as_int) < 2**53:
        return int(as_int)
    return float(number)


def decimal_from_stored(value: Any, places: Optional[int]) -> Any:
    """The Decimal a stored number stands for: its shortest text, at the declared places."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return value  # text from older documents, or null: pydantic reads it as it is
    number = decimal.Decimal(repr(value)) if isinstance(value, float) else decimal.Decimal(value)
    if places is not None:
        try:
            number = number.quantize(decimal.Decimal(1).scaleb(-places))
        except decimal.InvalidOperation:
            pass
    return number


def datetime_to_stored(value: Any) -> Any:
    """A datetime (or its ISO text) as fixed-width UTC text."""
    if value is None:
        return None
    if isinstance(value, str):
        value = _dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if not isinstance(value, _dt.datetime):
        return value
    if value.tzinfo is None:
        value = value.replace(tzinfo=_dt.UTC)
    utc = value.astimezone(_dt.UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def time_to_stored(value: Any) -> Any:
    """A time (or its ISO text) with microseconds always, so text order is time order."""
    if value is None:
        return None
    if isinstance(value, str):
        value = _dt.time.fromisoformat(value.replace("Z", "+00:00"))
    if not isinstance(value, _dt.time):
        return value
    if value.tzinfo is not None:  # a time with an offset: the UTC time of day
        offset = value.utcoffset() or _dt.timedelta()
        moment = _dt.datetime.combine(_dt.date(2000, 1, 3), value.replace(tzinfo=None)) - offset
        value = moment.time()
    return value.strftime("%H:%M:%S.%f")


# -- annotations ---------------------------------------------------------------------


def _args(annotation: Any) -> Tuple[Any, ...]:
    return typing.get_args(annotation)


def _strip(annotation: Any) -> Any:
    """``Annotated[X, ...]`` -> X; ``Optional[X]`` -> X (when it is the only other member)."""
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = _args(annotation)[0]
    members = [a for a in _args(annotation) if a is not type(None)]
    if _is_union(annotation) and len(members) == 1:
        return _strip(members[0])
    return annotation


def _is_union(annotation: Any) -> bool:
    import types

    origin = typing.get_origin(annotation)
    return origin is typing.Union or origin is types.UnionType


def scalar_kind(annotation: Any) -> Optional[str]:
    """``"decimal"``, ``"datetime"``, ``"date"`` or ``"time"`` for those types, else None."""
    inner = _strip(annotation)
    if not isinstance(inner, type):
        return None
    if issubclass(inner, decimal.Decimal):
        return "decimal"
    if issubclass(inner, _dt.datetime):
        return "datetime"
    if issubclass(inner, _dt.date):
        return "date"
    if issubclass(inner, _dt.time):
        return "time"
    return None


def _element(annotation: Any) -> Optional[Any]:
    """The element annotation of ``list[X]``/``set[X]``/``tuple[X, ...]``, else None."""
    inner = _strip(annotation)
    origin = typing.get_origin(inner)
    if origin in (list, set, frozenset, tuple):
        args = _args(inner)
        if args:
            return args[0]
    return None


def _model(annotation: Any) -> Optional[type]:
    inner = _strip(annotation)
    if isinstance(inner, type) and issubclass(inner, BaseModel):
        return inner
    return None


def to_stored_converter(annotation: Any) -> Optional[Convert]:
    """A function from a field's JSON form to its stored form, or None when they are equal."""
    kind = scalar_kind(annotation)
    if kind == "decimal":
        return decimal_to_stored
    if kind == "datetime":
        return datetime_to_stored
    if kind == "time":
        return time_to_stored
    element = _element(annotation)
    if element is not None:
        convert = to_stored_converter(element)
        if convert is None:
            return None
        return lambda items: [convert(v) for v in items] if isinstance(items, list) else items
    model = _model(annotation)
    if model is not None:
        plan = to_stored_plan(model)
        if not plan:
            return None
        return lambda data: apply_plan(plan, data)
    return None


def decimal_places(field: Any) -> Optional[int]:
    """The ``decimal_places`` a pydantic field declares, if any: on the field, or inside its
    annotation (``Optional[Annotated[Decimal, Field(decimal_places=2)]]``)."""
    places = None
    for item in getattr(field, "metadata", ()):
        places = getattr(item, "decimal_places", places)
    if places is not None:
        return int(places)
    pending = [getattr(field, "annotation", None)]
    while pending:
        annotation = pending.pop()
        if typing.get_origin(annotation) is typing.Annotated:
            for item in _args(annotation)[1:]:
                found = getattr(item, "decimal_places", None)
                for inner in getattr(item, "metadata", ()):
                    found = getattr(inner, "decimal_places", found)
                if isinstance(found, int):
                    return int(found)
            pending.append(_args(annotation)[0])
        elif _is_union(annotation):
            pending.extend(_args(annotation))
    return None


Plan = Tuple[Tuple[str, Convert], ...]
_FROM: Dict[type, Plan] = {}


def from_stored_plan(model: type) -> Plan:
    """(stored name, converter) for Decimal fields that declare ``decimal_places``: a stored
    12.5 loads as ``Decimal("12.50")``, as it was saved."""
    plan = _FROM.get(model)
    if plan is None:
        items = []
        for name, field in model.model_fields.items():  # type: ignore[attr-defined]
            places = decimal_places(field)
            if places is not None and scalar_kind(field.annotation) == "decimal":
                items.append((field.alias or name,
                              (lambda p: lambda v: decimal_from_stored(v, p))(places)))
        plan = _FROM[model] = tuple(items)
    return plan
_TO: Dict[type, Plan] = {}


def _stored_names(model: type) -> List[Tuple[str, Any]]:
    out = []
    for name, field in model.model_fields.items():  # type: ignore[attr-defined]
        out.append((field.alias or name, field.annotation))
    return out


def to_stored_plan(model: type) -> Plan:
    """(stored name, converter) for the fields of ``model`` whose stored form differs."""
    plan = _TO.get(model)
    if plan is None:
        plan = _TO[model] = tuple(
            (name, convert)
            for name, annotation in _stored_names(model)
            for convert in [to_stored_converter(annotation)]
            if convert is not None
        )
    return plan


def apply_plan(plan: Plan, data: Any) -> Any:
    """``data`` with each planned field converted (in place; a dict is returned as given)."""
    if not isinstance(data, dict):
        return data
    for name, convert in plan:
        if name in data and data[name] is not None:
            data[name] = convert(data[name])
    return data
