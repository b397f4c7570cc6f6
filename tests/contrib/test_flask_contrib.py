"""solidb_odm.contrib.flask against a real server, through Flask's test client and CLI runner."""

from __future__ import annotations

import threading
from typing import Annotated, Any, Dict, Iterator, List, Optional

import pytest
from flask import Flask, abort, request

from solidb_odm import Document, Indexed, exceptions
from solidb_odm.contrib.flask import SoliDB
from solidb_odm.database import Database, get_default_database, set_default_database
from solidb_odm.session import current_session
from solidb_odm.testing import SoliDBServer


class FcNote(Document):
    text: str
    request: str = ""

    class Meta:
        collection = "fc_notes"


class FcUser(Document):
    email: Annotated[str, Indexed(unique=True)]

    class Meta:
        collection = "fc_users"


class Refused(Exception):
    pass


@pytest.fixture
def db_url(solidb_server: SoliDBServer, solidb_database: str) -> Iterator[str]:
    yield f"{solidb_server.url}/{solidb_database}"
    set_default_database(None)


def make_app(url: str, *, eager: bool = False, solidb: Optional[SoliDB] = None, sync: bool = True) -> Flask:
    app = Flask(__name__)
    app.config.update(SOLIDB_URL=url, SOLIDB_OPTIONS={"pool_size": 8}, SOLIDB_EAGER_SESSION=eager)
    ext = solidb or SoliDB(models=[FcNote, FcUser])
    ext.init_app(app)
    app.extensions["test_solidb"] = ext

    @app.errorhandler(Refused)
    def refused(error: Refused) -> Any:
        return {"refused": str(error)}, 404

    @app.post("/notes")
    def add_notes() -> Any:
        body: Dict[str, Any] = request.get_json()
        s = ext.session  # opens the request's session
        states = []
        for i, text in enumerate(body["texts"]):
            note = FcNote(text=text, request=body.get("rid", ""))
            if i % 2:
                s.add(note)  # inserted at commit
                states.append("added")
            else:
                note.save()  # the session is open in this context: joins it
                states.append(s.state(note).value)
        outcome = body.get("outcome")
        if outcome == "abort":
            abort(400)
        if outcome == "raise":
            raise RuntimeError("boom")
        if outcome == "refuse":
            raise Refused("handled as 404")
        return {"states": states, "current": current_session() is s,
                "seen": FcNote.objects.filter(request=body.get("rid", "")).count()}

    @app.post("/plain")
    def plain() -> Any:
        note = FcNote(text="plain").save()  # before any use of ext.session
        in_session = ext.session_open
        if request.args.get("fail"):
            abort(400)
        return {"in_session": in_session, "key": note.key}

    @app.post("/users")
    def add_users() -> Any:
        for email in request.get_json():
            ext.session.add(FcUser(email=email))
        return {"added": True}

    @app.get("/count")
    def count() -> Any:
        return {"notes": FcNote.objects.count(), "open": current_session() is not None}

    if sync:
        with app.app_context():
            ext.db.sync()
    return app


def texts() -> List[str]:
    return sorted(FcNote.objects.values_list("text", flat=True))


def test_init_app_connects_on_the_first_request(db_url: str, solidb_database: str) -> None:
    app = make_app(db_url)
    ext: SoliDB = app.extensions["test_solidb"]
    client = app.test_client()
    assert client.get("/count").json == {"notes": 0, "open": False}
    with app.app_context():
        db = ext.db
        assert db.name == solidb_database and get_default_database() is db
        assert db.models["fc_notes"] is FcNote
    ext.close(app)
    with pytest.raises(exceptions.SoliDBError):
        get_default_database()


def test_a_session_per_request_committed_or_rolled_back(db_url: str) -> None:
    app = make_app(db_url)
    client = app.test_client()
    answer = client.post("/notes", json={"texts": ["a", "b", "c"], "rid": "r1"})
    assert answer.status_code == 200
    assert answer.json == {"states": ["persistent", "added", "persistent"], "current": True, "seen": 3}  # its own pending writes too
    assert texts() == ["a", "b", "c"]
    for outcome, status in (("abort", 400), ("raise", 500), ("refuse", 404)):
        answer = client.post("/notes", json={"texts": ["x", "y"], "outcome": outcome})
        assert answer.status_code == status, outcome
        assert texts() == ["a", "b", "c"], outcome  # rolled back
    assert client.get("/count").json == {"notes": 3, "open": False}  # nothing left open
    assert current_session() is None


