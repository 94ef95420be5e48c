"""``roomctl demo``: rooms on one machine, with no external services.

Starts an embedded MQTT broker (Debian's mosquitto, on a free loopback port) unless
``--broker`` names one, and ``--rooms`` treatment rooms on it (three by default), each
with its own simulated oximeter and NIBP monitor on pseudo-terminals (as their own
processes: roomctl never imports the simulators) and its own daemon with a session
record in a temporary folder:

- the main room (``--room``, the console's) plays ``--scenario`` (``demo``: a
  patient who waits for the dose; when the room moves to dosing, the demo tells its
  simulators, SIGUSR1, and the BP and HR rise within minutes), with a Nonin DF2
  oximeter, music through libVLC (silent when the machine has no sound device) and
  a simulated Zigbee2MQTT bulb;
- background rooms ``<room>-2``, ``<room>-3`` ..., lighter: a Masimo oximeter (one
  line a second), no music, no light. Every other one is dosed as the demo starts
  and is already in an alarm (``demo-alarm``); the others wait calmly before their
  dose (``demo-calm``). They fill the nurse station.

The console opens on the main room over the station: Esc shows every room, Enter
opens one. Without the console, a live status line of the main room is printed
every second. Ctrl-C stops everything and leaves no process behind.
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
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from roomctl import SAFETY_NOTICE
from roomctl.app import Daemon
from roomctl.events import (
    AlarmChanged,
    Command,
    CommandVerb,
    DeviceConnected,
    DeviceLost,
    DeviceStale,
    Phase,
    PhaseChanged,
    ReadingReceived,
    Role,
)
from roomctl.logs import JsonFormatter
from roomctl.readings import Metric, NibpReading, Reading, ReadingStatus
from roomctl.settings import parse_settings

if TYPE_CHECKING:
    from collections.abc import Sequence

    from roomctl.bus import Subscription
    from roomctl.settings import Settings

_LOGGER = logging.getLogger(__name__)

#: How long a simulator may take to show its port.
SIMULATOR_START_TIMEOUT_S = 15.0
#: Rooms by default (the main room and two background rooms), and at most.
DEFAULT_ROOMS = 3
MAX_ROOMS = 8
#: Scenarios of the background rooms: one already in an alarm, one calm.
ALARM_SCENARIO = "demo-alarm"
CALM_SCENARIO = "demo-calm"


@dataclass(frozen=True, slots=True, kw_only=True)
class DemoRoom:
    """One room of the demo."""

    name: str
    scenario: str
    #: The oximeter's protocol (``nonin-df2`` or ``masimo-ascii1``).
    oximeter: str
    #: The console's room: music and a bulb.
    main: bool
    #: The demo moves it to dosing as it starts.
    dosed_at_start: bool
    #: What it shows, in words.
    about: str


def demo_rooms(room: str, count: int, scenario: str) -> list[DemoRoom]:
    """The demo's rooms: ``room`` first, then ``count - 1`` background rooms.

    >>> [(r.name, r.scenario) for r in demo_rooms("demo", 3, "demo")]
    [('demo', 'demo'), ('demo-2', 'demo-alarm'), ('demo-3', 'demo-calm')]

    Raises:
        ValueError: ``count`` is not between 1 and ``MAX_ROOMS``.
    """
    if not 1 <= count <= MAX_ROOMS:
        raise ValueError(f"--rooms must be between 1 and {MAX_ROOMS}, not {count}")
    rooms = [
        DemoRoom(
            name=room,
            scenario=scenario,
            oximeter="nonin-df2",
            main=True,
            dosed_at_start=False,
            about="the console's room: confirm the baseline (b), then dose (f)",
        )
    ]
    for number in range(2, count + 1):
        alarm = number % 2 == 0
        rooms.append(
            DemoRoom(
                name=f"{room}-{number}",
                scenario=ALARM_SCENARIO if alarm else CALM_SCENARIO,
                oximeter="masimo-ascii1",
                main=False,
                dosed_at_start=alarm,
                about="dosed at start, already in an alarm"
                if alarm
                else "calm, before its dose",
            )
        )
    return rooms


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
        # stops the daemons first and their devices and broker after them, in order.
        start_new_session=True,
    )
    assert proc.stdout is not None  # noqa: S101 (PIPE above)
    try:
        async with asyncio.timeout(SIMULATOR_START_TIMEOUT_S):
            line = await proc.stdout.readline()
    except BaseException:
        _stop([proc])
        raise
    if not line:
        raise RuntimeError(f"the {protocol} simulator did not start")
    return proc


def free_port() -> int:
    """A TCP port free on loopback right now (the demo's broker, tests, benches)."""
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
    port = free_port()
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


def demo_settings(
    folder: Path, room: str, broker: str, *, main: bool = True, oximeter: str = ""
) -> Settings:
    """A demo room's settings: its simulators on ptys in ``folder``.

    The main room (``main``) has music and one bulb; a background room neither.
    The NIBP cycle is the demo's, faster than a clinic's so that a newcomer sees a
    baseline and a rise within minutes.
    """
    oximeter = oximeter or ("nonin-df2" if main else "masimo-ascii1")
    extras = (
        f'[lighting]\nlights = ["{room}/ceiling"]\n'
        if main
        else "[music]\nenabled = false\n"
    )
    return parse_settings(
        f"""
[room]
name = "{room}"
[mqtt]
url = "{broker}"
{extras}
[devices.oximeter]
protocol = "{oximeter}"
port = "{folder / "oximeter"}"
[devices.nibp]
protocol = "suntech-advantage"
port = "{folder / "nibp"}"
[record]
path = "{folder / "record.sqlite"}"
[alarms.nibp_schedule]
# Demo cycles, shorter than a clinic's: the demo takes pre-dose readings by itself
# (a baseline after three, about 4 min), and a reading a minute from the dose, so
# that a rise shows within minutes.
preparation_cycle_s = 100
infusion_cycle_s = 60
bp_rule_cycle_s = 60
[log]
level = "warning"
""",
        source=f"demo room {room}",
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
    """The console on this terminal as its own process; its exit code.

    The station of every room, with ``room`` open on top of it (Esc shows the
    station, Enter opens a room).
    """
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "roomctl.ui.app",
        "--broker",
        broker,
        "--station",
        "--room",
        room,
    )
    try:
        return await proc.wait()
    finally:
        if proc.returncode is None:
            proc.terminate()
            await proc.wait()


async def _start_room(
    plan: DemoRoom, folder: Path, broker: str, speed: float
) -> list[asyncio.subprocess.Process]:
    """A room's devices (and bulb): their processes, oximeter and NIBP first."""
    procs: list[asyncio.subprocess.Process] = []
    try:
        for protocol, name in (
            (plan.oximeter, "oximeter"),
            ("suntech-advantage", "nibp"),
        ):
            procs.append(
                await _start_simulator(protocol, folder / name, plan.scenario, speed)
            )
        if plan.main:
            procs.append(await _start_light(broker, f"{plan.name}/ceiling"))
    except BaseException:
        _stop(procs)
        raise
    return procs


def _room_folders(folder: Path, plans: Sequence[DemoRoom]) -> list[Path]:
    folders = [folder / plan.name for plan in plans]
    for room_folder in folders:
        room_folder.mkdir()
    return folders


async def _start_devices(
    plans: Sequence[DemoRoom],
    folders: Sequence[Path],
    broker: str,
    speed: float,
    procs: list[asyncio.subprocess.Process],
) -> list[list[asyncio.subprocess.Process]]:
    """Every room's devices, started together; each room's processes, in order.

    Every process started is added to ``procs`` (to be stopped), even when another
    room's failed to start (then the first failure is raised).
    """
    started = await asyncio.gather(
        *(
            _start_room(plan, room_folder, broker, speed)
            for plan, room_folder in zip(plans, folders, strict=True)
        ),
        return_exceptions=True,
    )
    devices = [result for result in started if isinstance(result, list)]
    for room_procs in devices:
        procs.extend(room_procs)
    for result in started:
        if isinstance(result, BaseException):
            raise result
    return devices


def _stop(procs: Sequence[asyncio.subprocess.Process]) -> None:
    for proc in procs:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)


