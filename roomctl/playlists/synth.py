"""The built-in ambient library: slowly evolving pads and drones, made with numpy.

Used when the clinic configures no music library (and as the fallback for a phase its
library cannot serve). Tracks are generated on first use into a cache folder as 16-bit
WAV files (stdlib ``wave``) next to a generated ``<phase>.toml`` playlist that marks
every track lyric-free, so the cache folder is an ordinary library (``library.py``).
Nothing generated is committed.

How a track is made (all vectorised; a few FFTs per layer, no per-sample Python):

- **Pads.** A chord is a set of notes; each note contributes harmonics, and each
  harmonic becomes a Gaussian bump in a spectrum with random phases (a "spread"
  spectrum, as in the PADsynth idea): one inverse FFT gives a seamless loop of a lush,
  slightly detuned, chorused pad. Lower harmonics (*body*) and upper ones (*air*) are
  separate loops, and a slow LFO mixes in the air: a gentle filter-like sweep.
- **Chord changes** every 20-40 s (phase dependent, seeded), overlapped with
  equal-power fades of several seconds; the chords walk through a phase progression.
- **Drone.** The root and its fifth, narrow bumps, centred, with a slow swell.
- **Texture.** Two band-limited noise loops ("breath", "wind", "rumble") whose
  levels trade places on slow LFOs, so the texture keeps changing.
- Left and right use independent random phases: wide, spacious stereo.
- Fade in and fade out; the mix is scaled to the phase's RMS level and never clips.

Deterministic: the same ``SynthSpec`` (seed included), phase and index give identical
samples. Blocking and CPU-bound: the daemon calls it through ``asyncio.to_thread``.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import tempfile
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from roomctl.playlists.model import MUSIC_PHASES, Phase

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from numpy.typing import NDArray

__all__ = [
    "STYLES",
    "SYNTH_VERSION",
    "PhaseStyle",
    "SynthSpec",
    "builtin_folder",
    "default_cache_dir",
    "ensure_builtin_playlist",
    "render_track",
    "track_id",
    "write_wav",
]

#: Bump when the sound changes: the cache folder and the track ids carry it, so a new
#: version is generated afresh and counts as new music for the no-repeat rule.
SYNTH_VERSION = 1

#: Loops are at least this long; longer loops repeat less audibly.
_LOOP_MIN_S = 20.0
#: Peak ceiling after level scaling (-1 dBFS), so no sample clips.
_PEAK_CEILING = 10 ** (-1 / 20)
#: Partials above this are faded out: pads keep their energy below a few kHz.
_AIR_CEILING_HZ = 3500.0


@dataclass(frozen=True, slots=True, kw_only=True)
class SynthSpec:
    """What to generate: length, format and seed."""

    #: Length of each track in seconds.
    duration_s: float = 210.0
    #: Samples per second (22 050 is plenty for pads; 44 100 also works).
    sample_rate: int = 22050
    #: 1 (mono) or 2 (stereo; wider, twice the cache size).
    channels: int = 2
    #: Varies every track; the same seed always gives the same music.
    seed: int = 0

    def __post_init__(self) -> None:
        if not 1.0 <= self.duration_s <= 3600.0:
            raise ValueError("duration_s must be 1-3600 s")
        if self.sample_rate not in {16000, 22050, 24000, 32000, 44100, 48000}:
            raise ValueError("sample_rate must be a common rate (22050, 44100, ...)")
        if self.channels not in {1, 2}:
            raise ValueError("channels must be 1 or 2")

    @property
    def frames(self) -> int:
        """Samples per channel in one track."""
        return round(self.duration_s * self.sample_rate)


@dataclass(frozen=True, slots=True, kw_only=True)
class PhaseStyle:
    """The character of one phase's music."""

    #: Drone fundamental in Hz (before the per-track transposition).
    root_hz: float
    #: Per-track transpositions in semitones (seeded choice).
    transpose: tuple[int, ...]
    #: Chords as semitones above the root; the music walks through them.
    chords: tuple[tuple[int, ...], ...]
    #: Gaussian bump width in cents: wider is more diffuse, narrower more tonal.
    bandwidth_cents: float
    #: Harmonic amplitude falls as ``1 / h**rolloff``: higher is darker.
    rolloff: float
    #: Harmonics per note.
    harmonics: int
    #: Level of the upper-harmonic layer the brightness LFO brings in.
    air: float
    #: Drone level (relative to the pads).
    drone: float
    #: Level of the drone's fifth (relative to the drone root).
    drone_fifth: float
    #: Noise texture level (relative to the pads).
    noise: float
    #: Centre frequencies (Hz) of the two noise textures.
    noise_hz: tuple[float, float]
    #: Chord length range in seconds.
    chord_s: tuple[float, float]
    #: Crossfade between chords in seconds.
    chord_fade_s: float
    #: LFO period range in seconds.
    lfo_s: tuple[float, float]
    #: RMS level of the finished track in dBFS.
    level_dbfs: float
    #: Intensity tag (1-5) written to the playlist.
    intensity: int
    #: Track titles, in order; more tracks get numbered.
    titles: tuple[str, ...]


