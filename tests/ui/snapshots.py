"""Golden screens for the console, without pytest-textual-snapshot.

Each snapshot is kept twice under ``tests/ui/snapshots/``: ``NAME.txt`` is the screen
as plain text (easy to read in a diff), ``NAME.svg`` is Textual's own SVG screenshot
(colours included: open it in a browser). Run with ``ROOMCTL_UPDATE_SNAPSHOTS=1`` to
write or rewrite them after a deliberate change, then review the diff.
"""

from __future__ import annotations

import difflib
import io
import os
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from rich.console import Console

if TYPE_CHECKING:
    from textual.app import App

ReturnT = TypeVar("ReturnT")

SNAPSHOT_DIR = Path(__file__).parent / "snapshots"
UPDATE_ENV = "ROOMCTL_UPDATE_SNAPSHOTS"


def screen_text(app: App[ReturnT]) -> str:
    """The current screen as plain text, trailing spaces removed.

    Renders the screen's compositor as ``App.export_screenshot`` does, but exports
    text instead of SVG.
    """
    width, height = app.size
    console = Console(
        width=width,
        height=height,
        file=io.StringIO(),
        force_terminal=True,
        color_system="truecolor",
        record=True,
        legacy_windows=False,
        safe_box=False,
    )
    render = app.screen._compositor.render_update(
        full=True, screen_stack=app._background_screens
    )
    console.print(render)
    lines = console.export_text(styles=False).splitlines()
    return "\n".join(line.rstrip() for line in lines) + "\n"


def assert_snapshot(name: str, actual: str) -> None:
    """Compare ``actual`` with the golden file ``name`` (or write it when updating)."""
    path = SNAPSHOT_DIR / name
    if os.environ.get(UPDATE_ENV) == "1":
        SNAPSHOT_DIR.mkdir(exist_ok=True)
        path.write_text(actual, encoding="utf-8")
        return
    assert path.exists(), f"no snapshot {path}; run with {UPDATE_ENV}=1 to create it"
    expected = path.read_text(encoding="utf-8")
    if actual != expected:
        diff = "".join(
            list(
                difflib.unified_diff(
                    expected.splitlines(keepends=True),
                    actual.splitlines(keepends=True),
                    fromfile=f"{name} (golden)",
                    tofile=f"{name} (now)",
                )
            )[:80]
        )
        raise AssertionError(
            f"screen differs from {path} (set {UPDATE_ENV}=1 to accept):\n{diff}"
        )


def assert_screen(app: App[ReturnT], name: str, *, svg: bool = True) -> None:
    """The screen matches ``NAME.txt`` (and ``NAME.svg``, colours included)."""
    assert_snapshot(f"{name}.txt", screen_text(app))
    if svg:
        assert_snapshot(f"{name}.svg", app.export_screenshot(title=f"roomctl {name}"))
