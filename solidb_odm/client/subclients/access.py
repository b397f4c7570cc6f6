"""``client.roles``, ``client.users`` and ``client.api_keys``: who may do what.

Permissions on solidb 2.6.0 are ``{action, scope, database?}`` with actions
``read`` < ``write`` < ``admin`` and scopes ``global`` or ``database``; a role
bundles them, and a user or API key holds roles (``role@db`` limits a role to
one database). Which path each call takes, and why:

- Roles are read over the driver but written over HTTP: the driver's
  ``create_role`` drops the description, its ``update_role`` can rewrite the
  built-in roles and, like its ``delete_role``, leaves the HTTP side's cached
  role definition stale, so HTTP callers kept the old rights.
- Users are created over the driver, whose ``create_user`` ignores ``roles``
  (rights come only from role assignments), so the roles are then assigned in
  one batch. Listing and deleting use HTTP: the driver lists the ignored
  ``roles`` field instead of the real assignments, and its ``delete_user``
  leaves the assignments behind for a later user of the same name to inherit.
  Revoking uses HTTP too: the driver's ``revoke_role`` removes nothing.
  ``me`` and ``my_permissions`` are placeholders on the driver.
- API keys use the driver: it is the only path that can set an expiry; a key
  limited to some databases holds ``role@database`` roles, which the server
  resolves to permissions on those databases only.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

from ... import exceptions as exc
from ... import protocol
from ...ops import Op
from ..facade import AsyncFacade, SyncFacade
from ..http import path as http_path
from . import _checks as check
from ._base import SubOps, unsupported

JSON = Dict[str, Any]
Permission = Union[str, Mapping[str, Any]]

#: The actions the server knows, weakest first (each implies the ones before).
ACTIONS = ("read", "write", "admin")
#: Names of the built-in roles; the server refuses custom roles starting with them.
BUILTIN_ROLES = ("admin", "editor", "viewer")
#: The server's own rule for passwords of users created over HTTP; the driver
#: has none, so the client applies it to both.
MIN_PASSWORD_LENGTH = 12
_PERMISSION_KEYS = frozenset({"action", "scope", "database", "collection"})


def to_server_permission(permission: Permission) -> JSON:
    """Map a reference permission object to the one the server stores.

    Also accepts the driver's string form, ``"read"`` or ``"write:mydb"``.
    What the server cannot express is refused, never widened.
    """
    if isinstance(permission, str):
        verb, _, db_name = permission.partition(":")
        permission = {"action": verb, "scope": "database" if db_name else "global"}
        if db_name:
            permission["database"] = db_name
    if not isinstance(permission, Mapping):
        raise exc.ValidationError(
            f"a permission must be a mapping like {{'action': 'read', 'scope': 'database', "
            f"'database': 'mydb'}}, got {permission!r}"
        )
    unknown = set(permission) - _PERMISSION_KEYS
    if unknown:
        raise exc.ValidationError(f"unknown permission keys {sorted(unknown)}")
    action = check.text(permission.get("action"), "permission action").lower()
    database = permission.get("database")
    scope = str(permission.get("scope") or ("database" if database else "global")).lower()
    if action == "execute" or scope == "script":
        raise unsupported(
            f"a role permission {dict(permission)!r}",
            "the server's permissions are read, write and admin only; who may call a Lua "
            "endpoint is decided by its service's require_auth setting, not by roles",
        )
    if scope == "collection" or permission.get("collection") is not None:
        raise unsupported(
            f"a collection-scoped role permission {dict(permission)!r}",
            "the server grants permissions globally or per database; granting the whole "
            "database instead would give more than was asked",
        )
    if action not in ACTIONS:
        raise exc.ValidationError(f"permission action must be one of {ACTIONS}, got {action!r}")
    if scope == "global":
        if database is not None:
            raise exc.ValidationError(
                "a global permission covers every database; use scope 'database' to limit it"
            )
        return {"action": action, "scope": "global"}
    if scope != "database":
        raise exc.ValidationError(f"permission scope must be 'global' or 'database', got {scope!r}")
    return {"action": action, "scope": "database",
            "database": check.text(database, "permission database")}


def _permission_view(permission: Mapping[str, Any]) -> JSON:
    view: JSON = {"action": permission.get("action"), "scope": permission.get("scope")}
    if permission.get("database") is not None:
        view["database"] = permission["database"]
    return view


def _role_view(role: Mapping[str, Any]) -> JSON:
    """One shape for a role, whichever path read it (driver doc or HTTP answer)."""
    created = role.get("created_at")
    return {
        "name": role.get("name") or role.get("_key"),
        "description": role.get("description") or "",
        "permissions": [_permission_view(p) for p in role.get("permissions") or []],
        "is_builtin": bool(role.get("is_builtin")),
        "created_at": created,
        "updated_at": role.get("updated_at") or created,
    }


def _role_name(name: Any) -> str:
    role = check.text(name, "role name")
    if "@" in role:
        raise exc.ValidationError("a role name cannot contain '@' (it marks role@database)")
    return role


def _split_role(role: Any) -> tuple[str, Optional[str]]:
    """``"editor@mydb"`` -> ``("editor", "mydb")``: the server's notation for a limited role."""
    name, sep, database = check.text(role, "role").partition("@")
    return check.text(name, "role"), (check.text(database, "role database") if sep else None)


