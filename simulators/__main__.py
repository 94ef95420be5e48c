"""``python -m simulators DEVICE``: one simulated device on a pty or a TCP port.

Prints the port to give the daemon (a pty's stable path, or ``socket://...``) on its
first line of output, then runs until interrupted. With a scenario that waits for the
dose (``simulators.scenarios.DosedScenario``, e.g. ``demo``), SIGUSR1 means "the dose
was given now" (the demo sends it when the room moves to dosing).

    python -m simulators nonin-df2 --port pty --scenario typical --speed 1
    python -m simulators suntech-advantage --port tcp:7002 --fault unplug:60-65
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
import tempfile
from pathlib import Path

from roomctl.readings import ProtocolId
from simulators.devices import make_model
from simulators.faults import parse_faults
from simulators.scenarios import SCENARIOS, DosedScenario
from simulators.transport import PtyPort, TcpPort

_LOGGER = logging.getLogger("simulators")


def build_parser() -> argparse.ArgumentParser:
    """Arguments of the simulator command."""
    parser = argparse.ArgumentParser(
        prog="python -m simulators",
        description="Simulate a vital-signs device over its real wire protocol.",
    )
    parser.add_argument("device", choices=[p.value for p in ProtocolId])
    parser.add_argument(
        "--port",
        default="pty",
        help="'pty' (default), 'pty:PATH' for the link path, 'tcp' or 'tcp:PORT'",
    )
    parser.add_argument("--scenario", default="typical", choices=sorted(SCENARIOS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--speed", type=float, default=1.0, help="scenario speed factor"
    )
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="SPEC",
        help="split:N, drop:P, corrupt:P, garbage:P, silence:A-B, unplug:A-B",
    )
    return parser


async def _serve(args: argparse.Namespace) -> None:
    protocol = ProtocolId(args.device)
    scenario = SCENARIOS[args.scenario]
    if isinstance(scenario, DosedScenario):
        scenario = scenario.live()
    model = make_model(protocol, scenario, args.seed)
    faults = parse_faults(args.fault, seed=args.seed)
    kind, _, where = str(args.port).partition(":")
    runner: PtyPort | TcpPort
    if kind == "pty":
        path = (
            Path(where)
            if where
            else Path(tempfile.gettempdir()) / (f"roomctl-sim-{protocol.value}")
        )
        runner = PtyPort(model, link_path=path, speed=args.speed, faults=faults)
    elif kind == "tcp":
        runner = TcpPort(model, port=int(where or 0), speed=args.speed, faults=faults)
    else:
        raise SystemExit(f"unknown port kind {args.port!r} (use pty or tcp)")
    async with asyncio.TaskGroup() as tg:
        task = tg.create_task(runner.run(), name=f"simulator[{protocol.value}]")
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, task.cancel)
        # SIGUSR1, "the dose was given now": a DosedScenario starts its response;
        # any other scenario ignores it (never the default action: ending).
        started = loop.time()  # the runner's scenario clock starts with its task

        def dose() -> None:
            t_s = (loop.time() - started) * args.speed
            if isinstance(scenario, DosedScenario) and scenario.give_dose(t_s):
                _LOGGER.info("dose given at scenario time %.1f s", t_s)

        loop.add_signal_handler(signal.SIGUSR1, dose)
        if isinstance(runner, PtyPort):
            await runner.plugged.wait()
            print(runner.link_path, flush=True)  # noqa: T201 (the port is the output)
        else:
            await runner.bound.wait()
            print(runner.url, flush=True)  # noqa: T201


def main(argv: list[str] | None = None) -> int:
    """Run one simulator until interrupted."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(message)s")
    try:
        faults_ok = parse_faults(args.fault)
    except ValueError as exc:
        print(f"simulators: {exc}", file=sys.stderr)  # noqa: T201
        return 2
    del faults_ok
    with contextlib.suppress(asyncio.CancelledError):
        asyncio.run(_serve(args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
