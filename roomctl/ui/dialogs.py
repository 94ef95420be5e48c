"""Modal dialogs: confirmations, closing the session, the baseline, notes, lights, help.

Each dialog only collects what a command needs and returns it (``dismiss``); the room
screen sends the command. Escape always cancels; nothing is sent on cancel. The
secondary-display notice stays on top of every dialog too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, TypeVar

from textual.binding import Binding, BindingType
from textual.containers import Grid, Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, OptionList, Static

from roomctl.events import Phase
from roomctl.ui.widgets import PlainStatic
from roomctl.ui.widgets.chrome import SecondaryNotice

if TYPE_CHECKING:
    from textual.app import ComposeResult

    from roomctl.ui.state import Baseline, Discharge, Lights

ResultT = TypeVar("ResultT")

#: Scenes a ``lights`` command takes (``roomctl.scenes.SceneTable.named``).
LIGHT_SCENES: tuple[str, ...] = (*(phase.value for phase in Phase), "safe", "off")


class _Dialog(ModalScreen[ResultT]):
    """Escape cancels (returns ``None`` or ``False``); the cursor blinks only live."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def on_mount(self) -> None:
        """The secondary-display notice on top; cursors frozen when asked."""
        self.mount(SecondaryNotice(), before=0)
        blink = getattr(self.app, "blink_cursor", True)
        for field in self.query(Input):
            field.cursor_blink = bool(blink)

    def action_cancel(self) -> None:
        """Close without a result."""
        self.dismiss(None)

    def _error(self, text: str) -> None:
        self.query_one("#error", Static).update(text)


