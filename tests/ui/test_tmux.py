"""The console as a program in a real terminal (tmux), end to end."""

from __future__ import annotations

import asyncio
import sys
from typing import TYPE_CHECKING

import pytest

from tests.ui.fake_room import FakeRoom
from tests.ui.fakes import DESAT, room_state
from tests.ui.tmux import Tmux

if TYPE_CHECKING:
    from tests.broker import Broker


@pytest.mark.subprocess
def test_console_help_in_tmux() -> None:
    with Tmux(width=100, height=30) as term:
        term.start([sys.executable, "-m", "roomctl.ui.app", "--help"])
        screen = term.wait_for("--broker")
        assert term.wait_for_exit() == 0
    assert "--station" in screen
    assert "Secondary display" in screen


@pytest.mark.broker
@pytest.mark.subprocess
async def test_console_in_tmux_against_a_fake_room(broker: Broker) -> None:
    room = FakeRoom(
        broker, "tmux-room", state=room_state(room="tmux-room", alarms=[DESAT])
    )
    async with room.running():
        with Tmux(width=100, height=30) as term:
            term.start(
                [
                    sys.executable,
                    "-m",
                    "roomctl.ui.app",
                    "--broker",
                    broker.url,
                    "--room",
                    "tmux-room",
                    "--role",
                    "therapist",
                ]
            )
            # The room's clock beside LIVE: a live state, not the retained one.
            screen = await asyncio.to_thread(term.wait_for, "  LIVE  ", 20)
            assert "SECONDARY DISPLAY" in screen
            assert "*** SpO2 83 % < 85" in screen
            term.send("a")
            payload = await room.wait_for_command("acknowledge", timeout=10)
            assert payload["by"] == "therapist"
            assert payload["code"] == "spo2.desat"
            await asyncio.to_thread(term.wait_for, "OK acknowledge spo2.desat: done")
            term.send("C-q")
            status = await asyncio.to_thread(term.wait_for_exit)
            assert status == 0
