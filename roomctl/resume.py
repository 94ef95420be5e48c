"""Crash resume: a restarted daemon continues the room's unfinished session.

When the daemon starts, it looks in the record for the room's newest session. It
continues that session (same session id, same capture file, same time axis) when:

- ``session.resume_within_h`` is not 0 and the session began less than that many
  hours ago (12 by default: longer than any KAP session, shorter than a night);
- the session was not closed (the ``closed`` phase);
- it was not stopped cleanly before the dose. A crash (SIGKILL, power, a failed
  watchdog) leaves ``ended_at`` empty and is always continued; a clean stop
  (SIGTERM: ``systemctl restart`` for an update or a configuration change) is
  continued once the dose was given, because then a patient is in the room. A
  session stopped cleanly in preparation is left as it was and a new one begins;
- its capture file is there and its devices are the configured ones (name and
  protocol): the capture is the only complete account of what the engine saw.

How. The alarm engine is pure and deterministic, and the capture holds every byte
from each device, every link change and every operator input. So the capture is
replayed through the same decoders, drivers, pipeline and engine as ``roomctl
replay`` (``roomctl.replay.Replayer``), in virtual time, and the daemon adopts the
engine it built: phase, dose start, baseline, active, latched and acknowledged
alarms, audio pause, open episodes, the NIBP schedule and a pending STAT reading.
Nothing of the replay is published or recorded again: the record has it already.
The director takes up the phase, the alarms present, the therapist's light override
and the music commands in force; the retained MQTT state reflects the rebuilt engine
from the first snapshot.

Time. The engine works in seconds on a monotonic axis; the replay's axis is ``t``,
seconds since the capture's ``started_at``. The restarted process's monotonic clock
is unrelated to the old one, so the daemon runs on a ``SessionClock``: the system's
monotonic clock shifted so that it reads the session's ``t`` (the wall-clock time
since ``started_at`` when the daemon resumes, never less than the last time the
capture or the record reached). Every component, the capture writer (appending ``t``
values that go on from the old ones) and the engine share that one axis.

The gap. The crash point is the later of the capture's last record and the record's
last row. At it, each device gets a ``link lost`` (in the capture, marked
``restart``, so a replay gives that device a fresh decoder and driver as the new
process did, and on the bus with the gap in words as its reason: the console's log
and the report's link gaps show it), and a ``TechnicalNotice`` says "the room daemon
was not running from ... to ...". Then the engine moves to the present: the gap
raises ``tech.link.<device>`` and ``tech.spo2.data_lost`` as any gap that long would,
and they clear when data returns.

What the record missed. The recorder writes every 0.25 s and the capture every 0.5 s
(an operator input at once), so a SIGKILL can leave either a little ahead. What the
capture has and the record lacks is written when the session resumes, never twice:
operator commands by their ``id``; readings by count per device (the record holds a
prefix of what the replay produces, so only the newest are missing); alarm, episode
and phase events by matching each against the record's own near its end (same code
and transition within ``MATCH_TOLERANCE_S``).
"""

from __future__ import annotations

import logging
import math
import sqlite3
from collections import deque
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING

from roomctl.capture import read_capture, trim_partial_line
from roomctl.errors import CaptureError, RecordError
from roomctl.events import (
    AlarmChanged,
    Command,
    CommandVerb,
    EpisodeChanged,
    NoteAdded,
    Phase,
    PhaseChanged,
    ReadingReceived,
    Role,
)
from roomctl.readings import LinkState, NibpReading
from roomctl.recorder import (
    StoredSession,
    command_ids,
    connect,
    events_since,
    newest_session,
    reading_counts,
    session_tracks,
)
from roomctl.replay import Replayer

if TYPE_CHECKING:
    from collections.abc import Mapping
    from datetime import datetime
    from pathlib import Path

    from roomctl.alarms import AlarmEngine
    from roomctl.capture import CaptureHeader
    from roomctl.clock import Clock
    from roomctl.events import Event
    from roomctl.settings import Settings

_LOGGER = logging.getLogger(__name__)

