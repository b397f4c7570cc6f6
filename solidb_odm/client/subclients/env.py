"""``client.env``: per-database environment variables for Lua scripts.

Scripts read them as ``solidb.env.NAME`` when the caller is an admin (the
server hands an empty table to anyone else, as they often hold provider keys).

On the pinned server the driver's ``list_env_vars`` reports only variables
written by the driver: it reads a ``key`` field that variables set over HTTP
(the dashboard, other tools) do not have. Listing therefore uses the HTTP API
on the same port, which reads what scripts read; setting and deleting use the
driver.
"""

from __future__ import annotations

import re
from typing import Any, Dict

from ... import exceptions as exc
from ..http import path as http_path
from ._base import SubClient

_NAME = re.compile(r"^[A-Za-z0-9_.\-]{1,256}$")


def _name(key: Any) -> str:
    if not isinstance(key, str) or not _NAME.match(key):
        raise exc.ValidationError(
            f"variable name must be 1-256 letters, digits, '_', '.' or '-', got {key!r}"
        )
    return key


class EnvClient(SubClient):
    """Environment variables of the current database."""

    def list(self) -> Dict[str, str]:
        """Every variable of the current database, as ``{name: value}``."""
        body = self._http("GET", http_path("_api", "database", self._db, "env"))
        if not isinstance(body, dict):
            raise exc.ProtocolError(f"unexpected env listing from HTTP: {body!r:.200}")
        return {str(k): str(v) for k, v in body.items()}

    def set(self, key: str, value: str) -> None:
        """Create or replace a variable; scripts see it within about five seconds.

        The server caches each database's variables for scripts for five
        seconds, so a script may read the old value that long.
        """
        if not isinstance(value, str):
            raise exc.ValidationError(
                f"the value of {key!r} must be a string, got {type(value).__name__}"
            )
        self._call("set_env_var", database=self._db, key=_name(key), value=value)

    def delete(self, key: str) -> None:
        """Delete a variable; NotFoundError when there is none."""
        self._call("delete_env_var", database=self._db, key=_name(key))
