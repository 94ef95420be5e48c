"""The room console driven with Pilot from a fake source: every control, every state."""

from __future__ import annotations

from typing import TYPE_CHECKING, Unpack

from textual.widgets import Input, OptionList, TabbedContent

from roomctl.ui.dialogs import (
    BaselineScreen,
    CloseSessionScreen,
    ConfirmScreen,
    HelpScreen,
    LightsScreen,
    NoteScreen,
)
from roomctl.ui.messages import CommandAnswered, CommandSent
from roomctl.ui.room_screen import RoomScreen
from roomctl.ui.source import (
    AlarmReceived,
    BrokerLink,
    EventReceived,
    StateReceived,
    StatusReceived,
)
from roomctl.ui.widgets.alarms import AlarmBanner, AlarmList
from roomctl.ui.widgets.chrome import ReplyBar
from roomctl.ui.widgets.vitals import VitalTile
from tests.ui.conftest import settle
from tests.ui.fakes import (
    BP_SEVERE,
    DESAT,
    HR_HIGH,
    HR_RISE,
    ROOM,
    FakeSource,
    alarm,
    live_room,
    room_state,
)
from tests.ui.snapshots import screen_text

if TYPE_CHECKING:
    from collections.abc import Callable

    from textual.message import Message

    from roomctl.ui.app import RoomConsole
    from tests.ui.conftest import UiClock
    from tests.ui.fakes import StateOptions

MakeConsole = "Callable[..., RoomConsole]"


def reply_text(app: RoomConsole) -> str:
    return str(app.screen.query_one(ReplyBar).render())


def alarm_source(
    *on_board: dict[str, object], **state: Unpack[StateOptions]
) -> FakeSource:
    state["alarms"] = list(on_board)
    return FakeSource(items=live_room(ROOM, **state))


# ------------------------------------------------------------------ display


async def test_live_room_shows_vitals_limits_and_the_secondary_notice(
    source: FakeSource, make_console: Callable[..., RoomConsole]
) -> None:
    app = make_console(source)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        text = screen_text(app)
    assert "SECONDARY DISPLAY" in text
    assert "room room-1" in text
    assert "DOSING dose +12:10" in text
    assert "LIVE" in text
    assert "97" in text
    assert "72" in text
    assert "124/78 (93)" in text
    assert "95 s ago" in text  # the NIBP reading's age, always shown
    assert "<90 <85 (default)" in text
    assert "No active alarms" in text


async def test_secondary_notice_stays_visible_on_every_tab_and_in_the_station(
    source: FakeSource, make_console: Callable[..., RoomConsole]
) -> None:
    app = make_console(source)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        for key in "12345":
            await pilot.press(key)
            await pilot.pause()
            assert "SECONDARY DISPLAY" in screen_text(app)


async def test_tiles_take_the_colour_of_their_highest_alarm(
    make_console: Callable[..., RoomConsole],
) -> None:
    source = alarm_source(DESAT, HR_RISE, BP_SEVERE)
    app = make_console(source)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        spo2, pulse, nibp = app.screen.query(VitalTile)
        assert spo2.has_class("-high")
        assert spo2.has_class("-unack")
        assert pulse.has_class("-low")
        assert not pulse.has_class("-high")
        # bp.severe is acknowledged: red, but steady.
        assert nibp.has_class("-high")
        assert not nibp.has_class("-unack")
        source.push(StateReceived(room=ROOM, state=room_state(alarms=[HR_HIGH])))
        await settle(pilot)
        assert pulse.has_class("-medium")
        assert not spo2.has_class("-high")


