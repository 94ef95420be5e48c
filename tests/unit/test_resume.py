"""Crash resume with the real record, capture, replay and engine, on a virtual clock.

A crashed session is made the way a daemon leaves one: a simulated session's capture
(real device bytes) replayed into a record through the real recorder, the record's
last rows never written (the crash came between two flushes), ``ended_at`` empty, and
the capture's last line cut short. A ``Daemon`` started on it must continue it.
"""

from __future__ import annotations

import asyncio
import io
import json
import sqlite3
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest

from roomctl.app import Daemon
from roomctl.capture import (
    CaptureHeader,
    CaptureWriter,
    LinkRecord,
    OpRecord,
    read_capture,
    trim_partial_line,
)
from roomctl.clock import VirtualClock
from roomctl.director import SceneDirector
from roomctl.events import (
    AlarmChanged,
    AlarmKind,
    AlarmPriority,
    AlarmTransition,
    Command,
    CommandVerb,
    DeviceConnected,
    DeviceLost,
    Phase,
    PhaseChanged,
    ReadingReceived,
    Role,
    SessionOpened,
    TechnicalNotice,
)
from roomctl.mqtt.wire import encode, event_lines
from roomctl.nibp import NibpController
from roomctl.readings import LinkState, NibpReading, ProtocolId
from roomctl.recorder import Recorder, StoredSession
from roomctl.replay import Replayer, replay
from roomctl.resume import SessionClock, missed_engine_events, refusal
from roomctl.settings import parse_settings
from roomctl.ui.model import describe_event
from simulators.alarm_scenarios import Bp, at, op, predose, scenario, session
from simulators.capture import CapturePlan, capture_lines

if TYPE_CHECKING:
    from pathlib import Path

    from roomctl.alarms import EngineState
    from roomctl.bus import Subscription
    from roomctl.events import Event
    from roomctl.scenes import LightScene

ROOM = "r1"
SESSION_ID = "r1-20261121T090000Z"
READINGS = [*predose(124, 78), Bp(5, 150, 92), Bp(10, 184, 112), Bp(13, 188, 114)]
#: The capture ends at +15:00; the record was last written 0.5 s before.
END_T = at(15)
RECORD_UNTIL_T = END_T - 0.5
#: The nurse acknowledged bp.high 0.3 s before the crash: in the capture, not the
#: record.
ACK_T = END_T - 0.3
GAP_S = 30.0


def crash_plan(oximeter: ProtocolId = ProtocolId.MASIMO_ASCII1) -> CapturePlan:
    s = scenario(
        "crash",
        "BP rises to 188/114 after the dose; bp.high is acknowledged; then a crash.",
        end_min=15,
        readings=READINGS,
        inputs=session(
            op(2, 0, "lights", level=10, by="therapist"),
            op(3, 0, "music", action="pause", by="therapist"),
            op(14, 59.7, "acknowledge", code="bp.high"),
        ),
    )
    return CapturePlan(
        scenario=s,
        seed=3,
        oximeter=oximeter,
        nibp=True,
        nibp_at=tuple(sorted(at(r.minute) for r in READINGS)),
        room=ROOM,
    )


def capture_text(plan: CapturePlan) -> str:
    lines = []
    for line in capture_lines(plan):
        if '"op":"acknowledge"' in line:
            line = line[:-1] + ',"id":"ack-1"}'  # noqa: PLW2901 (as the daemon writes it)
        lines.append(line)
    return "\n".join(lines) + "\n"


@dataclass
class Crashed:
    """A session a daemon left behind when it was killed."""

    tmp: Path
    text: str
    header: CaptureHeader
    #: The engine of the whole capture at its end, replayed on its own.
    reference: EngineState
    #: Reading rows the whole capture gives, by device.
    rows: dict[str, int]

    @property
    def record(self) -> Path:
        return self.tmp / "record.sqlite"

    @property
    def capture(self) -> Path:
        return self.tmp / "captures" / f"{SESSION_ID}.jsonl"

    def settings_text(self, extra: str = "") -> str:
        return (
            f'[room]\nname = "{ROOM}"\n[record]\npath = "{self.record}"\n'
            "[mqtt]\nenabled = false\n[music]\nenabled = false\n"
            '[devices.oximeter]\nprotocol = "masimo-ascii1"\nport = "/dev/null-ox"\n'
            '[devices.nibp]\nprotocol = "suntech-advantage"\nport = "/dev/null-bp"\n'
            + extra
        )

    def daemon(
        self, extra: str = "", gap_s: float = GAP_S
    ) -> tuple[Daemon, VirtualClock]:
        clock = VirtualClock(
            start_at=self.header.started_at + timedelta(seconds=END_T + gap_s),
            start_mono=5000.0,  # the new process's clock has nothing to do with t
        )
        return Daemon(parse_settings(self.settings_text(extra)), clock=clock), clock


