"""MqttBridge against a real mosquitto: topics, will, commands, outages."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import aiomqtt
import pytest

from roomctl.bus import EventBus
from roomctl.clock import SystemClock
from roomctl.demo import free_port
from roomctl.errors import MqttUnavailable
from roomctl.events import (
    AlarmChanged,
    AlarmKind,
    AlarmPriority,
    AlarmTransition,
    Command,
    CommandHandled,
    CommandVerb,
    DeviceLost,
    Event,
    Phase,
    PhaseChanged,
    ReadingReceived,
    Role,
    StateSnapshot,
)
from roomctl.mqtt.bridge import REPLY_QUEUE_MAX, MqttBridge
from roomctl.mqtt.outbox import SeqFilter
from roomctl.mqtt.settings import MqttSettings
from roomctl.readings import Metric, Reading, ReadingStatus
from tests.broker import Broker

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable
    from pathlib import Path

pytestmark = pytest.mark.broker

CLOCK = SystemClock()
#: Generous: a loaded 2-core CI box; most waits end in milliseconds.
WAIT_S = 10.0
#: Test clients turn Nagle off too: a QoS 0 message followed by a QoS 1 one would
#: otherwise wait for the broker's delayed ACK.
NO_DELAY = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]


# ------------------------------------------------------------------ helpers


@dataclass
class Handler:
    """Stands in for ReadingPipeline.command; refuses closing the session."""

    commands: list[Command] = field(default_factory=list)

    def __call__(self, command: Command) -> CommandHandled:
        self.commands.append(command)
        refused = command.verb is CommandVerb.PHASE and command.args == {
            "phase": "closed"
        }
        return CommandHandled(
            occurred_mono=command.occurred_mono,
            occurred_at=command.occurred_at,
            command_id=command.command_id,
            verb=command.verb,
            ok=not refused,
            error="the session cannot close during the peak" if refused else "",
        )


@dataclass
class Seen:
    """What an observing client received."""

    messages: list[aiomqtt.Message] = field(default_factory=list)

    def on(self, topic: str) -> list[aiomqtt.Message]:
        return [m for m in self.messages if m.topic.value == topic]

    def payloads(self, topic: str) -> list[bytes]:
        return [bytes(m.payload) for m in self.on(topic)]

    def documents(self, topic: str) -> list[dict[str, object]]:
        return [json.loads(p) for p in self.payloads(topic)]

    async def wait_for(self, what: str, predicate: Callable[[], bool]) -> None:
        await wait_until(what, predicate)


async def wait_until(what: str, predicate: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT_S
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


async def _record(client: aiomqtt.Client, seen: Seen) -> None:
    # The outage test kills the broker under the observer too: stop quietly then.
    with contextlib.suppress(aiomqtt.MqttError):
        async for message in client.messages:
            seen.messages.append(message)


@contextlib.asynccontextmanager
async def observing(
    port: int, *filters: str, persistent_id: str | None = None
) -> AsyncIterator[Seen]:
    seen = Seen()
    async with aiomqtt.Client(
        "127.0.0.1",
        port,
        identifier=persistent_id,
        clean_session=persistent_id is None,
        socket_options=NO_DELAY,
    ) as client:
        for topic_filter in filters:
            await client.subscribe(topic_filter, qos=1)
        async with asyncio.TaskGroup() as tg:
            task = tg.create_task(_record(client, seen))
            try:
                yield seen
            finally:
                task.cancel()


@contextlib.asynccontextmanager
async def running(bridge: MqttBridge) -> AsyncIterator[asyncio.Task[None]]:
    async with asyncio.TaskGroup() as tg:
        task = tg.create_task(bridge.run(), name="bridge")
        try:
            await wait_until("the bridge to connect", lambda: bridge.connected)
            yield task
        finally:
            task.cancel()


def settings_for(port: int, **overrides: object) -> MqttSettings:
    return MqttSettings.model_validate(
        {
            "url": f"mqtt://127.0.0.1:{port}",
            "reconnect_base_s": 0.05,
            "reconnect_cap_s": 0.3,
            **overrides,
        }
    )


def make_bridge(
    port: int,
    room: str,
    bus: EventBus,
    handler: Handler | None = None,
    **overrides: object,
) -> MqttBridge:
    return MqttBridge(
        settings=settings_for(port, **overrides),
        room=room,
        bus=bus,
        clock=CLOCK,
        handle_command=handler if handler is not None else Handler(),
        t0_mono=CLOCK.monotonic() - 100.0,
    )


def alarm(code: str) -> AlarmChanged:
    return AlarmChanged(
        occurred_mono=CLOCK.monotonic(),
        occurred_at=CLOCK.now_utc(),
        transition=AlarmTransition.RAISED,
        code=code,
        priority=AlarmPriority.HIGH,
        kind=AlarmKind.PHYSIOLOGICAL,
        value=84.0,
        limit=85.0,
    )


def snapshot(**state: object) -> StateSnapshot:
    return StateSnapshot(
        occurred_mono=CLOCK.monotonic(), occurred_at=CLOCK.now_utc(), state=state
    )


def publish_all(bus: EventBus, events: list[Event]) -> None:
    for event in events:
        bus.publish(event)


# ------------------------------------------------------------------ status and will


async def test_status_is_retained_online_and_offline_after_a_clean_stop(
    broker: Broker,
) -> None:
    bridge = make_bridge(broker.port, "status-room", EventBus())
    status = bridge.topics.status
    async with running(bridge), observing(broker.port, status) as seen:
        await seen.wait_for("online", lambda: bool(seen.on(status)))
        assert seen.on(status)[0].retain
        assert seen.payloads(status) == [b"online"]
    async with observing(broker.port, status) as seen:
        await seen.wait_for("offline", lambda: bool(seen.on(status)))
        assert seen.payloads(status) == [b"offline"]
        assert seen.on(status)[0].retain


async def test_broker_announces_the_will_when_the_connection_dies(
    broker: Broker,
) -> None:
    bridge = make_bridge(broker.port, "will-room", EventBus())
    status = bridge.topics.status
    async with running(bridge), observing(broker.port, status) as seen:
        await seen.wait_for("online", lambda: seen.payloads(status) == [b"online"])
        # Drop the TCP connection without an MQTT DISCONNECT, as a crash would.
        assert bridge._client is not None
        sock = bridge._client._client.socket()
        assert isinstance(sock, socket.socket)
        sock.shutdown(socket.SHUT_RDWR)
        await seen.wait_for(
            "the will, then online again",
            lambda: seen.payloads(status) == [b"online", b"offline", b"online"],
        )


async def test_bridge_retries_quietly_while_there_is_no_broker(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bridge = make_bridge(free_port(), "nobody-room", EventBus())
    async with asyncio.TaskGroup() as tg:
        task = tg.create_task(bridge.run())
        await asyncio.sleep(0.8)
        assert not task.done()
        task.cancel()
    records = [r for r in caplog.records if r.name == "roomctl.mqtt.bridge"]
    warnings = [r for r in records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1
    assert "unavailable" in warnings[0].getMessage()
    assert len(records) > 2  # the repeats, at DEBUG


# ------------------------------------------------------------------ outgoing


async def test_state_is_retained_and_sent_on_change_at_most_once_a_second(
    broker: Broker,
) -> None:
    bus = EventBus()
    bridge = make_bridge(broker.port, "state-room", bus)
    state = bridge.topics.state
    async with running(bridge):
        bus.publish(snapshot(phase="peak", music={"state": "playing"}))
        await wait_until("the state", lambda: bridge._state_published is not None)
        async with observing(broker.port, state) as seen:
            await seen.wait_for("the state", lambda: bool(seen.on(state)))
            first = seen.on(state)[0]
            assert first.retain  # delivered as the retained copy
            document = json.loads(first.payload)
            assert document["phase"] == "peak"
            assert document["music"] == {"state": "playing"}
            assert document["room"] == "state-room"
            assert str(document["at"]).endswith("Z")
            started = time.monotonic()
            bus.publish(snapshot(phase="peak", music={"state": "playing"}))  # same
            bus.publish(snapshot(phase="return", music={"state": "playing"}))
            bus.publish(snapshot(phase="return", music={"state": "paused"}))
            await seen.wait_for("the change", lambda: len(seen.on(state)) == 2)
            await asyncio.sleep(0.3)
        assert time.monotonic() - started >= 0.5  # held back: 1 s since the first
        phases = [(d["phase"], d["music"]) for d in seen.documents(state)]
        assert phases == [
            ("peak", {"state": "playing"}),
            ("return", {"state": "paused"}),
        ]
        bus.publish(snapshot(phase="closed", music={"state": "stopped"}))
    # Stopping sends the final state at once, whatever the pacing.
    async with observing(broker.port, state) as seen_after:
        await seen_after.wait_for("the final state", lambda: bool(seen_after.messages))
    assert seen_after.documents(state)[0]["phase"] == "closed"


async def test_state_is_published_again_after_the_broker_forgot_it(
    broker: Broker,
) -> None:
    bus = EventBus()
    bridge = make_bridge(broker.port, "forgetful-room", bus)
    async with running(bridge):
        bus.publish(snapshot(phase="integration"))
        await wait_until("the state", lambda: bridge._state_published is not None)
        broker.restart()  # no persistence: every retained message is gone
        await wait_until("the bridge to reconnect", lambda: bridge.connections == 2)
        async with observing(broker.port, bridge.topics.state) as seen:
            await seen.wait_for("the state", lambda: bool(seen.messages))
    assert seen.documents(bridge.topics.state)[0]["phase"] == "integration"


async def test_a_disabled_bridge_keeps_nothing_and_waits() -> None:
    bus = EventBus()
    bridge = make_bridge(free_port(), "off-room", bus, enabled=False)
    bus.publish(alarm("spo2.low"))
    async with asyncio.TaskGroup() as tg:
        task = tg.create_task(bridge.run())
        await asyncio.sleep(0.05)
        assert not task.done()
        task.cancel()
    bridge._drain_bus()
    assert bridge.queued == 0


async def test_vitals_and_events_carry_the_event_stream_lines(broker: Broker) -> None:
    bus = EventBus()
    bridge = make_bridge(broker.port, "lines-room", bus)
    topics = bridge.topics
    async with (
        running(bridge),
        observing(broker.port, topics.vitals, topics.events) as seen,
    ):
        now_mono, now_at = CLOCK.monotonic(), CLOCK.now_utc()
        reading = Reading(
            device="oximeter",
            metric=Metric.SPO2_PERCENT,
            value=97.0,
            status=ReadingStatus.OK,
            received_mono=now_mono,
            received_at=now_at,
        )
        publish_all(
            bus,
            [
                ReadingReceived(
                    occurred_mono=now_mono, occurred_at=now_at, reading=reading
                ),
                PhaseChanged(
                    occurred_mono=now_mono,
                    occurred_at=now_at,
                    phase=Phase.DOSING,
                    previous=Phase.PREPARATION,
                    by=Role.THERAPIST,
                ),
                DeviceLost(
                    occurred_mono=now_mono,
                    occurred_at=now_at,
                    device="oximeter",
                    reason="cable pulled",
                ),
            ],
        )
        await seen.wait_for(
            "a vital and two events",
            lambda: (
                len(seen.on(topics.vitals)) == 1 and len(seen.on(topics.events)) == 2
            ),
        )
    vital = seen.on(topics.vitals)[0]
    assert vital.qos == 0
    line = json.loads(vital.payload)
    assert line["type"] == "reading"
    assert line["metric"] == "spo2_percent"
    assert line["value"] == 97.0
    assert line["room"] == "lines-room"
    assert 99.0 < line["t"] < 120.0  # t0 was 100 s before
    phase, link = seen.documents(topics.events)
    assert (phase["type"], phase["phase"], phase["by"]) == (
        "phase",
        "dosing",
        "therapist",
    )
    assert (link["type"], link["dev"], link["state"]) == ("link", "oximeter", "lost")
    assert (phase["seq"], link["seq"]) == (1, 2)
    assert phase["run"] == bridge.run_id


async def test_vitals_are_not_kept_while_the_broker_is_away() -> None:
    bus = EventBus()
    bridge = make_bridge(free_port(), "away-room", bus)
    bus.publish(
        ReadingReceived(
            occurred_mono=CLOCK.monotonic(),
            occurred_at=CLOCK.now_utc(),
            reading=Reading(
                device="oximeter",
                metric=Metric.PULSE_RATE_BPM,
                value=70.0,
                status=ReadingStatus.OK,
                received_mono=CLOCK.monotonic(),
                received_at=CLOCK.now_utc(),
            ),
        )
    )
    bus.publish(alarm("spo2.low"))
    bridge._drain_bus()
    assert not bridge._vitals
    assert bridge.queued == 1


# ------------------------------------------------------------------ commands


@contextlib.asynccontextmanager
async def commanding(
    broker: Broker, room: str, handler: Handler
) -> AsyncIterator[tuple[MqttBridge, aiomqtt.Client, Seen]]:
    bridge = make_bridge(broker.port, room, EventBus(), handler)
    async with (
        running(bridge),
        observing(broker.port, f"{bridge.topics.base}/cmd/+/reply") as seen,
        aiomqtt.Client("127.0.0.1", broker.port, socket_options=NO_DELAY) as sender,
    ):
        yield bridge, sender, seen


async def test_commands_are_carried_out_and_answered(broker: Broker) -> None:
    handler = Handler()
    async with commanding(broker, "cmd-room", handler) as (bridge, sender, seen):
        topics = bridge.topics
        await sender.publish(
            topics.command("phase"),
            b'{"phase": "dosing", "by": "therapist", "id": "c-1"}',
            qos=1,
        )
        await sender.publish(topics.command("audio_pause"), b"", qos=1)
        await sender.publish(
            topics.command("phase"), b'{"phase": "closed", "id": "c-2"}', qos=1
        )
        await seen.wait_for("three replies", lambda: len(seen.messages) == 3)
    assert seen.documents(topics.reply("phase")) == [
        {"ok": True, "id": "c-1"},
        {"ok": False, "error": "the session cannot close during the peak", "id": "c-2"},
    ]
    assert seen.documents(topics.reply("audio_pause")) == [{"ok": True}]
    first, pause, _ = handler.commands
    assert first.verb is CommandVerb.PHASE
    assert first.args == {"phase": "dosing"}
    assert first.by is Role.THERAPIST
    assert (first.source, first.command_id) == ("mqtt", "c-1")
    assert pause.command_id.startswith(f"mqtt-{bridge.run_id}-")


@pytest.mark.parametrize(
    ("verb", "payload", "error"),
    [
        ("phase", b"{not json", "not valid JSON"),
        ("phase", b'["dosing"]', "must be a JSON object, not a list"),
        ("phase", b'"dosing"', "must be a JSON object, not text"),
        ("dance", b"{}", "unknown command 'dance'"),
        ("phase", b'{"phase": 3}', "phase must be non-empty text"),
        ("music", b'{"action": "volume", "volume": "loud"}', "whole number"),
        ("note", b'{"text": "\xff\xfe"}', "not UTF-8"),
        ("note", b'{"text": "' + b"x" * 5000 + b'"}', "the limit is 4096"),
    ],
)
async def test_invalid_commands_are_refused_with_a_reason(
    broker: Broker, verb: str, payload: bytes, error: str
) -> None:
    handler = Handler()
    async with commanding(broker, "bad-room", handler) as (bridge, sender, seen):
        await sender.publish(bridge.topics.command(verb), payload, qos=1)
        await seen.wait_for("the reply", lambda: len(seen.messages) == 1)
    (reply,) = seen.documents(bridge.topics.reply(verb))
    assert reply["ok"] is False
    assert error in str(reply["error"])
    assert handler.commands == []  # nothing reached the daemon: nothing changed


async def test_a_retained_command_is_never_carried_out(broker: Broker) -> None:
    handler = Handler()
    room = "retained-room"
    async with aiomqtt.Client("127.0.0.1", broker.port) as sender:
        await sender.publish(f"roomctl/{room}/cmd/reset", b'{"code": "x"}', retain=True)
    bridge = make_bridge(broker.port, room, EventBus(), handler)
    try:
        # Listen for the reply first: the refusal comes as soon as the bridge
        # subscribes and the broker hands it the retained command.
        async with (
            observing(broker.port, f"{bridge.topics.base}/cmd/+/reply") as seen,
            running(bridge),
        ):
            await seen.wait_for("the refusal", lambda: len(seen.messages) == 1)
        (reply,) = seen.documents(bridge.topics.reply("reset"))
        assert "retained" in str(reply["error"])
        assert handler.commands == []
    finally:
        async with aiomqtt.Client("127.0.0.1", broker.port) as sender:
            await sender.publish(f"roomctl/{room}/cmd/reset", b"", retain=True)


async def test_a_repeated_command_id_is_answered_but_not_redone(
    broker: Broker,
) -> None:
    handler = Handler()
    async with commanding(broker, "repeat-room", handler) as (bridge, sender, seen):
        for _ in range(2):
            await sender.publish(
                bridge.topics.command("acknowledge"), b'{"id": "ack-7"}', qos=1
            )
        await seen.wait_for("two replies", lambda: len(seen.messages) == 2)
    assert (
        seen.documents(bridge.topics.reply("acknowledge"))
        == [{"ok": True, "id": "ack-7"}] * 2
    )
    assert len(handler.commands) == 1


def _garbage(n: int) -> tuple[str, bytes]:
    kinds: list[tuple[str, bytes]] = [
        ("phase", bytes(range(256))),
        ("note", b"\xc3\x28" * 10),
        ("lights", b"[" * 3000),
        ("music", b'{"action": NaN}'),
        ("reset", b"x" * 5000),
        ("phase", b'{"phase": "\\ud800"}'),
        ("x" * 300, b"{}"),
        ("acknowledge", b"null"),
        ("baseline_confirm", b'{"sbp": 1e400, "reason": "r"}'),
        ("", b"{}"),
    ]
    return kinds[n % len(kinds)]


async def test_a_flood_of_malformed_commands_changes_nothing_and_breaks_nothing(
    broker: Broker,
) -> None:
    # ROOMCTL_MQTT_FLOOD=10000 for the long version (about 4 s).
    count = int(os.environ.get("ROOMCTL_MQTT_FLOOD", "1000"))
    handler = Handler()
    async with commanding(broker, "flood-room", handler) as (bridge, sender, seen):
        for n in range(count):
            verb, payload = _garbage(n)
            await sender.publish(bridge.topics.command(verb), payload, qos=n % 2)
        await _until_quiet(seen)
        await sender.publish(
            bridge.topics.command("nibp_start"), b'{"id": "after-flood"}', qos=1
        )
        await seen.wait_for(
            "the reply to the good command",
            lambda: any(b"after-flood" in p for p in _payloads(seen)),
        )
        assert bridge.connected
    replies = [json.loads(p) for p in _payloads(seen)]
    # Every command is checked; each is answered unless the flood outran the
    # bridge's bounded reply queue (then the oldest replies are dropped).
    assert len(replies) == count + 1 or count > REPLY_QUEUE_MAX
    assert all(r["ok"] is False for r in replies[:-1])
    assert replies[-1] == {"ok": True, "id": "after-flood"}
    assert [c.command_id for c in handler.commands] == ["after-flood"]


async def _until_quiet(seen: Seen) -> None:
    """Wait until no reply has come for 0.3 s."""
    count = -1
    while count != len(seen.messages):
        count = len(seen.messages)
        await asyncio.sleep(0.3)


def _payloads(seen: Seen) -> list[bytes]:
    return [bytes(m.payload) for m in seen.messages]


# ------------------------------------------------------------------ shared client


async def test_other_adapters_share_the_connection(broker: Broker) -> None:
    bridge = make_bridge(broker.port, "shared-room", EventBus())
    heard: list[tuple[str, bytes]] = []
    hooks: list[int] = []

    def on_message(topic: str, payload: bytes) -> None:
        heard.append((topic, payload))
        if payload == b"boom":
            raise RuntimeError("a broken lighting handler")

    async def on_connected() -> None:
        hooks.append(bridge.connections)
        await bridge.publish(
            "zigbee2mqtt/shared-room/ceiling/set", b"{}", qos=1, retain=False
        )

    # The lighting controller's ``publish`` type, checked by mypy.
    publish: Callable[[str, bytes, int, bool], Awaitable[None]] = bridge.publish
    assert publish == bridge.publish

    async def broken_hook() -> None:
        raise RuntimeError("a broken on-connect hook")

    bridge.listen([], print, on_connected=broken_hook)
    bridge.listen(["zigbee2mqtt/shared-room/+"], on_message, on_connected=on_connected)
    with pytest.raises(MqttUnavailable, match="not connected"):
        await bridge.publish(
            "zigbee2mqtt/shared-room/x/set", b"{}", qos=0, retain=False
        )
    async with (
        observing(broker.port, "zigbee2mqtt/shared-room/+/set") as seen,
        running(bridge),
        aiomqtt.Client("127.0.0.1", broker.port, socket_options=NO_DELAY) as bulb,
    ):
        await seen.wait_for("the hook's publish", lambda: len(seen.messages) == 1)
        for payload in (b"boom", b'{"state": "ON"}'):
            await bulb.publish("zigbee2mqtt/shared-room/ceiling", payload, qos=1)
        await bulb.publish("zigbee2mqtt/shared-room/ceiling/deeper", b"x", qos=1)
        await wait_until("both bulb reports", lambda: len(heard) == 2)
        await bridge.publish(
            "zigbee2mqtt/shared-room/lamp/set", b'{"state": "OFF"}', qos=0, retain=False
        )
        await seen.wait_for("the adapter's publish", lambda: len(seen.messages) == 2)
        assert bridge.connected
    assert heard == [
        ("zigbee2mqtt/shared-room/ceiling", b"boom"),
        ("zigbee2mqtt/shared-room/ceiling", b'{"state": "ON"}'),
    ]
    assert hooks == [1]


# ------------------------------------------------------------------ Home Assistant


async def test_home_assistant_discovery_is_announced_and_repeated_on_its_birth(
    broker: Broker,
) -> None:
    bridge = make_bridge(
        broker.port, "ha-room", EventBus(), ha_discovery=True, ha_prefix="hatest"
    )
    async with running(bridge), observing(broker.port, "hatest/+/+/+/config") as seen:
        await seen.wait_for("three configs", lambda: len(seen.messages) == 3)
        configs = {m.topic.value: json.loads(m.payload) for m in seen.messages}
        assert set(configs) == {
            "hatest/select/roomctl_ha-room/phase/config",
            "hatest/sensor/roomctl_ha-room/music/config",
            "hatest/select/roomctl_ha-room/light_scene/config",
        }
        phase = configs["hatest/select/roomctl_ha-room/phase/config"]
        assert phase["command_topic"] == "roomctl/ha-room/cmd/phase"
        assert phase["availability_topic"] == "roomctl/ha-room/status"
        async with aiomqtt.Client("127.0.0.1", broker.port) as ha:
            await ha.publish("hatest/status", b"online", qos=1)
        await seen.wait_for("the second announcement", lambda: len(seen.messages) == 6)
    async with aiomqtt.Client("127.0.0.1", broker.port) as ha:
        for topic in configs:
            await ha.publish(topic, b"", retain=True)


# ------------------------------------------------------------------ outages


@pytest.fixture
def persistent_broker(tmp_path: Path) -> Broker:
    """A broker that keeps sessions across a SIGKILL (saved on every change)."""
    folder = tmp_path / "mosquitto"
    return Broker(
        folder=folder,
        extra_config=(
            "persistence true\n"
            f"persistence_location {folder}/\n"
            "autosave_on_changes true\n"
            "autosave_interval 1\n"
        ),
    )


async def test_alarms_survive_broker_outages_exactly_once_and_in_order(
    persistent_broker: Broker,
) -> None:
    """The contract's promise: no alarm lost across a broker outage, order kept.

    Three times: alarms flow, the broker is killed (SIGKILL), alarms keep coming while
    it is down, it comes back on the same port. The observer has a persistent session
    (clean_session off, saved by the broker on every change), so whichever of it and
    the bridge reconnects first, what the bridge sends is kept for it.
    """
    broker = persistent_broker
    broker.start()
    try:
        bus = EventBus()
        bridge = make_bridge(broker.port, "outage-room", bus)
        topic = bridge.topics.alarms
        sent: list[str] = []

        def raise_alarms(n: int) -> None:
            for _ in range(n):
                code = f"alarm.{len(sent) + 1}"
                sent.append(code)
                bus.publish(alarm(code))

        async with observing(broker.port, topic, persistent_id="outage-observer"):
            pass  # the observer's session now exists, with its subscription
        raise_alarms(5)  # before run(): the bus subscription already exists
        received: list[dict[str, object]] = []
        async with running(bridge):
            for cycle in range(3):
                async with observing(
                    broker.port, topic, persistent_id="outage-observer"
                ) as seen:
                    raise_alarms(10)
                    await seen.wait_for(
                        f"cycle {cycle}: the alarms before the kill",
                        _caught_up(seen, topic, sent),
                    )
                    received += seen.documents(topic)
                    broker.kill()
                    raise_alarms(10)  # the bridge may not even know yet
                    await wait_until(
                        "the bridge to notice", lambda: not bridge.connected
                    )
                    raise_alarms(10)
                    await asyncio.sleep(0.2)
                    broker.start()
                # The observer's connection died with the broker; its session lives
                # on in the broker's persistence file.
            async with observing(
                broker.port, topic, persistent_id="outage-observer"
            ) as seen:
                await seen.wait_for("everything", _caught_up(seen, topic, sent))
                received += seen.documents(topic)
        dedupe = SeqFilter()
        unique = [d for d in received if dedupe.accept(str(d["run"]), _int(d["seq"]))]
        assert _codes(unique) == sent
        assert [d["seq"] for d in unique] == list(range(1, len(sent) + 1))
        assert dedupe.gaps == []
        assert len(sent) == 5 + 3 * 30
    finally:
        broker.stop()


def _codes(documents: list[dict[str, object]]) -> list[str]:
    return [str(d["code"]) for d in documents]


def _int(value: object) -> int:
    assert isinstance(value, int)
    return value


def _caught_up(seen: Seen, topic: str, sent: list[str]) -> Callable[[], bool]:
    """Whether the observer has the newest alarm (they arrive in order)."""
    return lambda: _codes(seen.documents(topic))[-1:] == sent[-1:]
