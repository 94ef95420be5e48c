"""Masimo ASCII 1 driver: decoded lines to typed readings, and the registry entry.

Layer: pure mapping (no I/O, no clock; receive times are arguments). ASCII 1 is a
one-way stream, so the driver never writes to the link and keeps no state.

Each line gives SpO2 and pulse-rate readings, plus perfusion index when the model
sends ``PI`` (Radical-5 and Rad-8 do; a line without the key gives no PI reading).
The status comes from the ``EXC`` word and is shared by every reading of the line;
``value is None`` exactly when the status is not ``OK`` (readings.py). A value the
device did not flag but cannot measure (outside the ``DRIVER_SPEC`` range: SpO2
0-100 %, pulse rate 25-240 bpm, PI 0.02-20 %) is ``QUESTIONABLE``: ASCII 1 has no
checksum, so a garbled digit can make any number (RELIABILITY.md, "Bad input").
The device's ``ALARM`` word is its own alarm state, not ours: roomctl is a secondary
display and decides its alarms from the values (style guide §2.0 rule 8), so it is
not read here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from roomctl.devices.base import DriverSpec, MetricSpec
from roomctl.devices.masimo_ascii1.protocol import (
    KEY_PERFUSION_INDEX,
    MasimoAscii1Decoder,
    MasimoException,
    MasimoLine,
)
from roomctl.readings import Metric, ProtocolId, Reading, ReadingStatus

if TYPE_CHECKING:
    from datetime import datetime

    from roomctl.devices.base import ByteLink
    from roomctl.devices.codec import Decoder
    from roomctl.readings import AnyReading

#: Highest SpO2 the driver accepts as a value, percent: saturation cannot exceed
#: 100, so a larger number is a garbled digit (ASCII 1 has no checksum).
SPO2_MAX_PERCENT = 100
#: SpO2 values taken, percent.
SPO2_RANGE_PERCENT = (0.0, float(SPO2_MAX_PERCENT))
#: Highest pulse rate accepted, bpm: Masimo's displayed range ends at 240 bpm, so a
#: larger number is a garbled digit (e.g. 972).
PULSE_RATE_MAX_BPM = 240
#: Pulse rates taken, bpm: Masimo's displayed pulse-rate range, 25-240 bpm.
PULSE_RATE_RANGE_BPM = (25.0, float(PULSE_RATE_MAX_BPM))
#: Highest perfusion index accepted, percent: the Masimo maximum is 20.00
#: (``poxrad_discrete.h`` field maxima). The wire allows up to 999.99.
PERFUSION_INDEX_MAX = 20.0
#: Perfusion index values taken, percent: 0.02-20.00, the Masimo range.
PERFUSION_INDEX_RANGE = (0.02, PERFUSION_INDEX_MAX)

_E = MasimoException

#: Bits meaning the sensor or cable cannot measure at all: the nurse must look at the
#: probe. Emitter temperature and current limit are sensor hardware faults as well,
#: so a number sent alongside them is not shown either.
SENSOR_PROBLEM_BITS = (
    _E.NO_SENSOR
    | _E.DEFECTIVE_SENSOR
    | _E.SENSOR_OFF
    | _E.UNRECOGNIZED_SENSOR
    | _E.INCOMPATIBLE_SENSOR
    | _E.NO_CABLE
    | _E.CABLE_EXPIRED
    | _E.INCOMPATIBLE_CABLE
    | _E.UNRECOGNIZED_CABLE
    | _E.DEFECTIVE_CABLE
    | _E.SENSOR_CALIBRATING
    | _E.SENSOR_EXPIRED
    | _E.EMITTER_TEMPERATURE
    | _E.SENSOR_CURRENT_LIMIT
)
#: Motion or light corrupts the signal: values are not to be judged.
ARTIFACT_BITS = _E.INTERFERENCE | _E.AMBIENT_LIGHT

# Most severe first. Masimo publishes no precedence; this is our policy: a sensor
# problem hides everything else, and a searching device has no pulse to qualify
# (bit meanings: protocols.md §1.1, from poxrad_discrete.h). SET_MODE
# (0x000800) is the normal state and is never looked at; SpCO/SpMet confidence and
# the reserved bit do not concern the metrics read here.
_STATUS_PRECEDENCE: tuple[tuple[MasimoException, ReadingStatus], ...] = (
    (SENSOR_PROBLEM_BITS, ReadingStatus.SENSOR_OFF),
    (_E.PULSE_SEARCH, ReadingStatus.SEARCHING),
    (ARTIFACT_BITS, ReadingStatus.ARTIFACT),
    (_E.LOW_SIGNAL_IQ, ReadingStatus.QUESTIONABLE),
    (_E.LOW_PERFUSION, ReadingStatus.LOW_PERFUSION),
)


def signal_status(exc: MasimoException) -> ReadingStatus:
    """The status an ``EXC`` word gives every reading of its line.

    Args:
        exc: the line's exception word.

    Returns:
        The most severe matching status, or ``OK``.

    >>> signal_status(MasimoException.SET_MODE)
    <ReadingStatus.OK: 'ok'>
    >>> signal_status(MasimoException(0x000828))
    <ReadingStatus.SENSOR_OFF: 'sensor_off'>
    """
    for bits, status in _STATUS_PRECEDENCE:
        if exc & bits:
            return status
    return ReadingStatus.OK


def line_to_readings(
    line: MasimoLine, *, device: str, received_mono: float, received_at: datetime
) -> list[Reading]:
    """Map one line to its readings.

    Args:
        line: the decoded line.
        device: the configured device name.
        received_mono: host monotonic seconds when the line's LF arrived.
        received_at: host UTC time of the same moment.

    Returns:
        SpO2 and pulse-rate readings, then PI when the line has a ``PI`` key.
    """
    status = signal_status(line.exc)
    values: list[tuple[Metric, float | None, tuple[float, float]]] = [
        (Metric.SPO2_PERCENT, line.spo2_percent, SPO2_RANGE_PERCENT),
        (Metric.PULSE_RATE_BPM, line.pulse_rate_bpm, PULSE_RATE_RANGE_BPM),
    ]
    if line.value_of(KEY_PERFUSION_INDEX) is not None:
        values.append(
            (Metric.PERFUSION_INDEX, line.perfusion_index, PERFUSION_INDEX_RANGE)
        )
    readings: list[Reading] = []
    for metric, raw, (minimum, maximum) in values:
        value: float | None
        reading_status: ReadingStatus
        if status is not ReadingStatus.OK:
            # The device flagged the signal: even a number it sent is not judged.
            value, reading_status = None, status
        elif raw is None:
            # Dashes without a reason.
            value, reading_status = None, ReadingStatus.UNAVAILABLE
        elif not minimum <= raw <= maximum:
            # A number the device does not measure: a garbled digit.
            value, reading_status = None, ReadingStatus.QUESTIONABLE
        else:
            value, reading_status = float(raw), ReadingStatus.OK
        readings.append(
            Reading(
                device=device,
                metric=metric,
                value=value,
                status=reading_status,
                received_mono=received_mono,
                received_at=received_at,
            )
        )
    return readings


class MasimoAscii1Driver:
    """The ``DeviceDriver`` for ASCII 1 oximeters: stateless, receive-only."""

    def __init__(self, device: str) -> None:
        self._device = device

    @property
    def device(self) -> str:
        """The configured device name its readings carry."""
        return self._device

    def on_frame(
        self, frame: object, received_mono: float, received_at: datetime
    ) -> list[AnyReading]:
        """Map a decoded line to readings; anything else gives none.

        Args:
            frame: what the decoder produced.
            received_mono: host monotonic seconds when the line completed.
            received_at: host UTC time of the same moment.

        Returns:
            The line's readings, or an empty list for a non-line object.
        """
        if not isinstance(frame, MasimoLine):
            return []
        return list(
            line_to_readings(
                frame,
                device=self._device,
                received_mono=received_mono,
                received_at=received_at,
            )
        )

    def on_link_up(self, link: ByteLink) -> None:
        """Nothing to do: the device talks without being asked."""

    def on_link_lost(self) -> None:
        """Nothing to forget: each line stands alone."""


def _new_decoder() -> Decoder[object]:
    return MasimoAscii1Decoder()


def _new_driver(device: str) -> MasimoAscii1Driver:
    return MasimoAscii1Driver(device)


#: The registry entry (roomctl.devices.DRIVERS).
DRIVER_SPEC = DriverSpec(
    protocol=ProtocolId.MASIMO_ASCII1,
    display_name="Masimo Rad-8 / Radical-7 (ASCII 1)",
    category="oximeter",
    # Rad-87 Operator's Manual, "Serial Interface Specifications" p. 7-4: 9600 8N1.
    baud=9600,
    # One line per second; mdpnp's DemoRadical7 calls > 1.1 s a stall. Two missed
    # lines are allowed before the link is stale.
    stale_after_s=3.0,
    decoder_factory=_new_decoder,
    driver_factory=_new_driver,
    # The ranges ``line_to_readings`` checks the values against.
    metrics=tuple(
        MetricSpec(metric=metric, unit=unit, minimum=low, maximum=high)
        for metric, unit, (low, high) in (
            (Metric.SPO2_PERCENT, "%", SPO2_RANGE_PERCENT),
            (Metric.PULSE_RATE_BPM, "bpm", PULSE_RATE_RANGE_BPM),
            (Metric.PERFUSION_INDEX, "%", PERFUSION_INDEX_RANGE),
        )
    ),
)
