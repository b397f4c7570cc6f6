"""``Document`` and ``Edge``: Pydantic v2 models bound to collections.

A model is an ordinary Pydantic model (validation on construction and on
assignment) that also knows its collection. The server's system fields appear
under Python-friendly names through aliases: ``key`` (``_key``), ``id``
(``_id``), ``rev`` (``_rev``), and on edges ``from_`` (``_from``) and ``to``
(``_to``).

On the class, a field is a query expression (``User.age > 25``); on an
instance, it is the value.
"""

from __future__ import annotations

import base64
import gc
import re
import types
import typing
from typing import (
    TYPE_CHECKING,
    Any,
    Callable,
    ClassVar,
    Dict,
    FrozenSet,
    List,
    Mapping,
    Optional,
    Tuple,
    Type,
    TypeVar,
    Union,
    cast,
    overload,
)

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    PydanticSchemaGenerationError,
    PydanticUserError,
    TypeAdapter,
    ValidationError,
    field_validator,
)
from pydantic._internal._model_construction import ModelMetaclass
from typing_extensions import Protocol, Self

from . import _context, names
from . import exceptions as exc
from ._state import (
    OdmState,
    as_id,
    attach_loaded,
    attach_state,
    loaded_of,
    local_id,
    model_by_name,
    peek,
    register_model,
    state_of,
)
from .fields import Indexed, Reference, metadata_of
from .ops import Op
from .query.expressions import F, Path
from .query.hooks import QuerySession, Runner
from .query.queryset import Manager
from .relations import ReverseRelation, register_model_relations
from .relations import reverse_relations as _reverse_relations
from .resolution import SYSTEM_NAMES, FieldSpec, resolve, stored_name
from .storage import apply_plan, from_stored_plan, to_stored_plan

if TYPE_CHECKING:
    from .database import Database
    from .query.queryset import QuerySet

__all__ = ["Document", "Edge", "OdmState", "local_id", "model_by_name", "state_of"]

T = TypeVar("T")


class SessionHooks(QuerySession, Protocol):
    """What models need of a session, beyond what QuerySets do (``session.Session``)."""

    @property
    def closed(self) -> bool: ...

    def add(self, obj: Document) -> None: ...

    def autoflush(self) -> Op[None]:
        """Flush now, unless a savepoint defers it."""
        ...

D = TypeVar("D", bound="Document")
E = TypeVar("E", bound="Edge")

SYSTEM_FIELDS = frozenset({"_key", "_id", "_rev"})
#: ``object.__setattr__(obj, "__pydantic_private__", value)`` without the name lookup.
#: Python names of the fields ``to_wire`` leaves out (the server sets them).
_NOT_STORED: Any = {"id", "rev"}
#: Set by the server; never sent back.
SERVER_FIELDS = frozenset({"_id", "_rev", "_created_at", "_updated_at"})

