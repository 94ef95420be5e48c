from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import io
import json
import os
import random
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest
from hypothesis import given
from hypothesis import strategies as st

from roomctl import replay as replay_module
from roomctl.capture import (
    BytesRecord,
    CaptureHeader,
    CaptureWriter,
    LinkRecord,
    OpRecord,
    iter_capture,
    read_capture,
)
from roomctl.devices.suntech_nibp.protocol import GetCuffPressure, StartBp
from roomctl.errors import CaptureError
from roomctl.events import CommandVerb, Role, Route
from roomctl.readings import LinkState, ProtocolId
from roomctl.replay import Replayer, replay
from simulators.nonin_df2 import NoninDf2Model
from simulators.scenarios import TYPICAL
from simulators.suntech_nibp import SuntechModel

if TYPE_CHECKING:
    from pathlib import Path

HEADER = (
    '{"roomctl_capture": 1, "room": "room-1", "started_at": "2026-11-21T09:00:00Z",'
    ' "devices": {"oximeter": {"protocol": "nonin-df2"}, "nibp": {"protocol":'
    ' "suntech-advantage"}}, "session": {"route": "iv", "infusion_min": 40}}'
)


def parse(text: str) -> list[object]:
    return list(iter_capture(io.StringIO(text), "c.jsonl"))


def test_capture_reads_every_record_kind() -> None:
    items = parse(
        HEADER
        + "\n"
        + '{"t": 1.5, "dev": "oximeter", "rx": "01830a00fe"}\n'
        + '{"t": 2.0, "dev": "nibp", "tx": "3a20a6", "extra": 1}\n'
        + '{"t": 30.0, "dev": "oximeter", "link": "lost"}\n'
        + '{"t": 95.0, "op": "phase", "phase": "dosing", "by": "therapist"}\n'
    )
    header = items[0]
    assert isinstance(header, CaptureHeader)
    assert header.devices == {
        "oximeter": ProtocolId.NONIN_DF2,
        "nibp": ProtocolId.SUNTECH_ADVANTAGE,
    }
    assert header.route is Route.IV
    assert items[1] == BytesRecord(
        line=2, t=1.5, dev="oximeter", data=bytes.fromhex("01830a00fe"), received=True
    )
    assert isinstance(items[2], BytesRecord)
    assert not items[2].received
    assert items[3] == LinkRecord(line=4, t=30.0, dev="oximeter", state=LinkState.LOST)
    assert items[4] == OpRecord(
        line=5,
        t=95.0,
        verb=CommandVerb.PHASE,
        args={"phase": "dosing"},
        by=Role.THERAPIST,
    )


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "c.jsonl:2: not valid JSON"),
        ('{"t": 1, "dev": "oximeter"}', "c.jsonl:2: unknown record"),
        ('{"t": 1, "dev": "scale", "rx": "00"}', "c.jsonl:2: unknown device 'scale'"),
        ('{"t": 1, "dev": "oximeter", "rx": "0g"}', "c.jsonl:2: rx is not valid hex"),
        ('{"t": 1, "op": "dance"}', "c.jsonl:2: bad operator input: unknown command"),
        ('{"dev": "oximeter", "rx": "00"}', "c.jsonl:2: every record needs a number t"),
        ('{"t": 1, "dev": "oximeter", "link": "sideways"}', "unknown link state"),
        ("[1, 2]", "c.jsonl:2: a record must be a JSON object"),
    ],
)
def test_capture_bad_line_is_named(line: str, message: str) -> None:
    with pytest.raises(CaptureError, match=message):
        parse(HEADER + "\n" + line + "\n")