def test_a_failed_commit_answers_500(db_url: str) -> None:
    app = make_app(db_url)
    client = app.test_client()
    assert client.post("/users", json=["a@x"]).status_code == 200
    assert client.post("/users", json=["b@x", "a@x"]).status_code == 500  # unique email
    assert sorted(FcUser.objects.values_list("email", flat=True)) == ["a@x"]


def test_lazy_and_eager_sessions(db_url: str) -> None:
    lazy = make_app(db_url).test_client()
    answer = lazy.post("/plain", query_string={"fail": 1})
    assert answer.status_code == 400
    assert texts() == ["plain"]  # no session was open: the save wrote on its own
    eager_app = make_app(db_url, eager=True)
    answer = eager_app.test_client().post("/plain", query_string={"fail": 1})
    assert answer.status_code == 400
    assert texts() == ["plain"]  # the eager session was open and rolled back
    answer = eager_app.test_client().post("/plain")
    assert answer.json is not None and answer.json["in_session"] is True
    assert texts() == ["plain", "plain"]


def test_the_session_belongs_to_a_request(db_url: str) -> None:
    app = make_app(db_url, sync=False)
    ext: SoliDB = app.extensions["test_solidb"]
    with app.app_context():
        with pytest.raises(exceptions.SessionError, match="request"):
            ext.session  # noqa: B018
        assert not ext.session_open
    ext.close(app)


def test_concurrent_requests_keep_their_own_sessions(db_url: str) -> None:
    app = make_app(db_url)
    errors: List[str] = []

    def worker(n: int) -> None:
        client = app.test_client()
        for i in range(5):
            rid = f"w{n}-{i}"
            fail = i % 2 == 1
            answer = client.post("/notes", json={"texts": [f"{rid}-{j}" for j in range(4)],
                                                  "rid": rid, "outcome": "abort" if fail else None})
            if answer.status_code != (400 if fail else 200):
                errors.append(f"{rid}: {answer.status_code}")
            elif not fail and answer.json is not None and answer.json["seen"] != 4:
                errors.append(f"{rid} saw {answer.json['seen']}")

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    stored = FcNote.objects.values_list("request", flat=True)
    assert sorted(set(stored)) == sorted(f"w{n}-{i}" for n in range(12) for i in (0, 2, 4))
    assert len(stored) == 12 * 3 * 4


def test_one_extension_for_two_apps(solidb_server: SoliDBServer, db_url: str) -> None:
    admin = solidb_server.client()
    other = "test_fc_second"
    try:
        if other not in admin.list_databases():
            admin.create_database(other)
        ext = SoliDB(models=[FcNote])
        first = make_app(db_url, solidb=ext)
        second = make_app(f"{solidb_server.url}/{other}", solidb=ext)
        with first.app_context():
            first_db: Database = ext.db
        with second.app_context():
            second_db: Database = ext.db
        assert first_db is not second_db and second_db.name == other
        ext.close(first)
        ext.close(second)
    finally:
        admin.delete_database(other)
        admin.close()


# -- the CLI group ----------------------------------------------------------------------


def test_cli_group(db_url: str) -> None:
    app = make_app(db_url, sync=False)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["solidb", "ping"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("ok: database")
    result = runner.invoke(args=["solidb", "sync"])
    assert result.exit_code == 0, result.output
    assert "collections: fc_notes, fc_users" in result.output
    assert "fc_users.idx_fc_users_email" in result.output
    result = runner.invoke(args=["solidb", "sync"])
    assert "collections: (none created)" in result.output
    result = runner.invoke(args=["solidb", "collections"])
    assert result.exit_code == 0 and {"fc_notes", "fc_users"} <= set(result.output.split())
    result = runner.invoke(args=["solidb", "--help"])
    assert {"ping", "sync", "collections"} <= set(result.output.split())
    app.extensions["test_solidb"].close(app)


def test_cli_ping_fails_cleanly_without_a_server() -> None:
    app = make_app("solidb://admin:x@127.0.0.1:1/nowhere", sync=False)
    result = app.test_cli_runner().invoke(args=["solidb", "ping"])
    assert result.exit_code == 1
    assert "not reachable" in result.output


def test_init_app_without_a_url_says_so() -> None:
    app = Flask(__name__)
    ext = SoliDB(app)
    with app.app_context(), pytest.raises(exceptions.SoliDBError, match="SOLIDB_URL"):
        ext.db  # noqa: B018