#: Phase characters. Preparation: soft, warm. Dosing and peak: expansive, spacious,
#: low. Return: grounding, a little more tonal. Integration: warm, quiet.
STYLES: dict[Phase, PhaseStyle] = {
    Phase.PREPARATION: PhaseStyle(
        root_hz=110.0,  # A2
        transpose=(0, -2, 3, -4, 5),
        # I(add9)  vi7  IV(maj7)  I/3  ii9: warm major, mid register
        chords=(
            (12, 16, 19, 26),
            (9, 12, 16, 19),
            (5, 12, 16, 21),
            (16, 19, 24),
            (14, 17, 21, 26),
        ),
        bandwidth_cents=22.0,
        rolloff=1.6,
        harmonics=6,
        air=0.35,
        drone=0.35,
        drone_fifth=0.5,
        noise=0.10,
        noise_hz=(900.0, 2200.0),
        chord_s=(22.0, 34.0),
        chord_fade_s=7.0,
        lfo_s=(18.0, 45.0),
        level_dbfs=-21.0,
        intensity=2,
        titles=("Threshold", "Soft Light", "Settling", "Warm Air", "Open Hands"),
    ),
    Phase.DOSING: PhaseStyle(
        root_hz=73.42,  # D2
        transpose=(0, 2, -3, 5, -5),
        # open fifths and suspensions, spread wide: spacious, unresolved, calm
        chords=(
            (7, 14, 19, 26),
            (5, 12, 17, 24),
            (10, 17, 22, 29),
            (7, 12, 19, 28),
            (3, 10, 15, 22),
        ),
        bandwidth_cents=38.0,
        rolloff=1.8,
        harmonics=6,
        air=0.45,
        drone=0.55,
        drone_fifth=0.6,
        noise=0.12,
        noise_hz=(400.0, 1800.0),
        chord_s=(28.0, 40.0),
        chord_fade_s=10.0,
        lfo_s=(25.0, 60.0),
        level_dbfs=-22.0,
        intensity=3,
        titles=("Descent", "Wide Water", "Open Field", "Slow Tide", "Horizon"),
    ),
    Phase.PEAK: PhaseStyle(
        root_hz=65.41,  # C2
        transpose=(0, -1, 2, 3, -3),
        # very low, sparse and diffuse: fifths and a lydian colour, long changes
        chords=((7, 19, 26), (12, 19, 30), (5, 17, 24), (7, 14, 26), (2, 14, 21)),
        bandwidth_cents=55.0,
        rolloff=2.0,
        harmonics=5,
        air=0.5,
        drone=0.75,
        drone_fifth=0.45,
        noise=0.14,
        noise_hz=(160.0, 1200.0),
        chord_s=(32.0, 40.0),
        chord_fade_s=12.0,
        lfo_s=(30.0, 75.0),
        level_dbfs=-23.0,
        intensity=4,
        titles=("Deep Field", "Vast", "Stillpoint", "Undertow", "Lumen"),
    ),
    Phase.RETURN: PhaseStyle(
        root_hz=87.31,  # F2
        transpose=(0, 2, -2, 4, -3),
        # I  IV  vi  V(sus)  I: clearer, grounding, gently tonal
        chords=(
            (12, 16, 19, 24),
            (17, 21, 24, 29),
            (9, 16, 21, 24),
            (14, 19, 26, 31),
            (12, 19, 24, 28),
        ),
        bandwidth_cents=12.0,
        rolloff=1.5,
        harmonics=7,
        air=0.3,
        drone=0.5,
        drone_fifth=0.55,
        noise=0.07,
        noise_hz=(600.0, 1500.0),
        chord_s=(20.0, 30.0),
        chord_fade_s=6.0,
        lfo_s=(16.0, 40.0),
        level_dbfs=-21.0,
        intensity=2,
        titles=("Shoreline", "Ground", "Homeward", "Rooted", "Daybreak"),
    ),
    Phase.INTEGRATION: PhaseStyle(
        root_hz=98.0,  # G2
        transpose=(0, -2, 2, -5, 3),
        # major sevenths and added ninths, close and low: warm, quiet
        chords=(
            (12, 16, 19, 23),
            (5, 9, 12, 16),
            (9, 12, 16, 19),
            (7, 14, 17, 23),
            (12, 14, 19, 23),
        ),
        bandwidth_cents=18.0,
        rolloff=1.9,
        harmonics=5,
        air=0.25,
        drone=0.4,
        drone_fifth=0.5,
        noise=0.06,
        noise_hz=(500.0, 1400.0),
        chord_s=(24.0, 36.0),
        chord_fade_s=8.0,
        lfo_s=(20.0, 50.0),
        level_dbfs=-25.0,
        intensity=1,
        titles=("Ember", "Warm Room", "Afterglow", "Kindred", "Evening"),
    ),
}

