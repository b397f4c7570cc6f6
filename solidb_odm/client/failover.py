"""What may be sent to another node after a node failed: the rules, no I/O.

A request that could not even be sent (the connection to the node could not
be opened or authenticated) goes to the next node whatever it is: the dead
node never saw it. A request that *was* sent and got no answer may or may not
have been applied, so it goes to another node only when repeating it cannot
change the outcome:

- reads: every command marked ``retry`` (``get``, ``list``, the listings...),
  and SDBQL queries that contain no write keyword;
- an insert with a key the caller chose (``key=`` or ``_key`` in the
  document): repeated, and if the key is then already present, the stored
  document is fetched and compared with the one sent. Equal means the first
  attempt landed (done); different means somebody else's document holds the
  key, and the conflict is raised.

Everything else that was in flight raises ``ConnectionError``, as with one
server: updates and replaces (a repeat can undo a write another client made
between the two attempts, and nothing on the server tells them apart),
deletes (likewise, for a document re-created in between), increments and
other SDBQL writes, inserts with a server-generated key (a repeat makes a
second document), bulk inserts and batches of writes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Optional

from .. import exceptions as exc

# defined with the other errors; re-exported for the client modules that raise them
from ..exceptions import CommitUnknownError as CommitUnknownError
from ..exceptions import ConnectTimeoutError as ConnectTimeoutError
from ..exceptions import NotSentError as NotSentError
from ..exceptions import PoolTimeoutError as PoolTimeoutError
from ..exceptions import TransactionLostError as TransactionLostError

READ = "read"
"""Send again to another node."""
KEYED_INSERT = "keyed_insert"
"""Send again to another node; a key found present counts as done only if the stored document is ours."""
NEVER = "never"
"""Raise the connection error."""

#: SDBQL keywords that write; a query naming none of them only reads (solidb
#: 2.6.0's lexer, keywords are case-insensitive; ``CREATE``/``REFRESH`` make
#: streams and materialised views). Matched anywhere in the text, strings
#: included, so a doubt always counts as a write.
_WRITE_WORDS = re.compile(r"\b(insert|update|upsert|replace|remove|create|refresh)\b",
                          re.IGNORECASE)

#: What the server adds to every stored document.
SERVER_FIELDS = frozenset({"_id", "_rev", "_created_at", "_updated_at"})


def sdbql_reads_only(sdbql: object) -> bool:
    """Whether an SDBQL text cannot write (no write keyword anywhere in it)."""
    return isinstance(sdbql, str) and _WRITE_WORDS.search(sdbql) is None


def plan(message: Mapping[str, Any], retry: bool) -> str:
    """What to do with ``message`` when its node fails while it is in flight."""
    if retry:
        return READ
    cmd = message.get("cmd")
    if cmd == "query":
        return READ if sdbql_reads_only(message.get("sdbql")) else NEVER
    if cmd == "insert" and chosen_key(message) is not None:
        return KEYED_INSERT
    if cmd == "batch":
        inner = message.get("commands") or []
        if inner and all(isinstance(c, Mapping) and plan(c, False) == READ for c in inner):
            return READ
    return NEVER


def is_read(message: Mapping[str, Any], retry: bool) -> bool:
    """Whether ``message`` only reads: what round-robin spreads over the nodes."""
    return plan(message, retry) == READ


def http_plan(method: str) -> str:
    """The same rule for the HTTP API: GET and HEAD read, every other method writes."""
    return READ if method.upper() in ("GET", "HEAD") else NEVER


def chosen_key(message: Mapping[str, Any]) -> Optional[str]:
    """The key an insert names itself (None: the server makes one up)."""
    key = message.get("key")
    if isinstance(key, str) and key:
        return key
    document = message.get("document")
    if isinstance(document, Mapping):
        inner = document.get("_key")
        if isinstance(inner, str) and inner:
            return inner
    return None


_KEY_TAKEN = re.compile(r"Duplicate _key|Document (with _key )?'[^']*' already exists", re.I)


def key_taken(error: exc.SoliDBError) -> bool:
    """Whether ``error`` says the document key is taken (not a unique index refusing a value)."""
    if not isinstance(error, exc.AlreadyExistsError):
        return False
    return _KEY_TAKEN.search(str(getattr(error, "server_message", None) or error)) is not None


def lookup_of(message: Mapping[str, Any]) -> dict[str, Any]:
    """The ``get`` that reads back what a keyed insert stored."""
    return {"cmd": "get", "database": message.get("database"),
            "collection": message.get("collection"), "key": chosen_key(message)}


def _plain(value: Any) -> Any:
    """JSON's view of a value: tuples are lists, mappings are dicts."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def same_document(sent: Mapping[str, Any], key: str, stored: Any) -> bool:
    """Whether ``stored`` is the document an insert of ``sent`` under ``key`` stores.

    Server fields (``_id``, ``_rev``, timestamps) are left out: each node sets
    its own.
    """
    if not isinstance(stored, Mapping):
        return False
    ours = {k: v for k, v in _plain(sent).items() if k not in SERVER_FIELDS}
    ours["_key"] = key
    theirs = {k: v for k, v in _plain(stored).items() if k not in SERVER_FIELDS}
    return ours == theirs


def lost_transaction_error(tx_id: str, message: Mapping[str, Any],
                           err: BaseException) -> exc.ConnectionError:
    """The error for a transaction whose connection failed while ``message`` was in flight."""
    if message.get("cmd") == "commit_transaction":
        return CommitUnknownError(
            f"transaction {tx_id}: the commit was sent but its answer was lost ({err}); "
            "it may or may not have been applied"
        )
    return TransactionLostError(
        f"transaction {tx_id} lost its connection; the server rolled it back ({err})"
    )


def exhausted(where: str, last: Optional[exc.ConnectionError]) -> exc.ConnectionError:
    """The error when no node answered: the last node's error, naming them all."""
    if last is None:
        return exc.ConnectionError(f"no node of {where} answered")
    error = type(last)(f"no node of {where} answered; the last said: {last}")
    error.__cause__ = last
    return error
