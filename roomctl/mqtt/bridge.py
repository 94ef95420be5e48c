"""MqttBridge: the room on MQTT (contracts.md §4), one aiomqtt 2.x client.

Adapter, auxiliary fault domain (style.md C4): the broker can be slow, absent or
restarting without delaying or stopping an alarm decision, and ``run`` never raises
except ``CancelledError``. aiomqtt 2.x does not reconnect by itself; ``run`` loops:
connect (with the retained ``offline`` will), subscribe to ``cmd/+``, say ``online``,
then serve until the connection breaks, back off (``roomctl.backoff``) and start over.

Out: alarms and events (QoS 1) go through an ``Outbox`` that keeps them while the
broker is away and lets each go only after its PUBACK (aiomqtt 2.x's
``await client.publish(qos=1)`` returns when paho reports the PUBACK: ``on_publish``
fires from ``_handle_pubackcomp`` for QoS > 0), one at a time, so they arrive in order.
Vitals (QoS 0) are live only. The state is retained, sent on change at most once a
second, and re-sent after each reconnect (a broker restarted without persistence has
forgotten it).

In: each ``cmd/<verb>`` message is checked by ``roomctl.mqtt.wire.parse_command``, then
handed to ``handle_command`` (the pipeline); the outcome goes to ``cmd/<verb>/reply``
through a bounded reply queue, so checking commands never waits for the network.

Other adapters (the lights) share the connection: ``publish`` sends through it,
``listen`` subscribes them on every connect and hands them their messages.

A new aiomqtt ``Client`` is made for every connection: paho keeps unacknowledged QoS 1
messages inside a client and would resend them behind our back; with a fresh client the
outbox is the only queue, and its order the only order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import secrets
import socket
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import aiomqtt
from paho.mqtt.reasoncodes import ReasonCode

from roomctl.backoff import Backoff
from roomctl.bus import Overflow
from roomctl.errors import MqttUnavailable
from roomctl.events import (
    AlarmChanged,
    CommandHandled,
    DeviceConnected,
    DeviceLost,
    DeviceStale,
    EpisodeChanged,
    PhaseChanged,
    ReadingReceived,
    StateSnapshot,
    TechnicalNotice,
)
from roomctl.mqtt.outbox import Outbox
from roomctl.mqtt.settings import is_topic_level
from roomctl.mqtt.tls import TlsContext, tls_context
from roomctl.mqtt.wire import (
    RETAINED_REFUSAL,
    CommandRequest,
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

if TYPE_CHECKING:
    import ssl
    from collections.abc import Iterable

    from roomctl.bus import EventBus
    from roomctl.clock import Clock
    from roomctl.events import Command, Event
    from roomctl.mqtt.settings import MqttSettings

_LOGGER = logging.getLogger(__name__)

#: A handler for messages on another adapter's topics: ``(topic, payload)``; sync.
MessageHandler = Callable[[str, bytes], None]
#: Called after every (re)connect, once the bridge is ready to publish.
ConnectHook = Callable[[], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class _State:
    document: dict[str, object]
    payload: bytes


@dataclass(frozen=True, slots=True)
class _Listener:
    filters: tuple[str, ...]
    on_message: MessageHandler
    on_connected: ConnectHook | None


#: Events the bridge takes from the bus.
BRIDGED_EVENTS: tuple[type[Event], ...] = (
    AlarmChanged,
    EpisodeChanged,
    PhaseChanged,
    DeviceConnected,
    DeviceLost,
    DeviceStale,
    CommandHandled,
    ReadingReceived,
    StateSnapshot,
    TechnicalNotice,
)
#: Events that go to the ``events`` topic (contracts.md §4: every other §3 event),
#: and technical notices in words (the record cannot be written, a light does not
#: answer, a blood pressure is due): the console's log shows them.
_EVENT_TOPIC_TYPES = (
    EpisodeChanged,
    PhaseChanged,
    DeviceConnected,
    DeviceLost,
    DeviceStale,
    CommandHandled,
    TechnicalNotice,
)

#: The bridge's bus queue. Critical events are never dropped by the bus; readings are,
#: when the bridge falls this far behind (they are live telemetry).
BUS_QUEUE_MAX = 4096
#: Readings waiting for the live publisher; the oldest go first (QoS 0 telemetry).
VITALS_QUEUE_MAX = 512
#: Messages received but not yet handled; aiomqtt drops (and logs) beyond this, which
#: bounds what a command flood can queue. Handling a command never waits for the
#: network (its reply is queued), so the queue drains as fast as commands are checked.
INCOMING_QUEUE_MAX = 1000
#: Replies waiting for the broker; under a flood the oldest go first.
REPLY_QUEUE_MAX = 1000
#: A PUBACK slower than this means the connection is dead; reconnect and resend.
PUBLISH_TIMEOUT_S = 10.0
#: On top of ``connect_timeout_s``: paho's TCP connect runs in a thread with its own
#: 5 s timeout and aiomqtt waits ``connect_timeout_s`` for the CONNACK after it.
CONNECT_MARGIN_S = 5.0
#: On shutdown: time to send what is queued, then time to say ``offline`` (C12).
DRAIN_ON_SHUTDOWN_S = 1.5
OFFLINE_ON_SHUTDOWN_S = 1.0
#: contracts.md §4: the state is published at most every second.
STATE_INTERVAL_S = 1.0
#: A connection that lasted this long resets the reconnect backoff.
HEALTHY_AFTER_S = 10.0
#: Replies remembered by command id, so a QoS 1 redelivery is answered, not redone.
RECENT_COMMANDS_MAX = 256
#: How long one listener's on-connect hook may take.
CONNECT_HOOK_TIMEOUT_S = 5.0
#: MQTT 3.1.1 §3.9.3 (and MQTT 5): a SUBACK code of 0x80 or more is a refusal.
SUBACK_FAILURE = 0x80
#: MQTT 3.1.1 §1.5.3: a topic is at most 65,535 bytes of UTF-8.
MAX_TOPIC_BYTES = 65_535
#: Refused commands and dropped events are logged at INFO/WARNING at most this often.
NOISY_LOG_INTERVAL_S = 10.0


class MqttBridge:
    """Publishes the room to MQTT and takes commands from it.

    Subscribes to the bus when constructed, so nothing published before ``run`` starts
    is lost. Use one bridge per daemon run.

    Attributes:
        topics: the room's topics.
        run_id: a random token naming this daemon run in alarm and event payloads
            (``seq`` restarts at 1 with each run).
        connections: successful connections so far (each one said ``online``).
    """

    def __init__(
        self,
        *,
        settings: MqttSettings,
        room: str,
        bus: EventBus,
        clock: Clock,
        handle_command: Callable[[Command], CommandHandled],
        t0_mono: float,
    ) -> None:
        if not is_topic_level(room):
            raise ValueError(f"room {room!r} is not usable as an MQTT topic level")
        self._settings = settings
        self._room = room
        self._clock = clock
        self._handle_command = handle_command
        self._t0_mono = t0_mono
        self.topics = Topics.for_room(settings.topic_root, room)
        self.run_id = secrets.token_hex(4)
        self._subscription = bus.open(
            *BRIDGED_EVENTS,
            name="mqtt",
            maxlen=BUS_QUEUE_MAX,
            overflow=Overflow.DROP_OLDEST,
        )
        self._outbox = Outbox(max_ordinary=settings.max_queued_events)
        self._outbox_ready = asyncio.Event()
        self._vitals: deque[bytes] = deque(maxlen=VITALS_QUEUE_MAX)
        self._live_ready = asyncio.Event()
        self._alarm_seq = 0
        self._event_seq = 0
        # The newest state not yet published, and the last one published (re-sent
        # retained after every reconnect).
        self._state_pending: _State | None = None
        self._state_published: _State | None = None
        self._state_next_s = 0.0
        self._client: aiomqtt.Client | None = None
        self.connections = 0
        self._listeners: list[_Listener] = []
        self._connected_since: float | None = None
        self._commands_received = 0
        self._recent_replies: OrderedDict[tuple[str, str], bytes] = OrderedDict()
        self._replies: deque[tuple[str, bytes]] = deque()
        self._replies_ready = asyncio.Event()
        self._replies_dropped = 0
        self._last_noisy_log: dict[str, float] = {}
        if not settings.enabled:
            # Constructed anyway: keep nothing (critical events would pile up).
            bus.unsubscribe(self._subscription)

    # ---------------------------------------------------------------- status

    @property
    def connected(self) -> bool:
        """Whether the bridge is connected, subscribed and has said ``online``."""
        return self._client is not None

    @property
    def queued(self) -> int:
        """Alarms and events waiting for the broker."""
        return len(self._outbox)

    # ---------------------------------------------------------------- shared client

    async def publish(
        self,
        topic: str,
        payload: bytes,
        qos: int,
        retain: bool,  # noqa: FBT001 -- positional, as roomctl.lighting's Publish calls it
    ) -> None:
        """Publish through the bridge's connection (for other adapters: lights).

        Nothing is queued: while the broker is away this fails at once, and the
        caller re-asserts its state from its ``on_connected`` hook.

        Raises:
            MqttUnavailable: not connected, or the broker did not take it in time.
        """
        client = self._client
        if client is None:
            raise MqttUnavailable("not connected to the MQTT broker")
        try:
            await _publish(
                client,
                topic,
                payload,
                qos=qos,
                retain=retain,
                deadline_s=PUBLISH_TIMEOUT_S,
            )
        except aiomqtt.MqttError as exc:
            raise MqttUnavailable(str(exc) or type(exc).__name__) from exc

    def listen(
        self,
        topic_filters: Iterable[str],
        on_message: MessageHandler,
        *,
        on_connected: ConnectHook | None = None,
    ) -> None:
        """Subscribe another adapter to ``topic_filters`` on this connection.

        Call it before ``run()``: subscriptions are made on each (re)connect.
        ``on_message(topic, payload)`` runs on the loop and must not block; an
        exception in it is logged, never raised here. ``on_connected`` is awaited
        after every connect, once ``publish`` works (lights re-assert their scene).
        """
        self._listeners.append(
            _Listener(tuple(topic_filters), on_message, on_connected)
        )

    # ---------------------------------------------------------------- run

    async def run(self) -> None:
        """Bridge until cancelled; broker trouble means retrying, never raising."""
        if not self._settings.enabled:
            _LOGGER.info("MQTT is disabled in the settings")
            await asyncio.Event().wait()  # an auxiliary component runs until cancelled
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self._bus_loop(), name="mqtt.bus")
            tg.create_task(self._connection_loop(), name="mqtt.connection")

    async def _bus_loop(self) -> None:
        async for event in self._subscription:
            self._take(event)

    def _drain_bus(self) -> None:
        while (event := self._subscription.get_nowait()) is not None:
            self._take(event)

    def _take(self, event: Event) -> None:
        try:
            self._route(event)
        except Exception as exc:
            # A bus subscriber's boundary (style.md 2.8): one odd event must not
            # stop the bridge.
            _LOGGER.error(
                "MQTT bridge could not publish a %s event",
                type(event).__name__,
                exc_info=exc,
            )

    def _route(self, event: Event) -> None:
        if isinstance(event, AlarmChanged):
            for line in self._lines(event):
                self._alarm_seq += 1
                payload = sequenced(line, run=self.run_id, seq=self._alarm_seq)
                self._outbox.put(self.topics.alarms, payload, critical=True)
            self._outbox_ready.set()
        elif isinstance(event, _EVENT_TOPIC_TYPES):
            for line in self._lines(event):
                self._event_seq += 1
                payload = sequenced(line, run=self.run_id, seq=self._event_seq)
                if self._outbox.put(self.topics.events, payload, critical=False):
                    self._log_noisy(
                        "events dropped",
                        logging.WARNING,
                        "MQTT broker away too long: dropped %d queued events so far "
                        "(alarms are kept)",
                        self._outbox.dropped,
                    )
            self._outbox_ready.set()
        elif isinstance(event, ReadingReceived):
            # Live telemetry: nothing is kept for a broker that is not there.
            if self.connected:
                self._vitals.extend(encode(line) for line in self._lines(event))
                self._live_ready.set()
        elif isinstance(event, StateSnapshot):
            document = state_document(event, room=self._room)
            published = self._state_published
            if published is not None and same_state(published.document, document):
                self._state_pending = None
            else:
                # Encoded here, where a bad value is one logged event, not a
                # publisher that fails on every reconnect.
                self._state_pending = _State(document, encode(document))
                self._live_ready.set()

    def _lines(self, event: Event) -> list[dict[str, object]]:
        return event_lines(event, room=self._room, t0_mono=self._t0_mono)

    def _log_noisy(self, kind: str, level: int, message: str, *args: object) -> None:
        """Log at ``level`` once per interval for each ``kind``, else at DEBUG."""
        now = self._clock.monotonic()
        if now - self._last_noisy_log.get(kind, -math.inf) >= NOISY_LOG_INTERVAL_S:
            self._last_noisy_log[kind] = now
            _LOGGER.log(level, message, *args)
        else:
            _LOGGER.debug(message, *args)

    # ---------------------------------------------------------------- connection

    async def _connection_loop(self) -> None:
        loop = asyncio.get_running_loop()
        settings = self._settings
        backoff = Backoff(
            base_s=settings.reconnect_base_s,
            cap_s=settings.reconnect_cap_s,
            healthy_after_s=HEALTHY_AFTER_S,
        )
        failing = False
        while True:
            self._connected_since = None
            try:
                password = await self._password()
                await self._session(password)
            except MqttUnavailable as exc:
                if self._connection_age(loop) is not None:
                    failing = False  # a new outage after a good connection
                _LOGGER.log(
                    logging.DEBUG if failing else logging.WARNING,
                    "MQTT broker %s:%d unavailable (%s); %d alarms and events queued, "
                    "retrying",
                    settings.host,
                    settings.port,
                    exc,
                    len(self._outbox),
                )
                failing = True
            except Exception as exc:
                # The auxiliary fault domain's boundary (style.md C4): MQTT must
                # never take the daemon down.
                _LOGGER.error("MQTT bridge failed; reconnecting", exc_info=exc)
                failing = True
            finally:
                self._client = None
            age = self._connection_age(loop)
            if age is not None:
                backoff.connection_lasted(age)
            await asyncio.sleep(backoff.next_delay())

    def _connection_age(self, loop: asyncio.AbstractEventLoop) -> float | None:
        # A method, not an inline test: _session sets the attribute behind mypy's back.
        if self._connected_since is None:
            return None
        return loop.time() - self._connected_since

    async def _password(self) -> str | None:
        settings = self._settings
        if settings.password is not None:
            return settings.password.get_secret_value()
        if settings.password_file is None:
            return None
        try:
            text = await asyncio.to_thread(
                settings.password_file.read_text, encoding="utf-8"
            )
        except (OSError, UnicodeDecodeError) as exc:
            raise MqttUnavailable(
                f"cannot read the password file {settings.password_file}: {exc}"
            ) from exc
        lines = text.splitlines()
        return lines[0] if lines else ""

    async def _load_tls(self) -> TlsContext | None:
        if not self._settings.use_tls:
            return None
        try:
            tls = self._settings.tls
            return await asyncio.to_thread(
                tls_context, tls.ca_file, tls.cert_file, tls.key_file
            )
        except OSError as exc:  # ssl.SSLError is an OSError too
            raise MqttUnavailable(f"cannot load the TLS files: {exc}") from exc

    def _new_client(
        self, password: str | None, tls_context: ssl.SSLContext | None
    ) -> aiomqtt.Client:
        settings = self._settings
        return aiomqtt.Client(
            settings.host,
            settings.port,
            username=settings.username,
            password=password,
            identifier=settings.client_id_for(self._room),
            will=aiomqtt.Will(self.topics.status, b"offline", qos=1, retain=True),
            clean_session=True,
            keepalive=settings.keepalive_s,
            # The CONNACK deadline, and the default one for SUBACKs.
            timeout=settings.connect_timeout_s,
            max_queued_incoming_messages=INCOMING_QUEUE_MAX,
            tls_context=tls_context,
            # paho turns the context's host name check off when insecure.
            tls_insecure=settings.tls.insecure if tls_context is not None else None,
            # paho leaves Nagle on: an alarm written just after a vitals message
            # would wait for the peer's delayed ACK (40 ms on Linux, more elsewhere).
            socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)],
        )

    async def _session(self, password: str | None) -> None:
        """One connection, from connect to failure (``MqttUnavailable``) or cancel."""
        tls_context = await self._load_tls()
        client = self._new_client(password, tls_context)
        try:
            async with contextlib.AsyncExitStack() as stack:
                deadline_s = self._settings.connect_timeout_s + CONNECT_MARGIN_S
                async with asyncio.timeout(deadline_s):
                    await stack.enter_async_context(client)
                try:
                    await self._greet(client)
                    self._connected_since = asyncio.get_running_loop().time()
                    self._client = client
                    self.connections += 1
                    await self._run_connect_hooks()
                    await self._serve(client)
                except asyncio.CancelledError:
                    await self._goodbye(client)
                    raise
        except aiomqtt.MqttError as exc:
            raise MqttUnavailable(str(exc) or type(exc).__name__) from exc
        except TimeoutError as exc:
            raise MqttUnavailable("the broker did not answer in time") from exc
        finally:
            if tls_context is not None:
                tls_context.close_all()

    async def _greet(self, client: aiomqtt.Client) -> None:
        """Subscribe, say ``online`` and announce to Home Assistant."""
        settings = self._settings
        filters = [self.topics.command_filter]
        if settings.ha_discovery:
            filters.append(f"{settings.ha_prefix}/status")
        filters += [f for listener in self._listeners for f in listener.filters]
        for topic_filter in filters:
            granted = await client.subscribe(topic_filter, qos=1)
            if any(_code(code) >= SUBACK_FAILURE for code in granted):
                _LOGGER.warning(
                    "the MQTT broker refused the subscription to %s (its ACL?)",
                    topic_filter,
                )
        await _publish(
            client,
            self.topics.status,
            b"online",
            qos=1,
            retain=True,
            deadline_s=PUBLISH_TIMEOUT_S,
        )
        if settings.ha_discovery:
            await self._announce(client)
        _LOGGER.info(
            "connected to the MQTT broker %s:%d as %s; %d alarms and events to send",
            settings.host,
            settings.port,
            client.identifier,
            len(self._outbox),
        )

    async def _run_connect_hooks(self) -> None:
        for listener in self._listeners:
            if listener.on_connected is None:
                continue
            try:
                async with asyncio.timeout(CONNECT_HOOK_TIMEOUT_S):
                    await listener.on_connected()
            except Exception as exc:
                # Another adapter's failure stays its own (style.md C4).
                _LOGGER.error("an MQTT on-connect hook failed", exc_info=exc)

    async def _announce(self, client: aiomqtt.Client) -> None:
        settings = self._settings
        for topic, payload in discovery_messages(
            topics=self.topics,
            room=self._room,
            prefix=settings.ha_prefix,
            scenes=settings.ha_light_scenes,
        ):
            await _publish(
                client, topic, payload, qos=1, retain=True, deadline_s=PUBLISH_TIMEOUT_S
            )

    async def _serve(self, client: aiomqtt.Client) -> None:
        # The message iterator is what notices a dropped connection (aiomqtt 2.x does
        # not fail pending publishes): its MqttError ends the group, which cancels a
        # publish waiting for a PUBACK that will never come (C8).
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(self._inbound_loop(client), name="mqtt.inbound")
                tg.create_task(self._outbox_loop(client), name="mqtt.outbox")
                tg.create_task(self._live_loop(client), name="mqtt.live")
                tg.create_task(self._reply_loop(client), name="mqtt.replies")
        except* (aiomqtt.MqttError, TimeoutError) as group:
            raise MqttUnavailable(_describe(group)) from group

    async def _goodbye(self, client: aiomqtt.Client) -> None:
        """Shutting down: send what is queued, then say ``offline`` (C12), bounded."""
        self._drain_bus()
        with contextlib.suppress(aiomqtt.MqttError, TimeoutError):
            async with asyncio.timeout(DRAIN_ON_SHUTDOWN_S):
                await self._send_outbox(client)
                state = self._state_pending
                if state is not None:  # the final state, whatever the 1 s pacing
                    await _publish(
                        client, self.topics.state, state.payload, qos=1, retain=True
                    )
                    self._state_published, self._state_pending = state, None
        try:
            async with asyncio.timeout(OFFLINE_ON_SHUTDOWN_S):
                await _publish(
                    client, self.topics.status, b"offline", qos=1, retain=True
                )
        except (aiomqtt.MqttError, TimeoutError) as exc:
            _LOGGER.warning("could not tell the MQTT broker we are going: %s", exc)
        if len(self._outbox):
            _LOGGER.warning(
                "stopping with %d alarms and events not delivered to MQTT",
                len(self._outbox),
            )

    # ---------------------------------------------------------------- outgoing

    async def _send_outbox(self, client: aiomqtt.Client) -> None:
        while (item := self._outbox.peek()) is not None:
            await _publish(
                client, item.topic, item.payload, qos=1, deadline_s=PUBLISH_TIMEOUT_S
            )
            # Only now, after the PUBACK: a message in flight when the link dropped
            # is sent again after the reconnect (subscribers drop repeats by seq).
            self._outbox.done(item)

    async def _outbox_loop(self, client: aiomqtt.Client) -> None:
        while True:
            await self._send_outbox(client)
            self._outbox_ready.clear()
            await self._outbox_ready.wait()

    async def _live_loop(self, client: aiomqtt.Client) -> None:
        loop = asyncio.get_running_loop()
        if self._state_pending is None and self._state_published is not None:
            # Re-assert the retained state: the broker may have restarted without it.
            self._state_pending = self._state_published
        while True:
            self._live_ready.clear()
            while self._vitals:
                await _publish(
                    client, self.topics.vitals, self._vitals.popleft(), qos=0
                )
            wait_s: float | None = None
            if self._state_pending is not None:
                wait_s = self._state_next_s - loop.time()
                if wait_s <= 0:
                    state = self._state_pending
                    await _publish(
                        client,
                        self.topics.state,
                        state.payload,
                        qos=1,
                        retain=True,
                        deadline_s=PUBLISH_TIMEOUT_S,
                    )
                    self._state_published = state
                    if self._state_pending is state:
                        self._state_pending = None
                    self._state_next_s = loop.time() + STATE_INTERVAL_S
                    continue
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait_s):
                    await self._live_ready.wait()

    # ---------------------------------------------------------------- incoming

    async def _inbound_loop(self, client: aiomqtt.Client) -> None:
        ha_status = f"{self._settings.ha_prefix}/status"
        async for message in client.messages:
            topic = message.topic.value
            verb = self.topics.command_verb(topic)
            if verb is not None:
                reply = self._on_command(verb, _payload_bytes(message.payload), message)
                self._queue_reply(self.topics.reply(verb), reply)
            elif (
                self._settings.ha_discovery
                and topic == ha_status
                and message.payload == b"online"
            ):
                # Home Assistant restarted: it forgets entities unless told again.
                await self._announce(client)
            else:
                self._to_listeners(message)

    def _queue_reply(self, topic: str, payload: bytes) -> None:
        if len(topic.encode()) > MAX_TOPIC_BYTES:
            return  # a verb so long that no reply topic can hold it
        if len(self._replies) >= REPLY_QUEUE_MAX:
            self._replies.popleft()
            self._replies_dropped += 1
            self._log_noisy(
                "replies dropped",
                logging.WARNING,
                "commands are arriving faster than they can be answered: "
                "%d replies dropped so far",
                self._replies_dropped,
            )
        self._replies.append((topic, payload))
        self._replies_ready.set()

    async def _reply_loop(self, client: aiomqtt.Client) -> None:
        while True:
            while self._replies:
                topic, payload = self._replies[0]
                await _publish(
                    client, topic, payload, qos=1, deadline_s=PUBLISH_TIMEOUT_S
                )
                self._replies.popleft()
            self._replies_ready.clear()
            await self._replies_ready.wait()

    def _to_listeners(self, message: aiomqtt.Message) -> None:
        payload = _payload_bytes(message.payload)
        for listener in self._listeners:
            if any(message.topic.matches(f) for f in listener.filters):
                try:
                    listener.on_message(message.topic.value, payload)
                except Exception as exc:
                    # Another adapter's failure stays its own (style.md C4).
                    _LOGGER.error(
                        "an MQTT message handler failed on %s",
                        message.topic.value,
                        exc_info=exc,
                    )

    def _on_command(self, verb: str, payload: bytes, message: aiomqtt.Message) -> bytes:
        """Check and carry out one command; return the reply payload."""
        self._commands_received += 1
        if message.retain:
            self._refused(verb, RETAINED_REFUSAL)
            return reply_payload(ok=False, error=RETAINED_REFUSAL)
        request = parse_command(
            verb, payload, max_bytes=self._settings.max_command_bytes
        )
        if not isinstance(request, CommandRequest):
            self._refused(verb, request.error)
            return reply_payload(
                ok=False, error=request.error, command_id=request.command_id
            )
        if request.command_id is not None:
            key = (request.verb.value, request.command_id)
            earlier = self._recent_replies.get(key)
            if earlier is not None:
                # A QoS 1 redelivery (or a sender's retry): answer again, do not redo.
                return earlier
        reply = self._carry_out(request)
        if request.command_id is not None:
            self._recent_replies[(request.verb.value, request.command_id)] = reply
            if len(self._recent_replies) > RECENT_COMMANDS_MAX:
                self._recent_replies.popitem(last=False)
        return reply

    def _carry_out(self, request: CommandRequest) -> bytes:
        command_id = request.command_id or (
            f"mqtt-{self.run_id}-{self._commands_received}"
        )
        command = build_command(
            request,
            command_id=command_id,
            occurred_mono=self._clock.monotonic(),
            occurred_at=self._clock.now_utc(),
        )
        try:
            handled = self._handle_command(command)
        except Exception as exc:
            # The sender must get an answer; the traceback goes to the log.
            _LOGGER.error("command %s from MQTT failed", request.verb, exc_info=exc)
            return reply_payload(
                ok=False,
                error="the daemon could not carry out the command",
                command_id=request.command_id,
            )
        _LOGGER.info(
            "command %s from MQTT: %s",
            request.verb,
            "done" if handled.ok else f"refused: {handled.error}",
        )
        return reply_payload(
            ok=handled.ok, error=handled.error, command_id=request.command_id
        )

    def _refused(self, verb: str, error: str) -> None:
        self._log_noisy(
            "refused",
            logging.INFO,
            "refused a command from MQTT (%.40s): %s",
            verb,
            error,
        )


async def _publish(
    client: aiomqtt.Client,
    topic: str,
    payload: bytes,
    *,
    qos: int,
    retain: bool = False,
    deadline_s: float | None = None,
) -> None:
    """``client.publish``, never losing a cancellation.

    aiomqtt 2.x waits for the PUBACK with ``asyncio.wait_for``, which in Python 3.11
    returns the result and drops a cancellation that arrives as the PUBACK does
    (fixed in 3.12). The publishing task then ran on, and the daemon's shutdown
    waited for it for ever, its record's final flush with it (found by
    tests/faults/test_output_faults.py). A cancellation requested during the publish
    is raised here.
    """
    task = asyncio.current_task()
    before = 0 if task is None else task.cancelling()
    await client.publish(topic, payload, qos=qos, retain=retain, timeout=deadline_s)
    if task is not None and task.cancelling() > before:
        raise asyncio.CancelledError


def _code(code: int | ReasonCode) -> int:
    return code.value if isinstance(code, ReasonCode) else code


def _payload_bytes(payload: object) -> bytes:
    # aiomqtt 2.x hands received payloads over as bytes; be safe with its wider type.
    if isinstance(payload, (bytes, bytearray)):
        return bytes(payload)
    if payload is None:
        return b""
    return str(payload).encode()


def _describe(group: BaseExceptionGroup[Exception]) -> str:
    first = group.exceptions[0]
    while isinstance(first, BaseExceptionGroup):
        first = first.exceptions[0]
    return str(first) or type(first).__name__
