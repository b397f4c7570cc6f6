"""A tour of the ODM in a few seconds: models, queries and their SDBQL, a relation,
a graph, sessions that commit and roll back, and the same queries from async code.

``scripts/demo`` runs it against a throw-away server; by hand:
    .venv/bin/python -m solidb_odm.testing run -- .venv/bin/python examples/demo.py
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, Optional

from _connection import URL

from solidb_odm import Avg, Count, Document, Edge, Indexed, Max, Q, QuerySet, Reference, connect


class Author(Document):
    name: Annotated[str, Indexed(unique=True)]
    country: str
    born: int

    class Meta:
        collection = "authors"


class Book(Document):
    title: str
    year: int
    pages: int
    author: Annotated[Optional[str], Reference("Author")] = None

    class Meta:
        collection = "books"


class Influenced(Edge):
    """An edge: ``from_`` influenced ``to``."""

    class Meta:
        collection = "influenced"


def section(title: str) -> None:
    print(f"\n== {title}")


def show(label: str, qs: QuerySet[Any]) -> QuerySet[Any]:
    """Print what a QuerySet will send before it runs: nothing is sent until it is read."""
    print(f"-- {label}")
    print("   sdbql:", " ".join(qs.sdbql.split()))
    print("   bind: ", qs.bind_vars)
    return qs


db = connect(URL.rstrip("/") + "/odm_demo")
db.register(Author, Book, Influenced)

section("models: db.sync() creates collections and the unique index on Author.name")
print("created:", db.sync())

authors = {
    a.name: a.save()
    for a in [
        Author(name="Ursula K. Le Guin", country="US", born=1929),
        Author(name="Stanislaw Lem", country="PL", born=1921),
        Author(name="Iain M. Banks", country="UK", born=1954),
    ]
}
for title, year, pages, who in [
    ("The Left Hand of Darkness", 1969, 304, "Ursula K. Le Guin"),
    ("The Dispossessed", 1974, 387, "Ursula K. Le Guin"),
    ("Solaris", 1961, 204, "Stanislaw Lem"),
    ("The Cyberiad", 1965, 295, "Stanislaw Lem"),
    ("Consider Phlebas", 1987, 471, "Iain M. Banks"),
    ("The Player of Games", 1988, 309, "Iain M. Banks"),
]:
    Book(title=title, year=year, pages=pages, author=authors[who]).save()
print(f"saved {Author.objects.count()} authors and {Book.objects.count()} books")

section("queries: each QuerySet compiles to SDBQL with bind variables")
qs = show(
    "filter / exclude / order_by / slice",
    Book.objects.filter(year__gte=1965).exclude(pages__gt=400).order_by("-year")[:3],
)
print("  ", [b.title for b in qs])
qs = show(
    "Q objects and a Python expression",
    Book.objects.filter(Q(year__lt=1965) | Q(title__startswith="Consider"), Book.pages > 200),
)
print("  ", sorted(b.title for b in qs))
qs = show("aggregate() over the books of the 1960s", Book.objects.filter(year__range=(1960, 1969)))
print("  ", qs.aggregate(Count(), Avg("pages"), Max("year")))

section("relation: select_related loads each book's author in the same query")
qs = show(
    "select_related('author')", Book.objects.select_related("author").filter(year__lt=1970).order_by("year")
)
for book in qs:
    author = book.get_related("author")  # already loaded: no extra round trip
    print(f"   {book.year} {book.title} by {author.name if author else '?'}")

section("graph: Influenced edges and a traversal that composes with a filter")
Influenced(from_=authors["Stanislaw Lem"], to=authors["Ursula K. Le Guin"]).save()
Influenced(from_=authors["Ursula K. Le Guin"], to=authors["Iain M. Banks"]).save()
qs = show(
    "within two hops of Lem, born after 1925",
    authors["Stanislaw Lem"].traverse(Influenced, max_depth=2).filter(born__gt=1925),
)
print("  ", sorted(a.name for a in qs))

section(f"session that commits: two changes, one transaction (books before: {Book.objects.count()})")
with db.session() as session:
    lem = session.query(Author).get(name="Stanislaw Lem")
    lem.country = "Poland"
    session.add(Book(title="His Master's Voice", year=1968, pages=199, author=lem))
country = Author.objects.get(name="Stanislaw Lem").country
print(f"after commit: Lem's country is {country!r}, books: {Book.objects.count()}")

section("session that raises: it rolls back, nothing lands")
try:
    with db.session() as session:
        banks = session.query(Author).get(name="Iain M. Banks")
        banks.country = "Scotland"
        session.add(Book(title="Never Published", year=2099, pages=1, author=banks))
        session.flush()  # the writes are staged in the server transaction...
        raise RuntimeError("something went wrong")  # ...and discarded here
except RuntimeError as err:
    print("raised:", err)
country = Author.objects.get(name="Iain M. Banks").country
print(f"after rollback: Banks's country is {country!r}, books: {Book.objects.count()}")


section("async: the same QuerySets, awaited")


async def main() -> None:
    print("   books:", await Book.objects.acount())
    async for author in Author.objects.order_by("born"):
        print(f"   {author.born} {author.name}")


asyncio.run(main())

db.client.delete_database("odm_demo")
db.close()
print("\ndone")
