"""A long randomized-but-seeded session through the engine, as a comparable record.

``record(config)`` drives one ``AlarmEngine`` through a session built from a seed:
SpO2 and PR readings at 1-3 Hz each (jittered, not aligned) with dips, desaturations,
tachycardia, bradycardia, single-sample spikes and noise; flagged and empty frames;
gaps; out-of-order and duplicate readings; cuff pressures during NIBP determinations;
NIBP readings on the cycle the engine asks for (STAT repeats taken) that are normal,
high, severe, low, implausible, failed, late or duplicated; link changes and decoder
error ratios; and commands (baseline confirmations, phases, infusion end, acknowledge,
audio pause, reset, refused ones). The engine is ticked every second, with the odd
stall. The record holds every call that returned something: the events (every field),
the refusals, and a snapshot every few minutes. Equal records: equal behaviour.
"""

from __future__ import annotations

import functools
import hashlib
import heapq
import json
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from roomctl.alarms import AlarmEngine, AlarmPolicy
from roomctl.alarms.policy import (
    AudioPolicy,
    BaselinePolicy,
    DischargePolicy,
    HrHighPolicy,
    NibpSchedulePolicy,
    PredosePolicy,
    Spo2DesatPolicy,
    Spo2SignalPolicy,
)
from roomctl.events import Command, CommandVerb, Role, Route
from roomctl.eventstream import plain, to_payload
from roomctl.readings import LinkState, Metric, NibpReading, Reading, ReadingStatus

if TYPE_CHECKING:
    from collections.abc import Callable

    from roomctl.events import Event

#: The golden records (``python -m tests.unit.alarms.randomized`` rewrites them).
GOLDEN = Path(__file__).parent / "golden"

EPOCH_AT = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
OX = "oximeter"
NIBP = "nibp"
#: A device no one configured (judged by what it sends).
OTHER = "capnograph"

#: Statuses an oximeter frame may carry instead of a value.
FLAGS = (
    ReadingStatus.SENSOR_OFF,
    ReadingStatus.SEARCHING,
    ReadingStatus.LOW_PERFUSION,
    ReadingStatus.ARTIFACT,
    ReadingStatus.QUESTIONABLE,
    ReadingStatus.UNAVAILABLE,
    ReadingStatus.DEVICE_ERROR,
)

#: One record entry: call number, call, what it returned.
Entry = list[object]


@dataclass(frozen=True, slots=True)
class SessionConfig:
    """One randomized session."""

    seed: int
    route: Route = Route.IV
    infusion_min: float = 40.0
    devices: tuple[str, ...] = (OX, NIBP)
    policy: AlarmPolicy = field(default_factory=AlarmPolicy)
    #: Seconds of preparation before dose start (t = 0).
    prep_s: float = 900.0
    #: Seconds after dose start.
    duration_s: float = 5400.0
    #: Pre-dose BP (a high one raises ``bp.predose_high``).
    predose_bp: tuple[float, float] = (122.0, 76.0)
    #: A stretch without oximeter frames (before dose start: a missing baseline).
    silence: tuple[float, float] | None = None


def configs() -> list[SessionConfig]:
    """The sessions the golden record covers."""
    variant = AlarmPolicy(
        predose=PredosePolicy(block_dosing=True),
        hr_high=HrHighPolicy(severe_latching=False, median_window_s=6),
        spo2_desat=Spo2DesatPolicy(latching=False),
        spo2_signal=Spo2SignalPolicy(nibp_same_limb=False),
        audio=AudioPolicy(reminder_s=60, pause_s=45, volume_up_after_s=40),
        discharge=DischargePolicy(require_no_alarms=False),
    )
    scheduled = AlarmPolicy(
        nibp_schedule=NibpSchedulePolicy(preparation_cycle_s=240),
        baseline=BaselinePolicy(window_s=120, min_coverage_s=60),
    )
    return [
        SessionConfig(seed=1),
        SessionConfig(
            seed=2, route=Route.NASAL, policy=variant, predose_bp=(150.0, 96.0)
        ),
        SessionConfig(seed=3, route=Route.IM, devices=(OX,)),
        SessionConfig(seed=4, route=Route.ORAL, devices=(NIBP,)),
        SessionConfig(seed=5, infusion_min=25.0, policy=scheduled),
        SessionConfig(seed=6, route=Route.IV, predose_bp=(146.0, 88.0)),
        SessionConfig(seed=7, duration_s=3600.0, silence=(-400.0, 20.0)),
        # Seeds 1-7 stopped reaching bp.severe when resolution spacing took the
        # NIBP cycle's tolerance (the cycles moved); seed 9 does.
        SessionConfig(seed=9),
    ]


