"""Migration files: writing them from steps, and loading a directory of them.

A migration is a Python module named ``NNNN_name.py``::

    from solidb_odm import migrations as m

    previous = "0001_initial"          # None for the first one
    operations = [m.AddIndex(...), m.RunPython("users", forwards=...)]
    state = {...}                      # the models after this migration

The files form one chain (each names the one before it). ``state`` is the
snapshot ``makemigrations`` compares the models with; loading checks that
the operations really lead from the previous state to it, so a hand edit
that forgets the snapshot is caught before anything runs.
"""

from __future__ import annotations

import hashlib
import importlib.util
import pprint
import re
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, List, Optional, Sequence

from .. import exceptions as exc
from . import state as st
from .operations import Operation

NAME = re.compile(r"(\d{4})_([a-z0-9_]+)")


@dataclass(frozen=True)
class Migration:
    """One loaded migration file."""

    name: str
    previous: Optional[str]
    operations: Sequence[Operation]
    state: st.State
    path: Optional[Path] = None

    @property
    def number(self) -> int:
        return int(self.name[:4])

    @property
    def reversible(self) -> bool:
        return all(op.reversible for op in self.operations)


class MigrationFileError(exc.SoliDBError):
    """A migration file that cannot be used (bad name, broken chain, state that does not match)."""


def load_directory(directory: Path | str) -> List[Migration]:
    """The migrations of ``directory`` in order (empty when it does not exist)."""
    path = Path(directory)
    if not path.is_dir():
        return []
    files = sorted(p for p in path.glob("*.py") if NAME.fullmatch(p.stem))
    migrations = [_load(p) for p in files]
    _check_chain(migrations)
    return migrations


def _load(path: Path) -> Migration:
    digest = hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:10]
    module_name = f"_solidb_odm_migrations_{digest}.{path.stem}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise MigrationFileError(f"{path}: cannot be imported")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as err:
        sys.modules.pop(module_name, None)
        raise MigrationFileError(f"{path}: {type(err).__name__}: {err}") from err
    operations = getattr(module, "operations", None)
    state = getattr(module, "state", None)
    previous = getattr(module, "previous", None)
    if not isinstance(operations, (list, tuple)) or not all(isinstance(o, Operation) for o in operations):
        raise MigrationFileError(f"{path}: `operations` must be a list of migration operations")
    if not isinstance(state, dict) or "collections" not in state:
        raise MigrationFileError(f"{path}: `state` must be the state snapshot dict")
    if previous is not None and not isinstance(previous, str):
        raise MigrationFileError(f"{path}: `previous` must be a migration name or None")
    return Migration(path.stem, previous, list(operations), st.normalized(state), path)


def _check_chain(migrations: List[Migration]) -> None:
    previous: Optional[Migration] = None
    for migration in migrations:
        if previous is not None and migration.number == previous.number:
            raise MigrationFileError(
                f"{previous.name} and {migration.name} have the same number: two branches of "
                "migrations were merged; renumber one and point its `previous` at the other")
        expected = previous.name if previous else None
        if migration.previous != expected:
            raise MigrationFileError(
                f"{migration.name}: `previous` is {migration.previous!r}, expected {expected!r} "
                "(the migrations form one chain in file-name order)")
        replayed = st.copy_state(previous.state if previous else st.empty_state())
        try:
            for op in migration.operations:
                op.state_forwards(replayed)
        except exc.SoliDBError as err:
            raise MigrationFileError(f"{migration.name}: {err}") from err
        if not st.same(st.normalized(replayed), migration.state):
            raise MigrationFileError(
                f"{migration.name}: its operations do not lead to its `state` snapshot; "
                "update the snapshot (or the operations) so that they agree")
        previous = migration


def states_through(migration: Migration, previous_state: st.State) -> List[st.State]:
    """The state before each step of ``migration`` and after the last one (len = steps + 1)."""
    states = [st.copy_state(previous_state)]
    for op in migration.operations:
        nxt = st.copy_state(states[-1])
        op.state_forwards(nxt)
        states.append(nxt)
    return states


def render(name: str, previous: Optional[str], operations: Sequence[Operation], state: st.State,
           *, generated: Optional[datetime] = None) -> str:
    """The source of a migration file."""
    when = (generated or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC")
    summary = "\n".join(f"- {op.describe()}" for op in operations) or "- (no steps yet: add your own)"
    steps = "".join(f"    {op.render()},\n" for op in operations)
    body: List[Any] = [
        f'"""{name}: generated by `solidb-odm makemigrations` on {when}.\n\n{summary}\n"""\n',
        "from solidb_odm import migrations as m\n",
        f"previous = {previous!r}\n",
        f"operations = [\n{steps}]\n",
        "# The models after this migration: `makemigrations` compares the models with this\n"
        "# snapshot, so it needs no server. Keep it in step with `operations` when editing.\n"
        f"state = {pprint.pformat(st.normalized(state), width=100, sort_dicts=True)}\n",
    ]
    return "\n".join(body)


def next_name(migrations: Sequence[Migration], label: str) -> str:
    number = migrations[-1].number + 1 if migrations else 1
    clean = re.sub(r"[^a-z0-9_]+", "_", label.lower()).strip("_") or "auto"
    return f"{number:04d}_{clean[:50]}"
