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
    effective = settings.model_dump(mode="json", exclude={"alarms"})
    if effective["session"].get("patient_ref") is not None:
        # The pseudonymous patient code stays in the local record: never in logs
        # (systemd runs this check before every start, into the journal).
        effective["session"]["patient_ref"] = "(set; not shown)"
    print(json.dumps(effective, indent=2))  # noqa: T201
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
        # Undecodable bytes reach the reader, which names their line.
        with path.open(encoding="utf-8", errors="surrogateescape") as stream:
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


# ---------------------------------------------------------------- record commands

#: Export formats ``roomctl report --out`` hands to ``roomctl.export``.
EXPORT_SUFFIXES = (".csv", ".hl7")
#: Report formats (``roomctl.report.render.REPORT_SUFFIXES``, without importing it).
REPORT_SUFFIXES = (".pdf", ".html", ".png")


def _fail(message: str, code: int = EXIT_BAD_INPUT) -> int:
    print(f"roomctl: {message}", file=sys.stderr)  # noqa: T201
    return code


def _record_settings(args: argparse.Namespace) -> tuple[Settings | None, Path]:
    """The settings (with ``--config``) and the record path the command reads.

    Raises:
        ConfigError: ``--config`` names a bad file.
    """
    from roomctl.settings import RecordSettings  # noqa: PLC0415

    record = getattr(args, "record", None)
    config = getattr(args, "config", None)
    settings = None if config is None else load_settings(Path(config))
    if record is not None:
        return settings, Path(record)
    if settings is not None:
        return settings, settings.record.path
    return None, RecordSettings().path


def _mllp_target(text: str) -> str | None:
    """``None`` when ``text`` is a valid ``HOST:PORT``, else what is wrong."""
    host, sep, port = text.rpartition(":")
    if not sep or not host:
        return f"--mllp {text!r}: give the HL7 receiver as HOST:PORT"
    if not port.isdigit() or not 0 < int(port) < 65536:
        return f"--mllp {text!r}: the port must be a number from 1 to 65535"
    return None


def _report(args: argparse.Namespace) -> int:
    from roomctl.history import load_session, open_record, resolve_session  # noqa: PLC0415

    out = None if args.out is None else Path(args.out)
    suffix = "" if out is None else out.suffix.lower()
    if out is None and args.mllp is None:
        return _fail(
            "say where the report goes: --out FILE (.pdf, .html, .png, "
            ".csv or .hl7) or --mllp HOST:PORT"
        )
    if out is not None and suffix not in REPORT_SUFFIXES + EXPORT_SUFFIXES:
        return _fail(
            f"--out {out}: a report is written as .pdf, .html or .png and an export "
            f"as .csv or .hl7, not {suffix or 'a file without a suffix'}"
        )
    if out is not None and not out.parent.is_dir():
        return _fail(f"--out {out}: the folder {out.parent} does not exist")
    if args.mllp is not None and (problem := _mllp_target(args.mllp)) is not None:
        return _fail(problem)
    try:
        settings, record = _record_settings(args)
    except ConfigError as exc:
        _print_config_problems(exc)
        return EXIT_BAD_INPUT
    try:
        conn = open_record(record)
        try:
            session_id = resolve_session(conn, args.session, last=args.last)
            history = (
                load_session(conn, session_id) if suffix in REPORT_SUFFIXES else None
            )
        finally:
            conn.close()
    except RecordError as exc:
        return _fail(str(exc))
    if history is not None and out is not None:
        from datetime import UTC, datetime  # noqa: PLC0415

        from roomctl.report import build_report  # noqa: PLC0415
        from roomctl.report.render import write_report  # noqa: PLC0415

        model = build_report(
            history,
            policy=None if settings is None else settings.alarms,
            policy_source="the default alarm policy"
            if settings is None
            else f"the alarm policy of {args.config}",
            tz=datetime.now(UTC).astimezone().tzinfo or UTC,
            generated_at=datetime.now(UTC),
        )
        try:
            print(write_report(model, out))  # noqa: T201
        except OSError as exc:
            return _fail(f"cannot write the report {out}: {exc}", EXIT_FAILURE)
    if suffix in EXPORT_SUFFIXES or args.mllp is not None:
        return _export(
            record,
            session_id,
            out=out if suffix in EXPORT_SUFFIXES else None,
            mllp=args.mllp,
        )
    return EXIT_OK


