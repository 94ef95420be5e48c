"""Music (now playing, next, volume) and lights (scene, level) of the room."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text

from roomctl.ui.format import countdown, number
from roomctl.ui.widgets import PlainStatic

if TYPE_CHECKING:
    from roomctl.ui.view import RoomView


class MusicPanel(PlainStatic):
    """What plays, what comes next, the volume; the keys that change them."""

    def show(self, view: RoomView) -> None:
        """Update from ``view``."""
        state = view.state
        music = None if state is None else state.music
        if music is None:
            self.update("Music: not reported by this room")
            return
        lines = [Text.assemble(("Music: ", "bold"), music.state.upper())]
        if music.title:
            by = f" - {music.artist}" if music.artist else ""
            where = ""
            if music.position_s is not None and music.length_s is not None:
                where = f"  {countdown(music.position_s)} / {countdown(music.length_s)}"
            lines.append(Text(f"Now playing: {music.title}{by}{where}"))
        if music.up_next:
            lines.append(Text(f"Next: {', '.join(music.up_next)}"))
        volume = f"Volume {number(music.level)} %"
        if music.ducked:
            volume += " (ducked for an alarm)"
        lines.append(Text(volume))
        if music.notice:
            lines.append(Text(music.notice, "yellow"))
        lines.append(
            Text(
                "space play/pause  k skip  +/- volume  (stop: command palette)",
                "grey62",
            )
        )
        self.update(Text("\n").join(lines))


class LightsPanel(PlainStatic):
    """Scene and level; a problem in words."""

    def show(self, view: RoomView) -> None:
        """Update from ``view``."""
        state = view.state
        lights = None if state is None else state.lights
        if lights is None:
            self.update("Lights: not reported by this room")
            return
        text = Text.assemble(("Lights: ", "bold"), f"scene {lights.scene or '-'}")
        text.append(f"  level {number(lights.level)} %")
        if lights.ramping and lights.target is not None:
            text.append(f" -> {lights.target} %")
        if lights.kelvin:
            text.append(f"  {lights.kelvin} K")
        if not lights.ok:
            text.append(f"\nProblem: {lights.problem}", "bold yellow")
        text.append("\nl scene/level  [ ] level -/+10", "grey62")
        self.update(text)
