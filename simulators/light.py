"""A simulated Zigbee2MQTT bridge with one or more dimmable white bulbs.

Connects to an MQTT broker on loopback with aiomqtt and behaves like Zigbee2MQTT
(ecosystem.md §2.1) for the lights it holds:

- subscribes to ``<base>/<name>/set`` (and ``/get``) for each bulb;
- applies ``state``, ``brightness`` (0-254), ``color_temp`` (mireds), ``color`` and
  ``transition`` (seconds), fading brightness and colour temperature over time;
- publishes each bulb's state JSON, retained, on ``<base>/<name>`` after a command
  (the target state, as Zigbee2MQTT reports it), ``online`` on
  ``<base>/<name>/availability`` and ``{"state": "online"}`` on
  ``<base>/bridge/state`` (with ``offline`` as the connection's will).

Lights it does not hold never answer, like a wrong friendly name. It reconnects by
itself when the broker goes away. The current (faded) state of each bulb is
available in-process through ``LightSimulator.state``.

    python -m simulators.light --broker mqtt://127.0.0.1:1883 --name room-1/ceiling
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import signal
import sys
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import aiomqtt

from roomctl.scenes import (
    MIRED_MAX_TYPICAL,
    MIRED_MIN_TYPICAL,
    kelvin_to_mired,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

_LOGGER = logging.getLogger(__name__)

#: Zigbee2MQTT's brightness scale.
FULL_BRIGHTNESS = 254
#: Hosts the simulator may connect to: it never leaves this machine.
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})
#: Seconds between reconnect attempts (the broker is local).
RETRY_S = 0.2
#: Seconds between repeated cancellations on shutdown.
STOP_RETRY_S = 0.1
#: Seconds a clean shutdown may spend marking the lights offline.
GOODBYE_TIMEOUT_S = 1.0
#: Zigbee2MQTT's named colour-temperature presets, in mireds.
PRESETS_MIRED = {
    "coolest": MIRED_MIN_TYPICAL,
    "cool": 250,
    "neutral": 370,
    "warm": 454,
    "warmest": MIRED_MAX_TYPICAL,
}


@dataclass(frozen=True, slots=True, kw_only=True)
class BulbState:
    """What a bulb shows."""

    on: bool
    #: 0-254 (Zigbee2MQTT's scale); kept while off.
    brightness: int
    #: Mireds.
    color_temp: int
    #: ``{"x": .., "y": ..}`` or ``{"r": .., "g": .., "b": ..}`` when in colour mode.
    color: Mapping[str, float] | None = None

    @property
    def level(self) -> float:
        """Light output 0.0-1.0 (0 when off)."""
        return self.brightness / FULL_BRIGHTNESS if self.on else 0.0

    def report(self) -> dict[str, object]:
        """The state JSON Zigbee2MQTT publishes on ``<base>/<name>``."""
        out: dict[str, object] = {
            "state": "ON" if self.on else "OFF",
            "brightness": self.brightness,
            "color_temp": self.color_temp,
            "color_mode": "xy" if self.color is not None else "color_temp",
        }
        if self.color is not None:
            out["color"] = dict(self.color)
        return out


class SimulatedBulb:
    """One dimmable, tunable-white (and colour) bulb; time is passed in.

    >>> bulb = SimulatedBulb("ceiling")
    >>> bulb.set({"brightness": 100, "transition": 10}, now=0.0)
    >>> bulb.state_at(5.0).brightness, bulb.state_at(10.0).brightness
    (177, 100)
    """

    def __init__(
        self,
        name: str,
        *,
        mired_min: int = MIRED_MIN_TYPICAL,
        mired_max: int = MIRED_MAX_TYPICAL,
    ) -> None:
        self.name = name
        self.mired_min = mired_min
        self.mired_max = mired_max
        self._from = self._power_on_state()
        self._to = self._from
        self._start = 0.0
        self._duration = 0.0
        #: Commands received, as parsed JSON.
        self.commands: list[dict[str, object]] = []

    def _power_on_state(self) -> BulbState:
        # Most bulbs come back from a mains loss on, at full brightness.
        return BulbState(
            on=True, brightness=FULL_BRIGHTNESS, color_temp=kelvin_to_mired(4000)
        )

    @property
    def target(self) -> BulbState:
        """Where the bulb is going (what it reports)."""
        return self._to

    def state_at(self, now: float) -> BulbState:
        """What the bulb shows at ``now``, mid-fade included."""
        if self._duration <= 0 or now >= self._start + self._duration:
            return self._to
        f = max(0.0, (now - self._start) / self._duration)
        a, b = self._from, self._to
        level_a = a.brightness if a.on else 0
        level_b = b.brightness if b.on else 0
        level = round(level_a + (level_b - level_a) * f)
        mired = round(a.color_temp + (b.color_temp - a.color_temp) * f)
        return BulbState(
            on=level > 0, brightness=max(level, 1), color_temp=mired, color=b.color
        )

    def power_cycle(self, now: float) -> None:
        """Mains off and on: the bulb forgets its scene and shows full white."""
        del now
        self._from = self._to = self._power_on_state()
        self._duration = 0.0

    def set(self, payload: Mapping[str, object], *, now: float) -> None:
        """Apply a ``/set`` payload (Zigbee2MQTT fields).

        Raises:
            ValueError: a field has a wrong value.
            TypeError: a field has the wrong type.
        """
        self.commands.append(dict(payload))
        current = self.state_at(now)
        target = self._to
        on = target.on
        match payload.get("state"):
            case None:
                pass
            case str() as text if text.upper() in {"ON", "OFF", "TOGGLE"}:
                on = {"ON": True, "OFF": False}.get(text.upper(), not current.on)
            case other:
                raise ValueError(f"state must be ON, OFF or TOGGLE, not {other!r}")
        brightness = target.brightness
        if "brightness" in payload:
            value = payload["brightness"]
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise TypeError(f"brightness must be a number, not {value!r}")
            brightness = max(0, min(FULL_BRIGHTNESS, round(value)))
            if "state" not in payload:
                on = brightness > 0
            brightness = max(brightness, 1)
        color_temp = target.color_temp
        color = target.color
        if "color_temp" in payload:
            color_temp = self._mired(payload["color_temp"])
            color = None
        if "color" in payload:
            color = self._color(payload["color"])
        transition = payload.get("transition", 0)
        if isinstance(transition, bool) or not isinstance(transition, int | float):
            raise TypeError(f"transition must be seconds, not {transition!r}")
        self._from = current
        self._to = BulbState(
            on=on, brightness=brightness, color_temp=color_temp, color=color
        )
        self._start = now
        self._duration = max(0.0, float(transition))

    def _mired(self, value: object) -> int:
        if isinstance(value, str) and value in PRESETS_MIRED:
            value = PRESETS_MIRED[value]
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TypeError(f"color_temp must be mireds, not {value!r}")
        return max(self.mired_min, min(self.mired_max, round(value)))

    @staticmethod
    def _color(value: object) -> dict[str, float]:
        if isinstance(value, dict):
            keys = set(value)
            numbers = all(
                isinstance(v, int | float) and not isinstance(v, bool)
                for v in value.values()
            )
            if numbers and keys in ({"x", "y"}, {"r", "g", "b"}):
                return {str(k): float(v) for k, v in value.items()}
        raise ValueError(f"color must be {{x, y}} or {{r, g, b}}, not {value!r}")


class LightSimulator:
    """A Zigbee2MQTT bridge with ``names`` bulbs on a loopback broker."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 1883,
        names: Sequence[str] = ("room-1",),
        base_topic: str = "zigbee2mqtt",
        clock: Callable[[], float] = time.monotonic,
        retry_s: float = RETRY_S,
    ) -> None:
        if host not in LOOPBACK_HOSTS:
            raise ValueError(f"the light simulator stays on loopback, not {host!r}")
        if not names:
            raise ValueError("the light simulator needs at least one bulb name")
        self.host = host
        self.port = port
        self.base_topic = base_topic
        self.bulbs = {name: SimulatedBulb(name) for name in names}
        self._clock = clock
        self.retry_s = retry_s
        #: Set while connected to the broker and subscribed.
        self.connected = asyncio.Event()
        #: How many times it has connected.
        self.connections = 0
        self._set_topics = {f"{base_topic}/{name}/set": name for name in names}
        self._get_topics = {f"{base_topic}/{name}/get": name for name in names}

    def state(self, name: str) -> BulbState:
        """What bulb ``name`` shows now."""
        return self.bulbs[name].state_at(self._clock())

    def power_cycle(self, name: str) -> None:
        """Cut and restore a bulb's mains: it shows full white until told otherwise."""
        self.bulbs[name].power_cycle(self._clock())

    def _topic(self, name: str, suffix: str = "") -> str:
        return f"{self.base_topic}/{name}{suffix}"

    async def run(self) -> None:
        """Serve until cancelled, reconnecting whenever the broker goes away."""
        will = aiomqtt.Will(
            self._topic("bridge", "/state"),
            json.dumps({"state": "offline"}),
            qos=1,
            retain=True,
        )
        client = aiomqtt.Client(self.host, self.port, will=will, keepalive=10)
        while True:
            try:
                async with client:
                    await self._serve(client)
            except aiomqtt.MqttError as exc:
                self.connected.clear()
                _raise_if_cancelling()
                _LOGGER.debug("light simulator: broker unavailable (%s)", exc)
                await asyncio.sleep(self.retry_s)

    async def _serve(self, client: aiomqtt.Client) -> None:
        for topic in (*self._set_topics, *self._get_topics):
            await client.subscribe(topic, qos=1)
        await client.publish(
            self._topic("bridge", "/state"),
            json.dumps({"state": "online"}),
            qos=1,
            retain=True,
        )
        for name in self.bulbs:
            await client.publish(
                self._topic(name, "/availability"), "online", qos=1, retain=True
            )
            await self._report(client, name)
        _raise_if_cancelling()
        self.connections += 1
        self.connected.set()
        _LOGGER.info(
            "light simulator: %s on %s:%s", ", ".join(self.bulbs), self.host, self.port
        )
        try:
            async for message in client.messages:
                await self._handle(client, str(message.topic), message.payload)
                _raise_if_cancelling()
        finally:
            self.connected.clear()
            await self._goodbye(client)

    async def _goodbye(self, client: aiomqtt.Client) -> None:
        # Best effort on a clean stop; a crash is covered by the will.
        with contextlib.suppress(aiomqtt.MqttError, TimeoutError):
            async with asyncio.timeout(GOODBYE_TIMEOUT_S):
                for name in self.bulbs:
                    await client.publish(
                        self._topic(name, "/availability"), "offline", retain=True
                    )
                await client.publish(
                    self._topic("bridge", "/state"),
                    json.dumps({"state": "offline"}),
                    retain=True,
                )

    async def _handle(
        self, client: aiomqtt.Client, topic: str, payload: object
    ) -> None:
        if topic in self._get_topics:
            await self._report(client, self._get_topics[topic])
            return
        name = self._set_topics.get(topic)
        if name is None:
            return
        try:
            self.bulbs[name].set(_json_object(payload), now=self._clock())
        except (ValueError, TypeError) as exc:
            # Zigbee2MQTT logs bad commands and leaves the device alone.
            _LOGGER.warning("light simulator: bad command for %s: %s", name, exc)
            return
        await self._report(client, name)

    async def _report(self, client: aiomqtt.Client, name: str) -> None:
        bulb = self.bulbs[name]
        await client.publish(
            self._topic(name),
            json.dumps(bulb.target.report()),
            qos=1,
            retain=True,
        )


