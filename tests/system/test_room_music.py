"""The room's music over MQTT: a phase command changes what libVLC really plays."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import wave
from typing import TYPE_CHECKING

import aiomqtt
import numpy as np
import pytest

from tests.system.conftest import write_config

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from tests.broker import Broker
    from tests.system.conftest import Proc

pytestmark = [pytest.mark.broker, pytest.mark.subprocess, pytest.mark.libvlc]

ROOM = "music-room"


def played(record: Path) -> list[tuple[str, str]]:
    try:
        conn = sqlite3.connect(record)
        rows = conn.execute(
            "SELECT payload FROM events WHERE type = 'music' ORDER BY id"
        ).fetchall()
        conn.close()
    except sqlite3.Error:
        return []
    return [(json.loads(p)["phase"], json.loads(p)["track_id"]) for (p,) in rows]


def rms(path: Path) -> float:
    with wave.open(str(path)) as wav:
        frames = wav.readframes(wav.getnframes())
    samples = np.frombuffer(frames, dtype=np.int16).astype(np.float64) / 32768
    return float(np.sqrt(np.mean(samples**2))) if samples.size else 0.0


async def test_phase_over_mqtt_changes_the_music_heard_through_libvlc(
    tmp_path: Path, broker: Broker, spawn: Callable[..., Proc]
) -> None:
    record = tmp_path / "record.sqlite"
    out = tmp_path / "music.wav"
    config = write_config(
        tmp_path / "room.toml",
        f"""
[room]
name = "{ROOM}"
[record]
path = "{record}"
[mqtt]
url = "{broker.url}"
[music]
output = "file:{out}"
cache_dir = "{tmp_path / "cache"}"
crossfade_s = 1
[music.builtin]
track_s = 20
tracks_per_phase = 2
""",
    )
    daemon = spawn("-m", "roomctl", "run", "--config", str(config))
    daemon.wait_for(lambda: bool(played(record)), timeout=60, what="music to start")
    assert played(record)[0][0] == "preparation"
    async with aiomqtt.Client("127.0.0.1", port=broker.port) as client:
        await client.subscribe(f"roomctl/{ROOM}/cmd/phase/reply", qos=1)
        await client.publish(
            f"roomctl/{ROOM}/cmd/phase",
            json.dumps({"phase": "dosing", "by": "therapist", "id": "d"}).encode(),
            qos=1,
        )
        async with asyncio.timeout(10):
            async for message in client.messages:
                assert isinstance(message.payload, bytes)
                assert json.loads(message.payload) == {"ok": True, "id": "d"}
                break
    daemon.wait_for(
        lambda: any(phase == "dosing" for phase, _ in played(record)),
        timeout=60,
        what="the dosing playlist to start",
    )
    await asyncio.sleep(2.0)  # let the new deck write a couple of seconds of audio
    daemon.popen.terminate()
    assert daemon.popen.wait(timeout=10) == 0
    tracks = played(record)
    preparation = {t for phase, t in tracks if phase == "preparation"}
    dosing = {t for phase, t in tracks if phase == "dosing"}
    assert preparation
    assert dosing
    assert not preparation & dosing  # a different playlist, not the same tracks
    # Both decks really played audible, unclipped audio through libVLC's file output.
    for deck in (0, 1):
        level = rms(tmp_path / f"music.deck{deck}.wav")
        assert 0.001 < level < 0.5, (deck, level)
