"""Device-side model of a Nonin oximeter speaking Serial Data Format #2.

Pure module: a ``simulators.model.DeviceModel``. Runners pace it in real time. It turns
a scenario into the bytes a Nonin OEM III module would send: 75 frames a second, in
packets of 25 frames with SYNC on frame 0. It uses the encoders of
``roomctl.devices.nonin_df2.protocol``, so the wire format lives in one place (style.md
§2.13). Symmetric encoder/decoder bugs are caught by the manual vectors and by the
real-capture test, not here.

What the model sends, per packet (its values are taken at the packet's first frame):

- values: the scenario's SpO2 and pulse rate plus deterministic jitter, rounded; every
  HR field (4-beat, extended, display) carries the same number, and so does every SpO2
  field;
- pleth: a pulsatile waveform (a systolic peak and a dicrotic wave) at the current pulse
  rate, with an amplitude that follows the scenario's perfusion index;
- status, by ``scenario.oximeter_state_at``:

  - ``normal``: green perfusion on the frames within 160 ms of a beat's onset;
  - ``low_perfusion``: red perfusion on those frames and a small pleth;
  - ``sensor_off``: SNSD and SNSA on every frame, sentinels (127, 511), a flat pleth;
  - ``searching``: OOT on every frame, sentinels, a low noisy pleth;
  - ``artifact``: ARTF on every frame, wild values (SpO2 drops, HR jumps) and a
    noisy pleth.

Heart rate is not capped below 511, so a scenario can drive it past 127 and exercise
the 9-bit packing (protocols.md §1.2 notes decoders that get this wrong).

Deterministic: the model generates packets strictly in order and draws its noise from
``Jitter(seed, "nonin")`` in that order. The same scenario and seed therefore give the
same bytes however ``emit`` is called.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from roomctl.devices.nonin_df2.protocol import (
    FRAME_LEN_BYTES,
    FRAME_RATE_HZ,
    PACKET_LEN_FRAMES,
    PACKET_PERIOD_S,
    PERFUSION_INDICATION_S,
    StatusBit,
    encode_packet,
)
from simulators.scenarios import Jitter, OximeterState

if TYPE_CHECKING:
    from simulators.scenarios import Scenario, Vitals

#: The firmware revision byte the model reports (frame 3). The value is arbitrary: our
#: sources do not document Nonin's revision numbering.
FIRMWARE_REVISION = 0x21

#: Pleth baseline and full-scale pulse amplitude, in pleth units (0-255). They keep the
#: waveform inside the byte, like the real capture (systole_ppg.npy spans 0-255).
PLETH_BASELINE = 50.0
PLETH_AMPLITUDE_FULL = 170.0

#: Perfusion index at which the pleth reaches full amplitude; lower PI scales it down.
PERFUSION_INDEX_FULL = 3.0

#: Fraction of the normal amplitude used in the ``low_perfusion`` state.
LOW_PERFUSION_SCALE = 0.15

#: Highest displayable SpO2 (a percentage).
SPO2_MAX_PERCENT = 100

#: Highest heart rate the 9-bit field carries before the 511 sentinel.
HR_MAX_BPM = 510

#: How far the values stray in the ``artifact`` state: the SpO2 drop and the HR jump.
ARTIFACT_SPO2_DROP_PERCENT = (5.0, 25.0)
ARTIFACT_HR_JUMP_BPM = (-40.0, 80.0)

#: Pleth noise (peak, pleth units) in the ``artifact`` and ``searching`` states.
ARTIFACT_PLETH_NOISE = 60.0
SEARCHING_PLETH_NOISE = 12.0


def pulse_shape(phase: float) -> float:
    """One beat of a finger plethysmogram, about 0 to 1, for ``phase`` in [0, 1).

    A sharp systolic peak early in the cycle, a smaller, wider dicrotic wave after it
    and a slow diastolic run-off to the next beat: the usual shape of a finger
    photoplethysmogram. Every term is near 0 at both ends of the cycle, so beats join
    smoothly.
    """
    systolic = math.exp(-(((phase - 0.18) / 0.08) ** 2))
    dicrotic = 0.35 * math.exp(-(((phase - 0.45) / 0.10) ** 2))
    runoff = 0.25 * (1.0 - phase) * (1.0 - math.exp(-phase / 0.08))
    return systolic + dicrotic + runoff


def _clamp(value: float, low: int, high: int) -> int:
    return max(low, min(high, round(value)))


class NoninDf2Model:
    """A Nonin Format #2 oximeter following a scenario.

    Args:
        scenario: the patient and device timeline.
        seed: the noise seed; same scenario and seed, same bytes.
    """

    def __init__(self, scenario: Scenario, seed: int = 0) -> None:
        self._scenario = scenario
        self._jitter = Jitter(seed, "nonin")
        self._next_frame = 0
        self._packet = b""
        # Pulse phase in beats (0 to 1) and frames since the last beat's onset; they
        # run on across packets so the waveform is continuous. Frames are counted as
        # integers so that the 160 ms window is exactly 12 frames, free of float drift.
        self._phase = 0.0
        self._frames_since_onset = 0

    def receive(self, data: bytes, t_s: float) -> None:
        """Ignore host bytes: the model streams Format #2 unasked and takes no commands.

        protocols.md §1.2 documents host commands (format selection) only for the
        DF7/DF13 Bluetooth devices.
        """

    def emit(self, until_s: float) -> bytes:
        """Every frame due at ``k / 75`` s up to ``until_s``, after the last call."""
        out = bytearray()
        while self._next_frame / FRAME_RATE_HZ <= until_s:
            slot = self._next_frame % PACKET_LEN_FRAMES
            if slot == 0:
                self._packet = self._make_packet(self._next_frame // PACKET_LEN_FRAMES)
            start = slot * FRAME_LEN_BYTES
            out += self._packet[start : start + FRAME_LEN_BYTES]
            self._next_frame += 1
        return bytes(out)

    def _make_packet(self, index: int) -> bytes:
        """The 125 bytes of packet ``index``."""
        t_s = index * PACKET_PERIOD_S
        vitals = self._scenario.vitals_at(t_s)
        state = self._scenario.oximeter_state_at(t_s)
        # Draw both offsets for every packet, whatever the state, so a state span does
        # not shift the noise of the packets after it.
        hr_bpm = vitals.pulse_rate_bpm + self._jitter.gauss(
            self._scenario.hr_jitter_bpm
        )
        spo2_percent = vitals.spo2_percent + self._jitter.gauss(
            self._scenario.spo2_jitter_percent
        )
        if state is OximeterState.ARTIFACT:
            spo2_percent -= self._jitter.uniform(*ARTIFACT_SPO2_DROP_PERCENT)
            hr_bpm += self._jitter.uniform(*ARTIFACT_HR_JUMP_BPM)
        pleth, beat_frames = self._pleth(vitals, state, max(hr_bpm, 0.0))
        flags = [_frame_flags(state, on_beat=on_beat) for on_beat in beat_frames]
        shows_values = state not in {OximeterState.SENSOR_OFF, OximeterState.SEARCHING}
        return encode_packet(
            hr_bpm=_clamp(hr_bpm, 0, HR_MAX_BPM) if shows_values else None,
            spo2_percent=(
                _clamp(spo2_percent, 0, SPO2_MAX_PERCENT) if shows_values else None
            ),
            pleth=pleth,
            flags=flags,
            firmware_revision=FIRMWARE_REVISION,
        )

    def _pleth(
        self, vitals: Vitals, state: OximeterState, hr_bpm: float
    ) -> tuple[list[int], list[bool]]:
        """25 pleth samples and, per frame, whether it is in a beat's first 160 ms."""
        amplitude = PLETH_AMPLITUDE_FULL * min(
            1.0, max(0.0, vitals.perfusion_index / PERFUSION_INDEX_FULL)
        )
        if state is OximeterState.LOW_PERFUSION:
            amplitude *= LOW_PERFUSION_SCALE
        samples: list[int] = []
        on_beat: list[bool] = []
        step = hr_bpm / 60.0 / FRAME_RATE_HZ
        for _ in range(PACKET_LEN_FRAMES):
            on_beat.append(
                self._frames_since_onset / FRAME_RATE_HZ < PERFUSION_INDICATION_S
            )
            if state is OximeterState.SENSOR_OFF:
                value = 0.0
            elif state is OximeterState.SEARCHING:
                value = PLETH_BASELINE + self._jitter.uniform(
                    -SEARCHING_PLETH_NOISE, SEARCHING_PLETH_NOISE
                )
            else:
                value = PLETH_BASELINE + amplitude * pulse_shape(self._phase)
                if state is OximeterState.ARTIFACT:
                    value += self._jitter.uniform(
                        -ARTIFACT_PLETH_NOISE, ARTIFACT_PLETH_NOISE
                    )
            samples.append(_clamp(value, 0, 0xFF))
            self._phase += step
            self._frames_since_onset += 1
            if self._phase >= 1.0:
                self._phase -= math.floor(self._phase)
                self._frames_since_onset = 0
        return samples, on_beat


def _frame_flags(state: OximeterState, *, on_beat: bool) -> StatusBit:
    """The status flags of one frame (SYNC and bit 7 are the encoder's job)."""
    if state is OximeterState.SENSOR_OFF:
        return StatusBit.SNSD | StatusBit.SNSA
    if state is OximeterState.SEARCHING:
        return StatusBit.OOT
    if state is OximeterState.ARTIFACT:
        return StatusBit.ARTF
    if not on_beat:
        return StatusBit(0)
    if state is OximeterState.LOW_PERFUSION:
        return StatusBit.RPRF
    return StatusBit.GPRF
