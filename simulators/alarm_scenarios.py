"""The alarm policy's scenarios as data: captures to replay and the events they give.

Pure module. Each ``AlarmScenario`` is a ``CapturePlan`` (``simulators.capture``: the
scenario, the devices, the NIBP determinations and the operator inputs) and the alarm,
episode and phase lines ``roomctl replay`` must print for it, each with the time its
condition is met. The system test (tests/system/test_alarm_scenarios.py) generates
every capture, replays it and compares.

Sources: the worked examples 1-6 of alarm-policy.md; alarm-research.md §6 scenarios
7-12 (1-6 there are the same examples); and one scenario for every policy row the
examples leave out.

Conventions, as in the examples:

- Capture time ``t`` is scenario time. The dose (``phase`` ``dosing``) is at
  ``PREP_S`` = 10 min: ``at(minutes, seconds)`` is "+minutes:seconds" after it.
- Preparation: the oximeter runs from the start, NIBP readings at -9 and -5 min make
  the BP baseline, the nurse confirms the baseline at -1 min, the therapist marks the
  dose at 0.
- NIBP: every listed reading is a scripted result (``NibpResult``); readings the
  example does not list are interpolated linearly between the listed ones (rounded),
  on the policy's cycle (5 min during the infusion and until 20 min after it, then
  15 min; 3 min while a BP rule is active). A determination takes 30 s and completes
  at the reading's time; the result reaches roomctl about 0.05 s later.
- Oximeter values are steps (``steps``) or ramps (``ramps``) of the scenario's
  keyframes, with the models' usual jitter unless a scenario says otherwise.
- An expected event's ``t_s`` is when its condition is met; the replay must print it
  no earlier and at most ``WITHIN_S`` later (alarm-policy.md: "allowing <= 2 s for
  processing"). An ``optional`` event is one whose presence depends on two timers
  falling on the same instant; it may appear or not. Episode ``updated`` lines come
  as the peak grows; one expected ``updated`` stands for every one in its window.
- Known issues: where the engine, end to end, does not do what the policy says, the
  line carries ``issue`` (in words, reported to the lead). ``wanted=True``: the policy
  wants the line and the engine does not print it; ``wanted=False``: the engine
  prints it and the policy does not want it. The test asserts everything else, then
  marks the scenario as an expected failure naming the issues; once the engine is
  fixed the test fails until the mark is removed. None is open at present (the four
  found so far — a stale link raising tech.link, exact resolution spacing, 89/90
  flicker counted as dips, one noisy sample restarting a delay — are fixed).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import TYPE_CHECKING

from roomctl.events import Route
from roomctl.readings import ProtocolId
from simulators.capture import CapturePlan, Outage
from simulators.scenarios import (
    Keyframe,
    NibpError,
    NibpResult,
    OperatorInput,
    OximeterState,
    Scenario,
    StateSpan,
)

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

#: Preparation before the dose (scenario seconds).
PREP_S = 600.0
#: How late an event may be printed after its condition is met, seconds.
WITHIN_S = 2.0
#: A scripted NIBP result is put this long before its determination completes, so
#: the model gives it to that determination (``SuntechModel``: "the first entry whose
#: ``t_s`` is at or before completion").
SCRIPT_LEAD_S = 5.0
#: Width of a step in a vital sign: the value before holds until ``t - STEP_S``.
STEP_S = 0.001
#: Where the pre-dose NIBP readings fall (minutes from the dose).
PREDOSE_MIN = (-9.0, -5.0)

NONIN = ProtocolId.NONIN_DF2
MASIMO = ProtocolId.MASIMO_ASCII1

LOW, MEDIUM, HIGH = "low", "medium", "high"


def at(minutes: float, seconds: float = 0.0) -> float:
    """Scenario seconds of "+minutes:seconds" after the dose (negative: before)."""
    return PREP_S + minutes * 60 + seconds


@dataclass(frozen=True, slots=True)
class Alarm:
    """An expected ``alarm`` line."""

    t_s: float
    code: str
    transition: str
    priority: str
    #: May be printed or not (module doc).
    optional: bool = False
    #: A known engine issue behind this line (module doc).
    issue: str | None = None
    #: With ``issue``: whether the policy wants the line.
    wanted: bool = True

    @property
    def kind(self) -> str:
        """``technical`` or ``physiological``, by the code."""
        return "technical" if self.code.startswith("tech.") else "physiological"


@dataclass(frozen=True, slots=True)
class Episode:
    """An expected ``episode`` line."""

    t_s: float
    signal: str
    transition: str
    #: A known engine issue behind this line (module doc).
    issue: str | None = None
    #: With ``issue``: whether the policy wants the line.
    wanted: bool = True


@dataclass(frozen=True, slots=True)
class PhaseLine:
    """An expected ``phase`` line."""

    t_s: float
    phase: str
    by: str


@dataclass(frozen=True, slots=True, kw_only=True)
class AlarmScenario:
    """A capture to generate and the events its replay must print."""

    name: str
    #: Where the scenario comes from (the policy's example, §6 scenario, or row).
    source: str
    description: str
    plan: CapturePlan
    #: Every alarm line, in order of time.
    alarms: tuple[Alarm, ...]
    episodes: tuple[Episode, ...] = ()
    phases: tuple[PhaseLine, ...] = (PhaseLine(PREP_S, "dosing", "therapist"),)
    #: Codes the summary lists as active at the end (order free); ``None``: unchecked.
    active_at_end: tuple[str, ...] | None = None
    #: The summary's ``discharge_ready``; ``None``: unchecked.
    discharge_ready: bool | None = None


# ------------------------------------------------------------------ building blocks


def steps(name: str, *points: tuple[float, float]) -> tuple[Keyframe, ...]:
    """Keyframes of one vital (``Keyframe`` field ``name``) as a step function."""
    frames: list[Keyframe] = []
    previous: float | None = None
    for t_s, value in points:
        if previous is not None:
            frames.append(Keyframe(t_s=t_s - STEP_S, **{name: previous}))
        frames.append(Keyframe(t_s=t_s, **{name: value}))
        previous = value
    return tuple(frames)


def ramps(name: str, *points: tuple[float, float]) -> tuple[Keyframe, ...]:
    """Keyframes of one vital, linear between ``points``."""
    return tuple(Keyframe(t_s=t_s, **{name: value}) for t_s, value in points)


def vitals(*, hr: float = 72, spo2: float = 98) -> tuple[Keyframe, ...]:
    """Constant HR and SpO2."""
    return (Keyframe(t_s=0, pulse_rate_bpm=hr, spo2_percent=spo2),)


@dataclass(frozen=True, slots=True)
class Bp:
    """One NIBP reading at ``minute`` after the dose."""

    minute: float
    sbp: int
    dbp: int
    map: int | None = None
    #: The module's error flag on this result (the numbers are sent anyway).
    error_code: int = 0


def interpolate(
    points: Sequence[tuple[float, float, float]], minutes: Iterable[float]
) -> list[Bp]:
    """Readings at ``minutes``, linear through ``(minute, sbp, dbp)`` points."""
    out = []
    for minute in minutes:
        for (m0, s0, d0), (m1, s1, d1) in itertools.pairwise(points):
            if m0 <= minute <= m1:
                share = (minute - m0) / (m1 - m0)
                out.append(
                    Bp(
                        minute,
                        round(s0 + (s1 - s0) * share),
                        round(d0 + (d1 - d0) * share),
                    )
                )
                break
        else:
            raise ValueError(f"+{minute} min is outside the listed readings")
    return out


def predose(sbp: int, dbp: int) -> list[Bp]:
    """The two pre-dose readings of the baseline."""
    return [Bp(minute, sbp, dbp) for minute in PREDOSE_MIN]


def scripted(readings: Iterable[Bp]) -> tuple[NibpResult, ...]:
    """The readings as the SunTech model's scripted results."""
    return tuple(
        NibpResult(
            t_s=at(r.minute) - SCRIPT_LEAD_S,
            systolic_mmhg=r.sbp,
            diastolic_mmhg=r.dbp,
            map_mmhg=r.map,
            error_code=r.error_code,
        )
        for r in readings
    )


