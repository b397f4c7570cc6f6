"""Cron on SoliDB: a job defined with client.cron, run on time by two scheduler instances.

The server has no scheduler of its own. ``client.cron`` keeps the definition
in the database; two ``Scheduler`` instances (think: two app processes) share
one lease, so exactly one enqueues each occurrence, and the server's worker
runs the Lua script, which records the run. Stopping the leader hands the
lease to the other at once.

Run it against a throw-away server with
``python -m solidb_odm.testing run -- python examples/cron_scheduler.py``.
"""

from __future__ import annotations

import time

from _connection import HOST, PASSWORD, PORT, USERNAME

from solidb_odm import Client
from solidb_odm.scheduling import Scheduler

DB = "cron_demo"

RECORD_RUN = """
db:collection("runs"):insert({ job = request.body.job })
return {}
"""

with Client(HOST, PORT) as client:
    client.auth("_system", USERNAME, PASSWORD)
    if DB in client.list_databases():
        client.delete_database(DB)
    client.create_database(DB)
    client.use_database(DB)
    client.create_collection(DB, "runs")
    client.scripts.create(name="record-run", path="/scripts/record-run", methods=["POST"],
                          code=RECORD_RUN)

    # The reference's API; six fields put seconds first: every three seconds.
    cron = client.cron.create(name="heartbeat", schedule="*/3 * * * * *",
                              script_path="/scripts/record-run", params={"job": "heartbeat"},
                              description="Proves the scheduler runs")
    print("defined:", client.cron.get(cron["_key"])["name"], cron["schedule"])

    first = Scheduler(client, instance_id="app-1", tick_seconds=0.5, lease_seconds=5)
    second = Scheduler(client, instance_id="app-2", tick_seconds=0.5, lease_seconds=5)
    first.start()
    second.start()
    deadline = time.monotonic() + 60
    while len(client.query(DB, "FOR r IN runs RETURN r")) < 2:
        if time.monotonic() > deadline:
            raise SystemExit("the cron job did not run")
        time.sleep(0.5)
    first.stop()  # releases the lease: app-2 takes over at its next tick
    runs = len(client.query(DB, "FOR r IN runs RETURN r"))
    while len(client.query(DB, "FOR r IN runs RETURN r")) < runs + 2:
        if time.monotonic() > deadline:
            raise SystemExit("app-2 did not take over")
        time.sleep(0.5)
    second.stop()

    leases = client.query(DB, "FOR l IN _odm_cron_leases SORT l.generation "
                              "RETURN [l.generation, l.holder]")
    print("lease holders by generation:", leases)
    jobs = client.query(DB, "FOR j IN _jobs FILTER j.cron_job_id == @id SORT j.run_at "
                            "RETURN j.run_at", {"id": cron["_key"]})
    assert len(jobs) == len(set(jobs)), "an occurrence was enqueued twice"
    print(f"{len(jobs)} occurrences enqueued, each once; "
          f"{len(client.query(DB, 'FOR r IN runs RETURN r'))} runs recorded by the script")

    client.cron.update(cron["_key"], {"enabled": False})
    client.cron.delete(cron["_key"])
    client.delete_database(DB)
