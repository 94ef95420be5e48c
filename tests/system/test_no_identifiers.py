"""No patient identifier in any MQTT topic, payload or log line (issue 8).

A whole room runs as real processes: the daemon with ``session.patient_ref`` set to a
distinctive code and debug logging, the simulated oximeter (with corrupted bytes and a
pulled cable) and NIBP monitor on ptys, a simulated bulb, music through libVLC's file
output and Home Assistant discovery. A subscriber to ``#`` keeps every MQTT message;
the daemon's stderr is every log line. The session gets commands, a note with a
distinctive text, refusals and alarms. Then neither the code nor the note's text may
appear in any topic, payload or log line, except the test's own command messages
(``cmd/<verb>``, which carry the note it sent). The session record, the one place
the code belongs, must hold it: the scan would prove nothing if the code never
reached the daemon.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sqlite3
from typing import TYPE_CHECKING

import aiomqtt
import pytest

from roomctl.cli import main
from simulators.light import LightSimulator
from tests.system.conftest import write_config

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable
    from pathlib import Path

    from tests.broker import Broker
    from tests.system.conftest import Proc

pytestmark = [pytest.mark.broker, pytest.mark.subprocess, pytest.mark.pty]

ROOM = "ident-room"
#: The pseudonymous code and the note: distinctive, so a match is never chance.
PATIENT_REF = "PTREF-Zq7x9Kw3"
NOTE_TEXT = "NOTE-8fJ2-patient-said-Vd5s"
BULB = f"{ROOM}/ceiling"
WAIT_S = 30.0


def _config(tmp_path: Path, broker: Broker) -> Path:
    return write_config(
        tmp_path / "room.toml",
        f"""
[room]
name = "{ROOM}"
[session]
patient_ref = "{PATIENT_REF}"
[record]
path = "{tmp_path / "record.sqlite"}"
[devices.oximeter]
protocol = "nonin-df2"
port = "{tmp_path / "ox"}"
[devices.nibp]
protocol = "suntech-advantage"
port = "{tmp_path / "bp"}"
[alarms.nibp_schedule]
preparation_cycle_s = 60
[mqtt]
url = "{broker.url}"
ha_discovery = true
[lighting]
lights = ["{BULB}"]
confirm_timeout_s = 0
[music]
output = "file:{tmp_path / "music.wav"}"
cache_dir = "{tmp_path / "cache"}"
crossfade_s = 1
[music.builtin]
track_s = 10
tracks_per_phase = 1
[log]
level = "debug"
""",
    )


@contextlib.asynccontextmanager
async def everything(port: int) -> AsyncIterator[list[tuple[str, bytes]]]:
    seen: list[tuple[str, bytes]] = []

    async def collect(client: aiomqtt.Client) -> None:
        async for message in client.messages:
            assert isinstance(message.payload, bytes)
            seen.append((message.topic.value, message.payload))

    async with aiomqtt.Client("127.0.0.1", port) as client:
        await client.subscribe("#", qos=1)
        task = asyncio.create_task(collect(client))
        try:
            yield seen
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def until(what: str, predicate: Callable[[], bool]) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT_S
    while not predicate():
        if loop.time() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def _is_command(topic: str) -> bool:
    """The test's own commands: ``roomctl/<room>/cmd/<verb>`` (not the replies)."""
    parts = topic.split("/")
    return len(parts) == 4 and parts[2] == "cmd"


COMMANDS: list[tuple[str, dict[str, object]]] = [
    ("note", {"text": NOTE_TEXT, "by": "nurse", "id": "n1"}),
    ("baseline_confirm", {"by": "nurse", "id": "b1"}),
    ("phase", {"phase": "dosing", "by": "therapist", "id": "p1"}),
    ("nibp_start", {"id": "s1"}),
    ("music", {"action": "skip", "id": "m1"}),
    ("lights", {"level": 20, "id": "l1"}),
    ("acknowledge", {"by": "nurse", "id": "a1"}),
    ("audio_pause", {"by": "nurse", "id": "ap1"}),
    ("reset", {"code": "bp.high", "id": "r1"}),
    ("phase", {"phase": "closed", "id": "c1"}),
    ("note", {"text": NOTE_TEXT, "extra": "field", "id": "bad1"}),
]
VERBS = {verb for verb, _ in COMMANDS}