class ConfirmScreen(_Dialog[bool | None]):
    """Yes or no, with what will happen in words."""

    def __init__(self, title: str, body: str, *, confirm: str = "Yes") -> None:
        super().__init__()
        self._title = title
        self._body = body
        self._confirm = confirm

    def compose(self) -> ComposeResult:
        """Title, body, two buttons."""
        with Vertical(classes="dialog"):
            yield PlainStatic(self._title, classes="dialog-title")
            yield PlainStatic(self._body)
            with Horizontal(classes="buttons"):
                yield Button(self._confirm, id="yes", variant="warning")
                yield Button("Cancel", id="no")

    def on_mount(self) -> None:
        """Focus Cancel: a stray Enter must not move the session.

        (Textual also runs ``_Dialog.on_mount``: handlers run for every class.)
        """
        self.query_one("#no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        """Yes or no."""
        self.dismiss(event.button.id == "yes")


class CloseSessionScreen(_Dialog[str | None]):
    """Close the session: shows discharge readiness; a reason when not ready.

    Returns the reason (``""`` when none is needed) or ``None`` when cancelled.
    """

    def __init__(self, discharge: Discharge | None, phase: Phase | None) -> None:
        super().__init__()
        self._discharge = discharge
        ready = discharge is not None and discharge.ready
        self.reason_required = not (ready and phase is Phase.INTEGRATION)
        """The room refuses to close without a reason (alarm-policy.md phases)."""
        self._phase = phase

    def compose(self) -> ComposeResult:
        """Readiness, reasons, the reason field, buttons."""
        discharge = self._discharge
        with Vertical(classes="dialog"):
            yield PlainStatic("Close the session?", classes="dialog-title")
            if discharge is None:
                yield PlainStatic(
                    "Discharge readiness: unknown (the room did not say).",
                )
            elif discharge.ready:
                yield PlainStatic(
                    "The patient is DISCHARGE-READY.",
                    classes="ready",
                )
            else:
                reasons = "\n".join(f" - {r}" for r in discharge.reasons)
                yield PlainStatic(
                    f"The patient is NOT discharge-ready:\n{reasons}",
                )
            if self._phase is not Phase.INTEGRATION:
                yield PlainStatic(
                    f"The session is in {self._phase or 'an unknown phase'}.",
                )
            placeholder = (
                "Reason (required)" if self.reason_required else "Reason (optional)"
            )
            yield Input(placeholder=placeholder, id="reason", max_length=200)
            yield PlainStatic("", id="error", classes="error")
            with Horizontal(classes="buttons"):
                yield Button("Close session", id="close", variant="error")
                yield Button("Cancel", id="cancel")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        """Close (checked) or cancel."""
        if event.button.id == "close":
            self._submit()
        else:
            self.dismiss(None)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Enter in the reason field closes."""
        event.stop()
        self._submit()

    def _submit(self) -> None:
        reason = self.query_one("#reason", Input).value.strip()
        if self.reason_required and not reason:
            self._error("A reason is required: the patient is not discharge-ready.")
            return
        self.dismiss(reason)


_BASELINE_FIELDS = (
    ("sbp", "SBP mmHg"),
    ("dbp", "DBP mmHg"),
    ("hr", "HR bpm"),
    ("spo2", "SpO2 %"),
)


class BaselineScreen(_Dialog[dict[str, object] | None]):
    """Confirm the computed baseline, or override values with a reason.

    Returns the ``baseline_confirm`` fields (``{}`` to confirm as computed) or
    ``None`` when cancelled.
    """

    def __init__(self, baseline: Baseline | None) -> None:
        super().__init__()
        self._baseline = baseline

    def compose(self) -> ComposeResult:
        """Computed values, one field per value, the reason, buttons."""
        computed = None if self._baseline is None else self._baseline.computed
        with Vertical(classes="dialog"):
            yield PlainStatic("Baseline", classes="dialog-title")
            if self._baseline is None:
                yield PlainStatic("The room has not reported a baseline.")
            else:
                yield PlainStatic(
                    f"Status: {self._baseline.status}. Leave a field empty to keep "
                    "the computed value.",
                )
            with Grid(classes="baseline-grid"):
                for name, label in _BASELINE_FIELDS:
                    value = None if computed is None else getattr(computed, name)
                    shown = "none" if value is None else f"{value:g}"
                    yield PlainStatic(f"{label} (computed {shown})")
                    yield Input(
                        type="integer", id=f"bl-{name}", max_length=3, compact=True
                    )
            yield Input(
                placeholder="Reason (required to override)", id="reason", compact=True
            )
            yield PlainStatic("", id="error", classes="error")
            with Horizontal(classes="buttons"):
                yield Button("Confirm computed", id="confirm", variant="primary")
                yield Button("Override", id="override", variant="warning")
                yield Button("Cancel", id="cancel")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        """Confirm, override (checked) or cancel."""
        if event.button.id == "confirm":
            self.dismiss({})
        elif event.button.id == "override":
            self._override()
        else:
            self.dismiss(None)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Enter in any field overrides (when something was entered)."""
        event.stop()
        self._override()

    def _override(self) -> None:
        fields: dict[str, object] = {}
        for name, label in _BASELINE_FIELDS:
            text = self.query_one(f"#bl-{name}", Input).value.strip()
            if not text:
                continue
            try:
                fields[name] = int(text)
            except ValueError:
                self._error(f"{label} must be a whole number")
                return
        if not fields:
            self._error("Enter at least one value to override, or Confirm computed.")
            return
        reason = self.query_one("#reason", Input).value.strip()
        if not reason:
            self._error("Overriding the baseline needs a reason.")
            return
        self.dismiss({**fields, "reason": reason})


class NoteScreen(_Dialog[str | None]):
    """Write a note into the session record."""

    def compose(self) -> ComposeResult:
        """One field, two buttons."""
        with Vertical(classes="dialog"):
            yield PlainStatic(
                "Note for the session record",
                classes="dialog-title",
            )
            yield Input(placeholder="Note", id="note", max_length=2000)
            yield PlainStatic("", id="error", classes="error")
            with Horizontal(classes="buttons"):
                yield Button("Save note", id="save", variant="primary")
                yield Button("Cancel", id="cancel")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        """Save or cancel."""
        if event.button.id == "save":
            self._save()
        else:
            self.dismiss(None)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Enter saves."""
        event.stop()
        self._save()

    def _save(self) -> None:
        text = self.query_one("#note", Input).value.strip()
        if not text:
            self._error("The note is empty.")
            return
        self.dismiss(text)


class LightsScreen(_Dialog[dict[str, object] | None]):
    """Pick a scene (Enter on it) or type a level (0-100) and press Enter."""

    def __init__(self, lights: Lights | None) -> None:
        super().__init__()
        self._lights = lights

    def compose(self) -> ComposeResult:
        """Scene list, level field."""
        current = "unknown" if self._lights is None else (self._lights.scene or "-")
        with Vertical(classes="dialog"):
            yield PlainStatic(
                f"Lights (scene now: {current})",
                classes="dialog-title",
            )
            yield OptionList(*LIGHT_SCENES, id="scenes")
            yield Input(type="integer", placeholder="Level 0-100", id="level")
            yield PlainStatic("", id="error", classes="error")

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        """A scene was chosen."""
        self.dismiss({"scene": LIGHT_SCENES[event.option_index]})

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """A level was entered."""
        event.stop()
        try:
            level = int(event.value)
        except ValueError:
            self._error("The level is a whole number from 0 to 100.")
            return
        if not 0 <= level <= 100:
            self._error("The level is a whole number from 0 to 100.")
            return
        self.dismiss({"level": level})


class HelpScreen(_Dialog[None]):
    """The keys of the screen underneath, and what they do."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,question_mark,q", "cancel", "Close help"),
    ]

    def __init__(self, text: str) -> None:
        super().__init__()
        self._text = text

    def compose(self) -> ComposeResult:
        """The help text."""
        with Vertical(classes="dialog help"):
            yield PlainStatic("Keys (Esc closes)", classes="dialog-title")
            yield PlainStatic(self._text, id="help-text")