def times(readings: Iterable[Bp], *extra_minutes: float) -> tuple[float, ...]:
    """When the determinations complete: each reading's time and ``extra_minutes``."""
    minutes = sorted({r.minute for r in readings} | set(extra_minutes))
    return tuple(at(m) for m in minutes)


def session(
    *more: OperatorInput, confirm_at: float | None = -1.0, dose: bool = True
) -> tuple[OperatorInput, ...]:
    """The usual inputs: the nurse confirms the baseline, the dose; then ``more``."""
    inputs = []
    if confirm_at is not None:
        inputs.append(
            OperatorInput(
                t_s=at(confirm_at), op="baseline_confirm", args={"by": "nurse"}
            )
        )
    if dose:
        inputs.append(
            OperatorInput(
                t_s=at(0), op="phase", args={"phase": "dosing", "by": "therapist"}
            )
        )
    return (*inputs, *more)


def op(minutes: float, seconds: float, name: str, **args: object) -> OperatorInput:
    """An operator input at "+minutes:seconds" (by the nurse unless ``by`` says)."""
    return OperatorInput(
        t_s=at(minutes, seconds), op=name, args={"by": "nurse", **args}
    )


def plan(
    scenario: Scenario,
    *,
    oximeter: ProtocolId | None,
    readings: Sequence[Bp] = (),
    extra_nibp_min: Sequence[float] = (),
    variant: str = "rad8",
    outages: tuple[Outage, ...] = (),
    route: Route = Route.IV,
    seed: int = 7,
) -> CapturePlan:
    """A capture plan with the readings' determinations."""
    return CapturePlan(
        scenario=scenario,
        seed=seed,
        oximeter=oximeter,
        masimo_variant=variant,
        nibp=bool(readings) or bool(extra_nibp_min),
        nibp_at=times(readings, *extra_nibp_min),
        outages=outages,
        route=route,
    )


def scenario(
    name: str,
    description: str,
    *,
    end_min: float,
    keyframes: tuple[Keyframe, ...] = (),
    readings: Sequence[Bp] = (),
    inputs: tuple[OperatorInput, ...] = (),
    state_spans: tuple[StateSpan, ...] = (),
    nibp_errors: tuple[NibpError, ...] = (),
    spo2_jitter_percent: float = 0.4,
    hr_jitter_bpm: float = 1.0,
) -> Scenario:
    """A ``Scenario`` ending at "+end_min" with scripted NIBP readings."""
    return Scenario(
        name=name,
        description=description,
        duration_s=at(end_min),
        keyframes=keyframes or vitals(),
        state_spans=state_spans,
        nibp_errors=nibp_errors,
        nibp_readings=scripted(readings),
        nibp_inflate_s=30.0,
        spo2_jitter_percent=spo2_jitter_percent,
        hr_jitter_bpm=hr_jitter_bpm,
        operator_inputs=inputs,
    )


