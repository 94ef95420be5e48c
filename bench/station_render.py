"""The nurse station's time per update with 64 rooms at 1 Hz (issue 6, item 5).

    .venv/bin/python -m bench.station_render [--rooms 64] [--duration 90]
        [--warmup 10] [--size 160x50] [--seed 1]

A real mosquitto on a free loopback port; a publisher process (this module's
``publish`` command, plain aiomqtt) that plays ``--rooms`` fake rooms: each says
``online`` on its retained ``status`` topic and publishes a state document (the
daemon's shape, built by ``tests.ui.fakes.room_state``) retained at QoS 1 once a
second, the rooms spread evenly over the second. Vitals wander; a third of the rooms
raise alarms that come and go (1 to 13 s each, one at a time per room, some
acknowledged while they last), each also sent as ``raised``/``cleared`` lines on the
room's ``alarms`` topic as the daemon does. Every alarm's text ends with a token
(``#<room>.<n>``) so that it can be found on the screen.

In this process: the real ``Station`` app (``roomctl.ui.station``) with the real
``MqttSource``, headless (``App.run_async(headless=True, size=...)``), for
``--warmup`` + ``--duration`` seconds. What is added, and only observes:

- ``MqttSource._dispatch`` is wrapped: the moment a message leaves aiomqtt's queue for
  the console is the state's *arrival* (``time.monotonic``, CLOCK_MONOTONIC, the
  same clock as the publisher's send time written into each document);
- the app's ``on_feed_arrived`` is preceded by a hook that notes the newest state
  folded into each room's model; the console draws later (once per burst of
  items), so a state counts as *handled* only when its room's tile is drawn from
  the model holding it (``RoomTile.show`` is wrapped), together with every older
  state of the same room not drawn before (coalesced: its time is still counted,
  from its own arrival to the screen update that shows the newer state);
- ``StationScreen`` is subclassed to time its screen updates (``_on_timer_update``:
  layout, compositor render, display), ``update_rooms`` (the tiles of the rooms that
  changed) and ``update_views`` (every tile: the 1 s tick). The end of a screen
  update is the moment *the screen has been refreshed*: it composited every tile
  drawn before it began and wrote those in view to the terminal (one thread: no
  update runs inside a handler). A tile scrolled out of view is composited but
  writes nothing, so its states are resolved by the same update, and reported
  apart as well ("tiles in view");
- ``App._display``, where Textual hands the compositor's frame to the terminal, is
  wrapped: headless Textual skips building the terminal bytes, so the wrapper builds
  them (``render_segments``, as the real driver path does) and drops them; it runs
  inside the screen update, so this work is counted in it;
- ``RoomTile.show`` is wrapped to keep a reference to each tile. After each frame,
  the tiles whose content changed are read back (``tile.content``) for alarm tokens,
  and whether each tile is inside the screen (the compositor's visible widgets).

The station is built as ``roomctl console --station`` builds it (``gc_freeze=True``:
``gc.freeze()`` after start-up); ``--no-gc-freeze`` is the what-if without it.

Reported: per state update, arrival -> screen updated (the station's own time) and
publish -> screen updated (adds the broker, the socket and aiomqtt's queue); the time
per message handler and per frame; the station's CPU; and for alarms, whether each
one raised during the window appeared on its tile (none lost), how soon, and whether
it was on the visible part of the screen.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import gc
import json
import os
import platform
import random
import re
import shutil
import signal
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import aiomqtt
from rich.control import Control
from textual._compositor import CompositorUpdate

from roomctl.demo import free_port
from roomctl.ui.model import STATE_STALE_S
from roomctl.ui.mqtt_client import MqttSource
from roomctl.ui.source import StateReceived
from roomctl.ui.station import RoomTile, Station, StationScreen

if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Mapping

    from rich.console import RenderableType
    from textual.screen import Screen
    from textual.widget import Widget

    from roomctl.ui.messages import FeedArrived
    from roomctl.ui.source import FeedItem
    from roomctl.ui.view import RoomView

#: Priorities, codes and texts of the fake alarms.
ALARM_KINDS = (
    ("high", "spo2.desat", "SpO2 {v} % < 85", 70, 84),
    ("high", "bp.severe", "BP {v}/122 >= 200/120", 200, 230),
    ("medium", "hr.high", "HR {v} bpm >= 130", 130, 170),
    ("medium", "spo2.low", "SpO2 {v} % < 90", 85, 89),
    ("low", "hr.rise", "HR {v} bpm >= 110 (baseline 72 + 30)", 110, 129),
    ("low", "tech.link.nibp", "NIBP monitor not answering ({v} s)", 30, 90),
)
#: How long an alarm lasts, in state documents (seconds).
ALARM_LENGTHS = (1, 1, 2, 3, 5, 8, 13)
#: Session time of the first state document.
SESSION_START_S = 600
PHASES = ("preparation", "dosing", "peak", "return", "integration")
TOKEN = re.compile(r"#(\d+\.\d+)")
TARGET_P99_MS = 50.0
#: How long the station may take to show the last states once the rooms stop.
DRAIN_LIMIT_S = 120.0


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def _room_name(index: int) -> str:
    return f"room-{index + 1:02d}"


# ---------------------------------------------------------------- the publisher


@dataclass
class FakeRoom:
    """One room's wandering vitals and its alarm schedule."""

    index: int
    rng: random.Random
    alarming: bool
    phase: str
    spo2: float = 97.0
    pulse: float = 72.0
    nibp: tuple[int, int] = (124, 78)
    alarm: dict[str, object] | None = None
    alarm_left: int = 0
    quiet_left: int = 0
    alarms_raised: int = 0
    seq: int = 0
    line_seq: int = 0

    def step(
        self, second: int
    ) -> tuple[list[dict[str, object]], list[tuple[str, dict[str, object]]]]:
        """Advance one second: the alarms in force, and (transition, alarm) pairs."""
        rng = self.rng
        self.spo2 = min(100.0, max(86.0, self.spo2 + rng.uniform(-0.8, 0.8)))
        self.pulse = min(125.0, max(52.0, self.pulse + rng.uniform(-2.0, 2.0)))
        if second % 60 == self.index % 60:
            self.nibp = (rng.randint(105, 165), rng.randint(62, 98))
        transitions = []
        if self.alarm is not None:
            self.alarm_left -= 1
            if self.alarm_left <= 0:
                transitions.append(("cleared", self.alarm))
                self.alarm = None
                self.quiet_left = rng.randint(3, 20)
            elif self.alarm_left == 2 and rng.random() < 0.5:
                self.alarm["acknowledged"] = True
                self.alarm["acknowledged_by"] = "nurse"
                self.alarm["sounding"] = False
        elif self.alarming:
            self.quiet_left -= 1
            if self.quiet_left <= 0:
                transitions.append(("raised", self._raise(second)))
        return ([self.alarm] if self.alarm is not None else []), transitions

    def _raise(self, second: int) -> dict[str, object]:
        from tests.ui.fakes import alarm  # noqa: PLC0415 (publisher process only)

        rng = self.rng
        priority, code, text, low, high = rng.choice(ALARM_KINDS)
        self.alarms_raised += 1
        token = f"{self.index + 1}.{self.alarms_raised}"
        value = rng.randint(low, high)
        self.alarm = alarm(
            code,
            priority,
            f"{text.format(v=value)} #{token}",
            value=value,
            raised_s_ago=0.0,
        )
        self.alarm["raised_mono"] = float(second + SESSION_START_S)
        self.alarm_left = rng.choice(ALARM_LENGTHS)
        return self.alarm


