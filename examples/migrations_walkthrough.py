"""Migrations end to end with the ``solidb-odm`` command: generate, apply, rename, a data step, roll back.

Run it against a throw-away server:

    python -m solidb_odm.testing run -- python examples/migrations_walkthrough.py

It works in a scratch project folder: writes a models module, runs the same
commands you would type (``python -m solidb_odm.cli`` is the ``solidb-odm``
console script), and prints what they answer.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import textwrap
import uuid
from pathlib import Path

from _connection import URL

from solidb_odm import connect

DATABASE = f"walkthrough_{uuid.uuid4().hex[:6]}"
project = Path(tempfile.mkdtemp(prefix="odm-walkthrough-"))
env = dict(os.environ, SOLIDB_URL=f"{URL}/{DATABASE}", SOLIDB_MODELS="shop_models")


def models(source: str) -> None:
    (project / "shop_models.py").write_text(textwrap.dedent(source))


def odm(*args: str) -> None:
    """Run ``solidb-odm ARGS`` in the project folder and show what it prints."""
    print(f"\n$ solidb-odm {' '.join(args)}")
    result = subprocess.run([sys.executable, "-m", "solidb_odm.cli", *args], cwd=project, env=env,
                            capture_output=True, text=True)
    print(textwrap.indent((result.stdout + result.stderr).strip(), "  "))
    print(f"  (exit status {result.returncode})")


# 1. The first models, the first migration, applied.
models("""
    from typing import Annotated
    from solidb_odm import Document, Indexed

    class Customer(Document):
        name: str
        email: Annotated[str, Indexed(unique=True)]

        class Meta:
            collection = "customers"
""")
odm("makemigrations")
odm("migrate")

db = connect(f"{URL}/{DATABASE}")
db.client.bulk_insert(db.name, "customers", [
    {"_key": f"c{i}", "name": f"Customer {i}", "email": f"Customer{i}@Example.com"} for i in range(5)])

# 2. A field renamed (declared, so no prompt) and a new index; CI's check.
models("""
    from typing import Annotated
    from solidb_odm import Document, Indexed

    class Customer(Document):
        full_name: Annotated[str, Indexed()]
        email: Annotated[str, Indexed(unique=True)]

        class Meta:
            collection = "customers"
""")
odm("makemigrations", "--check")  # fails: the models changed without a migration
odm("makemigrations", "--rename", "customers.name=full_name")
odm("makemigrations", "--check")  # passes now
odm("migrate", "--plan")
odm("migrate")
print("\n", db.client.get(db.name, "customers", "c1"))

# 3. A data step: an empty migration, filled in by hand.
odm("makemigrations", "--empty", "--name", "lowercase_emails")
step = project / "migrations" / "0003_lowercase_emails.py"
text = step.read_text().replace("operations = [\n]", textwrap.dedent('''
    def lower(doc):
        doc["email_as_given"] = doc["email"]
        doc["email"] = doc["email"].lower()
        return doc


    def restore(doc):
        doc["email"] = doc.pop("email_as_given", doc["email"])
        return doc


    operations = [
        m.RunPython("customers", lower, restore, batch_size=2),
    ]''').strip())
step.write_text(text)
odm("migrate")
print("\n", db.client.get(db.name, "customers", "c1"))
odm("status")

# 4. Back again, and a copy of the data as JSON Lines.
odm("rollback")
print("\n", db.client.get(db.name, "customers", "c1"))
odm("rollback", "0001")
odm("status")
odm("export", "customers", "-o", "customers.jsonl")
print((project / "customers.jsonl").read_text().splitlines()[0])
odm("import", "customers_copy", "customers.jsonl")

db.client.delete_database(DATABASE)
db.close()
