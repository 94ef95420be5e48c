"""Soak (issue 8, item 4): 12 hours of a session, compressed, with the whole room.

    .venv/bin/python -m bench.soak [--hours 12] [--speed 45] [--out FILE]
        [--no-music] [--keep]

What runs, and where:

- this process: a real mosquitto (child process, loopback), the Nonin DF2 and SunTech
  Advantage simulators on real ptys (``simulators.transport.PtyPort``) playing the
  ``SOAK`` scenario below at ``--speed`` times real time, a simulated Zigbee2MQTT bulb,
  and a console-like MQTT client that sends the operator's commands on the scenario's
  schedule and records every alarm line;
- a child process (``python -m bench.soak --child ...``): the real daemon,
  ``roomctl.app.Daemon`` built from a TOML file as ``roomctl run`` builds it, with
  music through libVLC (``dummy`` output, the built-in library), lights, MQTT, the
  session record and the capture file. It is measured from outside (RSS, open file
  descriptors and threads from ``/proc``) and reports its asyncio task count itself.

What is compressed and what is real:

- the simulators' scenario time runs ``speed`` times faster than real time: real bytes,
  in the real wire formats, through the real ptys, decoders and drivers, but
  ``speed`` times more of them per real second;
- the daemon's session clock is ``roomctl.clock.ScaledClock`` on the same origin and
  speed, so the alarm engine's delays, the record's times and the capture's ``t`` are
  session time, equal to the scenario's time;
- two of the daemon's real-time timers decide what the alarm engine sees and are
  divided by ``speed`` in the child (not in the product): the engine's tick
  (``roomctl.app.TICK_INTERVAL_S``, so the engine still runs every 0.5 s of session
  time) and the Nonin driver's read pacing (``read_again_in_s``: the link takes no
  bytes until the next packet is due at 75 frames a second of real time; divided, a
  read holds one packet of session time, not ``speed`` of them). The NIBP
  controller counts its cycle and retry on the daemon's clock (session time), and
  looks at them once per real second (``POLL_S``): ``speed`` seconds of session time;
- everything else is real time: I/O deadlines, MQTT keepalives and pacing, the
  record's flush every 0.25 s, the state snapshot every second, libVLC playing music
  at its own pace. Timer-driven work therefore happens ``speed`` times less often per
  session hour than in a real 12-hour session; data-driven work (readings, frames,
  alarms, records, capture lines) happens exactly as often.
- the music controller's and the lights' own deadlines read the session clock: the
  configuration lengthens the music start timeout and the light report deadline so
  they are at least about a second of real time.

Checked and printed: RSS at the start of the measured window (after the first session
hour: every component started, the music playing) and at the end, its growth and its
trend per session hour; asyncio tasks, file descriptors and threads at both ends and
their maximum; every alarm the scenario expects (each episode's alarm, by code and
priority, within its window) against what was raised (MQTT, and the session record),
unexpected MEDIUM/HIGH physiological alarms, technical alarms; and a replay of the
daemon's own capture through ``roomctl replay`` compared with the live alarm lines.
The exit code is 0 only when every target is met.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import gc
import json
import os
import platform
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import aiomqtt

from roomctl.demo import free_port
from roomctl.events import Phase
from simulators.light import LightSimulator
from simulators.nonin_df2 import NoninDf2Model
from simulators.scenarios import Keyframe, Scenario
from simulators.suntech_nibp import SuntechModel
from simulators.transport import PtyPort

ROOM = "soak"
LIGHT = "soak/ceiling"
#: The session's wall-clock start (session time 0).
START_AT = datetime(2026, 11, 21, 8, 0, tzinfo=UTC)
HOUR = 3600.0
#: Targets of issue 8.
TARGET_RSS_GROWTH_MB = 5.0
#: Real seconds between samples of the daemon.
SAMPLE_EVERY_S = 5.0
#: The measured window starts after this much session time (warm-up).
WARMUP_S = HOUR
#: ``--trace-memory``: frames kept per allocation, and growths printed.
TRACE_FRAMES = 6
TRACE_TOP = 12


# ------------------------------------------------------------------ the scenario


@dataclass(frozen=True, slots=True)
class Expected:
    """An alarm the scenario must raise: ``code`` at ``priority`` within a window."""

    code: str
    priority: str
    start_s: float
    end_s: float
    what: str


@dataclass(frozen=True, slots=True)
class Plan:
    """The scenario, the operator's commands and the alarms it must give."""

    scenario: Scenario
    commands: tuple[tuple[float, str, dict[str, object]], ...]
    expected: tuple[Expected, ...]
    #: Windows in which other alarms are allowed (an episode's side effects).
    episodes: tuple[tuple[float, float], ...]