def default_collection_name(class_name: str) -> str:
    """``BlogPost`` -> ``blog_post``: the collection a model uses unless its Meta says."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", class_name).lower()


class ManagerDescriptor:
    """``User.objects``: a manager bound to the class it is read from."""

    @overload
    def __get__(self, obj: None, owner: Type[D]) -> Manager[D]: ...

    @overload
    def __get__(self, obj: D, owner: Type[D]) -> Manager[D]: ...

    def __get__(self, obj: Optional[D], owner: Type[D]) -> Manager[D]:
        manager = owner.__dict__.get("__odm_manager__")
        if manager is None:  # one per class: a Manager never caches results
            manager = Manager(owner)
            type.__setattr__(owner, "__odm_manager__", manager)
        return manager


class DocumentMeta(ModelMetaclass):
    """Adds the collection binding and class-level field expressions."""

    def __new__(
        mcs,
        cls_name: str,
        bases: Tuple[type, ...],
        namespace: Dict[str, Any],
        **kwargs: Any,
    ) -> type:
        cls = super().__new__(mcs, cls_name, bases, namespace, **kwargs)
        meta = namespace.get("Meta")
        abstract = bool(getattr(meta, "abstract", False)) or namespace.get("__odm_base__", False)
        collection = getattr(meta, "collection", None) if meta is not None else None
        if collection is None and not abstract:
            collection = default_collection_name(cls_name)  # subclasses get their own
        if collection is not None:
            cls.__collection__ = names.collection_name(collection)  # type: ignore[attr-defined]
        cls.__odm_abstract__ = abstract  # type: ignore[attr-defined]
        cls.__odm_bytes_fields__ = tuple(  # type: ignore[attr-defined]
            (n, stored_name(n, f))
            for n, f in getattr(cls, "__pydantic_fields__", {}).items()
            if _is_bytes(f.annotation)
        )
        # Django's per-model exceptions, subclasses of the shared ones (and of the
        # parent model's), so ``except User.DoesNotExist`` catches only users.
        for error, shared in (("DoesNotExist", exc.DoesNotExist),
                              ("MultipleObjectsReturned", exc.MultipleObjectsReturned)):
            if error not in namespace:
                parents = tuple(
                    getattr(b, error) for b in bases
                    if isinstance(getattr(b, error, None), type) and getattr(b, error) is not shared
                ) or (shared,)
                setattr(cls, error, type(error, parents, {"__module__": cls.__module__,
                                                           "__qualname__": f"{cls_name}.{error}"}))
        if not abstract:
            register_model(cls_name, cls)
            register_model_relations(cls)
        return cls

    def __getattr__(cls, name: str) -> Any:
        fields = cls.__dict__.get("__pydantic_fields__")
        if fields and name in fields:
            return F((name,))
        return super().__getattr__(name)  # type: ignore[misc]


def _is_union(annotation: Any) -> bool:
    """``Optional[X]``/``Union[...]``, and ``X | None`` on Python 3.10+."""
    origin = typing.get_origin(annotation)
    return origin is Union or (
        origin is not None and origin is getattr(types, "UnionType", None)
    )


def _is_bytes(annotation: Any) -> bool:
    if annotation is bytes:
        return True
    args = typing.get_args(annotation)
    return _is_union(annotation) and bytes in args


class Document(BaseModel, metaclass=DocumentMeta):
    """A JSON document in a collection, as a validated Pydantic model.

    Fields are validated when set as well as on construction, so what is
    saved is what the model promises. On the class, a field is a query
    expression (``User.age > 25``); ``Model.objects`` starts every query.
    The collection is ``Meta.collection``, else the class name in snake case.

        class User(Document):
            email: Annotated[str, Indexed(unique=True)]
            age: int = 0

            class Meta:
                collection = "users"

        ann = User(email="ann@example.com", age=31).save()
        User.objects.filter(User.age > 30).count()
    """

    __odm_base__ = True
    __odm_model__: ClassVar[bool] = True
    __collection__: ClassVar[str]

    model_config = ConfigDict(
        populate_by_name=True,
        validate_assignment=True,
        extra="ignore",
        ser_json_bytes="base64",
        val_json_bytes="base64",
    )

    # The stored names (``_key`` ...) are accepted when validating, but every
    # public form (``model_dump``, JSON, FastAPI responses and OpenAPI) uses the
    # Python names: the wire format is the ODM's business (``to_wire``).
    key: Optional[str] = Field(default=None, validation_alias=AliasChoices("key", "_key"))
    """The document's key in its collection (``_key``); None until saved, unless given."""
    id: Optional[str] = Field(default=None, validation_alias=AliasChoices("id", "_id"))
    """The document's id, ``"collection/key"`` (``_id``), set once it is saved."""
    rev: Optional[str] = Field(default=None, validation_alias=AliasChoices("rev", "_rev"))
    """The stored revision (``_rev``): sessions check it to refuse lost updates."""

    objects: ClassVar[ManagerDescriptor] = ManagerDescriptor()
    """The model's ``Manager``, where queries start: ``User.objects.filter(age__gt=25)``."""

    DoesNotExist: ClassVar[Type[exc.DoesNotExist]] = exc.DoesNotExist
    """Raised by ``get()`` when no document matches (each model has its own subclass)."""
    MultipleObjectsReturned: ClassVar[Type[exc.MultipleObjectsReturned]] = exc.MultipleObjectsReturned
    """Raised by ``get()`` when several documents match (each model has its own subclass)."""

    @field_validator("id", mode="before")
    @classmethod
    def _id_without_database(cls, value: Any) -> Any:
        """The server reports ``_id`` as ``"db:collection/key"``: keep the database out of it.

        ``local_id()`` written out: this runs for every document of every page.
        """
        if isinstance(value, str):
            head, sep, tail = value.partition(":")
            if sep and "/" not in head:
                return tail
        return value


    # -- model-level helpers ------------------------------------------------

    @classmethod
    def collection_name(cls) -> str:
        """The model's collection: ``Meta.collection``, else ``BlogPost`` -> ``blog_post``.

        Abstract models (``Meta.abstract = True``) have none and raise ``ValidationError``.
        """
        name = getattr(cls, "__collection__", None)
        if name is not None and cls.__dict__.get("__odm_checked__") is name:
            return cast(str, name)  # checked before (every write and query asks)
        if not name or cls.__dict__.get("__odm_base__") or getattr(cls, "__odm_abstract__", False):
            raise exc.ValidationError(f"{cls.__name__} is abstract: it has no collection")
        if type(name) is str:
            type.__setattr__(cls, "__odm_checked__", name)
        return str(name)

    @classmethod
    def is_edge(cls) -> bool:
        """Whether the model is an ``Edge`` (stored in an edge collection)."""
        return False

    @classmethod
    def wire_name(cls, name: str) -> str:
        """The stored name of a field, given its Python name (``FieldError`` if there is none)."""
        path = cls.wire_path((name,))
        return str(path[0])

    @classmethod
    def wire_path(cls, path: Path) -> Path:
        """Translate a path of Python names to stored names, through nested models and
        References (``FieldError`` for a name the model does not have)."""
        return cls._resolved(path)[0]

    @classmethod
    def field_spec(cls, path: Path) -> Optional[FieldSpec]:
        """The declared field at the end of ``path``, which prepares values compared with it."""
        return cls._resolved(path)[1]

    @classmethod
    def _resolved(cls, path: Path) -> Tuple[Path, Optional[FieldSpec]]:
        cache: Optional[Dict[Path, Tuple[Path, Optional[FieldSpec]]]] = cls.__dict__.get(
            "__odm_paths__")
        if cache is None:
            cache = {}
            type.__setattr__(cls, "__odm_paths__", cache)
        found = cache.get(path)
        if found is None:
            found = cache[path] = resolve(cls, path)
        return found

    @classmethod
    def database(cls) -> Database:
        """The database this model uses unless a query says ``using(db)``."""
        return cast("Database", _context.default_database())

    @classmethod
    def indexes(cls) -> List[Tuple[str, List[str], Indexed]]:
        """Declared indexes: (name, stored field names, options)."""
        out: List[Tuple[str, List[str], Indexed]] = []
        for name, field in cls.model_fields.items():
            marker = metadata_of(field, Indexed)
            if marker is None:
                continue
            wire = stored_name(name, field)
            fields = [wire, *(cls.wire_name(f) for f in marker.with_fields)]
            index_name = marker.name or f"idx_{cls.collection_name()}_{'_'.join(fields)}"
            out.append((index_name, fields, marker))
        return out

    @classmethod
    def references(cls) -> Dict[str, Reference]:
        """The model's ``Reference`` fields, by Python name (what ``select_related`` accepts)."""
        out: Dict[str, Reference] = {}
        for name, field in cls.model_fields.items():
            marker = metadata_of(field, Reference)
            if marker is not None:
                out[name] = marker
        return out

    @classmethod
    def reverse_relations(cls) -> Dict[str, ReverseRelation]:
        """The reverse accessors other models' References give this one (``post_set`` ...)."""
        return _reverse_relations(cls)

    # -- wire format --------------------------------------------------------

    @classmethod
    def from_wire(cls: Type[D], data: Mapping[str, Any], db: Optional[Database] = None,
                  loaded: Optional[FrozenSet[str]] = None) -> D:
        """Build an instance from a stored document (what the server returned)."""
        if loaded is None and not cls.__odm_bytes_fields__ and not from_stored_plan(cls):
            obj: D = cls.__pydantic_validator__.validate_python(data)
            attach_loaded(obj, db, data)
            return obj
        return cls.from_wire_many([data], db, loaded)[0]

    @classmethod
    def from_wire_many(cls: Type[D], rows: List[Any], db: Optional[Database] = None,
                       loaded: Optional[FrozenSet[str]] = None, *,
                       trusted: bool = False) -> List[D]:
        """Validate many stored documents into instances: the hot path of every query.

        ``trusted``: build them without validation where the model allows it
        (``QuerySet.trusted()``, see docs/performance.md for what it skips).
        """
        load_plan = from_stored_plan(cls)
        if cls.__odm_bytes_fields__ or loaded is not None or load_plan:
            out: List[D] = []
            for stored in rows:
                data = dict(stored)
                if load_plan:
                    apply_plan(load_plan, data)
                for _, alias in cls.__odm_bytes_fields__:
                    value = data.get(alias)
                    if isinstance(value, str):  # pydantic writes URL-safe base64
                        data[alias] = base64.urlsafe_b64decode(value)
                obj = cls._partial(data, loaded) if loaded is not None else cls.model_validate(data)
                attach_state(obj, OdmState(db, stored, loaded))
                out.append(obj)
            return out
        plan = _trusted_plan(cls) if trusted else None
        validate = cls.__pydantic_validator__.validate_python
        objs: List[D] = []
        append = objs.append
        # Thousands of new objects would set off the cyclic garbage collector
        # again and again (it scans them all, doubling the cost of a page);
        # these instances hold no cycles, so it waits until the page is built.
        pause = len(rows) > 64 and gc.isenabled()
        if pause:
            gc.disable()
        try:
            if plan is not None:
                return cast(List[D], plan.build(rows, db, validate))
            built = _validate_list(cls, rows) if len(rows) > 1 else None
            if built is None:
                built = [validate(data) for data in rows]
            for obj, data in zip(built, rows, strict=True):
                attach_loaded(obj, db, data)
                append(obj)
        finally:
            if pause:
                gc.enable()
        return objs

    @classmethod
    def _partial(cls: Type[D], data: Mapping[str, Any], loaded: FrozenSet[str]) -> D:
        """An instance holding only the loaded fields (from ``only()``), each validated.

        A field that was not loaded keeps its default, or is absent (reading
        it raises AttributeError) when it has none.
        """
        obj = cast(D, cls.model_construct())
        for name, field in cls.model_fields.items():
            alias = stored_name(name, field)
            if alias in loaded and alias in data:
                setattr(obj, name, data[alias])
        return obj

    @classmethod
    def to_wire_many(cls, objs: List[Document]) -> List[Dict[str, Any]]:
        """``[obj.to_wire() for obj in objs]`` in one pass (``bulk_create``'s serialization)."""
        serialize = cls.__pydantic_serializer__.to_python
        plan = to_stored_plan(cls)
        edge = cls.is_edge()
        out: List[Dict[str, Any]] = []
        append = out.append
        for obj in objs:
            if type(obj) is not cls or edge or loaded_of(obj) is not None:
                append(obj.to_wire())
                continue
            data: Dict[str, Any] = serialize(obj, mode="json", by_alias=True,
                                             exclude=_NOT_STORED, round_trip=True)
            key = data.pop("key", None)
            if key is not None:
                data["_key"] = key
            if plan:
                apply_plan(plan, data)
            append(data)
        return out

    @classmethod
    def saved_in_bulk(cls, objs: List[Document], docs: List[Dict[str, Any]],
                      db: Database) -> None:
        """Mark ``objs`` as stored as ``docs`` (a bulk insert answers only a count)."""
        setattr_ = object.__setattr__
        prefix = f"{cls.collection_name()}/"
        for obj, doc in zip(objs, docs, strict=True):
            setattr_(obj, "id", prefix + doc["_key"])
            setattr_(obj, "rev", None)
            attach_loaded(obj, db, doc)

    def to_wire(self, *, include_key: bool = True) -> Dict[str, Any]:
        """The document as stored: stored names, JSON-compatible values."""
        cls = type(self)
        loaded = loaded_of(self)
        include = None
        if loaded is not None:
            include = {n for n, f in cls.model_fields.items() if stored_name(n, f) in loaded}
            include.add("key")
        # model_dump() without its keyword plumbing: the same serializer call
        data: Dict[str, Any] = cls.__pydantic_serializer__.to_python(
            self, mode="json", by_alias=True, exclude=_NOT_STORED, round_trip=True,
            include=include,
        )
        key = data.pop("key", None)
        if include_key and key is not None:
            data["_key"] = key
        for name in ("from_", "to"):
            if name in data and cls.is_edge():
                data[SYSTEM_NAMES[name]] = data.pop(name)
        plan = to_stored_plan(cls)
        if plan:
            apply_plan(plan, data)
        return data

    def stored_view(self) -> Dict[str, Any]:
        """The document as the server would hold it now, system fields included."""
        data = self.to_wire()
        for attr, alias in (("id", "_id"), ("rev", "_rev")):
            value = getattr(self, attr)
            if value is not None:
                data[alias] = value
        return data

    def changed_fields(self) -> Dict[str, Any]:
        """Stored fields whose value differs from what was last loaded or saved."""
        return self._changes(state_of(self))

    def _changes(self, state: OdmState) -> Dict[str, Any]:
        snapshot = state.snapshot
        current = self.to_wire(include_key=False)
        if snapshot is None:
            return current
        return {k: v for k, v in current.items() if k not in snapshot or snapshot[k] != v}

    def remember_stored(self, stored: Mapping[str, Any], db: Optional[Database]) -> None:
        """Take the stored document the server answered with as the saved state.

        The server answers inserts and updates with the whole stored document,
        so changes not sent (an ``update(**fields)`` of some fields) stay dirty.
        """
        self._remember(state_of(self), dict(stored), db)

    def _remember(self, state: OdmState, stored: Dict[str, Any], db: Optional[Database]) -> None:
        """``remember_stored`` for a ``stored`` dict the caller hands over (kept, not copied)."""
        values = self.__dict__  # what object.__setattr__ would write, without validation
        if "_key" in stored:
            values["key"] = stored["_key"]
        if "_id" in stored:
            doc_id = stored["_id"]
            values["id"] = local_id(doc_id) if isinstance(doc_id, str) else doc_id
        if "_rev" in stored:
            values["rev"] = stored["_rev"]
        if self.is_edge():
            for attr, alias in (("from_", "_from"), ("to", "_to")):
                if alias in stored:
                    object.__setattr__(self, attr, stored[alias])
        state.snapshot = stored
        state.deleted = False
        if db is not None:
            state.db = db

    # -- identity -----------------------------------------------------------

    @property
    def ref(self) -> Optional[str]:
        """``"collection/key"``: how edges and references point at this document."""
        return None if self.key is None else f"{type(self).collection_name()}/{self.key}"

    @property
    def is_persistent(self) -> bool:
        """True once the document was loaded from or saved to the server."""
        return state_of(self).snapshot is not None and not state_of(self).deleted

    def __eq__(self, other: object) -> bool:
        """Saved documents are equal when collection and key are; an unsaved one only to itself."""
        if not isinstance(other, Document):
            return NotImplemented
        if self.key is not None and other.key is not None:
            return bool(
                type(self).collection_name() == type(other).collection_name()
                and self.key == other.key
            )
        return self is other

    def __hash__(self) -> int:
        """By collection and key once there is a key (so it changes when a new document is saved)."""
        if self.key is not None:
            return hash((type(self).collection_name(), self.key))
        return id(self)

    # -- instance API -------------------------------------------------------
    #
    # Each write is an operation (``_save_op`` ...) run by whoever owns the
    # write: the session it goes through, or the database. ``save()`` runs it
    # blocking, ``asave()`` awaits it; nothing else differs.

    def _db(self, using: Optional[Database]) -> Database:
        if using is not None:
            return using
        db, _ = peek(self)  # a new object needs no state yet
        if db is not None:
            return cast("Database", db)
        return type(self).database()

    def _session_for(self, using: Optional[Database], session: Optional[SessionHooks]
                     ) -> Optional[SessionHooks]:
        """The session this object's writes go through, if any.

        An explicit ``session=`` wins; then the session that tracks the
        object; then the innermost session open in the caller's context on
        the same database (``with db.session():`` / ``atomic()``).
        """
        if session is not None:
            return session
        own: Optional[SessionHooks] = peek(self)[1]  # a new object needs no state yet
        if own is not None and not own.closed and (using is None or using is own.db):
            return own
        if not _context.open_sessions():
            return None
        return cast(Optional[SessionHooks], _context.current_session_for(self._db(using)))

    def _runner(self, using: Optional[Database], session: Optional[SessionHooks]
                ) -> Tuple[Runner, Optional[SessionHooks], Database]:
        found = self._session_for(using, session)
        if found is not None:
            return found, found, found.db
        db = self._db(using)
        return db, None, db

    def save(self, using: Optional[Database] = None, *,
             session: Optional[SessionHooks] = None) -> Self:
        """Insert a new document, or write the fields that changed since it was loaded.

        A document with a ``key`` that was never loaded is inserted, or fully
        replaced if that key exists already. In a session the write is staged
        there (explicitly with ``session=s``).
        """
        runner, found, db = self._runner(using, session)
        return runner.run(self._save_op(db, found))

    async def asave(self, using: Optional[Database] = None, *,
                    session: Optional[SessionHooks] = None) -> Self:
        """:meth:`save`, awaitable."""
        runner, found, db = self._runner(using, session)
        return await runner.arun(self._save_op(db, found))

    def _save_op(self, db: Database, session: Optional[SessionHooks]) -> Op[Self]:
        if session is not None:
            session.add(self)
            yield from session.autoflush()
            return self
        collection = type(self).collection_name()
        state = state_of(self)
        if state.snapshot is not None and not state.deleted and self.key is not None:
            changes = self._changes(state)
            if not changes:
                return self
            stored = yield from db.ops.update_returning(db.name, collection, self.key, changes)
            self._remember(state, stored, db)  # the client's answer is a fresh dict: kept
            return self
        document = self.to_wire()
        try:
            stored = yield from db.ops.insert(db.name, collection, document)
        except exc.AlreadyExistsError:
            if self.key is None:
                raise
            document.pop("_key", None)
            stored = yield from db.ops.replace(db.name, collection, self.key, document)
        self._remember(state, stored, db)
        return self

    def insert(self, using: Optional[Database] = None) -> Self:
        """Insert; never overwrites: an existing key raises ``UniqueViolationError``."""
        db = self._db(using)
        return db.run(self._insert_op(db))

    async def ainsert(self, using: Optional[Database] = None) -> Self:
        """:meth:`insert`, awaitable."""
        db = self._db(using)
        return await db.arun(self._insert_op(db))

    def _insert_op(self, db: Database) -> Op[Self]:
        stored = yield from db.ops.insert(db.name, type(self).collection_name(), self.to_wire())
        self.remember_stored(stored, db)
        return self

    def update(self, using: Optional[Database] = None, *,
               session: Optional[SessionHooks] = None, **fields: Any) -> Self:
        """Validate and write only ``fields`` (a partial update)."""
        self._assign(fields)
        runner, found, db = self._runner(using, session)
        return runner.run(self._update_op(db, found, fields))

    async def aupdate(self, using: Optional[Database] = None, *,
                      session: Optional[SessionHooks] = None, **fields: Any) -> Self:
        """:meth:`update`, awaitable."""
        self._assign(fields)
        runner, found, db = self._runner(using, session)
        return await runner.arun(self._update_op(db, found, fields))

    def _assign(self, fields: Mapping[str, Any]) -> None:
        if self.key is None:
            raise exc.ValidationError("update() needs a saved document (it has no key)")
        for name, value in fields.items():
            if name not in type(self).model_fields:
                type(self).wire_name(name)  # FieldError, with the closest names
            setattr(self, name, value)

    def _update_op(self, db: Database, session: Optional[SessionHooks],
                   fields: Mapping[str, Any]) -> Op[Self]:
        if session is not None:
            session.add(self)
            yield from session.autoflush()
            return self
        assert self.key is not None
        wire = self.to_wire(include_key=False)
        changes = {type(self).wire_name(n): wire.get(type(self).wire_name(n)) for n in fields}
        stored = yield from db.ops.update_returning(
            db.name, type(self).collection_name(), self.key, changes
        )
        self.remember_stored(stored, db)
        return self

    def delete(self, using: Optional[Database] = None, *,
               session: Optional[SessionHooks] = None) -> None:
        """Delete the document from its collection."""
        runner, found, db = self._runner(using, session)
        runner.run(self._delete_op(db, found))

    async def adelete(self, using: Optional[Database] = None, *,
                      session: Optional[SessionHooks] = None) -> None:
        """:meth:`delete`, awaitable."""
        runner, found, db = self._runner(using, session)
        await runner.arun(self._delete_op(db, found))

    def _delete_op(self, db: Database, session: Optional[SessionHooks]) -> Op[None]:
        if session is not None:
            session.delete(self)
            yield from session.autoflush()
            return
        if self.key is None:
            raise exc.ValidationError("delete() needs a saved document (it has no key)")
        yield from db.ops.delete(db.name, type(self).collection_name(), self.key)
        state_of(self).deleted = True

    def refresh(self, using: Optional[Database] = None) -> Self:
        """Reload every field from the server."""
        db = self._db(using)
        return db.run(self.refresh_op(db))

    async def arefresh(self, using: Optional[Database] = None) -> Self:
        """:meth:`refresh`, awaitable."""
        db = self._db(using)
        return await db.arun(self.refresh_op(db))

    def refresh_op(self, db: Database) -> Op[Self]:
        """The operation behind ``refresh()``, for a session or executor to run."""
        if self.key is None:
            raise exc.ValidationError("refresh() needs a saved document (it has no key)")
        stored = yield from db.ops.get(db.name, type(self).collection_name(), self.key)
        fresh = type(self).from_wire(stored, db)
        for name in type(self).model_fields:
            object.__setattr__(self, name, getattr(fresh, name))
        state = state_of(self)
        state.snapshot = state_of(fresh).snapshot
        state.loaded = None
        state.deleted = False
        return self

    def get_related(self, name: str, using: Optional[Database] = None) -> Optional[Document]:
        """The document a ``Reference`` field points at (loaded once, then cached)."""
        db = self._db(using)
        return db.run(self._related_op(name, db))

    async def aget_related(self, name: str, using: Optional[Database] = None
                           ) -> Optional[Document]:
        """:meth:`get_related`, awaitable."""
        db = self._db(using)
        return await db.arun(self._related_op(name, db))

    def _related_op(self, name: str, db: Database) -> Op[Optional[Document]]:
        refs = type(self).references()
        if name not in refs:
            raise exc.ValidationError(f"{type(self).__name__}.{name} is not a Reference field")
        related = state_of(self).related
        value = getattr(self, name)
        cached = related.get(name)
        if cached is not None and cached.ref == value:
            return cast(Document, cached)
        if value is None:
            return None
        target = refs[name].target
        rows = yield from db.ops.query(db.name, "RETURN DOCUMENT(@id)", {"id": value})
        doc = target.from_wire(rows[0], db) if rows and rows[0] else None
        related[name] = doc
        return doc

    # -- graphs -------------------------------------------------------------

    def traverse(
        self,
        edge: Type[Edge],
        target: Optional[Type[D]] = None,
        *,
        direction: str = "outbound",
        min_depth: int = 1,
        max_depth: int = 1,
    ) -> QuerySet[Any]:
        """Documents reachable from this one over ``edge`` (a lazy, filterable QuerySet)."""
        if self.key is None:
            raise exc.ValidationError("traverse() needs a saved document (it has no key)")
        model: Type[Document] = target or type(self)
        start = f"{type(self).collection_name()}/{self.key}"
        return model.objects.all().traverse(
            start, edge, direction=direction, min_depth=min_depth, max_depth=max_depth
        )

    def outbound(self, edge: Type[Edge], target: Optional[Type[D]] = None,
                 min_depth: int = 1, max_depth: int = 1) -> QuerySet[Any]:
        """Documents this one points at over ``edge``: ``traverse(..., direction="outbound")``."""
        return self.traverse(edge, target, direction="outbound",
                             min_depth=min_depth, max_depth=max_depth)

    def inbound(self, edge: Type[Edge], target: Optional[Type[D]] = None,
                min_depth: int = 1, max_depth: int = 1) -> QuerySet[Any]:
        """Documents pointing at this one over ``edge``: ``traverse(..., direction="inbound")``."""
        return self.traverse(edge, target, direction="inbound",
                             min_depth=min_depth, max_depth=max_depth)


