"""What a QuerySet needs from whoever runs it: the typed seam to the layers above.

A QuerySet runs its operations on a ``Runner`` (a Database, or a Session)
and, inside a unit of work, asks the session for its view of the data. The
session layer implements these protocols; the query layer never imports it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, List, Optional, Protocol, Type, TypeVar

from ..ops import Op

if TYPE_CHECKING:
    from ..database import Database
    from ..models import Document

T = TypeVar("T")
M = TypeVar("M", bound="Document")


class Runner(Protocol):
    """Runs operations in both modes: a Database, or a Session."""

    def run(self, op: Op[T]) -> T: ...

    async def arun(self, op: Op[T]) -> T: ...


class QuerySession(Runner, Protocol):
    """A unit of work as QuerySets see it (``session.Session`` provides it)."""

    @property
    def db(self) -> Database: ...

    def touches(self, model: Type[Document]) -> bool:
        """Does the session hold changes to ``model`` that the server cannot see yet?"""
        ...

    def overlay_op(self, qs: Any) -> Op[List[Any]]:
        """The results of ``qs`` with the session's own changes applied."""
        ...

    def adopt(self, obj: M) -> M:
        """The session's object for ``obj``'s document (one object per document)."""
        ...

    def get_op(self, model: Type[M], key: str) -> Op[Optional[M]]: ...

    def delete(self, obj: Document) -> None: ...
