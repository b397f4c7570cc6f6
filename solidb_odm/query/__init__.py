"""Query building: expressions, lookups, the SDBQL compiler and QuerySets."""

from .aggregates import Avg, Count, Max, Min, Sum
from .compiler import CompiledQuery
from .expressions import F, Q, Stored, Value
from .lookups import BaseLookup, register_lookup, registered_lookups
from .queryset import Manager, QuerySet
from .transforms import BaseTransform, register_transform

__all__ = [
    "Avg",
    "BaseLookup",
    "BaseTransform",
    "CompiledQuery",
    "Count",
    "F",
    "Manager",
    "Max",
    "Min",
    "Q",
    "QuerySet",
    "Stored",
    "Sum",
    "Value",
    "register_lookup",
    "register_transform",
    "registered_lookups",
]