async def _publish(args: argparse.Namespace) -> None:
    from tests.ui.fakes import room_state  # noqa: PLC0415 (publisher process only)

    master = random.Random(args.seed)
    rooms = [
        FakeRoom(
            index=i,
            rng=random.Random(master.random()),
            alarming=i % 3 == 0,
            phase=PHASES[i % len(PHASES)],
            quiet_left=master.randint(2, 12),
        )
        for i in range(args.rooms)
    ]
    plan: list[dict[str, object]] = []
    open_alarms: dict[int, dict[str, object]] = {}
    sent = 0
    async with aiomqtt.Client("127.0.0.1", port=args.port) as client:
        for room in rooms:
            topic = f"roomctl/{_room_name(room.index)}/status"
            await client.publish(topic, b"online", qos=1, retain=True)
        start = time.monotonic() + 0.5
        for second in range(int(args.seconds)):
            for room in rooms:
                due = start + second + room.index / len(rooms)
                await asyncio.sleep(max(0.0, due - time.monotonic()))
                name = _room_name(room.index)
                alarms, transitions = room.step(second)
                room.seq += 1
                doc = room_state(
                    room=name,
                    phase=room.phase,
                    session_time_s=float(second + SESSION_START_S),
                    spo2=round(room.spo2),
                    pulse=round(room.pulse),
                    nibp=room.nibp,
                    alarms=alarms,
                    session_id=f"{name}-bench",
                )
                doc["bench_seq"] = room.seq
                for transition, current in transitions:
                    room.line_seq += 1
                    line = {
                        "room": name,
                        "at": "2026-11-21T09:19:20Z",
                        "run": "bench",
                        "seq": room.line_seq,
                        "t": float(second + SESSION_START_S),
                        "code": current["code"],
                        "priority": current["priority"],
                        "transition": transition,
                        "text": current["text"],
                    }
                    await client.publish(
                        f"roomctl/{name}/alarms", json.dumps(line).encode(), qos=1
                    )
                sent_mono = time.monotonic()
                doc["bench_sent_mono"] = sent_mono
                await client.publish(
                    f"roomctl/{name}/state",
                    json.dumps(doc, separators=(",", ":")).encode(),
                    qos=1,
                    retain=True,
                )
                sent += 1
                _note_plan(room, alarms, open_alarms, plan, sent_mono)
    last_seq = {_room_name(room.index): room.seq for room in rooms}
    _write_json(Path(args.plan), {"sent": sent, "alarms": plan, "last_seq": last_seq})


