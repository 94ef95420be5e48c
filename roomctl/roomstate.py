"""RoomState: the room's whole state as one JSON-ready mapping, published at 1 Hz.

Folds readings and link changes from the bus, asks the alarm engine for its snapshot
(phase, alarms, audio, baseline, episodes, discharge, NIBP schedule) and any other
provider (music, lights), and publishes a ``StateSnapshot`` at most once a second:
the retained MQTT ``state`` topic and every console read it. A value is never shown
as live when it is not: each vital carries its status and age, and ``live`` is false
once it is older than its freshness limit or its device's link is not up.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from roomctl.events import (
    DeviceConnected,
    DeviceLost,
    DeviceStale,
    ReadingReceived,
    StateSnapshot,
)
from roomctl.eventstream import link_state, plain
from roomctl.readings import LinkState, Metric, NibpReading, Reading, ReadingStatus

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from roomctl.bus import EventBus
    from roomctl.clock import Clock

#: How often the snapshot is published.
SNAPSHOT_INTERVAL_S = 1.0
#: A continuous value older than this is not live (alarm-policy: data lost after 10 s).
CONTINUOUS_LIVE_S = 10.0
#: Cuff pressure is only interesting while a determination runs.
CUFF_LIVE_S = 3.0


class RoomState:
    """Keeps the latest of everything and publishes snapshots."""

    def __init__(
        self,
        *,
        bus: EventBus,
        clock: Clock,
        room: str,
        session_id: str,
        t0_mono: float,
        providers: Mapping[str, Callable[[float], object]] | None = None,
    ) -> None:
        self._bus = bus
        self._clock = clock
        self._room = room
        self._session_id = session_id
        self._t0 = t0_mono
        self._providers = dict(providers or {})
        self._sub = bus.open(
            ReadingReceived, DeviceConnected, DeviceLost, DeviceStale, name="roomstate"
        )
        self._vitals: dict[str, Reading] = {}
        self._nibp: NibpReading | None = None
        self._links: dict[str, LinkState] = {}

    def add_provider(self, name: str, provider: Callable[[float], object]) -> None:
        """Add a section (``music``, ``lights``) computed at snapshot time."""
        self._providers[name] = provider

    def fold(self) -> None:
        """Take every queued event into the state."""
        while (event := self._sub.get_nowait()) is not None:
            match event:
                case ReadingReceived(reading=NibpReading() as nibp):
                    self._nibp = nibp
                case ReadingReceived(reading=Reading() as reading):
                    self._vitals[reading.metric.value] = reading
                case DeviceConnected() | DeviceLost() | DeviceStale():
                    self._links[event.device] = link_state(event)
                case _:
                    pass

    def _vital(self, reading: Reading, now: float) -> dict[str, object]:
        age = max(0.0, now - reading.received_mono)
        limit = (
            CUFF_LIVE_S
            if reading.metric is Metric.CUFF_PRESSURE_MMHG
            else CONTINUOUS_LIVE_S
        )
        link = self._links.get(reading.device, LinkState.UP)
        return {
            "device": reading.device,
            "value": reading.value,
            "status": reading.status.value,
            "age_s": round(age, 1),
            "live": age <= limit and link is LinkState.UP,
        }

    def snapshot(self, now: float) -> dict[str, object]:
        """The state now, JSON-ready."""
        self.fold()
        nibp: dict[str, object] | None = None
        if self._nibp is not None:
            reading = self._nibp
            nibp = {
                "device": reading.device,
                "systolic_mmhg": reading.systolic_mmhg,
                "diastolic_mmhg": reading.diastolic_mmhg,
                "map_mmhg": reading.map_mmhg,
                "pulse_rate_bpm": reading.pulse_rate_bpm,
                "status": reading.status.value,
                "ok": reading.status is ReadingStatus.OK,
                "error": reading.error_text,
                "age_s": round(max(0.0, now - reading.received_mono), 1),
                "measured_at": plain(reading.received_at),
            }
        state: dict[str, object] = {
            "room": self._room,
            "session_id": self._session_id,
            "at": plain(self._clock.now_utc()),
            "session_time_s": round(now - self._t0, 1),
            "vitals": {
                name: self._vital(r, now) for name, r in sorted(self._vitals.items())
            },
            "nibp": nibp,
            "links": {name: state.value for name, state in sorted(self._links.items())},
        }
        for name, provider in self._providers.items():
            state[name] = plain(provider(now))
        return state

    def publish(self) -> None:
        """Publish one snapshot now."""
        now = self._clock.monotonic()
        self._bus.publish(
            StateSnapshot(
                occurred_mono=now,
                occurred_at=self._clock.now_utc(),
                state=self.snapshot(now),
            )
        )

    async def run(self) -> None:
        """Publish a snapshot every second until cancelled."""
        while True:
            self.publish()
            await asyncio.sleep(SNAPSHOT_INTERVAL_S)
