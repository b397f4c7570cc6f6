"""client.roles, client.users and client.api_keys: rights that take effect.

Every test checks what a principal can really do on a fresh connection to the
real server, not only what the management calls answer. Wrong passwords are
only ever tried for throw-away users (the server rate-limits failed logins per
address and username).
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from typing import Callable, Iterator

import pytest

from solidb_odm import Client
from solidb_odm import exceptions as exc
from solidb_odm.testing import SoliDBServer

PASSWORD = "correct-horse-battery"


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


@pytest.fixture
def admin(solidb_client: Client, solidb_database: str) -> Client:
    """The admin client, with a collection ``docs`` holding one document ``a``."""
    solidb_client.create_collection(solidb_database, "docs")
    solidb_client.insert(solidb_database, "docs", {"n": 1}, key="a")
    return solidb_client


@pytest.fixture
def reader_role(admin: Client, solidb_database: str) -> Iterator[str]:
    """A custom role that may read the test database and nothing else."""
    name = unique("reader")
    admin.roles.create(name, [{"action": "read", "scope": "database",
                               "database": solidb_database}], description="reads the test db")
    yield name
    admin.roles.delete(name)


#: ``connect(database, username, password)`` and ``key_connect(database, key)``
Connect = Callable[[str, str, str], Client]
KeyConnect = Callable[[str, str], Client]


@pytest.fixture
def connect(solidb_server: SoliDBServer, new_client: Callable[..., Client]) -> Connect:
    """``connect(database, username, password)``: a new client of the test's mode."""

    def open_as(database: str, username: str, password: str) -> Client:
        """A brand-new connection, so the server evaluates the rights afresh."""
        client = new_client(solidb_server.host, solidb_server.port)
        try:
            client.auth(database, username, password)
        except BaseException:
            client.close()
            raise
        return client

    return open_as


@pytest.fixture
def key_connect(solidb_server: SoliDBServer, new_client: Callable[..., Client]) -> KeyConnect:
    """``key_connect(database, key)``: a new client of the test's mode, with an API key."""

    def open_with(database: str, key: str) -> Client:
        """A brand-new connection authenticated with an API key."""
        client = new_client(solidb_server.host, solidb_server.port)
        try:
            client.auth_with_api_key(database, key)
        except BaseException:
            client.close()
            raise
        return client

    return open_with


def count(admin: Client, database: str) -> int:
    return len(admin.query(database, "FOR d IN docs RETURN d._key"))


# ---------------------------------------------------------------------------
# Roles and users
# ---------------------------------------------------------------------------


def test_read_only_role_reads_is_refused_writes_and_loses_the_right_on_revoke(
    connect: Connect, admin: Client, solidb_database: str, reader_role: str
) -> None:
    db = solidb_database
    user = unique("ro")
    created = admin.users.create(user, PASSWORD, roles=[reader_role])
    assert created["roles"] == [reader_role]
    try:
        with connect(db, user, PASSWORD) as client:
            assert client.get(db, "docs", "a")["n"] == 1
            assert [d["_key"] for d in client.query(db, "FOR d IN docs RETURN d")] == ["a"]
            with pytest.raises(exc.PermissionDeniedError):
                client.insert(db, "docs", {"n": 2})
            with pytest.raises(exc.PermissionDeniedError):
                client.update(db, "docs", "a", {"n": 3})
            with pytest.raises(exc.PermissionDeniedError):
                client.delete(db, "docs", "a")
        assert count(admin, db) == 1
        assert admin.get(db, "docs", "a")["n"] == 1

        admin.users.revoke_role(user, reader_role)
        assert admin.users.get_roles(user) == []
        with pytest.raises(exc.NotFoundError):
            admin.users.revoke_role(user, reader_role)
        # A new connection is checked at once (an open session within 60 s).
        with pytest.raises(exc.PermissionDeniedError):
            connect(db, user, PASSWORD).close()
    finally:
        admin.users.delete(user)


def test_a_database_limited_role_does_not_reach_other_databases(
    connect: Connect, admin: Client, solidb_database: str, reader_role: str
) -> None:
    user = unique("scoped")
    admin.users.create(user, PASSWORD, roles=[reader_role])
    try:
        with pytest.raises(exc.PermissionDeniedError):
            connect("_system", user, PASSWORD).close()
    finally:
        admin.users.delete(user)