def _write_json(path: Path, document: dict[str, object]) -> None:
    path.write_text(json.dumps(document))


def _read_json(path: Path) -> dict[str, object]:
    with contextlib.suppress(OSError, ValueError):
        document = json.loads(path.read_text())
        if isinstance(document, dict):
            return document
    return {}


def _note_plan(
    room: FakeRoom,
    alarms: list[dict[str, object]],
    open_alarms: dict[int, dict[str, object]],
    plan: list[dict[str, object]],
    sent_mono: float,
) -> None:
    if alarms:
        text = str(alarms[0]["text"])
        entry = open_alarms.get(room.index)
        if entry is None or entry["text"] != text:
            entry = {
                "room": _room_name(room.index),
                "token": TOKEN.search(text).group(1),  # type: ignore[union-attr]
                "text": text,
                "code": alarms[0]["code"],
                "priority": alarms[0]["priority"],
                "first_sent_mono": sent_mono,
                "states": 0,
            }
            open_alarms[room.index] = entry
            plan.append(entry)
        entry["states"] = int(entry["states"]) + 1  # type: ignore[call-overload]
    else:
        open_alarms.pop(room.index, None)


# ---------------------------------------------------------------- the station


@dataclass
class Recorder:
    """What the instrumented station saw, in CLOCK_MONOTONIC seconds."""

    measure_from: float = float("inf")
    #: room -> [(seq, sent, arrived)] not yet handled.
    arrived: dict[str, list[tuple[int, float, float]]] = field(default_factory=dict)
    #: [(handled at, sent, arrived, coalesced, room)] awaiting a frame.
    handled: list[tuple[float, float, float, bool, str]] = field(default_factory=list)
    #: States older than the console's staleness limit when shown / shown as LIVE.
    shown_old: int = 0
    shown_old_live: int = 0
    own_ms: list[float] = field(default_factory=list)
    #: ``own_ms`` of the states whose tile was on the visible part of the screen.
    own_visible_ms: list[float] = field(default_factory=list)
    #: The two parts of ``own_ms``: arrival -> tile drawn, tile drawn -> frame.
    to_drawn_ms: list[float] = field(default_factory=list)
    to_frame_ms: list[float] = field(default_factory=list)
    end_to_end_ms: list[float] = field(default_factory=list)
    coalesced: int = 0
    #: room -> the newest state folded into its model, not yet drawn.
    folded: dict[str, int] = field(default_factory=dict)
    handled_states: int = 0
    handler_ms: list[float] = field(default_factory=list)
    rooms_ms: list[float] = field(default_factory=list)
    tiles_drawn: int = 0
    frame_ms: list[float] = field(default_factory=list)
    #: Frame updates right after a flash half-period (the app's ``blink``).
    blink_frame_ms: list[float] = field(default_factory=list)
    blinked: bool = False
    #: Garbage-collector pauses in the window: generation -> [ms].
    gc_ms: dict[int, list[float]] = field(default_factory=dict)
    gc_started: float = 0.0

    def on_gc(self, phase: str, info: dict[str, int]) -> None:
        """``gc.callbacks`` hook: time each collection."""
        now = time.monotonic()
        if phase == "start":
            self.gc_started = now
        elif self.gc_started >= self.measure_from:
            took = (now - self.gc_started) * 1000
            self.gc_ms.setdefault(info["generation"], []).append(took)

    frames: int = 0
    frame_bytes: int = 0
    tiles: dict[str, RoomTile] = field(default_factory=dict)
    tile_content: dict[str, object] = field(default_factory=dict)
    #: token -> first frame time it was on its tile / visible on the screen.
    on_tile: dict[str, float] = field(default_factory=dict)
    on_screen: dict[str, float] = field(default_factory=dict)
    last_handled: dict[str, int] = field(default_factory=dict)
    #: Every room's states must arrive in order, none missing (QoS 1).
    last_arrived: dict[str, int] = field(default_factory=dict)
    seq_gaps: int = 0
    drain_s: float | None = None
    objects: int = 0
    rss_mb: float = 0.0
    cpu_ticks_start: int = 0
    cpu_ticks_end: int = 0
    window: tuple[float, float] = (0.0, 0.0)

    def arrive(self, room: str, seq: int, sent: float) -> None:
        """A state document left aiomqtt's queue for the console."""
        self.arrived.setdefault(room, []).append((seq, sent, time.monotonic()))
        previous = self.last_arrived.get(room)
        if previous is not None and seq != previous + 1:
            self.seq_gaps += 1
        self.last_arrived[room] = seq

    def fold(self, room: str, seq: int) -> None:
        """The app folds this room's state ``seq`` into the room's model."""
        self.folded[room] = seq

    def drawn(self, room: str) -> None:
        """The room's tile was drawn from its model: its folded states are handled."""
        seq = self.folded.pop(room, None)
        if seq is not None:
            self.handle(room, seq)

    def handle(self, room: str, seq: int) -> None:
        """This room's state ``seq`` (and older ones) is now on its tile."""
        now = time.monotonic()
        self.last_handled[room] = seq
        waiting = self.arrived.get(room, [])
        keep = []
        for entry in waiting:
            if entry[0] <= seq:
                coalesced = entry[0] < seq
                self.handled.append((now, entry[1], entry[2], coalesced, room))
            else:
                keep.append(entry)
        self.arrived[room] = keep

    def screen_update(
        self, began: float, ended: float, visible: Mapping[Widget, object]
    ) -> None:
        """A screen update ended; resolve every state handled before it began.

        The update composited every tile changed before it began and wrote the
        visible ones to the terminal (``frame``), so it is the moment each of those
        states is on the screen (or, for a tile scrolled out of view, ready to be
        the moment it is scrolled in).
        """
        still = []
        for entry in self.handled:
            handled_at, sent, arrived, coalesced, room = entry
            if handled_at >= began:
                still.append(entry)
            elif sent >= self.measure_from:
                self.own_ms.append((ended - arrived) * 1000)
                if self.tiles.get(room) in visible:
                    self.own_visible_ms.append((ended - arrived) * 1000)
                self.to_drawn_ms.append((handled_at - arrived) * 1000)
                self.to_frame_ms.append((ended - handled_at) * 1000)
                self.end_to_end_ms.append((ended - sent) * 1000)
                self.handled_states += 1
                self.coalesced += coalesced
                if ended - sent > STATE_STALE_S:
                    self.shown_old += 1
                    tile = self.tiles.get(room)
                    if tile is not None and tile.border_subtitle == "LIVE":
                        self.shown_old_live += 1
        self.handled = still

    def frame(self, ended: float, visible: Mapping[Widget, object]) -> None:
        """A frame was written: look for alarm tokens on the tiles that changed."""
        self.frames += 1
        for room, tile in self.tiles.items():
            content = tile.content
            if content is self.tile_content.get(room):
                continue
            self.tile_content[room] = content
            found = TOKEN.search(getattr(content, "plain", str(content)))
            if found is None:
                continue
            token = found.group(1)
            self.on_tile.setdefault(token, ended)
            if tile in visible:
                self.on_screen.setdefault(token, ended)


