"""A Flask app on solidb_odm.contrib.flask, driven through Flask's test client and CLI runner.

Run against a throw-away server:
    .venv/bin/python -m solidb_odm.testing run -- .venv/bin/python examples/flask_app.py

- ``SoliDB(models=...)`` and ``init_app(app)`` read ``SOLIDB_URL`` from the
  config and connect on the first request (or CLI command);
- ``solidb.session`` is the request's session, opened on first use: once it
  is open, a plain ``save()`` in the view joins it too. An answer below 400
  commits before the response; ``abort(...)``, an error handler's 4xx and an
  unhandled exception's 500 roll everything back;
- ``flask solidb sync`` creates the collections and indexes, ``flask solidb
  ping`` checks the server (here through ``app.test_cli_runner()``).
"""

from __future__ import annotations

from typing import Annotated, Any

from _connection import URL
from flask import Flask, abort, request

from solidb_odm import Document, Indexed, exceptions
from solidb_odm.contrib.flask import SoliDB


class Account(Document):
    owner: Annotated[str, Indexed(unique=True)]
    balance: int = 0

    class Meta:
        collection = "accounts"


class Transfer(Document):
    source: str
    target: str
    amount: int

    class Meta:
        collection = "transfers"


solidb = SoliDB(models=[Account, Transfer])


def create_app() -> Flask:
    app = Flask(__name__)
    app.config["SOLIDB_URL"] = URL.rstrip("/") + "/flask_app_demo"
    solidb.init_app(app)

    @app.errorhandler(exceptions.DoesNotExist)
    def not_found(error: exceptions.DoesNotExist) -> Any:
        return {"error": "no such account"}, 404

    @app.post("/accounts")
    def open_account() -> Any:
        body = request.get_json()
        solidb.session.add(Account(owner=body["owner"], balance=body.get("balance", 0)))
        return {"opened": body["owner"]}, 201

    @app.post("/transfers")
    def transfer() -> Any:
        body = request.get_json()
        s = solidb.session  # opened here; the lines below all go through it
        source = s.query(Account).get(owner=body["source"])
        target = s.query(Account).get(owner=body["target"])  # a missing one: 404, rolled back
        source.balance -= body["amount"]
        target.balance += body["amount"]
        Transfer(source=source.owner, target=target.owner, amount=body["amount"]).save()  # joins s
        if source.balance < 0:
            abort(409, "insufficient funds")  # an error answer: none of it lands
        return {"source": source.balance, "target": target.balance}

    @app.get("/accounts")
    def balances() -> Any:
        return {a.owner: a.balance for a in Account.objects.order_by("owner")}

    return app


app = create_app()
cli = app.test_cli_runner()
print("$ flask solidb ping:", cli.invoke(args=["solidb", "ping"]).output.strip())
result = cli.invoke(args=["solidb", "sync"])
print("$ flask solidb sync:", result.output.strip().replace("\n", "; "))
assert result.exit_code == 0, result.output
with app.app_context():
    Transfer.objects.all().delete()
    Account.objects.all().delete()

client = app.test_client()
for owner, balance in (("ann", 100), ("bob", 20)):
    answer = client.post("/accounts", json={"owner": owner, "balance": balance})
    print(f"POST /accounts {owner}:", answer.status_code, answer.json)
answer = client.post("/accounts", json={"owner": "ann"})
print("POST /accounts ann again (the commit fails):", answer.status_code)

answer = client.post("/transfers", json={"source": "ann", "target": "bob", "amount": 30})
print("POST /transfers ann -> bob 30:", answer.status_code, answer.json)
answer = client.post("/transfers", json={"source": "bob", "target": "ann", "amount": 500})
print("POST /transfers bob -> ann 500:", answer.status_code)
answer = client.post("/transfers", json={"source": "ann", "target": "zed", "amount": 1})
print("POST /transfers ann -> zed:", answer.status_code, answer.json)

balances = client.get("/accounts").json
print("GET /accounts:", balances)
with app.app_context():
    transfers = Transfer.objects.count()
print("transfers stored:", transfers)
solidb.close(app)

assert balances == {"ann": 70, "bob": 50}, balances
assert transfers == 1  # the refused and the failed transfers left nothing behind
print("only the committed requests' writes landed")
