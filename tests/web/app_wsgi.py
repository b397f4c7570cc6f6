"""A Flask app over one Database, and two threaded WSGI servers to serve it.

Each request runs on one thread from start to end, so a session opened for
it (``with db.session()`` in the view, ``@atomic`` on the view, or Flask's
request hooks) is open in that thread's context for the whole view, and a
plain ``save()`` there joins it. Routes (all ``POST``, ``?n=`` documents,
``?fail=1`` to raise after writing):

- ``/with/<rid>``: ``with db.session() as s`` in the view; writes are, in
  turn, an implicit ``save()``, ``save(session=s)`` and ``s.add(obj)``;
- ``/with-thread/<rid>``: the same session; odd writes are a plain ``save()``
  in a new thread, which starts with nothing open and so writes on its own;
- ``/hooks/<rid>``: a session per request from ``before_request``, committed
  in ``after_request`` for answers below 400, rolled back otherwise (and in
  ``teardown_request`` if it is still open); the view saves implicitly;
- ``/atomic/<rid>``: a view decorated with ``@atomic(db)`` (Django style);
- ``/plain/<rid>``: no session, plain saves.

Servers: werkzeug's ``ThreadedWSGIServer`` (a new thread per request) and
:class:`PooledWSGIServer` (a fixed pool of reused threads, as gunicorn's
``gthread`` worker or mod_wsgi run an app).
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from typing import Any, Dict, Iterator, Tuple

from flask import Blueprint, Flask, Response, g, jsonify, request
from werkzeug.serving import BaseWSGIServer, ThreadedWSGIServer, WSGIRequestHandler

from solidb_odm import Database
from solidb_odm.session import atomic, current_session

from .common import Deliberate, Owners, Recorder, WebNote

PAUSE = 0.01


def _params() -> Tuple[int, bool]:
    return int(request.args.get("n", 4)), request.args.get("fail", "0") in ("1", "true")


def create_app(db: Database, owners: Owners) -> Flask:
    app = Flask(__name__)

    @app.errorhandler(Deliberate)
    def deliberate(error: Deliberate) -> Tuple[Response, int]:
        return jsonify({"deliberate": True, **error.report}), 500

    def seen(rec: Recorder, rid: str) -> None:
        session = current_session(db)
        rec.seen = {
            "ctx": WebNote.objects.filter(request=rid).count(),
            "session": None if session is None else session.query(WebNote).filter(request=rid).count(),
        }

    def finish(rec: Recorder, fail: bool) -> Dict[str, Any]:
        if fail:
            raise rec.fail()
        return rec.report()

    # -- a session per view ------------------------------------------------------------

    @app.post("/with/<rid>")
    def with_session(rid: str) -> Dict[str, Any]:
        n, fail = _params()
        rec = Recorder(db, owners, rid, "with")
        with db.session() as s:
            owners.claim(s, rid)
            for seq in range(n):
                obj = rec.note(seq, "session")
                ctx = rec.context_owner()
                if seq % 3 == 0:
                    obj.save()  # the view's thread has the session open: joins it
                elif seq % 3 == 1:
                    obj.save(session=s)
                else:
                    s.add(obj)
                rec.wrote(obj, ctx)
                time.sleep(PAUSE)
            seen(rec, rid)
            return finish(rec, fail)

    @app.post("/with-thread/<rid>")
    def with_thread(rid: str) -> Dict[str, Any]:
        n, fail = _params()
        rec = Recorder(db, owners, rid, "with-thread")

        def plain_in_thread(seq: int) -> None:
            obj = rec.note(seq, "plain")
            ctx = rec.context_owner()  # a new thread: nothing open
            obj.save()
            rec.wrote(obj, ctx)

        with db.session() as s:
            owners.claim(s, rid)
            for seq in range(n):
                if seq % 2:
                    worker = threading.Thread(target=plain_in_thread, args=(seq,))
                    worker.start()
                    worker.join()
                else:
                    obj = rec.note(seq, "session")
                    ctx = rec.context_owner()
                    obj.save()
                    rec.wrote(obj, ctx)
                time.sleep(PAUSE)
            seen(rec, rid)
            return finish(rec, fail)

    # -- a session per request, from Flask's request hooks -----------------------------

    hooks = Blueprint("hooks", __name__, url_prefix="/hooks")

    @hooks.before_request
    def open_session() -> None:
        stack = ExitStack()
        session = stack.enter_context(db.session())
        owners.claim(session, (request.view_args or {}).get("rid", "?"))
        g.solidb = (stack, session)

    @hooks.after_request
    def end_session(response: Response) -> Response:
        stack, session = g.pop("solidb")
        if response.status_code >= 400:
            session.rollback()
        stack.close()  # commits (nothing left after a rollback); a failed commit answers 500
        return response

    @hooks.teardown_request
    def close_session(error: BaseException | None) -> None:
        opened = g.pop("solidb", None)  # still here only when after_request did not run
        if opened is not None:
            stack, session = opened
            session.rollback()
            stack.close()

    @hooks.post("/<rid>")
    def hooked(rid: str) -> Dict[str, Any]:
        n, fail = _params()
        rec = Recorder(db, owners, rid, "hooks")
        for seq in range(n):
            obj = rec.note(seq, "session")
            ctx = rec.context_owner()
            obj.save()
            rec.wrote(obj, ctx)
            time.sleep(PAUSE)
        seen(rec, rid)
        return finish(rec, fail)

    app.register_blueprint(hooks)

    # -- Django style: @atomic on the view ---------------------------------------------

    @app.post("/atomic/<rid>")
    @atomic(db)
    def atomic_view(rid: str) -> Dict[str, Any]:
        """Writes n notes in one transaction."""
        n, fail = _params()
        session = current_session(db)
        assert session is not None
        owners.claim(session, rid)
        rec = Recorder(db, owners, rid, "atomic")
        for seq in range(n):
            obj = rec.note(seq, "session")
            ctx = rec.context_owner()
            obj.save()
            rec.wrote(obj, ctx)
            time.sleep(PAUSE)
        seen(rec, rid)
        return finish(rec, fail)

    # -- no session ----------------------------------------------------------------------

    @app.post("/plain/<rid>")
    def plain(rid: str) -> Dict[str, Any]:
        n, fail = _params()
        rec = Recorder(db, owners, rid, "plain")
        for seq in range(n):
            obj = rec.note(seq, "plain")
            ctx = rec.context_owner()
            obj.save()
            rec.wrote(obj, ctx)
            time.sleep(PAUSE)
        seen(rec, rid)
        return finish(rec, fail)

    return app


# -- servers ---------------------------------------------------------------------------------


class QuietHandler(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


class PooledWSGIServer(BaseWSGIServer):
    """Serves each connection on one of ``workers`` reused threads.

    A reused thread keeps its context from one request to the next, so this
    shape shows whether anything a request opened outlives it.
    """

    multithread = True

    def __init__(self, host: str, port: int, app: Any, *, workers: int) -> None:
        super().__init__(host, port, app, handler=QuietHandler)
        self.workers = ThreadPoolExecutor(workers, thread_name_prefix="wsgi-worker")

    def process_request(self, request: Any, client_address: Any) -> None:
        self.workers.submit(self._serve, request, client_address)

    def _serve(self, request: Any, client_address: Any) -> None:
        try:
            self.finish_request(request, client_address)
        except Exception:
            self.handle_error(request, client_address)
        finally:
            self.shutdown_request(request)

    def server_close(self) -> None:
        super().server_close()
        self.workers.shutdown(wait=True)


@contextmanager
def serve(app: Flask, shape: str) -> Iterator[str]:
    """``with serve(app, shape) as url``: ``app`` served on 127.0.0.1 on a free port."""
    server: BaseWSGIServer
    if shape == "thread-per-request":
        server = ThreadedWSGIServer("127.0.0.1", 0, app, handler=QuietHandler)
    elif shape == "thread-pool":
        server = PooledWSGIServer("127.0.0.1", 0, app, workers=8)
    else:
        raise ValueError(shape)
    thread = threading.Thread(target=server.serve_forever, name=f"wsgi-{shape}", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)
