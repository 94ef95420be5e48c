"""Music through the real libVLC: VlcPlayer + MusicController, real time, no sound card.

Outputs used (ecosystem.md §3.2):

- ``afile`` (``output = "file:PATH"``): one WAV per deck. libVLC re-opens and
  overwrites that file for every track a deck plays, so each test plays at most one
  track per deck. afile has no volume control at all (measured: volume and mute change
  nothing in its file), so it shows *what* is played, bit for bit, not how loud.
- ``amem`` (PCM callbacks, set up by the test on each deck's MediaPlayer): libVLC's
  software volume is applied to what it delivers, so ramps and the absence of a
  start-of-track blip can be measured.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import itertools
import os
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pytest

from roomctl.clock import SystemClock
from roomctl.errors import PlayerError
from roomctl.playlists.controller import MusicController, TrackStarted
from roomctl.playlists.library import choose_queue, load_library
from roomctl.playlists.model import Phase
from roomctl.playlists.settings import BuiltinMusicSettings, MusicSettings, PhaseVolumes
from roomctl.playlists.synth import SynthSpec, render_track, write_wav
from roomctl.playlists.vlc_player import VlcPlayer

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable
    from pathlib import Path

    from roomctl.events import TechnicalNotice
    from roomctl.playlists.library import Library

vlc = pytest.importorskip("vlc")

pytestmark = [pytest.mark.libvlc, pytest.mark.timeout(30)]

SR = 22050


@pytest.fixture(autouse=True, scope="module")
def _libvlc_works() -> None:
    instance = vlc.Instance(["--quiet", "--aout=adummy"])
    if instance is None:
        pytest.skip("libVLC cannot start here")
    instance.release()


def tone(path: Path, freq_hz: float, seconds: float, *, dbfs: float = -12.0) -> Path:
    """A stereo sine at ``dbfs`` peak, full level from the first sample (no fade)."""
    t = np.arange(round(seconds * SR)) / SR
    x = (10 ** (dbfs / 20) * np.sin(2 * np.pi * freq_hz * t)).astype(np.float32)
    write_wav(path, np.stack([x, x], axis=1), SR)
    return path


def read_afile(path: Path) -> np.ndarray:
    """Samples of an afile WAV as float (-1..1), shape (frames, 2).

    Reads past the header by size, in case libVLC had not finalised it.
    """
    data = path.read_bytes()
    start = data.index(b"data") + 8
    usable = (len(data) - start) // 4 * 4
    pcm = np.frombuffer(data[start : start + usable], dtype="<i2").reshape(-1, 2)
    return pcm.astype(np.float64) / 32768.0


def dbfs(x: np.ndarray) -> float:
    return float(20 * np.log10(np.sqrt(np.mean(np.square(x))) + 1e-12))


def dominant_hz(x: np.ndarray) -> float:
    mono = x.mean(axis=1)
    spectrum = np.abs(np.fft.rfft(mono * np.hanning(len(mono))))
    return float(np.fft.rfftfreq(len(mono), 1 / SR)[int(np.argmax(spectrum))])


def locate(part: np.ndarray, whole: np.ndarray) -> int:
    """Where ``part`` best matches in ``whole`` (cross-correlation, left channel)."""
    n = len(whole) + len(part)
    corr = np.fft.irfft(
        np.fft.rfft(whole[:, 0], n) * np.conj(np.fft.rfft(part[:, 0], n)), n
    )
    return int(np.argmax(corr[: len(whole) - len(part) + 1]))


def library_of(folder: Path, phases: dict[Phase, list[str]]) -> Library:
    """Write ``<phase>.toml`` files naming the given WAVs and load them."""
    for phase, names in phases.items():
        body = "".join(
            f'[[track]]\npath = "{name}"\ntitle = "{name}"\nlyrics = "none"\n\n'
            for name in names
        )
        (folder / f"{phase.value}.toml").write_text(body, encoding="utf-8")
    return load_library(folder, strict=True)


# ---------------------------------------------------------------- a thread-checking,
# PCM-capturing player: the test's view into libVLC


class _Recorder:
    """Wraps a python-vlc object; records the thread of every method call."""

    def __init__(self, target: object, threads: set[int], *, wrap: bool = True) -> None:
        self._target = target
        self._threads = threads
        self._wrap = wrap

    def __getattr__(self, name: str) -> object:
        attr = getattr(self._target, name)
        if not callable(attr):
            return attr

        def call(*args: object, **kwargs: object) -> object:
            self._threads.add(threading.get_ident())
            result = attr(*args, **kwargs)
            if name == "event_manager":
                return _Recorder(result, self._threads)
            return result

        return call


@dataclass
class Capture:
    """PCM each deck delivered to amem: (monotonic time, samples)."""

    chunks: dict[int, list[tuple[float, np.ndarray]]] = field(
        default_factory=lambda: {0: [], 1: []}
    )

    def samples(self, deck: int) -> np.ndarray:
        parts = [pcm for _, pcm in self.chunks[deck]]
        if not parts:
            return np.zeros((0, 2))
        return np.concatenate(parts).reshape(-1, 2).astype(np.float64) / 32768.0


class ProbedVlcPlayer(VlcPlayer):
    """VlcPlayer whose MediaPlayers record the thread of every call.

    Optionally it delivers each deck's PCM to the test (amem), and it can run
    *unguarded* (no priming, mute or equalizer cut) to prove the no-blip tests can
    fail.
    """

    def __init__(
        self,
        *,
        capture: Capture | None = None,
        guard: bool = True,
        instance_args: tuple[str, ...] = ("--aout=adummy", "--file-caching=300"),
        deck_args: tuple[tuple[str, ...], tuple[str, ...]] = ((), ()),
    ) -> None:
        named = [a.removeprefix("--aout=") for a in instance_args if "--aout=" in a]
        super().__init__(
            instance_args=instance_args,
            deck_args=deck_args,
            # With a capture the decks' PCM goes to the test (amem).
            aout="amem" if capture is not None else named[-1],
        )
        self.threads: set[int] = set()
        self.capture = capture
        self.guard = guard
        self._made = 0
        self._keep: list[object] = []  # ctypes callbacks must outlive libVLC's use

    def _prime(self, d: object) -> None:
        if self.guard:
            super()._prime(d)  # type: ignore[arg-type]

    def _new_media_player(self, instance: object) -> object:  # type: ignore[override]
        player = instance.media_player_new()  # type: ignore[attr-defined]
        deck = self._made
        self._made += 1
        if self.capture is not None:
            chunks = self.capture.chunks[deck]

            def receive(_opaque: object, samples: int, count: int, _pts: int) -> None:
                pcm = np.frombuffer(ctypes.string_at(samples, count * 4), dtype="<i2")
                chunks.append((time.monotonic(), pcm.copy()))

            play = vlc.CallbackDecorators.AudioPlayCb(receive)
            self._keep.append(play)
            player.audio_set_callbacks(play, None, None, None, None, None)
            player.audio_set_format("S16N", SR, 2)
        if not self.guard:

            def ignore(*_args: object, **_kwargs: object) -> int:
                return 0

            player.audio_set_mute = ignore
            player.set_equalizer = ignore
        return _Recorder(player, self.threads)


# ---------------------------------------------------------------- the rig


@dataclass
class Session:
    controller: MusicController
    tracks: list[TrackStarted]
    notices: list[TechnicalNotice]

    async def wait_for(self, what: Callable[[], bool], timeout: float = 8.0) -> None:
        deadline = time.monotonic() + timeout
        while not what():
            if time.monotonic() > deadline:
                texts = [n.text for n in self.notices]
                raise AssertionError(f"timed out; notices: {texts}")
            await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def running(
    settings: MusicSettings, player: VlcPlayer, library: Library | None = None
) -> AsyncIterator[Session]:
    tracks: list[TrackStarted] = []
    notices: list[TechnicalNotice] = []
    controller = MusicController(
        settings,
        player=player,
        clock=SystemClock(),
        notify=notices.append,
        on_track=tracks.append,
        library=library,
    )
    task = asyncio.create_task(controller.run(), name="test.music")
    try:
        yield Session(controller, tracks, notices)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


FAST = MusicSettings(
    crossfade_s=0.5,
    skip_crossfade_s=0.3,
    pause_fade_s=0.3,
    tick_s=0.05,
    start_timeout_s=5.0,
    fallback_to_builtin=False,
)


# ---------------------------------------------------------------- tests


async def test_builtin_music_plays_real_audio_at_a_sane_level(tmp_path: Path) -> None:
    out = tmp_path / "out.wav"
    settings = FAST.model_copy(
        update={
            "output": f"file:{out}",
            "cache_dir": tmp_path / "cache",
            "builtin": BuiltinMusicSettings(track_s=4.0, tracks_per_phase=1, seed=5),
        }
    )
    player = VlcPlayer.for_output(settings.output)
    async with running(settings, player) as session:
        session.controller.set_phase(Phase.PREPARATION)
        await session.wait_for(lambda: bool(session.tracks))
        await asyncio.sleep(1.5)
    assert session.tracks[0].track_id == "builtin/v1/s5/preparation-1"
    heard = read_afile(tmp_path / "out.deck0.wav")
    assert len(heard) >= SR  # at least a second reached the output
    assert -35.0 < dbfs(heard) < -12.0  # real, non-silent audio at a sane level
    assert np.max(np.abs(heard)) < 0.95  # no clipping
    # afile writes what libVLC decoded: the generated track, bit for bit. (afile
    # re-opened its file when the deck went live and the start-of-track guard was
    # removed, so the file begins a little into the track.)
    source = render_track(Phase.PREPARATION, 0, SynthSpec(duration_s=4.0, seed=5))
    expected = np.clip(np.round(source * 32767), -32768, 32767) / 32768.0
    part = heard[SR // 4 : SR]
    offset = locate(part, expected)
    assert np.array_equal(part, expected[offset : offset + len(part)])


async def test_phase_change_changes_what_is_heard(tmp_path: Path) -> None:
    tone(tmp_path / "calm-440.wav", 440.0, 6.0)
    tone(tmp_path / "deep-660.wav", 660.0, 6.0)
    library = library_of(
        tmp_path, {Phase.PREPARATION: ["calm-440.wav"], Phase.PEAK: ["deep-660.wav"]}
    )
    out = tmp_path / "out.wav"
    player = VlcPlayer.for_output(f"file:{out}")
    async with running(FAST, player, library) as session:
        session.controller.set_phase(Phase.PREPARATION)
        await session.wait_for(lambda: len(session.tracks) == 1)
        await asyncio.sleep(0.6)
        session.controller.set_phase(Phase.PEAK)
        await session.wait_for(lambda: len(session.tracks) == 2)
        await asyncio.sleep(0.6)
        snapshot = session.controller.snapshot()
    assert [t.phase for t in session.tracks] == [Phase.PREPARATION, Phase.PEAK]
    assert snapshot.now_playing is not None
    assert snapshot.now_playing.track.title == "deep-660.wav"
    before = read_afile(tmp_path / "out.deck0.wav")
    after = read_afile(tmp_path / "out.deck1.wav")
    assert dominant_hz(before) == pytest.approx(440.0, abs=3)
    assert dominant_hz(after) == pytest.approx(660.0, abs=3)
    assert dbfs(after) > -30.0
    assert session.notices == []


async def test_missing_and_corrupt_files_are_skipped_and_music_goes_on(
    tmp_path: Path,
) -> None:
    tone(tmp_path / "good.wav", 440.0, 6.0)
    (tmp_path / "corrupt.wav").write_bytes(os.urandom(50_000))
    library = library_of(
        tmp_path, {Phase.PEAK: ["missing.wav", "corrupt.wav", "good.wav"]}
    )
    playlist = library.playlist(Phase.PEAK)
    seed = next(
        s
        for s in range(500)
        if [
            t.title
            for t in choose_queue(playlist, heard=set(), excluded=set(), seed=s).tracks
        ][-1]
        == "good.wav"
    )
    out = tmp_path / "out.wav"
    player = VlcPlayer.for_output(f"file:{out}")
    async with running(FAST, player, library) as session:
        session.controller.begin_session(seed=seed)
        session.controller.set_phase(Phase.PEAK)
        await session.wait_for(lambda: bool(session.tracks))
        await asyncio.sleep(1.5)
    assert [t.title for t in session.tracks] == ["good.wav"]
    texts = " | ".join(n.text for n in session.notices)
    assert "missing.wav" in texts
    assert "no such file" in texts
    assert "corrupt.wav" in texts
    assert "skipping to the next track" in texts
    heard = read_afile(tmp_path / "out.deck0.wav")
    assert dominant_hz(heard) == pytest.approx(440.0, abs=3)
    assert dbfs(heard) > -30.0


LOUD_DBFS = -6.0
#: RMS of a sine peaking at LOUD_DBFS.
LOUD_RMS_DBFS = LOUD_DBFS - 3.0
FULL_LEVEL = FAST.model_copy(
    update={
        "crossfade_s": 1.0,
        "volume_percent": PhaseVolumes(
            preparation=100, dosing=100, peak=100, return_=100, integration=100
        ),
    }
)


def levels_of(pcm: np.ndarray, window_s: float = 0.05) -> list[float]:
    window = round(SR * window_s)
    return [dbfs(pcm[i : i + window]) for i in range(0, len(pcm) - window, window)]


@pytest.mark.parametrize("guard", [True, False], ids=["adapter", "without-guard"])
async def test_no_blip_at_the_start_of_a_track(tmp_path: Path, guard: bool) -> None:
    """Through amem, which makes its output at play time: the hardest case.

    What libVLC delivers before the ``Playing`` event can be handled (its pre-buffer)
    must be far below the track; then the level ramps up over the fade-in.
    """
    # A loud track with no fade-in of its own: any blip would be the player's.
    tone(tmp_path / "loud.wav", 440.0, 5.0, dbfs=LOUD_DBFS)
    library = library_of(tmp_path, {Phase.PEAK: ["loud.wav"]})
    capture = Capture()
    player = ProbedVlcPlayer(capture=capture, guard=guard)
    async with running(FULL_LEVEL, player, library) as session:
        session.controller.set_phase(Phase.PEAK)
        await session.wait_for(lambda: bool(session.tracks))
        await asyncio.sleep(1.3 if guard else 0.2)
    levels = levels_of(capture.samples(0))
    if not guard:
        # Proof that this test can fail: libVLC ignores "volume 0" set before this
        # output exists, so without the guard the track starts at full level.
        assert levels[0] > LOUD_RMS_DBFS - 3
        return
    # Everything before the deck went live (libVLC's pre-buffer) is at least 40 dB
    # below the track.
    assert levels[0] < LOUD_RMS_DBFS - 40
    assert max(levels[:4]) < LOUD_RMS_DBFS - 40
    # Then the level ramps over the one-second fade-in: in amplitude (1 = the track's
    # own level) no 50 ms step goes more than 0.4 of the way (a blip is a jump of ~1;
    # a tick delayed by a busy machine makes a step of ~0.3), and it takes at least
    # half a second from -40 dB to full.
    amplitude = [10 ** ((level - LOUD_RMS_DBFS) / 20) for level in levels]
    assert all(b - a < 0.4 for a, b in itertools.pairwise(amplitude))
    start = next(i for i, a in enumerate(amplitude) if a > 0.01)
    full = next(i for i, a in enumerate(amplitude) if a > 0.9)
    assert full - start >= 10
    # ... and it reaches the full level of the source.
    assert max(levels) == pytest.approx(LOUD_RMS_DBFS, abs=1.0)


@pytest.mark.parametrize("guard", [True, False], ids=["adapter", "without-guard"])
async def test_alsa_track_after_a_stop_starts_silent(
    tmp_path: Path, guard: bool
) -> None:
    """ALSA, the daemon's usual output: a track after a stop starts near silence.

    A new MediaPlayer has its output, but ``stop()`` destroys it, so the third track
    (deck 0 again, after its first track faded out and stopped) is the case that
    blips. ALSA's own ``file`` PCM (alsa.conf ``pcm.file``; it truncates its file
    whenever the output re-opens) stands in for a sound card, one file per deck.
    """
    raws = (tmp_path / "deck0.raw", tmp_path / "deck1.raw")
    for name, hz in (("a.wav", 440.0), ("b.wav", 550.0), ("c.wav", 660.0)):
        tone(tmp_path / name, hz, 6.0, dbfs=LOUD_DBFS)
    library = library_of(
        tmp_path,
        {Phase.PREPARATION: ["a.wav"], Phase.DOSING: ["b.wav"], Phase.PEAK: ["c.wav"]},
    )
    player = ProbedVlcPlayer(
        guard=guard,
        instance_args=("--aout=alsa", "--file-caching=300"),
        deck_args=(
            (f"--alsa-audio-device=file:FILE={raws[0]},FORMAT=raw",),
            (f"--alsa-audio-device=file:FILE={raws[1]},FORMAT=raw",),
        ),
    )
    settings = FULL_LEVEL.model_copy(update={"crossfade_s": 0.5})
    async with running(settings, player, library) as session:
        for count, phase in enumerate(
            (Phase.PREPARATION, Phase.DOSING, Phase.PEAK), start=1
        ):
            session.controller.set_phase(phase)

            def reached(n: int = count) -> bool:
                return len(session.tracks) == n

            await session.wait_for(reached)
            await asyncio.sleep(0.7)  # > the crossfade: the other deck stops
    if not raws[0].exists() or raws[0].stat().st_size == 0:
        pytest.skip("ALSA's file PCM is not available here")
    assert [t.title for t in session.tracks] == ["a.wav", "b.wav", "c.wav"]
    data = raws[0].read_bytes()
    pcm = np.frombuffer(data[: len(data) // 4 * 4], dtype="<i2").reshape(-1, 2)
    sound = np.flatnonzero(np.abs(pcm[:, 0]) > 0)
    assert sound.size > 0, "nothing audible reached ALSA"
    # ALSA's null sink is not paced, so libVLC pads with silence: keep the signal.
    signal = pcm[sound].astype(np.float64) / 32768.0
    assert dominant_hz(signal) == pytest.approx(660.0, abs=3)  # the third track
    levels = levels_of(signal, 0.02)
    if not guard:
        assert levels[0] > LOUD_RMS_DBFS - 3  # the blip this test exists for
        return
    # It starts well below the track and ramps up to it in small steps (amplitude,
    # 1 = the track's level; a blip is a jump of ~1; the first 50 ms tick of this
    # 0.5 s equal-power fade is sin(pi/20) = 0.16).
    amplitude = [10 ** ((level - LOUD_RMS_DBFS) / 20) for level in levels]
    assert amplitude[0] < 0.25
    assert all(b - a < 0.4 for a, b in itertools.pairwise(amplitude))
    assert max(levels) == pytest.approx(LOUD_RMS_DBFS, abs=1.0)


async def test_libvlc_is_only_called_from_the_loop_thread(tmp_path: Path) -> None:
    tone(tmp_path / "a.wav", 440.0, 4.0)
    tone(tmp_path / "b.wav", 550.0, 4.0)
    library = library_of(tmp_path, {Phase.DOSING: ["a.wav"], Phase.PEAK: ["b.wav"]})
    player = ProbedVlcPlayer(capture=None)
    async with running(FAST, player, library) as session:
        session.controller.set_phase(Phase.DOSING)
        await session.wait_for(lambda: bool(session.tracks))
        session.controller.pause()
        await asyncio.sleep(0.5)
        session.controller.play()
        session.controller.set_phase(Phase.PEAK)
        await session.wait_for(lambda: len(session.tracks) == 2)
        session.controller.duck(on=True)
        await asyncio.sleep(0.5)
        # The adapter refuses a call from another thread (and calls no libVLC).
        with pytest.raises(PlayerError, match="event loop's thread"):
            await asyncio.to_thread(player.set_volume, 0, 50.0)
        before = set(player.threads)
    assert player.threads == before == {threading.get_ident()}
    assert session.notices == []
