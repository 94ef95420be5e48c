"""MqttBridge's decisions without a broker: what gets queued, what gets answered."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, cast

import aiomqtt
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.reasoncodes import ReasonCode

from roomctl.bus import EventBus
from roomctl.events import (
    AlarmChanged,
    AlarmKind,
    AlarmPriority,
    AlarmTransition,
    Command,
    CommandHandled,
    DeviceStale,
    NoteAdded,
    ReadingReceived,
    Role,
    StateSnapshot,
)
from roomctl.mqtt.bridge import PUBLISH_TIMEOUT_S, MqttBridge
from roomctl.mqtt.settings import MqttSettings
from roomctl.readings import Metric, Reading, ReadingStatus

if TYPE_CHECKING:
    from roomctl.clock import VirtualClock


class Boom(RuntimeError):
    pass


def _bridge(
    clock: VirtualClock, bus: EventBus, handled: list[Command] | None = None
) -> MqttBridge:
    def handle(command: Command) -> CommandHandled:
        if handled is None:
            raise Boom("engine fault")
        handled.append(command)
        return CommandHandled(
            occurred_mono=command.occurred_mono,
            occurred_at=command.occurred_at,
            command_id=command.command_id,
            verb=command.verb,
            ok=True,
        )

    return MqttBridge(
        settings=MqttSettings(max_queued_events=10),
        room="room-1",
        bus=bus,
        clock=clock,
        handle_command=handle,
        t0_mono=0.0,
    )


def _alarm(clock: VirtualClock, code: str) -> AlarmChanged:
    return AlarmChanged(
        occurred_mono=clock.monotonic(),
        occurred_at=clock.now_utc(),
        transition=AlarmTransition.RAISED,
        code=code,
        priority=AlarmPriority.MEDIUM,
        kind=AlarmKind.TECHNICAL,
    )


def _queued(bridge: MqttBridge) -> list[tuple[str, dict[str, object]]]:
    out = []
    while (item := bridge._outbox.peek()) is not None:
        out.append((item.topic.rsplit("/", 1)[1], json.loads(item.payload)))
        bridge._outbox.done(item)
    return out


def test_bridge_queues_what_was_published_before_it_ran(clock: VirtualClock) -> None:
    bus = EventBus()
    bridge = _bridge(clock, bus, [])
    bus.publish(_alarm(clock, "a.1"))
    clock.advance(2.5)
    bus.publish(
        DeviceStale(
            occurred_mono=clock.monotonic(),
            occurred_at=clock.now_utc(),
            device="oximeter",
            silent_s=10.0,
        )
    )
    bus.publish(
        NoteAdded(
            occurred_mono=clock.monotonic(),
            occurred_at=clock.now_utc(),
            text="free text never leaves the room",
            by=Role.NURSE,
        )
    )
    bus.publish(_alarm(clock, "a.2"))
    bridge._drain_bus()
    queued = _queued(bridge)
    assert [(topic, d["type"], d["seq"]) for topic, d in queued] == [
        ("alarms", "alarm", 1),
        ("events", "link", 1),
        ("alarms", "alarm", 2),
    ]
    assert queued[1][1]["t"] == 2.5
    assert {d["run"] for _, d in queued} == {bridge.run_id}
    assert "free text" not in json.dumps(queued)


def test_bridge_keeps_no_vitals_while_disconnected(clock: VirtualClock) -> None:
    bus = EventBus()
    bridge = _bridge(clock, bus, [])
    bus.publish(
        ReadingReceived(
            occurred_mono=0.0,
            occurred_at=clock.now_utc(),
            reading=Reading(
                device="oximeter",
                metric=Metric.SPO2_PERCENT,
                value=97.0,
                status=ReadingStatus.OK,
                received_mono=0.0,
                received_at=clock.now_utc(),
            ),
        )
    )
    bridge._drain_bus()
    assert not bridge._vitals
    assert bridge.queued == 0
    assert not bridge.connected


def test_bridge_holds_state_only_when_it_changed(clock: VirtualClock) -> None:
    bus = EventBus()
    bridge = _bridge(clock, bus, [])

    def snapshot(phase: str) -> StateSnapshot:
        clock.advance(1.0)
        return StateSnapshot(
            occurred_mono=clock.monotonic(),
            occurred_at=clock.now_utc(),
            state={"phase": phase},
        )

    bus.publish(snapshot("peak"))
    bridge._drain_bus()
    assert bridge._state_pending is not None
    bridge._state_published, bridge._state_pending = bridge._state_pending, None
    bus.publish(snapshot("peak"))  # same apart from its time
    bridge._drain_bus()
    assert bridge._state_pending is None
    bus.publish(snapshot("return"))
    bus.publish(snapshot("peak"))  # changed back before it was sent
    bridge._drain_bus()
    assert bridge._state_pending is None


def test_bridge_drops_the_oldest_events_beyond_its_bound_but_no_alarm(
    clock: VirtualClock,
) -> None:
    bus = EventBus()
    bridge = _bridge(clock, bus, [])
    for n in range(30):
        bus.publish(_alarm(clock, f"a.{n}"))
        bus.publish(
            DeviceStale(
                occurred_mono=float(n),
                occurred_at=clock.now_utc(),
                device="oximeter",
                silent_s=10.0,
            )
        )
    bridge._drain_bus()
    queued = _queued(bridge)
    assert [d["seq"] for topic, d in queued if topic == "alarms"] == list(range(1, 31))
    assert [d["seq"] for topic, d in queued if topic == "events"] == list(range(21, 31))


def _message(verb: str, payload: bytes, *, retain: bool = False) -> aiomqtt.Message:
    return aiomqtt.Message(f"roomctl/room-1/cmd/{verb}", payload, 1, retain, 1, None)


def test_bridge_answers_a_repeated_id_without_redoing_it(clock: VirtualClock) -> None:
    handled: list[Command] = []
    bridge = _bridge(clock, EventBus(), handled)
    payload = b'{"code": "spo2.low", "by": "nurse", "id": "k"}'
    replies = [
        bridge._on_command("acknowledge", payload, _message("acknowledge", payload))
        for _ in range(3)
    ]
    assert [json.loads(r) for r in replies] == [{"ok": True, "id": "k"}] * 3
    assert len(handled) == 1
    assert handled[0].source == "mqtt"


def test_bridge_refuses_a_retained_command(clock: VirtualClock) -> None:
    handled: list[Command] = []
    bridge = _bridge(clock, EventBus(), handled)
    reply = bridge._on_command(
        "audio_pause", b"", _message("audio_pause", b"", retain=True)
    )
    assert json.loads(reply)["ok"] is False
    assert handled == []


def test_bridge_answers_even_when_the_daemon_fails_on_a_command(
    clock: VirtualClock, caplog: pytest.LogCaptureFixture
) -> None:
    bridge = _bridge(clock, EventBus(), None)
    reply = bridge._on_command("nibp_start", b"{}", _message("nibp_start", b"{}"))
    assert json.loads(reply) == {
        "ok": False,
        "error": "the daemon could not carry out the command",
    }
    assert any(r.exc_info and r.exc_info[0] is Boom for r in caplog.records)


@pytest.mark.parametrize("room", ["", "a/b", "a+", "#", "$sys"])
def test_bridge_refuses_a_room_that_is_not_one_topic_level(
    clock: VirtualClock, room: str
) -> None:
    with pytest.raises(ValueError, match="not usable as an MQTT topic level"):
        MqttBridge(
            settings=MqttSettings(),
            room=room,
            bus=EventBus(),
            clock=clock,
            handle_command=lambda c: CommandHandled(
                occurred_mono=0.0,
                occurred_at=c.occurred_at,
                command_id="",
                verb=c.verb,
                ok=True,
            ),
            t0_mono=0.0,
        )


def test_bridge_survives_an_event_it_cannot_encode(
    clock: VirtualClock, caplog: pytest.LogCaptureFixture
) -> None:
    bus = EventBus()
    bridge = _bridge(clock, bus, [])
    bus.publish(
        StateSnapshot(
            occurred_mono=0.0, occurred_at=clock.now_utc(), state={"x": object()}
        )
    )
    bus.publish(
        StateSnapshot(occurred_mono=0.0, occurred_at=clock.now_utc(), state={"y": 1})
    )
    bridge._drain_bus()
    assert "could not publish a StateSnapshot event" in caplog.text
    assert bridge._state_pending is not None
    assert bridge._state_pending.document["y"] == 1


class FakeClient:
    """Just enough of aiomqtt.Client for ``_greet``."""

    def __init__(self, refuse: str) -> None:
        self.refuse = refuse
        self.identifier = "fake"
        self.subscribed: list[str] = []
        self.published: list[tuple[str, bytes, bool]] = []

    async def subscribe(self, topic: str, qos: int) -> list[ReasonCode]:
        self.subscribed.append(topic)
        code = 0x80 if topic == self.refuse else qos
        return [ReasonCode(PacketTypes.SUBACK, identifier=code)]

    async def publish(
        self, topic: str, payload: bytes, *, qos: int, retain: bool, timeout: float
    ) -> None:
        assert (qos, timeout) == (1, PUBLISH_TIMEOUT_S)
        self.published.append((topic, payload, retain))


async def test_bridge_subscribes_says_online_and_warns_of_a_refused_subscription(
    clock: VirtualClock, caplog: pytest.LogCaptureFixture
) -> None:
    bridge = _bridge(clock, EventBus(), [])
    bridge.listen(["zigbee2mqtt/#"], lambda _topic, _payload: None)
    client = FakeClient(refuse="zigbee2mqtt/#")
    # Duck-typed stand-in: _greet only subscribes and publishes.
    await bridge._greet(cast("aiomqtt.Client", client))
    assert client.subscribed == ["roomctl/room-1/cmd/+", "zigbee2mqtt/#"]
    assert client.published == [("roomctl/room-1/status", b"online", True)]
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert warnings == [
        "the MQTT broker refused the subscription to zigbee2mqtt/# (its ACL?)"
    ]