def crash(tmp: Path, text: str) -> Crashed:
    """Write the record (without its last 0.5 s) and the capture (cut mid-line)."""
    header, records = read_capture(io.StringIO(text), "crash")
    rows: dict[str, int] = {}

    def count(event: Event) -> None:
        if isinstance(event, ReadingReceived):
            reading = event.reading
            n = len(reading.as_readings()) if isinstance(reading, NibpReading) else 1
            rows[reading.device] = rows.get(reading.device, 0) + n

    replayer = Replayer(header, emit=None, on_event=count)
    recorder = Recorder(
        path=tmp / "record.sqlite", bus=replayer.bus, clock=replayer.clock
    )
    recorder.open()
    opened = SessionOpened(
        occurred_mono=0.0,
        occurred_at=header.started_at,
        session_id=SESSION_ID,
        route=header.route,
        infusion_min=header.infusion_min,
    )
    recorder.start_session(opened, ROOM)
    replayer.bus.publish(opened)
    flushed = False
    for record in records:
        if record.t > RECORD_UNTIL_T and not flushed:
            recorder.final_flush()  # the last write before the crash
            flushed = True
        replayer.apply(record)
    recorder.close()  # no flush: the rows after RECORD_UNTIL_T are lost
    with sqlite3.connect(tmp / "record.sqlite") as conn:
        conn.execute("UPDATE sessions SET ended_at = NULL")
    conn.close()
    captures = tmp / "captures"
    captures.mkdir()
    (captures / f"{SESSION_ID}.jsonl").write_text(text + '{"t":900.1,"dev":"oxi')
    return Crashed(
        tmp=tmp,
        text=text,
        header=header,
        reference=replayer.engine.snapshot(replayer.clock.monotonic()),
        rows=rows,
    )


@pytest.fixture(scope="module")
def masimo_text() -> str:
    return capture_text(crash_plan())


@pytest.fixture
def crashed(tmp_path: Path, masimo_text: str) -> Crashed:
    return crash(tmp_path, masimo_text)


def drain(sub: Subscription) -> list[Event]:
    out = []
    while (event := sub.get_nowait()) is not None:
        out.append(event)
    return out


def alarms_of(state: EngineState) -> list[tuple[str, bool, bool]]:
    return sorted((a.code, a.acknowledged, a.latched) for a in state.alarms)


def query(path: Path, sql: str, *args: object) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


# ------------------------------------------------------------------ the engine


def test_the_engine_is_rebuilt_as_it_was_at_the_crash(crashed: Crashed) -> None:
    daemon, _clock = crashed.daemon()
    try:
        resumed = daemon.resumed
        assert resumed is not None
        assert daemon.session_id == SESSION_ID
        # Same time axis: the daemon's monotonic seconds are the session's t.
        assert resumed.t_last == END_T
        assert resumed.t_crash == END_T
        assert daemon.clock.monotonic() == pytest.approx(END_T + GAP_S)
        state = daemon.engine.snapshot(END_T)
        ref = crashed.reference
        assert state.phase is Phase.DOSING
        assert state.dose_start_at == crashed.header.started_at + timedelta(
            seconds=at(0)
        )
        assert state.dose_start_at == ref.dose_start_at
        assert state.baseline.values == ref.baseline.values
        assert state.baseline.values.sbp_mmhg == pytest.approx(124)
        assert state.baseline.confirmed_by is Role.NURSE
        # bp.high raised, confirmed and acknowledged by the nurse 0.3 s before the
        # crash; the BP episode is open.
        assert alarms_of(state) == alarms_of(ref)
        (high,) = (a for a in state.alarms if a.code == "bp.high")
        assert high.acknowledged
        assert high.acknowledged_by is Role.NURSE
        assert high.priority is AlarmPriority.MEDIUM
        assert [(e.signal.value, e.closed_at) for e in state.episodes] == [("bp", None)]
        assert state.episodes == ref.episodes
        assert state.nibp.next_due_at == ref.nibp.next_due_at
        assert state.nibp.cycle_s == 180  # 3 min while a BP rule is active
        assert resumed.links == {"oximeter": LinkState.UP, "nibp": LinkState.UP}
        # The therapist's light override (in dosing) and the music pause.
        assert resumed.lights == [{"level": 10}]
        assert resumed.music == [{"action": "pause"}]
        assert resumed.trimmed_bytes == len('{"t":900.1,"dev":"oxi')
    finally:
        daemon.close()


