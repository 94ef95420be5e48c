"""The room console (``RoomConsole``) and the console's entry points.

``run_console`` is what ``roomctl console`` calls: one room (``--room``), or the nurse
station (``--station``, or no room given) for every room on the broker; both
(``--station --room ROOM``) open that room first, with Esc to the station and Enter
back into a room (the demo runs it so). The console
is its own process reading the room over MQTT (``roomctl.ui.mqtt_client``), so it
runs beside the patient or at a desk down the hall; it is a secondary display and
says so on every screen.

``python -m roomctl.ui.app --help`` runs it without the rest of the CLI.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, TypedDict, Unpack

from pydantic import ValidationError

from roomctl import SAFETY_NOTICE
from roomctl.mqtt.settings import is_topic_level
from roomctl.ui.base import ConsoleApp
from roomctl.ui.mqtt_client import MqttSource
from roomctl.ui.room_screen import RoomScreen
from roomctl.ui.station import Station

if TYPE_CHECKING:
    from textual.screen import Screen

    from roomctl.ui.base import ConsoleOptions
    from roomctl.ui.source import RoomSource

#: ``by`` values a console may send (``roomctl.commands``).
ROLES = ("nurse", "therapist")
#: Exit codes (contracts.md §1).
EXIT_OK = 0
EXIT_BAD_INPUT = 2


class RoomConsole(ConsoleApp):
    """The console for one room.

    Args:
        source: Where the room comes from and commands go.
        room: The room's name (its topic level).
        **options: ``ConsoleApp``'s options (role, clocks, blinking ...).
    """

    TITLE = "roomctl console"

    def __init__(
        self, source: RoomSource, room: str, **options: Unpack[ConsoleOptions]
    ) -> None:
        super().__init__(source, **options)
        self.room_name = room
        """The room shown."""

    def get_default_screen(self) -> Screen[None]:
        """The room's screen."""
        return RoomScreen(self.room_name)


class ConsoleTarget(TypedDict, total=False):
    """Who the console speaks as, and how it reaches the rooms' broker."""

    role: str
    """``by`` of its commands: ``nurse`` (default) or ``therapist``."""
    topic_root: str
    """The daemons' ``[mqtt] topic_root`` (default ``roomctl``)."""
    username: str | None
    """Broker user name."""
    password: str | None
    """Broker password."""
    cafile: str | None
    """The CA (PEM) that signed an ``mqtts://`` broker's certificate."""


def build_console(
    *,
    broker_url: str,
    room: str | None,
    station: bool,
    **target: Unpack[ConsoleTarget],
) -> ConsoleApp:
    """The console app for these options, reading a real broker.

    ``station`` with a ``room``: the station, with that room open on top of it.

    Raises:
        ValueError: a bad URL, room name, role or topic root (the message says why).
    """
    role = target.get("role", "nurse")
    if role not in ROLES:
        raise ValueError(f"role must be one of: {', '.join(ROLES)}")
    if room is not None and not is_topic_level(room):
        raise ValueError(
            f"room {room!r} is not a room name (letters, digits, - and _ only)"
        )
    try:
        source = MqttSource(
            broker_url,
            room=None if station or room is None else room,
            topic_root=target.get("topic_root", "roomctl"),
            username=target.get("username"),
            password=target.get("password"),
            cafile=target.get("cafile"),
        )
    except ValidationError as exc:
        problems = "; ".join(
            str(error["msg"]).removeprefix("Value error, ") for error in exc.errors()
        )
        raise ValueError(problems) from None
    if station or room is None:
        return Station(source, role=role, open_room=room, gc_freeze=True)
    return RoomConsole(source, room, role=role, gc_freeze=True)


def run_console(
    *,
    broker_url: str,
    room: str | None,
    station: bool,
    **target: Unpack[ConsoleTarget],
) -> int:
    """Run the console in this terminal until the user quits; the exit code.

    One room with ``room``; the station with ``station=True`` or ``room=None``.
    Returns 2 (with a message on stderr) for bad options, else 0.
    """
    try:
        app = build_console(broker_url=broker_url, room=room, station=station, **target)
    except ValueError as exc:
        print(f"roomctl console: {exc}", file=sys.stderr)  # noqa: T201
        return EXIT_BAD_INPUT
    app.run()
    return EXIT_OK


async def run_console_async(
    *,
    broker_url: str,
    room: str | None,
    station: bool,
    **target: Unpack[ConsoleTarget],
) -> int:
    """``run_console`` inside a running event loop (the demo); the exit code.

    Raises:
        ValueError: bad options (the message says why).
    """
    app = build_console(broker_url=broker_url, room=room, station=station, **target)
    await app.run_async()
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    """The console's own arguments (``roomctl console`` takes the same)."""
    parser = argparse.ArgumentParser(
        prog="python -m roomctl.ui.app",
        description=f"The roomctl nurse console. {SAFETY_NOTICE}",
    )
    parser.add_argument(
        "--broker",
        default="mqtt://127.0.0.1:1883",
        metavar="URL",
        help="the rooms' broker, mqtt://host[:port] or mqtts://host[:port]",
    )
    parser.add_argument("--room", help="the room to show (default: the station)")
    parser.add_argument(
        "--station",
        action="store_true",
        help="every room on the broker (with --room: that room open first; "
        "Esc shows the station)",
    )
    parser.add_argument(
        "--role",
        choices=ROLES,
        default="nurse",
        help="who gives this console's commands (their 'by')",
    )
    parser.add_argument(
        "--topic-root", default="roomctl", help="the daemons' [mqtt] topic_root"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` and run the console; the exit code."""
    args = build_parser().parse_args(argv)
    return run_console(
        broker_url=args.broker,
        room=args.room,
        station=args.station,
        role=args.role,
        topic_root=args.topic_root,
    )


if __name__ == "__main__":
    raise SystemExit(main())
