"""A database: a client plus a database name, the models bound to it, and sync.

``connect()`` (or ``await aconnect()``) builds one from a URL or keywords and
makes it the default that models use unless a query says ``using(db)``. A
Database runs operations in both modes: ``db.run(op)`` on its blocking
``Client`` and ``await db.arun(op)`` on its ``AsyncClient``; the one it was
not built with is made on first use, with the same server and identity.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, Dict, List, Mapping, Optional, Type, TypeVar, cast
from urllib.parse import parse_qs, unquote, urlparse

from . import _context, names
from . import exceptions as exc
from .client import AsyncClient, Client
from .client.commands import ClientOps
from .client.state import ClientState
from .client.triggered import routing_of
from .ops import Op
from .schema import sync_models
from .session import Atomic, Session, atomic

T = TypeVar("T")
C = TypeVar("C", Client, AsyncClient)

if TYPE_CHECKING:
    from .models import Document

def get_default_database() -> Database:
    """The database ``connect()`` made the default (see ``set_default_database``)."""
    return cast("Database", _context.default_database())


def set_default_database(db: Optional[Database]) -> None:
    """Make ``db`` the database models use unless a query says ``using(db)``."""
    _context.set_default_database(db)


class Database:
    """One database on one server, with the models registered on it.

    Models, QuerySets and sessions need to know where to run: a Database is
    that place, and it serves blocking and async code alike. ``connect()``
    builds one and makes it the default; with several, ``qs.using(other)``
    and ``other.session()`` pick the one to use.

        db = connect("solidb://admin:secret@127.0.0.1:6745/shop")
        db.register(User, Order).sync()
        rows = db.query("FOR u IN users FILTER u.age > @min RETURN u.name", {"min": 18})
    """

    def __init__(
        self,
        client: Client | AsyncClient,
        name: str,
        *,
        owns_client: bool = False,
        options: Optional[Mapping[str, Any]] = None,
    ) -> None:
        if not isinstance(name, str) or not name:
            raise exc.ValidationError("database name must be a non-empty string")
        self._client: Client | None = client if isinstance(client, Client) else None
        self._aclient: AsyncClient | None = client if isinstance(client, AsyncClient) else None
        self._origin = client
        #: pool size and timeouts for the client made on first use of the other mode
        self._options: Dict[str, Any] = dict(options or {})
        self._twin_lock = threading.Lock()
        self.name = name
        """The database's name on the server."""
        ops_state = ClientState(client.host, client.port)
        ops_state.triggers = routing_of(client.state)  # the client's trigger routing and policy
        self.ops = ClientOps(ops_state)
        """The client operations, for building operations to run in either mode."""
        self.models: Dict[str, Type[Document]] = {}
        """The registered models by collection name: what ``sync`` creates collections and indexes for."""
        self._owns_client = owns_client
        self._owns_twin = False

    def __repr__(self) -> str:
        return f"<Database {self.name!r} on {self._origin.host}:{self._origin.port}>"

    # -- executors ------------------------------------------------------------

    @property
    def client(self) -> Client:
        """The blocking client (made on first use when this Database was built async)."""
        if self._client is None:
            with self._twin_lock:
                if self._client is None:
                    self._client = self._twin(Client)
        return self._client

    @property
    def aclient(self) -> AsyncClient:
        """The asyncio client (made on first use when this Database was built blocking)."""
        if self._aclient is None:
            with self._twin_lock:
                if self._aclient is None:
                    self._aclient = self._twin(AsyncClient)
        return self._aclient

    def _twin(self, kind: Type[C]) -> C:
        """A client of the other mode on the same server, with the same identity."""
        twin = kind(self._origin.host, self._origin.port, **self._options)
        credentials = self._origin.credentials
        if credentials is not None:
            twin.assume_credentials(credentials)
        # One view of which collections have triggers, and one policy, for both modes.
        twin.state.triggers = routing_of(self._origin.state)
        self._owns_twin = True
        return twin

    def run(self, op: Op[T]) -> T:
        """Run an operation on the blocking client."""
        return self.client.run(op)

    async def arun(self, op: Op[T]) -> T:
        """Run an operation on the asyncio client."""
        return await self.aclient.run(op)

    # -- models -------------------------------------------------------------

    def register(self, *models: Type[Document]) -> Database:
        """Bind models to this database (used by ``sync`` and sessions)."""
        for model in models:
            self.models[model.collection_name()] = model
        return self

    def sync(self, *, schema: bool = False) -> Dict[str, List[str]]:
        """Create missing collections and declared indexes of the registered models.

        With ``schema=True`` the models' JSON schemas are pushed to the server,
        which then refuses documents that do not match (lenient about extra
        fields). Returns what was created.
        """
        return self.run(sync_models(self, list(self.models.values()), push_schema=schema))

    async def async_sync(self, *, schema: bool = False) -> Dict[str, List[str]]:
        """:meth:`sync`, awaitable (``a`` + ``sync`` would be the keyword ``async``)."""
        return await self.arun(sync_models(self, list(self.models.values()), push_schema=schema))

    # -- plain access -------------------------------------------------------

    def query(self, sdbql: str, bind_vars: Optional[Mapping[str, Any]] = None) -> List[Any]:
        """Run SDBQL on this database and return its rows as plain values (no models)."""
        return self.run(self.ops.query(self.name, sdbql, bind_vars))

    async def aquery(self, sdbql: str, bind_vars: Optional[Mapping[str, Any]] = None) -> List[Any]:
        """:meth:`query`, awaitable."""
        return await self.arun(self.ops.query(self.name, sdbql, bind_vars))

    def collection_names(self) -> List[str]:
        """The names of this database's collections."""
        return [c["name"] for c in self.run(self.ops.list_collections(self.name))]

    def create_collection(self, name: str, *, edge: bool = False) -> None:
        """Create a document collection, or an edge collection with ``edge=True``."""
        self.run(self.ops.create_collection(
            self.name, names.collection_name(name), "edge" if edge else None
        ))

    # -- units of work ------------------------------------------------------

    def session(self, **options: Any) -> Session:
        """A unit of work: ``with db.session() as session: ...`` (see docs/sessions.md)."""
        return Session(self, **options)

    def atomic(self, **options: Any) -> Atomic:
        """``transaction.atomic`` for this database: a context manager and a decorator."""
        return atomic(self, **options)

    def close(self) -> None:
        """Close the clients this Database owns (an async one only drops its idle sockets)."""
        for client in self._owned():
            if isinstance(client, Client):
                client.close()
            else:
                client.close_idle()

    async def aclose(self) -> None:
        """Close the clients this Database owns, in async code."""
        for client in self._owned():
            if isinstance(client, Client):
                client.close()
            else:
                await client.close()

    def _owned(self) -> List[Client | AsyncClient]:
        """The client it was given (when it owns it) and the twin it made, if any."""
        owned: List[Client | AsyncClient] = [self._origin] if self._owns_client else []
        twin = self._aclient if self._origin is self._client else self._client
        if self._owns_twin and twin is not None:
            owned.append(twin)
        return owned


