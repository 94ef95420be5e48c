"""The built-in ambient synthesiser: determinism, length, level, spectrum, the cache."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

from roomctl.playlists.library import load_playlist_file
from roomctl.playlists.model import MUSIC_PHASES, Lyrics, Phase
from roomctl.playlists.synth import (
    SynthSpec,
    builtin_folder,
    default_cache_dir,
    ensure_builtin_playlist,
    render_track,
    write_wav,
)

SHORT = SynthSpec(duration_s=6.0, sample_rate=22050, channels=2, seed=3)


def rms_dbfs(x: np.ndarray) -> float:
    return float(20 * np.log10(np.sqrt(np.mean(x.astype(np.float64) ** 2)) + 1e-12))


@pytest.fixture(scope="module")
def renders() -> dict[Phase, np.ndarray]:
    return {phase: render_track(phase, 0, SHORT) for phase in MUSIC_PHASES}


def test_same_seed_gives_identical_samples(renders: dict[Phase, np.ndarray]) -> None:
    again = render_track(Phase.PEAK, 0, SHORT)
    assert np.array_equal(again, renders[Phase.PEAK])


def test_seed_and_index_change_the_music(renders: dict[Phase, np.ndarray]) -> None:
    other_seed = render_track(Phase.PEAK, 0, SynthSpec(duration_s=6.0, seed=4))
    other_index = render_track(Phase.PEAK, 1, SHORT)
    base = renders[Phase.PEAK]
    assert not np.allclose(other_seed, base)
    assert not np.allclose(other_index, base)


@pytest.mark.parametrize("phase", MUSIC_PHASES)
def test_length_level_and_no_clipping(
    renders: dict[Phase, np.ndarray], phase: Phase
) -> None:
    x = renders[phase]
    assert x.shape == (SHORT.frames, 2)
    assert x.dtype == np.float32
    assert float(np.max(np.abs(x))) <= 10 ** (-1 / 20) + 1e-6  # -1 dBFS ceiling
    assert -30.0 < rms_dbfs(x) < -15.0
    # left and right differ: a wide, spacious image, not mono
    assert not np.allclose(x[:, 0], x[:, 1])


@pytest.mark.parametrize("phase", MUSIC_PHASES)
def test_fades_in_from_silence_and_out_to_silence(
    renders: dict[Phase, np.ndarray], phase: Phase
) -> None:
    x = renders[phase]
    edge = SHORT.sample_rate // 50  # 20 ms
    assert rms_dbfs(x[:edge]) < -60
    assert rms_dbfs(x[-edge:]) < -60
    middle = x[len(x) // 2 - edge : len(x) // 2 + edge]
    assert rms_dbfs(middle) > -40


@pytest.mark.parametrize("phase", MUSIC_PHASES)
def test_energy_is_mostly_low(renders: dict[Phase, np.ndarray], phase: Phase) -> None:
    mono = renders[phase].astype(np.float64).mean(axis=1)
    power = np.abs(np.fft.rfft(mono)) ** 2
    freqs = np.fft.rfftfreq(len(mono), 1 / SHORT.sample_rate)
    assert power[freqs < 4000].sum() / power.sum() > 0.97
    assert power[freqs < 1500].sum() / power.sum() > 0.8
    # no DC and hardly any sub-sonic rumble
    assert power[freqs < 20].sum() / power.sum() < 0.01


def test_phases_sound_different(renders: dict[Phase, np.ndarray]) -> None:
    def centroid(x: np.ndarray) -> float:
        mono = x.astype(np.float64).mean(axis=1)
        power = np.abs(np.fft.rfft(mono)) ** 2
        freqs = np.fft.rfftfreq(len(mono), 1 / SHORT.sample_rate)
        return float((freqs * power).sum() / power.sum())

    # peak is low and dark; preparation warmer and higher
    assert centroid(renders[Phase.PEAK]) < centroid(renders[Phase.PREPARATION])
    # integration is the quietest
    levels = {p: rms_dbfs(x) for p, x in renders.items()}
    assert min(levels, key=levels.__getitem__) is Phase.INTEGRATION


def test_mono_and_44k() -> None:
    spec = SynthSpec(duration_s=2.0, sample_rate=44100, channels=1, seed=0)
    x = render_track(Phase.RETURN, 0, spec)
    assert x.shape == (88200, 1)


def test_spec_validation() -> None:
    with pytest.raises(ValueError, match="channels"):
        SynthSpec(channels=3)
    with pytest.raises(ValueError, match="sample_rate"):
        SynthSpec(sample_rate=12345)
    with pytest.raises(ValueError, match="has no music"):
        render_track(Phase.CLOSED, 0, SHORT)


def test_write_wav_round_trip(tmp_path: Path, renders: dict[Phase, np.ndarray]) -> None:
    path = tmp_path / "t.wav"
    write_wav(path, renders[Phase.DOSING], SHORT.sample_rate)
    with wave.open(str(path)) as wav:
        assert wav.getnchannels() == 2
        assert wav.getsampwidth() == 2
        assert wav.getframerate() == 22050
        assert wav.getnframes() == SHORT.frames
        pcm = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
    back = pcm.reshape(-1, 2) / 32767.0
    assert np.max(np.abs(back - renders[Phase.DOSING])) < 1e-4
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind


def test_builtin_playlist_is_generated_once_and_lyric_free(tmp_path: Path) -> None:
    spec = SynthSpec(duration_s=3.0, seed=9)
    file = ensure_builtin_playlist(tmp_path, Phase.PEAK, spec=spec, tracks=2)
    assert file == builtin_folder(tmp_path, spec) / "peak.toml"
    wavs = sorted(file.parent.glob("*.wav"))
    assert [w.name for w in wavs] == ["peak-1.wav", "peak-2.wav"]
    stamps = [w.stat().st_mtime_ns for w in wavs]

    library = load_playlist_file(file)
    assert library.problems == ()
    tracks = library.playlist(Phase.PEAK).tracks
    assert [t.id for t in tracks] == ["builtin/v1/s9/peak-1", "builtin/v1/s9/peak-2"]
    assert all(t.lyrics is Lyrics.NONE for t in tracks)
    assert all(t.path.is_file() for t in tracks)
    assert tracks[0].title == "Deep Field"

    # Second call: nothing regenerated.
    again = ensure_builtin_playlist(tmp_path, Phase.PEAK, spec=spec, tracks=2)
    assert again == file
    assert [w.stat().st_mtime_ns for w in wavs] == stamps

    # A damaged file is regenerated; the other is kept.
    wavs[1].write_bytes(b"RIFF")
    ensure_builtin_playlist(tmp_path, Phase.PEAK, spec=spec, tracks=2)
    assert wavs[0].stat().st_mtime_ns == stamps[0]
    assert wavs[1].stat().st_size == 44 + spec.frames * 2 * 2


def test_generation_stops_when_asked(tmp_path: Path) -> None:
    spec = SynthSpec(duration_s=2.0)
    with pytest.raises(InterruptedError):
        ensure_builtin_playlist(
            tmp_path, Phase.DOSING, spec=spec, tracks=2, should_stop=lambda: True
        )
    assert not (builtin_folder(tmp_path, spec) / "dosing.toml").exists()


def test_default_cache_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("CACHE_DIRECTORY", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_cache_dir() == tmp_path / "roomctl" / "music"
    monkeypatch.setenv("CACHE_DIRECTORY", "/var/cache/roomctl")
    assert default_cache_dir() == Path("/var/cache/roomctl/music")
    monkeypatch.delenv("CACHE_DIRECTORY")
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert default_cache_dir() == Path.home() / ".cache" / "roomctl" / "music"