async def test_alarm_banner_and_list_show_text_value_limit_and_state(
    make_console: Callable[..., RoomConsole],
) -> None:
    app = make_console(alarm_source(HR_HIGH, DESAT, BP_SEVERE))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        text = screen_text(app)
    lines = text.splitlines()
    banner = next(i for i, line in enumerate(lines) if "*** SpO2 83 % < 85" in line)
    assert "NOT ACK, LATCHED" in lines[banner]
    assert "+2 more, 2 not acknowledged" in lines[banner + 1]
    # The list: highest first, unacknowledged before acknowledged.
    rows = [line.strip() for line in lines if line.strip().startswith("*")]
    assert rows[1:4] == [
        "*** SpO2 83 % < 85 [NOT ACK, LATCHED]",
        "*** BP 208/125 >= 200/120 [ack nurse, LATCHED]",
        "** HR 135 bpm >= 130 [NOT ACK]",
    ]
    assert "spo2.desat | high physiological | value 83 | limit 85" in text
    assert "Resolves: SpO2 >= 92 % for 30 s, then reset" in text


async def test_a_record_that_cannot_be_written_is_a_technical_alarm_in_the_banner(
    make_console: Callable[..., RoomConsole],
) -> None:
    record = alarm(
        "tech.record",
        "medium",
        "Session record not saved: the disk is full (kept in memory)",
        value="record",
        limit=5.0,
        raised_s_ago=12,
        resolution="the record is written again",
    )
    app = make_console(alarm_source(record))
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        text = screen_text(app)
        tiles = list(app.screen.query(VitalTile))
        # It is about the room's record, not a vital sign: no tile takes its colour.
        assert not any(t.has_class("-medium") for t in tiles)
    banner = next(line for line in text.splitlines() if "Session record" in line)
    assert "** Session record not saved: the disk is full" in banner
    assert "NOT ACK" in banner
    assert "tech.record | medium technical" in text
    assert "Resolves: the record is written again" in text


async def test_flashing_only_while_unacknowledged(
    make_console: Callable[..., RoomConsole],
) -> None:
    source = alarm_source(DESAT)
    app = make_console(source)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        banner = app.screen.query_one(AlarmBanner)
        assert banner.has_class("-unack")
        on = banner.styles.background
        app.blink()
        await pilot.pause()
        assert app.screen.has_class("-blink-off")
        off = banner.styles.background
        assert on != off  # the unacknowledged banner flashes
        acknowledged = {**DESAT, "acknowledged": True, "acknowledged_by": "nurse"}
        source.push(StateReceived(room=ROOM, state=room_state(alarms=[acknowledged])))
        await settle(pilot)
        assert not banner.has_class("-unack")
        steady = banner.styles.background
        app.blink()
        await pilot.pause()
        assert not app.screen.has_class("-blink-off")
        assert banner.styles.background == steady  # acknowledged: steady
        app.blink()
        await pilot.pause()
        assert banner.styles.background == steady


async def test_stale_room_never_shows_old_values_as_live(
    source: FakeSource,
    make_console: Callable[..., RoomConsole],
    ui_clock: UiClock,
) -> None:
    app = make_console(source)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        ui_clock.advance(12)
        app.update_views()
        await pilot.pause()
        text = screen_text(app)
        spo2 = app.screen.query_one("#tile-spo2", VitalTile)
        assert spo2.has_class("-stale")
    assert "NO LIVE DATA - nothing from room-1 for 12 s" in text
    assert "NO DATA 12 s" in text
    value_line = next(line for line in text.splitlines() if "NOT LIVE" in line)
    assert value_line.count("--  NOT LIVE") == 2  # SpO2 and PR: dashes, never 97
    assert "124/78 (93)  NOT LIVE" in value_line  # NIBP greyed, with its age:
    assert "last 97 % 12 s ago" in text
    assert "107 s ago" in text


async def test_offline_room_and_lost_broker_are_said_in_words(
    source: FakeSource, make_console: Callable[..., RoomConsole]
) -> None:
    app = make_console(source)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        source.push(StatusReceived(room=ROOM, online=False))
        await settle(pilot)
        text = screen_text(app)
        assert "ROOM room-1 OFFLINE" in text
        assert "OFFLINE" in text.splitlines()[0]
        source.push(StatusReceived(room=ROOM, online=True))
        source.push(BrokerLink(connected=False, detail="127.0.0.1:1883: refused"))
        await settle(pilot)
        text = screen_text(app)
        assert "NO LIVE DATA - the console is not connected to the broker" in text
        assert "NO BROKER" in text.splitlines()[0]


