"""Music configuration: the ``[music]`` table of the daemon's TOML file.

Config layer: pydantic only (plus the pure ``roomctl.events`` vocabulary), so
``roomctl.settings`` can import it without pulling in asyncio, numpy or libVLC. Same
conventions as ``roomctl.settings``: unknown keys are errors, values are frozen, and
every field carries its unit and meaning.

.. code-block:: toml

    [music]
    library_dir = "/srv/music/kap"      # leave out for the built-in ambient music
    output = "auto"
    crossfade_s = 8
    duck_percent = 30
    exclusions = ["title:Gymnopedie No.1"]

    [music.volume_percent]
    peak = 35
"""

from __future__ import annotations

import re
from pathlib import Path  # noqa: TC003 - pydantic resolves field types at runtime
from typing import TYPE_CHECKING, Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from roomctl.events import AlarmPriority, Phase

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = ["BuiltinMusicSettings", "MusicSettings", "PhaseVolumes"]

_OUTPUT = re.compile(r"^(auto|default|alsa|pulse|dummy|file:.+)$")

_Percent = Annotated[float, Field(ge=0, le=100)]


class _Model(BaseModel):
    model_config = ConfigDict(
        extra="forbid", frozen=True, use_attribute_docstrings=True
    )


class PhaseVolumes(_Model):
    """Listening level per phase, in percent of the player's (perceptual) scale."""

    preparation: _Percent = 45.0
    """Preparation: conversation may still happen over it."""
    dosing: _Percent = 40.0
    """Dosing and onset."""
    peak: _Percent = 40.0
    """Peak: present but never loud."""
    return_: _Percent = Field(default=40.0, alias="return")
    """Return (``return`` in the file)."""
    integration: _Percent = 30.0
    """Integration: quiet, under talking."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        use_attribute_docstrings=True,
        populate_by_name=True,
    )

    def for_phase(self, phase: Phase) -> float:
        """The level for ``phase``; 0 for ``closed``."""
        match phase:
            case Phase.PREPARATION:
                return self.preparation
            case Phase.DOSING:
                return self.dosing
            case Phase.PEAK:
                return self.peak
            case Phase.RETURN:
                return self.return_
            case Phase.INTEGRATION:
                return self.integration
            case Phase.CLOSED:
                return 0.0


class BuiltinMusicSettings(_Model):
    """The generated ambient library (used when ``library_dir`` is unset)."""

    tracks_per_phase: Annotated[int, Field(ge=1, le=12)] = 3
    """Tracks generated per phase."""
    track_s: Annotated[float, Field(ge=1, le=1800)] = 210.0
    """Length of each generated track in seconds (default 3.5 min)."""
    sample_rate: Annotated[int, Field(ge=16000, le=48000)] = 22050
    """Samples per second of the generated WAV files (22050 or 44100 are usual)."""
    channels: Annotated[int, Field(ge=1, le=2)] = 2
    """1 (mono) or 2 (stereo, wider; about 5 MB per minute at 22050 Hz)."""
    seed: int = 0
    """Change it to get different built-in music (new ids: counts as unheard)."""


class MusicSettings(_Model):
    """Phase music for the patient's headphones."""

    enabled: bool = True
    """Whether the daemon plays music at all."""
    library_dir: Path | None = None
    """Folder of phase playlists (``<phase>.toml`` / ``<phase>.m3u``); unset means the
    built-in generated ambient music."""
    fallback_to_builtin: bool = True
    """Play the built-in music for a phase the library cannot serve (no playlist,
    every track refused or excluded)."""
    cache_dir: Path | None = None
    """Where the built-in music is generated; unset means ``$CACHE_DIRECTORY/music``
    (systemd ``CacheDirectory=``), ``$XDG_CACHE_HOME/roomctl/music`` or
    ``~/.cache/roomctl/music``."""
    builtin: BuiltinMusicSettings = BuiltinMusicSettings()
    """The generated library."""
    output: str = "auto"
    """Audio output: ``auto`` (the default device if there is one, else silent),
    ``default``, ``alsa``, ``pulse``, ``dummy`` (silent) or ``file:PATH`` (WAV files,
    one per deck: for tests)."""
    volume_percent: PhaseVolumes = PhaseVolumes()
    """Listening level per phase."""
    crossfade_s: Annotated[float, Field(ge=0, le=60)] = 8.0
    """Crossfade between tracks and into a new phase's music, in seconds."""
    skip_crossfade_s: Annotated[float, Field(ge=0, le=30)] = 3.0
    """Crossfade when someone skips a track, in seconds."""
    volume_ramp_s: Annotated[float, Field(ge=0, le=60)] = 2.0
    """How long a volume change takes, in seconds."""
    pause_fade_s: Annotated[float, Field(ge=0, le=30)] = 2.0
    """Fade before pause/stop and after play, in seconds."""
    duck_percent: _Percent = 30.0
    """Level while ducked for an alarm, in percent of the normal level."""
    duck_ramp_s: Annotated[float, Field(ge=0, le=10)] = 1.0
    """How long ducking and un-ducking take, in seconds."""
    duck_on: frozenset[AlarmPriority] = frozenset(
        {AlarmPriority.MEDIUM, AlarmPriority.HIGH}
    )
    """Alarm priorities that duck the music while active."""
    exclusions: tuple[str, ...] = ()
    """Tracks never played in this room (ids, paths, file names or titles;
    ``id:``/``path:``/``title:`` prefixes narrow a match). Per-patient exclusions come
    with the session."""
    tick_s: Annotated[float, Field(ge=0.05, le=0.25)] = 0.1
    """How often volumes are stepped during ramps (100-250 ms: ecosystem.md §3.1)."""
    start_timeout_s: Annotated[float, Field(gt=0, le=60)] = 5.0
    """A track that has not started after this many seconds is skipped."""

    @field_validator("output")
    @classmethod
    def _known_output(cls, value: str) -> str:
        if not _OUTPUT.match(value):
            raise ValueError(
                f"unknown output {value!r}: use auto, default, alsa, pulse, dummy "
                "or file:PATH"
            )
        return value

    def should_duck(self, active: Iterable[AlarmPriority]) -> bool:
        """Whether alarms of these priorities (the active ones) duck the music.

        >>> MusicSettings().should_duck([AlarmPriority.LOW])
        False
        >>> MusicSettings().should_duck([AlarmPriority.LOW, AlarmPriority.HIGH])
        True
        """
        return any(priority in self.duck_on for priority in active)
