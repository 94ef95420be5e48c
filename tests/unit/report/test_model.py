"""The report model: what a recorded session's report says, from a real record.

The record is a simulated session replayed through the real pipeline and recorder
(``session_record``); the edge cases (acknowledged after clearing, raised before a
restart, a stale-then-lost link, a resumed session) use hand-made histories.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from roomctl.alarms import AlarmPolicy
from roomctl.events import AlarmPriority, Phase
from roomctl.history import (
    RecordedEvent,
    RecordedReading,
    SessionHistory,
    SessionInfo,
)
from roomctl.readings import LinkState
from roomctl.report import ReportModel, build_report
from roomctl.report.model import DAEMON
from roomctl.report.recompute import device_categories, link_state_of, recompute
from roomctl.report.tables import summary_lines, title
from tests.unit.report.conftest import load
from tests.unit.report.session_record import (
    NOTE_TEXT,
    SESSION_ID,
    Built,
    build_record,
    plan,
)

START = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
DOSE = START + timedelta(minutes=10)


def at(minutes: float, seconds: float = 0.0) -> float:
    """Epoch seconds of "+minutes:seconds" from the dose (the scenario's ``at``)."""
    return (DOSE + timedelta(minutes=minutes, seconds=seconds)).timestamp()


def near(ts: float) -> object:
    """An NIBP result reaches roomctl a few hundredths of a second after its time."""
    return pytest.approx(ts, abs=0.2)


def test_model_reads_the_session_and_its_reference(model: ReportModel) -> None:
    assert model.session.id == SESSION_ID
    assert model.session.room == "room-3"
    assert model.session.route == "im"
    assert not model.in_progress
    assert model.reference == "dose start"
    assert model.reference_ts == at(0)
    assert model.end_ts == at(40)
    assert model.duration_s == 50 * 60
    assert model.t_min(at(24)) == pytest.approx(24.0)


def test_model_alarm_rows_match_acknowledge_and_clear_by_code(
    model: ReportModel,
) -> None:
    rows = {row.code: row for row in model.alarms}
    assert sorted(rows) == ["bp.high", "tech.link.oximeter", "tech.spo2.data_lost"]
    bp = rows["bp.high"]
    assert bp.kind == "physiological"
    assert bp.raised_ts == near(at(20))
    assert bp.raised_priority is AlarmPriority.LOW
    assert bp.priority is AlarmPriority.MEDIUM
    assert [(c.ts, c.priority, c.transition) for c in bp.changes] == [
        (near(at(23)), AlarmPriority.MEDIUM, "escalated")
    ]
    assert [(a.ts, a.by) for a in bp.acknowledged] == [(at(24), "nurse")]
    assert bp.reminders == 1
    assert bp.ended is not None
    assert (bp.ended.ts, bp.ended_how) == (near(at(29)), "cleared")
    assert bp.text == "BP 184/112 >= 180/110"
    assert (bp.value, bp.limit) == ("184/112", "180/110")
    link = rows["tech.link.oximeter"]
    assert link.kind == "technical"
    assert link.raised_ts == at(8, 10)
    assert link.acknowledged == ()
    assert link.ended is not None
    assert link.ended.ts == at(8, 50)


def test_model_alarm_marks_and_lane_segments(model: ReportModel) -> None:
    marks = [(m.ts, m.code, m.priority, m.transition) for m in model.marks]
    assert (near(at(20)), "bp.high", AlarmPriority.LOW, "raised") in marks
    assert (near(at(23)), "bp.high", AlarmPriority.MEDIUM, "escalated") in marks
    assert all(m.transition in ("raised", "escalated") for m in model.marks)
    bp = next(row for row in model.alarms if row.code == "bp.high")
    assert bp.segments(model.end_ts) == [
        (near(at(20)), near(at(23)), AlarmPriority.LOW),
        (near(at(23)), near(at(29)), AlarmPriority.MEDIUM),
    ]


def test_model_link_gap_from_lost_to_up(model: ReportModel) -> None:
    assert len(model.gaps) == 1
    gap = model.gaps[0]
    assert gap.device == "oximeter"
    assert gap.states == ("lost",)
    assert gap.reason == "link lost"
    assert (gap.start_ts, gap.end_ts) == (at(8), at(8, 40))
    assert gap.duration_s(model.end_ts) == 40


def test_model_phases_with_who_and_when(model: ReportModel) -> None:
    bands = [(b.phase, b.start_ts, b.end_ts, b.by) for b in model.phases]
    assert bands == [
        (Phase.PREPARATION, START.timestamp(), at(0), None),
        (Phase.DOSING, at(0), at(12), "therapist"),
        (Phase.PEAK, at(12), at(30), "therapist"),
        (Phase.RETURN, at(30), at(36), "therapist"),
        (Phase.INTEGRATION, at(36), at(40), "nurse"),
    ]


def test_model_notes_commands_music_and_episodes(model: ReportModel) -> None:
    assert [(n.ts, n.by, n.text) for n in model.notes] == [
        (at(18), "therapist", NOTE_TEXT)
    ]
    commands = [(c.ts, c.verb, c.details, c.by, c.ok) for c in model.commands]
    assert commands[0] == (at(-1), "baseline_confirm", "", "nurse", True)
    assert (at(24), "acknowledge", "code=bp.high", "nurse", True) in commands
    reset = next(c for c in model.commands if c.verb == "reset")
    assert reset.ok is False
    assert "does not latch" in reset.error
    assert len(model.commands) == 8
    assert [(m.ts, m.title, m.phase) for m in model.music] == [
        (START.timestamp(), "Slow Pads I", "preparation"),
        (at(0), "Drone in D", "dosing"),
        (at(12), "Deep Field", "peak"),
        (at(30), "Return Light", "return"),
    ]
    (episode,) = model.episodes
    assert episode.signal == "bp"
    assert (episode.opened_ts, episode.closed_ts) == (near(at(15)), near(at(35)))
    assert episode.peak == {"sbp": 188.0, "dbp": 114.0}
    assert episode.peak_t == pytest.approx(23 * 60, abs=1)


def test_model_series_and_nibp(model: ReportModel) -> None:
    assert model.spo2.unit == "%"
    assert set(model.spo2.valid) <= {96.0, 97.0, 98.0, 99.0, 100.0}
    # No oximeter sample while its cable was out.
    gap_minutes = [t for t in model.pulse.t_min if 8.0 < t < 8.6]
    assert gap_minutes == []
    assert len(model.pulse.t_min) == len(model.pulse.values) > 2000
    at_23 = [(p.sbp, p.dbp) for p in model.nibp if abs(p.t_min - 23.0) < 0.01]
    assert at_23 == [(188.0, 114.0)]
    assert len(model.nibp) == 10
    assert all(p.status == "ok" for p in model.nibp)


def test_model_baseline_and_discharge_recomputed(model: ReportModel) -> None:
    base = model.baseline
    assert (base.sbp, base.dbp, base.spo2) == (124.0, 78.0, 98.0)
    assert base.hr is not None
    assert 75 <= base.hr <= 82  # the HR ramp at -1 min
    assert base.status == "confirmed"
    assert (base.confirmed_by, base.confirmed_ts) == ("nurse", at(-1))
    assert base.missing == ()
    discharge = model.discharge
    assert not discharge.ready
    # IM: 120 min of monitoring after the dose by default.
    assert discharge.reasons == (
        "Minimum monitoring runs until +120 min (80 min to go).",
    )
    assert discharge.earliest_ts == at(120)
    assert discharge.judged_ts == at(40)
    assert not discharge.at_close
    assert model.differences == 0
    assert model.policy_source == "the default alarm policy"


def test_model_discharge_ready_under_a_shorter_monitoring_policy(
    history: SessionHistory,
) -> None:
    policy = AlarmPolicy.model_validate({"discharge": {"im_after_dose_min": 30}})
    model = build_report(history, policy=policy, policy_source="room.toml")
    assert model.discharge.ready
    assert model.discharge.reasons == ()
    assert model.discharge.earliest_ts == at(30)
    assert model.differences == 0


def test_model_counts_where_another_policy_differs_from_the_record(
    history: SessionHistory,
) -> None:
    policy = AlarmPolicy.model_validate(
        {
            "bp_high": {"sbp_mmhg": 195, "dbp_mmhg": 118},
            "bp_severe": {"sbp_mmhg": 210, "dbp_mmhg": 125},
        }
    )
    rerun = recompute(history, policy=policy)
    # bp.high raised, escalated, acknowledged, cleared are not in this run.
    assert rerun.differences >= 4


def test_model_discharge_judged_at_the_close(closed_record: Built) -> None:
    model = build_report(load(closed_record))
    assert model.discharge.at_close
    assert model.discharge.judged_ts == at(39)
    assert not model.discharge.ready
    assert model.discharge.closed_reason == "Transferred to the recovery bay"
    assert model.phases[-1].phase is Phase.CLOSED
    assert model.phases[-1].by == "nurse"


def test_model_of_a_running_session_is_in_progress(
    tmp_path: pytest.TempPathFactory,
) -> None:
    built = build_record(
        tmp_path / "record.sqlite",  # type: ignore[operator]
        capture_plan=plan(-5),
        close=False,
    )
    model = build_report(load(built))
    assert model.in_progress
    assert model.reference == "session start"
    assert model.reference_ts == START.timestamp()
    assert model.end_ts == pytest.approx(START.timestamp() + 300, abs=1)
    assert model.discharge.reasons == ("No dose has been given yet.",)
    route, ready, baseline, _counts, _notice = summary_lines(model)
    assert route == (
        "Route IM; 09:00:00 to 09:05:00 (the last data; in progress), 5 min; "
        "minutes from session start."
    )
    assert ready == "Discharge-ready: no - No dose has been given yet."
    # One pre-dose BP reading is not enough for a BP baseline.
    assert baseline.startswith("Baseline (unconfirmed): BP not known, HR ")
    assert title(model).endswith("(in progress)")


# ------------------------------------------------------------------ hand-made


def _info(**changes: object) -> SessionInfo:
    fields: dict[str, object] = {
        "id": "room-9-20261121T090000Z",
        "room": "room-9",
        "started_at": START,
        "ended_at": START + timedelta(hours=1),
        "route": "iv",
        "infusion_min": 40.0,
        "readings": 0,
        "events": 0,
    }
    fields.update(changes)
    return SessionInfo(**fields)  # type: ignore[arg-type]


def _event(
    minute: float, kind: str, payload: dict[str, object], by: str | None = None
) -> RecordedEvent:
    code = payload.get("code") or payload.get("verb") or payload.get("phase")
    return RecordedEvent(
        START.timestamp() + minute * 60,
        kind,
        None if code is None else str(code),
        by,
        {**payload, "type": kind},
    )


def _alarm(
    minute: float, code: str, transition: str, priority: str = "medium"
) -> RecordedEvent:
    return _event(
        minute,
        "alarm",
        {
            "transition": transition,
            "code": code,
            "priority": priority,
            "kind": "physiological",
            "text": f"{code} {transition}",
        },
        by="nurse" if transition in ("acknowledged", "reset") else None,
    )


def _history(
    *events: RecordedEvent, readings: tuple[RecordedReading, ...] = ()
) -> SessionHistory:
    return SessionHistory(info=_info(), readings=readings, events=tuple(events))


def test_alarm_acknowledged_after_clearing_stays_on_its_row() -> None:
    model = build_report(
        _history(
            _alarm(5, "bp.high", "raised"),
            _alarm(9, "bp.high", "cleared"),
            _alarm(11, "bp.high", "acknowledged"),
            _alarm(20, "bp.high", "raised", "low"),
        )
    )
    first, second = model.alarms
    assert first.ended is not None
    assert (first.ended.ts, first.ended_how) == (START.timestamp() + 540, "cleared")
    assert [a.ts for a in first.acknowledged] == [START.timestamp() + 660]
    assert second.raised_ts == START.timestamp() + 1200
    assert second.acknowledged == ()
    assert second.ended is None
    assert second.segments(model.end_ts) == [
        (START.timestamp() + 1200, model.end_ts, AlarmPriority.LOW)
    ]


def test_alarm_raised_before_the_record_and_reset() -> None:
    model = build_report(
        _history(
            _alarm(2, "spo2.desat", "escalated", "high"),
            _alarm(7, "spo2.desat", "reset", "high"),
        )
    )
    (row,) = model.alarms
    assert row.raised_ts is None
    assert row.priority is AlarmPriority.HIGH
    assert row.ended is not None
    assert (row.ended_how, row.ended.by) == ("reset", "nurse")
    assert row.segments(model.end_ts) == [
        (START.timestamp() + 120, START.timestamp() + 420, AlarmPriority.HIGH)
    ]


def test_link_gap_stale_then_lost_then_up_and_one_never_back() -> None:
    model = build_report(
        _history(
            _event(1, "link", {"device": "oximeter", "silent_s": 3.0}),
            _event(1.5, "link", {"device": "oximeter", "reason": "cable pulled"}),
            _event(4, "link", {"device": "oximeter", "port": "/dev/ttyUSB0"}),
            _event(50, "link", {"device": "nibp", "reason": "port closed"}),
        )
    )
    oximeter, nibp = model.gaps
    assert oximeter.states == ("stale", "lost")
    assert oximeter.reason == "cable pulled"
    assert oximeter.duration_s(model.end_ts) == 180
    assert nibp.end_ts is None
    assert nibp.duration_s(model.end_ts) == 600  # to the session's end


def test_daemon_restart_is_a_gap_of_the_whole_room() -> None:
    readings = (
        RecordedReading(
            START.timestamp() + 600, "oximeter", "spo2_percent", 97.0, "ok"
        ),
        RecordedReading(
            START.timestamp() + 1500, "oximeter", "spo2_percent", 96.0, "ok"
        ),
    )
    model = build_report(
        _history(
            _event(0, "session", {"session_id": "x", "resumed": False}),
            _event(25, "session", {"session_id": "x", "resumed": True}),
            readings=readings,
        )
    )
    (gap,) = model.gaps
    assert gap.device == DAEMON
    assert (gap.start_ts, gap.end_ts) == (
        START.timestamp() + 600,
        START.timestamp() + 1500,
    )
    assert gap.states == ("not running",)


def test_commands_without_an_id_match_their_outcome_by_verb() -> None:
    model = build_report(
        _history(
            _event(
                1,
                "command",
                {"verb": "note", "args": {"text": "hi"}, "command_id": ""},
                "nurse",
            ),
            _event(
                2, "command", {"verb": "reset", "args": {"code": "x"}, "command_id": ""}
            ),
            _event(
                2,
                "command_result",
                {"verb": "reset", "ok": False, "error": "no", "command_id": ""},
            ),
            _event(1, "command_result", {"verb": "note", "ok": True, "command_id": ""}),
            _event(3, "command", {"verb": "music", "args": {}, "command_id": "m1"}),
        )
    )
    note, reset, music = model.commands
    assert (note.ok, note.details, note.by) == (True, "text=hi", "nurse")
    assert (reset.ok, reset.error) == (False, "no")
    assert music.ok is None


def test_device_categories_and_link_states_from_the_record(
    history: SessionHistory,
) -> None:
    assert device_categories(history) == {"oximeter": "oximeter", "nibp": "nibp"}
    assert link_state_of({"device": "x", "reason": "r"}) is LinkState.LOST
    assert link_state_of({"device": "x", "silent_s": 3}) is LinkState.STALE
    assert link_state_of({"device": "x", "port": ""}) is LinkState.UP