def _json_object(payload: object) -> dict[str, object]:
    data = json.loads(payload if isinstance(payload, bytes | str) else b"")
    if not isinstance(data, dict):
        raise TypeError("the payload is not a JSON object")
    return data


def parse_broker(url: str) -> tuple[str, int]:
    """``mqtt://host:port`` to ``(host, port)``; loopback only.

    >>> parse_broker("mqtt://127.0.0.1:1884")
    ('127.0.0.1', 1884)

    Raises:
        ValueError: not an ``mqtt://`` URL, or not a loopback host.
    """
    parts = urlsplit(url)
    if parts.scheme != "mqtt" or not parts.hostname:
        raise ValueError(f"broker must look like mqtt://127.0.0.1:1883, not {url!r}")
    if parts.hostname not in LOOPBACK_HOSTS:
        raise ValueError(f"the light simulator stays on loopback, not {parts.hostname}")
    return parts.hostname, parts.port or 1883


def build_parser() -> argparse.ArgumentParser:
    """Arguments of ``python -m simulators.light``."""
    parser = argparse.ArgumentParser(
        prog="python -m simulators.light",
        description="Simulate Zigbee2MQTT bulbs on a loopback MQTT broker.",
    )
    parser.add_argument("--broker", default="mqtt://127.0.0.1:1883")
    parser.add_argument(
        "--name",
        action="append",
        default=[],
        help="a bulb's friendly name (repeat for more; default room-1)",
    )
    parser.add_argument("--base-topic", default="zigbee2mqtt")
    return parser


async def _serve(simulator: LightSimulator) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with asyncio.TaskGroup() as tg:
        task = tg.create_task(simulator.run(), name="simulator[light]")
        await stop.wait()
        # Cancel until done: a cancellation can be swallowed by aiomqtt on 3.11
        # (see _raise_if_cancelling).
        while not task.done():
            task.cancel()
            await asyncio.wait([task], timeout=STOP_RETRY_S)


def _raise_if_cancelling() -> None:
    """Honour a cancellation swallowed by ``asyncio.wait_for`` (CPython gh-86296).

    Raises:
        asyncio.CancelledError: this task has been asked to stop.
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


def main(argv: list[str] | None = None) -> int:
    """Run the light simulator until interrupted; 2 on bad arguments."""
    args = build_parser().parse_args(argv)
    try:
        host, port = parse_broker(args.broker)
        simulator = LightSimulator(
            host=host,
            port=port,
            names=args.name or ["room-1"],
            base_topic=args.base_topic,
        )
    except ValueError as exc:
        print(f"simulators.light: {exc}", file=sys.stderr)  # noqa: T201
        return 2
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(message)s")
    with contextlib.suppress(asyncio.CancelledError):
        asyncio.run(_serve(simulator))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
