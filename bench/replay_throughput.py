"""Replay throughput of a generated 4-hour capture (issue 3's benchmark).

    .venv/bin/python -m bench.replay_throughput [--hours 4] [--oximeter nonin-df2]

Generates the capture once (cached in /tmp; delete it after changing the generator),
then replays it through the same decoders, drivers and pipeline as ``roomctl replay``
(readings not printed), several times, and reports the best wall time, frames per
second and the multiple of real time, then the range over all runs and the load average.
The best CPU time of the process is printed as well: on a shared machine it shows how
much of the wall time was waiting.
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import time
from pathlib import Path

from bench.capture_gen import generate
from roomctl.readings import ProtocolId
from roomctl.replay import replay


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo, else what ``platform`` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--hours", type=float, default=4.0)
    parser.add_argument(
        "--oximeter", default="nonin-df2", choices=["nonin-df2", "masimo-ascii1"]
    )
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    duration_s = args.hours * 3600
    path = Path(f"/tmp/roomctl-bench-{args.oximeter}-{args.hours:g}h.jsonl")
    if not path.exists():
        t0 = time.perf_counter()
        records = generate(
            path, duration_s=duration_s, oximeter=ProtocolId(args.oximeter)
        )
        print(
            f"generated {records} records in {time.perf_counter() - t0:.1f} s: {path}"
        )
    size_mb = path.stat().st_size / 1e6
    load_before = os.getloadavg()[0]
    walls: list[float] = []
    cpus: list[float] = []
    summary = None
    for _ in range(args.runs):
        t0, cpu0 = time.perf_counter(), time.process_time()
        with path.open() as stream:
            summary = replay(stream, io.StringIO(), source=str(path))
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - cpu0)
    assert summary is not None
    best, best_cpu = min(walls), min(cpus)
    frames = sum(summary.frames.values())
    python = platform.python_version()
    print(f"machine: {cpu_model()}, {os.cpu_count()} cores, Python {python}")
    devices = f"{args.oximeter} + suntech-advantage"
    print(f"capture: {args.hours:g} h, {devices}, {size_mb:.1f} MB")
    print(f"frames: {summary.frames}, errors: {summary.errors}")
    print(
        f"best of {args.runs}: {best:.2f} s (CPU {best_cpu:.2f} s); "
        f"{frames / best:,.0f} frames/s; {duration_s / best:,.0f}x real time"
    )
    print(
        f"all runs: {best:.2f}-{max(walls):.2f} s wall, "
        f"{duration_s / max(walls):,.0f}-{duration_s / best:,.0f}x real time; "
        f"load average (1 min) {load_before:.2f} before, {os.getloadavg()[0]:.2f} after"
    )


if __name__ == "__main__":
    main()