def _username(username: Any) -> str:
    user = check.text(username, "username")
    if len(user) > 64:
        raise exc.ValidationError("a username has at most 64 characters")
    if ":" in user:
        raise exc.ValidationError("a username cannot contain ':' (Basic auth splits on it)")
    if user == "cluster-internal":
        raise exc.ValidationError("the username 'cluster-internal' is reserved by the server")
    return user


class RolesOps(SubOps):
    """Custom roles: named sets of permissions, assigned to users and API keys."""

    __facades__ = ("RolesClient", "AsyncRolesClient")

    def list(self) -> Op[List[JSON]]:
        """Every role, the built-in ``admin``, ``editor`` and ``viewer`` included."""
        data = (yield from self._data("list_roles", retry=True)) or {}
        return [_role_view(r) for r in data.get("roles") or []]

    def create(
        self,
        name: str,
        permissions: Sequence[Permission],
        description: Optional[str] = None,
    ) -> Op[JSON]:
        """Create a role; returns it as stored.

        ``permissions`` are ``{action, scope, database?}`` objects (``read``,
        ``write`` or ``admin``; ``global`` or ``database`` scope).
        """
        name = _role_name(name)
        if name.startswith(BUILTIN_ROLES):
            raise exc.ValidationError(
                f"role name {name!r} starts with a built-in role name {BUILTIN_ROLES}, "
                "which the server reserves"
            )
        body: JSON = {"name": name, "permissions": self._permissions(permissions)}
        if description is not None:
            body["description"] = check.text(description, "description")
        return _role_view((yield from self._http("POST", "/_api/auth/roles", body)))

    def get(self, name: str) -> Op[JSON]:
        """One role; NotFoundError when there is none."""
        return _role_view((yield from self._data("get_role", retry=True, name=_role_name(name))))

    def update(
        self,
        name: str,
        permissions: Optional[Sequence[Permission]] = None,
        description: Optional[str] = None,
    ) -> Op[JSON]:
        """Replace a custom role's permissions and/or description; returns the role.

        Users and keys holding the role get the new rights on their next
        request over HTTP and on their next connection over the driver (an
        open driver session re-reads its rights every 60 seconds).
        """
        body: JSON = {}
        if permissions is not None:
            body["permissions"] = self._permissions(permissions)
        if description is not None:
            body["description"] = check.text(description, "description")
        if not body:
            raise exc.ValidationError("nothing to update: give permissions and/or description")
        return _role_view(
            (yield from self._http("PUT", http_path("_api", "auth", "roles", _role_name(name)),
                                   body))
        )

    def delete(self, name: str) -> Op[None]:
        """Delete a custom role (built-in roles cannot be deleted)."""
        yield from self._http("DELETE", http_path("_api", "auth", "roles", _role_name(name)))

    @staticmethod
    def _permissions(permissions: Sequence[Permission]) -> List[JSON]:
        if isinstance(permissions, (str, Mapping)) or not isinstance(permissions, Sequence):
            raise exc.ValidationError("permissions must be a list of permission objects")
        return [to_server_permission(p) for p in permissions]


