"""What the MQTT bridge says and hears: topics, payloads, commands, discovery.

Pure module (no I/O, no asyncio): contracts.md §4. Outgoing lines are the §3 event
stream (``roomctl.eventstream.to_wire``) plus ``room`` and ``at``; alarm and event lines
also carry ``run`` and ``seq`` so a subscriber can drop the duplicates a QoS 1 resend
may cause (``SeqFilter``). Incoming commands are checked here, byte by byte, before
anything in the daemon sees them. No patient name or identifier appears in any topic or
payload: topics are built from the configured root, the room and the command verb only.

>>> topics = Topics.for_room("roomctl", "room-1")
>>> topics.alarms, topics.command_verb("roomctl/room-1/cmd/phase")
('roomctl/room-1/alarms', 'phase')
>>> topics.command_verb("roomctl/room-1/cmd/phase/reply") is None
True
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from roomctl import __version__
from roomctl.commands import MAX_TEXT_CHARS, CommandInvalid, validate_command
from roomctl.events import Command, CommandVerb, Phase, Role
from roomctl.eventstream import plain, to_wire

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from datetime import datetime

    from roomctl.events import Event, StateSnapshot

#: Refusal for a retained command: the broker replays it on every (re)subscription,
#: and a stale "reset" or "phase" must never be carried out again.
RETAINED_REFUSAL = "retained commands are refused: publish commands without retain"
#: Longest verb echoed in a refusal (verbs are topic levels and can be long).
MAX_VERB_ECHO_CHARS = 40


# ------------------------------------------------------------------ topics


@dataclass(frozen=True, slots=True)
class Topics:
    """The room's topics (contracts.md §4), all under ``base``."""

    #: ``<topic_root>/<room>``.
    base: str

    @classmethod
    def for_room(cls, topic_root: str, room: str) -> Topics:
        """The topics of ``room`` under ``topic_root``."""
        return cls(base=f"{topic_root}/{room}")

    @property
    def status(self) -> str:
        """``online`` / ``offline``, retained; ``offline`` is the will."""
        return f"{self.base}/status"

    @property
    def state(self) -> str:
        """The room's state snapshot, retained."""
        return f"{self.base}/state"

    @property
    def alarms(self) -> str:
        """Alarm transitions, QoS 1, none lost."""
        return f"{self.base}/alarms"

    @property
    def events(self) -> str:
        """Phase, episode, link and command-outcome events, QoS 1."""
        return f"{self.base}/events"

    @property
    def vitals(self) -> str:
        """Readings as they arrive, QoS 0."""
        return f"{self.base}/vitals"

    @property
    def command_filter(self) -> str:
        """The subscription for commands (``+`` never matches ``<verb>/reply``)."""
        return f"{self.base}/cmd/+"

    def command(self, verb: str) -> str:
        """Where commands with ``verb`` arrive."""
        return f"{self.base}/cmd/{verb}"

    def reply(self, verb: str) -> str:
        """Where the outcome of a ``verb`` command goes."""
        return f"{self.base}/cmd/{verb}/reply"

    def command_verb(self, topic: str) -> str | None:
        """The verb when ``topic`` is ``<base>/cmd/<verb>``, else ``None``."""
        prefix = f"{self.base}/cmd/"
        if not topic.startswith(prefix):
            return None
        verb = topic[len(prefix) :]
        return None if "/" in verb else verb


# ------------------------------------------------------------------ outgoing


def encode(document: Mapping[str, object]) -> bytes:
    """Compact JSON bytes; a non-finite number (never valid JSON) becomes ``null``.

    >>> encode({"value": float("nan"), "ok": True})
    b'{"value":null,"ok":true}'
    """
    try:
        text = json.dumps(document, separators=(",", ":"), allow_nan=False)
    except ValueError:
        text = json.dumps(_finite(document), separators=(",", ":"), allow_nan=False)
    return text.encode()


def _finite(value: object) -> object:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    return value


def iso_utc(at: datetime) -> str:
    """ISO-8601 UTC with a ``Z`` (the ``at`` of every payload)."""
    return str(plain(at))


