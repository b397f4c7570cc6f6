"""``shell``: Python (IPython when installed) with the models and a connected ``db``."""

from __future__ import annotations

import code
import importlib
from typing import Annotated, Any, Dict, Optional

import typer

import solidb_odm

from .common import ModelsOption, UrlOption, database, handle_errors, load_models


def namespace(db: Any, models: list[Any]) -> Dict[str, Any]:
    """What the shell starts with: ``db``, ``odm`` (the package) and each model by class name."""
    found: Dict[str, Any] = {"db": db, "odm": solidb_odm}
    for model in models:
        found[model.__name__] = model
    return found


@handle_errors
def shell(
    url: UrlOption = None,
    models: ModelsOption = None,
    command: Annotated[Optional[str], typer.Option(
        "--command", "-c", help="Run this Python code in the shell's namespace and exit.")] = None,
    plain: Annotated[bool, typer.Option(
        "--plain", help="The standard Python shell, even with IPython.")] = False,
) -> None:
    """An interactive Python shell connected to the database, models loaded."""
    classes = load_models(models, required=False)
    with database(url, default=True) as db:
        db.register(*classes)
        scope = namespace(db, classes)
        if command is not None:
            exec(compile(command, "<solidb-odm shell -c>", "exec"), scope)
            return
        banner = (f"solidb-odm shell: db = {db!r}\n"
                  f"models: {', '.join(m.__name__ for m in classes) or '(none: pass --models)'}")
        if not plain:
            try:
                ipython = importlib.import_module("IPython")  # optional: only when installed
            except ImportError:
                pass
            else:
                typer.echo(banner)
                ipython.start_ipython(argv=[], user_ns=scope)
                return
        code.interact(banner=banner, local=scope, exitmsg="")
