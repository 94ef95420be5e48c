"""VlcPlayer against a fake python-vlc module.

Call order, event interpretation, thread rules and release. The real libVLC runs in
tests/system/test_music_vlc.py.
"""

from __future__ import annotations

import asyncio
import importlib
import threading
import types
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pytest

from roomctl.errors import PlayerError
from roomctl.playlists import vlc_player
from roomctl.playlists.player import DeckEventKind, PlayerState
from roomctl.playlists.vlc_player import VlcOutput, VlcPlayer, resolve_output

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path


# ---------------------------------------------------------------- a fake python-vlc


@dataclass
class FakeEventManager:
    log: list[tuple[str, tuple[object, ...]]]
    handlers: dict[str, tuple[Callable[..., None], tuple[object, ...]]] = field(
        default_factory=dict
    )

    def event_attach(
        self, kind: str, callback: Callable[..., None], *args: object
    ) -> int:
        self.log.append(("event_attach", (kind,)))
        self.handlers[kind] = (callback, args)
        return 0

    def event_detach(self, kind: str) -> None:
        self.log.append(("event_detach", (kind,)))
        self.handlers.pop(kind, None)

    def fire(self, kind: str) -> None:
        """What libVLC does on its own thread."""
        callback, args = self.handlers[kind]
        callback(object(), *args)


@dataclass
class FakeMediaPlayer:
    log: list[tuple[str, tuple[object, ...]]]
    time_ms: int = 0
    length_ms: int = 0
    volume_result: int = 0
    threads: set[int] = field(default_factory=set)
    released: bool = False

    def __post_init__(self) -> None:
        self.events = FakeEventManager(self.log)

    def _call(self, name: str, *args: object) -> None:
        self.threads.add(threading.get_ident())
        self.log.append((name, args))

    def event_manager(self) -> FakeEventManager:
        self._call("event_manager")
        return self.events

    def set_media(self, media: object) -> None:
        self._call("set_media", media)

    def play(self) -> int:
        self._call("play")
        return 0

    def stop(self) -> None:
        self._call("stop")

    def set_pause(self, do_pause: int) -> None:
        self._call("set_pause", do_pause)

    def audio_set_volume(self, volume: int) -> int:
        self._call("audio_set_volume", volume)
        return self.volume_result

    def audio_get_volume(self) -> int:
        return 0

    def audio_set_mute(self, status: bool) -> None:
        self._call("audio_set_mute", status)

    def set_equalizer(self, equalizer: object) -> int:
        self._call("set_equalizer", "guard" if equalizer is not None else None)
        return 0

    def audio_output_set(self, name: str) -> int:
        self._call("audio_output_set", name)
        return 0

    def get_time(self) -> int:
        return self.time_ms

    def get_length(self) -> int:
        return self.length_ms

    def release(self) -> None:
        self._call("release")
        self.released = True


class FakeMedia:
    def __init__(self, path: str) -> None:
        self.path = path
        self.released = False

    def release(self) -> None:
        self.released = True


class FakeEqualizer:
    def __init__(self) -> None:
        self.preamp = 0.0
        self.bands: dict[int, float] = {}
        self.released = False

    def set_preamp(self, preamp: float) -> int:
        self.preamp = preamp
        return 0

    def set_amp_at_index(self, amp: float, band: int) -> int:
        self.bands[band] = amp
        return 0

    def release(self) -> None:
        self.released = True


@dataclass
class FakeVlc:
    """Stands in for the python-vlc module."""

    args: list[list[str]] = field(default_factory=list)
    players: list[FakeMediaPlayer] = field(default_factory=list)
    instances: list[FakeInstance] = field(default_factory=list)
    equalizers: list[FakeEqualizer] = field(default_factory=list)
    refuse: bool = False

    def module(self) -> types.ModuleType:
        fake = self
        module = types.ModuleType("vlc")

        class VLCException(Exception):
            pass

        def instance(args: list[str]) -> FakeInstance | None:
            fake.args.append(list(args))
            if fake.refuse:
                return None
            made = FakeInstance(fake)
            fake.instances.append(made)
            return made

        def equalizer() -> FakeEqualizer:
            made = FakeEqualizer()
            fake.equalizers.append(made)
            return made

        module.Instance = instance  # type: ignore[attr-defined]
        module.VLCException = VLCException  # type: ignore[attr-defined]
        module.AudioEqualizer = equalizer  # type: ignore[attr-defined]
        module.libvlc_audio_equalizer_get_band_count = lambda: 10  # type: ignore[attr-defined]
        module.EventType = types.SimpleNamespace(  # type: ignore[attr-defined]
            MediaPlayerTimeChanged="time",
            MediaPlayerEndReached="end",
            MediaPlayerEncounteredError="error",
        )
        return module


