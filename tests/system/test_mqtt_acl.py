"""The production mosquitto configuration (deploy/mosquitto) against a real broker.

mosquitto runs ``deploy/mosquitto/mosquitto.conf`` and ``roomctl.acl.example`` as
shipped; only the listener's port and the files' paths are rewritten (to a free
loopback port and this test's temporary folder), with a test CA and broker
certificate made by ``openssl`` and a password file made by ``mosquitto_passwd``.

Under MQTT 3.1.1 the broker acknowledges a publish the ACL forbids and drops it, so
"nothing arrives" is checked by a subscriber allowed to read the topic: the forbidden
publish is acknowledged first, then a permitted one on the same topic follows as a
marker, and the subscriber must see the marker and nothing before it.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import getpass
import json
import shutil
import signal
import sqlite3
import ssl
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import aiomqtt
import pytest
from paho.mqtt.reasoncodes import ReasonCode

from roomctl.demo import free_port
from roomctl.ui.mqtt_client import MqttSource
from roomctl.ui.source import BrokerLink
from tests.broker import ConfiguredBroker, TlsFiles, make_tls_files
from tests.system.conftest import write_config

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Iterator

    from tests.system.conftest import Proc

pytestmark = pytest.mark.broker

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "mosquitto"
#: The users of the example ACL, each with the test's password.
USERS = ("room-1", "room-2", "console-hall", "nurse-station", "zigbee2mqtt")
PASSWORDS = {user: f"test password of {user}" for user in USERS}
#: Directives of the deploy configuration that name this machine's port or files.
LOCAL_DIRECTIVES = frozenset(
    {"listener", "password_file", "acl_file", "cafile", "certfile", "keyfile"}
)
WAIT_S = 10.0


def render_deploy_config(
    text: str, *, port: int, files: dict[str, Path], log: Path
) -> tuple[str, set[str]]:
    """The deploy configuration for a test broker, and the directives rewritten.

    Every line is kept as shipped except the listener (moved to ``127.0.0.1:port``)
    and the directives naming a file (pointed at ``files[directive]``). Test-only
    lines are appended: the log file, no persistence and, when run as root, this
    user (mosquitto would otherwise drop to a user that cannot read the files).

    Raises:
        AssertionError: a line names a path of the machine that is not rewritten.
    """
    lines = []
    rewritten: set[str] = set()
    for line in text.splitlines():
        words = line.split()
        directive = words[0] if words and not line.startswith("#") else ""
        if directive == "listener":
            line = f"listener {port} 127.0.0.1"  # noqa: PLW2901
        elif directive in LOCAL_DIRECTIVES:
            line = f"{directive} {files[directive]}"  # noqa: PLW2901
        else:
            assert directive == "" or "/" not in line, f"unexpected path: {line}"
        if directive in LOCAL_DIRECTIVES:
            rewritten.add(directive)
        lines.append(line)
    lines += [
        f"log_dest file {log}",
        "log_type error",
        "log_type warning",
        "log_type notice",
        "log_type information",
        "persistence false",
    ]
    if getpass.getuser() == "root":
        lines.append(f"user {getpass.getuser()}")
    return "\n".join(lines) + "\n", rewritten


@dataclass(frozen=True)
class SecureBroker:
    broker: ConfiguredBroker
    tls: TlsFiles
    folder: Path

    @property
    def port(self) -> int:
        return self.broker.port

    def tls_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.tls.ca_cert))

    def client(
        self,
        user: str | None,
        *,
        password: str | None = None,
        identifier: str | None = None,
        will: aiomqtt.Will | None = None,
        protocol: aiomqtt.ProtocolVersion = aiomqtt.ProtocolVersion.V311,
    ) -> aiomqtt.Client:
        if password is None and user is not None:
            password = PASSWORDS.get(user)
        return aiomqtt.Client(
            "127.0.0.1",
            self.port,
            username=user,
            password=password,
            identifier=identifier,
            will=will,
            protocol=protocol,
            tls_context=self.tls_context(),
            timeout=WAIT_S,
        )


def _run(*args: str) -> None:
    subprocess.run(args, check=True, capture_output=True, timeout=30)


@pytest.fixture(scope="module")
def secure(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureBroker]:
    tool = shutil.which("mosquitto_passwd")
    assert tool is not None, "mosquitto_passwd is missing (Debian package mosquitto)"
    folder = tmp_path_factory.mktemp("mosquitto-deploy")
    tls = make_tls_files(folder / "tls")
    passwords = folder / "roomctl.passwd"
    for user in USERS:
        create = ("-c",) if not passwords.exists() else ()
        _run(tool, "-b", *create, str(passwords), user, PASSWORDS[user])
    passwords.chmod(0o600)
    acl = folder / "roomctl.acl"
    shutil.copyfile(DEPLOY / "roomctl.acl.example", acl)
    port = free_port()
    broker = ConfiguredBroker(folder=folder, port=port)
    broker.config, rewritten = render_deploy_config(
        (DEPLOY / "mosquitto.conf").read_text(),
        port=port,
        files={
            "password_file": passwords,
            "acl_file": acl,
            "cafile": tls.ca_cert,
            "certfile": tls.server_cert,
            "keyfile": tls.server_key,
        },
        log=broker.log_path,
    )
    assert rewritten == LOCAL_DIRECTIVES
    broker.start()
    try:
        yield SecureBroker(broker=broker, tls=tls, folder=folder)
    finally:
        broker.stop()


# ------------------------------------------------------------------ watching


@dataclass
class Seen:
    client: aiomqtt.Client
    messages: list[tuple[str, bytes]] = field(default_factory=list)

    def on(self, topic: str) -> list[bytes]:
        return [payload for t, payload in self.messages if t == topic]

    async def wait_for(self, what: str, predicate: Callable[[], bool]) -> None:
        deadline = time.monotonic() + WAIT_S
        while not predicate():
            if time.monotonic() > deadline:
                pytest.fail(
                    f"timed out waiting for {what}; saw {str(self.messages)[-2000:]}"
                )
            await asyncio.sleep(0.01)


def _code(code: int | ReasonCode) -> int:
    return code.value if isinstance(code, ReasonCode) else code


async def _collect(client: aiomqtt.Client, seen: Seen) -> None:
    async for message in client.messages:
        payload = message.payload
        assert isinstance(payload, bytes)
        seen.messages.append((message.topic.value, payload))


@contextlib.asynccontextmanager
async def watching(
    secure: SecureBroker,
    user: str,
    *filters: str,
    protocol: aiomqtt.ProtocolVersion = aiomqtt.ProtocolVersion.V311,
) -> AsyncIterator[Seen]:
    async with secure.client(user, protocol=protocol) as client:
        seen = Seen(client)
        for topic_filter in filters:
            granted = await client.subscribe(topic_filter, qos=1)
            assert all(_code(code) < 0x80 for code in granted), (user, topic_filter)
        task = asyncio.create_task(_collect(client, seen))
        try:
            yield seen
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def publish_as(
    secure: SecureBroker,
    user: str,
    topic: str,
    payload: bytes,
    *,
    retain: bool = False,
    protocol: aiomqtt.ProtocolVersion = aiomqtt.ProtocolVersion.V311,
) -> None:
    """Publish at QoS 1 and wait for the broker's PUBACK (allowed or not)."""
    async with secure.client(user, protocol=protocol) as client:
        await client.publish(topic, payload, qos=1, retain=retain)