def soak_plan(hours: float) -> Plan:
    """A 12-hour IV session with an alarm episode every hour from the second one.

    Baseline SpO2 98 %, HR 72, BP 124/78. Preparation 10 min (NIBP every 4 min for the
    baseline, confirmed at 9 min), dose at 10 min, peak, infusion end at 50 min,
    return, integration for the rest. From hour 2, in every hour ``H``:

    - +10 min: HR 140 bpm for 3 min -> ``hr.high`` MEDIUM (30 s on a 10 s median);
    - +25 min: SpO2 87 % for 60 s -> ``spo2.low`` MEDIUM (50 %-s integral);
    - +35 min, hours 2, 5, 8, 11: SpO2 82 % for 20 s -> ``spo2.desat`` HIGH (latching;
      the nurse resets it 5 min later); other hours: BP 188/114 for 25 min ->
      ``bp.high`` MEDIUM on the second reading (the first gives LOW and a repeat).
    """
    frames = [
        Keyframe(
            t_s=0, spo2_percent=98, pulse_rate_bpm=72, systolic_mmhg=124,
            diastolic_mmhg=78,
        )
    ]  # fmt: skip
    expected: list[Expected] = []
    episodes: list[tuple[float, float]] = []
    commands: list[tuple[float, str, dict[str, object]]] = [
        (540.0, "baseline_confirm", {"by": "nurse"}),
        (600.0, "phase", {"phase": Phase.DOSING.value, "by": "therapist"}),
        (1200.0, "phase", {"phase": Phase.PEAK.value, "by": "therapist"}),
        (3000.0, "infusion_end", {"by": "nurse"}),
        (3600.0, "phase", {"phase": Phase.RETURN.value, "by": "therapist"}),
        (5400.0, "phase", {"phase": Phase.INTEGRATION.value, "by": "therapist"}),
    ]
    for hour in range(2, int(hours)):
        h = hour * HOUR
        hr_at, spo2_at, third_at = h + 600, h + 1500, h + 2100
        frames += [
            Keyframe(t_s=hr_at, pulse_rate_bpm=72),
            Keyframe(t_s=hr_at + 10, pulse_rate_bpm=140),
            Keyframe(t_s=hr_at + 190, pulse_rate_bpm=140),
            Keyframe(t_s=hr_at + 200, pulse_rate_bpm=72),
            Keyframe(t_s=spo2_at, spo2_percent=98),
            Keyframe(t_s=spo2_at + 5, spo2_percent=87),
            Keyframe(t_s=spo2_at + 65, spo2_percent=87),
            Keyframe(t_s=spo2_at + 70, spo2_percent=98),
        ]
        expected += [
            Expected("hr.high", "medium", hr_at, hr_at + 120, "HR 140 for 3 min"),
            Expected("spo2.low", "medium", spo2_at, spo2_at + 90, "SpO2 87 for 60 s"),
        ]
        episodes += [(hr_at, hr_at + 600), (spo2_at, spo2_at + 300)]
        if hour % 3 == 2:
            frames += [
                Keyframe(t_s=third_at, spo2_percent=98),
                Keyframe(t_s=third_at + 3, spo2_percent=82),
                Keyframe(t_s=third_at + 23, spo2_percent=82),
                Keyframe(t_s=third_at + 26, spo2_percent=98),
            ]
            expected.append(
                Expected(
                    "spo2.desat", "high", third_at, third_at + 40, "SpO2 82 for 20 s"
                )
            )
            commands.append(
                (third_at + 300, "reset", {"code": "spo2.desat", "by": "nurse"})
            )
            episodes.append((third_at, third_at + 600))
        else:
            frames += [
                Keyframe(t_s=third_at, systolic_mmhg=124, diastolic_mmhg=78),
                Keyframe(t_s=third_at + 60, systolic_mmhg=188, diastolic_mmhg=114),
                Keyframe(t_s=third_at + 1500, systolic_mmhg=188, diastolic_mmhg=114),
                Keyframe(t_s=third_at + 1560, systolic_mmhg=124, diastolic_mmhg=78),
            ]
            expected.append(
                Expected(
                    "bp.high", "medium", third_at, third_at + 1560,
                    "BP 188/114 for 25 min",
                )
            )  # fmt: skip
            # Until the readings after the plateau have cleared it (3-min repeats).
            episodes.append((third_at, third_at + 1560 + 1200))
    scenario = Scenario(
        name="soak",
        description=f"{hours:g} h IV session with an alarm episode every hour",
        duration_s=hours * HOUR,
        keyframes=tuple(frames),
    )
    return Plan(scenario, tuple(commands), tuple(expected), tuple(episodes))


