"""``roomctl demo``: its rooms, its scenarios against the real alarm engine, Ctrl-C.

The demo's main room waits for the nurse's dose; the timing it promises a newcomer
(a baseline from the demo's pre-dose NIBP cycle, then a BP episode and an alarm to
acknowledge within minutes of the dose, whenever it is given) is checked by playing
the scenario through the simulators' models and the real codecs into a capture and
replaying it through the real alarm engine, with the determinations where the
daemon's NIBP controller would start them under the demo's cycles. The rest runs
the real demo as a process.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import re
import signal
import subprocess
import time
from typing import TYPE_CHECKING

import aiomqtt
import pytest

from roomctl.demo import demo_rooms, demo_settings
from roomctl.readings import ProtocolId
from roomctl.replay import replay
from simulators.capture import CapturePlan, write_capture
from simulators.scenarios import DEMO, DEMO_ALARM, SCENARIOS, OperatorInput

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from tests.system.conftest import Proc

Line = dict[str, object]

#: The demo's NIBP cycles (``roomctl.demo.demo_settings``) and the controller's delay
#: before its first determination (``roomctl.nibp.FIRST_MEASUREMENT_DELAY_S``).
FIRST_START_S = 2.0


def _cycles(tmp_path: Path) -> tuple[float, float]:
    schedule = demo_settings(tmp_path, "demo", "mqtt://127.0.0.1:1").alarms
    prep = schedule.nibp_schedule.preparation_cycle_s
    assert prep is not None
    return prep, schedule.nibp_schedule.infusion_cycle_s


def determinations(
    dose_s: float, end_s: float, prep_s: float, dosing_s: float
) -> list[float]:
    """When the demo room's determinations complete, as its controller starts them.

    Every ``prep_s`` before the dose; from the dose on every ``dosing_s``: the first
    one at the dose if the last started at least ``dosing_s`` before, else when it
    has. Each lasts the scenario's inflation time.
    """
    starts = [FIRST_START_S]
    while starts[-1] < end_s:
        last = starts[-1]
        due = last + (prep_s if last < dose_s else dosing_s)
        if last < dose_s < due:
            due = max(dose_s, last + dosing_s)
        starts.append(due)
    return [start + DEMO.nibp_inflate_s for start in starts if start < end_s]


def replay_demo(tmp_path: Path, dose_s: float, minutes_after: float = 12) -> list[Line]:
    prep_s, dosing_s = _cycles(tmp_path)
    end_s = dose_s + minutes_after * 60
    plan = CapturePlan(
        scenario=DEMO.at_dose(dose_s),
        oximeter=ProtocolId.NONIN_DF2,
        nibp_at=tuple(determinations(dose_s, end_s, prep_s, dosing_s)),
        inputs=(
            OperatorInput(t_s=dose_s - 10, op="baseline_confirm", args={"by": "nurse"}),
            OperatorInput(
                t_s=dose_s, op="phase", args={"phase": "dosing", "by": "nurse"}
            ),
        ),
        duration_s=end_s,
        room="demo",
    )
    path = tmp_path / "demo.jsonl"
    write_capture(path, plan)
    out = io.StringIO()
    with path.open(encoding="utf-8") as stream:
        replay(stream, out, source=str(path))
    return [json.loads(text) for text in out.getvalue().splitlines()]


def first(lines: list[Line], **fields: object) -> Line | None:
    return next(
        (x for x in lines if all(x.get(k) == v for k, v in fields.items())), None
    )


def seconds(line: Line | None) -> float:
    assert line is not None
    t = line["t"]
    assert isinstance(t, int | float)
    return float(t)


# ------------------------------------------------------------------ scenarios


def test_the_demo_patient_waits_for_the_dose_then_rises() -> None:
    patient = DEMO.live()
    calm = patient.vitals_at(600.0)
    assert 120 <= calm.systolic_mmhg <= 128
    assert 70 <= calm.pulse_rate_bpm <= 75
    assert patient.give_dose(600.0)
    assert not patient.give_dose(900.0)  # once only
    assert patient.vitals_at(599.0) == DEMO.live().vitals_at(599.0)  # unchanged
    assert abs(patient.vitals_at(600.0).systolic_mmhg - calm.systolic_mmhg) < 0.01
    peak = patient.vitals_at(600.0 + 5 * 60)
    assert peak.systolic_mmhg >= 185
    assert peak.diastolic_mmhg >= 110
    assert peak.systolic_mmhg < 200  # never the severe row
    assert peak.pulse_rate_bpm > 100
    # The registry's scenario is untouched: each simulator takes its own copy.
    assert DEMO.dose.at_s is None
    assert DEMO.vitals_at(900.0).systolic_mmhg < 130
    assert SCENARIOS["demo"] is DEMO


@pytest.mark.parametrize("dose_s", [250.0, 290.0, 335.0, 600.0])
def test_dosing_the_demo_room_opens_an_episode_and_an_alarm_within_minutes(
    tmp_path: Path, dose_s: float
) -> None:
    lines = replay_demo(tmp_path, dose_s)
    alarms = [x for x in lines if x["type"] == "alarm"]
    # The baseline came from the demo's pre-dose readings: no "baseline missing".
    assert first(alarms, code="tech.baseline_missing") is None
    opened = first(lines, type="episode", transition="opened")
    assert opened is not None, lines
    assert dose_s + 60 <= seconds(opened) <= dose_s + 3 * 60
    raised = first(alarms, code="bp.high", transition="raised")
    medium = first(alarms, code="bp.high", priority="medium")
    assert raised is not None, alarms
    assert medium is not None, alarms
    # An alarm to acknowledge 3 to 5 minutes after the dose.
    assert dose_s + 3 * 60 <= seconds(medium) <= dose_s + 5 * 60
    assert seconds(raised) < seconds(medium)
    assert not [x for x in alarms if x.get("priority") == "high"]
    assert first(alarms, code="bp.severe") is None


def test_the_alarm_room_alarms_within_a_minute(tmp_path: Path) -> None:
    plan = CapturePlan(
        scenario=DEMO_ALARM,
        oximeter=ProtocolId.MASIMO_ASCII1,
        nibp_at=(FIRST_START_S + DEMO_ALARM.nibp_inflate_s, 90.0, 150.0),
        inputs=(
            OperatorInput(t_s=0.5, op="phase", args={"phase": "dosing", "by": "nurse"}),
        ),
        duration_s=180.0,
        room="demo-2",
    )
    path = tmp_path / "alarm.jsonl"
    write_capture(path, plan)
    out = io.StringIO()
    with path.open(encoding="utf-8") as stream:
        replay(stream, out, source=str(path))
    alarms = [
        x for x in map(json.loads, out.getvalue().splitlines()) if x["type"] == "alarm"
    ]
    assert seconds(first(alarms, code="bp.high", transition="raised")) < 30
    assert seconds(first(alarms, code="hr.high", priority="medium")) < 60
    assert seconds(first(alarms, code="bp.high", priority="medium")) < 120


def test_demo_rooms_are_the_main_room_then_alarm_and_calm_ones() -> None:
    rooms = demo_rooms("demo", 5, "demo")
    assert [r.name for r in rooms] == ["demo", "demo-2", "demo-3", "demo-4", "demo-5"]
    assert [r.main for r in rooms] == [True, False, False, False, False]
    assert [r.dosed_at_start for r in rooms] == [False, True, False, True, False]
    assert {r.scenario for r in rooms[1:]} == {"demo-alarm", "demo-calm"}
    assert all(r.scenario in SCENARIOS for r in rooms)
    assert demo_rooms("demo", 1, "typical")[0].scenario == "typical"
    with pytest.raises(ValueError, match="between 1 and 8"):
        demo_rooms("demo", 9, "demo")


def test_background_rooms_have_no_music_or_light(tmp_path: Path) -> None:
    main = demo_settings(tmp_path, "demo", "mqtt://127.0.0.1:1")
    other = demo_settings(tmp_path, "demo-2", "mqtt://127.0.0.1:1", main=False)
    assert main.music.enabled
    assert main.lighting.lights
    assert not other.music.enabled
    assert not other.lighting.lights
    assert other.devices["oximeter"].protocol == "masimo-ascii1"
    assert main.devices["oximeter"].protocol == "nonin-df2"


# ------------------------------------------------------------------ the real demo


def children_of(pid: int) -> list[int]:
    out = subprocess.run(
        ["ps", "-o", "pid=", "--ppid", str(pid)],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    return [int(x) for x in out.split()]


def stopped(demo: Proc, children: list[int], timeout: float) -> int:
    """The demo's exit code once it has stopped; what was still running if not."""
    try:
        return demo.popen.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        running = subprocess.run(
            ["ps", "-o", "pid,stat,etime,args", "-p", ",".join(map(str, children))],
            capture_output=True,
            text=True,
            check=False,
        ).stdout
        stack = subprocess.run(
            ["ps", "-o", "pid,stat,wchan:30,args", "-p", str(demo.popen.pid)],
            capture_output=True,
            text=True,
            check=False,
        ).stdout
        msg = (
            f"the demo did not stop within {timeout:g} s:\n{stack}\nchildren:\n"
            f"{running}\nstderr:\n{demo.stderr()[-3000:]}"
        )
        raise AssertionError(msg) from None


