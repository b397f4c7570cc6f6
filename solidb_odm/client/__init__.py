"""The low-level client: the official SDK's API over the native driver protocol."""

from .client import Client
from .connection import Connection
from .pool import ConnectionPool

__all__ = ["Client", "Connection", "ConnectionPool"]
