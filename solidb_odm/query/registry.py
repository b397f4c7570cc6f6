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

L = TypeVar("L", bound="BaseLookup")

_REGISTRY: Dict[str, BaseLookup] = {}


def register_lookup(cls: Type[L]) -> Type[L]:
    """Class decorator: make a lookup usable as ``field__<name>=value``."""
    instance = cls()
    if not re.fullmatch(r"[a-z][a-z0-9_]*", instance.name) or "__" in instance.name:
        raise exc.ValidationError(f"invalid lookup name {instance.name!r}")
    _REGISTRY[instance.name] = instance
    return cls


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