async def _room_states(url: str, wait_s: float) -> dict[str, Line]:
    """The latest retained or live state of every room on the broker."""
    host, port = url.removeprefix("mqtt://").split(":")
    states: dict[str, Line] = {}
    async with aiomqtt.Client(host, int(port)) as client:
        await client.subscribe("roomctl/+/state")
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(wait_s):
                async for message in client.messages:
                    document = json.loads(bytes(message.payload))
                    states[message.topic.value.split("/")[1]] = document
    return states


async def _dose(url: str, room: str) -> Line:
    host, port = url.removeprefix("mqtt://").split(":")
    async with aiomqtt.Client(host, int(port)) as client:
        await client.subscribe(f"roomctl/{room}/cmd/phase/reply", qos=1)
        body = {"phase": "dosing", "by": "nurse", "id": "test-dose"}
        await client.publish(f"roomctl/{room}/cmd/phase", json.dumps(body), qos=1)
        async with asyncio.timeout(10):
            async for message in client.messages:
                reply: Line = json.loads(bytes(message.payload))
                return reply
    raise AssertionError("no reply")


@pytest.mark.subprocess
@pytest.mark.pty
def test_demo_shows_live_rooms_and_ctrl_c_leaves_no_process(
    spawn: Callable[..., Proc],
) -> None:
    demo = spawn(
        "-m", "roomctl", "demo", "--speed", "20", "--no-console", "--rooms", "3"
    )
    demo.wait_for(
        lambda: (
            re.search(r"SpO2 \d+%  PR \d+/min  NIBP \d+/\d+", demo.stdout()) is not None
        ),
        timeout=45,
        what="live vitals with a blood pressure",
    )
    children = children_of(demo.popen.pid)
    # The embedded broker; the main room's oximeter, NIBP monitor and bulb; two
    # devices for each of the two background rooms.
    assert len(children) == 1 + 3 + 2 * 2
    found = re.search(r"MQTT broker: (mqtt://127\.0\.0\.1:\d+)", demo.stdout())
    assert found is not None
    url = found.group(1)
    states = asyncio.run(_room_states(url, 2.0))
    assert sorted(states) == ["demo", "demo-2", "demo-3"]
    engines = {room: state["engine"] for room, state in states.items()}
    phases = {room: engine["phase"] for room, engine in engines.items()}  # type: ignore[index]
    assert phases == {
        "demo": "preparation",
        "demo-2": "dosing",
        "demo-3": "preparation",
    }
    # The background rooms are light: no music, no light in their states.
    assert "music" in states["demo"]
    assert "music" not in states["demo-2"]
    assert "lights" not in states["demo-3"]
    # demo-2 is in an alarm at once: bp.high from its first reading (hr.high follows
    # after 30 s of HR 130+; the replay test above times both).
    deadline = time.monotonic() + 30
    codes: set[str] = set()
    while time.monotonic() < deadline and not codes & {"bp.high", "hr.high"}:
        engine = asyncio.run(_room_states(url, 1.0))["demo-2"]["engine"]
        codes = {a["code"] for a in engine["alarms"]}  # type: ignore[index]
    assert codes & {"bp.high", "hr.high"}, codes
    # The nurse doses the main room: its patient's heart rate starts to rise.
    assert asyncio.run(_dose(url, "demo")) == {"ok": True, "id": "test-dose"}
    demo.wait_for(
        lambda: any(
            int(rate) >= 90 for rate in re.findall(r"PR (\d+)/min", demo.stdout())
        ),
        timeout=30,
        what="the heart rate rising after the dose",
    )
    demo.popen.send_signal(signal.SIGINT)
    assert stopped(demo, children, timeout=15) == 0
    out = demo.stdout()
    assert "roomctl demo stopped." in out
    assert "Secondary display" in out
    assert "demo-2: dosed at start, already in an alarm" in out
    assert "Esc shows the station" in out
    assert "level" not in demo.stderr()  # no warning or error logged on the way out
    for pid in children:
        assert subprocess.run(["kill", "-0", str(pid)], check=False).returncode != 0


