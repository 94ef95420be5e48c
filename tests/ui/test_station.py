"""The nurse station: rooms as tiles, most urgent first; Enter opens, Esc returns."""

from __future__ import annotations

from typing import TYPE_CHECKING, Unpack

from roomctl.ui.room_screen import RoomScreen
from roomctl.ui.source import BrokerLink, StateReceived, StatusReceived
from roomctl.ui.station import RoomTile, StationScreen
from tests.ui.conftest import settle
from tests.ui.fakes import DESAT, HR_HIGH, FakeSource, room_state, with_room
from tests.ui.snapshots import screen_text

if TYPE_CHECKING:
    from collections.abc import Callable

    from roomctl.ui.source import FeedItem
    from roomctl.ui.station import Station
    from tests.ui.fakes import StateOptions


def room(
    name: str, *, online: bool = True, **state: Unpack[StateOptions]
) -> list[FeedItem]:
    return [
        StatusReceived(room=name, online=online),
        StateReceived(
            room=name,
            state=room_state(**with_room(state, name)),
            retained=not online,
        ),
    ]


def rooms_source() -> FakeSource:
    return FakeSource(
        items=[
            BrokerLink(connected=True, detail="fake"),
            *room("quiet"),
            *room("medium", alarms=[HR_HIGH]),
            *room("away", online=False, phase="integration"),
            *room("done", online=False, phase="closed"),
            *room("high", alarms=[DESAT]),
        ]
    )


def order(app: Station) -> list[str]:
    screen = app.screen
    assert isinstance(screen, StationScreen)
    return [tile.room for tile in screen.tiles()]


async def test_rooms_are_sorted_by_alarm_priority(
    make_station: Callable[..., Station],
) -> None:
    app = make_station(rooms_source())
    async with app.run_test(size=(80, 30)) as pilot:
        await settle(pilot)
        # high alarm, medium alarm, offline (not closed: nobody relays it),
        # then the quiet ones by name; a closed offline room is quiet.
        assert order(app) == ["high", "medium", "away", "done", "quiet"]
        tiles = {tile.room: tile for tile in app.screen.query(RoomTile)}
        assert tiles["high"].has_class("-high")
        assert tiles["high"].has_class("-unack")
        assert tiles["medium"].has_class("-medium")
        assert tiles["away"].has_class("-offline")
        assert tiles["away"].has_class("-stale")
        text = screen_text(app)
    assert "5 rooms" in text
    assert "SECONDARY DISPLAY" in text
    assert "*** SpO2 83 % < 85" in text
    assert "OFFLINE" in text
    assert "SpO2  --  PR  --  BP old 124/78" in text  # offline: nothing looks live


async def test_new_alarm_moves_a_room_up(make_station: Callable[..., Station]) -> None:
    source = rooms_source()
    app = make_station(source)
    async with app.run_test(size=(80, 30)) as pilot:
        await settle(pilot)
        source.push(
            StateReceived(
                room="quiet",
                state=room_state(
                    room="quiet", alarms=[{**DESAT, "raised_mono": 1159.0}]
                ),
            )
        )
        await settle(pilot)
        # Equal priorities keep their order by name: tiles do not jump around.
        assert order(app)[:3] == ["high", "quiet", "medium"]


async def test_a_room_appearing_later_gets_a_tile(
    make_station: Callable[..., Station],
) -> None:
    source = FakeSource(items=[BrokerLink(connected=True, detail="fake")])
    app = make_station(source)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert "Waiting for rooms on the broker" in screen_text(app)
        source.push(*room("late"))
        await settle(pilot)
        assert order(app) == ["late"]
        assert "Waiting for rooms" not in screen_text(app)


async def test_enter_opens_the_room_and_escape_returns(
    make_station: Callable[..., Station],
) -> None:
    source = rooms_source()
    app = make_station(source)
    async with app.run_test(size=(80, 30)) as pilot:
        await settle(pilot)
        await pilot.press("down")  # from "high" to "medium"
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, RoomScreen)
        assert app.screen.room == "medium"
        await pilot.press("a")  # commands go to the open room
        await settle(pilot)
        assert (source.sent[-1].room, source.fields()) == (
            "medium",
            {"code": "hr.high"},
        )
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, StationScreen)
        await pilot.click(RoomTile)  # the first tile: "high"
        await settle(pilot)
        assert isinstance(app.screen, RoomScreen)
        assert app.screen.room == "high"


async def test_station_without_broker_says_so(
    make_station: Callable[..., Station],
) -> None:
    source = rooms_source()
    app = make_station(source)
    async with app.run_test(size=(80, 30)) as pilot:
        await settle(pilot)
        source.push(BrokerLink(connected=False, detail="broker gone"))
        await settle(pilot)
        text = screen_text(app)
        assert all(tile.has_class("-stale") for tile in app.screen.query(RoomTile))
    assert "NO LIVE DATA - the station is not connected to the broker" in text
    assert "NO BROKER" in text
