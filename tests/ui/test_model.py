"""RoomModel: liveness, trend history, duplicates, the log and the station's rank."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Unpack

import pytest

from roomctl.events import AlarmPriority, Phase
from roomctl.ui.model import STATE_STALE_S, Liveness, LogKind, RoomModel
from roomctl.ui.state import PULSE, SPO2
from tests.ui.fakes import DESAT, HR_RISE, room_state

if TYPE_CHECKING:
    from tests.ui.fakes import StateOptions


def model_with_state(**state: Unpack[StateOptions]) -> RoomModel:
    model = RoomModel("room-1")
    model.on_status(online=True)
    model.on_state(room_state(**state), retained=False, now=100.0)
    return model


@pytest.mark.parametrize(
    ("online", "retained", "age", "connected", "expected"),
    [
        (True, False, 0.0, True, Liveness.LIVE),
        (True, False, STATE_STALE_S, True, Liveness.LIVE),
        (True, False, STATE_STALE_S + 0.1, True, Liveness.STALE),
        (True, True, 0.0, True, Liveness.WAITING),
        (False, False, 0.0, True, Liveness.OFFLINE),
        (True, False, 0.0, False, Liveness.NO_BROKER),
        (None, False, 0.0, True, Liveness.LIVE),
    ],
)
def test_liveness(
    online: bool | None,
    retained: bool,
    age: float,
    connected: bool,
    expected: Liveness,
) -> None:
    model = RoomModel("r")
    if online is not None:
        model.on_status(online=online)
    model.on_state(room_state(), retained=retained, now=100.0)
    assert model.liveness(100.0 + age, connected=connected) is expected


def test_no_state_is_waiting() -> None:
    assert RoomModel("r").liveness(0.0, connected=True) is Liveness.WAITING


def test_history_keeps_live_values_and_gaps_and_ignores_repeats() -> None:
    model = model_with_state(session_time_s=100.0, spo2=97)
    model.on_state(room_state(session_time_s=101.0, spo2=96), retained=False, now=101)
    model.on_state(
        room_state(session_time_s=102.0, vitals_live=False), retained=False, now=102
    )
    model.on_state(room_state(session_time_s=102.0, spo2=50), retained=False, now=103)
    model.on_state(room_state(session_time_s=90.0), retained=True, now=104)
    assert list(model.history.series[SPO2]) == [(100.0, 97), (101.0, 96), (102.0, None)]
    assert model.history.values(SPO2) == [97, 96]
    assert model.history.values(PULSE) == [72, 72]


def test_history_nibp_once_per_reading_at_its_measuring_time() -> None:
    model = model_with_state(session_time_s=1000.0, nibp_age_s=40.0)
    later = room_state(session_time_s=1001.0, nibp_age_s=41.0)
    first = model.state
    assert first is not None
    assert first.nibp is not None
    assert first.nibp.measured_at is not None
    nibp = later["nibp"]
    assert isinstance(nibp, dict)
    nibp["measured_at"] = first.nibp.measured_at.isoformat()
    model.on_state(later, retained=False, now=101)
    assert list(model.history.nibp) == [(960.0, 124, 78)]


def test_history_phase_bands_from_dose_start_and_changes() -> None:
    model = model_with_state(session_time_s=1160.0, phase="dosing")
    model.on_state(
        room_state(session_time_s=1161.0, phase="peak"), retained=False, now=101
    )
    assert model.history.phases == [
        (0.0, Phase.PREPARATION),
        (430.0, Phase.DOSING),
        (1161.0, Phase.PEAK),
    ]


def test_history_window_drops_old_samples() -> None:
    model = RoomModel("r", window_s=60.0)
    for t in range(0, 200, 10):
        model.on_state(room_state(session_time_s=float(t)), retained=False, now=t)
    assert [t for t, _ in model.history.series[SPO2]] == [
        130.0 + 10 * i for i in range(7)
    ]


def test_a_new_session_starts_a_new_history() -> None:
    model = model_with_state(session_time_s=500.0)
    model.on_state(
        room_state(session_time_s=5.0, session_id="room-1-new"), retained=False, now=1
    )
    assert [t for t, _ in model.history.series[SPO2]] == [5.0]


def test_alarm_marks_from_lines_and_states() -> None:
    model = model_with_state(alarms=[DESAT])
    assert (1097.0, AlarmPriority.HIGH, "spo2.desat") in model.history.marks
    model.on_alarm(
        {"t": 50.0, "transition": "raised", "code": "hr.rise", "priority": "low"}
    )
    model.on_alarm(
        {"t": 60.0, "transition": "cleared", "code": "hr.rise", "priority": "low"}
    )
    assert (50.0, AlarmPriority.LOW, "hr.rise") in model.history.marks
    assert all(t != 60.0 for t, _, _ in model.history.marks)


def test_alarm_and_event_lines_are_logged_once() -> None:
    model = RoomModel("r")
    line = {
        "transition": "raised",
        "code": "x",
        "priority": "medium",
        "run": "a",
        "seq": 1,
    }
    assert model.on_alarm(line) is not None
    assert model.on_alarm(line) is None  # QoS 1 repeat
    assert model.on_alarm({**line, "run": "b"}) is not None  # a restarted daemon
    model.own_command_ids.add("t-1")
    mine = {"type": "command_result", "command_id": "t-1", "ok": True, "verb": "note"}
    assert model.on_event(mine) is None
    theirs = {**mine, "command_id": "tablet-1", "ok": False, "error": "no"}
    entry = model.on_event(theirs)
    assert entry is not None
    assert entry.kind is LogKind.REFUSED
    assert model.log_total == 3


def test_rank_for_the_station() -> None:
    assert model_with_state().rank() == 0
    assert model_with_state(alarms=[HR_RISE]).rank() == 1
    assert model_with_state(alarms=[DESAT, HR_RISE]).rank() == 3
    offline = model_with_state()
    offline.on_status(online=False)
    assert offline.rank() == 2  # nobody relays its alarms
    closed = model_with_state(phase="closed")
    closed.on_status(online=False)
    assert closed.rank() == 0


def test_a_state_handled_late_is_dated_by_the_room_not_the_console() -> None:
    # A station that fell 12 s behind must not show a 12 s old state as live.
    doc = room_state()
    sent_at = datetime.fromisoformat(str(doc["at"]))
    late = RoomModel("room-1")
    late.on_status(online=True)
    late.on_state(
        doc, retained=False, now=500.0, wall_now=sent_at + timedelta(seconds=12)
    )
    assert late.state_age(500.0) == pytest.approx(12.0)
    assert late.liveness(500.0, connected=True) is Liveness.STALE
    # The same state handled at once is live.
    fresh = RoomModel("room-1")
    fresh.on_status(online=True)
    fresh.on_state(doc, retained=False, now=500.0, wall_now=sent_at)
    assert fresh.liveness(500.0, connected=True) is Liveness.LIVE
