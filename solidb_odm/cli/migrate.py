"""``makemigrations``, ``migrate``, ``rollback`` and ``status``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, List, Optional

import typer

from .. import migrations as mig
from .common import DirOption, ModelsOption, UrlOption, database, fail, handle_errors, load_models
from .progress import reporter

RenameOption = Annotated[Optional[List[str]], typer.Option(
    "--rename", help="Declare a rename: collection=new_name or collection.field=new_field "
                     "(the field's collection by its new name). Repeatable.")]
LockTimeout = Annotated[float, typer.Option(
    "--lock-timeout", help="Seconds to wait while another instance migrates.")]


@handle_errors
def makemigrations(
    models: ModelsOption = None,
    directory: DirOption = "migrations",
    rename: RenameOption = None,
    name: Annotated[Optional[str], typer.Option("--name", help="The file's name after its number.")] = None,
    empty: Annotated[bool, typer.Option(
        "--empty", help="Write a migration with no steps, for a data step.")] = False,
    check: Annotated[bool, typer.Option(
        "--check", help="Write nothing; exit 1 when the models changed without a migration.")] = False,
    schema: Annotated[bool, typer.Option(help="Track the models' JSON schema.")] = True,
) -> None:
    """Write the next migration from the difference between the models and the last one."""
    draft = _draft(models, directory, rename or [], name, empty, schema)
    if draft is None:
        typer.echo("No changes detected.")
        return
    if check:
        steps = "; ".join(op.describe() for op in draft.operations)
        raise fail(f"the models changed without a migration ({steps}): run `solidb-odm makemigrations`")
    path = mig.write(draft, directory)
    typer.echo(f"Wrote {path}")
    for op in draft.operations:
        warning = op.warning()
        typer.echo(f"  - {op.describe()}" + (f"  [warning: {warning}]" if warning else ""))


def _draft(models: Optional[str], directory: str, renames: List[str], name: Optional[str],
           empty: bool, schema: bool) -> Optional[mig.Draft]:
    return mig.draft(load_models(models), directory, renames=renames, name=name, empty=empty,
                     schema=schema)


@handle_errors
def migrate(
    target: Annotated[Optional[str], typer.Argument(
        help="Migrate to this migration (name or number); older than the current one rolls back.")] = None,
    url: UrlOption = None,
    directory: DirOption = "migrations",
    plan: Annotated[bool, typer.Option("--plan", help="Show what would run, and run nothing.")] = False,
    lock_timeout: LockTimeout = 60.0,
) -> None:
    """Apply the migrations that are not applied yet (under the migration lock)."""
    _run(url, directory, target, plan, lock_timeout, rollback=False)


@handle_errors
def rollback(
    target: Annotated[Optional[str], typer.Argument(
        help="Keep this migration and unapply the later ones ('zero': all). Default: the last one.")] = None,
    url: UrlOption = None,
    directory: DirOption = "migrations",
    plan: Annotated[bool, typer.Option("--plan", help="Show what would run, and run nothing.")] = False,
    lock_timeout: LockTimeout = 60.0,
) -> None:
    """Unapply migrations, newest first."""
    _run(url, directory, target, plan, lock_timeout, rollback=True)


def _run(url: Optional[str], directory: str, target: Optional[str], plan: bool, lock_timeout: float,
         *, rollback: bool) -> None:
    if not Path(directory).is_dir():
        raise fail(f"no migrations directory {directory!r}: run `solidb-odm makemigrations` first")
    with database(url) as db:
        migrator = mig.Migrator(db, directory, lock_timeout=lock_timeout, echo=typer.echo)
        if plan:
            steps = migrator.plan(target, rollback=rollback)
            if not steps:
                typer.echo("Nothing to do.")
            for step in steps:
                typer.echo(str(step))
                for op in (step.migration.operations if step.direction == mig.FORWARDS
                           else reversed(step.migration.operations)):
                    prefix = "" if step.direction == mig.FORWARDS else "undo "
                    warning = op.warning() if step.direction == mig.FORWARDS else None
                    typer.echo(f"  {prefix}{op.describe()}" + (f"  [warning: {warning}]" if warning else ""))
            return
        with reporter() as report:
            migrator.report = report
            done = migrator.rollback(target) if rollback else migrator.migrate(target)
        typer.echo("Nothing to do." if not done else f"Done: {len(done)} migration(s).")


@handle_errors
def status(url: UrlOption = None, directory: DirOption = "migrations") -> None:
    """List the migrations and whether this database has them applied."""
    with database(url) as db:
        rows = mig.Migrator(db, directory).status()
    if not rows:
        typer.echo(f"No migrations in {directory}.")
    for row in rows:
        mark = "[X]" if row.applied else ("[~]" if row.interrupted else "[ ]")
        extra = f"  applied {row.applied_at}" if row.applied_at else ""
        extra += "  (interrupted: run migrate to finish)" if row.interrupted else ""
        extra += "" if row.reversible else "  (irreversible)"
        typer.echo(f"{mark} {row.name}{extra}")