@dataclass(slots=True)
class _Excursion:
    start: float
    end: float
    level: float


class _Physiology:
    """Values of one metric over time: a baseline, excursions and noise."""

    def __init__(
        self,
        rng: random.Random,
        *,
        base: float,
        noise: float,
        excursions: list[_Excursion],
        top: float,
    ) -> None:
        self._rng = rng
        self._base = base
        self._noise = noise
        self._excursions = sorted(excursions, key=lambda e: e.start)
        self._top = top

    def value(self, t: float) -> float:
        level = self._base
        for excursion in self._excursions:
            if excursion.start > t:
                break
            if t < excursion.end:
                level = excursion.level
        noisy = level + self._rng.uniform(-self._noise, self._noise)
        return float(min(self._top, max(1.0, round(noisy))))


def _hr_excursions(
    rng: random.Random, start: float, end: float, base: float
) -> list[_Excursion]:
    out: list[_Excursion] = []
    t = start + rng.uniform(30, 200)
    while t < end:
        kind = rng.choice(("tachy", "severe", "rise", "brady", "spike", "spike"))
        if kind == "tachy":
            span, level = rng.uniform(10, 150), rng.uniform(126, 148)
        elif kind == "severe":
            span, level = rng.uniform(5, 40), rng.uniform(148, 175)
        elif kind == "rise":
            span, level = rng.uniform(30, 300), base + rng.uniform(25, 48)
        elif kind == "brady":
            span, level = rng.uniform(5, 60), rng.uniform(34, 49)
        else:
            span, level = rng.uniform(0.3, 2.5), base + rng.uniform(50, 120)
        out.append(_Excursion(t, t + span, level))
        t += span + rng.expovariate(1 / 150)
    return out


def _spo2_excursions(rng: random.Random, start: float, end: float) -> list[_Excursion]:
    out: list[_Excursion] = []
    t = start + rng.uniform(30, 200)
    while t < end:
        kind = rng.choice(("desat", "deep", "dips", "border", "low"))
        if kind == "desat":
            span, level = rng.uniform(2, 40), rng.uniform(80, 86)
        elif kind == "deep":
            span, level = rng.uniform(1, 15), rng.uniform(70, 80)
        elif kind == "dips":
            # Repeated short dips (the 3-in-60 s rule).
            for _ in range(rng.randint(2, 4)):
                dip = rng.uniform(1.5, 6)
                out.append(_Excursion(t, t + dip, rng.uniform(86, 89.4)))
                t += dip + rng.uniform(4, 25)
            continue
        elif kind == "border":
            span, level = rng.uniform(60, 260), rng.uniform(90.6, 92.8)
        else:
            span, level = rng.uniform(10, 70), rng.uniform(85.5, 89.4)
        out.append(_Excursion(t, t + span, level))
        t += span + rng.expovariate(1 / 140)
    return out


def _spans(
    rng: random.Random,
    start: float,
    end: float,
    *,
    every: float,
    length: tuple[float, float],
) -> list[tuple[float, float]]:
    out = []
    t = start + rng.expovariate(1 / every)
    while t < end:
        span = rng.uniform(*length)
        out.append((t, t + span))
        t += span + rng.expovariate(1 / every)
    return out


def _compact(event: Event) -> list[object]:
    """Every field of the event, in field order, after its type."""
    payload = to_payload(event)
    kind = payload.pop("type")
    return [kind, *payload.values()]


def _inside(spans: list[tuple[float, float]], t: float) -> bool:
    return any(a <= t < b for a, b in spans)


