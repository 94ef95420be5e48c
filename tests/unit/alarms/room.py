"""Helpers: an engine with a clock and an event log, fed 1 Hz streams and NIBP readings.

Times are monotonic seconds with dose start at t = 0 (the policy's "+N min"); the
engine starts ``PREP_S`` before, so a baseline can be collected.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from roomctl.alarms import AlarmEngine, AlarmPolicy
from roomctl.events import (
    AlarmChanged,
    Command,
    CommandVerb,
    EpisodeChanged,
    Role,
    Route,
)
from roomctl.readings import (
    LinkState,
    Metric,
    NibpReading,
    Reading,
    ReadingStatus,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping

    from roomctl.alarms import EngineState
    from roomctl.events import Event

EPOCH_AT = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
#: The engine starts this long before dose start.
PREP_S = 600.0
OX = "oximeter"
NIBP = "nibp"

#: One sample of a stream: a value, a status without a value, or nothing at all.
Sample = float | ReadingStatus | None


def at(minutes: float, seconds: float = 0.0) -> float:
    """Seconds after dose start for ``+minutes:seconds``."""
    return minutes * 60 + seconds


def linear(*points: tuple[float, float]) -> Callable[[float], float]:
    """Linear interpolation through ``(t, value)`` points, constant outside them."""

    def value(t: float) -> float:
        if t <= points[0][0]:
            return points[0][1]
        for (t0, v0), (t1, v1) in itertools.pairwise(points):
            if t0 <= t <= t1:
                return v0 + (v1 - v0) * (t - t0) / (t1 - t0)
        return points[-1][1]

    return value


def steps(*points: tuple[float, Sample]) -> Callable[[float], Sample]:
    """A step function: each ``(t, value)`` holds from ``t`` until the next point."""

    def value(t: float) -> Sample:
        current: Sample = points[0][1]
        for start, v in points:
            if t >= start:
                current = v
        return current

    return value


@dataclass(frozen=True, slots=True)
class Logged:
    """One alarm or episode event, reduced for comparison."""

    t: float
    code: str
    transition: str
    priority: str


class Room:
    """An ``AlarmEngine`` with a clock, feeders and an event log."""

    def __init__(
        self,
        *,
        route: Route = Route.IV,
        infusion_min: float = 40.0,
        policy: AlarmPolicy | None = None,
        devices: Iterable[str] = (OX, NIBP),
        start: float = -PREP_S,
    ) -> None:
        self.policy = policy or AlarmPolicy()
        self.engine = AlarmEngine(
            self.policy,
            route=route,
            infusion_min=infusion_min,
            epoch_mono=start,
            epoch_at=EPOCH_AT,
            devices={name: name for name in devices},
        )
        self.now = start
        self.events: list[Event] = []

    # ------------------------------------------------------------ feeding

    def _keep(self, events: list[Event], t: float) -> list[Event]:
        self.now = max(self.now, t)
        self.events.extend(events)
        return events

    def reading(
        self,
        metric: Metric,
        t: float,
        sample: float | ReadingStatus,
        *,
        device: str = OX,
        received: float | None = None,
    ) -> list[Event]:
        """One per-metric reading received at ``received`` (default ``t``)."""
        if isinstance(sample, ReadingStatus):
            value, status = None, sample
        else:
            value, status = float(sample), ReadingStatus.OK
        mono = t if received is None else received
        reading = Reading(
            device=device,
            metric=metric,
            value=value,
            status=status,
            received_mono=mono,
            received_at=EPOCH_AT,
        )
        return self._keep(self.engine.evaluate(reading, t), t)

    def spo2(self, t: float, sample: float | ReadingStatus) -> list[Event]:
        """One SpO2 reading."""
        return self.reading(Metric.SPO2_PERCENT, t, sample)

    def pr(self, t: float, sample: float | ReadingStatus) -> list[Event]:
        """One PR reading."""
        return self.reading(Metric.PULSE_RATE_BPM, t, sample)

    def cuff(self, t: float, mmhg: float) -> list[Event]:
        """One cuff-pressure reading from the NIBP monitor."""
        return self.reading(Metric.CUFF_PRESSURE_MMHG, t, mmhg, device=NIBP)

    def nibp(
        self,
        t: float,
        sbp: float | None,
        dbp: float | None,
        *,
        mean: float | None = None,
        status: ReadingStatus = ReadingStatus.OK,
        error_code: int | None = None,
        received: float | None = None,
        device: str = NIBP,
        no_map: bool = False,
    ) -> list[Event]:
        """One NIBP determination (MAP defaults to DBP + PP/3)."""
        ok = status is ReadingStatus.OK
        if ok and not no_map and mean is None and sbp is not None and dbp is not None:
            mean = dbp + (sbp - dbp) / 3
        reading = NibpReading(
            device=device,
            systolic_mmhg=round(sbp) if ok and sbp is not None else None,
            diastolic_mmhg=round(dbp) if ok and dbp is not None else None,
            map_mmhg=round(mean) if ok and mean is not None else None,
            pulse_rate_bpm=70 if ok else None,
            status=status,
            error_code=error_code,
            error_text="" if ok else "motion artifact",
            received_mono=t if received is None else received,
            received_at=EPOCH_AT,
        )
        return self._keep(self.engine.evaluate(reading, t), t)

    def link(self, t: float, state: LinkState, device: str = OX) -> list[Event]:
        """A link change."""
        return self._keep(self.engine.link_changed(device, state, t), t)

    def tick(self, t: float) -> list[Event]:
        """One tick."""
        return self._keep(self.engine.tick(t), t)

    def command(
        self,
        verb: CommandVerb,
        t: float,
        *,
        by: Role | None = Role.NURSE,
        **args: object,
    ) -> str | None:
        """Apply a command; return the refusal (``None`` when done)."""
        command = Command(
            occurred_mono=t,
            occurred_at=EPOCH_AT,
            verb=verb,
            args=args,
            by=by,
        )
        events, refusal = self.engine.apply(command, t)
        self._keep(events, t)
        return refusal

    def phase(self, t: float, phase: str, **args: object) -> str | None:
        """Move the phase."""
        return self.command(
            CommandVerb.PHASE, t, by=Role.THERAPIST, phase=phase, **args
        )

    def run(
        self,
        until: float,
        *,
        spo2: Callable[[float], Sample] | Sample = None,
        pr: Callable[[float], Sample] | Sample = None,
        bp: Mapping[float, tuple[float, float]] | None = None,
    ) -> None:
        """Every second up to ``until``: NIBP due, a SpO2 and a PR sample, a tick."""
        bp = bp or {}
        t = float(int(self.now) + 1)
        while t <= until:
            if t in bp:
                self.nibp(t, *bp[t])
            for metric, stream in (
                (Metric.SPO2_PERCENT, spo2),
                (Metric.PULSE_RATE_BPM, pr),
            ):
                sample = stream(t) if callable(stream) else stream
                if sample is not None:
                    if not isinstance(sample, ReadingStatus):
                        sample = round(sample)
                    self.reading(metric, t, sample)
            self.tick(t)
            t += 1.0

    def prepare(
        self,
        *,
        sbp: float = 120,
        dbp: float = 75,
        hr: float = 72,
        spo2: float = 98,
        confirm: bool = True,
        dose: bool = True,
    ) -> None:
        """Pre-dose readings for the baseline (NIBP at -9 and -5 min), confirm, dose."""
        oximeter = OX in self.engine._devices
        nibp = NIBP in self.engine._devices
        bp = {-540.0: (sbp, dbp), -300.0: (sbp, dbp)} if nibp else {}
        self.run(
            -1.0,
            spo2=spo2 if oximeter else None,
            pr=hr if oximeter else None,
            bp=bp,
        )
        if confirm:
            assert self.command(CommandVerb.BASELINE_CONFIRM, -1.0) is None
        if dose:
            assert self.phase(0.0, "dosing") is None

    # ------------------------------------------------------------ reading the log

    def alarms(
        self, code: str | None = None, *, since: float | None = None
    ) -> list[Logged]:
        """Alarm events, optionally of one code or after a time."""
        return [
            Logged(e.occurred_mono, e.code, e.transition.value, e.priority.value)
            for e in self.events
            if isinstance(e, AlarmChanged)
            and (code is None or e.code == code)
            and (since is None or e.occurred_mono >= since)
        ]

    def alarm_events(self, code: str | None = None) -> list[AlarmChanged]:
        """The ``AlarmChanged`` events, optionally of one code."""
        return [
            e
            for e in self.events
            if isinstance(e, AlarmChanged) and (code is None or e.code == code)
        ]

    def codes(self) -> set[str]:
        """Every alarm code seen."""
        return {e.code for e in self.alarms()}

    def episodes(self) -> list[tuple[float, str, str]]:
        """Episode events as ``(t, signal, transition)``."""
        return [
            (e.occurred_mono, e.signal.value, e.transition.value)
            for e in self.events
            if isinstance(e, EpisodeChanged)
        ]

    def state(self, t: float | None = None) -> EngineState:
        """The snapshot at ``t`` (default: now)."""
        return self.engine.snapshot(self.now if t is None else t)


def lost(room: Room, t: float, device: str = OX) -> list[Event]:
    """The link of ``device`` is lost at ``t``."""
    return room.link(t, LinkState.LOST, device)
