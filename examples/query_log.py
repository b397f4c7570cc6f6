"""The query log: every request as a stdlib logging record on ``solidb_odm.queries``.

Shows the readable messages, the structured fields in ``record.solidb`` (as
JSON lines), bind values only where asked for, slow requests at WARNING,
a failed request, and a log limited to one block of code.

Run it against a throw-away server with
``python -m solidb_odm.testing run -- python examples/query_log.py``.
"""

from __future__ import annotations

import json
import logging
import sys

from _connection import URL

from solidb_odm import Document, connect
from solidb_odm.exceptions import NotFoundError
from solidb_odm.querylog import disable_query_log, enable_query_log, query_log


class JsonFields(logging.Formatter):
    """One JSON line per record: the level, the message and the structured fields."""

    def format(self, record: logging.LogRecord) -> str:
        fields = getattr(record, "solidb", {})
        return json.dumps({"level": record.levelname, "message": record.getMessage(), **fields},
                          default=str)


class User(Document):
    name: str
    age: int = 0

    class Meta:
        collection = "users"


db = connect(URL.rstrip("/") + "/querylog_demo")
db.register(User).sync()
User.objects.all().delete()

# Where the records go is the application's logging setup, as for any logger.
readable = logging.StreamHandler(sys.stdout)
readable.setFormatter(logging.Formatter("%(levelname)-7s %(message)s"))
queries = logging.getLogger("solidb_odm.queries")
queries.addHandler(readable)
queries.setLevel(logging.DEBUG)
queries.propagate = False

print("-- the whole process, readable messages")
enable_query_log()
User.objects.bulk_create([User(name=f"user{i}", age=20 + i, key=f"u{i}") for i in range(5)])
adults = list(User.objects.filter(age__gte=22).order_by("age"))
with db.session() as session:
    session.get(User, "u0").age += 1
try:
    db.client.get(db.name, "users", "nobody")
except NotFoundError:
    pass  # logged at INFO with its error type, and raised as usual
disable_query_log()

print("-- one block only, as JSON lines, with the bind values")
readable.setFormatter(JsonFields())
with query_log(include_bind_values=True):
    User.objects.filter(name="user3").first()

print("-- production: the logger at WARNING, only requests slower than the threshold")
queries.setLevel(logging.WARNING)
readable.setFormatter(logging.Formatter("%(levelname)-7s %(message)s"))
with query_log(slow_threshold=0.0):  # 0 s: every request is "slow", to show one
    User.objects.count()
with query_log(slow_threshold=5.0):  # nothing here takes 5 s: nothing is logged
    User.objects.count()
print("adults:", [u.name for u in adults])
db.close()
