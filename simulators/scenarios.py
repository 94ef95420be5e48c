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

A ``DosedScenario`` plays its keyframes until the dose is given, then its
``response`` from the dose on, whenever that is (the demo tells its simulators when
the nurse doses: ``python -m simulators`` takes SIGUSR1 as "dose given now").
``at_dose`` gives the same patient as a plain timeline with the dose at a given time.
"""

from __future__ import annotations

import enum
import random
from bisect import bisect_right
from dataclasses import dataclass, field, replace


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


@dataclass(slots=True)
class DoseMark:
    """When a ``DosedScenario``'s dose was given (scenario seconds), once known."""

    at_s: float | None = None
    #: The timeline with the dose at ``at_s`` (built once).
    timeline: Scenario | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class DosedScenario(Scenario):
    """A patient whose response starts when the dose is given, whenever that is.

    Until ``give_dose``, the vitals follow ``keyframes`` (the pre-dose patient);
    from the dose on, ``response``, whose times count from the dose, starting from
    the pre-dose values at that moment. Device states, NIBP errors and scripted
    readings keep scenario time.
    """

    #: The response, ``t_s`` counted from the dose.
    response: tuple[Keyframe, ...] = ()
    dose: DoseMark = field(default_factory=DoseMark, compare=False, repr=False)

    def at_dose(self, dose_s: float) -> Scenario:
        """The same patient as a plain timeline, dosed at ``dose_s``."""
        start = Scenario.vitals_at(self, dose_s)
        before = tuple(k for k in self.keyframes if k.t_s < dose_s)
        at = Keyframe(
            t_s=dose_s,
            spo2_percent=start.spo2_percent,
            pulse_rate_bpm=start.pulse_rate_bpm,
            systolic_mmhg=start.systolic_mmhg,
            diastolic_mmhg=start.diastolic_mmhg,
            perfusion_index=start.perfusion_index,
        )
        after = tuple(
            replace(k, t_s=dose_s + k.t_s) for k in self.response if k.t_s > 0
        )
        return Scenario(
            name=self.name,
            description=f"{self.description} (dosed at {dose_s:g} s)",
            duration_s=max(self.duration_s, dose_s + self.response_s),
            keyframes=(*before, at, *after),
            state_spans=self.state_spans,
            nibp_errors=self.nibp_errors,
            nibp_readings=self.nibp_readings,
            nibp_inflate_s=self.nibp_inflate_s,
            hr_jitter_bpm=self.hr_jitter_bpm,
            spo2_jitter_percent=self.spo2_jitter_percent,
            operator_inputs=self.operator_inputs,
        )

    @property
    def response_s(self) -> float:
        """How long the response lasts (its last keyframe)."""
        return max((k.t_s for k in self.response), default=0.0)

    def live(self) -> DosedScenario:
        """A copy waiting for its own dose (one per simulator process)."""
        return replace(self, dose=DoseMark())

    def give_dose(self, t_s: float) -> bool:
        """The dose was given at scenario time ``t_s``; ``False`` if it already was."""
        if self.dose.at_s is not None:
            return False
        self.dose.at_s = t_s
        self.dose.timeline = self.at_dose(t_s)
        return True

    def vitals_at(self, t_s: float) -> Vitals:
        """The pre-dose values, or the response once the dose has been given."""
        timeline = self.dose.timeline
        if timeline is None:
            return Scenario.vitals_at(self, t_s)
        return timeline.vitals_at(t_s)


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

