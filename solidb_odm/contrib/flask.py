"""Flask integration: the app's Database, a session per request, a ``flask solidb`` CLI group.

Needs the ``flask`` extra (``pip install solidb-odm[flask]``)::

    from solidb_odm.contrib.flask import SoliDB

    solidb = SoliDB(models=[Todo])          # or SoliDB(app, models=[...])

    def create_app() -> Flask:
        app = Flask(__name__)
        app.config["SOLIDB_URL"] = "solidb://admin:secret@127.0.0.1:6745/shop"
        solidb.init_app(app)
        return app

    @app.post("/todos")
    def add():
        todo = Todo(title=request.json["title"])
        solidb.session.add(todo)             # the request's session, opened here
        Todo(title="audit").save()           # joins it too, now that it is open
        return {"ok": True}

Configuration (``app.config``):

- ``SOLIDB_URL``: a ``solidb://`` URL for :func:`solidb_odm.connect`;
- ``SOLIDB_OPTIONS``: more ``connect()`` keywords (``{"pool_size": 8}``);
- ``SOLIDB_EAGER_SESSION``: open the request's session before every view
  (default False: it opens on first use of ``solidb.session``).

The Database is made on the app's first request (or first ``solidb.db``) and
becomes the default one, so models work in views without ``using()``.

The request's session opens lazily, on the first ``solidb.session``, in the
request's context: from then on a plain ``obj.save()`` or ``Model.objects``
query in the view joins it (a save made *before* that writes on its own;
``SOLIDB_EAGER_SESSION`` opens it before the view for every request). It ends
in ``after_request``, before the response leaves: an answer below 400 commits
(a failed commit answers 500), an error answer (``abort(404)``, an error
handler's 4xx, the 500 of an unhandled exception) rolls back. A request that
never reaches ``after_request`` rolls back at ``teardown_request``.

``flask solidb ping`` checks the server, ``flask solidb sync [--schema]``
creates the collections and indexes of the registered models, ``flask solidb
collections`` lists the collections.
"""

from __future__ import annotations

import threading
from contextlib import ExitStack
from typing import Any, Dict, Iterable, List, Optional, Tuple, Type

import click
from flask import Flask, Response, current_app, g, has_request_context
from flask.cli import AppGroup

from .. import exceptions as exc
from ..database import Database, connect, get_default_database, set_default_database
from ..models import Document
from ..session import Session

__all__ = ["SoliDB", "cli"]

#: ``app.extensions`` key, and the ``g`` attribute holding the request's session
EXTENSION = "solidb"
_G_SESSION = "_solidb_session"


class _AppState:
    """What the extension keeps per app: the Database, made on first use."""

    def __init__(self, owner: SoliDB) -> None:
        self.owner = owner
        self.db: Optional[Database] = owner._database
        self.owned = False
        self.lock = threading.Lock()


