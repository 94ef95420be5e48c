"""The MQTT broker killed and restarted during a session: no alarm transition lost.

The real daemon (in-process) reads a simulated Nonin DF2 oximeter over a pty and
publishes to a real mosquitto (with persistence, so a subscriber's session survives a
restart). The patient's SpO2 drops below 90 % for 30 s every 70 s of session time, so
``spo2.low`` is raised and cleared over and over. The session runs on a scaled clock
(``SPEED`` times real time, the simulator at the same speed): a transition every
second or so of real time.

``ROOMCTL_BROKER_KILLS`` times (20 by default), while the session goes on: the broker
is killed (SIGKILL), stays away until at least one alarm transition has been made
without it, and is started again on the same port. A subscriber with a persistent
session (clean session off, QoS 1) reconnects after each restart. At the end every
alarm transition in the session record must have reached the subscriber exactly as
recorded, in order, numbered 1, 2, 3 ... by ``seq`` within the daemon's ``run``, with
no gap (repeats from QoS 1 resends are dropped by ``run``/``seq``, as consoles do).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import socket
import sqlite3
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import aiomqtt
import pytest

from roomctl.mqtt.outbox import Outgoing, SeqFilter
from roomctl.readings import ProtocolId
from simulators.nonin_df2 import NoninDf2Model
from simulators.scenarios import Keyframe, Scenario
from tests.broker import Broker
from tests.faults.room import (
    SimPort,
    describe,
    report,
    running_room,
    scaled,
    wait_until,
)

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from roomctl.mqtt.bridge import MqttBridge
    from tests.faults.room import Room

KILLS = int(os.environ.get("ROOMCTL_BROKER_KILLS", "20"))
#: Session seconds per real second (the simulator runs at the same speed).
SPEED = 40.0
#: One SpO2 dip: normal for 40 s, below 90 % for 30 s.
PERIOD_S = 70.0
DIP_S = 30.0

pytestmark = [pytest.mark.broker, pytest.mark.pty, pytest.mark.timeout(60 + 5 * KILLS)]


def dips(hours: float) -> Scenario:
    """SpO2 98 %, dipping to 86 % for ``DIP_S`` every ``PERIOD_S`` seconds."""
    frames = []
    for k in range(round(hours * 3600 / PERIOD_S)):
        start = k * PERIOD_S
        frames += [
            Keyframe(t_s=start, spo2_percent=98),
            Keyframe(t_s=start + PERIOD_S - DIP_S - 0.5, spo2_percent=98),
            Keyframe(t_s=start + PERIOD_S - DIP_S, spo2_percent=86),
            Keyframe(t_s=start + PERIOD_S - 0.5, spo2_percent=86),
        ]
    return Scenario(
        name="dips",
        description="SpO2 dips below 90 % for 30 s every 70 s",
        duration_s=hours * 3600,
        keyframes=tuple(frames),
    )


@pytest.fixture
def persistent_broker(tmp_path: Path) -> Iterator[Broker]:
    folder = tmp_path / "mosquitto"
    # Started as root, mosquitto drops to the "mosquitto" user, which cannot write in
    # pytest's owner-only folders: its persistence file was then never written, every
    # restart forgot the subscriber's session, and an alarm published before the
    # subscriber came back was dropped by the broker (seen as a gap here). Keep root.
    run_as = "user root\n" if os.geteuid() == 0 else ""
    broker = Broker(
        folder=folder,
        extra_config=(
            f"{run_as}persistence true\n"
            f"persistence_location {folder}/\n"
            "autosave_on_changes true\n"
            "autosave_interval 1\n"
        ),
    )
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()
    assert (folder / "mosquitto.db").exists(), "the broker's persistence never saved"


@dataclass
class Observer:
    """A console-like subscriber: persistent session, QoS 1, reconnects by itself."""

    port: int
    topic: str
    lines: list[dict[str, object]] = field(default_factory=list)
    connections: int = 0
    connected: bool = False
    #: ``(time.monotonic(), what)``: connections and arrivals, for a failure's story.
    timeline: list[tuple[float, str]] = field(default_factory=list)

    async def run(self) -> None:
        while True:
            try:
                async with aiomqtt.Client(
                    "127.0.0.1",
                    self.port,
                    identifier="fault-observer",
                    clean_session=False,
                    socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)],
                ) as client:
                    await client.subscribe(self.topic, qos=1)
                    self.connections += 1
                    self.connected = True
                    self.timeline.append((time.monotonic(), "observer connected"))
                    async for message in client.messages:
                        assert isinstance(message.payload, bytes)
                        line = json.loads(message.payload)
                        self.lines.append(line)
                        self.timeline.append(
                            (time.monotonic(), f"observer got seq {line['seq']}")
                        )
            except aiomqtt.MqttError:
                pass
            finally:
                self.connected = False
            await asyncio.sleep(0.05)

    def unique(self) -> tuple[list[dict[str, object]], SeqFilter]:
        seqs = SeqFilter()
        kept = [
            line
            for line in self.lines
            if seqs.accept(str(line["run"]), _int(line["seq"]))
        ]
        return kept, seqs


def _int(value: object) -> int:
    assert isinstance(value, int)
    return value


def _bridge(room: Room) -> MqttBridge:
    bridge = room.daemon.mqtt
    assert bridge is not None
    return bridge


def _caught_up(room: Room, observer: Observer) -> bool:
    bridge = _bridge(room)
    seqs = [_int(line["seq"]) for line in observer.lines]
    return bridge.queued == 0 and (max(seqs, default=0) >= bridge._alarm_seq)


async def _more_alarms(room: Room, than: int) -> None:
    await wait_until(
        "an alarm transition while the broker is away",
        lambda: len(room.tap.alarms()) > than,
    )


def _log_acks(
    bridge: MqttBridge,
    timeline: list[tuple[float, str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Note each alarm the broker acknowledged to the bridge (``Outbox.done``)."""
    outbox = bridge._outbox
    done = outbox.done

    def logged(item: Outgoing) -> None:
        if item.critical:
            seq = json.loads(item.payload)["seq"]
            timeline.append((time.monotonic(), f"bridge got PUBACK for seq {seq}"))
        done(item)

    monkeypatch.setattr(outbox, "done", logged)