def test_capture_time_going_backwards_is_an_error() -> None:
    with pytest.raises(
        CaptureError, match=r"c\.jsonl:3: t goes backwards \(1 after 2\)"
    ):
        parse(
            HEADER + '\n{"t": 2, "op": "audio_pause"}\n{"t": 1, "op": "audio_pause"}\n'
        )


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("", "the capture is empty"),
        ("{", "the header is not valid JSON"),
        ('{"a": 1}', "not a roomctl capture"),
        ('{"roomctl_capture": 2}', "capture version 2 is not 1"),
        ('{"roomctl_capture": 1, "started_at": "2026-11-21T09:00:00Z"}', "bad header"),
        (
            '{"roomctl_capture": 1, "started_at": "2026-11-21T09:00", "devices": {}}',
            "must carry a time zone",
        ),
    ],
)
def test_capture_bad_header(header: str, message: str) -> None:
    with pytest.raises(CaptureError, match=message):
        parse(header + "\n")


async def test_capture_writer_round_trips(tmp_path: Path) -> None:
    header = CaptureHeader(
        room="room-1",
        started_at=datetime(2026, 11, 21, 9, tzinfo=UTC),
        devices={"oximeter": ProtocolId.NONIN_DF2},
    )
    path = tmp_path / "caps" / "s1.jsonl"
    writer = CaptureWriter(path, header, start_mono=100.0)
    writer.rx("oximeter", b"\x01\x83", 101.25)
    writer.tx("oximeter", b"\x02", 101.5)
    writer.link("oximeter", LinkState.LOST, 102.0)
    writer.op(CommandVerb.NOTE, {"text": "calm"}, Role.NURSE, 103.0)
    writer.close()
    assert path.stat().st_mode & 0o777 == 0o600
    with path.open() as stream:
        items = list(iter_capture(stream, str(path)))
    assert len(items) == 5
    assert json.loads(path.read_text().splitlines()[0])["devices"] == {
        "oximeter": {"protocol": "nonin-df2"}
    }
    assert items[4] == OpRecord(
        line=5, t=3.0, verb=CommandVerb.NOTE, args={"text": "calm"}, by=Role.NURSE
    )


async def test_capture_writer_tells_a_full_disk_and_its_end_and_loses_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # /dev/full refuses every write with ENOSPC, as a full disk does: it is put
    # under the writer's file descriptor, then the real file is put back.
    monkeypatch.setattr("roomctl.capture.CAPTURE_FLUSH_INTERVAL_S", 0.01)
    health: list[str | None] = []
    path = tmp_path / "s1.jsonl"
    header = CaptureHeader(
        room="room-1",
        started_at=datetime(2026, 11, 21, 9, tzinfo=UTC),
        devices={"oximeter": ProtocolId.NONIN_DF2},
    )
    writer = CaptureWriter(path, header, start_mono=0.0, on_health=health.append)
    real = os.dup(writer._fd)
    full = os.open("/dev/full", os.O_WRONLY)
    try:
        os.dup2(full, writer._fd)
        writer.rx("oximeter", b"\x01", 1.0)
        writer.flush_now()
        writer.rx("oximeter", b"\x02", 2.0)
        running = asyncio.create_task(writer.run())
        await asyncio.sleep(0.1)  # several failed tries: told once
        assert health == ["the disk is full"]
        os.dup2(real, writer._fd)
        writer.rx("oximeter", b"\x03", 3.0)
        for _ in range(100):
            await asyncio.sleep(0.01)
            if len(health) == 2:
                break
        assert health == ["the disk is full", None]
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
    finally:
        os.close(full)
        os.close(real)
    writer.close()
    with path.open() as stream:
        _header, records = read_capture(stream, str(path))
        data = [r.data for r in records if isinstance(r, BytesRecord)]
    assert data == [b"\x01", b"\x02", b"\x03"]


async def test_a_capture_that_cannot_be_created_yet_is_created_by_a_later_write(
    tmp_path: Path,
) -> None:
    # Its folder cannot be made (a file stands in its place), as on a full disk at
    # start: the writer is made anyway and keeps its lines until it can write them.
    blocker = tmp_path / "captures"
    blocker.write_text("not a folder")
    health: list[str | None] = []
    writer = CaptureWriter(
        blocker / "s1.jsonl",
        CaptureHeader(
            room="room-1",
            started_at=datetime(2026, 11, 21, 9, tzinfo=UTC),
            devices={"oximeter": ProtocolId.NONIN_DF2},
        ),
        start_mono=0.0,
        on_health=health.append,
    )
    writer.rx("oximeter", b"\x01", 1.0)
    writer.flush_now()
    assert len(health) == 1
    assert health[0] is not None
    blocker.unlink()
    writer.rx("oximeter", b"\x02", 2.0)
    writer.close()
    assert health[1:] == [None]
    with (blocker / "s1.jsonl").open() as stream:
        header, records = read_capture(stream, "s1.jsonl")
        data = [r.data for r in records if isinstance(r, BytesRecord)]
    assert header.room == "room-1"
    assert data == [b"\x01", b"\x02"]


