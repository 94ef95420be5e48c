from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest

from roomctl.capture import (
    BytesRecord,
    CaptureHeader,
    CaptureWriter,
    LinkRecord,
    OpRecord,
    iter_capture,
)
from roomctl.errors import CaptureError
from roomctl.events import CommandVerb, Role, Route
from roomctl.readings import LinkState, ProtocolId

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