# ------------------------------------------------------------------ the child


def _compress(speed: float) -> None:
    """Divide the daemon's alarm-relevant real-time timers by ``speed`` (module doc)."""
    from tests.faults.room import compressed_timers  # noqa: PLC0415

    for target, name, value in compressed_timers(speed):
        setattr(target, name, value)


async def _child_main(
    config: Path, origin: float, speed: float, *, trace: bool
) -> None:
    from roomctl.app import Daemon  # noqa: PLC0415
    from roomctl.clock import ScaledClock  # noqa: PLC0415
    from roomctl.settings import load_settings  # noqa: PLC0415

    _compress(speed)
    settings = load_settings(config)
    clock = ScaledClock(speed=speed, start_at=START_AT, origin=origin)
    daemon = Daemon(settings, clock=clock)
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)

    warm: list[tracemalloc.Snapshot] = []

    async def sample() -> None:
        n = 0
        while True:
            await asyncio.sleep(SAMPLE_EVERY_S)
            n += 1
            line: dict[str, object] = {
                "session_s": round(clock.monotonic(), 1),
                "tasks": len(asyncio.all_tasks()),
            }
            if n % 6 == 0:
                line["gc_objects"] = len(gc.get_objects())
            if trace and not warm and clock.monotonic() >= WARMUP_S:
                warm.append(tracemalloc.take_snapshot())
            print(json.dumps(line), flush=True)  # the parent reads it

    if trace:
        tracemalloc.start(TRACE_FRAMES)
    try:
        with contextlib.suppress(asyncio.CancelledError):
            async with asyncio.TaskGroup() as tg:
                tg.create_task(sample(), name="soak.sample")
                await daemon.run()
    finally:
        if trace and warm:
            grown = tracemalloc.take_snapshot().compare_to(warm[0], "traceback")
            top = [
                {"kb": round(stat.size_diff / 1024, 1), "count": stat.count_diff,
                 "where": [f"{f.filename}:{f.lineno}" for f in stat.traceback]}
                for stat in grown[:TRACE_TOP]
            ]  # fmt: skip
            print(json.dumps({"tracemalloc": top}), flush=True)


def child(args: argparse.Namespace) -> int:
    """The daemon, on the soak's scaled clock (``--child``)."""
    from roomctl.logs import configure_logging  # noqa: PLC0415

    configure_logging("info")
    asyncio.run(
        _child_main(Path(args.config), args.origin, args.speed, trace=args.trace_memory)
    )
    return 0


# ------------------------------------------------------------------ the parent


@dataclass
class Sample:
    """The daemon at one moment."""

    real_s: float
    session_s: float
    rss_kb: int
    fds: int
    threads: int


@dataclass
class Watch:
    """What the console-like client saw."""

    alarms: list[dict[str, object]] = field(default_factory=list)
    replies: list[tuple[str, dict[str, object]]] = field(default_factory=list)
    ready: asyncio.Event = field(default_factory=asyncio.Event)