class UsersOps(SubOps):
    """User accounts and the roles they hold."""

    __facades__ = ("UsersClient", "AsyncUsersClient")

    def list(self) -> Op[List[JSON]]:
        """Every user as ``{username, created_at, roles}``, roles as actually assigned."""
        body = (yield from self._http("GET", "/_api/auth/users")) or {}
        return [dict(u) for u in body.get("users") or []]

    def create(
        self, username: str, password: str, roles: Optional[Sequence[str]] = None
    ) -> Op[JSON]:
        """Create a user holding ``roles`` (``"editor"``, or ``"editor@mydb"`` for one database).

        The roles are assigned right after the account is created; if one
        cannot be (say it does not exist), the account is removed again and
        the error raised, so no half-made user stays behind.
        """
        username = _username(username)
        if not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH:
            raise exc.ValidationError(
                f"a password needs at least {MIN_PASSWORD_LENGTH} characters"
            )
        wanted = [_split_role(r) for r in check.string_list(roles or [], "roles")]
        created = dict((yield from self._data("create_user", username=username,
                                              password=password, roles=[])) or {})
        if wanted:
            replies = yield from self._batch([
                protocol.command("assign_role", username=username, role=role, database=db)
                for role, db in wanted
            ])
            error = check.first_error(replies)
            if error is not None:
                try:
                    yield from self.delete(username)
                except exc.SoliDBError:  # pragma: no cover - the original error matters more
                    pass
                raise error
        return {
            "username": username,
            "created_at": created.get("created_at"),
            "roles": [f"{role}@{db}" if db else role for role, db in wanted],
        }

    def get_roles(self, username: str) -> Op[List[JSON]]:
        """The user's role assignments: ``{id, username, role, database, assigned_at, assigned_by}``."""
        data = (yield from self._data("get_user_roles", retry=True,
                                      username=_username(username))) or {}
        return [
            {
                "id": r.get("_key"),
                "username": r.get("username"),
                "role": r.get("role"),
                "database": r.get("database"),
                "assigned_at": r.get("assigned_at"),
                "assigned_by": r.get("assigned_by"),
            }
            for r in data.get("roles") or []
        ]

    def assign_role(
        self, username: str, role: str, database: Optional[str] = None
    ) -> Op[JSON]:
        """Give the user a role, everywhere or (``database=``) on one database only."""
        return dict((yield from self._data(
            "assign_role", username=_username(username), role=_role_name(role),
            database=None if database is None else check.text(database, "database"),
        )) or {})

    def revoke_role(self, username: str, role: str) -> Op[None]:
        """Take a role away from the user, on every database it was assigned for.

        NotFoundError when the user does not hold it. A new connection sees
        the change at once; an open driver session re-reads its rights every
        60 seconds. (The driver's ``revoke_role`` answers ok and removes
        nothing on solidb 2.6.0, so each assignment is deleted over HTTP.)
        """
        username, role = _username(username), _role_name(role)
        held = [a for a in (yield from self.get_roles(username)) if a["role"] == role]
        if not held:
            raise exc.NotFoundError(f"Role '{role}' not assigned to user '{username}'")
        for assignment in held:
            yield from self._http(
                "DELETE", http_path("_api", "auth", "users", username, "roles", role),
                query={"database": assignment["database"]},
            )

    def me(self) -> Op[JSON]:
        """The authenticated principal: ``{username, roles, permissions}``."""
        return dict((yield from self._http("GET", "/_api/auth/me")) or {})

    def my_permissions(self) -> Op[List[JSON]]:
        """The authenticated principal's effective permissions."""
        return [dict(p) for p in (yield from self._http("GET", "/_api/auth/me/permissions")) or []]

    def delete(self, username: str) -> Op[None]:
        """Delete a user and their role assignments (not ``admin``, not yourself)."""
        yield from self._http("DELETE", http_path("_api", "auth", "users", _username(username)))


