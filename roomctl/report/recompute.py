"""The alarm engine run again over a recorded session: its baseline and discharge state.

Pure module (the engine is pure; nothing here reads a clock or a file). The record
keeps every reading, link change and operator command, but not the engine's derived
state: the computed baseline and the discharge-ready verdict with its reasons. So the
report feeds the recorded inputs, in time order, through the same ``AlarmEngine`` the
daemon ran (ticked at least once a virtual second, as ``roomctl replay`` does) and
reads its snapshot where the session ended, or where it was closed.

The engine is deterministic, so with the same policy the run gives the alarm
transitions the record holds; ``Recomputed.differences`` counts the ones that differ
(another policy, a parse-error share the record does not keep), and the report says
so when there are any.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from roomctl.alarms import AlarmEngine, AlarmPolicy
from roomctl.events import AlarmChanged, Command, CommandVerb, Phase, Role, Route
from roomctl.history import RecordedEvent, RecordedReading
from roomctl.readings import LinkState, Metric, NibpReading, Reading, ReadingStatus

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from roomctl.alarms import EngineState
    from roomctl.events import Event
    from roomctl.history import SessionHistory
    from roomctl.readings import AnyReading

#: The engine is ticked at least this often (virtual seconds), as in replay.
TICK_S = 1.0

#: Metrics recorded as rows of an NIBP determination; the engine takes the whole
#: determination, which the record also keeps as a ``reading`` event.
NIBP_ROW_METRICS = frozenset(
    {
        Metric.SYSTOLIC_MMHG.value,
        Metric.DIASTOLIC_MMHG.value,
        Metric.MAP_MMHG.value,
        Metric.NIBP_PULSE_RATE_BPM.value,
    }
)
_NIBP_METRICS = NIBP_ROW_METRICS | {Metric.CUFF_PRESSURE_MMHG.value}

#: Alarm transitions compared with the record (reminders depend on tick timing).
COMPARED = frozenset(
    {"raised", "escalated", "deescalated", "acknowledged", "cleared", "reset"}
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Recomputed:
    """The engine's state where the session ended or was closed."""

    state: EngineState
    #: The state is the one just before an accepted ``phase closed`` command.
    at_close: bool
    #: Alarm transitions (``COMPARED``) found in the run but not the record, or the
    #: record but not the run.
    differences: int


def device_categories(history: SessionHistory) -> dict[str, str]:
    """Each device's category (``oximeter``, ``nibp``) from what it recorded."""
    categories: dict[str, str] = {}
    for reading in history.readings:
        if reading.device not in categories:
            nibp = reading.metric in _NIBP_METRICS
            categories[reading.device] = "nibp" if nibp else "oximeter"
    for event in history.events_of("link"):
        device = str(event.payload.get("device", ""))
        if device and device not in categories:
            categories[device] = "nibp" if "nibp" in device else "oximeter"
    return categories


def link_state_of(payload: Mapping[str, object]) -> LinkState:
    """The state a recorded ``link`` event reports (by the fields it carries)."""
    if "reason" in payload:
        return LinkState.LOST
    if "silent_s" in payload:
        return LinkState.STALE
    return LinkState.UP


def nibp_of(event: RecordedEvent) -> dict[str, object] | None:
    """The determination a recorded ``reading`` event holds, or ``None``."""
    reading = event.payload.get("reading")
    if isinstance(reading, dict) and "systolic_mmhg" in reading:
        return reading
    return None


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _int(value: object) -> int | None:
    number = _number(value)
    return None if number is None else round(number)