def _export(
    record: Path, session_id: str, *, out: Path | None, mllp: str | None
) -> int:
    from roomctl.errors import RoomctlError  # noqa: PLC0415

    try:
        from roomctl.export import export_session  # noqa: PLC0415
    except ImportError as exc:  # pragma: no cover - the exports ship with roomctl
        return _fail(f"the exports are not available: {exc}", EXIT_FAILURE)
    try:
        print(export_session(record, session_id, out=out, mllp=mllp))  # noqa: T201
    except RecordError as exc:
        return _fail(str(exc))
    except RoomctlError as exc:  # ExportError: the file or the HL7 receiver failed
        return _fail(str(exc), EXIT_FAILURE)
    return EXIT_OK


def _sessions(args: argparse.Namespace) -> int:
    from roomctl.history import list_sessions, open_record  # noqa: PLC0415

    try:
        _settings, record = _record_settings(args)
    except ConfigError as exc:
        _print_config_problems(exc)
        return EXIT_BAD_INPUT
    try:
        conn = open_record(record)
        try:
            sessions = list_sessions(conn)
        finally:
            conn.close()
    except RecordError as exc:
        return _fail(str(exc))
    from roomctl.history import session_rows  # noqa: PLC0415

    rows = session_rows(sessions)
    if args.json:
        print(json.dumps(rows, indent=2))  # noqa: T201
    elif not rows:
        print(f"The record {record} has no sessions yet.")  # noqa: T201
    else:
        print(_sessions_table(rows))  # noqa: T201
    return EXIT_OK


def _sessions_table(rows: list[dict[str, object]]) -> str:
    from datetime import datetime  # noqa: PLC0415

    def local(text: object) -> str:
        return datetime.fromisoformat(str(text)).astimezone().strftime("%Y-%m-%d %H:%M")

    def minutes(value: object) -> str:
        return (
            f"{round(float(value) / 60)} min" if isinstance(value, int | float) else ""
        )

    header = (
        "SESSION",
        "ROOM",
        "STARTED",
        "ENDED",
        "DURATION",
        "ROUTE",
        "READINGS",
        "ALARMS",
    )
    table = [header]
    for row in rows:
        state = row["state"]
        ended = (
            local(row["ended_at"])
            if state == "ended"
            else ("in progress" if state == "running" else "not closed")
        )
        table.append(
            (
                str(row["id"]),
                str(row["room"]),
                local(row["started_at"]),
                ended,
                minutes(row["duration_s"]),
                str(row["route"]),
                str(row["readings"]),
                str(row["alarms"]),
            )
        )
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    zone = datetime.now().astimezone().strftime("%Z")
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
        for r in table
    ]
    noun = "session" if len(rows) == 1 else "sessions"
    lines.append(f"({len(rows)} {noun}; times in {zone})")
    return "\n".join(lines)


def _prune(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime  # noqa: PLC0415

    from roomctl.retention import prune  # noqa: PLC0415
    from roomctl.settings import RecordSettings  # noqa: PLC0415

    try:
        settings, record = _record_settings(args)
    except ConfigError as exc:
        _print_config_problems(exc)
        return EXIT_BAD_INPUT
    record_settings = (
        RecordSettings(path=record) if settings is None else settings.record
    )
    days = (
        args.older_than
        if args.older_than is not None
        else record_settings.retention_days
    )
    if days is None:
        return _fail(
            "say how old a session must be: --older-than DAYS, or set "
            "record.retention_days in the configuration"
        )
    if days < 0:
        return _fail(f"--older-than {days:g}: give 0 days or more")
    archive_dir = None
    if args.archive is not None:
        archive_dir = Path(args.archive)
    elif not args.delete:
        archive_dir = record_settings.archive_dir
        if archive_dir is None:
            return _fail(
                "say what happens to old sessions: --archive DIR or --delete (or set "
                "record.archive_dir in the configuration)"
            )
    captures = (
        record_settings.effective_captures_dir
        if settings is not None
        else RecordSettings(path=record).effective_captures_dir
    )
    try:
        report = prune(
            record,
            captures_dir=captures,
            older_than_days=days,
            archive_dir=archive_dir,
            now=datetime.now(UTC),
            dry_run=args.dry_run,
        )
    except RecordError as exc:
        code = EXIT_BAD_INPUT if not record.is_file() else EXIT_FAILURE
        return _fail(str(exc), code)
    for line in report.lines():
        print(line)  # noqa: T201
    return EXIT_OK


def _add_record_options(
    parser: argparse.ArgumentParser, *, default: object = None
) -> None:
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--config",
        metavar="FILE",
        default=default,
        help="the room's settings: its record, captures folder and alarm policy",
    )
    source.add_argument(
        "--record",
        metavar="PATH",
        default=default,
        help="the session record (SQLite) to read, instead of the configured one",
    )


