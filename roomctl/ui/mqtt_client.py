"""MqttSource: the console's own small aiomqtt client (contracts.md §4).

Adapter. Subscribes to the rooms' ``status``, ``state``, ``alarms``, ``events`` and
``cmd/+/reply`` topics (one room, or every room with ``+``), delivers what arrives as
``roomctl.ui.source`` feed items, publishes commands (QoS 1, never retained) and waits
for the reply carrying the same ``id`` until a deadline. aiomqtt 2.x does not
reconnect by itself: ``run`` loops with a jittered backoff and tells the console each
time the broker comes and goes, so the screen can say so.

The console only reads and asks: it publishes nothing retained and has no will, so
it can run beside the patient or at a desk down the hall, as many times as needed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
from typing import TYPE_CHECKING

import aiomqtt

from roomctl.backoff import Backoff
from roomctl.mqtt.settings import MqttSettings
from roomctl.mqtt.tls import TlsContext, tls_context
from roomctl.ui.source import (
    DEFAULT_REPLY_TIMEOUT_S,
    AlarmReceived,
    BrokerLink,
    CommandReply,
    EventReceived,
    StateReceived,
    StatusReceived,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from roomctl.ui.source import FeedItem

_LOGGER = logging.getLogger(__name__)

#: Topic kinds under ``<root>/<room>/`` the console listens to.
ROOM_TOPICS = ("status", "state", "alarms", "events")


def _decode(payload: object) -> object:
    if isinstance(payload, (bytes, bytearray)):
        text = bytes(payload).decode("utf-8", errors="replace")
    elif isinstance(payload, str):
        text = payload
    else:
        return None
    try:
        return json.loads(text) if text.strip() else None
    except ValueError:
        return None


def _payload_text(payload: object) -> str:
    if isinstance(payload, (bytes, bytearray)):
        return bytes(payload).decode("utf-8", errors="replace").strip()
    return str(payload or "").strip()


class MqttSource:
    """A ``RoomSource`` over a real broker.

    Args:
        url: ``mqtt://host[:port]`` or ``mqtts://host[:port]`` (as the daemon's
            ``[mqtt] url``).
        room: One room, or ``None`` for every room on the broker (the station).
        topic_root: The daemons' ``[mqtt] topic_root``.
        username: For brokers that require one.
        password: ``username``'s password.
        cafile: The CA certificate(s) (PEM) that signed an ``mqtts://`` broker's
            certificate, for a clinic's own CA; the system's CAs when ``None``.
        reconnect_base_s: First reconnect delay ceiling (doubles per failure).
        reconnect_cap_s: Largest reconnect delay.
        connect_timeout_s: How long one connection attempt may take.

    Raises:
        ValueError: the URL or the topic root is not valid (the message says why).
    """

    def __init__(
        self,
        url: str,
        *,
        room: str | None = None,
        topic_root: str = "roomctl",
        username: str | None = None,
        password: str | None = None,
        cafile: str | None = None,
        reconnect_base_s: float = 0.2,
        reconnect_cap_s: float = 5.0,
        connect_timeout_s: float = 10.0,
    ) -> None:
        # MqttSettings checks the URL and the root as the daemon does (pydantic's
        # ValidationError is a ValueError).
        self._settings = MqttSettings(
            url=url, topic_root=topic_root, connect_timeout_s=connect_timeout_s
        )
        self._room = room
        self._username = username
        self._password = password
        self._cafile = cafile
        self._backoff = Backoff(base_s=reconnect_base_s, cap_s=reconnect_cap_s)
        self._client: aiomqtt.Client | None = None
        self._pending: dict[tuple[str, str, str], asyncio.Future[CommandReply]] = {}
        self._count = 0
        self._token = secrets.token_hex(3)

    @property
    def address(self) -> str:
        """``host:port`` of the broker."""
        return f"{self._settings.host}:{self._settings.port}"

    @property
    def connected(self) -> bool:
        """Whether a connection is up and subscribed."""
        return self._client is not None

    def _filters(self) -> list[str]:
        root = self._settings.topic_root
        room = self._room or "+"
        return [f"{root}/{room}/{kind}" for kind in ROOM_TOPICS] + [
            f"{root}/{room}/cmd/+/reply"
        ]

    # ------------------------------------------------------------ run

    async def run(self, deliver: Callable[[FeedItem], None]) -> None:
        """Connect, deliver, reconnect; returns only by cancellation."""
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            try:
                await self._session(deliver)
                detail = "the broker closed the connection"
            except aiomqtt.MqttError as exc:
                detail = str(exc) or type(exc).__name__
            except TimeoutError:
                detail = "the broker did not answer in time"
            except OSError as exc:
                detail = str(exc) or type(exc).__name__
            self._client = None
            self._backoff.connection_lasted(loop.time() - started)
            deliver(BrokerLink(connected=False, detail=f"{self.address}: {detail}"))
            _LOGGER.info("console lost the broker %s: %s", self.address, detail)
            await asyncio.sleep(self._backoff.next_delay())

    async def _tls(self) -> TlsContext | None:
        if not self._settings.use_tls:
            return None
        # Loading CA files reads the disk: off the event loop.
        return await asyncio.to_thread(tls_context, self._cafile)

    async def _session(self, deliver: Callable[[FeedItem], None]) -> None:
        tls = await self._tls()
        try:
            await self._connected(deliver, tls)
        finally:
            # A refused TLS handshake leaves paho's socket open (roomctl.mqtt.tls).
            if tls is not None:
                tls.close_all()

    async def _connected(
        self, deliver: Callable[[FeedItem], None], tls: TlsContext | None
    ) -> None:
        settings = self._settings
        client = aiomqtt.Client(
            settings.host,
            settings.port,
            username=self._username,
            password=self._password,
            identifier=f"roomctl-console-{self._token}",
            clean_session=True,
            keepalive=settings.keepalive_s,
            timeout=settings.connect_timeout_s,
            tls_context=tls,
        )
        async with contextlib.AsyncExitStack() as stack:
            async with asyncio.timeout(settings.connect_timeout_s + 5.0):
                await stack.enter_async_context(client)
                for topic_filter in self._filters():
                    await client.subscribe(topic_filter, qos=1)
            self._client = client
            deliver(BrokerLink(connected=True, detail=self.address))
            async for message in client.messages:
                self._dispatch(message, deliver)

    def _dispatch(
        self, message: aiomqtt.Message, deliver: Callable[[FeedItem], None]
    ) -> None:
        prefix = f"{self._settings.topic_root}/"
        topic = message.topic.value
        if not topic.startswith(prefix):
            return
        parts = topic[len(prefix) :].split("/")
        if len(parts) == 4 and parts[1] == "cmd" and parts[3] == "reply":
            self._on_reply(parts[0], parts[2], _decode(message.payload))
            return
        if len(parts) != 2:
            return
        room, kind = parts
        if kind == "status":
            text = _payload_text(message.payload)
            if text in {"online", "offline"}:
                deliver(StatusReceived(room=room, online=text == "online"))
            return
        document = _decode(message.payload)
        if not isinstance(document, dict):
            return  # an empty (cleared) or broken payload says nothing
        if kind == "state":
            deliver(
                StateReceived(room=room, state=document, retained=bool(message.retain))
            )
        elif kind == "alarms":
            deliver(AlarmReceived(room=room, line=document))
        elif kind == "events":
            deliver(EventReceived(room=room, line=document))

    def _on_reply(self, room: str, verb: str, document: object) -> None:
        if not isinstance(document, dict):
            return
        command_id = document.get("id")
        if not isinstance(command_id, str):
            return  # another sender's command without an id
        future = self._pending.get((room, verb, command_id))
        if future is None or future.done():
            return  # another console's command, or a repeat
        error = document.get("error")
        future.set_result(
            CommandReply(
                ok=document.get("ok") is True,
                error=error if isinstance(error, str) else "",
                command_id=command_id,
            )
        )

    # ------------------------------------------------------------ commands

    async def command(
        self,
        room: str,
        verb: str,
        payload: Mapping[str, object],
        *,
        timeout_s: float = DEFAULT_REPLY_TIMEOUT_S,
    ) -> CommandReply:
        """Publish a command to ``room`` and wait for its reply; never raises."""
        command_id = payload.get("id")
        if not isinstance(command_id, str) or not command_id:
            self._count += 1
            command_id = f"console-{self._token}-{self._count}"
            payload = {**payload, "id": command_id}
        client = self._client
        if client is None:
            return CommandReply(
                ok=False,
                error="not sent: the console is not connected to the broker",
                command_id=command_id,
                answered=False,
            )
        key = (room, verb, command_id)
        future: asyncio.Future[CommandReply] = (
            asyncio.get_running_loop().create_future()
        )
        self._pending[key] = future
        topic = f"{self._settings.topic_root}/{room}/cmd/{verb}"
        body = json.dumps(dict(payload), separators=(",", ":")).encode()
        try:
            async with asyncio.timeout(timeout_s):
                await client.publish(topic, body, qos=1, retain=False)
                return await future
        except TimeoutError:
            return CommandReply(
                ok=False,
                error=f"no reply from {room} within {timeout_s:g} s; "
                "check the room before trying again",
                command_id=command_id,
                answered=False,
            )
        except aiomqtt.MqttError as exc:
            return CommandReply(
                ok=False,
                error=f"not sent: {exc}",
                command_id=command_id,
                answered=False,
            )
        finally:
            self._pending.pop(key, None)
