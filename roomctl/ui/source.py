"""What the console reads and sends: the ``RoomSource`` port and its feed items.

Pure module (no Textual, no MQTT). The console never talks to a broker itself: it runs
a ``RoomSource``, which delivers ``FeedItem`` values (a room's status, its state
document, its alarm and event lines, and the console's own link to the broker) and
carries commands to a room and back. ``roomctl.ui.mqtt_client.MqttSource`` is the real
one (contracts.md §4); tests drive the console with a fake that implements this
protocol.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, TypeAlias

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

#: How long the console waits for a room's reply to a command, by default.
DEFAULT_REPLY_TIMEOUT_S = 5.0


@dataclass(frozen=True, slots=True, kw_only=True)
class BrokerLink:
    """The console's own connection to the broker came up or went down."""

    connected: bool
    #: In words: the broker's address when up, what went wrong when down.
    detail: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class StatusReceived:
    """A room's retained ``status``: ``online`` or ``offline`` (the daemon's will)."""

    room: str
    online: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class StateReceived:
    """A room's ``state`` document (``roomctl.roomstate`` plus ``engine`` and more)."""

    room: str
    state: Mapping[str, object]
    #: The broker replayed its retained copy on subscription: it may be old.
    retained: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class AlarmReceived:
    """One ``alarms`` line: a contracts.md §3 ``alarm`` with room, at, run and seq."""

    room: str
    line: Mapping[str, object]


@dataclass(frozen=True, slots=True, kw_only=True)
class EventReceived:
    """One ``events`` line: phase, episode, link or command result."""

    room: str
    line: Mapping[str, object]


#: Everything a source delivers.
FeedItem: TypeAlias = (
    BrokerLink | StatusReceived | StateReceived | AlarmReceived | EventReceived
)


@dataclass(frozen=True, slots=True, kw_only=True)
class CommandReply:
    """What came back for one command."""

    #: The room carried it out.
    ok: bool
    #: Why not, in words (the room's reason, or why no answer came).
    error: str = ""
    #: The ``id`` the console gave the command.
    command_id: str = ""
    #: ``False`` when no reply came at all (timeout, no broker): the command may or
    #: may not have been carried out.
    answered: bool = True


class RoomSource(Protocol):
    """The console's port to the rooms.

    ``run`` connects, delivers feed items in the order they arrive and reconnects by
    itself; it returns only when cancelled (it never raises anything else). ``command``
    publishes one command and waits for the room's reply with the same ``id``.
    """

    async def run(self, deliver: Callable[[FeedItem], None]) -> None:
        """Deliver feed items until cancelled."""
        ...

    async def command(
        self,
        room: str,
        verb: str,
        payload: Mapping[str, object],
        *,
        timeout_s: float = DEFAULT_REPLY_TIMEOUT_S,
    ) -> CommandReply:
        """Send ``payload`` (with its ``id``) to ``room``'s ``cmd/<verb>``; its reply.

        Never raises for a missing broker or a silent room: the reply says
        ``answered=False`` with the reason instead.
        """
        ...