def _proc(pid: int) -> tuple[int, int, int]:
    """RSS (kB), open file descriptors, threads of ``pid``."""
    rss = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1])
    fds = sum(1 for _ in Path(f"/proc/{pid}/fd").iterdir())
    threads = sum(1 for _ in Path(f"/proc/{pid}/task").iterdir())
    return rss, fds, threads


def _config(folder: Path, port: int, links: dict[str, Path], *, music: bool) -> str:
    text = (
        f'[room]\nname = "{ROOM}"\n'
        f'[record]\npath = "{folder / "record.sqlite"}"\n'
        f'[mqtt]\nurl = "mqtt://127.0.0.1:{port}"\n'
        f'[lighting]\nlights = ["{LIGHT}"]\nconfirm_timeout_s = 60\n'
        "[alarms.nibp_schedule]\npreparation_cycle_s = 240\n"
        f'[devices.oximeter]\nprotocol = "nonin-df2"\nport = "{links["oximeter"]}"\n'
        f'[devices.nibp]\nprotocol = "suntech-advantage"\nport = "{links["nibp"]}"\n'
    )
    if music:
        # Deadlines that read the session clock: at least about a second of real time.
        text += '[music]\noutput = "dummy"\nstart_timeout_s = 60\n'
    else:
        text += "[music]\nenabled = false\n"
    return text


async def _watch(port: int, watch: Watch) -> None:
    async with aiomqtt.Client("127.0.0.1", port, identifier="soak-console") as client:
        await client.subscribe(f"roomctl/{ROOM}/alarms", qos=1)
        await client.subscribe(f"roomctl/{ROOM}/cmd/+/reply", qos=1)
        watch.ready.set()
        async for message in client.messages:
            doc = json.loads(message.payload)
            if message.topic.value.endswith("/alarms"):
                watch.alarms.append(doc)
            else:
                watch.replies.append((message.topic.value, doc))


def _session_s(origin: float, speed: float) -> float:
    return (time.monotonic() - origin) * speed


async def _commands(
    port: int, plan: Plan, origin: float, speed: float, sent: list[str]
) -> None:
    async with aiomqtt.Client("127.0.0.1", port, identifier="soak-nurse") as client:
        for at_s, verb, args in plan.commands:
            wait = (at_s - _session_s(origin, speed)) / speed
            if wait > 0:
                await asyncio.sleep(wait)
            command_id = f"soak-{len(sent) + 1}"
            await client.publish(
                f"roomctl/{ROOM}/cmd/{verb}",
                json.dumps({**args, "id": command_id}).encode(),
                qos=1,
            )
            sent.append(f"{at_s:.0f} s {verb} {args} ({command_id})")


async def _sample(pid: int, origin: float, speed: float, out: list[Sample]) -> None:
    start = time.monotonic()
    while True:
        with contextlib.suppress(OSError):
            rss, fds, threads = _proc(pid)
            if not rss:  # not yet the daemon (before exec)
                raise OSError
            out.append(
                Sample(
                    real_s=time.monotonic() - start,
                    session_s=_session_s(origin, speed),
                    rss_kb=rss,
                    fds=fds,
                    threads=threads,
                )
            )
        await asyncio.sleep(SAMPLE_EVERY_S)


async def _read_child(stream: asyncio.StreamReader, run: Run) -> None:
    while line := await stream.readline():
        with contextlib.suppress(ValueError):
            doc = json.loads(line)
            if "tracemalloc" in doc:
                run.traced = doc["tracemalloc"]
            else:
                run.child_lines.append(doc)


@dataclass
class Run:
    """Everything one soak run produced."""

    folder: Path
    speed: float
    hours: float
    wall_s: float = 0.0
    samples: list[Sample] = field(default_factory=list)
    child_lines: list[dict[str, float]] = field(default_factory=list)
    #: ``--trace-memory``: the allocations that grew most over the window.
    traced: list[dict[str, object]] = field(default_factory=list)
    watch: Watch = field(default_factory=Watch)
    commands: list[str] = field(default_factory=list)
    exit_code: int | None = None
    loads: list[tuple[float, float, float]] = field(default_factory=list)
    bytes_sent: dict[str, int] = field(default_factory=dict)


