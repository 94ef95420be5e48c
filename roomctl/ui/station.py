"""The nurse station: every room on the broker as a tile, most urgent first.

Rooms are found from the ``status`` and ``state`` topics of every room (``+``). Each
tile shows the room's phase and dose time, its key vitals (``--`` when not live), its
highest alarm in the priority colour (flashing while unacknowledged), and music and
light in a line. Tiles are ordered by their highest alarm (an offline room whose
session is not closed counts as MEDIUM: nobody relays its alarms), unacknowledged
before acknowledged, then by name. Enter (or a click) opens the room's screen; Esc
comes back.

A station may watch many rooms, each sending its state once a second, so it draws
only what changed: a new state redraws its room's tile alone, a tile whose words and
colours are the same as on the screen is left alone, tiles are re-sorted only when a
room's place in the order changes, and a tile's size never changes, so an update
needs no new layout. Flashing restyles the flashing tiles only.
"""

from __future__ import annotations

from bisect import bisect_left
from typing import TYPE_CHECKING, ClassVar, NamedTuple, TypeVar, Unpack

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.content import Content
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
    from collections.abc import Collection

    from textual import events
    from textual.app import ComposeResult
    from textual.screen import Screen

    from roomctl.events import AlarmPriority
    from roomctl.ui.base import ConsoleOptions
    from roomctl.ui.model import RoomModel
    from roomctl.ui.source import RoomSource
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


T = TypeVar("T")

#: The grey of secondary tile lines (Rich's ``grey62``, which Content styles do not
#: know by name).
GREY = "#9e9e9e"


def _order_key(model: RoomModel) -> tuple[int, int, str]:
    state = model.state
    unacked = state is not None and any(not a.acknowledged for a in state.alarms)
    return (-model.rank(), 0 if unacked else 1, model.room)


def _longest_increasing(items: list[T], keys: list[int]) -> list[T]:
    """The items of the longest run whose ``keys`` increase (patience sorting).

    >>> _longest_increasing(list("abcde"), [1, 0, 2, 4, 3])
    ['b', 'c', 'e']
    >>> _longest_increasing(list("abcd"), [3, 0, 1, 2])  # "a" moved to the end
    ['b', 'c', 'd']
    """
    tails: list[int] = []  # index of the smallest tail of each run length
    tail_keys: list[int] = []
    previous: list[int | None] = [None] * len(items)
    for index, key in enumerate(keys):
        length = bisect_left(tail_keys, key)
        if length > 0:
            previous[index] = tails[length - 1]
        if length == len(tails):
            tails.append(index)
            tail_keys.append(key)
        else:
            tails[length] = index
            tail_keys[length] = key
    run: list[T] = []
    at = tails[-1] if tails else None
    while at is not None:
        run.append(items[at])
        at = previous[at]
    return run[::-1]


class TileLook(NamedTuple):
    """Everything a room tile shows: its lines (text, style), words and colours."""

    lines: tuple[tuple[str, str], ...]
    #: The liveness word on the bottom border.
    subtitle: str
    priority: AlarmPriority | None
    unacknowledged: bool
    stale: bool
    offline: bool


def tile_look(view: RoomView) -> TileLook:
    """What the station's tile of ``view``'s room shows."""
    spo2 = vital_tile(view, Tile.SPO2)
    pulse = vital_tile(view, Tile.PULSE)
    nibp = nibp_tile(view)
    state = view.state
    top = view.model.top_alarm()
    lines = [
        (phase_line(view), "bold"),
        (f"SpO2 {spo2.value:>3}  PR {pulse.value:>3}  BP {nibp.short}", ""),
    ]
    if top is None:
        lines.append(("no alarms", GREY))
    else:
        count = len(state.alarms) if state is not None else 1
        more = f" (+{count - 1})" if count > 1 else ""
        lines.append((f"{alarm_line(top)}{more}", "bold"))
    extra = []
    if state is not None and state.music is not None:
        extra.append(f"music {state.music.state}")
    if state is not None and state.lights is not None:
        extra.append(f"light {state.lights.scene or '-'} {state.lights.level}%")
    lines.append((" | ".join(extra) or " ", GREY))
    return TileLook(
        lines=tuple(lines),
        subtitle=liveness_word(view),
        priority=None if top is None else top.priority,
        unacknowledged=top is not None and not top.acknowledged,
        stale=not view.live,
        offline=view.liveness is Liveness.OFFLINE,
    )


