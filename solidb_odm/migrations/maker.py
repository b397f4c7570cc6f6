"""``makemigrations``: compare the models with the last migration's snapshot and write a file."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, List, Optional, Type

from . import state as st
from .autodetect import Renames, changes, suggested_name
from .files import Migration, load_directory, next_name, render
from .operations import Operation

if TYPE_CHECKING:
    from ..models import Document


@dataclass(frozen=True)
class Draft:
    """A migration about to be written (or, with ``--check``, that should have been)."""

    name: str
    previous: Optional[str]
    operations: List[Operation]
    state: st.State

    @property
    def source(self) -> str:
        return render(self.name, self.previous, self.operations, self.state)


def draft(models: Iterable[Type[Document]], directory: Path | str, *,
          renames: Iterable[str] = (), name: Optional[str] = None, empty: bool = False,
          schema: bool = True) -> Optional[Draft]:
    """The next migration for ``models``, or None when they match the last one (no server needed)."""
    migrations: List[Migration] = load_directory(directory)
    last = migrations[-1].state if migrations else st.empty_state()
    target = st.state_from_models(models, schema=schema)
    ops = changes(last, target, Renames.parse(renames))
    if not ops and not empty:
        return None
    if empty:
        target = last
        ops = []
    label = name or ("initial" if not migrations else suggested_name(ops))
    return Draft(next_name(migrations, label), migrations[-1].name if migrations else None, ops,
                 target)


def write(draft: Draft, directory: Path | str) -> Path:
    """Write the draft as ``directory/NNNN_name.py``; the path."""
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{draft.name}.py"
    if path.exists():
        raise FileExistsError(f"{path} exists already")
    path.write_text(draft.source, encoding="utf-8")
    return path
