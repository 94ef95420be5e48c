"""Crash resume with real parts: a daemon process killed with SIGKILL and started again.

The daemon runs as a real process with a simulated Nonin oximeter on a real pty, a
real mosquitto and the real record.

The alarm policy is tuned (as a clinic may tune it in its file) so that the session
reaches its interesting state in seconds: the pulse rate of the simulated patient
(about 72/min) is above a 60/min ``hr.high`` limit and a 65/min severe limit, so
``hr.high`` is raised and latches at HIGH; the baseline builds in 5 s; a link or data
gap of 3 s raises its technical alarm, which clears after 3 s of data.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from bisect import bisect_left
from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

import aiomqtt
import pytest

from tests.system.conftest import ROOT, write_config

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable
    from pathlib import Path

    from tests.broker import Broker
    from tests.system.conftest import Proc

pytestmark = [pytest.mark.broker, pytest.mark.subprocess, pytest.mark.pty]

POLICY = """
[alarms.hr_high]
limit_bpm = 60
delay_s = 2
severe_limit_bpm = 65
severe_delay_s = 2
[alarms.baseline]
window_s = 5
min_coverage_s = 3
[alarms.link]
delay_s = 3
clear_after_s = 3
[alarms.spo2_data]
low_after_s = 3
medium_after_s = 60
medium_during_infusion_s = 60
clear_after_s = 2
"""


def room_config(tmp_path: Path, broker: Broker, room: str) -> Path:
    return write_config(
        tmp_path / "room.toml",
        f"""