_Float = np.float32


def track_id(phase: Phase, index: int, spec: SynthSpec) -> str:
    """The stable id of built-in track ``index`` (0-based) of ``phase``.

    >>> track_id(Phase.PEAK, 0, SynthSpec(seed=7))
    'builtin/v1/s7/peak-1'
    """
    return f"builtin/v{SYNTH_VERSION}/s{spec.seed}/{phase.value}-{index + 1}"


def _title(style: PhaseStyle, index: int) -> str:
    base = style.titles[index % len(style.titles)]
    rounds = index // len(style.titles)
    return base if rounds == 0 else f"{base} {rounds + 1}"


# ---------------------------------------------------------------- building blocks


def _loop_length(sample_rate: int, duration_s: float) -> int:
    """A power of two at least ``_LOOP_MIN_S`` (or the whole track) long."""
    return 1 << math.ceil(math.log2(min(_LOOP_MIN_S, duration_s) * sample_rate))


def _spread_loop(
    partials: Iterable[tuple[float, float, float]],
    *,
    n: int,
    sample_rate: int,
    rng: np.random.Generator,
    channels: int,
) -> NDArray[np.float32]:
    """A seamless loop of ``n`` samples per channel from spread partials.

    Each partial ``(freq_hz, amplitude, width_hz)`` is a Gaussian bump in the
    magnitude spectrum; every channel gets its own random phases (decorrelated, wide).
    Returns shape ``(channels, n)``, unit RMS per channel.
    """
    bins = n // 2 + 1
    hz_per_bin = sample_rate / n
    magnitude = np.zeros(bins, dtype=np.float64)
    nyquist_guard = 0.45 * sample_rate
    for freq, amplitude, width_hz in partials:
        if freq >= nyquist_guard or amplitude <= 0:
            continue
        centre = freq / hz_per_bin
        width = max(width_hz / hz_per_bin, 1.0)
        lo = max(int(centre - 3 * width), 1)
        hi = min(int(centre + 3 * width) + 2, bins)
        k = np.arange(lo, hi, dtype=np.float64)
        # amplitude / sqrt(width): a partial's power does not depend on its spread
        magnitude[lo:hi] += (amplitude / math.sqrt(width)) * np.exp(
            -(((k - centre) / width) ** 2)
        )
    out = np.empty((channels, n), dtype=_Float)
    for channel in range(channels):
        phases = rng.uniform(0.0, 2.0 * math.pi, bins)
        spectrum = (magnitude * np.exp(1j * phases)).astype(np.complex64)
        signal = np.fft.irfft(spectrum, n)
        rms = float(np.sqrt(np.mean(signal.astype(np.float64) ** 2)))
        out[channel] = signal / rms if rms > 0 else signal
    return out