# ------------------------------------------------------------------ logging in


def test_the_shipped_configuration_is_tls_only_with_no_anonymous_access() -> None:
    settings = {
        words[0]: " ".join(words[1:])
        for line in (DEPLOY / "mosquitto.conf").read_text().splitlines()
        if (words := line.split()) and not line.startswith("#")
    }
    assert settings["allow_anonymous"] == "false"
    assert settings["listener"] == "8883"
    assert settings["use_username_as_clientid"] == "true"
    # One listener, and it is the TLS one.
    listeners = [
        line
        for line in (DEPLOY / "mosquitto.conf").read_text().splitlines()
        if line.startswith("listener")
    ]
    assert listeners == ["listener 8883"]
    assert {"cafile", "certfile", "keyfile", "password_file", "acl_file"} <= set(
        settings
    )


@pytest.mark.parametrize(
    ("user", "password"),
    [
        (None, None),
        ("room-1", "not the password"),
        ("nobody", "some password"),
    ],
    ids=["anonymous", "wrong-password", "unknown-user"],
)
async def test_anonymous_and_wrong_passwords_are_turned_away(
    secure: SecureBroker, user: str | None, password: str | None
) -> None:
    with pytest.raises(aiomqtt.MqttCodeError) as caught:
        async with secure.client(user, password=password):
            pass
    # MQTT 3.1.1 CONNACK 5 "not authorised" (paho reports it as reason code 135).
    assert "authori" in str(caught.value).lower()


