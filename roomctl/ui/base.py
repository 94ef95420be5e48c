"""ConsoleApp: what the room console and the station share.

Runs the ``RoomSource`` in a worker, folds what it delivers into one ``RoomModel`` per
room, refreshes the screens (the rooms that changed, and once a second every room, so
ages and countdowns move and silence turns into "no data"), blinks what is
unacknowledged, and sends commands: each gets an ``id`` and the console's role as
``by``, is checked with ``roomctl.commands.validate_command`` before it leaves, and
its reply (or the lack of one) is shown on the reply bar, in the log and, when
refused, as a notification.

Every item is folded into its room's model as it arrives: no alarm line, state or
event is skipped, so the log, the trend and its alarm marks are complete. Drawing is
coalesced: the rooms an item changed are noted, and one redraw after the items
already queued shows each of them once, from its latest state. A station that falls
behind therefore catches up in one frame instead of drawing every old state.
"""

from __future__ import annotations

import gc
import secrets
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, TypedDict

from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import ModalScreen, Screen
from textual.worker import Worker, WorkerState

from roomctl.commands import CommandInvalid, validate_command
from roomctl.ui.dialogs import HelpScreen
from roomctl.ui.messages import CommandAnswered, CommandSent, FeedArrived
from roomctl.ui.model import LogEntry, LogKind, RoomModel
from roomctl.ui.source import (
    DEFAULT_REPLY_TIMEOUT_S,
    AlarmReceived,
    BrokerLink,
    CommandReply,
    EventReceived,
    StateReceived,
    StatusReceived,
)
from roomctl.ui.view import RoomView, describe_command

if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Iterable, Mapping
    from datetime import tzinfo

    from roomctl.ui.source import FeedItem, RoomSource

#: The stylesheet shared by the console and the station.
CSS_FILE = Path(__file__).with_name("roomctl.tcss")
#: Alarm flashing: on/off period halves (about 1 Hz, as monitors flash).
BLINK_S = 0.5


class ConsoleOptions(TypedDict, total=False):
    """``ConsoleApp``'s keyword options, for subclasses that pass them on."""

    role: str
    clock: Callable[[], float]
    wall: Callable[[], datetime]
    tz: tzinfo | None
    blink_s: float | None
    tick_s: float | None
    id_prefix: str | None
    reply_timeout_s: float
    blink_cursor: bool
    gc_freeze: bool


def utc_now() -> datetime:
    """The machine's time, UTC (for the console's own log lines)."""
    return datetime.now(UTC)


class ConsoleScreen(Screen[None]):
    """A screen that shows rooms; the app calls ``update_views`` when they change."""

    #: What the help screen says about this screen's keys.
    HELP: ClassVar[str] = ""

    def update_views(self) -> None:
        """Redraw from the app's room models."""

    def update_rooms(self, rooms: Collection[str]) -> None:
        """Redraw what shows ``rooms`` (their models changed); by default, all."""
        del rooms
        self.update_views()

    def blink(self, *, off: bool) -> None:
        """One half period of the flashing: ``off`` drops the fill of what flashes."""
        self.set_class(off, "-blink-off")

    def show_reply(self, room: str, text: str, kind: str) -> None:
        """A command's progress or outcome for ``room``."""

    def palette_commands(self) -> Iterable[SystemCommand]:
        """Commands this screen adds to the command palette."""
        return ()


