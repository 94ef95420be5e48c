"""Textual messages of the console, named for what happened.

``FeedArrived`` carries one ``roomctl.ui.source`` item into the app; a newer state of
the same room replaces one still queued (toolong's ``can_replace``), so a slow
terminal never works through a backlog of old states. The command messages are what
tests (``run_test(message_hook=...)``) and the event log see of every control.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.message import Message

from roomctl.ui.source import StateReceived

if TYPE_CHECKING:
    from collections.abc import Mapping

    from roomctl.ui.source import CommandReply, FeedItem


class FeedArrived(Message):
    """The source delivered an item."""

    def __init__(self, item: FeedItem) -> None:
        super().__init__()
        self.item = item
        """The feed item."""

    def can_replace(self, message: Message) -> bool:
        """A newer live state replaces a queued older one of the same room."""
        return (
            isinstance(message, FeedArrived)
            and isinstance(self.item, StateReceived)
            and isinstance(message.item, StateReceived)
            and message.item.room == self.item.room
            and not message.item.retained
        )


class CommandSent(Message):
    """A control sent a command (it is on its way; the reply follows)."""

    def __init__(
        self, room: str, verb: str, payload: Mapping[str, object], command_id: str
    ) -> None:
        super().__init__()
        self.room = room
        """The room it went to."""
        self.verb = verb
        """The command verb (``acknowledge``, ``phase`` ...)."""
        self.payload = dict(payload)
        """The fields sent, with ``id`` and ``by``."""
        self.command_id = command_id
        """The command's ``id``."""


class CommandAnswered(Message):
    """A command's reply came back (or none did: ``reply.answered`` is false)."""

    def __init__(self, room: str, verb: str, reply: CommandReply) -> None:
        super().__init__()
        self.room = room
        """The room that answered."""
        self.verb = verb
        """The command verb."""
        self.reply = reply
        """What came back."""


class RoomChosen(Message):
    """A room tile of the station was chosen (Enter or a click)."""

    def __init__(self, room: str) -> None:
        super().__init__()
        self.room = room
        """The room's name."""
