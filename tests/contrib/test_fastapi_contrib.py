"""solidb_odm.contrib.fastapi against a real server, through FastAPI's TestClient.

Annotations are evaluated at definition time (no ``from __future__ import
annotations``): the endpoints are defined inside functions.
"""

import asyncio
import datetime
import decimal
import enum
import json
import uuid
from typing import Annotated, Any, Dict, Iterator, List, Literal, Optional, Tuple, Type, get_args

import pytest
from fastapi import FastAPI, HTTPException
from fastapi.testclient import TestClient
from pydantic import BaseModel, Field

from solidb_odm import Document, Edge, Indexed, Reference, exceptions, expr
from solidb_odm.contrib.fastapi import (
    AsyncSessionDep,
    DatabaseDep,
    Page,
    SessionDep,
    apaginate,
    decode_cursor,
    install_exception_handlers,
    lifespan,
    paginate,
)
from solidb_odm.database import Database, get_default_database
from solidb_odm.session import Session, current_session
from solidb_odm.testing import SoliDBServer


class CfTodo(Document):
    title: str
    done: bool = False

    class Meta:
        collection = "cf_todos"


class CfUser(Document):
    email: Annotated[str, Indexed(unique=True)]

    class Meta:
        collection = "cf_users"


class CfScore(Document):
    group: str
    score: Optional[int] = None

    class Meta:
        collection = "cf_scores"


MODELS: List[Type[Document]] = [CfTodo, CfUser, CfScore]


@pytest.fixture
def db_url(solidb_server: SoliDBServer, solidb_database: str) -> str:
    return f"{solidb_server.url}/{solidb_database}"


def make_app(url: str, *, handlers: bool = True) -> FastAPI:
    app = FastAPI(lifespan=lifespan(url, models=MODELS, sync=True))
    if handlers:
        install_exception_handlers(app)

    @app.get("/db")
    async def which(db: DatabaseDep) -> Dict[str, Any]:
        return {"name": db.name, "default": get_default_database() is db}

    @app.post("/users/sync")
    def add_users(emails: List[str], s: SessionDep) -> Dict[str, int]:
        for email in emails:
            s.add(CfUser(email=email))  # inserted at commit, after the endpoint returned
        return {"added": len(emails)}

    @app.post("/users/async")
    async def add_users_async(emails: List[str], s: AsyncSessionDep) -> Dict[str, int]:
        for email in emails:
            s.add(CfUser(email=email))
        return {"added": len(emails)}

    @app.post("/todos")
    async def add_todos(titles: List[str], s: AsyncSessionDep, fail: bool = False) -> Dict[str, Any]:
        joined = []
        for title in titles:
            todo = await CfTodo(title=title).asave()  # a plain save: joins the request's session
            joined.append(s.state(todo).value)
        if fail:
            raise HTTPException(418, "rolled back")
        return {"states": joined, "current": current_session() is s}

    @app.post("/todos/sync")
    def add_todos_sync(titles: List[str], s: AsyncSessionDep, fail: bool = False) -> Dict[str, Any]:
        for title in titles:
            CfTodo(title=title).save()  # carried over to the session's event loop
        if fail:
            raise HTTPException(418, "rolled back")
        return {"current": current_session() is s, "seen": CfTodo.objects.count()}

    @app.get("/todos/{key}")
    async def get_todo(key: str) -> CfTodo:
        return await CfTodo.objects.aget(key=key)

    @app.post("/todos/{key}/title")
    def retitle(key: str, s: SessionDep, title: Optional[str] = None) -> CfTodo:
        todo = s.get(CfTodo, key)
        if todo is None:
            raise exceptions.DoesNotExist(f"no todo {key}")
        todo.title = title  # type: ignore[assignment]  # pydantic refuses None: 422
        return todo

    @app.get("/scores")
    async def scores(order: str = "score", cursor: Optional[str] = None, limit: int = 4) -> Page[CfScore]:
        return await apaginate(CfScore.objects.order_by(*order.split(",")), cursor, limit)

    @app.get("/scores/sync")
    def scores_sync(order: str = "score", cursor: Optional[str] = None, limit: int = 4) -> Page[CfScore]:
        return paginate(CfScore.objects.order_by(*order.split(",")), cursor, limit)

    return app