def _demo(args: argparse.Namespace) -> int:
    from roomctl.demo import run_demo  # noqa: PLC0415 (command-local imports)

    configure_logging("warning")

    async def main() -> None:
        task = asyncio.current_task()
        assert task is not None  # noqa: S101 (inside asyncio.run)
        loop = asyncio.get_running_loop()
        # SIGHUP too: a closed terminal stops the demo's rooms and devices cleanly.
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            loop.add_signal_handler(sig, task.cancel)
        with contextlib.suppress(asyncio.CancelledError):
            await run_demo(
                scenario=args.scenario,
                speed=args.speed,
                room=args.room,
                rooms=args.rooms,
                broker=args.broker,
                console=not args.no_console,
            )

    asyncio.run(main())
    print("roomctl demo stopped.")  # noqa: T201
    return EXIT_OK


def _console(args: argparse.Namespace) -> int:
    # Imported here: only the console needs Textual.
    from roomctl.ui.app import run_console  # noqa: PLC0415

    password = None
    if args.password_file is not None:
        try:
            password = Path(args.password_file).read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            return _fail(f"cannot read the password file {args.password_file}: {exc}")
    if args.cafile is not None and not Path(args.cafile).is_file():
        return _fail(f"there is no CA file at {args.cafile}")
    # With --station, --room opens that room over the station (Esc: the station).
    return run_console(
        broker_url=args.broker,
        room=args.room,
        station=args.station or args.room is None,
        role=args.role,
        topic_root=args.topic_root,
        username=args.username,
        password=password,
        cafile=args.cafile,
    )


def _sim(args: argparse.Namespace) -> int:
    # roomctl never imports the simulators (an import-layer contract); run them as
    # their own program instead.
    os.execv(sys.executable, [sys.executable, "-m", "simulators", *args.sim_args])  # noqa: S606


def _add_record_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
) -> None:
    """``report``, ``sessions`` and ``sessions prune``."""
    report = commands.add_parser(
        "report",
        help="a session's report (.pdf, .html, .png) or export (.csv, .hl7, MLLP)",
    )
    which = report.add_mutually_exclusive_group(required=True)
    which.add_argument(
        "--session", metavar="ID", help="the session (see roomctl sessions)"
    )
    which.add_argument("--last", action="store_true", help="the newest session")
    report.add_argument(
        "--out",
        metavar="FILE",
        help="where to write: .pdf, .html or .png (report), .csv or .hl7 (export)",
    )
    report.add_argument(
        "--mllp", metavar="HOST:PORT", help="send the HL7 export to this receiver"
    )
    _add_record_options(report)
    report.set_defaults(handler=_report)

    sessions = commands.add_parser(
        "sessions", help="list the sessions in the record; prune old ones"
    )
    _add_record_options(sessions)
    sessions.add_argument("--json", action="store_true", help="JSON instead of a table")
    sessions.set_defaults(handler=_sessions)
    sessions_commands = sessions.add_subparsers(
        dest="sessions_command", metavar="prune"
    )
    prune = sessions_commands.add_parser(
        "prune",
        help="archive or delete finished sessions older than a number of days",
    )
    prune.add_argument(
        "--older-than",
        type=float,
        metavar="DAYS",
        help="age limit in days (default: record.retention_days)",
    )
    what = prune.add_mutually_exclusive_group()
    what.add_argument(
        "--archive",
        metavar="DIR",
        help="archive them here (default: record.archive_dir)",
    )
    what.add_argument("--delete", action="store_true", help="delete them")
    prune.add_argument(
        "--dry-run", action="store_true", help="say what would be done; change nothing"
    )
    _add_record_options(prune, default=argparse.SUPPRESS)
    prune.set_defaults(handler=_prune)


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
        "--rooms",
        type=int,
        choices=range(1, 9),
        default=3,
        metavar="N",
        help="rooms on the station, 1 to 8 (default 3: this room and two background "
        "rooms, one of them in an alarm)",
    )
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
    console.add_argument(
        "--username", metavar="USER", help="the broker user (a console or station user)"
    )
    console.add_argument(
        "--password-file",
        metavar="FILE",
        help="a file holding the user's password (kept out of the process list)",
    )
    console.add_argument(
        "--cafile",
        metavar="FILE",
        help="the CA certificate of an mqtts:// broker (the clinic's own CA)",
    )
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

    _add_record_commands(commands)

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
