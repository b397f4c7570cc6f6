"""The sessions open in this thread (``with db.session():`` / ``atomic()``), innermost last.

Kept apart from ``session.py`` so that models and QuerySets can ask "is a
session open?" cheaply, without importing the session machinery.
"""

from __future__ import annotations

import threading
from typing import Any, List

_local = threading.local()


def open_sessions() -> List[Any]:
    """This thread's stack of open sessions (the list itself; empty when none)."""
    stack: List[Any] = getattr(_local, "stack", None) or []
    if not stack:
        _local.stack = stack
    return stack


def current_for(db: Any) -> Any:
    """The innermost open session on ``db`` (any database when ``db`` is None), or None."""
    stack: List[Any] = getattr(_local, "stack", None) or []
    for session in reversed(stack):
        if db is None or session.db is db:
            return session
    return None
