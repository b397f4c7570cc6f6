"""Aggregates for ``aggregate()`` and ``values(...).annotate(...)``, as in Django.

Nulls and values of the wrong kind are ignored, as SQL ignores NULL:
``Avg``/``Sum`` read numbers only, ``Min``/``Max`` numbers and strings,
``Count("field")`` counts non-null values and ``Count()`` counts rows.
"""

from __future__ import annotations

from typing import Any, Optional, Union

from .. import exceptions as exc
from .expressions import Expression, F


class Aggregate:
    func = ""

    def __init__(self, field: Union[str, Expression, None] = None) -> None:
        if field is None and self.func != "count":
            raise exc.ValidationError(f"{type(self).__name__} needs a field")
        self.expression: Optional[Expression] = F(field) if isinstance(field, str) else field
        self.field_name = field if isinstance(field, str) else None

    def default_alias(self) -> str:
        if self.field_name is None:
            if self.expression is None:
                return self.func
            raise exc.ValidationError(
                f"{type(self).__name__} of an expression needs a name: aggregate(name=...)"
            )
        return f"{self.field_name}__{self.func}"

    def finish(self, row: dict[str, Any], alias: str) -> Any:
        """Turn the server's partial result into the final value."""
        value = row.get(alias)
        if self.func == "count":
            return int(value or 0)
        if self.func in ("sum", "avg"):
            n = row.get(f"{alias}__n") or 0
            if not n:
                return None
            if self.func == "avg":
                return float(value or 0) / n
            return value
        return value

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.field_name or self.expression!r})"


class Count(Aggregate):
    func = "count"


class Sum(Aggregate):
    func = "sum"


class Avg(Aggregate):
    func = "avg"


class Min(Aggregate):
    func = "min"


class Max(Aggregate):
    func = "max"
