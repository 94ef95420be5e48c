"""Thousands of malformed MQTT commands against a live daemon (issue 8, bad input).

The daemon runs as a real process (``roomctl run``) on a real mosquitto. A seeded
generator makes malformed commands of every kind: bad JSON, wrong types, huge
payloads, unknown or over-long verbs, invalid UTF-8, deep nesting, NaN and Infinity,
extra fields, wrong roles, out-of-range values, missing fields, non-objects, lone
surrogates, and well-formed commands the room must refuse in its state. They go out
as fast as the daemon answers (at most ``WINDOW`` unanswered at a time, so neither
the daemon's inbound queue nor its reply queue can overflow and drop one).

Asserted: the daemon never dies; every command gets exactly one reply on its
``cmd/<verb>/reply`` topic (contracts.md §4: "for every command received"), and every
reply says ``ok: false`` with a reason; the room's state is the same before and after
(the retained ``state``, apart from its clock); no command is recorded as carried out
(the session record's command results are all refusals, one per command the room
itself refused); and a valid command after the flood still works.

``ROOMCTL_MALFORMED_COMMANDS`` sets the count (default 10,000; ``make fuzz`` runs
100,000).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import os
import random
import signal
import socket
import sqlite3
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import aiomqtt
import pytest

from tests.system.conftest import write_config

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Iterator
    from pathlib import Path

    from tests.broker import Broker
    from tests.system.conftest import Proc

pytestmark = [pytest.mark.broker, pytest.mark.subprocess]

ROOM = "fuzz-room"
BASE = f"roomctl/{ROOM}"
COUNT = int(os.environ.get("ROOMCTL_MALFORMED_COMMANDS", "10000"))
SEED = int(os.environ.get("ROOMCTL_MALFORMED_SEED", "8"))
#: Commands sent but not yet answered, at most.
WINDOW = 200
WAIT_S = 20.0
#: Test clients turn Nagle off: a publish waiting for the delayed ACK of the one
#: before costs 40 ms (Linux), which would measure TCP, not the daemon.
NO_DELAY = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]
#: Verbs longer than this are refused unread (``roomctl.mqtt.wire``): no id echoed.
MAX_VERB_ECHO_CHARS = 40
VERBS = (
    "phase",
    "infusion_end",
    "baseline_confirm",
    "acknowledge",
    "audio_pause",
    "reset",
    "nibp_start",
    "note",
    "music",
    "lights",
)


# ------------------------------------------------------------------ the generator


@dataclass(frozen=True)
class Malformed:
    """One command to send, and what kind of bad it is."""

    kind: str
    verb: str
    payload: bytes
    #: The ``id`` the reply must echo, when the payload carries a readable one.
    command_id: str | None = None
    #: Whether the command is well-formed and only the room's state refuses it (it
    #: then reaches the daemon and is recorded as refused).
    reaches_room: bool = False


Case = tuple[str, dict[str, object]]


def _pick(rng: random.Random, cases: list[Case]) -> Case:
    return rng.choice(cases)


def _obj(document: dict[str, object], command_id: str) -> bytes:
    return json.dumps({**document, "id": command_id}).encode()


def _generate(rng: random.Random, n: int) -> Malformed:  # noqa: C901, PLR0912
    """The ``n``-th malformed command (a mix of every kind, chosen by ``rng``)."""
    cid = f"f{n}"
    verb = rng.choice(VERBS)
    kind = rng.choice(KINDS)
    match kind:
        case "bad-json":
            text = rng.choice(
                [
                    '{"phase": "dosing"',
                    "{'phase': 'dosing'}",
                    '{"phase": "dosing",}',
                    '{"phase" "dosing"}',
                    "{phase: dosing}",
                    '{"a": 1} {"b": 2}',
                    "nul",
                    '{"text": "\\x41"}',
                    '{"text": "tab\there"}',
                    "\ufeff{}",
                ]
            )
            return Malformed(kind, verb, text.encode())
        case "random-bytes":
            size = rng.randrange(1, 300)
            payload = bytes(rng.randrange(256) for _ in range(size))
            if not payload.strip():
                payload = b"\x00" + payload  # an empty payload is a valid {} command
            return Malformed(kind, verb, payload)
        case "wrong-type":
            verb, document = _pick(
                rng,
                [
                    ("phase", {"phase": 3}),
                    ("phase", {"phase": ["dosing"]}),
                    ("phase", {"phase": {"name": "dosing"}}),
                    ("phase", {"phase": None}),
                    ("note", {"text": 42}),
                    ("note", {"text": ""}),
                    ("note", {"text": "   "}),
                    ("music", {"action": "volume", "volume": "loud"}),
                    ("music", {"action": "volume", "volume": 50.5}),
                    ("music", {"action": True}),
                    ("lights", {"level": True}),
                    ("lights", {"scene": 7}),
                    ("baseline_confirm", {"sbp": "120", "reason": "r"}),
                    ("reset", {"code": ["bp.high"]}),
                    ("acknowledge", {"code": 1}),
                ],
            )
            return Malformed(kind, verb, _obj(document, cid), cid)
        case "huge":
            size = rng.choice([4097, 5000, 65_536, 300_000, 1_000_000])
            text = "x" * size
            return Malformed(kind, verb, json.dumps({"text": text}).encode())
        case "unknown-verb":
            verb = rng.choice(
                [
                    "dance",
                    "Phase",
                    "PHASE",
                    "phase ",
                    " phase",
                    "phäse",
                    "shutdown",
                    "cmd",
                    "reply",
                    "",
                    "x" * rng.randrange(41, 400),
                    "".join(rng.choice("abcdefgh_-0123") for _ in range(12)),
                    "\u202ephase",
                ]
            )
            readable = len(verb) <= MAX_VERB_ECHO_CHARS
            return Malformed(kind, verb, _obj({}, cid), cid if readable else None)
        case "invalid-utf8":
            payload = rng.choice(
                [
                    b'{"text": "\xff\xfe"}',
                    b'{"phase": "dos\xc3\x28ing"}',
                    b"\xed\xa0\x80",
                    b'{"text": "\xe2\x82"}',
                    b"\xc0\xaf",
                ]
            )
            return Malformed(kind, verb, payload)
        case "deep-nesting":
            depth = rng.choice([100, 999, 1000, 1500, 2040])
            opening, closing = rng.choice([("[", "]"), ('{"a":', "}")])
            return Malformed(
                kind, verb, (opening * depth + "1" + closing * depth).encode()
            )
        case "non-finite":
            verb, text = rng.choice(
                [
                    ("music", '{"action": "volume", "volume": NaN}'),
                    ("lights", '{"level": Infinity}'),
                    ("lights", '{"level": -Infinity}'),
                    ("baseline_confirm", '{"sbp": 1e400, "reason": "r"}'),
                    ("baseline_confirm", '{"hr": -1e400, "reason": "r"}'),
                    ("lights", '{"level": 1e-400}'),
                    ("lights", '{"level": 50.0}'),
                    ("music", '{"action": "volume", "volume": 1e2}'),
                ]
            )
            return Malformed(kind, verb, text.encode())
        case "extra-field":
            verb, document = _pick(
                rng,
                [
                    ("phase", {"phase": "dosing", "force": True}),
                    ("note", {"text": "hello", "patient": "x"}),
                    ("audio_pause", {"minutes": 5}),
                    ("nibp_start", {"now": 1}),
                    ("acknowledge", {"all": True}),
                    ("music", {"action": "stop", "fade": 1}),
                    ("lights", {"level": 20, "color": "red"}),
                ],
            )
            return Malformed(kind, verb, _obj(document, cid), cid)
        case "wrong-role":
            by = rng.choice(["patient", "admin", "Nurse", "", " ", 1, None, ["nurse"]])
            verb, document = _pick(
                rng,
                [
                    ("phase", {"phase": "dosing"}),
                    ("note", {"text": "hello"}),
                    ("acknowledge", {}),
                    ("audio_pause", {}),
                ],
            )
            return Malformed(kind, verb, _obj({**document, "by": by}, cid), cid)
        case "out-of-range":
            verb, document = _pick(
                rng,
                [
                    ("baseline_confirm", {"sbp": 1000, "reason": "r"}),
                    ("baseline_confirm", {"dbp": -5, "reason": "r"}),
                    ("baseline_confirm", {"spo2": 101, "reason": "r"}),
                    ("music", {"action": "volume", "volume": 101}),
                    ("lights", {"level": -1}),
                    ("lights", {"level": 10**30}),
                    ("note", {"text": "n" * 2001}),
                    ("reset", {"code": "c" * 201}),
                    ("phase", {"phase": "lunch"}),
                    ("music", {"action": "rewind"}),
                ],
            )
            return Malformed(kind, verb, _obj(document, cid), cid)
        case "missing-field":
            verb, document = _pick(
                rng,
                [
                    ("phase", {}),
                    ("reset", {}),
                    ("note", {}),
                    ("music", {}),
                    ("music", {"action": "volume"}),
                    ("lights", {}),
                    ("baseline_confirm", {"sbp": 120}),
                ],
            )
            return Malformed(kind, verb, _obj(document, cid), cid)
        case "not-an-object":
            text = rng.choice(['["phase"]', '"dosing"', "42", "null", "true", "[]"])
            return Malformed(kind, verb, text.encode())
        case "surrogate":
            verb, text = rng.choice(
                [
                    ("note", '{"text": "\\ud800"}'),
                    ("phase", '{"phase": "\\udfff"}'),
                    ("note", '{"text": "ok", "id": "\\ud83d"}'),
                ]
            )
            return Malformed(kind, verb, text.encode())
        case "bad-id":
            bad_id = rng.choice([5, "", None, ["x"], "i" * 201, {"a": 1}])
            return Malformed(
                kind, "note", json.dumps({"text": "hello", "id": bad_id}).encode()
            )
        case "refused-by-the-room":
            verb, document = _pick(rng, REFUSED_BY_THE_ROOM)
            return Malformed(kind, verb, _obj(document, cid), cid, reaches_room=True)
        case _:
            raise AssertionError(kind)


#: Well-formed commands the room refuses in its state (preparation, no devices,
#: no music, no lights, nothing latched): they reach the daemon and are recorded
#: as refused.
REFUSED_BY_THE_ROOM: list[Case] = [
    ("reset", {"code": "bp.high"}),
    ("reset", {"code": "no.such.alarm"}),
    ("phase", {"phase": "closed"}),
    ("phase", {"phase": "preparation"}),
    ("phase", {"phase": "integration"}),
    ("infusion_end", {}),
    ("nibp_start", {}),
    ("music", {"action": "skip"}),
    ("lights", {"level": 20}),
    ("lights", {"scene": "disco"}),
]

KINDS = (
    "bad-json",
    "random-bytes",
    "wrong-type",
    "huge",
    "unknown-verb",
    "invalid-utf8",
    "deep-nesting",
    "non-finite",
    "extra-field",
    "wrong-role",
    "out-of-range",
    "missing-field",
    "not-an-object",
    "surrogate",
    "bad-id",
    "refused-by-the-room",
)


def generate(count: int, seed: int) -> Iterator[Malformed]:
    rng = random.Random(seed)
    for n in range(count):
        yield _generate(rng, n)


def test_the_generator_makes_every_kind_and_is_repeatable() -> None:
    first = list(generate(2000, SEED))
    assert first == list(generate(2000, SEED))
    assert set(Counter(m.kind for m in first)) == set(KINDS)
    assert all(m.payload.strip() for m in first)  # an empty payload is {}: valid
    assert all("+" not in m.verb and "#" not in m.verb for m in first)


# ------------------------------------------------------------------ the room


def _config(tmp_path: Path, broker: Broker) -> Path:
    return write_config(
        tmp_path / "room.toml",
        f"""
