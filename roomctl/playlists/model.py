"""Tracks and phase playlists, and the lyric-free rule.

Pure module: frozen values and validation, no I/O, no clock.

Every playlist that follows the session's phases is *ambient*: the patient hears it
through headphones in an altered state, so words are not allowed (style.md §2.6,
ecosystem.md §3.4: lyric-free enforcement via tags). A track must say that it has no
words (``lyrics = "none"`` or ``"instrumental"``); a track with words, or one that says
nothing about lyrics, is refused with a message naming its file and the track.

>>> from pathlib import Path
>>> calm = Track(id="calm", path=Path("/m/calm.flac"), title="Calm", lyrics=Lyrics.NONE)
>>> Playlist(phase=Phase.PEAK, tracks=(calm,)).tracks[0].title
'Calm'
>>> song = Track(id="song", path=Path("/m/song.flac"), title="Song", source="p.toml")
>>> try:
...     Playlist(phase=Phase.PEAK, tracks=(calm, song))
... except PlaylistError as exc:
...     print(exc.problems[0][:60])
p.toml: track "Song" (/m/song.flac): no lyric information; a
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from roomctl.errors import ConfigError
from roomctl.events import Phase

if TYPE_CHECKING:
    from pathlib import Path

__all__ = [
    "INTENSITY_RANGE",
    "MUSIC_PHASES",
    "Lyrics",
    "Phase",
    "Playlist",
    "PlaylistError",
    "Track",
    "lyric_problem",
]

#: The phases that have music; ``closed`` is silence.
MUSIC_PHASES: tuple[Phase, ...] = (
    Phase.PREPARATION,
    Phase.DOSING,
    Phase.PEAK,
    Phase.RETURN,
    Phase.INTEGRATION,
)

#: Intensity scale (ecosystem.md §3.4: each track tagged with an intensity 1-5).
INTENSITY_RANGE = range(1, 6)


class PlaylistError(ConfigError):
    """A playlist or a track breaks the rules; ``problems`` has one line each.

    A ``ConfigError``: at start-up (``roomctl config check``) it fails fast like any
    other configuration error; at run time the music controller reports it as a
    technical notice and plays what it can.
    """


class Lyrics(enum.StrEnum):
    """What a track says about words in it."""

    #: No voice at all.
    NONE = "none"
    #: Voices, if any, carry no words (wordless choir, humming).
    INSTRUMENTAL = "instrumental"
    #: Sung words.
    VOCALS = "vocals"
    #: Spoken or sung words.
    LYRICS = "lyrics"

    @property
    def lyric_free(self) -> bool:
        """Whether a track with this marking may be in an ambient playlist."""
        return self in {Lyrics.NONE, Lyrics.INSTRUMENTAL}


@dataclass(frozen=True, slots=True, kw_only=True)
class Track:
    """One piece of music and what is known about it."""

    #: Stable identifier: what "heard in an earlier session" and exclusions match.
    id: str
    #: Absolute path of the audio file (playlists resolve relative paths).
    path: Path
    #: Display title for the console.
    title: str
    #: Display artist; empty when unknown.
    artist: str = ""
    #: Length in seconds when known (used for display only; the player measures).
    duration_s: float | None = None
    #: What the track says about words; ``None`` means no information (refused).
    lyrics: Lyrics | None = None
    #: Phases this track suits, beyond the playlist that lists it.
    phases: frozenset[Phase] = field(default_factory=frozenset)
    #: 1 (barely there) to 5 (most intense).
    intensity: int = 3
    #: Where the track was described (a file name, ``built-in``), for messages.
    source: str = ""

    def __post_init__(self) -> None:
        if not self.id:
            raise ValueError(f"{self.source or 'track'}: a track needs an id")
        if self.intensity not in INTENSITY_RANGE:
            raise ValueError(
                f"{self._where()}: intensity {self.intensity} is outside 1-5"
            )
        if self.duration_s is not None and self.duration_s < 0:
            raise ValueError(f"{self._where()}: duration_s must not be negative")

    @property
    def lyric_free(self) -> bool:
        """Whether the track is marked as having no words."""
        return self.lyrics is not None and self.lyrics.lyric_free

    def _where(self) -> str:
        name = f'track "{self.title}" ({self.path})'
        return f"{self.source}: {name}" if self.source else name

    def describe(self) -> str:
        """``source: track "Title" (path)``, for messages."""
        return self._where()


def lyric_problem(track: Track) -> str | None:
    """Why ``track`` may not be in an ambient playlist, or ``None`` if it may.

    >>> from pathlib import Path
    >>> t = Track(id="x", path=Path("/m/x.mp3"), title="X", lyrics=Lyrics.VOCALS)
    >>> print(lyric_problem(t))
    track "X" (/m/x.mp3): has words (lyrics = "vocals"); ambient playlists take \
lyric-free tracks only, so it is refused
    """
    if track.lyrics is None:
        return (
            f"{track.describe()}: no lyric information; ambient playlists take "
            'lyric-free tracks only, so it is refused (mark it lyrics = "none" or '
            '"instrumental" if it has no words)'
        )
    if not track.lyrics.lyric_free:
        return (
            f'{track.describe()}: has words (lyrics = "{track.lyrics.value}"); '
            "ambient playlists take lyric-free tracks only, so it is refused"
        )
    return None


@dataclass(frozen=True, slots=True, kw_only=True)
class Playlist:
    """The tracks for one session phase, in file order.

    Raises:
        PlaylistError: an ambient playlist holds a track that is not marked lyric-free
            (every such track is listed), or the same id appears twice.
    """

    phase: Phase
    tracks: tuple[Track, ...]
    #: Where the playlist came from (file name or ``built-in``), for messages.
    source: str = ""
    #: Whether the lyric-free rule applies (every phase playlist today).
    ambient: bool = True

    def __post_init__(self) -> None:
        problems: list[str] = []
        if self.ambient:
            problems.extend(
                problem
                for problem in map(lyric_problem, self.tracks)
                if problem is not None
            )
        seen: set[str] = set()
        for track in self.tracks:
            if track.id in seen:
                problems.append(
                    f"{track.describe()}: the id {track.id!r} appears twice in the "
                    f"{self.phase} playlist"
                )
            seen.add(track.id)
        if problems:
            raise PlaylistError(problems)

    def __len__(self) -> int:
        return len(self.tracks)