class _Session:
    """Drives one engine through one randomized session and records it."""

    def __init__(self, config: SessionConfig, engine: type[AlarmEngine]) -> None:
        self.config = config
        self.rng = random.Random(config.seed)
        start = -config.prep_s
        self.start = start
        self.end = config.duration_s
        self.engine = engine(
            config.policy,
            route=config.route,
            infusion_min=config.infusion_min,
            epoch_mono=start,
            epoch_at=EPOCH_AT,
            devices={name: name for name in config.devices},
        )
        self.record: list[Entry] = []
        self._calls = 0
        self._seq = 0
        self._queue: list[tuple[float, int, Callable[[float], None]]] = []
        rng = self.rng
        self.hr_base = rng.uniform(64, 84)
        self.hr = _Physiology(
            rng,
            base=self.hr_base,
            noise=3.0,
            excursions=_hr_excursions(rng, start, self.end, self.hr_base),
            top=250,
        )
        self.spo2 = _Physiology(
            rng,
            base=rng.uniform(95.5, 98.5),
            noise=1.2,
            excursions=_spo2_excursions(rng, start, self.end),
            top=100,
        )
        self.flagged = _spans(rng, start, self.end, every=400, length=(1, 45))
        self.silent = _spans(rng, start, self.end, every=700, length=(3, 70))
        if config.silence is not None:
            self.silent.append(config.silence)
        self.bp_state = "normal"
        self.last_nibp_t = start

    # ------------------------------------------------------------ plumbing

    def at(self, t: float, action: Callable[[float], None]) -> None:
        self._seq += 1
        heapq.heappush(self._queue, (t, self._seq, action))

    def keep(
        self, call: str, t: float, events: list[Event], refusal: str | None
    ) -> None:
        self._calls += 1
        if events or refusal is not None:
            payload: list[object] = [_compact(e) for e in events]
            if refusal is not None:
                payload.append({"refusal": refusal})
            self.record.append([self._calls, call, round(t, 6), payload])

    def evaluate(self, reading: Reading | NibpReading, now: float) -> None:
        self.keep("evaluate", now, self.engine.evaluate(reading, now), None)

    def command(self, verb: CommandVerb, now: float, **args: object) -> None:
        by = self.rng.choice((Role.NURSE, Role.THERAPIST, None))
        command = Command(
            occurred_mono=now, occurred_at=EPOCH_AT, verb=verb, args=args, by=by
        )
        events, refusal = self.engine.apply(command, now)
        self.keep(f"apply:{verb.value}", now, events, refusal)

    # ------------------------------------------------------------ streams

    def oximeter(
        self, metric: Metric, physiology: _Physiology
    ) -> Callable[[float], None]:
        rng = self.rng
        state = {"rate": 1.0, "last": self.start}

        def step(t: float) -> None:
            if rng.random() < 0.02:
                state["rate"] = rng.choice((1.0, 2.0, 3.0, 1.5))
            self.oximeter_reading(metric, physiology, t, state["last"])
            state["last"] = t
            gap = 1 / state["rate"] + rng.uniform(-0.08, 0.08)
            if t + gap < self.end:
                self.at(t + gap, step)

        return step

    def oximeter_reading(
        self, metric: Metric, physiology: _Physiology, t: float, last: float
    ) -> None:
        rng = self.rng
        if OX not in self.config.devices and rng.random() > 0.002:
            return
        if _inside(self.silent, t):
            return
        received = t
        roll = rng.random()
        if roll < 0.004:
            received = last - rng.uniform(0.01, 0.5)  # out of order
        elif roll < 0.008:
            received = last  # duplicate time
        device = OX if rng.random() > 0.003 else rng.choice((NIBP, OTHER))
        if _inside(self.flagged, t) or rng.random() < 0.004:
            status = rng.choice(FLAGS)
            value = None
        else:
            status = ReadingStatus.OK
            value = physiology.value(t)
        reading = Reading(
            device=device,
            metric=metric,
            value=value,
            status=status,
            received_mono=received,
            received_at=EPOCH_AT,
        )
        now = t + (rng.uniform(0, 0.05) if rng.random() < 0.3 else 0.0)
        if rng.random() < 0.003:
            now = t - rng.uniform(0.5, 3)  # a caller's clock behind the engine's
        self.evaluate(reading, now)

    def tick(self, t: float) -> None:
        self.keep("tick", t, self.engine.tick(t), None)
        stall = 1.0 if self.rng.random() > 0.01 else float(self.rng.randint(2, 6))
        if t + stall <= self.end:
            self.at(t + stall, self.tick)

    def snapshot(self, t: float) -> None:
        state = self.engine.snapshot(t)
        self._calls += 1
        text = json.dumps(plain(state), sort_keys=True)
        summary = {
            "alarms": [f"{a.code}:{a.priority.value}" for a in state.alarms],
            "phase": state.phase.value,
            "sha256": hashlib.sha256(text.encode()).hexdigest(),
        }
        self.record.append([self._calls, "snapshot", round(t, 6), [summary]])
        if t + 300 <= self.end:
            self.at(t + 300, self.snapshot)

    # ------------------------------------------------------------ NIBP

    def _bp_values(self) -> tuple[float, float, float | None]:
        rng = self.rng
        if rng.random() < 0.25:
            self.bp_state = rng.choice(
                ("normal", "normal", "rise", "high", "severe", "low", "verylow")
            )
        mid_sbp, mid_dbp = {
            "normal": (122, 76),
            "rise": (166, 103),
            "high": (186, 108),
            "severe": (206, 124),
            "low": (86, 58),
            "verylow": (74, 46),
        }[self.bp_state]
        sbp = mid_sbp + rng.uniform(-8, 8)
        dbp = mid_dbp + rng.uniform(-5, 5)
        mean = None if rng.random() < 0.1 else dbp + (sbp - dbp) / 3
        return sbp, dbp, mean

    def nibp(self, t: float) -> None:
        rng = self.rng
        if NIBP in self.config.devices or rng.random() < 0.05:
            self.cuff(t - 35)
            self.nibp_reading(t)
        cycle = self.engine.nibp_cycle_s(t)
        wait = cycle if cycle is not None else rng.uniform(200, 600)
        if self.engine.take_stat_request():
            wait = rng.uniform(30, 90)
        wait += rng.uniform(-20, 20) if rng.random() < 0.3 else 0.0
        if rng.random() < 0.04:
            wait += rng.uniform(200, 700)  # a missed determination
        if t + wait < self.end:
            self.at(t + max(wait, 5.0), self.nibp)

    def cuff(self, t0: float) -> None:
        rng = self.rng
        peak = rng.uniform(140, 200)
        device = NIBP if rng.random() > 0.05 else OTHER
        for i in range(0, 34, 2):
            pressure = peak * (1 - abs(i - 12) / 22)
            self.at(
                t0 + i + rng.uniform(0, 0.2),
                functools.partial(self.cuff_reading, device, pressure),
            )

    def cuff_reading(self, device: str, pressure: float, t: float) -> None:
        reading = Reading(
            device=device,
            metric=Metric.CUFF_PRESSURE_MMHG,
            value=round(max(pressure, 0.0), 1),
            status=ReadingStatus.OK,
            received_mono=t,
            received_at=EPOCH_AT,
        )
        self.evaluate(reading, t)

    def nibp_reading(self, t: float) -> None:
        rng = self.rng
        received, now = t, t
        roll = rng.random()
        if roll < 0.04:
            now = t + rng.uniform(125, 400)  # late: stale on arrival
        elif roll < 0.08:
            received = self.last_nibp_t  # duplicate
        elif roll < 0.10:
            received = self.last_nibp_t - 30  # out of order
        self.last_nibp_t = max(self.last_nibp_t, received)
        kind = rng.random()
        sbp: float | None
        dbp: float | None
        if kind < 0.06:
            reading = NibpReading(
                device=NIBP,
                systolic_mmhg=None,
                diastolic_mmhg=None,
                map_mmhg=None,
                pulse_rate_bpm=None,
                status=ReadingStatus.DEVICE_ERROR,
                error_code=rng.choice((None, 3, 87)),
                error_text=rng.choice(("", "motion artifact")),
                received_mono=received,
                received_at=EPOCH_AT,
            )
            self.evaluate(reading, now)
            return
        if kind < 0.12:
            sbp, dbp, mean = rng.choice(
                (
                    (100.0, 96.0, 98.0),
                    (90.0, 90.0, 90.0),
                    (80.0, 95.0, 85.0),
                    (260.0, 60.0, 120.0),
                    (8.0, 5.0, None),
                )
            )
        else:
            sbp, dbp, mean = self._bp_values()
        reading = NibpReading(
            device=NIBP if rng.random() > 0.02 else OTHER,
            systolic_mmhg=round(sbp),
            diastolic_mmhg=round(dbp),
            map_mmhg=None if mean is None else round(mean),
            pulse_rate_bpm=round(self.hr_base),
            status=ReadingStatus.OK,
            received_mono=received,
            received_at=EPOCH_AT,
        )
        self.evaluate(reading, now)

    def predose_nibp(self) -> None:
        sbp, dbp = self.config.predose_bp
        for t in (-840.0, -600.0, -330.0):
            reading = NibpReading(
                device=NIBP,
                systolic_mmhg=round(sbp + self.rng.uniform(-3, 3)),
                diastolic_mmhg=round(dbp + self.rng.uniform(-3, 3)),
                map_mmhg=round(dbp + (sbp - dbp) / 3),
                pulse_rate_bpm=72,
                status=ReadingStatus.OK,
                received_mono=t,
                received_at=EPOCH_AT,
            )
            self.at(t, functools.partial(self.evaluate, reading))

    # ------------------------------------------------------------ links

    def links(self) -> None:
        rng = self.rng
        t = self.start + rng.uniform(60, 400)
        while t < self.end:
            device = rng.choice((OX, OX, NIBP, OTHER))
            roll = rng.random()
            if roll < 0.6:
                state = rng.choice((LinkState.LOST, LinkState.STALE))
                back = t + rng.uniform(2, 60)
                self.at(t, functools.partial(self.link, device, state))
                self.at(back, functools.partial(self.link, device, LinkState.UP))
            else:
                ratio = rng.choice((0.0, 0.05, 0.25, 0.6))
                back = t + rng.uniform(3, 40)
                self.at(t, functools.partial(self.errors, device, ratio))
                self.at(back, functools.partial(self.errors, device, 0.0))
            t = back + rng.expovariate(1 / 500)

    def link(self, device: str, state: LinkState, now: float) -> None:
        self.keep("link", now, self.engine.link_changed(device, state, now), None)

    def errors(self, device: str, ratio: float, now: float) -> None:
        self.keep("errors", now, self.engine.decoder_errors(device, ratio, now), None)

    # ------------------------------------------------------------ commands

    def phases(self) -> None:
        rng = self.rng
        confirm, phase, later = (
            CommandVerb.BASELINE_CONFIRM,
            CommandVerb.PHASE,
            self.later,
        )
        end = self.end
        plan: list[tuple[float, Callable[[float], None]]] = [
            (-700.0, later(confirm)),
            (-rng.uniform(20, 120), later(confirm)),
            (-5.0, later(phase, phase="peak")),
            (-3.0, later(phase, phase="lunch")),
            (-2.0, later(CommandVerb.INFUSION_END)),
            (-1.0, self.acknowledge_predose),
            (0.0, later(phase, phase="dosing")),
            (0.5, later(phase, phase="dosing")),
        ]
        for minute, name in ((25, "peak"), (50, "return"), (70, "integration")):
            plan.append((minute * 60 + rng.uniform(0, 120), later(phase, phase=name)))
        infusion_end = self.config.infusion_min * 60 + rng.uniform(-300, 300)
        plan += [
            (infusion_end, later(CommandVerb.INFUSION_END)),
            (infusion_end + 30, later(CommandVerb.INFUSION_END)),
            (1800.0, later(confirm, hr=80, spo2=97, reason="nurse")),
            (1850.0, later(confirm, sbp="x")),
            (1860.0, later(confirm, dbp=70)),
            (1870.0, later(confirm, hr=True)),
            (end - 200, later(phase, phase="closed")),
            (end - 100, later(phase, phase="closed", reason="end")),
            (end - 50, later(confirm)),
            (end - 40, later(CommandVerb.INFUSION_END)),
        ]
        for t, action in plan:
            self.at(t, action)

    def later(self, verb: CommandVerb, **args: object) -> Callable[[float], None]:
        def act(now: float) -> None:
            self.command(verb, now, **args)

        return act

    def acknowledge_predose(self, now: float) -> None:
        self.command(CommandVerb.PHASE, now - 0.5, phase="dosing")
        self.command(CommandVerb.ACKNOWLEDGE, now, code="bp.predose_high")

    def operator(self, t: float) -> None:
        rng = self.rng
        state = self.engine.snapshot(t)
        codes = [a.code for a in state.alarms]
        ended = [a.code for a in state.alarms if a.latched and not a.condition_present]
        roll = rng.random()
        if roll < 0.35:
            code = rng.choice([*codes, None, None, "no.such.code"])
            self.command(
                CommandVerb.ACKNOWLEDGE, t, **({} if code is None else {"code": code})
            )
        elif roll < 0.5:
            self.command(CommandVerb.AUDIO_PAUSE, t)
        elif roll < 0.85:
            code = rng.choice([*ended, *ended, *codes, None])
            self.command(
                CommandVerb.RESET, t, **({} if code is None else {"code": code})
            )
        else:
            self.command(
                rng.choice((CommandVerb.NOTE, CommandVerb.NIBP_START)), t, text="hi"
            )
        gap = rng.expovariate(1 / 100)
        if t + gap < self.end:
            self.at(t + gap, self.operator)

    # ------------------------------------------------------------ the run

    def run(self) -> list[Entry]:
        rng = self.rng
        self.at(
            self.start + rng.uniform(0, 1),
            self.oximeter(Metric.SPO2_PERCENT, self.spo2),
        )
        self.at(
            self.start + rng.uniform(0, 1),
            self.oximeter(Metric.PULSE_RATE_BPM, self.hr),
        )
        self.at(self.start + 1.0, self.tick)
        self.at(self.start + 60.0, self.snapshot)
        self.at(self.start + rng.uniform(30, 200), self.operator)
        self.at(rng.uniform(60, 300), self.nibp)
        if NIBP in self.config.devices:
            self.predose_nibp()
        self.links()
        self.phases()
        while self._queue:
            t, _, action = heapq.heappop(self._queue)
            action(t)
        self.snapshot(self.end + 1)
        return self.record


