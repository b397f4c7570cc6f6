"""``bulk_create`` against the real server: what the objects look like afterwards."""

from __future__ import annotations

import pytest

from solidb_odm import exceptions as exc
from solidb_odm.database import Database

from .models import Post, User


@pytest.fixture
def db(odm_db: Database) -> Database:
    odm_db.register(User, Post)
    odm_db.sync()
    return odm_db


def test_bulk_created_objects_look_like_loaded_ones(db: Database) -> None:
    made = Post.objects.bulk_create([Post(title=f"t{i}", views=i) for i in range(50)])
    loaded = {p.key: p for p in Post.objects.all()}
    assert len(loaded) == 50
    for obj in made:
        twin = loaded[obj.key]
        assert obj.id == twin.id == f"posts/{obj.key}"  # the ODM's id form, as loading gives
        assert obj.model_dump(exclude={"rev"}) == twin.model_dump(exclude={"rev"})
        assert obj.is_persistent and obj.rev is None  # the bulk command answers only a count
        assert obj.changed_fields() == {}


def test_changes_after_bulk_create_are_saved(db: Database) -> None:
    (user,) = User.objects.bulk_create([User(name="ann", email="ann@example.com", tags=["a"])])
    user.tags.append("b")
    user.age = 31
    assert user.changed_fields() == {"tags": ["a", "b"], "age": 31}
    user.save()
    assert User.objects.get(key=user.key).tags == ["a", "b"]


def test_bulk_create_is_all_or_nothing_per_frame(db: Database) -> None:
    User(name="a", email="a@example.com", key="taken").save()
    with pytest.raises(exc.SoliDBError):
        User.objects.bulk_create([User(name="b", email="b@example.com"),
                                  User(name="c", email="c@example.com", key="taken")])
    assert User.objects.count() == 1
