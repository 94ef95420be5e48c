"""MusicController: phase music for the patient's headphones, for the scene director.

Output layer (style.md §2.6). The scene director calls plain methods (``set_phase``,
``skip``, ``set_volume``, ``pause``/``play``/``stop``, ``duck``); they never block,
never raise and never wait for audio: music must not delay anything else. Failures
become technical notices (``notify``); ``run()`` fails only when the player itself
cannot run, and the composition root restarts it (auxiliary fault domain, C4).

How it plays:

- Two decks (``MusicPlayer``). A new track loads on the free deck, silent; once that
  deck reports ``STARTED``, the controller fades it in while it fades the other one
  out: an equal-power crossfade (``ramp.py``). Tracks also crossfade into each other
  ``crossfade_s`` before the end.
- Every volume is computed here, each ``tick_s`` (100 ms by default) while anything
  moves, as ``level x duck x transport x deck fade`` and sent only when it changed:
  the player never ramps on its own (ecosystem.md §3.1). While nothing moves (a
  track simply playing), the mixer does not tick: it sleeps until the next thing
  due (a start timeout, the end-of-track crossfade), a command or a player event,
  and at most ``IDLE_TICK_MAX_S`` (issue 6: the 10 Hz tick cost CPU all session).
- Queues come from ``library.choose_queue``: never an excluded track; unheard tracks
  first; when everything was heard, repeats with a notice (a therapist would rather
  hear a repeat than silence). A phase whose playlist is empty or fully excluded falls
  back to the built-in music (``fallback_to_builtin``), else stays silent, with a
  notice either way.
- The built-in ambient music is generated on first use in a worker thread
  (``asyncio.to_thread``), the current phase first, then the phases to come.
- A missing, undecodable or stuck track (no start within ``start_timeout_s``) is
  skipped with a notice and the next one plays; after a whole playlist's worth of
  failures in a row the music goes silent (notice) until the next phase, skip or play.

Time comes from the injected ``Clock`` and the tick sleeps through the injected
``sleep``, so tests run ramps and crossfades in virtual time.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import math
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from roomctl.errors import PlayerError
from roomctl.events import TechnicalNotice
from roomctl.playlists.library import (
    Library,
    TrackQueue,
    choose_queue,
    load_library,
    load_playlist_file,
    track_matches,
)
from roomctl.playlists.model import MUSIC_PHASES, Phase, Playlist, PlaylistError
from roomctl.playlists.player import (
    DECKS,
    DeckEventKind,
    MusicPlayer,
    PlayerEvent,
)
from roomctl.playlists.ramp import Curve, Ramp

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterable
    from datetime import datetime
    from pathlib import Path

    from roomctl.clock import Clock
    from roomctl.playlists.model import Track
    from roomctl.playlists.settings import MusicSettings

    #: Makes the built-in playlist of a phase (blocking: it runs in a worker thread),
    #: given a function that says when to give up (the controller is stopping).
    BuiltinSource = Callable[[Phase, Callable[[], bool]], Playlist]

__all__ = [
    "COMPONENT",
    "MusicController",
    "MusicSnapshot",
    "MusicState",
    "NowPlaying",
    "TrackStarted",
    "builtin_source",
]

_LOGGER = logging.getLogger(__name__)

#: ``TechnicalNotice.component`` of every music notice.
COMPONENT = "music"
#: A deck that must make room for a new track fades out this fast (no click).
QUICK_FADE_S = 0.5
#: Volume changes smaller than this (percent) are not sent to the player.
_VOLUME_EPSILON = 0.05

#: Longest the mixer sleeps when nothing moves (see ``_next_tick_s``).
IDLE_TICK_MAX_S = 1.0

#: Give up after this many failed tracks in a row at most (a whole playlist's worth,
#: but at least 3), so a folder of broken files cannot spin.
_MAX_FAILURES = 20


class MusicState(enum.StrEnum):
    """What the music is doing, for the console and the state topic."""

    #: Music is disabled in the settings.
    OFF = "off"
    #: Waiting for a playlist (loading the library or generating music).
    PREPARING = "preparing"
    #: A track is playing (or starting).
    PLAYING = "playing"
    #: Paused by someone; ``play()`` resumes.
    PAUSED = "paused"
    #: Stopped by someone; ``play()`` starts the phase's music again.
    STOPPED = "stopped"
    #: Nothing to play (no phase yet, closed, nothing playable).
    SILENT = "silent"


@dataclass(frozen=True, slots=True, kw_only=True)
class TrackStarted:
    """A track became audible: what the session record keeps for the no-repeat rule."""

    track_id: str
    title: str
    artist: str
    phase: Phase
    path: Path
    #: True when it was queued although heard before (everything had been heard).
    repeat: bool
    occurred_mono: float
    occurred_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class NowPlaying:
    """The track the patient hears (the main deck)."""

    track: Track
    phase: Phase
    started_at: datetime
    #: Seconds played, when the player knows.
    position_s: float | None
    #: Track length, when the player knows.
    length_s: float | None


@dataclass(frozen=True, slots=True, kw_only=True)
class MusicSnapshot:
    """Everything the console shows about music."""

    state: MusicState
    phase: Phase | None
    now_playing: NowPlaying | None
    up_next: tuple[Track, ...]
    #: The level in force (before ducking), percent.
    level_percent: float
    ducked: bool
    #: ``built-in`` or the library folder.
    library: str
    #: The last technical notice, for the console's music line.
    last_notice: str

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form (the ``music`` part of the state snapshot)."""
        now = self.now_playing
        return {
            "state": self.state.value,
            "phase": self.phase.value if self.phase else None,
            "track": None
            if now is None
            else {
                "id": now.track.id,
                "title": now.track.title,
                "artist": now.track.artist,
                "position_s": now.position_s,
                "length_s": now.length_s,
            },
            "up_next": [{"id": t.id, "title": t.title} for t in self.up_next],
            "level_percent": round(self.level_percent, 1),
            "ducked": self.ducked,
            "library": self.library,
            "notice": self.last_notice,
        }


