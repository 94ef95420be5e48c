"""SceneDirector: the room follows the session.

Phase changes, alarms and the therapist's commands drive the lights (and the music,
once a player is configured).

An auxiliary component: it reads the bus and asks its outputs for a desired state; it
never touches the alarm path, and a dead output changes nothing for alarms. The choice
itself is pure and table-driven (``roomctl.scenes.choose_scene``): an alarm scene
(configured per priority) wins over an operator's override, which wins over the
phase's own scene; overrides stay under the phase's brightness ceiling.
"""

from __future__ import annotations

import contextlib
import logging
from typing import TYPE_CHECKING, Protocol, cast

from roomctl.events import (
    AlarmChanged,
    AlarmPriority,
    AlarmTransition,
    Phase,
    PhaseChanged,
)
from roomctl.scenes import (
    DEFAULT_SCENE_TABLE,
    LightScene,
    choose_scene,
    scene_for_command,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping

    from roomctl.bus import EventBus
    from roomctl.scenes import SceneTable

_LOGGER = logging.getLogger(__name__)

#: Transitions after which an alarm is present (for the alarm scene).
_PRESENT = {
    AlarmTransition.RAISED,
    AlarmTransition.ESCALATED,
    AlarmTransition.DEESCALATED,
    AlarmTransition.REMINDED,
    AlarmTransition.ACKNOWLEDGED,
}


class Lights(Protocol):
    """What the director needs of a light controller."""

    def request(self, scene: LightScene) -> None:
        """Show ``scene`` (non-blocking)."""
        ...


class Music(Protocol):
    """What the director needs of the music controller."""

    def set_phase(self, phase: Phase) -> None:
        """Crossfade to the phase's playlist."""
        ...

    def duck(self, on: bool) -> None:  # noqa: FBT001 (the controller's signature)
        """Lower the music under an alarm, or bring it back."""
        ...

    def play(self) -> None:
        """Play (or resume)."""
        ...

    def pause(self) -> None:
        """Pause."""
        ...

    def stop(self) -> None:
        """Fade out and stop."""
        ...

    def skip(self) -> None:
        """Crossfade to the next track."""
        ...

    def set_volume(self, percent: float) -> None:
        """Ramp to a volume."""
        ...


class SceneDirector:
    """Keeps the lights (and music) in line with the phase, alarms and overrides."""

    def __init__(
        self,
        *,
        bus: EventBus,
        lights: Lights | None,
        music: Music | None = None,
        duck_on: Callable[[Iterable[AlarmPriority]], bool] | None = None,
        table: SceneTable = DEFAULT_SCENE_TABLE,
    ) -> None:
        self._lights = lights
        self._music = music
        self._duck_on = duck_on
        self._ducked: bool | None = None
        self._table = table
        self._sub = bus.open(PhaseChanged, AlarmChanged, name="director")
        self.phase = Phase.PREPARATION
        self.override: LightScene | None = None
        self._alarms: dict[str, AlarmPriority] = {}
        #: ``music`` commands to carry out when ``run`` starts (``restore``).
        self._music_on_start: list[dict[str, object]] = []

    @property
    def alarm_priority(self) -> AlarmPriority | None:
        """The highest priority among the alarms present."""
        if not self._alarms:
            return None
        return max(self._alarms.values(), key=lambda p: p.rank)

    def desired_scene(self) -> LightScene:
        """The scene the room should show now."""
        return choose_scene(
            self.phase,
            alarm_priority=self.alarm_priority,
            override=self.override,
            table=self._table,
        )

    def lights_command(self, args: Mapping[str, object]) -> str | None:
        """A therapist's ``lights`` command: ``None`` when done, else the reason.

        ``scene`` names a scene (``auto`` returns to the phase's own), ``level`` is a
        percentage; both are already type-checked by ``roomctl.commands``.
        """
        if self._lights is None:
            return "this room has no lights configured"
        try:
            self.override = self._override_for(args)
        except ValueError as exc:
            return str(exc)
        self._apply()
        return None

    def _override_for(self, args: Mapping[str, object]) -> LightScene | None:
        scene = args.get("scene")
        level = args.get("level")
        return scene_for_command(
            phase=self.phase,
            scene=None if scene is None else str(scene),
            level_percent=None if not isinstance(level, int) else level,
            table=self._table,
        )

    def restore(
        self,
        *,
        phase: Phase,
        alarms: Mapping[str, AlarmPriority],
        lights: Iterable[Mapping[str, object]] = (),
        music: Iterable[Mapping[str, object]] = (),
    ) -> None:
        """Take up a resumed session's room (crash resume); nothing is sent yet.

        ``phase`` and ``alarms`` (the alarms present, by code) are the rebuilt
        engine's; ``lights`` the therapist's ``lights`` commands since the phase
        began (the override); ``music`` the ``music`` commands still in force
        (volume, pause), carried out when ``run`` starts, after the phase's music.
        """
        self.phase = phase
        self._alarms = dict(alarms)
        self.override = None
        for args in lights:
            # A command the room refused then changes nothing now either.
            with contextlib.suppress(ValueError):
                self.override = self._override_for(args)
        self._music_on_start = [dict(args) for args in music]

    def music_command(self, args: Mapping[str, object]) -> str | None:
        """A therapist's ``music`` command: ``None`` when done, else the reason."""
        if self._music is None:
            return "music is off in this room"
        action = args["action"]
        if action == "volume":
            self._music.set_volume(float(cast("int", args["volume"])))
        elif action == "play":
            self._music.play()
        elif action == "pause":
            self._music.pause()
        elif action == "skip":
            self._music.skip()
        else:
            self._music.stop()
        return None

    def fold(self) -> None:
        """Take every queued event into the director's view."""
        while (event := self._sub.get_nowait()) is not None:
            self._take(event)

    def _take(self, event: object) -> None:
        if isinstance(event, PhaseChanged):
            self.phase = event.phase
            # An override belongs to the phase it was made in.
            self.override = None
            if self._music is not None:
                self._music.set_phase(event.phase)
        elif isinstance(event, AlarmChanged):
            if event.transition in _PRESENT:
                self._alarms[event.code] = event.priority
            else:
                self._alarms.pop(event.code, None)

    def _apply(self) -> None:
        if self._lights is not None:
            self._lights.request(self.desired_scene())
        if self._music is not None and self._duck_on is not None:
            ducked = self._duck_on(self._alarms.values())
            if ducked != self._ducked:
                self._ducked = ducked
                self._music.duck(ducked)

    async def run(self) -> None:
        """Follow the bus until cancelled."""
        if self._music is not None:
            self._music.set_phase(self.phase)
            for args in self._music_on_start:
                self.music_command(args)
        self._music_on_start = []
        self._apply()
        while True:
            self._take(await self._sub.get())
            self.fold()
            self._apply()