def _cpu_ticks() -> int:
    text = Path("/proc/self/stat").read_text()
    fields = text[text.rindex(")") + 2 :].split()
    return int(fields[11]) + int(fields[12])


class TimedSource(MqttSource):
    """``MqttSource`` noting when each state document arrives."""

    recorder: Recorder

    def _dispatch(
        self, message: aiomqtt.Message, deliver: Callable[[FeedItem], None]
    ) -> None:
        recorder = self.recorder

        def timed(item: FeedItem) -> None:
            if isinstance(item, StateReceived) and not item.retained:
                seq = item.state.get("bench_seq")
                sent = item.state.get("bench_sent_mono")
                if isinstance(seq, int) and isinstance(sent, float):
                    recorder.arrive(item.room, seq, sent)
            deliver(item)

        super()._dispatch(message, timed)


class TimedScreen(StationScreen):
    """``StationScreen`` timing its redraws and its frame updates."""

    recorder: Recorder

    def update_views(self) -> None:
        """Time the real one (every tile)."""
        began = time.monotonic()
        super().update_views()
        if began >= self.recorder.measure_from:
            self.recorder.handler_ms.append((time.monotonic() - began) * 1000)

    def update_rooms(self, rooms: Collection[str]) -> None:
        """Time the real one (the tiles of ``rooms``)."""
        began = time.monotonic()
        super().update_rooms(rooms)
        if began >= self.recorder.measure_from:
            self.recorder.rooms_ms.append((time.monotonic() - began) * 1000)

    def _on_timer_update(self) -> None:
        recorder = self.recorder
        began = time.monotonic()
        composites = self.is_current and not self.app._batch_count  # noqa: SLF001
        super()._on_timer_update()
        if composites:
            visible = self._compositor.visible_widgets
            recorder.screen_update(began, time.monotonic(), visible)
        if began >= recorder.measure_from:
            took = (time.monotonic() - began) * 1000
            recorder.frame_ms.append(took)
            if recorder.blinked:
                recorder.blink_frame_ms.append(took)
        recorder.blinked = False