async def test_retained_state_is_shown_as_waiting_until_a_live_one_arrives(
    make_console: Callable[..., RoomConsole],
) -> None:
    source = FakeSource(
        items=[
            BrokerLink(connected=True, detail="x"),
            StatusReceived(room=ROOM, online=True),
            StateReceived(room=ROOM, state=room_state(), retained=True),
        ]
    )
    app = make_console(source)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert "Waiting for live data from room-1" in screen_text(app)
        assert app.screen.query_one("#tile-spo2", VitalTile).has_class("-stale")
        source.push(StateReceived(room=ROOM, state=room_state()))
        await settle(pilot)
        assert "Waiting" not in screen_text(app)


async def test_no_state_at_all(make_console: Callable[..., RoomConsole]) -> None:
    app = make_console(FakeSource(items=[BrokerLink(connected=True, detail="x")]))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        text = screen_text(app)
    assert "Waiting for room room-1: no state received yet." in text
    assert "phase ?" in text


async def test_values_the_daemon_marks_not_live_or_missing_are_dashed(
    make_console: Callable[..., RoomConsole],
) -> None:
    source = FakeSource(
        items=live_room(spo2=None, pulse=None, spo2_status="sensor_off")
    )
    app = make_console(source)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert "sensor off" in screen_text(app)
        source.push(
            StateReceived(
                room=ROOM, state=room_state(vitals_live=False, vitals_age_s=31)
            )
        )
        await settle(pilot)
        text = screen_text(app)
    assert "--  NOT LIVE" in text
    assert "last 97 % 31 s ago" in text
    assert "last 72 bpm 31 s ago" in text


async def test_nibp_greyed_when_old_and_dashed_when_invalid(
    make_console: Callable[..., RoomConsole],
) -> None:
    source = FakeSource(items=live_room(freshness="grey", nibp_age_s=1900))
    app = make_console(source)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        tile = app.screen.query_one("#tile-nibp", VitalTile)
        assert tile.has_class("-stale")
        text = screen_text(app)
        assert "124/78 (93)  OLD" in text
        assert "31 min ago" in text
        source.push(
            StateReceived(
                room=ROOM, state=room_state(freshness="invalid", nibp_age_s=3700)
            )
        )
        await settle(pilot)
        text = screen_text(app)
    assert "--/--  INVALID" in text
    assert "last 124/78 1 h 01 min ago" in text


# ------------------------------------------------------------------ alarm controls


async def test_acknowledge_the_selected_alarm_with_id_role_and_reply(
    make_console: Callable[..., RoomConsole],
) -> None:
    source = alarm_source(DESAT, BP_SEVERE, HR_HIGH)
    app = make_console(source)
    messages: list[Message] = []
    async with app.run_test(size=(80, 24), message_hook=messages.append) as pilot:
        await settle(pilot)
        await pilot.press("a")
        await settle(pilot)
        assert source.sent[-1].payload == {
            "code": "spo2.desat",
            "by": "nurse",
            "id": "t-1",
        }
        assert "OK acknowledge spo2.desat: done" in reply_text(app)
        # Select the acknowledged bp.severe: "a" acknowledges the first
        # unacknowledged one instead; one more down selects hr.high.
        app.screen.query_one(AlarmList).focus()
        await pilot.press("down")
        await pilot.press("a")
        await settle(pilot)
        assert source.fields() == {"code": "spo2.desat"}
        await pilot.press("down", "a")
        await settle(pilot)
        assert source.fields() == {"code": "hr.high"}
    sent = [m for m in messages if isinstance(m, CommandSent)]
    answered = [m for m in messages if isinstance(m, CommandAnswered)]
    assert [m.command_id for m in sent] == ["t-1", "t-2", "t-3"]
    assert [m.reply.command_id for m in answered] == ["t-1", "t-2", "t-3"]
    assert all(m.reply.ok for m in answered)