[room]
name = "{room}"
[record]
path = "{tmp_path / "record.sqlite"}"
[music]
enabled = false
[mqtt]
url = "{broker.url}"
[devices.oximeter]
protocol = "nonin-df2"
port = "{tmp_path / "ox"}"
{POLICY}""",
    )


class Room:
    """One room seen over MQTT: its state, alarms, events and command replies."""

    def __init__(self, client: aiomqtt.Client, room: str) -> None:
        self.client = client
        self.room = room
        # JSON documents as they come (``Any``: the tests index into them freely).
        self.state: dict[str, Any] = {}
        self.status = ""
        self.alarms: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []
        self.replies: dict[str, dict[str, Any]] = {}
        self._ids = 0

    async def listen(self) -> None:
        prefix = f"roomctl/{self.room}/"
        async for message in self.client.messages:
            topic = str(message.topic).removeprefix(prefix)
            payload = message.payload
            assert isinstance(payload, bytes)
            if topic == "status":
                self.status = payload.decode()
                continue
            if topic == "vitals":
                continue
            document = json.loads(payload)
            if topic == "state":
                self.state = document
            elif topic == "alarms":
                self.alarms.append(document)
            elif topic == "events":
                self.events.append(document)
            elif topic.endswith("/reply") and "id" in document:
                self.replies[str(document["id"])] = document

    async def until(
        self, predicate: Callable[[], bool], timeout: float, what: str
    ) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                msg = f"timed out waiting for {what}; state: {self.state}"
                raise AssertionError(msg)
            await asyncio.sleep(0.05)

    async def send(self, verb: str, **args: object) -> str:
        """Publish a command; its id."""
        self._ids += 1
        command_id = f"{verb}-{self._ids}"
        payload = json.dumps({**args, "id": command_id}).encode()
        await self.client.publish(f"roomctl/{self.room}/cmd/{verb}", payload, qos=1)
        return command_id

    async def command(self, verb: str, **args: object) -> dict[str, Any]:
        """Send a command and wait for its reply."""
        command_id = await self.send(verb, **args)
        await self.until(lambda: command_id in self.replies, 15, f"the {verb} reply")
        return self.replies[command_id]

    def engine(self) -> dict[str, Any]:
        engine = self.state.get("engine")
        return engine if isinstance(engine, dict) else {}

    def alarm(self, code: str) -> dict[str, Any]:
        """The alarm ``code`` on the board (empty: not there)."""
        alarms = self.engine().get("alarms", [])
        return next((a for a in alarms if a["code"] == code), {})


@contextlib.asynccontextmanager
async def watching(broker: Broker, room: str) -> AsyncIterator[Room]:
    async with aiomqtt.Client("127.0.0.1", port=broker.port) as client:
        await client.subscribe(f"roomctl/{room}/#", qos=1)
        watched = Room(client, room)
        task = asyncio.create_task(watched.listen())
        try:
            yield watched
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def start_sim(spawn: Callable[..., Proc], link: Path) -> Proc:
    sim = spawn("-m", "simulators", "nonin-df2", "--port", f"pty:{link}")
    deadline = time.monotonic() + 10
    while not link.exists():
        assert time.monotonic() < deadline, "the simulator's pty did not appear"
        time.sleep(0.05)
    return sim


def query(path: Path, sql: str, *args: object) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


def kill(daemon: Proc) -> float:
    """SIGKILL the daemon; the wall time of the kill."""
    killed_at = time.time()
    daemon.popen.send_signal(signal.SIGKILL)
    daemon.popen.wait(timeout=5)
    return killed_at


async def reach_dosing_with_an_acknowledged_latched_alarm(watch: Room) -> None:
    """Baseline, confirmation, dose; hr.high latches at HIGH, the nurse acknowledges."""
    await watch.until(
        lambda: (
            ((watch.engine().get("baseline") or {}).get("computed") or {}).get("hr_bpm")
            is not None
        ),
        30,
        "the pre-dose baseline",
    )
    confirm = await watch.command("baseline_confirm", by="nurse")
    assert confirm["ok"], confirm
    dose = await watch.command("phase", phase="dosing", by="therapist")
    assert dose["ok"], dose
    await watch.until(
        lambda: any(
            a["code"] == "hr.high" and a["priority"] == "high" for a in watch.alarms
        ),
        20,
        "hr.high at HIGH",
    )
    await watch.until(
        lambda: any(
            e["type"] == "episode" and e["transition"] == "opened" for e in watch.events
        ),
        20,
        "the HR episode",
    )
    ack = await watch.command("acknowledge", code="hr.high", by="nurse")
    assert ack["ok"], ack
    await watch.until(
        lambda: bool(watch.alarm("hr.high").get("acknowledged")),
        10,
        "the acknowledgement in the state",
    )
    high = watch.alarm("hr.high")
    assert (high["latched"], high["acknowledged_by"]) == (True, "nurse")


def same_time(a: str, b: str) -> bool:
    """Two ISO times within a millisecond."""
    return abs(datetime.fromisoformat(a) - datetime.fromisoformat(b)) < timedelta(
        milliseconds=1
    )


def assert_continued(before: dict[str, Any], after: dict[str, Any]) -> None:
    """The resumed state is the state at the kill, on the same session axis."""
    engine, resumed = before["engine"], after["engine"]
    assert after["session_id"] == before["session_id"]
    assert after["session_time_s"] >= before["session_time_s"] + 5
    assert resumed["phase"] == "dosing"
    # Times agree to the capture's 0.1 ms resolution.
    assert same_time(resumed["dose_start_at"], engine["dose_start_at"])
    for key in ("values", "status", "confirmed_by", "frozen"):
        assert resumed["baseline"][key] == engine["baseline"][key], key
    assert same_time(
        resumed["baseline"]["confirmed_at"], engine["baseline"]["confirmed_at"]
    )
    assert resumed["baseline"]["status"] == "confirmed"
    (high,) = (a for a in engine["alarms"] if a["code"] == "hr.high")
    (restored,) = (a for a in resumed["alarms"] if a["code"] == "hr.high")
    assert restored["latched"] is True
    assert restored["acknowledged"] is True
    assert restored["acknowledged_by"] == "nurse"
    assert same_time(restored["raised_at"], high["raised_at"])
    assert [(e["signal"], e["closed_at"]) for e in resumed["episodes"]] == [
        ("hr", None)
    ]
    assert [e["episode_id"] for e in resumed["episodes"]] == [
        e["episode_id"] for e in engine["episodes"]
    ]
    assert resumed["nibp"]["cycle_s"] == engine["nibp"]["cycle_s"] == 300
    assert same_time(resumed["nibp"]["next_due_at"], engine["nibp"]["next_due_at"])
    gap = after["resumed"]
    assert 5.0 <= gap["gap_s"] < 15.0
    assert gap["text"].startswith("the room daemon was not running from ")


async def assert_gap_alarms_raised_and_cleared(watch: Room, since: int) -> None:
    """The gap raises tech.link and data lost; they clear when data returns."""

    def seen(code: str, transition: str) -> bool:
        return any(
            a["code"] == code and a["transition"] == transition
            for a in watch.alarms[since:]
        )

    for code in ("tech.link.oximeter", "tech.spo2.data_lost"):
        await watch.until(partial(seen, code, "raised"), 15, f"{code} raised")
        await watch.until(partial(seen, code, "cleared"), 20, f"{code} cleared")
    link_lost = [
        e
        for e in watch.events
        if e["type"] == "link" and str(e.get("reason", "")).startswith("the room")
    ]
    assert len(link_lost) == 1


def assert_recorded(record: Path, session_id: str, killed_at: float) -> None:
    """One session, resumed once, with the gap and its alarms in the record."""
    sessions = query(record, "SELECT id, ended_at FROM sessions")
    assert len(sessions) == 1
    assert sessions[0][0] == session_id
    assert sessions[0][1] is not None
    opened = query(
        record,
        "SELECT json_extract(payload, '$.resumed') FROM events WHERE type = 'session'",
    )
    assert opened == [(0,), (1,)]
    (notice,) = query(record, "SELECT payload FROM events WHERE type = 'notice'")
    assert "was not running" in json.loads(str(notice[0]))["text"]
    technical = query(
        record,
        "SELECT code, json_extract(payload, '$.transition') FROM events"
        " WHERE type = 'alarm' AND code LIKE 'tech.%' ORDER BY id",
    )
    assert ("tech.link.oximeter", "raised") in technical
    assert ("tech.link.oximeter", "cleared") in technical
    spo2 = [
        float(str(ts))
        for (ts,) in query(
            record, "SELECT ts FROM readings WHERE metric = 'spo2_percent' ORDER BY ts"
        )
    ]
    assert max(t for t in spo2 if t <= killed_at) >= killed_at - 1.0
    assert min(t for t in spo2 if t > killed_at) - killed_at >= 4.0


async def test_a_killed_daemon_continues_the_session_where_it_was(
    tmp_path: Path, broker: Broker, spawn: Callable[..., Proc]
) -> None:
    room = "resume-1"
    start_sim(spawn, tmp_path / "ox")
    config = room_config(tmp_path, broker, room)
    async with watching(broker, room) as watch:
        first = spawn("-m", "roomctl", "run", "--config", str(config))
        await reach_dosing_with_an_acknowledged_latched_alarm(watch)
        before = watch.state
        killed_at = kill(first)
        await asyncio.sleep(5.0)  # the gap: longer than the 3 s link delay
        watch.state = {}
        since = len(watch.alarms)
        second = spawn("-m", "roomctl", "run", "--config", str(config))
        await watch.until(lambda: "resumed" in watch.state, 30, "the resumed state")
        assert_continued(before, watch.state)
        await assert_gap_alarms_raised_and_cleared(watch, since)
        second.popen.send_signal(signal.SIGTERM)
        assert second.popen.wait(timeout=10) == 0
    assert_recorded(tmp_path / "record.sqlite", before["session_id"], killed_at)


# ------------------------------------------------------------------ issue 8: faults

#: SIGKILLs in one session: 5 in ``make test``, the issue's 10 in ``make soak``.
KILLS = int(os.environ.get("ROOMCTL_SIGKILLS", "5"))


def captured_readings(capture: Path) -> list[tuple[float, str, float | None]]:
    """``(t, metric, value)`` of every reading the capture's replay gives."""
    out = subprocess.run(
        [sys.executable, "-m", "roomctl", "replay", str(capture), "--readings"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    ).stdout
    lines = [json.loads(line) for line in out.splitlines()]
    return [
        (float(x["t"]), str(x["metric"]), x["value"])
        for x in lines
        if x["type"] == "reading"
    ]


async def run_until_killed(
    watch: Room, daemon: Proc, run: int, *, last: bool
) -> tuple[list[str], float | None]:
    """Send notes, five a second, then kill the daemon (SIGTERM the last time).

    Returns the ids of the notes the room answered, and the time of the kill.
    """
    await watch.until(lambda: watch.status == "online", 30, f"run {run}")
    watch.state = {}
    await watch.until(lambda: bool(watch.state.get("vitals")), 30, f"run {run}: vitals")
    if run == 1:
        dose = await watch.command("phase", phase="dosing", by="therapist")
        assert dose["ok"], dose
    sent: list[str] = []
    until = time.monotonic() + 2.0 + 0.13 * run  # kills fall at varied points
    while time.monotonic() < until:
        sent.append(await watch.send("note", text=f"run {run}", by="nurse"))
        await asyncio.sleep(0.2)
    killed_at = None
    if last:
        daemon.popen.send_signal(signal.SIGTERM)
        assert daemon.popen.wait(timeout=10) == 0
    else:
        killed_at = kill(daemon)
    await asyncio.sleep(0.3)  # replies sent before the kill arrive
    return [i for i in sent if watch.replies.get(i, {}).get("ok")], killed_at


def lost_readings(record: Path, capture: Path, kills: list[float]) -> tuple[int, int]:
    """Readings the daemon had more than 1 s before a kill that the record lacks.

    What the daemon had is what its capture holds (replayed); a reading counts when
    it came between the previous kill and 1 s before the next. Returns the readings
    checked and those lost.
    """
    t0 = datetime.fromisoformat(
        json.loads(capture.read_text().splitlines()[0])["started_at"]
    ).timestamp()
    recorded = sorted(
        (float(str(ts)), str(metric), value)
        for ts, metric, value in query(record, "SELECT ts, metric, value FROM readings")
    )
    times = [r[0] for r in recorded]
    windows = list(zip([0.0, *kills], [k - 1.0 for k in kills], strict=False))
    checked = lost = 0
    for t, metric, value in captured_readings(capture):
        ts = t0 + t
        if not any(start < ts <= end for start, end in windows):
            continue
        checked += 1
        near = recorded[bisect_left(times, ts - 0.05) : bisect_left(times, ts + 0.05)]
        if not any(r[1] == metric and r[2] == value for r in near):
            lost += 1
    return checked, lost


@pytest.mark.slow
@pytest.mark.timeout(240)
async def test_repeated_sigkills_lose_no_reading_older_than_1_s_and_no_command(
    tmp_path: Path, broker: Broker, spawn: Callable[..., Proc]
) -> None:
    room = "resume-10"
    started = time.monotonic()
    start_sim(spawn, tmp_path / "ox")
    config = room_config(tmp_path, broker, room)
    record = tmp_path / "record.sqlite"
    kills: list[float] = []
    acknowledged: list[str] = []
    session_ids: set[str] = set()
    daemons: list[Proc] = []
    async with watching(broker, room) as watch:
        for run in range(KILLS + 1):
            watch.status = ""
            daemon = spawn("-m", "roomctl", "run", "--config", str(config))
            daemons.append(daemon)
            answered, killed_at = await run_until_killed(
                watch, daemon, run, last=run == KILLS
            )
            session_ids.add(str(watch.state["session_id"]))
            acknowledged += answered
            if killed_at is not None:
                kills.append(killed_at)

    # The session resumed each time.
    assert len(session_ids) == 1
    assert len(query(record, "SELECT id FROM sessions")) == 1
    resumed = query(
        record,
        "SELECT count(*) FROM events WHERE type = 'session'"
        " AND json_extract(payload, '$.resumed')",
    )
    assert resumed == [(KILLS,)]
    # No acknowledged command lost.
    on_record = {
        str(i)
        for (i,) in query(
            record,
            "SELECT json_extract(payload, '$.command_id') FROM events"
            " WHERE type = 'command'",
        )
    }
    lost_commands = [i for i in acknowledged if i not in on_record]
    # No reading the daemon had 1 s before a kill is lost, and the record reaches
    # to within 1 s of each kill.
    capture = tmp_path / "captures" / f"{session_ids.pop()}.jsonl"
    checked, lost = lost_readings(record, capture, kills)
    spo2 = [
        float(str(ts))
        for (ts,) in query(
            record, "SELECT ts FROM readings WHERE metric = 'spo2_percent'"
        )
    ]
    late = [k for k in kills if k - max(t for t in spo2 if t <= k) > 1.0]
    recovered = [
        str(line["msg"]).rpartition(": ")[2]
        for daemon in daemons
        for line in daemon.log_lines()
        if "written from the capture" in str(line["msg"])
    ]
    print(  # noqa: T201 (the reliability figures)
        f"\n{KILLS} SIGKILLs in {time.monotonic() - started:.0f} s: "
        f"{len(acknowledged)} commands answered, {len(lost_commands)} lost; "
        f"{checked} readings from more than 1 s before a kill checked, {lost} lost; "
        f"record short of a kill by more than 1 s: {len(late)}; written from the "
        f"capture on resume: {recovered}"
    )
    assert acknowledged
    assert lost_commands == []
    assert lost == 0
    assert late == []