async def _reap(procs: Sequence[asyncio.subprocess.Process]) -> None:
    _stop(procs)
    for proc in procs:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(5):
                await proc.wait()
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


def give_dose(daemon: Daemon) -> bool:
    """Move the daemon's room to dosing, as a nurse's command would; whether it did."""
    clock = daemon.clock
    handled = daemon.handle_command(
        Command(
            occurred_mono=clock.monotonic(),
            occurred_at=clock.now_utc(),
            verb=CommandVerb.PHASE,
            args={"phase": Phase.DOSING.value},
            by=Role.NURSE,
            source="demo",
            command_id="demo-dose",
        )
    )
    if not handled.ok:
        _LOGGER.warning("demo: room not dosed: %s", handled.error)
    return handled.ok


async def follow_dose(
    subscription: Subscription, devices: Sequence[asyncio.subprocess.Process]
) -> None:
    """When the room moves to dosing, tell its simulated patient (SIGUSR1)."""
    async for event in subscription:
        if isinstance(event, PhaseChanged) and event.phase is Phase.DOSING:
            for proc in devices:
                if proc.returncode is None:
                    proc.send_signal(signal.SIGUSR1)
            return


async def run_demo(
    *,
    scenario: str,
    speed: float,
    room: str,
    rooms: int = DEFAULT_ROOMS,
    broker: str | None = None,
    console: bool = False,
    out: TextIO = sys.stdout,
) -> None:
    """Run the demo until cancelled (or, with the console, until it is quit).

    Raises:
        ValueError: ``rooms`` out of range (the message says why).
    """
    plans = demo_rooms(room, rooms, scenario)
    with tempfile.TemporaryDirectory(prefix="roomctl-demo-") as tmp:
        folder = Path(tmp)
        procs: list[asyncio.subprocess.Process] = []
        try:
            if broker is None:
                process, broker = await _start_mosquitto(folder)
                procs.append(process)
            folders = _room_folders(folder, plans)
            devices = await _start_devices(plans, folders, broker, speed, procs)
            daemons = [
                Daemon(
                    demo_settings(
                        room_folder,
                        plan.name,
                        broker,
                        main=plan.main,
                        oximeter=plan.oximeter,
                    )
                )
                for plan, room_folder in zip(plans, folders, strict=True)
            ]
            _tell(out, plans, scenario=scenario, speed=speed, broker=broker)
            if console:
                # The console owns the terminal: the daemons log to a file instead.
                _log_to(folder / "daemon.log")
            # The main room's patient (its oximeter and NIBP) waits for its dose.
            await _run_rooms(
                plans, daemons, devices[0][:2], broker=broker, console=console, out=out
            )
        finally:
            await _reap(procs)


