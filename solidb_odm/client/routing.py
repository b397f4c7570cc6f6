"""Which connection a command goes to, and what is safe to send again: rules, no I/O.

Both executors ask these questions the same way, so transaction routing and
retry rules exist once.
"""

from __future__ import annotations

from typing import Any

from .. import protocol

#: Commands that change nothing: safe to send again on a fresh connection
#: when a pooled one turns out to be dead.
READ_ONLY_COMMANDS = frozenset(
    {
        "ping", "get", "list", "list_databases", "list_collections", "collection_stats",
        "explain", "list_indexes", "list_scripts", "get_script", "list_triggers",
        "list_collection_triggers", "get_trigger", "list_env_vars", "list_roles", "get_role",
        "list_users", "get_user_roles", "list_api_keys", "list_geo_indexes",
        "list_vector_indexes", "list_ttl_indexes", "list_columnar", "get_columnar",
        "get_collection_schema", "list_columnar_indexes", "get_current_user",
    }
)

#: Commands the server stages inside a transaction (applied at commit).
TRANSACTIONAL_COMMANDS = frozenset({"insert", "update", "delete", "query"})

#: Commands that end a transaction: its pinned connection is released after them.
FINISHING_COMMANDS = frozenset({"commit_transaction", "rollback_transaction"})

BEGIN_COMMAND = "begin_transaction"

#: The server accepts these names; the reference also lists ``read_uncommitted``,
#: which is served as ``read_committed`` (a stronger guarantee, as SQL permits).
ISOLATION_LEVELS = {
    "read_uncommitted": "read_committed",
    "read_committed": "read_committed",
    "repeatable_read": "repeatable_read",
    "serializable": "serializable",
}


def in_transaction(message: dict[str, Any], tx_id: str) -> dict[str, Any]:
    """``message`` as sent on a transaction's connection.

    Document writes and queries are wrapped in ``transaction_command`` (the
    server stages them); a batch has each of its commands wrapped the same
    way; anything else goes as it is, on the same connection.
    """
    cmd = message.get("cmd")
    if cmd in TRANSACTIONAL_COMMANDS:
        return protocol.command("transaction_command", tx_id=tx_id, command=message)
    if cmd == "batch":
        inner = [in_transaction(dict(item), tx_id) for item in message.get("commands") or []]
        return {**message, "commands": inner}
    return message


def retryable(message: dict[str, Any]) -> bool:
    """True when sending ``message`` twice cannot change the outcome."""
    return message.get("cmd") in READ_ONLY_COMMANDS


class Route:
    """Where one command goes: a pooled connection, a new pinned one, or an open transaction's."""

    POOLED = "pooled"
    BEGIN = "begin"
    PINNED = "pinned"

    __slots__ = ("finishes", "kind", "message", "retry", "tx_id")

    def __init__(self, kind: str, message: dict[str, Any], *, tx_id: str | None = None,
                 retry: bool = False, finishes: bool = False) -> None:
        self.kind = kind
        self.message = message
        self.tx_id = tx_id
        self.retry = retry
        self.finishes = finishes


def route(message: dict[str, Any], retry: bool, tx_id: str | None) -> Route:
    """Decide how to send ``message`` given the transaction it runs in (None: none).

    ``tx_id`` must be open on the executor; the executor resolves ``AUTO`` to
    the caller's transaction before asking.
    """
    cmd = message.get("cmd")
    if cmd == BEGIN_COMMAND:  # a new transaction, nested or not, gets its own connection
        return Route(Route.BEGIN, message)
    if tx_id is not None:
        return Route(Route.PINNED, in_transaction(message, tx_id), tx_id=tx_id,
                     finishes=cmd in FINISHING_COMMANDS)
    return Route(Route.POOLED, message, retry=retry)