async def test_acknowledge_all_and_nothing_to_acknowledge(
    source: FakeSource, make_console: Callable[..., RoomConsole]
) -> None:
    app = make_console(source)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("a", "A")
        await settle(pilot)
        assert source.sent == []
        assert "No alarm to acknowledge." in reply_text(app)
        source.push(StateReceived(room=ROOM, state=room_state(alarms=[DESAT, HR_HIGH])))
        await settle(pilot)
        await pilot.press("A")
        await settle(pilot)
    assert source.verbs() == ["acknowledge"]
    assert source.fields() == {}


async def test_audio_pause_and_its_countdown(
    make_console: Callable[..., RoomConsole], ui_clock: UiClock
) -> None:
    source = alarm_source(DESAT)
    app = make_console(source)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("p")
        await settle(pilot)
        assert source.verbs() == ["audio_pause"]
        source.push(
            StateReceived(
                room=ROOM, state=room_state(alarms=[DESAT], pause_remaining_s=120)
            )
        )
        await settle(pilot)
        assert "AUDIO PAUSED 2:00 by nurse" in screen_text(app)
        ui_clock.advance(3)
        app.update_views()
        await pilot.pause()
        assert "AUDIO PAUSED 1:57 by nurse" in screen_text(app)


async def test_reset_a_latched_alarm_refused_with_the_rooms_reason(
    make_console: Callable[..., RoomConsole],
) -> None:
    source = alarm_source(HR_HIGH, DESAT)
    source.replies["reset"] = (
        False,
        "spo2.desat is still present; it can be reset once SpO2 >= 92 % for 30 s",
        True,
    )
    app = make_console(source)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("r")
        await settle(pilot)
        assert source.fields() == {"code": "spo2.desat"}
        reply = app.screen.query_one(ReplyBar)
        assert reply.has_class("-refused")
        assert "REFUSED reset spo2.desat: spo2.desat is still present" in reply_text(
            app
        )
        await pilot.press("5")  # the log keeps it too
        await pilot.pause()
        assert "REFUSED reset spo2.desat" in screen_text(app)


async def test_reset_with_nothing_latched_sends_nothing(
    make_console: Callable[..., RoomConsole],
) -> None:
    source = alarm_source(HR_HIGH)
    app = make_console(source)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("r")
        await settle(pilot)
        assert "No latched alarm to reset." in reply_text(app)
    assert source.sent == []


async def test_no_reply_is_shown_as_such(
    make_console: Callable[..., RoomConsole],
) -> None:
    source = alarm_source(DESAT)
    source.replies["acknowledge"] = (False, "no reply from room-1 within 1 s", False)
    app = make_console(source)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("a")
        await settle(pilot)
        assert "NO REPLY acknowledge spo2.desat: no reply from room-1" in reply_text(
            app
        )


async def test_a_command_the_room_would_refuse_for_its_shape_is_not_sent(
    source: FakeSource, make_console: Callable[..., RoomConsole]
) -> None:
    app = make_console(source)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert app.send_command(ROOM, "music", {"action": "volume"}) is None
        await settle(pilot)
        assert "NOT SENT music volume: music volume needs volume (0-100)" in (
            reply_text(app)
        )
    assert source.sent == []


# ------------------------------------------------------------------ session controls


async def test_phase_move_asks_first_and_can_be_cancelled(
    source: FakeSource, make_console: Callable[..., RoomConsole]
) -> None:
    app = make_console(source)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("f")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        assert "Move room room-1 to PEAK?" in screen_text(app)
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, RoomScreen)
        assert source.sent == []
        await pilot.press("f")
        await pilot.pause()
        await pilot.click("#yes")
        await settle(pilot)
    assert source.verbs() == ["phase"]
    assert source.fields() == {"phase": "peak"}
    assert source.sent[-1].payload["by"] == "nurse"


