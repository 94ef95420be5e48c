"""RoomScreen: one treatment room for the nurse and the therapist.

Top to bottom: the title bar (room, phase, dose time, liveness, the room's clock), the
secondary-display notice, a banner when data is not live, the alarm banner, the vitals
tiles, then tabs (alarms, trends, session, music and light, log), the reply bar of the
last command and the keys. On wide terminals (120 columns and more) a side column
keeps the phase timeline, the trends, discharge readiness and the rise episodes in
view beside the tabs.

Every control sends one command through the app (``ConsoleApp.send_command``); phase
moves, closing the session and the infusion end ask for a confirmation first.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, ClassVar

from textual.app import SystemCommand
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.css.query import NoMatches
from textual.widgets import Footer, TabbedContent, TabPane

from roomctl.alarms.session import NEXT_PHASES
from roomctl.events import Phase
from roomctl.ui.base import ConsoleApp, ConsoleScreen
from roomctl.ui.dialogs import (
    LIGHT_SCENES,
    BaselineScreen,
    CloseSessionScreen,
    ConfirmScreen,
    LightsScreen,
    NoteScreen,
)
from roomctl.ui.state import Tile
from roomctl.ui.widgets.alarms import AlarmBanner, AlarmDetail, AlarmList
from roomctl.ui.widgets.chrome import LinkBanner, ReplyBar, SecondaryNotice, TitleBar
from roomctl.ui.widgets.log import EventLog
from roomctl.ui.widgets.media import LightsPanel, MusicPanel
from roomctl.ui.widgets.session import (
    BaselinePanel,
    DischargePanel,
    EpisodeCards,
    PhaseTimeline,
)
from roomctl.ui.widgets.trend import TrendPanel
from roomctl.ui.widgets.vitals import VitalTile

if TYPE_CHECKING:
    from collections.abc import Collection, Iterable

    from textual.app import ComposeResult

    from roomctl.ui.state import Alarm, RoomState

#: What the help screen lists (keep in step with ``BINDINGS``).
ROOM_HELP = """\
Alarms
  a        acknowledge the selected alarm (up/down in the Alarms tab selects)
  A        acknowledge every alarm
  p        pause the alarm audio (the banner counts down)
  r        reset the selected latched alarm (or the first latched one)
Session
  f        move to the next phase (asks first)
  c        close the session (shows discharge readiness; a reason if not ready)
  i        record the infusion end
  b        confirm the baseline, or override values with a reason
  B        start an NIBP reading now
  n        write a note into the session record
Music and light
  space    play / pause      k  skip      + / -  volume
  l        light scene or level          [ / ]  light level -/+ 10
Views
  1-5      tabs: alarms, trends, session, music & light, log
  ctrl+p   command palette: every command above, and any later phase
  ?        this help          Esc  the station: every room (station mode)
  ctrl+q   quit

This console is a SECONDARY display: the bedside monitor's alarms are primary and
relayed alarms may be delayed. Values that are not live show as -- or greyed, with
their age; every command shows the room's reply (or that none came)."""

#: Volume and light steps of the keys.
VOLUME_STEP = 5
LIGHT_STEP = 10


