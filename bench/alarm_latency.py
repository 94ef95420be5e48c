"""Alarm latency: the serial byte that completes a condition to the MQTT message.

Beside it, the bare broker round trip (issue 5).

    .venv/bin/python -m bench.alarm_latency [--alarms 500]

A real mosquitto on a free loopback port, the real daemon as its own process reading a
Masimo ASCII 1 oximeter on a pty that this script writes. Each cycle writes a line
flagging the sensor off (``tech.spo2.signal`` is raised at once: the byte that ends
the line completes the condition), waits for the ``raised`` message on
``roomctl/<room>/alarms``, then writes valid lines until the alarm clears (the
policy's clear delay is shortened in this room's configuration so cycles are quick).
Latency = receive time - the time just before the line's last byte was written, both
on CLOCK_MONOTONIC. The bare round trip is publish-to-receive of a small QoS 1 message
through the same broker by the same subscriber, in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import tty
from pathlib import Path

import aiomqtt

from roomctl.demo import free_port

ROOM = "bench"


def _line(t: int, *, sensor_off: bool) -> bytes:
    clock = time.strftime("%m/%d/%y %H:%M:%S", time.gmtime(1_700_000_000 + t))
    if sensor_off:
        values = "SPO2=---% BPM=--- PI=--.--%"
        exc = "000821"  # SET mode + sensor off
    else:
        values = "SPO2=098% BPM=072 PI=03.10%"
        exc = "000800"
    return (
        f"{clock} SN=0000012345 {values} SPCO=--.-% SPMET=--.-% DESAT=-- "
        f"PIDELTA=+-- ALARM=0000 EXC={exc}\r\n"
    ).encode()


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def _round_trips(client: aiomqtt.Client, count: int) -> list[float]:
    out = []
    topic = f"bench/{os.getpid()}/rtt"
    await client.subscribe(topic, qos=1)
    for i in range(count):
        sent = time.monotonic()
        await client.publish(topic, str(i).encode(), qos=1)
        async for message in client.messages:
            if str(message.topic) == topic and message.payload == str(i).encode():
                out.append(time.monotonic() - sent)
                break
    return out


async def _alarm_cycles(client: aiomqtt.Client, master: int, count: int) -> list[float]:
    latencies: list[float] = []
    t = 0
    await client.subscribe(f"roomctl/{ROOM}/alarms", qos=1)
    messages = client.messages
    for _ in range(count):
        t += 1
        line = _line(t, sensor_off=True)
        os.write(master, line[:-1])
        sent = time.monotonic()
        os.write(master, line[-1:])  # the byte that completes the condition
        async for message in messages:
            assert isinstance(message.payload, bytes)
            event = json.loads(message.payload)
            if (
                event.get("code") == "tech.spo2.signal"
                and event["transition"] == "raised"
            ):
                latencies.append(time.monotonic() - sent)
                break
        # Valid signal until the alarm clears.
        cleared = False
        while not cleared:
            t += 1
            os.write(master, _line(t, sensor_off=False))
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(0.1):
                    async for message in messages:
                        assert isinstance(message.payload, bytes)
                        event = json.loads(message.payload)
                        if (
                            event.get("code") == "tech.spo2.signal"
                            and event["transition"] == "cleared"
                        ):
                            cleared = True
                            break
    return latencies


async def run(count: int) -> None:
    """Start everything, measure, print the figures."""
    folder = Path(tempfile.mkdtemp(prefix="roomctl-latency-"))
    port = free_port()
    (folder / "m.conf").write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\n")
    broker = subprocess.Popen(  # noqa: ASYNC220 (set-up, before anything is timed)
        [
            shutil.which("mosquitto") or "/usr/sbin/mosquitto",
            "-c",
            str(folder / "m.conf"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    master, slave = os.openpty()
    tty.setraw(slave)
    link = folder / "oximeter"
    link.symlink_to(os.ttyname(slave))
    config = folder / "room.toml"
    config.write_text(
        f'[room]\nname = "{ROOM}"\n[record]\npath = "{folder / "r.sqlite"}"\n'
        f'[mqtt]\nurl = "mqtt://127.0.0.1:{port}"\n[music]\nenabled = false\n'
        f'[devices.oximeter]\nprotocol = "masimo-ascii1"\nport = "{link}"\n'
        "stale_after_s = 60\n"
        "[alarms.spo2_signal]\nclear_after_s = 0.2\n"
    )
    daemon = subprocess.Popen(  # noqa: ASYNC220 (set-up, before anything is timed)
        [sys.executable, "-m", "roomctl", "run", "--config", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        await asyncio.sleep(3.0)  # the daemon opens the port and connects
        async with aiomqtt.Client("127.0.0.1", port=port) as client:
            for t in range(3):  # a valid signal first
                os.write(master, _line(-10 + t, sensor_off=False))
            await asyncio.sleep(1.0)
            alarms = await _alarm_cycles(client, master, count)
        async with aiomqtt.Client("127.0.0.1", port=port) as client:
            rtts = await _round_trips(client, count)
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(timeout=10)
        broker.terminate()
        broker.wait(timeout=10)
    machine = platform.processor() or platform.machine()
    python = platform.python_version()
    print(f"machine: {machine}, {os.cpu_count()} cores, Python {python}")
    for name, values in (
        ("alarm (serial byte -> MQTT)", alarms),
        ("bare broker RTT", rtts),
    ):
        ms = [v * 1000 for v in values]
        print(
            f"{name}: n={len(ms)} p50={statistics.median(ms):.2f} ms "
            f"p99={_percentile(ms, 99):.2f} ms max={max(ms):.2f} ms"
        )
    ratio = _percentile(alarms, 99) / _percentile(rtts, 99)
    print(f"p99 ratio alarm / bare round trip: {ratio:.1f}x")


def main() -> None:
    """Parse arguments and run."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--alarms", type=int, default=500)
    args = parser.parse_args()
    asyncio.run(run(args.alarms))


if __name__ == "__main__":
    main()