[room]
name = "{ROOM}"
[record]
path = "{tmp_path / "record.sqlite"}"
[mqtt]
url = "{broker.url}"
[music]
enabled = false
""",
    )


@dataclass
class Replies:
    by_topic: Counter[str] = field(default_factory=Counter)
    documents: list[dict[str, object]] = field(default_factory=list)
    states: list[dict[str, object]] = field(default_factory=list)
    events: list[dict[str, object]] = field(default_factory=list)

    @property
    def count(self) -> int:
        return sum(self.by_topic.values())


@contextlib.asynccontextmanager
async def listening(port: int) -> AsyncIterator[Replies]:
    replies = Replies()

    async def collect(client: aiomqtt.Client) -> None:
        async for message in client.messages:
            assert isinstance(message.payload, bytes)
            topic = message.topic.value
            if topic == f"{BASE}/state":
                replies.states.append(json.loads(message.payload))
            elif topic == f"{BASE}/events":
                replies.events.append(json.loads(message.payload))
            else:
                replies.by_topic[topic] += 1
                replies.documents.append(json.loads(message.payload))

    async with aiomqtt.Client(
        "127.0.0.1", port, socket_options=NO_DELAY, max_queued_incoming_messages=0
    ) as client:
        for topic_filter in (f"{BASE}/cmd/+/reply", f"{BASE}/state", f"{BASE}/events"):
            await client.subscribe(topic_filter, qos=1)
        # The empty verb's reply topic has an empty level: "+" matches it too.
        task = asyncio.create_task(collect(client))
        try:
            yield replies
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def until(what: str, predicate: Callable[[], bool], proc: Proc) -> None:
    deadline = time.monotonic() + WAIT_S
    while not predicate():
        assert proc.popen.poll() is None, f"the daemon died:\n{proc.stderr()[-3000:]}"
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


def _below(replies: Replies, sent: int) -> bool:
    return sent - replies.count < WINDOW


def _stable(state: dict[str, object]) -> dict[str, object]:
    """The state without its clock (``at``, session time, the engine's now)."""
    engine = state.get("engine")
    assert isinstance(engine, dict)
    return {
        **{k: v for k, v in state.items() if k not in {"at", "session_time_s"}},
        "engine": {k: v for k, v in engine.items() if k not in {"now_mono", "now_at"}},
    }


async def test_malformed_commands_change_nothing_and_are_each_answered(
    tmp_path: Path, broker: Broker, spawn: Callable[..., Proc]
) -> None:
    commands = list(generate(COUNT, SEED))
    async with (
        listening(broker.port) as replies,
        aiomqtt.Client("127.0.0.1", broker.port, socket_options=NO_DELAY) as sender,
    ):
        daemon = spawn(
            "-m", "roomctl", "run", "--config", str(_config(tmp_path, broker))
        )
        await until("the room's state", lambda: bool(replies.states), daemon)
        before = _stable(replies.states[-1])

        started = time.monotonic()
        for n, command in enumerate(commands):
            if n - replies.count >= WINDOW:
                await until("replies", functools.partial(_below, replies, n), daemon)
            await sender.publish(
                f"{BASE}/cmd/{command.verb}", command.payload, qos=n % 2
            )
        await until("every reply", lambda: replies.count >= COUNT, daemon)
        elapsed = time.monotonic() - started
        states_seen = len(replies.states)
        await until(
            "a state after the flood",
            lambda: len(replies.states) > states_seen + 1,
            daemon,
        )
        after = _stable(replies.states[-1])

        phase_events = [e for e in replies.events if e.get("type") == "phase"]
        # A valid command still works.
        await sender.publish(
            f"{BASE}/cmd/phase", b'{"phase": "dosing", "id": "after"}', qos=1
        )
        await until("the good reply", lambda: replies.count == COUNT + 1, daemon)
        daemon.popen.send_signal(signal.SIGTERM)
        assert daemon.popen.wait(timeout=10) == 0

    print(  # noqa: T201 -- the figure for RELIABILITY.md
        f"{COUNT} malformed commands answered in {elapsed:.1f} s "
        f"({COUNT / elapsed:,.0f}/s)"
    )
    # One reply per command, on its verb's reply topic.
    expected = Counter(f"{BASE}/cmd/{c.verb}/reply" for c in commands)
    expected[f"{BASE}/cmd/phase/reply"] += 1
    assert replies.by_topic == expected
    *flood, good = replies.documents
    assert good == {"ok": True, "id": "after"}
    assert all(reply["ok"] is False for reply in flood)
    assert all(isinstance(r["error"], str) and r["error"] for r in flood)
    # Each readable id is echoed exactly once.
    echoed = Counter(str(r["id"]) for r in flood if "id" in r)
    assert echoed == Counter(c.command_id for c in commands if c.command_id)

    # Nothing changed, and nothing was carried out.
    assert after == before
    assert phase_events == []
    # (QoS 1 may deliver an event twice; ``run`` and ``seq`` name each one.)
    phases = {
        (e["run"], e["seq"]): e["phase"]
        for e in replies.events
        if e.get("type") == "phase"
    }
    assert list(phases.values()) == ["dosing"]
    with contextlib.closing(sqlite3.connect(tmp_path / "record.sqlite")) as record:
        results = [
            json.loads(payload)
            for (payload,) in record.execute(
                "SELECT payload FROM events WHERE type = 'command_result'"
            )
        ]
    refused_by_room = [c for c in commands if c.reaches_room]
    assert Counter(r["command_id"] for r in results if r["ok"] is False) == Counter(
        c.command_id for c in refused_by_room
    )
    assert [r["command_id"] for r in results if r["ok"] is True] == ["after"]
    log = daemon.log_lines()
    assert not [line for line in log if line["level"] in {"error", "critical"}]
