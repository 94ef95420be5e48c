from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from roomctl.events import (
    AlarmChanged,
    AlarmKind,
    AlarmPriority,
    AlarmTransition,
    CommandVerb,
    Phase,
    ReadingReceived,
    Role,
    StateSnapshot,
)
from roomctl.mqtt.wire import (
    RETAINED_REFUSAL,
    CommandRequest,
    Refusal,
    Topics,
    build_command,
    discovery_messages,
    encode,
    event_lines,
    parse_command,
    reply_payload,
    same_state,
    sequenced,
    state_document,
)
from roomctl.readings import NibpReading, ReadingStatus

AT = datetime(2026, 11, 21, 9, 30, 15, 250000, tzinfo=UTC)
TOPICS = Topics.for_room("site/roomctl", "room-1")
LIMIT = 4096


# ------------------------------------------------------------------ topics


def test_topics_follow_the_contract() -> None:
    assert TOPICS.status == "site/roomctl/room-1/status"
    assert TOPICS.state == "site/roomctl/room-1/state"
    assert TOPICS.alarms == "site/roomctl/room-1/alarms"
    assert TOPICS.events == "site/roomctl/room-1/events"
    assert TOPICS.vitals == "site/roomctl/room-1/vitals"
    assert TOPICS.command_filter == "site/roomctl/room-1/cmd/+"
    assert TOPICS.command("phase") == "site/roomctl/room-1/cmd/phase"
    assert TOPICS.reply("phase") == "site/roomctl/room-1/cmd/phase/reply"


@pytest.mark.parametrize(
    ("topic", "verb"),
    [
        ("site/roomctl/room-1/cmd/phase", "phase"),
        ("site/roomctl/room-1/cmd/", ""),
        ("site/roomctl/room-1/cmd/phase/reply", None),
        ("site/roomctl/room-2/cmd/phase", None),
        ("site/roomctl/room-1/cmdx/phase", None),
        ("homeassistant/status", None),
    ],
)
def test_topics_recognise_command_topics_only(topic: str, verb: str | None) -> None:
    assert TOPICS.command_verb(topic) == verb


# ------------------------------------------------------------------ outgoing


def _alarm() -> AlarmChanged:
    return AlarmChanged(
        occurred_mono=1250.5,
        occurred_at=AT,
        transition=AlarmTransition.RAISED,
        code="spo2.low",
        priority=AlarmPriority.HIGH,
        kind=AlarmKind.PHYSIOLOGICAL,
        value=84.0,
        limit=85.0,
        text="SpO2 84 < 85",
    )


def test_alarm_line_is_the_event_stream_line_plus_room_at_run_and_seq() -> None:
    (line,) = event_lines(_alarm(), room="room-1", t0_mono=1000.0)
    document = json.loads(sequenced(line, run="ab12cd34", seq=7))
    assert document == {
        "t": 250.5,
        "type": "alarm",
        "transition": "raised",
        "code": "spo2.low",
        "priority": "high",
        "kind": "physiological",
        "value": 84.0,
        "limit": 85.0,
        "text": "SpO2 84 < 85",
        "room": "room-1",
        "at": "2026-11-21T09:30:15.250000Z",
        "run": "ab12cd34",
        "seq": 7,
    }


def test_nibp_reading_gives_one_vitals_line_per_metric() -> None:
    nibp = NibpReading(
        device="nibp",
        systolic_mmhg=150,
        diastolic_mmhg=95,
        map_mmhg=113,
        pulse_rate_bpm=88,
        status=ReadingStatus.OK,
        received_mono=1010.0,
        received_at=AT,
    )
    event = ReadingReceived(occurred_mono=1010.0, occurred_at=AT, reading=nibp)
    lines = event_lines(event, room="room-1", t0_mono=1000.0)
    assert [(line["metric"], line["value"]) for line in lines] == [
        ("systolic_mmhg", 150.0),
        ("diastolic_mmhg", 95.0),
        ("map_mmhg", 113.0),
        ("nibp_pulse_rate_bpm", 88.0),
    ]
    assert {line["t"] for line in lines} == {10.0}
    assert {line["room"] for line in lines} == {"room-1"}


def test_encode_is_compact_json_with_no_non_finite_numbers() -> None:
    assert encode({"a": [1.5, float("inf")], "b": {"c": float("-inf")}}) == (
        b'{"a":[1.5,null],"b":{"c":null}}'
    )
    assert encode({"text": "Sp\u00f62"}) == b'{"text":"Sp\\u00f62"}'