#: The record's alarm, episode and phase events this close to its end are compared
#: with the replay's, to find what the crash kept from being written.
LOOKBACK_S = 5.0
#: A replayed event and a recorded one are the same when their code and transition
#: agree and their times are this close (live ticks every 0.5 s, replay at least every
#: virtual second: their times differ a little).
MATCH_TOLERANCE_S = 2.0
#: A replayed event the record lacks is written only if it is this close to the
#: record's end or later (earlier ones were written, or the replay differs there).
MISSED_WITHIN_S = 0.5
#: Newest readings kept per device while replaying, for what the record missed.
TAIL_READINGS = 20_000

_ENGINE_EVENTS = (AlarmChanged, EpisodeChanged, PhaseChanged)
_ENGINE_TYPES = ("alarm", "episode", "phase")
_TRANSPORT = ("play", "pause", "stop")


class SessionClock:
    """A clock whose monotonic seconds are the resumed session's ``t``.

    The base clock shifted once, at construction, so that it reads ``at_t`` then;
    it moves with the base clock from there. ``now_utc`` is the base clock's.
    """

    def __init__(self, base: Clock, *, at_t: float) -> None:
        self._base = base
        self._offset = at_t - base.monotonic()

    def monotonic(self) -> float:
        """The session's ``t`` now."""
        return self._base.monotonic() + self._offset

    def now_utc(self) -> datetime:
        """The base clock's UTC time."""
        return self._base.now_utc()


def refusal(stored: StoredSession, *, now: datetime, within_h: float) -> str | None:
    """Why the room's newest session is not continued; ``None``: continue it."""
    if within_h <= 0:
        return "resuming sessions is off (session.resume_within_h = 0)"
    if stored.phase == Phase.CLOSED.value:
        return "it was closed"
    age_h = (now - stored.started_at).total_seconds() / 3600
    if age_h > within_h:
        return (
            f"it began {age_h:.1f} h ago, more than session.resume_within_h "
            f"({within_h:g} h)"
        )
    if stored.ended_at is not None and not stored.dosed:
        return "it was stopped before the dose"
    return None


def _clock_text(at: datetime) -> str:
    return f"{at:%H:%M:%S} UTC"


@dataclass(slots=True)
class Resumption:
    """Everything the daemon needs to continue a session (``plan_resume``)."""

    session: StoredSession
    header: CaptureHeader
    capture_path: Path
    #: The engine rebuilt from the capture, at ``t_last``.
    engine: AlarmEngine
    #: Each device's link state at the end of the capture.
    links: dict[str, LinkState]
    #: The capture's last time; the crash point; the time the session resumes.
    t_last: float
    t_crash: float
    t_resume: float
    #: The daemon's clock (its monotonic seconds are the session's ``t``).
    clock: SessionClock
    #: What the capture has and the record lacks, in time order.
    missed: list[Event] = field(default_factory=list)
    #: The therapist's ``lights`` commands since the phase began.
    lights: list[dict[str, object]] = field(default_factory=list)
    #: The ``music`` commands still in force (volume, pause or stop).
    music: list[dict[str, object]] = field(default_factory=list)
    #: Tracks the music played in this session so far.
    heard: set[str] = field(default_factory=set)
    #: Bytes cut from an unfinished last capture line.
    trimmed_bytes: int = 0

    def at(self, t: float) -> datetime:
        """The UTC time of session time ``t`` (the engine's stamp)."""
        return self.header.started_at + timedelta(seconds=t)

    @property
    def gap_s(self) -> float:
        """How long the daemon was not running (seconds)."""
        return self.t_resume - self.t_crash

    def gap_text(self) -> str:
        """The gap in words, for the notice, the link events and the log."""
        return (
            f"the room daemon was not running from {_clock_text(self.at(self.t_crash))}"
            f" to {_clock_text(self.at(self.t_resume))} ({self.gap_s:.0f} s); "
            "readings in that time are missing"
        )

    def state(self) -> dict[str, object]:
        """The ``resumed`` section of the room state."""
        return {
            "gap_from": self.at(self.t_crash),
            "gap_to": self.at(self.t_resume),
            "gap_s": round(self.gap_s, 1),
            "text": self.gap_text(),
        }


def _event_key(event: Event) -> tuple[object, ...]:
    if isinstance(event, AlarmChanged):
        return ("alarm", event.code, event.transition.value)
    if isinstance(event, EpisodeChanged):
        return ("episode", event.episode_id, event.transition.value)
    if isinstance(event, PhaseChanged):
        return ("phase", event.phase.value)
    return ()


