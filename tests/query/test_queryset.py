"""QuerySet behaviour against the real server, one capability at a time.

Each test that talks to the server runs in both modes (``mode``: blocking
calls or their awaitable twins, see ``tests/modes.py``).
"""

from __future__ import annotations

import datetime as dt

import pytest

from solidb_odm import Avg, Count, F, Max, Min, Q, Sum, expr
from solidb_odm import exceptions as exc
from solidb_odm.database import Database

from ..models.models import Address, Follows, Post, User
from ..modes import Mode


@pytest.fixture
def db(odm_db: Database) -> Database:
    odm_db.register(User, Follows, Post)
    odm_db.sync()
    people = [
        ("Alice", 30, "Paris", ["admin", "x"]),
        ("Bob", 17, "Lyon", ["x"]),
        ("Carol", 45, "Paris", []),
        ("Dave", 25, None, ["admin"]),
        ("Eve", 17, "Nice", ["y"]),
        ("bob", 60, "Lyon", []),
    ]
    for name, age, city, tags in people:
        User(
            name=name, email=f"{name}@x", age=age, tags=tags,
            address=Address(city=city, zip="0") if city else None, key=name.lower() + str(age),
        ).save()
    return odm_db


async def names(mode: Mode, qs) -> list[str]:
    return [u.name for u in await mode.list(qs)]


async def test_issue_examples(mode: Mode, db: Database) -> None:
    qs = User.objects.filter(age__gt=25).exclude(name__startswith="B").order_by("-age")[:10]
    assert await names(mode, qs) == ["bob", "Carol", "Alice"]
    assert sorted(await names(mode, User.objects.filter(User.age > 25, User.name.startswith("A")))) == ["Alice"]
    assert await mode(User.objects.filter(Q(age__lt=18) | Q(tags__contains="admin")), "count") == 4


async def test_lazy_and_cloning(mode: Mode, db: Database) -> None:
    base = User.objects.filter(age__gte=17)
    narrowed = base.filter(age__lt=20)
    assert await mode(base, "count") == 6 and await mode(narrowed, "count") == 2
    assert "FILTER" in narrowed.sdbql and "@p" in narrowed.sdbql


async def test_get_first_last_exists(mode: Mode, db: Database) -> None:
    assert (await mode(User.objects, "get", name="Carol")).age == 45
    assert (await mode(User.objects, "get", key="alice30")).name == "Alice"
    with pytest.raises(exc.DoesNotExist):
        await mode(User.objects, "get", name="Nobody")
    with pytest.raises(exc.DoesNotExist):
        await mode(User.objects, "get", key="missing")
    with pytest.raises(exc.MultipleObjectsReturned):
        await mode(User.objects, "get", age=17)
    assert (await mode(User.objects.order_by("age", "name"), "first")).name == "Bob"
    assert (await mode(User.objects.order_by("age", "name"), "last")).name == "bob"
    assert await mode(User.objects.filter(age=60), "exists")
    assert not await mode(User.objects.filter(age=61), "exists")


async def test_ordering_and_slicing(mode: Mode, db: Database) -> None:
    ordered = User.objects.order_by("-age", "name")
    assert await names(mode, ordered) == ["bob", "Carol", "Alice", "Dave", "Bob", "Eve"]
    assert await names(mode, ordered[1:3]) == ["Carol", "Alice"]
    assert await names(mode, ordered[4:]) == ["Bob", "Eve"]
    assert await names(mode, ordered[1:3][1:]) == ["Alice"]
    assert await names(mode, User.objects.order_by(-User.age)[:1]) == ["bob"]
    # an integer index has no awaitable form (``await qs[2:3].afirst()`` is its async spelling)
    assert ordered[2].name == "Alice"
    # ``ordered`` keeps its results now: a slice of it is still a sliced query
    assert (await mode(ordered[2:3], "first")).name == "Alice"
    assert (await mode(ordered[2:3], "get")).name == "Alice"
    with pytest.raises(exc.ValidationError):
        ordered[-1]
    with pytest.raises(exc.ValidationError):
        ordered[:-1]
    with pytest.raises(IndexError):
        ordered[100]
    assert await mode(ordered[100:101], "first") is None
    assert "LIMIT @p" in User.objects.order_by("age")[1:3].sdbql


async def test_iteration_pages_through_large_results(mode: Mode, db: Database) -> None:
    await mode(User.objects, "bulk_create", [User(name=f"n{i}", email=f"n{i}@x", age=i) for i in range(250)])
    qs = User.objects.filter(name__startswith="n").order_by("age")
    seen = [u.age async for u in mode.iterate(qs, "iterator", chunk_size=40)]
    assert seen == list(range(250))