def test_state_document_adds_room_and_time_and_compares_without_time() -> None:
    snapshot = StateSnapshot(
        occurred_mono=1.0,
        occurred_at=AT,
        state={"phase": Phase.PEAK, "alarms": ("spo2.low",), "room": "spoof"},
    )
    document = state_document(snapshot, room="room-1")
    assert document == {
        "phase": "peak",
        "alarms": ["spo2.low"],
        "room": "room-1",
        "at": "2026-11-21T09:30:15.250000Z",
    }
    later = {**document, "at": "2026-11-21T09:30:16Z"}
    assert same_state(document, later)
    assert not same_state(document, {**later, "phase": "return"})
    assert not same_state(None, document)


# ------------------------------------------------------------------ commands


def test_a_good_command_passes_with_its_fields_sender_and_id() -> None:
    request = parse_command(
        "phase", b'{"phase": "dosing", "by": "nurse", "id": "c-9"}', max_bytes=LIMIT
    )
    assert request == CommandRequest(
        verb=CommandVerb.PHASE,
        args={"phase": "dosing"},
        by=Role.NURSE,
        command_id="c-9",
    )


@pytest.mark.parametrize("payload", [b"", b"  \n", b"{}", b" { } "])
def test_an_empty_payload_is_the_empty_object(payload: bytes) -> None:
    assert parse_command("audio_pause", payload, max_bytes=LIMIT) == CommandRequest(
        verb=CommandVerb.AUDIO_PAUSE, args={}, by=None, command_id=None
    )


@pytest.mark.parametrize(
    ("verb", "payload", "error"),
    [
        ("phase", b"{phase: dosing}", "not valid JSON: Expecting property name"),
        ("phase", b'{"phase": "dosing"', "not valid JSON"),
        ("phase", b'{"phase": "dosing"} x', "not valid JSON: Extra data"),
        ("phase", b"[]", "a JSON object, not a list"),
        ("phase", b'"dosing"', "a JSON object, not text"),
        ("phase", b"42", "a JSON object, not a number"),
        ("phase", b"null", "a JSON object, not null"),
        ("phase", b"true", "a JSON object, not true/false"),
        ("phase", b'{"phase": NaN}', "NaN is not a JSON number"),
        ("phase", b"[" * 3000, "nested too deeply"),
        ("dance", b"{}", "unknown command 'dance'"),
        ("x" * 41, b"{}", "longer than 40 characters"),
        ("", b"{}", "unknown command ''"),
        ("phase", b'{"phase": 3}', "phase must be non-empty text"),
        ("phase", b'{"phase": "lunch"}', "phase must be one of"),
        ("phase", b'{"phase": "dosing", "by": "patient"}', "by must be one of"),
        ("phase", b'{"phase": "dosing", "colour": 1}', "does not take colour"),
        ("music", b'{"action": "volume", "volume": 1.5}', "whole number"),
        ("music", b'{"action": "volume", "volume": true}', "whole number"),
        ("baseline_confirm", b'{"sbp": 1e400, "reason": "r"}', "whole number"),
        ("reset", b"{}", "reset needs code"),
        ("note", b'{"text": "\xff"}', "not UTF-8 text"),
        ("note", b"\xc3\x28", "not UTF-8 text"),
        ("note", b'{"text": "\\ud800"}', "not valid Unicode"),
        ("note", bytes(range(256)), "not UTF-8 text"),
        ("note", b'{"text": "' + b"a" * LIMIT + b'"}', "the limit is 4096"),
    ],
)
def test_bad_commands_are_refused_with_a_reason(
    verb: str, payload: bytes, error: str
) -> None:
    refusal = parse_command(verb, payload, max_bytes=LIMIT)
    assert isinstance(refusal, Refusal)
    assert error in refusal.error


def test_the_size_limit_is_inclusive() -> None:
    command = b'{"text": "a"}'
    body = command + b" " * (LIMIT - len(command))
    assert isinstance(parse_command("note", body, max_bytes=LIMIT), CommandRequest)
    assert isinstance(parse_command("note", body + b" ", max_bytes=LIMIT), Refusal)


