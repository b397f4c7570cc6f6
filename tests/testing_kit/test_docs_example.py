"""docs/testing.md's example project (models.py, conftest.py, pytest.ini, test_orders.py), run as
it is in a child pytest, with and without pytest-xdist: the page's code must work."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from solidb_odm import Client
from solidb_odm.testing import SoliDBServer

PAGE = Path(__file__).parents[2] / "docs" / "testing.md"
BLOCK = re.compile(r"<!-- example: (?P<name>[\w.]+) -->\n```\w+\n(?P<code>.*?)```", re.DOTALL)


def example_files() -> dict[str, str]:
    files = {m["name"]: m["code"] for m in BLOCK.finditer(PAGE.read_text())}
    assert set(files) == {"models.py", "conftest.py", "pytest.ini", "test_orders.py"}, sorted(files)
    return files


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["one-process", "xdist"])
def test_the_docs_example_project_passes(tmp_path: Path, workers: list[str],
                                          solidb_server: SoliDBServer, solidb_admin: Client) -> None:
    for name, code in example_files().items():
        (tmp_path / name).write_text(code)
    before = set(solidb_admin.list_databases())
    env = {k: v for k, v in os.environ.items() if k != "SOLIDB_TEST_URL"}
    if workers:  # the shared-server way, so that leftovers would show on our server
        env["SOLIDB_TEST_URL"] = solidb_server.url
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *workers],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "5 passed" in result.stdout, result.stdout
    assert set(solidb_admin.list_databases()) == before
