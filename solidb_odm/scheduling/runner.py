"""The scheduler to embed in an app: ``Scheduler`` (a thread) and ``AsyncScheduler`` (a task).

Both run the same ticks (``core.py``) every ``tick_seconds``; what time it is
comes from ``clock`` (the system clock unless a test gives a ``ManualClock``).
A tick that fails (the server restarting, a lost connection) is logged and the
next one tries again: the lease makes another instance take over if this one
stays cut off longer than ``lease_seconds``.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from types import TracebackType
from typing import Optional

from .. import exceptions as exc
from ..client import AsyncClient, Client
from ..client.state import ClientState
from ..client.triggered import routing_of
from .clock import Clock, system_clock
from .core import SchedulerCore, TickReport

log = logging.getLogger("solidb_odm.scheduling")


def _state_for(client: Client | AsyncClient, database: Optional[str]) -> ClientState:
    name = database or client.database
    if not name:
        raise exc.ValidationError(
            "the scheduler needs a database: pass database=... or call client.use_database()"
        )
    state = ClientState(client.host, client.port)
    state.use_database(name)
    state.triggers = routing_of(client.state)
    return state


class _Settings:
    def __init__(self, client: Client | AsyncClient, database: Optional[str], clock: Optional[Clock],
                 tick_seconds: float, lease_seconds: float, misfire_grace_seconds: float,
                 instance_id: Optional[str]) -> None:
        if tick_seconds <= 0:
            raise exc.ValidationError("tick_seconds must be positive")
        if lease_seconds <= tick_seconds:
            raise exc.ValidationError("lease_seconds must be longer than tick_seconds")
        self.clock: Clock = clock or system_clock
        self.tick_seconds = float(tick_seconds)
        self.core = SchedulerCore(_state_for(client, database), instance_id=instance_id,
                                  lease_seconds=lease_seconds,
                                  misfire_grace_seconds=misfire_grace_seconds)

    @property
    def instance_id(self) -> str:
        """This instance's name in the lease (``holder``)."""
        return self.core.instance_id

    @property
    def database(self) -> str:
        return self.core.database


class Scheduler(_Settings):
    """Runs ``client.cron`` jobs of one database on time, from a background thread.

        scheduler = Scheduler(client, database="mydb")
        scheduler.start()          # or: with Scheduler(client) as scheduler: ...
        ...
        scheduler.stop()           # gives the lease up for the next instance

    Run as many as you like against one database (one per app process):
    exactly one enqueues each occurrence. ``tick()`` runs one pass now.
    """

    def __init__(self, client: Client, database: Optional[str] = None, *,
                 clock: Optional[Clock] = None, tick_seconds: float = 1.0,
                 lease_seconds: float = 30.0, misfire_grace_seconds: float = 300.0,
                 instance_id: Optional[str] = None) -> None:
        super().__init__(client, database, clock, tick_seconds, lease_seconds,
                         misfire_grace_seconds, instance_id)
        self._client = client
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None

    def tick(self) -> TickReport:
        """One pass: take or renew the lease; as its holder, enqueue what is due."""
        return self._client.run(self.core.tick_op(self.clock()))

    def release(self) -> bool:
        """Give the lease up now, if this instance holds it."""
        return self._client.run(self.core.release_op(self.clock()))

    def run(self) -> None:
        """Tick until :meth:`stop` (blocking; what ``start`` runs in its thread)."""
        self._stop.clear()
        while not self._stop.is_set():
            try:
                report = self.tick()
                for fired in report.fired:
                    log.info("cron %s (%s): enqueued %s%s", fired.name, fired.cron_id,
                             fired.job_key, " (already there)" if fired.duplicate else "")
            except exc.SoliDBError as err:
                log.warning("scheduler tick failed, trying again: %s", err)
            self._stop.wait(self.tick_seconds)

    def start(self) -> Scheduler:
        """Run in a daemon thread; returns the scheduler."""
        if self._thread is not None and self._thread.is_alive():
            return self
        self._thread = threading.Thread(target=self.run, name="solidb-odm-scheduler",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self, *, release: bool = True) -> None:
        """Stop ticking (and, with ``release``, hand the lease over at once)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if release:
            try:
                self.release()
            except exc.SoliDBError as err:
                log.warning("could not release the scheduler lease: %s", err)

    def __enter__(self) -> Scheduler:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc_value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stop()


class AsyncScheduler(_Settings):
    """:class:`Scheduler` for asyncio apps: the same ticks, over an ``AsyncClient``.

        async with AsyncScheduler(aclient, database="mydb"):
            await serve_forever()
    """

    def __init__(self, client: AsyncClient, database: Optional[str] = None, *,
                 clock: Optional[Clock] = None, tick_seconds: float = 1.0,
                 lease_seconds: float = 30.0, misfire_grace_seconds: float = 300.0,
                 instance_id: Optional[str] = None) -> None:
        super().__init__(client, database, clock, tick_seconds, lease_seconds,
                         misfire_grace_seconds, instance_id)
        self._client = client
        self._stopping: Optional[asyncio.Event] = None
        self._task: Optional[asyncio.Task[None]] = None

    async def tick(self) -> TickReport:
        """One pass: take or renew the lease; as its holder, enqueue what is due."""
        return await self._client.run(self.core.tick_op(self.clock()))

    async def release(self) -> bool:
        """Give the lease up now, if this instance holds it."""
        return await self._client.run(self.core.release_op(self.clock()))

    async def run(self) -> None:
        """Tick until :meth:`stop`."""
        self._stopping = stopping = asyncio.Event()
        while not stopping.is_set():
            try:
                report = await self.tick()
                for fired in report.fired:
                    log.info("cron %s (%s): enqueued %s%s", fired.name, fired.cron_id,
                             fired.job_key, " (already there)" if fired.duplicate else "")
            except exc.SoliDBError as err:
                log.warning("scheduler tick failed, trying again: %s", err)
            try:
                await asyncio.wait_for(stopping.wait(), self.tick_seconds)
            except TimeoutError:
                pass

    def start(self) -> AsyncScheduler:
        """Run as a task of the running event loop; returns the scheduler."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self.run())
        return self

    async def stop(self, *, release: bool = True) -> None:
        """Stop ticking (and, with ``release``, hand the lease over at once)."""
        if self._stopping is not None:
            self._stopping.set()
        if self._task is not None:
            await self._task
            self._task = None
        if release:
            try:
                await self.release()
            except exc.SoliDBError as err:
                log.warning("could not release the scheduler lease: %s", err)

    async def __aenter__(self) -> AsyncScheduler:
        return self.start()

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc_value: BaseException | None,
                        traceback: TracebackType | None) -> None:
        await self.stop()
