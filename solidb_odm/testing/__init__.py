"""Real servers for tests: ``SoliDBServer``, ``SoliDBCluster``, the pytest plugin, and request counting."""

from .cluster import SoliDBCluster
from .queries import (
    KIND_GROUPS,
    CapturedQueries,
    NPlusOneDetector,
    NPlusOneError,
    assert_max_queries,
    assert_num_queries,
    capture_queries,
    detect_n_plus_one,
)
from .server import PINNED_SOLIDB_VERSION, SoliDBServer, find_solidb_binary, free_port

__all__ = [
    "KIND_GROUPS",
    "PINNED_SOLIDB_VERSION",
    "CapturedQueries",
    "NPlusOneDetector",
    "NPlusOneError",
    "SoliDBCluster",
    "SoliDBServer",
    "assert_max_queries",
    "assert_num_queries",
    "capture_queries",
    "detect_n_plus_one",
    "find_solidb_binary",
    "free_port",
]