class _Transport(enum.Enum):
    PLAY = "play"
    PAUSING = "pausing"
    PAUSED = "paused"
    STOPPING = "stopping"
    STOPPED = "stopped"


class _Role(enum.Enum):
    IDLE = "idle"
    #: Loaded, silent, waiting for STARTED.
    STARTING = "starting"
    #: The track the patient hears.
    MAIN = "main"
    #: Fading out; stopped when silent.
    OUTGOING = "outgoing"


@dataclass(slots=True)
class _Slot:
    """The controller's view of one deck."""

    deck: int
    role: _Role = _Role.IDLE
    track: Track | None = None
    phase: Phase | None = None
    repeat: bool = False
    load_id: int = -1
    loaded_mono: float = 0.0
    started_mono: float = 0.0
    started_at: datetime | None = None
    #: Crossfade length to use once this deck starts.
    fade_in_s: float = 0.0
    fade: Ramp = field(default_factory=lambda: Ramp.hold(0.0))
    #: The volume last sent to the player (None: nothing sent since load).
    sent: float | None = None
    #: The next track was already asked for (end-of-track crossfade).
    next_requested: bool = False

    def clear(self) -> None:
        self.role = _Role.IDLE
        self.track = None
        self.phase = None
        self.load_id = -1
        self.fade = Ramp.hold(0.0)
        self.sent = None
        self.next_requested = False
        self.started_at = None


@dataclass(frozen=True, slots=True)
class _Pending:
    """A track waiting for a deck to finish its quick fade."""

    track: Track
    phase: Phase
    repeat: bool
    fade_in_s: float


def _volume(base: float, slot: _Slot, now: float) -> float:
    """A deck's volume at ``now``: the base volume through its fade, 0-100."""
    return min(max(base * slot.fade.value_at(now), 0.0), 100.0)


def builtin_source(settings: MusicSettings) -> BuiltinSource:
    """The default built-in source: generate (or reuse) cached WAVs, load the playlist.

    Imports numpy lazily: a daemon with a clinic library never loads the synthesiser.
    """

    def make(phase: Phase, should_stop: Callable[[], bool]) -> Playlist:
        from roomctl.playlists import synth  # noqa: PLC0415 - numpy only when needed

        spec = synth.SynthSpec(
            duration_s=settings.builtin.track_s,
            sample_rate=settings.builtin.sample_rate,
            channels=settings.builtin.channels,
            seed=settings.builtin.seed,
        )
        cache = settings.cache_dir or synth.default_cache_dir()
        file = synth.ensure_builtin_playlist(
            cache.expanduser(),
            phase,
            spec=spec,
            tracks=settings.builtin.tracks_per_phase,
            should_stop=should_stop,
        )
        library = load_playlist_file(file)
        if library.problems:
            raise PlaylistError(list(library.problems))
        return library.playlist(phase)

    return make