def event_lines(event: Event, *, room: str, t0_mono: float) -> list[dict[str, object]]:
    """The §3 lines of ``event`` with ``room`` and ``at`` (``t`` counts from ``t0``)."""
    at = iso_utc(event.occurred_at)
    return [
        {**line, "room": room, "at": at}
        for line in to_wire(event, t=event.occurred_mono - t0_mono)
    ]


def sequenced(line: Mapping[str, object], *, run: str, seq: int) -> bytes:
    """An alarm or event line numbered for duplicate detection, as bytes."""
    return encode({**line, "run": run, "seq": seq})


def state_document(snapshot: StateSnapshot, *, room: str) -> dict[str, object]:
    """The retained ``state`` payload: the snapshot's mapping, ``room`` and ``at``."""
    state = plain(snapshot.state)
    body = dict(state) if isinstance(state, dict) else {}
    return {**body, "room": room, "at": iso_utc(snapshot.occurred_at)}


def same_state(a: Mapping[str, object] | None, b: Mapping[str, object]) -> bool:
    """Whether two state documents say the same apart from their time."""
    if a is None:
        return False
    return {k: v for k, v in a.items() if k != "at"} == {
        k: v for k, v in b.items() if k != "at"
    }


# ------------------------------------------------------------------ commands


@dataclass(frozen=True, slots=True)
class CommandRequest:
    """A command that passed every check; the daemon may now carry it out."""

    verb: CommandVerb
    args: dict[str, object]
    by: Role | None
    #: The sender's ``id``, echoed in the reply; ``None`` when it gave none.
    command_id: str | None


@dataclass(frozen=True, slots=True)
class Refusal:
    """A command refused at the edge; nothing changed. ``error`` says why."""

    error: str
    #: The sender's ``id`` when it could be read, for the reply.
    command_id: str | None = None


def _reject_constant(name: str) -> object:
    raise ValueError(f"{name} is not a JSON number")


def _kind(value: object) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "text"
    if isinstance(value, bool):
        return "true/false"
    if value is None:
        return "null"
    return "a number"


def _sender_id(document: Mapping[str, object]) -> str | None:
    value = document.get("id")
    if isinstance(value, str) and value.strip() and len(value) <= MAX_TEXT_CHARS:
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            # A lone surrogate ("\ud83d"): echoed, it would be no text the sender
            # could match (found by tests/system/test_malformed_commands.py).
            return None
        return value
    return None


