"""The room daemon's CPU and memory with a full room running (issue 6, item 5).

    .venv/bin/python -m bench.room_resources [--duration 120] [--warmup 20]
        [--music-cache DIR | --cold-cache] [--profile FILE]

Starts a real mosquitto on a free loopback port, the device simulators on ptys (Nonin
DF2 at 75 frames/s; SunTech Advantage at ``--speed 10``), one simulated Zigbee2MQTT
bulb, and the real daemon as its own process (``python -m roomctl run``) with:

- both devices, the NIBP cycle shortened to 60 s before dosing (determinations happen
  during the run; the SunTech simulator runs its scenario ten times faster);
- music on, output ``dummy`` (libVLC's ``adummy``: the decoders run, nothing sounds),
  from the built-in library (``--music-cache``: the cache folder; the default is the
  user's cache, said warm or cold in the output; ``--cold-cache`` starts from an empty
  folder). Measuring starts only once every phase's music is ready, so synthesis is
  never inside the figures;
- lights (``bench/ceiling``), MQTT to the broker, the session record and capture file.

After ``--warmup`` seconds it samples the daemon every second for ``--duration``
seconds: CPU time (process CPU time, not wall time, so other work on the machine
does not count) and RSS from ``/proc/<pid>/status`` (VmRSS). Each one-second sample
is the sum over the daemon's threads of ``/proc/<pid>/task/*/schedstat`` (time on
the CPU in nanoseconds): clock ticks (10 ms) would make every sample a whole percent.
The window's mean is also given from ``/proc/<pid>/stat`` (utime + stime in ticks,
which keeps the time of threads that ended; exact to one tick over the window). It
prints the median and p90 of CPU % of one core per sample, the window means, the
median and max RSS, the CPU per thread over the window, and checks that the room was
really running (vitals live, NIBP determinations, music playing, lights answering).

``--profile FILE`` runs the daemon under cProfile (``python -m cProfile -o FILE``):
the main thread only, and slower than without; the resource figures of such a run are
not the daemon's.
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
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiomqtt

from roomctl import SAFETY_NOTICE
from roomctl.demo import free_port

ROOM = "bench"
LIGHT = "bench/ceiling"
CLK_TCK = os.sysconf("SC_CLK_TCK")
#: Music phases of the built-in library (one "ready" log line each).
MUSIC_PHASES = 5
#: Longest wait for the built-in music (a cold cache takes about 11 s of CPU).
MUSIC_TIMEOUT_S = 600
TARGET_CPU_PERCENT = 2.0
TARGET_RSS_MB = 80.0


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def cpu_ticks(pid: int | str, task: str | None = None) -> int:
    """Utime + stime of a process (all its threads), or of one thread, in ticks."""
    where = f"/proc/{pid}" if task is None else f"/proc/{pid}/task/{task}"
    text = Path(f"{where}/stat").read_text()
    fields = text[text.rindex(")") + 2 :].split()
    return int(fields[11]) + int(fields[12])  # fields 14 and 15 of proc(5)


def cpu_ns(pid: int) -> int:
    """Time on the CPU of every live thread of ``pid``, in ns (schedstat)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError, ValueError):
            total += int((task / "schedstat").read_text().split()[0])
    return total