async def test_dosing_confirmation_says_it_marks_the_dose(
    make_console: Callable[..., RoomConsole],
) -> None:
    source = FakeSource(items=live_room(phase="preparation"))
    app = make_console(source)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("f")
        await pilot.pause()
        assert "marks the dose as given NOW" in screen_text(app)
        await pilot.click("#yes")
        await settle(pilot)
    assert source.fields() == {"phase": "dosing"}


async def test_closing_a_session_that_is_not_ready_needs_a_reason(
    source: FakeSource, make_console: Callable[..., RoomConsole]
) -> None:
    app = make_console(source)
    async with app.run_test(size=(80, 30)) as pilot:
        await settle(pilot)
        await pilot.press("c")
        await pilot.pause()
        assert isinstance(app.screen, CloseSessionScreen)
        text = screen_text(app)
        assert "NOT discharge-ready" in text
        assert "Minimum monitoring runs until +100 min" in text
        await pilot.click("#close")
        await pilot.pause()
        assert isinstance(app.screen, CloseSessionScreen)
        assert "A reason is required" in screen_text(app)
        assert source.sent == []
        reason = app.screen.query_one("#reason", Input)
        reason.focus()
        await pilot.press("p", "t")  # typing works; the rest is set at once
        reason.value += " unwell"
        await pilot.press("enter")
        await settle(pilot)
    assert source.fields() == {"phase": "closed", "reason": "pt unwell"}


async def test_closing_a_ready_session_from_integration_needs_no_reason(
    make_console: Callable[..., RoomConsole],
) -> None:
    source = FakeSource(items=live_room(phase="integration", discharge_ready=True))
    app = make_console(source)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("f")  # the next phase of integration is closed
        await pilot.pause()
        assert isinstance(app.screen, CloseSessionScreen)
        assert "DISCHARGE-READY" in screen_text(app)
        await pilot.click("#close")
        await settle(pilot)
    assert source.fields() == {"phase": "closed"}


async def test_discharge_ready_and_its_reasons_are_shown(
    make_console: Callable[..., RoomConsole],
) -> None:
    source = FakeSource(items=live_room())
    app = make_console(source)
    async with app.run_test(size=(80, 40)) as pilot:
        await settle(pilot)
        await pilot.press("3")
        await pilot.pause()
        text = screen_text(app)
        assert "Discharge: NOT READY (earliest 10:47:10)" in text
        assert "- Minimum monitoring runs until +100 min (88 min to go)." in text
        assert "Baseline UNCONFIRMED (b: confirm or override)" in text
        assert "ketamine BP response: peak 168/100 at +10 min, ongoing [open]" in text
        assert "preparation >  DOSING  > peak" in text
        assert "infusion ends 09:47:10 (planned)" in text
        source.push(StateReceived(room=ROOM, state=room_state(discharge_ready=True)))
        await settle(pilot)
        assert "Discharge: READY" in screen_text(app)


async def test_baseline_confirm_and_override_with_a_reason(
    source: FakeSource, make_console: Callable[..., RoomConsole]
) -> None:
    app = make_console(source)
    async with app.run_test(size=(100, 36)) as pilot:
        await settle(pilot)
        await pilot.press("b")
        await pilot.pause()
        assert isinstance(app.screen, BaselineScreen)
        assert "SBP mmHg (computed 125)" in screen_text(app)
        await pilot.click("#confirm")
        await settle(pilot)
        assert source.verbs() == ["baseline_confirm"]
        assert source.fields() == {}
        await pilot.press("b")
        await pilot.pause()
        app.screen.query_one("#bl-sbp", Input).value = "130"
        await pilot.click("#override")
        await pilot.pause()
        assert "Overriding the baseline needs a reason." in screen_text(app)
        app.screen.query_one("#reason", Input).value = "white-coat reading"
        await pilot.pause(0.25)  # a Button ignores clicks during its 0.2 s flash
        await pilot.click("#override")
        await settle(pilot)
        assert "OK baseline override sbp 130: done" in reply_text(app)
    assert source.fields() == {"sbp": 130, "reason": "white-coat reading"}


