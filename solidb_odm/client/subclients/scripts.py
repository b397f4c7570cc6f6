"""``client.scripts``: Lua endpoints served by the server over HTTP.

The pinned server's driver can store a script but not publish it: a script
created with the driver's ``create_script`` lacks the ``database`` and
``service`` fields that routing needs, and its ``update_script`` and
``delete_script`` leave the server's in-memory route index stale (the old code
keeps answering). So writes go through the HTTP script API on the same port,
which keeps the index current; reads use the driver. An endpoint is served at
``/api/{database}/{service}/{path}``; the service (``"default"`` unless told
otherwise) is created on first use, because the server answers 404 for a
script whose service does not exist.
"""

from __future__ import annotations

import re
from typing import Any, Dict, List, Mapping, Optional, Sequence

from ... import exceptions as exc
from ...ops import Op
from ..facade import AsyncFacade, SyncFacade
from ..http import path as http_path
from . import _checks as check
from ._base import SubOps

JSON = Dict[str, Any]

#: Methods the server routes to a script (``WS`` is a WebSocket upgrade of GET).
SCRIPT_METHODS = frozenset({"GET", "POST", "PUT", "DELETE", "WS"})

#: What ``update`` may change; the server keeps a script's database, service
#: and collection for its whole life (they are part of its key).
UPDATABLE_FIELDS = frozenset({"name", "path", "methods", "code", "description"})

#: The characters the server's job worker accepts in a ``script_path``.
_JOB_SCRIPT_PATH = re.compile(r"^[A-Za-z0-9_/\-.]+$")
_SERVICE_KEY = re.compile(r"^[A-Za-z0-9_\-]+$")


def normalize_path(path: str, *, what: str = "path") -> str:
    """A script path as the server matches it: no leading or trailing slash.

    The server compares the stored path with the request path that follows
    ``/api/{db}/{service}/``, which never starts with a slash, so the
    reference's ``"/api/hello"`` must be stored as ``"api/hello"`` to be found.
    """
    if not isinstance(path, str):
        raise exc.ValidationError(f"{what} must be a string, got {type(path).__name__}")
    cleaned = path.strip("/")
    if not cleaned:
        raise exc.ValidationError(f"{what} must not be empty")
    if any(ch.isspace() or ch in "?#\\" for ch in cleaned):
        raise exc.ValidationError(f"{what} {path!r} contains whitespace, '?', '#' or '\\'")
    if any(segment in ("", ".", "..") for segment in cleaned.split("/")):
        raise exc.ValidationError(f"{what} {path!r} has an empty, '.' or '..' segment")
    return cleaned


def normalize_job_script_path(script_path: str) -> str:
    """A ``script_path`` for a job or trigger, checked as the server's worker checks it.

    The worker finds the script by exact ``path`` equality and refuses paths
    outside ``[A-Za-z0-9_/-.]`` or over 512 characters; refusing them here
    turns a job that would fail later into an error now.
    """
    cleaned = normalize_path(script_path, what="script_path")
    if len(cleaned) > 512 or not _JOB_SCRIPT_PATH.match(cleaned):
        raise exc.ValidationError(
            f"script_path {script_path!r} must be at most 512 characters of "
            "letters, digits, '_', '-', '.' and '/'"
        )
    return cleaned


