"""The real demo, end to end, in tmux: a newcomer's first minute.

The demo's three rooms: its own (the console opens on it), one already in an alarm
and a calm one; Esc shows them all on the station, Enter opens one.
"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tests.ui.tmux import Tmux

pytestmark = [pytest.mark.subprocess, pytest.mark.pty]


def test_real_demo_in_tmux_shows_a_live_room_moves_a_phase_and_the_station() -> None:
    with Tmux(width=120, height=40, name="demo") as tmux:
        tmux.start([sys.executable, "-m", "roomctl", "demo", "--speed", "10"])
        screen = tmux.wait_for("PREPARATION", timeout=60)
        assert "SECONDARY DISPLAY" in screen
        screen = tmux.wait_for(" live", timeout=30)  # vitals arriving, marked live
        tmux.wait_for("ago - next", timeout=60)  # a blood pressure with its age
        tmux.send("f")  # next phase: asks first, Cancel focused
        tmux.wait_for("Move room demo to DOSING?")
        tmux.send("Tab")
        tmux.send("Enter")
        screen = tmux.wait_for("DOSING dose", timeout=15)
        # Dosed at once, without a pre-dose baseline: the engine says so.
        assert "Baseline missing" in screen
        tmux.send("5")  # the log tab
        screen = tmux.wait_for("OK phase dosing", timeout=10)
        assert "Station" in screen  # the footer's key to every room
        tmux.send("Escape")  # the station: every room of the demo
        screen = tmux.wait_for("3 rooms", timeout=15)
        for room in ("demo", "demo-2", "demo-3"):
            assert f" {room} " in screen  # a tile titled with the room's name
        # The room dosed at start is in an alarm: tachycardia, MEDIUM, on its tile.
        screen = tmux.wait_for("** HR", timeout=60)
        tile = next(line for line in screen.splitlines() if "** HR" in line)
        assert "NOT ACK" in tile
        # It is the most urgent room, so its tile is first (top left).
        assert screen.index(" demo-2 ") < screen.index(" demo-3 ")
        assert screen.index(" demo-2 ") < screen.index(" demo ")
        tmux.send("Enter")  # opens the focused room
        screen = tmux.wait_for("esc Station", timeout=15)
        assert re.search(r"roomctl room demo(-[23])?  ", screen)
        tmux.send("Escape")
        tmux.wait_for("3 rooms", timeout=15)
        tmux.send("C-c")
        assert tmux.wait_for_exit(timeout=20) == 0
        assert "roomctl demo stopped." in tmux.capture()
    leftovers = subprocess.run(
        # The demo's devices and broker live in its roomctl-demo-* folder; its bulb
        # is demo/ceiling.
        ["pgrep", "-f", "roomctl-demo-|--name demo/ceiling"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    assert leftovers == ""