async def _soak(run: Run, plan: Plan, *, music: bool, trace: bool) -> None:
    folder, speed = run.folder, run.speed
    port = free_port()
    (folder / "mosquitto.conf").write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\n"
    )
    broker = await asyncio.create_subprocess_exec(
        shutil.which("mosquitto") or "/usr/sbin/mosquitto",
        "-c", str(folder / "mosquitto.conf"),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        await asyncio.sleep(0.5)
        links = {"oximeter": folder / "oximeter", "nibp": folder / "nibp"}
        ports = {
            "oximeter": PtyPort(
                NoninDf2Model(plan.scenario, seed=12),
                link_path=links["oximeter"],
                speed=speed,
            ),
            "nibp": PtyPort(
                SuntechModel(plan.scenario, seed=12),
                link_path=links["nibp"],
                speed=speed,
            ),
        }
        config = folder / "room.toml"
        config.write_text(_config(folder, port, links, music=music))
        bulb = LightSimulator(port=port, names=[LIGHT])
        async with asyncio.TaskGroup() as tg:
            helpers = [
                tg.create_task(bulb.run(), name="bulb"),
                tg.create_task(_watch(port, run.watch), name="watch"),
            ]
            await asyncio.wait_for(run.watch.ready.wait(), 10)
            origin = time.monotonic()
            helpers += [
                tg.create_task(p.run(), name=f"sim[{n}]") for n, p in ports.items()
            ]
            await asyncio.sleep(0.2)
            started = time.monotonic()
            run.loads.append(os.getloadavg())
            daemon = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bench.soak", "--child",
                "--config", str(config), "--origin", repr(origin),
                "--speed", repr(speed), *(["--trace-memory"] if trace else []),
                stdout=asyncio.subprocess.PIPE,
                stderr=(folder / "daemon.log").open("wb"),
            )  # fmt: skip
            assert daemon.stdout is not None
            helpers += [
                tg.create_task(_read_child(daemon.stdout, run)),
                tg.create_task(_sample(daemon.pid, origin, speed, run.samples)),
                tg.create_task(
                    _commands(port, plan, origin, speed, run.commands), name="nurse"
                ),
            ]
            end_real = origin + run.hours * HOUR / speed
            while time.monotonic() < end_real:
                if daemon.returncode is not None:
                    break
                await asyncio.sleep(1.0)
            run.loads.append(os.getloadavg())
            if daemon.returncode is None:
                daemon.send_signal(signal.SIGTERM)
            try:
                run.exit_code = await asyncio.wait_for(daemon.wait(), 20)
            except TimeoutError:
                daemon.kill()
                run.exit_code = await daemon.wait()
            run.wall_s = time.monotonic() - started
            await asyncio.sleep(0.5)
            run.bytes_sent = {n: p.bytes_sent for n, p in ports.items()}
            for task in helpers:
                task.cancel()
    except* (asyncio.CancelledError, aiomqtt.MqttError):
        pass
    finally:
        broker.terminate()
        await broker.wait()


# ------------------------------------------------------------------ the verdict


def _session_of(doc: dict[str, object]) -> float:
    at = datetime.fromisoformat(str(doc["at"]))
    return (at - START_AT).total_seconds()


def _rank(priority: object) -> int:
    return {"low": 1, "medium": 2, "high": 3}.get(str(priority), 0)


@dataclass
class Verdict:
    """The figures and whether each target is met."""

    lines: list[str] = field(default_factory=list)
    ok: bool = True
    figures: dict[str, object] = field(default_factory=dict)

    def say(self, text: str) -> None:
        """Add a line of figures."""
        self.lines.append(text)

    def check(self, met: bool, text: str) -> None:  # noqa: FBT001 (v.check(ok, why))
        """Add a line with its verdict; a target not met fails the soak."""
        self.ok = self.ok and met
        self.say(f"[{'met' if met else 'NOT MET'}] {text}")