async def test_plain_text_mqtt_is_not_spoken_at_all(secure: SecureBroker) -> None:
    # Right user and password, but no TLS: the listener only speaks TLS.
    client = aiomqtt.Client(
        "127.0.0.1",
        secure.port,
        username="room-1",
        password=PASSWORDS["room-1"],
        timeout=2.0,
    )
    with pytest.raises(aiomqtt.MqttError):
        async with client:
            pass


# ------------------------------------------------------------ publishing as a room

ROOM_TOPICS = ["status", "state", "alarms", "events", "vitals", "cmd/phase/reply"]


@pytest.mark.parametrize("suffix", ROOM_TOPICS)
@pytest.mark.parametrize("user", ["room-2", "console-hall", "nurse-station"])
async def test_nobody_else_publishes_as_a_room(
    secure: SecureBroker, user: str, suffix: str
) -> None:
    topic = f"roomctl/room-1/{suffix}"
    # The watcher must be another user: a user name is the client id here.
    watcher = "console-hall" if user != "console-hall" else "nurse-station"
    async with watching(secure, watcher, topic) as seen:
        await publish_as(
            secure,
            user,
            topic,
            b"forged by " + user.encode(),
            retain=suffix in {"status", "state"},
        )
        await publish_as(secure, "room-1", topic, b"marker")
        await seen.wait_for("the room's own message", lambda: bool(seen.on(topic)))
    assert seen.messages == [(topic, b"marker")]


@pytest.mark.parametrize("user", ["room-2", "console-hall", "zigbee2mqtt", "room-1"])
@pytest.mark.parametrize(
    "protocol",
    [aiomqtt.ProtocolVersion.V311, aiomqtt.ProtocolVersion.V5],
    ids=["mqtt-3.1.1", "mqtt-5"],
)
async def test_only_command_users_can_command_a_room(
    secure: SecureBroker, user: str, protocol: aiomqtt.ProtocolVersion
) -> None:
    # room-1 is on the list too: a daemon reads its commands but never sends one.
    topic = "roomctl/room-1/cmd/phase"
    forged = b'{"phase": "dosing", "id": "forged"}'
    marker = b'{"phase": "closed", "id": "marker"}'
    async with (
        watching(secure, "room-1", "roomctl/room-1/cmd/+", protocol=protocol) as daemon,
        watching(secure, "nurse-station", "roomctl/room-1/cmd/#") as nurse,
    ):
        if user == "room-1":
            # Its own connection (a second one would take over its client id).
            await daemon.client.publish(topic, forged, qos=1)
        else:
            await publish_as(secure, user, topic, forged, protocol=protocol)
        await nurse.client.publish(topic, marker, qos=1)
        await daemon.wait_for("the nurse's command", lambda: bool(daemon.on(topic)))
        await nurse.wait_for("the nurse's command", lambda: bool(nurse.on(topic)))
    assert daemon.messages == [(topic, marker)]
    assert nurse.messages == [(topic, marker)]


async def test_a_room_cannot_listen_to_another_rooms_commands(
    secure: SecureBroker,
) -> None:
    topic = "roomctl/room-1/cmd/note"
    async with (
        watching(secure, "room-2", "roomctl/+/cmd/+", "roomctl/#") as other_room,
        watching(secure, "room-1", "roomctl/room-1/cmd/+") as room,
    ):
        await publish_as(secure, "nurse-station", topic, b'{"text": "private"}')
        await room.wait_for("the command", lambda: bool(room.on(topic)))
        # A marker the other room may read, sent after: it arrives alone.
        await publish_as(secure, "nurse-station", "roomctl/room-2/cmd/note", b"{}")
        await other_room.wait_for("its own command", lambda: bool(other_room.messages))
    assert other_room.messages == [("roomctl/room-2/cmd/note", b"{}")]