class FakeInstance:
    def __init__(self, vlc: FakeVlc) -> None:
        self.vlc = vlc
        self.log: list[tuple[str, tuple[object, ...]]] = []
        self.released = False

    def media_player_new(self) -> FakeMediaPlayer:
        player = FakeMediaPlayer(self.log)
        self.vlc.players.append(player)
        return player

    def media_new_path(self, path: str) -> FakeMedia:
        return FakeMedia(path)

    def release(self) -> None:
        self.released = True


@pytest.fixture
def fake_vlc(monkeypatch: pytest.MonkeyPatch) -> FakeVlc:
    fake = FakeVlc()
    module = fake.module()
    real_import = importlib.import_module

    def import_module(name: str) -> types.ModuleType:
        return module if name == "vlc" else real_import(name)

    monkeypatch.setattr(importlib, "import_module", import_module)
    return fake


@pytest.fixture
def track(tmp_path: Path) -> Path:
    path = tmp_path / "t.wav"
    path.write_bytes(b"RIFF")
    return path


def names(log: list[tuple[str, tuple[object, ...]]]) -> list[str]:
    return [name for name, _ in log if not name.startswith("event_")]


# ---------------------------------------------------------------- tests


async def test_open_makes_two_primed_decks(fake_vlc: FakeVlc) -> None:
    player = VlcPlayer.for_output("dummy")
    player.open()
    assert len(fake_vlc.instances) == 2
    assert fake_vlc.args[0][:3] == ["--no-video", "--quiet", "--no-xlib"]
    assert "--aout=adummy" in fake_vlc.args[0]
    for eq in fake_vlc.equalizers:
        assert eq.preamp == -20.0
        assert set(eq.bands.values()) == {-20.0}
    # A fresh deck's output is re-created, at volume 0, muted.
    assert names(fake_vlc.instances[0].log) == [
        "audio_output_set",
        "audio_set_volume",
        "audio_set_mute",
    ]
    player.close()
    assert all(p.released for p in fake_vlc.players)
    assert all(i.released for i in fake_vlc.instances)
    assert all(e.released for e in fake_vlc.equalizers)
    player.close()  # twice is fine


async def test_file_output_gives_each_deck_its_own_file(fake_vlc: FakeVlc) -> None:
    player = VlcPlayer.for_output("file:/tmp/x/out.wav")
    player.open()
    assert "--audiofile-file=/tmp/x/out.deck0.wav" in fake_vlc.args[0]
    assert "--audiofile-file=/tmp/x/out.deck1.wav" in fake_vlc.args[1]
    player.close()


async def test_load_starts_silent_and_goes_live_when_the_clock_moves(
    fake_vlc: FakeVlc, track: Path
) -> None:
    player = VlcPlayer.for_output("alsa")
    player.open()
    mp = fake_vlc.players[0]
    mp.log.clear()
    load_id = player.load(0, track)
    assert names(mp.log) == [
        "set_media",
        "audio_set_mute",
        "audio_set_volume",
        "set_equalizer",
        "play",
    ]
    assert ("audio_set_volume", (0,)) in mp.log
    assert ("set_equalizer", ("guard",)) in mp.log
    assert player.state(0) is PlayerState.STARTING
    player.set_volume(0, 30.0)  # not live yet: kept, not sent
    assert ("audio_set_volume", (30,)) not in mp.log

    # libVLC's clock at 0: still not live.
    mp.events.fire("time")
    mp.log.clear()
    mp.time_ms = 120
    mp.events.fire("time")
    event = await asyncio.wait_for(player.next_event(), 1)
    assert event.kind is DeckEventKind.STARTED
    assert event.load_id == load_id
    assert names(mp.log) == ["audio_set_volume", "set_equalizer", "audio_set_mute"]
    assert mp.log[0] == ("audio_set_volume", (30,))
    assert mp.log[1] == ("set_equalizer", (None,))
    assert mp.log[2] == ("audio_set_mute", (False,))
    assert player.state(0) is PlayerState.PLAYING
    player.set_volume(0, 55.4)
    assert mp.log[-1] == ("audio_set_volume", (55,))
    player.close()


