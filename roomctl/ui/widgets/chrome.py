"""The frame around a room: title, notice, not-live banner, reply bar.

The secondary-display notice is always on screen; the banner says why data is not
live whenever it is not; the reply bar shows the last command and its answer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text

from roomctl import SAFETY_NOTICE
from roomctl.ui.view import liveness_text, liveness_word, phase_line
from roomctl.ui.widgets import PlainStatic

if TYPE_CHECKING:
    from textual.app import RenderResult

    from roomctl.ui.view import RoomView

#: The notice where the full sentence does not fit (80 columns).
SHORT_NOTICE = "SECONDARY DISPLAY: the bedside monitor's alarms are primary; may lag."


class SecondaryNotice(PlainStatic):
    """Always visible: this console relays; the bedside monitor alarms first."""

    def render(self) -> RenderResult:
        """The full notice when it fits, else the short one."""
        full = "SECONDARY DISPLAY" + SAFETY_NOTICE.removeprefix("Secondary display")
        return full if len(full) <= self.size.width else SHORT_NOTICE


class TitleBar(PlainStatic):
    """Room, phase with dose time, role, liveness and the room's clock."""

    def __init__(self, title: str, *, id: str | None = None) -> None:  # noqa: A002 -- Textual's name
        super().__init__("", id=id)
        self._left = Text(title, style="bold")
        self._right = Text("")

    def set_parts(self, left: Text, right: Text) -> None:
        """Show ``left`` on the left and ``right`` on the right."""
        self._left, self._right = left, right
        self.refresh()

    def show(self, view: RoomView, *, role: str) -> None:
        """Update from a room's ``view``."""
        state = view.state
        left = Text.assemble(
            ("roomctl ", "bold"),
            (f"room {view.room}", "bold"),
            "  ",
            (phase_line(view), "bold"),
            f"  {role}",
        )
        at = view.clock(state.at if state is not None else None)
        self.set_parts(left, Text(f"{liveness_word(view)}  {at}"))
        self.set_class(not view.live, "-stale")

    def render(self) -> RenderResult:
        """Left part, padding, right part."""
        width = max(self.size.width, 1)
        gap = max(1, width - self._left.cell_len - self._right.cell_len)
        return Text.assemble(self._left, " " * gap, self._right)


class LinkBanner(PlainStatic):
    """Shown only when the room's data is not live, saying why."""

    def show(self, view: RoomView) -> None:
        """Update from ``view``; hidden while live."""
        text = liveness_text(view)
        self.update(text)
        self.display = bool(text)


class ReplyBar(PlainStatic):
    """The last command and what came back."""

    def say(self, text: str, kind: str) -> None:
        """Show ``text``; ``kind`` is ``pending``, ``done`` or ``refused``."""
        self.update(text)
        for name in ("pending", "done", "refused"):
            self.set_class(kind == name, f"-{name}")
