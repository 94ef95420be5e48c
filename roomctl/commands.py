"""Operator commands: one validator per verb, shared by MQTT, the console and captures.

Pure module. ``validate_command(verb, payload)`` checks a JSON object against the
verb's fields (contracts.md §2 operator inputs and §4 ``cmd/<verb>``) and returns the
clean arguments, or raises ``CommandInvalid`` saying in words what is wrong. An
invalid command changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from roomctl.events import CommandVerb, Phase, Role

if TYPE_CHECKING:
    from collections.abc import Mapping

#: Largest accepted note, in characters.
MAX_NOTE_CHARS = 2000
#: Largest accepted text field other than a note.
MAX_TEXT_CHARS = 200


class CommandInvalid(ValueError):
    """A command that cannot be carried out as given; the message says why."""


@dataclass(frozen=True, slots=True)
class _Field:
    kind: str  # "str", "int", "phase", "number"
    required: bool = False
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()
    max_chars: int = MAX_TEXT_CHARS


_COMMON = {"by": _Field("str", choices=("nurse", "therapist")), "id": _Field("str")}

SCHEMAS: dict[CommandVerb, dict[str, _Field]] = {
    CommandVerb.PHASE: {
        "phase": _Field("str", required=True, choices=tuple(Phase)),
        # Closing a session that is not discharge-ready needs a reason on record.
        "reason": _Field("str"),
    },
    CommandVerb.INFUSION_END: {},
    CommandVerb.BASELINE_CONFIRM: {
        "sbp": _Field("int", low=40, high=300),
        "dbp": _Field("int", low=20, high=200),
        "hr": _Field("int", low=20, high=250),
        "spo2": _Field("int", low=50, high=100),
        "reason": _Field("str"),
    },
    CommandVerb.ACKNOWLEDGE: {"code": _Field("str")},
    CommandVerb.AUDIO_PAUSE: {},
    CommandVerb.RESET: {"code": _Field("str", required=True)},
    CommandVerb.NIBP_START: {},
    CommandVerb.NOTE: {"text": _Field("str", required=True, max_chars=MAX_NOTE_CHARS)},
    CommandVerb.MUSIC: {
        "action": _Field(
            "str", required=True, choices=("play", "pause", "skip", "volume", "stop")
        ),
        "volume": _Field("int", low=0, high=100),
    },
    CommandVerb.LIGHTS: {
        "scene": _Field("str"),
        "level": _Field("int", low=0, high=100),
    },
}


def _check(name: str, spec: _Field, value: object) -> object:
    if spec.kind == "str":
        if not isinstance(value, str) or not value.strip():
            raise CommandInvalid(f"{name} must be non-empty text")
        if len(value) > spec.max_chars:
            raise CommandInvalid(f"{name} is longer than {spec.max_chars} characters")
        if spec.choices and value not in spec.choices:
            raise CommandInvalid(f"{name} must be one of: {', '.join(spec.choices)}")
        return value
    # "int": JSON numbers; booleans are not numbers here.
    if isinstance(value, bool) or not isinstance(value, int):
        raise CommandInvalid(f"{name} must be a whole number")
    if (spec.low is not None and value < spec.low) or (
        spec.high is not None and value > spec.high
    ):
        raise CommandInvalid(f"{name} must be between {spec.low:g} and {spec.high:g}")
    return value


def validate_command(
    verb: str, payload: Mapping[str, object]
) -> tuple[CommandVerb, dict[str, object], Role | None]:
    """Check a command; return its verb, clean arguments and who gave it.

    >>> validate_command("phase", {"phase": "dosing", "by": "therapist"})
    (<CommandVerb.PHASE: 'phase'>, {'phase': 'dosing'}, <Role.THERAPIST: 'therapist'>)

    Raises:
        CommandInvalid: unknown verb or field, wrong type or range, missing field.
    """
    try:
        command = CommandVerb(verb)
    except ValueError:
        known = ", ".join(v.value for v in CommandVerb)
        raise CommandInvalid(f"unknown command {verb!r} (known: {known})") from None
    schema = SCHEMAS[command]
    unknown = sorted(set(payload) - set(schema) - set(_COMMON))
    if unknown:
        raise CommandInvalid(f"{command} does not take {', '.join(unknown)}")
    args: dict[str, object] = {}
    for name, spec in schema.items():
        if name in payload:
            args[name] = _check(name, spec, payload[name])
        elif spec.required:
            raise CommandInvalid(f"{command} needs {name}")
    by: Role | None = None
    if "by" in payload:
        by = Role(str(_check("by", _COMMON["by"], payload["by"])))
    if "id" in payload:
        _check("id", _COMMON["id"], payload["id"])
    _check_combinations(command, args)
    return command, args, by


def _check_combinations(command: CommandVerb, args: dict[str, object]) -> None:
    if command is CommandVerb.BASELINE_CONFIRM:
        overrides = {"sbp", "dbp", "hr", "spo2"} & set(args)
        if overrides and "reason" not in args:
            raise CommandInvalid("overriding the baseline needs a reason")
    if (
        command is CommandVerb.MUSIC
        and args["action"] == "volume"
        and "volume" not in args
    ):
        raise CommandInvalid("music volume needs volume (0-100)")
    if command is CommandVerb.LIGHTS and not args:
        raise CommandInvalid("lights needs a scene or a level")