def _non_empty(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise exc.ValidationError(f"{what} must be a non-empty string")
    return value


def _methods(methods: Sequence[str]) -> List[str]:
    if isinstance(methods, str) or not isinstance(methods, Sequence) or not methods:
        raise exc.ValidationError("methods must be a non-empty list such as ['GET', 'POST']")
    result: List[str] = []
    for method in methods:
        upper = _non_empty(method, "each method").upper()
        if upper not in SCRIPT_METHODS:
            raise exc.ValidationError(
                f"method {method!r} is not routed by the server; use {sorted(SCRIPT_METHODS)}"
            )
        if upper not in result:
            result.append(upper)
    return result


def _service(service: str) -> str:
    if not isinstance(service, str) or not _SERVICE_KEY.match(service):
        raise exc.ValidationError(
            f"service must be letters, digits, '_' or '-', got {service!r}"
        )
    return service


class ScriptsOps(SubOps):
    """Create, read, change and delete Lua endpoints of the current database."""

    __facades__ = ("ScriptsClient", "AsyncScriptsClient")

    def create(
        self,
        name: str,
        path: str,
        methods: Sequence[str],
        code: str,
        description: Optional[str] = None,
        collection: Optional[str] = None,
        *,
        service: str = "default",
    ) -> Op[JSON]:
        """Publish a Lua endpoint and return the stored script (with ``_key``).

        It answers at ``/api/{database}/{service}/{path}`` (see :meth:`url`)
        for callers with valid credentials.
        """
        db = self._db
        body: JSON = {
            "name": _non_empty(name, "name"),
            "path": normalize_path(path),
            "methods": _methods(methods),
            "code": _non_empty(code, "code"),
            "description": description,
            "collection": collection,
            "service": _service(service),
        }
        yield from self._ensure_service(db, service)
        created = yield from self._http("POST", http_path("_api", "database", db, "scripts"), body)
        return (yield from self.get(str(created["id"])))

    def list(self) -> Op[List[JSON]]:
        """Every script stored in the current database."""
        data = (yield from self._data("list_scripts", retry=True, database=self._db)) or {}
        return list(data.get("scripts") or [])

    def get(self, script_id: str) -> Op[JSON]:
        """One script, code included; NotFoundError when there is none."""
        return dict(
            (yield from self._data("get_script", retry=True, database=self._db,
                                   script_id=_non_empty(script_id, "script_id")))
        )

    def update(self, script_id: str, updates: Mapping[str, Any]) -> Op[JSON]:
        """Change name, path, methods, code or description; returns the stored script.

        The server replaces the whole definition on update, so the fields not
        given are taken from the stored script.
        """
        db = self._db
        check.updates(updates, UPDATABLE_FIELDS, "a script")
        current = yield from self.get(script_id)
        merged: JSON = {field: current.get(field) for field in UPDATABLE_FIELDS}
        merged.update(updates)
        body: JSON = {
            "name": _non_empty(merged["name"], "name"),
            "path": normalize_path(merged["path"]),
            "methods": _methods(merged["methods"]),
            "code": _non_empty(merged["code"], "code"),
            "description": merged["description"],
        }
        return dict(
            (yield from self._http("PUT", http_path("_api", "database", db, "scripts", script_id),
                                   body))
        )

    def delete(self, script_id: str) -> Op[None]:
        """Delete a script; its endpoint stops answering at once."""
        db = self._db
        yield from self._http(
            "DELETE",
            http_path("_api", "database", db, "scripts", _non_empty(script_id, "script_id")),
        )

    def get_stats(self) -> Op[JSON]:
        """Server-wide script execution counters; ``total_calls`` counts executions.

        The driver's ``get_script_stats`` is a placeholder on the pinned
        server, so this reads ``/_api/scripts/stats`` (global admin only). The
        counters are in memory: they cover the server process, all databases,
        and restart at zero.
        """
        stats = dict((yield from self._http("GET", "/_api/scripts/stats")) or {})
        stats["total_calls"] = stats.get("total_scripts_executed", 0)
        return stats

    # -- Calling endpoints ---------------------------------------------------

    def url(self, path: str, *, service: str = "default") -> str:
        """The full URL a script with this path answers at."""
        return (
            f"http://{self._state.host}:{self._state.port}"
            f"{self._endpoint(path, service)}"
        )

    def call(
        self,
        path: str,
        method: str = "GET",
        body: Any = None,
        *,
        query: Optional[Mapping[str, Any]] = None,
        service: str = "default",
    ) -> Op[Any]:
        """Call an endpoint with this client's credentials; returns its JSON answer."""
        upper = _non_empty(method, "method").upper()
        if upper not in SCRIPT_METHODS - {"WS"}:
            raise exc.ValidationError(f"cannot call an endpoint with method {method!r}")
        return (yield from self._http(upper, self._endpoint(path, service), body, query=query))

    # -- Internals ----------------------------------------------------------

    def _endpoint(self, path: str, service: str) -> str:
        segments = normalize_path(path).split("/")
        return http_path("api", self._db, _service(service), *segments)

    def _ensure_service(self, db: str, service: str) -> Op[None]:
        """Create the service a script belongs to, unless it exists."""
        try:
            yield from self._http("GET", http_path("_api", "database", db, "services", service))
            return
        except exc.NotFoundError:
            pass
        try:
            yield from self._http(
                "POST",
                http_path("_api", "database", db, "services"),
                {"key": service, "name": service, "enabled": True, "require_auth": True},
            )
        except exc.AlreadyExistsError:
            pass  # created meanwhile by someone else: just as good


# --- generated by scripts/gen_facades.py: do not edit below this line ---


class ScriptsClient(SyncFacade[ScriptsOps]):
    """Create, read, change and delete Lua endpoints of the current database."""

    def create(
        self,
        name: str,
        path: str,
        methods: Sequence[str],
        code: str,
        description: Optional[str] = None,
        collection: Optional[str] = None,
        *,
        service: str = "default",
    ) -> JSON:
        """Publish a Lua endpoint and return the stored script (with ``_key``).

        It answers at ``/api/{database}/{service}/{path}`` (see :meth:`url`)
        for callers with valid credentials.
        """
        return self._executor.run(self._ops.create(
            name,
            path,
            methods,
            code,
            description,
            collection,
            service=service,
        ))

    def list(self) -> List[JSON]:
        """Every script stored in the current database."""
        return self._executor.run(self._ops.list())

    def get(self, script_id: str) -> JSON:
        """One script, code included; NotFoundError when there is none."""
        return self._executor.run(self._ops.get(script_id))

    def update(self, script_id: str, updates: Mapping[str, Any]) -> JSON:
        """Change name, path, methods, code or description; returns the stored script.

        The server replaces the whole definition on update, so the fields not
        given are taken from the stored script.
        """
        return self._executor.run(self._ops.update(script_id, updates))

    def delete(self, script_id: str) -> None:
        """Delete a script; its endpoint stops answering at once."""
        return self._executor.run(self._ops.delete(script_id))

    def get_stats(self) -> JSON:
        """Server-wide script execution counters; ``total_calls`` counts executions.

        The driver's ``get_script_stats`` is a placeholder on the pinned
        server, so this reads ``/_api/scripts/stats`` (global admin only). The
        counters are in memory: they cover the server process, all databases,
        and restart at zero.
        """
        return self._executor.run(self._ops.get_stats())

    def url(self, path: str, *, service: str = "default") -> str:
        """The full URL a script with this path answers at."""
        return self._ops.url(path, service=service)

    def call(
        self,
        path: str,
        method: str = "GET",
        body: Any = None,
        *,
        query: Optional[Mapping[str, Any]] = None,
        service: str = "default",
    ) -> Any:
        """Call an endpoint with this client's credentials; returns its JSON answer."""
        return self._executor.run(self._ops.call(path, method, body, query=query, service=service))


class AsyncScriptsClient(AsyncFacade[ScriptsOps]):
    """Create, read, change and delete Lua endpoints of the current database."""

    async def create(
        self,
        name: str,
        path: str,
        methods: Sequence[str],
        code: str,
        description: Optional[str] = None,
        collection: Optional[str] = None,
        *,
        service: str = "default",
    ) -> JSON:
        """Publish a Lua endpoint and return the stored script (with ``_key``).

        It answers at ``/api/{database}/{service}/{path}`` (see :meth:`url`)
        for callers with valid credentials.
        """
        return await self._executor.run(self._ops.create(
            name,
            path,
            methods,
            code,
            description,
            collection,
            service=service,
        ))

    async def list(self) -> List[JSON]:
        """Every script stored in the current database."""
        return await self._executor.run(self._ops.list())

    async def get(self, script_id: str) -> JSON:
        """One script, code included; NotFoundError when there is none."""
        return await self._executor.run(self._ops.get(script_id))

    async def update(self, script_id: str, updates: Mapping[str, Any]) -> JSON:
        """Change name, path, methods, code or description; returns the stored script.

        The server replaces the whole definition on update, so the fields not
        given are taken from the stored script.
        """
        return await self._executor.run(self._ops.update(script_id, updates))

    async def delete(self, script_id: str) -> None:
        """Delete a script; its endpoint stops answering at once."""
        return await self._executor.run(self._ops.delete(script_id))

    async def get_stats(self) -> JSON:
        """Server-wide script execution counters; ``total_calls`` counts executions.

        The driver's ``get_script_stats`` is a placeholder on the pinned
        server, so this reads ``/_api/scripts/stats`` (global admin only). The
        counters are in memory: they cover the server process, all databases,
        and restart at zero.
        """
        return await self._executor.run(self._ops.get_stats())

    def url(self, path: str, *, service: str = "default") -> str:
        """The full URL a script with this path answers at."""
        return self._ops.url(path, service=service)

    async def call(
        self,
        path: str,
        method: str = "GET",
        body: Any = None,
        *,
        query: Optional[Mapping[str, Any]] = None,
        service: str = "default",
    ) -> Any:
        """Call an endpoint with this client's credentials; returns its JSON answer."""
        return await self._executor.run(self._ops.call(
            path,
            method,
            body,
            query=query,
            service=service,
        ))