def test_resume_records_the_gap_and_what_the_crash_kept_from_the_record(
    crashed: Crashed,
) -> None:
    daemon, clock = crashed.daemon()
    seen = daemon.bus.open(name="test")
    daemon.recorder.open()
    opened = daemon._open_session()
    events = drain(seen)
    assert opened.resumed
    assert opened.session_id == SESSION_ID
    assert isinstance(events[0], SessionOpened)
    lost = [e for e in events if isinstance(e, DeviceLost)]
    assert sorted(e.device for e in lost) == ["nibp", "oximeter"]
    text = (
        "the room daemon was not running from 09:25:00 UTC to 09:25:30 UTC (30 s); "
        "readings in that time are missing"
    )
    assert {e.reason for e in lost} == {text}
    assert {e.occurred_mono for e in lost} == {END_T}
    (notice,) = (e for e in events if isinstance(e, TechnicalNotice))
    assert notice.text == text
    # The gap raises the link and data-lost alarms as any 30 s gap would.
    raised = {
        e.code
        for e in events
        if isinstance(e, AlarmChanged) and e.transition is AlarmTransition.RAISED
    }
    assert raised == {"tech.link.oximeter", "tech.link.nibp", "tech.spo2.data_lost"}
    # Data returns: the link alarms clear after 10 s of a healthy link.
    for device in ("oximeter", "nibp"):
        daemon.pipeline.link_changed(
            DeviceConnected(
                occurred_mono=daemon.clock.monotonic(),
                occurred_at=clock.now_utc(),
                device=device,
            )
        )
    clock.advance(10.5)
    daemon.tick()
    cleared = {
        e.code
        for e in drain(seen)
        if isinstance(e, AlarmChanged) and e.transition is AlarmTransition.CLEARED
    }
    assert {"tech.link.oximeter", "tech.link.nibp"} <= cleared
    asyncio.run(daemon.recorder.flush())
    daemon.close()

    record = crashed.record
    sessions = query(record, "SELECT id, ended_at FROM sessions")
    assert len(sessions) == 1
    assert sessions[0][0] == SESSION_ID
    # The acknowledgement 0.3 s before the crash: the command, by its id, and its
    # alarm transition, each once.
    commands = query(
        record,
        "SELECT json_extract(payload, '$.command_id'), by_role FROM events"
        " WHERE type = 'command' AND code = 'acknowledge'",
    )
    assert commands == [("ack-1", "nurse")]
    acked = query(
        record,
        "SELECT ts FROM events WHERE type = 'alarm' AND code = 'bp.high'"
        " AND json_extract(payload, '$.transition') = 'acknowledged'",
    )
    assert len(acked) == 1
    assert acked[0][0] == pytest.approx(
        (crashed.header.started_at + timedelta(seconds=ACK_T)).timestamp()
    )
    # Every reading the capture holds is in the record, once.
    counts = {
        str(device): count
        for device, count in query(
            record, "SELECT device, count(*) FROM readings GROUP BY device"
        )
    }
    assert counts == crashed.rows
    # The gap is in the record: the link events with it in words, and the notice.
    gaps = query(
        record,
        "SELECT json_extract(payload, '$.reason') FROM events WHERE type = 'link'"
        " AND json_extract(payload, '$.reason') LIKE 'the room daemon%'",
    )
    assert len(gaps) == 2
    assert query(record, "SELECT count(*) FROM events WHERE type = 'notice'") == [(1,)]
    resumed_rows = query(
        record,
        "SELECT json_extract(payload, '$.resumed') FROM events WHERE type = 'session'",
    )
    assert resumed_rows == [(0,), (1,)]


