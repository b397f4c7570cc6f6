"""Field markers used inside ``Annotated[...]``: indexes and references.

::

    class User(Document):
        email: Annotated[str, Indexed(unique=True)]

    class Post(Document):
        author: Annotated[Optional[str], Reference("User")] = None
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Optional, Tuple, Type, Union, cast

from pydantic_core import core_schema

from ._state import as_id, model_by_name

if TYPE_CHECKING:
    from .models import Document


@dataclass(frozen=True)
class Indexed:
    """Ask ``Database.sync()`` for a persistent index on this field.

    Declaring indexes on the model keeps them next to the queries that need
    them, and ``sync()`` creates the missing ones on every database the model
    is used with. ``with_fields`` makes a compound index (this field first).

        class User(Document):
            email: Annotated[str, Indexed(unique=True)]
            last_name: Annotated[str, Indexed(with_fields=("first_name",))]
            first_name: str
    """

    unique: bool = False
    """Refuse a second document with the same value (``UniqueViolationError``)."""
    sparse: bool = False
    """Sent with the index; SoliDB 2.6.0 ignores it (see Server behaviour)."""
    name: Optional[str] = None
    """The index name; by default ``idx_<collection>_<fields>``."""
    with_fields: Tuple[str, ...] = ()
    """More fields (Python names) after this one, for a compound index."""


class Reference:
    """This field holds the ``_id`` of a document of another model.

    Assigning a saved document stores its id. ``select_related`` and
    ``prefetch_related`` load the targets; ``obj.get_related(name)`` reads them.
    The target may be named by class or by class name (for forward references).

    The target gets a reverse accessor, ``related_name`` or Django's default
    ``<model>_set``: ``alice.post_set`` is a QuerySet of the posts whose
    ``author`` is alice, and ``prefetch_related("post_set")`` /
    ``select_related("post_set")`` load them for many users at once.
    """

    def __init__(self, target: Union[str, Type[Document]], *,
                 related_name: Optional[str] = None) -> None:
        self._target = target
        self.related_name = related_name
        """The reverse accessor's name on the target (default ``<model>_set``)."""

    @property
    def target_name(self) -> str:
        """The target model's class name (known before the class itself may be)."""
        return self._target if isinstance(self._target, str) else self._target.__name__

    @property
    def target(self) -> Type[Document]:
        """The referenced model class (a name is looked up when first read)."""
        if isinstance(self._target, str):
            return cast("Type[Document]", model_by_name(self._target))
        return self._target

    def __get_pydantic_core_schema__(self, source: Any, handler: Any) -> Any:
        """Accept a saved Document where the id is expected, and store its id."""
        return core_schema.no_info_before_validator_function(as_id, handler(source))

    def __repr__(self) -> str:
        name = self._target if isinstance(self._target, str) else self._target.__name__
        return f"Reference({name})"


def metadata_of(field_info: Any, kind: type) -> Any:
    """The first marker of ``kind`` attached to a pydantic field, if any."""
    for item in getattr(field_info, "metadata", ()):
        if isinstance(item, kind):
            return item
    return None
