"""Django habits on a small blog: every idiom of docs/querying.md, docs/relations.md and
docs/models.md, run by CI against a real server.

    .venv/bin/python -m solidb_odm.testing run -- .venv/bin/python examples/django_habits.py
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Optional

from _connection import URL
from pydantic import Field

from solidb_odm import Document, Edge, Indexed, Max, Q, Reference, Stored, Sum, connect
from solidb_odm import exceptions as exc


class User(Document):
    username: Annotated[str, Indexed(unique=True)]
    age: Optional[int] = None
    balance: Decimal = Field(default=Decimal("0"), max_digits=12, decimal_places=2)

    class Meta:
        collection = "users"


class Post(Document):
    title: str
    author: Annotated[Optional[str], Reference("User")] = None       # alice.post_set
    published_at: Optional[dt.datetime] = None

    class Meta:
        collection = "posts"
        get_latest_by = "published_at"


class Comment(Document):
    body: str
    post: Annotated[Optional[str], Reference("Post")] = None         # post.comment_set
    author: Annotated[Optional[str], Reference(User, related_name="comments")] = None

    class Meta:
        collection = "comments"


class Follows(Edge):
    class Meta:
        collection = "follows"


db = connect(URL.rstrip("/") + "/blog")
db.register(User, Post, Comment, Follows).sync()

ann = User(username="ann", age=31, balance=Decimal("5.00")).save()
bob = User(username="bob", age=25, balance=Decimal("10.50")).save()
hello = Post(title="Hello", author=ann,
             published_at=dt.datetime(2024, 5, 1, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=1)))).save()
Post(title="Again", author=ann, published_at=dt.datetime(2025, 1, 2, tzinfo=dt.UTC)).save()
Post(title="Mine", author=bob, published_at=dt.datetime(2023, 7, 8, tzinfo=dt.UTC)).save()
Comment(body="Nice", post=hello, author=bob).save()
Follows(from_=ann, to=bob).save()

# -- names are checked, values prepared by their field --------------------------------
try:
    User.objects.filter(usernme="ann")
except exc.FieldError as err:
    print("FieldError:", err)
try:
    User.objects.filter(age="abc")
except exc.ValidationError as err:
    print("ValidationError:", err)
print("age__gt='30' ->", [u.username for u in User.objects.filter(age__gt="30")])
print("undeclared, on purpose:", User.objects.filter(Stored("legacy_flag") == 1).count())

# -- Decimals and datetimes compare as numbers and instants ---------------------------
print("balance > 6:", [u.username for u in User.objects.filter(balance__gt=6)])
print("exact sum:", User.objects.aggregate(Sum("balance")))            # Decimal('15.50')
instant = dt.datetime(2024, 5, 1, 9, 0, tzinfo=dt.UTC)       # 10:00 at +01:00
print("same instant:", Post.objects.filter(published_at=instant).count())
print("published in 2024 or later:", Post.objects.filter(published_at__year__gte=2024).count())
print("on a Wednesday:", [p.title for p in Post.objects.filter(published_at__week_day=4)])
print("latest:", Post.objects.latest().title, "| earliest:", Post.objects.earliest().title)

# -- references, lookups through them, reverse relations -----------------------------
for spelling in (ann, ann.id, ann.key, ann.ref):
    assert Post.objects.filter(author=spelling).count() == 2
print("through a Reference:", [p.title for p in Post.objects.filter(author__username="bob")])
print("two hops:", Comment.objects.filter(post__author__username="ann").count())
print("ann.post_set:", sorted(p.title for p in ann.post_set))
print("bob.comments:", [c.body for c in bob.comments])
for user in User.objects.prefetch_related("post_set").order_by("username"):   # 2 queries
    print(" ", user.username, sorted(p.title for p in user.post_set.all()))
print("follows from ann:", Follows.objects.filter(from_=ann).count())
print("Q() is no condition:", Post.objects.filter(~Q()).count())

# -- Django's exceptions, one public JSON shape, readable errors ------------------------
try:
    User.objects.get(username="nobody")
except User.DoesNotExist as err:                     # a subclass of exceptions.DoesNotExist
    print("User.DoesNotExist:", err)
print("model_dump:", sorted(ann.model_dump()))        # key, id, rev ...: Python names
print("id:", ann.id)                                  # "users/<key>": no database name
try:
    User(username="ann").insert()
except exc.UniqueViolationError as err:
    print("UniqueViolationError:", err)
print("last published:", Post.objects.aggregate(Max("published_at")))   # a datetime
