"""Scenarios: timelines of a patient's vital signs and of device states, as data.

Pure module. A scenario is deterministic: the same scenario and seed give the same
values. Times are seconds of scenario time (``t_s``) from its start; a simulator's
speed factor compresses them. Values between keyframes are interpolated linearly.

Device states:

- oximeter ``state_spans``: ``sensor_off``, ``searching``, ``low_perfusion``,
  ``artifact`` (the device flags the signal; values may be wild);
- NIBP ``nibp_errors``: a determination that completes inside a span ends with the
  span's SunTech error code instead of numbers;
- ``nibp_readings``: exact results for determinations completing at or after each
  entry's time (the next determination takes the next entry), for scripted examples;
- ``nibp_inflate_s``: how long a determination takes (20-45 s on real modules).
"""

from __future__ import annotations

import enum
import random
from bisect import bisect_right
from dataclasses import dataclass, field


class OximeterState(enum.StrEnum):
    """What the oximeter says about its signal."""

    NORMAL = "normal"
    SENSOR_OFF = "sensor_off"
    SEARCHING = "searching"
    LOW_PERFUSION = "low_perfusion"
    ARTIFACT = "artifact"


@dataclass(frozen=True, slots=True, kw_only=True)
class Vitals:
    """The patient's true values at one moment."""

    spo2_percent: float
    pulse_rate_bpm: float
    systolic_mmhg: float
    diastolic_mmhg: float
    perfusion_index: float = 3.0

    @property
    def map_mmhg(self) -> float:
        """Mean arterial pressure by the usual one-third rule."""
        return self.diastolic_mmhg + (self.systolic_mmhg - self.diastolic_mmhg) / 3


@dataclass(frozen=True, slots=True, kw_only=True)
class Keyframe:
    """Values at ``t_s``; a field left ``None`` interpolates from its neighbours."""

    t_s: float
    spo2_percent: float | None = None
    pulse_rate_bpm: float | None = None
    systolic_mmhg: float | None = None
    diastolic_mmhg: float | None = None
    perfusion_index: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class StateSpan:
    """An oximeter state from ``start_s`` (inclusive) to ``end_s`` (exclusive)."""

    start_s: float
    end_s: float
    state: OximeterState


@dataclass(frozen=True, slots=True, kw_only=True)
class NibpError:
    """Determinations completing in ``[start_s, end_s)`` fail with ``code``."""

    start_s: float
    end_s: float
    code: int


@dataclass(frozen=True, slots=True, kw_only=True)
class NibpResult:
    """A scripted NIBP result for the first determination ending at or after ``t_s``."""

    t_s: float
    systolic_mmhg: int
    diastolic_mmhg: int
    map_mmhg: int | None = None
    pulse_rate_bpm: int | None = None
    #: A device error flag on this result (code), with the numbers still sent.
    error_code: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class OperatorInput:
    """An operator input the scenario expects at ``t_s`` (demo and tests)."""

    t_s: float
    op: str
    args: dict[str, object] = field(default_factory=dict)


_FIELDS = (
    "spo2_percent",
    "pulse_rate_bpm",
    "systolic_mmhg",
    "diastolic_mmhg",
    "perfusion_index",
)