class RoomTile(PlainStatic, can_focus=True):
    """One room of the station."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("enter", "open", "Open room")]

    def __init__(self, room: str) -> None:
        super().__init__("")
        self.room = room
        """The room's name."""
        self.border_title = room
        self.look: TileLook | None = None
        """What the tile shows now (``None`` before the first ``show``)."""

    def show(self, view: RoomView) -> bool:
        """Update from ``view``; whether anything on the tile changed.

        A tile that would show the same is left alone: no restyle, no repaint.
        """
        look = tile_look(view)
        before = self.look
        if look == before:
            return False
        self.look = look
        if before is None or before.lines != look.lines:
            # Textual Content (not Rich Text, which would be converted on every
            # update); the tile's size is fixed by the CSS, so no layout pass.
            self.update(
                Content("\n").join(
                    Content.styled(text, style) for text, style in look.lines
                ),
                layout=False,
            )
        if before is None or before.subtitle != look.subtitle:
            self.border_subtitle = look.subtitle
        set_alarm_classes(
            self,
            look.priority,
            unacknowledged=look.unacknowledged,
            stale=look.stale,
        )
        self.set_class(look.offline, "-offline")
        return True

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

    def __init__(self) -> None:
        super().__init__()
        self._tiles: dict[str, RoomTile] = {}
        # Each room's place in the order as last sorted.
        self._keys: dict[str, tuple[int, int, str]] = {}
        self._title: tuple[object, ...] | None = None
        # The screen's parts, kept (a query walks the whole screen: 64 tiles).
        self._grid = VerticalScroll(id="grid", can_focus=False)
        self._title_bar = TitleBar("roomctl station", id="title")
        self._link = PlainStatic("", id="station-link")
        self._empty = PlainStatic("Waiting for rooms on the broker...", id="empty")
        self._column_width: int | None = None

    @property
    def console(self) -> ConsoleApp:
        """The app, as the console it is."""
        app = self.app
        if not isinstance(app, ConsoleApp):
            raise TypeError("StationScreen runs inside a ConsoleApp")
        return app

    def compose(self) -> ComposeResult:
        """Title, notice, the grid of rooms, keys."""
        yield self._title_bar
        yield SecondaryNotice(id="notice")
        yield self._link
        yield self._empty
        yield self._grid
        yield Footer()

    def on_mount(self) -> None:
        """First draw."""
        self.update_views()

    def on_screen_resume(self) -> None:
        """Back from a room: redraw."""
        self.update_views()

    def on_resize(self) -> None:
        """A new terminal size: columns of equal width again (after the layout)."""
        self.call_after_refresh(self._fit_columns)

    def _fit_columns(self) -> None:
        """Give the grid's columns one width, whatever the width of the terminal.

        With columns of unequal width (an odd width shared in two), a tile moving
        to the other column would change size when a room above it rises or falls:
        a new layout and a repaint for every tile it passes. One spare column at
        the right is the price.
        """
        grid = self._grid
        styles = grid.styles
        columns = max(1, styles.grid_size_columns)
        space = grid.scrollable_content_region.width
        space -= styles.grid_gutter_vertical * (columns - 1)  # between columns
        width = space // columns
        if width > 0 and width != self._column_width:
            self._column_width = width
            styles.grid_columns = str(width)

    def tiles(self) -> list[RoomTile]:
        """The tiles in their current order."""
        return list(self._grid.query_children(RoomTile))

    def update_views(self) -> None:
        """Redraw every room (ages and liveness move with the clock)."""
        self._update(None)

    def update_rooms(self, rooms: Collection[str]) -> None:
        """Redraw the tiles of ``rooms`` (their models changed)."""
        self._update(rooms)

    def _update(self, rooms: Collection[str] | None) -> None:
        grid = self._grid
        if not (self.is_mounted and grid.is_mounted and grid.is_attached):
            return  # not composed yet, or closing
        console = self.console
        added = self._add_tiles(grid)
        names = list(console.rooms) if rooms is None else rooms
        if self._reranked(names) or added:
            self._sort(grid)
        for name in names:
            tile = self._tiles.get(name)
            if tile is not None:
                tile.show(console.view(name))
        if added:
            self.call_after_refresh(self._focus_first)
            self.call_after_refresh(self._fit_columns)  # a scrollbar may have come
        self._draw_title(len(self._tiles))

    def _add_tiles(self, grid: VerticalScroll) -> bool:
        """A tile for each room heard of for the first time; whether any was added."""
        new = [RoomTile(name) for name in self.console.rooms if name not in self._tiles]
        for tile in new:
            self._tiles[tile.room] = tile
            self._keys[tile.room] = _order_key(self.console.rooms[tile.room])
        if new:
            grid.mount_all(new)
        return bool(new)

    def _reranked(self, names: Collection[str]) -> bool:
        """Whether any of these rooms changed its place in the order."""
        changed = False
        for name in names:
            model = self.console.rooms.get(name)
            if model is None:
                continue
            key = _order_key(model)
            if self._keys.get(name) != key:
                self._keys[name] = key
                changed = True
        return changed

    def _sort(self, grid: VerticalScroll) -> None:
        """Put the tiles in order, moving as few as possible.

        The tiles that keep their relative order (the longest run of them already in
        the new order) stay; each other tile moves once, next to its new neighbour.
        A room that rises to the top moves one tile, not every tile it passes.
        """
        order = sorted(self._tiles.values(), key=lambda tile: self._keys[tile.room])
        current = list(grid.query_children(RoomTile))
        if order == current:
            return
        position = {tile: index for index, tile in enumerate(current)}
        stay = set(_longest_increasing(order, [position[tile] for tile in order]))
        for index, tile in enumerate(order):
            if tile in stay:
                continue
            if index == 0:
                grid.move_child(tile, before=0)
            else:
                grid.move_child(tile, after=order[index - 1])

    def _focus_first(self) -> None:
        tiles = self.tiles()
        if tiles and not isinstance(self.focused, RoomTile):
            tiles[0].focus()

    def _draw_title(self, count: int) -> None:
        console = self.console
        title = (count, console.role, console.connected, console.connection_detail)
        if title == self._title:
            return
        self._title = title
        rooms = "1 room" if count == 1 else f"{count} rooms"
        right = Text(
            "LIVE" if console.connected else "NO BROKER",
            "bold" if console.connected else "bold yellow",
        )
        self._title_bar.set_parts(
            Text.assemble(("roomctl station", "bold"), f"  {rooms}  {console.role}"),
            right,
        )
        link = self._link
        link.display = not console.connected
        link.update(
            "NO LIVE DATA - the station is not connected to the broker: "
            f"{console.connection_detail}. Reconnecting."
        )
        self._empty.display = count == 0

    def blink(self, *, off: bool) -> None:
        """Flash the tiles of unacknowledged alarms (only they are restyled)."""
        for tile in self._tiles.values():
            tile.set_class(off and tile.has_class("-unack"), "-blink-off")

    def on_room_chosen(self, message: RoomChosen) -> None:
        """Open the chosen room on top of the station."""
        self.app.push_screen(RoomScreen(message.room, can_go_back=True))


class Station(ConsoleApp):
    """The nurse station: every room on the broker.

    Args:
        source: Where rooms come from and commands go (every room).
        open_room: A room to open at start, on top of the station (Esc shows the
            station); ``None``: the station.
        **options: ``ConsoleApp``'s options.
    """

    TITLE = "roomctl station"

    def __init__(
        self,
        source: RoomSource,
        *,
        open_room: str | None = None,
        **options: Unpack[ConsoleOptions],
    ) -> None:
        super().__init__(source, **options)
        self.open_room = open_room
        """The room opened at start, if any."""

    def on_mount(self) -> None:
        """Open the start room, if one was asked for."""
        if self.open_room is not None:
            self.push_screen(RoomScreen(self.open_room, can_go_back=True))

    def get_default_screen(self) -> Screen[None]:
        """The station's room grid."""
        return StationScreen()
