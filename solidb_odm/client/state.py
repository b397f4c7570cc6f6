"""What a client knows without asking the server: where it is, and the database in use.

Shared by ``Client`` and ``AsyncClient`` and by the operations of their
sub-clients, which read the selected database from here.
"""

from __future__ import annotations

from typing import Any

from .. import exceptions as exc


class ClientState:
    """Host, port and the database chosen with ``use_database``."""

    __slots__ = ("database", "host", "port", "triggers")

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self.database: str | None = None
        #: which collections have triggers (``triggered.TriggerRouting``), made on first write
        self.triggers: Any = None

    def use_database(self, name: str) -> None:
        if not isinstance(name, str) or not name:
            raise exc.ValidationError("database name must be a non-empty string")
        self.database = name

    def require_database(self) -> str:
        """The database set by ``use_database``, for database-scoped sub-clients."""
        if not self.database:
            raise exc.ValidationError(
                "no database selected: call client.use_database(name) first"
            )
        return self.database
