"""A small fake room on a real broker: a plain aiomqtt client, no daemon.

It publishes the retained ``status`` (``online``) and ``state``, re-publishes the
state every ``interval_s`` (as the daemon does at 1 Hz), publishes alarm lines on
demand, and answers every ``cmd/<verb>`` on ``cmd/<verb>/reply`` with the command's
``id``: ``{"ok": true}``, or a refusal for the verbs in ``refuse``. Tests use it to
drive the console's real MQTT client; ``stop`` says ``offline`` as the daemon's will
would.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import aiomqtt

from tests.ui.fakes import room_state

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Mapping

    from tests.broker import Broker


@dataclass
class FakeRoom:
    """One room's topics, served by the test."""

    broker: Broker
    room: str
    state: dict[str, object] = field(default_factory=dict)
    #: Verbs refused, with the reason.
    refuse: dict[str, str] = field(default_factory=dict)
    #: Verbs never answered (to test the console's deadline).
    silent: set[str] = field(default_factory=set)
    interval_s: float = 0.5
    #: The daemons' ``topic_root``.
    root: str = "roomctl"
    #: ``(verb, payload)`` of every command received.
    commands: list[tuple[str, dict[str, object]]] = field(default_factory=list)
    received: asyncio.Event = field(default_factory=asyncio.Event)
    _client: aiomqtt.Client | None = None
    _seq: int = 0

    @property
    def base(self) -> str:
        return f"{self.root}/{self.room}"

    def __post_init__(self) -> None:
        if not self.state:
            self.state = room_state(room=self.room)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[FakeRoom]:
        """Connect, say online, serve until the block ends."""
        async with aiomqtt.Client(
            "127.0.0.1",
            self.broker.port,
            identifier=f"fake-room-{self.room}",
            will=aiomqtt.Will(f"{self.base}/status", b"offline", qos=1, retain=True),
        ) as client:
            self._client = client
            await client.subscribe(f"{self.base}/cmd/+", qos=1)
            await client.publish(f"{self.base}/status", b"online", qos=1, retain=True)
            await self.publish_state()
            tasks = [
                asyncio.create_task(self._serve(client)),
                asyncio.create_task(self._republish()),
            ]
            try:
                yield self
            finally:
                for task in tasks:
                    task.cancel()
                for task in tasks:
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
                self._client = None

    async def publish_state(self, state: Mapping[str, object] | None = None) -> None:
        """Publish (and keep) a new state, retained."""
        if state is not None:
            self.state = dict(state)
        # Stamped now, as a real room stamps each state (the console dates states by
        # the room's clock, so an old stamp would rightly look stale).
        self.state["at"] = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        assert self._client is not None
        await self._client.publish(
            f"{self.base}/state", json.dumps(self.state).encode(), qos=1, retain=True
        )

    async def publish_alarm(self, line: Mapping[str, object]) -> None:
        """One ``alarms`` line with ``room``, ``run`` and the next ``seq``."""
        assert self._client is not None
        self._seq += 1
        body = {**line, "room": self.room, "run": "fake", "seq": self._seq}
        await self._client.publish(
            f"{self.base}/alarms", json.dumps(body).encode(), qos=1
        )

    async def go_offline(self) -> None:
        """Say ``offline``, retained, as the daemon does when it stops."""
        assert self._client is not None
        await self._client.publish(
            f"{self.base}/status", b"offline", qos=1, retain=True
        )

    async def _republish(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            session_time = self.state.get("session_time_s")
            if isinstance(session_time, (int, float)):
                self.state["session_time_s"] = session_time + self.interval_s
            await self.publish_state()

    async def _serve(self, client: aiomqtt.Client) -> None:
        prefix = f"{self.base}/cmd/"
        async for message in client.messages:
            verb = message.topic.value.removeprefix(prefix)
            payload = json.loads(bytes(message.payload or b"{}"))
            self.commands.append((verb, payload))
            self.received.set()
            if verb in self.silent:
                continue
            reply: dict[str, object] = {"ok": verb not in self.refuse}
            if verb in self.refuse:
                reply["error"] = self.refuse[verb]
            if "id" in payload:
                reply["id"] = payload["id"]
            await client.publish(
                f"{prefix}{verb}/reply", json.dumps(reply).encode(), qos=1
            )

    async def wait_for_command(
        self, verb: str, timeout: float = 5.0
    ) -> dict[str, object]:
        """The payload of the first ``verb`` command received."""
        async with asyncio.timeout(timeout):
            while True:
                for seen, payload in self.commands:
                    if seen == verb:
                        return payload
                self.received.clear()
                await self.received.wait()
