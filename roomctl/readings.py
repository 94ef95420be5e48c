"""Domain values: what a device measured, with its unit in the name and its status.

Pure module. A value the device flagged or could not give is ``None`` with a status that
says why, never a number: ``value is None`` exactly when ``status is not OK``. Every
reading carries the host's receive time, monotonic (``received_mono``, for logic) and
UTC (``received_at``, for records); device clocks are not trusted.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeAlias

if TYPE_CHECKING:
    from datetime import datetime


class Metric(enum.StrEnum):
    """A measured quantity; the value is its unit-suffixed name (contracts.md §3)."""

    SPO2_PERCENT = "spo2_percent"
    PULSE_RATE_BPM = "pulse_rate_bpm"
    PERFUSION_INDEX = "perfusion_index"
    SYSTOLIC_MMHG = "systolic_mmhg"
    DIASTOLIC_MMHG = "diastolic_mmhg"
    MAP_MMHG = "map_mmhg"
    NIBP_PULSE_RATE_BPM = "nibp_pulse_rate_bpm"
    CUFF_PRESSURE_MMHG = "cuff_pressure_mmhg"


class ReadingStatus(enum.StrEnum):
    """Why a value is (or is not) usable."""

    OK = "ok"
    SENSOR_OFF = "sensor_off"
    SEARCHING = "searching"
    LOW_PERFUSION = "low_perfusion"
    ARTIFACT = "artifact"
    QUESTIONABLE = "questionable"
    #: The device reported an error for this measurement (NIBP error codes).
    DEVICE_ERROR = "device_error"
    #: The device sent a "no value" marker without saying why.
    UNAVAILABLE = "unavailable"


class ProtocolId(enum.StrEnum):
    """Wire protocols roomctl speaks (capture header ``devices.*.protocol``)."""

    MASIMO_ASCII1 = "masimo-ascii1"
    NONIN_DF2 = "nonin-df2"
    SUNTECH_ADVANTAGE = "suntech-advantage"


class LinkState(enum.StrEnum):
    """The state of a device link (contracts.md §3 ``link`` events)."""

    UP = "up"
    LOST = "lost"
    STALE = "stale"


@dataclass(frozen=True, slots=True, kw_only=True)
class Reading:
    """One value of one metric from one device.

    >>> from datetime import datetime, UTC
    >>> at = datetime(2026, 11, 21, tzinfo=UTC)
    >>> Reading(
    ...     device="oximeter",
    ...     metric=Metric.SPO2_PERCENT,
    ...     value=None,
    ...     status=ReadingStatus.SENSOR_OFF,
    ...     received_mono=1.0,
    ...     received_at=at,
    ... ).usable
    False
    """

    #: The configured device name (``oximeter``, ``nibp``).
    device: str
    metric: Metric
    #: The value in the metric's unit; ``None`` whenever ``status`` is not ``OK``.
    value: float | None
    status: ReadingStatus
    #: Host monotonic seconds when the completing byte arrived.
    received_mono: float
    #: Host UTC time when the completing byte arrived.
    received_at: datetime

    def __post_init__(self) -> None:
        if (self.value is None) != (self.status is not ReadingStatus.OK):
            raise ValueError(
                f"{self.metric}: a value needs status ok and status ok needs a value "
                f"(got value={self.value!r}, status={self.status})"
            )

    @property
    def usable(self) -> bool:
        """Whether physiological rules may judge this value."""
        return self.status is ReadingStatus.OK


@dataclass(frozen=True, slots=True, kw_only=True)
class NibpReading:
    """One completed non-invasive blood-pressure determination.

    A determination that failed carries ``status`` ``DEVICE_ERROR`` with the device's
    code and meaning, and no numbers.
    """

    device: str
    #: Systolic pressure, mmHg; ``None`` when the determination failed.
    systolic_mmhg: int | None
    #: Diastolic pressure, mmHg.
    diastolic_mmhg: int | None
    #: Mean arterial pressure, mmHg (measured by the device, not computed).
    map_mmhg: int | None
    #: Pulse rate counted during the determination, beats per minute.
    pulse_rate_bpm: int | None
    status: ReadingStatus
    #: The device's own error code (SunTech: 1-4, 85-99), ``None`` when it gave none.
    error_code: int | None = None
    #: The device's meaning of ``error_code`` in words.
    error_text: str = ""
    received_mono: float
    received_at: datetime

    def __post_init__(self) -> None:
        has_numbers = self.systolic_mmhg is not None and self.diastolic_mmhg is not None
        if self.status is ReadingStatus.OK and not has_numbers:
            raise ValueError("an ok NIBP reading needs systolic and diastolic values")
        if self.status is not ReadingStatus.OK and (
            self.systolic_mmhg is not None
            or self.diastolic_mmhg is not None
            or self.map_mmhg is not None
            or self.pulse_rate_bpm is not None
        ):
            raise ValueError(f"a {self.status} NIBP reading carries no pressure values")

    @property
    def usable(self) -> bool:
        """Whether the device reported numbers (plausibility is the engine's call)."""
        return self.status is ReadingStatus.OK

    def as_readings(self) -> list[Reading]:
        """Split into per-metric readings (event stream and record rows)."""
        pairs = (
            (Metric.SYSTOLIC_MMHG, self.systolic_mmhg),
            (Metric.DIASTOLIC_MMHG, self.diastolic_mmhg),
            (Metric.MAP_MMHG, self.map_mmhg),
            (Metric.NIBP_PULSE_RATE_BPM, self.pulse_rate_bpm),
        )
        out: list[Reading] = []
        for metric, value in pairs:
            if value is None:
                ok = self.status is ReadingStatus.OK
                status = ReadingStatus.UNAVAILABLE if ok else self.status
            else:
                status = ReadingStatus.OK
            out.append(
                Reading(
                    device=self.device,
                    metric=metric,
                    value=None if value is None else float(value),
                    status=status,
                    received_mono=self.received_mono,
                    received_at=self.received_at,
                )
            )
        return out


#: Anything a device driver hands to the pipeline.
AnyReading: TypeAlias = Reading | NibpReading
