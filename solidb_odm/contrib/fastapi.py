"""FastAPI integration: a lifespan, session dependencies, error answers, keyset pages.

Needs the ``fastapi`` extra (``pip install solidb-odm[fastapi]``, FastAPI 0.121 or later)::

    from solidb_odm.contrib.fastapi import (
        AsyncSessionDep, Page, apaginate, install_exception_handlers, lifespan,
    )

    app = FastAPI(lifespan=lifespan("solidb://admin:secret@127.0.0.1:6745/shop", models=[Todo]))
    install_exception_handlers(app)

    @app.get("/todos", response_model=Page[Todo])
    async def todos(s: AsyncSessionDep, cursor: str | None = None) -> Page[Todo]:
        return await apaginate(Todo.objects.order_by("-created"), cursor, limit=20)

- :func:`lifespan` connects (``aconnect``) when the app starts and closes the
  Database when it stops; the Database is ``request.app.state.solidb``.
- :data:`AsyncSessionDep` opens ``async with db.session()`` in the request's
  own context: a plain ``obj.save()``/``await obj.asave()`` in the endpoint
  (sync or async) joins the request's transaction. :data:`SessionDep` opens
  ``with db.session()`` on FastAPI's thread pool, in a context of its own: the
  endpoint reaches it explicitly (``s.add(obj)``, ``obj.save(session=s)``).
  Both use ``Depends(..., scope="function")``: the commit runs when the
  endpoint returns, before the response, so a failed commit changes the answer
  (docs/web-apps.md).
- :func:`install_exception_handlers` answers ``DoesNotExist`` with 404,
  ``ValidationError`` (solidb-odm's, and pydantic's raised inside an endpoint)
  with 422, ``UniqueViolationError`` and ``ConflictError`` with 409.
- :class:`Page` and :func:`paginate`/:func:`apaginate`: keyset pagination over
  a QuerySet's ordering (``_key`` when it has none, and ``_key`` as the last
  tiebreaker), with an opaque cursor holding the last row's ordering values.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from contextlib import asynccontextmanager
from typing import (
    Annotated,
    Any,
    AsyncIterator,
    Callable,
    Dict,
    Generic,
    Iterable,
    Iterator,
    List,
    Optional,
    Sequence,
    Tuple,
    Type,
    TypeVar,
    cast,
)

from fastapi import Depends, FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

from .. import exceptions as exc
from ..database import Database, aconnect, get_default_database, set_default_database
from ..models import Document
from ..query.evaluator import read_path
from ..query.expressions import F, OrderBy, Predicate
from ..query.queryset import QuerySet
from ..session import Session

__all__ = [
    "AsyncSessionDep",
    "DatabaseDep",
    "Page",
    "SessionDep",
    "apaginate",
    "async_session_dependency",
    "decode_cursor",
    "get_database",
    "install_exception_handlers",
    "lifespan",
    "paginate",
    "session_dependency",
]

T = TypeVar("T")
D = TypeVar("D", bound=Document)

#: The ``app.state`` attribute that holds the Database.
STATE_KEY = "solidb"


# -- lifespan -------------------------------------------------------------------


def lifespan(
    url: Optional[str] = None,
    *,
    models: Iterable[Type[Document]] = (),
    sync: bool = False,
    schema: bool = False,
    database: Optional[Database] = None,
    **connect_options: Any,
) -> Callable[[FastAPI], Any]:
    """A lifespan for ``FastAPI(lifespan=...)``: connect on startup, close on shutdown.

    ``url`` and ``connect_options`` are :func:`solidb_odm.aconnect`'s (the
    Database becomes the default one unless ``default=False``). ``models``
    are registered on it; ``sync=True`` also creates their collections and
    indexes at startup (``schema=True`` pushes their JSON schemas too). Pass
    ``database=`` to use a Database made elsewhere: it is not closed on shutdown.
    """
    wanted = tuple(models)

    @asynccontextmanager
    async def solidb_lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = database is None
        db = database if database is not None else await aconnect(url, **connect_options)
        try:
            if wanted:
                db.register(*wanted)
            if sync:
                await db.async_sync(schema=schema)
            setattr(app.state, STATE_KEY, db)
            yield
        finally:
            if getattr(app.state, STATE_KEY, None) is db:
                delattr(app.state, STATE_KEY)
            if owned:
                if _is_default(db):
                    set_default_database(None)
                await db.aclose()

    return solidb_lifespan


def _is_default(db: Database) -> bool:
    try:
        return get_default_database() is db
    except exc.SoliDBError:
        return False


def get_database(request: Request) -> Database:
    """The app's Database (``app.state.solidb``, set by :func:`lifespan`), else the default."""
    db = getattr(request.app.state, STATE_KEY, None)
    if isinstance(db, Database):
        return db
    return get_default_database()


