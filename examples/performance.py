"""The fast paths of docs/performance.md, against a real server.

- ``bulk_create``: one serialization pass, the bulk command in frames of about 8 MiB;
- ``QuerySet.trusted()``: models built without validation, for data this app wrote;
- a session that commits many changes with one staging frame (begin, batch, commit).

Run it with a server of your own (the ``SOLIDB_*`` variables, as the other
examples), under the test runner
(``.venv/bin/python -m solidb_odm.testing run -- .venv/bin/python examples/performance.py``),
or alone: without ``SOLIDB_URL``/``SOLIDB_HOST`` it starts a scratch server
with ``solidb_odm.testing.SoliDBServer``.
"""

from __future__ import annotations

import contextlib
import os
import time
from typing import Iterator, List

from _connection import URL

from solidb_odm import Document, connect


class Reading(Document):
    sensor: str
    value: int
    tags: List[str] = []

    class Meta:
        collection = "readings"


@contextlib.contextmanager
def server_url() -> Iterator[str]:
    """The configured server, or a scratch one started for this run."""
    if os.environ.get("SOLIDB_URL") or os.environ.get("SOLIDB_HOST"):
        yield URL
        return
    from solidb_odm.testing import SoliDBServer

    with SoliDBServer() as server:
        yield server.url


def main() -> None:
    with server_url() as url:
        db = connect(url.rstrip("/") + "/performance_demo")
        db.register(Reading).sync()
        Reading.objects.all().delete()

        # 1. bulk_create: keys are made client-side, so the objects come back saved
        started = time.perf_counter()
        readings = Reading.objects.bulk_create(
            [Reading(sensor=f"s{i % 10}", value=i, tags=["raw"]) for i in range(5_000)])
        print(f"bulk_create: {len(readings)} documents in {time.perf_counter() - started:.3f} s;"
              f" first key {readings[0].key}")

        # 2. trusted(): the same documents, built without validation (this app wrote them)
        checked = list(Reading.objects.filter(sensor="s1").order_by("value"))
        trusted = list(Reading.objects.filter(sensor="s1").order_by("value").trusted())
        assert [r.model_dump() for r in checked] == [r.model_dump() for r in trusted]
        print(f"trusted(): {len(trusted)} readings, the same values as the validated ones")
        # a trusted object is an ordinary model: changes are validated and saved as usual
        first = trusted[0]
        first.tags.append("checked")
        first.save()
        assert Reading.objects.get(key=first.key).tags == ["raw", "checked"]

        # 3. a session: every change staged in one frame, then one commit
        started = time.perf_counter()
        with db.session() as session:
            for reading in Reading.objects.filter(sensor="s2"):
                session.add(reading)
                reading.value += 1_000_000
        changed = Reading.objects.filter(sensor="s2", value__gte=1_000_000).count()
        print(f"session: {changed} documents changed in one transaction in "
              f"{time.perf_counter() - started:.3f} s")
        Reading.objects.all().delete()
        db.close()


if __name__ == "__main__":
    main()