def test_roles_round_trip_and_an_update_changes_what_holders_may_do(
    connect: Connect, admin: Client, solidb_database: str, reader_role: str
) -> None:
    db = solidb_database
    role = admin.roles.get(reader_role)
    assert role == {
        "name": reader_role,
        "description": "reads the test db",
        "permissions": [{"action": "read", "scope": "database", "database": db}],
        "is_builtin": False,
        "created_at": role["created_at"],
        "updated_at": role["updated_at"],
    }
    listed = {r["name"]: r for r in admin.roles.list()}
    assert listed[reader_role] == role
    assert {"admin", "editor", "viewer"} <= set(listed)
    assert listed["viewer"]["is_builtin"] is True

    user = unique("promoted")
    admin.users.create(user, PASSWORD, roles=[reader_role])
    try:
        updated = admin.roles.update(reader_role, permissions=[
            {"action": "read", "scope": "database", "database": db},
            {"action": "write", "scope": "database", "database": db},
        ])
        assert [p["action"] for p in updated["permissions"]] == ["read", "write"]
        assert admin.roles.get(reader_role)["permissions"] == updated["permissions"]
        with connect(db, user, PASSWORD) as client:
            client.insert(db, "docs", {"n": 2}, key="b")
        assert admin.get(db, "docs", "b")["n"] == 2

        admin.roles.update(reader_role, description="now also writes")
        assert admin.roles.get(reader_role)["description"] == "now also writes"
    finally:
        admin.users.delete(user)


def test_a_deleted_role_is_gone(admin: Client) -> None:
    name = unique("temp")
    admin.roles.create(name, ["read"])  # the server's short form works too
    assert admin.roles.get(name)["permissions"] == [{"action": "read", "scope": "global"}]
    with pytest.raises(exc.AlreadyExistsError):
        admin.roles.create(name, ["read"])
    admin.roles.delete(name)
    with pytest.raises(exc.NotFoundError):
        admin.roles.get(name)
    assert name not in {r["name"] for r in admin.roles.list()}


def test_builtin_roles_cannot_be_changed_or_deleted(admin: Client) -> None:
    with pytest.raises(exc.PermissionDeniedError):
        admin.roles.update("viewer", permissions=[{"action": "admin", "scope": "global"}])
    with pytest.raises(exc.PermissionDeniedError):
        admin.roles.delete("editor")
    assert admin.roles.get("viewer")["permissions"] == [{"action": "read", "scope": "global"}]


def test_permissions_the_server_cannot_express_are_refused_not_widened(admin: Client) -> None:
    with pytest.raises(exc.UnsupportedError, match=r"solidb 2\.6\.0"):
        admin.roles.create(unique("r"), [{"action": "write", "scope": "collection",
                                          "database": "mydb", "collection": "articles"}])
    with pytest.raises(exc.UnsupportedError, match=r"solidb 2\.6\.0"):
        admin.roles.create(unique("r"), [{"action": "execute", "scope": "script",
                                          "database": "mydb"}])
    with pytest.raises(exc.ValidationError):
        admin.roles.create(unique("r"), [{"action": "fly", "scope": "global"}])
    with pytest.raises(exc.ValidationError):
        admin.roles.create(unique("r"), [{"action": "read", "scope": "database"}])
    with pytest.raises(exc.ValidationError, match="reserves"):
        admin.roles.create("editor_team", [{"action": "read", "scope": "global"}])
    with pytest.raises(exc.ValidationError):
        admin.roles.update(unique("r"))


def test_user_created_with_roles_lists_them_and_assignments_can_be_limited(
    connect: Connect, admin: Client, solidb_database: str
) -> None:
    db = solidb_database
    user = unique("multi")
    admin.users.create(user, PASSWORD, roles=["viewer", f"editor@{db}"])
    try:
        listed = {u["username"]: u for u in admin.users.list()}
        assert sorted(listed[user]["roles"]) == ["editor", "viewer"]
        assignments = {(a["role"], a["database"]) for a in admin.users.get_roles(user)}
        assert assignments == {("viewer", None), ("editor", db)}
        with connect(db, user, PASSWORD) as client:
            client.insert(db, "docs", {"n": 5}, key="by_editor")  # editor on this db
        with connect("_system", user, PASSWORD) as client:
            assert "_system" in client.list_databases()  # viewer everywhere
            with pytest.raises(exc.PermissionDeniedError):
                client.create_collection("_system", unique("nope"))

        admin.users.revoke_role(user, "editor")
        with connect(db, user, PASSWORD) as client:
            with pytest.raises(exc.PermissionDeniedError):
                client.insert(db, "docs", {"n": 6})
        admin.users.assign_role(user, "admin", database=db)
        with connect(db, user, PASSWORD) as client:
            client.insert(db, "docs", {"n": 7}, key="by_db_admin")
    finally:
        admin.users.delete(user)


def test_a_failed_role_assignment_leaves_no_user_behind(admin: Client) -> None:
    user = unique("half")
    with pytest.raises(exc.NotFoundError):
        admin.users.create(user, PASSWORD, roles=["viewer", unique("no_such_role")])
    assert user not in {u["username"] for u in admin.users.list()}


