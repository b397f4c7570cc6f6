"""Class-level field access is typed: mypy accepts correct queries and rejects wrong ones."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent
ROOT = HERE.parent.parent


def run_mypy(target: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MYPYPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--cache-dir", os.devnull,
         "--python-version", "3.11", target],
        cwd=HERE, capture_output=True, text=True, timeout=300, env=env,
    )


def test_correct_queries_type_check() -> None:
    result = run_mypy("ok_queries.py")
    assert result.returncode == 0, result.stdout + result.stderr


def test_comparing_int_field_with_str_is_rejected() -> None:
    result = run_mypy("bad_queries.py")
    assert result.returncode == 1, result.stdout + result.stderr
    assert 'Unsupported operand types for > ("int" and "str")' in result.stdout
