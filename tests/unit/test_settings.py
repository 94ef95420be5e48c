from __future__ import annotations

from pathlib import Path

import pytest

from roomctl.cli import main
from roomctl.errors import ConfigError
from roomctl.events import Route
from roomctl.readings import ProtocolId
from roomctl.settings import load_settings, locate_keys, parse_settings

GOOD = """\
[room]
name = "room-2"

[devices.oximeter]
protocol = "nonin-df2"
port = "socket://127.0.0.1:7001"

[devices.nibp]
protocol = "suntech-advantage"
port = "/dev/ttyUSB1"
baud = 9600

[record]
path = "/tmp/roomctl-test/record.sqlite"

[session]
route = "nasal"
"""

THREE_MISTAKES = """\
[room]
name = "room-2"

[devices.oximeter]
protocol = "nonin-df3"
port = "/dev/ttyUSB0"

[devices.nibp]
protocol = "suntech-advantage"
port = "/dev/ttyUSB1"
baud = "fast"

[session]
route = "iv"
infusion_minutes = 40
"""


def test_settings_parse_a_good_file() -> None:
    settings = parse_settings(GOOD)
    assert settings.room.name == "room-2"
    assert settings.devices["oximeter"].protocol is ProtocolId.NONIN_DF2
    assert settings.devices["oximeter"].effective_baud == 9600
    assert settings.session.route is Route.NASAL
    assert settings.session.infusion_min == 40.0


def test_settings_report_every_mistake_with_line_and_key_path() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_settings(THREE_MISTAKES, source="room.toml")
    problems = caught.value.problems
    assert len(problems) == 3
    assert problems[0].startswith("room.toml:5: devices.oximeter.protocol: ")
    assert "nonin-df2" in problems[0]  # says what would be valid
    assert problems[1].startswith("room.toml:11: devices.nibp.baud: ")
    assert problems[2] == (
        "room.toml:15: session.infusion_minutes: unknown key (not a setting roomctl "
        "knows)"
    )


def test_settings_reject_bad_toml_with_its_line() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_settings('[room]\nname = "a"\nport = \n', source="x.toml")
    assert caught.value.problems[0].startswith("x.toml:3: not valid TOML")


def test_settings_reject_two_devices_on_one_port() -> None:
    text = GOOD.replace("/dev/ttyUSB1", "socket://127.0.0.1:7001")
    with pytest.raises(ConfigError, match="use the same port"):
        parse_settings(text)


def test_settings_reject_a_room_name_unfit_for_topics() -> None:
    with pytest.raises(ConfigError, match=r":2: room\.name: String should match"):
        parse_settings('[room]\nname = "Room #1/a"\n')


def test_settings_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the configuration"):
        load_settings(tmp_path / "absent.toml")


def test_locate_keys_handles_dotted_quoted_and_array_tables() -> None:
    lines = locate_keys(
        '[a]\nb.c = 1\n"d e" = 2\n[[f]]\ng = 1\n[[f]]\ng = 2\n[h."i.j"]\nk = 3\n'
    )
    assert lines[("a", "b", "c")] == 2
    assert lines[("a", "d e")] == 3
    assert lines[("f", 0, "g")] == 5
    assert lines[("f", 1, "g")] == 7
    assert lines[("h", "i.j", "k")] == 9


def test_config_check_prints_effective_settings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "room.toml"
    path.write_text(GOOD)
    assert main(["config", "check", str(path)]) == 0
    out = capsys.readouterr().out
    assert "the configuration is valid" in out
    assert '"infusion_min": 40.0' in out


def test_config_check_exits_2_listing_all_three_mistakes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "room.toml"
    path.write_text(THREE_MISTAKES)
    assert main(["config", "check", str(path)]) == 2
    err = capsys.readouterr().err
    assert "the configuration has 3 problems" in err
    for where in (":5: devices.oximeter.protocol", ":11: devices.nibp.baud"):
        assert f"{path}{where}" in err
    assert f"{path}:15: session.infusion_minutes: unknown key" in err


def test_the_shipped_example_configuration_is_valid(
    capsys: pytest.CaptureFixture[str],
) -> None:
    example = Path(__file__).resolve().parents[2] / "deploy" / "roomctl.example.toml"
    assert main(["config", "check", str(example)]) == 0
    out = capsys.readouterr().out
    assert "Alarm policy in force:" in out
    for code in ("bp.rise", "bp.severe", "spo2.desat", "tech.link.<device>"):
        assert code in out
