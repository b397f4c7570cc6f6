"""Writing model modules and hand-made migration files for the tests."""

from __future__ import annotations

import importlib
import pprint
import sys
import textwrap
import uuid
from pathlib import Path
from types import ModuleType
from typing import Any, List, Type

from solidb_odm import Document
from solidb_odm import migrations as m


def models_module(folder: Path, source: str) -> ModuleType:
    """Write ``source`` as a fresh module in ``folder`` and import it (a name no other test uses)."""
    name = f"odm_test_models_{uuid.uuid4().hex[:10]}"
    (folder / f"{name}.py").write_text(textwrap.dedent(source))
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
    importlib.invalidate_caches()
    return importlib.import_module(name)


def models_of(module: ModuleType) -> List[Type[Document]]:
    return [v for v in vars(module).values()
            if isinstance(v, type) and issubclass(v, Document) and v.__module__ == module.__name__]


def make(directory: Path, models: List[Type[Document]], **options: Any) -> Path:
    """``makemigrations`` in code: write the next migration; its path."""
    draft = m.draft(models, directory, **options)
    assert draft is not None, "expected changes"
    return m.write(draft, directory)


def data_migration(directory: Path, name: str, body: str, operations: str) -> Path:
    """A hand-written migration after the last one: ``body`` defines functions, ``operations`` lists steps."""
    existing = m.load_directory(directory)
    previous = existing[-1] if existing else None
    number = (previous.number + 1) if previous else 1
    state = previous.state if previous else m.empty_state()
    path = directory / f"{number:04d}_{name}.py"
    path.write_text(
        "from solidb_odm import migrations as m\n\n"
        f"previous = {previous.name if previous else None!r}\n\n"
        f"{textwrap.dedent(body)}\n\n"
        f"operations = [{operations}]\n\n"
        f"state = {pprint.pformat(state)}\n"
    )
    return path