async def test_infusion_end_nibp_now_refused_and_note(
    source: FakeSource, make_console: Callable[..., RoomConsole]
) -> None:
    source.replies["nibp_start"] = (
        False,
        "this room's NIBP monitor cannot be started remotely",
        True,
    )
    app = make_console(source)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("i")
        await pilot.pause()
        await pilot.click("#yes")
        await settle(pilot)
        await pilot.press("B")
        await settle(pilot)
        assert (
            "REFUSED nibp_start: this room's NIBP monitor cannot be started remotely"
            in reply_text(app)
        )
        await pilot.press("n")
        await pilot.pause()
        assert isinstance(app.screen, NoteScreen)
        await pilot.press("enter")  # empty: not saved
        await pilot.pause()
        assert "The note is empty." in screen_text(app)
        await pilot.press(*"calm")
        app.screen.query_one("#note", Input).value += ", eyes closed"
        await pilot.press("enter")
        await settle(pilot)
    assert source.verbs() == ["infusion_end", "nibp_start", "note"]
    assert source.fields() == {"text": "calm, eyes closed"}


# ------------------------------------------------------------------ music, lights


async def test_music_keys(
    source: FakeSource, make_console: Callable[..., RoomConsole]
) -> None:
    app = make_console(source)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("4")
        await pilot.pause()
        text = screen_text(app)
        assert "Now playing: Slow Water - Builtin  1:23 / 4:56" in text
        assert "Next: Low Tide" in text
        assert "Volume 40 %" in text
        await pilot.press("space", "k", "plus", "minus")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, RoomScreen)
        screen.action_music_stop()  # the palette's "Music: stop"
        await settle(pilot)
    assert [source.fields(i) for i in range(5)] == [
        {"action": "pause"},
        {"action": "skip"},
        {"action": "volume", "volume": 45},
        {"action": "volume", "volume": 35},
        {"action": "stop"},
    ]


async def test_lights_dialog_and_level_keys(
    source: FakeSource, make_console: Callable[..., RoomConsole]
) -> None:
    app = make_console(source)
    async with app.run_test(size=(80, 30)) as pilot:
        await settle(pilot)
        await pilot.press("4")
        await pilot.pause()
        assert "Lights: scene dosing  level 15 %  2200 K" in screen_text(app)
        await pilot.press("right_square_bracket", "left_square_bracket")
        await settle(pilot)
        await pilot.press("l")
        await pilot.pause()
        assert isinstance(app.screen, LightsScreen)
        options = app.screen.query_one(OptionList)
        options.focus()
        options.highlighted = 6  # "safe"
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("l")
        await pilot.pause()
        app.screen.query_one("#level", Input).focus()
        await pilot.press(*"250", "enter")
        await pilot.pause()
        assert "0 to 100" in screen_text(app)
        app.screen.query_one("#level", Input).value = "60"
        await pilot.press("enter")
        await settle(pilot)
    assert [source.fields(i) for i in range(4)] == [
        {"level": 25},
        {"level": 5},
        {"scene": "safe"},
        {"level": 60},
    ]


# ------------------------------------------------------------------ palette, help, log


async def test_command_palette_offers_phase_moves_and_runs_commands(
    make_console: Callable[..., RoomConsole],
) -> None:
    source = alarm_source(DESAT)
    app = make_console(source)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        titles = [c.title for c in app.get_system_commands(app.screen)]
        for title in (
            "Phase: move to peak",
            "Phase: move to return",
            "Phase: move to integration",
            "Close the session",
            "Reset spo2.desat",
            "Start an NIBP reading now",
            "Lights: scene safe",
        ):
            assert title in titles
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"nibp")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await settle(pilot)
    assert source.verbs() == ["nibp_start"]


async def test_help_screen_lists_the_keys(
    source: FakeSource, make_console: Callable[..., RoomConsole]
) -> None:
    app = make_console(source)
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        text = screen_text(app)
        assert "acknowledge the selected alarm" in text
        assert "SECONDARY display" in text
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, RoomScreen)