def _memory(run: Run, v: Verdict) -> None:
    window = [s for s in run.samples if s.session_s >= WARMUP_S]
    if len(window) < 2:
        v.check(met=False, text="too few samples after the warm-up")
        return
    first, last = window[0], window[-1]
    growth_mb = (last.rss_kb - first.rss_kb) / 1024
    hours = [(s.session_s / HOUR, s.rss_kb / 1024) for s in window]
    slope = statistics.linear_regression(
        [h for h, _ in hours], [m for _, m in hours]
    ).slope
    peak = max(s.rss_kb for s in window) / 1024
    v.figures.update(
        rss_start_mb=round(first.rss_kb / 1024, 1),
        rss_end_mb=round(last.rss_kb / 1024, 1),
        rss_growth_mb=round(growth_mb, 2),
        rss_trend_mb_per_hour=round(slope, 3),
        rss_peak_mb=round(peak, 1),
        rss_at_zero_mb=round(run.samples[0].rss_kb / 1024, 1),
    )
    v.say(
        f"RSS: {run.samples[0].rss_kb / 1024:.1f} MB just after start; "
        f"{first.rss_kb / 1024:.1f} MB at {first.session_s / HOUR:.2f} h (window "
        f"start), {last.rss_kb / 1024:.1f} MB at {last.session_s / HOUR:.2f} h; peak "
        f"{peak:.1f} MB; trend {slope:+.3f} MB per session hour"
    )
    v.check(
        growth_mb <= TARGET_RSS_GROWTH_MB,
        f"RSS growth over the window {growth_mb:+.2f} MB (target <= "
        f"{TARGET_RSS_GROWTH_MB:g} MB)",
    )
    fds = [s.fds for s in window]
    threads = [s.threads for s in window]
    v.figures.update(fds=(fds[0], fds[-1], max(fds)), threads=(threads[0], threads[-1]))
    v.check(
        fds[-1] <= fds[0] and max(fds) <= fds[0] + 4,
        f"file descriptors: {fds[0]} at the window start, {fds[-1]} at the end, "
        f"max {max(fds)}",
    )
    v.check(
        threads[-1] <= threads[0] + 2,
        f"threads: {threads[0]} at the window start, {threads[-1]} at the end, "
        f"max {max(threads)}",
    )
    tasks = [
        (line["session_s"], line["tasks"])
        for line in run.child_lines
        if "tasks" in line and line["session_s"] >= WARMUP_S
    ]
    if tasks:
        counts = [n for _, n in tasks]
        v.figures.update(tasks=(counts[0], counts[-1], max(counts)))
        v.check(
            counts[-1] <= counts[0] and max(counts) <= counts[0] + 10,
            f"asyncio tasks: {counts[0]} at the window start, {counts[-1]} at the "
            f"end, max {max(counts)}",
        )
    objects = [line["gc_objects"] for line in run.child_lines if "gc_objects" in line]
    if objects:
        v.say(
            f"gc-tracked Python objects: {objects[0]} first sample, {objects[-1]} "
            f"last, max {max(objects)}"
        )


