"""One neutral tree, two queries: Django's and the ODM's, built the same way."""

from __future__ import annotations

from functools import reduce
from typing import Any, Callable, Dict, Type

import django.db.models as dj

import solidb_odm as odm

from .trees import FieldRef, Leaf, Query, Tree


class Side:
    """How one library spells ``Q``, ``F`` and the aggregates."""

    def __init__(self, q: Type[Any], f: Type[Any], aggregates: Dict[str, Callable[..., Any]],
                 count_rows: Callable[[], Any]) -> None:
        self.Q = q
        self.F = f
        self.aggregates = aggregates
        self.count_rows = count_rows

    def value(self, value: Any) -> Any:
        return self.F(value.name) if isinstance(value, FieldRef) else value

    def q(self, tree: Tree) -> Any:
        if isinstance(tree, Leaf):
            return self.Q(**{tree.keyword: self.value(tree.value)})
        children = [self.q(child) for child in tree.children]
        if tree.op == "not":
            return ~children[0]
        if tree.op == "and":
            return reduce(lambda a, b: a & b, children)
        return reduce(lambda a, b: a | b, children)

    def filtered(self, base: Any, query: Query) -> Any:
        qs = base
        for method, tree in query.steps:
            qs = getattr(qs, method)(self.q(tree))
        return qs

    def ordered(self, qs: Any, query: Query) -> Any:
        if query.order:
            qs = qs.order_by(*query.order)
        if query.window:
            qs = qs[query.window[0]:query.window[1]]
        return qs

    def aggregate_kwargs(self, query: Query) -> Dict[str, Any]:
        out = {}
        for agg in query.aggregates:
            if agg.field is None:
                out[agg.alias] = self.count_rows()
            else:
                out[agg.alias] = self.aggregates[agg.func](agg.field)
        return out


DJANGO = Side(dj.Q, dj.F, {"Count": dj.Count, "Sum": dj.Sum, "Avg": dj.Avg, "Min": dj.Min,
                           "Max": dj.Max}, lambda: dj.Count("key"))
ODM = Side(odm.Q, odm.F, {"Count": odm.Count, "Sum": odm.Sum, "Avg": odm.Avg, "Min": odm.Min,
                          "Max": odm.Max}, odm.Count)
