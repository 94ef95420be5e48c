from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from roomctl.readings import Metric, NibpReading, Reading, ReadingStatus

if TYPE_CHECKING:
    from roomctl.clock import VirtualClock


def test_reading_value_and_status_agree(clock: VirtualClock) -> None:
    with pytest.raises(ValueError, match="status ok needs a value"):
        Reading(
            device="ox",
            metric=Metric.SPO2_PERCENT,
            value=None,
            status=ReadingStatus.OK,
            received_mono=0,
            received_at=clock.now_utc(),
        )
    with pytest.raises(ValueError, match="a value needs status ok"):
        Reading(
            device="ox",
            metric=Metric.SPO2_PERCENT,
            value=127,
            status=ReadingStatus.SENSOR_OFF,
            received_mono=0,
            received_at=clock.now_utc(),
        )


def test_nibp_error_reading_carries_no_numbers(clock: VirtualClock) -> None:
    with pytest.raises(ValueError, match="carries no pressure values"):
        NibpReading(
            device="nibp",
            systolic_mmhg=120,
            diastolic_mmhg=80,
            map_mmhg=93,
            pulse_rate_bpm=70,
            status=ReadingStatus.DEVICE_ERROR,
            received_mono=0,
            received_at=clock.now_utc(),
        )
    with pytest.raises(ValueError, match="needs systolic and diastolic"):
        NibpReading(
            device="nibp",
            systolic_mmhg=None,
            diastolic_mmhg=None,
            map_mmhg=None,
            pulse_rate_bpm=None,
            status=ReadingStatus.OK,
            received_mono=0,
            received_at=clock.now_utc(),
        )


def test_nibp_splits_into_metric_readings(clock: VirtualClock) -> None:
    nibp = NibpReading(
        device="nibp",
        systolic_mmhg=120,
        diastolic_mmhg=80,
        map_mmhg=93,
        pulse_rate_bpm=None,
        status=ReadingStatus.OK,
        received_mono=5,
        received_at=clock.now_utc(),
    )
    parts = {r.metric: (r.value, r.status) for r in nibp.as_readings()}
    assert parts == {
        Metric.SYSTOLIC_MMHG: (120.0, ReadingStatus.OK),
        Metric.DIASTOLIC_MMHG: (80.0, ReadingStatus.OK),
        Metric.MAP_MMHG: (93.0, ReadingStatus.OK),
        Metric.NIBP_PULSE_RATE_BPM: (None, ReadingStatus.UNAVAILABLE),
    }