class TimedStation(Station):
    """``Station`` noting handled states and written frames."""

    recorder: Recorder

    def get_default_screen(self) -> Screen[None]:
        """The timed station screen."""
        screen = TimedScreen()
        screen.recorder = self.recorder
        return screen

    def blink(self) -> None:
        """Note the flashing's half period (it restyles every tile)."""
        self.recorder.blinked = True
        super().blink()

    def on_feed_arrived(self, message: FeedArrived) -> None:
        """Note the state as folded into its room's model (not yet drawn).

        Runs beside ``ConsoleApp.on_feed_arrived`` (Textual calls the handler of
        every class in the MRO), in the same message, with no frame in between.
        """
        item = message.item
        if isinstance(item, StateReceived) and not item.retained:
            seq = item.state.get("bench_seq")
            if isinstance(seq, int):
                self.recorder.fold(item.room, seq)

    def _display(
        self, screen: Screen[object], renderable: RenderableType | None
    ) -> None:
        super()._display(screen, renderable)
        if renderable is None or self._batch_count:
            return
        if self.is_headless:
            # What the real driver path builds for the terminal (and then writes).
            console = self.console
            if isinstance(renderable, CompositorUpdate):
                data = renderable.render_segments(console)
                data += Control.move_to(*self.cursor_position).segment.text
            else:
                data = console._render_buffer(console.render(renderable))  # noqa: SLF001
            self.recorder.frame_bytes += len(data)
        ended = time.monotonic()
        visible = screen._compositor.visible_widgets  # noqa: SLF001
        self.recorder.frame(ended, visible)


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def build_station(
    port: int, recorder: Recorder, *, gc_freeze: bool = True
) -> tuple[TimedStation, Callable[[], None]]:
    """The instrumented Station app, and a function that undoes the tile wrapper."""
    original_show = RoomTile.show

    def show(tile: RoomTile, view: RoomView) -> bool:
        changed = original_show(tile, view)
        recorder.tiles[tile.room] = tile
        recorder.tiles_drawn += changed
        # Whether or not anything changed, the tile now shows the model's state.
        recorder.drawn(tile.room)
        return changed

    RoomTile.show = show  # type: ignore[method-assign,assignment]

    def undo() -> None:
        RoomTile.show = original_show  # type: ignore[method-assign]

    source = TimedSource(f"mqtt://127.0.0.1:{port}", room=None)
    source.recorder = recorder
    # As ``roomctl console --station`` builds it (``roomctl.ui.app.build_console``).
    app = TimedStation(source, role="nurse", gc_freeze=gc_freeze)
    app.recorder = recorder
    return app, undo


