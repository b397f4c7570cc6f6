"""Query building: expressions, lookups, the SDBQL compiler and QuerySets."""

from .aggregates import Avg, Count, Max, Min, Sum
from .compiler import CompiledQuery
from .expressions import F, Q, Value
from .lookups import BaseLookup, register_lookup, registered_lookups
from .queryset import Manager, QuerySet

__all__ = [
    "Avg",
    "BaseLookup",
    "CompiledQuery",
    "Count",
    "F",
    "Manager",
    "Max",
    "Min",
    "Q",
    "QuerySet",
    "Sum",
    "Value",
    "register_lookup",
    "registered_lookups",
]