DatabaseDep = Annotated[Database, Depends(get_database)]


# -- session dependencies ----------------------------------------------------------


def _open_session(request: Request) -> Iterator[Session]:
    with get_database(request).session() as session:  # commits, or rolls back on error
        yield session


async def _open_asession(request: Request) -> AsyncIterator[Session]:
    async with get_database(request).session() as session:
        yield session


def _depends(dependency: Callable[..., Any], max_concurrency: Optional[int]) -> Any:
    if max_concurrency is None:
        return Depends(dependency, scope="function")
    # FastAPI 0.163 and later: requests wait on the event loop before opening one
    return Depends(dependency, scope="function", max_concurrency=max_concurrency)


def session_dependency(max_concurrency: Optional[int] = None) -> Any:
    """A ``Depends`` for a blocking session (what :data:`SessionDep` uses).

    ``max_concurrency`` caps the sessions open at once (each holds a
    connection of its own; FastAPI 0.163 and later).
    """
    return _depends(_open_session, max_concurrency)


def async_session_dependency(max_concurrency: Optional[int] = None) -> Any:
    """A ``Depends`` for an async session (what :data:`AsyncSessionDep` uses)."""
    return _depends(_open_asession, max_concurrency)


#: The request's session, opened with ``with``: reach it explicitly in the endpoint.
SessionDep = Annotated[Session, session_dependency()]
#: The request's session, opened with ``async with``: plain saves in the endpoint join it.
AsyncSessionDep = Annotated[Session, async_session_dependency()]


# -- exception handlers --------------------------------------------------------------


def _answer(status: int, error: BaseException) -> JSONResponse:
    return JSONResponse({"detail": str(error)}, status_code=status)


async def _not_found(request: Request, error: Exception) -> JSONResponse:
    return _answer(404, error)


async def _invalid(request: Request, error: Exception) -> JSONResponse:
    if isinstance(error, PydanticValidationError):
        detail = jsonable_encoder(error.errors(include_url=False, include_context=False))
        return JSONResponse({"detail": detail}, status_code=422)
    return _answer(422, error)


async def _conflict(request: Request, error: Exception) -> JSONResponse:
    return _answer(409, error)


def install_exception_handlers(app: FastAPI) -> FastAPI:
    """Answer the ODM's errors as HTTP errors: ``{"detail": ...}`` with

    - 404 for ``DoesNotExist`` (``Model.objects.get(...)`` found nothing);
    - 422 for ``ValidationError`` (a value refused before it reached the
      server, a bad page cursor) and for a pydantic ``ValidationError`` raised
      inside the endpoint (``Todo(title=None)``), with pydantic's error list;
    - 409 for ``UniqueViolationError`` and ``ConflictError`` (including those
      a session dependency's commit raises: it runs before the response).

    Everything else keeps FastAPI's behaviour (500 for an unexpected error).
    """
    app.add_exception_handler(exc.DoesNotExist, _not_found)
    app.add_exception_handler(exc.ValidationError, _invalid)
    app.add_exception_handler(PydanticValidationError, _invalid)
    app.add_exception_handler(exc.UniqueViolationError, _conflict)
    app.add_exception_handler(exc.ConflictError, _conflict)
    return app


# -- keyset pagination ---------------------------------------------------------------


class Page(BaseModel, Generic[T]):
    """One page of results and the cursor of the next one (None on the last page)."""

    items: List[T]
    next_cursor: Optional[str] = None


#: the largest page :func:`paginate` fetches
MAX_LIMIT = 1000

_KEY = ("_key",)


def _keyset_order(qs: QuerySet[Any]) -> List[Tuple[OrderBy, Tuple[Any, ...]]]:
    """The QuerySet's ordering terms with their stored paths, ``_key`` last as the tiebreaker."""
    terms = list(qs.ordering) or [F("_key").asc()]
    out: List[Tuple[OrderBy, Tuple[Any, ...]]] = []
    for term in terms:
        expression = term.expression
        if not isinstance(expression, F):
            raise exc.ValidationError(
                f"keyset pagination orders by fields, not by {expression!r}"
            )
        out.append((term, tuple(qs.model.wire_path(expression.path))))
    if not any(path == _KEY for _, path in out):
        out.append((F("_key").asc(), _KEY))
    return out