def test_the_capture_goes_on_and_replays_through_the_restart(
    crashed: Crashed,
) -> None:
    daemon, _clock = crashed.daemon()
    daemon.recorder.open()
    daemon._open_session()
    daemon.close()
    with crashed.capture.open(encoding="utf-8") as stream:
        header, records = read_capture(stream, "resumed")
        items = list(records)
    assert header == crashed.header  # one header: the file was appended to
    assert items[-2:] == [
        LinkRecord(
            line=items[-2].line + i, t=END_T, dev=d, state=LinkState.LOST, restart=True
        )
        for i, d in enumerate(("oximeter", "nibp"))
    ]
    out = io.StringIO()
    with crashed.capture.open(encoding="utf-8") as stream:
        summary = replay(stream, out, source="resumed")
    assert "bp.high" in summary.active_alarms
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [(x["dev"], x["state"]) for x in lines if x["type"] == "link"][-2:] == [
        ("oximeter", "lost"),
        ("nibp", "lost"),
    ]


@pytest.mark.parametrize(("restart", "frames"), [(True, 1), (False, 2)])
def test_a_restart_gives_the_device_a_fresh_decoder_in_replay(
    masimo_text: str, restart: bool, frames: int
) -> None:
    header_line = masimo_text.splitlines()[0]
    rx = [
        json.loads(line)
        for line in masimo_text.splitlines()
        if '"oximeter","rx"' in line
    ][:2]
    first, second = (bytes.fromhex(r["rx"]) for r in rx)
    half = len(first) // 2
    lost = {"t": 1.05, "dev": "oximeter", "link": "lost"}
    if restart:
        lost["restart"] = True
    records = [
        {"t": 1.0, "dev": "oximeter", "rx": first[:half].hex()},
        lost,
        {"t": 1.1, "dev": "oximeter", "link": "up"},
        {"t": 1.2, "dev": "oximeter", "rx": first[half:].hex()},
        {"t": 2.0, "dev": "oximeter", "rx": second.hex()},
    ]
    text = header_line + "\n" + "".join(json.dumps(r) + "\n" for r in records)
    summary = replay(io.StringIO(text), io.StringIO(), source="c")
    # The new process never saw the line's first half: its decoder drops the rest.
    assert summary.frames["oximeter"] == frames
    assert (summary.errors["oximeter"]["dropped_bytes"] > 0) is restart


def test_the_console_log_shows_the_gap(crashed: Crashed) -> None:
    daemon, _clock = crashed.daemon()
    seen = daemon.bus.open(DeviceLost, name="test")
    daemon.recorder.open()
    daemon._open_session()
    lost = drain(seen)[0]
    daemon.close()
    assert isinstance(lost, DeviceLost)
    # As the MQTT bridge sends it on the events topic, and the console logs it.
    (line,) = event_lines(lost, room=ROOM, t0_mono=daemon.started_mono)
    assert line["t"] == END_T
    entry = describe_event(json.loads(encode(line)))
    assert entry.text == (
        "oximeter link lost: the room daemon was not running from 09:25:00 UTC to "
        "09:25:30 UTC (30 s); readings in that time are missing"
    )
    assert entry.at == crashed.header.started_at + timedelta(seconds=END_T)


def test_a_record_it_cannot_read_starts_a_new_session(
    crashed: Crashed, caplog: pytest.LogCaptureFixture
) -> None:
    with sqlite3.connect(crashed.record) as conn:
        # The last alarm event, near the record's end, where resume reads it.
        conn.execute(
            "UPDATE events SET payload = '{not json',"
            " ts = (SELECT max(ts) FROM readings)"
            " WHERE id = (SELECT max(id) FROM events WHERE type = 'alarm')"
        )
    conn.close()
    daemon, _clock = crashed.daemon()
    assert daemon.resumed is None
    assert "cannot continue the last session" in caplog.text
    daemon.close()


# ------------------------------------------------------------------ not resumed


