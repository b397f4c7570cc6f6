"""Documents against the real server: CRUD, types, identity, sync.

Each test that talks to the server runs in both modes (``mode``: blocking
calls or their awaitable twins, see ``tests/modes.py``).
"""

from __future__ import annotations

import datetime as dt
import decimal
import uuid

import pytest

from solidb_odm import exceptions as exc
from solidb_odm.database import Database

from ..modes import Mode
from .models import Address, Animal, Color, Dog, Everything, Follows, Post, User


@pytest.fixture
def db(odm_db: Database) -> Database:
    odm_db.register(User, Follows, Post, Everything, Animal, Dog)
    odm_db.sync()
    return odm_db


async def test_sync_creates_collections_and_indexes(mode: Mode, odm_db: Database) -> None:
    db = odm_db.register(User, Follows, Post, Everything, Animal, Dog)
    await mode(db, "sync")
    names = set(db.collection_names())
    assert {"users", "follows", "posts", "everything", "animals"} <= names
    kinds = {c["name"]: c["type"] for c in db.client.list_collections(db.name)}
    assert kinds["follows"] == "edge"
    indexes = db.client.list_indexes(db.name, "users")
    assert any(i["name"] == "idx_users_email" and i.get("unique") for i in indexes)
    assert await mode(db, "sync") == {"collections": [], "indexes": [], "schemas": []}  # idempotent


async def test_save_insert_then_update_changed_fields_only(mode: Mode, db: Database) -> None:
    user = User(name="Alice", email="a@example.com", age=30)
    assert await mode(user, "save") is user
    # the server reports "db:users/k"; the model keeps the database out of its id
    assert user.key and user.id == f"users/{user.key}" and user.rev
    assert user.ref == f"users/{user.key}"
    first_rev = user.rev
    user.age = 31
    assert user.changed_fields() == {"age": 31}
    await mode(user, "save")
    assert user.rev != first_rev
    stored = db.client.get(db.name, "users", user.key)
    assert stored["age"] == 31 and stored["name"] == "Alice"
    assert user.changed_fields() == {}


def test_validation_on_construction_and_assignment(db: Database) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        User(name="x", email="e", age="not a number")
    user = User(name="x", email="e@x")
    with pytest.raises(ValidationError):
        user.age = "old"  # type: ignore[assignment]


async def test_insert_never_overwrites(mode: Mode, db: Database) -> None:
    await mode(User(name="A", email="1@x", key="same"), "insert")
    with pytest.raises(exc.AlreadyExistsError):
        await mode(User(name="B", email="2@x", key="same"), "insert")
    assert db.client.get(db.name, "users", "same")["name"] == "A"


async def test_unique_index_refuses_duplicates(mode: Mode, db: Database) -> None:
    await mode(User(name="A", email="dup@x"), "save")
    with pytest.raises(exc.UniqueViolationError):
        await mode(User(name="B", email="dup@x"), "save")


async def test_save_with_known_key_replaces(mode: Mode, db: Database) -> None:
    await mode(User(name="A", email="k@x", key="k1", age=5, tags=["t"]), "save")
    await mode(User(name="A2", email="k@x", key="k1"), "save")
    stored = db.client.get(db.name, "users", "k1")
    assert stored["name"] == "A2" and stored["age"] == 0 and stored["tags"] == []


async def test_partial_update_delete_refresh(mode: Mode, db: Database) -> None:
    user = await mode(User(name="Bob", email="b@x", age=20), "save")
    await mode(user, "update", age=21)
    assert db.client.get(db.name, "users", user.key)["age"] == 21
    db.client.update(db.name, "users", user.key, {"name": "Robert"})
    await mode(user, "refresh")
    assert user.name == "Robert" and user.age == 21
    await mode(user, "delete")
    with pytest.raises(exc.NotFoundError):
        db.client.get(db.name, "users", user.key)
    with pytest.raises(exc.ValidationError):
        await mode(User(name="x", email="y"), "update", age=1)


async def test_equality_by_collection_and_key(mode: Mode, db: Database) -> None:
    user = await mode(User(name="A", email="eq@x"), "save")
    again = await mode(User.objects, "get", key=user.key)
    assert again == user and again is not user
    assert hash(again) == hash(user)
    assert User(name="A", email="eq@x") != User(name="A", email="eq@x")