class SoliDB:
    """The extension: ``SoliDB(app)``, or ``SoliDB()`` then ``init_app(app)`` per app."""

    def __init__(
        self,
        app: Optional[Flask] = None,
        *,
        models: Iterable[Type[Document]] = (),
        database: Optional[Database] = None,
    ) -> None:
        self._models: List[Type[Document]] = list(models)
        #: a Database made elsewhere: used as is, never closed by the extension
        self._database = database
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        """Read the configuration, install the request hooks and the ``solidb`` CLI group."""
        app.config.setdefault("SOLIDB_URL", None)
        app.config.setdefault("SOLIDB_OPTIONS", {})
        app.config.setdefault("SOLIDB_EAGER_SESSION", False)
        app.extensions[EXTENSION] = _AppState(self)
        app.before_request(self._before_request)
        app.after_request(self._after_request)
        app.teardown_request(self._teardown_request)
        app.cli.add_command(cli)

    def register(self, *models: Type[Document]) -> SoliDB:
        """Add models (``sync`` creates their collections); also on Databases made already."""
        self._models.extend(models)
        return self

    # -- the Database ---------------------------------------------------------

    def _state(self, app: Optional[Flask] = None) -> _AppState:
        app = app if app is not None else current_app
        state = app.extensions.get(EXTENSION)
        if not isinstance(state, _AppState) or state.owner is not self:
            raise exc.SoliDBError("this app was not set up with this SoliDB (call init_app(app))")
        return state

    def get_db(self, app: Optional[Flask] = None) -> Database:
        """The app's Database (``app`` defaults to the current one), connected on first use."""
        the_app = app if app is not None else current_app._get_current_object()  # type: ignore[attr-defined]
        state = self._state(the_app)
        db = state.db
        if db is None:
            with state.lock:
                db = state.db
                if db is None:
                    db = state.db = self._connect(the_app)
                    state.owned = True
        db.register(*self._models)
        return db

    def _connect(self, app: Flask) -> Database:
        url = app.config.get("SOLIDB_URL")
        options: Dict[str, Any] = dict(app.config.get("SOLIDB_OPTIONS") or {})
        if url is None and not options:
            raise exc.SoliDBError("set SOLIDB_URL (or SOLIDB_OPTIONS) in the app's config")
        return connect(url, **options)

    @property
    def db(self) -> Database:
        """The current app's Database."""
        return self.get_db()

    def close(self, app: Optional[Flask] = None) -> None:
        """Close the Database the extension made for ``app`` (made again on next use)."""
        state = self._state(app)
        with state.lock:
            db, state.db = state.db, self._database
            owned, state.owned = state.owned, False
        if db is not None and owned:
            try:
                if get_default_database() is db:
                    set_default_database(None)
            except exc.SoliDBError:
                pass
            db.close()

    # -- the request's session -----------------------------------------------------

    @property
    def session(self) -> Session:
        """The current request's session, opened (and its transaction begun) on first use."""
        if not has_request_context():
            raise exc.SessionError(
                "solidb.session belongs to a request; outside one use `with solidb.db.session():`"
            )
        opened: Optional[Tuple[ExitStack, Session]] = g.get(_G_SESSION)
        if opened is None:
            stack = ExitStack()
            session = stack.enter_context(self.get_db().session())
            opened = (stack, session)
            setattr(g, _G_SESSION, opened)
        return opened[1]

    @property
    def session_open(self) -> bool:
        """True once the current request opened its session."""
        return has_request_context() and g.get(_G_SESSION) is not None

    def _before_request(self) -> None:
        self.get_db()  # connected, and the default database, before the view runs
        if current_app.config.get("SOLIDB_EAGER_SESSION"):
            self.session  # noqa: B018  # opens it

    def _after_request(self, response: Response) -> Response:
        opened: Optional[Tuple[ExitStack, Session]] = g.pop(_G_SESSION, None)
        if opened is not None:
            stack, session = opened
            if response.status_code >= 400:
                session.rollback()  # an error answer keeps nothing
            stack.close()  # commits; a failed commit raises, and Flask answers 500
        return response

    def _teardown_request(self, error: Optional[BaseException]) -> None:
        opened: Optional[Tuple[ExitStack, Session]] = g.pop(_G_SESSION, None)
        if opened is not None:  # after_request did not run
            stack, session = opened
            try:
                session.rollback()
            finally:
                stack.close()


def _extension() -> SoliDB:
    state = current_app.extensions.get(EXTENSION)
    if not isinstance(state, _AppState):
        raise click.ClickException("this app has no SoliDB extension (SoliDB(app) or init_app)")
    return state.owner


#: ``flask solidb ...``; ``init_app`` adds it to the app's CLI.
cli = AppGroup("solidb", help="SoliDB: check the server, create collections and indexes.")


@cli.command("ping")
def ping_command() -> None:
    """Check that the server answers (and the credentials work)."""
    try:
        db = _extension().get_db()
        latency = db.client.ping()
    except exc.SoliDBError as error:
        raise click.ClickException(f"SoliDB is not reachable: {error}") from error
    click.echo(f"ok: database {db.name!r} answered in {latency:.1f} ms")


@cli.command("sync")
@click.option("--schema", is_flag=True, help="Also push the models' JSON schemas to the server.")
def sync_command(schema: bool) -> None:
    """Create missing collections and declared indexes of the registered models."""
    db = _extension().get_db()
    created = db.sync(schema=schema)
    for kind in ("collections", "indexes", "schemas"):
        names = created.get(kind) or []
        click.echo(f"{kind}: {', '.join(names) if names else '(none created)'}")
    click.echo(f"{len(db.models)} models in sync on database {db.name!r}")


@cli.command("collections")
def collections_command() -> None:
    """List the database's collections."""
    for name in sorted(_extension().get_db().collection_names()):
        click.echo(name)
