"""The low-level clients: the official SDK's API over the native driver protocol.

``Client`` blocks; ``AsyncClient`` has the same methods as coroutines. Both
run the same operations (``commands.py``, ``subclients/``).
"""

from .aclient import AsyncClient
from .client import Client
from .connection import Connection
from .pool import ConnectionPool

__all__ = ["AsyncClient", "Client", "Connection", "ConnectionPool"]
