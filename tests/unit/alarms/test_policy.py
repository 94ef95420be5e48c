"""The policy models and the policy table for ``roomctl config check``."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from roomctl.alarms import AlarmPolicy, policy_table
from roomctl.alarms.policy import PolicyModel
from roomctl.events import AlarmPriority

CODES = [
    "bp.predose_high",
    "bp.rise",
    "bp.high",
    "bp.severe",
    "bp.low",
    "hr.high",
    "hr.rise",
    "hr.low",
    "spo2.low",
    "spo2.desat",
    "spo2.borderline",
    "tech.spo2.signal",
    "tech.spo2.data_lost",
    "tech.nibp.overdue",
    "tech.nibp.questionable",
    "tech.link.<device>",
    "tech.baseline_missing",
    "tech.record",
]


def test_defaults_are_the_policy() -> None:
    policy = AlarmPolicy()
    assert (policy.bp_high.sbp_mmhg, policy.bp_high.dbp_mmhg) == (180, 110)
    assert (policy.bp_severe.sbp_mmhg, policy.bp_severe.dbp_mmhg) == (200, 120)
    assert policy.hr_high.median_window_s == 10
    assert policy.spo2_data.medium_during_infusion_s == 15
    assert policy.audio.reminder_s == 180
    assert policy.nibp_schedule.preparation_cycle_s is None
    assert policy.discharge.iv_after_infusion_end_min == 60
    assert policy.spo2_desat.priority is AlarmPriority.HIGH
    assert isinstance(policy.bp_high.sbp_mmhg, float)


def test_every_field_documents_itself() -> None:
    def walk(model: type[PolicyModel]) -> list[str]:
        missing = []
        for name, field in model.model_fields.items():
            annotation = field.annotation
            if not field.description:
                missing.append(f"{model.__name__}.{name}")
            if isinstance(annotation, type) and issubclass(annotation, PolicyModel):
                missing += walk(annotation)
        return missing

    assert walk(AlarmPolicy) == []


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"bp_severe": {"sbp_mmhg": 170}}, "bp_severe limits must be at or above"),
        ({"bp_high": {"resolve_dbp_below_mmhg": 115}}, "bp_high resolution must be"),
        ({"bp_low": {"severe_sbp_mmhg": 95}}, "bp_low.severe_sbp_mmhg must be"),
        ({"hr_low": {"severe_limit_bpm": 50}}, "hr_low.severe_limit_bpm must be"),
        ({"spo2_desat": {"immediate_percent": 88}}, "spo2_desat.immediate_percent"),
        ({"spo2_borderline": {"clear_percent": 93}}, "spo2_borderline needs"),
        ({"audio": {"pause_s": 0}}, "greater than 0"),
        ({"audio": {"volume": 3}}, "Extra inputs are not permitted"),
        ({"hr_high": {"priority": "urgent"}}, "Input should be 'low', 'medium'"),
    ],
)
def test_bad_policies_are_refused_with_a_message(
    raw: dict[str, object], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        AlarmPolicy.model_validate(raw)


def test_policy_is_frozen() -> None:
    policy = AlarmPolicy()
    with pytest.raises(ValidationError):
        policy.audio.pause_s = 60  # type: ignore[misc]


def test_table_lists_every_code_with_its_columns() -> None:
    table = policy_table(AlarmPolicy())
    lines = table.splitlines()
    assert lines[0].split() == [
        "code",
        "rule",
        "delay",
        "priority",
        "latching",
        "resolution",
    ]
    assert [line.split()[0] for line in lines[2 : 2 + len(CODES)]] == CODES
    row = next(line for line in lines if line.startswith("bp.high "))
    assert "SBP >= 180 or DBP >= 110" in row
    assert "card until acknowledged" in row
    assert "2 readings >= 180 s apart with SBP < 170 and DBP < 105" in row
    assert (
        "NIBP cycle: preparation on demand; 300 s until infusion end + 20 min" in table
    )
    assert table.endswith("oral dose + 120 min; no MEDIUM/HIGH alarm.")


def test_table_shows_the_policy_in_force() -> None:
    policy = AlarmPolicy.model_validate(
        {
            "bp_high": {"sbp_mmhg": 175, "card_until_acknowledged": False},
            "bp_severe": {"latching": False, "stat_repeat": False},
            "spo2_desat": {"latching": False},
            "nibp_schedule": {"preparation_cycle_s": 600},
            "discharge": {"require_no_alarms": False},
        }
    )
    table = policy_table(policy)
    rows = {line.split()[0]: line for line in table.splitlines() if line}
    assert "SBP >= 175" in rows["bp.high"]
    assert "card until" not in rows["bp.high"]
    assert "STAT" not in rows["bp.severe"]
    assert "latching" not in rows["bp.severe"].split("HIGH", 2)[-1]
    assert "reset" not in rows["spo2.desat"]
    assert "preparation 600 s" in table
    assert table.endswith("oral dose + 120 min.")
