"""The alarm policy's settings reach the parts that measure for it."""

from __future__ import annotations

from roomctl.app import Daemon
from roomctl.settings import parse_settings


def test_the_link_rows_parse_error_window_reaches_each_supervisor() -> None:
    # alarm-policy.md, link row: parse errors > 20 % "over 30 s"; a clinic may
    # configure the window, and the supervisors must measure over that window.
    settings = parse_settings(
        '[room]\nname = "r"\n[record]\npath = "/nonexistent/r.sqlite"\n'
        "[mqtt]\nenabled = false\n[music]\nenabled = false\n"
        '[devices.oximeter]\nprotocol = "nonin-df2"\nport = "/dev/null-ox"\n'
        "[alarms.link]\nparse_error_window_s = 12\n"
    )
    daemon = Daemon(settings)
    try:
        [supervisor] = daemon.supervisors
        assert supervisor._errors._window_s == 12
    finally:
        daemon.bus.close()