# -- lifespan ---------------------------------------------------------------------


def test_lifespan_connects_and_closes(db_url: str, solidb_database: str) -> None:
    app = make_app(db_url)
    with TestClient(app) as client:
        db = app.state.solidb
        assert isinstance(db, Database) and db.name == solidb_database
        assert client.get("/db").json() == {"name": solidb_database, "default": True}
        assert {"cf_todos", "cf_users", "cf_scores"} <= set(db.collection_names())  # sync=True
        assert db.models["cf_users"] is CfUser
    assert not hasattr(app.state, "solidb")
    with pytest.raises(exceptions.SoliDBError, match="no default database"):
        get_default_database()
    with pytest.raises(exceptions.ConnectionError, match="closed"):
        asyncio.run(db.aclient.ping())  # closed on shutdown


def test_lifespan_with_a_given_database_leaves_it_open(odm_db: Database) -> None:
    app = FastAPI(lifespan=lifespan(database=odm_db, models=[CfTodo], sync=True))

    @app.get("/count")
    def count(db: DatabaseDep) -> int:
        return CfTodo.objects.using(db).count()

    with TestClient(app) as client:
        assert client.get("/count").json() == 0
    assert odm_db.collection_names()  # still usable
    assert get_default_database() is odm_db


# -- session dependencies ---------------------------------------------------------


@pytest.mark.parametrize("route", ["/users/sync", "/users/async"])
def test_session_dependency_commits_before_the_response(db_url: str, route: str) -> None:
    app = make_app(db_url)
    with TestClient(app) as client:
        assert client.post(route, json=["a@x", "b@x"]).json() == {"added": 2}
        assert CfUser.objects.count() == 2  # committed by the time the answer came
        answer = client.post(route, json=["c@x", "a@x"])  # a@x exists: the commit fails
        assert answer.status_code == 409, answer.text
        assert "unique" in answer.json()["detail"].lower() or answer.json()["detail"]
        assert sorted(CfUser.objects.values_list("email", flat=True)) == ["a@x", "b@x"]


@pytest.mark.parametrize("route", ["/users/sync", "/users/async"])
def test_a_failed_commit_without_the_handlers_answers_500(db_url: str, route: str) -> None:
    app = make_app(db_url, handlers=False)
    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.post(route, json=["a@x"]).status_code == 200
        assert client.post(route, json=["a@x"]).status_code == 500
        assert CfUser.objects.count() == 1


def test_async_session_dependency_joins_plain_saves(db_url: str) -> None:
    app = make_app(db_url)
    with TestClient(app) as client:
        answer = client.post("/todos", json=["one", "two"])
        assert answer.json() == {"states": ["persistent", "persistent"], "current": True}
        assert client.post("/todos", json=["gone"], params={"fail": True}).status_code == 418
        answer = client.post("/todos/sync", json=["three"])
        assert answer.json() == {"current": True, "seen": 3}  # the session sees its own write
        assert client.post("/todos/sync", json=["gone too"], params={"fail": True}).status_code == 418
        assert sorted(CfTodo.objects.values_list("title", flat=True)) == ["one", "three", "two"]


# -- error mapping -----------------------------------------------------------------