@pytest.mark.parametrize(
    ("old", "new", "why"),
    [
        ("", "[session]\nresume_within_h = 0\n", "off"),
        ("", "[session]\nresume_within_h = 0.1\n", "more than"),
        ('"masimo-ascii1"', '"nonin-df2"', "devices"),
        ("[record]\n", "[record]\ncapture = false\n", "captures are off"),
    ],
)
def test_a_new_session_begins_when_the_last_cannot_be_continued(
    crashed: Crashed, old: str, new: str, why: str, caplog: pytest.LogCaptureFixture
) -> None:
    text = crashed.settings_text()
    text = text.replace(old, new) if old else text + new
    clock = VirtualClock(
        start_at=crashed.header.started_at + timedelta(seconds=END_T + GAP_S)
    )
    with caplog.at_level("INFO"):
        daemon = Daemon(parse_settings(text), clock=clock)
    try:
        assert daemon.resumed is None
        assert daemon.session_id != SESSION_ID
        if why != "off":
            assert any(why in r.getMessage() for r in caplog.records), caplog.text
    finally:
        daemon.close()


def test_a_missing_or_unreadable_capture_starts_a_new_session(
    crashed: Crashed, caplog: pytest.LogCaptureFixture
) -> None:
    crashed.capture.write_text(crashed.text.replace('"t":', '"t":-', 1000))
    daemon, _clock = crashed.daemon()
    assert daemon.resumed is None
    assert "starting a new session" in caplog.text
    daemon.close()
    crashed.capture.unlink()
    daemon, _clock = crashed.daemon()
    assert daemon.resumed is None
    assert "is missing" in caplog.text
    daemon.close()


def stored(**changes: object) -> StoredSession:
    base = StoredSession(
        session_id="r1-x",
        room=ROOM,
        started_at=datetime(2026, 11, 21, 9, 0, tzinfo=UTC),
        ended_at=None,
        route="iv",
        infusion_min=40,
        patient_ref=None,
        phases=("dosing",),
        last_ts=None,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_which_sessions_are_continued() -> None:
    now = datetime(2026, 11, 21, 11, 0, tzinfo=UTC)
    stopped = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
    assert refusal(stored(), now=now, within_h=12) is None
    # A clean stop (SIGTERM) after the dose: a patient is in the room; continue.
    assert refusal(stored(ended_at=stopped), now=now, within_h=12) is None
    # A crash before the dose: continue (the baseline is being built).
    assert refusal(stored(phases=()), now=now, within_h=12) is None
    assert refusal(stored(ended_at=stopped, phases=()), now=now, within_h=12) == (
        "it was stopped before the dose"
    )
    assert refusal(stored(phases=("dosing", "closed")), now=now, within_h=12) == (
        "it was closed"
    )
    assert refusal(stored(), now=now, within_h=1.5) == (
        "it began 2.0 h ago, more than session.resume_within_h (1.5 h)"
    )
    assert "off" in str(refusal(stored(), now=now, within_h=0))


def test_a_clean_stop_after_the_dose_is_continued_too(crashed: Crashed) -> None:
    daemon, _clock = crashed.daemon()
    daemon.recorder.open()
    daemon._open_session()
    daemon.close()  # SIGTERM: the session row gets its ended_at
    assert query(crashed.record, "SELECT ended_at IS NOT NULL FROM sessions") == [(1,)]
    again, _clock = crashed.daemon(gap_s=GAP_S + 20)
    try:
        assert again.resumed is not None
        assert again.session_id == SESSION_ID
        assert again.resumed.t_crash == pytest.approx(END_T + GAP_S)
        again.recorder.open()
        again._open_session()
        assert query(crashed.record, "SELECT ended_at FROM sessions") == [(None,)]
    finally:
        again.close()


def test_a_closed_session_is_not_continued(
    crashed: Crashed, caplog: pytest.LogCaptureFixture
) -> None:
    daemon, clock = crashed.daemon()
    daemon.recorder.open()
    daemon._open_session()
    for phase in ("peak", "return", "integration"):
        clock.advance(1)
        assert daemon.handle_command(
            Command(
                occurred_mono=daemon.clock.monotonic(),
                occurred_at=clock.now_utc(),
                verb=CommandVerb.PHASE,
                args={"phase": phase},
                by=Role.THERAPIST,
            )
        ).ok
    closing = daemon.handle_command(
        Command(
            occurred_mono=daemon.clock.monotonic(),
            occurred_at=clock.now_utc(),
            verb=CommandVerb.PHASE,
            args={"phase": "closed", "reason": "patient left with her partner"},
            by=Role.THERAPIST,
        )
    )
    assert closing.ok, closing.error
    asyncio.run(daemon.recorder.flush())
    daemon.close()
    with caplog.at_level("INFO"):
        again, _clock = crashed.daemon(gap_s=GAP_S + 60)
    assert again.resumed is None
    assert "it was closed" in caplog.text
    again.close()


# ------------------------------------------------------------------ parts


def test_the_session_clock_reads_the_session_time() -> None:
    base = VirtualClock(start_at=datetime(2026, 1, 1, tzinfo=UTC), start_mono=777.0)
    clock = SessionClock(base, at_t=1530.0)
    assert clock.monotonic() == 1530.0
    base.advance(2.5)
    assert clock.monotonic() == 1532.5
    assert clock.now_utc() == base.now_utc()


def alarm(t: float, code: str, transition: AlarmTransition) -> AlarmChanged:
    return AlarmChanged(
        occurred_mono=t,
        occurred_at=datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=t),
        transition=transition,
        code=code,
        priority=AlarmPriority.MEDIUM,
        kind=AlarmKind.PHYSIOLOGICAL,
    )