def rss_kb(pid: int) -> int:
    """VmRSS of a process, in kB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def thread_ticks(pid: int) -> dict[str, tuple[str, int]]:
    """Every live thread of ``pid``: its id -> (name, CPU ticks)."""
    out = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            name = (task / "comm").read_text().strip()
            out[task.name] = (name, cpu_ticks(pid, task.name))
    return out


def cache_is_warm(cache_dir: Path) -> bool:
    """Whether every phase of the default built-in library is already generated."""
    from roomctl.playlists import synth  # noqa: PLC0415 (numpy only here)
    from roomctl.playlists.model import MUSIC_PHASES  # noqa: PLC0415
    from roomctl.playlists.settings import BuiltinMusicSettings  # noqa: PLC0415

    builtin = BuiltinMusicSettings()
    spec = synth.SynthSpec(
        duration_s=builtin.track_s,
        sample_rate=builtin.sample_rate,
        channels=builtin.channels,
        seed=builtin.seed,
    )
    folder = synth.builtin_folder(cache_dir, spec)
    size = 44 + spec.frames * spec.channels * 2
    for phase in MUSIC_PHASES:
        if not (folder / f"{phase.value}.toml").is_file():
            return False
        for index in range(builtin.tracks_per_phase):
            wav = folder / f"{phase.value}-{index + 1}.wav"
            if not wav.is_file() or wav.stat().st_size != size:
                return False
    return True


@dataclass
class RoomWatch:
    """What the room's retained ``state`` topic said during the run."""

    states: int = 0
    last: dict[str, object] = field(default_factory=dict)
    nibp_measured: set[str] = field(default_factory=set)
    spo2_live: int = 0
    music_playing: int = 0
    lights_ok: int = 0

    def take(self, doc: dict[str, object]) -> None:
        """Fold one state document."""
        self.states += 1
        self.last = doc
        vitals = doc.get("vitals")
        if isinstance(vitals, dict):
            spo2 = vitals.get("spo2_percent")
            if isinstance(spo2, dict) and spo2.get("live"):
                self.spo2_live += 1
        nibp = doc.get("nibp")
        if isinstance(nibp, dict) and nibp.get("ok"):
            self.nibp_measured.add(str(nibp.get("measured_at")))
        music = doc.get("music")
        if isinstance(music, dict) and music.get("state") == "playing":
            self.music_playing += 1
        lights = doc.get("lights")
        if isinstance(lights, dict) and lights.get("ok"):
            self.lights_ok += 1

    def complete(self) -> bool:
        """Whether every part of the room worked throughout the window."""
        every = self.states
        return (
            every > 0
            and self.spo2_live == self.music_playing == self.lights_ok == every
            and bool(self.nibp_measured)
        )

    def summary(self) -> str:
        """One line: what the room's state said over the window."""
        music = self.last.get("music")
        track = music.get("track") if isinstance(music, dict) else None
        title = track.get("title") if isinstance(track, dict) else None
        lights = self.last.get("lights")
        scene = lights.get("scene") if isinstance(lights, dict) else None
        return (
            f"room over the window: {self.states} state documents; SpO2 live in "
            f"{self.spo2_live}; NIBP determinations {len(self.nibp_measured)}; music "
            f"playing in {self.music_playing} (last track {title!r}); lights ok in "
            f"{self.lights_ok} (scene {scene!r})"
        )


async def _watch(port: int, watch: RoomWatch, counting: asyncio.Event) -> None:
    async with aiomqtt.Client("127.0.0.1", port=port) as client:
        await client.subscribe(f"roomctl/{ROOM}/state", qos=0)
        async for message in client.messages:
            if not counting.is_set() or not isinstance(message.payload, bytes):
                continue
            with contextlib.suppress(ValueError):
                doc = json.loads(message.payload)
                if isinstance(doc, dict):
                    watch.take(doc)


async def _spawn_simulator(
    *argv: str, log: Path
) -> tuple[asyncio.subprocess.Process, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        *argv,
        stdout=asyncio.subprocess.PIPE,
        stderr=log.open("wb"),
    )
    assert proc.stdout is not None
    line = await asyncio.wait_for(proc.stdout.readline(), timeout=20)
    return proc, line.decode().strip()


#: Parts of the room that ``--without`` can leave out (to see what each costs).
PARTS = ("nonin", "nibp", "music", "lights", "mqtt")


