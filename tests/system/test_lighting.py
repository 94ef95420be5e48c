"""The light controller drives the simulated Zigbee2MQTT bulb through mosquitto."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import signal
import time
from typing import TYPE_CHECKING

import aiomqtt
import pytest

from roomctl.lighting import MqttLightController
from roomctl.scenes import LightingSettings, LightScene
from simulators.light import BulbState, LightSimulator

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Coroutine

    from roomctl.events import TechnicalNotice
    from tests.broker import Broker
    from tests.system.conftest import Proc

pytestmark = pytest.mark.broker

NAME = "room-1/ceiling"
WAIT_S = 5.0
_bases = itertools.count()


def unique_base() -> str:
    """A fresh Zigbee2MQTT base topic, so retained messages never leak between tests."""
    return f"z2m-test-{time.monotonic_ns()}-{next(_bases)}"


class Link:
    """What the daemon's MQTT client does for lighting: publish, route, reconnect."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.client: aiomqtt.Client | None = None
        self.connections = 0
        self.connected = asyncio.Event()
        self.topics: tuple[str, ...] = ()
        self.on_message: Callable[[str, bytes], None] = lambda _t, _p: None

    def attach(self, controller: MqttLightController) -> None:
        self.topics = controller.subscriptions
        self.on_message = controller.handle_message

    async def publish(self, topic: str, payload: bytes, qos: int, retain: bool) -> None:
        client = self.client
        if client is None:
            raise aiomqtt.MqttError("not connected")
        await client.publish(topic, payload, qos=qos, retain=retain)

    async def run(self) -> None:
        client = aiomqtt.Client("127.0.0.1", self.port)
        while True:
            try:
                async with client:
                    for topic in self.topics:
                        await client.subscribe(topic, qos=1)
                    raise_if_cancelling()
                    self.client = client
                    self.connections += 1
                    self.connected.set()
                    async for message in client.messages:
                        self.on_message(str(message.topic), message.payload)
            except aiomqtt.MqttError:
                self.client = None
                self.connected.clear()
                raise_if_cancelling()
                await asyncio.sleep(0.1)


def raise_if_cancelling() -> None:
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


async def eventually(
    predicate: Callable[[], bool], what: str, timeout: float = WAIT_S
) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def background(
    *coroutines: Coroutine[object, object, None],
) -> AsyncIterator[list[asyncio.Task[None]]]:
    async with asyncio.TaskGroup() as tg:
        tasks = [tg.create_task(c) for c in coroutines]
        try:
            yield tasks
        finally:
            # Cancel until done: aiomqtt on 3.11 can swallow one (CPython gh-86296).
            while not all(task.done() for task in tasks):
                for task in tasks:
                    task.cancel()
                await asyncio.wait(tasks, timeout=0.1)


def rig(
    broker: Broker,
    *,
    lights: tuple[str, ...] = (NAME,),
    **settings: object,
) -> tuple[MqttLightController, Link, list[TechnicalNotice], str]:
    base = unique_base()
    link = Link(broker.port)
    notices: list[TechnicalNotice] = []
    controller = MqttLightController(
        settings=LightingSettings.model_validate(
            {"lights": list(lights), "base_topic": base, **settings}
        ),
        publish=link.publish,
        on_notice=notices.append,
    )
    link.attach(controller)
    return controller, link, notices, base


async def ready(*events: asyncio.Event) -> None:
    async with asyncio.timeout(WAIT_S):
        for event in events:
            await event.wait()


def looks_like(state: BulbState, *, brightness: int, color_temp: int) -> bool:
    return state.on and (state.brightness, state.color_temp) == (brightness, color_temp)


async def test_scene_change_reaches_the_bulb_and_its_report_comes_back(
    broker: Broker,
) -> None:
    controller, link, notices, base = rig(broker, confirm_timeout_s=2)
    simulator = LightSimulator(port=broker.port, names=[NAME], base_topic=base)
    async with background(simulator.run(), link.run(), controller.run()):
        await ready(simulator.connected, link.connected)
        scene = LightScene.warm("test", brightness=0.3, kelvin=2700, transition_s=0.3)
        await controller.apply(scene)
        await eventually(
            lambda: looks_like(simulator.state(NAME), brightness=76, color_temp=370),
            "the bulb to show 30 % at 2700 K",
        )
        await eventually(
            lambda: controller.status.reported.get(NAME) == pytest.approx(76 / 254),
            "the bulb's state report",
        )
        assert simulator.bulbs[NAME].commands[-1] == {
            "state": "ON",
            "brightness": 76,
            "color_temp": 370,
            "transition": 0.3,
        }
        await asyncio.sleep(0.1)
        controller.check_confirmations()
        assert controller.status.ok
        assert notices == []


