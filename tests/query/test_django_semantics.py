"""Every idiom of the issue "Django semantics, and no silent wrong answers", on a small blog.

A Django user's habits either mean here what they mean in Django, or are
refused with a typed error naming the field. Each test runs in both modes
against the real server (``mode``, see ``tests/modes.py``).
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import functools
import json
import uuid
from typing import Annotated, List, Optional

import pytest
from pydantic import BaseModel, Field

from solidb_odm import Avg, Count, Document, Edge, Indexed, Max, Min, Reference, Stored, Sum
from solidb_odm import exceptions as exc
from solidb_odm.database import Database
from solidb_odm.session import atomic
from solidb_odm.testing import assert_num_queries

from ..modes import Mode

UTC = dt.UTC
PLUS_ONE = dt.timezone(dt.timedelta(hours=1))


class Status(enum.Enum):
    draft = "draft"
    published = "published"


class Profile(BaseModel):
    city: Optional[str] = None
    langs: List[str] = []


class BlogUser(Document):
    username: Annotated[str, Indexed(unique=True)]
    age: Optional[int] = None
    birthday: Optional[dt.date] = None
    balance: decimal.Decimal = Field(default=decimal.Decimal("0"), max_digits=12, decimal_places=2)
    uid: uuid.UUID = Field(default_factory=uuid.uuid4)
    profile: Profile = Profile()

    class Meta:
        collection = "blog_users"


class BlogPost(Document):
    title: str
    author: Annotated[Optional[str], Reference("BlogUser")] = None
    published_at: Optional[dt.datetime] = None
    status: Status = Status.draft
    tags: List[str] = []

    class Meta:
        collection = "blog_posts"
        get_latest_by = "published_at"


class BlogComment(Document):
    body: str
    post: Annotated[Optional[str], Reference("BlogPost")] = None
    author: Annotated[Optional[str], Reference(BlogUser, related_name="comments")] = None

    class Meta:
        collection = "blog_comments"


class BlogFollows(Edge):
    class Meta:
        collection = "blog_follows"


@pytest.fixture
def blog(odm_db: Database) -> dict:
    odm_db.register(BlogUser, BlogPost, BlogComment, BlogFollows)
    odm_db.sync()
    alice = BlogUser(username="alice", age=31, birthday=dt.date(1993, 4, 2),
                     balance=decimal.Decimal("5.00"), profile=Profile(city="Oslo")).save()
    bob = BlogUser(username="bob", age=25, birthday=dt.date(1999, 1, 9),
                   balance=decimal.Decimal("10.50")).save()
    cleo = BlogUser(username="cleo", balance=decimal.Decimal("0.10")).save()
    # 10:00 at +01:00 is 09:00 UTC, a Wednesday in the second quarter
    first = BlogPost(title="first", author=alice, status=Status.published, tags=["a"],
                     published_at=dt.datetime(2024, 5, 1, 10, 0, tzinfo=PLUS_ONE)).save()
    second = BlogPost(title="second", author=bob, tags=["a", "b"],
                      published_at=dt.datetime(2023, 12, 31, 23, 30, tzinfo=UTC)).save()
    third = BlogPost(title="third", author=alice,
                     published_at=dt.datetime(2025, 2, 3, 4, 5, 6, tzinfo=UTC)).save()
    BlogPost(title="orphan").save()
    BlogComment(body="nice", post=first, author=bob).save()
    BlogComment(body="thanks", post=first, author=alice).save()
    BlogFollows(from_=alice, to=bob).save()
    return {"db": odm_db, "alice": alice, "bob": bob, "cleo": cleo,
            "first": first, "second": second, "third": third}


async def titles(mode: Mode, qs: object) -> List[str]:
    return sorted(p.title for p in await mode.list(qs))


# -- unknown names ---------------------------------------------------------------------


async def test_unknown_names_raise_field_error_with_suggestions(mode: Mode, blog: dict) -> None:
    users = BlogUser.objects
    with pytest.raises(exc.FieldError, match="did you mean 'username'"):
        users.filter(usernme="alice")
    with pytest.raises(exc.FieldError, match="nosuchfield"):
        users.filter(nosuchfield__gt=1)
    with pytest.raises(exc.FieldError):
        users.exclude(nosuchfield=1)
    with pytest.raises(exc.FieldError):
        await mode.list(users.order_by("nosuchfield"))
    with pytest.raises(exc.FieldError):
        users.values("nosuchfield")
    with pytest.raises(exc.FieldError):
        users.values_list("nosuchfield")
    with pytest.raises(exc.FieldError):
        users.only("nosuchfield")
    with pytest.raises(exc.FieldError):
        await mode(users, "update", nosuchfield=1)
    with pytest.raises(exc.FieldError):
        await mode(users, "aggregate", Sum("nosuchfield"))
    with pytest.raises(exc.FieldError):
        await mode(users.values("username"), "annotate", n=Max("nosuchfield"))
    with pytest.raises(exc.FieldError, match="profile"):
        users.filter(profile__nosuch="x")
    # nothing was written by the refused update
    assert "nosuchfield" not in blog["db"].client.get(blog["db"].name, "blog_users",
                                                      blog["alice"].key)


async def test_undeclared_fields_through_the_escape_hatch(mode: Mode, blog: dict) -> None:
    db = blog["db"]
    db.client.update(db.name, "blog_users", blog["bob"].key, {"legacy": 7})
    found = await mode.list(BlogUser.objects.filter(Stored("legacy") == 7))
    assert [u.username for u in found] == ["bob"]
    ordered = await mode.list(BlogUser.objects.order_by(Stored("legacy").desc(), "username"))
    assert ordered[0].username == "bob"


async def test_an_unknown_lookup_lists_the_valid_ones(mode: Mode, blog: dict) -> None:
    with pytest.raises(exc.ValidationError, match=r"its lookups: .*gte"):
        BlogUser.objects.filter(age__bigger=3)
    with pytest.raises(exc.FieldError, match=r"does not apply to BlogUser\.age"):
        BlogUser.objects.filter(age__icontains="3")
    with pytest.raises(exc.FieldError, match="year"):
        BlogUser.objects.filter(username__year=2024)
    # through a Reference: the message says which model the name was looked up in
    with pytest.raises(exc.FieldError, match=r"reached through the Reference BlogPost\.author"):
        BlogPost.objects.filter(author__nosuch=1)


# -- values prepared by their field -------------------------------------------------------


async def test_values_are_prepared_by_their_field(mode: Mode, blog: dict) -> None:
    with pytest.raises(exc.ValidationError, match=r"BlogUser\.age"):
        BlogUser.objects.filter(age="abc")
    with pytest.raises(exc.ValidationError, match=r"BlogUser\.birthday"):
        BlogUser.objects.filter(birthday__lt="soon")
    assert await mode(BlogUser.objects.filter(age__gt="30"), "count") == 1
    assert await mode(BlogUser.objects.filter(age__in=["25", 31]), "count") == 2
    assert await mode(BlogUser.objects.filter(birthday__lt="1995-01-01"), "count") == 1
    assert await mode(BlogUser.objects.filter(uid=str(blog["alice"].uid)), "count") == 1
    assert await mode(BlogPost.objects.filter(status="published"), "count") == 1
    assert await mode(BlogPost.objects.filter(status=Status.draft), "count") == 3
    with pytest.raises(exc.ValidationError, match=r"BlogPost\.status"):
        BlogPost.objects.filter(status="deleted")
    assert await mode(BlogPost.objects.filter(tags__contains="b"), "count") == 1
    with pytest.raises(exc.ValidationError, match="range"):
        BlogUser.objects.filter(age__range=(1,))


# -- Decimal and datetime order -------------------------------------------------------------


async def test_decimals_compare_and_sum_as_numbers(mode: Mode, blog: dict) -> None:
    rich = await mode.list(BlogUser.objects.filter(balance__gt=decimal.Decimal("1")))
    assert sorted(u.username for u in rich) == ["alice", "bob"]  # 5.00 > 1 although "5" > "1"
    assert [u.username for u in await mode.list(BlogUser.objects.filter(balance__gt=10))] == ["bob"]
    totals = await mode(BlogUser.objects, "aggregate", Sum("balance"), Avg("balance"),
                        Min("balance"), Max("balance"))
    assert totals == {"balance__sum": decimal.Decimal("15.60"),
                      "balance__avg": decimal.Decimal("5.20"),
                      "balance__min": decimal.Decimal("0.10"),
                      "balance__max": decimal.Decimal("10.50")}
    assert isinstance(totals["balance__sum"], decimal.Decimal)
    # an exact sum where doubles would not be: 0.10 + 0.20 + ...
    many = [BlogUser(username=f"cent{i}", balance=decimal.Decimal("0.10")) for i in range(30)]
    await mode(BlogUser.objects, "bulk_create", many)
    total = await mode(BlogUser.objects.filter(username__startswith="cent"), "aggregate",
                       Sum("balance"))
    assert total["balance__sum"] == decimal.Decimal("3.00")
    loaded = await mode(BlogUser.objects, "get", username="alice")
    assert loaded.balance == decimal.Decimal("5.00") and str(loaded.balance) == "5.00"
    ordered = await mode.list(BlogUser.objects.filter(username__in=["alice", "bob", "cleo"])
                              .order_by("-balance"))
    assert [u.username for u in ordered] == ["bob", "alice", "cleo"]
    # values() and annotate() groups come back in the field's type, as in Django
    rows = await mode.list(BlogUser.objects.filter(username="bob").values("balance", "birthday"))
    assert rows == [{"balance": decimal.Decimal("10.50"), "birthday": dt.date(1999, 1, 9)}]
    groups = await mode(BlogUser.objects.filter(username__in=["alice", "bob"]).values("balance"),
                        "annotate", n=Count())
    assert groups == [{"balance": decimal.Decimal("5.00"), "n": 1},
                      {"balance": decimal.Decimal("10.50"), "n": 1}]


async def test_datetimes_compare_as_instants(mode: Mode, blog: dict) -> None:
    posts = BlogPost.objects
    instant = dt.datetime(2024, 5, 1, 10, 0, tzinfo=PLUS_ONE)
    assert await titles(mode, posts.filter(published_at__gte=instant)) == ["first", "third"]
    assert await titles(mode, posts.filter(published_at=instant.astimezone(UTC))) == ["first"]
    assert await titles(mode, posts.filter(published_at__lt="2024-05-01T09:00:00Z")) == ["second"]
    ordered = await mode.list(posts.filter(published_at__isnull=False).order_by("published_at"))
    assert [p.title for p in ordered] == ["second", "first", "third"]
    loaded = await mode(posts, "get", title="first")
    assert loaded.published_at == instant and loaded.published_at.utcoffset() == dt.timedelta(0)
    assert (await mode(posts, "aggregate", Max("published_at")))["published_at__max"] == \
        dt.datetime(2025, 2, 3, 4, 5, 6, tzinfo=UTC)


async def test_date_transforms(mode: Mode, blog: dict) -> None:
    posts = BlogPost.objects
    cases = {
        "published_at__year": (2024, ["first"]),
        "published_at__year__gte": (2024, ["first", "third"]),
        "published_at__year__lt": (2024, ["second"]),
        "published_at__year__in": ([2023, 2025], ["second", "third"]),
        "published_at__year__range": ((2024, 2025), ["first", "third"]),
        "published_at__month": (5, ["first"]),
        "published_at__month__gt": (4, ["first", "second"]),
        "published_at__day": (31, ["second"]),
        "published_at__week_day": (4, ["first"]),  # 1 is Sunday: 2024-05-01 is a Wednesday
        "published_at__quarter": (2, ["first"]),
        "published_at__quarter__in": ([1, 4], ["second", "third"]),
        "published_at__hour": (9, ["first"]),  # 10:00 at +01:00 is 09:00 UTC
        "published_at__minute__gte": (5, ["second", "third"]),
        "published_at__date": (dt.date(2024, 5, 1), ["first"]),
        "published_at__date__lt": ("2024-05-01", ["second"]),
        "published_at__time": (dt.time(9, 0), ["first"]),
        "published_at__time__gt": (dt.time(12, 0), ["second"]),
    }
    for lookup, (value, expected) in cases.items():
        assert await titles(mode, posts.filter(**{lookup: value})) == expected, lookup
    users = BlogUser.objects
    assert [u.username for u in await mode.list(users.filter(birthday__year=1999))] == ["bob"]
    assert [u.username for u in await mode.list(users.filter(birthday__month=4))] == ["alice"]
    # year and date compare a range of the field itself: an index on it serves them
    assert "SUBSTRING" not in posts.filter(published_at__year=2024).sdbql
    assert "SUBSTRING" not in posts.filter(published_at__date=dt.date(2024, 5, 1)).sdbql
    # the orphan (no date) never matches, and stays in exclude()
    assert "orphan" in await titles(mode, posts.exclude(published_at__year=2024))
    with pytest.raises(exc.ValidationError, match="published_at__year"):
        posts.filter(published_at__year="soon")


# -- relations -----------------------------------------------------------------------------


async def test_every_spelling_of_a_reference_means_the_same(mode: Mode, blog: dict) -> None:
    alice, bob = blog["alice"], blog["bob"]
    posts = BlogPost.objects
    for spelling in (alice, alice.id, alice.key, alice.ref, f"{blog['db'].name}:{alice.ref}"):
        assert await titles(mode, posts.filter(author=spelling)) == ["first", "third"], spelling
    assert await titles(mode, posts.filter(author__in=[bob, alice.key])) == [
        "first", "second", "third"]
    assert "orphan" in await titles(mode, posts.exclude(author=alice))
    follows = BlogFollows.objects
    for spelling in (alice, alice.id, alice.ref):
        assert await mode(follows.filter(from_=spelling), "count") == 1
    assert await mode(follows.filter(to=bob), "count") == 1
    with pytest.raises(exc.ValidationError, match="refers to BlogUser"):
        posts.filter(author=blog["first"])
    with pytest.raises(exc.ValidationError, match="saved"):
        posts.filter(author=BlogUser(username="ghost"))
    with pytest.raises(exc.ValidationError, match="id"):
        follows.filter(from_=alice.key)  # an edge end may point anywhere: a key alone is unclear


async def test_lookups_span_references_in_one_statement(mode: Mode, blog: dict) -> None:
    posts = BlogPost.objects
    with assert_num_queries(1):
        assert await titles(mode, posts.filter(author__username="alice")) == ["first", "third"]
    with assert_num_queries(1):
        assert await titles(mode, posts.filter(author__age__gt=30)) == ["first", "third"]
    assert await titles(mode, posts.filter(author__profile__city="Oslo")) == ["first", "third"]
    comments = BlogComment.objects.filter(post__author__username="alice")
    assert sorted(c.body for c in await mode.list(comments)) == ["nice", "thanks"]
    assert await titles(mode, posts.exclude(author__username="alice")) == ["orphan", "second"]
    assert await titles(mode, posts.order_by("author__username", "title")[:1]) == ["orphan"]
    with pytest.raises(exc.ValidationError, match=r"BlogUser\.age"):
        posts.filter(author__age="old")


async def test_reverse_relations(mode: Mode, blog: dict) -> None:
    alice = blog["alice"]
    assert await titles(mode, alice.blogpost_set) == ["first", "third"]
    assert await titles(mode, alice.blogpost_set.filter(title="third")) == ["third"]
    assert sorted(c.body for c in await mode.list(alice.comments)) == ["thanks"]
    users = BlogUser.objects.filter(username__in=["alice", "bob", "cleo"]).order_by("username")
    with assert_num_queries(2):  # the users, then every post of theirs
        loaded = await mode.list(users.prefetch_related("blogpost_set"))
        got = {u.username: sorted(p.title for p in u.blogpost_set.all()) for u in loaded}
    assert got == {"alice": ["first", "third"], "bob": ["second"], "cleo": []}
    with assert_num_queries(1):  # one statement, with a subquery per user
        loaded = await mode.list(users.select_related("blogpost_set", "comments"))
        got = {u.username: (sorted(p.title for p in u.blogpost_set), len(list(u.comments)))
               for u in loaded}
    assert got == {"alice": (["first", "third"], 1), "bob": (["second"], 1), "cleo": ([], 0)}
    with pytest.raises(exc.FieldError, match=r"relations: .*blogpost_set"):
        BlogUser.objects.prefetch_related("posts")


async def test_query_counts(mode: Mode, blog: dict) -> None:
    with assert_num_queries(1):
        assert len(await mode.list(BlogPost.objects.all())) == 4
    with assert_num_queries(1):
        assert len(list(BlogPost.objects.all())) == 4  # the length hint fetches nothing extra
    with assert_num_queries(1):
        posts = await mode.list(BlogPost.objects.select_related("author"))
        names = [p.get_related("author").username for p in posts if p.author]
    assert sorted(names) == ["alice", "alice", "bob"]
    with assert_num_queries(2):
        posts = await mode.list(BlogPost.objects.prefetch_related("author"))
        names = [p.get_related("author").username for p in posts if p.author]
    with assert_num_queries(3):  # 1 + 1 per relation
        comments = await mode.list(BlogComment.objects.prefetch_related("post", "author"))
        pairs = sorted((c.get_related("post").title, c.get_related("author").username)
                       for c in comments)
    assert pairs == [("first", "alice"), ("first", "bob")]


# -- the missing Django API ----------------------------------------------------------------


async def test_per_model_exceptions(mode: Mode, blog: dict) -> None:
    assert issubclass(BlogUser.DoesNotExist, exc.DoesNotExist)
    assert BlogUser.DoesNotExist is not BlogPost.DoesNotExist
    with pytest.raises(BlogUser.DoesNotExist):
        await mode(BlogUser.objects, "get", username="nobody")
    with pytest.raises(BlogUser.DoesNotExist):
        await mode(BlogUser.objects, "get", key="missing")
    with pytest.raises(BlogPost.MultipleObjectsReturned):
        await mode(BlogPost.objects, "get", author=blog["alice"])
    try:
        await mode(BlogPost.objects, "get", title="none")
    except BlogUser.DoesNotExist:  # pragma: no cover - another model's error must not match
        raise AssertionError("BlogUser.DoesNotExist caught a BlogPost miss") from None
    except BlogPost.DoesNotExist:
        pass


async def test_latest_and_earliest(mode: Mode, blog: dict) -> None:
    assert (await mode(BlogPost.objects, "latest")).title == "third"  # Meta.get_latest_by
    assert (await mode(BlogPost.objects, "earliest")).title == "second"
    assert (await mode(BlogPost.objects, "latest", "title")).title == "third"
    assert (await mode(BlogUser.objects, "earliest", "age")).username == "bob"  # nulls skipped
    with pytest.raises(BlogPost.DoesNotExist):
        await mode(BlogPost.objects.filter(title="none"), "latest")
    with pytest.raises(exc.ValidationError, match="get_latest_by"):
        await mode(BlogUser.objects, "latest")


def test_atomic_keeps_the_wrapped_functions_metadata() -> None:
    def transfer(amount: int) -> int:
        """Move money."""
        return amount

    async def atransfer(amount: int) -> int:
        """Move money, awaitably."""
        return amount

    for original in (transfer, atransfer):
        wrapped = atomic()(original)
        assert wrapped.__name__ == original.__name__
        assert wrapped.__doc__ == original.__doc__
        assert wrapped.__wrapped__ is original  # type: ignore[attr-defined]
        assert functools.WRAPPER_ASSIGNMENTS


def test_one_public_json_shape(blog: dict) -> None:
    alice = blog["alice"]
    dumped = alice.model_dump()
    assert {"key", "id", "rev", "username"} <= set(dumped)
    assert not any(name.startswith("_") for name in dumped)
    assert alice.model_dump(by_alias=True).keys() == dumped.keys()
    assert alice.id == f"blog_users/{alice.key}"  # no database name
    as_json = json.loads(alice.model_dump_json())
    assert as_json["id"] == alice.id and as_json["balance"] == "5.00"
    edge = BlogFollows.objects.get(from_=alice)
    assert {"from_", "to"} <= set(edge.model_dump(by_alias=True))
    schema = BlogUser.model_json_schema(mode="serialization")
    assert {"key", "id", "rev"} <= set(schema["properties"])
    # the wire form is the ODM's own: stored names, numbers for decimals, UTC text
    wire = blog["first"].to_wire()
    assert wire["_key"] == blog["first"].key and "key" not in wire
    assert wire["published_at"] == "2024-05-01T09:00:00.000000Z"
    assert BlogUser.objects.get(username="bob").to_wire()["balance"] == 10.5


async def test_unique_violation_is_readable(mode: Mode, blog: dict) -> None:
    with pytest.raises(exc.UniqueViolationError) as caught:
        await mode(BlogUser(username="alice"), "insert")
    err = caught.value
    assert str(err) == ("a document with username 'alice' already exists "
                        "(unique index idx_blog_users_username)")
    assert err.fields == ["username"] and err.values == ["alice"]
    assert err.index == "idx_blog_users_username"
    assert "String(" in err.server_message  # the server's own text is kept


async def test_session_overlay_uses_the_same_semantics(mode: Mode, blog: dict) -> None:
    db = blog["db"]
    async with mode.session(db):
        post = await mode(BlogPost.objects, "get", title="second")
        post.published_at = dt.datetime(2026, 1, 1, 1, 0, tzinfo=PLUS_ONE)  # 00:00 UTC
        seen = await titles(mode, BlogPost.objects.filter(published_at__year=2026))
        assert seen == ["second"]
        assert await titles(mode, BlogPost.objects.filter(published_at__hour=0)) == ["second"]
        with pytest.raises(exc.UnsupportedError, match="flush"):
            await mode.list(BlogPost.objects.filter(author__username="bob"))
        await mode(BlogUser.objects, "count")
    assert (await mode(BlogPost.objects, "get", title="second")).published_at.year == 2026