async def _run_station(
    args: argparse.Namespace, port: int, recorder: Recorder, plan_file: Path
) -> tuple[int, dict[str, object]]:
    app, undo = build_station(port, recorder, gc_freeze=not args.no_gc_freeze)
    publisher = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.station_render", "publish",
        "--port", str(port), "--rooms", str(args.rooms),
        "--seconds", str(args.warmup + args.duration + 1), "--seed", str(args.seed),
        "--plan", str(plan_file),
    )  # fmt: skip

    async def stop_later() -> None:
        await asyncio.sleep(args.warmup)
        recorder.measure_from = time.monotonic()
        recorder.cpu_ticks_start = _cpu_ticks()
        await publisher.wait()
        stopped = time.monotonic()
        last_seq = _read_json(plan_file).get("last_seq", {})
        assert isinstance(last_seq, dict)
        # Until every room's last state has been handled and a frame has shown it.
        while time.monotonic() - stopped < DRAIN_LIMIT_S:
            if not recorder.handled and all(
                recorder.last_handled.get(r, 0) >= n for r, n in last_seq.items()
            ):
                recorder.drain_s = time.monotonic() - stopped
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)
        recorder.cpu_ticks_end = _cpu_ticks()
        recorder.window = (recorder.measure_from, time.monotonic())
        recorder.objects = len(gc.get_objects())
        recorder.rss_mb = _rss_mb()
        app.exit()

    width, height = (int(v) for v in args.size.split("x"))
    stopper = asyncio.create_task(stop_later())
    profiler = cProfile.Profile() if args.profile else None
    gc.callbacks.append(recorder.on_gc)
    try:
        if profiler is not None:
            profiler.enable()
        await app.run_async(headless=True, size=(width, height))
    finally:
        gc.callbacks.remove(recorder.on_gc)
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(args.profile)
        undo()
        stopper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await stopper
        if publisher.returncode is None:
            publisher.send_signal(signal.SIGTERM)
            await publisher.wait()
    plan = _read_json(plan_file)
    return publisher.returncode or 0, plan


