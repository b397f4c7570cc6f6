"""The ``solidb-odm`` command: a dev server, sync, migrations, export/import and a shell.

Installed as a console script with the ``cli`` extra (``pip install
solidb-odm[cli]``: typer and rich). Every command takes the server from
``--url`` or ``$SOLIDB_URL`` and the models from ``--models`` or
``$SOLIDB_MODELS``, and fails with one line on stderr and exit status 1.
See docs/cli.md.
"""

from __future__ import annotations

import importlib
from typing import List, Optional

import typer

from . import migrate, serve, shell, sync, transfer

app = typer.Typer(
    name="solidb-odm",
    help="SoliDB ODM: a dev server, sync, migrations, export/import and a shell.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
"""The typer application (``solidb_odm.cli:app``); ``main()`` runs it."""

app.command()(serve.serve)
app.command()(sync.sync)
app.command()(migrate.makemigrations)
app.command()(migrate.migrate)
app.command()(migrate.rollback)
app.command()(migrate.status)
app.command("export")(transfer.export)
app.command("import")(transfer.import_)
app.command()(shell.shell)


def _add_cron() -> None:
    """``cron`` comes from ``solidb_odm.cli.cron`` (the scheduler's command), when it is there."""
    try:
        module = importlib.import_module(f"{__name__}.cron")
    except ModuleNotFoundError as err:
        if err.name == f"{__name__}.cron":
            return  # not part of this installation
        reason = str(err)
    except ImportError as err:
        reason = str(err)
    else:
        app.add_typer(module.cron_app, name="cron")
        return

    unavailable = typer.Typer(help=f"Unavailable: {reason}")

    @unavailable.callback(invoke_without_command=True)
    def cron() -> None:
        typer.echo(f"error: cron is unavailable: {reason}", err=True)
        raise typer.Exit(1)

    app.add_typer(unavailable, name="cron")


_add_cron()


def main(argv: Optional[List[str]] = None) -> None:
    """The console script's entry point."""
    app(args=argv, prog_name="solidb-odm")
