"""Fixtures for the console's tests: a controllable clock and deterministic apps."""

from __future__ import annotations

from datetime import UTC
from typing import TYPE_CHECKING

import pytest

from roomctl.ui.app import RoomConsole
from roomctl.ui.station import Station
from tests.ui.fakes import AT, ROOM, FakeSource, live_room

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime

    from textual.pilot import Pilot

    from roomctl.ui.base import ConsoleApp, ConsoleOptions


class UiClock:
    """The console's monotonic clock, moved by the test."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def ui_clock() -> UiClock:
    return UiClock()


def _wall() -> datetime:
    return AT


def options(clock: UiClock) -> ConsoleOptions:
    """Deterministic console options: fixed clocks, UTC, nothing blinks."""
    return {
        "clock": clock,
        "wall": _wall,
        "tz": UTC,
        "blink_s": None,
        "tick_s": None,
        "id_prefix": "t",
        "reply_timeout_s": 1.0,
        "blink_cursor": False,
    }


@pytest.fixture
def source() -> FakeSource:
    """A fake source with one live room (``ROOM``) in dosing, no alarms."""
    return FakeSource(items=live_room())


@pytest.fixture
def make_console(ui_clock: UiClock) -> Callable[..., RoomConsole]:
    def make(source: FakeSource, room: str = ROOM) -> RoomConsole:
        return RoomConsole(source, room, **options(ui_clock))

    return make


@pytest.fixture
def make_station(ui_clock: UiClock) -> Callable[..., Station]:
    def make(source: FakeSource) -> Station:
        return Station(source, **options(ui_clock))

    return make


async def settle(pilot: Pilot[int], app: ConsoleApp | None = None) -> None:
    """Let messages, workers (command replies) and redraws finish."""
    await pilot.pause()
    target = app or pilot.app
    commands = [w for w in target.workers if w.group == "commands"]
    if commands:  # an empty list would wait for every worker, the feed too
        await target.workers.wait_for_complete(commands)
    await pilot.pause()
    await pilot.pause()