class ConsoleApp(App[int]):
    """Base of ``RoomConsole`` and ``Station``.

    Args:
        source: Where rooms come from and commands go.
        role: ``nurse`` or ``therapist``, sent as every command's ``by``.
        clock: Monotonic seconds (ages and staleness); injectable for tests.
        wall: The time of the console's own log lines.
        tz: Zone for clock times (``None``: the machine's).
        blink_s: Flash period half; ``None`` never flashes (the "on" look stays).
        tick_s: How often ages and countdowns refresh; ``None``: only on new data.
        id_prefix: Command ids are ``<prefix>-<n>``; random when ``None``.
        reply_timeout_s: How long to wait for a room's reply.
        blink_cursor: Blinking text cursors (off for deterministic screenshots).
        gc_freeze: After start-up, move every object alive then out of the garbage
            collector's scans (``gc.freeze``): full collections of a long-running
            console then take milliseconds, not tens of them. On for the real
            console (``roomctl.ui.app.build_console``); off by default, so a test
            process running many apps keeps collecting them.
    """

    CSS_PATH = str(CSS_FILE)
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("question_mark,f1", "help", "Help"),
        # Ctrl-C quits, as in any terminal program (the room keeps running: the
        # console is only a window onto it).
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True),
    ]

    def __init__(
        self,
        source: RoomSource,
        *,
        role: str = "nurse",
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], datetime] = utc_now,
        tz: tzinfo | None = None,
        blink_s: float | None = BLINK_S,
        tick_s: float | None = 1.0,
        id_prefix: str | None = None,
        reply_timeout_s: float = DEFAULT_REPLY_TIMEOUT_S,
        blink_cursor: bool = True,
        gc_freeze: bool = False,
    ) -> None:
        super().__init__()
        # No sliding underlines or smooth scrolls: a clinical display moves only
        # when its data does (and it makes tests fast and deterministic).
        self.animation_level = "none"
        self.source = source
        self.role = role
        self.clock = clock
        self.wall = wall
        self.tz = tz
        self.blink_s = blink_s
        self.tick_s = tick_s
        self.reply_timeout_s = reply_timeout_s
        self.blink_cursor = blink_cursor
        self.id_prefix = id_prefix or f"console-{secrets.token_hex(3)}"
        self.rooms: dict[str, RoomModel] = {}
        """Every room heard of, by name."""
        self.connected = False
        """Whether the source is connected to the broker."""
        self.connection_detail = "connecting to the broker"
        self.replies: dict[str, tuple[str, str]] = {}
        """The last command line per room: ``(text, kind)``."""
        self.blink_off = False
        """The flashing's "off" half is showing."""
        self.gc_freeze = gc_freeze
        self._sent = 0
        # Payloads of commands awaiting their reply, to describe the reply.
        self._payloads: dict[str, dict[str, object]] = {}
        # Rooms changed since the last redraw (``None`` in it: redraw every room),
        # and whether that redraw is already scheduled.
        self._dirty: set[str | None] = set()
        self._redraw_scheduled = False

    # ------------------------------------------------------------ life

    def on_mount(self) -> None:
        """Start the feed and the timers."""
        self.run_worker(
            self.source.run(self._deliver),
            name="feed",
            group="feed",
            exit_on_error=False,
        )
        if self.tick_s is not None:
            self.set_interval(self.tick_s, self.update_views)
        if self.blink_s is not None:
            self.set_interval(self.blink_s, self.blink)
        if self.gc_freeze:
            self.call_after_refresh(self._freeze_startup)

    def _freeze_startup(self) -> None:
        # Start-up objects (Textual, the stylesheet, the screens) live as long as the
        # console: keep them out of every later collection.
        gc.collect()
        gc.freeze()

    def _deliver(self, item: FeedItem) -> None:
        self.post_message(FeedArrived(item))

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """The feed must never end; if it does, say so on every screen."""
        worker = event.worker
        if worker.name == "feed" and event.state is WorkerState.ERROR:
            self.connected = False
            self.connection_detail = f"the console's feed stopped: {worker.error}"
            self.update_views()

    def room(self, name: str) -> RoomModel:
        """The model of room ``name`` (created on first mention)."""
        model = self.rooms.get(name)
        if model is None:
            model = self.rooms[name] = RoomModel(name)
        return model

    def view(self, name: str) -> RoomView:
        """Room ``name`` as the console sees it now."""
        return RoomView(
            model=self.room(name),
            now=self.clock(),
            connected=self.connected,
            connection_detail=self.connection_detail,
            tz=self.tz,
        )

    # ------------------------------------------------------------ feed

    def on_feed_arrived(self, message: FeedArrived) -> None:
        """Fold one item into the models; redraw its room after the queued items."""
        item = message.item
        match item:
            case BrokerLink():
                self._on_link(item)
                self._dirty.add(None)  # every room's liveness depends on the link
            case StatusReceived():
                if self.room(item.room).on_status(online=item.online):
                    word = "online" if item.online else "OFFLINE"
                    self.room(item.room).note(
                        LogEntry(
                            at=self.wall(),
                            text=f"room {item.room} is {word}",
                            kind=LogKind.DONE if item.online else LogKind.LINK,
                        )
                    )
            case StateReceived():
                self.room(item.room).on_state(
                    item.state,
                    retained=item.retained,
                    now=self.clock(),
                    wall_now=self.wall(),
                )
            case AlarmReceived():
                self.room(item.room).on_alarm(item.line)
            case EventReceived():
                self.room(item.room).on_event(item.line)
        if not isinstance(item, BrokerLink):
            self._dirty.add(item.room)
        if not self._redraw_scheduled:
            # After every item already queued: a burst of items is drawn once.
            self._redraw_scheduled = self.call_later(self._redraw)

    def _redraw(self) -> None:
        self._redraw_scheduled = False
        dirty, self._dirty = self._dirty, set()
        if None in dirty:
            self.update_views()
            return
        rooms = {room for room in dirty if room is not None}
        for screen in self._shown_screens():
            screen.update_rooms(rooms)

    def _shown_screens(self) -> list[ConsoleScreen]:
        """The room screens on view: the top one, and those a dialog leaves visible.

        A screen covered by another full screen (the station under an open room) is
        not drawn; it redraws everything when it is shown again (screen resume).
        """
        shown: list[ConsoleScreen] = []
        for screen in reversed(self.screen_stack):
            if isinstance(screen, ConsoleScreen):
                shown.append(screen)
            if not isinstance(screen, ModalScreen):
                break
        return shown

    def _on_link(self, link: BrokerLink) -> None:
        changed = link.connected != self.connected
        self.connected = link.connected
        self.connection_detail = link.detail
        if not changed:
            return  # another failed reconnect: the detail is enough
        text = (
            f"console connected to the broker {link.detail}"
            if link.connected
            else f"console lost the broker: {link.detail}"
        )
        kind = LogKind.DONE if link.connected else LogKind.LINK
        for model in self.rooms.values():
            model.note(LogEntry(at=self.wall(), text=text, kind=kind))

    def update_views(self) -> None:
        """Redraw every room on the screens on view (ages, countdowns, liveness)."""
        for screen in self._shown_screens():
            screen.update_views()

    def blink(self) -> None:
        """One half period of the flashing of unacknowledged alarms."""
        self.blink_off = not self.blink_off
        for screen in self.screen_stack:
            if isinstance(screen, ConsoleScreen):
                screen.blink(off=self.blink_off)
            else:
                screen.set_class(self.blink_off, "-blink-off")

    # ------------------------------------------------------------ commands

    def send_command(
        self, room: str, verb: str, fields: Mapping[str, object]
    ) -> str | None:
        """Send ``verb`` with ``fields`` to ``room``; its id, or ``None`` if not sent.

        The command is checked here first: one the room would refuse for its shape
        is not sent, and the reason is shown at once.
        """
        self._sent += 1
        command_id = f"{self.id_prefix}-{self._sent}"
        payload: dict[str, object] = {**fields, "by": self.role, "id": command_id}
        words = describe_command(verb, payload)
        try:
            validate_command(verb, payload)
        except CommandInvalid as exc:
            self._say(room, f"NOT SENT {words}: {exc}", LogKind.REFUSED, "refused")
            return None
        self.room(room).own_command_ids.add(command_id)
        self._payloads[command_id] = payload
        self.post_message(CommandSent(room, verb, payload, command_id))
        self._say(room, f"... {words}: sent, waiting for the room", None, "pending")
        self.run_worker(
            self._await_reply(room, verb, payload),
            group="commands",
            exit_on_error=False,
        )
        return command_id

    async def _await_reply(
        self, room: str, verb: str, payload: Mapping[str, object]
    ) -> None:
        command_id = str(payload["id"])
        try:
            reply = await self.source.command(
                room, verb, payload, timeout_s=self.reply_timeout_s
            )
        except Exception as exc:  # noqa: BLE001 -- a source bug must still be shown
            reply = CommandReply(
                ok=False, error=str(exc), command_id=command_id, answered=False
            )
        self.post_message(CommandAnswered(room, verb, reply))

    def on_command_answered(self, message: CommandAnswered) -> None:
        """Show the reply: done, refused with its reason, or no answer."""
        reply = message.reply
        payload = self._payloads.pop(reply.command_id, {})
        words = describe_command(message.verb, payload or {"id": reply.command_id})
        if reply.ok:
            self._say(message.room, f"OK {words}: done", LogKind.DONE, "done")
            return
        if reply.answered:
            text = f"REFUSED {words}: {reply.error}"
        else:
            text = f"NO REPLY {words}: {reply.error}"
        self._say(message.room, text, LogKind.REFUSED, "refused")
        self.notify(text, title=f"room {message.room}", severity="error", timeout=8)

    def _say(self, room: str, text: str, log: LogKind | None, kind: str) -> None:
        self.replies[room] = (text, kind)
        if log is not None:
            self.room(room).note(LogEntry(at=self.wall(), text=text, kind=log))
        for screen in self.screen_stack:
            if isinstance(screen, ConsoleScreen):
                screen.show_reply(room, text, kind)
        for screen in self._shown_screens():
            screen.update_rooms({room})

    # ------------------------------------------------------------ help, palette

    def action_help(self) -> None:
        """Show the keys of the current screen."""
        screen = self.screen
        if isinstance(screen, ConsoleScreen):
            self.push_screen(HelpScreen(screen.HELP))

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        """Textual's commands, then the room's (phase moves, alarms, music ...)."""
        yield from super().get_system_commands(screen)
        if isinstance(screen, ConsoleScreen):
            yield from screen.palette_commands()
