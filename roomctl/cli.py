"""The ``roomctl`` command line (contracts.md §1).

Exit codes: 0 success; 2 bad input (configuration, capture, arguments) with a message
naming the file, line or key and what is wrong; 1 anything else.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
from pathlib import Path

from roomctl import SAFETY_NOTICE, __version__
from roomctl.errors import ConfigError, RecordError
from roomctl.logs import configure_logging
from roomctl.settings import Settings, load_settings

_LOGGER = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_BAD_INPUT = 2


def _print_config_problems(error: ConfigError) -> None:
    count = len(error.problems)
    noun = "problem" if count == 1 else "problems"
    print(f"roomctl: the configuration has {count} {noun}:", file=sys.stderr)  # noqa: T201
    for problem in error.problems:
        print(f"  {problem}", file=sys.stderr)  # noqa: T201


def _config_check(args: argparse.Namespace) -> int:
    try:
        settings = load_settings(Path(args.file))
    except ConfigError as exc:
        _print_config_problems(exc)
        return EXIT_BAD_INPUT
    from roomctl.alarms import policy_table  # noqa: PLC0415 (command-local imports)

    print(f"{args.file}: the configuration is valid. Effective settings:")  # noqa: T201
    print(json.dumps(settings.model_dump(mode="json", exclude={"alarms"}), indent=2))  # noqa: T201
    print("\nAlarm policy in force:")  # noqa: T201
    print(policy_table(settings.alarms))  # noqa: T201
    return EXIT_OK


async def _run_until_signalled(settings: Settings) -> None:
    # Imported here: the daemon's modules are not needed by the other commands.
    from roomctl.app import Daemon  # noqa: PLC0415

    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None  # noqa: S101 (we are inside asyncio.run)
    stopping = False

    def stop(signame: str) -> None:
        nonlocal stopping
        if not stopping:
            stopping = True
            _LOGGER.info("received %s: shutting down", signame)
            task.cancel()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop, sig.name)
    try:
        await Daemon(settings).run()
    except asyncio.CancelledError:
        if not stopping:
            raise


def _run(args: argparse.Namespace) -> int:
    try:
        settings = load_settings(Path(args.config))
    except ConfigError as exc:
        _print_config_problems(exc)
        return EXIT_BAD_INPUT
    configure_logging(settings.log.level)
    _LOGGER.warning(SAFETY_NOTICE)
    try:
        asyncio.run(_run_until_signalled(settings))
    except RecordError as exc:
        _LOGGER.error("cannot start: %s", exc)
        return EXIT_FAILURE
    return EXIT_OK


def _replay(args: argparse.Namespace) -> int:
    from roomctl.errors import CaptureError  # noqa: PLC0415 (command-local imports)
    from roomctl.replay import replay  # noqa: PLC0415

    policy = None
    if args.config is not None:
        try:
            policy = load_settings(Path(args.config)).alarms
        except ConfigError as exc:
            _print_config_problems(exc)
            return EXIT_BAD_INPUT
    path = Path(args.capture)
    try:
        with path.open(encoding="utf-8") as stream:
            replay(
                stream,
                sys.stdout,
                source=str(path),
                readings=args.readings,
                policy=policy,
            )
    except OSError as exc:
        print(f"roomctl: cannot read the capture {path}: {exc}", file=sys.stderr)  # noqa: T201
        return EXIT_BAD_INPUT
    except (CaptureError, UnicodeDecodeError) as exc:
        print(f"roomctl: bad capture: {exc}", file=sys.stderr)  # noqa: T201
        return EXIT_BAD_INPUT
    return EXIT_OK


def _demo(args: argparse.Namespace) -> int:
    from roomctl.demo import run_demo  # noqa: PLC0415 (command-local imports)

    configure_logging("warning")

    async def main() -> None:
        task = asyncio.current_task()
        assert task is not None  # noqa: S101 (inside asyncio.run)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, task.cancel)
        with contextlib.suppress(asyncio.CancelledError):
            await run_demo(
                scenario=args.scenario,
                speed=args.speed,
                room=args.room,
                broker=args.broker,
                console=not args.no_console,
            )

    asyncio.run(main())
    print("roomctl demo stopped.")  # noqa: T201
    return EXIT_OK


def _console(args: argparse.Namespace) -> int:
    # Imported here: only the console needs Textual.
    from roomctl.ui.app import run_console  # noqa: PLC0415

    return run_console(
        broker_url=args.broker,
        room=None if args.station else args.room,
        station=args.station or args.room is None,
        role=args.role,
        topic_root=args.topic_root,
    )


def _sim(args: argparse.Namespace) -> int:
    # roomctl never imports the simulators (an import-layer contract); run them as
    # their own program instead.
    os.execv(sys.executable, [sys.executable, "-m", "simulators", *args.sim_args])  # noqa: S606


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every subcommand."""
    parser = argparse.ArgumentParser(
        prog="roomctl",
        description="Treatment-room daemon for ketamine-assisted psychotherapy. "
        + SAFETY_NOTICE,
    )
    parser.add_argument("--version", action="version", version=f"roomctl {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="run the room daemon (headless)")
    run.add_argument("--config", required=True, metavar="FILE", help="TOML settings")
    run.set_defaults(handler=_run)

    demo = commands.add_parser(
        "demo", help="a whole simulated room on this machine, no external services"
    )
    demo.add_argument(
        "--scenario",
        default="demo",
        help="simulator scenario: demo (a BP rise within minutes) or typical",
    )
    demo.add_argument("--speed", type=float, default=1.0, help="scenario speed factor")
    demo.add_argument("--room", default="demo", help="room name")
    demo.add_argument(
        "--broker",
        metavar="URL",
        help="use this MQTT broker (mqtt://host:port) instead of the embedded one",
    )
    demo.add_argument(
        "--no-console",
        action="store_true",
        help="headless: status lines instead of the console",
    )
    demo.set_defaults(handler=_demo)

    console = commands.add_parser(
        "console", help="the nurse console for one room, or the station of all rooms"
    )
    console.add_argument("--room", metavar="ROOM", help="the room to show")
    console.add_argument(
        "--station", action="store_true", help="every room on the broker"
    )
    console.add_argument(
        "--broker", default="mqtt://127.0.0.1:1883", metavar="URL", help="MQTT broker"
    )
    console.add_argument("--role", choices=["nurse", "therapist"], default="nurse")
    console.add_argument("--topic-root", default="roomctl", metavar="ROOT")
    console.set_defaults(handler=_console)

    sim = commands.add_parser(
        "sim",
        help="run a device simulator (same as python -m simulators)",
        add_help=False,
    )
    sim.add_argument("sim_args", nargs=argparse.REMAINDER)
    sim.set_defaults(handler=_sim)

    replay = commands.add_parser(
        "replay", help="replay a capture in virtual time and print its events"
    )
    replay.add_argument("capture", metavar="CAPTURE")
    replay.add_argument("--config", metavar="FILE", help="alarm policy settings")
    replay.add_argument(
        "--readings", action="store_true", help="print every reading as well"
    )
    replay.set_defaults(handler=_replay)

    config = commands.add_parser("config", help="configuration tools")
    config_commands = config.add_subparsers(dest="config_command", required=True)
    check = config_commands.add_parser(
        "check", help="validate a configuration and print the settings in force"
    )
    check.add_argument("file", metavar="FILE")
    check.set_defaults(handler=_config_check)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    args = build_parser().parse_args(argv)
    handler = args.handler
    result: int = handler(args)
    return result
