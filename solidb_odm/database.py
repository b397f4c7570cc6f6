"""A database: a client plus a database name, the models bound to it, and sync.

``connect()`` builds one from a URL or keywords and makes it the default that
models use unless a query says ``using(db)``.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, Dict, List, Mapping, Optional, Type
from urllib.parse import parse_qs, unquote, urlparse

from . import exceptions as exc
from . import names
from .client import Client

if TYPE_CHECKING:
    from .models import Document
    from .session import Session

_default: Optional[Database] = None
_default_lock = threading.Lock()


def get_default_database() -> Database:
    if _default is None:
        raise exc.SoliDBError(
            "no default database: call solidb_odm.connect(...) first, or use .using(db)"
        )
    return _default


def set_default_database(db: Optional[Database]) -> None:
    global _default
    with _default_lock:
        _default = db


class Database:
    """One database on one server, with the models registered on it."""

    def __init__(self, client: Client, name: str, *, owns_client: bool = False) -> None:
        if not isinstance(name, str) or not name:
            raise exc.ValidationError("database name must be a non-empty string")
        self.client = client
        self.name = name
        self.models: Dict[str, Type[Document]] = {}
        self._owns_client = owns_client

    def __repr__(self) -> str:
        return f"<Database {self.name!r} on {self.client.host}:{self.client.port}>"

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
        from .schema import sync_models

        return sync_models(self, list(self.models.values()), push_schema=schema)

    # -- plain access -------------------------------------------------------

    def query(self, sdbql: str, bind_vars: Optional[Mapping[str, Any]] = None) -> List[Any]:
        return self.client.query(self.name, sdbql, bind_vars)

    def collection_names(self) -> List[str]:
        return [c["name"] for c in self.client.list_collections(self.name)]

    def create_collection(self, name: str, *, edge: bool = False) -> None:
        self.client.create_collection(
            self.name, names.collection_name(name), "edge" if edge else None
        )

    # -- units of work ------------------------------------------------------

    def session(self, **options: Any) -> Session:
        """A unit of work: ``with db.session() as session: ...`` (see docs/sessions.md)."""
        from .session import Session

        return Session(self, **options)

    def atomic(self, **options: Any) -> Any:
        """``transaction.atomic`` for this database: a context manager and a decorator."""
        from .session import atomic

        return atomic(self, **options)

    def close(self) -> None:
        if self._owns_client:
            self.client.close()


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
    """
    options: Dict[str, Any] = dict(
        host=host, port=port, username=username, password=password, api_key=api_key,
        database=database, pool_size=pool_size, timeout=timeout, connect_timeout=connect_timeout,
    )
    if url is not None:
        options.update({k: v for k, v in parse_url(url).items() if v is not None})
    db_name = options["database"] or "_system"
    client = Client(options["host"], options["port"], options["pool_size"],
                    timeout=options["timeout"], connect_timeout=options["connect_timeout"])
    try:
        client.connect()
        _authenticate(client, options, db_name)
        if create and db_name not in client.list_databases():
            try:
                client.create_database(db_name)
            except exc.AlreadyExistsError:
                pass
            _authenticate(client, options, db_name)
    except BaseException:
        client.close()
        raise
    db = Database(client, db_name, owns_client=True)
    if default:
        set_default_database(db)
    return db


def _authenticate(client: Client, options: Mapping[str, Any], db_name: str) -> None:
    """Authenticate against ``db_name``, or ``_system`` while it does not exist yet."""
    def auth(target: str) -> None:
        if options.get("api_key"):
            client.auth_with_api_key(target, options["api_key"])
        elif options.get("username"):
            client.auth(target, options["username"], options.get("password") or "")
        else:
            raise exc.ValidationError("connect() needs a username and password, or an api_key")

    try:
        auth(db_name)
    except exc.NotFoundError:
        auth("_system")
