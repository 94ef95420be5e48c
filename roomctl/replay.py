"""Replay a capture through the live decoders, drivers and pipeline in virtual time.

As fast as it can: records are applied in order at their ``t`` on a virtual clock;
between records the clock advances at least once per virtual second so time-based
rules run (contracts.md §2 "Replay rules"); ``tx`` bytes are not sent anywhere. The
events the pipeline publishes are printed as the event stream of contracts.md §3, the
``summary`` line last.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from roomctl.bus import EventBus
from roomctl.capture import (
    BytesRecord,
    CaptureHeader,
    LinkRecord,
    OpRecord,
    iter_capture,
)
from roomctl.clock import VirtualClock
from roomctl.devices.registry import DRIVERS
from roomctl.events import (
    Command,
    DeviceConnected,
    DeviceLost,
    DeviceStale,
    ReadingReceived,
)
from roomctl.eventstream import to_wire
from roomctl.pipeline import ReadingPipeline
from roomctl.readings import LinkState

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import TextIO

    from roomctl.devices.base import DeviceDriver
    from roomctl.devices.codec import Decoder
    from roomctl.events import Event

#: The engine is ticked at least this often in virtual time.
TICK_S = 1.0


@dataclass(slots=True)
class _Device:
    decoder: Decoder[object]
    driver: DeviceDriver
    stale_after_s: float
    state: LinkState = LinkState.UP
    last_valid_t: float = 0.0


@dataclass(slots=True)
class ReplaySummary:
    """What a replay saw; the ``summary`` line."""

    t: float = 0.0
    frames: dict[str, int] = field(default_factory=dict)
    errors: dict[str, dict[str, int]] = field(default_factory=dict)
    discharge_ready: bool = False
    active_alarms: list[str] = field(default_factory=list)
    episodes: int = 0

    def to_json(self) -> dict[str, object]:
        """The summary as a contracts.md §3 line."""
        return {
            "t": round(self.t, 3),
            "type": "summary",
            "discharge_ready": self.discharge_ready,
            "active_alarms": self.active_alarms,
            "episodes": self.episodes,
            "frames": self.frames,
            "errors": self.errors,
        }


class Replayer:
    """Feeds one capture through the pipeline; ``emit`` receives every wire line."""

    def __init__(
        self,
        header: CaptureHeader,
        *,
        emit: Callable[[dict[str, object]], None],
        readings: bool = False,
    ) -> None:
        self.header = header
        self.clock = VirtualClock(start_at=header.started_at)
        self.bus = EventBus()
        self._events = self.bus.open(name="replay", maxlen=1 << 30)
        self.pipeline = ReadingPipeline(bus=self.bus)
        self._emit = emit
        self._readings = readings
        self.devices: dict[str, _Device] = {}
        for name, protocol in header.devices.items():
            spec = DRIVERS[protocol]
            self.devices[name] = _Device(
                decoder=spec.decoder_factory(),
                driver=spec.driver_factory(name),
                stale_after_s=spec.stale_after_s,
            )

    def _print_events(self) -> None:
        while (event := self._events.get_nowait()) is not None:
            if isinstance(event, ReadingReceived) and not self._readings:
                continue
            t = event.occurred_mono
            for line in to_wire(event, t=t):
                if line["type"] in ("reading", "link", "alarm", "episode", "phase"):
                    self._emit(line)

    def _publish(self, event: Event) -> None:
        self.bus.publish(event)

    def _advance(self, t: float) -> None:
        """Move virtual time to ``t``, stopping at least every second on the way."""
        now = self.clock.monotonic()
        while now + TICK_S < t:
            now = (math.floor(now / TICK_S) + 1) * TICK_S
            self.clock.set(now)
            self._tick()
        self.clock.set(t)
        self._tick()

    def _tick(self) -> None:
        now = self.clock.monotonic()
        self.pipeline.tick(now)
        for name, device in self.devices.items():
            silent = now - device.last_valid_t
            if device.state is LinkState.UP and silent >= device.stale_after_s:
                device.state = LinkState.STALE
                self.pipeline.link_changed(
                    DeviceStale(
                        occurred_mono=now,
                        occurred_at=self.clock.now_utc(),
                        device=name,
                        silent_s=device.stale_after_s,
                    )
                )
        self._print_events()

    def _bytes(self, record: BytesRecord) -> None:
        if not record.received:
            return  # tx: kept for review, never sent
        device = self.devices[record.dev]
        now, at = self.clock.monotonic(), self.clock.now_utc()
        frames = device.decoder.feed(record.data)
        for frame in frames:
            for reading in device.driver.on_frame(frame, now, at):
                self.pipeline.handle(reading)
        if frames:
            device.last_valid_t = now
            if device.state is LinkState.STALE:
                device.state = LinkState.UP
                self.pipeline.link_changed(
                    DeviceConnected(
                        occurred_mono=now, occurred_at=at, device=record.dev
                    )
                )

    def _link(self, record: LinkRecord) -> None:
        device = self.devices[record.dev]
        now, at = self.clock.monotonic(), self.clock.now_utc()
        if record.state is LinkState.UP:
            device.state = LinkState.UP
            device.last_valid_t = now
            device.driver.on_link_lost()
            self.pipeline.link_changed(
                DeviceConnected(occurred_mono=now, occurred_at=at, device=record.dev)
            )
        elif record.state is LinkState.LOST:
            device.state = LinkState.LOST
            device.driver.on_link_lost()
            self.pipeline.link_changed(
                DeviceLost(
                    occurred_mono=now,
                    occurred_at=at,
                    device=record.dev,
                    reason="link lost",
                )
            )

    def apply(self, record: BytesRecord | LinkRecord | OpRecord) -> None:
        """Apply one record at its time."""
        self._advance(record.t)
        if isinstance(record, BytesRecord):
            self._bytes(record)
        elif isinstance(record, LinkRecord):
            self._link(record)
        else:
            self._op(record)
        self._print_events()

    def _op(self, record: OpRecord) -> None:
        now = self.clock.monotonic()
        self.pipeline.command(
            Command(
                occurred_mono=now,
                occurred_at=self.clock.now_utc(),
                verb=record.verb,
                args=record.args,
                by=record.by,
                source="capture",
                command_id=f"line-{record.line}",
            )
        )

    def summary(self) -> ReplaySummary:
        """Counts for the summary line."""
        out = ReplaySummary(t=self.clock.monotonic())
        for name, device in self.devices.items():
            stats = device.decoder.stats
            out.frames[name] = stats.frames
            out.errors[name] = {
                "dropped_bytes": stats.dropped_bytes,
                "checksum_errors": stats.checksum_errors,
            }
        return out


def replay(
    stream: TextIO, out: TextIO, *, source: str, readings: bool = False
) -> ReplaySummary:
    """Replay a capture from ``stream``, writing JSON lines to ``out``.

    Raises:
        CaptureError: a bad line (nothing after it is replayed).
    """
    records = iter_capture(stream, source)
    header = next(records)
    assert isinstance(header, CaptureHeader)  # noqa: S101 (iter_capture yields it first)

    def emit(line: dict[str, object]) -> None:
        out.write(json.dumps(line, separators=(",", ":")) + "\n")

    replayer = Replayer(header, emit=emit, readings=readings)
    for record in records:
        assert not isinstance(record, CaptureHeader)  # noqa: S101 (only the first is)
        replayer.apply(record)
    summary = replayer.summary()
    emit(summary.to_json())
    return summary