def _alarms(run: Run, plan: Plan, v: Verdict) -> list[dict[str, object]]:
    alarms = run.watch.alarms
    seen: set[tuple[object, object]] = set()
    unique = []
    for doc in alarms:
        key = (doc.get("run"), doc.get("seq"))
        if key not in seen:
            seen.add(key)
            unique.append(doc)
    raised = [d for d in unique if d.get("transition") in {"raised", "escalated"}]
    missed = []
    for exp in plan.expected:
        hit = [
            d
            for d in raised
            if d.get("code") == exp.code
            and _rank(d.get("priority")) >= _rank(exp.priority)
            and exp.start_s <= _session_of(d) <= exp.end_s
        ]
        if not hit:
            missed.append(exp)
    unexpected = [
        d
        for d in raised
        if d.get("kind") == "physiological"
        and _rank(d.get("priority")) >= 2
        and not any(a <= _session_of(d) <= b for a, b in plan.episodes)
    ]
    technical = [d for d in raised if d.get("kind") == "technical"]

    def when(d: dict[str, object]) -> str:
        return (
            f"{d['code']} {d['priority']} {d['transition']} at "
            f"{_session_of(d) / HOUR:.2f} h"
        )

    unexpected_text = [when(d) for d in unexpected]
    technical_text = [when(d) for d in technical]
    v.figures.update(
        alarm_lines=len(unique),
        expected=len(plan.expected),
        missed=[f"{m.code} {m.priority} at {m.start_s / HOUR:.2f} h" for m in missed],
        unexpected=unexpected_text,
        technical=technical_text,
    )
    v.say(f"alarm lines received (QoS 1, repeats dropped): {len(unique)}")
    v.check(
        not missed,
        f"expected alarms raised: {len(plan.expected) - len(missed)} of "
        f"{len(plan.expected)}"
        + "".join(f"\n    missed: {m.code} {m.priority} ({m.what}, window "
                  f"{m.start_s / HOUR:.2f} h)" for m in missed),
    )  # fmt: skip
    v.check(
        not unexpected,
        f"MEDIUM/HIGH physiological alarms outside the episodes: {len(unexpected)}"
        + "".join(f"\n    {x}" for x in unexpected_text),
    )
    v.say(
        f"technical alarms raised or escalated: {len(technical)}"
        + "".join(f"\n    {x}" for x in technical_text)
    )
    refused = [
        (topic, doc) for topic, doc in run.watch.replies if doc.get("ok") is not True
    ]
    v.check(
        len(run.watch.replies) == len(run.commands) == len(plan.commands)
        and not refused,
        f"operator commands sent {len(run.commands)}, answered "
        f"{len(run.watch.replies)}, refused {len(refused)}"
        + "".join(f"\n    {t}: {d.get('error')}" for t, d in refused),
    )
    return unique


def _record(run: Run, live: list[dict[str, object]], v: Verdict) -> None:
    try:
        _compare_record(run, live, v)
    except sqlite3.Error as exc:
        v.check(met=False, text=f"the session record cannot be read: {exc}")


def _compare_record(run: Run, live: list[dict[str, object]], v: Verdict) -> None:
    conn = sqlite3.connect(run.folder / "record.sqlite")
    try:
        recorded = [
            (d["code"], d["transition"])
            for (p,) in conn.execute(
                "SELECT payload FROM events WHERE type = 'alarm' ORDER BY id"
            )
            for d in [json.loads(p)]
        ]
        readings = conn.execute("SELECT COUNT(*) FROM readings").fetchone()[0]
    finally:
        conn.close()
    mqtt = [(d["code"], d["transition"]) for d in live]
    v.figures.update(record_alarms=len(recorded), record_readings=readings)
    v.check(
        recorded == mqtt,
        f"session record: {len(recorded)} alarm transitions, the same as on MQTT, "
        f"in the same order; {readings} reading rows",
    )


def _replay(run: Run, live: list[dict[str, object]], v: Verdict) -> None:
    captures = list((run.folder / "captures").glob("*.jsonl"))
    if len(captures) != 1:
        v.check(met=False, text=f"one capture file expected, found {len(captures)}")
        return
    size_mb = captures[0].stat().st_size / 1e6
    started = time.monotonic()
    out = subprocess.run(
        [sys.executable, "-m", "roomctl", "replay", str(captures[0])],
        capture_output=True,
        text=True,
        check=False,
    )
    took = time.monotonic() - started
    if out.returncode != 0:
        v.check(
            met=False, text=f"replay failed ({out.returncode}): {out.stderr[-500:]}"
        )
        return
    replayed = [
        (d["code"], d["transition"])
        for d in (json.loads(line) for line in out.stdout.splitlines())
        if d.get("type") == "alarm"
    ]
    mqtt = [(d["code"], d["transition"]) for d in live]
    same = replayed == mqtt
    v.figures.update(replay_alarms=len(replayed), capture_mb=round(size_mb, 1))
    text = (
        f"replay of the daemon's capture ({size_mb:.1f} MB, {took:.1f} s): "
        f"{len(replayed)} alarm transitions; live {len(mqtt)}"
    )
    if not same:
        swapped = [
            f"#{i + 1}: live {a[0]} {a[1]}, replay {b[0]} {b[1]}"
            for i, (a, b) in enumerate(zip(mqtt, replayed, strict=False))
            if a != b
        ]
        text += (
            f"; the order differs at {len(swapped)} places (first: "
            f"{'; '.join(swapped[:4])})"
        )
    # A replay ticks the engine on the capture's records, live ticks come from the
    # loop: two transitions due at nearly the same moment may come in the other
    # order. Each transition must be there as often in both: a difference in the
    # counts is a failure, one in the order is reported.
    v.check(Counter(replayed) == Counter(mqtt), text)


