"""A FastAPI app with one session per request, driven through FastAPI's TestClient.

Run against a throw-away server:
    .venv/bin/python -m solidb_odm.testing run -- .venv/bin/python examples/web_fastapi.py

Two ways to give an endpoint the request's session (docs/web-apps.md):

- the async dependency ``get_asession`` runs in the request's own context,
  so inside the endpoint (sync or async) a plain ``save()`` joins the session;
- the sync dependency ``get_session`` runs on FastAPI's thread pool in a
  context of its own, so the endpoint reaches its session explicitly
  (``obj.save(session=s)``, ``s.add(obj)``); a plain ``save()`` there writes
  on its own, outside the request's transaction.

``scope="function"`` commits before the response is sent, so a failed
commit answers 500 instead of a 200 that was already on its way.
"""

from __future__ import annotations

from typing import Annotated, AsyncIterator, Dict, Iterator, List

from _connection import URL
from fastapi import Depends, FastAPI, HTTPException
from fastapi.testclient import TestClient
from pydantic import BaseModel

from solidb_odm import Document, connect
from solidb_odm.session import Session


class Todo(Document):
    title: str
    done: bool = False

    class Meta:
        collection = "todos"


db = connect(URL.rstrip("/") + "/web_fastapi_demo")
db.register(Todo).sync()
Todo.objects.all().delete()


def get_session() -> Iterator[Session]:
    with db.session() as s:  # commits when the endpoint returns, rolls back if it raises
        yield s


async def get_asession() -> AsyncIterator[Session]:
    async with db.session() as s:
        yield s


SyncSession = Annotated[Session, Depends(get_session, scope="function")]
AsyncSession = Annotated[Session, Depends(get_asession, scope="function")]

app = FastAPI()


class NewTodos(BaseModel):
    titles: List[str]


@app.post("/todos")
async def add_todos(body: NewTodos, s: AsyncSession) -> Dict[str, List[str]]:
    """All of them or none: an empty title rolls back the ones saved before it."""
    keys = []
    for title in body.titles:
        if not title:
            raise HTTPException(422, "empty title")
        todo = Todo(title=title)
        await todo.asave()  # the async dependency's session is open here: joins it
        keys.append(todo.key or "")
    return {"keys": keys}


@app.post("/todos/sync")
def add_todos_sync(body: NewTodos, s: SyncSession) -> Dict[str, int]:
    """The same from a sync endpoint with the sync dependency: the session is passed explicitly."""
    for title in body.titles:
        if not title:
            raise HTTPException(422, "empty title")
        s.add(Todo(title=title))  # inserted at commit, when the endpoint has returned
    return {"added": len(body.titles)}


@app.post("/todos/{key}/done")
def mark_done(key: str, s: SyncSession) -> Dict[str, str]:
    todo = s.get(Todo, key)
    if todo is None:
        raise HTTPException(404, "no such todo")
    todo.done = True  # tracked by the session: written at commit
    return {"done": todo.title}


@app.get("/todos")
async def list_todos() -> List[Dict[str, object]]:
    return [{"title": t.title, "done": t.done} async for t in Todo.objects.order_by("title")]


with TestClient(app) as client:
    answer = client.post("/todos", json={"titles": ["buy milk", "write docs"]})
    print("POST /todos (async dependency, implicit save):", answer.status_code, answer.json())
    first_key = answer.json()["keys"][0]

    answer = client.post("/todos", json={"titles": ["kept?", ""]})
    print("POST /todos with an empty title:", answer.status_code, answer.json())

    answer = client.post("/todos/sync", json={"titles": ["call mum"]})
    print("POST /todos/sync (sync dependency, s.add):", answer.status_code, answer.json())

    answer = client.post(f"/todos/{first_key}/done")
    print(f"POST /todos/{first_key}/done:", answer.status_code, answer.json())

    todos = client.get("/todos").json()
    print("GET /todos:", todos)

assert todos == [
    {"title": "buy milk", "done": True},
    {"title": "call mum", "done": False},
    {"title": "write docs", "done": False},
], todos  # "kept?" was rolled back with the request that failed
print("the failed request left nothing behind; every other write landed")
db.close()
