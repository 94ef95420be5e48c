"""The alarm board on its own: lifecycle, latching, cards, acknowledge, audio."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from roomctl.alarms.board import AlarmBoard, Assertion
from roomctl.alarms.policy import AudioPolicy
from roomctl.events import (
    AlarmChanged,
    AlarmKind,
    AlarmPriority,
    AlarmTransition,
    Role,
)

LOW, MEDIUM, HIGH = AlarmPriority.LOW, AlarmPriority.MEDIUM, AlarmPriority.HIGH
EPOCH = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)


def _board() -> AlarmBoard:
    return AlarmBoard(AudioPolicy(), lambda mono: EPOCH + timedelta(seconds=mono))


def _a(
    priority: AlarmPriority = MEDIUM,
    *,
    code: str = "x.test",
    latch_at: AlarmPriority | None = None,
    card: bool = False,
    text: str = "X 1 >= 1",
) -> Assertion:
    return Assertion(
        code=code,
        priority=priority,
        kind=AlarmKind.PHYSIOLOGICAL,
        text=text,
        value=1.0,
        limit=1.0,
        latch_at=latch_at,
        card_until_acknowledged=card,
        resolution="X < 1",
    )


def _t(events: list[AlarmChanged]) -> list[tuple[str, str, str]]:
    return [(e.code, e.transition.value, e.priority.value) for e in events]


def test_raise_escalate_deescalate_clear_keep_one_code() -> None:
    board = _board()
    assert _t(board.sync([_a(LOW)], 0)) == [("x.test", "raised", "low")]
    assert board.sync([_a(LOW)], 1) == []
    assert _t(board.sync([_a(MEDIUM)], 2)) == [("x.test", "escalated", "medium")]
    assert _t(board.sync([_a(LOW)], 3)) == [("x.test", "deescalated", "low")]
    assert _t(board.sync([], 4)) == [("x.test", "cleared", "low")]
    assert board.views(4) == ()


def test_new_value_is_followed_silently() -> None:
    board = _board()
    board.sync([_a(text="X 1")], 0)
    assert board.sync([_a(text="X 2")], 1) == []
    assert board.views(1)[0].text == "X 2"


def test_latched_alarm_stays_until_reset_and_sounds_again_when_it_returns() -> None:
    board = _board()
    board.sync([_a(HIGH, latch_at=HIGH)], 0)
    assert board.sync([], 5) == []  # the condition ended: no transition
    [view] = board.views(5)
    assert (view.latched, view.condition_present, view.ended_at) == (
        True,
        False,
        EPOCH + timedelta(seconds=5),
    )
    board.acknowledge("x.test", Role.NURSE, 6)
    # Lower assertion while latched: stays HIGH, the condition is back, audio too.
    assert _t(board.sync([_a(MEDIUM, latch_at=HIGH)], 7)) == [
        ("x.test", "reminded", "high")
    ]
    assert board.views(7)[0].acknowledged is False
    assert board.sync([_a(MEDIUM, latch_at=HIGH)], 8) == []
    assert _t(board.sync([_a(HIGH, latch_at=HIGH)], 9)) == []


def test_latched_condition_returning_higher_escalates() -> None:
    board = _board()
    board.sync([_a(MEDIUM, latch_at=MEDIUM)], 0)
    board.sync([], 1)
    assert _t(board.sync([_a(HIGH, latch_at=MEDIUM)], 2)) == [
        ("x.test", "escalated", "high")
    ]


def test_card_stays_until_acknowledged_and_can_return() -> None:
    board = _board()
    board.sync([_a(MEDIUM, card=True)], 0)
    assert _t(board.sync([], 1)) == [("x.test", "cleared", "medium")]
    [card] = board.views(1)
    assert (card.condition_present, card.sounding) == (False, False)
    # The condition returns: a new occurrence under the same code.
    assert _t(board.sync([_a(MEDIUM, card=True)], 2)) == [
        ("x.test", "raised", "medium")
    ]
    board.sync([], 3)
    events, refusal = board.acknowledge(None, Role.NURSE, 4)
    assert refusal is None
    assert _t(events) == [("x.test", "acknowledged", "medium")]
    assert board.views(4) == ()


@pytest.mark.parametrize(
    ("priority", "acknowledged_first"), [(LOW, False), (MEDIUM, True)]
)
def test_no_card_for_low_or_acknowledged_alarms(
    priority: AlarmPriority, acknowledged_first: bool
) -> None:
    board = _board()
    board.sync([_a(priority, card=True)], 0)
    if acknowledged_first:
        board.acknowledge("x.test", None, 1)
    board.sync([], 2)
    assert board.views(2) == ()


def test_acknowledge_refusals() -> None:
    board = _board()
    assert board.acknowledge(None, None, 0) == (
        [],
        "There is no alarm waiting for acknowledgement.",
    )
    assert board.acknowledge("x.test", None, 0) == (
        [],
        "There is no active alarm x.test.",
    )
    board.sync([_a()], 0)
    board.acknowledge("x.test", Role.NURSE, 1)
    assert board.acknowledge("x.test", None, 2) == (
        [],
        "x.test is already acknowledged.",
    )
    assert board.acknowledge(None, None, 2)[1] == (
        "There is no alarm waiting for acknowledgement."
    )


def test_acknowledge_all_carries_by_and_keeps_latched() -> None:
    board = _board()
    board.sync([_a(HIGH, latch_at=HIGH), _a(LOW, code="y.test")], 0)
    board.sync([_a(LOW, code="y.test")], 1)  # x ended, latched
    events, _ = board.acknowledge(None, Role.THERAPIST, 2)
    assert [(e.code, e.by) for e in events] == [
        ("x.test", Role.THERAPIST),
        ("y.test", Role.THERAPIST),
    ]
    assert [v.code for v in board.views(2)] == ["x.test", "y.test"]
    assert board.views(2)[0].acknowledged_by is Role.THERAPIST


def test_escalation_after_acknowledge_sounds_again() -> None:
    board = _board()
    board.sync([_a(MEDIUM)], 0)
    board.acknowledge("x.test", None, 1)
    assert board.audio(1).sounding is False
    board.sync([_a(HIGH)], 2)
    assert board.audio(2).sounding_codes == ("x.test",)


def test_reset_refusals_and_success() -> None:
    board = _board()
    assert board.reset("x.test", Role.NURSE, 0) == (
        [],
        "There is no active alarm x.test; nothing to reset.",
    )
    board.sync([_a(MEDIUM)], 0)
    assert board.reset("x.test", None, 0)[1] == (
        "x.test does not latch; it clears by itself (X < 1)."
    )
    board.sync([_a(HIGH, latch_at=HIGH)], 1)
    assert board.reset("x.test", None, 1)[1] == (
        "x.test is still present; it can be reset once X < 1."
    )
    board.sync([], 2)
    events, refusal = board.reset("x.test", Role.NURSE, 3)
    assert refusal is None
    assert [(e.transition, e.by) for e in events] == [
        (AlarmTransition.RESET, Role.NURSE)
    ]
    assert board.views(3) == ()


def test_reminder_every_3_min_while_acknowledged_and_present() -> None:
    board = _board()
    board.sync([_a(MEDIUM)], 0)
    board.acknowledge("x.test", None, 10)
    assert board.timers(189) == []
    assert [e.text for e in board.timers(190)] == ["X 1 >= 1 (reminder)"]
    assert board.timers(191) == []
    assert len(board.timers(370)) == 1


def test_no_reminder_for_low_alarms_or_ended_conditions() -> None:
    board = _board()
    board.sync([_a(LOW), _a(HIGH, code="z.test", latch_at=HIGH)], 0)
    board.acknowledge(None, None, 1)
    board.sync([_a(LOW)], 2)  # z ended (latched)
    assert board.timers(1000) == []


def test_volume_up_once_after_2_min_unacknowledged() -> None:
    board = _board()
    board.sync([_a(MEDIUM)], 0)
    assert board.timers(119) == []
    [event] = board.timers(120)
    assert (event.transition, event.text) == (
        AlarmTransition.REMINDED,
        "X 1 >= 1 (volume up)",
    )
    assert board.audio(120).volume_step == 1
    assert board.views(120)[0].volume_step == 1
    assert board.timers(500) == []
    board.acknowledge("x.test", None, 501)
    assert board.audio(501).volume_step == 0


def test_pause_silences_then_expires_with_audio_back() -> None:
    board = _board()
    board.sync([_a(MEDIUM)], 0)
    board.pause(Role.NURSE, 10)
    audio = board.audio(20)
    assert (audio.sounding, audio.pause_remaining_s, audio.paused_by) == (
        False,
        110.0,
        Role.NURSE,
    )
    assert audio.paused_until_at == EPOCH + timedelta(seconds=130)
    assert board.timers(129) == []  # no volume-up while paused
    [event] = board.timers(130)
    assert event.text == "X 1 >= 1 (audio back)"
    assert board.audio(130).sounding is True
    assert board.timers(249) == []  # volume-up counts again from the pause end
    assert len(board.timers(250)) == 1


def test_reminder_due_during_pause_comes_after_it() -> None:
    board = _board()
    board.sync([_a(MEDIUM)], 0)
    board.acknowledge("x.test", None, 0)
    board.pause(None, 100)
    assert board.timers(180) == []
    assert [e.text for e in board.timers(220)] == ["X 1 >= 1 (reminder)"]


@pytest.mark.parametrize(
    ("new", "breaks"),
    [
        (_a(HIGH, code="y.test"), True),  # a HIGH condition
        (_a(MEDIUM, code="y.test"), True),  # a new condition
        (_a(LOW, code="y.test"), False),  # LOW never sounds
    ],
)
def test_new_condition_breaks_through_pause(new: Assertion, breaks: bool) -> None:
    board = _board()
    board.sync([_a(MEDIUM)], 0)
    board.pause(None, 10)
    events = board.sync([_a(MEDIUM), new], 20)
    assert board.audio(20).sounding is breaks
    if breaks:
        assert _t(events) == [
            ("y.test", "raised", new.priority.value),
            ("x.test", "reminded", "medium"),
        ]


def test_escalation_breaks_through_pause_without_a_duplicate() -> None:
    board = _board()
    board.sync([_a(MEDIUM)], 0)
    board.pause(None, 10)
    assert _t(board.sync([_a(HIGH)], 20)) == [("x.test", "escalated", "high")]
    assert board.audio(20).paused_until_mono is None


def test_views_sorted_by_priority_then_age_and_query_helpers() -> None:
    board = _board()
    board.sync([_a(LOW, code="a")], 0)
    board.sync([_a(LOW, code="a"), _a(HIGH, code="b", latch_at=HIGH)], 1)
    board.sync([_a(LOW, code="a"), _a(HIGH, code="b"), _a(LOW, code="c")], 2)
    assert [v.code for v in board.views(2)] == ["b", "a", "c"]
    assert board.priority_of("b") is HIGH
    assert board.priority_of("zzz") is None
    assert board.is_acknowledged("b") is False
    assert board.blocking(AlarmKind.PHYSIOLOGICAL) == [("b", False)]
    assert board.blocking(AlarmKind.TECHNICAL) == []
    board.sync([_a(LOW, code="a")], 3)
    assert board.blocking(AlarmKind.PHYSIOLOGICAL) == [("b", True)]