def _story(timeline: list[tuple[float, str]], gaps: list[tuple[int, int]]) -> str:
    """The timeline around the first missing alarm, for the failure message."""
    first = gaps[0][0]
    marks = [i for i, (_t, what) in enumerate(timeline) if what.endswith(f" {first}")]
    at = marks[0] if marks else len(timeline) - 1
    window = timeline[max(0, at - 12) : at + 12]
    start = window[0][0]
    return f"missing seq {gaps}; around it:\n" + "\n".join(
        f"  +{t - start:7.3f} s  {what}" for t, what in window
    )


def _recorded_alarms(record: Path) -> list[tuple[str, str, str, str]]:
    conn = sqlite3.connect(record)
    try:
        rows = conn.execute(
            "SELECT payload FROM events WHERE type = 'alarm' ORDER BY id"
        ).fetchall()
    finally:
        conn.close()
    out = []
    for (payload,) in rows:
        doc = json.loads(payload)
        out.append(
            (doc["code"], doc["transition"], doc["priority"], doc["occurred_at"])
        )
    return out


async def test_broker_killed_again_and_again_loses_no_alarm_transition(
    tmp_path: Path,
    persistent_broker: Broker,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    broker = persistent_broker
    clock = scaled(SPEED, monkeypatch)
    port = SimPort(
        NoninDf2Model(dips(hours=4), seed=3), link_path=tmp_path / "ox", speed=SPEED
    )
    observer = Observer(broker.port, "roomctl/faults/alarms")
    rng = random.Random(8)
    outages: list[float] = []
    during_outage: list[int] = []
    async with running_room(
        tmp_path,
        {"oximeter": (ProtocolId.NONIN_DF2.value, port)},
        clock=clock,
        mqtt_url=broker.url,
    ) as room:
        # Not one of the room's extra tasks: those stop before the daemon, and a
        # transition made while it stops is still sent (the bridge's goodbye).
        observing = asyncio.create_task(observer.run())
        bridge = _bridge(room)
        _log_acks(bridge, observer.timeline, monkeypatch)
        await wait_until("the bridge and the observer", lambda: bridge.connected)
        await wait_until("the first alarm", lambda: bool(room.tap.alarms()), 30)
        for _kill in range(KILLS):
            await wait_until(
                "the observer to have every alarm so far",
                lambda: _caught_up(room, observer),
            )
            before = len(room.tap.alarms())
            killed = time.monotonic()
            broker.kill()
            observer.timeline.append((killed, "broker killed"))
            await wait_until("the bridge to notice", lambda: not bridge.connected)
            # Away until the room has made at least one transition without it.
            await _more_alarms(room, before)
            await asyncio.sleep(rng.uniform(0.0, 0.4))
            during_outage.append(len(room.tap.alarms()) - before)
            broker.start()
            observer.timeline.append((time.monotonic(), "broker started"))
            outages.append(time.monotonic() - killed)
        await wait_until(
            "everything delivered after the last restart",
            lambda: _caught_up(room, observer),
        )
        run_id = bridge.run_id
        alive = room.alive()
    try:
        await wait_until(
            "what the bridge sent as it stopped",
            lambda: (
                max((_int(x["seq"]) for x in observer.lines), default=0)
                >= bridge._alarm_seq
            ),
            5,
        )
    finally:
        observing.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await observing
    # The daemon has stopped (record flushed): compare it with what was received.
    recorded = _recorded_alarms(room.record)
    received, seqs = observer.unique()
    delivered = [
        (line["code"], line["transition"], line["priority"], line["at"])
        for line in received
    ]
    lost = len(recorded) - len(set(delivered) & set(recorded))
    report(
        "broker-kill",
        kills=KILLS,
        outages=describe(outages, "s", 1.0),
        transitions_recorded=len(recorded),
        made_while_broker_away=sum(during_outage),
        received_with_repeats=len(observer.lines),
        delivered_unique=len(delivered),
        lost=lost,
        observer_connections=observer.connections,
    )
    assert alive
    assert len(outages) == KILLS
    assert all(n >= 1 for n in during_outage)
    assert {str(line["run"]) for line in received} == {run_id}
    assert seqs.gaps == [], _story(observer.timeline, seqs.gaps)
    assert [_int(line["seq"]) for line in received] == list(range(1, len(received) + 1))
    # Every recorded transition, delivered once, in the recorded order.
    assert lost == 0
    assert delivered == recorded
    assert len(recorded) >= KILLS