def test_errors_map_to_404_409_and_422(db_url: str) -> None:
    app = make_app(db_url)
    with TestClient(app) as client:
        assert client.get("/todos/missing").status_code == 404
        todo = CfTodo(title="t").save()
        assert client.get(f"/todos/{todo.key}").json()["title"] == "t"
        assert client.post(f"/todos/{todo.key}/title", params={"title": "new"}).json()["title"] == "new"
        assert CfTodo.objects.get(key=todo.key).title == "new"
        answer = client.post("/todos/nope/title", params={"title": "x"})
        assert answer.status_code == 404 and "nope" in answer.json()["detail"]
        answer = client.post(f"/todos/{todo.key}/title")  # title=None: pydantic refuses it
        assert answer.status_code == 422
        assert answer.json()["detail"][0]["loc"] == ["title"]
        assert CfTodo.objects.get(key=todo.key).title == "new"  # rolled back
        answer = client.get("/scores", params={"cursor": "not a cursor"})
        assert answer.status_code == 422 and "cursor" in answer.json()["detail"]


# -- keyset pagination ---------------------------------------------------------------


@pytest.fixture
def scores(odm_db: Database) -> List[CfScore]:
    odm_db.register(CfScore).sync()
    values = [3, 1, None, 2, 3, 3, 1, None, 2, 2, 5, 3, 1, 0, None, 3, 4, 4, 2, 3, 1, 0, 5]
    rows = [CfScore(group="ab"[i % 2], score=v) for i, v in enumerate(values)]
    return CfScore.objects.bulk_create(rows)


def _walk(fetch: Any, limit: int) -> Tuple[List[str], int]:
    keys: List[str] = []
    cursor: Optional[str] = None
    pages = 0
    while True:
        page = fetch(cursor, limit)
        pages += 1
        assert len(page.items) <= limit
        keys.extend(item.key for item in page.items)
        cursor = page.next_cursor
        if cursor is None:
            return keys, pages
        assert len(page.items) == limit


ORDERINGS = [(), ("score",), ("-score",), ("group", "-score"), ("-group", "score"), ("-key",)]


