"""A user's test file, run in a child pytest by test_plugin.py (not collected here: no test_ prefix).

It uses only what installing solidb-odm provides: the plugin's fixtures and marker.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Optional

import pytest

from solidb_odm import Document, Reference


class Author(Document):
    name: str

    class Meta:
        collection = "authors"


class Book(Document):
    title: str
    author: Annotated[Optional[str], Reference("Author")] = None

    class Meta:
        collection = "books"


@pytest.fixture
def db(solidb_odm_db, solidb_server, request):
    solidb_odm_db.register(Author, Book)
    solidb_odm_db.sync()
    author = Author(name="Ann").save()
    Book.objects.bulk_create([Book(title=f"b{i}", author=author) for i in range(6)])
    record = {"worker": os.environ.get("PYTEST_XDIST_WORKER", "main"), "test": request.node.name,
              "database": solidb_odm_db.name, "port": solidb_server.port}
    out = Path(os.environ["SAMPLE_RECORD_DIR"]) / f"{request.node.name}.json"
    out.write_text(json.dumps(record))
    return solidb_odm_db


@pytest.mark.solidb_n_plus_one(threshold=3)
def test_sync_n_plus_one(db):
    for book in Book.objects.all():
        book.get_related("author")


@pytest.mark.solidb_n_plus_one(threshold=3)
async def test_async_n_plus_one(db):
    async for book in Book.objects.all():
        await book.aget_related("author")


@pytest.mark.solidb_n_plus_one(threshold=3)
async def test_async_select_related(db):
    names = [(await b.aget_related("author")).name async for b in Book.objects.select_related("author")]
    assert names == ["Ann"] * 6


def test_counts(db, assert_num_queries):
    with assert_num_queries(1):
        assert Book.objects.count() == 6
