"""The management docs pages run as written, top to bottom, against a real server."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from solidb_odm.testing import SoliDBServer

DOCS = Path(__file__).resolve().parents[2] / "docs" / "management"
#: each page and the fewest Python blocks it must hold
PAGES = {
    "scripts-and-jobs.md": 4,
    "collections-and-cluster.md": 4,
    "access-control.md": 3,
    "search-and-analytics.md": 3,
}


@pytest.mark.parametrize("page", sorted(PAGES))
def test_every_example_on_the_page_runs(page: str) -> None:
    text = (DOCS / page).read_text()
    blocks = re.findall(r"^```python\n(.*?)^```", text, re.S | re.M)
    assert len(blocks) >= PAGES[page]
    # A private server: the pages create users and roles, and create and drop "mydb".
    with SoliDBServer() as server:
        code = "\n".join(blocks)
        code = code.replace('Client("127.0.0.1", 6745)', f"Client({server.host!r}, {server.port})")
        code = code.replace('"admin", "password"', f"{server.username!r}, {server.password!r}")
        exec(compile(code, str(DOCS / page), "exec"), {"__name__": "__docs__"})
