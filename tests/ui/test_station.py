"""The nurse station: rooms as tiles, most urgent first; Enter opens, Esc returns."""

from __future__ import annotations

import gc
import random
from typing import TYPE_CHECKING, Unpack

import pytest
from textual.containers import VerticalScroll

from roomctl.ui.app import build_console
from roomctl.ui.room_screen import RoomScreen
from roomctl.ui.source import (
    AlarmReceived,
    BrokerLink,
    StateReceived,
    StatusReceived,
)
from roomctl.ui.station import RoomTile, Station, StationScreen
from tests.ui.conftest import UiClock, options, settle
from tests.ui.fakes import (
    DESAT,
    HR_HIGH,
    HR_RISE,
    FakeSource,
    live_room,
    room_state,
    with_room,
)
from tests.ui.snapshots import screen_text

if TYPE_CHECKING:
    from collections.abc import Callable

    from textual.widget import Widget

    from roomctl.ui.app import RoomConsole
    from roomctl.ui.source import FeedItem
    from roomctl.ui.view import RoomView
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


# ------------------------------------------------------------- drawing only changes


class ShowSpy:
    """Records every ``RoomTile.show``: the room and whether the tile changed."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[tuple[str, bool]] = []
        original = RoomTile.show

        def show(tile: RoomTile, view: RoomView) -> bool:
            changed = original(tile, view)
            self.calls.append((tile.room, changed))
            return changed

        monkeypatch.setattr(RoomTile, "show", show)

    def rooms(self) -> list[str]:
        return [room for room, _ in self.calls]

    def changed(self) -> list[str]:
        return [room for room, changed in self.calls if changed]


def tile_of(app: Station, room: str) -> RoomTile:
    return next(tile for tile in app.screen.query(RoomTile) if tile.room == room)


async def test_a_state_redraws_its_own_tile_and_only_when_it_changed(
    make_station: Callable[..., Station], monkeypatch: pytest.MonkeyPatch
) -> None:
    source = rooms_source()
    app = make_station(source)
    spy = ShowSpy(monkeypatch)
    async with app.run_test(size=(80, 30)) as pilot:
        await settle(pilot)
        spy.calls.clear()
        source.push(
            StateReceived(room="quiet", state=room_state(room="quiet", spo2=91))
        )
        await settle(pilot)
        assert spy.calls == [("quiet", True)]  # no other tile is touched
        assert "SpO2  91" in screen_text(app)
        look = tile_of(app, "quiet").look
        spy.calls.clear()
        # The same words and colours again: nothing is redrawn.
        source.push(
            StateReceived(room="quiet", state=room_state(room="quiet", spo2=91))
        )
        await settle(pilot)
        assert spy.calls == [("quiet", False)]
        assert tile_of(app, "quiet").look is look


async def test_a_burst_is_drawn_once_and_every_alarm_line_is_kept(
    make_station: Callable[..., Station], monkeypatch: pytest.MonkeyPatch
) -> None:
    source = rooms_source()
    app = make_station(source)
    spy = ShowSpy(monkeypatch)
    async with app.run_test(size=(80, 30)) as pilot:
        await settle(pilot)
        model = app.rooms["quiet"]
        logged = model.log_total
        spy.calls.clear()
        # Delivered together, as from a backlog: three states, and an alarm that
        # came and went between them (present in the middle state only).
        line = {"code": "hr.high", "priority": "medium", "text": "HR 131 bpm >= 130"}
        source.push(
            StateReceived(room="quiet", state=room_state(room="quiet", pulse=120)),
            AlarmReceived(room="quiet", line={**line, "transition": "raised"}),
            StateReceived(
                room="quiet",
                state=room_state(room="quiet", pulse=131, alarms=[HR_HIGH]),
            ),
            AlarmReceived(room="quiet", line={**line, "transition": "cleared"}),
            StateReceived(room="quiet", state=room_state(room="quiet", pulse=88)),
        )
        await settle(pilot)
        assert spy.rooms() == ["quiet"]  # one redraw, from the latest state
        assert "PR  88" in screen_text(app)
        # Nothing was skipped in the model: both alarm lines are in the log.
        assert model.log_total == logged + 2
        texts = [entry.text for entry in model.log]
        assert "** hr.high raised: HR 131 bpm >= 130" in texts
        assert "** hr.high cleared: HR 131 bpm >= 130" in texts


def expected_order(app: Station) -> list[str]:
    def key(name: str) -> tuple[int, int, str]:
        model = app.rooms[name]
        alarms = model.state.alarms if model.state is not None else ()
        unacked = any(not a.acknowledged for a in alarms)
        return (-model.rank(), 0 if unacked else 1, name)

    return sorted(app.rooms, key=key)


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_the_order_follows_random_alarm_changes(
    make_station: Callable[..., Station], seed: int
) -> None:
    rng = random.Random(seed)
    names = [f"bed-{n:02d}" for n in range(12)]
    choices: list[list[dict[str, object]]] = [
        [],
        [HR_HIGH],
        [DESAT],
        [HR_RISE],
        [{**HR_HIGH, "acknowledged": True}],
        [DESAT, HR_RISE],
    ]
    items: list[FeedItem] = [BrokerLink(connected=True, detail="fake")]
    for name in names:
        items += room(name)
    source = FakeSource(items=items)
    app = make_station(source)
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(pilot)
        for _ in range(25):
            burst = rng.randint(1, 3)
            source.push(
                *(
                    StateReceived(
                        room=(name := rng.choice(names)),
                        state=room_state(room=name, alarms=rng.choice(choices)),
                    )
                    for _ in range(burst)
                )
            )
            await settle(pilot)
            assert order(app) == expected_order(app)


async def test_a_room_rising_to_the_top_moves_one_tile(
    make_station: Callable[..., Station], monkeypatch: pytest.MonkeyPatch
) -> None:
    items: list[FeedItem] = [BrokerLink(connected=True, detail="fake")]
    for n in range(10):
        items += room(f"bed-{n}")
    source = FakeSource(items=items)
    app = make_station(source)
    moved: list[str] = []
    original = VerticalScroll.move_child

    def move_child(
        grid: VerticalScroll,
        child: Widget | int,
        *,
        before: Widget | int | None = None,
        after: Widget | int | None = None,
    ) -> None:
        moved.append(getattr(child, "room", "?"))
        if before is not None:
            original(grid, child, before=before)
        else:
            assert after is not None
            original(grid, child, after=after)

    monkeypatch.setattr(VerticalScroll, "move_child", move_child)
    async with app.run_test(size=(80, 40)) as pilot:
        await settle(pilot)
        moved.clear()
        source.push(
            StateReceived(room="bed-9", state=room_state(room="bed-9", alarms=[DESAT]))
        )
        await settle(pilot)
        assert order(app)[0] == "bed-9"
        assert moved == ["bed-9"]  # not every tile it passed


@pytest.mark.parametrize("width", [80, 81, 101])
async def test_the_columns_have_one_width(
    make_station: Callable[..., Station], width: int
) -> None:
    app = make_station(rooms_source())
    async with app.run_test(size=(width, 30)) as pilot:
        await settle(pilot)
        await settle(pilot)
        widths = {tile.size.width for tile in app.screen.query(RoomTile)}
    # A tile keeps its size when a room above it moves it to the other column.
    assert len(widths) == 1


async def test_flashing_restyles_only_unacknowledged_tiles(
    make_station: Callable[..., Station],
) -> None:
    app = make_station(rooms_source())
    async with app.run_test(size=(80, 30)) as pilot:
        await settle(pilot)
        app.blink()
        await pilot.pause()
        off = {
            tile.room
            for tile in app.screen.query(RoomTile)
            if tile.has_class("-blink-off")
        }
        assert off == {"high", "medium"}  # the unacknowledged alarms
        assert not app.screen.has_class("-blink-off")
        app.blink()
        await pilot.pause()
        assert not [t for t in app.screen.query(RoomTile) if t.has_class("-blink-off")]


# ------------------------------------------------------------- a room over the station


async def test_the_station_can_open_on_a_room(ui_clock: UiClock) -> None:
    source = rooms_source()
    app = Station(source, open_room="medium", **options(ui_clock))
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, RoomScreen)
        assert app.screen.room == "medium"
        assert "esc Station" in screen_text(app)  # the footer says how to get there
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, StationScreen)
        assert "5 rooms" in screen_text(app)
        assert order(app) == ["high", "medium", "away", "done", "quiet"]


async def test_a_room_console_has_no_station_key(
    make_console: Callable[..., RoomConsole],
) -> None:
    app = make_console(FakeSource(items=live_room()))
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        assert "Station" not in screen_text(app)
        await pilot.press("escape")  # nothing to go back to
        await settle(pilot)
        assert isinstance(app.screen, RoomScreen)


async def test_a_room_over_the_station_redraws_only_for_its_room(
    ui_clock: UiClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = rooms_source()
    app = Station(source, open_room="medium", **options(ui_clock))
    draws: list[str] = []
    original = RoomScreen._draw

    def draw(screen: RoomScreen) -> None:
        draws.append(screen.room)
        original(screen)

    monkeypatch.setattr(RoomScreen, "_draw", draw)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        draws.clear()
        source.push(StateReceived(room="quiet", state=room_state(room="quiet")))
        await settle(pilot)
        assert draws == []
        source.push(
            StateReceived(room="medium", state=room_state(room="medium", pulse=140))
        )
        await settle(pilot)
        assert draws == ["medium"]


async def test_the_real_console_freezes_its_start_up_objects() -> None:
    app = build_console(broker_url="mqtt://127.0.0.1:9", room=None, station=True)
    assert app.gc_freeze
    assert build_console(
        broker_url="mqtt://127.0.0.1:9", room="r1", station=False
    ).gc_freeze
    station = build_console(broker_url="mqtt://127.0.0.1:9", room="r1", station=True)
    assert isinstance(station, Station)
    assert station.open_room == "r1"
    source = FakeSource(items=[BrokerLink(connected=True, detail="fake")])
    frozen = Station(source, gc_freeze=True, blink_s=None, tick_s=None)
    before = gc.get_freeze_count()
    try:
        async with frozen.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            await pilot.pause(0.1)
            assert gc.get_freeze_count() > before
    finally:
        gc.unfreeze()