def _inner_model(annotation: Any) -> Any:
    """The pydantic model inside an annotation (``Optional[Address]``, ``list[Address]``)."""
    candidates = [annotation] if annotation is not None else []
    while candidates:
        item = candidates.pop()
        if isinstance(item, type) and issubclass(item, BaseModel):
            return item
        candidates.extend(typing.get_args(item))
    return None


_SCALARS = (int, float, bool, str, bytes)


def _is_scalar(annotation: Any) -> bool:
    """True for int/str/... and Optional of them: nothing can be looked up inside."""
    import datetime as _dt
    import decimal
    import enum
    import uuid

    kinds = [annotation]
    if _is_union(annotation):
        kinds = [a for a in typing.get_args(annotation) if a is not type(None)]
    scalar = (*_SCALARS, _dt.date, _dt.datetime, _dt.time, decimal.Decimal, uuid.UUID, enum.Enum)
    return bool(kinds) and all(isinstance(k, type) and issubclass(k, scalar) for k in kinds)


class Edge(Document):
    """A document in an edge collection, linking ``from_`` to ``to`` (``_from``/``_to``)."""

    __odm_base__ = True

    from_: str = Field(validation_alias=AliasChoices("from_", "_from"))
    """Where the edge starts (``_from``): an id, or a saved document, which becomes its id."""
    to: str = Field(validation_alias=AliasChoices("to", "_to"))
    """Where the edge ends (``_to``): an id, or a saved document, which becomes its id."""

    @field_validator("from_", "to", mode="before")
    @classmethod
    def _document_to_id(cls, value: Any) -> Any:
        return as_id(value)

    @classmethod
    def is_edge(cls) -> bool:
        """Always true: an Edge is stored in an edge collection."""
        return True


