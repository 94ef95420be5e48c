"""MusicController against a fake player in virtual time.

Ramps, crossfades, transport, ducking, queues and failures. No real sleeping: a
10-minute scenario runs in milliseconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import threading
from typing import TYPE_CHECKING, Self

import pytest

from roomctl.errors import PlayerError
from roomctl.playlists.controller import (
    COMPONENT,
    MusicController,
    MusicState,
    TrackStarted,
)
from roomctl.playlists.library import Library, choose_queue
from roomctl.playlists.model import Phase, Playlist
from roomctl.playlists.settings import MusicSettings, PhaseVolumes
from tests.unit.playlists.fakes import FakePlayer, FakeTime, make_playlist, settle

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from roomctl.clock import VirtualClock
    from roomctl.events import TechnicalNotice

SETTINGS = MusicSettings(
    crossfade_s=4.0,
    skip_crossfade_s=2.0,
    volume_ramp_s=2.0,
    pause_fade_s=1.0,
    duck_percent=50.0,
    duck_ramp_s=1.0,
    tick_s=0.1,
    start_timeout_s=3.0,
    fallback_to_builtin=False,
    volume_percent=PhaseVolumes(
        preparation=40, dosing=40, peak=40, return_=40, integration=30
    ),
)

PLAYLISTS = {
    Phase.PREPARATION: make_playlist(Phase.PREPARATION, "prep-a.wav", "prep-b.wav"),
    Phase.PEAK: make_playlist(Phase.PEAK, "peak-a.wav", "peak-b.wav", "peak-c.wav"),
    Phase.RETURN: make_playlist(Phase.RETURN, "ret-a.wav", "ret-b.wav"),
}


def _no_builtin(phase: Phase, _stop: Callable[[], bool]) -> Playlist:
    raise AssertionError(f"built-in music asked for {phase}")


class Rig:
    """A running controller with a fake player, in virtual time."""

    def __init__(
        self,
        clock: VirtualClock,
        *,
        settings: MusicSettings = SETTINGS,
        playlists: dict[Phase, Playlist] | None = None,
        player: FakePlayer | None = None,
        library: Library | None = None,
        use_library: bool = True,
        builtin: Callable[[Phase, Callable[[], bool]], Playlist] = _no_builtin,
    ) -> None:
        self.clock = clock
        self.time = FakeTime(clock)
        self.player = player or FakePlayer(clock)
        self.notices: list[TechnicalNotice] = []
        self.tracks: list[TrackStarted] = []
        if library is None and use_library and settings.library_dir is None:
            library = Library(
                playlists=playlists if playlists is not None else PLAYLISTS
            )
        self.controller = MusicController(
            settings,
            player=self.player,
            clock=clock,
            notify=self.notices.append,
            on_track=self.tracks.append,
            sleep=self.time.sleep,
            library=library,
            builtin=builtin,
        )
        self.task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Self:
        self.task = asyncio.create_task(self.controller.run(), name="test.music")
        await settle()
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self.task is not None
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task

    def volumes(self, deck: int, since: float = -1.0) -> list[tuple[float, float]]:
        return [
            (round(v.mono, 3), v.percent)
            for v in self.player.volumes
            if v.deck == deck and v.mono >= since
        ]

    def volume_at(self, deck: int, mono: float) -> float:
        """The last volume sent to ``deck`` at or before ``mono``."""
        sent = [
            v.percent
            for v in self.player.volumes
            if v.deck == deck and v.mono <= mono + 1e-9
        ]
        return sent[-1] if sent else 0.0

    def texts(self) -> list[str]:
        return [n.text for n in self.notices]


def _power(*percents: float, level: float = 40.0) -> float:
    """Total power of decks at these volumes, relative to one deck at ``level``."""
    return sum(((p / level) ** 3) ** 2 for p in percents)


# ---------------------------------------------------------------- start and fades


async def test_first_track_fades_in_only_after_it_started(clock: VirtualClock) -> None:
    player = FakePlayer(clock, auto_start=False)
    async with Rig(clock, player=player) as rig:
        rig.controller.set_phase(Phase.PEAK)
        await rig.time.advance(1.0)
        assert [load[1] for load in player.loads] == [0]
        # Loaded but not started: not one volume above zero was sent.
        assert all(v.percent == 0 for v in player.volumes)
        player.start(0)
        await rig.time.advance(5.0)
        ramp = rig.volumes(0)
        assert ramp[0][1] < 1.0  # starts at silence
        values = [v for _, v in ramp]
        assert values == sorted(values)  # only rises
        assert values[-1] == pytest.approx(40.0)
        assert ramp[-1][0] <= 1.0 + 4.0 + 0.15  # full level when the fade is over
        assert rig.controller.state() is MusicState.PLAYING


async def test_phase_change_crossfades_with_equal_power(clock: VirtualClock) -> None:
    async with Rig(clock) as rig:
        rig.controller.set_phase(Phase.PEAK)
        await rig.time.advance(10.0)
        first = rig.player.playing()[0]
        assert first.startswith("peak-")
        assert rig.player.last_volume(0) == pytest.approx(40.0)

        rig.controller.set_phase(Phase.RETURN)
        start = clock.monotonic()
        await rig.time.advance(2.0)
        assert rig.player.playing()[1].startswith("ret-")
        half_out = rig.volume_at(0, start + 2.0)
        half_in = rig.volume_at(1, start + 2.0)
        # Half-way: both audible, and their powers add up to one track's.
        assert 20 < half_out < 40
        assert 20 < half_in < 40
        assert _power(half_out, half_in) == pytest.approx(1.0, abs=0.03)
        await rig.time.advance(2.2)
        assert rig.player.decks[0].path is None  # the old deck was stopped
        assert rig.player.last_volume(1) == pytest.approx(40.0)
        assert [t.phase for t in rig.tracks] == [Phase.PEAK, Phase.RETURN]


async def test_crossfade_power_stays_constant_throughout(clock: VirtualClock) -> None:
    async with Rig(clock) as rig:
        rig.controller.set_phase(Phase.PEAK)
        await rig.time.advance(10.0)
        rig.controller.set_phase(Phase.RETURN)
        start = clock.monotonic()
        await rig.time.advance(4.5)
        for step in range(1, 40):
            t = start + step * 0.1
            total = _power(rig.volume_at(0, t), rig.volume_at(1, t))
            assert total == pytest.approx(1.0, abs=0.06), (step, total)


async def test_tracks_cross_into_each_other_before_the_end(clock: VirtualClock) -> None:
    player = FakePlayer(clock, default_length_s=30.0)
    async with Rig(clock, player=player) as rig:
        rig.controller.set_phase(Phase.PEAK)
        await rig.time.advance(25.0)
        # 30 s tracks, 4 s crossfade: the second track loads at ~26 s.
        assert len(player.loads) == 1
        await rig.time.advance(1.5)
        assert len(player.loads) == 2
        assert 25.9 <= player.loads[1][0] <= 26.2
        assert player.loads[1][1] == 1
        await rig.time.advance(60.0)
        names = [t.track_id for t in rig.tracks]
        assert len(names) >= 3
        assert len(set(names[:3])) == 3  # no repeat while unheard tracks remain


async def test_skip_crossfades_quickly_to_the_next_track(clock: VirtualClock) -> None:
    async with Rig(clock) as rig:
        rig.controller.set_phase(Phase.PEAK)
        await rig.time.advance(10.0)
        rig.controller.skip()
        start = clock.monotonic()
        await rig.time.advance(2.3)
        assert rig.player.decks[0].path is None
        assert rig.volume_at(1, start + 2.1) == pytest.approx(40.0)
        assert len(rig.tracks) == 2
        assert rig.tracks[0].track_id != rig.tracks[1].track_id


async def test_set_volume_ramps_linearly(clock: VirtualClock) -> None:
    async with Rig(clock) as rig:
        rig.controller.set_phase(Phase.PEAK)
        await rig.time.advance(10.0)
        rig.controller.set_volume(20.0)
        start = clock.monotonic()
        await rig.time.advance(3.0)
        assert rig.volume_at(0, start + 1.0) == pytest.approx(30.0, abs=0.6)
        assert rig.volume_at(0, start + 2.05) == pytest.approx(20.0)
        assert rig.controller.snapshot().level_percent == 20.0


async def test_duck_lowers_and_restores_the_level(clock: VirtualClock) -> None:
    async with Rig(clock) as rig:
        rig.controller.set_phase(Phase.PEAK)
        await rig.time.advance(10.0)
        rig.controller.duck(on=True)
        start = clock.monotonic()
        await rig.time.advance(1.5)
        assert rig.volume_at(0, start + 0.5) == pytest.approx(30.0, abs=0.5)
        assert rig.volume_at(0, start + 1.05) == pytest.approx(20.0)
        assert rig.controller.snapshot().ducked
        rig.controller.duck(on=False)
        await rig.time.advance(1.5)
        assert rig.player.last_volume(0) == pytest.approx(40.0)


async def test_pause_fades_out_then_pauses_and_play_resumes(
    clock: VirtualClock,
) -> None:
    async with Rig(clock) as rig:
        rig.controller.set_phase(Phase.PEAK)
        await rig.time.advance(10.0)
        rig.controller.pause()
        await rig.time.advance(0.5)
        assert 0 < rig.player.last_volume(0) < 40
        assert "pause" not in rig.player.calls
        await rig.time.advance(0.7)
        assert rig.player.last_volume(0) == 0.0
        assert rig.player.decks[0].state.value == "paused"
        assert rig.controller.state() is MusicState.PAUSED
        rig.controller.play()
        await rig.time.advance(1.2)
        assert rig.player.decks[0].state.value == "playing"
        assert rig.player.last_volume(0) == pytest.approx(40.0)
        assert len(rig.player.loads) == 1  # the same track resumed


async def test_stop_fades_out_and_play_starts_the_phase_again(
    clock: VirtualClock,
) -> None:
    async with Rig(clock) as rig:
        rig.controller.set_phase(Phase.PEAK)
        await rig.time.advance(10.0)
        rig.controller.stop()
        await rig.time.advance(1.3)
        assert rig.player.playing() == {}
        assert rig.controller.state() is MusicState.STOPPED
        # A phase change does not undo a stop ...
        rig.controller.set_phase(Phase.RETURN)
        await rig.time.advance(1.0)
        assert rig.player.playing() == {}
        # ... play() starts the current phase's music.
        rig.controller.play()
        await rig.time.advance(5.0)
        assert next(iter(rig.player.playing().values())).startswith("ret-")


async def test_closed_phase_fades_to_silence_and_a_new_session_plays(
    clock: VirtualClock,
) -> None:
    async with Rig(clock) as rig:
        rig.controller.set_phase(Phase.RETURN)
        await rig.time.advance(10.0)
        rig.controller.set_phase(Phase.CLOSED)
        await rig.time.advance(5.0)
        assert rig.player.playing() == {}
        assert rig.controller.state() is MusicState.SILENT
        rig.controller.begin_session(seed="next")
        rig.controller.set_phase(Phase.PREPARATION)
        await rig.time.advance(5.0)
        assert next(iter(rig.player.playing().values())).startswith("prep-")


async def test_phase_set_before_run_starts_when_run_starts(clock: VirtualClock) -> None:
    rig = Rig(clock)
    rig.controller.set_phase(Phase.PEAK)  # not running yet: nothing happens
    assert rig.player.loads == []
    async with rig:
        await rig.time.advance(5.0)
        assert len(rig.player.loads) == 1
    assert rig.player.closed == 1


# ---------------------------------------------------------------- queues


async def test_heard_tracks_are_not_repeated(clock: VirtualClock) -> None:
    async with Rig(clock) as rig:
        rig.controller.begin_session(heard={"peak-a.wav", "peak-b.wav"}, seed=1)
        rig.controller.set_phase(Phase.PEAK)
        await rig.time.advance(5.0)
        assert [t.track_id for t in rig.tracks] == ["peak-c.wav"]
        assert not rig.tracks[0].repeat
        assert rig.texts() == []


async def test_when_everything_was_heard_it_repeats_with_a_notice(
    clock: VirtualClock,
) -> None:
    async with Rig(clock) as rig:
        rig.controller.begin_session(heard={"ret-a.wav", "ret-b.wav"})
        rig.controller.set_phase(Phase.RETURN)
        await rig.time.advance(5.0)
        assert len(rig.tracks) == 1
        assert rig.tracks[0].repeat
        assert any("heard before; repeating" in text for text in rig.texts())
        assert all(n.component == COMPONENT for n in rig.notices)


async def test_excluded_tracks_never_play(clock: VirtualClock) -> None:
    player = FakePlayer(clock, default_length_s=12.0)
    async with Rig(clock, player=player) as rig:
        rig.controller.begin_session(excluded={"title:Peak-B"})
        rig.controller.set_phase(Phase.PEAK)
        await rig.time.advance(120.0)
        played = {t.track_id for t in rig.tracks}
        assert "peak-b.wav" not in played
        assert played == {"peak-a.wav", "peak-c.wav"}


async def test_exclude_while_playing_skips_at_once(clock: VirtualClock) -> None:
    async with Rig(clock) as rig:
        rig.controller.set_phase(Phase.PEAK)
        await rig.time.advance(10.0)
        current = rig.tracks[-1].track_id
        rig.controller.exclude(f"id:{current}")
        await rig.time.advance(3.0)
        assert rig.tracks[-1].track_id != current
        assert current not in rig.player.playing().values()


async def test_everything_excluded_is_silence_with_a_notice(
    clock: VirtualClock,
) -> None:
    async with Rig(clock) as rig:
        rig.controller.begin_session(excluded={"ret-a.wav", "ret-b.wav"})
        rig.controller.set_phase(Phase.RETURN)
        await rig.time.advance(5.0)
        assert rig.player.loads == []
        assert rig.controller.state() is MusicState.SILENT
        assert any("excluded for this patient" in text for text in rig.texts())


async def test_an_unserved_phase_falls_back_to_the_builtin_music(
    clock: VirtualClock,
) -> None:
    made: list[tuple[Phase, str]] = []

    def builtin(phase: Phase, should_stop: Callable[[], bool]) -> Playlist:
        made.append((phase, threading.current_thread().name))
        assert not should_stop()
        return make_playlist(phase, "builtin-dosing-1.wav")

    settings = SETTINGS.model_copy(update={"fallback_to_builtin": True})
    async with Rig(clock, settings=settings, builtin=builtin) as rig:
        rig.controller.set_phase(Phase.DOSING)  # the library has no dosing playlist
        for _ in range(50):
            await rig.time.advance(0.1)
            await asyncio.sleep(0.005)  # the worker thread needs real time
            if rig.tracks:
                break
        assert made[0][0] is Phase.DOSING
        assert made[0][1] != threading.current_thread().name  # made off the loop
        assert rig.tracks[0].track_id == "builtin-dosing-1.wav"
        assert any("built-in ambient music instead" in t for t in rig.texts())


async def test_without_a_library_the_builtin_music_is_made_phase_first(
    clock: VirtualClock,
) -> None:
    made: list[Phase] = []
    release = threading.Event()

    def builtin(phase: Phase, _stop: Callable[[], bool]) -> Playlist:
        release.wait(timeout=5)
        made.append(phase)
        return make_playlist(phase, f"{phase.value}-1.wav", f"{phase.value}-2.wav")

    rig = Rig(clock, builtin=builtin, use_library=False)
    rig.controller.set_phase(Phase.PEAK)
    async with rig:
        await rig.time.advance(0.5)
        assert rig.controller.state() is MusicState.PREPARING
        release.set()
        for _ in range(100):
            await rig.time.advance(0.1)
            await asyncio.sleep(0.005)
            if len(made) == 5:
                break
        assert made[0] is Phase.PEAK  # the phase that is needed first
        assert made[1:3] == [Phase.RETURN, Phase.INTEGRATION]  # then the ones to come
        assert sorted(made, key=lambda p: p.order) == [
            Phase.PREPARATION,
            Phase.DOSING,
            Phase.PEAK,
            Phase.RETURN,
            Phase.INTEGRATION,
        ]
        assert rig.tracks[0].track_id.startswith("peak-")
        assert rig.controller.snapshot().library == "built-in"


# ---------------------------------------------------------------- failures


def _seed_putting_last(playlist: Playlist, last: str) -> int:
    """A seed whose shuffled queue plays ``last`` after every other track."""
    return next(
        seed
        for seed in range(200)
        if choose_queue(playlist, heard=set(), excluded=set(), seed=seed).tracks[-1].id
        == last
    )


async def test_missing_file_is_skipped_with_a_notice(clock: VirtualClock) -> None:
    playlist = make_playlist(Phase.PEAK, "gone.wav", "here.wav")
    player = FakePlayer(clock, missing={"gone.wav"})
    async with Rig(clock, player=player, playlists={Phase.PEAK: playlist}) as rig:
        rig.controller.begin_session(seed=_seed_putting_last(playlist, "here.wav"))
        rig.controller.set_phase(Phase.PEAK)
        await rig.time.advance(5.0)
        assert [t.track_id for t in rig.tracks] == ["here.wav"]
        [note] = rig.texts()
        assert "gone.wav" in note
        assert "no such file" in note
        assert "skipping to the next track" in note


async def test_undecodable_and_stuck_tracks_are_skipped(clock: VirtualClock) -> None:
    playlist = make_playlist(Phase.PEAK, "broken.wav", "stuck.wav", "fine.wav")
    player = FakePlayer(clock, broken={"broken.wav"}, stuck={"stuck.wav"})
    async with Rig(clock, player=player, playlists={Phase.PEAK: playlist}) as rig:
        rig.controller.begin_session(seed=_seed_putting_last(playlist, "fine.wav"))
        rig.controller.set_phase(Phase.PEAK)
        await rig.time.advance(10.0)
        assert [t.track_id for t in rig.tracks] == ["fine.wav"]
        assert [load[2] for load in player.loads][-1] == "fine.wav"
        texts = " | ".join(rig.texts())
        assert "broken.wav" in texts
        assert "it contains no audio" in texts
        assert "stuck.wav" in texts
        assert "did not start in time" in texts
        assert rig.controller.state() is MusicState.PLAYING
        # the stuck deck was stopped, and never made a sound
        assert all(v.percent == 0 for v in player.volumes if v.mono < 3.0)


async def test_a_playlist_of_broken_files_gives_up_quietly(clock: VirtualClock) -> None:
    names = ("a.wav", "b.wav", "c.wav", "d.wav")
    playlists = {Phase.PEAK: make_playlist(Phase.PEAK, *names)}
    player = FakePlayer(clock, missing=set(names))
    async with Rig(clock, player=player, playlists=playlists) as rig:
        rig.controller.set_phase(Phase.PEAK)
        await rig.time.advance(5.0)
        assert rig.tracks == []
        assert rig.controller.state() is MusicState.SILENT
        assert any("in a row could not be played" in t for t in rig.texts())
        assert len(rig.texts()) <= len(names) + 2  # no endless retrying
        # The next command tries again.
        player.missing.discard("c.wav")
        rig.controller.skip()
        await rig.time.advance(5.0)
        assert [t.track_id for t in rig.tracks] == ["c.wav"]


async def test_a_player_that_cannot_open_fails_run(clock: VirtualClock) -> None:
    player = FakePlayer(clock, fail_open=True)
    rig = Rig(clock, player=player)
    with pytest.raises(PlayerError):
        await rig.controller.run()


async def test_disabled_music_opens_no_player(clock: VirtualClock) -> None:
    settings = SETTINGS.model_copy(update={"enabled": False})
    async with Rig(clock, settings=settings) as rig:
        rig.controller.set_phase(Phase.PEAK)
        await rig.time.advance(2.0)
        assert rig.player.opened == 0
        assert rig.controller.state() is MusicState.OFF


# ---------------------------------------------------------------- console and tasks


async def test_snapshot_and_up_next(clock: VirtualClock) -> None:
    async with Rig(clock) as rig:
        rig.controller.set_phase(Phase.PEAK)
        await rig.time.advance(3.0)
        snap = rig.controller.snapshot()
        assert snap.state is MusicState.PLAYING
        assert snap.now_playing is not None
        assert snap.now_playing.track.id == rig.tracks[0].track_id
        assert snap.now_playing.position_s == pytest.approx(3.0, abs=0.2)
        assert len(snap.up_next) == 2
        assert rig.tracks[0].track_id not in {t.id for t in snap.up_next}
        data = snap.as_dict()
        assert data["state"] == "playing"
        assert data["phase"] == "peak"
        assert isinstance(data["track"], dict)


async def test_run_owns_named_tasks_and_closes_the_player(clock: VirtualClock) -> None:
    async with Rig(clock) as rig:
        names = {task.get_name() for task in asyncio.all_tasks()}
        assert {"music.player-events", "music.mixer", "music.library"} <= names
    assert rig.player.closed == 1
    names = {task.get_name() for task in asyncio.all_tasks()}
    assert not names & {"music.player-events", "music.mixer", "music.library"}
    assert rig.player.threads == {threading.get_ident()}


async def test_commands_never_raise_when_the_player_fails(clock: VirtualClock) -> None:
    class Grumpy(FakePlayer):
        def set_volume(self, deck: int, percent: float) -> None:
            raise PlayerError(f"volume {percent} refused on deck {deck}")

    async with Rig(clock, player=Grumpy(clock)) as rig:
        rig.controller.set_phase(Phase.PEAK)
        await rig.time.advance(1.0)
        rig.controller.set_volume(10)
        rig.controller.duck(on=True)
        rig.controller.pause()
        rig.controller.play()
        await rig.time.advance(1.0)
        assert any("refused on deck" in t for t in rig.texts())
        assert rig.task is not None
        assert not rig.task.done()


def test_equal_power_helper() -> None:
    assert _power(40.0) == 1.0
    assert _power(
        40 * math.pow(math.sqrt(0.5), 1 / 3), 40 * math.pow(math.sqrt(0.5), 1 / 3)
    ) == pytest.approx(1.0)


async def test_a_track_paused_while_starting_is_not_timed_out(
    clock: VirtualClock,
) -> None:
    player = FakePlayer(clock, auto_start=False)
    async with Rig(clock, player=player) as rig:
        rig.controller.set_phase(Phase.PEAK)
        await rig.time.advance(0.5)
        rig.controller.pause()
        await rig.time.advance(10.0)  # far beyond start_timeout_s
        assert rig.texts() == []
        rig.controller.play()
        await rig.time.advance(1.0)
        player.start(player.loads[-1][1])
        await rig.time.advance(5.0)
        assert len(rig.tracks) == 1
        assert len(player.loads) == 1
        assert rig.controller.state() is MusicState.PLAYING


async def test_callbacks_carry_what_the_record_needs(clock: VirtualClock) -> None:
    async with Rig(clock) as rig:
        rig.controller.begin_session(seed="s-1")
        rig.controller.set_phase(Phase.RETURN)
        await rig.time.advance(1.0)
        [started] = rig.tracks
        assert started.phase is Phase.RETURN
        assert started.track_id in {"ret-a.wav", "ret-b.wav"}
        assert started.title in {"Ret-A", "Ret-B"}
        assert started.path.name == started.track_id
        assert started.occurred_at.tzinfo is not None
        assert not started.repeat


async def test_an_unreadable_library_falls_back_with_a_notice(
    clock: VirtualClock, tmp_path: Path
) -> None:
    def builtin(phase: Phase, _stop: Callable[[], bool]) -> Playlist:
        return make_playlist(phase, f"{phase.value}-1.wav")

    settings = SETTINGS.model_copy(
        update={"library_dir": tmp_path / "nowhere", "fallback_to_builtin": True}
    )
    async with Rig(clock, settings=settings, builtin=builtin) as rig:
        rig.controller.set_phase(Phase.PEAK)
        for _ in range(50):
            await rig.time.advance(0.1)
            await asyncio.sleep(0.005)
            if rig.tracks:
                break
        assert rig.tracks[0].track_id == "peak-1.wav"
        assert "cannot use the music library" in rig.texts()[0]
        assert "does not exist" in rig.texts()[0]
        assert rig.controller.snapshot().library == str(tmp_path / "nowhere")


async def test_an_unreadable_library_without_fallback_is_silent(
    clock: VirtualClock, tmp_path: Path
) -> None:
    settings = SETTINGS.model_copy(update={"library_dir": tmp_path / "nowhere"})
    async with Rig(clock, settings=settings) as rig:
        rig.controller.set_phase(Phase.PEAK)
        await rig.time.advance(1.0)
        await asyncio.sleep(0.05)
        await rig.time.advance(1.0)
        assert rig.tracks == []
        assert rig.controller.state() is MusicState.SILENT
        assert any("could not be read" in t for t in rig.texts())
