"""Known disagreements, each pinned by an xfail regression test, kept out of random trees.

A regression test for a disagreement is decorated with :func:`known_gap`,
which marks it ``xfail(strict=True)`` and records the features it names
(``fnmatch`` patterns over ``trees.Query.features()``, e.g. ``"decimal:gt"``
or ``"decimal:*"``). The random trees avoid every recorded feature, so the
big comparison stays green while the gap is open. When the ODM is fixed the
regression test passes, strict xfail turns that into a failure, and deleting
the decorator both turns it into an ordinary test and lets the random trees
use the feature again: one edit.
"""

from __future__ import annotations

import fnmatch
from typing import Any, Callable, Dict, Iterable, Tuple, TypeVar

import pytest

F = TypeVar("F", bound=Callable[..., Any])

#: gap name -> the feature patterns it keeps out of random trees
KNOWN_GAPS: Dict[str, Tuple[str, ...]] = {}


def gap_mark(name: str, features: Iterable[str], reason: str) -> pytest.MarkDecorator:
    """Record a gap; the strict xfail mark for its regression test (or one ``pytest.param``)."""
    KNOWN_GAPS[name] = tuple(features)
    return pytest.mark.xfail(strict=True, reason=f"[{name}] {reason}")


def known_gap(name: str, features: Iterable[str], reason: str) -> Callable[[F], F]:
    """Record a gap and mark its regression test as a strict xfail."""
    mark = gap_mark(name, features, reason)

    def decorate(func: F) -> F:
        return mark(func)  # type: ignore[no-any-return]

    return decorate


def blocked(features: Iterable[str]) -> bool:
    """Whether any of these features belongs to an open gap."""
    patterns = [p for group in KNOWN_GAPS.values() for p in group]
    return any(fnmatch.fnmatchcase(f, p) for f in features for p in patterns)