#: per model: (the model validator it was built from, its ``list[model]`` validator or False
#: when pydantic cannot build one)
_LIST_VALIDATORS: Dict[type, Tuple[Any, Any]] = {}


def _validate_list(cls: type, rows: List[Any]) -> Optional[List[Any]]:
    """``rows`` validated in one call of pydantic (a ``list[cls]`` validator), or None.

    One call for the page instead of one per row: about 15% less time per
    document. None when that validator cannot be built, or when a row is
    invalid: the caller then validates row by row, so the error raised is
    the model's own, as it always was.
    """
    own = cls.__pydantic_validator__  # type: ignore[attr-defined]
    built_for, validate = _LIST_VALIDATORS.get(cls, (None, None))
    if built_for is not own:  # first use, or the model was rebuilt since
        try:
            validate = TypeAdapter(List[cls]).validate_python  # type: ignore[valid-type]
        except (PydanticSchemaGenerationError, PydanticUserError):
            validate = False  # pydantic cannot build it for this model: row by row
        _LIST_VALIDATORS[cls] = (own, validate)
    if validate is False:
        return None
    try:
        return cast(List[Any], cast(Callable[[Any], Any], validate)(rows))
    except ValidationError:
        return None


_NATIVE = (str, int, bool, type(None))
_TRUSTED: Dict[type, Optional[_TrustedPlan]] = {}


