"""makemigrations without a server: detected steps, declared renames, files and their checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from solidb_odm import exceptions as exc
from solidb_odm import migrations as m

from .helpers import data_migration, make, models_module, models_of

V1 = """
    from typing import Annotated
    from solidb_odm import Document, Edge, Indexed

    class Person(Document):
        name: str
        email: Annotated[str, Indexed(unique=True)]

        class Meta:
            collection = "people"

    class Old(Document):
        x: int = 0
"""

V2 = """
    from typing import Annotated
    from solidb_odm import Document, Edge, Indexed

    class Person(Document):
        full_name: Annotated[str, Indexed(sparse=True)]
        email: Annotated[str, Indexed(unique=True)]

        class Meta:
            collection = "people"

    class Knows(Edge):
        class Meta:
            collection = "knows"
"""


def test_first_migration_creates_collections_indexes_and_schemas(tmp_path: Path) -> None:
    models = models_of(models_module(tmp_path, V1))
    draft = m.draft(models, tmp_path / "migrations")
    assert draft is not None and draft.name == "0001_initial" and draft.previous is None
    assert [op.describe() for op in draft.operations] == [
        "create collection old",
        "create collection people",
        "add index idx_people_email on people (email), unique",
        "set the JSON schema of old",
        "set the JSON schema of people",
    ]
    path = m.write(draft, tmp_path / "migrations")
    loaded = m.load_directory(tmp_path / "migrations")
    assert [mig.name for mig in loaded] == ["0001_initial"]
    assert loaded[0].path == path and loaded[0].operations == draft.operations
    # the snapshot in the file is what the next makemigrations compares with
    assert m.draft(models, tmp_path / "migrations") is None


def test_changes_with_declared_renames(tmp_path: Path) -> None:
    make(tmp_path / "mig", models_of(models_module(tmp_path, V1)))
    v2 = models_of(models_module(tmp_path, V2))
    draft = m.draft(v2, tmp_path / "mig", renames=["people.name=full_name"])
    assert draft is not None and draft.name.startswith("0002_") and draft.previous == "0001_initial"
    steps = [op.describe() for op in draft.operations]
    assert steps == [
        "create edge collection knows",
        "rename field people.name to full_name",
        "add index idx_people_full_name on people (full_name), sparse",
        "set the JSON schema of knows",
        "set the JSON schema of people (+full_name -name)",
        "drop collection old",
    ]
    assert draft.operations[-1].warning() == (
        "drops collection old and its documents (a rollback re-creates it empty)")


def test_without_a_declared_rename_a_field_is_just_replaced(tmp_path: Path) -> None:
    make(tmp_path / "mig", models_of(models_module(tmp_path, V1)))
    draft = m.draft(models_of(models_module(tmp_path, V2)), tmp_path / "mig")
    assert draft is not None
    assert not any(isinstance(op, m.RenameField) for op in draft.operations)


def test_collection_rename(tmp_path: Path) -> None:
    make(tmp_path / "mig", models_of(models_module(tmp_path, V1)))
    v3 = models_module(tmp_path, V1.replace('collection = "people"', 'collection = "humans"'))
    draft = m.draft(models_of(v3), tmp_path / "mig", renames=["people=humans"])
    assert draft is not None
    assert [op.describe() for op in draft.operations] == [
        "rename collection people to humans",
        "remove index idx_people_email from humans",
        "add index idx_humans_email on humans (email), unique",
    ]


@pytest.mark.parametrize("spec, message", [
    ("people", "expected collection=new_name"),
    ("people.nope=full_name", "the last migration has no field 'nope'"),
    ("people.name=nope", "the model has no field 'nope'"),
    ("ghosts=humans", "the last migration has no 'ghosts'"),
    ("people.na me=x", "invalid field name"),
])
def test_bad_renames_are_refused_with_a_reason(tmp_path: Path, spec: str, message: str) -> None:
    make(tmp_path / "mig", models_of(models_module(tmp_path, V1)))
    v2 = models_of(models_module(tmp_path, V2))
    with pytest.raises(exc.SoliDBError, match=message):
        m.draft(v2, tmp_path / "mig", renames=[spec])


def test_empty_migration_for_a_data_step_keeps_the_state(tmp_path: Path) -> None:
    models = models_of(models_module(tmp_path, V1))
    make(tmp_path / "mig", models)
    draft = m.draft(models, tmp_path / "mig", empty=True, name="backfill")
    assert draft is not None and draft.name == "0002_backfill" and draft.operations == []
    m.write(draft, tmp_path / "mig")
    assert [x.name for x in m.load_directory(tmp_path / "mig")] == ["0001_initial", "0002_backfill"]


def test_a_hand_edit_that_forgets_the_snapshot_is_caught(tmp_path: Path) -> None:
    path = make(tmp_path / "mig", models_of(models_module(tmp_path, V1)))
    text = path.read_text().replace("operations = [\n", "operations = [\n    m.CreateCollection(name='extra'),\n")
    path.write_text(text)
    with pytest.raises(m.MigrationFileError, match="do not lead to its `state` snapshot"):
        m.load_directory(tmp_path / "mig")


def test_two_branches_with_the_same_number_are_refused(tmp_path: Path) -> None:
    make(tmp_path / "mig", models_of(models_module(tmp_path, V1)))
    data_migration(tmp_path / "mig", "a", "", "")
    (tmp_path / "mig" / "0002_b.py").write_text((tmp_path / "mig" / "0002_a.py").read_text())
    with pytest.raises(m.MigrationFileError, match="have the same number"):
        m.load_directory(tmp_path / "mig")


def test_a_broken_chain_is_refused(tmp_path: Path) -> None:
    make(tmp_path / "mig", models_of(models_module(tmp_path, V1)))
    path = data_migration(tmp_path / "mig", "a", "", "")
    path.write_text(path.read_text().replace("previous = '0001_initial'", "previous = None"))
    with pytest.raises(m.MigrationFileError, match="expected '0001_initial'"):
        m.load_directory(tmp_path / "mig")


def test_changing_a_collection_s_kind_is_refused(tmp_path: Path) -> None:
    make(tmp_path / "mig", models_of(models_module(tmp_path, V2)))
    kinds = models_module(tmp_path, V2.replace("class Knows(Edge)", "class Knows(Document)"))
    with pytest.raises(exc.ValidationError, match="knows was an edge collection and is now a document one"):
        m.draft(models_of(kinds), tmp_path / "mig")
