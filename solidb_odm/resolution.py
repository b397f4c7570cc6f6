"""Names in queries, resolved against the model: stored paths, and how to prepare values.

Every name a QuerySet is given (``filter``, ``exclude``, ``order_by``,
``values``, ``only``, ``update``, aggregates) goes through :func:`resolve`,
which walks the model's fields (nested models, lists of models, References,
edge endpoints) and returns the stored path and a :class:`FieldSpec`. An
unknown name raises :class:`~solidb_odm.exceptions.FieldError` with the
closest names, as Django's ``FieldError`` does. A path that continues past a
Reference follows it (``author__username``): the stored path then holds
:data:`~solidb_odm.query.expressions.DEREF`, which the compiler renders as a
``DOCUMENT()`` read.

A ``FieldSpec`` prepares a query value the way Django's ``get_prep_value``
does: through the field's type (one cached pydantic adapter per field), then
into the stored form (:mod:`solidb_odm.storage`), so ``filter(age="30")``
compares with 30, ``filter(age="abc")`` raises ``ValidationError`` naming
the field, and a Decimal or a datetime is bound in the form it is stored in.

Undeclared stored fields stay reachable through one escape hatch,
``Stored("name")`` (or a model with ``extra="allow"``).
"""

from __future__ import annotations

import decimal
import difflib
import enum
import functools
import operator
import types
import typing
import uuid
from functools import cached_property
from typing import Any, Dict, List, Optional, Tuple

from pydantic import TypeAdapter
from pydantic import ValidationError as PydanticValidationError

from . import exceptions as exc
from ._state import as_id, is_document, local_id
from .fields import Reference, metadata_of
from .query.expressions import DEREF, Path, PathSegment, to_wire
from .query.lookups import applicable_lookups
from .storage import (
    _element,
    _model,
    _strip,
    decimal_from_stored,
    decimal_places,
    decimal_to_stored,
    scalar_kind,
    to_stored_converter,
)

#: The server's system fields, by their Python names on Document and Edge.
SYSTEM_NAMES: Dict[str, str] = {"key": "_key", "id": "_id", "rev": "_rev", "from_": "_from", "to": "_to"}


def stored_name(name: str, field: Any) -> str:
    """The stored name of a declared field: the system name, the user's alias, or the name."""
    return SYSTEM_NAMES.get(name) or getattr(field, "alias", None) or name


def _kind(annotation: Any) -> str:
    special = scalar_kind(annotation)
    if special is not None:
        return special
    if _element(annotation) is not None:
        return "list"
    if _model(annotation) is not None:
        return "model"
    inner = _strip(annotation)
    if inner is typing.Any or inner is object:
        return "any"
    origin = typing.get_origin(inner)
    if origin is dict or inner is dict:
        return "dict"
    if origin is list or inner is list:
        return "list"
    if isinstance(inner, type):
        if issubclass(inner, bool):
            return "bool"
        if issubclass(inner, enum.Enum):
            return "enum"
        if issubclass(inner, (int, float, decimal.Decimal)):
            return "number"
        if issubclass(inner, str):
            return "text"
        if issubclass(inner, uuid.UUID):
            return "uuid"
        if issubclass(inner, bytes):
            return "bytes"
    return "any"


