"""Configuration: pydantic models loaded from one TOML file, validated once at start-up.

Every problem in a bad file is reported at once, each with its line and key path, before
any port is opened; unknown keys are rejected. ``roomctl config check FILE`` prints the
effective settings or the problems.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from roomctl.alarms.policy import AlarmPolicy
from roomctl.errors import ConfigError
from roomctl.events import Route
from roomctl.mqtt.settings import MqttSettings
from roomctl.playlists.settings import MusicSettings
from roomctl.readings import ProtocolId
from roomctl.scenes import LightingSettings

#: Room and device names end up in MQTT topics and file names.
NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"

#: Serial defaults per protocol (protocols.md: all three run at 9600 8N1).
DEFAULT_BAUD: dict[ProtocolId, int] = {
    ProtocolId.MASIMO_ASCII1: 9600,
    ProtocolId.NONIN_DF2: 9600,
    ProtocolId.SUNTECH_ADVANTAGE: 9600,
}


class StrictModel(BaseModel):
    """Base of every settings model: unknown keys are errors, values are frozen."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, use_attribute_docstrings=True
    )


class RoomSettings(StrictModel):
    """The room this daemon runs."""

    name: Annotated[str, Field(pattern=NAME_PATTERN)] = "room-1"
    """Room name: lowercase letters, digits, ``-`` and ``_`` (used in MQTT topics)."""


class DeviceSettings(StrictModel):
    """One serial device."""

    protocol: ProtocolId
    """Wire protocol: ``masimo-ascii1``, ``nonin-df2`` or ``suntech-advantage``."""
    port: Annotated[str, Field(min_length=1)]
    """Serial port path (prefer ``/dev/serial/by-id/...``) or ``socket://host:port``."""
    baud: Annotated[int, Field(gt=0, le=921_600)] | None = None
    """Baud rate; the protocol's default (9600) when unset."""
    stale_after_s: Annotated[float, Field(gt=0, le=600)] | None = None
    """Seconds without a valid frame before the link is stale (protocol default)."""
    enabled: bool = True
    """Whether the daemon opens this device."""

    @property
    def effective_baud(self) -> int:
        """The baud rate in force."""
        return self.baud if self.baud is not None else DEFAULT_BAUD[self.protocol]


class RecordSettings(StrictModel):
    """The session record (SQLite) and the capture files."""

    path: Path = Path("/var/lib/roomctl/record.sqlite")
    """The SQLite file; created (readable by its owner only) when missing."""
    flush_interval_s: Annotated[float, Field(gt=0, le=0.9)] = 0.25
    """How often queued rows are written; keeps every reading durable within 1 s."""
    captures_dir: Path | None = None
    """Where per-session capture files go; beside the record when unset."""
    capture: bool = True
    """Write a capture file (every byte, link event and operator input) per session."""
    retention_days: Annotated[float, Field(ge=1, le=36_500)] | None = None
    """Days (1 or more) a finished session stays in the record and its capture in
    the captures folder; older ones are archived (``archive_dir``) or, without an
    archive folder, deleted when the daemon starts and by ``roomctl sessions prune``.
    Unset: kept forever. A running session is never touched."""
    archive_dir: Path | None = None
    """Where retention archives old sessions: one owner-only SQLite file per session
    and its capture beside it. Unset: retention deletes them."""

    @property
    def effective_captures_dir(self) -> Path:
        """The capture folder in force."""
        if self.captures_dir is not None:
            return self.captures_dir
        return self.path.parent / "captures"


class SessionSettings(StrictModel):
    """Defaults for a new session."""

    route: Route = Route.IV
    """How the medicine is given: ``iv``, ``im``, ``nasal`` or ``oral``."""
    infusion_min: Annotated[float, Field(gt=0, le=240)] = 40.0
    """Infusion length in minutes (IV; other routes count +40 min from dose)."""
    patient_ref: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,32}$")] | None = None
    """A pseudonymous patient code (never a name or record number). It stays in the
    local record, never in MQTT or logs, and lets music avoid tracks this patient
    heard in earlier sessions."""
    resume_within_h: Annotated[float, Field(ge=0, le=48)] = 12.0
    """On start, continue the room's last session where it was (after a crash or a
    restart) when it began less than this many hours ago and was not closed; a
    session stopped cleanly before the dose is not continued. 0: always start a new
    session."""


class NibpSettings(StrictModel):
    """How roomctl starts NIBP determinations on monitors it can command (SunTech)."""

    auto_start: bool = True
    """Start determinations on the cycle (the cycle is the alarm policy's
    ``nibp_schedule``); when off, the nurse is asked instead."""