async def test_event_log_takes_alarm_and_event_lines_once(
    source: FakeSource, make_console: Callable[..., RoomConsole]
) -> None:
    app = make_console(source)
    line = {
        "t": 1097.0,
        "type": "alarm",
        "transition": "raised",
        "code": "spo2.desat",
        "priority": "high",
        "kind": "physiological",
        "text": "SpO2 83 % < 85",
        "at": "2026-11-21T09:18:17Z",
        "room": ROOM,
        "run": "r1",
        "seq": 1,
    }
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        source.push(
            AlarmReceived(room=ROOM, line=line),
            AlarmReceived(room=ROOM, line=line),  # a QoS 1 repeat
            EventReceived(
                room=ROOM,
                line={
                    "type": "phase",
                    "phase": "peak",
                    "by": "therapist",
                    "at": "2026-11-21T09:18:30Z",
                    "run": "r1",
                    "seq": 1,
                },
            ),
            EventReceived(
                room=ROOM,
                line={
                    "type": "command_result",
                    "verb": "lights",
                    "ok": False,
                    "error": "unknown scene",
                    "command_id": "tablet-9",
                    "at": "2026-11-21T09:18:40Z",
                    "run": "r1",
                    "seq": 2,
                },
            ),
        )
        await settle(pilot)
        await pilot.press("5")
        await pilot.pause()
        text = screen_text(app)
    assert text.count("*** spo2.desat raised: SpO2 83 % < 85") == 1
    assert "09:18:17 *** spo2.desat raised" in text
    assert "09:18:30 phase: peak (by therapist)" in text
    assert "lights: refused (another console): unknown scene" in text


async def test_trend_tab_draws_the_hour_with_phases_and_alarm_marks(
    make_console: Callable[..., RoomConsole],
) -> None:
    source = FakeSource(items=live_room(session_time_s=400.0, phase="preparation"))
    app = make_console(source)
    async with app.run_test(size=(100, 34)) as pilot:
        await settle(pilot)
        for step in range(1, 40):
            spo2 = 97 if step < 20 else 84
            source.push(
                StateReceived(
                    room=ROOM,
                    state=room_state(
                        session_time_s=400.0 + step * 20,
                        spo2=spo2,
                        vitals_live=not 10 <= step < 14,
                        alarms=[DESAT] if step >= 30 else [],
                        phase="preparation" if step < 15 else "dosing",
                    ),
                )
            )
            # One at a time: states queued together coalesce to the newest
            # (FeedArrived.can_replace), as they should on a slow terminal.
            await pilot.pause()
        await settle(pilot)
        await pilot.press("2")
        await pilot.pause()
        text = screen_text(app)
    assert "phase" in text
    assert "alarms" in text
    assert "-60m" in text
    assert "now" in text
    assert "▲" in text  # spo2.desat raised
    assert "╌" in text  # samples the daemon marked not live: a gap, not a value
    phase_row = next(line for line in text.splitlines() if line.startswith("phase"))
    assert "P" in phase_row
    assert "D" in phase_row


async def test_wide_terminal_keeps_the_session_in_view(
    make_console: Callable[..., RoomConsole],
) -> None:
    app = make_console(alarm_source(DESAT))
    async with app.run_test(size=(160, 45)) as pilot:
        await settle(pilot)
        text = screen_text(app)
    assert "Discharge: NOT READY" in text  # the side column, without a tab switch
    assert "*** SpO2 83 % < 85" in text
    assert "SECONDARY DISPLAY: the bedside monitor's own alarms stay primary." in text


async def test_tabs_switch_with_number_keys(
    source: FakeSource, make_console: Callable[..., RoomConsole]
) -> None:
    app = make_console(source)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        tabs = app.screen.query_one(TabbedContent)
        for key, tab in zip(
            "23451",
            ["tab-trends", "tab-session", "tab-room", "tab-log", "tab-alarms"],
            strict=True,
        ):
            await pilot.press(key)
            await pilot.pause()
            assert tabs.active == tab
