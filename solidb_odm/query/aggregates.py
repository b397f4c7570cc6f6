"""Aggregates for ``aggregate()`` and ``values(...).annotate(...)``, as in Django.

Nulls and values of the wrong kind are ignored, as SQL ignores NULL:
``Avg``/``Sum`` read numbers only, ``Min``/``Max`` numbers and strings,
``Count("field")`` counts non-null values and ``Count()`` counts rows.
"""

from __future__ import annotations

import decimal
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

    def scale(self, spec: Any) -> Optional[int]:
        """Decimal places to sum at, for an exact sum of a Decimal field that declares them.

        The server sums doubles; ``ROUND(value * 10**places)`` is an exact integer
        for every stored value, and integer sums stay exact below 2**53.
        """
        if self.func in ("sum", "avg") and getattr(spec, "kind", None) == "decimal":
            places = getattr(spec, "places", None)
            return places if isinstance(places, int) and 0 <= places <= 15 else None
        return None

    def finish(self, row: dict[str, Any], alias: str, spec: Any = None) -> Any:
        """Turn the server's partial result into the final value (a Decimal for a Decimal
        field, a datetime for a datetime field's min or max)."""
        value = row.get(alias)
        if self.func == "count":
            return int(value or 0)
        if self.func in ("sum", "avg"):
            n = row.get(f"{alias}__n") or 0
            if not n:
                return None
            if getattr(spec, "kind", None) == "decimal":
                scale = self.scale(spec)
                if scale is not None:
                    total = decimal.Decimal(round(value or 0)).scaleb(-scale)
                else:
                    total = decimal.Decimal(repr(float(value or 0)))
                return total / int(n) if self.func == "avg" else total
            if self.func == "avg":
                return float(value or 0) / n
            if getattr(spec, "integral", False) and isinstance(value, float) and value.is_integer():
                return int(value)  # a Sum of an int field is an int (exact below 2**53)
            return value
        if spec is not None and value is not None:
            return spec.from_stored(value)
        return value

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.field_name or self.expression!r})"


class Count(Aggregate):
    """The number of rows (``Count()``), or of rows where ``field`` is not null.

    ``Count()`` is named ``count`` in the result, ``Count("email")`` ``email__count``:

        User.objects.aggregate(Count(), with_email=Count("email"))
        # {"count": 4, "with_email": 3}
    """

    func = "count"


class Sum(Aggregate):
    """The sum of a numeric field; ``None`` when no row has a number there (as SQL's ``SUM``).

        Order.objects.filter(paid=True).aggregate(total=Sum("amount"))   # {"total": 1250}
    """

    func = "sum"


class Avg(Aggregate):
    """The mean of a numeric field, as a float; ``None`` when no row has a number there.

        User.objects.aggregate(Avg("age"))   # {"age__avg": 29.5}
    """

    func = "avg"


class Min(Aggregate):
    """The smallest number or string in a field (nulls ignored); ``None`` for no rows.

        User.objects.values("country").annotate(youngest=Min("age"))
    """

    func = "min"


class Max(Aggregate):
    """The largest number or string in a field (nulls ignored); ``None`` for no rows.

        Post.objects.aggregate(latest=Max("published"))
    """

    func = "max"