@pytest.mark.parametrize(
    "field,value",
    [
        ("when", dt.datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=dt.UTC)),
        ("when", dt.datetime(2024, 5, 6, 7, 8, 9, tzinfo=dt.timezone(dt.timedelta(hours=5, minutes=30)))),
        ("when", dt.datetime(2024, 5, 6, 7, 8, 9)),
        ("day", dt.date(1999, 12, 31)),
        ("color", Color.BLUE),
        ("ident", uuid.UUID("12345678-1234-5678-1234-567812345678")),
        ("amount", decimal.Decimal("1234567890.12345")),
        ("amount", decimal.Decimal("-0.000000000000001")),
        ("blob", bytes(range(256))),
        ("address", Address(city="Paris", zip="75001")),
        ("maybe", None),
        ("extra", {"nested": {"list": [1, 2.5, "x", None, True]}}),
    ],
)
async def test_types_round_trip_unchanged(mode: Mode, db: Database, field: str,
                                          value: object) -> None:
    doc = await mode(Everything(**{field: value}), "save")
    loaded = await mode(Everything.objects, "get", key=doc.key)
    if isinstance(value, dt.datetime):
        # stored in UTC (a naive datetime is taken as UTC): the same instant comes back,
        # in UTC, as Django does with USE_TZ
        expected = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        assert getattr(loaded, field) == expected
        assert getattr(loaded, field).utcoffset() == dt.timedelta(0)
        return
    assert getattr(loaded, field) == value
    assert type(getattr(loaded, field)) is type(value)


async def test_a_decimal_a_number_cannot_hold_is_refused(mode: Mode, db: Database) -> None:
    """More than 15 significant digits cannot be stored exactly as a number: refused, not rounded."""
    with pytest.raises(exc.ValidationError, match="significant digits"):
        await mode(Everything(amount=decimal.Decimal("12345678901234567890.000000001")), "save")
    assert await mode(Everything.objects, "count") == 0


async def test_query_by_typed_values(mode: Mode, db: Database) -> None:
    when = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    await mode(Everything(when=when, color=Color.RED, day=dt.date(2024, 1, 1)), "save")
    await mode(Everything(when=when + dt.timedelta(days=1), color=Color.BLUE), "save")
    assert await mode(Everything.objects.filter(when=when), "count") == 1
    assert await mode(Everything.objects.filter(when__gt=when), "count") == 1
    assert await mode(Everything.objects.filter(color=Color.BLUE), "count") == 1
    assert await mode(Everything.objects.filter(day=dt.date(2024, 1, 1)), "count") == 1


async def test_model_inheritance(mode: Mode, db: Database) -> None:
    assert Dog.collection_name() == "dog"
    assert set(Dog.model_fields) >= {"name", "good", "key"}
    rex = await mode(Dog(name="Rex", good=False), "save")
    assert (await mode(Dog.objects, "get", key=rex.key)).good is False
    assert await mode(Animal.objects, "count") == 0


async def test_edges_accept_documents(mode: Mode, db: Database) -> None:
    a = await mode(User(name="A", email="ea@x"), "save")
    b = await mode(User(name="B", email="eb@x"), "save")
    since = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    edge = await mode(Follows(from_=a, to=b, since=since), "save")
    stored = db.client.get(db.name, "follows", edge.key)
    assert stored["_from"] == a.ref and stored["_to"] == b.ref
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="must be saved"):
        Follows(from_=User(name="unsaved", email="u@x"), to=b, since=dt.datetime.now())


async def test_using_another_database(mode: Mode, db: Database, solidb_server,
                                      solidb_database: str) -> None:
    other_name = solidb_database + "_other"
    admin = solidb_server.client()
    admin.create_database(other_name)
    try:
        other = Database(solidb_server.client(other_name), other_name, owns_client=True)
        await mode(other.register(User), "sync")
        await mode(User(name="Elsewhere", email="o@x"), "save", using=other)
        assert await mode(User.objects.using(other), "count") == 1
        assert await mode(User.objects, "count") == 0
        await mode(other, "close")
    finally:
        admin.delete_database(other_name)
        admin.close()