def _unix_seconds(expiration: Union[str, int, float, _dt.datetime]) -> int:
    """An expiry as Unix seconds; naive datetimes and ISO 8601 strings without offset are UTC."""
    if isinstance(expiration, bool):
        raise exc.ValidationError(f"expiration must be a datetime or ISO 8601 string, got {expiration!r}")
    if isinstance(expiration, (int, float)):
        seconds = int(check.number(expiration, "expiration"))
    else:
        moment = expiration
        if isinstance(moment, str):
            try:
                moment = _dt.datetime.fromisoformat(moment.strip().replace("Z", "+00:00"))
            except ValueError as err:
                raise exc.ValidationError(
                    f"expiration {expiration!r} is not an ISO 8601 datetime"
                ) from err
        if not isinstance(moment, _dt.datetime):
            raise exc.ValidationError(
                f"expiration must be a datetime or ISO 8601 string, got {expiration!r}"
            )
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=_dt.UTC)
        seconds = int(moment.timestamp())
    if seconds <= int(_dt.datetime.now(_dt.UTC).timestamp()):
        raise exc.ValidationError(f"expiration {expiration!r} is not in the future")
    return seconds


def _api_key_view(doc: Mapping[str, Any]) -> JSON:
    """A key as stored, without its hash, with ``id`` and the ``databases`` it is limited to."""
    view = {k: v for k, v in doc.items() if k != "key_hash"}
    view["id"] = doc.get("_key")
    roles = [str(r) for r in doc.get("roles") or []]
    view["databases"] = sorted({r.split("@", 1)[1] for r in roles if "@" in r})
    return view


class ApiKeysOps(SubOps):
    """API keys: secrets that authenticate without a password (``Client.auth_with_api_key``)."""

    __facades__ = ("ApiKeysClient", "AsyncApiKeysClient")

    def create(
        self,
        name: str,
        databases: Optional[Sequence[str]] = None,
        expiration: Optional[Union[str, int, float, _dt.datetime]] = None,
        *,
        roles: Sequence[str] = ("admin",),
    ) -> Op[JSON]:
        """Create a key; the secret is in ``key`` and is never shown again.

        The key holds ``roles`` (``admin`` unless told otherwise), limited to
        ``databases`` when given (anywhere otherwise), until ``expiration``
        (a datetime, an ISO 8601 string or Unix seconds).
        """
        name = check.text(name, "name")
        role_names = [_role_name(r) for r in check.string_list(roles, "roles")]
        if not role_names:
            raise exc.ValidationError("an API key needs at least one role")
        permissions = role_names
        if databases is not None:
            dbs = check.string_list(databases, "databases")
            if not dbs:
                raise exc.ValidationError(
                    "databases is empty: pass None for a key valid on every database"
                )
            for db in dbs:
                if "@" in db:
                    raise exc.ValidationError(f"database name {db!r} cannot contain '@'")
            permissions = list(dict.fromkeys(f"{r}@{db}" for db in dbs for r in role_names))
        expires_at = None if expiration is None else _unix_seconds(expiration)
        created = yield from self._data("create_api_key", name=name, permissions=permissions,
                                        expires_at=expires_at)
        return _api_key_view(created or {})

    def list(self) -> Op[List[JSON]]:
        """Every key's metadata; never the secret (nor its hash, which the driver leaks)."""
        data = (yield from self._data("list_api_keys", retry=True)) or {}
        return [_api_key_view(k) for k in data.get("api_keys") or []]

    def delete(self, key_id: str) -> Op[None]:
        """Revoke a key: new connections with it are refused at once.

        A driver session opened with it before notices within 60 seconds.
        """
        yield from self._call("delete_api_key", key_id=check.text(key_id, "key_id"))


# --- generated by scripts/gen_facades.py: do not edit below this line ---


class RolesClient(SyncFacade[RolesOps]):
    """Custom roles: named sets of permissions, assigned to users and API keys."""

    def list(self) -> List[JSON]:
        """Every role, the built-in ``admin``, ``editor`` and ``viewer`` included."""
        return self._executor.run(self._ops.list())

    def create(
        self,
        name: str,
        permissions: Sequence[Permission],
        description: Optional[str] = None,
    ) -> JSON:
        """Create a role; returns it as stored.

        ``permissions`` are ``{action, scope, database?}`` objects (``read``,
        ``write`` or ``admin``; ``global`` or ``database`` scope).
        """
        return self._executor.run(self._ops.create(name, permissions, description))

    def get(self, name: str) -> JSON:
        """One role; NotFoundError when there is none."""
        return self._executor.run(self._ops.get(name))

    def update(
        self,
        name: str,
        permissions: Optional[Sequence[Permission]] = None,
        description: Optional[str] = None,
    ) -> JSON:
        """Replace a custom role's permissions and/or description; returns the role.

        Users and keys holding the role get the new rights on their next
        request over HTTP and on their next connection over the driver (an
        open driver session re-reads its rights every 60 seconds).
        """
        return self._executor.run(self._ops.update(name, permissions, description))

    def delete(self, name: str) -> None:
        """Delete a custom role (built-in roles cannot be deleted)."""
        return self._executor.run(self._ops.delete(name))