def parse_command(
    verb: str, payload: bytes, *, max_bytes: int
) -> CommandRequest | Refusal:
    """Check an inbound command's bytes; never raises, whatever they are.

    An empty payload is the empty object (``cmd/audio_pause`` needs no fields).

    >>> parse_command("audio_pause", b"", max_bytes=4096)
    CommandRequest(verb=<CommandVerb.AUDIO_PAUSE: 'audio_pause'>, args={}, by=None, command_id=None)
    >>> parse_command("phase", b"[1]", max_bytes=4096)
    Refusal(error='a command must be a JSON object, not a list', command_id=None)
    """  # noqa: E501 -- doctest output lines cannot be wrapped
    if len(payload) > max_bytes:
        return Refusal(f"command is {len(payload)} bytes; the limit is {max_bytes}")
    if len(verb) > MAX_VERB_ECHO_CHARS:
        return Refusal(
            f"unknown command (longer than {MAX_VERB_ECHO_CHARS} characters)"
        )
    try:
        text = payload.decode("utf-8") if payload.strip() else "{}"
    except UnicodeDecodeError:
        return Refusal("command is not UTF-8 text")
    try:
        document: object = json.loads(text, parse_constant=_reject_constant)
    except RecursionError:
        return Refusal("command is not valid JSON: nested too deeply")
    except ValueError as exc:
        reason = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
        return Refusal(f"command is not valid JSON: {reason}")
    if not isinstance(document, dict):
        return Refusal(f"a command must be a JSON object, not {_kind(document)}")
    command_id = _sender_id(document)
    try:
        # Lone surrogates (``"\ud800"``) decode from JSON but are not text anyone
        # can store or show.
        json.dumps(document, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return Refusal("command contains text that is not valid Unicode", command_id)
    try:
        command, args, by = validate_command(verb, document)
    except CommandInvalid as exc:
        return Refusal(str(exc), command_id)
    return CommandRequest(verb=command, args=args, by=by, command_id=command_id)


def build_command(
    request: CommandRequest,
    *,
    command_id: str,
    occurred_mono: float,
    occurred_at: datetime,
) -> Command:
    """The bus ``Command`` for a checked request from MQTT."""
    return Command(
        occurred_mono=occurred_mono,
        occurred_at=occurred_at,
        verb=request.verb,
        args=request.args,
        by=request.by,
        source="mqtt",
        command_id=command_id,
    )


def reply_payload(*, ok: bool, error: str = "", command_id: str | None = None) -> bytes:
    """``{"ok": true}`` or ``{"ok": false, "error": ...}``, plus ``id`` when given.

    >>> reply_payload(ok=False, error="phase needs phase", command_id="c1")
    b'{"ok":false,"error":"phase needs phase","id":"c1"}'
    """
    document: dict[str, object] = {"ok": ok}
    if not ok:
        document["error"] = error or "refused"
    if command_id is not None:
        document["id"] = command_id
    return encode(document)


# ------------------------------------------------------------------ Home Assistant

#: Jinja for HA: the snapshot's ``music`` is a word or a mapping with ``state``.
_MUSIC_TEMPLATE = (
    "{% set m = value_json.get('music') %}"
    "{{ m.get('state', 'unknown') if m is mapping else (m if m is string else "
    "'unknown') }}"
)
#: Jinja for HA: the snapshot's ``lights`` is a scene name or a mapping with ``scene``.
_SCENE_TEMPLATE = (
    "{% set l = value_json.get('lights') %}"
    "{{ l.get('scene', '') if l is mapping else (l if l is string else '') }}"
)


def discovery_messages(
    *, topics: Topics, room: str, prefix: str, scenes: Sequence[str]
) -> list[tuple[str, bytes]]:
    """Retained Home Assistant discovery configs: phase, music and light scene.

    Three entities on one device ``roomctl_<room>``, available while ``status`` says
    ``online``, reading the retained ``state`` topic. The two selects send straight to
    ``cmd/phase`` and ``cmd/lights`` through a ``command_template``, so their commands
    are checked and answered like any other. Vitals are never announced: Home Assistant
    is no place for a patient's numbers.
    """
    node = f"roomctl_{room}"
    common: dict[str, object] = {
        "availability_topic": topics.status,
        "payload_available": "online",
        "payload_not_available": "offline",
        "state_topic": topics.state,
        "device": {
            "identifiers": [node],
            "name": f"roomctl {room}",
            "manufacturer": "roomctl",
            "model": "treatment room",
            "sw_version": __version__,
        },
    }
    entities: list[tuple[str, str, dict[str, object]]] = [
        (
            "select",
            "phase",
            {
                "name": "Phase",
                "icon": "mdi:timeline-clock-outline",
                "value_template": "{{ value_json.phase }}",
                "command_topic": topics.command(CommandVerb.PHASE.value),
                "command_template": '{"phase": "{{ value }}"}',
                "options": [phase.value for phase in Phase],
                "qos": 1,
            },
        ),
        (
            "sensor",
            "music",
            {"name": "Music", "icon": "mdi:music", "value_template": _MUSIC_TEMPLATE},
        ),
        (
            "select",
            "light_scene",
            {
                "name": "Light scene",
                "icon": "mdi:lightbulb-group",
                "value_template": _SCENE_TEMPLATE,
                "command_topic": topics.command(CommandVerb.LIGHTS.value),
                "command_template": '{"scene": "{{ value }}"}',
                "options": list(scenes),
                "qos": 1,
            },
        ),
    ]
    return [
        (
            f"{prefix}/{component}/{node}/{object_id}/config",
            encode({**config, **common, "unique_id": f"{node}_{object_id}"}),
        )
        for component, object_id, config in entities
    ]