def _payload_key(kind: str, payload: Mapping[str, object]) -> tuple[object, ...]:
    if kind == "alarm":
        return ("alarm", payload.get("code"), payload.get("transition"))
    if kind == "episode":
        return ("episode", payload.get("episode_id"), payload.get("transition"))
    return ("phase", payload.get("phase"))


def missed_engine_events(
    replayed: list[Event],
    recorded: list[tuple[float, str, dict[str, object]]],
    end_ts: float | None,
) -> list[Event]:
    """The replay's alarm, episode and phase events that the record lacks.

    Each recorded event pairs with at most one replayed event of the same key within
    ``MATCH_TOLERANCE_S``; an unpaired replayed event counts as missed only from
    ``MISSED_WITHIN_S`` before the record's end (``end_ts``; ``None``: an empty
    record, everything is missed).
    """
    unpaired = [(ts, _payload_key(kind, payload)) for ts, kind, payload in recorded]
    since = -math.inf if end_ts is None else end_ts - MISSED_WITHIN_S
    missed = []
    for event in replayed:
        ts, key = event.occurred_at.timestamp(), _event_key(event)
        match = next(
            (
                i
                for i, (r_ts, r_key) in enumerate(unpaired)
                if r_key == key and abs(r_ts - ts) <= MATCH_TOLERANCE_S
            ),
            None,
        )
        if match is not None:
            del unpaired[match]
        elif ts >= since:
            missed.append(event)
    return missed


class _Collector:
    """Watches the replay's events for what the resumed daemon needs."""

    def __init__(self, *, keep_engine_from_ts: float) -> None:
        self._engine_from = keep_engine_from_ts
        #: Reading rows per device, and the newest readings with their row counts.
        self.rows: dict[str, int] = {}
        self.tail: dict[str, deque[tuple[int, ReadingReceived]]] = {}
        self.engine: list[Event] = []
        self.commands: list[Command] = []
        self.lights: list[dict[str, object]] = []
        self.volume: dict[str, object] | None = None
        self.transport: dict[str, object] | None = None

    def take(self, event: Event) -> None:
        """One event of the replay, in order."""
        if isinstance(event, ReadingReceived):
            self._reading(event)
        elif isinstance(event, _ENGINE_EVENTS):
            if isinstance(event, PhaseChanged):
                # A light override and a volume belong to the phase they were set in.
                self.lights, self.volume = [], None
            if event.occurred_at.timestamp() >= self._engine_from:
                self.engine.append(event)
        elif isinstance(event, Command):
            self._command(event)

    def _reading(self, event: ReadingReceived) -> None:
        reading = event.reading
        device = reading.device
        rows = len(reading.as_readings()) if isinstance(reading, NibpReading) else 1
        self.rows[device] = self.rows.get(device, 0) + rows
        tail = self.tail.get(device)
        if tail is None:
            tail = self.tail[device] = deque(maxlen=TAIL_READINGS)
        tail.append((rows, event))

    def _command(self, command: Command) -> None:
        self.commands.append(command)
        if command.verb is CommandVerb.LIGHTS:
            self.lights.append(dict(command.args))
        elif command.verb is CommandVerb.MUSIC:
            action = command.args.get("action")
            if action == "volume":
                self.volume = dict(command.args)
            elif action in _TRANSPORT:
                self.transport = dict(command.args)

    def music(self) -> list[dict[str, object]]:
        """The music commands in force: a pause or stop, and the phase's volume."""
        out = []
        if self.transport is not None and self.transport["action"] != "play":
            out.append(self.transport)
        if self.volume is not None:
            out.append(self.volume)
        return out

    def missed_readings(self, recorded: Mapping[str, int]) -> list[Event]:
        """The newest readings of each device beyond the rows the record has."""
        out: list[Event] = []
        for device, total in self.rows.items():
            missing = total - recorded.get(device, 0)
            taken: list[Event] = []
            for rows, event in reversed(self.tail[device]):
                if missing < rows:
                    break
                missing -= rows
                taken.append(event)
            out.extend(reversed(taken))
        return out

    def missed_commands(self, recorded: set[str]) -> list[Event]:
        """Operator commands (with an ``id``) the record lacks, and their notes."""
        out: list[Event] = []
        for command in self.commands:
            if command.command_id.startswith("line-") or command.command_id in recorded:
                continue  # no id to know it by (an older capture), or written
            out.append(command)
            if command.verb is CommandVerb.NOTE:
                out.append(
                    NoteAdded(
                        occurred_mono=command.occurred_mono,
                        occurred_at=command.occurred_at,
                        text=str(command.args["text"]),
                        by=command.by or Role.NURSE,
                    )
                )
        return out