# ---------------------------------------------------------------- the fast path

# ``iter_capture`` reads lines in the writer's own compact bytes format without the
# JSON parser. Every other spelling of the same record takes the JSON path. These
# tests check that both paths give the same records and the same errors.

record_times = st.one_of(
    st.integers(0, 10**6),
    st.floats(0, 1e6, allow_nan=False).map(lambda t: round(t, 4)),
)


def _spellings(record: dict[str, object]) -> list[str]:
    """The writer's compact line and a spaced line that the fast path rejects."""
    return [json.dumps(record, separators=(",", ":")), json.dumps(record)]


@given(
    t=record_times,
    dev=st.sampled_from(["oximeter", "nibp", "scale"]),
    key=st.sampled_from(["rx", "tx"]),
    data=st.one_of(
        st.binary(max_size=40).map(bytes.hex),
        st.text(alphabet='0123456789abcdefABCDEF g\\"\t\x00é', max_size=12),
    ),
)
def test_capture_fast_and_json_paths_agree(
    t: float, dev: str, key: str, data: str
) -> None:
    outcomes = []
    for line in _spellings({"t": t, "dev": dev, key: data}):
        try:
            outcomes.append(("ok", parse(HEADER + "\n" + line + "\n")[1]))
        except CaptureError as exc:
            outcomes.append(("error", str(exc)))
    assert outcomes[0] == outcomes[1]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            '{"t":1.25,"dev":"oximeter","rx":"01830a00fe"}',
            BytesRecord(
                line=2,
                t=1.25,
                dev="oximeter",
                data=bytes.fromhex("01830a00fe"),
                received=True,
            ),
        ),
        (
            '{"t":0,"dev":"nibp","tx":""}',
            BytesRecord(line=2, t=0.0, dev="nibp", data=b"", received=False),
        ),
        # Not the writer's spelling: the JSON path reads these.
        (
            '{"t":1e-05,"dev":"oximeter","rx":"0A"}',
            BytesRecord(line=2, t=1e-05, dev="oximeter", data=b"\n", received=True),
        ),
        (
            '{"t":2,"dev":"oximeter","rx":"01 83"}',
            BytesRecord(line=2, t=2.0, dev="oximeter", data=b"\x01\x83", received=True),
        ),
    ],
)
def test_capture_reads_bytes_records_in_any_spelling(
    line: str, expected: BytesRecord
) -> None:
    assert parse(HEADER + "\n" + line + "\n")[1:] == [expected]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"t":1,"dev":"oximeter","rx":"012"}', "c.jsonl:2: rx is not valid hex"),
        ('{"t":1,"dev":"scale","rx":"00"}', "c.jsonl:2: unknown device 'scale'"),
        ('{"t":01,"dev":"oximeter","rx":"00"}', "c.jsonl:2: not valid JSON"),
        ('{"t":1,"dev":"oxi\tmeter","rx":"00"}', "c.jsonl:2: not valid JSON"),
    ],
)
def test_capture_fast_path_leaves_faults_to_the_json_path(
    line: str, message: str
) -> None:
    with pytest.raises(CaptureError, match=message):
        parse(HEADER + "\n" + line + "\n")


def test_capture_last_line_without_a_newline() -> None:
    items = parse(HEADER + '\n{"t":3,"dev":"oximeter","rx":"00"}')
    assert items[1:] == [
        BytesRecord(line=2, t=3.0, dev="oximeter", data=b"\x00", received=True)
    ]


# ---------------------------------------------------------------- replay