def _ms(values: list[float]) -> str:
    if not values:
        return "n=0"
    return (
        f"n={len(values)} p50 {statistics.median(values):.1f} ms, "
        f"p99 {_percentile(values, 99):.1f} ms, max {max(values):.1f} ms"
    )


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def _report(
    args: argparse.Namespace,
    recorder: Recorder,
    plan: dict[str, object],
    loads: list[tuple[float, float, float]],
) -> bool:
    window_s = recorder.window[1] - recorder.window[0]
    cpu = (recorder.cpu_ticks_end - recorder.cpu_ticks_start) / os.sysconf("SC_CLK_TCK")
    print(
        f"machine: {_cpu_model()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}"
    )
    print(
        "load average (1/5/15 min): start {:.2f} {:.2f} {:.2f}; end {:.2f} {:.2f} "
        "{:.2f}".format(*loads[0], *loads[1])
    )
    print(
        f"{args.rooms} rooms at 1 Hz, screen {args.size}, {window_s:.1f} s measured "
        f"after a {args.warmup:g} s warm-up; publisher sent {plan.get('sent')} states"
    )
    print(
        "state -> screen updated (composited; written to the terminal when its "
        f"tile is in view), from arrival at the console: {_ms(recorder.own_ms)}"
    )
    print(
        "  of which tiles on the visible part of the screen (written to the "
        f"terminal): {_ms(recorder.own_visible_ms)}"
    )
    print(f"  arrival -> its tile drawn: {_ms(recorder.to_drawn_ms)}")
    print(f"  tile drawn -> screen update done: {_ms(recorder.to_frame_ms)}")
    print(
        f"state -> screen updated, from the publish call: {_ms(recorder.end_to_end_ms)}"
    )
    print(
        f"  states on screen {recorder.handled_states} ({recorder.coalesced} drawn "
        "together with a newer state of the same room: coalesced); "
        f"states missing or out of order on arrival: {recorder.seq_gaps}"
    )
    print(
        f"  states already older than {STATE_STALE_S:g} s (the console's staleness "
        f"limit) when shown: {recorder.shown_old}, of which on a tile saying LIVE: "
        f"{recorder.shown_old_live}"
    )
    print(f"update_rooms per call (changed rooms): {_ms(recorder.rooms_ms)}")
    print(f"update_views per call (every tile, 1 s tick): {_ms(recorder.handler_ms)}")
    print(
        f"  tiles redrawn (content or colours changed): {recorder.tiles_drawn} "
        f"({recorder.tiles_drawn / max(window_s, 1e-9):.0f}/s over the run)"
    )
    print(f"frame update (layout + render + display): {_ms(recorder.frame_ms)}")
    print(f"  of which right after a flash half-period: {_ms(recorder.blink_frame_ms)}")
    for generation, pauses in sorted(recorder.gc_ms.items()):
        print(f"garbage collection, generation {generation}: {_ms(pauses)}")
    print(
        f"  objects tracked by the collector at the end: {recorder.objects:,}; "
        f"station RSS {recorder.rss_mb:.0f} MB"
        + (" (without gc.freeze(): a what-if)" if args.no_gc_freeze else "")
    )
    print(
        f"frames {recorder.frames} ({recorder.frames / max(window_s, 1e-9):.1f}/s "
        f"over the run), terminal bytes built {recorder.frame_bytes / 1e6:.1f} MB; "
        f"station CPU {cpu / window_s * 100:.0f} % of one core over the window"
    )
    alarms = [
        a
        for a in plan.get("alarms", [])  # type: ignore[attr-defined]
        if a["first_sent_mono"] >= recorder.measure_from
    ]
    lost = [a for a in alarms if a["token"] not in recorder.on_tile]
    hidden = [a for a in alarms if a["token"] not in recorder.on_screen]
    delays = [
        (recorder.on_tile[a["token"]] - a["first_sent_mono"]) * 1000
        for a in alarms
        if a["token"] in recorder.on_tile
    ]
    one_state = sum(1 for a in alarms if a["states"] == 1)
    print(
        f"alarms raised in the window: {len(alarms)} ({one_state} present in one "
        f"state only); on their tile: {len(alarms) - len(lost)}; LOST: {len(lost)}"
    )
    print(f"  alarm publish -> first frame with it on its tile: {_ms(delays)}")
    print(
        f"  on the visible part of the screen at some frame: "
        f"{len(alarms) - len(hidden)} of {len(alarms)} (the rest only on tiles "
        "scrolled out of view)"
    )
    for entry in lost[:10]:
        print(f"  lost: {entry}")
    if recorder.drain_s is None:
        print(
            f"THE STATION DID NOT CATCH UP within {DRAIN_LIMIT_S:g} s of the rooms "
            "stopping: an alarm not shown may be late rather than lost"
        )
    else:
        print(
            f"after the rooms stopped, the station showed their last states within "
            f"{recorder.drain_s:.1f} s (the backlog it had)"
        )
    p99 = _percentile(recorder.own_ms, 99) if recorder.own_ms else float("inf")
    e2e = (
        _percentile(recorder.end_to_end_ms, 99)
        if recorder.end_to_end_ms
        else float("inf")
    )
    verdict = {True: "met", False: "NOT met"}
    print(
        f"target p99 <= {TARGET_P99_MS:g} ms: from arrival {verdict[p99 <= 50]} "
        f"({p99:.1f} ms); from publish {verdict[e2e <= 50]} ({e2e:.1f} ms); "
        f"no alarm lost: {verdict[not lost]}"
    )
    return bool(alarms) and bool(recorder.own_ms)