def test_me_and_my_permissions_describe_the_connected_user(
    solidb_server: SoliDBServer, connect: Connect, admin: Client, solidb_database: str,
    reader_role: str,
) -> None:
    user = unique("self")
    admin.users.create(user, PASSWORD, roles=[reader_role])
    try:
        with connect(solidb_database, user, PASSWORD) as client:
            me = client.users.me()
            assert me["username"] == user
            assert me["roles"] == [reader_role]
            assert client.users.my_permissions() == [
                {"action": "read", "scope": "database", "database": solidb_database}
            ]
            # Managing users needs global admin.
            with pytest.raises(exc.PermissionDeniedError):
                client.users.list()
        assert admin.users.me()["username"] == solidb_server.username
    finally:
        admin.users.delete(user)


def test_deleting_a_user_removes_the_login_and_its_roles(
    connect: Connect, admin: Client, solidb_database: str, reader_role: str
) -> None:
    user = unique("gone")
    admin.users.create(user, PASSWORD, roles=[reader_role])
    admin.users.delete(user)
    assert user not in {u["username"] for u in admin.users.list()}
    with pytest.raises(exc.AuthenticationError):
        connect(solidb_database, user, PASSWORD).close()
    # A new user of the same name does not inherit the old assignments.
    admin.users.create(user, PASSWORD)
    try:
        assert admin.users.get_roles(user) == []
        with pytest.raises(exc.PermissionDeniedError):
            connect(solidb_database, user, PASSWORD).close()
    finally:
        admin.users.delete(user)


def test_a_username_is_taken_once(admin: Client) -> None:
    user = unique("twice")
    admin.users.create(user, PASSWORD)
    try:
        with pytest.raises(exc.AlreadyExistsError):
            admin.users.create(user, PASSWORD + "-other")
    finally:
        admin.users.delete(user)


def test_user_input_is_checked_before_it_is_sent(admin: Client) -> None:
    with pytest.raises(exc.ValidationError, match="12"):
        admin.users.create(unique("short"), "short")
    with pytest.raises(exc.ValidationError):
        admin.users.create("a:b", PASSWORD)
    with pytest.raises(exc.ValidationError):
        admin.users.create("", PASSWORD)


# ---------------------------------------------------------------------------
# API keys
# ---------------------------------------------------------------------------


def test_an_api_key_authenticates_a_new_connection_until_it_is_deleted(
    key_connect: KeyConnect, admin: Client, solidb_database: str
) -> None:
    db = solidb_database
    created = admin.api_keys.create(unique("ci"), databases=[db])
    secret = created["key"]
    assert secret.startswith("sk_")
    assert created["databases"] == [db]

    with key_connect(db, secret) as client:
        assert client.get(db, "docs", "a")["n"] == 1
        client.insert(db, "docs", {"n": 2}, key="via_key")
    assert admin.get(db, "docs", "via_key")["n"] == 2

    # Limited to its database.
    with pytest.raises(exc.PermissionDeniedError):
        key_connect("_system", secret).close()

    listed = {k["id"]: k for k in admin.api_keys.list()}
    assert listed[created["id"]]["name"] == created["name"]
    assert "key" not in listed[created["id"]] and "key_hash" not in listed[created["id"]]

    admin.api_keys.delete(created["id"])
    assert created["id"] not in {k["id"] for k in admin.api_keys.list()}
    with pytest.raises(exc.AuthenticationError):
        key_connect(db, secret).close()


def test_an_api_key_with_a_read_only_role_cannot_write(
    key_connect: KeyConnect, admin: Client, solidb_database: str
) -> None:
    db = solidb_database
    created = admin.api_keys.create(unique("ro"), databases=[db], roles=["viewer"])
    try:
        with key_connect(db, created["key"]) as client:
            assert client.get(db, "docs", "a")["n"] == 1
            with pytest.raises(exc.PermissionDeniedError):
                client.insert(db, "docs", {"n": 2})
    finally:
        admin.api_keys.delete(created["id"])


def test_an_api_key_stops_working_when_it_expires(
    key_connect: KeyConnect, admin: Client, solidb_database: str
) -> None:
    expires = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=3)
    created = admin.api_keys.create(unique("short"), databases=[solidb_database],
                                    expiration=expires.isoformat())
    try:
        assert created["expires_at"]
        key_connect(solidb_database, created["key"]).close()
        time.sleep(4.5)
        with pytest.raises(exc.AuthenticationError, match="expired"):
            key_connect(solidb_database, created["key"]).close()
    finally:
        admin.api_keys.delete(created["id"])


def test_api_key_input_is_checked(admin: Client) -> None:
    with pytest.raises(exc.ValidationError, match="future"):
        admin.api_keys.create(unique("old"), expiration="2001-01-01T00:00:00Z")
    with pytest.raises(exc.ValidationError):
        admin.api_keys.create(unique("none"), roles=[])
    with pytest.raises(exc.ValidationError):
        admin.api_keys.create(unique("empty"), databases=[])
