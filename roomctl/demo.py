"""``roomctl demo``: a whole room on one machine, with no external services.

Starts an embedded MQTT broker (Debian's mosquitto, on a free loopback port) unless
``--broker`` names one, the simulated oximeter and NIBP monitor on pseudo-terminals
and a simulated Zigbee2MQTT bulb (as their own processes: roomctl never imports the
simulators), runs the daemon on them with music through libVLC (silent when the
machine has no sound device) and a session record in a temporary folder, and prints
a live status line until Ctrl-C, which stops everything and leaves no process
behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import signal
import socket
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from roomctl import SAFETY_NOTICE
from roomctl.app import Daemon
from roomctl.events import (
    AlarmChanged,
    DeviceConnected,
    DeviceLost,
    DeviceStale,
    ReadingReceived,
)
from roomctl.logs import JsonFormatter
from roomctl.readings import Metric, NibpReading, Reading, ReadingStatus
from roomctl.settings import parse_settings

if TYPE_CHECKING:
    from roomctl.bus import Subscription
    from roomctl.settings import Settings

_LOGGER = logging.getLogger(__name__)

#: How long a simulator may take to show its port.
SIMULATOR_START_TIMEOUT_S = 15.0


async def _start_simulator(
    protocol: str, link: Path, scenario: str, speed: float
) -> asyncio.subprocess.Process:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "simulators",
        protocol,
        "--port",
        f"pty:{link}",
        "--scenario",
        scenario,
        "--speed",
        str(speed),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        # Own session: a Ctrl-C in the terminal reaches only the demo, which then
        # stops the daemon first and its devices and broker after it, in order.
        start_new_session=True,
    )
    assert proc.stdout is not None  # noqa: S101 (PIPE above)
    async with asyncio.timeout(SIMULATOR_START_TIMEOUT_S):
        line = await proc.stdout.readline()
    if not line:
        raise RuntimeError(f"the {protocol} simulator did not start")
    return proc


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _start_mosquitto(folder: Path) -> tuple[asyncio.subprocess.Process, str]:
    """An embedded broker on a free loopback port: its process and URL."""
    binary = shutil.which("mosquitto") or shutil.which("/usr/sbin/mosquitto")
    if binary is None:
        raise RuntimeError(
            "no MQTT broker: install mosquitto (make demo does) or pass --broker URL"
        )
    port = _free_port()
    config = folder / "mosquitto.conf"
    config.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
    )
    proc = await asyncio.create_subprocess_exec(
        binary,
        "-c",
        str(config),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
        start_new_session=True,
    )
    async with asyncio.timeout(SIMULATOR_START_TIMEOUT_S):
        while True:
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                await asyncio.sleep(0.05)
                continue
            writer.close()
            break
    return proc, f"mqtt://127.0.0.1:{port}"


async def _start_light(broker: str, name: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "simulators.light",
        "--broker",
        broker,
        "--name",
        name,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
        start_new_session=True,
    )


def _log_to(path: Path) -> None:
    handler = logging.FileHandler(path)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)


def demo_settings(folder: Path, room: str, broker: str) -> Settings:
    """The demo room's settings: simulators on ptys in ``folder``, one bulb."""
    return parse_settings(
        f"""
[room]
name = "{room}"
[mqtt]
url = "{broker}"
[lighting]
lights = ["{room}/ceiling"]
[devices.oximeter]
protocol = "nonin-df2"
port = "{folder / "oximeter"}"
[devices.nibp]
protocol = "suntech-advantage"
port = "{folder / "nibp"}"
[record]
path = "{folder / "record.sqlite"}"
[alarms.nibp_schedule]
# The demo takes pre-dose readings by itself (a clinic may, for the baseline).
preparation_cycle_s = 120
[log]
level = "warning"
""",
        source="demo",
    )


