"""The console's picture of a room: liveness, trends, the log and the latest state.

Pure module (no Textual, no MQTT). ``RoomModel`` keeps, per room, the latest parsed
state (``roomctl.ui.state``), the room's status, a 60-minute trend history with alarm
marks and phase bands, and the event log; ``liveness`` decides whether what it holds
may be shown as live.

A value is shown as live only when every link of the chain is: the console is
connected to the broker, the room says ``online``, a state arrived within
``STATE_STALE_S`` (and was not only the broker's retained copy), and the daemon itself
marked the value live (fresh and its device link up).
"""

from __future__ import annotations

import enum
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from roomctl.events import AlarmPriority, Phase
from roomctl.mqtt.outbox import SeqFilter
from roomctl.ui.format import parse_time
from roomctl.ui.state import (
    PRIORITY_MARK,
    PULSE,
    SPO2,
    parse_state,
    read_bool,
    read_int,
    read_num,
    read_opt_str,
    read_priority,
    read_str,
)

if TYPE_CHECKING:
    from collections.abc import Mapping
    from datetime import datetime

    from roomctl.ui.state import Alarm, RoomState

#: A room that sent no state for this long is not live (it publishes about 1 Hz).
STATE_STALE_S = 5.0
#: The trend window.
TREND_WINDOW_S = 3600.0
#: Log lines kept per room.
LOG_MAX = 500


# ------------------------------------------------------------------ liveness


class Liveness(enum.StrEnum):
    """Whether the room's data may be shown as live, and if not, why."""

    LIVE = "live"
    #: The console has no broker connection.
    NO_BROKER = "no_broker"
    #: The room's daemon said ``offline`` (or its will did).
    OFFLINE = "offline"
    #: No state yet, or only the broker's retained copy.
    WAITING = "waiting"
    #: States stopped arriving.
    STALE = "stale"


# ------------------------------------------------------------------ history


@dataclass(slots=True)
class TrendHistory:
    """The last ``window_s`` of trends on the session time axis (``session_time_s``).

    Continuous values are sampled from each state (about 1 Hz); a value that is not
    live is kept as a gap (``None``), never as a number. NIBP keeps one point per
    determination, at its measuring time.
    """

    window_s: float = TREND_WINDOW_S
    series: dict[str, deque[tuple[float, float | None]]] = field(
        default_factory=lambda: {SPO2: deque(), PULSE: deque()}
    )
    #: ``(t, sbp, dbp)`` per determination.
    nibp: deque[tuple[float, int, int]] = field(default_factory=deque)
    #: ``(t, phase)`` whenever the phase is known to have changed.
    phases: list[tuple[float, Phase]] = field(default_factory=list)
    #: ``(t, priority, code)`` when an alarm was raised or escalated.
    marks: deque[tuple[float, AlarmPriority, str]] = field(default_factory=deque)
    last_t: float | None = None
    _nibp_seen: set[str] = field(default_factory=set)
    _marks_seen: set[tuple[str, int]] = field(default_factory=set)

    def add_state(self, state: RoomState) -> None:
        """Take one live state's samples (older or repeated states are ignored)."""
        t = state.session_time_s
        if t is None or (self.last_t is not None and t <= self.last_t):
            return
        first = self.last_t is None
        self.last_t = t
        for metric, points in self.series.items():
            vital = state.vitals.get(metric)
            usable = vital is not None and vital.live and vital.value is not None
            points.append((t, vital.value if usable and vital else None))
        nibp = state.nibp
        if (
            nibp is not None
            and nibp.ok
            and nibp.sbp is not None
            and nibp.dbp is not None
            and nibp.age_s is not None
        ):
            key = f"{nibp.measured_at}:{nibp.sbp}/{nibp.dbp}"
            if key not in self._nibp_seen:
                self._nibp_seen.add(key)
                self.nibp.append((t - nibp.age_s, nibp.sbp, nibp.dbp))
        self._add_phase(state, t, first=first)
        for alarm in state.alarms:
            raised = state.session_t(alarm.raised_mono)
            if raised is not None:
                self.add_mark(raised, alarm.priority, alarm.code)
        self._prune(t)

    def _add_phase(self, state: RoomState, t: float, *, first: bool) -> None:
        phase = state.phase
        if phase is None:
            return
        if first:
            self.phases.append((0.0, Phase.PREPARATION))
            dose_t = state.session_t(state.dose_start_mono)
            if dose_t is not None:
                self.phases.append((dose_t, Phase.DOSING))
            if phase.order > Phase.DOSING.order:
                # When it started is unknown: from now on, as far as we saw it.
                self.phases.append((t, phase))
            return
        if not self.phases or self.phases[-1][1] is not phase:
            self.phases.append((t, phase))

    def add_mark(self, t: float, priority: AlarmPriority, code: str) -> None:
        """An alarm was raised or escalated at ``t`` (duplicates are ignored)."""
        key = (code, round(t))
        if key in self._marks_seen:
            return
        self._marks_seen.add(key)
        self.marks.append((t, priority, code))

    def _prune(self, now_t: float) -> None:
        horizon = now_t - self.window_s
        for points in self.series.values():
            while points and points[0][0] < horizon:
                points.popleft()
        while self.nibp and self.nibp[0][0] < horizon:
            self.nibp.popleft()
        while self.marks and self.marks[0][0] < horizon:
            self.marks.popleft()

    def values(self, metric: str) -> list[float]:
        """The live values of ``metric`` in the window, oldest first."""
        return [v for _, v in self.series.get(metric, ()) if v is not None]


