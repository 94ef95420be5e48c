"""The room over MQTT: the daemon as a process, a real broker, a simulated bulb."""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import TYPE_CHECKING

import aiomqtt
import pytest

from simulators.light import LightSimulator
from tests.system.conftest import write_config

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable
    from pathlib import Path

    from tests.broker import Broker
    from tests.system.conftest import Proc

pytestmark = [pytest.mark.broker, pytest.mark.subprocess]

ROOM = "mqtt-room"
BULB = "mqtt-room/ceiling"


def room_config(tmp_path: Path, broker: Broker) -> Path:
    return write_config(
        tmp_path / "room.toml",
        f"""
[room]
name = "{ROOM}"
[record]
path = "{tmp_path / "record.sqlite"}"
[mqtt]
url = "{broker.url}"
[lighting]
lights = ["{BULB}"]
confirm_timeout_s = 0
[lighting.scenes.preparation]
brightness = 0.45
kelvin = 2700
transition_s = 1
[lighting.scenes.dosing]
brightness = 0.15
kelvin = 2200
transition_s = 1
""",
    )


@contextlib.asynccontextmanager
async def bulb(broker: Broker) -> AsyncIterator[LightSimulator]:
    sim = LightSimulator(port=broker.port, names=[BULB])
    task = asyncio.create_task(sim.run())
    try:
        await asyncio.wait_for(sim.connected.wait(), 10)
        yield sim
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def command(
    client: aiomqtt.Client, verb: str, payload: dict[str, object]
) -> dict[str, object]:
    topic = f"roomctl/{ROOM}/cmd/{verb}"
    await client.publish(topic, json.dumps(payload).encode(), qos=1)
    async with asyncio.timeout(10):
        async for message in client.messages:
            if str(message.topic) == f"{topic}/reply":
                assert isinstance(message.payload, bytes)
                reply = json.loads(message.payload)
                assert isinstance(reply, dict)
                if reply.get("id") == payload.get("id"):
                    return reply
    raise AssertionError("no reply")


async def test_phase_over_mqtt_changes_the_light_and_bad_commands_say_why(
    tmp_path: Path, broker: Broker, spawn: Callable[..., Proc]
) -> None:
    async with bulb(broker) as sim:
        daemon = spawn(
            "-m", "roomctl", "run", "--config", str(room_config(tmp_path, broker))
        )
        # Preparation: soft, warm, brighter.
        await until(
            lambda: abs(sim.state(BULB).level - 0.45) < 0.02,
            20,
            "the preparation scene",
        )
        async with aiomqtt.Client("127.0.0.1", port=broker.port) as client:
            await client.subscribe(f"roomctl/{ROOM}/#", qos=1)
            reply = await command(
                client, "phase", {"phase": "dosing", "by": "therapist", "id": "p1"}
            )
            assert reply == {"ok": True, "id": "p1"}
            dosing_mired = round(1_000_000 / 2200)
            await until(
                lambda: (
                    abs(sim.state(BULB).level - 0.15) < 0.02
                    and sim.state(BULB).color_temp == dosing_mired
                ),
                10,
                "the dosing scene: dim and warm",
            )

            bad = await command(client, "phase", {"phase": "lunch", "id": "p2"})
            assert bad["ok"] is False
            assert "phase must be one of" in str(bad["error"])
            back = await command(client, "phase", {"phase": "preparation", "id": "p3"})
            assert back["ok"] is False
            assert back["error"]
            lights = await command(client, "lights", {"scene": "disco", "id": "l1"})
            assert lights["ok"] is False
            assert "unknown light scene" in str(lights["error"])
            dim = await command(client, "lights", {"level": 5, "id": "l2"})
            assert dim == {"ok": True, "id": "l2"}
            await until(
                lambda: abs(sim.state(BULB).level - 0.05) < 0.02, 10, "the override"
            )
        daemon.popen.terminate()
        assert daemon.popen.wait(timeout=10) == 0
