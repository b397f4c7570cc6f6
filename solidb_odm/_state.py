"""Per-instance ODM state, the model registry and document ids: the floor every layer stands on.

Kept below models, queries and sessions so that each of them can read and
change an instance's state without importing the others.
"""

from __future__ import annotations

from typing import Any, Dict, FrozenSet, Optional, Tuple

from pydantic import BaseModel

from . import exceptions as exc

_MODELS: Dict[str, type] = {}


class OdmState:
    """What the ODM knows about one instance, kept out of the model's fields.

    Stored in pydantic's private-attribute dict, created on first use: declared
    private attributes would cost every instance an initialisation step.
    """

    __slots__ = ("db", "deleted", "loaded", "related", "session", "snapshot")

    def __init__(
        self,
        db: Any = None,
        snapshot: Optional[Dict[str, Any]] = None,
        loaded: Optional[FrozenSet[str]] = None,
    ) -> None:
        #: the Database the instance was loaded from or saved to
        self.db = db
        #: the stored document as last loaded or saved (None: never saved)
        self.snapshot = snapshot
        #: stored names loaded by only(); None when the whole document was loaded
        self.loaded = loaded
        self.related: Dict[str, Any] = {}
        #: the Session that tracks the instance, if any
        self.session: Any = None
        self.deleted = False


def state_of(obj: BaseModel) -> OdmState:
    """The ODM state of a model instance (created on first use).

    A loaded instance starts with a ``(db, stored document)`` pair instead,
    put there by hydration (``Document.from_wire_many``): building an
    ``OdmState`` for each of ten thousand rows of a page would cost a third of
    validating them, and most are only read. ``attach_loaded`` puts the pair
    there (the trusted build's generated loop writes it inline), ``peek``
    reads it without creating a state; everyone else asks here.
    """
    private = obj.__pydantic_private__
    if private is None:
        state = OdmState()
        object.__setattr__(obj, "__pydantic_private__", {"_odm": state})
        return state
    found: Any = private.get("_odm")
    if type(found) is OdmState:  # the common case first: sessions ask several times per object
        return found
    if found is None:
        found = private["_odm"] = OdmState()
    elif type(found) is tuple:
        found = private["_odm"] = OdmState(found[0], found[1])
    return found  # type: ignore[no-any-return]


def loaded_of(obj: BaseModel) -> Optional[FrozenSet[str]]:
    """``state_of(obj).loaded`` without creating a state for an object that has none."""
    private = obj.__pydantic_private__
    found = private.get("_odm") if private is not None else None
    return found.loaded if isinstance(found, OdmState) else None


_SET_PRIVATE = BaseModel.__dict__["__pydantic_private__"].__set__  # cheaper than setattr


def attach_loaded(obj: BaseModel, db: Any, stored: Any) -> None:
    """Mark ``obj`` as loaded from (or saved as) ``stored`` on ``db``: the cheap pair,
    which ``state_of`` turns into an ``OdmState`` when someone asks."""
    private = obj.__pydantic_private__
    if private is None:
        _SET_PRIVATE(obj, {"_odm": (db, stored)})
    else:  # the model declares private attributes of its own
        private["_odm"] = (db, stored)


def peek(obj: BaseModel) -> Tuple[Any, Any]:
    """``(db, session)`` of ``obj`` without creating a state (None for what it has not)."""
    private = obj.__pydantic_private__
    found = private.get("_odm") if private is not None else None
    if found is None:
        return None, None
    if type(found) is tuple:
        return found[0], None
    return found.db, found.session


def attach_state(obj: BaseModel, state: OdmState) -> None:
    """Give ``obj`` this state (replacing any it had)."""
    private = obj.__pydantic_private__
    if private is None:
        object.__setattr__(obj, "__pydantic_private__", {"_odm": state})
    else:
        private["_odm"] = state


# -- the model registry ----------------------------------------------------------


def register_model(name: str, cls: type) -> None:
    _MODELS[name] = cls


def model_by_name(name: str) -> Any:
    """A model class by its class name (for ``Reference("User")``)."""
    try:
        return _MODELS[name]
    except KeyError:
        raise exc.ValidationError(f"no Document model named {name!r} is defined") from None


def is_document(value: Any) -> bool:
    """True for instances of ``Document`` models (which set ``__odm_model__``)."""
    return bool(getattr(type(value), "__odm_model__", False))


# -- ids -------------------------------------------------------------------------------


def local_id(doc_id: str) -> str:
    """``"mydb:users/k"`` -> ``"users/k"``.

    The server reports ``_id`` with its database, but edges and DOCUMENT()
    lookups within a database use the collection-relative form: graph
    traversals only follow edges whose ``_from``/``_to`` have no database.
    """
    head, sep, tail = doc_id.partition(":")
    return tail if sep and "/" not in head else doc_id


def as_id(value: Any) -> Any:
    """A saved Document (or an id) as the id that edges and references store."""
    if is_document(value):
        if value.key is None or not value.is_persistent:
            raise exc.ValidationError("a document must be saved before something can point at it")
        return f"{type(value).collection_name()}/{value.key}"
    if isinstance(value, str):
        return local_id(value)
    return value
