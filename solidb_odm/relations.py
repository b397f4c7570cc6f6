"""Reverse relations: ``alice.post_set`` for ``Post.author: Reference("User")``.

Django gives the target of a foreign key a manager of the rows that point at
it. Here each ``Reference`` installs a :class:`ReverseRelation` descriptor on
its target model (when the target is defined, even after the referring model):
``related_name`` names it, else ``<model in lower case>_set``.

``alice.post_set`` is a QuerySet (``Post.objects.filter(author=alice)``);
after ``User.objects.prefetch_related("post_set")`` or ``select_related``, it
holds the posts loaded with the users, and iterating it sends nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, List, Optional, Type, overload

from . import exceptions as exc
from ._state import state_of
from .fields import Reference, metadata_of

if TYPE_CHECKING:
    from .models import Document
    from .query.queryset import QuerySet


class ReverseRelation:
    """The documents of ``source`` whose Reference ``field`` points at an instance."""

    def __init__(self, source: Type[Document], field: str, accessor: str) -> None:
        self.source = source
        self.field = field
        self.accessor = accessor

    @property
    def stored_field(self) -> str:
        """The stored name of the referring field (what the server filters on)."""
        return self.source.wire_name(self.field)

    @overload
    def __get__(self, obj: None, owner: Any) -> ReverseRelation: ...

    @overload
    def __get__(self, obj: Document, owner: Any) -> QuerySet[Any]: ...

    def __get__(self, obj: Optional[Document], owner: Any) -> Any:
        if obj is None:
            return self
        return self.for_instance(obj)

    def for_instance(self, obj: Document) -> QuerySet[Any]:
        """The referring documents, from what a prefetch loaded when it did."""
        qs = self.source.objects.filter(**{self.field: obj})
        state = state_of(obj)
        if state.db is not None:
            qs = qs.using(state.db)
        cached = state.related.get(self.accessor)
        if isinstance(cached, list):
            qs = qs.with_results(cached)
        return qs

    def __repr__(self) -> str:
        return f"ReverseRelation({self.source.__name__}.{self.field} as {self.accessor!r})"


#: relations whose target model is not defined yet, by its class name
_PENDING: Dict[str, List[ReverseRelation]] = {}
_MODELS: Dict[str, type] = {}
#: reverse_relations() by model: every compile asks, and the walk of the MRO costs ~50 µs
_REVERSE: Dict[type, Dict[str, ReverseRelation]] = {}


def _install(target: type, relation: ReverseRelation) -> None:
    existing = target.__dict__.get(relation.accessor)
    if existing is not None and not isinstance(existing, ReverseRelation):
        raise exc.ValidationError(
            f"{relation.source.__name__}.{relation.field}: the reverse accessor "
            f"{relation.accessor!r} clashes with {target.__name__}.{relation.accessor}; "
            "give the Reference a related_name"
        )
    type.__setattr__(target, relation.accessor, relation)
    _REVERSE.clear()  # the target and its subclasses gained an accessor


def register_model_relations(cls: Type[Document]) -> None:
    """Install the reverse accessors ``cls``'s References give their targets, and those
    that earlier models' References give ``cls``."""
    _MODELS[cls.__name__] = cls
    for relation in _PENDING.pop(cls.__name__, []):
        _install(cls, relation)
    for name, field in cls.model_fields.items():
        marker = metadata_of(field, Reference)
        if marker is None:
            continue
        accessor = marker.related_name or f"{cls.__name__.lower()}_set"
        relation = ReverseRelation(cls, name, accessor)
        target = _MODELS.get(marker.target_name)
        if target is not None:
            _install(target, relation)
        else:
            _PENDING.setdefault(marker.target_name, []).append(relation)


def reverse_relations(model: type) -> Dict[str, ReverseRelation]:
    """The reverse accessors of ``model`` (and of the models it inherits from), by name.

    The mapping is shared between calls: read it, never change it.
    """
    out = _REVERSE.get(model)
    if out is None:
        out = {}
        for klass in reversed(model.__mro__):
            for name, value in vars(klass).items():
                if isinstance(value, ReverseRelation):
                    out[name] = value
        _REVERSE[model] = out
    return out
