"""Bad captures and configurations at the command line: exit 2, naming file and line.

contracts.md §1: bad input exits 2 with a message naming the file, the line or key,
and what is wrong (issue 8, bad input).

``tests/unit/test_capture.py`` and ``tests/unit/test_settings.py`` check the readers'
messages; this table goes through ``roomctl replay`` and ``roomctl config check`` (and
``roomctl run``) for the faults they do not: truncated and binary files, headers that
are missing or odd, numbers that are not numbers, folders and missing files. The
cases marked ``xfail`` are faults found here and not yet fixed (RELIABILITY.md); each
one fails loudly the day it is fixed, so the mark comes off.
"""

from __future__ import annotations

import subprocess
import sys
from typing import TYPE_CHECKING

import pytest

from roomctl.cli import main
from roomctl.mqtt.wire import Refusal, parse_command

if TYPE_CHECKING:
    from pathlib import Path

    from _pytest.mark.structures import ParameterSet

HEADER = (
    '{"roomctl_capture": 1, "room": "room-1", "started_at": "2026-11-21T09:00:00Z", '
    '"devices": {"oximeter": {"protocol": "nonin-df2"}}, '
    '"session": {"route": "iv", "infusion_min": 40}}\n'
)
GOOD = '{"t": 1, "op": "phase", "phase": "dosing"}\n'


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.err


# ------------------------------------------------------------------ captures

#: (case, file bytes, what the message must say after "<file>:").
CAPTURES: list[tuple[str, bytes, str] | ParameterSet] = [
    ("empty file", b"", "1: the capture is empty"),
    ("blank lines only", b"\n\n\n", "1: the capture is empty"),
    ("header missing", GOOD.encode(), "1: not a roomctl capture"),
    ("header not JSON", b"roomctl capture v1\n" + GOOD.encode(), "1: the header is"),
    ("byte-order mark", b"\xef\xbb\xbf" + HEADER.encode(), "1: the header is not"),
    (
        "header devices not a table",
        (
            b'{"roomctl_capture": 1, "started_at": "2026-11-21T09:00:00Z", '
            b'"devices": []}\n'
        ),
        "1: bad header: devices must be an object",
    ),
    (
        "unknown protocol",
        (
            b'{"roomctl_capture": 1, "started_at": "2026-11-21T09:00:00Z", '
            b'"devices": {"ox": {"protocol": "contec"}}}\n'
        ),
        "1: bad header: 'contec'",
    ),
    (
        "truncated last line",
        (HEADER + GOOD + '{"t": 2, "dev": "oximeter", "rx": "01').encode(),
        "3: not valid JSON",
    ),
    ("record not an object", (HEADER + "[1, 2]\n").encode(), "2: a record must be"),
    (
        "t as text",
        (HEADER + '{"t": "1", "op": "audio_pause"}\n').encode(),
        "2: every record needs a number t",
    ),
    (
        "t backwards",
        (HEADER + '{"t": 5, "op": "audio_pause"}\n' + GOOD).encode(),
        "3: t goes backwards (1 after 5)",
    ),
    (
        "t negative",
        (HEADER + '{"t": -1, "op": "audio_pause"}\n').encode(),
        "2: t goes backwards",
    ),
    (
        "odd-length hex",
        (HEADER + '{"t": 1, "dev": "oximeter", "rx": "0"}\n').encode(),
        "2: rx is not valid hex",
    ),
    (
        "not hex",
        (HEADER + '{"t": 1, "dev": "oximeter", "tx": "zz"}\n').encode(),
        "2: tx is not valid hex",
    ),
    (
        "unknown op",
        (HEADER + '{"t": 1, "op": "dance"}\n').encode(),
        "2: bad operator input: unknown command 'dance'",
    ),
    (
        "op with a bad value",
        (HEADER + '{"t": 1, "op": "phase", "phase": "lunch"}\n').encode(),
        "2: bad operator input: phase must be one of",
    ),
    (
        "unknown device",
        (HEADER + '{"t": 1, "dev": "scale", "rx": "00"}\n').encode(),
        "2: unknown device 'scale'",
    ),
    (
        "unknown record",
        (HEADER + '{"t": 1, "dev": "oximeter"}\n').encode(),
        "2: unknown record",
    ),
    pytest.param(
        "binary garbage",
        (HEADER + GOOD).encode() + b"\xff\xfe\x00\x81garbage\n",
        "3: ",
        id="binary garbage",
    ),
    pytest.param(
        "t not a number (NaN)",
        (HEADER + '{"t": NaN, "op": "audio_pause"}\n' + GOOD).encode(),
        "2: ",
        id="t NaN",
    ),
    (
        "t far beyond any session",
        (HEADER + '{"t":1000000000000,"dev":"oximeter","rx":"00"}\n').encode(),
        "2: t must be a number of seconds from 0 to",
    ),
    pytest.param(
        "header infusion_min NaN",
        (
            '{"roomctl_capture": 1, "started_at": "2026-11-21T09:00:00Z", '
            '"devices": {}, "session": {"route": "iv", "infusion_min": NaN}}\n' + GOOD
        ).encode(),
        "1: ",
        id="header infusion_min NaN",
    ),
]


@pytest.mark.parametrize(("case", "content", "message"), CAPTURES)
def test_replay_of_a_bad_capture_exits_2_naming_the_line(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    case: str,
    content: bytes,
    message: str,
) -> None:
    path = tmp_path / "session.jsonl"
    path.write_bytes(content)
    code, err = _run(capsys, "replay", str(path))
    assert code == 2, case
    assert f"{path}:{message}" in err