class StatusLine:
    """The latest values, printed as one line a second."""

    def __init__(self, out: TextIO) -> None:
        self._out = out
        self.values: dict[str, str] = {
            "SpO2": "--",
            "PR": "--",
            "NIBP": "--",
            "cuff": "",
        }
        self.links: dict[str, str] = {}
        self.alarms: list[str] = []

    def take(self, subscription: Subscription) -> None:
        """Fold every queued event into the line."""
        while (event := subscription.get_nowait()) is not None:
            match event:
                case ReadingReceived(reading=NibpReading() as nibp):
                    self.values["NIBP"] = (
                        f"{nibp.systolic_mmhg}/{nibp.diastolic_mmhg}"
                        if nibp.status is ReadingStatus.OK
                        else f"error: {nibp.error_text}"
                    )
                    self.values["cuff"] = ""
                case ReadingReceived(reading=Reading() as reading):
                    shown = "--" if reading.value is None else f"{reading.value:.0f}"
                    if reading.status is not ReadingStatus.OK:
                        shown = f"-- ({reading.status})"
                    names = {
                        Metric.SPO2_PERCENT: "SpO2",
                        Metric.PULSE_RATE_BPM: "PR",
                        Metric.CUFF_PRESSURE_MMHG: "cuff",
                    }
                    if reading.metric in names:
                        name = names[reading.metric]
                        self.values[name] = f"cuff {shown}" if name == "cuff" else shown
                case DeviceConnected():
                    self.links[event.device] = "up"
                case DeviceLost():
                    self.links[event.device] = "LOST"
                case DeviceStale():
                    self.links[event.device] = "stale"
                case AlarmChanged():
                    self.alarms.append(f"{event.priority.upper()} {event.code}")
                case _:
                    pass

    def render(self) -> str:
        """The current line."""
        links = " ".join(
            f"{name}:{state}" for name, state in sorted(self.links.items())
        )
        cuff = f" ({self.values['cuff']})" if self.values["cuff"] else ""
        alarms = f"  alarms: {', '.join(self.alarms[-3:])}" if self.alarms else ""
        return (
            f"SpO2 {self.values['SpO2']}%  PR {self.values['PR']}/min  "
            f"NIBP {self.values['NIBP']}{cuff}  [{links}]{alarms}"
        )

    def print(self) -> None:
        """Print the line."""
        self._out.write(self.render() + "\n")
        self._out.flush()


async def _run_console(broker: str, room: str) -> int:
    """The console on this terminal as its own process; its exit code."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "roomctl.ui.app", "--broker", broker, "--room", room
    )
    try:
        return await proc.wait()
    finally:
        if proc.returncode is None:
            proc.terminate()
            await proc.wait()


async def run_demo(
    *,
    scenario: str,
    speed: float,
    room: str,
    broker: str | None = None,
    console: bool = False,
    out: TextIO = sys.stdout,
) -> None:
    """Run the demo until cancelled."""
    with tempfile.TemporaryDirectory(prefix="roomctl-demo-") as tmp:
        folder = Path(tmp)
        sims: list[asyncio.subprocess.Process] = []
        try:
            if broker is None:
                process, broker = await _start_mosquitto(folder)
                sims.append(process)
            for protocol, name in (
                ("nonin-df2", "oximeter"),
                ("suntech-advantage", "nibp"),
            ):
                sims.append(
                    await _start_simulator(protocol, folder / name, scenario, speed)
                )
            sims.append(await _start_light(broker, f"{room}/ceiling"))
            daemon = Daemon(demo_settings(folder, room, broker))
            status = StatusLine(out)
            subscription = daemon.bus.open(name="demo", maxlen=10_000)
            out.write(
                f"roomctl demo: room {room}, scenario {scenario}, speed {speed:g}x\n"
            )
            out.write(f"MQTT broker: {broker} (topics under roomctl/{room}/)\n")
            out.write(f"{SAFETY_NOTICE}\nCtrl-C stops everything.\n")
            if console:
                # The console owns the terminal: the daemon logs to a file instead.
                _log_to(folder / "daemon.log")
                async with asyncio.TaskGroup() as tg:
                    room_task = tg.create_task(daemon.run(), name="demo.daemon")
                    await _run_console(broker, room)
                    room_task.cancel()
                return
            async with asyncio.TaskGroup() as tg:
                tg.create_task(daemon.run(), name="demo.daemon")
                while True:
                    await asyncio.sleep(1.0)
                    status.take(subscription)
                    status.print()
        finally:
            for proc in sims:
                if proc.returncode is None:
                    proc.send_signal(signal.SIGTERM)
            for proc in sims:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(5):
                        await proc.wait()
                if proc.returncode is None:
                    proc.kill()
                    await proc.wait()