def _noise_loop(
    centre_hz: float,
    *,
    n: int,
    sample_rate: int,
    rng: np.random.Generator,
    channels: int,
) -> NDArray[np.float32]:
    """Band-limited noise around ``centre_hz`` (one octave-ish wide), unit RMS."""
    bins = n // 2 + 1
    freqs = np.arange(bins, dtype=np.float64) * (sample_rate / n)
    freqs[0] = 1.0
    # a bell in log-frequency, about an octave either side, with a pink tilt
    octaves = np.log2(freqs / centre_hz)
    magnitude = np.exp(-(octaves**2) / (2 * 0.6**2)) / np.sqrt(freqs)
    magnitude[0] = 0.0
    out = np.empty((channels, n), dtype=_Float)
    for channel in range(channels):
        phases = rng.uniform(0.0, 2.0 * math.pi, bins)
        signal = np.fft.irfft((magnitude * np.exp(1j * phases)).astype(np.complex64), n)
        rms = float(np.sqrt(np.mean(signal.astype(np.float64) ** 2)))
        out[channel] = signal / rms if rms > 0 else signal
    return out


def _lfo(
    frames: int,
    sample_rate: int,
    *,
    period_s: float,
    phase: float,
    low: float,
    high: float,
) -> NDArray[np.float32]:
    """A slow sine between ``low`` and ``high``, evaluated at a control rate."""
    step = 256
    control = np.arange(0, frames + step, step, dtype=np.float64)
    values = low + (high - low) * (
        0.5 + 0.5 * np.sin(2 * math.pi * control / (period_s * sample_rate) + phase)
    )
    return np.interp(np.arange(frames), control, values).astype(_Float)


def _fade(length: int, *, rising: bool) -> NDArray[np.float32]:
    """Quarter-sine (equal-power) fade of ``length`` samples."""
    if length <= 0:
        return np.ones(0, dtype=_Float)
    t = (np.arange(length, dtype=np.float64) + 0.5) / length
    curve = np.sin(0.5 * math.pi * t) if rising else np.cos(0.5 * math.pi * t)
    return curve.astype(_Float)


