"""``solidb-odm cron``: run the scheduler of ``client.cron`` jobs, or list them.

``solidb-odm cron run`` is ``solidb_odm.scheduling.Scheduler`` as a process:
start one per host (or several: the lease lets exactly one fire each
occurrence). SIGTERM or Ctrl-C stops it cleanly, handing the lease over at once;
a killed process's lease is taken over when it expires (``--lease`` seconds).
"""

from __future__ import annotations

import datetime as _dt
import logging
import signal
import threading
import time
from typing import Annotated, Any, Optional

import typer

from ..client.subclients.cron import occurrences
from ..scheduling import Scheduler
from .common import UrlOption, database, handle_errors

cron_app = typer.Typer(help="Cron jobs of client.cron: run the scheduler, list the jobs.",
                       no_args_is_help=True)


def _iso(seconds: float) -> str:
    return _dt.datetime.fromtimestamp(seconds, _dt.UTC).isoformat(timespec="seconds")


@cron_app.command("run")
@handle_errors
def run(
    url: UrlOption = None,
    tick: Annotated[float, typer.Option(help="Seconds between ticks.")] = 1.0,
    lease: Annotated[float, typer.Option(
        help="Seconds a lease lasts without renewal: how soon another instance takes over "
             "from a killed one.")] = 30.0,
    grace: Annotated[float, typer.Option(
        help="Occurrences older than this many seconds are not run late.")] = 300.0,
    instance_id: Annotated[Optional[str], typer.Option(
        help="This instance's name in the lease (default: random).")] = None,
    once: Annotated[bool, typer.Option(help="Run one tick, print what it did, and exit.")] = False,
) -> None:
    """Enqueue each cron job of the URL's database at its due times, until stopped."""
    with database(url) as db:
        client = db.client.use_database(db.name)
        scheduler = Scheduler(client, db.name, tick_seconds=tick, lease_seconds=lease,
                              misfire_grace_seconds=grace, instance_id=instance_id)
        if once:
            report = scheduler.tick()
            role = f"leader (lease generation {report.generation})" if report.leader else "standby"
            typer.echo(f"{scheduler.instance_id}: {role}")
            for fired in report.fired:
                note = " (already enqueued)" if fired.duplicate else ""
                typer.echo(f"enqueued {fired.job_key} for {fired.name} at "
                           f"{_iso(fired.occurrence)}{note}")
            return
        _log_to_stderr()
        stopping = threading.Event()

        def stop(signum: int, frame: Any) -> None:
            stopping.set()

        previous = signal.signal(signal.SIGTERM, stop)
        typer.echo(f"{scheduler.instance_id}: scheduling cron jobs of {db.name!r} "
                   f"(tick {tick:g}s, lease {lease:g}s); Ctrl-C to stop", err=True)
        scheduler.start()
        try:
            while not stopping.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
        finally:
            scheduler.stop()
            signal.signal(signal.SIGTERM, previous)
        typer.echo(f"{scheduler.instance_id}: stopped, lease released", err=True)


@cron_app.command("list")
@handle_errors
def list_jobs(url: UrlOption = None) -> None:
    """The cron jobs of the URL's database, with their next due time."""
    with database(url) as db:
        crons = db.client.use_database(db.name).cron.list()
        if not crons:
            typer.echo("no cron jobs")
            return
        now = time.time()
        for cron in crons:
            upcoming = "disabled" if not cron.get("enabled", True) else "next " + _iso(
                next(occurrences(cron["schedule"], now, cron.get("timezone") or "UTC")))
            typer.echo(f"{cron['_key']}  {cron['name']}  {cron['schedule']!r} "
                       f"({cron.get('timezone') or 'UTC'})  {cron['script_path']}  {upcoming}")


def _log_to_stderr() -> None:
    logger = logging.getLogger("solidb_odm.scheduling")
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
