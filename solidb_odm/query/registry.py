"""The lookup registry: ``field__<name>=value`` names, and the lookup that serves each.

A low module of its own, so that expressions (which check names when a
condition is built) and lookups (which register themselves) both import it
and neither imports the other.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Dict, Tuple, Type, TypeVar

from .. import exceptions as exc

if TYPE_CHECKING:
    from .lookups import BaseLookup
    from .transforms import BaseTransform

L = TypeVar("L", bound="BaseLookup")
T = TypeVar("T", bound="BaseTransform")

_REGISTRY: Dict[str, BaseLookup] = {}
_TRANSFORMS: Dict[str, BaseTransform] = {}


def _check_name(name: str, what: str) -> None:
    if not re.fullmatch(r"[a-z][a-z0-9_]*", name) or "__" in name:
        raise exc.ValidationError(f"invalid {what} name {name!r}")


def register_lookup(cls: Type[L]) -> Type[L]:
    """Class decorator: make a lookup usable as ``field__<name>=value``."""
    instance = cls()
    _check_name(instance.name, "lookup")
    _REGISTRY[instance.name] = instance
    return cls


def register_transform(cls: Type[T]) -> Type[T]:
    """Class decorator: make a transform usable as ``field__<name>__<lookup>=value``."""
    instance = cls()
    _check_name(instance.name, "transform")
    _TRANSFORMS[instance.name] = instance
    return cls


def get_transform(name: str) -> BaseTransform:
    try:
        return _TRANSFORMS[name]
    except KeyError:
        raise exc.ValidationError(
            f"unknown transform {name!r}; known: {', '.join(sorted(_TRANSFORMS))}"
        ) from None


def has_transform(name: str) -> bool:
    return name in _TRANSFORMS


def registered_transforms() -> Dict[str, BaseTransform]:
    """The transforms usable after a field name (``published_at__year``), by name."""
    return dict(_TRANSFORMS)


def get_lookup(name: str) -> BaseLookup:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise exc.ValidationError(
            f"unknown lookup {name!r}; known: {', '.join(sorted(_REGISTRY))}"
        ) from None


def has_lookup(name: str) -> bool:
    return name in _REGISTRY


def registered_lookups() -> Tuple[str, ...]:
    """The names usable as ``field__<name>=value``, built in and registered, sorted."""
    return tuple(sorted(_REGISTRY))