def verdict(run: Run, plan: Plan) -> Verdict:
    """Check the run against the targets and say it in lines."""
    v = Verdict()
    v.say(
        f"machine: {_cpu()} ({os.cpu_count()} cores), Python "
        f"{platform.python_version()}; load average at start "
        f"{run.loads[0] if run.loads else '?'}, at end "
        f"{run.loads[-1] if run.loads else '?'} (a shared machine)"
    )
    last = run.samples[-1].session_s if run.samples else 0.0
    v.say(
        f"{run.hours:g} h of session at {run.speed:g}x: {run.wall_s:.0f} s of real "
        f"time; session reached {last / HOUR:.2f} h; daemon exit code "
        f"{run.exit_code}; bytes written by the simulators {run.bytes_sent}"
    )
    v.check(run.exit_code == 0, "the daemon ran to the end and stopped cleanly")
    _memory(run, v)
    if run.traced:
        v.say("tracemalloc, grown most between the window's ends (kB, blocks, where):")
        for stat in run.traced:
            where = stat["where"]
            chain = " < ".join(reversed(where[-3:])) if isinstance(where, list) else "?"
            v.say(f"    {stat['kb']:>8} kB {stat['count']:>+7}  {chain}")
        v.figures["tracemalloc"] = run.traced
    live = _alarms(run, plan, v)
    _record(run, live, v)
    _replay(run, live, v)
    v.figures.update(
        hours=run.hours, speed=run.speed, wall_s=round(run.wall_s), exit=run.exit_code
    )
    return v


def _cpu() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def parent(args: argparse.Namespace) -> int:
    """Run the soak and print the figures."""
    folder = Path(tempfile.mkdtemp(prefix="roomctl-soak-"))
    plan = soak_plan(args.hours)
    run = Run(folder=folder, speed=args.speed, hours=args.hours)
    print(
        f"soak: {args.hours:g} h at {args.speed:g}x (about "
        f"{args.hours * HOUR / args.speed / 60:.1f} min), files in {folder}",
        flush=True,
    )
    asyncio.run(_soak(run, plan, music=not args.no_music, trace=args.trace_memory))
    result = verdict(run, plan)
    print("\n".join(result.lines))
    samples = [dataclasses.asdict(s) for s in run.samples]
    if args.out:
        Path(args.out).write_text(
            json.dumps(
                {
                    "figures": result.figures,
                    "lines": result.lines,
                    "samples": samples,
                    "child": run.child_lines,
                    "commands": run.commands,
                },
                indent=1,
            )
        )
    print("SOAK PASSED" if result.ok else "SOAK FAILED")
    if result.ok and not args.keep:
        shutil.rmtree(folder, ignore_errors=True)
    return 0 if result.ok else 1


def main() -> None:
    """Parse arguments; run the soak (or, with ``--child``, its daemon)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--hours", type=float, default=12.0, help="session hours")
    parser.add_argument("--speed", type=float, default=45.0, help="compression")
    parser.add_argument("--out", help="write the figures and samples (JSON) here")
    parser.add_argument("--no-music", action="store_true", help="leave music out")
    parser.add_argument("--keep", action="store_true", help="keep the files")
    parser.add_argument(
        "--trace-memory",
        action="store_true",
        help="tracemalloc in the daemon: what grew between the window's ends "
        "(slower; its RSS figures are not the daemon's own)",
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--config", help=argparse.SUPPRESS)
    parser.add_argument("--origin", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    raise SystemExit(child(args) if args.child else parent(args))


if __name__ == "__main__":
    main()