def _signature(order: Sequence[Tuple[OrderBy, Tuple[Any, ...]]]) -> str:
    text = json.dumps([[list(path), term.descending] for term, path in order])
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _encode_cursor(values: List[Any], signature: str) -> str:
    raw = json.dumps({"o": signature, "v": values}, separators=(",", ":"), allow_nan=False)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, qs: QuerySet[Any]) -> List[Any]:
    """The ordering values a cursor holds; ``ValidationError`` if it is not one of ``qs``'s."""
    order = _keyset_order(qs)
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (ValueError, binascii.Error, UnicodeError) as error:
        raise exc.ValidationError("not a page cursor") from error
    if not isinstance(data, dict) or not isinstance(data.get("v"), list):
        raise exc.ValidationError("not a page cursor")
    values: List[Any] = data["v"]
    if data.get("o") != _signature(order) or len(values) != len(order):
        raise exc.ValidationError("this cursor belongs to a query with another ordering")
    return values


def _after(term: OrderBy, value: Any) -> Optional[Predicate]:
    """Rows strictly after ``value`` in ``term``'s direction (None: there are none).

    Nulls (and missing fields) order first ascending, so they come last
    descending; comparisons only match values of the cursor value's kind.
    """
    field = term.expression
    assert isinstance(field, F)
    if value is None:
        return None if term.descending else field.isnull(False)
    if term.descending:
        return field.lookup("lt", value) | field.isnull(True)
    return field.lookup("gt", value)


def _same(term: OrderBy, value: Any) -> Predicate:
    field = term.expression
    assert isinstance(field, F)
    return field.isnull(True) if value is None else field.lookup("exact", value)


def _keyset_query(qs: QuerySet[D], cursor: Optional[str], limit: int
                  ) -> Tuple[QuerySet[D], List[Tuple[OrderBy, Tuple[Any, ...]]]]:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise exc.ValidationError(f"limit must be an integer from 1 to {MAX_LIMIT}")
    if qs.window != (None, None):
        raise exc.ValidationError("cannot paginate a query once a slice has been taken")
    order = _keyset_order(qs)
    ordered = qs.order_by(*(term for term, _ in order))
    if cursor is not None:
        values = decode_cursor(cursor, qs)
        alternatives: List[Predicate] = []
        for position, (term, _) in enumerate(order):
            after = _after(term, values[position])
            if after is None:
                continue
            for (earlier, _), value in zip(order[:position], values[:position], strict=True):
                after = _same(earlier, value) & after
            alternatives.append(after)
        if not alternatives:
            return ordered.none(), order
        predicate = alternatives[0]
        for alternative in alternatives[1:]:
            predicate = predicate | alternative
        ordered = ordered.filter(predicate)
    return ordered[: limit + 1], order


def _page(rows: List[Any], limit: int, order: List[Tuple[OrderBy, Tuple[Any, ...]]],
          model: Type[Document]) -> Page[Any]:
    items = rows[:limit]
    next_cursor = None
    if len(rows) > limit:
        last = items[-1]
        if not isinstance(last, Document):
            raise exc.ValidationError("keyset pagination needs documents, not values() rows")
        stored: Dict[str, Any] = last.stored_view()
        next_cursor = _encode_cursor([read_path(stored, path) for _, path in order],
                                     _signature(order))
    page_type = cast(Any, Page)[model]
    return cast("Page[Any]", page_type(items=items, next_cursor=next_cursor))


def paginate(qs: QuerySet[D], cursor: Optional[str] = None, limit: int = 50) -> Page[D]:
    """One page of ``qs`` after ``cursor`` (the first page without one).

    Keyset pagination: the next page starts after the last row's values of
    the QuerySet's ordering (``_key`` when it has none), with ``_key`` as the
    final tiebreaker, so rows with equal values are neither repeated nor
    skipped, and rows written meanwhile do not shift the pages. The cursor
    values are bound variables of the query, never part of its text. Ordering
    fields should hold values of one kind (and nulls); a bad cursor raises
    ``ValidationError`` (422 with :func:`install_exception_handlers`).
    """
    query, order = _keyset_query(qs, cursor, limit)
    return cast("Page[D]", _page(list(query), limit, order, qs.model))


async def apaginate(qs: QuerySet[D], cursor: Optional[str] = None, limit: int = 50) -> Page[D]:
    """:func:`paginate`, awaitable."""
    query, order = _keyset_query(qs, cursor, limit)
    return cast("Page[D]", _page(await query.alist(), limit, order, qs.model))