def parse_url(url: str) -> Dict[str, Any]:
    """``solidb://user:pass@host:port/db?pool_size=8&timeout=5`` -> keyword arguments."""
    parsed = urlparse(url)
    if parsed.scheme != "solidb":
        raise exc.ValidationError(f"expected a solidb:// URL, got {url!r}")
    options: Dict[str, Any] = {
        "host": parsed.hostname or "127.0.0.1",
        "port": parsed.port or 6745,
        "username": unquote(parsed.username) if parsed.username else None,
        "password": unquote(parsed.password) if parsed.password else None,
        "database": unquote(parsed.path.lstrip("/")) or None,
    }
    for key, values in parse_qs(parsed.query).items():
        value = values[-1]
        if key in ("pool_size",):
            options[key] = int(value)
        elif key in ("timeout", "connect_timeout"):
            options[key] = float(value)
        elif key == "api_key":
            options[key] = value
        else:
            raise exc.ValidationError(f"unknown connection option {key!r}")
    return options


def _options(url: Optional[str], given: Dict[str, Any]) -> Dict[str, Any]:
    options = dict(given)
    if url is not None:
        options.update({k: v for k, v in parse_url(url).items() if v is not None})
    if not (options.get("api_key") or options.get("username")):
        raise exc.ValidationError("connect() needs a username and password, or an api_key")
    return options