class RoomScreen(ConsoleScreen):
    """One room: vitals, alarms, trends, session, music and light, log."""

    HELP: ClassVar[str] = ROOM_HELP
    HORIZONTAL_BREAKPOINTS = [  # noqa: RUF012 -- Textual declares it so
        (0, "-narrow"),
        (120, "-wide"),
    ]
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "acknowledge", "Ack"),
        Binding("A", "acknowledge_all", "Ack all"),
        Binding("p", "audio_pause", "Pause audio"),
        Binding("r", "reset", "Reset"),
        Binding("f", "next_phase", "Next phase", show=False),
        Binding("c", "close_session", "Close session", show=False),
        Binding("i", "infusion_end", "Infusion end", show=False),
        Binding("b", "baseline", "Baseline", show=False),
        Binding("B", "nibp_now", "BP now", show=False),
        Binding("n", "note", "Note", show=False),
        Binding("space", "music_toggle", "Play/pause", show=False),
        Binding("k", "music_skip", "Skip", show=False),
        Binding("plus,equals_sign", f"volume({VOLUME_STEP})", "Vol +", show=False),
        Binding("minus", f"volume({-VOLUME_STEP})", "Vol -", show=False),
        Binding("l", "lights", "Lights", show=False),
        Binding("left_square_bracket", f"light_level({-LIGHT_STEP})", show=False),
        Binding("right_square_bracket", f"light_level({LIGHT_STEP})", show=False),
        Binding("1", "tab('tab-alarms')", "Alarms", show=False),
        Binding("2", "tab('tab-trends')", "Trends", show=False),
        Binding("3", "tab('tab-session')", "Session", show=False),
        Binding("4", "tab('tab-room')", "Music & light", show=False),
        Binding("5", "tab('tab-log')", "Log", show=False),
        # Shown (and working) only when this room was opened from the station.
        Binding("escape", "back", "Station"),
    ]

    def __init__(self, room: str, *, can_go_back: bool = False) -> None:
        super().__init__()
        self.room = room
        """The room shown."""
        self.can_go_back = can_go_back
        """Pushed from the station: Esc returns to it."""

    @property
    def console(self) -> ConsoleApp:
        """The app, as the console it is."""
        app = self.app
        if not isinstance(app, ConsoleApp):
            raise TypeError("RoomScreen runs inside a ConsoleApp")
        return app

    @property
    def state(self) -> RoomState | None:
        """The room's last state."""
        return self.console.room(self.room).state

    def compose(self) -> ComposeResult:
        """The room's layout (see the module docstring)."""
        yield TitleBar(f"room {self.room}", id="title")
        yield SecondaryNotice(id="notice")
        yield LinkBanner(id="link")
        yield AlarmBanner(id="banner")
        with Horizontal(id="tiles"):
            yield VitalTile(Tile.SPO2, id="tile-spo2")
            yield VitalTile(Tile.PULSE, id="tile-pulse")
            yield VitalTile(Tile.NIBP, id="tile-nibp")
        with Horizontal(id="body"):
            with TabbedContent(id="tabs", initial="tab-alarms"):
                with TabPane("1 Alarms", id="tab-alarms"):
                    yield AlarmList(id="alarm-list")
                    yield AlarmDetail(id="alarm-detail")
                with TabPane("2 Trends", id="tab-trends"):
                    yield TrendPanel(id="trend")
                with TabPane("3 Session", id="tab-session"), VerticalScroll():
                    yield PhaseTimeline(id="timeline")
                    yield BaselinePanel(id="baseline")
                    yield EpisodeCards(id="episodes")
                    yield DischargePanel(id="discharge")
                with TabPane("4 Music & light", id="tab-room"), VerticalScroll():
                    yield MusicPanel(id="music")
                    yield LightsPanel(id="lights")
                with TabPane("5 Log", id="tab-log"):
                    yield EventLog(id="log")
            with Vertical(id="side"):
                yield PhaseTimeline(id="side-timeline")
                yield TrendPanel(id="side-trend")
                with VerticalScroll(id="side-scroll"):
                    yield DischargePanel(id="side-discharge")
                    yield EpisodeCards(id="side-episodes")
        yield ReplyBar("", id="reply")
        yield Footer()

    def on_mount(self) -> None:
        """First draw, and the last reply if there was one."""
        self.update_views()
        last = self.console.replies.get(self.room)
        if last is not None:
            self.show_reply(self.room, *last)

    def on_screen_resume(self) -> None:
        """Coming back from a dialog or from the station: redraw."""
        self.update_views()

    # ------------------------------------------------------------ drawing

    def update_rooms(self, rooms: Collection[str]) -> None:
        """Redraw when this screen's room is among ``rooms``."""
        if self.room in rooms:
            self.update_views()

    def update_views(self) -> None:
        """Redraw every part from the room's model."""
        if not self.is_mounted or not self.query(AlarmList):
            return  # not composed yet, or closing
        try:
            self._draw()
        except NoMatches:
            # Composition is still under way (a state can arrive between two of the
            # screen's widgets mounting); the next update draws everything.
            return

    def _draw(self) -> None:
        view = self.console.view(self.room)
        self.query_one(TitleBar).show(view, role=self.console.role)
        self.query_one(LinkBanner).show(view)
        self.query_one(AlarmBanner).show(view)
        for tile in self.query(VitalTile):
            tile.show(view)
        alarms = self.query_one(AlarmList)
        alarms.show(view)
        self.query_one(AlarmDetail).show(view, alarms.selected)
        for trend in self.query(TrendPanel):
            trend.show(view)
        for timeline in self.query(PhaseTimeline):
            timeline.show(view)
        self.query_one(BaselinePanel).show(view)
        for episodes in self.query(EpisodeCards):
            episodes.show(view)
        for discharge in self.query(DischargePanel):
            discharge.show(view)
        self.query_one(MusicPanel).show(view)
        self.query_one(LightsPanel).show(view)
        self.query_one(EventLog).show(view)

    def show_reply(self, room: str, text: str, kind: str) -> None:
        """The reply bar shows this room's last command."""
        if room == self.room:
            for bar in self.query(ReplyBar):  # none while the screen closes
                bar.say(text, kind)

    def on_alarm_list_selection_changed(self) -> None:
        """The detail line follows the selection."""
        self.update_views()

    # ------------------------------------------------------------ helpers

    def _send(self, verb: str, fields: dict[str, object] | None = None) -> None:
        self.console.send_command(self.room, verb, fields or {})

    def _tell(self, text: str) -> None:
        """Say something on the reply bar without sending anything."""
        self.show_reply(self.room, text, "refused")

    def _alarms(self) -> tuple[Alarm, ...]:
        state = self.state
        return () if state is None else state.alarms

    def _selected(self) -> Alarm | None:
        return self.query_one(AlarmList).selected

    # ------------------------------------------------------------ alarms

    def action_acknowledge(self) -> None:
        """Acknowledge the selected alarm (else the first unacknowledged one)."""
        alarm = self._selected()
        if alarm is None or alarm.acknowledged:
            alarm = next((a for a in self._alarms() if not a.acknowledged), alarm)
        if alarm is None:
            self._tell("No alarm to acknowledge.")
            return
        self._send("acknowledge", {"code": alarm.code})

    def action_acknowledge_all(self) -> None:
        """Acknowledge every active alarm."""
        if not self._alarms():
            self._tell("No alarm to acknowledge.")
            return
        self._send("acknowledge")

    def action_audio_pause(self) -> None:
        """Pause the alarm audio (the room's configured time)."""
        self._send("audio_pause")

    def action_reset(self) -> None:
        """Reset the selected latched alarm, else the first latched one."""
        alarm = self._selected()
        if alarm is None or not alarm.latched:
            alarm = next((a for a in self._alarms() if a.latched), None)
        if alarm is None:
            self._tell("No latched alarm to reset.")
            return
        self._send("reset", {"code": alarm.code})

    # ------------------------------------------------------------ session

    def _later_phases(self) -> list[Phase]:
        state = self.state
        current = None if state is None else state.phase
        if current is None:
            return []
        return sorted(
            (*NEXT_PHASES[current], Phase.CLOSED)
            if current is not Phase.CLOSED
            else (),
            key=lambda phase: phase.order,
        )

    def action_next_phase(self) -> None:
        """Move to the next phase, after a confirmation."""
        later = self._later_phases()
        if not later:
            self._tell("The session has no next phase (closed, or its phase unknown).")
            return
        self.move_to(later[0])

    def move_to(self, phase: Phase) -> None:
        """Ask, then move to ``phase`` (closing has its own dialog)."""
        if phase is Phase.CLOSED:
            self.action_close_session()
            return
        body = "Phases only move forward; this cannot be undone."
        if phase is Phase.DOSING:
            body = "This marks the dose as given NOW (dose start, t = 0). " + body

        def answer(yes: bool | None) -> None:  # noqa: FBT001 -- the dialog result
            if yes:
                self._send("phase", {"phase": phase.value})

        self.app.push_screen(
            ConfirmScreen(
                f"Move room {self.room} to {phase.value.upper()}?",
                body,
                confirm=f"Move to {phase.value}",
            ),
            answer,
        )

    def action_close_session(self) -> None:
        """Close the session, after showing discharge readiness."""
        state = self.state

        def answer(reason: str | None) -> None:
            if reason is None:
                return
            fields: dict[str, object] = {"phase": Phase.CLOSED.value}
            if reason:
                fields["reason"] = reason
            self._send("phase", fields)

        self.app.push_screen(
            CloseSessionScreen(
                None if state is None else state.discharge,
                None if state is None else state.phase,
            ),
            answer,
        )

    def action_infusion_end(self) -> None:
        """Record the infusion end now, after a confirmation."""

        def answer(yes: bool | None) -> None:  # noqa: FBT001 -- the dialog result
            if yes:
                self._send("infusion_end")

        self.app.push_screen(
            ConfirmScreen(
                "Record the infusion end now?",
                "The NIBP cycle and the minimum monitoring count from it.",
                confirm="Infusion ended",
            ),
            answer,
        )

    def action_baseline(self) -> None:
        """Confirm the baseline or override values with a reason."""
        state = self.state

        def answer(fields: dict[str, object] | None) -> None:
            if fields is not None:
                self._send("baseline_confirm", fields)

        self.app.push_screen(
            BaselineScreen(None if state is None else state.baseline), answer
        )

    def action_nibp_now(self) -> None:
        """Start an NIBP determination now."""
        self._send("nibp_start")

    def action_note(self) -> None:
        """Write a note into the session record."""

        def answer(text: str | None) -> None:
            if text:
                self._send("note", {"text": text})

        self.app.push_screen(NoteScreen(), answer)

    # ------------------------------------------------------------ music, lights

    def action_music_toggle(self) -> None:
        """Pause while playing, else play."""
        state = self.state
        music = None if state is None else state.music
        playing = music is not None and music.state == "playing"
        self._send("music", {"action": "pause" if playing else "play"})

    def action_music_skip(self) -> None:
        """Skip to the next track."""
        self._send("music", {"action": "skip"})

    def action_music_stop(self) -> None:
        """Stop the music (palette only)."""
        self._send("music", {"action": "stop"})

    def action_volume(self, step: int) -> None:
        """Change the music volume by ``step`` percent."""
        state = self.state
        music = None if state is None else state.music
        if music is None or music.level is None:
            self._tell("The room has not reported a music volume.")
            return
        level = max(0, min(100, round(music.level) + step))
        self._send("music", {"action": "volume", "volume": level})

    def action_lights(self) -> None:
        """Choose a light scene or level."""
        state = self.state

        def answer(fields: dict[str, object] | None) -> None:
            if fields:
                self._send("lights", fields)

        self.app.push_screen(
            LightsScreen(None if state is None else state.lights), answer
        )

    def action_light_level(self, step: int) -> None:
        """Change the light level by ``step`` percent."""
        state = self.state
        lights = None if state is None else state.lights
        if lights is None or lights.level is None:
            self._tell("The room has not reported a light level.")
            return
        self._send("lights", {"level": max(0, min(100, lights.level + step))})

    # ------------------------------------------------------------ views

    def action_tab(self, tab: str) -> None:
        """Show tab ``tab``."""
        self.query_one(TabbedContent).active = tab

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Esc leads back to the station only where there is one."""
        del parameters
        return self.can_go_back if action == "back" else True

    def action_back(self) -> None:
        """Back to the station (when this screen was opened from it)."""
        if self.can_go_back:
            self.app.pop_screen()

    def palette_commands(self) -> Iterable[SystemCommand]:
        """Every control of this screen, and each phase the session may move to."""
        for phase in self._later_phases():
            title = (
                "Close the session"
                if phase is Phase.CLOSED
                else f"Phase: move to {phase.value}"
            )
            yield SystemCommand(
                title,
                f"Room {self.room}: asks for a confirmation first",
                partial(self.move_to, phase),
            )
        yield SystemCommand(
            "Acknowledge all alarms",
            "Silence every active alarm's audio",
            self.action_acknowledge_all,
        )
        yield SystemCommand(
            "Pause alarm audio", "The room's audio pause", self.action_audio_pause
        )
        for alarm in self._alarms():
            if alarm.latched:
                yield SystemCommand(
                    f"Reset {alarm.code}",
                    alarm.text,
                    partial(self._send, "reset", {"code": alarm.code}),
                )
        yield SystemCommand(
            "Start an NIBP reading now", "nibp_start", self.action_nibp_now
        )
        yield SystemCommand("Write a note", "Into the session record", self.action_note)
        yield SystemCommand(
            "Confirm or override the baseline", "baseline_confirm", self.action_baseline
        )
        yield SystemCommand(
            "Record the infusion end", "infusion_end", self.action_infusion_end
        )
        yield SystemCommand("Music: play / pause", "music", self.action_music_toggle)
        yield SystemCommand("Music: skip", "music", self.action_music_skip)
        yield SystemCommand("Music: stop", "music", self.action_music_stop)
        for scene in LIGHT_SCENES:
            yield SystemCommand(
                f"Lights: scene {scene}",
                "lights",
                partial(self._send, "lights", {"scene": scene}),
            )