@pytest.mark.parametrize("ordering", ORDERINGS)
@pytest.mark.parametrize("limit", [1, 4, 7, 23, 50])
def test_pagination_walks_every_row_once(scores: List[CfScore], ordering: Tuple[str, ...], limit: int) -> None:
    qs = CfScore.objects.order_by(*ordering) if ordering else CfScore.objects.all()
    tiebreak = () if "key" in {o.lstrip("-") for o in ordering} else ("key",)
    expected = [s.key for s in qs.order_by(*ordering, *tiebreak)]
    assert sorted(map(str, expected)) == sorted(str(s.key) for s in scores)
    keys, pages = _walk(lambda cursor, n: paginate(qs, cursor, n), limit)
    assert keys == expected
    assert pages == -(-len(expected) // limit)  # no empty last page


@pytest.mark.parametrize("ordering", ORDERINGS)
async def test_apaginate_walks_every_row_once(scores: List[CfScore], ordering: Tuple[str, ...]) -> None:
    qs = CfScore.objects.order_by(*ordering) if ordering else CfScore.objects.all()
    tiebreak = () if "key" in {o.lstrip("-") for o in ordering} else ("key",)
    expected = [s.key async for s in qs.order_by(*ordering, *tiebreak)]
    keys: List[Optional[str]] = []
    cursor = None
    while True:
        page = await apaginate(qs, cursor, 5)
        keys.extend(item.key for item in page.items)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert keys == expected


def test_pagination_through_the_app(scores: List[CfScore], db_url: str) -> None:
    app = make_app(db_url)
    expected = [s.key for s in CfScore.objects.order_by("-score", "key")]
    for route in ("/scores", "/scores/sync"):
        keys: List[str] = []
        params: Dict[str, Any] = {"order": "-score", "limit": 6}
        with TestClient(app) as client:
            while True:
                body = client.get(route, params=params).json()
                keys.extend(item["key"] for item in body["items"])
                if body["next_cursor"] is None:
                    break
                params["cursor"] = body["next_cursor"]
        assert keys == expected


def test_pagination_of_a_filtered_query_and_an_empty_one(scores: List[CfScore]) -> None:
    qs = CfScore.objects.filter(group="a").order_by("-score")
    keys, _ = _walk(lambda cursor, n: paginate(qs, cursor, n), 3)
    assert keys == [s.key for s in qs.order_by("-score", "key")]
    empty = paginate(CfScore.objects.filter(group="zzz"))
    assert empty.items == [] and empty.next_cursor is None
    exact = paginate(CfScore.objects.all(), limit=len(scores))
    assert len(exact.items) == len(scores) and exact.next_cursor is None


def test_cursor_values_are_bound_never_in_the_text(odm_db: Database) -> None:
    odm_db.register(CfScore).sync()
    nasty = 'a" OR true OR "'
    CfScore.objects.bulk_create([CfScore(group=nasty, score=1), CfScore(group=nasty, score=1),
                                 CfScore(group="b", score=1)])
    qs = CfScore.objects.order_by("group")
    first = paginate(qs, limit=1)
    assert first.next_cursor is not None
    assert decode_cursor(first.next_cursor, qs)[0] == nasty
    from solidb_odm.contrib.fastapi import _keyset_query

    query, _ = _keyset_query(qs, first.next_cursor, 1)
    assert nasty not in query.sdbql
    assert nasty in query.bind_vars.values()
    keys, _ = _walk(lambda cursor, n: paginate(qs, cursor, n), 1)
    assert len(keys) == len(set(keys)) == 3


def test_bad_cursors_and_limits_are_refused(scores: List[CfScore]) -> None:
    qs = CfScore.objects.order_by("score")
    cursor = paginate(qs, limit=2).next_cursor
    assert cursor is not None
    for bad in ["", "!!!", "eyJ4IjoxfQ", cursor[:-3]]:
        with pytest.raises(exceptions.ValidationError):
            paginate(qs, bad)
    with pytest.raises(exceptions.ValidationError, match="another ordering"):
        paginate(CfScore.objects.order_by("-score"), cursor)
    for limit in (0, -1, 10**6, True):
        with pytest.raises(exceptions.ValidationError, match="limit"):
            paginate(qs, limit=limit)
    with pytest.raises(exceptions.ValidationError, match="slice"):
        paginate(qs[:3])
    with pytest.raises(exceptions.ValidationError, match="fields"):
        paginate(CfScore.objects.order_by(expr(CfScore.group).lower()))


def test_pagination_inside_a_session_sees_its_pending_writes(scores: List[CfScore], odm_db: Database) -> None:
    with odm_db.session() as s:
        s.add(CfScore(group="c", score=99))
        keys, _ = _walk(lambda cursor, n: paginate(CfScore.objects.order_by("-score"), cursor, n), 4)
        assert len(keys) == len(set(keys)) == len(scores) + 1
        s.rollback()


# -- OpenAPI --------------------------------------------------------------------------


class CfColor(str, enum.Enum):
    red = "red"
    blue = "blue"


class CfLevel(enum.IntEnum):
    low = 1
    high = 2


class CfAddress(BaseModel):
    city: str
    zip: Optional[str] = None


class CfAuthor(Document):
    name: Annotated[str, Indexed(unique=True)]

    class Meta:
        collection = "cf_authors"


class CfEverything(Document):
    text: str
    number: int
    ratio: float
    flag: bool
    at: datetime.datetime
    day: datetime.date
    clock: datetime.time
    amount: decimal.Decimal = Field(max_digits=12, decimal_places=2)  # as Django requires
    uid: uuid.UUID
    color: CfColor
    level: CfLevel
    kind: Literal["a", "b"] = "a"
    maybe: Optional[int] = None
    tags: List[str] = []
    matrix: List[List[int]] = []
    attrs: Dict[str, int] = {}
    anything: Dict[str, Any] = {}
    address: CfAddress
    addresses: List[CfAddress] = []
    maybe_address: Optional[CfAddress] = None
    blob: bytes = b""
    maybe_blob: Optional[bytes] = None
    author: Annotated[Optional[str], Reference("CfAuthor")] = None
    code: Annotated[str, Indexed(unique=True)]
    rank: Annotated[int, Indexed(with_fields=("text",))] = 0

    class Meta:
        collection = "cf_everything"


class CfLink(Edge):
    weight: float = 1.0
    label: Optional[str] = None

    class Meta:
        collection = "cf_links"


def everything_app(url: str) -> FastAPI:
    app = FastAPI(lifespan=lifespan(url, models=[CfAuthor, CfEverything, CfLink], sync=True))
    install_exception_handlers(app)

    @app.post("/everything")
    def create(body: CfEverything, s: SessionDep) -> CfEverything:
        s.add(body)
        s.flush()
        return body

    @app.get("/everything")
    async def listing(cursor: Optional[str] = None) -> Page[CfEverything]:
        return await apaginate(CfEverything.objects.order_by("-number"), cursor, 10)

    @app.get("/everything/{key}")
    def read(key: str) -> CfEverything:
        return CfEverything.objects.get(key=key)

    @app.post("/links")
    async def link(body: CfLink, s: AsyncSessionDep) -> CfLink:
        await body.asave()
        return body

    @app.get("/links")
    def links() -> Page[CfLink]:
        return paginate(CfLink.objects.all())

    return app


def _resolve(spec: Dict[str, Any], schema: Dict[str, Any]) -> Dict[str, Any]:
    ref = schema.get("$ref")
    if ref is None:
        return schema
    name = ref.rsplit("/", 1)[1]
    return spec["components"]["schemas"][name]  # type: ignore[no-any-return]


def _components(spec: Dict[str, Any], stem: str) -> Iterator[Tuple[str, Dict[str, Any]]]:
    for name, schema in spec["components"]["schemas"].items():
        if name == stem or name.startswith(stem + "-"):
            yield name, schema


def test_openapi_renders_every_field_type() -> None:
    app = everything_app("solidb://admin:x@127.0.0.1:1/never")  # openapi() needs no server
    spec = app.openapi()
    text = json.dumps(spec)  # JSON all the way down
    assert json.loads(text)["openapi"].startswith("3.")
    everything = dict(_components(spec, "CfEverything"))
    assert everything, sorted(spec["components"]["schemas"])
    # one public shape, in Python names: no stored names, no database in ids
    public = set(CfEverything.model_fields)
    for name, schema in everything.items():
        props = schema["properties"]
        assert set(props) == public, (name, set(props) ^ public)
        assert {"text", "number", "at", "address", "code"} <= set(schema["required"])
        assert props["key"]["anyOf"][0]["type"] == "string"
        assert props["at"]["format"] == "date-time"
        assert props["day"]["format"] == "date"
        assert props["uid"]["format"] == "uuid"
        assert "binary" in json.dumps(props["blob"]) or "base64" in json.dumps(props["blob"])
        assert _resolve(spec, props["color"])["enum"] == ["red", "blue"]
        assert _resolve(spec, props["level"])["enum"] == [1, 2]
        assert props["kind"]["enum"] == ["a", "b"]
        assert _resolve(spec, props["address"])["properties"]["city"]["type"] == "string"
        assert props["author"]["anyOf"][0]["type"] == "string"  # a Reference holds an _id
        assert props["code"]["type"] == "string"  # Indexed adds nothing to the schema
        assert "objects" not in props
    link = dict(_components(spec, "CfLink"))
    assert link
    for schema in link.values():
        assert {"from_", "to"} <= set(schema["required"])
    page_names = [n for n in spec["components"]["schemas"] if n.startswith("Page")]
    assert any("CfEverything" in n for n in page_names) and any("CfLink" in n for n in page_names)
    for name in page_names:
        props = spec["components"]["schemas"][name]["properties"]
        assert props["items"]["type"] == "array" and "next_cursor" in props


def test_every_field_type_round_trips_through_the_app(db_url: str) -> None:
    app = everything_app(db_url)
    with TestClient(app) as client:
        author = CfAuthor(name="ann").save()
        body = {
            "text": "t", "number": 3, "ratio": 0.5, "flag": True, "at": "2024-05-06T07:08:09Z",
            "day": "2024-05-06", "clock": "07:08:09", "amount": "12.50", "uid": str(uuid.uuid4()),
            "color": "blue", "level": 2, "kind": "b", "tags": ["x"], "matrix": [[1, 2]],
            "attrs": {"a": 1}, "anything": {"n": [1, "two"]}, "address": {"city": "Oslo"},
            "addresses": [{"city": "Rome", "zip": "00100"}], "blob": "aGVsbG8=",
            "author": author.ref, "code": "c1", "rank": 7,
        }
        answer = client.post("/everything", json=body)
        assert answer.status_code == 200, answer.text
        created = answer.json()
        assert created["key"] and created["blob"] == "aGVsbG8="
        assert not any(name.startswith("_") for name in created)
        assert created["id"] == f"cf_everything/{created['key']}"  # no database name
        stored = CfEverything.objects.get(key=created["key"])
        assert stored.blob == b"hello" and stored.amount == decimal.Decimal("12.50")
        assert stored.color is CfColor.blue and stored.level is CfLevel.high
        assert client.get(f"/everything/{created['key']}").json() == created
        assert client.post("/everything", json={**body, "number": 4}).status_code == 409  # unique code
        assert client.post("/everything", json={**body, "number": "x"}).status_code == 422
        page = client.get("/everything").json()
        assert [i["key"] for i in page["items"]] == [created["key"]]
        link = client.post("/links", json={"from_": author.ref, "to": stored.ref, "weight": 2})
        assert link.status_code == 200, link.text
        assert link.json()["from_"] == author.ref and link.json()["key"]
        assert [i["to"] for i in client.get("/links").json()["items"]] == [stored.ref]


def test_session_dependencies_are_function_scoped() -> None:
    for alias in (SessionDep, AsyncSessionDep):
        assert get_args(alias)[0] is Session
        assert get_args(alias)[1].scope == "function"  # the commit comes before the response


# -- concurrency on one event loop ------------------------------------------------------


async def test_concurrent_requests_through_the_asgi_transport(db_url: str) -> None:
    """48 requests at once over httpx's ASGI transport: each commits or rolls back its own writes."""
    import httpx

    app = make_app(db_url)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            async def one(n: int) -> int:
                route = "/todos" if n % 3 else "/todos/sync"
                titles = [f"r{n}-{i}" for i in range(3)]
                answer = await client.post(route, json=titles, params={"fail": n % 4 == 0})
                return answer.status_code

            statuses = await asyncio.gather(*(one(n) for n in range(48)))
        assert statuses == [418 if n % 4 == 0 else 200 for n in range(48)]
        stored = await CfTodo.objects.values_list("title", flat=True).alist()
        expected = {f"r{n}-{i}" for n in range(48) if n % 4 for i in range(3)}
        assert sorted(stored) == sorted(expected)
    assert not hasattr(app.state, "solidb")


class CfEvent(Document):
    at: datetime.datetime
    flag: bool
    address: CfAddress

    class Meta:
        collection = "cf_events"


@pytest.mark.parametrize("ordering", [("at",), ("-at",), ("flag", "-at"), ("address__city", "at"), ("-flag",)])
def test_pagination_over_dates_booleans_and_nested_fields(odm_db: Database, ordering: Tuple[str, ...]) -> None:
    odm_db.register(CfEvent).sync()
    start = datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)
    CfEvent.objects.bulk_create([
        CfEvent(at=start + datetime.timedelta(hours=i % 5), flag=i % 3 == 0,
                address=CfAddress(city="xyz"[i % 3]))
        for i in range(17)
    ])
    qs = CfEvent.objects.order_by(*ordering)
    expected = [e.key for e in qs.order_by(*ordering, "key")]
    keys, _ = _walk(lambda cursor, n: paginate(qs, cursor, n), 3)
    assert keys == expected and len(set(keys)) == 17
