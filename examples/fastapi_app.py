"""A FastAPI app on solidb_odm.contrib.fastapi, driven through FastAPI's TestClient.

Run against a throw-away server:
    .venv/bin/python -m solidb_odm.testing run -- .venv/bin/python examples/fastapi_app.py

- ``lifespan(url, models=..., sync=True)`` connects when the app starts (and
  creates the collections and indexes), and closes the Database when it stops;
- ``AsyncSessionDep``: the request's session, in the request's own context, so
  a plain ``await todo.asave()`` joins it; ``SessionDep``: a blocking session,
  reached explicitly (``s.add(obj)``). Both commit before the response;
- ``install_exception_handlers``: ``DoesNotExist`` answers 404, a unique
  index refusing a write 409, a ``ValidationError`` 422;
- ``Page[Todo]`` and ``apaginate``: keyset pages over ``-priority`` (ties
  broken by ``_key``), with an opaque ``next_cursor``.
"""

from __future__ import annotations

from typing import Annotated, Dict, List, Optional

from _connection import URL
from fastapi import FastAPI, HTTPException
from fastapi.testclient import TestClient
from pydantic import BaseModel

from solidb_odm import Document, Indexed
from solidb_odm.contrib.fastapi import (
    AsyncSessionDep,
    DatabaseDep,
    Page,
    SessionDep,
    apaginate,
    install_exception_handlers,
    lifespan,
)


class Todo(Document):
    slug: Annotated[str, Indexed(unique=True)]
    title: str
    priority: int = 0
    done: bool = False

    class Meta:
        collection = "todos"


class NewTodo(BaseModel):
    slug: str
    title: str
    priority: int = 0


app = FastAPI(lifespan=lifespan(URL.rstrip("/") + "/fastapi_app_demo", models=[Todo], sync=True))
install_exception_handlers(app)


@app.post("/todos")
async def add_todos(body: List[NewTodo], s: AsyncSessionDep) -> Dict[str, int]:
    """All of them or none: one slug taken already fails the commit, and the answer is 409."""
    for item in body:
        await Todo(**item.model_dump()).asave()  # joins the request's session
    return {"added": len(body)}


@app.get("/todos")
async def list_todos(cursor: Optional[str] = None, limit: int = 3) -> Page[Todo]:
    return await apaginate(Todo.objects.order_by("-priority"), cursor, limit)


@app.get("/todos/{slug}")
def get_todo(slug: str) -> Todo:
    return Todo.objects.get(slug=slug)  # DoesNotExist: 404


@app.post("/todos/{slug}/done")
def mark_done(slug: str, s: SessionDep) -> Todo:
    todo = s.query(Todo).get(slug=slug)  # tracked by the session
    if todo.done:
        raise HTTPException(409, "done already")
    todo.done = True  # written at commit, before the response
    return todo


@app.get("/stats")
def stats(db: DatabaseDep) -> Dict[str, object]:
    return {"database": db.name, "todos": Todo.objects.using(db).count()}


with TestClient(app) as client:
    Todo.objects.all().delete()
    todos = [{"slug": f"t{i}", "title": f"task {i}", "priority": i % 3} for i in range(8)]
    answer = client.post("/todos", json=todos)
    print("POST /todos:", answer.status_code, answer.json())

    answer = client.post("/todos", json=[{"slug": "new", "title": "new"}, {"slug": "t1", "title": "dup"}])
    print("POST /todos with a slug taken:", answer.status_code, answer.json())
    assert answer.status_code == 409

    print("GET /todos/nope:", client.get("/todos/nope").status_code)
    print("POST /todos/t4/done:", client.post("/todos/t4/done").json()["done"])
    print("POST /todos/t4/done again:", client.post("/todos/t4/done").status_code)
    print("GET /todos?cursor=garbage:", client.get("/todos", params={"cursor": "garbage"}).status_code)

    seen: List[str] = []
    params: Dict[str, object] = {"limit": 3}
    while True:
        page = client.get("/todos", params=params).json()
        print("page:", [(t["slug"], t["priority"]) for t in page["items"]])
        seen.extend(t["slug"] for t in page["items"])
        if page["next_cursor"] is None:
            break
        params["cursor"] = page["next_cursor"]
    stats_answer = client.get("/stats").json()
    print("GET /stats:", stats_answer)

assert sorted(seen) == sorted(t["slug"] for t in todos), seen  # every todo once; "new" rolled back
assert stats_answer["todos"] == 8
assert "/todos" in app.openapi()["paths"]
print("every todo listed exactly once; the failed request left nothing behind")