def _native(annotation: Any) -> bool:
    """Whether a stored (JSON) value already is what the field holds in Python."""
    if annotation in _NATIVE:  # not Any: a shared dict would hide in-place changes
        return True
    if typing.get_origin(annotation) is typing.Annotated:
        return False  # constraints or markers: let pydantic handle it
    args = typing.get_args(annotation)
    if _is_union(annotation):
        return all(_native(a) for a in args)
    return False


def _scalar_list(annotation: Any) -> bool:
    """``List[str]`` and the like (Optional too): copied, so the snapshot stays apart."""
    if _is_union(annotation):
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        return len(members) == 1 and _scalar_list(members[0])
    args = typing.get_args(annotation)
    return typing.get_origin(annotation) is list and len(args) == 1 and args[0] in _NATIVE


def _trusted_plan(cls: type) -> Optional[_TrustedPlan]:
    """The plan ``from_wire_many(trusted=True)`` follows for ``cls``, or None when the
    model needs pydantic for every document (private attributes, ``model_post_init``)."""
    if cls in _TRUSTED:
        return _TRUSTED[cls]
    plan: Optional[_TrustedPlan] = None
    if not getattr(cls, "__private_attributes__", None) and \
            cls.model_post_init is BaseModel.model_post_init:  # type: ignore[attr-defined]
        try:
            plan = _TrustedPlan(cls)
        except _NeedsValidation:
            plan = None
    _TRUSTED[cls] = plan
    return plan


