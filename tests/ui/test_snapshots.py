"""Golden screens: normal, alarm, stale data, station (and a wide room).

Deterministic: a fixed console clock, UTC, fixed data, nothing blinks, no cursor
blink, no animation. ``ROOMCTL_UPDATE_SNAPSHOTS=1`` rewrites the goldens.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Unpack

from roomctl.ui.source import BrokerLink, StateReceived, StatusReceived
from tests.ui.conftest import settle
from tests.ui.fakes import (
    BP_SEVERE,
    DESAT,
    HR_HIGH,
    HR_RISE,
    ROOM,
    FakeSource,
    room_state,
    with_room,
)
from tests.ui.snapshots import assert_screen

if TYPE_CHECKING:
    from collections.abc import Callable

    from textual.pilot import Pilot

    from roomctl.ui.app import RoomConsole
    from roomctl.ui.source import FeedItem
    from roomctl.ui.station import Station
    from tests.ui.conftest import UiClock
    from tests.ui.fakes import StateOptions

ALARMS = [DESAT, BP_SEVERE, HR_HIGH, HR_RISE]


async def feed_history(
    pilot: Pilot[int], source: FakeSource, **state: Unpack[StateOptions]
) -> None:
    """Twenty minutes of states, one per minute, ending at the fixed state."""
    for minute in range(20, -1, -1):
        varying: StateOptions = {
            "session_time_s": 1160.0 - minute * 60,
            "spo2": 97 - (minute % 3),
            "pulse": 70 + minute % 5,
        }
        varying.update(state)
        source.push(StateReceived(room=ROOM, state=room_state(**varying)))
        await pilot.pause()
    await settle(pilot)


def connected() -> FakeSource:
    return FakeSource(
        items=[
            BrokerLink(connected=True, detail="fake"),
            StatusReceived(room=ROOM, online=True),
        ]
    )


async def test_normal_screen(make_console: Callable[..., RoomConsole]) -> None:
    source = connected()
    app = make_console(source)
    async with app.run_test(size=(80, 24)) as pilot:
        await feed_history(pilot, source)
        assert_screen(app, "room_normal_80x24")


async def test_alarm_screen(make_console: Callable[..., RoomConsole]) -> None:
    source = connected()
    app = make_console(source)
    async with app.run_test(size=(80, 24)) as pilot:
        await feed_history(
            pilot, source, alarms=ALARMS, spo2=83, pulse=135, pause_remaining_s=95
        )
        assert_screen(app, "room_alarm_80x24")


async def test_stale_data_screen(
    make_console: Callable[..., RoomConsole], ui_clock: UiClock
) -> None:
    source = connected()
    app = make_console(source)
    async with app.run_test(size=(80, 24)) as pilot:
        await feed_history(pilot, source, alarms=[HR_HIGH])
        ui_clock.advance(42)
        app.update_views()
        await settle(pilot)
        assert_screen(app, "room_stale_80x24")


async def test_wide_alarm_screen(make_console: Callable[..., RoomConsole]) -> None:
    source = connected()
    app = make_console(source)
    async with app.run_test(size=(160, 45)) as pilot:
        await feed_history(pilot, source, alarms=ALARMS, spo2=83, pulse=135)
        assert_screen(app, "room_alarm_160x45", svg=False)  # text only: 200 kB SVG


async def test_station_screen(make_station: Callable[..., Station]) -> None:
    items: list[FeedItem] = [BrokerLink(connected=True, detail="fake")]
    rooms: list[tuple[str, bool, StateOptions]] = [
        ("room-1", True, {"alarms": [DESAT, HR_HIGH]}),
        ("room-2", True, {"alarms": [HR_RISE], "phase": "peak"}),
        ("room-3", True, {"phase": "preparation", "nibp": None}),
        ("room-4", False, {"phase": "integration"}),
    ]
    for name, online, state in rooms:
        items += [
            StatusReceived(room=name, online=online),
            StateReceived(
                room=name,
                state=room_state(**with_room(state, name)),
                retained=not online,
            ),
        ]
    app = make_station(FakeSource(items=items))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert_screen(app, "station_80x24")
