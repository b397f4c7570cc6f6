"""Lua endpoints, background jobs, triggers and environment variables, end to end.

Publishes a Lua endpoint and calls it over HTTP, runs a script as a background
job and waits for it, fires a trigger with a write made over the server's HTTP
document API, and lets a script read an environment variable.

Run it against a throw-away server with
``python -m solidb_odm.testing run -- python examples/lua_endpoints_and_jobs.py``.
"""

from __future__ import annotations

import base64
import json
import time
import urllib.request
from typing import Any, Callable, Dict

from _connection import HOST, PASSWORD, PORT, USERNAME

from solidb_odm import Client
from solidb_odm.exceptions import ValidationError

DB = "shop"


def wait_until(what: str, check: Callable[[], bool], timeout: float = 30.0) -> None:
    """Poll ``check`` (the job worker looks for work about every five seconds)."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit(f"gave up waiting for {what}")
        time.sleep(0.25)


def http_post(path: str, body: Dict[str, Any]) -> Any:
    """A plain HTTP call, as any other program would make it."""
    token = base64.b64encode(f"{USERNAME}:{PASSWORD}".encode()).decode()
    request = urllib.request.Request(
        f"http://{HOST}:{PORT}{path}",
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Basic {token}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


client = Client(HOST, PORT)
client.connect()
client.auth("_system", USERNAME, PASSWORD)
if DB not in client.list_databases():
    client.create_database(DB)
for name in ("orders", "invoices", "audit"):
    if name not in [c["name"] for c in client.list_collections(DB)]:
        client.create_collection(DB, name)
client.use_database(DB)

# --- A Lua endpoint -------------------------------------------------------------
hello = client.scripts.create(
    name="hello",
    path="/hello",
    methods=["GET", "POST"],
    code='return { message = "Hello, " .. (request.query.name or "World") }',
    description="Greeting endpoint",
)
print("Created script", hello["_key"], "served at", client.scripts.url("/hello"))
with urllib.request.urlopen(
    urllib.request.Request(
        client.scripts.url("/hello") + "?name=Ada",
        headers={"Authorization": "Basic "
                 + base64.b64encode(f"{USERNAME}:{PASSWORD}".encode()).decode()},
    ),
    timeout=30,
) as reply:
    print("GET /hello?name=Ada ->", json.load(reply))

client.scripts.update(hello["_key"], {"code": 'return { message = "Updated!" }'})
print("After update ->", client.scripts.call("/hello"))
print("Scripts:", [f"{s['name']} -> {s['path']}" for s in client.scripts.list()])
print("Total script calls so far:", client.scripts.get_stats()["total_calls"])

# --- A background job -----------------------------------------------------------
client.scripts.create(
    name="process-order",
    path="/scripts/process-order",
    methods=["POST"],
    code="""
local order = request.body
db:collection("invoices"):insert({ order_id = order.order_id, total = order.qty * 12.5 })
return { ok = true }
""",
)
job = client.jobs.enqueue("default", script_path="/scripts/process-order",
                          params={"order_id": 12345, "qty": 4}, priority=10)
print("Enqueued job", job["_key"], "status", job["status"])
wait_until("the job", lambda: client.jobs.get_job(job["_key"])["status"] == "completed")
print("Job completed; invoices:",
      client.query(DB, "FOR i IN invoices RETURN { order_id: i.order_id, total: i.total }"))

client.scripts.create(name="broken", path="/scripts/broken", methods=["POST"],
                      code='error("payment provider unreachable")')
bad_job = client.jobs.enqueue("default", "/scripts/broken")
wait_until("the failing job", lambda: client.jobs.get_job(bad_job["_key"])["status"] == "failed")
print("Failed job error:", client.jobs.get_job(bad_job["_key"])["last_error"].splitlines()[0])

tomorrow = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 86400))
delayed = client.jobs.enqueue("reports", "/scripts/process-order", {"order_id": 1, "qty": 1},
                              run_at=tomorrow)
print("Queues:", client.jobs.list_queues())
client.jobs.cancel(delayed["_key"])
print("Cancelled", delayed["_key"], "- pending in 'reports':",
      client.jobs.list_jobs("reports", status="pending"))

# cron definitions are kept in the database; solidb_odm.scheduling (or `solidb-odm cron run`)
# enqueues each due job (see docs/scheduling.md and examples/cron_scheduler.py)
nightly = client.cron.create(name="daily-cleanup", schedule="0 2 * * *",
                             script_path="/scripts/cleanup", params={"days_old": 30})
print("cron job stored:", nightly["name"], nightly["_key"])
try:
    client.cron.create(name="typo", schedule="0 25 * * *", script_path="/scripts/cleanup")
except ValidationError as err:
    print("cron, refused before sending:", err)

# --- A trigger --------------------------------------------------------------------
client.scripts.create(
    name="audit-order",
    path="/scripts/audit-order",
    methods=["POST"],
    code="""
db:collection("audit"):insert({ order_key = request.body.key, event = request.body.event,
                                customer = request.body.data.customer })
return {}
""",
)
trigger = client.triggers.create(name="on_order_created", collection="orders",
                                 operation="insert", script_path="/scripts/audit-order")
print("Trigger", trigger["name"], "watching", trigger["collection"], trigger["events"])
# Triggers fire for writes made through the server's HTTP document API.
order = http_post(f"/_api/database/{DB}/document/orders", {"customer": "Ada", "qty": 2})
print("Inserted order", order["_key"], "over HTTP")
wait_until("the trigger", lambda: len(client.query(DB, "FOR a IN audit RETURN a")) == 1)
print("Audit after an HTTP insert:",
      client.query(DB, "FOR a IN audit RETURN { order_key: a.order_key, event: a.event, "
                       "customer: a.customer }"))
client.triggers.update(trigger["_key"], {"enabled": False})
print("Trigger enabled:", client.triggers.get(trigger["_key"])["enabled"])
client.triggers.delete(trigger["_key"])

# --- Environment variables ----------------------------------------------------------
client.env.set("PAYMENT_API_KEY", "sk-test-123")
client.env.set("WEBHOOK_URL", "https://example.com/webhook")
client.env.delete("WEBHOOK_URL")
print("Environment:", client.env.list())
client.scripts.create(name="config", path="/config", methods=["GET"],
                      code="return { key = solidb.env.PAYMENT_API_KEY }")
print("A script reads it:", client.scripts.call("/config"))

client.delete_database(DB)
client.close()
print("Done")
