"""MqttBridge with a broker that wants a password, and one that speaks only TLS."""

from __future__ import annotations

import asyncio
import getpass
import logging
import shutil
import ssl
import subprocess
from typing import TYPE_CHECKING

import aiomqtt
import pytest

from roomctl.bus import EventBus
from roomctl.clock import SystemClock
from roomctl.events import CommandHandled
from roomctl.mqtt.bridge import MqttBridge
from roomctl.mqtt.settings import MqttSettings
from tests.broker import Broker, TlsFiles, make_tls_files

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from roomctl.events import Command

pytestmark = pytest.mark.broker

CLOCK = SystemClock()
WAIT_S = 10.0


def _handled(command: Command) -> CommandHandled:
    return CommandHandled(
        occurred_mono=command.occurred_mono,
        occurred_at=command.occurred_at,
        command_id=command.command_id,
        verb=command.verb,
        ok=True,
    )


def _bridge(settings: dict[str, object], room: str) -> MqttBridge:
    return MqttBridge(
        settings=MqttSettings.model_validate(
            {"reconnect_base_s": 0.05, "reconnect_cap_s": 0.2, **settings}
        ),
        room=room,
        bus=EventBus(),
        clock=CLOCK,
        handle_command=_handled,
        t0_mono=CLOCK.monotonic(),
    )


async def _connects(bridge: MqttBridge, *, within_s: float = WAIT_S) -> bool:
    loop = asyncio.get_running_loop()
    async with asyncio.TaskGroup() as tg:
        task = tg.create_task(bridge.run())
        deadline = loop.time() + within_s
        connected = False
        while not connected and loop.time() < deadline:
            await asyncio.sleep(0.01)
            connected = bridge.connected
        task.cancel()
    return connected


#: Run as root, mosquitto drops to the ``mosquitto`` user, which cannot read the test's
#: private temporary folder; naming the current user keeps it (ignored when not root).
KEEP_USER = f"user {getpass.getuser()}\n"


def _run(*args: str) -> None:
    subprocess.run(args, check=True, capture_output=True, timeout=30)


# ------------------------------------------------------------------ password


@pytest.fixture(scope="module")
def password_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    tool = shutil.which("mosquitto_passwd")
    if tool is None:
        pytest.skip("mosquitto_passwd is not installed")
    folder = tmp_path_factory.mktemp("mosquitto-pw")
    passwords = folder / "passwords"
    _run(tool, "-b", "-c", str(passwords), "room1", "correct horse")
    passwords.chmod(0o600)
    broker = Broker(
        folder=folder,
        extra_config=(f"{KEEP_USER}allow_anonymous false\npassword_file {passwords}\n"),
    )
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


async def test_bridge_logs_in_with_a_password_file(
    password_broker: Broker, tmp_path: Path
) -> None:
    secret = tmp_path / "mqtt.pw"
    secret.write_text("correct horse\n")
    bridge = _bridge(
        {"url": password_broker.url, "username": "room1", "password_file": secret},
        "pw-room",
    )
    assert await _connects(bridge)


async def test_bridge_with_a_wrong_password_retries_and_says_why(
    password_broker: Broker, caplog: pytest.LogCaptureFixture
) -> None:
    bridge = _bridge(
        {"url": password_broker.url, "username": "room1", "password": "wrong"},
        "pw-room",
    )
    assert not await _connects(bridge, within_s=0.5)
    warnings = [
        r.getMessage()
        for r in caplog.records
        if r.name == "roomctl.mqtt.bridge" and r.levelno == logging.WARNING
    ]
    assert len(warnings) == 1
    assert "authori" in warnings[0].lower()
    assert "wrong" not in caplog.text


async def test_bridge_with_an_unreadable_password_file_retries(
    password_broker: Broker, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    bridge = _bridge(
        {
            "url": password_broker.url,
            "username": "room1",
            "password_file": tmp_path / "missing.pw",
        },
        "pw-room",
    )
    assert not await _connects(bridge, within_s=0.3)
    assert "cannot read the password file" in caplog.text


# ------------------------------------------------------------------ TLS


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    return make_tls_files(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def tls_broker(
    tmp_path_factory: pytest.TempPathFactory, tls_files: TlsFiles
) -> Iterator[Broker]:
    # These lines follow the generated ``listener``, so they make it a TLS one.
    broker = Broker(
        folder=tmp_path_factory.mktemp("mosquitto-tls"),
        extra_config=(
            f"{KEEP_USER}"
            f"cafile {tls_files.ca_cert}\n"
            f"certfile {tls_files.server_cert}\n"
            f"keyfile {tls_files.server_key}\n"
        ),
    )
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


async def test_bridge_speaks_tls_to_a_broker_it_trusts(
    tls_broker: Broker, tls_files: TlsFiles
) -> None:
    bridge = _bridge(
        {
            "url": f"mqtts://127.0.0.1:{tls_broker.port}",
            "tls": {"ca_file": tls_files.ca_cert},
        },
        "tls-room",
    )
    assert await _connects(bridge)
    context = ssl.create_default_context(cafile=str(tls_files.ca_cert))
    async with aiomqtt.Client(
        "127.0.0.1", tls_broker.port, tls_context=context
    ) as observer:
        await observer.subscribe(bridge.topics.status, qos=1)
        async for message in observer.messages:
            assert message.payload == b"offline"  # retained after the clean stop
            break


async def test_bridge_refuses_a_broker_certificate_it_cannot_verify(
    tls_broker: Broker, caplog: pytest.LogCaptureFixture
) -> None:
    # No ca_file: the system's CAs, which never signed the test broker's certificate.
    bridge = _bridge({"url": f"mqtts://127.0.0.1:{tls_broker.port}"}, "tls-room")
    assert not await _connects(bridge, within_s=0.5)
    assert "certificate verify failed" in caplog.text


async def test_bridge_with_missing_tls_files_retries_and_says_why(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    bridge = _bridge(
        {"url": "mqtts://127.0.0.1:1", "tls": {"ca_file": tmp_path / "none.pem"}},
        "tls-room",
    )
    assert not await _connects(bridge, within_s=0.3)
    assert "cannot load the TLS files" in caplog.text
