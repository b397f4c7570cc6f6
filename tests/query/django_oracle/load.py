"""Put the same rows into Django's table and into an ODM collection."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterable, Iterator, List, Sequence

from django.db import transaction

from solidb_odm.database import Database

from . import create_table
from .data import FIELDS, Row
from .models import OracleRow
from .odm import OracleDoc


def load_django(rows: Iterable[Row]) -> None:
    """Replace the table's rows (a field the ODM leaves out is NULL here)."""
    create_table()
    with transaction.atomic():
        OracleRow.objects.all().delete()
        OracleRow.objects.bulk_create(OracleRow(key=r.key, **r.values) for r in rows)


def odm_documents(rows: Iterable[Row]) -> List[dict]:
    """The documents as the ODM stores them, without the keys of missing fields.

    Written through the model's own wire form, so that whatever the ODM
    chooses to store (for a Decimal or a datetime) is what the rows hold.
    """
    docs = []
    for row in rows:
        doc = OracleDoc(key=row.key, **row.values).to_wire()
        for name in row.missing:
            del doc[OracleDoc.wire_name(name)]
        docs.append(doc)
    return docs


def load_odm(db: Database, rows: Sequence[Row], indexed: bool = False) -> None:
    """Create the collection (with a persistent index per field when ``indexed``), insert.

    Documents already in the collection are removed first.
    """
    db.register(OracleDoc)
    db.sync()
    collection = OracleDoc.collection_name()
    OracleDoc.objects.using(db).delete()
    if indexed:
        for name in FIELDS:
            db.client.create_index(db.name, collection, f"oracle_{name}",
                                   [OracleDoc.wire_name(name)])
    docs = odm_documents(rows)
    for start in range(0, len(docs), 500):
        db.client.bulk_insert(db.name, collection, docs[start:start + 500])


@contextmanager
def django_rows_for_a_moment(rows: Iterable[Row]) -> Iterator[None]:
    """Django's table holds just ``rows`` inside the block, and its old rows again after it."""
    create_table()
    with transaction.atomic():
        OracleRow.objects.all().delete()
        OracleRow.objects.bulk_create(OracleRow(key=r.key, **r.values) for r in rows)
        yield
        transaction.set_rollback(True)
