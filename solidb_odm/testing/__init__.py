"""Real servers for tests: ``SoliDBServer`` and the pytest plugin."""

from .server import PINNED_SOLIDB_VERSION, SoliDBServer, find_solidb_binary, free_port

__all__ = ["PINNED_SOLIDB_VERSION", "SoliDBServer", "find_solidb_binary", "free_port"]
