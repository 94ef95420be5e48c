"""The music player port: two decks the controller mixes, and what they report.

A ``MusicPlayer`` has two *decks* (0 and 1), each able to play one file at a time, so
the controller can crossfade (libVLC has no crossfade of its own: ecosystem.md §3.1).
The player never ramps anything: the controller sets each deck's volume every tick.

Contract every implementation keeps:

- ``load`` starts playback **silent** (muted / volume 0). The deck becomes audible
  only after it reports ``DeckEventKind.STARTED`` *and* the controller raises its
  volume: no full-volume blip at a track's start.
- Every method is called from the event loop's thread and returns quickly.
- Failures to act raise ``roomctl.errors.PlayerError``; failures of a track while it
  plays (missing, undecodable) arrive as ``DeckEventKind.FAILED``.
- ``load`` returns a *load id*; events carry it, so an event about a track that was
  already replaced is recognised and ignored.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from pathlib import Path

__all__ = [
    "DECKS",
    "DeckEventKind",
    "MusicPlayer",
    "PlayerEvent",
    "PlayerState",
]

#: Deck numbers: two players for crossfades.
DECKS: tuple[int, int] = (0, 1)


class PlayerState(enum.StrEnum):
    """What one deck is doing."""

    #: Nothing loaded (or stopped).
    IDLE = "idle"
    #: Loaded and asked to play; not audible yet.
    STARTING = "starting"
    #: Playing (audible if its volume is up).
    PLAYING = "playing"
    #: Paused mid-track.
    PAUSED = "paused"
    #: The track played to its end.
    ENDED = "ended"
    #: The track could not be played.
    FAILED = "failed"


class DeckEventKind(enum.StrEnum):
    """What a deck reports."""

    #: Audio is flowing (silent until the controller raises the volume).
    STARTED = "started"
    #: The track reached its end.
    ENDED = "ended"
    #: The track could not be played (``reason`` says why).
    FAILED = "failed"


@dataclass(frozen=True, slots=True, kw_only=True)
class PlayerEvent:
    """Something a deck did, for the load ``load_id``."""

    deck: int
    load_id: int
    kind: DeckEventKind
    #: In words, for ``FAILED``.
    reason: str = ""


class MusicPlayer(Protocol):
    """Two decks of audio output, driven from the event loop."""

    def open(self) -> None:
        """Get ready to play (create the audio engine); call inside the running loop.

        Raises:
            PlayerError: the audio engine cannot be started.
        """
        ...

    def close(self) -> None:
        """Stop both decks and release everything; safe to call twice."""
        ...

    def load(self, deck: int, path: Path) -> int:
        """Start playing ``path`` on ``deck``, silent; return the new load id.

        Whatever the deck was playing stops.

        Raises:
            PlayerError: the file is missing or the engine refused it.
        """
        ...

    def set_volume(self, deck: int, percent: float) -> None:
        """Set ``deck``'s volume (0-100, the player's perceptual scale).

        Before the deck has started, the value is kept and applied once audio flows.

        Raises:
            PlayerError: the engine refused.
        """
        ...

    def pause(self, deck: int) -> None:
        """Pause ``deck`` where it is (no-op when not playing).

        Raises:
            PlayerError: the engine refused.
        """
        ...

    def resume(self, deck: int) -> None:
        """Resume a paused ``deck`` (no-op when not paused).

        Raises:
            PlayerError: the engine refused.
        """
        ...

    def stop(self, deck: int) -> None:
        """Stop ``deck`` and forget its track; no event follows."""
        ...

    def state(self, deck: int) -> PlayerState:
        """What ``deck`` is doing."""
        ...

    def position_s(self, deck: int) -> float | None:
        """Seconds played of the current track, or ``None`` when unknown."""
        ...

    def length_s(self, deck: int) -> float | None:
        """Length of the current track in seconds, or ``None`` when unknown."""
        ...

    async def next_event(self) -> PlayerEvent:
        """Wait for the next deck event."""
        ...
