"""``export_session``: one session of the record to a CSV or HL7 file and/or MLLP.

The effectful shell of the exports: reads the record (read-only, through
``roomctl.history``), writes files and talks to the HL7 receiver. The files hold
health data, so they are created readable by their owner only (as the record is),
written to a temporary name and renamed, so a failed export never leaves half a file.
"""

from __future__ import annotations

import contextlib
import csv
import os
import secrets
from datetime import UTC, datetime
from typing import IO, TYPE_CHECKING

from roomctl.errors import ExportError
from roomctl.export.csv_export import COLUMNS, csv_rows
from roomctl.export.hl7 import build_messages
from roomctl.export.mllp import (
    ACK_TIMEOUT_S,
    CONNECT_TIMEOUT_S,
    parse_endpoint,
    send_messages,
)
from roomctl.history import load_session, open_record

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from roomctl.export.hl7 import Hl7Message
    from roomctl.history import SessionHistory

#: File suffixes and what they produce.
FORMATS = {".csv": "CSV", ".hl7": "HL7"}


def _write_private(path: Path, write: Callable[[IO[str]], None]) -> None:
    """Write a text file owner-only and atomically; ``ExportError`` on failure."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8", newline="") as handle:
            write(handle)
        temporary.replace(path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise ExportError(f"cannot write {path}: {exc.strerror or exc}") from exc


def _write_csv(history: SessionHistory, path: Path) -> str:
    def write(handle: IO[str]) -> None:
        writer = csv.writer(handle, lineterminator="\r\n")
        writer.writerow(COLUMNS)
        writer.writerows(csv_rows(history))

    _write_private(path, write)
    return (
        f"wrote {len(history.readings)} readings and {len(history.events)} events "
        f"of session {history.info.id} to {path}"
    )


def _write_hl7(history: SessionHistory, messages: list[Hl7Message], path: Path) -> str:
    def write(handle: IO[str]) -> None:
        for message in messages:
            handle.write(message.text)

    _write_private(path, write)
    observations = sum(m.observations for m in messages)
    return (
        f"wrote {len(messages)} HL7 ORU^R01 messages ({observations} observations) "
        f"of session {history.info.id} to {path}"
    )


def _check_out(out: Path) -> str:
    kind = FORMATS.get(out.suffix.lower())
    if kind is None:
        raise ExportError(
            f"{out}: the export format comes from the file name; end it in .csv "
            f"(all readings and events) or .hl7 (HL7 ORU^R01 messages)"
        )
    try:
        is_folder, has_folder = out.is_dir(), out.parent.is_dir()
    except OSError as exc:  # a name too long, a folder we may not look into
        raise ExportError(f"cannot write {out}: {exc.strerror or exc}") from exc
    if is_folder:
        raise ExportError(f"{out} is a folder; give the name of the file to write")
    if not has_folder:
        raise ExportError(f"cannot write {out}: the folder {out.parent} does not exist")
    return kind


def export_session(
    record: Path,
    session_id: str,
    *,
    out: Path | None,
    mllp: str | None,
    connect_timeout_s: float = CONNECT_TIMEOUT_S,
    ack_timeout_s: float = ACK_TIMEOUT_S,
) -> str:
    """Write CSV (``*.csv``) or HL7 (``*.hl7``) and/or send HL7 over MLLP.

    Args:
        record: the session record (SQLite) to read.
        session_id: the session to export.
        out: the file to write; its suffix picks the format. ``None``: no file.
        mllp: ``HOST:PORT`` of an HL7 receiver to send the ORU^R01 messages to.
            ``None``: send nothing.
        connect_timeout_s: how long the receiver may take to accept the connection.
        ack_timeout_s: how long it may take to acknowledge each message.

    Returns:
        One line saying what was done.

    Raises:
        ExportError: bad input (no target, unknown suffix, bad ``HOST:PORT``), a file
            that cannot be written, or an HL7 receiver that refused the connection,
            did not answer in time or did not accept a message.
        RecordError: the record or the session does not exist or cannot be read.
    """
    if out is None and mllp is None:
        raise ExportError(
            "nothing to export to: give a file ending in .csv or .hl7, "
            "or an HL7 receiver as HOST:PORT"
        )
    kind = None if out is None else _check_out(out)
    endpoint = None if mllp is None else parse_endpoint(mllp)

    connection = open_record(record)
    try:
        history = load_session(connection, session_id)
    finally:
        connection.close()

    done: list[str] = []
    if out is not None and kind == "CSV":
        done.append(_write_csv(history, out))
    if kind != "HL7" and endpoint is None:
        return "; ".join(done)

    # A fresh prefix per export: two exports never share a control id.
    messages = build_messages(
        history, control_prefix=secrets.token_hex(7).upper(), now=datetime.now(UTC)
    )
    if not messages:
        done.append(
            f"session {history.info.id} has no SpO2, pulse-rate or NIBP readings, "
            f"so there was no HL7 message to write or send"
        )
        return "; ".join(done)
    if out is not None and kind == "HL7":
        done.append(_write_hl7(history, messages, out))
    if endpoint is not None:
        sent = send_messages(
            ((m.control_id, m.text) for m in messages),
            endpoint,
            connect_timeout_s=connect_timeout_s,
            ack_timeout_s=ack_timeout_s,
        )
        done.append(
            f"sent {sent} HL7 ORU^R01 messages of session {history.info.id} to "
            f"{endpoint}; the receiver acknowledged every one"
        )
    return "; ".join(done)