class FieldSpec:
    """One declared field, as queries see it: its kind, and how to prepare values for it."""

    def __init__(self, owner: type, name: str, annotation: Any, *, target: Any = None,
                 ref: bool = False, places: Optional[int] = None) -> None:
        self.owner = owner
        self.name = name
        self.annotation = annotation
        self.kind = "ref" if ref else _kind(annotation)
        #: the referenced model (a Reference), or None (an edge endpoint points anywhere)
        self.target = target
        #: declared decimal places of a Decimal field (exact sums), else None
        self.places = places

    @property
    def integral(self) -> bool:
        """Whether the field holds integers (its ``Sum`` is an int)."""
        inner = _strip(self.annotation)
        return isinstance(inner, type) and issubclass(inner, int) and not issubclass(inner, bool)

    @property
    def label(self) -> str:
        return f"{self.owner.__name__}.{self.name}"

    @cached_property
    def _adapter(self) -> TypeAdapter[Any]:
        # the type without its constraints: a query value is compared, not stored, so
        # ``age__gt=-1`` works on a field declared ``ge=0``, and ``Decimal("1.005")`` on one
        # with two decimal places (as Django compares them)
        return TypeAdapter(unconstrained(self.annotation))

    @cached_property
    def _store(self) -> Any:
        return to_stored_converter(self.annotation)

    @cached_property
    def element(self) -> Optional[FieldSpec]:
        """The spec of one element, for a list field (``contains``, ``any``, ``all``)."""
        inner = _element(self.annotation)
        if inner is None:
            return None
        return FieldSpec(self.owner, f"{self.name}[]", inner)

    def prepare(self, value: Any) -> Any:
        """``value`` converted through the field's type, in its stored form.

        Raises ``ValidationError`` naming the field when the value cannot be one.
        """
        if value is None:
            return None
        if self.kind == "ref":
            return self._prepare_ref(value)
        if self.kind in ("any", "dict"):
            return to_wire(value)
        if self.kind == "text" and isinstance(value, str):
            return value
        try:
            validated = self._adapter.validate_python(value)
        except PydanticValidationError as err:
            first = err.errors()[0]
            raise exc.ValidationError(
                f"{self.label}: {value!r} is not a valid value for this field ({first['msg']})"
            ) from None
        if self.kind == "decimal":
            return decimal_to_stored(validated, self.label)
        wire = self._adapter.dump_python(validated, mode="json", by_alias=True)
        if self._store is not None and wire is not None:
            wire = self._store(wire)
        return wire

    def from_stored(self, value: Any) -> Any:
        """A stored value (an aggregate's min or max) as the field's Python value."""
        if value is None:
            return None
        if self.kind == "decimal":
            return decimal_from_stored(value, self.places)
        if self.kind in ("datetime", "date", "time", "uuid", "enum"):
            try:
                return self._adapter.validate_python(value)
            except PydanticValidationError:
                return value
        return value

    def _prepare_ref(self, value: Any) -> Any:
        if is_document(value):
            if self.target is not None and not isinstance(value, self.target):
                raise exc.ValidationError(
                    f"{self.label} refers to {self.target.__name__}, not {type(value).__name__}"
                )
            return as_id(value)
        if isinstance(value, str):
            if "/" in value:
                return local_id(value)
            if self.target is None:
                raise exc.ValidationError(
                    f"{self.label} holds an id ('collection/key'): give the document or its id, "
                    f"not the key {value!r}"
                )
            return f"{self.target.collection_name()}/{value}"
        raise exc.ValidationError(
            f"{self.label} holds a document id: give a saved document, its id or its key, "
            f"not {value!r}"
        )


