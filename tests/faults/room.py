"""An in-process room for the fault suites: the real daemon and real simulators.

The daemon is ``roomctl.app.Daemon`` exactly as ``roomctl run`` builds it (from a TOML
text through ``parse_settings``), running in the test's event loop. The devices are
the simulators' device models behind real pseudo-terminals (``simulators.transport.
PtyPort``, a stable symlink across unplug and replug), so every byte goes through the
kernel's pty, pyserial-asyncio-fast, the real decoders and drivers. What the tests add:

- ``SimPort``: a ``PtyPort`` whose cable the test pulls and plugs back by hand, and
  which logs when it wrote each chunk (for latency from the device's bytes);
- ``Tap``: a bus subscriber that stamps every event with the real time it was
  *published* (the bus calls subscribers synchronously), so decision times are
  measured where the decision is made, not where a consumer got round to it;
- ``scaled``: a ``ScaledClock`` for the daemon that runs at the simulators' speed, with
  the two real-time timers that shape what the engine sees shortened to match (the
  engine tick, the Nonin's read pacing), so minutes of session pass in seconds.
  Only these are compressed; I/O deadlines and output timers stay real (see
  ``roomctl.clock.ScaledClock``).
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import json
import logging
import os
import statistics
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from roomctl.app import Daemon
from roomctl.bus import Overflow, Subscription
from roomctl.clock import ScaledClock, SystemClock
from roomctl.devices.registry import DRIVERS
from roomctl.events import (
    AlarmChanged,
    Command,
    CommandVerb,
    DeviceConnected,
    DeviceLost,
    ReadingReceived,
    Role,
)
from roomctl.settings import parse_settings
from simulators.faults import Faults
from simulators.transport import PtyPort

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Iterable

    import pytest

    from roomctl.clock import Clock
    from roomctl.events import Event
    from simulators.model import DeviceModel

_LOGGER = logging.getLogger(__name__)

#: The session's wall-clock start in scaled runs.
START_AT = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
#: The simulators write every this many real seconds (PtyPort's default).
SIM_TICK_S = 0.02
#: Generous waits: a loaded 2-core machine shared with other test runs.
WAIT_S = 20.0
#: How long the daemon may take to stop once cancelled.
STOP_WITHIN_S = 5.0


# ------------------------------------------------------------------ the devices


@dataclass(slots=True)
class CableFaults(Faults):
    """``Faults`` plus a cable the test pulls and plugs back by hand."""

    cable_out: bool = False

    def unplugged(self, t_s: float) -> bool:
        """Out while the test holds the cable out (or a scheduled unplug says so)."""
        return self.cable_out or Faults.unplugged(self, t_s)


class SimPort(PtyPort):
    """A simulated device on a pty that the test unplugs and replugs.

    Attributes:
        sends: ``(time.monotonic() after the write, bytes sent so far)`` per write.
        plugs: real times the pty (re)appeared; ``unplugs``: when it went.
    """

    def __init__(
        self,
        model: DeviceModel,
        *,
        link_path: Path,
        speed: float = 1.0,
        keep_stream: bool = False,
    ) -> None:
        self.cable = CableFaults()
        super().__init__(
            model,
            link_path=link_path,
            speed=speed,
            faults=self.cable,
            tick_s=SIM_TICK_S,
        )
        self.sends: list[tuple[float, int]] = []
        #: Every byte written, in order (with ``keep_stream``).
        self.stream = bytearray()
        self._keep_stream = keep_stream
        self.plugs: list[float] = []
        self.unplugs: list[float] = []

    def _open(self) -> None:
        super()._open()
        self.plugs.append(time.monotonic())

    def _close(self) -> None:
        if self._master is not None:
            self.unplugs.append(time.monotonic())
        super()._close()

    def _send(self, chunks: list[bytes]) -> None:
        before = self.bytes_sent
        super()._send(chunks)
        if self.bytes_sent != before:
            self.sends.append((time.monotonic(), self.bytes_sent))
            if self._keep_stream:
                # PtyPort stops at the first chunk the pty refuses: the written ones
                # are the first ``bytes_sent - before`` bytes.
                self.stream += b"".join(chunks)[: self.bytes_sent - before]

    async def unplug(self) -> float:
        """Pull the cable; return when the pty is gone (the real time it went)."""
        count = len(self.unplugs)
        self.cable.cable_out = True
        await wait_until("the cable to come out", lambda: len(self.unplugs) > count)
        return self.unplugs[-1]

    async def replug(self) -> float:
        """Plug the cable back; return when the pty is back (the real time)."""
        count = len(self.plugs)
        self.cable.cable_out = False
        await wait_until("the cable to go back in", lambda: len(self.plugs) > count)
        return self.plugs[-1]

    def sent_at(self, offset: int) -> float:
        """When the byte at ``offset`` (0-based, in the whole stream) was written."""
        low, high = 0, len(self.sends)
        while low < high:
            mid = (low + high) // 2
            if self.sends[mid][1] > offset:
                high = mid
            else:
                low = mid + 1
        if low == len(self.sends):
            raise ValueError(f"byte {offset} was never sent")
        return self.sends[low][0]


# ------------------------------------------------------------------ the bus tap


@dataclass(frozen=True, slots=True)
class Seen:
    """One published event and the real time it was published."""

    at: float
    event: Event


class Tap(Subscription):
    """Records every event as it is published (``offer`` runs inside ``publish``).

    Readings are kept as counts and the last few times per device (a long run
    publishes hundreds a second); every other event is kept whole.
    """

    def __init__(self) -> None:
        super().__init__(
            name="fault-tap",
            types=(),
            maxlen=1,
            overflow=Overflow.DROP_OLDEST,
            key=None,
        )
        self.events: list[Seen] = []
        self.readings: dict[str, int] = {}
        #: Per device: ``(published at, reading)`` of every reading, newest last.
        self.reading_log: dict[str, list[tuple[float, ReadingReceived]]] = {}
        #: Extra work to do inside ``publish`` (latency probes).
        self.hooks: list[Callable[[Seen], None]] = []

    def offer(self, event: Event) -> None:
        """Stamp and keep ``event`` (called synchronously by the bus)."""
        seen = Seen(time.monotonic(), event)
        if isinstance(event, ReadingReceived):
            device = event.reading.device
            self.readings[device] = self.readings.get(device, 0) + 1
            self.reading_log.setdefault(device, []).append((seen.at, event))
        else:
            self.events.append(seen)
        for hook in self.hooks:
            hook(seen)

    def of(self, kind: type[Event]) -> list[Seen]:
        """Every kept event of one type, in publish order."""
        return [s for s in self.events if isinstance(s.event, kind)]

    def alarms(self) -> list[AlarmChanged]:
        """Every alarm transition, in publish order."""
        return [s.event for s in self.events if isinstance(s.event, AlarmChanged)]

    def links(self, device: str) -> list[str]:
        """``up``/``lost`` for each link event of ``device``."""
        out = []
        for seen in self.events:
            event = seen.event
            if isinstance(event, DeviceConnected) and event.device == device:
                out.append("up")
            elif isinstance(event, DeviceLost) and event.device == device:
                out.append("lost")
        return out

    def first_reading_after(self, device: str, after: float) -> float | None:
        """When the first reading of ``device`` published after ``after`` was."""
        log = self.reading_log.get(device, [])
        index = bisect.bisect_right(log, after, key=lambda item: item[0])
        return log[index][0] if index < len(log) else None


def attach_tap(daemon: Daemon) -> Tap:
    """A tap on the daemon's bus, from now on."""
    tap = Tap()
    daemon.bus._subscriptions.append(tap)
    return tap