def _config(
    folder: Path, port: int, links: dict[str, str], cache: Path, without: set[str]
) -> str:
    text = f'[room]\nname = "{ROOM}"\n[record]\npath = "{folder / "record.sqlite"}"\n'
    if "mqtt" in without:
        text += "[mqtt]\nenabled = false\n"
    else:
        text += f'[mqtt]\nurl = "mqtt://127.0.0.1:{port}"\n'
    if "lights" not in without and "mqtt" not in without:
        text += f'[lighting]\nlights = ["{LIGHT}"]\n'
    if "music" in without:
        text += "[music]\nenabled = false\n"
    else:
        text += f'[music]\noutput = "dummy"\ncache_dir = "{cache}"\n'
    if "oximeter" in links:
        text += (
            '[devices.oximeter]\nprotocol = "nonin-df2"\n'
            f'port = "{links["oximeter"]}"\n'
        )
    if "nibp" in links:
        text += (
            '[devices.nibp]\nprotocol = "suntech-advantage"\n'
            f'port = "{links["nibp"]}"\n'
            "[alarms.nibp_schedule]\npreparation_cycle_s = 60\n"
        )
    return text


def _music_ready(log: Path) -> bool:
    text = log.read_text(errors="replace")
    return text.count("built-in music ready for") >= MUSIC_PHASES


async def _wait_for_music(log: Path, daemon: asyncio.subprocess.Process) -> float:
    started = time.monotonic()
    while not _music_ready(log):
        if daemon.returncode is not None:
            raise RuntimeError(f"the daemon ended ({daemon.returncode}); see {log}")
        if time.monotonic() - started > MUSIC_TIMEOUT_S:
            raise RuntimeError(f"music not ready after {MUSIC_TIMEOUT_S} s; see {log}")
        await asyncio.sleep(0.5)
    return time.monotonic() - started


@dataclass
class Samples:
    """Per-second samples of the daemon."""

    cpu_percent: list[float] = field(default_factory=list)
    rss_mb: list[float] = field(default_factory=list)
    window_ticks: int = 0
    window_ns: int = 0
    window_s: float = 0.0
    threads_before: dict[str, tuple[str, int]] = field(default_factory=dict)
    threads_after: dict[str, tuple[str, int]] = field(default_factory=dict)


async def _sample(pid: int, duration: float) -> Samples:
    out = Samples(threads_before=thread_ticks(pid))
    start_ticks = cpu_ticks(pid)
    start_ns = last_ns = cpu_ns(pid)
    start = last = time.monotonic()
    n = 0
    while last - start < duration:
        n += 1
        await asyncio.sleep(max(0.0, start + n - time.monotonic()))
        ns, now = cpu_ns(pid), time.monotonic()
        out.cpu_percent.append((ns - last_ns) / 1e9 / (now - last) * 100)
        out.rss_mb.append(rss_kb(pid) / 1024)
        last_ns, last = ns, now
    out.window_ticks = cpu_ticks(pid) - start_ticks
    out.window_ns = last_ns - start_ns
    out.window_s = last - start
    out.threads_after = thread_ticks(pid)
    return out


def _thread_table(samples: Samples, pid: int) -> list[tuple[str, float]]:
    """CPU per thread over the window, % of one core, busiest first."""
    rows = []
    for tid, (name, ticks) in samples.threads_after.items():
        before = samples.threads_before.get(tid, (name, 0))[1]
        label = f"{name} {tid}" + (" (main: the event loop)" if tid == str(pid) else "")
        rows.append((label, (ticks - before) / CLK_TCK / samples.window_s * 100))
    gone = samples.window_ticks - sum(
        ticks - samples.threads_before.get(tid, (name, 0))[1]
        for tid, (name, ticks) in samples.threads_after.items()
    )
    rows.append(
        ("(threads ended in the window)", gone / CLK_TCK / samples.window_s * 100)
    )
    return sorted(rows, key=lambda item: -item[1])


async def _stop(procs: list[asyncio.subprocess.Process]) -> None:
    """SIGTERM each process (in this order), then wait; kill after 10 s."""
    for proc in procs:
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), timeout=10)
            except TimeoutError:
                proc.kill()
                await proc.wait()


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def _cache_dir(args: argparse.Namespace, folder: Path) -> Path:
    if args.cold_cache:
        return folder / "music-cache"
    if args.music_cache is not None:
        return Path(args.music_cache).expanduser()
    from roomctl.playlists.synth import default_cache_dir  # noqa: PLC0415

    return default_cache_dir()


