"""Triggers that fire for this library's writes: an audit log kept by a Lua trigger.

solidb 2.6.0 fires triggers only for writes through its HTTP document API. The
client sends its writes to a collection with enabled triggers that way, so
``Document.save()``/``delete()`` and ``client.insert()`` fire them. A session
commit stays one all-or-nothing driver transaction: it warns that the triggers
did not fire, or with strict routing refuses before writing anything.

Run it against a throw-away server with
``python -m solidb_odm.testing run -- python examples/triggers_audit.py``.
"""

from __future__ import annotations

import time
import warnings

from _connection import URL

from solidb_odm import Document, connect
from solidb_odm.client.triggered import TriggersNotFiredError, TriggersNotFiredWarning

DB = "audit_demo"

AUDIT = """
db:collection("audit"):insert({ event = request.body.event, key = request.body.key })
return {}
"""


class Account(Document):
    class Meta:
        collection = "accounts"

    owner: str
    balance: int = 0


db = connect(f"{URL.rstrip('/')}/{DB}")
db.register(Account)
db.sync()
client = db.client.use_database(DB)
client.create_collection(DB, "audit")
client.scripts.create(name="audit", path="/scripts/audit", methods=["POST"], code=AUDIT)
trigger = client.triggers.create(name="audit_accounts", collection="accounts",
                                 operation=["insert", "update", "delete"],
                                 script_path="/scripts/audit",
                                 description="Every change to an account is audited")
print("trigger:", client.triggers.get(trigger["_key"])["description"])

ada = Account(owner="Ada", balance=10).save()   # insert: routed over HTTP, fires
ada.balance = 25
ada.save()                                      # update: fires
Account(owner="Bob").save().delete()            # insert and delete: fire

deadline = time.monotonic() + 30
while len(client.query(DB, "FOR a IN audit RETURN a")) < 4:
    if time.monotonic() > deadline:
        raise SystemExit("the trigger did not run")
    time.sleep(0.5)
print("audited:", sorted(client.query(DB, "FOR a IN audit RETURN a.event")))

with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    with db.session() as session:                # one transaction: all or nothing
        session.add(Account(owner="Cy", balance=5))
print("session commit:", next(w.message for w in caught
                              if issubclass(w.category, TriggersNotFiredWarning)))

client.triggers.routing(strict=True)
try:
    with db.session() as session:
        session.add(Account(owner="Dee"))
except TriggersNotFiredError:
    print("strict: the session was refused, nothing written:",
          Account.objects.filter(owner="Dee").count() == 0)

db.client.delete_database(DB)
db.close()