@pytest.mark.subprocess
def test_demo_refuses_a_bad_room_count(spawn: Callable[..., Proc]) -> None:
    demo = spawn("-m", "roomctl", "demo", "--rooms", "0", "--no-console")
    assert demo.popen.wait(timeout=30) == 2
    assert "--rooms" in demo.stderr()


@pytest.mark.subprocess
@pytest.mark.pty
def test_a_closed_terminal_stops_the_demo_cleanly(spawn: Callable[..., Proc]) -> None:
    demo = spawn("-m", "roomctl", "demo", "--no-console", "--rooms", "2")
    demo.wait_for(
        lambda: re.search(r"SpO2 \d+%", demo.stdout()) is not None,
        timeout=30,
        what="live vitals",
    )
    children = children_of(demo.popen.pid)
    assert len(children) == 1 + 3 + 2
    demo.popen.send_signal(signal.SIGHUP)  # the terminal window was closed
    assert demo.popen.wait(timeout=15) == 0
    assert "roomctl demo stopped." in demo.stdout()
    for pid in children:
        assert subprocess.run(["kill", "-0", str(pid)], check=False).returncode != 0


def _pulse_rates(url: str, seconds_: float) -> list[int]:
    """Masimo ASCII 1 lines read from a simulator's TCP port: their pulse rates."""
    host, port = url.removeprefix("socket://").split(":")

    async def read() -> bytes:
        reader, writer = await asyncio.open_connection(host, int(port))
        data = b""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds_):
                while chunk := await reader.read(4096):
                    data += chunk
        writer.close()
        return data

    text = asyncio.run(read()).decode("ascii", errors="replace")
    return [int(rate) for rate in re.findall(r"BPM=(\d+)", text)]


@pytest.mark.subprocess
@pytest.mark.parametrize("scenario", ["demo", "typical"])
def test_a_simulator_takes_the_dose_signal(
    spawn: Callable[..., Proc], scenario: str
) -> None:
    sim = spawn(
        "-m", "simulators", "masimo-ascii1", "--port", "tcp",
        "--scenario", scenario, "--speed", "60",
    )  # fmt: skip
    sim.wait_for(lambda: "socket://" in sim.stdout(), timeout=20, what="its port")
    url = sim.stdout().split()[0]
    before = _pulse_rates(url, 2.0)
    assert before
    assert max(before) < 80
    sim.popen.send_signal(signal.SIGUSR1)  # "the dose was given now"
    after = _pulse_rates(url, 4.0)  # 4 min of scenario time at 60x
    assert sim.popen.poll() is None  # never the signal's default action: ending
    if scenario == "demo":
        assert max(after) >= 95  # the patient responds to the dose
    else:
        assert max(after) < 80  # a scenario that does not wait for a dose ignores it