@pytest.mark.parametrize("what", ["missing", "folder"])
def test_replay_of_a_capture_that_cannot_be_read_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], what: str
) -> None:
    path = tmp_path / "session.jsonl"
    if what == "folder":
        path.mkdir()
    code, err = _run(capsys, "replay", str(path))
    assert code == 2
    assert f"cannot read the capture {path}" in err


@pytest.mark.subprocess
def test_replay_of_a_capture_with_an_endless_t_stops_with_exit_2(
    tmp_path: Path,
) -> None:
    path = tmp_path / "session.jsonl"
    path.write_text(HEADER + '{"t": Infinity, "op": "audio_pause"}\n')
    try:
        done = subprocess.run(
            [sys.executable, "-m", "roomctl", "replay", str(path)],
            capture_output=True,
            text=True,
            timeout=3,
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.fail("roomctl replay was still running after 3 s")
    assert done.returncode == 2
    assert f"{path}:2" in done.stderr


# ------------------------------------------------------------------ configurations

#: (case, TOML, what the message must say after "<file>:").
CONFIGS: list[tuple[str, bytes, str]] = [
    ("duplicate key", b'[room]\nname = "a"\nname = "b"\n', "3: not valid TOML"),
    ("unclosed table", b"[room\nname = 1\n", "1: not valid TOML"),
    ("table given a number", b"room = 5\n", "1: room: Input should be"),
    (
        "array of tables for a table",
        b'[[devices]]\nprotocol = "nonin-df2"\n',
        "1: devices: Input should be a valid dictionary",
    ),
    (
        "NaN",
        b"[session]\ninfusion_min = nan\n",
        "2: session.infusion_min: Input should be",
    ),
    (
        "infinity",
        b"[alarms.hr_high]\nlimit_bpm = -inf\n",
        "2: alarms.hr_high.limit_bpm: Input should be",
    ),
    (
        "a number beyond floats",
        b"[mqtt]\nkeepalive_s = 1e400\n",
        "2: mqtt.keepalive_s: Input should be a finite number",
    ),
    (
        "out of range (alarm)",
        b"[alarms.spo2_low]\nlimit_percent = 150\n",
        "2: alarms.spo2_low.limit_percent: Input should be less than or equal to 100",
    ),
    (
        "out of range (music)",
        b"[music]\nvolume_percent = {preparation = 500}\n",
        "2: music.volume_percent.preparation: Input should be less than",
    ),
    (
        "zero baud",
        b'[devices.ox]\nprotocol = "nonin-df2"\nport = "/dev/x"\nbaud = 0\n',
        "4: devices.ox.baud: Input should be greater than 0",
    ),
    (
        "broker port out of range",
        b'[mqtt]\nurl = "mqtt://127.0.0.1:99999"\n',
        "2: mqtt.url: the url's port is not valid",
    ),
    (
        "unknown phase scene",
        b'[lighting]\nlights = ["a"]\n[lighting.scenes.lunch]\nbrightness = 0.5\n',
        "3: lighting.scenes.lunch",
    ),
    (
        "unknown log level",
        b'[log]\nlevel = "verbose"\n',
        "2: log.level: Input should be 'debug', 'info', 'warning' or 'error'",
    ),
    (
        "unknown key deep down",
        b"[alarms.spo2_low]\nlimit_pct = 88\n",
        "2: alarms.spo2_low.limit_pct: unknown key",
    ),
    (
        "password in the url",
        b'[mqtt]\nurl = "mqtt://nurse:s3cret@broker"\n',
        "2: mqtt.url: put the user name and password in username",
    ),
]


@pytest.mark.parametrize(("case", "content", "message"), CONFIGS)
@pytest.mark.parametrize("command", ["config check", "run --config"])
def test_a_bad_configuration_exits_2_naming_the_line_and_key(  # noqa: PLR0917 -- parametrized
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    case: str,
    content: bytes,
    message: str,
    command: str,
) -> None:
    path = tmp_path / "room.toml"
    path.write_bytes(content)
    code, err = _run(capsys, *command.split(), str(path))
    assert code == 2, case
    assert "the configuration has 1 problem" in err
    assert f"{path}:{message}" in err
    assert "s3cret" not in err  # a password is never echoed


@pytest.mark.parametrize("what", ["missing", "folder", "not UTF-8"])
def test_a_configuration_that_cannot_be_read_exits_2_naming_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], what: str
) -> None:
    path = tmp_path / "room.toml"
    if what == "folder":
        path.mkdir()
    elif what == "not UTF-8":
        path.write_bytes(b"\xff\xfe[room]\n")
    code, err = _run(capsys, "config", "check", str(path))
    assert code == 2
    assert f"{path}: cannot read the configuration" in err


def test_an_empty_configuration_is_every_default(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "room.toml"
    path.write_bytes(b"")
    assert main(["config", "check", str(path)]) == 0
    assert '"name": "room-1"' in capsys.readouterr().out


# ------------------------------------------------------------------ MQTT command ids


def test_a_command_id_that_is_not_text_is_not_echoed() -> None:
    # Found by tests/system/test_malformed_commands.py: the refusal of a command
    # with a lone surrogate echoed it as its id, which no sender can match.
    refusal = parse_command("note", b'{"text": "ok", "id": "\\ud83d"}', max_bytes=4096)
    assert refusal == Refusal("command contains text that is not valid Unicode")
