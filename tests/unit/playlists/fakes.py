"""Test doubles for the music controller: virtual-time sleep, fake two-deck player."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from roomctl.errors import PlayerError
from roomctl.playlists.model import Lyrics, Phase, Playlist, Track
from roomctl.playlists.player import DECKS, DeckEventKind, PlayerEvent, PlayerState

if TYPE_CHECKING:
    from roomctl.clock import VirtualClock


async def settle(rounds: int = 20) -> None:
    """Let every ready task run (several hops deep)."""
    for _ in range(rounds):
        await asyncio.sleep(0)


class FakeTime:
    """``sleep`` on a ``VirtualClock``; ``advance`` moves time and wakes sleepers."""

    def __init__(self, clock: VirtualClock) -> None:
        self.clock = clock
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    async def sleep(self, delay: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        wake = self.clock.monotonic() + max(delay, 0.0)
        heapq.heappush(self._sleepers, (wake, next(self._seq), future))
        await future

    async def advance(self, seconds: float) -> None:
        """Move time forward, waking sleepers in order and letting tasks run."""
        target = self.clock.monotonic() + seconds
        await settle()
        while self._sleepers and self._sleepers[0][0] <= target + 1e-9:
            wake, _, future = heapq.heappop(self._sleepers)
            self.clock.set(wake)
            if not future.done():
                future.set_result(None)
            await settle()
        self.clock.set(target)
        await settle()


@dataclass
class FakeDeck:
    state: PlayerState = PlayerState.IDLE
    path: Path | None = None
    load_id: int = 0
    volume: float = 0.0
    started_mono: float | None = None
    paused_at: float | None = None
    paused_total: float = 0.0
    ended_sent: bool = False


@dataclass
class VolumeCall:
    mono: float
    deck: int
    percent: float
    state: PlayerState


@dataclass
class FakePlayer:
    """Two fake decks.

    Files named in ``missing`` raise on load; ``broken`` ones fail after loading;
    ``stuck`` ones never start. Others start when ``auto_start`` (at once) or when the
    test calls ``start(deck)``. Tracks last ``lengths[name]`` or ``default_length_s``
    seconds and end on their own (checked when the controller asks for the position).
    """

    clock: VirtualClock
    auto_start: bool = True
    missing: set[str] = field(default_factory=set)
    broken: set[str] = field(default_factory=set)
    stuck: set[str] = field(default_factory=set)
    lengths: dict[str, float] = field(default_factory=dict)
    default_length_s: float = 600.0
    fail_open: bool = False
    decks: list[FakeDeck] = field(default_factory=lambda: [FakeDeck() for _ in DECKS])
    volumes: list[VolumeCall] = field(default_factory=list)
    loads: list[tuple[float, int, str]] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)
    opened: int = 0
    closed: int = 0
    threads: set[int] = field(default_factory=set)
    _queue: asyncio.Queue[PlayerEvent] = field(default_factory=asyncio.Queue)

    def _note(self, name: str) -> None:
        self.calls.append(name)
        self.threads.add(threading.get_ident())

    def open(self) -> None:
        self._note("open")
        if self.fail_open:
            raise PlayerError("no audio engine")
        self.opened += 1

    def close(self) -> None:
        self._note("close")
        self.closed += 1
        for deck in self.decks:
            deck.state = PlayerState.IDLE

    def load(self, deck: int, path: Path) -> int:
        self._note("load")
        if path.name in self.missing:
            raise PlayerError(f"{path}: no such file")
        d = self.decks[deck]
        d.load_id += 1
        d.state = PlayerState.STARTING
        d.path = path
        d.volume = 0.0
        d.started_mono = None
        d.paused_at = None
        d.paused_total = 0.0
        d.ended_sent = False
        self.loads.append((self.clock.monotonic(), deck, path.name))
        if path.name in self.broken:
            self._emit(deck, DeckEventKind.FAILED, "it contains no audio")
        elif self.auto_start and path.name not in self.stuck:
            self.start(deck)
        return d.load_id

    def start(self, deck: int) -> None:
        """The deck's audio begins (the test's libVLC ``Playing``)."""
        d = self.decks[deck]
        d.state = PlayerState.PLAYING
        d.started_mono = self.clock.monotonic()
        self._emit(deck, DeckEventKind.STARTED)

    def _emit(self, deck: int, kind: DeckEventKind, reason: str = "") -> None:
        self._queue.put_nowait(
            PlayerEvent(
                deck=deck, load_id=self.decks[deck].load_id, kind=kind, reason=reason
            )
        )

    def set_volume(self, deck: int, percent: float) -> None:
        self._note("set_volume")
        d = self.decks[deck]
        d.volume = percent
        self.volumes.append(VolumeCall(self.clock.monotonic(), deck, percent, d.state))

    def pause(self, deck: int) -> None:
        self._note("pause")
        d = self.decks[deck]
        if d.state is PlayerState.PLAYING:
            d.state = PlayerState.PAUSED
            d.paused_at = self.clock.monotonic()

    def resume(self, deck: int) -> None:
        self._note("resume")
        d = self.decks[deck]
        if d.state is PlayerState.PAUSED and d.paused_at is not None:
            d.paused_total += self.clock.monotonic() - d.paused_at
            d.paused_at = None
            d.state = PlayerState.PLAYING

    def stop(self, deck: int) -> None:
        self._note("stop")
        d = self.decks[deck]
        d.state = PlayerState.IDLE
        d.load_id += 1
        d.path = None

    def state(self, deck: int) -> PlayerState:
        return self.decks[deck].state

    def length_s(self, deck: int) -> float | None:
        d = self.decks[deck]
        if d.path is None:
            return None
        return self.lengths.get(d.path.name, self.default_length_s)

    def position_s(self, deck: int) -> float | None:
        d = self.decks[deck]
        if d.started_mono is None or d.path is None:
            return None
        end = d.paused_at if d.paused_at is not None else self.clock.monotonic()
        position = end - d.started_mono - d.paused_total
        length = self.length_s(deck)
        if length is not None and position >= length and not d.ended_sent:
            d.ended_sent = True
            d.state = PlayerState.ENDED
            self._emit(deck, DeckEventKind.ENDED)
        return position

    async def next_event(self) -> PlayerEvent:
        return await self._queue.get()

    # -------------------------------------------------------- test helpers

    def last_volume(self, deck: int) -> float:
        return self.decks[deck].volume

    def playing(self) -> dict[int, str]:
        return {
            n: d.path.name
            for n, d in enumerate(self.decks)
            if d.path is not None and d.state is PlayerState.PLAYING
        }


def make_track(
    name: str, *, phase: Phase = Phase.PEAK, folder: str = "/music"
) -> Track:
    return Track(
        id=name,
        path=Path(folder) / name,
        title=name.removesuffix(".wav").title(),
        lyrics=Lyrics.NONE,
        phases=frozenset({phase}),
        source="test",
    )


def make_playlist(phase: Phase, *names: str) -> Playlist:
    return Playlist(
        phase=phase,
        tracks=tuple(make_track(n, phase=phase) for n in names),
        source="test",
    )
