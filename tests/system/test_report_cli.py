"""``roomctl report``, ``roomctl sessions`` and ``roomctl sessions prune`` end to end.

The record is a simulated session replayed through the real pipeline and recorder
(``tests.unit.report.session_record``). Most runs go through ``roomctl.cli.main``
in-process; one report is made by a real ``python -m roomctl`` process.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest
from PIL import Image

from roomctl import SAFETY_NOTICE
from roomctl.cli import main
from roomctl.recorder import connect
from tests.system.conftest import ROOT
from tests.unit.report.session_record import (
    PATIENT_REF,
    SESSION_ID,
    Built,
    build_record,
    plan,
)

if TYPE_CHECKING:
    from pathlib import Path


@pytest.fixture(scope="module")
def record(tmp_path_factory: pytest.TempPathFactory) -> Built:
    return build_record(tmp_path_factory.mktemp("cli") / "record.sqlite")


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_report_in_every_format(
    record: Built, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for suffix, what in ((".pdf", "PDF, 3 pages"), (".html", "HTML"), (".png", "PNG")):
        out = tmp_path / f"report{suffix}"
        code, stdout, stderr = run(
            capsys, "report", "--record", str(record.path), "--last", "--out", str(out)
        )
        assert (code, stderr) == (0, "")
        assert stdout == f"wrote the {what} report of session {SESSION_ID} to {out}\n"
        data = out.read_bytes()
        assert PATIENT_REF.encode() not in data
    assert (tmp_path / "report.pdf").read_bytes().startswith(b"%PDF-")
    html = (tmp_path / "report.html").read_text()
    assert SAFETY_NOTICE.replace("'", "&#x27;") in html
    assert "Discharge-ready: no" in html
    assert "Recomputed with</th><td>the default alarm policy" in html


@pytest.mark.subprocess
def test_report_as_a_process(record: Built, tmp_path: Path) -> None:
    out = tmp_path / "report.png"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "roomctl",
            "report",
            "--session",
            SESSION_ID,
            "--record",
            str(record.path),
            "--out",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=50,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"wrote the PNG report of session {SESSION_ID}")
    image = Image.open(out)
    image.load()
    assert image.size == (1400, 1100)


def test_report_with_the_room_configuration(
    record: Built, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "room.toml"
    config.write_text(
        f'[record]\npath = "{record.path}"\n\n'
        "[alarms.discharge]\nim_after_dose_min = 30\n"
    )
    out = tmp_path / "report.html"
    code, _stdout, stderr = run(
        capsys, "report", "--config", str(config), "--last", "--out", str(out)
    )
    assert (code, stderr) == (0, "")
    html = out.read_text()
    assert "Discharge-ready: yes" in html
    assert f"the alarm policy of {config}" in html


def test_report_of_a_running_session(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    built = build_record(tmp_path / "record.sqlite", capture_plan=plan(-6), close=False)
    out = tmp_path / "now.html"
    code, stdout, _stderr = run(
        capsys, "report", "--record", str(built.path), "--last", "--out", str(out)
    )
    assert code == 0
    assert stdout.endswith(f"{built.session_id} (in progress) to {out}\n")
    assert "(in progress)</title>" in out.read_text()
    code, stdout, _stderr = run(capsys, "sessions", "--record", str(built.path))
    assert code == 0
    assert "  in progress  " in stdout.splitlines()[1]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--session", "room-3-nope", "--out", "{tmp}/r.pdf"],
            (
                "there is no session 'room-3-nope' in the record (`roomctl sessions` "
                "lists them)"
            ),
        ),
        (
            ["--last", "--out", "{tmp}/r.docx"],
            (
                "a report is written as .pdf, .html or .png and an export as .csv or "
                ".hl7, not .docx"
            ),
        ),
        (["--last", "--out", "{tmp}/r"], "not a file without a suffix"),
        (
            ["--last", "--out", "{tmp}/none/r.pdf"],
            "the folder {tmp}/none does not exist",
        ),
        (["--last"], "say where the report goes: --out FILE"),
        (["--last", "--mllp", "hl7.example"], "give the HL7 receiver as HOST:PORT"),
        (["--last", "--mllp", "127.0.0.1:99999"], "the port must be a number"),
    ],
)
def test_report_bad_input_exits_2_with_words(
    record: Built,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    message: str,
) -> None:
    filled = [a.replace("{tmp}", str(tmp_path)) for a in args]
    code, stdout, stderr = run(capsys, "report", "--record", str(record.path), *filled)
    assert code == 2
    assert stdout == ""
    assert message.replace("{tmp}", str(tmp_path)) in stderr
    assert stderr.startswith("roomctl: ")
    assert list(tmp_path.iterdir()) == []


def test_report_without_a_record_or_with_a_bad_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "none.sqlite"
    code, _out, err = run(
        capsys,
        "report",
        "--record",
        str(missing),
        "--last",
        "--out",
        str(tmp_path / "r.pdf"),
    )
    assert code == 2
    assert err == f"roomctl: there is no session record at {missing}\n"
    config = tmp_path / "room.toml"
    config.write_text("[record]\nretention_days = -3\n")
    code, _out, err = run(
        capsys,
        "report",
        "--config",
        str(config),
        "--last",
        "--out",
        str(tmp_path / "r.pdf"),
    )
    assert code == 2
    problem = "record.retention_days: Input should be greater than or equal to 1"
    assert f"{config}:2: {problem}" in err
    with pytest.raises(SystemExit) as exited:
        main(["report", "--record", str(missing), "--out", "r.pdf"])
    assert exited.value.code == 2
    assert (
        "one of the arguments --session --last is required" in capsys.readouterr().err
    )


def test_report_hands_csv_to_the_exports(
    record: Built, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "session.csv"
    code, stdout, stderr = run(
        capsys, "report", "--record", str(record.path), "--last", "--out", str(out)
    )
    assert (code, stderr) == (0, "")
    assert str(out) in stdout
    assert out.stat().st_size > 0
    assert not (tmp_path / "session.pdf").exists()


def test_report_export_failure_exits_1(
    record: Built, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    code, stdout, stderr = run(
        capsys,
        "report",
        "--record",
        str(record.path),
        "--last",
        "--mllp",
        f"127.0.0.1:{port}",
    )
    assert code == 1
    assert stdout == ""
    assert stderr.startswith("roomctl: ")
    assert f"127.0.0.1:{port}" in stderr


# ------------------------------------------------------------------ sessions


def test_sessions_table_and_json(
    record: Built, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _err = run(capsys, "sessions", "--record", str(record.path))
    assert code == 0
    header, row, footer = out.splitlines()
    assert header.split() == [
        "SESSION",
        "ROOM",
        "STARTED",
        "ENDED",
        "DURATION",
        "ROUTE",
        "READINGS",
        "ALARMS",
    ]
    assert row.split()[:2] == [SESSION_ID, "room-3"]
    assert row.split()[-4:] == ["min", "im", "10120", "3"]
    assert footer.startswith("(1 session; times in ")
    code, out, _err = run(capsys, "sessions", "--record", str(record.path), "--json")
    (session,) = json.loads(out)
    assert session["id"] == SESSION_ID
    assert session["state"] == "ended"
    assert session["started_at"] == "2026-11-21T09:00:00Z"
    assert session["ended_at"] == "2026-11-21T09:50:00Z"
    assert session["duration_s"] == 3000
    assert (session["readings"], session["alarms"]) == (10120, 3)
    assert PATIENT_REF not in out


def test_sessions_of_an_empty_or_missing_record(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "record.sqlite"
    connect(empty).close()
    assert run(capsys, "sessions", "--record", str(empty)) == (
        0,
        f"The record {empty} has no sessions yet.\n",
        "",
    )
    assert run(capsys, "sessions", "--record", str(empty), "--json")[1] == "[]\n"
    code, _out, err = run(capsys, "sessions", "--record", str(tmp_path / "x.sqlite"))
    assert code == 2
    assert "there is no session record at" in err


# ------------------------------------------------------------------ prune


@pytest.fixture
def old_and_new(tmp_path: Path) -> tuple[Path, str, str]:
    """A record with a session from 2020 and one from an hour ago, both finished."""
    record = tmp_path / "lib" / "record.sqlite"
    old = build_record(
        record,
        capture_plan=plan(-8, started_at=datetime(2020, 3, 2, 9, 0, tzinfo=UTC)),
        captures_dir=tmp_path / "lib" / "captures",
    )
    recent = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    new = build_record(
        record,
        capture_plan=plan(-8, started_at=recent),
        captures_dir=tmp_path / "lib" / "captures",
    )
    return record, old.session_id, new.session_id


def test_prune_archives_with_the_flags(
    old_and_new: tuple[Path, str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    record, old, new = old_and_new
    archive = tmp_path / "archive"
    code, out, err = run(
        capsys,
        "sessions",
        "prune",
        "--record",
        str(record),
        "--older-than",
        "30",
        "--archive",
        str(archive),
        "--dry-run",
    )
    assert (code, err) == (0, "")
    assert out.startswith(f"would be archived: session {old} (room room-3, finished ")
    assert not archive.exists()
    code, out, _err = run(
        capsys,
        "sessions",
        "--record",
        str(record),
        "prune",
        "--older-than",
        "30",
        "--archive",
        str(archive),
    )
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith(f"archived: session {old} ")
    assert lines[-1].startswith("1 session archived (finished before ")
    assert lines[-1].endswith("30 days ago); 1 newer kept.")
    assert (archive / f"{old}.sqlite").exists()
    assert (archive / f"{old}.jsonl").exists()
    code, out, _err = run(capsys, "sessions", "--record", str(record), "--json")
    assert [s["id"] for s in json.loads(out)] == [new]


def test_prune_from_the_configured_retention(
    old_and_new: tuple[Path, str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    record, old, _new = old_and_new
    config = tmp_path / "room.toml"
    config.write_text(
        f'[record]\npath = "{record}"\nretention_days = 365\n'
        f'archive_dir = "{tmp_path / "kept"}"\n'
    )
    code, out, _err = run(capsys, "sessions", "prune", "--config", str(config))
    assert code == 0
    assert f"-> {tmp_path / 'kept' / old}.sqlite" in out
    code, out, _err = run(
        capsys,
        "sessions",
        "prune",
        "--config",
        str(config),
        "--older-than",
        "0",
        "--delete",
    )
    assert code == 0
    assert out.splitlines()[-1].startswith("1 session deleted")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--delete"], "say how old a session must be: --older-than DAYS"),
        (
            ["--older-than", "10"],
            "say what happens to old sessions: --archive DIR or --delete",
        ),
        (["--older-than", "-1", "--delete"], "--older-than -1: give 0 days or more"),
    ],
)
def test_prune_bad_input_exits_2(
    old_and_new: tuple[Path, str, str],
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    message: str,
) -> None:
    record, old, new = old_and_new
    code, out, err = run(capsys, "sessions", "prune", "--record", str(record), *args)
    assert (code, out) == (2, "")
    assert message in err
    code, out, _err = run(capsys, "sessions", "--record", str(record), "--json")
    assert [s["id"] for s in json.loads(out)] == [old, new]


def test_prune_without_a_record_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _out, err = run(
        capsys,
        "sessions",
        "prune",
        "--record",
        str(tmp_path / "no.sqlite"),
        "--older-than",
        "1",
        "--delete",
    )
    assert code == 2
    assert "there is no session record at" in err
