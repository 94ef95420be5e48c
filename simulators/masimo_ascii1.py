"""Device-side model of a Masimo oximeter sending "ASCII 1" lines.

Pure module (a ``simulators.model.DeviceModel``). The model builds each line with the
codec's own ``MasimoLine`` and encodes it, so the simulator stays small; byte vectors
in the protocol tests guard against encoder and decoder sharing a mistake.

Line ``k`` (``k >= 1``) is the device's report at scenario second ``k``; the device
clock text starts at a fixed date. Noise comes from one seeded stream drawn a fixed
number of times per line, in line order, so the bytes depend only on
``(scenario, seed, variant)`` and never on how ``emit`` is called.

Variants (field sets from protocols.md §1.1; the field order within each is ours):

- ``rad8``: ``SN SPO2 BPM PI SPCO SPMET DESAT PIDELTA ALARM(4 hex) EXC(6 hex)``;
- ``radical7`` (colour firmware): adds ``SPHB``, ``PVI`` and ``EXC1``, 6-hex ``ALARM``;
- ``radical5``: ``SPO2 BPM PI ALARM(2 hex) EXC(3 hex)``.

Oximeter states map to ``EXC`` bits on top of the normal 0x000800 (SET mode):
``sensor_off`` 0x20 and ``searching`` 0x08 with dashed values, ``low_perfusion`` 0x04
with values, ``artifact`` 0x10 (interference) with wild values.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Final

from roomctl.devices.masimo_ascii1.protocol import (
    MasimoAlarm,
    MasimoException,
    MasimoLine,
)
from simulators.scenarios import Jitter, OximeterState

if TYPE_CHECKING:
    from simulators.scenarios import Scenario

#: The supported field layouts.
VARIANTS: Final = ("rad8", "radical7", "radical5")

#: Device clock at scenario time 0. Any fixed date will do: device clocks are never
#: trusted, only kept for the record.
DEVICE_CLOCK_START: Final = datetime(2024, 5, 14, 10, 0, 0, tzinfo=UTC)

#: Seconds between lines (protocols.md §1.1: one line per second).
LINE_INTERVAL_S: Final = 1.0

#: SpO2 below which the model sets the device's own SpO2-low alarm bits. Masimo's
#: default low limit is not in our sources [I]; the driver ignores the word anyway.
ALARM_SPO2_LOW_PERCENT: Final = 90

#: Perfusion index the model caps values at while it reports low perfusion. The
#: device's threshold is not published [I]; low perfusion means a PI well under 1 %.
LOW_PERFUSION_PI_MAX: Final = 0.4

#: Pleth variability index the Radical-7 variant reports, percent (typical at rest).
PVI_PERCENT: Final = 14

_STATE_EXC: Final = {
    OximeterState.NORMAL: MasimoException(0),
    OximeterState.SENSOR_OFF: MasimoException.SENSOR_OFF,
    OximeterState.SEARCHING: MasimoException.PULSE_SEARCH,
    OximeterState.LOW_PERFUSION: MasimoException.LOW_PERFUSION,
    OximeterState.ARTIFACT: MasimoException.INTERFERENCE,
}

# Dashes the device sends for a value it cannot give, keeping the field width
# (protocols.md §1.1, "Invalid / no-data values").
_DASHED_SPO2: Final = "---%"
_DASHED_PULSE_RATE: Final = "---"
_DASHED_PI: Final = "--.--%"
_DASHED_PVI: Final = "---"
# SpCO, SpMet, SpHb need Rainbow sensors; a plain SpO2 sensor gives dashes, as the
# real Rad-8 captures show for SPCO and SPMET.
_DASHED_SPCO: Final = "--.-%"
_DASHED_SPHB: Final = "--.-"
_DASHED_DESAT: Final = "--"
_DASHED_PIDELTA: Final = "+--"

# Hex widths of the status words per variant: (ALARM, EXC).
_HEX_WIDTHS: Final = {"rad8": (4, 6), "radical7": (6, 6), "radical5": (2, 3)}


class MasimoAscii1Model:
    """A simulated Masimo oximeter streaming ASCII 1 lines at 1 Hz.

    Args:
        scenario: the patient and device timeline.
        seed: the noise seed.
        variant: ``rad8``, ``radical7`` or ``radical5``.

    Raises:
        ValueError: ``variant`` is not one of ``VARIANTS``.
    """

    def __init__(
        self, scenario: Scenario, seed: int = 0, variant: str = "rad8"
    ) -> None:
        if variant not in VARIANTS:
            raise ValueError(f"unknown variant {variant!r}; expected one of {VARIANTS}")
        self._scenario = scenario
        self._variant = variant
        self._jitter = Jitter(seed, "masimo")
        # A fixed serial number per seed, ten digits as on the Rad-8.
        self._serial = f"{31_000 + seed % 1_000_000:010d}"
        self._next_line = 1

    @property
    def variant(self) -> str:
        """The field layout this model sends."""
        return self._variant

    def receive(self, data: bytes, t_s: float) -> None:
        """Ignore host bytes: ASCII 1 is output only."""

    def emit(self, until_s: float) -> bytes:
        """Every line due after the previous call, up to ``until_s`` inclusive.

        Args:
            until_s: scenario time, seconds; successive calls do not go back.

        Returns:
            The lines' bytes, CR LF terminated.
        """
        out: list[bytes] = []
        while self._next_line * LINE_INTERVAL_S <= until_s:
            out.append(self._line(self._next_line).encode())
            self._next_line += 1
        return b"".join(out)

    def _line(self, index: int) -> MasimoLine:
        """Line ``index``; called in order, exactly once per line."""
        t_s = index * LINE_INTERVAL_S
        vitals = self._scenario.vitals_at(t_s)
        state = self._scenario.oximeter_state_at(t_s)
        # Always draw the same five numbers so the stream never depends on the state.
        spo2_noise = self._jitter.gauss(self._scenario.spo2_jitter_percent)
        pulse_noise = self._jitter.gauss(self._scenario.hr_jitter_bpm)
        pi_scale = 1.0 + self._jitter.gauss(0.05)
        wild_spo2 = self._jitter.uniform(70.0, 100.0)
        wild_pulse = self._jitter.uniform(30.0, 250.0)

        spo2 = _clamp(round(vitals.spo2_percent + spo2_noise), 0, 100)
        pulse = _clamp(round(vitals.pulse_rate_bpm + pulse_noise), 0, 999)
        pi = min(max(vitals.perfusion_index * pi_scale, 0.02), 20.0)
        if state is OximeterState.ARTIFACT:
            # Interference: the device still shows numbers, and they jump about.
            spo2, pulse = round(wild_spo2), round(wild_pulse)
        elif state is OximeterState.LOW_PERFUSION:
            pi = min(pi, LOW_PERFUSION_PI_MAX)
        dashed = state in {OximeterState.SENSOR_OFF, OximeterState.SEARCHING}

        alarm = MasimoAlarm(0)
        if not dashed and spo2 < ALARM_SPO2_LOW_PERCENT:
            alarm = MasimoAlarm.SPO2_LOW | MasimoAlarm.ACTIVE
        exc = MasimoException.SET_MODE | _STATE_EXC[state]
        alarm_width, exc_width = _HEX_WIDTHS[self._variant]

        spo2_text = _DASHED_SPO2 if dashed else f"{spo2:03d}%"
        pulse_text = _DASHED_PULSE_RATE if dashed else f"{pulse:03d}"
        pi_text = _DASHED_PI if dashed else f"{pi:05.2f}%"
        alarm_text = f"{int(alarm):0{alarm_width}X}"
        exc_text = f"{int(exc):0{exc_width}X}"

        fields: list[tuple[str, str]]
        if self._variant == "radical5":
            fields = [("SPO2", spo2_text), ("BPM", pulse_text), ("PI", pi_text)]
        else:
            fields = [
                ("SN", self._serial),
                ("SPO2", spo2_text),
                ("BPM", pulse_text),
                ("PI", pi_text),
                ("SPCO", _DASHED_SPCO),
                ("SPMET", _DASHED_SPCO),
            ]
            if self._variant == "radical7":
                # Pleth variability index: a whole percent, typically 10-20 at rest.
                pvi_value = _clamp(round(PVI_PERCENT * pi_scale), 1, 100)
                pvi = _DASHED_PVI if dashed else f"{pvi_value:03d}"
                fields += [("SPHB", _DASHED_SPHB), ("PVI", pvi)]
            fields += [("DESAT", _DASHED_DESAT), ("PIDELTA", _DASHED_PIDELTA)]
        fields += [("ALARM", alarm_text), ("EXC", exc_text)]
        if self._variant == "radical7":
            fields.append(("EXC1", "00000000"))
        clock = DEVICE_CLOCK_START + timedelta(seconds=t_s)
        return MasimoLine.from_fields(clock.strftime("%m/%d/%y %H:%M:%S"), fields)


def _clamp(value: int, low: int, high: int) -> int:
    return min(max(value, low), high)
