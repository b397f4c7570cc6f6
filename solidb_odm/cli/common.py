"""What every command shares: the connection and models options, and one-line failures.

Expected failures (a bad URL, a server that is down, a models module that
does not import, a migration that cannot run) end the command with
``error: <reason>`` on stderr and exit status 1, never a traceback.
"""

from __future__ import annotations

import functools
import importlib
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any, Dict, List, Optional, Type, TypeVar

import typer

from .. import exceptions as exc
from ..database import Database, connect, parse_url
from ..models import Document

F = TypeVar("F", bound=Callable[..., Any])

UrlOption = Annotated[Optional[str], typer.Option(
    "--url", envvar="SOLIDB_URL", show_envvar=True,
    help="The server and database: solidb://user:password@host:port/database.")]
ModelsOption = Annotated[Optional[str], typer.Option(
    "--models", "-m", envvar="SOLIDB_MODELS", show_envvar=True,
    help="Module(s) defining the Document models, comma-separated (importing them registers them).")]
DirOption = Annotated[str, typer.Option(
    "--dir", envvar="SOLIDB_MIGRATIONS", show_envvar=True, help="The migrations directory.")]


class CommandError(Exception):
    """An expected failure: the message is the one line the user sees."""


def fail(message: str) -> CommandError:
    return CommandError(message)


def one_line(err: BaseException) -> str:
    text = str(err).strip() or type(err).__name__
    return text.splitlines()[0]


def handle_errors(func: F) -> F:
    """Turn expected failures into ``error: <reason>`` and exit status 1."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (CommandError, exc.SoliDBError, OSError) as err:
            typer.echo(f"error: {one_line(err)}", err=True)
            raise typer.Exit(1) from None
        except KeyboardInterrupt:
            typer.echo("error: interrupted", err=True)
            raise typer.Exit(130) from None

    return wrapper  # type: ignore[return-value]


# -- the connection -------------------------------------------------------------------


def open_database(url: Optional[str], *, default: bool = False) -> Database:
    """Connect to the URL's database (created when missing)."""
    if not url:
        raise fail("no server URL: pass --url or set SOLIDB_URL "
                   "(solidb://user:password@host:port/database)")
    options = parse_url(url)
    if not options.get("database"):
        raise fail(f"the URL names no database: add it as the path (…:{options['port']}/mydb)")
    try:
        return connect(url, default=default, timeout=60.0)
    except exc.ConnectionError as err:
        raise fail(f"cannot reach the server at {options['host']}:{options['port']}: "
                   f"{one_line(err)}") from err


@contextmanager
def database(url: Optional[str], *, default: bool = False) -> Iterator[Database]:
    db = open_database(url, default=default)
    try:
        yield db
    finally:
        db.close()


# -- the models -----------------------------------------------------------------------


def _subclasses(cls: type) -> Iterator[type]:
    sub: type
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def _concrete(model: Type[Document]) -> bool:
    try:
        model.collection_name()
    except exc.ValidationError:
        return False
    return True


def load_models(spec: Optional[str], *, required: bool = True) -> List[Type[Document]]:
    """Import the models module(s) and return the Document models they define."""
    if not spec:
        if required:
            raise fail("no models: pass --models my_app.models or set SOLIDB_MODELS")
        return []
    if os.getcwd() not in sys.path:  # console scripts do not put the working directory there
        sys.path.insert(0, os.getcwd())
    modules = [m.strip() for m in spec.split(",") if m.strip()]
    for module in modules:
        try:
            importlib.import_module(module)
        except ImportError as err:
            raise fail(f"cannot import models module {module!r}: {one_line(err)}") from err
        except Exception as err:
            raise fail(f"models module {module!r} failed to import: "
                       f"{type(err).__name__}: {one_line(err)}") from err
    found: Dict[str, Type[Document]] = {}
    for cls in _subclasses(Document):
        owner = cls.__module__
        if any(owner == m or owner.startswith(m + ".") for m in modules) and _concrete(cls):
            found[f"{owner}.{cls.__qualname__}"] = cls
    if not found:
        raise fail(f"{', '.join(modules)} defines no Document models")
    return [found[k] for k in sorted(found)]
