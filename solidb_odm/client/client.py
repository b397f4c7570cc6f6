"""The low-level client: the SDK reference's ``Client``, method for method.

Every method is a thin call over :meth:`Client._call`, the single command path
that owns framing, the connection pool, timeouts, reconnects, transaction
routing and error mapping.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any, Dict, Iterable, List, Mapping, Optional, Sequence, Union, cast

from .. import exceptions as exc
from .. import protocol
from .connection import Connection
from .http import HttpTransport
from .http import path as http_path
from .pool import ConnectionPool

if TYPE_CHECKING:
    from types import TracebackType

    from .subclients.access import ApiKeysClient, RolesClient, UsersClient
    from .subclients.cluster import ClusterClient
    from .subclients.collections_mgmt import CollectionsMgmtClient
    from .subclients.columnar import ColumnarClient
    from .subclients.env import EnvClient
    from .subclients.geo import GeoClient
    from .subclients.jobs import CronClient, JobsClient
    from .subclients.scripts import ScriptsClient
    from .subclients.triggers import TriggersClient
    from .subclients.ttl import TTLClient
    from .subclients.vector import VectorClient

JSON = Dict[str, Any]

#: Commands that change nothing: safe to send again on a fresh connection
#: when a pooled one turns out to be dead.
READ_ONLY_COMMANDS = frozenset(
    {
        "ping", "get", "list", "list_databases", "list_collections", "collection_stats",
        "explain", "list_indexes", "list_scripts", "get_script", "list_triggers",
        "list_collection_triggers", "get_trigger", "list_env_vars", "list_roles", "get_role",
        "list_users", "get_user_roles", "list_api_keys", "list_geo_indexes",
        "list_vector_indexes", "list_ttl_indexes", "list_columnar", "get_columnar",
        "get_collection_schema", "list_columnar_indexes", "get_current_user",
    }
)

#: Commands the server stages inside a transaction (applied at commit).
TRANSACTIONAL_COMMANDS = frozenset({"insert", "update", "delete", "query"})

#: The server accepts these names; the reference also lists ``read_uncommitted``,
#: which is served as ``read_committed`` (a stronger guarantee, as SQL permits).
ISOLATION_LEVELS = {
    "read_uncommitted": "read_committed",
    "read_committed": "read_committed",
    "repeatable_read": "repeatable_read",
    "serializable": "serializable",
}

#: Bulk inserts are split so that no frame comes near the 16 MiB limit.
BULK_CHUNK_BYTES = 8 * 1024 * 1024


class _Transaction:
    """An open server transaction and the connection it is pinned to."""

    __slots__ = ("conn", "database", "lock", "tx_id")

    def __init__(self, tx_id: str, database: str, conn: Connection) -> None:
        self.tx_id = tx_id
        self.database = database
        self.conn = conn
        self.lock = threading.Lock()  # one request at a time on the pinned socket


class Client:
    """A thread-safe client for one SoliDB server.

    Connections are pooled; each request uses one connection alone. After
    :meth:`auth`, every new pooled connection authenticates itself with the
    same credentials.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 6745,
        pool_size: int = 4,
        *,
        connect_timeout: Optional[float] = 5.0,
        timeout: Optional[float] = 30.0,
        pool_timeout: Optional[float] = 30.0,
    ) -> None:
        self.host = host
        self.port = port
        self._pool = ConnectionPool(
            host,
            port,
            size=pool_size,
            connect_timeout=connect_timeout,
            request_timeout=timeout,
            pool_timeout=pool_timeout,
        )
        self._database: Optional[str] = None
        self._transactions: Dict[str, _Transaction] = {}
        self._tx_lock = threading.Lock()
        self._local = threading.local()
        self._subclients: Dict[str, Any] = {}

    # ------------------------------------------------------------------
    # The single command path
    # ------------------------------------------------------------------

    def _current_transaction(self) -> Optional[_Transaction]:
        stack: List[str] = getattr(self._local, "tx_stack", [])
        if not stack:
            return None
        with self._tx_lock:
            return self._transactions.get(stack[-1])

    def _call(self, cmd: str, **fields: Any) -> protocol.Reply:
        """Send one command and return its reply, or raise its typed error.

        While this thread has a transaction open, document writes and queries
        are staged in it, on the connection the transaction is pinned to.
        """
        message = protocol.command(cmd, **fields)
        tx = self._current_transaction()
        if tx is not None:
            if cmd in TRANSACTIONAL_COMMANDS:
                message = protocol.command("transaction_command", tx_id=tx.tx_id, command=message)
            return self._send_pinned(tx, message)
        return self._send_pooled(message, retry=cmd in READ_ONLY_COMMANDS)

    def _send_pooled(self, message: Mapping[str, Any], *, retry: bool) -> protocol.Reply:
        pool = self._pool
        for attempt in (1, 2):
            conn = pool.acquire()
            try:
                response = conn.request(message)
            except exc.TimeoutError:
                raise
            except exc.ConnectionError:
                # A read may go again on a new connection; a write that
                # was in flight is never repeated behind the caller's back.
                if retry and attempt == 1:
                    continue
                raise
            finally:
                pool.release(conn)
            return protocol.interpret(response)
        raise AssertionError("unreachable")  # pragma: no cover

    def _send_pinned(self, tx: _Transaction, message: Mapping[str, Any]) -> protocol.Reply:
        try:
            with tx.lock:
                response = tx.conn.request(message)
        except exc.ConnectionError as err:
            self._forget_transaction(tx.tx_id)
            raise exc.ConnectionError(
                f"transaction {tx.tx_id} lost its connection; the server rolled it back ({err})"
            ) from err
        return protocol.interpret(response)

    def _data(self, cmd: str, **fields: Any) -> Any:
        return self._call(cmd, **fields).data

    def _http(
        self,
        method: str,
        url_path: str,
        body: Any = None,
        *,
        query: Optional[Mapping[str, Any]] = None,
        raw: bool = False,
    ) -> tuple[int, Any]:
        """Call the server's HTTP API on the same port, with this client's credentials."""
        transport = HttpTransport(self.host, self.port, timeout=self._pool.request_timeout)
        return transport.request(
            method, url_path, body, query=query, raw=raw,
            headers=HttpTransport.auth_headers(self._pool.credentials),
        )

    def _require_database(self) -> str:
        """The database set by :meth:`use_database`, for database-scoped sub-clients."""
        if not self._database:
            raise exc.ValidationError(
                "no database selected: call client.use_database(name) first"
            )
        return self._database

    # ------------------------------------------------------------------
    # Connection management
    # ------------------------------------------------------------------

    def connect(self) -> None:
        """Open (and check) a connection now instead of on the first request."""
        self._pool.open()
        with self._pool.connection():
            pass

    def close(self) -> None:
        """Roll back open transactions and close every connection."""
        with self._tx_lock:
            pending = list(self._transactions.values())
            self._transactions.clear()
        for tx in pending:
            tx.conn.close()  # closing rolls the transaction back on the server
            self._pool.release(tx.conn)
        self._pool.close()

    def __enter__(self) -> Client:
        self.connect()
        return self

    def __exit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc_value: Optional[BaseException],
        traceback: Optional[TracebackType],
    ) -> None:
        self.close()

    def ping(self) -> float:
        """Round-trip latency to the server, in milliseconds."""
        started = time.perf_counter()
        self._send_pooled(protocol.command("ping"), retry=True)
        return (time.perf_counter() - started) * 1000.0

    def use_database(self, name: str) -> Client:
        """Set the database the sub-clients work on; returns the client."""
        if not isinstance(name, str) or not name:
            raise exc.ValidationError("database name must be a non-empty string")
        self._database = name
        return self

    @property
    def database(self) -> Optional[str]:
        return self._database

    # ------------------------------------------------------------------
    # Authentication
    # ------------------------------------------------------------------

    def auth(self, database: str, username: str, password: str) -> None:
        """Authenticate; every pooled connection uses these credentials from now on."""
        self._authenticate({"database": database, "username": username, "password": password})

    def auth_with_api_key(self, database: str, api_key: str) -> None:
        """Authenticate with an API key instead of a password."""
        self._authenticate(
            {"database": database, "username": "", "password": "", "api_key": api_key}
        )

    def _authenticate(self, credentials: Dict[str, Any]) -> None:
        self._pool.open()
        self._pool.reset()
        conn = self._pool.acquire()
        try:
            ConnectionPool.authenticate(conn, credentials)
        except exc.ServerError:
            conn.broken = True  # an unauthenticated connection is of no use
            self._pool.release(conn)
            raise
        except BaseException:
            self._pool.release(conn)
            raise
        self._pool.credentials = credentials
        self._pool.release(conn)

    # ------------------------------------------------------------------
    # Databases and collections
    # ------------------------------------------------------------------

    def list_databases(self) -> List[str]:
        return list(self._data("list_databases") or [])

    def create_database(self, name: str) -> None:
        self._call("create_database", name=name)

    def delete_database(self, name: str) -> None:
        self._call("delete_database", name=name)

    def list_collections(self, database: str) -> List[JSON]:
        """Collections as ``{"name", "type"}`` maps, as the reference documents.

        The driver lists names only and no driver command reveals a
        collection's type (solidb 2.6.0), so the types come from the HTTP
        listing on the same port. A collection created or dropped between the
        two calls is left out, as if the listing had been taken a moment earlier.
        """
        names = list(self._data("list_collections", database=database) or [])
        if not names:
            return []
        _, body = self._http("GET", http_path("_api", "database", database, "collection"))
        listed = body.get("collections") if isinstance(body, dict) else None
        if not isinstance(listed, list):
            raise exc.ProtocolError(f"unexpected collection listing from HTTP: {body!r:.200}")
        types = {
            str(item["name"]): str(item.get("type") or "document")
            for item in listed
            if isinstance(item, dict) and "name" in item
        }
        return [{"name": name, "type": types[name]} for name in names if name in types]

    def create_collection(
        self, database: str, name: str, col_type: Optional[str] = None, *, type: Optional[str] = None
    ) -> None:
        """Create a collection; ``col_type="edge"`` makes an edge collection."""
        self._call("create_collection", database=database, name=name, type=col_type or type)

    def delete_collection(self, database: str, name: str) -> None:
        self._call("delete_collection", database=database, name=name)

    def collection_stats(self, database: str, name: str) -> JSON:
        return dict(self._data("collection_stats", database=database, name=name) or {})

    # ------------------------------------------------------------------
    # Documents
    # ------------------------------------------------------------------

    def insert(
        self, database: str, collection: str, document: Mapping[str, Any], key: Optional[str] = None
    ) -> JSON:
        """Insert and return the stored document, with its ``_key``.

        Inside a transaction the document is staged and returned as it will
        be stored once the transaction commits.
        """
        if not isinstance(document, Mapping):
            raise exc.ValidationError(
                f"a document must be a mapping (a dict), got {type(document).__name__}"
            )
        return dict(
            self._data("insert", database=database, collection=collection, key=key,
                       document=dict(document)) or {}
        )

    def get(self, database: str, collection: str, key: str) -> JSON:
        return dict(self._data("get", database=database, collection=collection, key=key))

    def update(
        self,
        database: str,
        collection: str,
        key: str,
        document: Mapping[str, Any],
        merge: bool = True,
    ) -> None:
        """Merge ``document`` into the stored one, or replace it with ``merge=False``."""
        self._update(database, collection, key, document, merge)

    def _update(
        self, database: str, collection: str, key: str, document: Mapping[str, Any], merge: bool
    ) -> JSON:
        """Update and return the stored document."""
        if not merge:
            return self._replace(database, collection, key, document)
        return dict(
            self._data("update", database=database, collection=collection, key=key,
                       document=dict(document), merge=True) or {}
        )

    def _replace(
        self, database: str, collection: str, key: str, document: Mapping[str, Any]
    ) -> JSON:
        """Replace the whole document, keeping its key; returns the stored document.

        The server's ``update`` merges even with ``merge=false`` (solidb 2.6.0),
        so a replace is a delete and an insert of the same key in one
        transaction: atomic, and NotFoundError when there is nothing to replace.
        Inside this thread's transaction both are staged in it; if the insert is
        then refused, the staged delete stays in that transaction, which the
        caller rolls back on the error.
        """
        body = dict(document)
        tx = self._current_transaction()
        if tx is not None:
            self._call("delete", database=database, collection=collection, key=key)
            return dict(
                self._data("insert", database=database, collection=collection, key=key,
                           document=body) or {}
            )
        with self._pool.connection() as conn:
            begun = protocol.interpret(
                conn.request(protocol.command("begin_transaction", database=database))
            )
            if not begun.tx_id:
                raise exc.ProtocolError("begin_transaction answered without a tx_id")

            def staged(cmd: str, **fields: Any) -> Dict[str, Any]:
                return protocol.command(
                    "transaction_command", tx_id=begun.tx_id,
                    command=protocol.command(cmd, database=database, collection=collection,
                                             key=key, **fields),
                )

            # One round trip for both; a refused delete voids the insert
            # because the transaction is then rolled back, not committed.
            batch = protocol.interpret(conn.request(protocol.command(
                "batch", commands=[staged("delete"), staged("insert", document=body)]
            )))
            try:
                results = [protocol.interpret(r) for r in batch.responses]
            except exc.SoliDBError:
                protocol.interpret(conn.request(
                    protocol.command("rollback_transaction", tx_id=begun.tx_id)
                ))
                raise
            protocol.interpret(
                conn.request(protocol.command("commit_transaction", tx_id=begun.tx_id))
            )
        return dict(results[-1].data or {})

    def delete(self, database: str, collection: str, key: str) -> None:
        self._call("delete", database=database, collection=collection, key=key)

    def list(
        self, database: str, collection: str, limit: int = 50, offset: int = 0
    ) -> List[JSON]:
        """One page of documents, in key order."""
        return list(self.list_page(database, collection, limit, offset)[0])

    def list_page(
        self, database: str, collection: str, limit: int = 50, offset: int = 0
    ) -> tuple[List[JSON], int]:
        """One page of documents and the collection's total document count."""
        if limit < 0 or offset < 0:
            raise exc.ValidationError("limit and offset must not be negative")
        reply = self._call("list", database=database, collection=collection, limit=limit,
                           offset=offset)
        return list(reply.data or []), int(reply.count or 0)

    list_documents = list  # the official SDK's name for the same call

    def bulk_insert(
        self, database: str, collection: str, documents: Iterable[Mapping[str, Any]]
    ) -> int:
        """Insert many documents; returns how many were inserted.

        Each frame is all-or-nothing on the server; frames are cut at about
        8 MiB, so a larger call is atomic per frame, not as a whole. Inside a
        transaction the documents are staged in it instead (one round trip).
        """
        docs = [dict(d) for d in documents]
        tx = self._current_transaction()
        if tx is not None:
            commands = [
                protocol.command("insert", database=database, collection=collection, document=d)
                for d in docs
            ]
            for reply in self.batch(commands):
                if isinstance(reply, exc.SoliDBError):
                    raise reply
            return len(docs)
        if not docs:
            return 0
        total = 0
        for chunk in _chunks_by_size(docs, BULK_CHUNK_BYTES):
            reply = self._call("bulk_insert", database=database, collection=collection,
                               documents=chunk)
            total += int(reply.count or 0)
        return total

    def batch(
        self, commands: Sequence[Mapping[str, Any]], *, tx_id: Optional[str] = None
    ) -> List[Union[protocol.Reply, exc.SoliDBError]]:
        """Run several commands in one round trip, in order, not atomically.

        Returns one item per command: its ``Reply``, or the error it raised.
        Inside a transaction (this thread's, or the one named by ``tx_id``)
        document writes are staged in it.
        """
        if tx_id is not None:
            with self._tx_lock:
                tx = self._transactions.get(tx_id)
            if tx is None:
                raise exc.TransactionError(f"Transaction not found: {tx_id!r} is not open")
        else:
            tx = self._current_transaction()
        wrapped: List[Mapping[str, Any]] = []
        for item in commands:
            if tx is not None and item.get("cmd") in TRANSACTIONAL_COMMANDS:
                item = protocol.command("transaction_command", tx_id=tx.tx_id, command=dict(item))
            wrapped.append(item)
        message = protocol.command("batch", commands=wrapped)
        reply = self._send_pinned(tx, message) if tx else self._send_pooled(message, retry=False)
        results: List[Union[protocol.Reply, exc.SoliDBError]] = []
        for response in reply.responses:
            try:
                results.append(protocol.interpret(response))
            except exc.SoliDBError as err:
                results.append(err)
        return results

    # ------------------------------------------------------------------
    # Queries
    # ------------------------------------------------------------------

    def query(
        self, database: str, sdbql: str, bind_vars: Optional[Mapping[str, Any]] = None
    ) -> List[Any]:
        """Run SDBQL with bind variables and return the result rows."""
        reply = self._call("query", database=database, sdbql=sdbql,
                           bind_vars=dict(bind_vars) if bind_vars else None)
        return list(reply.data or [])

    def explain(
        self, database: str, sdbql: str, bind_vars: Optional[Mapping[str, Any]] = None
    ) -> JSON:
        return dict(self._data("explain", database=database, sdbql=sdbql,
                               bind_vars=dict(bind_vars) if bind_vars else None) or {})

    # ------------------------------------------------------------------
    # Transactions
    # ------------------------------------------------------------------

    def begin_transaction(
        self,
        database: str,
        isolation: Optional[str] = None,
        *,
        isolation_level: Optional[str] = None,
    ) -> str:
        """Start a transaction and return its id.

        Until it is committed or rolled back, this thread's inserts, updates,
        deletes and queries through this client run inside it, on one
        connection kept for it. Other threads are not affected.
        """
        level_name = isolation or isolation_level or "read_committed"
        level = ISOLATION_LEVELS.get(level_name)
        if level is None:
            raise exc.ValidationError(
                f"unknown isolation level {level_name!r}; use one of {sorted(ISOLATION_LEVELS)}"
            )
        conn = self._pool.acquire()
        try:
            response = conn.request(
                protocol.command("begin_transaction", database=database, isolation_level=level)
            )
            reply = protocol.interpret(response)
        except BaseException:
            self._pool.release(conn)
            raise
        if not reply.tx_id:
            self._pool.release(conn)
            raise exc.ProtocolError("begin_transaction answered without a tx_id")
        tx = _Transaction(reply.tx_id, database, conn)
        with self._tx_lock:
            self._transactions[tx.tx_id] = tx
        self._local.tx_stack = [*getattr(self._local, "tx_stack", []), tx.tx_id]
        return tx.tx_id

    def commit_transaction(self, tx_id: str) -> None:
        self._finish_transaction(tx_id, "commit_transaction")

    def rollback_transaction(self, tx_id: str) -> None:
        self._finish_transaction(tx_id, "rollback_transaction")

    def _finish_transaction(self, tx_id: str, cmd: str) -> None:
        with self._tx_lock:
            tx = self._transactions.get(tx_id)
        if tx is None:
            raise exc.TransactionError(f"Transaction not found: {tx_id!r} is not open on this client")
        try:
            with tx.lock:
                response = tx.conn.request(protocol.command(cmd, tx_id=tx_id))
        finally:
            self._forget_transaction(tx_id)
        protocol.interpret(response)

    def _forget_transaction(self, tx_id: str) -> None:
        with self._tx_lock:
            tx = self._transactions.pop(tx_id, None)
        stack: List[str] = getattr(self._local, "tx_stack", [])
        if tx_id in stack:
            stack.remove(tx_id)
        if tx is not None:
            self._pool.release(tx.conn)

    def in_transaction(self) -> Optional[str]:
        """The id of this thread's innermost open transaction, if any."""
        tx = self._current_transaction()
        return tx.tx_id if tx else None

    # ------------------------------------------------------------------
    # Indexes
    # ------------------------------------------------------------------

    def create_index(
        self,
        database: str,
        collection: str,
        name: str,
        fields: Sequence[str],
        unique: bool = False,
        sparse: bool = False,
    ) -> JSON:
        return dict(self._data("create_index", database=database, collection=collection,
                               name=name, fields=list(fields), unique=unique,
                               sparse=sparse) or {})

    def list_indexes(self, database: str, collection: str) -> List[JSON]:
        return list(self._data("list_indexes", database=database, collection=collection) or [])

    def delete_index(self, database: str, collection: str, name: str) -> None:
        self._call("delete_index", database=database, collection=collection, name=name)

    # ------------------------------------------------------------------
    # Sub-clients (one small module per group, each over ``_call``)
    # ------------------------------------------------------------------

    def _sub(self, name: str) -> Any:
        sub = self._subclients.get(name)
        if sub is None:
            import importlib

            from .subclients import SUBCLIENTS

            module_name, class_name = SUBCLIENTS[name]
            module = importlib.import_module(f"{__package__}.subclients.{module_name}")
            sub = getattr(module, class_name)(self)
            self._subclients[name] = sub
        return sub

    @property
    def scripts(self) -> ScriptsClient:
        return cast("ScriptsClient", self._sub("scripts"))

    @property
    def jobs(self) -> JobsClient:
        return cast("JobsClient", self._sub("jobs"))

    @property
    def cron(self) -> CronClient:
        return cast("CronClient", self._sub("cron"))

    @property
    def triggers(self) -> TriggersClient:
        return cast("TriggersClient", self._sub("triggers"))

    @property
    def roles(self) -> RolesClient:
        return cast("RolesClient", self._sub("roles"))

    @property
    def users(self) -> UsersClient:
        return cast("UsersClient", self._sub("users"))

    @property
    def api_keys(self) -> ApiKeysClient:
        return cast("ApiKeysClient", self._sub("api_keys"))

    @property
    def vector(self) -> VectorClient:
        return cast("VectorClient", self._sub("vector"))

    @property
    def geo(self) -> GeoClient:
        return cast("GeoClient", self._sub("geo"))

    @property
    def ttl(self) -> TTLClient:
        return cast("TTLClient", self._sub("ttl"))

    @property
    def columnar(self) -> ColumnarClient:
        return cast("ColumnarClient", self._sub("columnar"))

    @property
    def cluster(self) -> ClusterClient:
        return cast("ClusterClient", self._sub("cluster"))

    @property
    def collections_mgmt(self) -> CollectionsMgmtClient:
        return cast("CollectionsMgmtClient", self._sub("collections_mgmt"))

    @property
    def env(self) -> EnvClient:
        return cast("EnvClient", self._sub("env"))


def _chunks_by_size(docs: List[JSON], limit: int) -> Iterable[List[JSON]]:
    """Split ``docs`` into runs whose encoded size stays under ``limit`` bytes."""
    if protocol.encoded_size(docs) <= limit:
        yield docs
        return
    chunk: List[JSON] = []
    size = 0
    for doc in docs:
        doc_size = protocol.encoded_size(doc)
        if chunk and size + doc_size > limit:
            yield chunk
            chunk, size = [], 0
        chunk.append(doc)
        size += doc_size
    if chunk:
        yield chunk