def row(t: float, code: str, transition: str) -> tuple[float, str, dict[str, object]]:
    ts = (datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=t)).timestamp()
    return (ts, "alarm", {"code": code, "transition": transition})


def test_only_events_the_record_lacks_near_its_end_are_written_again() -> None:
    raised, cleared = AlarmTransition.RAISED, AlarmTransition.CLEARED
    replayed: list[Event] = [
        alarm(10.0, "hr.high", raised),  # recorded (its time differs a little)
        alarm(11.0, "spo2.low", raised),  # not recorded, but long before the end
        alarm(19.8, "hr.high", cleared),  # recorded
        alarm(19.9, "hr.high", raised),  # lost: after the last write
        alarm(20.4, "spo2.low", cleared),  # lost
        PhaseChanged(
            occurred_mono=20.5,
            occurred_at=datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=20.5),
            phase=Phase.PEAK,
            previous=Phase.DOSING,
            by=Role.THERAPIST,
        ),
    ]
    recorded = [row(10.3, "hr.high", "raised"), row(19.8, "hr.high", "cleared")]
    end = (datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=20.0)).timestamp()
    missed = missed_engine_events(replayed, recorded, end)
    assert missed == replayed[3:]
    assert missed_engine_events(replayed, [], None) == replayed


