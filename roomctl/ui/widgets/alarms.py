"""The alarm banner and the alarm list (one row per alarm, a detail line below)."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.message import Message

from roomctl.ui.view import alarm_detail, alarm_line, banner
from roomctl.ui.widgets import PlainStatic, set_alarm_classes

if TYPE_CHECKING:
    from textual import events
    from textual.app import ComposeResult

    from roomctl.ui.state import Alarm
    from roomctl.ui.view import RoomView


class AlarmBanner(PlainStatic):
    """The top alarm in its priority colour, the count and the audio countdown."""

    def show(self, view: RoomView) -> None:
        """Update from ``view``."""
        content = banner(view)
        self.update(f"{content.headline}\n{content.status}")
        set_alarm_classes(
            self,
            content.priority,
            unacknowledged=content.unacknowledged,
            stale=not view.live,
        )


class AlarmRow(PlainStatic):
    """One alarm; clicking selects it."""

    def __init__(self) -> None:
        super().__init__("")
        self.code = ""
        """The alarm's code."""

    def set_alarm(self, alarm: Alarm, *, selected: bool, stale: bool) -> None:
        """Show ``alarm``."""
        self.code = alarm.code
        self.update(alarm_line(alarm))
        set_alarm_classes(
            self, alarm.priority, unacknowledged=not alarm.acknowledged, stale=stale
        )
        self.set_class(selected, "-selected")

    def on_click(self, event: events.Click) -> None:
        """Select this row."""
        event.stop()
        parent = self.parent
        if isinstance(parent, AlarmList):
            parent.select(self.code)


class AlarmList(VerticalScroll, can_focus=True):
    """Every alarm on the room's board, highest first; one is selected."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "move(-1)", "Previous alarm", show=False),
        Binding("down", "move(1)", "Next alarm", show=False),
    ]

    class SelectionChanged(Message):
        """Another alarm was selected."""

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002 -- Textual's name
        super().__init__(id=id)
        self._rows: list[AlarmRow] = []
        self._alarms: tuple[Alarm, ...] = ()
        self._stale = False
        self._empty = PlainStatic("No active alarms.", classes="empty")
        self.selected_code: str | None = None
        """The code of the selected alarm (the one ``a`` and ``r`` act on)."""

    def compose(self) -> ComposeResult:
        """Start with the 'no alarms' line."""
        yield self._empty

    @property
    def selected(self) -> Alarm | None:
        """The selected alarm, if any."""
        for alarm in self._alarms:
            if alarm.code == self.selected_code:
                return alarm
        return None

    def select(self, code: str) -> None:
        """Select the alarm with ``code``."""
        if code != self.selected_code:
            self.selected_code = code
            self.post_message(self.SelectionChanged())
        self._redraw()

    def action_move(self, step: int) -> None:
        """Move the selection up or down."""
        codes = [alarm.code for alarm in self._alarms]
        if not codes:
            return
        index = codes.index(self.selected_code) if self.selected_code in codes else 0
        self.select(codes[max(0, min(len(codes) - 1, index + step))])
        self._rows[codes.index(self.selected_code or "")].scroll_visible()

    def show(self, view: RoomView) -> None:
        """Update from ``view``."""
        state = view.state
        self._alarms = () if state is None else state.alarms
        self._stale = not view.live
        codes = [alarm.code for alarm in self._alarms]
        if self.selected_code not in codes:
            self.selected_code = codes[0] if codes else None
        while len(self._rows) < len(self._alarms):
            row = AlarmRow()
            self._rows.append(row)
            self.mount(row)
        while len(self._rows) > len(self._alarms):
            self._rows.pop().remove()
        self._redraw()

    def _redraw(self) -> None:
        for row, alarm in zip(self._rows, self._alarms, strict=False):
            row.set_alarm(
                alarm, selected=alarm.code == self.selected_code, stale=self._stale
            )
        self._empty.display = not self._alarms
        self.set_class(self._stale, "-stale")


class AlarmDetail(PlainStatic):
    """Code, value, limit, raise time and resolution of the selected alarm."""

    def show(self, view: RoomView, alarm: Alarm | None) -> None:
        """Update for ``alarm`` (the list's selection)."""
        if alarm is None:
            self.update("")
            return
        self.update(alarm_detail(view, alarm))