# ------------------------------------------------------------------ log


class LogKind(enum.StrEnum):
    """What a log line is about (it picks the line's colour)."""

    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"
    DONE = "done"
    REFUSED = "refused"
    LINK = "link"


@dataclass(frozen=True, slots=True, kw_only=True)
class LogEntry:
    """One line of a room's event log."""

    at: datetime | None
    text: str
    kind: LogKind = LogKind.INFO


def describe_alarm(line: Mapping[str, object]) -> LogEntry:
    """An ``alarms`` line for the log.

    >>> describe_alarm(
    ...     {
    ...         "transition": "raised",
    ...         "code": "spo2.desat",
    ...         "priority": "high",
    ...         "text": "SpO2 83 % < 85",
    ...     }
    ... ).text
    '*** spo2.desat raised: SpO2 83 % < 85'
    """
    priority = read_priority(line.get("priority"))
    transition = read_str(line.get("transition"), "changed")
    text = read_str(line.get("text"))
    by = read_opt_str(line.get("by"))
    words = f"{PRIORITY_MARK[priority]} {read_str(line.get('code'), '?')} {transition}"
    if text:
        words += f": {text}"
    if by:
        words += f" (by {by})"
    kind = LogKind(priority.value)
    if transition in {"cleared", "reset", "acknowledged"}:
        kind = LogKind.INFO
    return LogEntry(at=parse_time(line.get("at")), text=words, kind=kind)


def describe_event(line: Mapping[str, object]) -> LogEntry:
    """An ``events`` line (phase, episode, link, command result) for the log."""
    at = parse_time(line.get("at"))
    kind = read_str(line.get("type"), "event")
    if kind == "phase":
        by = read_opt_str(line.get("by"))
        text = f"phase: {read_str(line.get('phase'), '?')}" + (
            f" (by {by})" if by else ""
        )
        return LogEntry(at=at, text=text)
    if kind == "episode":
        text = read_str(line.get("text")) or f"{read_str(line.get('signal'))} episode"
        return LogEntry(
            at=at, text=f"episode {read_str(line.get('transition'))}: {text}"
        )
    if kind == "link":
        state = read_str(line.get("state"), "?")
        reason = read_opt_str(line.get("reason"))
        text = f"{read_str(line.get('dev'), '?')} link {state}" + (
            f": {reason}" if reason else ""
        )
        return LogEntry(
            at=at, text=text, kind=LogKind.DONE if state == "up" else LogKind.LINK
        )
    if kind == "command_result":
        verb = read_str(line.get("verb"), "?")
        if read_bool(line.get("ok")):
            return LogEntry(at=at, text=f"{verb}: done (another console)")
        return LogEntry(
            at=at,
            text=f"{verb}: refused (another console): {read_str(line.get('error'))}",
            kind=LogKind.REFUSED,
        )
    text = read_str(line.get("text")) or kind
    return LogEntry(at=at, text=f"{kind}: {text}")


# ------------------------------------------------------------------ the room


