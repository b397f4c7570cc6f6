"""The one validator for names that end up in SDBQL text.

Values always travel as bind variables, but collection names cannot be bound
and field names are best emitted statically (so the server can use indexes).
Every such name passes through here first; anything that could change the
shape of a query is refused with ``InvalidNameError``.
"""

from __future__ import annotations

import re

from .exceptions import InvalidNameError

#: Collections: what the server accepts and no quoting is needed for.
_COLLECTION = re.compile(r"[A-Za-z][A-Za-z0-9_\-]{0,127}")
#: One segment of a field path. No dots (the server splits paths on them),
#: no quotes, backslashes or backticks, no control characters.
_FIELD = re.compile(r"[A-Za-z_$][A-Za-z0-9_$\-]{0,255}")
#: Variables the compiler itself introduces.
_VARIABLE = re.compile(r"[a-z][a-z0-9_]{0,31}")


def collection_name(name: object) -> str:
    """Return ``name`` if it is a usable collection name, else raise."""
    if not isinstance(name, str) or not _COLLECTION.fullmatch(name):
        raise InvalidNameError(
            f"invalid collection name {name!r}: use a letter, then letters, digits, "
            "'_' or '-' (at most 128 characters)"
        )
    return name


def system_collection_name(name: object) -> str:
    """Like :func:`collection_name`, but allows the server's ``_`` collections."""
    if isinstance(name, str) and name.startswith("_"):
        collection_name(name[1:])
        return name
    return collection_name(name)


def field_segment(name: object) -> str:
    """Return ``name`` if it is usable as one segment of a field path, else raise."""
    if not isinstance(name, str) or not _FIELD.fullmatch(name):
        raise InvalidNameError(
            f"invalid field name {name!r}: use a letter, '_' or '$', then letters, digits, "
            "'_', '$' or '-' (no dots, quotes or spaces; at most 256 characters)"
        )
    return name


def variable_name(name: str) -> str:
    if not _VARIABLE.fullmatch(name):
        raise InvalidNameError(f"invalid query variable {name!r}")
    return name


def field_access(variable: str, path: tuple[str | int, ...]) -> str:
    """SDBQL text reading ``path`` from ``variable``: ``d["a"]["b"][0]``.

    Bracket access with a string literal is safe for names that are SDBQL
    keywords (``order``, ``size``, ``to`` ...), which dot access is not.
    """
    parts = [variable_name(variable)]
    for segment in path:
        if isinstance(segment, int):
            if segment < 0:
                raise InvalidNameError("list positions must not be negative")
            parts.append(f"[{segment}]")
        else:
            parts.append(f'["{field_segment(segment)}"]')
    return "".join(parts)