def unconstrained(annotation: Any) -> Any:
    """``annotation`` without ``Annotated`` metadata, at any depth (``Optional[Annotated[Decimal,
    Field(decimal_places=2)]]`` is ``Optional[Decimal]``)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return unconstrained(typing.get_args(annotation)[0])
    args = typing.get_args(annotation)
    if not args:
        return annotation
    stripped = tuple(unconstrained(a) for a in args)
    if stripped == args:
        return annotation
    if origin is typing.Union or origin is types.UnionType:
        return functools.reduce(operator.or_, stripped)
    try:
        return origin[stripped] if len(stripped) > 1 else origin[stripped[0]]
    except TypeError:
        return annotation


# -- resolution ----------------------------------------------------------------------


def _fields(model: Any) -> Dict[str, Any]:
    return dict(getattr(model, "model_fields", {}))


def _allows_extra(model: Any) -> bool:
    config = getattr(model, "model_config", {}) or {}
    return config.get("extra") == "allow"


def spec_of(model: Any, name: str, field: Any) -> FieldSpec:
    """The FieldSpec of a declared field of ``model``."""
    cache: Dict[str, FieldSpec] = model.__dict__.get("__odm_specs__") or {}
    if not cache:
        type.__setattr__(model, "__odm_specs__", cache)
    found = cache.get(name)
    if found is None:
        marker = metadata_of(field, Reference)
        places = decimal_places(field)
        is_endpoint = name in ("from_", "to") and bool(getattr(model, "is_edge", lambda: False)())
        found = cache[name] = FieldSpec(
            model, name, field.annotation,
            target=marker.target if marker is not None else None,
            ref=marker is not None or is_endpoint,
            places=places,
        )
    return found


def _find(model: Any, segment: str) -> Tuple[Optional[str], Any]:
    fields = _fields(model)
    if segment == "pk" and "key" in fields and "pk" not in fields:
        segment = "key"  # Django's name for the primary key
    if segment in fields:
        return segment, fields[segment]
    for name, field in fields.items():  # the stored name also works: "_key", an alias
        if stored_name(name, field) == segment:
            return name, field
    return None, None


def _suggest(model: Any, segment: str) -> str:
    names = list(_fields(model))
    close = difflib.get_close_matches(segment, names, n=3, cutoff=0.6)
    hint = f"; did you mean {' or '.join(map(repr, close))}?" if close else "."
    return f"{hint} Its fields: {', '.join(names)}."


def resolve(model: Any, path: Path) -> Tuple[Path, Optional[FieldSpec]]:
    """The stored path of ``path`` (Python names) in ``model``, and the spec of its last field.

    Raises ``FieldError`` for a name that is not a field, ``ValidationError``
    for a path that continues inside a field that cannot hold it.
    """
    out: List[PathSegment] = []
    current: Any = model
    spec: Optional[FieldSpec] = None
    owner_label = getattr(model, "__name__", "model")
    through = ""  # the Reference followed last, for messages
    position = 0
    while position < len(path):
        segment = path[position]
        if current is None:  # inside a dict / Any / undeclared field: names as given
            out.extend(path[position:])
            return tuple(out), None
        if isinstance(segment, int):
            if spec is not None and spec.kind == "list" and spec.element is not None:
                spec = spec.element
                current = _model(spec.annotation)
            out.append(segment)
            position += 1
            continue
        assert isinstance(segment, str)
        if spec is not None and spec.kind == "ref":
            target = spec.target
            if target is None:
                raise exc.FieldError(
                    f"{spec.label} can point at any collection, so {segment!r} cannot be "
                    "resolved through it: query the target model and filter by id"
                )
            out.append(DEREF)
            through = f" (reached through the Reference {spec.label})"
            current, spec = target, None
            owner_label = target.__name__
        name, field = _find(current, segment)
        if name is None:
            if _allows_extra(current):
                out.extend(path[position:])
                return tuple(out), None
            where = owner_label + through
            raise exc.FieldError(
                f"{where} has no field {segment!r}{_suggest(current, segment)}"
                " An undeclared stored field can be read with Stored(\"name\")."
            )
        spec = spec_of(current, name, field)
        out.append(stored_name(name, field))
        position += 1
        if position < len(path):
            nxt = path[position]
            if spec.kind == "ref":
                continue
            if spec.kind == "list":
                inner = spec.element
                current = _model(inner.annotation) if inner is not None else None
                if current is None and not isinstance(nxt, int):
                    if inner is not None and _kind(inner.annotation) not in ("any", "dict"):
                        raise exc.FieldError(
                            f"{spec.label} is a list of {_kind(inner.annotation)} values: "
                            f"{nxt!r} is neither a lookup nor a field inside it; its lookups: "
                            f"{', '.join(applicable_lookups(spec.kind, transforms=True))}"
                        )
                    out.extend(path[position:])
                    return tuple(out), None
                if current is not None:
                    owner_label = current.__name__
                continue
            if spec.kind == "model":
                current = _model(spec.annotation)
                owner_label = f"{spec.label} ({getattr(current, '__name__', 'a model')})"
                continue
            if spec.kind in ("any", "dict"):
                current = None
                continue
            raise exc.FieldError(
                f"{spec.label} is a {spec.kind} field: {'__'.join(map(str, path[position:]))!r} "
                f"is neither a lookup nor a field inside it; its lookups: "
                f"{', '.join(applicable_lookups(spec.kind, transforms=True))}"
            )
    return tuple(out), spec