class _TrustedPlan:
    """Builds instances straight from stored documents, the way ``model_construct`` does.

    Only for models whose every field is stored as its Python value (str,
    int, bool, None, Any, Optional of those, lists of those, which are
    copied, and float, which turns a stored int into a float). Any other
    field (datetime, Decimal, UUID, enums, nested models, constrained
    ``Annotated`` types) needs pydantic, which converts a whole document
    faster than this could field by field: such models are always validated.
    Field validators do not run. A document missing a field is validated
    (its default comes from pydantic).
    """

    __slots__ = ("build", "cls", "fields", "names")

    def __init__(self, cls: Any) -> None:
        self.cls: Any = cls
        fields: List[Tuple[str, str, Any]] = []
        for name, field in cls.model_fields.items():
            alias = stored_name(name, field)
            annotation = field.annotation
            convert: Any = None
            if name == "id":
                convert = _local_id_or_none
            elif annotation is float or (_is_union(annotation) and float in typing.get_args(
                    annotation) and all(a in (float, type(None)) for a in typing.get_args(annotation))):
                convert = _as_float
            elif cls.is_edge() and name in ("from_", "to"):
                convert = as_id
            elif _scalar_list(annotation) and not field.metadata:
                convert = list  # a copy: in-place changes must not reach the snapshot
            elif not _native(annotation) or field.metadata:
                # pydantic converts a whole document faster than field by field
                raise _NeedsValidation(name)
            fields.append((name, alias, convert))
        self.fields: Tuple[Tuple[str, str, Any], ...] = tuple(fields)
        self.names = frozenset(n for n, _, _ in fields)
        self.build = self._compile()

    def _compile(self) -> Callable[[List[Any], Any, Any], List[Any]]:
        """``build(rows, db, validate)``: the page's instances, one dict display per row,
        in a loop written for this model (``validate`` takes a row that lacks a field).

        A generated function, as ``dataclasses`` writes ``__init__``: a loop
        over the fields costs about as much as pydantic's own validation.
        Names and aliases enter the source only through ``repr()``.
        """
        slots = BaseModel.__dict__  # the slot descriptors: cheaper than object.__setattr__
        env: Dict[str, Any] = {
            "cls": self.cls, "names": self.names, "KeyError": KeyError,
            "set_dict": slots["__dict__"].__set__,
            "set_fields": slots["__pydantic_fields_set__"].__set__,
            "set_extra": slots["__pydantic_extra__"].__set__,
            "set_private": slots["__pydantic_private__"].__set__,
        }
        items = []
        for i, (name, alias, convert) in enumerate(self.fields):
            if convert is _local_id_or_none:  # local_id(), inlined: one call less per row
                items.append(f"{name!r}: (v if (v := data[{alias!r}]).__class__ is not str "
                             "or not (t := v.partition(':'))[1] or '/' in t[0] else t[2])")
            elif convert is None:
                items.append(f"{name!r}: data[{alias!r}]")
            else:
                env[f"c{i}"] = convert
                items.append(f"{name!r}: (None if (v := data[{alias!r}]) is None else c{i}(v))")
        source = (
            "def build(rows, db, validate):\n"
            "    out = []\n"
            "    append = out.append\n"
            "    new = cls.__new__\n"
            "    for data in rows:\n"
            "        try:\n"
            f"            values = {{{', '.join(items)}}}\n"
            "        except KeyError:  # a field is missing: its default comes from validation\n"
            "            obj = validate(data)\n"
            "        else:\n"
            "            obj = new(cls)\n"
            "            set_dict(obj, values)\n"
            "            set_fields(obj, set(names))\n"
            "            set_extra(obj, None)\n"
            "        set_private(obj, {'_odm': (db, data)})\n"
            "        append(obj)\n"
            "    return out\n"
        )
        exec(compile(source, f"<trusted build of {self.cls.__name__}>", "exec"), env)
        return cast(Callable[[List[Any], Any, Any], List[Any]], env["build"])


class _NeedsValidation(Exception):
    """A field only pydantic can load: the model gets no trusted plan."""


def _local_id_or_none(value: Any) -> Any:
    return local_id(value) if isinstance(value, str) else value


def _as_float(value: Any) -> Any:
    return float(value) if type(value) is int else value


Document.model_rebuild()
