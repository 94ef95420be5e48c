"""libVLC adapter for the ``MusicPlayer`` port: two MediaPlayers, driven from the loop.

Adapter layer (style.md §2.6, ecosystem.md §3.1). The rules it keeps:

- **One thread.** Every libVLC call happens on the event loop's thread; each public
  method checks and raises ``PlayerError`` otherwise. libVLC calls return quickly
  (libVLC works on its own threads).
- **Callbacks only hop.** libVLC event callbacks run on a libVLC thread and do exactly
  one thing: ``loop.call_soon_threadsafe(queue.put_nowait, raw)``. libVLC is not
  reentrant, so nothing calls libVLC from a callback; ``next_event`` interprets the
  hopped events on the loop.
- **No blip.** A volume set before playback reaches libVLC only if the player's audio
  output object exists; otherwise it is ignored and the pre-buffer (up to
  ``--file-caching``, 0.3-1 s) plays at full level (python-vlc #220). Measured with
  libVLC 3.0.24: a new MediaPlayer has its output, but ``stop()`` destroys it, and
  ``audio_output_set(<module>)`` makes a new one at once. So after every stop a deck
  is *primed*: its output re-created (when the module is known: ``alsa``, ``pulse``,
  ``adummy``, ``afile``), volume 0, muted. With that, volume 0 holds from the first
  sample (ALSA: measured exact silence). As a second guard, for an output that still
  appears only at play time (libVLC's own choice with ``default``), each load also
  sets an equalizer at its strongest cut (-20 dB preamp and bands), which libVLC keeps
  on the player and applies when the output starts (measured: about 44 dB down).
  libVLC's ``Playing`` event can come *before* the output has started (amem: 7 ms
  earlier, measured), and a volume set in that gap is lost when it starts; so the
  deck goes live only when libVLC's clock moves (``TimeChanged``, time > 0): then
  the wanted volume (still 0: the controller ramps only after ``STARTED``) is
  re-applied, the guard removed, the deck unmuted, and ``STARTED`` reported.
- **No crossfade in libVLC**: two decks, each its own ``Instance`` + ``MediaPlayer``
  (separate instances let the file output write one WAV per deck); volumes are set
  by the controller's ramps, never by libVLC.
- **Edges.** libVLC failures become ``PlayerError``; a missing file raises it from
  ``load``; a file libVLC cannot open (``EncounteredError``) or that yields no audio
  (``EndReached`` before the clock ever moved: measured with a file of random bytes)
  becomes a ``FAILED`` event. Players, media and instances are
  ``release()``d on close; the event-manager wrappers are kept alive while attached
  (python-vlc frees the ctypes callback with its wrapper: issue python-vlc#2).

python-vlc is imported in ``open()``, not at import time, so a machine without libVLC
can still import (and run) the daemon; music then fails in its own fault domain.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Final, Protocol

from roomctl.errors import PlayerError
from roomctl.playlists.player import DECKS, DeckEventKind, PlayerEvent, PlayerState

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from types import ModuleType

__all__ = [
    "BASE_ARGS",
    "VlcOutput",
    "VlcPlayer",
    "resolve_output",
    "sound_output_available",
]

_LOGGER = logging.getLogger(__name__)

#: Arguments every instance gets: audio only, quiet (libVLC's own chatter would go
#: to stderr, which is the daemon's JSON log), no X11, and the SoX resampler first.
#: libVLC runs its resampler on every audio block, even when the track's rate is the
#: output's (it corrects clock drift with it). Left to choose, libVLC 3.0.24 picks
#: libsamplerate, and the thread that runs it took 0.21-0.25 % of a core for one
#: 22,050 Hz stereo track into ``adummy``; with soxr (same package,
#: ``vlc-plugin-base``) 0.05-0.09 % (issue 6). ``any`` keeps libVLC's choice when
#: soxr is missing.
BASE_ARGS: Final[tuple[str, ...]] = (
    "--no-video",
    "--quiet",
    "--no-xlib",
    "--audio-resampler=soxr,any",
)

#: libVLC's "no value" for get_time/get_length and failed calls.
_VLC_FAILED = -1
#: libVLC's strongest equalizer cut, in dB (preamp and bands: -20..+20).
_EQ_CUT_DB = -20.0


# ---------------------------------------------------------------- python-vlc shapes
# python-vlc is untyped; these protocols name exactly the calls this adapter makes.


class _VlcEventManager(Protocol):
    def event_attach(
        self, eventtype: object, callback: Callable[..., None], *args: object
    ) -> int: ...
    def event_detach(self, eventtype: object) -> None: ...


class _VlcMedia(Protocol):
    def release(self) -> None: ...


class _VlcEqualizer(Protocol):
    def set_preamp(self, preamp: float) -> int: ...
    def set_amp_at_index(self, amp: float, band: int) -> int: ...
    def release(self) -> None: ...


class _VlcMediaPlayer(Protocol):
    def set_media(self, media: _VlcMedia) -> None: ...
    def set_equalizer(self, equalizer: _VlcEqualizer | None) -> int: ...
    def audio_output_set(self, name: str) -> int: ...
    def play(self) -> int: ...
    def stop(self) -> None: ...
    def set_pause(self, do_pause: int) -> None: ...
    def audio_set_volume(self, volume: int) -> int: ...
    def audio_get_volume(self) -> int: ...
    def audio_set_mute(self, status: bool) -> None: ...  # noqa: FBT001 - libVLC's own
    def get_time(self) -> int: ...
    def get_length(self) -> int: ...
    def event_manager(self) -> _VlcEventManager: ...
    def release(self) -> None: ...


class _VlcInstance(Protocol):
    def media_player_new(self) -> _VlcMediaPlayer: ...
    def media_new_path(self, path: str) -> _VlcMedia | None: ...
    def release(self) -> None: ...


# ---------------------------------------------------------------- outputs


def _pulse_session() -> bool:
    if os.environ.get("PULSE_SERVER"):
        return True
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if not runtime:
        return False
    folder = Path(runtime)
    return (folder / "pulse" / "native").exists() or any(folder.glob("pipewire-*"))


def _alsa_card() -> bool:
    try:
        cards = Path("/proc/asound/cards").read_text(encoding="utf-8")
    except OSError:
        return False
    return bool(cards.strip()) and "no soundcards" not in cards


def sound_output_available() -> bool:
    """Whether this machine seems to have somewhere to send sound.

    True with a PulseAudio/PipeWire session (``PULSE_SERVER``, or a socket under
    ``$XDG_RUNTIME_DIR``) or an ALSA card in ``/proc/asound/cards``.
    """
    return _pulse_session() or _alsa_card()


@dataclass(frozen=True, slots=True, kw_only=True)
class VlcOutput:
    """How libVLC is told where sound goes."""

    #: libVLC's audio output module (``--aout``); ``None`` lets libVLC choose.
    module: str | None
    #: Arguments for both decks.
    args: tuple[str, ...] = ()
    #: Further arguments for deck 0 and deck 1.
    deck_args: tuple[tuple[str, ...], tuple[str, ...]] = ((), ())


def resolve_output(output: str) -> VlcOutput:
    """The libVLC output for an output setting.

    ``auto`` is ``pulse`` with a PulseAudio/PipeWire session, else ``alsa`` with a
    sound card, else the silent ``adummy`` (ALSA without a card floods stderr); naming
    the module lets the player re-create it after a stop (module doc). ``file:PATH``
    writes each deck to its own WAV (``<stem>.deck0.wav``, ``<stem>.deck1.wav``),
    because libVLC's ``afile`` output re-opens and overwrites its file for every
    track and two decks must not share one.

    >>> resolve_output("dummy")
    VlcOutput(module='adummy', args=('--aout=adummy',), deck_args=((), ()))
    >>> resolve_output("file:/tmp/out.wav").deck_args[1]
    ('--audiofile-file=/tmp/out.deck1.wav',)

    Raises:
        ValueError: not an output roomctl knows.
    """
    match output:
        case "auto":
            if _pulse_session():
                return resolve_output("pulse")
            return resolve_output("alsa" if _alsa_card() else "dummy")
        case "default":
            return VlcOutput(module=None)
        case "alsa" | "pulse":
            return VlcOutput(module=output, args=(f"--aout={output}",))
        case "dummy":
            return VlcOutput(module="adummy", args=("--aout=adummy",))
        case _ if output.startswith("file:") and len(output) > len("file:"):
            path = Path(output.removeprefix("file:")).expanduser()
            deck0, deck1 = (
                (
                    f"--audiofile-file={path.with_name(f'{path.stem}.deck{d}{path.suffix}')}",
                )
                for d in DECKS
            )
            return VlcOutput(
                module="afile",
                args=("--aout=afile", "--audiofile-wav"),
                deck_args=(deck0, deck1),
            )
        case _:
            raise ValueError(
                f"unknown music output {output!r} "
                "(auto, default, alsa, pulse, dummy or file:PATH)"
            )


# ---------------------------------------------------------------- decks


@dataclass(frozen=True, slots=True)
class _Raw:
    """A libVLC event as hopped to the loop: which deck, which load, what."""

    deck: int
    load_id: int
    kind: str


def _make_hop(
    loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[_Raw]
) -> Callable[[object, _Raw], None]:
    """The libVLC event callback: runs on a libVLC thread, only hops to the loop."""

    def hop(_event: object, raw: _Raw) -> None:
        loop.call_soon_threadsafe(queue.put_nowait, raw)

    return hop


@dataclass(slots=True)
class _Deck:
    index: int
    instance: _VlcInstance
    player: _VlcMediaPlayer
    events: _VlcEventManager
    #: The start-of-track guard: the strongest equalizer cut.
    guard: _VlcEqualizer
    media: _VlcMedia | None = None
    path: Path | None = None
    load_id: int = 0
    state: PlayerState = PlayerState.IDLE
    #: What the controller wants (applied once live).
    volume: float = 0.0
    #: Audio has started and the wanted volume is applied (unmuted).
    live: bool = False
    #: STARTED has been reported for this load.
    announced: bool = False
    attached: list[object] = field(default_factory=list)


class VlcPlayer:
    """Two libVLC MediaPlayers behind the ``MusicPlayer`` port.

    Args:
        instance_args: libVLC arguments for both decks (after ``BASE_ARGS``), e.g.
            ``("--aout=adummy",)``; ``for_output`` makes them from a setting.
        deck_args: further arguments per deck (deck 0, deck 1).
        aout: the audio output module, re-created after each stop so volume 0 holds
            before playback (module doc); by default the ``--aout=`` argument's.
    """

    def __init__(
        self,
        *,
        instance_args: Sequence[str] = (),
        deck_args: tuple[Sequence[str], Sequence[str]] = ((), ()),
        aout: str | None = None,
    ) -> None:
        self._instance_args = (*BASE_ARGS, *instance_args)
        self._deck_args = (tuple(deck_args[0]), tuple(deck_args[1]))
        if aout is None:
            named = [
                a.removeprefix("--aout=")
                for a in instance_args
                if a.startswith("--aout=")
            ]
            aout = named[-1] if named else None
        self._aout = aout
        self._vlc: ModuleType | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: int | None = None
        self._queue: asyncio.Queue[_Raw] = asyncio.Queue()
        self._hop: Callable[[object, _Raw], None] | None = None
        self._decks: list[_Deck] = []
        self._warned_volume = False

    @classmethod
    def for_output(cls, output: str, *, extra_args: Sequence[str] = ()) -> VlcPlayer:
        """A player for an output setting (``auto``, ``dummy``, ``file:PATH`` ...).

        Raises:
            ValueError: not an output roomctl knows.
        """
        resolved = resolve_output(output)
        return cls(
            instance_args=(*resolved.args, *extra_args),
            deck_args=resolved.deck_args,
            aout=resolved.module,
        )

    # ------------------------------------------------------------ lifecycle

    def open(self) -> None:
        """Create both decks; call from inside the running event loop.

        Raises:
            PlayerError: python-vlc or libVLC is missing, or libVLC refused the
                arguments.
        """
        if self._decks:
            return
        self._loop = asyncio.get_running_loop()
        self._thread = threading.get_ident()
        self._queue = asyncio.Queue()
        self._hop = _make_hop(self._loop, self._queue)
        try:
            self._vlc = importlib.import_module("vlc")
        except (ImportError, OSError, NotImplementedError) as exc:
            raise PlayerError(f"libVLC is not available: {exc}") from exc
        try:
            for deck in DECKS:
                self._decks.append(self._make_deck(deck))
        except self._vlc.VLCException as exc:
            self.close()
            raise PlayerError(f"libVLC could not start: {exc}") from exc
        except PlayerError:
            self.close()
            raise
        _LOGGER.info("libVLC player open (%s)", " ".join(self._instance_args))

    def _make_deck(self, deck: int) -> _Deck:
        assert self._vlc is not None  # noqa: S101 - open() imported it
        args = [*self._instance_args, *self._deck_args[deck]]
        instance: _VlcInstance | None = self._vlc.Instance(args)
        if instance is None:
            raise PlayerError(f"libVLC refused the arguments {args}")
        player = self._new_media_player(instance)
        guard: _VlcEqualizer = self._vlc.AudioEqualizer()
        guard.set_preamp(_EQ_CUT_DB)
        for band in range(self._vlc.libvlc_audio_equalizer_get_band_count()):
            guard.set_amp_at_index(_EQ_CUT_DB, band)
        made = _Deck(
            index=deck,
            instance=instance,
            player=player,
            events=player.event_manager(),
            guard=guard,
        )
        self._prime(made)
        return made

    def _new_media_player(self, instance: _VlcInstance) -> _VlcMediaPlayer:
        """Make one deck's MediaPlayer (a seam for tests that capture audio)."""
        return instance.media_player_new()

    def close(self) -> None:
        """Stop both decks and release players, media and instances (idempotent)."""
        if not self._decks:
            return
        self._check_thread("close")
        for deck in self._decks:
            deck.player.stop()
            deck.player.set_equalizer(None)
            self._detach(deck)
            if deck.media is not None:
                deck.media.release()
                deck.media = None
            deck.player.release()
            deck.guard.release()
            deck.instance.release()
            deck.state = PlayerState.IDLE
        self._decks = []
        _LOGGER.info("libVLC player closed")

    # ------------------------------------------------------------ the port

    def load(self, deck: int, path: Path) -> int:
        """Start ``path`` on ``deck``, muted at volume 0; return the load id.

        Raises:
            PlayerError: the file is missing, or libVLC refused it.
        """
        d = self._deck(deck, "load")
        if not path.is_file():
            raise PlayerError(f"{path}: no such file")
        if d.state is not PlayerState.IDLE:
            self._halt(d)  # an idle deck is already stopped and primed
        media = d.instance.media_new_path(str(path))
        if media is None:
            raise PlayerError(f"{path}: libVLC cannot make a media of it")
        d.media = media
        d.path = path
        d.volume = 0.0
        d.live = False
        d.announced = False
        self._attach(d)
        d.player.set_media(media)
        # Silent start, three ways (module doc): mute, volume 0, equalizer cut.
        d.player.audio_set_mute(status=True)
        d.player.audio_set_volume(0)
        d.player.set_equalizer(d.guard)
        if d.player.play() == _VLC_FAILED:
            self._halt(d)
            raise PlayerError(f"{path}: libVLC could not start playing it")
        d.state = PlayerState.STARTING
        return d.load_id

    def set_volume(self, deck: int, percent: float) -> None:
        """Set ``deck``'s volume (0-100); kept until audio flows, then applied.

        An output without volume control (libVLC's ``afile``) refuses every volume:
        that is logged once, not raised.
        """
        d = self._deck(deck, "set_volume")
        d.volume = min(max(percent, 0.0), 100.0)
        if d.live and d.state in {PlayerState.PLAYING, PlayerState.PAUSED}:
            self._apply_volume(d)

    def pause(self, deck: int) -> None:
        """Pause ``deck`` (no-op unless playing)."""
        d = self._deck(deck, "pause")
        if d.state in {PlayerState.PLAYING, PlayerState.STARTING}:
            d.player.set_pause(1)
            d.state = PlayerState.PAUSED

    def resume(self, deck: int) -> None:
        """Resume ``deck`` (no-op unless paused)."""
        d = self._deck(deck, "resume")
        if d.state is PlayerState.PAUSED:
            d.player.set_pause(0)
            d.state = PlayerState.PLAYING if d.announced else PlayerState.STARTING

    def stop(self, deck: int) -> None:
        """Stop ``deck``; events of the stopped track are ignored from now on."""
        self._halt(self._deck(deck, "stop"))

    def state(self, deck: int) -> PlayerState:
        """What ``deck`` is doing."""
        return self._deck(deck, "state").state

    def position_s(self, deck: int) -> float | None:
        """Seconds played of ``deck``'s track, or ``None``."""
        d = self._deck(deck, "position_s")
        if d.state is PlayerState.IDLE:
            return None
        ms = d.player.get_time()
        return ms / 1000 if ms >= 0 else None

    def length_s(self, deck: int) -> float | None:
        """Length of ``deck``'s track in seconds, or ``None``."""
        d = self._deck(deck, "length_s")
        if d.state is PlayerState.IDLE:
            return None
        ms = d.player.get_length()
        return ms / 1000 if ms > 0 else None

    async def next_event(self) -> PlayerEvent:
        """Wait for the next deck event (hopped libVLC events, interpreted here)."""
        while True:
            raw = await self._queue.get()
            event = self._interpret(raw)
            if event is not None:
                return event

    # ------------------------------------------------------------ internals

    def _check_thread(self, what: str) -> None:
        if self._thread is not None and threading.get_ident() != self._thread:
            name = threading.current_thread().name
            msg = (
                f"VlcPlayer.{what} called from thread {name}; "
                "libVLC may only be called from the event loop's thread"
            )
            _LOGGER.error("%s", msg)
            raise PlayerError(msg)

    def _deck(self, deck: int, what: str) -> _Deck:
        self._check_thread(what)
        if not self._decks:
            raise PlayerError(f"VlcPlayer.{what}: the player is not open")
        if deck not in DECKS:
            raise PlayerError(f"VlcPlayer.{what}: no deck {deck}")
        return self._decks[deck]

    def _event_types(self) -> dict[str, object]:
        assert self._vlc is not None  # noqa: S101 - only called once open
        types = self._vlc.EventType
        return {
            "time": types.MediaPlayerTimeChanged,
            "end": types.MediaPlayerEndReached,
            "error": types.MediaPlayerEncounteredError,
        }

    def _attach(self, d: _Deck) -> None:
        self._detach(d)
        assert self._hop is not None  # noqa: S101 - made by open()
        for kind, event_type in self._event_types().items():
            d.events.event_attach(event_type, self._hop, _Raw(d.index, d.load_id, kind))
            d.attached.append(event_type)

    def _detach_kind(self, d: _Deck, kind: str) -> None:
        event_type = self._event_types()[kind]
        if event_type in d.attached:
            d.events.event_detach(event_type)
            d.attached.remove(event_type)

    def _detach(self, d: _Deck) -> None:
        for event_type in d.attached:
            d.events.event_detach(event_type)
        d.attached.clear()

    def _halt(self, d: _Deck) -> None:
        """Stop the deck and prime it; a new load id makes its queued events stale."""
        # stop() joins libVLC's input thread: no event of this track fires after it.
        d.player.stop()
        self._detach(d)
        if d.media is not None:
            d.media.release()
            d.media = None
        d.load_id += 1
        d.state = PlayerState.IDLE
        d.live = False
        d.announced = False
        d.path = None
        self._prime(d)

    def _prime(self, d: _Deck) -> None:
        """Give a stopped deck an audio output at volume 0, muted (module doc)."""
        if self._aout is not None and d.player.audio_output_set(self._aout) != 0:
            _LOGGER.debug("libVLC could not re-create output %s", self._aout)
        d.player.audio_set_volume(0)
        d.player.audio_set_mute(status=True)
        d.volume = 0.0

    def _apply_volume(self, d: _Deck) -> None:
        wanted = round(d.volume)
        if d.player.audio_set_volume(wanted) == _VLC_FAILED and not self._warned_volume:
            # Outputs without volume control (afile) refuse every volume; say it once
            # rather than failing every tick. The track still started muted.
            self._warned_volume = True
            _LOGGER.warning(
                "the audio output ignores volume changes (deck %d); music plays at "
                "the files' own level",
                d.index,
            )

    def _go_live(self, d: _Deck) -> None:
        # The output exists now: re-apply the wanted volume (0 at a track's start),
        # drop the equalizer guard, then unmute.
        self._apply_volume(d)
        d.player.set_equalizer(None)
        d.player.audio_set_mute(status=False)
        d.live = True

    def _announce(self, d: _Deck) -> PlayerEvent:
        d.announced = True
        if d.state is not PlayerState.PAUSED:
            d.state = PlayerState.PLAYING
        return PlayerEvent(deck=d.index, load_id=d.load_id, kind=DeckEventKind.STARTED)

    def _interpret(self, raw: _Raw) -> PlayerEvent | None:
        if not self._decks or raw.deck not in DECKS:
            return None
        d = self._decks[raw.deck]
        if raw.load_id != d.load_id or d.state is PlayerState.IDLE:
            return None  # about a track that was replaced or stopped
        match raw.kind:
            case "time":
                return self._on_progress(d)
            case "end":
                if not d.announced:
                    # Undecodable files "play" and end at once, before any audio.
                    return self._fail(d, "it contains no audio libVLC can decode")
                d.state = PlayerState.ENDED
                return PlayerEvent(
                    deck=d.index, load_id=d.load_id, kind=DeckEventKind.ENDED
                )
            case "error":
                return self._fail(d, "libVLC could not open or decode it")
            case _:  # pragma: no cover - _event_types names every kind
                return None

    def _on_progress(self, d: _Deck) -> PlayerEvent | None:
        # libVLC's clock moves only once the audio output plays: now a volume sticks.
        if d.announced or d.player.get_time() <= 0:
            return None
        self._go_live(d)
        # Live: the clock's further moves (several a second, each one a hop to the
        # loop) tell nothing more; positions are read when wanted (position_s).
        self._detach_kind(d, "time")
        return self._announce(d)

    def _fail(self, d: _Deck, reason: str) -> PlayerEvent:
        d.state = PlayerState.FAILED
        # Silence the deck at once; it is already stopped or ending.
        d.player.audio_set_mute(status=True)
        return PlayerEvent(
            deck=d.index, load_id=d.load_id, kind=DeckEventKind.FAILED, reason=reason
        )