async def _run_rooms(
    plans: Sequence[DemoRoom],
    daemons: Sequence[Daemon],
    patient: Sequence[asyncio.subprocess.Process],
    *,
    broker: str,
    console: bool,
    out: TextIO,
) -> None:
    """Run the daemons, then the console (until it is quit) or the status line."""
    main = daemons[0]
    status = StatusLine(out)
    subscription = main.bus.open(name="demo", maxlen=10_000)
    dosing = main.bus.open(PhaseChanged, name="demo.dose")
    async with asyncio.TaskGroup() as tg:
        tasks = [
            tg.create_task(daemon.run(), name=f"demo.daemon[{plan.name}]")
            for plan, daemon in zip(plans, daemons, strict=True)
        ]
        tasks.append(tg.create_task(follow_dose(dosing, patient), name="demo.dose"))
        await asyncio.sleep(0)  # each daemon opens its session
        for plan, daemon in zip(plans, daemons, strict=True):
            if plan.dosed_at_start:
                give_dose(daemon)
        if console:
            await _run_console(broker, plans[0].name)
            for task in tasks:
                task.cancel()
            return
        while True:
            await asyncio.sleep(1.0)
            status.take(subscription)
            status.print()


def _tell(
    out: TextIO, plans: Sequence[DemoRoom], *, scenario: str, speed: float, broker: str
) -> None:
    main = plans[0]
    out.write(
        f"roomctl demo: room {main.name}, scenario {scenario}, speed {speed:g}x, "
        f"{len(plans)} room{'s' if len(plans) > 1 else ''}\n"
    )
    out.writelines(f"  {plan.name}: {plan.about}\n" for plan in plans)
    out.write(f"MQTT broker: {broker} (topics under roomctl/<room>/)\n")
    out.write(
        "In the console: Esc shows the station of every room, Enter opens one, "
        "? lists the keys.\n"
    )
    out.write(f"{SAFETY_NOTICE}\nCtrl-C stops everything.\n")
    out.flush()