class AsyncRolesClient(AsyncFacade[RolesOps]):
    """Custom roles: named sets of permissions, assigned to users and API keys."""

    async def list(self) -> List[JSON]:
        """Every role, the built-in ``admin``, ``editor`` and ``viewer`` included."""
        return await self._executor.run(self._ops.list())

    async def create(
        self,
        name: str,
        permissions: Sequence[Permission],
        description: Optional[str] = None,
    ) -> JSON:
        """Create a role; returns it as stored.

        ``permissions`` are ``{action, scope, database?}`` objects (``read``,
        ``write`` or ``admin``; ``global`` or ``database`` scope).
        """
        return await self._executor.run(self._ops.create(name, permissions, description))

    async def get(self, name: str) -> JSON:
        """One role; NotFoundError when there is none."""
        return await self._executor.run(self._ops.get(name))

    async def update(
        self,
        name: str,
        permissions: Optional[Sequence[Permission]] = None,
        description: Optional[str] = None,
    ) -> JSON:
        """Replace a custom role's permissions and/or description; returns the role.

        Users and keys holding the role get the new rights on their next
        request over HTTP and on their next connection over the driver (an
        open driver session re-reads its rights every 60 seconds).
        """
        return await self._executor.run(self._ops.update(name, permissions, description))

    async def delete(self, name: str) -> None:
        """Delete a custom role (built-in roles cannot be deleted)."""
        return await self._executor.run(self._ops.delete(name))


class UsersClient(SyncFacade[UsersOps]):
    """User accounts and the roles they hold."""

    def list(self) -> List[JSON]:
        """Every user as ``{username, created_at, roles}``, roles as actually assigned."""
        return self._executor.run(self._ops.list())

    def create(self, username: str, password: str, roles: Optional[Sequence[str]] = None) -> JSON:
        """Create a user holding ``roles`` (``"editor"``, or ``"editor@mydb"`` for one database).

        The roles are assigned right after the account is created; if one
        cannot be (say it does not exist), the account is removed again and
        the error raised, so no half-made user stays behind.
        """
        return self._executor.run(self._ops.create(username, password, roles))

    def get_roles(self, username: str) -> List[JSON]:
        """The user's role assignments: ``{id, username, role, database, assigned_at, assigned_by}``."""
        return self._executor.run(self._ops.get_roles(username))

    def assign_role(self, username: str, role: str, database: Optional[str] = None) -> JSON:
        """Give the user a role, everywhere or (``database=``) on one database only."""
        return self._executor.run(self._ops.assign_role(username, role, database))

    def revoke_role(self, username: str, role: str) -> None:
        """Take a role away from the user, on every database it was assigned for.

        NotFoundError when the user does not hold it. A new connection sees
        the change at once; an open driver session re-reads its rights every
        60 seconds. (The driver's ``revoke_role`` answers ok and removes
        nothing on solidb 2.6.0, so each assignment is deleted over HTTP.)
        """
        return self._executor.run(self._ops.revoke_role(username, role))

    def me(self) -> JSON:
        """The authenticated principal: ``{username, roles, permissions}``."""
        return self._executor.run(self._ops.me())

    def my_permissions(self) -> List[JSON]:
        """The authenticated principal's effective permissions."""
        return self._executor.run(self._ops.my_permissions())

    def delete(self, username: str) -> None:
        """Delete a user and their role assignments (not ``admin``, not yourself)."""
        return self._executor.run(self._ops.delete(username))


