"""A Flask app with one session per request, driven through Flask's test client.

Run against a throw-away server:
    .venv/bin/python -m solidb_odm.testing run -- .venv/bin/python examples/web_flask.py

A WSGI server runs each request on one thread from start to end, so the
session a request opens is open for its whole view, and a plain ``save()``
there joins it (docs/web-apps.md). Two ways to open it:

- per view: ``@atomic(db)`` on the view (it keeps the view's name, which
  Flask uses as the endpoint name), or ``with db.session()`` inside it;
- per request: ``before_request`` opens it, ``after_request`` commits it for
  answers below 400 and rolls it back for the others, ``teardown_request``
  rolls back whatever is still open.
"""

from __future__ import annotations

from contextlib import ExitStack
from typing import Any, Dict, Tuple

from _connection import URL
from flask import Flask, Response, abort, g, request

from solidb_odm import Document, connect
from solidb_odm.session import atomic


class Order(Document):
    item: str
    quantity: int

    class Meta:
        collection = "orders"


class Stock(Document):
    item: str
    left: int

    class Meta:
        collection = "stock"


db = connect(URL.rstrip("/") + "/web_flask_demo")
db.register(Order, Stock).sync()
Order.objects.all().delete()
Stock.objects.all().delete()
Stock(key="tea", item="tea", left=5).save()

app = Flask(__name__)


# -- per view: @atomic --------------------------------------------------------------------


@app.post("/orders")
@atomic(db)
def place_order() -> Tuple[Dict[str, Any], int]:
    """Order an item: the order and the stock change land together, or neither does."""
    body = request.get_json()
    stock = Stock.objects.get(key=body["item"])  # read through the view's session
    stock.left -= body["quantity"]
    stock.save()
    Order(item=body["item"], quantity=body["quantity"]).save()
    if stock.left < 0:
        raise OutOfStock(body["item"])  # rolls back both writes above
    return {"left": stock.left}, 201


class OutOfStock(Exception):
    pass


@app.errorhandler(OutOfStock)
def out_of_stock(error: OutOfStock) -> Tuple[Dict[str, str], int]:
    return {"error": f"not enough {error}"}, 409


# -- per request: hooks ------------------------------------------------------------------


@app.before_request
def open_session() -> None:
    if request.endpoint == "restock":  # only the views that want one
        stack = ExitStack()
        session = stack.enter_context(db.session())  # open in this request's context
        g.solidb = (stack, session)


@app.after_request
def end_session(response: Response) -> Response:
    opened = g.pop("solidb", None)
    if opened is not None:
        stack, session = opened
        if response.status_code >= 400:
            session.rollback()
        stack.close()  # commits (nothing is left after a rollback); a failure answers 500
    return response


@app.teardown_request
def close_session(error: BaseException | None) -> None:
    opened = g.pop("solidb", None)  # still here only if after_request did not run
    if opened is not None:
        stack, session = opened
        session.rollback()
        stack.close()


@app.post("/stock/<item>")
def restock(item: str) -> Dict[str, int]:
    stock = Stock.objects.get(key=item)
    stock.left += int(request.args["add"])
    stock.save()  # joins the request's session
    if stock.left > 100:
        abort(400, "too much")  # after_request sees 400 and rolls back
    return {"left": stock.left}


client = app.test_client()
for quantity in (2, 2, 2):
    answer = client.post("/orders", json={"item": "tea", "quantity": quantity})
    print(f"POST /orders quantity={quantity}:", answer.status_code, answer.get_json())
answer = client.post("/stock/tea?add=500")
print("POST /stock/tea?add=500:", answer.status_code)
answer = client.post("/stock/tea?add=10")
print("POST /stock/tea?add=10:", answer.status_code, answer.get_json())

orders = Order.objects.count()
left = Stock.objects.get(key="tea").left
print(f"stored: {orders} orders, {left} tea left")
assert (orders, left) == (2, 11), (orders, left)  # the 409 and the 400 were rolled back
assert app.view_functions["place_order"].__doc__.startswith("Order an item")
db.close()
