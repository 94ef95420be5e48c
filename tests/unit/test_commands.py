from __future__ import annotations

import pytest

from roomctl.commands import CommandInvalid, validate_command
from roomctl.events import CommandVerb, Role


@pytest.mark.parametrize(
    ("verb", "payload", "message"),
    [
        ("dance", {}, "unknown command 'dance'"),
        ("phase", {}, "phase needs phase"),
        ("phase", {"phase": "lunch"}, "phase must be one of"),
        ("phase", {"phase": "dosing", "colour": "red"}, "does not take colour"),
        ("reset", {"code": ""}, "code must be non-empty text"),
        ("baseline_confirm", {"sbp": 130}, "overriding the baseline needs a reason"),
        (
            "baseline_confirm",
            {"sbp": "130", "reason": "x"},
            "sbp must be a whole number",
        ),
        (
            "baseline_confirm",
            {"sbp": True, "reason": "x"},
            "sbp must be a whole number",
        ),
        (
            "baseline_confirm",
            {"hr": 400, "reason": "x"},
            "hr must be between 20 and 250",
        ),
        ("note", {"text": "x" * 2001}, "longer than 2000"),
        ("music", {"action": "volume"}, "needs volume"),
        ("lights", {}, "needs a scene or a level"),
        ("acknowledge", {"by": "janitor"}, "by must be one of: nurse, therapist"),
        ("acknowledge", {"id": 7}, "id must be non-empty text"),
    ],
)
def test_command_refusals_say_why(
    verb: str, payload: dict[str, object], message: str
) -> None:
    with pytest.raises(CommandInvalid, match=message):
        validate_command(verb, payload)


def test_command_accepts_a_baseline_override_with_reason() -> None:
    verb, args, by = validate_command(
        "baseline_confirm",
        {"sbp": 128, "reason": "first cuff too small", "by": "nurse"},
    )
    assert verb is CommandVerb.BASELINE_CONFIRM
    assert args == {"sbp": 128, "reason": "first cuff too small"}
    assert by is Role.NURSE


def test_command_music_volume() -> None:
    assert validate_command("music", {"action": "volume", "volume": 40, "id": "c1"})[
        1
    ] == {
        "action": "volume",
        "volume": 40,
    }
