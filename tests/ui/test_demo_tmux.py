"""The real demo, end to end, in tmux: a newcomer's first minute."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.ui.tmux import Tmux

pytestmark = [pytest.mark.subprocess, pytest.mark.pty]


def test_real_demo_in_tmux_shows_a_live_room_and_moves_a_phase() -> None:
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