class MusicController:
    """Plays the current phase's music with crossfades, ducking and transport controls.

    Args:
        settings: the ``[music]`` settings.
        player: the two-deck player (``VlcPlayer`` in the daemon).
        clock: where time comes from.
        notify: receives every technical notice (publish it on the bus).
        on_track: receives every track that starts (record "music played").
        sleep: how the tick waits (``asyncio.sleep``; tests pass a virtual one).
        library: a library to use instead of reading ``settings.library_dir``.
        builtin: makes a phase's built-in playlist (default: ``builtin_source``).
    """

    def __init__(
        self,
        settings: MusicSettings,
        *,
        player: MusicPlayer,
        clock: Clock,
        notify: Callable[[TechnicalNotice], None],
        on_track: Callable[[TrackStarted], None] | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        library: Library | None = None,
        builtin: BuiltinSource | None = None,
    ) -> None:
        self._settings = settings
        self._player = player
        self._clock = clock
        self._notify = notify
        self._on_track = on_track
        self._sleep = sleep
        self._builtin_source = builtin or builtin_source(settings)
        # sources
        self._library = library
        #: A clinic library is configured (even if it could not be read).
        self._uses_library = library is not None or settings.library_dir is not None
        self._library_loading = library is None and settings.library_dir is not None
        self._builtin: dict[Phase, Playlist] = {}
        self._builtin_failed: dict[Phase, str] = {}
        self._builtin_wanted: set[Phase] = set()
        self._prepare_wakeup = asyncio.Event()
        #: Set by every command and player event: the mixer looks again at once.
        self._wake = asyncio.Event()
        self._closing = threading.Event()
        # session
        self._heard: frozenset[str] = frozenset()
        self._excluded: frozenset[str] = frozenset(settings.exclusions)
        self._seed: int | str = 0
        self._played: set[str] = set()
        self._queues: dict[Phase, deque[Track]] = {}
        self._queue_sizes: dict[Phase, int] = {}
        self._repeating: set[Phase] = set()
        # what people asked for
        self._phase: Phase | None = None
        self._transport = _Transport.PLAY
        self._user_level: float | None = None
        self._ducked = False
        # mixing
        self._slots = [_Slot(deck) for deck in DECKS]
        self._pending: _Pending | None = None
        self._level = Ramp.hold(0.0)
        self._duck = Ramp.hold(1.0)
        self._transport_ramp = Ramp.hold(1.0)
        self._failures = 0
        self._waiting = False
        self._running = False
        self._last_notice = ""

    # ------------------------------------------------------------ commands

    def begin_session(
        self,
        *,
        heard: Iterable[str] = (),
        excluded: Iterable[str] = (),
        seed: int | str = 0,
    ) -> None:
        """Start a session's music rules.

        Args:
            heard: ids of tracks this patient heard in earlier sessions.
            excluded: this patient's familiar or triggering tracks (ids, paths, file
                names or titles); the room's ``exclusions`` setting always applies.
            seed: fixes the shuffle (e.g. the session id).
        """
        self._wake.set()
        self._heard = frozenset(heard)
        self._excluded = frozenset(self._settings.exclusions) | frozenset(excluded)
        self._seed = seed
        self._played.clear()
        self._queues.clear()
        self._queue_sizes.clear()
        self._repeating.clear()
        self._failures = 0
        self._user_level = None
        if self._transport is not _Transport.PLAY:
            # A new session starts with music allowed again.
            self._pending = None
            for slot in self._slots:
                self._release(slot)
            self._transport = _Transport.PLAY
            self._transport_ramp = Ramp.hold(1.0)
        main = self._main()
        if (
            main is not None
            and main.track is not None
            and track_matches(main.track, self._excluded)
        ):
            self._notice(f'"{main.track.title}" is excluded for this patient')
            self._start_next(self._settings.skip_crossfade_s)

    def exclude(self, key: str) -> None:
        """Exclude a track for the rest of the session (e.g. it proved triggering).

        If it is playing, it fades out at once into the next track.
        """
        self._wake.set()
        self._excluded = self._excluded | {key}
        for phase, queue in self._queues.items():
            self._queues[phase] = deque(t for t in queue if not track_matches(t, {key}))
        main = self._main()
        if (
            main is not None
            and main.track is not None
            and track_matches(main.track, {key})
        ):
            self._start_next(self._settings.skip_crossfade_s)

    def set_phase(self, phase: Phase) -> None:
        """Move to ``phase``'s music: crossfade to its queue (silence for ``closed``).

        A phase change does not undo a pause or stop: ``play()`` then starts the new
        phase's music.
        """
        self._wake.set()
        if phase == self._phase:
            return
        self._phase = phase
        self._user_level = None
        now = self._clock.monotonic()
        self._level = self._level.to(
            self._settings.volume_percent.for_phase(phase),
            now=now,
            duration_s=self._settings.crossfade_s,
        )
        if phase not in MUSIC_PHASES:
            self._fade_out_all(self._settings.crossfade_s)
            return
        self._failures = 0
        self._prepare_wakeup.set()
        if self._transport is _Transport.PLAY:
            self._start_next(self._settings.crossfade_s)

    def _fade_out_all(self, duration_s: float) -> None:
        """Fade every audible deck to silence (no phase music); transport unchanged."""
        now = self._clock.monotonic()
        self._pending = None
        for slot in self._slots:
            if slot.role is _Role.STARTING:
                self._release(slot)
            elif slot.role is _Role.MAIN:
                slot.role = _Role.OUTGOING
                slot.fade = slot.fade.to(0.0, now=now, duration_s=duration_s)

    def skip(self) -> None:
        """Crossfade (``skip_crossfade_s``) to the next track of the phase."""
        self._wake.set()
        if self._transport is _Transport.PLAY and self._phase in MUSIC_PHASES:
            self._failures = 0
            self._start_next(self._settings.skip_crossfade_s)

    def set_volume(self, percent: float) -> None:
        """Ramp the level to ``percent`` (until the next phase change)."""
        self._wake.set()
        percent = min(max(percent, 0.0), 100.0)
        self._user_level = percent
        self._level = self._level.to(
            percent,
            now=self._clock.monotonic(),
            duration_s=self._settings.volume_ramp_s,
        )

    def pause(self) -> None:
        """Fade out (``pause_fade_s``) and pause where the track is."""
        self._wake.set()
        if self._transport is not _Transport.PLAY:
            return
        self._transport = _Transport.PAUSING
        self._transport_ramp = self._transport_ramp.to(
            0.0, now=self._clock.monotonic(), duration_s=self._settings.pause_fade_s
        )

    def play(self) -> None:
        """Resume after a pause (fading in), or start the phase's music again."""
        self._wake.set()
        now = self._clock.monotonic()
        match self._transport:
            case _Transport.PAUSING | _Transport.PAUSED:
                for slot in self._slots:
                    if slot.role is not _Role.IDLE:
                        self._guard(self._player.resume, slot.deck)
                    if slot.role is _Role.STARTING:
                        slot.loaded_mono = now  # its start timeout restarts
                self._transport = _Transport.PLAY
                self._transport_ramp = self._transport_ramp.to(
                    1.0, now=now, duration_s=self._settings.pause_fade_s
                )
            case _Transport.STOPPING | _Transport.STOPPED:
                self._transport = _Transport.PLAY
                self._transport_ramp = Ramp.hold(1.0)
                self._failures = 0
                self._start_next(self._settings.crossfade_s)
            case _Transport.PLAY:
                if self._main() is None and not self._starting():
                    self._failures = 0
                    self._start_next(self._settings.crossfade_s)

    def stop(self) -> None:
        """Fade out (``pause_fade_s``) and stop; ``play()`` starts again."""
        self._wake.set()
        self._pending = None
        if self._transport in {_Transport.STOPPING, _Transport.STOPPED}:
            return
        self._transport = _Transport.STOPPING
        self._transport_ramp = self._transport_ramp.to(
            0.0, now=self._clock.monotonic(), duration_s=self._settings.pause_fade_s
        )
        for slot in self._slots:
            if slot.role is _Role.STARTING:
                self._release(slot)

    def duck(self, on: bool) -> None:  # noqa: FBT001 - reads as duck(True)/duck(False)
        """Lower the music to ``duck_percent`` of its level (alarm), or restore it."""
        self._wake.set()
        if on == self._ducked:
            return
        self._ducked = on
        target = self._settings.duck_percent / 100.0 if on else 1.0
        self._duck = self._duck.to(
            target,
            now=self._clock.monotonic(),
            duration_s=self._settings.duck_ramp_s,
        )

    # ------------------------------------------------------------ console

    def now_playing(self) -> NowPlaying | None:
        """The track the patient hears, or ``None``."""
        main = self._main()
        if main is None or main.track is None or main.phase is None:
            return None
        started_at = main.started_at or self._clock.now_utc()
        position: float | None = None
        length: float | None = None
        if self._running:
            try:
                position = self._player.position_s(main.deck)
                length = self._player.length_s(main.deck)
            except PlayerError:
                position = length = None
        return NowPlaying(
            track=main.track,
            phase=main.phase,
            started_at=started_at,
            position_s=position,
            length_s=length,
        )

    def up_next(self, count: int = 3) -> tuple[Track, ...]:
        """The next ``count`` tracks of the current phase, in order."""
        upcoming: list[Track] = []
        if self._pending is not None:
            upcoming.append(self._pending.track)
        upcoming.extend(
            slot.track
            for slot in self._slots
            if slot.role is _Role.STARTING and slot.track is not None
        )
        if self._phase is not None:
            upcoming.extend(self._queues.get(self._phase, ()))
        return tuple(upcoming[:count])

    def state(self) -> MusicState:
        """What the music is doing."""
        if not self._settings.enabled:
            return MusicState.OFF
        if self._transport in {_Transport.PAUSING, _Transport.PAUSED}:
            return MusicState.PAUSED
        if self._transport in {_Transport.STOPPING, _Transport.STOPPED}:
            return MusicState.STOPPED
        if self._main() is not None or self._starting():
            return MusicState.PLAYING
        if self._waiting or self._library_loading:
            return MusicState.PREPARING
        return MusicState.SILENT

    def snapshot(self) -> MusicSnapshot:
        """The console's view of the music."""
        return MusicSnapshot(
            state=self.state(),
            phase=self._phase,
            now_playing=self.now_playing(),
            up_next=self.up_next(),
            level_percent=self._level.end,
            ducked=self._ducked,
            library=self._library_name(),
            last_notice=self._last_notice,
        )

    def _library_name(self) -> str:
        if self._settings.library_dir is not None:
            return str(self._settings.library_dir)
        if self._library is not None:
            return str(self._library.root or "library")
        return "built-in"

    # ------------------------------------------------------------ run

    async def run(self) -> None:
        """Own the player and the music tasks until cancelled.

        Raises:
            PlayerError: the player cannot be opened (the caller restarts this).
        """
        if not self._settings.enabled:
            _LOGGER.info("music is disabled")
            await asyncio.Event().wait()
        self._closing.clear()
        self._builtin_failed.clear()  # a restart tries again (e.g. cache now writable)
        self._prepare_wakeup = asyncio.Event()
        self._wake = asyncio.Event()
        self._player.open()
        self._running = True
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(self._event_loop(), name="music.player-events")
                tg.create_task(self._tick_loop(), name="music.mixer")
                tg.create_task(self._prepare_loop(), name="music.library")
                if self._phase in MUSIC_PHASES and self._transport is _Transport.PLAY:
                    self._start_next(self._settings.crossfade_s)
        finally:
            self._running = False
            self._closing.set()
            self._pending = None
            for slot in self._slots:
                slot.clear()
            self._player.close()

    async def _event_loop(self) -> None:
        while True:
            event = await self._player.next_event()
            self._wake.set()
            try:
                self._on_player_event(event)
            except PlayerError as exc:
                self._notice(f"the music player failed: {exc}")

    async def _tick_loop(self) -> None:
        tick_s = self._settings.tick_s
        while True:
            delay = self._next_tick_s(self._clock.monotonic())
            if delay <= tick_s:
                await self._sleep(tick_s)
            else:
                await self._idle(delay)
            self.tick()

    async def _idle(self, delay: float) -> None:
        """Sleep ``delay`` seconds, or until a command or a player event wakes us."""
        self._wake.clear()
        sleeper = asyncio.ensure_future(self._sleep(delay))
        woken = asyncio.ensure_future(self._wake.wait())
        try:
            await asyncio.wait((sleeper, woken), return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeper.cancel()
            woken.cancel()

    async def _prepare_loop(self) -> None:
        if self._library_loading and self._settings.library_dir is not None:
            await self._load_library(self._settings.library_dir)
        while True:
            phase = self._next_builtin_to_make()
            if phase is None:
                self._prepare_wakeup.clear()
                await self._prepare_wakeup.wait()
                continue
            try:
                playlist = await asyncio.to_thread(
                    self._builtin_source, phase, self._closing.is_set
                )
            except (OSError, PlaylistError, ValueError) as exc:
                self._builtin_failed[phase] = str(exc)
                self._notice(f"cannot make the built-in music for {phase}: {exc}")
            else:
                self._builtin[phase] = playlist
                _LOGGER.info("built-in music ready for %s", phase)
            self._wake.set()
            self._sources_changed()

    async def _load_library(self, root: Path) -> None:
        try:
            library = await asyncio.to_thread(load_library, root)
        except PlaylistError as exc:
            fallback = (
                "; playing the built-in ambient music instead"
                if self._settings.fallback_to_builtin
                else ""
            )
            self._notice(
                f"cannot use the music library: {'; '.join(exc.problems)}{fallback}"
            )
        else:
            self._library = library
            for problem in library.problems:
                self._notice(problem)
        self._library_loading = False
        self._wake.set()
        self._sources_changed()

    # ------------------------------------------------------------ engine

    def tick(self) -> None:
        """Advance fades, start and stop decks on time, send volumes (every tick)."""
        now = self._clock.monotonic()
        playing = self._transport is _Transport.PLAY
        for slot in self._slots:
            if (
                playing
                and slot.role is _Role.STARTING
                and now - slot.loaded_mono > self._settings.start_timeout_s
            ):
                self._skip_failed(slot, "it did not start in time")
            elif slot.role is _Role.OUTGOING and slot.fade.done(now):
                self._release(slot)
        if self._pending is not None and playing:
            target = self._slots[self._free_deck()]
            if target.role is _Role.IDLE:
                pending, self._pending = self._pending, None
                self._load(target, pending)
        self._advance_transport(now)
        self._maybe_crossfade_at_end()
        self._send_volumes(now)

    def _next_tick_s(self, now: float) -> float:
        """Seconds until the mixer must look again (``tick_s`` while anything moves).

        Something moves while a ramp or a deck's fade runs, a deck fades out, a track
        waits for a deck, the transport is pausing or stopping, or a volume has not
        reached the player. Otherwise the next thing due is a track's start timeout
        or the end-of-track crossfade; commands and player events wake the mixer
        earlier (``_wake``). It never sleeps longer than ``IDLE_TICK_MAX_S``.
        """
        tick_s = self._settings.tick_s
        if (
            self._pending is not None
            or self._transport in {_Transport.PAUSING, _Transport.STOPPING}
            or not self._level.done(now)
            or not self._duck.done(now)
            or not self._transport_ramp.done(now)
        ):
            return tick_s
        playing = self._transport is _Transport.PLAY
        due = IDLE_TICK_MAX_S
        base = self._base_volume(now)
        for slot in self._slots:
            if slot.role is _Role.OUTGOING or (
                slot.role is _Role.MAIN
                and (not slot.fade.done(now) or slot.sent != _volume(base, slot, now))
            ):
                return tick_s
            if slot.role is _Role.STARTING and playing:
                timeout_at = slot.loaded_mono + self._settings.start_timeout_s
                due = min(due, timeout_at - now + tick_s)
        crossfade_in = self._until_crossfade()
        if crossfade_in is None:
            return tick_s  # the player does not know yet: ask again soon
        return max(min(due, crossfade_in), tick_s)

    def _until_crossfade(self) -> float | None:
        """Seconds until the end-of-track crossfade is due (<= 0: now).

        ``math.inf`` when none is awaited (no main track, already asked for, not
        playing); ``None`` when the player cannot tell the position or length yet.
        """
        main = self._main()
        if (
            main is None
            or main.next_requested
            or self._transport is not _Transport.PLAY
            or self._phase not in MUSIC_PHASES
        ):
            return math.inf
        try:
            length = self._player.length_s(main.deck)
            position = self._player.position_s(main.deck)
        except PlayerError:
            return None
        if length is None or position is None:
            return None
        # Short tracks cross over at a third of their length at the latest.
        lead = min(self._settings.crossfade_s, length / 3)
        return length - position - (lead + self._settings.tick_s)

    def _advance_transport(self, now: float) -> None:
        if not self._transport_ramp.done(now):
            return
        if self._transport is _Transport.PAUSING:
            for slot in self._slots:
                if slot.role is not _Role.IDLE:
                    self._guard(self._player.pause, slot.deck)
            self._transport = _Transport.PAUSED
        elif self._transport is _Transport.STOPPING:
            for slot in self._slots:
                if slot.role is not _Role.IDLE:
                    self._release(slot)
            self._transport = _Transport.STOPPED
            self._transport_ramp = Ramp.hold(1.0)

    def _maybe_crossfade_at_end(self) -> None:
        left = self._until_crossfade()
        main = self._main()
        if main is not None and left is not None and left <= 0:
            main.next_requested = True
            self._start_next(self._settings.crossfade_s)

    def _base_volume(self, now: float) -> float:
        """Level x duck x transport at ``now``: a deck's volume before its fade."""
        return (
            self._level.value_at(now)
            * self._duck.value_at(now)
            * self._transport_ramp.value_at(now)
        )

    def _send_volumes(self, now: float) -> None:
        base = self._base_volume(now)
        settled = all(
            ramp.done(now) for ramp in (self._level, self._duck, self._transport_ramp)
        )
        for slot in self._slots:
            if slot.role not in {_Role.MAIN, _Role.OUTGOING}:
                continue
            volume = _volume(base, slot, now)
            if slot.sent is not None and (
                volume == slot.sent
                # Tiny steps wait, but a finished ramp always lands exactly.
                or (
                    abs(volume - slot.sent) < _VOLUME_EPSILON
                    and not (settled and slot.fade.done(now))
                )
            ):
                continue
            if self._guard(self._player.set_volume, slot.deck, volume):
                slot.sent = volume

    def _on_player_event(self, event: PlayerEvent) -> None:
        slot = self._slots[event.deck]
        if event.load_id != slot.load_id or slot.role is _Role.IDLE:
            return  # about a track already replaced
        match event.kind:
            case DeckEventKind.STARTED:
                if slot.role is _Role.STARTING:
                    self._on_started(slot)
            case DeckEventKind.ENDED:
                was_main = slot.role is _Role.MAIN
                self._release(slot)
                if (
                    was_main
                    and self._transport is _Transport.PLAY
                    and not self._starting()
                ):
                    self._start_next(self._settings.crossfade_s)
            case DeckEventKind.FAILED:
                self._skip_failed(slot, event.reason)

    def _on_started(self, slot: _Slot) -> None:
        now = self._clock.monotonic()
        track, phase = slot.track, slot.phase
        assert track is not None  # noqa: S101 - a STARTING slot has a track
        assert phase is not None  # noqa: S101 - a STARTING slot has a phase
        for other in self._slots:
            if other is not slot and other.role is _Role.MAIN:
                other.role = _Role.OUTGOING
                other.fade = other.fade.to(
                    0.0, now=now, duration_s=slot.fade_in_s, curve=Curve.EQUAL_POWER
                )
        slot.role = _Role.MAIN
        slot.started_mono = now
        slot.started_at = self._clock.now_utc()
        slot.fade = Ramp(
            start=0.0,
            end=1.0,
            start_mono=now,
            duration_s=slot.fade_in_s,
            curve=Curve.EQUAL_POWER,
        )
        self._failures = 0
        self._played.add(track.id)
        if self._transport in {_Transport.PAUSING, _Transport.PAUSED}:
            self._guard(self._player.pause, slot.deck)
        _LOGGER.info("music: %s (%s)", track.title, phase)
        if self._on_track is not None:
            self._on_track(
                TrackStarted(
                    track_id=track.id,
                    title=track.title,
                    artist=track.artist,
                    phase=phase,
                    path=track.path,
                    repeat=slot.repeat,
                    occurred_mono=now,
                    occurred_at=slot.started_at,
                )
            )
        self._send_volumes(now)

    def _skip_failed(self, slot: _Slot, reason: str) -> None:
        track = slot.track
        was_playing = slot.role in {_Role.STARTING, _Role.MAIN}
        fade = slot.fade_in_s if slot.role is _Role.STARTING else None
        self._release(slot)
        if track is not None:
            self._notice(
                f'cannot play "{track.title}" ({track.path}): {reason}; '
                "skipping to the next track"
            )
        if was_playing and self._transport is _Transport.PLAY:
            self._failures += 1
            self._start_next(self._settings.crossfade_s if fade is None else fade)

    # ------------------------------------------------------------ choosing

    def _start_next(self, fade_in_s: float) -> None:
        """Load the phase's next track on the free deck (crossfade once it starts)."""
        phase = self._phase
        if not self._running or phase not in MUSIC_PHASES:
            return
        if self._give_up(phase):
            return
        picked = self._next_track(phase)
        if picked is None:
            return
        track, repeat = picked
        pending = _Pending(track=track, phase=phase, repeat=repeat, fade_in_s=fade_in_s)
        self._pending = None
        slot = self._slots[self._free_deck()]
        match slot.role:
            case _Role.IDLE:
                self._load(slot, pending)
            case _Role.STARTING:
                # Not audible yet: replace it at once.
                self._release(slot)
                self._load(slot, pending)
            case _Role.OUTGOING | _Role.MAIN:
                # Audible: fade it out quickly, then load (tick).
                now = self._clock.monotonic()
                slot.role = _Role.OUTGOING
                if slot.fade.end > 0 or not slot.fade.done(now):
                    slot.fade = slot.fade.to(0.0, now=now, duration_s=QUICK_FADE_S)
                self._pending = pending

    def _give_up(self, phase: Phase) -> bool:
        limit = min(max(self._queue_sizes.get(phase, 0), 3), _MAX_FAILURES)
        if self._failures < limit:
            return False
        self._notice(
            f"{self._failures} tracks in a row could not be played; the music is "
            "silent until the next phase, skip or play"
        )
        self._failures = 0
        return True

    def _free_deck(self) -> int:
        """The deck for the next track: not the main one; idle, else not yet audible."""
        main = self._main()
        if main is not None:
            return 1 - main.deck
        for role in (_Role.IDLE, _Role.STARTING):
            for slot in self._slots:
                if slot.role is role:
                    return slot.deck
        return 0

    def _next_track(self, phase: Phase) -> tuple[Track, bool] | None:
        queue = self._queues.get(phase)
        if not queue:
            built = self._build_queue(phase)
            if built is None:
                self._waiting = True
                return None
            queue = self._queues[phase] = built
            self._queue_sizes[phase] = len(built)
        self._waiting = False
        if not queue:
            return None
        return queue.popleft(), phase in self._repeating

    def _build_queue(self, phase: Phase) -> deque[Track] | None:
        """A fresh queue for ``phase``; ``None`` while a source is still being made."""
        if self._library_loading:
            return None
        heard = self._heard | self._played
        reasons: list[str] = []
        if self._library is not None:
            queue = choose_queue(
                self._library.playlist(phase),
                heard=heard,
                excluded=self._excluded,
                seed=self._seed,
            )
            if queue.tracks:
                return self._accept(queue)
            reasons.append(queue.reason)
        if self._uses_library and self._library is None:
            reasons.append("the music library could not be read")
        if not self._uses_library or self._settings.fallback_to_builtin:
            playlist = self._builtin.get(phase)
            if playlist is None and phase not in self._builtin_failed:
                self._builtin_wanted.add(phase)
                self._prepare_wakeup.set()
                return None
            if playlist is not None:
                queue = choose_queue(
                    playlist, heard=heard, excluded=self._excluded, seed=self._seed
                )
                if queue.tracks:
                    if reasons:
                        self._notice(
                            f"{reasons[0]}; playing the built-in ambient music instead"
                        )
                    return self._accept(queue)
                reasons.append(queue.reason)
            else:
                reasons.append(self._builtin_failed[phase])
        self._notice(f"no music for the {phase} phase: {'; '.join(reasons)}")
        return deque()

    def _accept(self, queue: TrackQueue) -> deque[Track]:
        if queue.repeats:
            self._repeating.add(queue.phase)
            self._notice(queue.reason)
        else:
            self._repeating.discard(queue.phase)
        return deque(queue.tracks)

    def _next_builtin_to_make(self) -> Phase | None:
        pending = [
            p
            for p in MUSIC_PHASES
            if p not in self._builtin and p not in self._builtin_failed
        ]
        if not pending or self._library_loading:
            return None
        wanted = [p for p in pending if p in self._builtin_wanted]
        if self._phase in wanted:
            return self._phase
        if wanted:
            return wanted[0]
        if self._uses_library:
            return None  # the library serves; built-ins only on demand
        # Built-in is the main source: the current phase, then the ones to come.
        current = self._phase.order if self._phase is not None else -1
        ahead = [p for p in pending if p.order >= current]
        return (ahead or pending)[0]

    def _sources_changed(self) -> None:
        """A library or built-in playlist became ready: play it if it was awaited."""
        if (
            not self._waiting
            or self._transport is not _Transport.PLAY
            or self._phase not in MUSIC_PHASES
            or self._starting()
        ):
            return
        main = self._main()
        if main is None or main.phase != self._phase:
            self._start_next(self._settings.crossfade_s)

    # ------------------------------------------------------------ decks

    def _load(self, slot: _Slot, pending: _Pending) -> None:
        try:
            load_id = self._player.load(slot.deck, pending.track.path)
        except PlayerError as exc:
            slot.clear()
            self._notice(
                f'cannot play "{pending.track.title}" ({pending.track.path}): {exc}; '
                "skipping to the next track"
            )
            self._failures += 1
            self._start_next(pending.fade_in_s)
            return
        slot.clear()
        slot.role = _Role.STARTING
        slot.track = pending.track
        slot.phase = pending.phase
        slot.repeat = pending.repeat
        slot.load_id = load_id
        slot.loaded_mono = self._clock.monotonic()
        slot.fade_in_s = pending.fade_in_s

    def _release(self, slot: _Slot) -> None:
        if slot.role is not _Role.IDLE:
            try:
                self._player.stop(slot.deck)
            except PlayerError as exc:
                _LOGGER.warning("music: stopping deck %d failed: %s", slot.deck, exc)
        slot.clear()

    def _main(self) -> _Slot | None:
        return next((s for s in self._slots if s.role is _Role.MAIN), None)

    def _starting(self) -> bool:
        return self._pending is not None or any(
            s.role is _Role.STARTING for s in self._slots
        )

    def _guard(self, action: Callable[..., None], *args: object) -> bool:
        """Call a player method; a ``PlayerError`` becomes a notice."""
        if not self._running:
            return False
        try:
            action(*args)
        except PlayerError as exc:
            self._notice(f"the music player failed: {exc}")
            return False
        return True

    def _notice(self, text: str) -> None:
        _LOGGER.warning("music: %s", text)
        self._last_notice = text
        self._notify(
            TechnicalNotice(
                occurred_mono=self._clock.monotonic(),
                occurred_at=self._clock.now_utc(),
                component=COMPONENT,
                text=text,
            )
        )