async def test_short_ramp_steps_the_bulb_up_to_the_target(broker: Broker) -> None:
    controller, link, notices, base = rig(broker, ramp_step_s=0.5)
    simulator = LightSimulator(port=broker.port, names=[NAME], base_topic=base)
    async with background(simulator.run(), link.run(), controller.run()):
        await ready(simulator.connected, link.connected)
        start = LightScene.warm("start", brightness=0.1, kelvin=2200, transition_s=0)
        await controller.apply(start)
        await eventually(
            lambda: looks_like(simulator.state(NAME), brightness=25, color_temp=455),
            "the starting scene",
        )
        commands_before = len(simulator.bulbs[NAME].commands)
        target = LightScene.warm("up", brightness=0.5, kelvin=4000, transition_s=1.5)
        await controller.apply(target)
        samples: list[BulbState] = []
        deadline = time.monotonic() + WAIT_S
        while not looks_like(simulator.state(NAME), brightness=127, color_temp=250):
            assert time.monotonic() < deadline, samples[-5:]
            samples.append(simulator.state(NAME))
            await asyncio.sleep(0.02)
    steps = simulator.bulbs[NAME].commands[commands_before:]
    assert len(steps) == 3
    assert [s["transition"] for s in steps] == [0.5, 0.5, 0.5]
    assert [s["brightness"] for s in steps] == [59, 93, 127]
    levels = [s.brightness for s in samples]
    assert levels == sorted(levels), "the light only rises"
    assert any(40 < level < 110 for level in levels), "it passed through the middle"
    temps = [s.color_temp for s in samples]
    assert temps == sorted(temps, reverse=True), "and only gets cooler"
    assert controller.status.scene == "up"
    assert notices == []


async def test_a_light_nobody_answers_for_is_a_notice_not_an_error(
    broker: Broker,
) -> None:
    controller, link, notices, base = rig(
        broker, lights=("room-1/nope",), confirm_timeout_s=0.5
    )
    simulator = LightSimulator(port=broker.port, names=[NAME], base_topic=base)
    async with background(simulator.run(), link.run(), controller.run()) as tasks:
        await ready(simulator.connected, link.connected)
        await controller.apply(LightScene.warm("x", brightness=0.2, kelvin=2700))
        await eventually(lambda: bool(notices), "a notice", timeout=3)
        assert not any(task.done() for task in tasks)
    assert notices[0].component == "lighting"
    assert "light room-1/nope did not answer within 0.5 s" in notices[0].text
    assert "not answering: room-1/nope" in controller.status.problem
    assert simulator.bulbs[NAME].commands == []


async def test_no_bridge_at_all_is_a_notice(broker: Broker) -> None:
    controller, link, notices, _ = rig(broker, confirm_timeout_s=0.3)
    async with background(link.run(), controller.run()) as tasks:
        await ready(link.connected)
        await controller.apply(LightScene.warm("x", brightness=0.2, kelvin=2700))
        await eventually(lambda: bool(notices), "a notice", timeout=3)
        assert not any(task.done() for task in tasks)
    assert "zigbee2mqtt bridge is running" in notices[0].text


async def test_bridge_going_offline_and_back_is_noticed_and_reasserted(
    broker: Broker,
) -> None:
    controller, link, notices, base = rig(broker)
    simulator = LightSimulator(port=broker.port, names=[NAME], base_topic=base)
    scene = LightScene.warm("test", brightness=0.2, kelvin=2700, transition_s=0)
    async with background(link.run(), controller.run()):
        async with background(simulator.run()):
            await ready(simulator.connected, link.connected)
            await controller.apply(scene)
            await eventually(
                lambda: looks_like(
                    simulator.state(NAME), brightness=51, color_temp=370
                ),
                "the scene",
            )
        await eventually(
            lambda: "offline: bridge" in controller.status.problem, "bridge offline"
        )
        simulator.power_cycle(NAME)  # the bridge and bulb restart: full white
        async with background(simulator.run()):
            await eventually(
                lambda: looks_like(
                    simulator.state(NAME), brightness=51, color_temp=370
                ),
                "the scene sent again once the bridge is back",
            )
    texts = [n.text for n in notices]
    assert "bridge is offline" in texts
    assert "bridge is back online" in texts