def _cycle(start: float, stop: float, step: float = 5) -> list[float]:
    """Minutes ``start``, ``start + step`` ... up to ``stop`` inclusive."""
    count = int((stop - start) // step) + 1
    return [start + k * step for k in range(count)]


# ------------------------------------------------------------------ worked examples


def _example_1() -> AlarmScenario:
    points = [(0, 124, 78), (20, 132, 84), (35, 140, 88), (40, 141, 89)]
    points += [(55, 130, 82), (70, 126, 79)]
    readings = predose(124, 78) + interpolate(points, [*_cycle(5, 55), 70])
    hr = ramps("pulse_rate_bpm", (0, 72), (at(30), 88), (at(60), 74))
    s = scenario(
        "example_1_typical_transient",
        "Baseline 124/78, HR 72, SpO2 98; a rise to 141/89 at +40 and HR 88.",
        end_min=75,
        keyframes=(*hr, Keyframe(t_s=0, spo2_percent=98)),
        readings=readings,
        inputs=session(),
    )
    return AlarmScenario(
        name=s.name,
        source="alarm-policy.md worked example 1",
        description="Typical transient: no alarm and no advisory (peak +17/+11).",
        plan=plan(s, oximeter=MASIMO, readings=readings),
        alarms=(),
        active_at_end=(),
        discharge_ready=False,  # IV: infusion end + 60 min is +100
    )


def _example_2() -> AlarmScenario:
    points = [(0, 120, 75), (35, 165, 96), (40, 168, 100), (50, 150, 92)]
    points += [(65, 133, 84), (80, 128, 80)]
    # The 5-min cycle until +60 (infusion end + 20), then 15 min: the listed +65, +80.
    readings = predose(120, 75) + interpolate(points, [*_cycle(5, 55), 65, 80])
    s = scenario(
        "example_2_large_transient",
        "Baseline 120/75; 165/96 at +35, 168/100 at +40, back to 128/80 at +80.",
        end_min=85,
        readings=readings,
        inputs=session(),
    )
    return AlarmScenario(
        name=s.name,
        source="alarm-policy.md worked example 2",
        description="Relative rise: LOW bp.rise at +40 (2nd crossing), no MEDIUM; "
        "the episode and the advisory close at +80.",
        plan=plan(s, oximeter=MASIMO, readings=readings, variant="radical7"),
        alarms=(
            Alarm(at(40), "bp.rise", "raised", LOW),
            Alarm(at(80), "bp.rise", "cleared", LOW),
        ),
        episodes=(
            Episode(at(35), "bp", "opened"),
            Episode(at(40), "bp", "updated"),
            Episode(at(80), "bp", "closed"),
        ),
        active_at_end=(),
    )


def _hypertension_readings() -> list[Bp]:
    points = [(0, 138, 88), (30, 184, 112), (33, 188, 114), (36, 186, 110)]
    points += [(39, 165, 100), (42, 160, 96)]
    return predose(138, 88) + interpolate(points, [*_cycle(5, 30), 33, 36, 39, 42])


def _example_3() -> AlarmScenario:
    readings = _hypertension_readings()
    s = scenario(
        "example_3_confirmed_hypertension",
        "Baseline 138/88; 184/112 at +30, 188/114 at +33, acknowledged at +34, "
        "186/110 at +36, 165/100 at +39, 160/96 at +42.",
        end_min=45,
        readings=readings,
        inputs=session(op(34, 0, "acknowledge", code="bp.high")),
    )
    return AlarmScenario(
        name=s.name,
        source="alarm-policy.md worked example 3",
        description="bp.high LOW on the first reading, MEDIUM on the second, "
        "acknowledged, reminded every 3 min, cleared at +42 after two readings under "
        "170/105 at least 3 min apart.",
        plan=plan(s, oximeter=MASIMO, readings=readings),
        alarms=(
            Alarm(at(30), "bp.high", "raised", LOW),
            Alarm(at(33), "bp.high", "escalated", MEDIUM),
            Alarm(at(34), "bp.high", "acknowledged", MEDIUM),
            Alarm(at(37), "bp.high", "reminded", MEDIUM),
            Alarm(at(40), "bp.high", "reminded", MEDIUM),
            Alarm(at(42), "bp.high", "cleared", MEDIUM),
        ),
        episodes=(
            Episode(at(30), "bp", "opened"),
            Episode(at(33), "bp", "updated"),
        ),
        active_at_end=(),
    )


def _example_4() -> AlarmScenario:
    readings = predose(130, 80) + interpolate(
        [(0, 130, 80), (20, 130, 80)], _cycle(5, 20)
    )
    readings += [Bp(25, 205, 122), Bp(27, 208, 125)]
    readings += interpolate([(27, 208, 125), (45, 150, 90)], _cycle(30, 45, 3))
    s = scenario(
        "example_4_severe_hypertension",
        "205/122 at +25, 208/125 at +27 (the STAT repeat), audio paused at +26; "
        "falling to 150/90 by +45; reset at +46.",
        end_min=47,
        readings=readings,
        inputs=session(op(26, 0, "audio_pause"), op(46, 0, "reset", code="bp.severe")),
    )
    return AlarmScenario(
        name=s.name,
        source="alarm-policy.md worked example 4",
        description="bp.severe MEDIUM at once, HIGH when confirmed (through the "
        "audio pause), latched after the values fall until the reset at +46.",
        plan=plan(s, oximeter=MASIMO, readings=readings),
        alarms=(
            Alarm(at(25), "bp.severe", "raised", MEDIUM),
            Alarm(at(27), "bp.severe", "escalated", HIGH),
            Alarm(at(29), "bp.severe", "reminded", HIGH),  # volume up, unacknowledged
            Alarm(at(46), "bp.severe", "reset", HIGH),
        ),
        episodes=(
            Episode(at(25), "bp", "opened"),
            Episode(at(27), "bp", "updated"),
        ),
        active_at_end=(),
    )


def _example_5() -> AlarmScenario:
    readings = [*predose(130, 80), Bp(5, 130, 80), Bp(10, 129, 80)]
    readings += [Bp(15, 96, 94), Bp(16, 240, 60, error_code=2), Bp(18, 130, 80)]
    s = scenario(
        "example_5_nibp_artifact",
        "96/94 (pulse pressure 2) at +15; 240/60 with the module's error flag at "
        "+16; 130/80 at +18.",
        end_min=20,
        readings=readings,
        inputs=session(),
    )
    return AlarmScenario(
        name=s.name,
        source="alarm-policy.md worked example 5",
        description="No physiological BP alarm: tech.nibp.questionable LOW, MEDIUM "
        "after the second failure, cleared by the plausible +18 reading.",
        plan=plan(s, oximeter=MASIMO, readings=readings),
        alarms=(
            Alarm(at(15), "tech.nibp.questionable", "raised", LOW),
            Alarm(at(16), "tech.nibp.questionable", "escalated", MEDIUM),
            # Volume up is due 2 min after +16, the instant the +18 reading clears it.
            Alarm(at(18), "tech.nibp.questionable", "reminded", MEDIUM, optional=True),
            Alarm(at(18), "tech.nibp.questionable", "cleared", MEDIUM),
        ),
        active_at_end=(),
    )


def _example_6() -> AlarmScenario:
    start, end = at(12), at(12, 6)
    keyframes = (
        *steps("spo2_percent", (0, 97), (start, 78), (end, 97)),
        *steps("pulse_rate_bpm", (0, 60), (start, 160), (at(12, 3), 50), (end, 60)),
    )
    s = scenario(
        "example_6_spo2_motion_artifact",
        "At +12 SpO2 97 -> 78 and PR 60 -> 160 -> 50 for 6 s while the oximeter "
        "flags motion artifact.",
        end_min=14,
        keyframes=keyframes,
        readings=predose(124, 78),
        inputs=session(),
        state_spans=(
            StateSpan(start_s=start, end_s=end, state=OximeterState.ARTIFACT),
        ),
    )
    return AlarmScenario(
        name=s.name,
        source="alarm-policy.md worked example 6",
        description="No SpO2 or PR alarm: LOW technical 'SpO2 noisy' raised and "
        "cleared 10 s after the signal is valid again; no MEDIUM (< 30 s).",
        plan=plan(s, oximeter=NONIN, readings=predose(124, 78), extra_nibp_min=(5, 10)),
        alarms=(
            Alarm(start, "tech.spo2.signal", "raised", LOW),
            Alarm(end + 10, "tech.spo2.signal", "cleared", LOW),
        ),
        active_at_end=(),
    )


# ------------------------------------------------------------ research scenarios


def _scenario_7() -> AlarmScenario:
    fall = [(at(20, 5 * k), 97.0 - k) for k in range(14)]  # 97 ... 84 at +21:05
    keyframes = (
        *steps("spo2_percent", (0, 97), *fall[1:], (at(22, 35), 95)),
        Keyframe(t_s=0, pulse_rate_bpm=72),
    )
    s = scenario(
        "scenario_7_true_desaturation",
        "From +20:00 SpO2 falls 1 point every 5 s from 97 to 84, holds 90 s, "
        "recovers to 95; reset at +23:20.",
        end_min=23.5,
        keyframes=keyframes,
        readings=predose(124, 78),
        inputs=session(op(23, 20, "reset", code="spo2.desat")),
        # The 89 step must read 89: a display that flickers 89/90 restarts the
        # integral (the rules' documented choice); see the false-alarm bench.
        spo2_jitter_percent=0.0,
    )
    return AlarmScenario(
        name=s.name,
        source="alarm-research.md §6 scenario 7",
        description="spo2.low MEDIUM when the integral reaches 50 %·s (+21:00), "
        "spo2.desat HIGH 5 s after 84 (+21:10), latched; the MEDIUM clears after "
        "30 s at 95; the HIGH waits for the reset.",
        plan=plan(
            s, oximeter=NONIN, readings=predose(124, 78), extra_nibp_min=(5, 10, 15, 20)
        ),
        alarms=(
            Alarm(at(21), "spo2.low", "raised", MEDIUM),
            Alarm(at(21, 10), "spo2.desat", "raised", HIGH),
            Alarm(at(23), "spo2.low", "reminded", MEDIUM),  # volume up
            Alarm(at(23, 5), "spo2.low", "cleared", MEDIUM),
            Alarm(at(23, 10), "spo2.desat", "reminded", HIGH),  # volume up
            Alarm(at(23, 20), "spo2.desat", "reset", HIGH),
        ),
        active_at_end=(),
    )


def _scenario_8(*, noisy: bool) -> AlarmScenario:
    dips = [(at(10), 89.0), (at(10, 8), 97.0)]
    for start in (0, 20, 40):
        dips += [(at(12, start), 88.0), (at(12, start + 3), 97.0)]
    s = scenario(
        "scenario_8_brief_dips" + ("_noisy" if noisy else ""),
        "A single dip to 89 for 8 s at +10; three dips to 88 for 3 s within 50 s "
        "from +12." + (" SpO2 with the model's usual jitter (0.4 %)." if noisy else ""),
        end_min=14,
        keyframes=(
            *steps("spo2_percent", (0, 97), *dips),
            Keyframe(t_s=0, pulse_rate_bpm=70),
        ),
        readings=predose(124, 78),
        inputs=session(),
        spo2_jitter_percent=0.4 if noisy else 0.0,
    )
    return AlarmScenario(
        name=s.name,
        source="alarm-research.md §6 scenario 8",
        description="The single dip (8 %·s) raises nothing; the third dip within "
        "60 s raises spo2.low MEDIUM, which clears after 30 s >= 92.",
        plan=plan(s, oximeter=NONIN, readings=predose(124, 78), extra_nibp_min=(5, 10)),
        alarms=(
            Alarm(at(12, 40), "spo2.low", "raised", MEDIUM),
            Alarm(at(12, 43 + 30), "spo2.low", "cleared", MEDIUM),
        ),
        active_at_end=(),
    )


def _scenario_9() -> AlarmScenario:
    hr = steps(
        "pulse_rate_bpm",
        (0, 75),
        (at(25), 118),
        (at(28), 135),  # a 20 s spike
        (at(28, 20), 118),
        (at(33), 135),  # sustained 45 s
        (at(33, 45), 155),  # 15 s
        (at(34), 100),
    )
    readings = predose(126, 80) + interpolate(
        [(0, 126, 80), (35, 134, 84)], _cycle(5, 35)
    )
    s = scenario(
        "scenario_9_ketamine_tachycardia",
        "Baseline HR 75; 118 from +25; a 20 s spike to 135 at +28; 135 for 45 s "
        "from +33, then 155 for 15 s; 100 from +34; reset at +36:10.",
        end_min=36.25,
        keyframes=(*hr, Keyframe(t_s=0, spo2_percent=98)),
        readings=readings,
        inputs=session(op(36, 10, "reset", code="hr.high")),
    )
    return AlarmScenario(
        name=s.name,
        source="alarm-research.md §6 scenario 9",
        description="hr.rise LOW at 60 s of 118; the 20 s spike raises nothing; "
        "hr.high MEDIUM after 30 s of 135, HIGH after 15 s of 155, latched after "
        "HR settles, reset.",
        plan=plan(s, oximeter=MASIMO, readings=readings, variant="radical7"),
        alarms=(
            Alarm(at(26), "hr.rise", "raised", LOW),
            Alarm(at(33, 30), "hr.high", "raised", MEDIUM),
            Alarm(at(34), "hr.high", "escalated", HIGH),
            Alarm(at(36), "hr.high", "reminded", HIGH),  # volume up, unacknowledged
            Alarm(at(36, 10), "hr.high", "reset", HIGH),
        ),
        episodes=(
            # The 10 s median of 1 Hz samples crosses 4-5 s after each step.
            Episode(at(25, 4), "hr", "opened"),
            Episode(at(28, 4), "hr", "updated"),
            Episode(at(33, 49), "hr", "updated"),
        ),
        active_at_end=("hr.rise",),
    )


def _scenario_10() -> AlarmScenario:
    s = scenario(
        "scenario_10_lost_data_stream",
        "The oximeter's stream stops at +20:00 and resumes at +21:00.",
        end_min=22,
        readings=predose(124, 78),
        inputs=session(),
    )
    readings = predose(124, 78)
    return AlarmScenario(
        name=s.name,
        source="alarm-research.md §6 scenario 10",
        description="tech.spo2.data_lost LOW at 10 s, MEDIUM at 15 s (infusion "
        "running), cleared after 5 s of frames; no desat or HR alarm.",
        plan=plan(
            s,
            oximeter=NONIN,
            readings=readings,
            extra_nibp_min=(5, 10, 15, 20),
            outages=(Outage(device="oximeter", start_s=at(20), end_s=at(21)),),
        ),
        alarms=(
            Alarm(at(20, 10), "tech.spo2.data_lost", "raised", LOW),
            # Stale after 3 s without a frame (Nonin driver), unhealthy for 10 s.
            Alarm(at(20, 15), "tech.spo2.data_lost", "escalated", MEDIUM),
            Alarm(at(21, 5), "tech.spo2.data_lost", "cleared", MEDIUM),
        ),
        active_at_end=(),
    )


def _scenario_11() -> AlarmScenario:
    readings = [*predose(120, 75), Bp(5, 125, 78), Bp(10, 165, 101)]
    s = scenario(
        "scenario_11_nibp_overdue",
        "The NIBP module stops answering after the +10 reading (a first relative "
        "crossing, 165/101 over 120/75); the cycle is 5 min.",
        end_min=21,
        readings=readings,
        inputs=session(),
    )
    return AlarmScenario(
        name=s.name,
        source="alarm-research.md §6 scenario 11",
        description="tech.nibp.overdue MEDIUM at +18 (interval + 3 min); the stale "
        "+10 reading never counts twice (no bp.rise).",
        plan=plan(
            s,
            oximeter=MASIMO,
            readings=readings,
            extra_nibp_min=(15, 20),
            outages=(Outage(device="nibp", start_s=at(10, 30), end_s=at(21)),),
        ),
        alarms=(
            Alarm(at(18), "tech.nibp.overdue", "raised", MEDIUM),
            Alarm(at(20), "tech.nibp.overdue", "reminded", MEDIUM),  # volume up
        ),
        episodes=(Episode(at(10), "bp", "opened"),),
        active_at_end=("tech.nibp.overdue",),
    )


def _scenario_12a() -> AlarmScenario:
    readings = _hypertension_readings()[:9]  # ... 184/112 at +30, 188/114 at +33
    s = scenario(
        "scenario_12a_breakthrough",
        "The BP MEDIUM of example 3 is acknowledged at +34; SpO2 falls to 78 at +35.",
        end_min=35.75,
        keyframes=(
            *steps("spo2_percent", (0, 97), (at(35), 78)),
            Keyframe(t_s=0, pulse_rate_bpm=70),
        ),
        readings=readings,
        inputs=session(op(34, 0, "acknowledge", code="bp.high")),
    )
    return AlarmScenario(
        name=s.name,
        source="alarm-research.md §6 scenario 12 part A",
        description="spo2.desat HIGH at once (< 80 %) despite the acknowledged "
        "bp.high; spo2.low MEDIUM follows when its integral reaches 50 %·s.",
        plan=plan(s, oximeter=MASIMO, readings=readings),
        alarms=(
            Alarm(at(30), "bp.high", "raised", LOW),
            Alarm(at(33), "bp.high", "escalated", MEDIUM),
            Alarm(at(34), "bp.high", "acknowledged", MEDIUM),
            Alarm(at(35), "spo2.desat", "raised", HIGH),
            Alarm(at(35, 4), "spo2.low", "raised", MEDIUM),  # 12 %·s a second
        ),
        episodes=(
            Episode(at(30), "bp", "opened"),
            Episode(at(33), "bp", "updated"),
        ),
        active_at_end=("bp.high", "spo2.desat", "spo2.low"),
    )


def _scenario_12b() -> AlarmScenario:
    points = [(0, 118, 74), (35, 162, 100), (40, 165, 102), (120, 150, 95)]
    points += [(125, 128, 80), (130, 128, 80)]
    minutes = [*_cycle(5, 60), 75, 90, 105, 120, 125, 130]
    readings = predose(118, 74) + interpolate(points, minutes)
    s = scenario(
        "scenario_12b_nasal_unresolved",
        "Nasal dose; baseline 118/74; 162/100 at +35, 165/102 at +40, still 150/95 "
        "at +120; 128/80 at +125 and +130.",
        end_min=131,
        readings=readings,
        inputs=session(),
    )
    return AlarmScenario(
        name=s.name,
        source="alarm-research.md §6 scenario 12 part B",
        description="bp.rise LOW at +40, escalated to MEDIUM 'BP not resolved' at "
        "+120 (nasal: dose + 120 min), cleared when the episode closes at +130; "
        "then discharge-ready.",
        plan=plan(s, oximeter=MASIMO, readings=readings, route=Route.NASAL),
        alarms=(
            Alarm(at(40), "bp.rise", "raised", LOW),
            Alarm(at(120), "bp.rise", "escalated", MEDIUM),
            Alarm(at(122), "bp.rise", "reminded", MEDIUM),  # volume up
            Alarm(at(130), "bp.rise", "cleared", MEDIUM),
        ),
        episodes=(
            Episode(at(35), "bp", "opened"),
            Episode(at(40), "bp", "updated"),
            Episode(at(130), "bp", "closed"),
        ),
    )


# ------------------------------------------------------------- the other rows


def _predose_high() -> AlarmScenario:
    readings = [Bp(-9, 148, 94), Bp(-6, 146, 92), Bp(-3, 130, 82), Bp(-1, 128, 80)]
    readings += [Bp(5, 130, 81)]
    s = scenario(
        "row_bp_predose_high",
        "Pre-dose 148/94 and 146/92; after rest 130/82 and 128/80; dose at 0.",
        end_min=6,
        readings=readings,
        inputs=session(confirm_at=-0.5),
    )
    return AlarmScenario(
        name=s.name,
        source="policy row SBP/DBP, pre-dose (bp.predose_high)",
        description="LOW advisory once the baseline median (147/93) is > 140/90; "
        "cleared when the new median (138/87) is <= 140/90; no dosing gate.",
        plan=plan(s, oximeter=MASIMO, readings=readings, variant="radical5"),
        alarms=(
            Alarm(at(-6), "bp.predose_high", "raised", LOW),
            Alarm(at(-1), "bp.predose_high", "cleared", LOW),
        ),
        active_at_end=(),
    )


def _bp_low() -> AlarmScenario:
    readings = [*predose(118, 74), Bp(5, 112, 70), Bp(10, 86, 56), Bp(13, 84, 54)]
    readings += [Bp(16, 78, 48), Bp(19, 76, 46), Bp(22, 98, 62), Bp(25, 104, 66)]
    s = scenario(
        "row_bp_low",
        "Baseline 118/74; 86/56 at +10, 84/54 at +13, 78/48 at +16, 76/46 at +19 "
        "(3-min repeats), acknowledged at +20, 98/62 at +22 and 104/66 at +25, "
        "reset at +26.",
        end_min=27,
        readings=readings,
        inputs=session(op(20, 0, "acknowledge"), op(26, 0, "reset", code="bp.low")),
    )
    return AlarmScenario(
        name=s.name,
        source="policy row NIBP, low (bp.low)",
        description="LOW on the first reading < 90, MEDIUM confirmed; HIGH only "
        "after two readings < 80; latched after two readings above the limit + 5 "
        "until the reset.",
        plan=plan(s, oximeter=MASIMO, readings=readings),
        alarms=(
            Alarm(at(10), "bp.low", "raised", LOW),
            Alarm(at(13), "bp.low", "escalated", MEDIUM),
            Alarm(at(15), "bp.low", "reminded", MEDIUM),  # volume up
            Alarm(at(19), "bp.low", "escalated", HIGH),
            Alarm(at(20), "bp.low", "acknowledged", HIGH),
            Alarm(at(23), "bp.low", "reminded", HIGH),  # still present after ack
            Alarm(at(26), "bp.low", "reset", HIGH),
        ),
        active_at_end=(),
    )


def _hr_low(*, noisy: bool) -> AlarmScenario:
    hr = steps(
        "pulse_rate_bpm",
        (0, 62),
        (at(10), 43),
        (at(10, 25), 62),
        (at(12), 38),
        (at(12, 15), 62),
    )
    s = scenario(
        "row_hr_low" + ("_noisy" if noisy else ""),
        "Baseline HR 62; 43 for 25 s at +10; 38 for 15 s at +12; acknowledged at "
        "+13, reset at +14; HR jitter "
        + ("1 bpm (the model's usual)." if noisy else "0.3 bpm."),
        end_min=14.25,
        keyframes=(*hr, Keyframe(t_s=0, spo2_percent=98)),
        readings=predose(120, 76),
        inputs=session(op(13, 0, "acknowledge"), op(14, 0, "reset", code="hr.low")),
        hr_jitter_bpm=1.0 if noisy else 0.3,
    )
    return AlarmScenario(
        name=s.name,
        source="policy row HR / PR, low (hr.low)",
        description="MEDIUM after 15 s < 45, cleared after 30 s > 50; HIGH after "
        "10 s < 40, latched until the reset.",
        plan=plan(s, oximeter=NONIN, readings=predose(120, 76), extra_nibp_min=(5, 10)),
        alarms=(
            Alarm(at(10, 15), "hr.low", "raised", MEDIUM),
            Alarm(at(10, 55), "hr.low", "cleared", MEDIUM),
            Alarm(at(12, 10), "hr.low", "raised", HIGH),
            Alarm(at(13), "hr.low", "acknowledged", HIGH),
            Alarm(at(14), "hr.low", "reset", HIGH),
        ),
        active_at_end=(),
    )


def _hr_rise() -> AlarmScenario:
    hr = steps("pulse_rate_bpm", (0, 70), (at(10), 112), (at(13), 80))
    readings = predose(122, 78) + interpolate(
        [(0, 122, 78), (15, 130, 82)], _cycle(5, 15)
    )
    s = scenario(
        "row_hr_rise",
        "Baseline HR 70; 112 for 3 min from +10, then 80.",
        end_min=16,
        keyframes=(*hr, Keyframe(t_s=0, spo2_percent=98)),
        readings=readings,
        inputs=session(),
    )
    return AlarmScenario(
        name=s.name,
        source="policy row HR, relative (hr.rise)",
        description="LOW advisory after 60 s >= baseline + 30 and >= 110; cleared "
        "after 120 s <= baseline + 15; the HR episode opens and closes.",
        plan=plan(s, oximeter=MASIMO, readings=readings),
        alarms=(
            Alarm(at(11), "hr.rise", "raised", LOW),
            Alarm(at(15), "hr.rise", "cleared", LOW),
        ),
        # The 10 s median crosses about 5 s after the step (rules.py, episodes.py).
        episodes=(
            Episode(at(10, 5), "hr", "opened"),
            Episode(at(15, 5), "hr", "closed"),
        ),
        active_at_end=(),
    )


def _spo2_borderline() -> AlarmScenario:
    spo2 = steps("spo2_percent", (0, 98), (at(10), 92), (at(12, 30), 97))
    s = scenario(
        "row_spo2_borderline",
        "SpO2 98; 92 for 150 s from +10; then 97.",
        end_min=14,
        keyframes=(*spo2, Keyframe(t_s=0, pulse_rate_bpm=72)),
        readings=predose(124, 78),
        inputs=session(),
    )
    return AlarmScenario(
        name=s.name,
        source="policy row SpO2, borderline (spo2.borderline)",
        description="LOW trend note after 120 s in 90-93 %, cleared after 60 s "
        ">= 94 %.",
        plan=plan(s, oximeter=NONIN, readings=predose(124, 78), extra_nibp_min=(5, 10)),
        alarms=(
            Alarm(at(12), "spo2.borderline", "raised", LOW),
            Alarm(at(13, 30), "spo2.borderline", "cleared", LOW),
        ),
        active_at_end=(),
    )


def _spo2_signal() -> AlarmScenario:
    spans = (
        StateSpan(start_s=at(10), end_s=at(10, 45), state=OximeterState.SENSOR_OFF),
        # The cuff (same limb) occludes the finger during the +13 determination.
        StateSpan(start_s=at(12, 31), end_s=at(13, 2), state=OximeterState.SEARCHING),
    )
    s = scenario(
        "row_spo2_signal",
        "Sensor off for 45 s at +10; the pulse lost for 31 s while the NIBP cuff "
        "on the same arm inflates (determination +12:30 to +13:00).",
        end_min=13.5,
        readings=predose(124, 78),
        inputs=session(),
        state_spans=spans,
    )
    return AlarmScenario(
        name=s.name,
        source="policy row SpO2 signal quality (tech.spo2.signal)",
        description="LOW at once, MEDIUM after 30 s, cleared 10 s after the signal "
        "is valid; during an NIBP inflation 31 s stays LOW (60 s allowed).",
        plan=plan(
            s, oximeter=NONIN, readings=predose(124, 78), extra_nibp_min=(5, 10, 13)
        ),
        alarms=(
            Alarm(at(10), "tech.spo2.signal", "raised", LOW),
            Alarm(at(10, 30), "tech.spo2.signal", "escalated", MEDIUM),
            Alarm(at(10, 55), "tech.spo2.signal", "cleared", MEDIUM),
            Alarm(at(12, 31), "tech.spo2.signal", "raised", LOW),
            Alarm(at(13, 12), "tech.spo2.signal", "cleared", LOW),
        ),
        active_at_end=(),
    )


def _data_lost_predose() -> AlarmScenario:
    s = scenario(
        "row_spo2_data_lost_predose",
        "The oximeter's stream stops for 60 s at -8 min (before the dose).",
        end_min=2,
        readings=predose(124, 78),
        inputs=session(),
    )
    return AlarmScenario(
        name=s.name,
        source="policy row Data freshness, SpO2/PR stream (tech.spo2.data_lost)",
        description="Outside the infusion: LOW at 10 s, MEDIUM at 30 s, cleared "
        "after 5 s of frames.",
        plan=plan(
            s,
            oximeter=MASIMO,
            readings=predose(124, 78),
            outages=(Outage(device="oximeter", start_s=at(-8), end_s=at(-7)),),
        ),
        alarms=(
            Alarm(at(-8, 10), "tech.spo2.data_lost", "raised", LOW),
            # The last line before the outage came at -8:00; stale 3 s later.
            Alarm(at(-8, 30), "tech.spo2.data_lost", "escalated", MEDIUM),
            # Lines resume at -6:59 (the -7:00 line fell in the outage).
            Alarm(at(-7, 6), "tech.spo2.data_lost", "cleared", MEDIUM),
        ),
        active_at_end=(),
    )


def _overdue_bp_cycle() -> AlarmScenario:
    readings = [*predose(130, 80), Bp(5, 132, 82), Bp(10, 184, 112)]
    s = scenario(
        "row_nibp_overdue_3min",
        "184/112 at +10 asks for a repeat within 3 min; the module stops answering.",
        end_min=17,
        readings=readings,
        inputs=session(),
    )
    return AlarmScenario(
        name=s.name,
        source="policy row Data freshness, NIBP (tech.nibp.overdue)",
        description="On the 3-min cycle of an active BP rule: MEDIUM overdue at "
        "+16 (3 min + 3 min); bp.high stays LOW, unconfirmed.",
        plan=plan(
            s,
            oximeter=MASIMO,
            readings=readings,
            extra_nibp_min=(13, 16),
            variant="radical7",
            outages=(Outage(device="nibp", start_s=at(10, 30), end_s=at(17)),),
        ),
        alarms=(
            Alarm(at(10), "bp.high", "raised", LOW),
            Alarm(at(16), "tech.nibp.overdue", "raised", MEDIUM),
        ),
        episodes=(Episode(at(10), "bp", "opened"),),
        active_at_end=("bp.high", "tech.nibp.overdue"),
    )


def _questionable() -> AlarmScenario:
    # The cycle runs start to start (NibpController): after the retry at +11 the
    # next determinations complete at +16 and +21.
    readings = [*predose(124, 78), Bp(5, 126, 80), Bp(11, 128, 80), Bp(16, 127, 80)]
    readings += [Bp(21, 100, 100, map=100), Bp(22, 127, 79)]
    s = scenario(
        "row_nibp_questionable",
        "+10: the module reports error 87 (cuff leak), retried at +11: 128/80; "
        "+21: 100/100 MAP 100 (SBP = DBP = MAP), retried at +22: 127/79.",
        end_min=23,
        readings=readings,
        inputs=session(),
        nibp_errors=(NibpError(start_s=at(10, -5), end_s=at(10, 5), code=87),),
    )
    return AlarmScenario(
        name=s.name,
        source="policy row NIBP plausibility (tech.nibp.questionable)",
        description="Each single failure: LOW, cleared by the plausible retry; "
        "never MEDIUM (not two in a row).",
        plan=plan(
            s,
            oximeter=MASIMO,
            readings=readings,
            extra_nibp_min=(10,),
            variant="radical5",
        ),
        alarms=(
            Alarm(at(10), "tech.nibp.questionable", "raised", LOW),
            Alarm(at(11), "tech.nibp.questionable", "cleared", LOW),
            Alarm(at(21), "tech.nibp.questionable", "raised", LOW),
            Alarm(at(22), "tech.nibp.questionable", "cleared", LOW),
        ),
        active_at_end=(),
    )


def _links() -> AlarmScenario:
    s = scenario(
        "row_tech_link",
        "The NIBP cable is out from +6:00 to +9:00; the oximeter's from +12:00 to "
        "+12:40.",
        end_min=13,
        readings=predose(124, 78),
        inputs=session(),
    )
    return AlarmScenario(
        name=s.name,
        source="policy row Serial link / daemon (tech.link.<device>)",
        description="tech.link.nibp and tech.link.oximeter MEDIUM 10 s after the "
        "port closes, cleared 10 s after it is back; the oximeter's outage is also "
        "tech.spo2.data_lost (LOW 10 s, MEDIUM 15 s during the infusion).",
        plan=plan(
            s,
            oximeter=NONIN,
            readings=predose(124, 78),
            extra_nibp_min=(5, 10),
            outages=(
                Outage(device="nibp", start_s=at(6), end_s=at(9), link=True),
                Outage(device="oximeter", start_s=at(12), end_s=at(12, 40), link=True),
            ),
        ),
        alarms=(
            Alarm(at(6, 10), "tech.link.nibp", "raised", MEDIUM),
            Alarm(at(8, 10), "tech.link.nibp", "reminded", MEDIUM),  # volume up
            Alarm(at(9, 10), "tech.link.nibp", "cleared", MEDIUM),
            Alarm(at(12, 10), "tech.link.oximeter", "raised", MEDIUM),
            Alarm(at(12, 10), "tech.spo2.data_lost", "raised", LOW),
            Alarm(at(12, 15), "tech.spo2.data_lost", "escalated", MEDIUM),
            Alarm(at(12, 45), "tech.spo2.data_lost", "cleared", MEDIUM),
            Alarm(at(12, 50), "tech.link.oximeter", "cleared", MEDIUM),
        ),
        active_at_end=(),
    )


def _baseline_missing() -> AlarmScenario:
    readings = [Bp(-5, 120, 75), Bp(5, 128, 80), Bp(10, 165, 100), Bp(15, 168, 102)]
    readings += [Bp(20, 166, 100), Bp(25, 164, 99)]
    s = scenario(
        "row_baseline_missing",
        "One pre-dose NIBP reading only; 165/100 and 168/102 at +10 and +15; the "
        "nurse enters 120/75 from the chart at +16; 166/100 at +20, 164/99 at +25.",
        end_min=26,
        readings=readings,
        inputs=session(
            op(
                16,
                0,
                "baseline_confirm",
                sbp=120,
                dbp=75,
                reason="pre-dose chart value",
            )
        ),
    )
    return AlarmScenario(
        name=s.name,
        source="policy Baseline (tech.baseline_missing)",
        description="LOW technical at the dose; relative rules off (no bp.rise, no "
        "episode for +10/+15); the override clears it and the relative rule runs "
        "from then on.",
        plan=plan(s, oximeter=MASIMO, readings=readings),
        alarms=(
            Alarm(at(0), "tech.baseline_missing", "raised", LOW),
            Alarm(at(16), "tech.baseline_missing", "cleared", LOW),
            Alarm(at(25), "bp.rise", "raised", LOW),
        ),
        episodes=(Episode(at(20), "bp", "opened"),),
        active_at_end=("bp.rise",),
    )


def _bp_rise_iv_escalation() -> AlarmScenario:
    readings = predose(120, 75) + interpolate(
        [(0, 120, 75), (20, 125, 78)], _cycle(5, 20)
    )
    readings += [Bp(25, 165, 100), Bp(30, 168, 102), Bp(35, 162, 98), Bp(40, 160, 97)]
    readings += [Bp(55, 158, 96), Bp(70, 156, 95), Bp(85, 136, 84), Bp(90, 132, 82)]
    s = scenario(
        "row_bp_rise_escalation_iv",
        "IV; the infusion ends at +20 (recorded); 165/100 at +25 and 168/102 at "
        "+30 over 120/75; still 156/95 at +70; acknowledged at +81:30; 136/84 at "
        "+85 and 132/82 at +90.",
        end_min=91,
        readings=readings,
        inputs=session(
            op(20, 0, "infusion_end"), op(81, 30, "acknowledge", code="bp.rise")
        ),
    )
    return AlarmScenario(
        name=s.name,
        source="policy row SBP/DBP, relative: escalation (bp.rise)",
        description="bp.rise LOW at +30; MEDIUM 'BP not resolved' at +80 (infusion "
        "end + 60 min); acknowledged, reminded every 3 min; cleared with the "
        "episode at +90.",
        plan=plan(s, oximeter=MASIMO, readings=readings),
        alarms=(
            Alarm(at(30), "bp.rise", "raised", LOW),
            Alarm(at(80), "bp.rise", "escalated", MEDIUM),
            Alarm(at(81, 30), "bp.rise", "acknowledged", MEDIUM),
            Alarm(at(84, 30), "bp.rise", "reminded", MEDIUM),
            Alarm(at(87, 30), "bp.rise", "reminded", MEDIUM),
            Alarm(at(90), "bp.rise", "cleared", MEDIUM),
        ),
        episodes=(
            Episode(at(25), "bp", "opened"),
            Episode(at(30), "bp", "updated"),
            Episode(at(90), "bp", "closed"),
        ),
        active_at_end=(),
    )


#: Every scenario by name, in the order above.
ALARM_SCENARIOS: dict[str, AlarmScenario] = {
    s.name: s
    for s in (
        _example_1(),
        _example_2(),
        _example_3(),
        _example_4(),
        _example_5(),
        _example_6(),
        _scenario_7(),
        _scenario_8(noisy=False),
        _scenario_8(noisy=True),
        _scenario_9(),
        _scenario_10(),
        _scenario_11(),
        _scenario_12a(),
        _scenario_12b(),
        _predose_high(),
        _bp_low(),
        _hr_low(noisy=False),
        _hr_low(noisy=True),
        _hr_rise(),
        _spo2_borderline(),
        _spo2_signal(),
        _data_lost_predose(),
        _overdue_bp_cycle(),
        _questionable(),
        _links(),
        _baseline_missing(),
        _bp_rise_iv_escalation(),
    )
}
