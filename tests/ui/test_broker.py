"""The console's real MQTT client against a real mosquitto and a small fake room."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import pytest

from roomctl.demo import free_port
from roomctl.ui.app import RoomConsole
from roomctl.ui.mqtt_client import MqttSource
from roomctl.ui.room_screen import RoomScreen
from roomctl.ui.source import (
    AlarmReceived,
    BrokerLink,
    StateReceived,
    StatusReceived,
)
from roomctl.ui.station import RoomTile, Station
from roomctl.ui.widgets.chrome import ReplyBar
from tests.ui.conftest import options, settle
from tests.ui.fake_room import FakeRoom
from tests.ui.fakes import DESAT, room_state
from tests.ui.snapshots import screen_text

if TYPE_CHECKING:
    from collections.abc import Callable

    from textual.pilot import Pilot

    from roomctl.ui.source import FeedItem
    from tests.broker import Broker
    from tests.ui.conftest import UiClock

pytestmark = pytest.mark.broker


async def until(predicate: Callable[[], bool], what: str, timeout: float = 8.0) -> None:
    try:
        async with asyncio.timeout(timeout):
            while not predicate():  # noqa: ASYNC110 -- other tasks change what it reads
                await asyncio.sleep(0.05)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


async def screen_until(pilot: Pilot[int], text: str, timeout: float = 8.0) -> str:
    async with asyncio.timeout(timeout):
        while True:
            await pilot.pause()
            screen = screen_text(pilot.app)
            if text in screen:
                return screen
            await asyncio.sleep(0.05)


async def test_source_delivers_the_room_and_carries_commands(broker: Broker) -> None:
    room = FakeRoom(
        broker,
        "src-room",
        refuse={"reset": "spo2.desat is still present"},
        silent={"note"},
    )
    items: list[FeedItem] = []
    source = MqttSource(broker.url, room="src-room")
    async with room.running():
        task = asyncio.create_task(source.run(items.append))
        try:
            await until(
                lambda: any(isinstance(i, StateReceived) for i in items), "a state"
            )
            assert isinstance(items[0], BrokerLink)
            assert items[0].connected
            assert StatusReceived(room="src-room", online=True) in items
            first = next(i for i in items if isinstance(i, StateReceived))
            assert first.retained  # published before the console subscribed
            await until(
                lambda: any(
                    isinstance(i, StateReceived) and not i.retained for i in items
                ),
                "a live state",
            )
            done = await source.command(
                "src-room", "acknowledge", {"code": "spo2.desat", "id": "c-1"}
            )
            assert (done.ok, done.command_id, done.answered) == (True, "c-1", True)
            assert room.commands[-1] == (
                "acknowledge",
                {"code": "spo2.desat", "id": "c-1"},
            )
            refused = await source.command("src-room", "reset", {"code": "spo2.desat"})
            assert (refused.ok, refused.error) == (False, "spo2.desat is still present")
            assert refused.command_id.startswith("console-")  # an id was added
            silent = await source.command(
                "src-room", "note", {"text": "x"}, timeout_s=0.5
            )
            assert not silent.answered
            assert "no reply from src-room within 0.5 s" in silent.error
            await room.publish_alarm({"type": "alarm", "code": "spo2.desat"})
            await until(
                lambda: any(isinstance(i, AlarmReceived) for i in items), "an alarm"
            )
            await room.go_offline()
            await until(
                lambda: StatusReceived(room="src-room", online=False) in items,
                "offline",
            )
        finally:
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task


async def test_source_without_a_broker_says_so_and_refuses_to_send() -> None:
    items: list[FeedItem] = []
    source = MqttSource(
        f"mqtt://127.0.0.1:{free_port()}", room="x", reconnect_cap_s=0.2
    )
    task = asyncio.create_task(source.run(items.append))
    try:
        await until(lambda: bool(items), "a link item")
        assert isinstance(items[0], BrokerLink)
        assert not items[0].connected
        reply = await source.command("x", "nibp_start", {})
        assert not reply.answered
        assert "not connected to the broker" in reply.error
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


def test_source_checks_its_url() -> None:
    with pytest.raises(ValueError, match="mqtt://"):
        MqttSource("http://example.org")


async def test_console_against_a_fake_room(broker: Broker, ui_clock: UiClock) -> None:
    room = FakeRoom(
        broker,
        "mqtt-room",
        state=room_state(room="mqtt-room", alarms=[DESAT]),
        refuse={"nibp_start": "this room's NIBP monitor cannot be started remotely"},
    )
    async with room.running():
        source = MqttSource(broker.url, room="mqtt-room")
        opts = options(ui_clock)
        opts["clock"] = asyncio.get_running_loop().time  # real time: live data
        app = RoomConsole(source, "mqtt-room", **opts)
        async with app.run_test(size=(100, 30)) as pilot:
            screen = await screen_until(pilot, "LIVE")
            assert "*** SpO2 83 % < 85 [NOT ACK, LATCHED]" in screen
            await pilot.press("a")
            payload = await room.wait_for_command("acknowledge")
            assert payload == {"code": "spo2.desat", "by": "nurse", "id": "t-1"}
            await screen_until(pilot, "OK acknowledge spo2.desat: done")
            await pilot.press("B")
            await screen_until(pilot, "REFUSED nibp_start: this room's NIBP monitor")
            reply = app.screen.query_one(ReplyBar)
            assert reply.has_class("-refused")
            await room.go_offline()
            await screen_until(pilot, "ROOM mqtt-room OFFLINE")


async def test_station_finds_every_room_on_the_broker(
    broker: Broker, ui_clock: UiClock
) -> None:
    # Its own topic root: other tests' retained rooms stay out of this station.
    quiet = FakeRoom(broker, "st-quiet", state=room_state(room="st-quiet"), root="st")
    loud = FakeRoom(
        broker, "st-loud", state=room_state(room="st-loud", alarms=[DESAT]), root="st"
    )
    async with quiet.running(), loud.running():
        source = MqttSource(broker.url, topic_root="st")
        opts = options(ui_clock)
        opts["clock"] = asyncio.get_running_loop().time
        app = Station(source, **opts)
        async with app.run_test(size=(80, 24)) as pilot:
            await screen_until(pilot, "st-quiet")
            await screen_until(pilot, "*** SpO2 83 % < 85")

            def rooms() -> list[str]:
                return [tile.room for tile in app.screen.query(RoomTile)]

            await until(lambda: rooms() == ["st-loud", "st-quiet"], "the order")
            # The focus stays on the room it was on when the order changes: move
            # it to the top tile (the loud room) before opening.
            app.screen.query(RoomTile).first().focus()
            await pilot.press("enter")
            await settle(pilot)
            assert isinstance(app.screen, RoomScreen)
            assert app.screen.room == "st-loud"
            await pilot.press("A")
            assert await loud.wait_for_command("acknowledge") == {
                "by": "nurse",
                "id": "t-1",
            }
            await screen_until(pilot, "OK acknowledge all: done")
