"""``QuerySet.trusted()`` against the real server: the same objects, without validation.

What it skips and keeps is documented in docs/performance.md; these tests pin
each promise made there.
"""

from __future__ import annotations

import datetime as dt
import decimal
from typing import List, Optional

import pytest
from pydantic import field_validator

from solidb_odm import Document
from solidb_odm.database import Database
from solidb_odm.models import _trusted_plan

from .models import Everything, Follows, Post, User


class Plain(Document):
    name: str
    count: int = 0
    ratio: float = 0.0
    tags: List[str] = []
    note: Optional[str] = None

    class Meta:
        collection = "plain"


class Shouty(Document):
    name: str

    @field_validator("name")
    @classmethod
    def _upper(cls, value: str) -> str:
        return value.upper()

    class Meta:
        collection = "shouty"


@pytest.fixture
def db(odm_db: Database) -> Database:
    odm_db.register(Plain, Shouty, User, Post, Everything, Follows)
    odm_db.sync()
    return odm_db


def test_trusted_objects_equal_validated_ones(db: Database) -> None:
    Plain.objects.bulk_create([Plain(name=f"p{i}", count=i, tags=["a"]) for i in range(100)])
    checked = list(Plain.objects.order_by("count"))
    trusted = list(Plain.objects.order_by("count").trusted())
    assert [o.model_dump() for o in trusted] == [o.model_dump() for o in checked]
    assert all(type(o) is Plain for o in trusted)
    first = trusted[0]
    assert first.id == f"plain/{first.key}"  # the ODM's id form, without the database
    assert first.is_persistent and first.rev


def test_changes_to_trusted_objects_are_tracked_and_saved(db: Database) -> None:
    Plain(name="x", tags=["a"]).save()
    obj = Plain.objects.trusted().get(name="x")
    obj.tags.append("b")  # in place: the stored list must not be shared with the snapshot
    assert obj.changed_fields() == {"tags": ["a", "b"]}
    obj.save()
    assert Plain.objects.get(name="x").tags == ["a", "b"]
    with db.session() as session:
        tracked = session.query(Plain).trusted().get(name="x")
        tracked.count = 7
    assert Plain.objects.get(name="x").count == 7


def test_a_float_field_still_loads_a_stored_integer_as_a_float(db: Database) -> None:
    db.client.insert(db.name, "plain", {"name": "f", "ratio": 2})
    (obj,) = Plain.objects.filter(name="f").trusted()
    assert obj.ratio == 2.0 and type(obj.ratio) is float


def test_a_missing_field_gets_its_default_through_validation(db: Database) -> None:
    db.client.insert(db.name, "plain", {"name": "bare"})
    (obj,) = Plain.objects.filter(name="bare").trusted()
    assert obj.count == 0 and obj.tags == [] and obj.note is None


def test_validators_are_skipped(db: Database) -> None:
    db.client.insert(db.name, "shouty", {"name": "quiet"})
    assert Shouty.objects.get(name="quiet").name == "QUIET"  # validated
    assert [o.name for o in Shouty.objects.filter(name="quiet").trusted()] == ["quiet"]


def test_models_that_need_pydantic_are_always_validated(db: Database) -> None:
    assert _trusted_plan(Everything) is None  # datetime, Decimal, UUID, enums, bytes, dicts
    assert _trusted_plan(User) is None  # a nested model, an Indexed marker
    assert _trusted_plan(Follows) is None  # datetime
    when = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    Everything(when=when, amount=decimal.Decimal("12.5")).save()
    (obj,) = Everything.objects.trusted()
    assert obj.when == when and obj.amount == decimal.Decimal("12.5")


def test_a_stored_value_of_the_wrong_type_is_kept_as_it_is(db: Database) -> None:
    # the documented risk: trusted() is for data this application wrote itself
    db.client.insert(db.name, "plain", {"name": "odd", "count": "3", "ratio": 0.0, "tags": [],
                                        "note": None})
    (validated,) = Plain.objects.filter(name="odd")
    (trusted,) = Plain.objects.filter(name="odd").trusted()
    assert validated.count == 3 and trusted.count == "3"  # type: ignore[comparison-overlap]
