"""All or nothing when something dies: the server during a commit, or the client process."""

from __future__ import annotations

import random
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from solidb_odm import Document
from solidb_odm import exceptions as exc
from solidb_odm.database import Database
from solidb_odm.testing import SoliDBServer

BATCH = 400


class Entry(Document):
    batch: int
    n: int

    class Meta:
        collection = "entries"


def counts(db: Database) -> dict[int, int]:
    rows = db.query("FOR e IN entries COLLECT b = e.batch WITH COUNT INTO c RETURN [b, c]")
    return {b: c for b, c in rows}


@pytest.mark.slow
def test_server_killed_during_commit_is_all_or_nothing() -> None:
    rng = random.Random(7)
    with SoliDBServer() as server:
        admin = server.client()
        admin.create_database("dur")
        admin.close()
        outcomes = []
        for batch in range(6):
            client = server.client("dur", timeout=10)
            db = Database(client, "dur", owns_client=True)
            db.register(Entry).sync()
            session = db.session()
            session.begin()
            for n in range(BATCH):
                session.add(Entry(batch=batch, n=n))
            session.flush()
            errors: list[BaseException] = []

            def commit(s=session, errs=errors) -> None:
                try:
                    s.commit()
                except BaseException as err:
                    errs.append(err)

            worker = threading.Thread(target=commit)
            worker.start()
            time.sleep(rng.choice([0.0, 0.0005, 0.001, 0.003, 0.01]))
            server.kill()
            worker.join(15)
            assert not worker.is_alive()
            outcomes.append("error" if errors else "committed")
            if errors:
                assert isinstance(errors[0], exc.ConnectionError), errors[0]
            db.close()
            server.start()
            check = Database(server.client("dur"), "dur", owns_client=True)
            seen = counts(check).get(batch, 0)
            assert seen in (0, BATCH), f"batch {batch}: {seen} of {BATCH} documents survived"
            if not errors:
                assert seen == BATCH  # a commit that answered OK is durable
            check.close()
        print("outcomes:", outcomes)


CHILD = textwrap.dedent(
    """
    import sys
    from solidb_odm import Document
    from solidb_odm.database import Database
    from solidb_odm.client import Client

    class Entry(Document):
        batch: int
        n: int
        class Meta:
            collection = "entries"

    host, port, password, batch = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    client = Client(host, port)
    client.auth("dur", "admin", password)
    db = Database(client, "dur")
    with db.session() as session:
        for n in range(4000):
            session.add(Entry(batch=batch, n=n))
        print("committing", flush=True)
    print("committed", flush=True)
    """
)


@pytest.mark.slow
def test_client_process_killed_mid_commit_is_all_or_nothing(solidb_server: SoliDBServer) -> None:
    admin = solidb_server.client()
    admin.create_database("dur")
    try:
        db = Database(solidb_server.client("dur"), "dur", owns_client=True)
        db.register(Entry).sync()
        rng = random.Random(3)
        for batch in range(5):
            child = subprocess.Popen(
                [sys.executable, "-c", CHILD, solidb_server.host, str(solidb_server.port),
                 solidb_server.password, str(batch)],
                stdout=subprocess.PIPE, text=True,
            )
            assert child.stdout is not None
            line = child.stdout.readline()
            assert line.strip() == "committing"
            time.sleep(rng.choice([0.0, 0.001, 0.005, 0.02, 0.05]))
            child.kill()
            child.wait(10)
            time.sleep(0.2)  # let the server notice the closed connection
            seen = counts(db).get(batch, 0)
            assert seen in (0, 4000), f"batch {batch}: {seen} of 4000 documents survived"
        db.close()
    finally:
        admin.delete_database("dur")
        admin.close()
