"""The room's event log: alarms, phases, episodes, links, commands and replies."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.widgets import RichLog

from roomctl.ui.model import LogKind

if TYPE_CHECKING:
    from roomctl.ui.view import RoomView

#: The colour of each kind of line.
KIND_STYLE = {
    LogKind.HIGH: "bold red",
    LogKind.MEDIUM: "yellow",
    LogKind.LOW: "cyan",
    LogKind.INFO: "",
    LogKind.DONE: "green",
    LogKind.REFUSED: "bold magenta",
    LogKind.LINK: "bold yellow",
}


class EventLog(RichLog):
    """Appends the model's new log lines, newest at the bottom."""

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002 -- Textual's name
        super().__init__(id=id, wrap=True, markup=False, max_lines=500)
        self._seen = 0

    def show(self, view: RoomView) -> None:
        """Write the lines added since the last call."""
        model = view.model
        new = model.log_total - self._seen
        if new <= 0:
            return
        entries = list(model.log)[-min(new, len(model.log)) :]
        for entry in entries:
            self.write(
                Text.assemble(
                    (view.clock(entry.at), "grey62"),
                    " ",
                    (entry.text, KIND_STYLE[entry.kind]),
                )
            )
        self._seen = model.log_total