async def test_broker_restart_then_reassert_restores_the_scene(broker: Broker) -> None:
    controller, link, notices, base = rig(broker)
    simulator = LightSimulator(port=broker.port, names=[NAME], base_topic=base)
    scene = LightScene.warm("peak", brightness=0.08, kelvin=2200, transition_s=0.2)
    async with background(simulator.run(), link.run(), controller.run()):
        await ready(simulator.connected, link.connected)
        await controller.apply(scene)
        await eventually(
            lambda: looks_like(simulator.state(NAME), brightness=20, color_temp=455),
            "the scene",
        )
        await asyncio.to_thread(broker.restart)
        simulator.power_cycle(NAME)  # the room lost power with the broker
        await eventually(
            lambda: link.connections == 2 and simulator.connections == 2,
            "both clients to reconnect",
        )
        assert simulator.state(NAME).brightness == 254, "nothing fixed it yet"
        await controller.reassert()
        await eventually(
            lambda: looks_like(simulator.state(NAME), brightness=20, color_temp=455),
            "the scene restored",
        )
    assert notices == []


async def test_scene_asked_for_while_the_broker_is_down_arrives_after_reassert(
    broker: Broker,
) -> None:
    controller, link, notices, base = rig(broker, publish_timeout_s=1)
    simulator = LightSimulator(port=broker.port, names=[NAME], base_topic=base)
    async with background(simulator.run(), link.run(), controller.run()) as tasks:
        await ready(simulator.connected, link.connected)
        await asyncio.to_thread(broker.kill)
        await controller.apply(LightScene.warm("late", brightness=0.4, kelvin=3000))
        await eventually(lambda: bool(notices), "a notice")
        assert notices[0].text.startswith("lights unreachable")
        assert not any(task.done() for task in tasks)
        await asyncio.to_thread(broker.start)
        await ready(link.connected, simulator.connected)
        await controller.reassert()
        await eventually(
            lambda: looks_like(simulator.state(NAME), brightness=102, color_temp=333),
            "the scene after the outage",
        )
    assert notices[-1].text == "lights reachable again"


async def test_simulator_ignores_bad_commands_and_answers_get(broker: Broker) -> None:
    base = unique_base()
    simulator = LightSimulator(port=broker.port, names=[NAME], base_topic=base)
    async with (
        background(simulator.run()),
        aiomqtt.Client("127.0.0.1", broker.port) as client,
    ):
        await ready(simulator.connected)
        await client.subscribe(f"{base}/{NAME}", qos=1)
        async with asyncio.timeout(WAIT_S):
            await anext(aiter(client.messages))  # the retained state
            await client.publish(f"{base}/{NAME}/set", b"not json", qos=1)
            await client.publish(f"{base}/{NAME}/set", b"[1]", qos=1)
            await client.publish(f"{base}/{NAME}/set", b'{"state": "DIM"}', qos=1)
            await client.publish(f"{base}/{NAME}/get", b"{}", qos=1)
            message = await anext(aiter(client.messages))
    assert json.loads(message.payload)["brightness"] == 254
    assert simulator.bulbs[NAME].commands == [{"state": "DIM"}]
    assert simulator.state(NAME).brightness == 254


@pytest.mark.subprocess
async def test_simulator_command_line(
    broker: Broker, spawn: Callable[..., Proc]
) -> None:
    base = unique_base()
    proc = spawn(
        "-m",
        "simulators.light",
        "--broker",
        broker.url,
        "--name",
        "cli/bulb",
        "--base-topic",
        base,
    )
    async with aiomqtt.Client("127.0.0.1", broker.port) as client:
        await client.subscribe(f"{base}/cli/bulb/#", qos=1)
        await client.subscribe(f"{base}/cli/bulb", qos=1)
        seen: dict[str, bytes] = {}

        async def collect(until: Callable[[], bool]) -> None:
            async with asyncio.timeout(10):
                async for message in client.messages:
                    seen[str(message.topic)] = message.payload
                    if until():
                        return

        await collect(lambda: seen.get(f"{base}/cli/bulb/availability") == b"online")
        await client.publish(
            f"{base}/cli/bulb/set", b'{"brightness": 40, "color_temp": 400}', qos=1
        )
        await collect(
            lambda: (
                json.loads(seen.get(f"{base}/cli/bulb", b"{}")).get("brightness") == 40
            )
        )
    proc.popen.send_signal(signal.SIGTERM)
    assert await asyncio.to_thread(proc.popen.wait, 5) == 0