_DEFAULTS = {
    "spo2_percent": 98.0,
    "pulse_rate_bpm": 72.0,
    "systolic_mmhg": 124.0,
    "diastolic_mmhg": 78.0,
    "perfusion_index": 3.0,
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Scenario:
    """A patient and device timeline."""

    name: str
    description: str
    duration_s: float
    keyframes: tuple[Keyframe, ...]
    state_spans: tuple[StateSpan, ...] = ()
    nibp_errors: tuple[NibpError, ...] = ()
    nibp_readings: tuple[NibpResult, ...] = ()
    nibp_inflate_s: float = 30.0
    #: Beat-to-beat jitter (bpm) and SpO2 jitter (%) added to the true values.
    hr_jitter_bpm: float = 1.0
    spo2_jitter_percent: float = 0.4
    operator_inputs: tuple[OperatorInput, ...] = ()

    def series(self, name: str) -> tuple[list[float], list[float]]:
        """Times and values of one field's keyframes (the default when none)."""
        times: list[float] = []
        values: list[float] = []
        for frame in sorted(self.keyframes, key=lambda k: k.t_s):
            value = getattr(frame, name)
            if value is not None:
                times.append(frame.t_s)
                values.append(float(value))
        if not times:
            return [0.0], [_DEFAULTS[name]]
        return times, values

    def vitals_at(self, t_s: float) -> Vitals:
        """The true values at ``t_s`` (linear between keyframes, flat outside)."""
        out = {name: _interpolate(*self.series(name), t_s) for name in _FIELDS}
        return Vitals(**out)

    def oximeter_state_at(self, t_s: float) -> OximeterState:
        """The oximeter's state at ``t_s``."""
        for span in self.state_spans:
            if span.start_s <= t_s < span.end_s:
                return span.state
        return OximeterState.NORMAL

    def nibp_error_at(self, t_s: float) -> int:
        """The SunTech error code for a determination ending at ``t_s`` (0: none)."""
        for span in self.nibp_errors:
            if span.start_s <= t_s < span.end_s:
                return span.code
        return 0


def _interpolate(times: list[float], values: list[float], t_s: float) -> float:
    index = bisect_right(times, t_s)
    if index == 0:
        return values[0]
    if index == len(times):
        return values[-1]
    t0, t1 = times[index - 1], times[index]
    v0, v1 = values[index - 1], values[index]
    return v0 + (v1 - v0) * (t_s - t0) / (t1 - t0)


class Jitter:
    """Deterministic noise for one device from a seed."""

    def __init__(self, seed: int, stream: str) -> None:
        self._rng = random.Random(f"{seed}:{stream}")

    def gauss(self, sigma: float) -> float:
        """A normally distributed offset."""
        return self._rng.gauss(0.0, sigma) if sigma > 0 else 0.0

    def uniform(self, low: float, high: float) -> float:
        """A uniformly distributed value."""
        return self._rng.uniform(low, high)

    def chance(self, p: float) -> bool:
        """True with probability ``p``."""
        return self._rng.random() < p


MIN = 60.0

#: A calm session: baseline, a typical ketamine rise (alarm-policy example 1), return.
TYPICAL = Scenario(
    name="typical",
    description="Typical IV session: baseline 124/78, HR 72, SpO2 98; a modest "
    "transient rise peaking at +40 min; no alarm expected.",
    duration_s=120 * MIN,
    keyframes=(
        Keyframe(
            t_s=0,
            spo2_percent=98,
            pulse_rate_bpm=72,
            systolic_mmhg=124,
            diastolic_mmhg=78,
        ),
        Keyframe(t_s=10 * MIN, pulse_rate_bpm=74, systolic_mmhg=125, diastolic_mmhg=78),
        Keyframe(t_s=30 * MIN, systolic_mmhg=132, diastolic_mmhg=84, pulse_rate_bpm=80),
        Keyframe(t_s=45 * MIN, systolic_mmhg=140, diastolic_mmhg=88, pulse_rate_bpm=88),
        Keyframe(t_s=50 * MIN, systolic_mmhg=141, diastolic_mmhg=89),
        Keyframe(t_s=65 * MIN, systolic_mmhg=130, diastolic_mmhg=82, pulse_rate_bpm=78),
        Keyframe(t_s=80 * MIN, systolic_mmhg=126, diastolic_mmhg=79, pulse_rate_bpm=73),
    ),
)

#: The demo: a compressed ketamine response a newcomer sees within minutes. With the
#: demo's 2-minute pre-dose NIBP cycle the baseline (about 124/78) is ready after
#: 4 min; dose then, and the rise opens a BP episode around 8 min and reaches the
#: absolute limit (an alarm to acknowledge) around 12 min, then resolves.
DEMO = Scenario(
    name="demo",
    description="Demo: baseline 124/78, then a large transient BP and HR rise "
    "(episode, bp.rise and bp.high) within a quarter of an hour, then recovery.",
    duration_s=60 * MIN,
    keyframes=(
        Keyframe(
            t_s=0,
            spo2_percent=98,
            pulse_rate_bpm=72,
            systolic_mmhg=123,
            diastolic_mmhg=77,
        ),
        Keyframe(t_s=5 * MIN, systolic_mmhg=126, diastolic_mmhg=79, pulse_rate_bpm=74),
        Keyframe(t_s=8 * MIN, systolic_mmhg=168, diastolic_mmhg=101, pulse_rate_bpm=96),
        Keyframe(
            t_s=12 * MIN, systolic_mmhg=186, diastolic_mmhg=112, pulse_rate_bpm=104
        ),
        Keyframe(
            t_s=16 * MIN, systolic_mmhg=176, diastolic_mmhg=104, pulse_rate_bpm=98
        ),
        Keyframe(t_s=24 * MIN, systolic_mmhg=150, diastolic_mmhg=92, pulse_rate_bpm=84),
        Keyframe(t_s=32 * MIN, systolic_mmhg=132, diastolic_mmhg=82, pulse_rate_bpm=76),
        Keyframe(t_s=45 * MIN, systolic_mmhg=126, diastolic_mmhg=79, pulse_rate_bpm=73),
    ),
)

SCENARIOS: dict[str, Scenario] = {TYPICAL.name: TYPICAL, DEMO.name: DEMO}
