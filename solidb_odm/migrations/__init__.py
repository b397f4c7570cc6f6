"""Schema migrations: files generated from the models, run forwards and backwards.

``solidb-odm makemigrations`` writes ``migrations/NNNN_name.py`` from the
difference between the models and the last migration's state snapshot;
``solidb-odm migrate`` (or :class:`Migrator` in code) applies them under a
lock kept in ``_odm_migrations``. See docs/migrations.md.

A migration file imports this module as ``m`` and lists its steps::

    from solidb_odm import migrations as m

    operations = [
        m.AddIndex("users", "idx_users_email", ["email"], unique=True),
        m.RunPython("users", forwards=lower_email, backwards=m.RunPython.noop),
    ]
"""

from .autodetect import Renames, changes
from .executor import BACKWARDS, FORWARDS, ZERO, MigrationError, MigrationStatus, Migrator, Step
from .files import Migration, MigrationFileError, load_directory
from .maker import Draft, draft, write
from .operations import (
    DELETE,
    AddIndex,
    Context,
    CreateCollection,
    DropCollection,
    Operation,
    RemoveIndex,
    RenameCollection,
    RenameField,
    RunPython,
    SetSchema,
)
from .recorder import COLLECTION, MigrationLockError
from .scan import KeyCursor
from .state import State, empty_state, state_from_models

__all__ = [
    "BACKWARDS",
    "COLLECTION",
    "DELETE",
    "FORWARDS",
    "ZERO",
    "AddIndex",
    "Context",
    "CreateCollection",
    "Draft",
    "DropCollection",
    "KeyCursor",
    "Migration",
    "MigrationError",
    "MigrationFileError",
    "MigrationLockError",
    "MigrationStatus",
    "Migrator",
    "Operation",
    "RemoveIndex",
    "RenameCollection",
    "RenameField",
    "Renames",
    "RunPython",
    "SetSchema",
    "State",
    "Step",
    "changes",
    "draft",
    "empty_state",
    "load_directory",
    "state_from_models",
    "write",
]