@pytest.mark.parametrize("user", ["room-2", "console-hall", "nurse-station"])
async def test_only_the_room_drives_its_lights(secure: SecureBroker, user: str) -> None:
    topic = "zigbee2mqtt/room-1/ceiling/set"
    async with watching(secure, "zigbee2mqtt", "zigbee2mqtt/#") as bridge:
        await publish_as(secure, user, topic, b'{"state": "ON", "brightness": 254}')
        await publish_as(secure, "room-1", topic, b'{"state": "OFF"}')
        await bridge.wait_for("the room's command", lambda: bool(bridge.on(topic)))
    assert bridge.messages == [(topic, b'{"state": "OFF"}')]


async def test_a_client_id_cannot_throw_a_room_off_the_broker(
    secure: SecureBroker,
) -> None:
    status = "roomctl/room-1/status"
    will = aiomqtt.Will(status, b"offline", qos=1, retain=True)
    async with (
        watching(secure, "console-hall", status) as console,
        secure.client("room-1", identifier="roomctl-room-1", will=will) as room,
    ):
        await room.publish(status, b"online", qos=1, retain=True)
        for identifier in ("roomctl-room-1", "room-1"):
            async with secure.client("room-2", identifier=identifier) as other:
                await other.publish("roomctl/room-2/status", b"online", qos=1)
        await room.publish(status, b"still online", qos=1, retain=True)
        await console.wait_for("the room", lambda: len(console.on(status)) == 2)
    # No "offline" will in between: the room was never thrown off.
    assert console.on(status) == [b"online", b"still online"]


# ------------------------------------------------------------------ the daemon


def _room_config(tmp_path: Path, secure: SecureBroker) -> Path:
    password = tmp_path / "mqtt.password"
    password.write_text(PASSWORDS["room-1"] + "\n")
    password.chmod(0o600)
    return write_config(
        tmp_path / "room-1.toml",
        f"""
[room]
name = "room-1"
[record]
path = "{tmp_path / "record.sqlite"}"
[music]
enabled = false
[mqtt]
url = "mqtts://127.0.0.1:{secure.port}"
username = "room-1"
password_file = "{password}"
reconnect_base_s = 0.1
reconnect_cap_s = 0.5
[mqtt.tls]
ca_file = "{secure.tls.ca_cert}"
[lighting]
lights = ["room-1/ceiling"]
confirm_timeout_s = 0
""",
    )


def _documents(payloads: list[bytes]) -> list[dict[str, object]]:
    documents = [json.loads(payload) for payload in payloads]
    assert all(isinstance(document, dict) for document in documents)
    return documents


def _phase(state: dict[str, object]) -> object:
    engine = state.get("engine")
    return engine.get("phase") if isinstance(engine, dict) else None