async def test_events_from_a_replaced_track_are_ignored(
    fake_vlc: FakeVlc, track: Path
) -> None:
    player = VlcPlayer.for_output("alsa")
    player.open()
    mp = fake_vlc.players[1]
    player.load(1, track)
    old_end = mp.events.handlers["end"]
    second = player.load(1, track)  # stops, primes, reloads
    assert "stop" in names(mp.log)
    old_end[0](object(), *old_end[1])  # the old track's end, hopped late
    mp.time_ms = 50
    mp.events.fire("time")
    event = await asyncio.wait_for(player.next_event(), 1)
    assert (event.kind, event.load_id) == (DeckEventKind.STARTED, second)
    player.close()


@pytest.mark.parametrize(
    ("kind", "reason"),
    [("error", "could not open or decode"), ("end", "no audio libVLC can decode")],
)
async def test_failures_become_failed_events(
    fake_vlc: FakeVlc, track: Path, kind: str, reason: str
) -> None:
    player = VlcPlayer.for_output("alsa")
    player.open()
    player.load(0, track)
    fake_vlc.players[0].events.fire(kind)
    event = await asyncio.wait_for(player.next_event(), 1)
    assert event.kind is DeckEventKind.FAILED
    assert reason in event.reason
    assert player.state(0) is PlayerState.FAILED
    player.close()


async def test_end_after_start_is_ended(fake_vlc: FakeVlc, track: Path) -> None:
    player = VlcPlayer.for_output("alsa")
    player.open()
    player.load(0, track)
    mp = fake_vlc.players[0]
    mp.time_ms, mp.length_ms = 10, 3000
    mp.events.fire("time")
    assert (await player.next_event()).kind is DeckEventKind.STARTED
    assert player.length_s(0) == 3.0
    assert player.position_s(0) == 0.01
    mp.events.fire("end")
    assert (await player.next_event()).kind is DeckEventKind.ENDED
    player.close()


async def test_callbacks_only_hop_to_the_loop(fake_vlc: FakeVlc, track: Path) -> None:
    player = VlcPlayer.for_output("alsa")
    player.open()
    player.load(0, track)
    mp = fake_vlc.players[0]
    mp.time_ms = 10
    calls_before = len(mp.log)
    # libVLC calls back on its own thread: nothing but the hop may happen there.
    thread = threading.Thread(target=mp.events.fire, args=("time",), name="libvlc")
    thread.start()
    thread.join()
    assert len(mp.log) == calls_before  # the callback called no libVLC function
    event = await asyncio.wait_for(player.next_event(), 1)
    assert event.kind is DeckEventKind.STARTED
    assert mp.threads == {threading.get_ident()}
    player.close()


async def test_calls_from_another_thread_are_refused(
    fake_vlc: FakeVlc, track: Path
) -> None:
    player = VlcPlayer.for_output("alsa")
    player.open()
    calls = len(fake_vlc.players[0].log)
    with pytest.raises(PlayerError, match="event loop's thread"):
        await asyncio.to_thread(player.load, 0, track)
    assert len(fake_vlc.players[0].log) == calls
    player.close()


@pytest.mark.usefixtures("fake_vlc")
async def test_missing_file_and_closed_player_raise(tmp_path: Path) -> None:
    player = VlcPlayer.for_output("alsa")
    with pytest.raises(PlayerError, match="not open"):
        player.set_volume(0, 10)
    player.open()
    with pytest.raises(PlayerError, match="no such file"):
        player.load(0, tmp_path / "gone.wav")
    with pytest.raises(PlayerError, match="no deck 2"):
        player.stop(2)
    player.close()