class AsyncUsersClient(AsyncFacade[UsersOps]):
    """User accounts and the roles they hold."""

    async def list(self) -> List[JSON]:
        """Every user as ``{username, created_at, roles}``, roles as actually assigned."""
        return await self._executor.run(self._ops.list())

    async def create(
        self,
        username: str,
        password: str,
        roles: Optional[Sequence[str]] = None,
    ) -> JSON:
        """Create a user holding ``roles`` (``"editor"``, or ``"editor@mydb"`` for one database).

        The roles are assigned right after the account is created; if one
        cannot be (say it does not exist), the account is removed again and
        the error raised, so no half-made user stays behind.
        """
        return await self._executor.run(self._ops.create(username, password, roles))

    async def get_roles(self, username: str) -> List[JSON]:
        """The user's role assignments: ``{id, username, role, database, assigned_at, assigned_by}``."""
        return await self._executor.run(self._ops.get_roles(username))

    async def assign_role(self, username: str, role: str, database: Optional[str] = None) -> JSON:
        """Give the user a role, everywhere or (``database=``) on one database only."""
        return await self._executor.run(self._ops.assign_role(username, role, database))

    async def revoke_role(self, username: str, role: str) -> None:
        """Take a role away from the user, on every database it was assigned for.

        NotFoundError when the user does not hold it. A new connection sees
        the change at once; an open driver session re-reads its rights every
        60 seconds. (The driver's ``revoke_role`` answers ok and removes
        nothing on solidb 2.6.0, so each assignment is deleted over HTTP.)
        """
        return await self._executor.run(self._ops.revoke_role(username, role))

    async def me(self) -> JSON:
        """The authenticated principal: ``{username, roles, permissions}``."""
        return await self._executor.run(self._ops.me())

    async def my_permissions(self) -> List[JSON]:
        """The authenticated principal's effective permissions."""
        return await self._executor.run(self._ops.my_permissions())

    async def delete(self, username: str) -> None:
        """Delete a user and their role assignments (not ``admin``, not yourself)."""
        return await self._executor.run(self._ops.delete(username))


class ApiKeysClient(SyncFacade[ApiKeysOps]):
    """API keys: secrets that authenticate without a password (``Client.auth_with_api_key``)."""

    def create(
        self,
        name: str,
        databases: Optional[Sequence[str]] = None,
        expiration: Optional[Union[str, int, float, _dt.datetime]] = None,
        *,
        roles: Sequence[str] = ('admin',),
    ) -> JSON:
        """Create a key; the secret is in ``key`` and is never shown again.

        The key holds ``roles`` (``admin`` unless told otherwise), limited to
        ``databases`` when given (anywhere otherwise), until ``expiration``
        (a datetime, an ISO 8601 string or Unix seconds).
        """
        return self._executor.run(self._ops.create(name, databases, expiration, roles=roles))

    def list(self) -> List[JSON]:
        """Every key's metadata; never the secret (nor its hash, which the driver leaks)."""
        return self._executor.run(self._ops.list())

    def delete(self, key_id: str) -> None:
        """Revoke a key: new connections with it are refused at once.

        A driver session opened with it before notices within 60 seconds.
        """
        return self._executor.run(self._ops.delete(key_id))


class AsyncApiKeysClient(AsyncFacade[ApiKeysOps]):
    """API keys: secrets that authenticate without a password (``Client.auth_with_api_key``)."""

    async def create(
        self,
        name: str,
        databases: Optional[Sequence[str]] = None,
        expiration: Optional[Union[str, int, float, _dt.datetime]] = None,
        *,
        roles: Sequence[str] = ('admin',),
    ) -> JSON:
        """Create a key; the secret is in ``key`` and is never shown again.

        The key holds ``roles`` (``admin`` unless told otherwise), limited to
        ``databases`` when given (anywhere otherwise), until ``expiration``
        (a datetime, an ISO 8601 string or Unix seconds).
        """
        return await self._executor.run(self._ops.create(name, databases, expiration, roles=roles))

    async def list(self) -> List[JSON]:
        """Every key's metadata; never the secret (nor its hash, which the driver leaks)."""
        return await self._executor.run(self._ops.list())

    async def delete(self, key_id: str) -> None:
        """Revoke a key: new connections with it are refused at once.

        A driver session opened with it before notices within 60 seconds.
        """
        return await self._executor.run(self._ops.delete(key_id))
