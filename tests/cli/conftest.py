"""Fixtures for the command-line tests: a models module, the URL of a fresh database, a runner."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator, List

import pytest
from typer.testing import CliRunner, Result

from solidb_odm.cli import app
from solidb_odm.testing import SoliDBServer

from ..migrations.helpers import models_module

MODELS = """
    from typing import Annotated
    from solidb_odm import Document, Edge, Indexed

    class Author(Document):
        name: str
        email: Annotated[str, Indexed(unique=True)]

        class Meta:
            collection = "authors"

    class Wrote(Edge):
        class Meta:
            collection = "wrote"
"""


@pytest.fixture
def db_url(solidb_server: SoliDBServer, solidb_database: str) -> str:
    return f"{solidb_server.url}/{solidb_database}"


@pytest.fixture
def models(tmp_path: Path) -> str:
    """The name of an importable module defining two models."""
    return models_module(tmp_path, MODELS).__name__


class Cli:
    """``cli("migrate", "--plan")``: run the app in-process with the URL in ``$SOLIDB_URL``."""

    def __init__(self, url: str, workdir: Path) -> None:
        self.runner = CliRunner()
        self.env = {"SOLIDB_URL": url, "SOLIDB_MODELS": None, "SOLIDB_MIGRATIONS": str(workdir / "migrations"),
                    "COLUMNS": "200"}

    def __call__(self, *args: str, **env: Any) -> Result:
        return self.runner.invoke(app, list(args), env={**self.env, **env}, catch_exceptions=False)


@pytest.fixture
def cli(db_url: str, tmp_path: Path) -> Iterator[Cli]:
    yield Cli(db_url, tmp_path)


def lines(text: str) -> List[str]:
    return [line for line in text.splitlines() if line.strip()]
