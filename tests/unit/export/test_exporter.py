from __future__ import annotations

import stat
from typing import TYPE_CHECKING

import pytest

from roomctl.errors import ExportError, RecordError
from roomctl.export import export_session
from roomctl.export.mllp import Endpoint, parse_endpoint
from tests.unit.export.hl7_checker import problems, split_messages
from tests.unit.export.records import SESSION_ID, SessionBuilder

if TYPE_CHECKING:
    from pathlib import Path


def test_export_writes_an_hl7_file_that_passes_the_check(
    record: Path, tmp_path: Path
) -> None:
    out = tmp_path / "session.hl7"
    said = export_session(record, SESSION_ID, out=out, mllp=None)
    text = out.read_bytes().decode("utf-8")
    assert problems(text) == []
    assert len(split_messages(text)) == 5
    assert said.startswith("wrote 5 HL7 ORU^R01 messages (")
    assert said.endswith(f"of session {SESSION_ID} to {out}")
    assert stat.S_IMODE(out.stat().st_mode) == 0o600


def test_export_gives_each_export_its_own_control_ids(
    record: Path, tmp_path: Path
) -> None:
    ids = []
    for name in ("a.hl7", "b.hl7"):
        out = tmp_path / name
        export_session(record, SESSION_ID, out=out, mllp=None)
        ids += [m[0].split("|")[9] for m in split_messages(out.read_bytes().decode())]
    assert len(ids) == 10
    assert len(set(ids)) == 10


@pytest.mark.parametrize("name", ["session.pdf", "session", "session.hl7.txt"])
def test_export_refuses_a_file_name_it_cannot_read_a_format_from(
    record: Path, tmp_path: Path, name: str
) -> None:
    out = tmp_path / name
    with pytest.raises(ExportError, match=r"end it in \.csv .* or \.hl7"):
        export_session(record, SESSION_ID, out=out, mllp=None)
    assert not out.exists()


def test_export_needs_somewhere_to_export_to(record: Path) -> None:
    with pytest.raises(ExportError, match="nothing to export to"):
        export_session(record, SESSION_ID, out=None, mllp=None)


def test_export_refuses_a_folder_or_a_missing_folder(
    record: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "out.csv"
    folder.mkdir()
    with pytest.raises(ExportError, match="is a folder"):
        export_session(record, SESSION_ID, out=folder, mllp=None)
    with pytest.raises(ExportError, match="does not exist"):
        export_session(record, SESSION_ID, out=tmp_path / "no" / "x.csv", mllp=None)


@pytest.mark.parametrize(
    "length",
    [
        300,  # the name itself is too long
        250,  # the name is fine, its temporary sibling is too long
    ],
)
def test_export_says_why_a_file_cannot_be_written(
    record: Path, tmp_path: Path, length: int
) -> None:
    out = tmp_path / ("x" * (length - 4) + ".csv")
    with pytest.raises(ExportError, match=r"cannot write .*: File name too long"):
        export_session(record, SESSION_ID, out=out, mllp=None)
    # nothing but the record (and its WAL files) is left behind
    assert [
        p.name for p in tmp_path.iterdir() if not p.name.startswith(record.name)
    ] == []


def test_export_of_an_unknown_session_names_it(record: Path, tmp_path: Path) -> None:
    with pytest.raises(RecordError, match="no session 'nope'"):
        export_session(record, "nope", out=tmp_path / "x.csv", mllp=None)
    with pytest.raises(RecordError, match="no session record"):
        export_session(tmp_path / "none.sqlite", "s", out=tmp_path / "x.csv", mllp=None)


async def test_export_without_vitals_writes_no_hl7_file(tmp_path: Path) -> None:
    record = tmp_path / "record.sqlite"
    await SessionBuilder(path=record).finish()
    out = tmp_path / "empty.hl7"
    said = export_session(record, SESSION_ID, out=out, mllp=None)
    assert "no SpO2, pulse-rate or NIBP readings" in said
    assert not out.exists()


@pytest.mark.parametrize(
    "text", ["localhost", "host:0", "host:65536", "host:abc", "::1:2575", ":2575", ""]
)
def test_export_refuses_a_bad_receiver_address_before_reading(
    tmp_path: Path, text: str
) -> None:
    # the record does not even exist: the address is checked first
    with pytest.raises(ExportError, match="HOST:PORT, for example"):
        export_session(tmp_path / "none.sqlite", "s", out=None, mllp=text)


@pytest.mark.parametrize(
    ("text", "endpoint"),
    [
        ("127.0.0.1:2575", Endpoint("127.0.0.1", 2575)),
        (" hl7.example:6661 ", Endpoint("hl7.example", 6661)),
        ("[::1]:2575", Endpoint("::1", 2575)),
    ],
)
def test_receiver_addresses_parse(text: str, endpoint: Endpoint) -> None:
    assert parse_endpoint(text) == endpoint
