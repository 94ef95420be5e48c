"""Capture files (contracts.md §2): the room's black box, written and read.

A capture is UTF-8 JSON Lines: a header, then records of bytes received (``rx``) and
sent (``tx``), link changes and operator inputs, each with ``t`` seconds since the
header's ``started_at``. ``read_capture`` checks every line and raises ``CaptureError``
naming the line and the fault. ``CaptureWriter`` buffers lines in memory and writes
them off the event loop, so the alarm path never waits on the disk.

Two extensions of contracts.md §2 (unknown keys, so older readers ignore them): an
operator input carries the command's ``id`` when it had one (crash resume knows by it
whether the record has the command), and a ``link`` ``lost`` record written when a
restarted daemon continues the session carries ``"restart": true`` (the device's
decoder and driver start afresh there, as the new process's did).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, TextIO, TypeAlias

from roomctl.commands import CommandInvalid, validate_command
from roomctl.errors import CaptureError, write_error_in_words
from roomctl.events import CommandVerb, Role, Route
from roomctl.readings import LinkState, ProtocolId

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

_LOGGER = logging.getLogger(__name__)

CAPTURE_VERSION = 1
#: The latest ``t`` a capture may hold (s): 30 days, far beyond any session, so a
#: corrupt or hostile ``t`` (1e12, Infinity) is an error rather than a replay that
#: ticks the engine once per virtual second for ever.
MAX_T_S = 30 * 86_400.0
#: The header's infusion length (min), as the settings allow it.
MAX_INFUSION_MIN = 240.0
#: How often buffered capture lines are written.
CAPTURE_FLUSH_INTERVAL_S = 0.5


@dataclass(frozen=True, slots=True, kw_only=True)
class CaptureHeader:
    """Line 1 of a capture."""

    room: str
    started_at: datetime
    #: Device name -> protocol.
    devices: dict[str, ProtocolId]
    route: Route = Route.IV
    infusion_min: float = 40.0

    def to_json(self) -> dict[str, object]:
        """The header line as JSON values."""
        return {
            "roomctl_capture": CAPTURE_VERSION,
            "room": self.room,
            "started_at": self.started_at.isoformat().replace("+00:00", "Z"),
            "devices": {n: {"protocol": p.value} for n, p in self.devices.items()},
            "session": {"route": self.route.value, "infusion_min": self.infusion_min},
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class BytesRecord:
    """Bytes received from (``rx``) or sent to (``tx``) a device."""

    line: int
    t: float
    dev: str
    data: bytes
    received: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkRecord:
    """A device link went ``up`` or was ``lost``.

    ``restart``: the link was lost because the daemon stopped (written when it
    resumes the session): its decoder and driver start afresh after it, as the
    restarted daemon's did.
    """

    line: int
    t: float
    dev: str
    state: LinkState
    restart: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class OpRecord:
    """An operator input."""

    line: int
    t: float
    verb: CommandVerb
    args: dict[str, object] = field(default_factory=dict)
    by: Role | None = None
    #: The command's ``id`` (MQTT), when it had one: the record's ``command_id``.
    command_id: str = ""


#: Any record after the header.
CaptureRecord: TypeAlias = BytesRecord | LinkRecord | OpRecord


#: A bytes record exactly as ``CaptureWriter`` writes it (compact separators, keys in
#: the writer's order, lowercase hex, a plain decimal ``t``). Nearly every line of a
#: capture is one, and ``iter_capture`` reads these without the JSON parser (issue 3,
#: bench/README.md). Any other line, valid or not, takes the JSON path, so every record
#: and every error message is the same either way. ``t`` follows JSON's number grammar
#: (no sign, exponent or leading zero here). ``dev`` excludes the characters that JSON
#: escapes, so the text is the string; its membership in the header, and an even hex
#: length, are checked after the match.
_BYTES_LINE = re.compile(
    r'\{"t":((?:0|[1-9][0-9]*)(?:\.[0-9]+)?),"dev":"([^"\\\x00-\x1f]*)",'
    r'"(rx|tx)":"([0-9a-f]*)"\}\n?\Z'
)


def _fail(source: str, line: int, message: str) -> CaptureError:
    return CaptureError(f"{source}:{line}: {message}")


def _require_utf8(text: str, source: str, line: int) -> None:
    """Bytes that are not UTF-8 (read with ``errors="surrogateescape"``) are an error.

    A capture opened that way reads to the end whatever its bytes, so a bad byte is
    reported with its line, as every other fault is.
    """
    if not text.isascii():
        try:
            text.encode()
        except UnicodeEncodeError as exc:
            raise _fail(
                source, line, "the line is not UTF-8 text (a damaged or binary file?)"
            ) from exc


def parse_header(text: str, source: str = "<capture>") -> CaptureHeader:
    """Parse and check line 1.

    Raises:
        CaptureError: not a roomctl capture header, or an unsupported version.
    """
    _require_utf8(text, source, 1)
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _fail(source, 1, f"the header is not valid JSON ({exc.msg})") from exc
    if not isinstance(raw, dict) or "roomctl_capture" not in raw:
        raise _fail(source, 1, "not a roomctl capture (no roomctl_capture header)")
    if raw["roomctl_capture"] != CAPTURE_VERSION:
        raise _fail(source, 1, f"capture version {raw['roomctl_capture']!r} is not 1")
    try:
        started_at = datetime.fromisoformat(str(raw["started_at"]))
        devices_raw = raw["devices"]
        if not isinstance(devices_raw, dict):
            raise TypeError("devices must be an object")  # noqa: TRY301 (one handler for all header faults)
        devices = {
            str(name): ProtocolId(spec["protocol"])
            for name, spec in devices_raw.items()
        }
        session = raw.get("session", {})
        route = Route(session.get("route", "iv"))
        infusion_min = float(session.get("infusion_min", 40))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise _fail(source, 1, f"bad header: {exc}") from exc
    if not 0 < infusion_min <= MAX_INFUSION_MIN:  # NaN fails too
        raise _fail(
            source,
            1,
            f"bad header: session.infusion_min must be more than 0 and at most "
            f"{MAX_INFUSION_MIN:g} minutes, not {infusion_min!r}",
        )
    if started_at.tzinfo is None:
        raise _fail(source, 1, "started_at must carry a time zone (UTC, 'Z')")
    return CaptureHeader(
        room=str(raw.get("room", "")),
        started_at=started_at,
        devices=devices,
        route=route,
        infusion_min=infusion_min,
    )


def _parse_record(
    raw: object, number: int, header: CaptureHeader, source: str
) -> CaptureRecord:
    if not isinstance(raw, dict):
        raise _fail(source, number, "a record must be a JSON object")
    t = raw.get("t")
    if isinstance(t, bool) or not isinstance(t, (int, float)):
        raise _fail(source, number, "every record needs a number t (seconds)")
    if "op" in raw:
        payload = {k: v for k, v in raw.items() if k not in ("t", "op")}
        try:
            verb, args, by = validate_command(str(raw["op"]), payload)
        except CommandInvalid as exc:
            raise _fail(source, number, f"bad operator input: {exc}") from exc
        command_id = raw.get("id")
        return OpRecord(
            line=number,
            t=float(t),
            verb=verb,
            args=args,
            by=by,
            command_id=command_id if isinstance(command_id, str) else "",
        )
    return _parse_device_record(raw, float(t), number, header, source)


def _parse_device_record(
    raw: dict[str, object], t: float, number: int, header: CaptureHeader, source: str
) -> CaptureRecord:
    dev = raw.get("dev")
    if not isinstance(dev, str) or dev not in header.devices:
        raise _fail(source, number, f"unknown device {dev!r} (not in the header)")
    for key, received in (("rx", True), ("tx", False)):
        if key in raw:
            try:
                data = bytes.fromhex(str(raw[key]))
            except ValueError as exc:
                raise _fail(source, number, f"{key} is not valid hex") from exc
            return BytesRecord(line=number, t=t, dev=dev, data=data, received=received)
    if "link" in raw:
        try:
            state = LinkState(str(raw["link"]))
        except ValueError as exc:
            raise _fail(source, number, f"unknown link state {raw['link']!r}") from exc
        return LinkRecord(
            line=number, t=t, dev=dev, state=state, restart=raw.get("restart") is True
        )
    raise _fail(source, number, "unknown record (expected rx, tx, link or op)")


def read_capture(
    stream: TextIO, source: str = "<capture>"
) -> tuple[CaptureHeader, Iterator[CaptureRecord]]:
    """Read and check the header now; return it and an iterator over the records.

    The records are checked as they are read, in order.

    Raises:
        CaptureError: a bad header now; the first bad record line when iteration
            reaches it, by number and fault.
    """
    first = stream.readline()
    if not first.strip():
        raise _fail(source, 1, "the capture is empty")
    header = parse_header(first, source)
    return header, _iter_records(stream, header, source)


def iter_capture(
    stream: TextIO, source: str = "<capture>"
) -> Iterator[CaptureHeader | CaptureRecord]:
    """Yield the header, then every record in order, checking each line.

    Raises:
        CaptureError: the first bad line, by number and fault.
    """
    header, records = read_capture(stream, source)
    yield header
    yield from records


def _iter_records(
    stream: TextIO, header: CaptureHeader, source: str
) -> Iterator[CaptureRecord]:
    devices = header.devices
    plain_bytes_line = _BYTES_LINE.match
    last_t = 0.0
    record: CaptureRecord
    for number, text in enumerate(stream, start=2):
        match = plain_bytes_line(text)
        if match is not None and match[2] in devices and not len(match[4]) % 2:
            # The writer's own bytes format: no JSON parser (see ``_BYTES_LINE``).
            t_text, dev, key, hex_text = match.groups()
            t = float(t_text)
            record = BytesRecord(
                line=number,
                t=t,
                dev=dev,
                data=bytes.fromhex(hex_text),
                received=key == "rx",
            )
        elif not text.strip():
            continue
        else:
            _require_utf8(text, source, number)
            try:
                raw = json.loads(text)
            except json.JSONDecodeError as exc:
                raise _fail(source, number, f"not valid JSON ({exc.msg})") from exc
            record = _parse_record(raw, number, header, source)
            t = record.t
        if t < last_t:
            raise _fail(source, number, f"t goes backwards ({t:g} after {last_t:g})")
        if not t <= MAX_T_S:  # NaN fails too
            raise _fail(
                source,
                number,
                f"t must be a number of seconds from 0 to {MAX_T_S:g}, not {t!r}",
            )
        last_t = t
        yield record


class CaptureWriter:
    """Writes one session's capture file; calls never block on the disk.

    ``header=None`` appends to the capture of a resumed session (its header is there
    already). Lines are written in the order they were added: by the writer's thread
    every ``CAPTURE_FLUSH_INTERVAL_S``, or at once by ``flush_now`` (an operator input
    is on disk before its reply goes out; shutdown).
    """

    def __init__(
        self,
        path: Path,
        header: CaptureHeader | None,
        *,
        start_mono: float,
        on_health: Callable[[str | None], None] | None = None,
    ) -> None:
        self.path = path
        #: Told on the loop when writes start failing (the reason in words) and when
        #: they succeed again (``None``): the daemon's ``tech.record`` alarm.
        self.on_health = on_health
        self._start_mono = start_mono
        self._lines: list[str] = []
        if header is not None:
            self._lines.append(json.dumps(header.to_json()))
        self._fd = -1
        try:
            self._open()
        except OSError as exc:
            # A full or read-only disk at start: the file is opened by the first
            # write the disk takes; meanwhile the lines wait in memory.
            _LOGGER.error("capture %s: cannot create it yet: %s", path, exc)
        # Lines taken from ``_lines`` but not yet on disk. A write the disk cuts short
        # (full) goes on later from the first byte it did not take: a line is never
        # written twice, nor left half-written (tests/faults/test_disk_full.py).
        self._unwritten = bytearray()
        self._failed = False
        # Taking the buffered lines and writing them is one step under this lock, so
        # the thread's writes and ``flush_now`` never reorder lines.
        self._lock = threading.Lock()

    def _open(self) -> None:
        if self._fd < 0:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # Health data: owner-only from the first byte.
            self._fd = os.open(self.path, os.O_CREAT | os.O_WRONLY | os.O_APPEND, 0o600)

    def _t(self, mono: float) -> float:
        return round(max(0.0, mono - self._start_mono), 4)

    def _add(self, record: dict[str, object]) -> None:
        self._lines.append(json.dumps(record, separators=(",", ":")))

    def rx(self, dev: str, data: bytes, mono: float) -> None:
        """Record bytes received from ``dev``."""
        self._add({"t": self._t(mono), "dev": dev, "rx": data.hex()})

    def tx(self, dev: str, data: bytes, mono: float) -> None:
        """Record bytes sent to ``dev``."""
        self._add({"t": self._t(mono), "dev": dev, "tx": data.hex()})

    def link(
        self, dev: str, state: LinkState, mono: float, *, restart: bool = False
    ) -> None:
        """Record a link change (``up``, ``lost``; ``restart``: see ``LinkRecord``)."""
        record: dict[str, object] = {"t": self._t(mono), "dev": dev}
        record["link"] = state.value
        if restart:
            record["restart"] = True
        self._add(record)

    def op(
        self,
        verb: CommandVerb,
        args: dict[str, object],
        by: Role | None,
        mono: float,
        *,
        command_id: str = "",
    ) -> None:
        """Record an operator input (with its ``id`` when it has one)."""
        record: dict[str, object] = {"t": self._t(mono), "op": verb.value, **args}
        if by is not None:
            record["by"] = by.value
        if command_id:
            record["id"] = command_id
        self._add(record)

    def _write(self, lines: list[str]) -> None:
        self._unwritten += "".join(f"{line}\n" for line in lines).encode()
        self._open()
        while self._unwritten:
            written = os.write(self._fd, self._unwritten)
            del self._unwritten[:written]

    def _write_pending(self) -> None:
        """Write the buffered lines; on failure keep the rest, in order, and raise."""
        with self._lock:
            lines, self._lines = self._lines, []
            if lines or self._unwritten:
                # On failure what the disk did not take stays in ``_unwritten``.
                self._write(lines)

    def flush_now(self) -> None:
        """Write buffered lines on the calling thread (operator inputs, shutdown)."""
        try:
            self._write_pending()
        except OSError as exc:
            self._failing(exc)
        else:
            self._writing()

    def _failing(self, exc: OSError) -> None:
        if self._failed:
            return
        self._failed = True
        _LOGGER.error(
            "capture %s: cannot write (%s); lines are kept in memory and retried",
            self.path,
            exc,
        )
        if self.on_health is not None:
            self.on_health(write_error_in_words(exc))

    def _writing(self) -> None:
        if not self._failed:
            return
        self._failed = False
        _LOGGER.warning("capture %s: writing again; nothing was lost", self.path)
        if self.on_health is not None:
            self.on_health(None)

    async def run(self) -> None:
        """Write buffered lines every ``CAPTURE_FLUSH_INTERVAL_S`` until cancelled."""
        try:
            while True:
                await asyncio.sleep(CAPTURE_FLUSH_INTERVAL_S)
                if not self._lines and not self._unwritten:
                    continue
                try:
                    await asyncio.to_thread(self._write_pending)
                except OSError as exc:
                    self._failing(exc)
                else:
                    self._writing()
        finally:
            self.flush_now()

    def close(self) -> None:
        """Write what is left and close the file."""
        self.flush_now()
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def trim_partial_line(path: Path) -> int:
    """Cut a capture's unfinished last line (a write cut short by a crash).

    A file without one whole line is left as it is (it is no capture to append to).

    Returns:
        How many bytes were cut (0: the file ends with a whole line).

    Raises:
        OSError: the file cannot be read or truncated.
    """
    with path.open("r+b") as file:
        size = file.seek(0, os.SEEK_END)
        end = size
        while end > 0:
            step = min(end, 65536)
            file.seek(end - step)
            chunk = file.read(step)
            if end == size and chunk.endswith(b"\n"):
                return 0
            newline = chunk.rfind(b"\n")
            if newline >= 0:
                end = end - step + newline + 1
                break
            end -= step
        if end == 0:
            return 0
        file.truncate(end)
        return size - end