#: The demo's room: a compressed ketamine response that starts when the nurse doses.
#: Before the dose, a calm patient (about 124/78, HR 72, SpO2 98): the demo's 100 s
#: pre-dose NIBP cycle gives three readings, and a baseline (two at least 3 min
#: apart), about 4 min after start. After the dose, BP and HR rise fast: with the
#: demo's 60 s NIBP cycle during dosing, a reading past baseline +40 opens the BP
#: episode about 1.5-2.5 min after the dose, the first reading past 180/110 raises
#: bp.high (LOW, with a repeat request) about a minute later, and the confirming
#: repeat makes it MEDIUM, an alarm to acknowledge, about 3.5-4.5 min after the dose.
#: It peaks near 188/112 (well below the severe limit, 200/120), then resolves over
#: half an hour.
DEMO = DosedScenario(
    name="demo",
    description="Demo: baseline 124/78 until the dose; then a large transient BP and "
    "HR rise (episode, bp.high to acknowledge within minutes), then recovery.",
    duration_s=240 * MIN,
    nibp_inflate_s=25.0,
    keyframes=(
        Keyframe(
            t_s=0,
            spo2_percent=98,
            pulse_rate_bpm=72,
            systolic_mmhg=123,
            diastolic_mmhg=77,
        ),
        Keyframe(t_s=4 * MIN, systolic_mmhg=125, diastolic_mmhg=79, pulse_rate_bpm=73),
        Keyframe(t_s=20 * MIN, systolic_mmhg=124, diastolic_mmhg=78, pulse_rate_bpm=71),
    ),
    response=(
        Keyframe(t_s=1 * MIN, systolic_mmhg=152, diastolic_mmhg=92, pulse_rate_bpm=84),
        Keyframe(t_s=2 * MIN, systolic_mmhg=178, diastolic_mmhg=106, pulse_rate_bpm=96),
        Keyframe(
            t_s=3 * MIN, systolic_mmhg=186, diastolic_mmhg=111, pulse_rate_bpm=102
        ),
        Keyframe(
            t_s=6 * MIN, systolic_mmhg=188, diastolic_mmhg=112, pulse_rate_bpm=104
        ),
        Keyframe(t_s=9 * MIN, systolic_mmhg=181, diastolic_mmhg=107, pulse_rate_bpm=99),
        Keyframe(t_s=14 * MIN, systolic_mmhg=164, diastolic_mmhg=98, pulse_rate_bpm=92),
        Keyframe(t_s=20 * MIN, systolic_mmhg=150, diastolic_mmhg=91, pulse_rate_bpm=86),
        Keyframe(t_s=28 * MIN, systolic_mmhg=136, diastolic_mmhg=85, pulse_rate_bpm=78),
        Keyframe(t_s=40 * MIN, systolic_mmhg=127, diastolic_mmhg=80, pulse_rate_bpm=74),
    ),
)

#: A background room of the demo, dosed as the demo starts: a hypertensive and
#: tachycardic response already under way, so the station shows an alarm within
#: about half a minute (hr.high after 30 s at 130 or more; bp.high on the first NIBP
#: reading, MEDIUM on its repeat), easing after about 20 min.
DEMO_ALARM = Scenario(
    name="demo-alarm",
    description="Demo background room: dosed at start, BP about 186/114 and HR about "
    "134 at once (hr.high and bp.high), easing after 20 min.",
    duration_s=240 * MIN,
    nibp_inflate_s=25.0,
    keyframes=(
        Keyframe(
            t_s=0,
            spo2_percent=96,
            pulse_rate_bpm=133,
            systolic_mmhg=184,
            diastolic_mmhg=113,
        ),
        Keyframe(
            t_s=5 * MIN, systolic_mmhg=188, diastolic_mmhg=115, pulse_rate_bpm=136
        ),
        Keyframe(
            t_s=20 * MIN, systolic_mmhg=182, diastolic_mmhg=111, pulse_rate_bpm=131
        ),
        Keyframe(
            t_s=35 * MIN, systolic_mmhg=150, diastolic_mmhg=92, pulse_rate_bpm=104
        ),
        Keyframe(t_s=60 * MIN, systolic_mmhg=132, diastolic_mmhg=84, pulse_rate_bpm=84),
    ),
)

#: A quiet background room of the demo: a patient resting before the dose.
DEMO_CALM = Scenario(
    name="demo-calm",
    description="Demo background room: a calm patient before the dose (118/74, HR "
    "66, SpO2 98); no alarm expected.",
    duration_s=240 * MIN,
    nibp_inflate_s=25.0,
    keyframes=(
        Keyframe(
            t_s=0,
            spo2_percent=98,
            pulse_rate_bpm=66,
            systolic_mmhg=118,
            diastolic_mmhg=74,
        ),
        Keyframe(t_s=30 * MIN, pulse_rate_bpm=64, systolic_mmhg=116, diastolic_mmhg=73),
    ),
)

SCENARIOS: dict[str, Scenario] = {
    scenario.name: scenario for scenario in (TYPICAL, DEMO, DEMO_ALARM, DEMO_CALM)
}