def plan_resume(settings: Settings, clock: Clock) -> Resumption | None:
    """Rebuild the room's unfinished session, or ``None`` to start a new one.

    Never raises for what it finds on disk: a record or capture it cannot use is
    logged, and a new session begins.
    """
    path = settings.record.path
    if settings.session.resume_within_h <= 0 or not path.exists():
        return None
    try:
        conn = connect(path)
    except (sqlite3.Error, OSError, RecordError) as exc:
        _LOGGER.error("cannot look for a session to continue in %s: %s", path, exc)
        return None
    try:
        return _plan(conn, settings, clock)
    except (sqlite3.Error, OSError, CaptureError, ValueError) as exc:
        # ValueError: text that is not UTF-8, a payload or a time that does not
        # parse. The daemon starts whatever it finds; the fault goes to the log.
        _LOGGER.error(
            "cannot continue the last session (%s); starting a new session", exc
        )
        return None
    finally:
        conn.close()


def _refuse(stored: StoredSession, why: str) -> None:
    _LOGGER.warning(
        "starting a new session: session %s is not continued: %s",
        stored.session_id,
        why,
    )


def _plan(
    conn: sqlite3.Connection, settings: Settings, clock: Clock
) -> Resumption | None:
    stored = newest_session(conn, settings.room.name)
    if stored is None:
        return None
    now = clock.now_utc()
    why = refusal(stored, now=now, within_h=settings.session.resume_within_h)
    if why is not None:
        _LOGGER.info(
            "starting a new session: session %s is not continued: %s",
            stored.session_id,
            why,
        )
        return None
    if not settings.record.capture:
        _refuse(stored, "captures are off (record.capture), so it cannot be rebuilt")
        return None
    capture_path = settings.record.effective_captures_dir / f"{stored.session_id}.jsonl"
    if not capture_path.exists():
        _refuse(stored, f"its capture {capture_path} is missing")
        return None
    trimmed = trim_partial_line(capture_path)
    devices = {n: d.protocol for n, d in settings.devices.items() if d.enabled}
    recorded_ids = command_ids(conn, stored.session_id)
    end_ts = stored.last_ts
    collector = _Collector(
        keep_engine_from_ts=-math.inf if end_ts is None else end_ts - LOOKBACK_S
    )
    with capture_path.open(encoding="utf-8") as stream:
        header, records = read_capture(stream, str(capture_path))
        if header.devices != devices:
            _refuse(stored, "the configured devices are not the ones it began with")
            return None
        replayer = Replayer(
            header, emit=None, policy=settings.alarms, on_event=collector.take
        )
        replayer.apply_all(records)
    t_last = replayer.clock.monotonic()
    started = header.started_at
    t_crash = t_last
    if end_ts is not None:
        t_crash = max(t_crash, end_ts - started.timestamp())
    t_now = (now - started).total_seconds()
    if t_now < t_crash:
        _LOGGER.warning(
            "the clock reads %s, before the session's last record: "
            "it was set back; the session's time goes on from its last record",
            now.isoformat(),
        )
    t_resume = max(t_now, t_crash)
    recorded = (
        []
        if end_ts is None
        else events_since(conn, stored.session_id, _ENGINE_TYPES, end_ts - LOOKBACK_S)
    )
    missed = [
        *collector.missed_readings(reading_counts(conn, stored.session_id)),
        *missed_engine_events(collector.engine, recorded, end_ts),
        *collector.missed_commands(recorded_ids),
    ]
    missed.sort(key=lambda event: event.occurred_mono)
    return Resumption(
        session=stored,
        header=header,
        capture_path=capture_path,
        engine=replayer.engine,
        links={name: device.state for name, device in replayer.devices.items()},
        t_last=t_last,
        t_crash=t_crash,
        t_resume=t_resume,
        clock=SessionClock(clock, at_t=t_resume),
        missed=missed,
        lights=collector.lights,
        music=collector.music(),
        heard=session_tracks(conn, stored.session_id),
        trimmed_bytes=trimmed,
    )