class RoomModel:
    """Everything the console knows about one room."""

    def __init__(self, room: str, *, window_s: float = TREND_WINDOW_S) -> None:
        self.room = room
        #: ``True`` online, ``False`` offline, ``None`` not heard yet.
        self.online: bool | None = None
        self.state: RoomState | None = None
        #: Console monotonic time when the last state arrived.
        self.state_mono: float | None = None
        #: The last state was the broker's retained copy (not proven live).
        self.state_retained = False
        self.history = TrendHistory(window_s=window_s)
        self.log: deque[LogEntry] = deque(maxlen=LOG_MAX)
        #: Lines ever logged (the log keeps the last ``LOG_MAX``).
        self.log_total = 0
        #: Ids of commands this console sent (their results are logged as replies).
        self.own_command_ids: set[str] = set()
        self._seq = {"alarms": SeqFilter(), "events": SeqFilter()}

    # ------------------------------------------------------------ feed

    def on_status(self, *, online: bool) -> bool:
        """The room's status; whether it changed."""
        changed = self.online is not online
        self.online = online
        return changed

    def on_state(
        self,
        doc: Mapping[str, object],
        *,
        retained: bool,
        now: float,
        wall_now: datetime | None = None,
    ) -> RoomState:
        """A state document arrived at console time ``now`` (``wall_now`` in UTC).

        The state is dated by when the room made it, not when the console got to it:
        a console that lags behind (a busy station, a queue in the MQTT client) must
        never show old values as live. With ``wall_now``, the state's age starts at
        ``wall_now - state.at`` (never below zero). A console clock ahead of the
        room's makes rooms look stale sooner: the safe side.
        """
        state = parse_state(doc, room=self.room)
        if self.state is not None and state.session_id != self.state.session_id:
            # A new session: its trends start afresh.
            self.history = TrendHistory(window_s=self.history.window_s)
        self.state = state
        lag_s = 0.0
        if wall_now is not None and state.at is not None:
            lag_s = max(0.0, (wall_now - state.at).total_seconds())
        self.state_mono = now - lag_s
        self.state_retained = retained
        if not retained:
            self.history.add_state(state)
        return state

    def _fresh(self, topic: str, line: Mapping[str, object]) -> bool:
        run, seq = line.get("run"), read_int(line.get("seq"))
        if not isinstance(run, str) or seq is None:
            return True
        return self._seq[topic].accept(run, seq)

    def on_alarm(self, line: Mapping[str, object]) -> LogEntry | None:
        """An ``alarms`` line; the log entry it made, ``None`` for a QoS 1 repeat."""
        if not self._fresh("alarms", line):
            return None
        entry = describe_alarm(line)
        self.note(entry)
        t = read_num(line.get("t"))
        if t is not None and line.get("transition") in {"raised", "escalated"}:
            self.history.add_mark(
                t, read_priority(line.get("priority")), read_str(line.get("code"))
            )
        return entry

    def on_event(self, line: Mapping[str, object]) -> LogEntry | None:
        """An ``events`` line; its log entry (``None``: a repeat, or our own result)."""
        if not self._fresh("events", line):
            return None
        if (
            line.get("type") == "command_result"
            and line.get("command_id") in self.own_command_ids
        ):
            return None  # this console shows its own replies itself
        entry = describe_event(line)
        self.note(entry)
        return entry

    def note(self, entry: LogEntry) -> None:
        """Add a line to the log (the console's own lines too: commands, links)."""
        self.log.append(entry)
        self.log_total += 1

    # ------------------------------------------------------------ verdicts

    def state_age(self, now: float) -> float | None:
        """Seconds since the last state arrived (console clock)."""
        return None if self.state_mono is None else max(0.0, now - self.state_mono)

    def liveness(self, now: float, *, connected: bool) -> Liveness:
        """Whether the data may be shown as live now."""
        if not connected:
            return Liveness.NO_BROKER
        if self.online is False:
            return Liveness.OFFLINE
        if self.state is None or self.state_retained:
            return Liveness.WAITING
        age_ = self.state_age(now)
        if age_ is None or age_ > STATE_STALE_S:
            return Liveness.STALE
        return Liveness.LIVE

    def top_alarm(self) -> Alarm | None:
        """The alarm the banner shows: the highest, unacknowledged first."""
        if self.state is None or not self.state.alarms:
            return None
        return self.state.alarms[0]

    def rank(self) -> int:
        """How urgent the room is, for the station's order (higher first).

        3/2/1 for its highest alarm; an offline room whose session is not closed
        counts as 2 (nobody relays its alarms); a quiet room 0.
        """
        top = self.top_alarm()
        rank = 0 if top is None else top.priority.rank
        if self.online is False and (
            self.state is None or self.state.phase is not Phase.CLOSED
        ):
            rank = max(rank, AlarmPriority.MEDIUM.rank)
        return rank