class LogSettings(StrictModel):
    """Logging."""

    level: Literal["debug", "info", "warning", "error"] = "info"
    """Lowest level written to the log (JSON lines on stderr)."""


class Settings(StrictModel):
    """Everything the daemon needs; one TOML file."""

    room: RoomSettings = RoomSettings()
    devices: dict[Annotated[str, Field(pattern=NAME_PATTERN)], DeviceSettings] = {}
    """Devices by name (the name appears in alarm codes: ``tech.link.<name>``)."""
    record: RecordSettings = RecordSettings()
    session: SessionSettings = SessionSettings()
    nibp: NibpSettings = NibpSettings()
    mqtt: MqttSettings = MqttSettings()
    """The MQTT broker the room publishes to and takes commands from."""
    lighting: LightingSettings = LightingSettings()
    """Room lights over MQTT (off until lights are named)."""
    music: MusicSettings = MusicSettings()
    """Phase playlists through libVLC (the built-in lyric-free library by default)."""
    alarms: AlarmPolicy = AlarmPolicy()
    """The alarm policy in force (alarm-policy.md defaults; all configurable)."""
    log: LogSettings = LogSettings()

    @model_validator(mode="after")
    def _ports_are_unique(self) -> Settings:
        seen: dict[str, str] = {}
        for name, device in self.devices.items():
            if device.enabled and device.port in seen:
                raise ValueError(
                    f"devices {seen[device.port]!r} and {name!r} use the same port "
                    f"{device.port!r}"
                )
            seen[device.port] = name
        return self


# ---------------------------------------------------------------- loading

_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(
    r"""^\s*((?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*'))*)\s*="""
)
_PART = re.compile(r"""[A-Za-z0-9_-]+|"([^"]*)"|'([^']*)'""")
_TOML_LINE = re.compile(r"at line (\d+)")


def _split_key(text: str) -> tuple[str, ...]:
    parts = []
    for match in _PART.finditer(text):
        quoted = match.group(1) if match.group(1) is not None else match.group(2)
        parts.append(quoted if quoted is not None else match.group(0))
    return tuple(parts)


def locate_keys(text: str) -> dict[tuple[str | int, ...], int]:
    r"""Map every table and key path in a TOML document to its 1-based line.

    Array-of-tables entries get their index in the path, as pydantic reports them.

    >>> locate_keys('[room]\nname = "a"\n[devices.ox]\nport = "x"\n')[
    ...     ("devices", "ox", "port")
    ... ]
    4
    """
    lines: dict[tuple[str | int, ...], int] = {}
    table: tuple[str | int, ...] = ()
    array_counts: dict[tuple[str | int, ...], int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        header = _HEADER.match(line)
        if header:
            path: tuple[str | int, ...] = _split_key(header.group(2))
            if header.group(1) == "[[":
                index = array_counts.get(path, -1) + 1
                array_counts[path] = index
                path = (*path, index)
            table = path
            lines.setdefault(table, number)
            continue
        key = _KEY.match(line)
        if key:
            lines.setdefault((*table, *_split_key(key.group(1))), number)
    return lines


def _line_for(
    loc: tuple[str | int, ...], lines: dict[tuple[str | int, ...], int]
) -> int:
    for end in range(len(loc), 0, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return 1


def _key_path(loc: tuple[str | int, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out or "(top level)"


def parse_settings(text: str, *, source: str = "<config>") -> Settings:
    """Validate TOML text into ``Settings``.

    Raises:
        ConfigError: one line per problem: ``source:line: key.path: what is wrong``.
    """
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        found = _TOML_LINE.search(str(exc))
        line = found.group(1) if found else "1"
        raise ConfigError([f"{source}:{line}: not valid TOML: {exc}"]) from exc
    try:
        return Settings.model_validate(raw)
    except ValidationError as exc:
        lines = locate_keys(text)
        problems = []
        for error in exc.errors():
            loc = tuple(error["loc"])
            message = error["msg"]
            if error["type"] == "extra_forbidden":
                message = "unknown key (not a setting roomctl knows)"
            elif message.startswith("Value error, "):
                message = message.removeprefix("Value error, ")
            line = _line_for(loc, lines)
            problems.append((line, f"{source}:{line}: {_key_path(loc)}: {message}"))
        problems.sort(key=lambda item: item[0])
        raise ConfigError([text for _, text in problems]) from exc


def load_settings(path: Path) -> Settings:
    """Read and validate a TOML settings file.

    Raises:
        ConfigError: the file cannot be read or is invalid (every problem listed).
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"{path}: cannot read the configuration: {exc}"]) from exc
    return parse_settings(text, source=str(path))