@dataclass
class Room:
    """The processes of one benchmark room, stopped in reverse order."""

    folder: Path
    port: int
    procs: list[asyncio.subprocess.Process] = field(default_factory=list)
    daemon: asyncio.subprocess.Process | None = None


async def _start_room(
    room: Room, cache: Path, profile: str | None, without: set[str]
) -> None:
    folder, port = room.folder, room.port
    (folder / "m.conf").write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\n")
    broker = await asyncio.create_subprocess_exec(
        shutil.which("mosquitto") or "/usr/sbin/mosquitto",
        "-c", str(folder / "m.conf"),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    room.procs.append(broker)
    await asyncio.sleep(0.5)
    links = {}
    if "nonin" not in without:
        nonin, links["oximeter"] = await _spawn_simulator(
            "-m", "simulators", "nonin-df2", "--port", f"pty:{folder / 'oximeter'}",
            log=folder / "nonin.log",
        )  # fmt: skip
        room.procs.append(nonin)
    if "nibp" not in without:
        suntech, links["nibp"] = await _spawn_simulator(
            "-m", "simulators", "suntech-advantage", "--port", f"pty:{folder / 'nibp'}",
            "--speed", "10",
            log=folder / "suntech.log",
        )  # fmt: skip
        room.procs.append(suntech)
    if "lights" not in without:
        light = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "simulators.light",
            "--broker", f"mqtt://127.0.0.1:{port}", "--name", LIGHT,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=(folder / "light.log").open("wb"),
        )  # fmt: skip
        room.procs.append(light)
    config = folder / "room.toml"
    config.write_text(_config(folder, port, links, cache, without))
    prefix = [sys.executable]
    if profile:
        prefix += ["-m", "cProfile", "-o", profile]
    room.daemon = await asyncio.create_subprocess_exec(
        *prefix, "-m", "roomctl", "run", "--config", str(config),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=(folder / "daemon.log").open("wb"),
    )  # fmt: skip


@dataclass
class Result:
    """What one run measured."""

    samples: Samples
    watch: RoomWatch
    loads: list[tuple[float, float, float]]
    daemon_alive: bool
    pid: int


async def _measure(args: argparse.Namespace, room: Room, cache: Path) -> Result:
    warm = cache_is_warm(cache)
    loads = [os.getloadavg()]
    watch, counting = RoomWatch(), asyncio.Event()
    without = set(args.without)
    await _start_room(room, cache, args.profile, without)
    daemon = room.daemon
    assert daemon is not None
    watcher = asyncio.create_task(_watch(room.port, watch, counting))
    try:
        if "music" not in without:
            music_s = await _wait_for_music(room.folder / "daemon.log", daemon)
            print(
                f"music cache {cache}: {'warm' if warm else 'cold'}; every phase "
                f"ready {music_s:.1f} s after the daemon started"
            )
        else:
            await asyncio.sleep(3.0)
        print(f"warm-up {args.warmup:g} s ...", flush=True)
        await asyncio.sleep(args.warmup)
        counting.set()
        loads.append(os.getloadavg())
        samples = await _sample(daemon.pid, args.duration)
        counting.clear()
        loads.append(os.getloadavg())
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError, aiomqtt.MqttError):
            await watcher
    return Result(samples, watch, loads, daemon.returncode is None, daemon.pid)