def test_the_capture_writer_appends_ids_and_restarts_in_order(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    header = CaptureHeader(
        room=ROOM,
        started_at=datetime(2026, 1, 1, tzinfo=UTC),
        devices={"oximeter": ProtocolId.MASIMO_ASCII1},
    )
    writer = CaptureWriter(path, header, start_mono=100.0)
    writer.rx("oximeter", b"\x01", 101.0)
    writer.op(CommandVerb.NOTE, {"text": "calm"}, Role.NURSE, 102.0, command_id="n1")
    writer.flush_now()  # an operator input is on disk at once
    assert path.read_text().count("\n") == 3
    writer.close()
    # A resumed session appends (no second header) on its own time axis.
    again = CaptureWriter(path, None, start_mono=0.0)
    again.link("oximeter", LinkState.LOST, 102.5, restart=True)
    again.close()
    with path.open(encoding="utf-8") as stream:
        _header, records = read_capture(stream, "c")
        items = list(records)
    assert items[1] == OpRecord(
        line=3,
        t=2.0,
        verb=CommandVerb.NOTE,
        args={"text": "calm"},
        by=Role.NURSE,
        command_id="n1",
    )
    assert items[2] == LinkRecord(
        line=4, t=102.5, dev="oximeter", state=LinkState.LOST, restart=True
    )


def test_a_line_cut_short_is_trimmed_and_whole_files_are_left_alone(
    tmp_path: Path,
) -> None:
    path = tmp_path / "c.jsonl"
    path.write_bytes(b'{"a": 1}\n{"t": 1}\n{"t": 2, "de')
    assert trim_partial_line(path) == len(b'{"t": 2, "de')
    assert path.read_bytes() == b'{"a": 1}\n{"t": 1}\n'
    assert trim_partial_line(path) == 0
    path.write_bytes(b'{"roomctl_capture": 1, "ro')
    assert trim_partial_line(path) == 0  # no whole line: nothing to keep
    assert path.read_bytes() == b'{"roomctl_capture": 1, "ro'
    long = b"x" * 70_000
    path.write_bytes(b"head\n" + long)
    assert trim_partial_line(path) == len(long)
    assert path.read_bytes() == b"head\n"


class FakeLights:
    def __init__(self) -> None:
        self.scenes: list[LightScene] = []

    def request(self, scene: LightScene) -> None:
        self.scenes.append(scene)


class FakeMusic:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def set_phase(self, phase: Phase) -> None:
        self.calls.append(f"phase {phase}")

    def duck(self, on: bool) -> None:
        self.calls.append(f"duck {on}")

    def play(self) -> None:
        self.calls.append("play")

    def pause(self) -> None:
        self.calls.append("pause")

    def stop(self) -> None:
        self.calls.append("stop")

    def skip(self) -> None:
        self.calls.append("skip")

    def set_volume(self, percent: float) -> None:
        self.calls.append(f"volume {percent:g}")


async def test_the_director_takes_up_the_phase_override_alarms_and_music(
    crashed: Crashed,
) -> None:
    daemon, _clock = crashed.daemon()
    lights, music = FakeLights(), FakeMusic()
    director = SceneDirector(bus=daemon.bus, lights=lights, music=music)
    director.restore(
        phase=Phase.PEAK,
        alarms={"bp.high": AlarmPriority.MEDIUM},
        lights=[{"scene": "disco"}, {"level": 7}],  # the refused one changes nothing
        music=[{"action": "pause"}, {"action": "volume", "volume": 30}],
    )
    assert director.phase is Phase.PEAK
    assert director.alarm_priority is AlarmPriority.MEDIUM
    assert director.override is not None
    assert director.override.brightness == pytest.approx(0.07)
    task = asyncio.create_task(director.run())
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert music.calls[:3] == ["phase peak", "pause", "volume 30"]
    assert lights.scenes[-1] == director.desired_scene()
    daemon.close()


class FakeNibp:
    def __init__(self) -> None:
        self.measured = 0

    async def measure(self) -> NibpReading:
        self.measured += 1
        raise asyncio.CancelledError  # never reached in time by the test


async def test_a_resumed_nibp_cycle_goes_on_from_the_last_determination() -> None:
    due, waiting = FakeNibp(), FakeNibp()
    overdue = NibpController(
        device="nibp", driver=due, cycle_s=lambda: 300.0, link_up=lambda: True
    )
    overdue.continue_schedule(301.0)
    recent = NibpController(
        device="nibp", driver=waiting, cycle_s=lambda: 300.0, link_up=lambda: True
    )
    recent.continue_schedule(10.0)
    tasks = [asyncio.create_task(c.run()) for c in (overdue, recent)]
    await asyncio.sleep(1.3)  # one poll: the overdue cycle starts at once
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    assert overdue.started == 1
    assert recent.started == 0


def test_a_nonin_session_resumes_with_its_batched_decoder(tmp_path: Path) -> None:
    text = capture_text(crash_plan(ProtocolId.NONIN_DF2))
    crashed = crash(tmp_path, text)
    settings = crashed.settings_text().replace("masimo-ascii1", "nonin-df2")
    clock = VirtualClock(
        start_at=crashed.header.started_at + timedelta(seconds=END_T + 3)
    )
    daemon = Daemon(parse_settings(settings), clock=clock)
    try:
        assert daemon.resumed is not None
        state = daemon.engine.snapshot(END_T)
        assert alarms_of(state) == alarms_of(crashed.reference)
        assert state.episodes == crashed.reference.episodes
        # Readings from the last 0.5 s before the crash are recorded on resume.
        missed = [e for e in daemon.resumed.missed if hasattr(e, "reading")]
        assert missed
        assert all(e.occurred_mono > RECORD_UNTIL_T - 0.5 for e in missed)
    finally:
        daemon.close()