async def run(args: argparse.Namespace) -> int:
    """Broker, publisher, station; measure; print."""
    folder = Path(tempfile.mkdtemp(prefix="roomctl-station-"))
    port = free_port()
    (folder / "m.conf").write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\n")
    loads = [os.getloadavg()]
    broker = await asyncio.create_subprocess_exec(
        shutil.which("mosquitto") or "/usr/sbin/mosquitto",
        "-c",
        str(folder / "m.conf"),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    recorder = Recorder()
    try:
        await asyncio.sleep(0.5)
        _, plan = await _run_station(args, port, recorder, folder / "plan.json")
    finally:
        broker.send_signal(signal.SIGTERM)
        await broker.wait()
    loads.append(os.getloadavg())
    ok = _report(args, recorder, plan, loads)
    shutil.rmtree(folder, ignore_errors=True)
    return 0 if ok else 1


def main() -> None:
    """Parse arguments and run (or, with ``publish``, be the rooms)."""
    if sys.argv[1:2] == ["publish"]:
        parser = argparse.ArgumentParser(prog="bench.station_render publish")
        parser.add_argument("publish")
        parser.add_argument("--port", type=int, required=True)
        parser.add_argument("--rooms", type=int, default=64)
        parser.add_argument("--seconds", type=float, required=True)
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--plan", required=True)
        asyncio.run(_publish(parser.parse_args()))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rooms", type=int, default=64)
    parser.add_argument("--duration", type=float, default=90.0, help="seconds measured")
    parser.add_argument("--warmup", type=float, default=10.0, help="seconds before")
    parser.add_argument("--size", default="160x50", help="terminal COLUMNSxROWS")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--no-gc-freeze",
        action="store_true",
        help="what-if: without the console's gc.freeze() after start-up",
    )
    parser.add_argument(
        "--profile", metavar="FILE", help="cProfile the station (slower: not figures)"
    )
    raise SystemExit(asyncio.run(run(parser.parse_args())))


if __name__ == "__main__":
    main()
