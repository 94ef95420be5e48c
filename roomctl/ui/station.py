"""The nurse station: every room on the broker as a tile, most urgent first.

Rooms are found from the ``status`` and ``state`` topics of every room (``+``). Each
tile shows the room's phase and dose time, its key vitals (``--`` when not live), its
highest alarm in the priority colour (flashing while unacknowledged), and music and
light in a line. Tiles are ordered by their highest alarm (an offline room whose
session is not closed counts as MEDIUM: nobody relays its alarms), unacknowledged
before acknowledged, then by name. Enter (or a click) opens the room's screen; Esc
comes back.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import Footer

from roomctl.ui.base import ConsoleApp, ConsoleScreen
from roomctl.ui.messages import RoomChosen
from roomctl.ui.model import Liveness
from roomctl.ui.room_screen import RoomScreen
from roomctl.ui.state import Tile
from roomctl.ui.view import (
    alarm_line,
    liveness_word,
    nibp_tile,
    phase_line,
    vital_tile,
)
from roomctl.ui.widgets import PlainStatic, set_alarm_classes
from roomctl.ui.widgets.chrome import SecondaryNotice, TitleBar

if TYPE_CHECKING:
    from textual import events
    from textual.app import ComposeResult
    from textual.screen import Screen

    from roomctl.ui.model import RoomModel
    from roomctl.ui.view import RoomView

STATION_HELP = """\
  up/down, tab   move between rooms (most urgent first)
  enter          open the room (its own keys: ? there)
  esc            back to the station from a room
  ctrl+p         command palette      ctrl+q  quit

Tiles: phase and dose time; SpO2, PR and the last NIBP (-- when not live);
the highest alarm in its colour (red high, yellow medium, cyan low), flashing
while not acknowledged; grey when the room is offline or silent.

This station is a SECONDARY display: the bedside monitors' alarms are primary and
relayed alarms may be delayed."""


def _order_key(model: RoomModel) -> tuple[int, int, str]:
    state = model.state
    unacked = state is not None and any(not a.acknowledged for a in state.alarms)
    return (-model.rank(), 0 if unacked else 1, model.room)


class RoomTile(PlainStatic, can_focus=True):
    """One room of the station."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("enter", "open", "Open room")]

    def __init__(self, room: str) -> None:
        super().__init__("")
        self.room = room
        """The room's name."""

    def show(self, view: RoomView) -> None:
        """Update from ``view``."""
        spo2 = vital_tile(view, Tile.SPO2)
        pulse = vital_tile(view, Tile.PULSE)
        nibp = nibp_tile(view)
        state = view.state
        top = view.model.top_alarm()
        lines = [
            Text(phase_line(view), "bold"),
            Text(f"SpO2 {spo2.value:>3}  PR {pulse.value:>3}  BP {nibp.short}"),
        ]
        if top is None:
            lines.append(Text("no alarms", "grey62"))
        else:
            count = len(state.alarms) if state is not None else 1
            more = f" (+{count - 1})" if count > 1 else ""
            lines.append(Text(f"{alarm_line(top)}{more}", "bold"))
        extra = []
        if state is not None and state.music is not None:
            extra.append(f"music {state.music.state}")
        if state is not None and state.lights is not None:
            extra.append(f"light {state.lights.scene or '-'} {state.lights.level}%")
        lines.append(Text(" | ".join(extra) or " ", "grey62"))
        self.update(Text("\n").join(lines))
        self.border_title = view.room
        self.border_subtitle = liveness_word(view)
        live = view.live
        set_alarm_classes(
            self,
            None if top is None else top.priority,
            unacknowledged=top is not None and not top.acknowledged,
            stale=not live,
        )
        self.set_class(view.liveness is Liveness.OFFLINE, "-offline")

    def action_open(self) -> None:
        """Open this room."""
        self.post_message(RoomChosen(self.room))

    def on_click(self, event: events.Click) -> None:
        """A click opens the room too."""
        event.stop()
        self.action_open()


class StationScreen(ConsoleScreen):
    """All rooms, most urgent first."""

    HELP: ClassVar[str] = STATION_HELP
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("down,right", "app.focus_next", "Next room", show=False),
        Binding("up,left", "app.focus_previous", "Previous room", show=False),
    ]

    @property
    def console(self) -> ConsoleApp:
        """The app, as the console it is."""
        app = self.app
        if not isinstance(app, ConsoleApp):
            raise TypeError("StationScreen runs inside a ConsoleApp")
        return app

    def compose(self) -> ComposeResult:
        """Title, notice, the grid of rooms, keys."""
        yield TitleBar("roomctl station", id="title")
        yield SecondaryNotice(id="notice")
        yield PlainStatic("", id="station-link")
        yield PlainStatic("Waiting for rooms on the broker...", id="empty")
        yield VerticalScroll(id="grid", can_focus=False)
        yield Footer()

    def on_mount(self) -> None:
        """First draw."""
        self.update_views()

    def on_screen_resume(self) -> None:
        """Back from a room: redraw."""
        self.update_views()

    def tiles(self) -> list[RoomTile]:
        """The tiles in their current order."""
        return list(self.query_one("#grid").query_children(RoomTile))

    def update_views(self) -> None:
        """Add tiles for new rooms, order them, redraw each."""
        if not self.is_mounted or not self.query("#grid"):
            return  # not composed yet, or closing
        console = self.console
        grid = self.query_one("#grid", VerticalScroll)
        tiles = {tile.room: tile for tile in self.tiles()}
        for name in console.rooms:
            if name not in tiles:
                tiles[name] = RoomTile(name)
                grid.mount(tiles[name])
        order = [
            tiles[model.room]
            for model in sorted(console.rooms.values(), key=_order_key)
        ]
        for index, tile in enumerate(order):
            children = list(grid.children)
            if index < len(children) and children[index] is not tile:
                grid.move_child(tile, before=children[index])
        for tile in order:
            tile.show(console.view(tile.room))
        if order and not isinstance(self.focused, RoomTile):
            self.call_after_refresh(self._focus_first)
        self._draw_title(len(order))

    def _focus_first(self) -> None:
        tiles = self.tiles()
        if tiles and not isinstance(self.focused, RoomTile):
            tiles[0].focus()

    def _draw_title(self, count: int) -> None:
        console = self.console
        rooms = "1 room" if count == 1 else f"{count} rooms"
        right = Text(
            "LIVE" if console.connected else "NO BROKER",
            "bold" if console.connected else "bold yellow",
        )
        self.query_one(TitleBar).set_parts(
            Text.assemble(("roomctl station", "bold"), f"  {rooms}  {console.role}"),
            right,
        )
        link = self.query_one("#station-link", PlainStatic)
        link.display = not console.connected
        link.update(
            "NO LIVE DATA - the station is not connected to the broker: "
            f"{console.connection_detail}. Reconnecting."
        )
        self.query_one("#empty").display = count == 0

    def on_room_chosen(self, message: RoomChosen) -> None:
        """Open the chosen room on top of the station."""
        self.app.push_screen(RoomScreen(message.room, can_go_back=True))


class Station(ConsoleApp):
    """The nurse station: every room on the broker."""

    TITLE = "roomctl station"

    def get_default_screen(self) -> Screen[None]:
        """The station's room grid."""
        return StationScreen()
