"""ReadingPipeline: driver output to the alarm engine and the bus, synchronously.

Nothing here awaits: a reading's alarm decision is made in the same call that
publishes it, so no queue, output or consumer can delay or drop it (style.md §2.2).
The same pipeline runs live (the daemon) and in virtual time (``roomctl replay``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from roomctl.events import CommandHandled, ReadingReceived
from roomctl.eventstream import link_state

if TYPE_CHECKING:
    from roomctl.bus import EventBus
    from roomctl.events import Command, DeviceConnected, DeviceLost, DeviceStale, Event
    from roomctl.readings import AnyReading, LinkState


class Engine(Protocol):
    """What the pipeline needs of the alarm engine (``roomctl.alarms``)."""

    def evaluate(self, reading: AnyReading, now: float) -> list[Event]:
        """Judge one reading."""
        ...

    def link_changed(self, device: str, state: LinkState, now: float) -> list[Event]:
        """A device link went up, was lost or went stale."""
        ...

    def tick(self, now: float) -> list[Event]:
        """Time passed (at least once a second)."""
        ...

    def decoder_errors(
        self, device: str, error_ratio: float, now: float
    ) -> list[Event]:
        """The share of a device's frames failing to parse, over the link window."""
        ...

    def apply(self, command: Command, now: float) -> tuple[list[Event], str | None]:
        """An operator command; ``(events, None)`` or ``([], reason refused)``."""
        ...

    def record_health(self, part: str, error: str | None, now: float) -> list[Event]:
        """A part of the session record was written (``None``) or failed to be."""
        ...


class ReadingPipeline:
    """Takes readings, link changes, ticks and commands; publishes the results."""

    def __init__(self, *, bus: EventBus, engine: Engine | None = None) -> None:
        self._bus = bus
        self.engine = engine

    def _publish_all(self, events: list[Event]) -> None:
        for event in events:
            self._bus.publish(event)

    def handle(self, reading: AnyReading) -> None:
        """Publish a reading, then the alarm engine's decisions on it."""
        self._bus.publish(
            ReadingReceived(
                occurred_mono=reading.received_mono,
                occurred_at=reading.received_at,
                reading=reading,
            )
        )
        if self.engine is not None:
            self._publish_all(self.engine.evaluate(reading, reading.received_mono))

    def link_changed(self, event: DeviceConnected | DeviceLost | DeviceStale) -> None:
        """Publish a link change and what the engine makes of it."""
        self._bus.publish(event)
        if self.engine is not None:
            self._publish_all(
                self.engine.link_changed(
                    event.device, link_state(event), event.occurred_mono
                )
            )

    def decoder_errors(self, device: str, error_ratio: float, now: float) -> None:
        """Report a device's parse-error share (the link rule judges it)."""
        if self.engine is not None:
            self._publish_all(self.engine.decoder_errors(device, error_ratio, now))

    def record_health(self, part: str, error: str | None, now: float) -> None:
        """Report whether a part of the session record is being written.

        ``part``: ``record`` (the database) or ``capture``; ``error``: why a write
        failed, in words, or ``None`` once one succeeded (``tech.record``).
        """
        if self.engine is not None:
            self._publish_all(self.engine.record_health(part, error, now))

    def tick(self, now: float) -> None:
        """Let time-based rules run (called at least once a second)."""
        if self.engine is not None:
            self._publish_all(self.engine.tick(now))

    def command(self, command: Command) -> CommandHandled:
        """Carry out an operator command; publish it, its effects and its outcome."""
        self._bus.publish(command)
        events: list[Event] = []
        error: str | None = None
        if self.engine is not None:
            events, error = self.engine.apply(command, command.occurred_mono)
        self._publish_all(events)
        return self._outcome(command, error)

    def refuse(self, command: Command, reason: str) -> CommandHandled:
        """Record a command refused before the engine saw it, with the reason."""
        self._bus.publish(command)
        return self._outcome(command, reason)

    def _outcome(self, command: Command, error: str | None) -> CommandHandled:
        handled = CommandHandled(
            occurred_mono=command.occurred_mono,
            occurred_at=command.occurred_at,
            command_id=command.command_id,
            verb=command.verb,
            ok=error is None,
            error=error or "",
        )
        self._bus.publish(handled)
        return handled