# ------------------------------------------------------------------ waiting


async def wait_until(
    what: str, predicate: Callable[[], bool], timeout: float = WAIT_S
) -> None:
    """Poll ``predicate`` every 5 ms; fail the test with ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        await asyncio.sleep(0.005)


# ------------------------------------------------------------------ the room


@dataclass
class Room:
    """A running daemon with its simulated devices."""

    daemon: Daemon
    tap: Tap
    ports: dict[str, SimPort]
    clock: Clock
    task: asyncio.Task[None]
    record: Path
    extra_tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def command(self, verb: CommandVerb, by: Role = Role.NURSE, **args: object) -> None:
        """Give the daemon an operator command as the console would; it must pass."""
        handled = self.daemon.handle_command(
            Command(
                occurred_mono=self.clock.monotonic(),
                occurred_at=self.clock.now_utc(),
                verb=verb,
                args=args,
                by=by,
                source="test",
                command_id=f"fault-{verb}-{time.monotonic_ns()}",
            )
        )
        assert handled.ok, handled.error

    def alive(self) -> bool:
        """Whether the daemon is still running (no crash)."""
        return not self.task.done()


def scaled(
    speed: float, monkeypatch: pytest.MonkeyPatch, *, tick: bool = True
) -> ScaledClock:
    """A session clock running ``speed`` times real time, the daemon's timers to match.

    Two real-time timers of the daemon shape what the alarm engine sees, and are
    divided by ``speed`` for the test (``compressed_timers``):

    - ``roomctl.app.TICK_INTERVAL_S``: the engine still gets a tick every half second
      of session time (the policy asks for at least one a second);
    - a paced driver's ``read_again_in_s`` (the Nonin's: the link takes no bytes until
      the next packet is due at 75 frames a second of *real* time): otherwise a read
      would wait for ``speed`` packets, overflow the pty and stamp them with one time.
    """
    for target, name, value in compressed_timers(speed, tick=tick):
        monkeypatch.setattr(target, name, value)
    return ScaledClock(speed=speed, start_at=START_AT)


def compressed_timers(
    speed: float, *, tick: bool = True
) -> list[tuple[object, str, object]]:
    """``(object, attribute, value)`` to set for a run ``speed`` times real time.

    ``tick=False`` leaves the engine's tick at its real period (a test that wants
    the readings, not the tick, to make the decisions).
    """
    import roomctl.app  # noqa: PLC0415 (the module whose constant is shortened)

    changes: list[tuple[object, str, object]] = []
    if tick:
        changes.append(
            (roomctl.app, "TICK_INTERVAL_S", roomctl.app.TICK_INTERVAL_S / speed)
        )
    for spec in DRIVERS.values():
        kind = type(spec.driver_factory("probe"))
        paced = getattr(kind, "read_again_in_s", None)
        if callable(paced):
            changes.append((kind, "read_again_in_s", _scaled_method(paced, speed)))
    return changes


def _scaled_method(
    method: Callable[[object], float], speed: float
) -> Callable[[object], float]:
    def scaled(self: object) -> float:
        return method(self) / speed

    return scaled


def config_text(
    tmp_path: Path,
    devices: dict[str, tuple[str, Path]],
    *,
    mqtt_url: str | None = None,
    extra: str = "",
    record_dir: Path | None = None,
) -> str:
    """A room's TOML; the record in ``record_dir`` (default: ``tmp_path``).

    Music is off unless ``extra`` has a ``[music]`` table.
    """
    record = (record_dir or tmp_path) / "record.sqlite"
    text = f'[room]\nname = "faults"\n[record]\npath = "{record}"\n'
    if mqtt_url is None:
        text += "[mqtt]\nenabled = false\n"
    else:
        text += (
            f'[mqtt]\nurl = "{mqtt_url}"\nreconnect_base_s = 0.05\n'
            "reconnect_cap_s = 0.3\nconnect_timeout_s = 2\n"
        )
    if "[music]" not in extra:
        text += "[music]\nenabled = false\n"
    for name, (protocol, link) in devices.items():
        text += f'[devices.{name}]\nprotocol = "{protocol}"\nport = "{link}"\n'
    return text + extra


@contextlib.asynccontextmanager
async def running_room(
    tmp_path: Path,
    ports: dict[str, tuple[str, SimPort]],
    *,
    clock: Clock | None = None,
    mqtt_url: str | None = None,
    extra: str = "",
    record_dir: Path | None = None,
    before_start: Iterable[Callable[[Daemon], None]] = (),
) -> AsyncIterator[Room]:
    """Start the simulators, then the daemon; stop both (daemon first) at the end."""
    settings = parse_settings(
        config_text(
            tmp_path,
            {name: (proto, port.link_path) for name, (proto, port) in ports.items()},
            mqtt_url=mqtt_url,
            extra=extra,
            record_dir=record_dir,
        ),
        source=str(tmp_path / "room.toml"),
    )
    sims = [
        asyncio.create_task(port.run(), name=f"sim[{name}]")
        for name, (_proto, port) in ports.items()
    ]
    daemon_clock = clock if clock is not None else SystemClock()
    try:
        for name, (_proto, port) in ports.items():
            await wait_until(f"the {name} simulator's pty", port.link_path.exists)
        daemon = Daemon(settings, clock=daemon_clock)
        tap = attach_tap(daemon)
        for hook in before_start:
            hook(daemon)
        task = asyncio.create_task(daemon.run(), name="daemon")
        room = Room(
            daemon=daemon,
            tap=tap,
            ports={name: port for name, (_proto, port) in ports.items()},
            clock=daemon_clock,
            task=task,
            record=settings.record.path,
        )
        try:
            yield room
        finally:
            for extra_task in room.extra_tasks:
                extra_task.cancel()
            task.cancel()
            # The daemon stops within 2 s of SIGTERM (README); here it is given 5 s,
            # and a shutdown that hangs is a failure that names what hangs.
            done, _ = await asyncio.wait({task}, timeout=STOP_WITHIN_S)
            if not done:
                stuck = _stacks()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
                raise AssertionError(
                    f"the daemon did not stop within {STOP_WITHIN_S:g} s:\n{stuck}"
                )
            with contextlib.suppress(asyncio.CancelledError):
                await task
            for extra_task in room.extra_tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await extra_task
    finally:
        for sim in sims:
            sim.cancel()
        for sim in sims:
            with contextlib.suppress(asyncio.CancelledError):
                await sim


def _stacks() -> str:
    """Every unfinished task and where it waits (for a hung shutdown)."""
    lines = []
    for task in asyncio.all_tasks():
        if task.done() or task is asyncio.current_task():
            continue
        frames = task.get_stack(limit=4)
        where = " < ".join(
            f"{f.f_code.co_filename.rsplit('/', 2)[-1]}:{f.f_lineno}"
            for f in reversed(frames)
        )
        lines.append(f"  {task.get_name()}: {where}")
    return "\n".join(lines)


# ------------------------------------------------------------------ figures


def describe(values: list[float], unit: str = "ms", scale: float = 1000.0) -> str:
    """``n, median, p90, max`` of ``values`` in words (for the test's report)."""
    if not values:
        return "no samples"
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]
    return (
        f"n={len(values)} median {statistics.median(values) * scale:.1f} {unit}, "
        f"p90 {p90 * scale:.1f} {unit}, max {max(values) * scale:.1f} {unit}"
    )


def report(suite: str, **figures: object) -> None:
    """Log a suite's figures; also append them to ``$ROOMCTL_FAULT_REPORT`` if set.

    ``make soak`` sets the variable and RELIABILITY.md quotes the file.
    """
    _LOGGER.info("%s: %s", suite, json.dumps(figures, default=str))
    path = os.environ.get("ROOMCTL_FAULT_REPORT")
    if path:
        with Path(path).open("a", encoding="utf-8") as out:
            out.write(json.dumps({"suite": suite, **figures}, default=str) + "\n")