@pytest.mark.subprocess
async def test_the_daemon_runs_through_the_deploy_configuration(
    secure: SecureBroker, tmp_path: Path, spawn: Callable[..., Proc]
) -> None:
    base = "roomctl/room-1"
    async with (
        watching(secure, "console-hall", f"{base}/#") as console,
        watching(secure, "zigbee2mqtt", "zigbee2mqtt/room-1/#") as bridge,
    ):
        daemon = spawn(
            "-m", "roomctl", "run", "--config", str(_room_config(tmp_path, secure))
        )
        # It logs in with its user, password file and the CA: online, state, lights.
        await console.wait_for(
            "online", lambda: b"online" in console.on(f"{base}/status")
        )
        await console.wait_for("a state", lambda: bool(console.on(f"{base}/state")))
        light = "zigbee2mqtt/room-1/ceiling/set"
        await bridge.wait_for("the preparation light", lambda: bool(bridge.on(light)))

        # Commands from clients that may not command the room never reach it (each
        # user sends on its one connection: a user name is a client id here).
        for user, client in (
            ("console-hall", console.client),
            ("zigbee2mqtt", bridge.client),
        ):
            forged = {"phase": "dosing", "id": f"forged-{user}"}
            await client.publish(f"{base}/cmd/phase", json.dumps(forged), qos=1)
        await publish_as(
            secure,
            "room-2",
            f"{base}/cmd/phase",
            b'{"phase": "dosing", "id": "forged"}',
        )
        # The nurse station's command does, and is answered.
        await publish_as(
            secure,
            "nurse-station",
            f"{base}/cmd/phase",
            b'{"phase": "dosing", "by": "therapist", "id": "nurse-1"}',
        )
        reply_topic = f"{base}/cmd/phase/reply"
        await console.wait_for("the reply", lambda: bool(console.on(reply_topic)))
        assert _documents(console.on(reply_topic)) == [{"ok": True, "id": "nurse-1"}]
        assert console.on(f"{base}/cmd/phase") == [
            b'{"phase": "dosing", "by": "therapist", "id": "nurse-1"}'
        ]
        await console.wait_for(
            "the dosing phase in the state",
            lambda: any(
                _phase(document) == "dosing"
                for document in _documents(console.on(f"{base}/state"))
            ),
        )
        lights_before = len(bridge.on(light))
        await bridge.wait_for(
            "the dosing light", lambda: len(bridge.on(light)) > lights_before
        )
        daemon.popen.send_signal(signal.SIGTERM)
        assert daemon.popen.wait(timeout=10) == 0
        await console.wait_for(
            "offline", lambda: console.on(f"{base}/status")[-1:] == [b"offline"]
        )
    # The record holds the nurse's command and no other.
    with contextlib.closing(sqlite3.connect(tmp_path / "record.sqlite")) as record:
        commands = [
            json.loads(payload)["command_id"]
            for (payload,) in record.execute(
                "SELECT payload FROM events WHERE type = 'command'"
            )
        ]
    assert commands == ["nurse-1"]
    assert "forged" not in daemon.stderr()


# ------------------------------------------------------------------ the console


async def _console_links(
    secure: SecureBroker, *, cafile: str | None, until: float
) -> list[object]:
    """What a console's MQTT source delivers within ``until`` seconds."""
    items: list[object] = []
    source = MqttSource(
        f"mqtts://127.0.0.1:{secure.port}",
        room="room-1",
        username="console-hall",
        password=PASSWORDS["console-hall"],
        cafile=cafile,
        reconnect_base_s=5.0,
    )
    task = asyncio.create_task(source.run(items.append))
    try:
        async with asyncio.timeout(until):
            while not any(isinstance(i, BrokerLink) for i in items):  # noqa: ASYNC110 (the source's own deliveries)
                await asyncio.sleep(0.05)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    return items


async def test_the_console_logs_in_with_a_user_password_and_the_clinics_ca(
    secure: SecureBroker,
) -> None:
    # roomctl console --username console-hall --password-file F --cafile CA
    links = [
        i
        for i in await _console_links(
            secure, cafile=str(secure.tls.ca_cert), until=WAIT_S
        )
        if isinstance(i, BrokerLink)
    ]
    assert links[0].connected, links


async def test_the_console_refuses_a_broker_it_cannot_verify_and_leaks_no_socket(
    secure: SecureBroker,
) -> None:
    # No --cafile: the system's CAs, which never signed the test broker's
    # certificate. paho leaves the socket of a failed handshake open; the console
    # closes it (roomctl.mqtt.tls), so collecting garbage here finds no open socket
    # (filterwarnings=error turns a ResourceWarning into a failure).
    gc.collect()
    before = _open_sockets()
    links = [
        i
        for i in await _console_links(secure, cafile=None, until=WAIT_S)
        if isinstance(i, BrokerLink)
    ]
    assert not links[0].connected
    assert "certificate verify failed" in links[0].detail
    assert _open_sockets() == before
    gc.collect()


def _open_sockets() -> int:
    fds = Path("/proc/self/fd")
    count = 0
    for fd in fds.iterdir():
        with contextlib.suppress(OSError):
            count += str(fd.readlink()).startswith("socket:")
    return count
