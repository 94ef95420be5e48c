"""A small but complete session record, written by the real Recorder, for the exports.

The session (room ``room-1``, 2026-11-21 09:00:00 UTC):

- oximetry every second from 0 s to 149 s (SpO2, pulse rate and perfusion index of
  one frame share their time); the sensor is off from 30 s to 32 s and the link is
  down from 120 s to 124 s (no samples);
- dosing starts at 60 s;
- NIBP 128/82 (MAP 97, pulse 74) at 70 s, a failed determination (error 87) at 100 s;
- an alarm raised at 80 s whose text holds every HL7 delimiter;
- a note with a formula-like start, quotes, a comma, a newline and non-ASCII;
- the oximeter link lost at 120 s (stale at 118 s) and up again at 125 s;
- an operator command and its outcome.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from roomctl.bus import EventBus
from roomctl.clock import VirtualClock
from roomctl.events import (
    AlarmChanged,
    AlarmKind,
    AlarmPriority,
    AlarmTransition,
    Command,
    CommandHandled,
    CommandVerb,
    DeviceConnected,
    DeviceLost,
    DeviceStale,
    NoteAdded,
    Phase,
    PhaseChanged,
    ReadingReceived,
    Role,
    Route,
    SessionOpened,
)
from roomctl.readings import Metric, NibpReading, Reading, ReadingStatus
from roomctl.recorder import Recorder

if TYPE_CHECKING:
    from pathlib import Path

    from roomctl.events import Event

START_AT = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
ROOM = "room-1"
SESSION_ID = "room-1-20261121T090000Z"
PATIENT_REF = "pt-secret-42"
DOSE_AT_S = 60.0
SENSOR_OFF_S = (30, 31, 32)
SAMPLES_S = range(150)
LINK_DOWN_S = range(120, 125)
NIBP_OK_AT_S = 70.0
NIBP_FAILED_AT_S = 100.0
ALARM_TEXT = "BP high | 184/112 ^ recheck & ~ cuff \\ arm"
NOTE_TEXT = '=1+2 "calm", Café 5 mg\nsecond line'


def spo2_at(second: int) -> float:
    return 96.0 + (second % 3)


def pulse_at(second: int) -> float:
    return 70.0 + (second % 5) + 0.5


@dataclass
class SessionBuilder:
    """Publishes events at virtual times into a Recorder writing ``path``."""

    path: Path
    room: str = ROOM
    session_id: str = SESSION_ID
    clock: VirtualClock = field(default_factory=lambda: VirtualClock(start_at=START_AT))
    bus: EventBus = field(default_factory=EventBus)
    recorder: Recorder = field(init=False)

    def __post_init__(self) -> None:
        self.recorder = Recorder(path=self.path, bus=self.bus, clock=self.clock)
        self.recorder.open()
        self.recorder.start_session(
            SessionOpened(
                occurred_mono=0.0,
                occurred_at=START_AT,
                session_id=self.session_id,
                route=Route.IV,
                infusion_min=40,
            ),
            self.room,
            PATIENT_REF,
        )

    def at(self, second: float) -> datetime:
        return START_AT + timedelta(seconds=second)

    def publish(self, second: float, event_of: type[Event], **fields: object) -> None:
        self.clock.set(second)
        event = event_of(occurred_mono=second, occurred_at=self.at(second), **fields)  # type: ignore[arg-type]  # fields match each event class by construction
        self.bus.publish(event)

    def reading(
        self, second: float, metric: Metric, value: float | None, status: ReadingStatus
    ) -> None:
        self.publish(
            second,
            ReadingReceived,
            reading=Reading(
                device="oximeter",
                metric=metric,
                value=value,
                status=status,
                received_mono=second,
                received_at=self.at(second),
            ),
        )

    def oximetry(self, second: int) -> None:
        if second in SENSOR_OFF_S:
            off = ReadingStatus.SENSOR_OFF
            self.reading(second, Metric.SPO2_PERCENT, None, off)
            self.reading(second, Metric.PULSE_RATE_BPM, None, off)
            return
        ok = ReadingStatus.OK
        self.reading(second, Metric.SPO2_PERCENT, spo2_at(second), ok)
        self.reading(second, Metric.PULSE_RATE_BPM, pulse_at(second), ok)
        self.reading(second, Metric.PERFUSION_INDEX, 2.5, ok)

    def nibp(self, second: float, *, ok: bool) -> None:
        values = (128, 82, 97, 74) if ok else (None, None, None, None)
        self.publish(
            second,
            ReadingReceived,
            reading=NibpReading(
                device="nibp",
                systolic_mmhg=values[0],
                diastolic_mmhg=values[1],
                map_mmhg=values[2],
                pulse_rate_bpm=values[3],
                status=ReadingStatus.OK if ok else ReadingStatus.DEVICE_ERROR,
                error_code=None if ok else 87,
                error_text="" if ok else "inflate timeout, air leak or loose cuff",
                received_mono=second,
                received_at=self.at(second),
            ),
        )

    async def finish(self) -> None:
        await self.recorder.flush()
        self.recorder.close()


async def build_full_session(path: Path, *, room: str = ROOM) -> SessionBuilder:
    """The session described in the module docstring, written to ``path``."""
    session = SessionBuilder(path=path, room=room)
    events: dict[float, list[tuple[type[Event], dict[str, object]]]] = {
        DOSE_AT_S: [
            (
                PhaseChanged,
                {
                    "phase": Phase.DOSING,
                    "previous": Phase.PREPARATION,
                    "by": Role.NURSE,
                },
            )
        ],
        80.0: [
            (
                AlarmChanged,
                {
                    "transition": AlarmTransition.RAISED,
                    "code": "bp.high",
                    "priority": AlarmPriority.MEDIUM,
                    "kind": AlarmKind.PHYSIOLOGICAL,
                    "value": "184/112",
                    "limit": "180/110",
                    "text": ALARM_TEXT,
                },
            )
        ],
        85.0: [(NoteAdded, {"text": NOTE_TEXT, "by": Role.THERAPIST})],
        90.0: [
            (
                Command,
                {
                    "verb": CommandVerb.ACKNOWLEDGE,
                    "args": {"code": "bp.high"},
                    "by": Role.NURSE,
                    "source": "console",
                    "command_id": "c1",
                },
            ),
            (
                CommandHandled,
                {"command_id": "c1", "verb": CommandVerb.ACKNOWLEDGE, "ok": True},
            ),
        ],
        118.0: [(DeviceStale, {"device": "oximeter", "silent_s": 5.0})],
        120.0: [(DeviceLost, {"device": "oximeter", "reason": "cable unplugged"})],
        125.0: [(DeviceConnected, {"device": "oximeter", "port": "/dev/ttyUSB0"})],
    }
    for second in SAMPLES_S:
        if second not in LINK_DOWN_S:
            session.oximetry(second)
        if second == NIBP_OK_AT_S:
            session.nibp(NIBP_OK_AT_S, ok=True)
        if second == NIBP_FAILED_AT_S:
            session.nibp(NIBP_FAILED_AT_S, ok=False)
        for event_of, fields in events.get(float(second), []):
            session.publish(second, event_of, **fields)
    await session.finish()
    return session