async def test_values_values_list_only_distinct(mode: Mode, db: Database) -> None:
    rows = User.objects.filter(age=17).order_by("name").values("name", "address__city")
    assert await mode.list(rows) == [{"name": "Bob", "address__city": "Lyon"}, {"name": "Eve", "address__city": "Nice"}]
    assert (await mode.list(User.objects.order_by("age").values_list("age", flat=True)))[:2] == [17, 17]
    assert await mode.list(User.objects.filter(age=17).order_by("name").values_list("name", "age")) == [("Bob", 17), ("Eve", 17)]
    ages = sorted(await mode.list(User.objects.values_list("age", flat=True).distinct()))
    assert ages == [17, 25, 30, 45, 60]
    partial = await mode(User.objects.only("name"), "get", key="alice30")
    assert partial.name == "Alice" and partial.age == 0  # not loaded
    partial.name = "Alicia"
    await mode(partial, "save")
    stored = db.client.get(db.name, "users", "alice30")
    assert stored["name"] == "Alicia" and stored["age"] == 30  # the unloaded field was kept


async def test_aggregate_and_group_by(mode: Mode, db: Database) -> None:
    result = await mode(User.objects, "aggregate", Avg("age"), Count(), total=Sum("age"), young=Min("age"), old=Max("age"))
    assert result == {"age__avg": pytest.approx(194 / 6), "count": 6, "total": 194, "young": 17, "old": 60}
    assert await mode(User.objects.filter(age__gt=100), "aggregate", Avg("age"), Count()) == {"age__avg": None, "count": 0}
    groups = await mode(User.objects.values("address__city"), "annotate", n=Count(), oldest=Max("age"))
    assert groups == [
        {"address__city": None, "n": 1, "oldest": 25},
        {"address__city": "Lyon", "n": 2, "oldest": 60},
        {"address__city": "Nice", "n": 1, "oldest": 17},
        {"address__city": "Paris", "n": 2, "oldest": 45},
    ]
    by_count = await mode(User.objects.values("age").order_by("-n", "age"), "annotate", n=Count())
    assert by_count[0] == {"age": 17, "n": 2}


async def test_bulk_update_and_delete_are_one_statement(mode: Mode, db: Database) -> None:
    post = await mode(Post(title="p", views=1), "save")
    await mode(Post(title="q"), "save")
    assert await mode(Post.objects.filter(title="p"), "update", views=F("views") + 10) == 1
    assert (await mode(Post.objects, "get", key=post.key)).views == 11
    assert await mode(User.objects.filter(age=17), "update", age=18) == 2
    assert await mode(User.objects.filter(age=18), "count") == 2
    with pytest.raises(exc.ValidationError):
        await mode(User.objects, "update", age="not a number")
    assert await mode(User.objects.filter(name__istartswith="b"), "delete") == 2
    assert await mode(User.objects, "count") == 4
    with pytest.raises(exc.ValidationError):
        await mode(User.objects.all()[:2], "delete")


async def test_bulk_create_get_or_create_update_or_create_in_bulk(mode: Mode, db: Database) -> None:
    made = await mode(User.objects, "bulk_create", [User(name=f"bulk{i}", email=f"b{i}@x") for i in range(10)], batch_size=3)
    assert all(u.key for u in made) and await mode(User.objects.filter(name__startswith="bulk"), "count") == 10
    user, created = await mode(User.objects, "get_or_create", name="Zed", defaults={"email": "z@x", "age": 9})
    assert created and user.age == 9
    again, created = await mode(User.objects, "get_or_create", name="Zed", defaults={"email": "z@x"})
    assert not created and again == user
    _, created = await mode(User.objects, "update_or_create", name="Zed", defaults={"age": 10})
    assert not created and (await mode(User.objects, "get", name="Zed")).age == 10
    found = await mode(User.objects, "in_bulk", ["alice30", "bob17", "nope"])
    assert set(found) == {"alice30", "bob17"}


async def test_raw_and_explain(mode: Mode, db: Database) -> None:
    rows = await mode(User.objects, "raw", "FOR u IN users FILTER u.age > @a SORT u.age RETURN u", {"a": 40})
    assert [u.name for u in rows] == ["Carol", "bob"]
    plan = await mode(User.objects.filter(age__gt=3), "explain")
    assert isinstance(plan, dict) and plan