def _tile(loop: NDArray[np.float32], start: int, length: int) -> NDArray[np.float32]:
    """``length`` samples of a periodic loop from offset ``start`` (per channel)."""
    n = loop.shape[1]
    rolled = np.roll(loop, -(start % n), axis=1)
    repeats = -(-length // n)
    return np.tile(rolled, (1, repeats))[:, :length]


def _chord_plan(
    style: PhaseStyle, frames: int, sample_rate: int, rng: np.random.Generator
) -> list[tuple[int, int, tuple[int, ...]]]:
    """(start frame, length in frames, chord) for each chord of a track."""
    duration_s = frames / sample_rate
    # short tracks (tests) keep a few changes: scale chord length with the track
    scale = min(1.0, duration_s / 120.0)
    plan: list[tuple[int, int, tuple[int, ...]]] = []
    t = 0.0
    index = 0
    while t < duration_s - 1e-9:
        lo, hi = style.chord_s
        length = max(float(rng.uniform(lo, hi)) * scale, 0.5)
        if duration_s - (t + length) < 0.5 * length * scale:
            length = duration_s - t  # no tiny chord at the end
        start = round(t * sample_rate)
        end = min(round((t + length) * sample_rate), frames)
        plan.append((start, end - start, style.chords[index]))
        t += length
        # a gentle walk: mostly onward, sometimes a step back or a skip
        index = (index + int(rng.choice((1, 1, 1, 2, -1)))) % len(style.chords)
    return plan


def _note_partials(
    freq: float, style: PhaseStyle, *, harmonics: range, weight: float
) -> list[tuple[float, float, float]]:
    width_factor = 2 ** (style.bandwidth_cents / 1200) - 1
    out = []
    for h in harmonics:
        partial = freq * h
        amplitude = weight / h**style.rolloff
        # fade partials out above the ceiling: energy stays low and warm
        amplitude *= math.exp(-((partial / _AIR_CEILING_HZ) ** 2))
        # wider bumps for higher harmonics, as in a real ensemble
        out.append((partial, amplitude, width_factor * partial * math.sqrt(h)))
    return out


# ---------------------------------------------------------------- rendering


@dataclass(slots=True)
class _Render:
    """One track being rendered: its format, random stream and mix buffer."""

    style: PhaseStyle
    sample_rate: int
    frames: int
    channels: int
    rng: np.random.Generator
    root_hz: float
    loop_n: int
    mix: NDArray[np.float32]

    def lfo(self, low: float, high: float) -> NDArray[np.float32]:
        """A fresh slow LFO with a seeded period and phase."""
        return _lfo(
            self.frames,
            self.sample_rate,
            period_s=float(self.rng.uniform(*self.style.lfo_s)),
            phase=float(self.rng.uniform(0, 2 * math.pi)),
            low=low,
            high=high,
        )

    def loop(
        self, partials: list[tuple[float, float, float]], *, channels: int
    ) -> NDArray[np.float32]:
        """A spread loop of ``partials``."""
        return _spread_loop(
            partials,
            n=self.loop_n,
            sample_rate=self.sample_rate,
            rng=self.rng,
            channels=channels,
        )

    def offset(self) -> int:
        """A random start point in a loop."""
        return int(self.rng.integers(0, self.loop_n))


def _add_pads(r: _Render) -> None:
    """Chords with body and air layers, overlapped with equal-power fades."""
    style, sr, frames = r.style, r.sample_rate, r.frames
    brightness = r.lfo(0.1, 1.0)
    swell = r.lfo(0.7, 1.0)
    fade_frames = round(min(style.chord_fade_s, 0.3 * frames / sr) * sr)
    for start, length, chord in _chord_plan(style, frames, sr, r.rng):
        notes = [r.root_hz * 2 ** (semitone / 12) for semitone in chord]
        # the lowest note a little softer, so chords stay open above the drone
        weights = [0.8, *([1.0] * (len(notes) - 1))]
        body: list[tuple[float, float, float]] = []
        air: list[tuple[float, float, float]] = []
        for freq, weight in zip(notes, weights, strict=True):
            body += _note_partials(freq, style, harmonics=range(1, 3), weight=weight)
            air += _note_partials(
                freq, style, harmonics=range(3, style.harmonics + 1), weight=weight
            )
        seg_start = max(start - fade_frames // 2, 0)
        seg_end = min(start + length + fade_frames // 2, frames)
        seg_len = seg_end - seg_start
        body_loop = r.loop(body, channels=r.channels)
        air_loop = r.loop(air, channels=r.channels)
        offset = r.offset()
        segment = _tile(body_loop, offset, seg_len)
        segment += (style.air * brightness[seg_start:seg_end]) * _tile(
            air_loop, offset, seg_len
        )
        envelope = np.ones(seg_len, dtype=_Float)
        if seg_start > 0:
            rise = min(fade_frames, seg_len)
            envelope[:rise] *= _fade(rise, rising=True)
        if seg_end < frames:
            fall = min(fade_frames, seg_len)
            envelope[seg_len - fall :] *= _fade(fall, rising=False)
        r.mix[:, seg_start:seg_end] += segment * (envelope * swell[seg_start:seg_end])


def _add_drone(r: _Render) -> None:
    """Root and fifth, narrow bumps, centred (the same phases on both sides)."""
    style = r.style
    partials = [
        *_note_partials(r.root_hz, style, harmonics=range(1, 4), weight=1.0),
        *_note_partials(
            r.root_hz * 1.5, style, harmonics=range(1, 3), weight=style.drone_fifth
        ),
    ]
    narrow = [(f, a, w * 0.3) for f, a, w in partials]
    drone = r.loop(narrow, channels=1)
    r.mix += (style.drone * r.lfo(0.6, 1.0)) * _tile(drone, r.offset(), r.frames)


def _add_textures(r: _Render) -> None:
    """Two noise bands whose levels rise and fall on their own slow LFOs."""
    for centre in r.style.noise_hz:
        jitter = float(r.rng.uniform(0.8, 1.25))
        texture = _noise_loop(
            centre * jitter,
            n=r.loop_n,
            sample_rate=r.sample_rate,
            rng=r.rng,
            channels=r.channels,
        )
        r.mix += (r.style.noise * r.lfo(0.0, 1.0)) * _tile(
            texture, r.offset(), r.frames
        )


def _finish(r: _Render) -> NDArray[np.float32]:
    """Fade in and out, scale to the phase's level, keep peaks below -1 dBFS."""
    mix, sr, frames = r.mix, r.sample_rate, r.frames
    fade_in = round(min(8.0, 0.2 * frames / sr) * sr)
    fade_out = round(min(12.0, 0.25 * frames / sr) * sr)
    mix[:, :fade_in] *= _fade(fade_in, rising=True) ** 2
    mix[:, frames - fade_out :] *= _fade(fade_out, rising=False) ** 2
    rms = float(np.sqrt(np.mean(mix.astype(np.float64) ** 2)))
    gain = 10 ** (r.style.level_dbfs / 20) / rms if rms > 0 else 0.0
    peak = float(np.max(np.abs(mix))) * gain
    if peak > _PEAK_CEILING:
        gain *= _PEAK_CEILING / peak
    mix *= np.float32(gain)
    return np.ascontiguousarray(mix.T)


def render_track(phase: Phase, index: int, spec: SynthSpec) -> NDArray[np.float32]:
    """Render built-in track ``index`` (0-based) of ``phase``.

    Returns:
        Float samples in [-1, 1], shape ``(frames, channels)``.

    Raises:
        ValueError: ``phase`` has no music (``closed``).
    """
    if phase not in STYLES:
        raise ValueError(f"the {phase} phase has no music")
    style = STYLES[phase]
    rng = np.random.default_rng(
        np.random.SeedSequence([SYNTH_VERSION, spec.seed, phase.order, index])
    )
    render = _Render(
        style=style,
        sample_rate=spec.sample_rate,
        frames=spec.frames,
        channels=spec.channels,
        rng=rng,
        root_hz=style.root_hz * 2 ** (int(rng.choice(style.transpose)) / 12),
        loop_n=_loop_length(spec.sample_rate, spec.duration_s),
        mix=np.zeros((spec.channels, spec.frames), dtype=_Float),
    )
    _add_pads(render)
    _add_drone(render)
    _add_textures(render)
    return _finish(render)


def write_wav(path: Path, samples: NDArray[np.float32], sample_rate: int) -> None:
    """Write float samples ``(frames, channels)`` as a 16-bit PCM WAV, atomically.

    Raises:
        OSError: the file cannot be written.
    """
    pcm = np.clip(np.round(samples * 32767.0), -32768, 32767).astype("<i2")
    handle, tmp_name = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=".tmp", dir=path.parent
    )
    os.close(handle)
    tmp = Path(tmp_name)
    try:
        with wave.open(str(tmp), "wb") as out:
            out.setnchannels(pcm.shape[1])
            out.setsampwidth(2)
            out.setframerate(sample_rate)
            out.writeframes(pcm.tobytes())
        tmp.replace(path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


# ---------------------------------------------------------------- the cache


def default_cache_dir() -> Path:
    """Where generated music goes when the settings name no folder.

    ``$CACHE_DIRECTORY/music`` under a systemd unit with ``CacheDirectory=``, else
    ``$XDG_CACHE_HOME/roomctl/music``, else ``~/.cache/roomctl/music``.
    """
    systemd = os.environ.get("CACHE_DIRECTORY")
    if systemd:
        return Path(systemd.split(":")[0]) / "music"
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "roomctl" / "music"


def builtin_folder(cache_dir: Path, spec: SynthSpec) -> Path:
    """The cache sub-folder for one ``SynthSpec`` (a library folder of its own)."""
    length = f"{spec.duration_s:g}".replace(".", "_")
    return cache_dir / (
        f"builtin-v{SYNTH_VERSION}-s{spec.seed}-{length}s-"
        f"{spec.sample_rate}hz-{spec.channels}ch"
    )


def _wav_ok(path: Path, spec: SynthSpec) -> bool:
    expected = 44 + spec.frames * spec.channels * 2
    try:
        return path.stat().st_size == expected
    except OSError:
        return False


def _toml_text(phase: Phase, spec: SynthSpec, tracks: int) -> str:
    style = STYLES[phase]
    lines = [
        "# Generated by roomctl (built-in ambient library); regenerated when missing.",
        "# Every track is synthesised: no voice, no words.",
        "[playlist]",
        f'phase = "{phase.value}"',
        f'generator = "roomctl.playlists.synth v{SYNTH_VERSION}"',
        "",
    ]
    for index in range(tracks):
        lines += [
            "[[track]]",
            f"id = {json.dumps(track_id(phase, index, spec))}",
            f'path = "{phase.value}-{index + 1}.wav"',
            f"title = {json.dumps(_title(style, index))}",
            'artist = "roomctl built-in"',
            f"duration_s = {spec.duration_s:.1f}",
            'lyrics = "none"',
            f"intensity = {style.intensity}",
            f'phases = ["{phase.value}"]',
            f'source = "built-in (seed {spec.seed})"',
            "",
        ]
    return "\n".join(lines)


def ensure_builtin_playlist(
    cache_dir: Path,
    phase: Phase,
    *,
    spec: SynthSpec,
    tracks: int = 3,
    should_stop: Callable[[], bool] | None = None,
) -> Path:
    """Generate what is missing of one phase's built-in playlist; return its file.

    Existing tracks of the right size are kept, so this is cheap after the first run.
    The playlist file is written last: its presence means the tracks are complete.

    Args:
        cache_dir: the music cache folder (created when missing).
        phase: a music phase.
        spec: length, format and seed.
        tracks: how many tracks the phase gets.
        should_stop: polled between tracks; generation stops early when it says so.

    Returns:
        ``<folder>/<phase>.toml``, an ordinary playlist file (``load_playlist_file``).

    Raises:
        OSError: the cache folder cannot be written.
        InterruptedError: ``should_stop`` asked to stop.
        ValueError: ``phase`` has no music or ``tracks`` is not positive.
    """
    if phase not in MUSIC_PHASES:
        raise ValueError(f"the {phase} phase has no music")
    if tracks < 1:
        raise ValueError("tracks must be at least 1")
    folder = builtin_folder(cache_dir, spec)
    folder.mkdir(parents=True, exist_ok=True)
    playlist = folder / f"{phase.value}.toml"
    wavs = [folder / f"{phase.value}-{i + 1}.wav" for i in range(tracks)]
    text = _toml_text(phase, spec, tracks)
    if all(_wav_ok(w, spec) for w in wavs) and _read_text(playlist) == text:
        return playlist
    for index, wav in enumerate(wavs):
        if _wav_ok(wav, spec):
            continue
        if should_stop is not None and should_stop():
            raise InterruptedError("music generation stopped")
        write_wav(wav, render_track(phase, index, spec), spec.sample_rate)
    handle, tmp_name = tempfile.mkstemp(prefix=f".{playlist.name}.", dir=folder)
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        out.write(text)
    Path(tmp_name).replace(playlist)
    return playlist


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
