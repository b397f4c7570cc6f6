"""A small social app (users, posts, follows) that uses the whole ODM.

Run against a throw-away server:
    .venv/bin/python -m solidb_odm.testing run -- .venv/bin/python examples/social_app.py
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, List, Optional

from _connection import URL
from pydantic import BaseModel

from solidb_odm import Avg, Count, Document, Edge, F, Indexed, Max, Q, Reference, connect, expr


class Address(BaseModel):
    city: str
    zip: str


class User(Document):
    name: str
    email: Annotated[str, Indexed(unique=True)]
    age: int = 0
    address: Optional[Address] = None
    tags: List[str] = []

    class Meta:
        collection = "users"


class Post(Document):
    title: str
    views: int = 0
    author: Annotated[Optional[str], Reference("User")] = None

    class Meta:
        collection = "posts"


class Follows(Edge):
    since: dt.datetime

    class Meta:
        collection = "follows"


db = connect(URL.rstrip("/") + "/social_demo")
db.register(User, Post, Follows)
print("sync:", db.sync())

# Models: validated on construction, saved with one call
people = {
    name: User(name=name, email=f"{name.lower()}@example.com", age=age,
               address=Address(city=city, zip="00000"), tags=tags).save()
    for name, age, city, tags in [
        ("Alice", 31, "Paris", ["admin"]),
        ("Bob", 24, "Lyon", []),
        ("Carol", 45, "Paris", ["editor"]),
        ("Dave", 17, "Nice", []),
    ]
}
print("saved users:", ", ".join(f"{u.name}={u.key}" for u in people.values()))

# Querying: Django lookups, expressions, Q, ordering, slicing
adults = User.objects.filter(age__gte=18).exclude(name__startswith="B").order_by("-age")
print("adults not starting with B:", [u.name for u in adults])
print("the SDBQL it sends:\n" + adults.sdbql, adults.bind_vars)
print("in Paris, over 30:", [u.name for u in User.objects.filter(User.age > 30, address__city="Paris")])
print("minors or admins:", User.objects.filter(Q(age__lt=18) | Q(tags__contains="admin")).count())
print("without the editor tag:", sorted(u.name for u in User.objects.exclude(expr(User.tags).contains("editor"))))
print("oldest two:", list(User.objects.order_by("-age").values_list("name", flat=True)[:2]))

# Aggregation and grouping
print("ages:", User.objects.aggregate(Avg("age"), Max("age"), Count()))
print("per city:", User.objects.values("address__city").annotate(n=Count(), avg_age=Avg("age")))

# References: select_related loads authors in the same query
for i, author in enumerate(["Alice", "Alice", "Carol"]):
    Post(title=f"post {i}", author=people[author], views=i * 10).save()
for post in Post.objects.select_related("author").order_by("title"):
    print(f"{post.title!r} by {post.get_related('author').name}")

# Bulk updates with F expressions, in one statement
changed = Post.objects.filter(views__gte=10).update(views=F("views") + 1)
print("bumped views on", changed, "posts:", list(Post.objects.order_by("title").values_list("views", flat=True)))

# Graphs: follow edges and traversals that compose with filters
since = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
Follows(from_=people["Alice"], to=people["Bob"], since=since).save()
Follows(from_=people["Bob"], to=people["Carol"], since=since).save()
Follows(from_=people["Bob"], to=people["Dave"], since=since).save()
print("Alice follows:", [u.name for u in people["Alice"].outbound(Follows)])
print("within 2 hops of Alice, adults:",
      sorted(u.name for u in people["Alice"].outbound(Follows, max_depth=2).filter(age__gte=18)))
print("who follows Carol:", [u.name for u in people["Carol"].inbound(Follows)])

# Raw SDBQL returning models
rows = User.objects.raw("FOR u IN users FILTER u.age > @min SORT u.age RETURN u", {"min": 40})
print("raw:", [u.name for u in rows])

# A unit of work: all or nothing
with db.session() as session:
    bob = session.get(User, people["Bob"].key)
    assert bob is not None
    bob.age += 1
    bob.tags.append("birthday")
    session.add(Post(title="happy birthday", author=bob))
print("Bob is now", User.objects.get(key=people["Bob"].key).age)

db.client.delete_database("social_demo")
db.close()
print("done")