async def test_no_patient_identifier_in_mqtt_or_the_log(
    tmp_path: Path, broker: Broker, spawn: Callable[..., Proc]
) -> None:
    for name, protocol, extra in (
        ("ox", "nonin-df2", ("--fault", "corrupt:0.002", "--fault", "unplug:30-36")),
        ("bp", "suntech-advantage", ()),
    ):
        link = tmp_path / name
        sim = spawn(
            "-m", "simulators", protocol, "--port", f"pty:{link}",
            "--scenario", "demo", "--speed", "10", *extra,
        )  # fmt: skip
        sim.wait_for(link.exists, timeout=10, what=f"the {protocol} pty")
    bulb = LightSimulator(port=broker.port, names=[BULB])
    bulb_task = asyncio.create_task(bulb.run())
    try:
        async with everything(broker.port) as seen:
            daemon = spawn(
                "-m", "roomctl", "run", "--config", str(_config(tmp_path, broker))
            )
            base = f"roomctl/{ROOM}"

            def on(suffix: str) -> list[bytes]:
                return [p for t, p in seen if t == f"{base}/{suffix}"]

            await until("vitals", lambda: bool(on("vitals")))
            await until("the state", lambda: bool(on("state")))
            async with aiomqtt.Client("127.0.0.1", broker.port) as sender:
                for verb, payload in COMMANDS:
                    await sender.publish(
                        f"{base}/cmd/{verb}", json.dumps(payload).encode(), qos=1
                    )
            await until(
                "every reply",
                lambda: (
                    sum(
                        len(on(f"cmd/{verb}/reply"))
                        for verb in {v for v, _ in COMMANDS}
                    )
                    == len(COMMANDS)
                ),
            )
            await until("an alarm", lambda: bool(on("alarms")))
            # The pulled oximeter cable (3-3.6 s in): the link's words in the log.
            await until(
                "the cable pulled", lambda: any(b'"lost"' in p for p in on("events"))
            )
            await until("the bulb", lambda: bool(bulb.state(BULB).level))
            daemon.popen.send_signal(signal.SIGTERM)
            assert daemon.popen.wait(timeout=10) == 0
            await until("offline", lambda: on("status")[-1:] == [b"offline"])
    finally:
        bulb_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await bulb_task

    # What was scanned: every kind of message the room sends, and the log.
    topics = {topic for topic, _ in seen}
    for suffix in ("status", "state", "alarms", "events", "vitals"):
        assert f"{base}/{suffix}" in topics
    assert any(t.startswith("homeassistant/") for t in topics)
    assert any(t.startswith(f"zigbee2mqtt/{BULB}") for t in topics)
    log = daemon.stderr()
    assert len(log.splitlines()) > 20
    assert '"level": "debug"' in log

    # The code and the note reached the daemon: the record holds them.
    with contextlib.closing(sqlite3.connect(tmp_path / "record.sqlite")) as record:
        (stored,) = record.execute("SELECT patient_ref FROM sessions").fetchone()
        notes = record.execute(
            "SELECT payload FROM events WHERE type = 'note'"
        ).fetchall()
    assert stored == PATIENT_REF
    assert any(NOTE_TEXT in payload for (payload,) in notes)

    # ... and nowhere else.
    for secret in (PATIENT_REF, NOTE_TEXT):
        leaks = [
            (topic, payload[:200])
            for topic, payload in seen
            if not _is_command(topic)
            and (secret in topic or secret.encode() in payload)
        ]
        assert leaks == [], f"{secret} on MQTT"
        assert secret not in log, f"{secret} in the log"
        assert secret.lower() not in log.lower()


def test_config_check_does_not_print_the_patient_code(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(
        tmp_path / "room.toml", f'[session]\npatient_ref = "{PATIENT_REF}"\n'
    )
    assert main(["config", "check", str(config)]) == 0
    out = capsys.readouterr()
    assert "the configuration is valid" in out.out
    assert PATIENT_REF not in out.out + out.err
    # It says there is one, without showing it.
    assert '"patient_ref": "(set; not shown)"' in out.out
