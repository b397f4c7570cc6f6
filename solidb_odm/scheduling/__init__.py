"""Cron for SoliDB: a scheduler that runs ``client.cron`` jobs on time, once.

solidb 2.6.0 has no scheduler of its own. ``client.cron`` keeps definitions in
the database; a :class:`Scheduler` (a thread in a blocking app),
:class:`AsyncScheduler` (a task in an asyncio app) or ``solidb-odm cron run``
enqueues each due job through ``client.jobs``, where the server's worker runs
it. Several instances may run against one database: a lease kept in the
database picks the one that fires, and a key per occurrence makes a job land
at most once even when two instances briefly both think they lead.
See docs/scheduling.md.
"""

from .clock import Clock, ManualClock, system_clock
from .core import Fired, SchedulerCore, TickReport, job_key
from .due import Due, due
from .lease import Lease
from .runner import AsyncScheduler, Scheduler

__all__ = [
    "AsyncScheduler",
    "Clock",
    "Due",
    "Fired",
    "Lease",
    "ManualClock",
    "Scheduler",
    "SchedulerCore",
    "TickReport",
    "due",
    "job_key",
    "system_clock",
]
