"""Input checks shared by the access, vector, geo, ttl and columnar sub-clients.

Each refuses a bad value with ``ValidationError`` before anything is sent, so
a typo fails at the call site with a clear message instead of reaching the
server, which on solidb 2.6.0 often accepts it silently.
"""

from __future__ import annotations

import math
from typing import Any, Dict, Iterable, List, Mapping, Optional, Union

from ... import exceptions as exc
from ... import names, protocol

JSON = Dict[str, Any]

#: Largest value the server's ``i32`` fields (limits, dimensions) accept.
I32_MAX = 2**31 - 1


def updates(value: Any, allowed: Iterable[str], what: str) -> Mapping[str, Any]:
    """A non-empty mapping naming only fields of ``allowed`` (``what`` names the thing)."""
    if not isinstance(value, Mapping) or not value:
        raise exc.ValidationError("updates must be a non-empty mapping")
    allowed = sorted(allowed)
    unknown = sorted(set(value) - set(allowed))
    if unknown:
        raise exc.ValidationError(
            f"cannot update {unknown}: {what}'s updatable fields are {allowed}"
        )
    return value


def text(value: Any, what: str) -> str:
    """A non-empty string."""
    if not isinstance(value, str) or not value.strip():
        raise exc.ValidationError(f"{what} must be a non-empty string, got {value!r}")
    return str(value)


def integer(value: Any, what: str, *, minimum: int = 0, maximum: int = I32_MAX) -> int:
    """An int (not a bool) within ``[minimum, maximum]``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise exc.ValidationError(f"{what} must be an integer, got {value!r}")
    if not minimum <= value <= maximum:
        raise exc.ValidationError(f"{what} must be between {minimum} and {maximum}, got {value}")
    return value


def number(value: Any, what: str) -> float:
    """A finite int or float (not a bool)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise exc.ValidationError(f"{what} must be a finite number, got {value!r}")
    return float(value)


def collection(value: Any) -> str:
    """A collection name the server and SDBQL both accept."""
    return names.collection_name(value)


def string_list(values: Any, what: str) -> List[str]:
    """A list (not a bare string) of non-empty strings."""
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise exc.ValidationError(f"{what} must be a list of strings, got {values!r}")
    return [text(v, f"each of {what}") for v in values]


def pick(items: Iterable[Mapping[str, Any]], name: str, what: str) -> JSON:
    """The item called ``name`` from a server listing, or NotFoundError."""
    for item in items:
        if item.get("name") == name:
            return dict(item)
    raise exc.NotFoundError(f"{what} '{name}' not found")


def all_ok(replies: Iterable[Union[protocol.Reply, exc.SoliDBError]]) -> List[protocol.Reply]:
    """The replies of ``Client.batch``, raising the first error among them."""
    out: List[protocol.Reply] = []
    for reply in replies:
        if isinstance(reply, exc.SoliDBError):
            raise reply
        out.append(reply)
    return out


def first_error(replies: Iterable[Any]) -> Optional[exc.SoliDBError]:
    """The first error among the results of ``Client.batch``, if any."""
    for reply in replies:
        if isinstance(reply, exc.SoliDBError):
            return reply
    return None