class _Rerun:
    """Feeds the recorded inputs to an engine in time order."""

    def __init__(
        self,
        history: SessionHistory,
        policy: AlarmPolicy,
        devices: Mapping[str, str],
    ) -> None:
        info = history.info
        self.t0 = info.started_at.timestamp()
        self.epoch_at = info.started_at
        try:
            route = Route(info.route)
        except ValueError:
            route = Route.IV
        self.engine = AlarmEngine(
            policy,
            route=route,
            infusion_min=info.infusion_min,
            epoch_mono=0.0,
            epoch_at=info.started_at,
            devices=devices,
        )
        self.next_tick = 0.0
        self.transitions: Counter[tuple[str, str]] = Counter()

    def at(self, ts: float) -> datetime:
        return datetime.fromtimestamp(ts, tz=UTC)

    def take(self, events: Iterable[Event]) -> None:
        for event in events:
            if isinstance(event, AlarmChanged) and event.transition.value in COMPARED:
                self.transitions[event.code, event.transition.value] += 1

    def advance(self, now: float) -> None:
        """Tick every whole second up to ``now``."""
        engine = self.engine
        while self.next_tick <= now:
            self.take(engine.tick(self.next_tick))
            self.next_tick = (math.floor(self.next_tick / TICK_S) + 1) * TICK_S

    def reading(self, row: RecordedReading) -> AnyReading | None:
        try:
            metric, status = Metric(row.metric), ReadingStatus(row.status)
        except ValueError:
            return None  # written by a newer roomctl: not judged
        value = row.value if status is ReadingStatus.OK else None
        if (value is None) != (status is not ReadingStatus.OK):
            return None
        return Reading(
            device=row.device,
            metric=metric,
            value=value,
            status=status,
            received_mono=row.ts - self.t0,
            received_at=self.at(row.ts),
        )

    def nibp(self, event: RecordedEvent) -> AnyReading | None:
        fields = nibp_of(event)
        if fields is None:
            return None
        try:
            return NibpReading(
                device=str(fields.get("device", "nibp")),
                systolic_mmhg=_int(fields.get("systolic_mmhg")),
                diastolic_mmhg=_int(fields.get("diastolic_mmhg")),
                map_mmhg=_int(fields.get("map_mmhg")),
                pulse_rate_bpm=_int(fields.get("pulse_rate_bpm")),
                status=ReadingStatus(str(fields.get("status"))),
                error_code=_int(fields.get("error_code")),
                error_text=str(fields.get("error_text") or ""),
                received_mono=event.ts - self.t0,
                received_at=self.at(event.ts),
            )
        except ValueError:
            return None

    def command(self, event: RecordedEvent) -> Command | None:
        payload = event.payload
        try:
            verb = CommandVerb(str(payload.get("verb")))
            by = None if event.by_role is None else Role(event.by_role)
        except ValueError:
            return None
        args = payload.get("args")
        return Command(
            occurred_mono=event.ts - self.t0,
            occurred_at=self.at(event.ts),
            verb=verb,
            args=dict(args) if isinstance(args, dict) else {},
            by=by,
            source="record",
            command_id=str(payload.get("command_id", "")),
        )


def _closes(command: Command) -> bool:
    return (
        command.verb is CommandVerb.PHASE
        and command.args.get("phase") == Phase.CLOSED.value
    )


def recompute(
    history: SessionHistory,
    *,
    policy: AlarmPolicy | None = None,
    devices: Mapping[str, str] | None = None,
) -> Recomputed:
    """Run the engine over the session; its state at the end or at the close.

    Args:
        history: the recorded session.
        policy: the alarm policy to judge with (the defaults when ``None``).
        devices: device name -> category; worked out from the record when ``None``.
    """
    rerun = _Rerun(
        history,
        policy if policy is not None else AlarmPolicy(),
        devices if devices is not None else device_categories(history),
    )
    engine = rerun.engine
    inputs: list[tuple[float, int, RecordedReading | RecordedEvent]] = [
        (row.ts, 0, row)
        for row in history.readings
        if row.metric not in NIBP_ROW_METRICS
    ]
    inputs += [
        (event.ts, 1, event)
        for event in history.events
        if event.type in ("reading", "link", "command")
    ]
    inputs.sort(key=lambda item: (item[0], item[1]))
    closed_state: EngineState | None = None
    for ts, _kind, item in inputs:
        now = ts - rerun.t0
        rerun.advance(now)
        if isinstance(item, RecordedReading):
            reading = rerun.reading(item)
            if reading is not None:
                rerun.take(engine.evaluate(reading, now))
            continue
        event = item
        if event.type == "reading":
            nibp = rerun.nibp(event)
            if nibp is not None:
                rerun.take(engine.evaluate(nibp, now))
        elif event.type == "link":
            device = str(event.payload.get("device", ""))
            link = link_state_of(event.payload)
            rerun.take(engine.link_changed(device, link, now))
        else:
            command = rerun.command(event)
            if command is None:
                continue
            before = engine.snapshot(now) if _closes(command) else None
            events, refusal = engine.apply(command, now)
            rerun.take(events)
            if before is not None and refusal is None and closed_state is None:
                closed_state = before
    if closed_state is not None:
        state = closed_state
    else:
        end = inputs[-1][0] if inputs else rerun.t0
        rerun.advance(end - rerun.t0)
        state = engine.snapshot(end - rerun.t0)
    recorded: Counter[tuple[str, str]] = Counter(
        (str(event.code), str(event.payload.get("transition")))
        for event in history.events_of("alarm")
        if event.payload.get("transition") in COMPARED
    )
    differences = sum((recorded - rerun.transitions).values()) + sum(
        (rerun.transitions - recorded).values()
    )
    return Recomputed(
        state=state, at_close=closed_state is not None, differences=differences
    )