async def test_expressions_f_and_q(mode: Mode, db: Database) -> None:
    assert await mode(User.objects.filter(~Q(age__gt=20)), "count") == 2
    assert await names(mode, User.objects.filter(expr(User.tags).contains("admin")).order_by("name")) == ["Alice", "Dave"]
    assert await mode(User.objects.filter((User.age > 40) | ~expr(User.tags).contains("x")), "count") == 4
    await mode(Post(title="a", views=5), "save")
    await mode(Post(title="b", views=0), "save")
    assert await mode(Post.objects.filter(views__gt=F("views") - 1), "count") == 2


async def test_exclude_keeps_missing_fields(mode: Mode, db: Database) -> None:
    assert await mode(User.objects.exclude(address__city="Paris"), "count") == 4  # Dave has no address
    assert await mode(User.objects.filter(address__isnull=True), "count") == 1
    assert await mode(User.objects.exclude(age__gt=5), "count") == 0


async def test_select_related_and_prefetch_related(mode: Mode, db: Database) -> None:
    alice = await mode(User.objects, "get", name="Alice")
    await mode(Post(title="one", author=alice), "save")
    await mode(Post(title="two", author=alice.id), "save")  # the server's "db:users/k" form works too
    await mode(Post(title="orphan"), "save")
    posts = await mode.list(Post.objects.select_related("author").order_by("title"))
    assert [p.title for p in posts] == ["one", "orphan", "two"]
    assert [await mode(p, "get_related", "author") for p in posts] == [alice, None, alice]
    assert posts[2].author == alice.ref
    prefetched = await mode.list(Post.objects.prefetch_related("author").order_by("title"))
    assert [await mode(p, "get_related", "author") for p in prefetched] == [alice, None, alice]


async def test_graph_traversal(mode: Mode, db: Database) -> None:
    a, b, c = [await mode(User.objects, "get", name=n) for n in ("Alice", "Bob", "Carol")]
    since = dt.datetime(2021, 1, 1, tzinfo=dt.UTC)
    await mode(Follows(from_=a, to=b, since=since), "save")
    await mode(Follows(from_=b, to=c, since=since), "save")
    assert await names(mode, a.outbound(Follows)) == ["Bob"]
    assert sorted(await names(mode, a.outbound(Follows, max_depth=2))) == ["Bob", "Carol"]
    assert await names(mode, c.inbound(Follows)) == ["Bob"]
    assert await names(mode, a.outbound(Follows, max_depth=2).filter(age__gt=40)) == ["Carol"]


def test_using_an_unknown_lookup_or_name_is_a_clear_error(db: Database) -> None:
    with pytest.raises(exc.ValidationError):
        User.objects.filter(age__between=3)
    with pytest.raises(exc.InvalidNameError):
        User.objects.filter(**{"na me": 1})


async def test_iteration_streams_pages_and_keeps_results(mode: Mode, db: Database) -> None:
    from solidb_odm import events

    await mode(User.objects, "bulk_create", [User(name=f"s{i}", email=f"s{i}@x", age=i) for i in range(30)])
    sent: list[str] = []  # every request the executor sent; the server answered them
    with events.observing(lambda e: sent.append(e.operation)):
        qs = User.objects.filter(name__startswith="s").order_by("age")
        stream = mode.iterate(qs, "iterator", chunk_size=10)
        assert (await anext(stream)).age == 0 and sent == ["query"]  # only the first batch (the cursor opens as a query)
        await stream.aclose()
        if not mode.is_async:  # (an async generator left early is closed by the loop, later)
            assert sent == ["query", "HTTP DELETE"]  # left early: the server's copy is freed
        del sent[:]
        assert len(await mode.list(qs)) == 30
        fetched = len(sent)
        assert [u.age for u in await mode.list(qs)][:3] == [0, 1, 2] and len(sent) == fetched  # kept, not re-fetched
        assert await mode(qs, "count") == 30 and len(sent) == fetched
        await mode.list(User.objects.all())
        await mode.list(User.objects.all())
        assert len(sent) > fetched + 1  # the shared manager never keeps results


async def test_list_of_a_queryset_costs_one_query(mode: Mode, db: Database) -> None:
    """``list(qs)`` asks ``len(qs)`` as a length hint after taking the iterator; both
    must come from one fetch. The count is the server's: every request the executor sent."""
    from solidb_odm import events

    sent: list[events.RequestEvent] = []
    with events.observing(sent.append):
        qs = User.objects.filter(age__gte=17).order_by("name")
        rows = await mode.list(qs)
    assert [e.operation for e in sent] == ["query"]
    assert [u.name for u in rows] == ["Alice", "Bob", "Carol", "Dave", "Eve", "bob"]