# ``replay`` reads records ahead in windows and decodes and drives the Nonin
# oximeter a window at a time. Its output must not depend on the window size, and
# must be the output of applying the records one by one.


def _damage(data: bytes, rng: random.Random) -> bytes:
    """Now and then a flipped byte or a burst of noise, as a noisy line gives."""
    out = bytearray(data)
    roll = rng.random()
    if roll < 0.05 and out:
        out[rng.randrange(len(out))] ^= rng.randrange(1, 256)
    elif roll < 0.08:
        out[rng.randrange(len(out) + 1) : 0] = rng.randbytes(rng.randrange(1, 9))
    return bytes(out)


def _session_capture(seed: int) -> str:
    """A minute of Nonin and SunTech traffic with damage, link changes and inputs."""
    rng = random.Random(seed)
    header = json.loads(HEADER)
    lines = [json.dumps(header)]
    oximeter = NoninDf2Model(TYPICAL, seed)
    nibp = SuntechModel(TYPICAL, seed)
    nibp.receive(StartBp().encode(), 0.0)
    silent_until = -1.0
    for step in range(1, 601):
        t = round(step * 0.1, 3)
        data = _damage(oximeter.emit(t), rng)
        if 500 < step <= 525:
            continue  # 2.5 s without any record: the clock ticks whole seconds
        if t >= silent_until and data:
            lines.append(f'{{"t":{t},"dev":"oximeter","rx":"{data.hex()}"}}')
        if step % 5 == 0:
            nibp.receive(GetCuffPressure().encode(), t)
            lines.append(f'{{"t":{t},"dev":"nibp","tx":"3a"}}')
            reply = nibp.emit(t)
            if reply:
                lines.append(json.dumps({"t": t, "dev": "nibp", "rx": reply.hex()}))
        if step in (150, 420):
            lines.append(f'{{"t":{t},"dev":"oximeter","link":"lost"}}')
            lines.append(f'{{"t":{t + 0.05},"dev":"oximeter","link":"up"}}')
        if step == 250:
            silent_until = t + 4.0  # long enough to go stale
            # Not a state a capture records, but one it can hold; replay ignores it.
            lines.append(f'{{"t":{t},"dev":"oximeter","link":"stale"}}')
        if step == 300:
            lines.append(f'{{"t":{t},"op":"phase","phase":"dosing","by":"nurse"}}')
    return "\n".join(lines) + "\n"


def _replay_lines(text: str, window: int | None) -> list[str]:
    emitted: list[str] = []
    header, records = read_capture(io.StringIO(text), "s.jsonl")
    replayer = Replayer(
        header, emit=lambda line: emitted.append(json.dumps(line)), readings=True
    )
    if window is None:
        for record in records:
            replayer.apply(record)
    else:
        for chunk in replay_module._read_ahead(records, window):
            replayer.apply_many(chunk)
    emitted.append(json.dumps(replayer.summary().to_json()))
    return emitted


@pytest.mark.parametrize("seed", [1, 2])
def test_replay_output_does_not_depend_on_reading_ahead(seed: int) -> None:
    text = _session_capture(seed)
    one_by_one = _replay_lines(text, None)
    kinds = {json.loads(line)["type"] for line in one_by_one}
    # The operator input moves the phase; the gaps raise technical alarms.
    assert kinds == {"reading", "link", "phase", "alarm", "summary"}
    assert '"state": "stale"' in "".join(one_by_one)
    for window in (1, 7, 64, 4096):
        assert _replay_lines(text, window) == one_by_one


def test_replay_applies_the_records_before_a_bad_line() -> None:
    good = _session_capture(3).splitlines()
    text = "\n".join([*good[:400], "{not json", *good[400:]]) + "\n"
    out = io.StringIO()
    with pytest.raises(CaptureError, match=r"s\.jsonl:401: not valid JSON"):
        replay(io.StringIO(text), out, source="s.jsonl", readings=True)
    before = "\n".join(good[:400]) + "\n"
    expected = _replay_lines(before, None)[:-1]  # no summary after an error
    assert [json.dumps(json.loads(line)) for line in out.getvalue().splitlines()] == (
        expected
    )
    assert len(expected) > 100