def _credentials(options: Mapping[str, Any], target: str) -> Dict[str, Any]:
    if options.get("api_key"):
        return {"database": target, "username": "", "password": "", "api_key": options["api_key"]}
    return {"database": target, "username": options["username"],
            "password": options.get("password") or ""}


def _client_options(options: Mapping[str, Any]) -> Dict[str, Any]:
    return {"pool_size": options["pool_size"], "timeout": options["timeout"],
            "connect_timeout": options["connect_timeout"]}


def connect(
    url: Optional[str] = None,
    *,
    host: str = "127.0.0.1",
    port: int = 6745,
    username: Optional[str] = None,
    password: Optional[str] = None,
    api_key: Optional[str] = None,
    database: Optional[str] = None,
    pool_size: int = 4,
    timeout: Optional[float] = 30.0,
    connect_timeout: Optional[float] = 5.0,
    create: bool = True,
    default: bool = True,
) -> Database:
    """Connect, authenticate, and return the database (created if missing).

    ``connect("solidb://admin:secret@127.0.0.1:6745/mydb")`` or the same as
    keywords. The result becomes the default database unless ``default=False``.
    It serves both modes: ``await User.objects.acount()`` works on it too.
    """
    options = _options(url, dict(
        host=host, port=port, username=username, password=password, api_key=api_key,
        database=database, pool_size=pool_size, timeout=timeout, connect_timeout=connect_timeout,
    ))
    db_name = options["database"] or "_system"
    client = Client(options["host"], options["port"], **_client_options(options))
    try:
        client.connect()
        try:
            _auth(client, _credentials(options, db_name))
        except exc.NotFoundError:  # the database does not exist yet
            _auth(client, _credentials(options, "_system"))
        if create and db_name not in client.list_databases():
            try:
                client.create_database(db_name)
            except exc.AlreadyExistsError:
                pass
            _auth(client, _credentials(options, db_name))
    except BaseException:
        client.close()
        raise
    db = Database(client, db_name, owns_client=True, options=_client_options(options))
    if default:
        set_default_database(db)
    return db


async def aconnect(
    url: Optional[str] = None,
    *,
    host: str = "127.0.0.1",
    port: int = 6745,
    username: Optional[str] = None,
    password: Optional[str] = None,
    api_key: Optional[str] = None,
    database: Optional[str] = None,
    pool_size: int = 4,
    timeout: Optional[float] = 30.0,
    connect_timeout: Optional[float] = 5.0,
    create: bool = True,
    default: bool = True,
) -> Database:
    """:func:`connect` for async code: the same arguments, on an ``AsyncClient``."""
    options = _options(url, dict(
        host=host, port=port, username=username, password=password, api_key=api_key,
        database=database, pool_size=pool_size, timeout=timeout, connect_timeout=connect_timeout,
    ))
    db_name = options["database"] or "_system"
    client = AsyncClient(options["host"], options["port"], **_client_options(options))
    try:
        await client.connect()
        try:
            await _aauth(client, _credentials(options, db_name))
        except exc.NotFoundError:
            await _aauth(client, _credentials(options, "_system"))
        if create and db_name not in await client.list_databases():
            try:
                await client.create_database(db_name)
            except exc.AlreadyExistsError:
                pass
            await _aauth(client, _credentials(options, db_name))
    except BaseException:
        await client.close()
        raise
    db = Database(client, db_name, owns_client=True, options=_client_options(options))
    if default:
        set_default_database(db)
    return db


def _auth(client: Client, credentials: Dict[str, Any]) -> None:
    if credentials.get("api_key"):
        client.auth_with_api_key(credentials["database"], credentials["api_key"])
    else:
        client.auth(credentials["database"], credentials["username"], credentials["password"])


async def _aauth(client: AsyncClient, credentials: Dict[str, Any]) -> None:
    if credentials.get("api_key"):
        await client.auth_with_api_key(credentials["database"], credentials["api_key"])
    else:
        await client.auth(credentials["database"], credentials["username"],
                          credentials["password"])