def _report(args: argparse.Namespace, result: Result, log: Path) -> bool:
    """Print the figures; whether the room really ran as a full room."""
    samples, watch = result.samples, result.watch
    cpu, rss = samples.cpu_percent, samples.rss_mb
    window_cpu = samples.window_ticks / CLK_TCK / samples.window_s * 100
    print(
        f"machine: {_cpu_model()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, CLK_TCK {CLK_TCK}"
    )
    print(
        "load average (1/5/15 min): start {:.2f} {:.2f} {:.2f}; measuring from "
        "{:.2f} {:.2f} {:.2f}; end {:.2f} {:.2f} {:.2f}".format(*sum(result.loads, ()))
    )
    print(
        f"daemon pid {result.pid}: {len(cpu)} samples over {samples.window_s:.1f} s "
        f"after a {args.warmup:g} s warm-up"
        + (" (under cProfile: not the daemon's own figures)" if args.profile else "")
    )
    print(
        f"CPU % of one core (one-second samples, schedstat): median "
        f"{statistics.median(cpu):.2f}, p90 {_percentile(cpu, 90):.2f}, max "
        f"{max(cpu):.2f}; window mean {samples.window_ns / 1e7 / samples.window_s:.2f}"
    )
    print(
        f"CPU % of one core over the window (utime + stime): {window_cpu:.2f} "
        f"({samples.window_ticks} ticks of {1000 / CLK_TCK:g} ms in "
        f"{samples.window_s:.1f} s)"
    )
    print(
        f"RSS MB: median {statistics.median(rss):.1f}, max {max(rss):.1f}, "
        f"min {min(rss):.1f}"
    )
    print("CPU by thread over the window (% of one core):")
    for name, percent in _thread_table(samples, result.pid):
        if percent > 0:
            print(f"  {percent:6.2f}  {name}")
    verdict = {True: "met", False: "NOT met"}
    print(
        f"target CPU <= {TARGET_CPU_PERCENT:g} % of one core: median "
        f"{verdict[statistics.median(cpu) <= TARGET_CPU_PERCENT]}, p90 "
        f"{verdict[_percentile(cpu, 90) <= TARGET_CPU_PERCENT]}; target RSS <= "
        f"{TARGET_RSS_MB:g} MB: {verdict[max(rss) <= TARGET_RSS_MB]} (max)"
    )
    print(watch.summary())
    lines = log.read_text(errors="replace").splitlines()
    problems = [
        line
        for line in lines
        if '"level": "info"' not in line and SAFETY_NOTICE not in line
    ]
    print(f"daemon log: {len(lines)} lines, {len(problems)} warnings/errors")
    for line in problems[:10]:
        print(f"  {line[:200]}")
    if args.without:
        print(f"left out: {', '.join(sorted(args.without))}")
        return result.daemon_alive
    return result.daemon_alive and watch.complete()


async def run(args: argparse.Namespace) -> int:
    """Start the room, measure, print the figures; 0 when the room really ran."""
    folder = Path(tempfile.mkdtemp(prefix="roomctl-resources-"))
    room = Room(folder=folder, port=free_port())
    try:
        result = await _measure(args, room, _cache_dir(args, folder))
    finally:
        await _stop([p for p in [room.daemon, *reversed(room.procs)] if p is not None])
    if not _report(args, result, folder / "daemon.log"):
        print(f"THE ROOM DID NOT RUN AS INTENDED (files kept in {folder})")
        return 1
    shutil.rmtree(folder, ignore_errors=True)
    return 0


def main() -> None:
    """Parse arguments and run."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--duration", type=float, default=120.0, help="seconds sampled")
    parser.add_argument("--warmup", type=float, default=20.0, help="seconds before")
    cache = parser.add_mutually_exclusive_group()
    cache.add_argument("--music-cache", help="the built-in music's cache folder")
    cache.add_argument(
        "--cold-cache",
        action="store_true",
        help="generate the music first (empty cache)",
    )
    parser.add_argument("--profile", metavar="FILE", help="cProfile the daemon")
    parser.add_argument(
        "--without",
        action="append",
        default=[],
        choices=PARTS,
        help="leave a part of the room out (repeatable): what it costs",
    )
    args = parser.parse_args()
    if args.profile:
        args.profile = str(Path(args.profile).resolve())
    raise SystemExit(asyncio.run(run(args)))


if __name__ == "__main__":
    main()