def record(
    config: SessionConfig, engine: type[AlarmEngine] = AlarmEngine
) -> list[Entry]:
    """The session's record, as JSON values (lists, not tuples)."""
    result: list[Entry] = json.loads(json.dumps(_Session(config, engine).run()))
    return result


def golden_path(seed: int) -> Path:
    """Where the golden record of a seed's session is kept."""
    return GOLDEN / f"session-{seed}.jsonl"


def read_golden(seed: int) -> tuple[dict[str, int], list[Entry]]:
    """The golden record of a seed's session: its counts line, then its entries."""
    lines = golden_path(seed).read_text().splitlines()
    header: dict[str, int] = json.loads(lines[0])
    return header, [json.loads(line) for line in lines[1:]]


def counts(config: SessionConfig, entries: list[Entry]) -> dict[str, int]:
    """How many entries, events, alarm events and refusals a record holds."""
    items = [p for e in entries if e[1] != "snapshot" for p in payloads(e)]
    return {
        "seed": config.seed,
        "entries": len(entries),
        "events": sum(isinstance(p, list) for p in items),
        "alarm_events": sum(isinstance(p, list) and p[0] == "alarm" for p in items),
        "refusals": sum(isinstance(p, dict) for p in items),
    }


def payloads(entry: Entry) -> list[object]:
    """The events and refusals (or the snapshot summary) of one entry."""
    payload = entry[3]
    assert isinstance(payload, list)
    return payload


def write_golden() -> None:
    """Record every session with the engine as it is now (behaviour changes only)."""
    GOLDEN.mkdir(exist_ok=True)
    for config in configs():
        entries = record(config)
        lines = [json.dumps(counts(config, entries))]
        lines += [json.dumps(entry, separators=(",", ":")) for entry in entries]
        golden_path(config.seed).write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    write_golden()
