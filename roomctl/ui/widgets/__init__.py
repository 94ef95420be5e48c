"""The console's widgets; each shows part of a ``roomctl.ui.view.RoomView``.

Every room widget has ``show(view)``: the screen calls it whenever the room's data or
the clock moves on, and the widget decides what changed. Colours follow alarm priority
through CSS classes (``-high``, ``-medium``, ``-low``), ``-unack`` marks what may
flash, ``-stale`` greys what is not live (``roomctl.tcss``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.widgets import Static

from roomctl.events import AlarmPriority

if TYPE_CHECKING:
    from textual.dom import DOMNode
    from textual.visual import VisualType


class PlainStatic(Static):
    """A ``Static`` that never reads markup.

    Room text (alarm texts, reasons, notes) is shown exactly as sent, square
    brackets and all.
    """

    def __init__(
        self,
        content: VisualType = "",
        *,
        id: str | None = None,  # noqa: A002 -- Textual's name
        classes: str | None = None,
    ) -> None:
        super().__init__(content, id=id, classes=classes, markup=False)


def set_alarm_classes(
    node: DOMNode,
    priority: AlarmPriority | None,
    *,
    unacknowledged: bool = False,
    stale: bool = False,
) -> None:
    """Set the priority, flashing and stale classes of ``node``."""
    node.set_class(priority is AlarmPriority.HIGH, "-high")
    node.set_class(priority is AlarmPriority.MEDIUM, "-medium")
    node.set_class(priority is AlarmPriority.LOW, "-low")
    node.set_class(priority is not None and unacknowledged, "-unack")
    node.set_class(stale, "-stale")
