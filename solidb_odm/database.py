"""A database: a client plus a database name, the models bound to it, and sync.

``connect()`` (or ``await aconnect()``) builds one from a URL or keywords and
makes it the default that models use unless a query says ``using(db)``. A
Database runs operations in both modes: ``db.run(op)`` on its blocking
``Client`` and ``await db.arun(op)`` on its ``AsyncClient``; the one it was
not built with is made on first use, with the same server and identity.
"""

from __future__ import annotations

import threading
from typing import (
    TYPE_CHECKING,
    Any,
    Awaitable,
    Callable,
    Dict,
    List,
    Mapping,
    Optional,
    Sequence,
    Type,
    TypeVar,
    cast,
)
from urllib.parse import parse_qs, unquote, urlsplit

from . import _context, names
from . import exceptions as exc
from .client import AsyncClient, Client
from .client.commands import ClientOps
from .client.failover import TransactionLostError
from .client.hosts import parse_hosts
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
    def multi_host(self) -> bool:
        """Whether this database's client spreads requests over several nodes."""
        return self._origin.multi_host

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
        options = {**self._origin.host_options(), **self._options}  # the same nodes, if many
        twin = kind(self._origin.host, self._origin.port, **options)
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

    def run_in_session(self, work: Callable[[Session], T], *, retries: int = 3,
                       **options: Any) -> T:
        """``work(session)`` in a new session, committed when it returns; again on node loss.

        A session stays on one node. When that node (or the connection to it)
        is lost before the commit is sent, the server has rolled everything
        back, so the whole of ``work`` runs again in a fresh session, on a node
        that answers, up to ``retries`` more times. ``work`` must do its writes
        through the session only and build its objects anew on each call. A
        commit whose answer was lost (``CommitUnknownError``) is never retried.
        """
        for attempt in range(retries + 1):
            try:
                with self.session(**options) as session:
                    return work(session)
            except TransactionLostError:
                if attempt >= retries:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    async def arun_in_session(self, work: Callable[[Session], Awaitable[T]], *,
                              retries: int = 3, **options: Any) -> T:
        """:meth:`run_in_session` for an ``async def work(session)``."""
        for attempt in range(retries + 1):
            try:
                async with self.session(**options) as session:
                    return await work(session)
            except TransactionLostError:
                if attempt >= retries:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

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


#: URL options of a multi-host client (any of them makes the client multi-host).
_CLUSTER_OPTIONS = {
    "strategy": str, "refresh_interval": float, "backoff": float, "max_backoff": float,
    "rejoin_delay": float, "probe_timeout": float,
}


def parse_url(url: str) -> Dict[str, Any]:
    """``solidb://user:pass@host:port/db?pool_size=8&timeout=5`` -> keyword arguments.

    ``solidb://user:pass@h1:p1,h2:p2,h3:p3/db`` names a cluster: the result
    then has ``hosts`` (a list of ``(host, port)``) besides the first node's
    ``host`` and ``port``. The cluster options ``strategy``, ``discover``,
    ``refresh_interval``, ``backoff``, ``max_backoff``, ``rejoin_delay`` and
    ``probe_timeout`` may follow as query parameters.
    """
    parsed = urlsplit(url)
    if parsed.scheme != "solidb":
        raise exc.ValidationError(f"expected a solidb:// URL, got {url!r}")
    userinfo, _, where = parsed.netloc.rpartition("@")
    username, has_password, password = userinfo.partition(":")
    addresses = parse_hosts([h for h in where.split(",") if h]) if where else [("127.0.0.1", 6745)]
    options: Dict[str, Any] = {
        "host": addresses[0][0],
        "port": addresses[0][1],
        "username": unquote(username) if username else None,
        "password": unquote(password) if has_password and password else None,
        "database": unquote(parsed.path.lstrip("/")) or None,
    }
    if len(addresses) > 1:
        options["hosts"] = addresses
    for key, values in parse_qs(parsed.query).items():
        value = values[-1]
        if key in ("pool_size",):
            options[key] = int(value)
        elif key in ("timeout", "connect_timeout"):
            options[key] = float(value)
        elif key == "api_key":
            options[key] = value
        elif key == "discover":
            options[key] = value.lower() in ("1", "true", "yes", "on")
        elif key in _CLUSTER_OPTIONS:
            options[key] = _CLUSTER_OPTIONS[key](value)
        else:
            raise exc.ValidationError(f"unknown connection option {key!r}")
    if "hosts" not in options and any(k in options for k in ("discover", *_CLUSTER_OPTIONS)):
        options["hosts"] = addresses  # one seed node, with cluster options
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
    chosen = {"pool_size": options["pool_size"], "timeout": options["timeout"],
              "connect_timeout": options["connect_timeout"]}
    if options.get("hosts") is not None:  # a cluster: every node, and how to use them
        chosen["hosts"] = list(options["hosts"])
        for key in ("discover", *_CLUSTER_OPTIONS):
            if options.get(key) is not None:
                chosen[key] = options[key]
    return chosen


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
    hosts: Optional[Sequence[Any]] = None,
    strategy: Optional[str] = None,
    discover: Optional[bool] = None,
) -> Database:
    """Connect, authenticate, and return the database (created if missing).

    ``connect("solidb://admin:secret@127.0.0.1:6745/mydb")`` or the same as
    keywords. The result becomes the default database unless ``default=False``.
    It serves both modes: ``await User.objects.acount()`` works on it too.
    A URL with several hosts (``solidb://u:p@h1:p1,h2:p2/db``) or ``hosts=[...]``
    connects to a cluster (see docs/clusters.md).
    """
    options = _options(url, dict(
        host=host, port=port, username=username, password=password, api_key=api_key,
        database=database, pool_size=pool_size, timeout=timeout, connect_timeout=connect_timeout,
        hosts=hosts, strategy=strategy, discover=discover,
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
    hosts: Optional[Sequence[Any]] = None,
    strategy: Optional[str] = None,
    discover: Optional[bool] = None,
) -> Database:
    """:func:`connect` for async code: the same arguments, on an ``AsyncClient``."""
    options = _options(url, dict(
        host=host, port=port, username=username, password=password, api_key=api_key,
        database=database, pool_size=pool_size, timeout=timeout, connect_timeout=connect_timeout,
        hosts=hosts, strategy=strategy, discover=discover,
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