async def test_refused_arguments_raise(fake_vlc: FakeVlc) -> None:
    fake_vlc.refuse = True
    with pytest.raises(PlayerError, match="refused the arguments"):
        VlcPlayer(instance_args=("--bogus",)).open()


async def test_missing_libvlc_raises_player_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def import_module(name: str) -> types.ModuleType:
        raise OSError(f"cannot load {name}")

    monkeypatch.setattr(importlib, "import_module", import_module)
    with pytest.raises(PlayerError, match="libVLC is not available"):
        VlcPlayer().open()


async def test_output_without_volume_control_is_logged_once(
    fake_vlc: FakeVlc, track: Path, caplog: pytest.LogCaptureFixture
) -> None:
    player = VlcPlayer.for_output("file:/tmp/o.wav")
    player.open()
    mp = fake_vlc.players[0]
    mp.volume_result = -1  # afile has no volume
    player.load(0, track)
    mp.time_ms = 10
    mp.events.fire("time")
    await player.next_event()
    for percent in (10, 20, 30):
        player.set_volume(0, percent)
    warnings = [r for r in caplog.records if "ignores volume" in r.getMessage()]
    assert len(warnings) == 1
    player.close()


# ---------------------------------------------------------------- outputs


def test_resolve_output(monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve_output("default") == VlcOutput(module=None)
    assert resolve_output("pulse").args == ("--aout=pulse",)
    assert resolve_output("dummy").module == "adummy"
    assert resolve_output("file:~/x.wav").module == "afile"
    with pytest.raises(ValueError, match="unknown music output"):
        resolve_output("speakers")
    with pytest.raises(ValueError, match="unknown music output"):
        resolve_output("file:")
    monkeypatch.setattr(vlc_player, "_pulse_session", lambda: False)
    monkeypatch.setattr(vlc_player, "_alsa_card", lambda: False)
    assert resolve_output("auto").module == "adummy"
    monkeypatch.setattr(vlc_player, "_alsa_card", lambda: True)
    assert resolve_output("auto").module == "alsa"
    monkeypatch.setattr(vlc_player, "_pulse_session", lambda: True)
    assert resolve_output("auto").module == "pulse"


def test_pulse_session_detection(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("PULSE_SERVER", raising=False)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    assert not vlc_player._pulse_session()
    (tmp_path / "pipewire-0").touch()
    assert vlc_player._pulse_session()
    assert vlc_player.sound_output_available()
    monkeypatch.setenv("PULSE_SERVER", "unix:/x")
    assert vlc_player._pulse_session()


async def test_clock_events_stop_once_live_and_return_with_the_next_load(
    fake_vlc: FakeVlc, track: Path
) -> None:
    # libVLC reports its clock several times a second; once a deck is live those
    # reports say nothing new, so they no longer hop to the loop (issue 6, CPU).
    player = VlcPlayer.for_output("alsa")
    player.open()
    # libVLC's resampler runs on every block: the cheaper soxr first (issue 6).
    assert "--audio-resampler=soxr,any" in fake_vlc.args[0]
    mp = fake_vlc.players[0]
    player.load(0, track)
    assert set(mp.events.handlers) == {"time", "end", "error"}
    mp.time_ms = 50
    mp.events.fire("time")
    assert (await asyncio.wait_for(player.next_event(), 1)).kind is (
        DeckEventKind.STARTED
    )
    assert set(mp.events.handlers) == {"end", "error"}
    mp.events.fire("end")  # the end of the track still arrives
    assert (await asyncio.wait_for(player.next_event(), 1)).kind is (
        DeckEventKind.ENDED
    )
    mp.time_ms = 0
    load_id = player.load(0, track)
    assert set(mp.events.handlers) == {"time", "end", "error"}
    mp.time_ms = 40
    mp.events.fire("time")
    started = await asyncio.wait_for(player.next_event(), 1)
    assert (started.kind, started.load_id) == (DeckEventKind.STARTED, load_id)
    player.close()
    assert mp.events.handlers == {}
