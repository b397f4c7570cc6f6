"""Every error solidb-odm raises, as one tree.

Catch at the level you care about: ``SoliDBError`` catches everything from this
package, ``ServerError`` everything the server refused, ``NotFoundError`` only
missing things.

::

    SoliDBError
    ├── ConnectionError            network failure, refused, reset, closed mid-frame
    │   ├── TimeoutError           connect, request or pool checkout took too long
    │   │   └── PoolTimeoutError   no pooled connection came free in time
    │   ├── NotSentError           the connection could not be opened: nothing was sent
    │   │   └── ConnectTimeoutError  (also a TimeoutError)
    │   ├── TransactionLostError   a transaction's node went away before the commit: safe to rerun
    │   └── CommitUnknownError     the commit was sent and no answer came
    ├── ProtocolError              malformed or unexpected frame, encode/decode failure
    │   └── MessageTooLargeError   a frame over the 16 MiB limit (never sent)
    ├── ServerError                the server answered with an error
    │   ├── NotFoundError          database, collection, document, index, user ...
    │   │   └── DoesNotExist       the ODM's ``get()`` found no row
    │   ├── AlreadyExistsError     creating something that exists
    │   │   └── UniqueViolationError   a unique index refused the value
    │   ├── AuthenticationError    bad credentials, expired key, not authenticated
    │   ├── PermissionDeniedError  authenticated, but the role does not allow it
    │   ├── SchemaValidationError  the collection's JSON schema refused a document
    │   ├── QueryError             SDBQL parse or execution error
    │   ├── TransactionError       unknown transaction, refused inside a transaction
    │   │   └── ConflictError      optimistic concurrency: the document changed
    │   ├── InvalidCommandError    the server does not know or accept the command
    │   └── RateLimitedError       too many failed logins; ``retry_after`` seconds
    ├── UnsupportedError           the pinned server cannot do this at all
    ├── InvalidNameError           a field or collection name unusable in SDBQL (also ValueError)
    ├── ValidationError            a value refused before it reaches the server (also ValueError)
    │   └── FieldError             a query named a field the model does not have
    ├── MultipleObjectsReturned    the ODM's ``get()`` matched more than one row
    └── SessionError               a unit-of-work misuse (closed session, detached object)
"""

from __future__ import annotations

from typing import Any, List, Optional

__all__ = [
    "AlreadyExistsError",
    "AuthError",
    "AuthenticationError",
    "CommitUnknownError",
    "ConflictError",
    "ConnectTimeoutError",
    "ConnectionError",
    "DoesNotExist",
    "FieldError",
    "InvalidCommandError",
    "InvalidNameError",
    "MessageTooLargeError",
    "MultipleObjectsReturned",
    "NotFoundError",
    "NotSentError",
    "PermissionDeniedError",
    "PoolTimeoutError",
    "ProtocolError",
    "QueryError",
    "RateLimitedError",
    "SchemaValidationError",
    "ServerError",
    "SessionError",
    "SoliDBError",
    "TimeoutError",
    "TransactionError",
    "TransactionLostError",
    "UniqueViolationError",
    "UnsupportedError",
    "ValidationError",
]


class SoliDBError(Exception):
    """Root of every error raised by solidb-odm."""


class ConnectionError(SoliDBError):
    """The connection failed or broke; the connection involved is never reused."""


class TimeoutError(ConnectionError):
    """Connecting, a request, or waiting for a pooled connection took too long."""


class NotSentError(ConnectionError):
    """The connection could not be opened (or authenticated): nothing was sent."""


class ConnectTimeoutError(NotSentError, TimeoutError):
    """Opening the connection timed out: nothing was sent."""


class PoolTimeoutError(TimeoutError):
    """No pooled connection came free in time: the client is busy, the node may be fine."""


class TransactionLostError(ConnectionError):
    """A transaction's node (or its connection) went away before the commit was sent.

    The server rolls back a transaction whose connection closes, so nothing
    of it was applied: running the whole unit of work again, on any node, is
    safe (``Database.run_in_session`` does that).
    """


class CommitUnknownError(ConnectionError):
    """The commit was sent and its answer never came: it may or may not have been applied.

    Not retried automatically; check the data before doing it again.
    """


class ProtocolError(SoliDBError):
    """A frame could not be encoded, decoded, or did not have the expected shape."""


class MessageTooLargeError(ProtocolError):
    """A frame is over the protocol's size limit; nothing of it was sent."""


class ServerError(SoliDBError):
    """The server answered with an error.

    ``kind`` is the server's error variant (``DatabaseError``, ``AuthError``, ...)
    and ``server_message`` its text, unchanged.
    """

    def __init__(self, message: str, *, kind: Optional[str] = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.server_message = message


class NotFoundError(ServerError):
    """A database, collection, document or other named thing does not exist."""


class DoesNotExist(NotFoundError):
    """``QuerySet.get()`` matched no document."""


class AlreadyExistsError(ServerError):
    """Something with that name or key exists already."""


class UniqueViolationError(AlreadyExistsError):
    """A unique index refused the document.

    The message says which fields and values clashed, in plain words
    (``a document with username 'alice' exists already (unique index
    idx_users_username)``); ``fields``, ``values`` and ``index`` hold them, and
    ``server_message`` keeps the server's own text.
    """

    def __init__(self, message: str, *, kind: Optional[str] = None,
                 fields: Optional[List[str]] = None, values: Optional[List[Any]] = None,
                 index: Optional[str] = None, server_message: Optional[str] = None) -> None:
        super().__init__(message, kind=kind)
        self.fields = fields or []
        self.values = values or []
        self.index = index
        if server_message is not None:
            self.server_message = server_message


class AuthenticationError(ServerError):
    """Credentials were refused, expired, or the connection is not authenticated."""


AuthError = AuthenticationError  # the name the official SDK exports
"""``AuthenticationError`` under the name the official SDK exports, so code written for it still catches."""


class PermissionDeniedError(ServerError):
    """Authenticated, but the principal's roles do not allow the operation."""


class SchemaValidationError(ServerError):
    """The collection's JSON schema refused the document."""


class QueryError(ServerError):
    """An SDBQL query failed to parse or to execute."""


class TransactionError(ServerError):
    """A transaction is unknown, finished, or refused an operation."""


class ConflictError(TransactionError):
    """The document changed on the server since it was read (optimistic concurrency)."""


class InvalidCommandError(ServerError):
    """The server does not accept this command."""


class RateLimitedError(AuthenticationError):
    """Too many failed logins from this address for this user."""

    def __init__(
        self, message: str, *, kind: Optional[str] = None, retry_after: Optional[int] = None
    ) -> None:
        super().__init__(message, kind=kind)
        self.retry_after = retry_after
        """Seconds to wait before the next login attempt, when the server said."""


class UnsupportedError(SoliDBError):
    """The pinned server version cannot perform this operation through any path."""


class InvalidNameError(SoliDBError, ValueError):
    """A collection, field or other name cannot be used safely in SDBQL."""


class ValidationError(SoliDBError, ValueError):
    """A value was refused before it reached the server."""


class FieldError(ValidationError):
    """A query named a field the model does not have (as Django's ``FieldError``).

    The message names the model, suggests the closest field names, and says
    how to reach an undeclared stored field (``Stored("name")``).
    """


class MultipleObjectsReturned(SoliDBError):
    """``QuerySet.get()`` matched more than one document."""


class SessionError(SoliDBError):
    """A session or unit of work was used in a way it cannot support."""
