"""ODM writes to a collection with triggers: which fire, which warn, in both modes.

``Document.save/insert/update/delete`` and ``QuerySet.bulk_create`` go
through the client's document operations, so they are routed over HTTP and
fire. ``QuerySet.update()/delete()`` are SDBQL and a session commit is one
driver transaction: those warn (or, with strict routing, raise before writing).
"""

from __future__ import annotations

import warnings
from typing import Iterator

import pytest

from solidb_odm import Document
from solidb_odm.client.triggered import TriggersNotFiredError, TriggersNotFiredWarning
from solidb_odm.database import Database

from ..modes import Mode
from .conftest import NOOP, fired


class Member(Document):
    class Meta:
        collection = "members"

    name: str
    age: int = 0


@pytest.fixture
def db(odm_db: Database) -> Iterator[Database]:
    odm_db.register(Member)
    odm_db.sync()
    client = odm_db.client.use_database(odm_db.name)
    client.scripts.create(name="noop", path="scripts/noop", methods=["POST"], code=NOOP)
    client.triggers.create(name="on_members", collection="members",
                           operation=["insert", "update", "delete"], script_path="scripts/noop")
    yield odm_db


def members_fired(db: Database) -> list[tuple[str, str]]:
    return fired(db.client, db.name, "members")


async def test_save_update_and_delete_fire(mode: Mode, db: Database) -> None:
    ada = Member(name="Ada", key="ada")
    await mode(ada, "save")                      # insert
    ada.age = 36
    await mode(ada, "save")                      # changed fields
    await mode(ada, "update", age=37)            # partial update
    await mode(Member(name="Bob", key="bob"), "insert")
    await mode(Member(name="Ada again", key="ada"), "save")  # existing key, never loaded: replace
    stored = await mode(Member.objects, "get", key="ada")
    assert (stored.name, stored.age) == ("Ada again", 0)
    await mode(stored, "delete")
    assert members_fired(db) == [("delete", "ada"), ("insert", "ada"), ("insert", "bob"),
                                 ("update", "ada"), ("update", "ada"), ("update", "ada")]


async def test_bulk_create_fires_for_each_document(mode: Mode, db: Database) -> None:
    await mode(Member.objects, "bulk_create", [Member(name=n, key=n) for n in ("a", "b", "c")])
    assert members_fired(db) == [("insert", "a"), ("insert", "b"), ("insert", "c")]


async def test_queryset_update_and_delete_are_sdbql_and_warn(mode: Mode, db: Database) -> None:
    await mode(Member(name="a", key="a"), "save")
    with pytest.warns(TriggersNotFiredWarning, match="SDBQL write to collection 'members'"):
        assert await mode(Member.objects.filter(name="a"), "update", age=5) == 1
    with pytest.warns(TriggersNotFiredWarning):
        assert await mode(Member.objects.all(), "delete") == 1
    assert members_fired(db) == [("insert", "a")]


async def test_session_commit_is_one_transaction_and_warns(mode: Mode, db: Database) -> None:
    await mode(Member(name="old", key="old"), "save")
    with pytest.warns(TriggersNotFiredWarning, match=r"transaction to collection 'members'.*"
                                                     r"'on_members'"):
        async with mode.session(db) as session:
            session.add(Member(name="new", key="new"))
            old = await mode(session, "get", Member, "old")
            old.age = 9
    assert sorted(m.key for m in await mode.list(Member.objects.all())) == ["new", "old"]
    assert members_fired(db) == [("insert", "old")]


async def test_strict_routing_makes_the_session_commit_fail_whole(mode: Mode, db: Database) -> None:
    db.client.triggers.routing(strict=True)
    await mode(Member(name="old", key="old"), "save")
    with pytest.raises(TriggersNotFiredError):
        async with mode.session(db) as session:
            session.add(Member(name="new", key="new"))
            old = await mode(session, "get", Member, "old")
            old.age = 9
    assert [(m.key, m.age) for m in await mode.list(Member.objects.all())] == [("old", 0)]


async def test_reads_never_warn(mode: Mode, db: Database) -> None:
    await mode(Member(name="a", key="a"), "save")
    with warnings.catch_warnings():
        warnings.simplefilter("error", TriggersNotFiredWarning)
        assert await mode(Member.objects.filter(name="a"), "count") == 1
        async with mode.session(db) as session:
            await mode(session, "get", Member, "a")
