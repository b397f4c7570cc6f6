"""The access-control and search-and-analytics docs pages run as written, top to bottom.

(The module name carries "access" and "columnar" so that the sub-client test
selection ``-k "access or vector or geo or ttl or columnar"`` includes it.)
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from solidb_odm.testing import SoliDBServer

DOCS = Path(__file__).resolve().parents[2] / "docs" / "management"


@pytest.mark.parametrize("page", ["access-control.md", "search-and-analytics.md"])
def test_every_example_on_the_page_runs(page: str) -> None:
    text = (DOCS / page).read_text()
    blocks = re.findall(r"^```python\n(.*?)^```", text, re.S | re.M)
    assert len(blocks) >= 3
    # A private server: the pages create users and roles, and drop "mydb".
    with SoliDBServer() as server:
        code = "\n".join(blocks)
        code = code.replace('Client("127.0.0.1", 6745)', f"Client({server.host!r}, {server.port})")
        code = code.replace('"admin", "password"', f"{server.username!r}, {server.password!r}")
        exec(compile(code, str(DOCS / page), "exec"), {"__name__": "__docs__"})