def test_replay_prints_the_summary_last() -> None:
    out = io.StringIO()
    summary = replay(io.StringIO(_session_capture(4)), out, source="s.jsonl")
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert lines[-1] == summary.to_json()
    # Readings were not asked for; links, the phase and alarms always print.
    assert {line["type"] for line in lines[:-1]} == {"link", "phase", "alarm"}
    assert summary.frames["oximeter"] > 3500
    assert summary.errors["oximeter"]["dropped_bytes"] > 0


def test_replayer_reading_ahead_follows_the_clock_when_t_goes_back() -> None:
    # ``read_capture`` refuses such records; a caller of ``apply_many`` may not.
    _, records = read_capture(io.StringIO(_session_capture(5)), "s.jsonl")
    shaken = [
        dataclasses.replace(r, t=r.t - 0.5) if i % 7 == 3 else r
        for i, r in enumerate(records)
    ]
    header = parse(HEADER + "\n")[0]
    assert isinstance(header, CaptureHeader)
    outputs = []
    for many in (False, True):
        emitted: list[dict[str, object]] = []
        replayer = Replayer(header, emit=emitted.append, readings=True)
        if many:
            replayer.apply_many(shaken)
        else:
            for record in shaken:
                replayer.apply(record)
        outputs.append(emitted)
    assert outputs[0] == outputs[1]
    assert len(outputs[0]) > 300


def test_replay_applies_the_records_before_a_file_that_is_not_utf8() -> None:
    data = _session_capture(6).encode()
    cut = data.index(b"\n", len(data) // 2) + 1
    data = data[:cut] + b'{"t":99,"dev":"oximeter","rx":"\xff"}\n' + data[cut:]

    def stream() -> io.TextIOWrapper:
        return io.TextIOWrapper(io.BytesIO(data), encoding="utf-8")

    # Record by record: what the text stream lets through before it fails.
    emitted: list[str] = []
    header, records = read_capture(stream(), "s.jsonl")
    replayer = Replayer(
        header,
        emit=lambda line: emitted.append(json.dumps(line, separators=(",", ":"))),
        readings=True,
    )
    with pytest.raises(UnicodeDecodeError):
        collections.deque(map(replayer.apply, records), maxlen=0)
    out = io.StringIO()
    with pytest.raises(UnicodeDecodeError):
        replay(stream(), out, source="s.jsonl", readings=True)
    assert out.getvalue().splitlines() == emitted
    assert len(emitted) > 100


def _garbled_capture() -> str:
    """Two minutes of Nonin traffic, 3 bytes flipped in every read from 20 to 60 s."""
    header = json.loads(HEADER)
    lines = [json.dumps(header)]
    oximeter = NoninDf2Model(TYPICAL, 3)
    rng = random.Random(3)
    for step in range(1, 1201):
        t = round(step * 0.1, 3)
        data = bytearray(oximeter.emit(t))
        if 20.0 <= t < 60.0 and data:
            for _ in range(3):
                data[rng.randrange(len(data))] ^= rng.randrange(1, 256)
        if data:
            lines.append(f'{{"t":{t},"dev":"oximeter","rx":"{data.hex()}"}}')
    return "\n".join(lines) + "\n"


def test_replay_raises_the_link_alarm_on_parse_errors_as_live() -> None:
    # The link row: parse errors above 20 % over 30 s for 10 s raise tech.link, as
    # the live supervisor's window reports them; healthy for 10 s clears it.
    text = _garbled_capture()
    lines = [json.loads(line) for line in _replay_lines(text, None)]
    link = [
        (line["transition"], line["t"])
        for line in lines
        if line["type"] == "alarm" and line["code"] == "tech.link.oximeter"
    ]
    assert [transition for transition, _ in link] == ["raised", "cleared"]
    raised_t, cleared_t = link[0][1], link[1][1]
    assert 25.0 < raised_t < 45.0
    assert 60.0 < cleared_t < 110.0
    for window in (1, 64, 4096):
        assert _replay_lines(text, window) == _replay_lines(text, None)
