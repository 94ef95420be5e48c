"""Composition root: builds every component and owns the daemon's task group.

Fault domains (style.md C4): device supervisors and the pipeline are *critical*; an
unexpected exception there ends the daemon with a non-zero exit so systemd restarts it.
The recorder, MQTT, music, lights and UI are *auxiliary*: they run under
``restarting`` and their failures never reach the alarm path.

Shutdown order (C12): stop inputs, flush the record (bounded), close.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from roomctl import __version__
from roomctl.backoff import restarting
from roomctl.bus import EventBus
from roomctl.clock import Clock, SystemClock
from roomctl.events import OutputFailed, SessionOpened
from roomctl.recorder import Recorder
from roomctl.systemd import Notifier

if TYPE_CHECKING:
    from collections.abc import Coroutine

    from roomctl.settings import Settings

_LOGGER = logging.getLogger(__name__)

#: A watchdog ping is sent only when the loop has run within this many seconds.
DEFAULT_WATCHDOG_S = 10.0


def session_id_for(room: str, clock: Clock) -> str:
    """A session id from the room and the start time (never a patient identifier)."""
    return f"{room}-{clock.now_utc():%Y%m%dT%H%M%SZ}"


class Daemon:
    """One room: devices, pipeline, record and outputs, wired to one bus."""

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Clock | None = None,
        notifier: Notifier | None = None,
    ) -> None:
        self.settings = settings
        self.clock: Clock = clock if clock is not None else SystemClock()
        self.notifier = notifier if notifier is not None else Notifier()
        self.bus = EventBus()
        self.recorder = Recorder(
            path=settings.record.path,
            bus=self.bus,
            clock=self.clock,
            flush_interval_s=settings.record.flush_interval_s,
        )
        self.session_id = ""

    def _report_failure(self, component: str, exc: BaseException) -> None:
        self.bus.publish(
            OutputFailed(
                occurred_mono=self.clock.monotonic(),
                occurred_at=self.clock.now_utc(),
                component=component,
                error=str(exc) or type(exc).__name__,
            )
        )

    def _open_session(self) -> SessionOpened:
        self.session_id = session_id_for(self.settings.room.name, self.clock)
        opened = SessionOpened(
            occurred_mono=self.clock.monotonic(),
            occurred_at=self.clock.now_utc(),
            session_id=self.session_id,
            route=self.settings.session.route,
            infusion_min=self.settings.session.infusion_min,
        )
        self.recorder.start_session(opened, self.settings.room.name)
        self.bus.publish(opened)
        return opened

    def critical_tasks(self) -> dict[str, Coroutine[None, None, None]]:
        """The alarm path: device supervisors and the pipeline, by task name."""
        return {}

    def auxiliary_tasks(self) -> dict[str, Coroutine[None, None, None]]:
        """Outputs that restart on failure, by task name."""
        return {
            "recorder": restarting(
                "recorder", self.recorder.run, on_failure=self._report_failure
            ),
        }

    async def _watchdog_loop(self) -> None:
        interval = self.notifier.watchdog_interval_s or DEFAULT_WATCHDOG_S
        while True:
            self.notifier.watchdog()
            await asyncio.sleep(interval)

    async def run(self) -> None:
        """Run the room until cancelled (SIGTERM), then shut down in order."""
        self.recorder.open()
        try:
            opened = self._open_session()
            _LOGGER.info(
                "roomctl %s started: room %s, session %s",
                __version__,
                self.settings.room.name,
                opened.session_id,
            )
            async with asyncio.TaskGroup() as tg:
                for name, coro in {
                    **self.auxiliary_tasks(),
                    **self.critical_tasks(),
                }.items():
                    tg.create_task(coro, name=name)
                tg.create_task(self._watchdog_loop(), name="systemd.watchdog")
                self.notifier.ready(f"room {self.settings.room.name}: running")
        finally:
            self.notifier.stopping()
            self.recorder.final_flush()
            self.recorder.close()
            self.bus.close()
            _LOGGER.info("roomctl stopped; the session record is flushed")