@pytest.mark.parametrize(
    ("payload", "echoed"),
    [
        (b'{"id": "c-1", "phase": "lunch"}', "c-1"),
        (b'{"id": 5, "phase": "dosing"}', None),
        (b'{"id": "", "phase": "dosing"}', None),
        (b'{"id": "' + b"i" * 201 + b'", "phase": "dosing"}', None),
    ],
)
def test_a_refusal_echoes_the_id_only_when_it_is_a_usable_one(
    payload: bytes, echoed: str | None
) -> None:
    refusal = parse_command("phase", payload, max_bytes=LIMIT)
    assert isinstance(refusal, Refusal)
    assert refusal.command_id == echoed


@given(verb=st.text(max_size=60), payload=st.binary(max_size=600))
def test_parse_command_never_raises_on_any_bytes(verb: str, payload: bytes) -> None:
    result = parse_command(verb, payload, max_bytes=512)
    assert isinstance(result, (CommandRequest, Refusal))


@given(
    document=st.dictionaries(
        st.sampled_from(["phase", "by", "id", "text", "code", "x"]),
        st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text()),
        max_size=4,
    ),
    verb=st.sampled_from([*CommandVerb, "nope"]),
)
def test_parse_command_never_raises_on_any_json_object(
    document: dict[str, object], verb: str
) -> None:
    payload = json.dumps(document).encode()
    assert isinstance(
        parse_command(verb, payload, max_bytes=LIMIT), (CommandRequest, Refusal)
    )


def test_replies_follow_the_contract() -> None:
    assert json.loads(reply_payload(ok=True)) == {"ok": True}
    assert json.loads(reply_payload(ok=True, command_id="c")) == {"ok": True, "id": "c"}
    assert json.loads(reply_payload(ok=False, error="no")) == {
        "ok": False,
        "error": "no",
    }
    assert json.loads(reply_payload(ok=False)) == {"ok": False, "error": "refused"}
    assert "retain" in RETAINED_REFUSAL


def test_a_checked_request_becomes_a_bus_command_from_mqtt() -> None:
    request = CommandRequest(
        verb=CommandVerb.RESET, args={"code": "bp.high"}, by=Role.NURSE, command_id=None
    )
    command = build_command(
        request, command_id="m-1", occurred_mono=5.0, occurred_at=AT
    )
    assert command.verb is CommandVerb.RESET
    assert command.args == {"code": "bp.high"}
    assert command.by is Role.NURSE
    assert (command.source, command.command_id) == ("mqtt", "m-1")
    assert (command.occurred_mono, command.occurred_at) == (5.0, AT)


# ------------------------------------------------------------------ Home Assistant


def test_discovery_announces_phase_music_and_scene_but_never_vitals() -> None:
    messages = discovery_messages(
        topics=TOPICS, room="room-1", prefix="homeassistant", scenes=["calm", "dim"]
    )
    configs = {topic: json.loads(payload) for topic, payload in messages}
    assert set(configs) == {
        "homeassistant/select/roomctl_room-1/phase/config",
        "homeassistant/sensor/roomctl_room-1/music/config",
        "homeassistant/select/roomctl_room-1/light_scene/config",
    }
    phase = configs["homeassistant/select/roomctl_room-1/phase/config"]
    assert phase["options"] == [p.value for p in Phase]
    assert phase["command_topic"] == TOPICS.command("phase")
    assert phase["state_topic"] == TOPICS.state
    assert phase["availability_topic"] == TOPICS.status
    assert phase["unique_id"] == "roomctl_room-1_phase"
    scene = configs["homeassistant/select/roomctl_room-1/light_scene/config"]
    assert scene["options"] == ["calm", "dim"]
    assert scene["command_topic"] == TOPICS.command("lights")
    assert all("vitals" not in json.dumps(config) for config in configs.values())
    assert len({json.dumps(c["device"]) for c in configs.values()}) == 1


@pytest.mark.parametrize(
    ("object_id", "verb"), [("phase", "phase"), ("light_scene", "lights")]
)
def test_discovery_command_templates_render_to_valid_commands(
    object_id: str, verb: str
) -> None:
    messages = dict(
        discovery_messages(
            topics=TOPICS, room="room-1", prefix="homeassistant", scenes=["calm"]
        )
    )
    config = json.loads(
        messages[f"homeassistant/select/roomctl_room-1/{object_id}/config"]
    )
    for option in config["options"]:
        # What Home Assistant's template engine does with {{ value }}.
        rendered = config["command_template"].replace("{{ value }}", option)
        request = parse_command(verb, rendered.encode(), max_bytes=LIMIT)
        assert isinstance(request, CommandRequest), request
