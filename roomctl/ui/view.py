"""What each part of the console says, decided away from the widgets.

Pure module (no Textual). ``RoomView`` is one room at one moment as the console sees
it: its model, whether it is live, and the clocks. The functions here turn it into the
words and flags the widgets show, so the clinical display rules are testable without a
terminal:

- a continuous value that is not live is never shown as a number: the tile shows
  ``--`` and says what the last value was and how old it is;
- an NIBP reading always shows its age; it is greyed when old (the engine's
  ``freshness``) or when the room is not live, and dashed once invalid;
- a tile takes the colour of the highest alarm that concerns it, and flashes only
  while that alarm is unacknowledged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from roomctl.ui.format import age, clock_time, countdown, number, offset
from roomctl.ui.model import Liveness
from roomctl.ui.state import PULSE, SPO2, Tile, tile_alarm

if TYPE_CHECKING:
    from collections.abc import Mapping
    from datetime import datetime, tzinfo

    from roomctl.events import AlarmPriority
    from roomctl.ui.model import RoomModel
    from roomctl.ui.state import Alarm, Limits, RoomState

#: Reading statuses in words.
STATUS_WORDS = {
    "ok": "ok",
    "sensor_off": "sensor off",
    "searching": "searching",
    "low_perfusion": "low perfusion",
    "artifact": "artifact",
    "questionable": "questionable",
    "device_error": "device error",
    "unavailable": "no value",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class RoomView:
    """One room, now, as the console sees it."""

    model: RoomModel
    #: Console monotonic time.
    now: float
    #: Whether the console is connected to the broker.
    connected: bool
    #: Why not, or the broker's address.
    connection_detail: str = ""
    #: Time zone for clock times (``None``: the machine's).
    tz: tzinfo | None = None

    @property
    def room(self) -> str:
        """The room's name."""
        return self.model.room

    @property
    def state(self) -> RoomState | None:
        """The last state, live or not."""
        return self.model.state

    @property
    def liveness(self) -> Liveness:
        """Whether the data may be shown as live."""
        return self.model.liveness(self.now, connected=self.connected)

    @property
    def live(self) -> bool:
        """Shorthand for ``liveness is LIVE``."""
        return self.liveness is Liveness.LIVE

    @property
    def state_age(self) -> float:
        """Seconds since the last state arrived (0 before any)."""
        return self.model.state_age(self.now) or 0.0

    def clock(self, at: datetime | None) -> str:
        """A payload time as ``HH:MM:SS`` in the console's zone."""
        return clock_time(at, self.tz)


def trend_end(view: RoomView) -> float:
    """The right edge of the trends: the last sample, moved on by the silence since.

    While no state arrives the plots keep scrolling, so the silence shows as blank
    columns at the right instead of the last values standing at "now".
    """
    return (view.model.history.last_t or 0.0) + view.state_age


# ------------------------------------------------------------------ liveness


def liveness_text(view: RoomView) -> str:
    """Why the data is not live, for the banner above the tiles ('' when live)."""
    state = view.state
    last = f" (last state {view.clock(state.at)})" if state is not None else ""
    match view.liveness:
        case Liveness.LIVE:
            return ""
        case Liveness.NO_BROKER:
            detail = f": {view.connection_detail}" if view.connection_detail else ""
            return (
                f"NO LIVE DATA - the console is not connected to the broker{detail}. "
                f"Reconnecting{last}."
            )
        case Liveness.OFFLINE:
            return (
                f"ROOM {view.room} OFFLINE - its daemon is not running or lost the "
                f"broker. Values are not live{last}."
            )
        case Liveness.WAITING:
            if state is None:
                return f"Waiting for room {view.room}: no state received yet."
            return f"Waiting for live data from {view.room}{last}."
        case Liveness.STALE:
            return (
                f"NO LIVE DATA - nothing from {view.room} for "
                f"{age(view.state_age)}{last}."
            )


def liveness_word(view: RoomView) -> str:
    """One word for title bars and station tiles."""
    return {
        Liveness.LIVE: "LIVE",
        Liveness.NO_BROKER: "NO BROKER",
        Liveness.OFFLINE: "OFFLINE",
        Liveness.WAITING: "WAITING",
        Liveness.STALE: f"NO DATA {age(view.state_age)}",
    }[view.liveness]


# ------------------------------------------------------------------ tiles


@dataclass(frozen=True, slots=True, kw_only=True)
class TileContent:
    """What one vitals tile shows."""

    title: str
    #: The alarm limits, e.g. ``<90 <85``.
    limits: str
    #: The number, or ``--`` when there is none that may be shown.
    value: str
    #: Beside the value when it is not live: ``NOT LIVE``, ``OLD``, ``INVALID``.
    flag: str
    #: Status, age, or the last value when not live.
    detail: str
    #: Priority of the highest alarm on this tile.
    priority: AlarmPriority | None
    #: That alarm is unacknowledged (the tile flashes).
    unacknowledged: bool
    #: Greyed: the value is old or not live.
    stale: bool
    #: The tile's trend: ``(t, value)`` on the session axis (``None``: not live).
    trend: list[tuple[float, float | None]]
    #: The value in a few characters for station tiles (NIBP with its age).
    short: str = ""


def _limits_text(tile: Tile, limits: Limits) -> str:
    parts: list[str] = []
    if tile is Tile.SPO2:
        parts = [
            f"<{number(v)}" for v in (limits.spo2_low, limits.spo2_severe_low) if v
        ]
    elif tile is Tile.PULSE:
        if limits.pulse_low is not None or limits.pulse_high is not None:
            parts = [f"{number(limits.pulse_low)}-{number(limits.pulse_high)}"]
    else:
        if limits.sbp_high is not None and limits.dbp_high is not None:
            parts.append(f"\u2265{number(limits.sbp_high)}/{number(limits.dbp_high)}")
        if limits.sbp_low is not None:
            parts.append(f"<{number(limits.sbp_low)}")
    text = " ".join(parts)
    if text and limits.default:
        # The room did not send its limits: these are the policy's defaults.
        text += " (default)"
    return text


def _alarm_flags(
    state: RoomState | None, tile: Tile
) -> tuple[Alarm | None, AlarmPriority | None]:
    alarm = None if state is None else tile_alarm(state, tile)
    return alarm, None if alarm is None else alarm.priority


def vital_tile(view: RoomView, tile: Tile) -> TileContent:
    """The SpO2 or pulse-rate tile."""
    metric, title, unit = (
        (SPO2, "SpO2 %", "%") if tile is Tile.SPO2 else (PULSE, "PR bpm", "bpm")
    )
    state = view.state
    vital = None if state is None else state.vitals.get(metric)
    alarm, priority = _alarm_flags(state, tile)
    limits = _limits_text(tile, state.limits) if state is not None else ""
    shown = view.live and vital is not None and vital.live and vital.value is not None
    if vital is None:
        detail = "no data" if state is not None else "waiting"
    elif shown:
        detail = "live" if vital.status == "ok" else STATUS_WORDS.get(vital.status, "")
    elif vital.value is None:
        detail = STATUS_WORDS.get(vital.status, vital.status)
    else:
        seconds = (vital.age_s or 0.0) + view.state_age
        detail = f"last {number(vital.value)} {unit} {age(seconds)} ago"
    flag = "" if shown or vital is None or vital.value is None else "NOT LIVE"
    return TileContent(
        title=title,
        limits=limits,
        flag=flag,
        value=number(vital.value) if shown and vital is not None else "--",
        detail=detail,
        priority=priority,
        unacknowledged=alarm is not None and not alarm.acknowledged,
        stale=not shown,
        trend=list(view.model.history.series.get(metric, ())),
    )


def nibp_tile(view: RoomView) -> TileContent:
    """The NIBP tile: the last reading, always with its age."""
    state = view.state
    alarm, priority = _alarm_flags(state, Tile.NIBP)
    nibp = None if state is None else state.nibp
    schedule = None if state is None else state.schedule
    value, detail, stale, flag = "--/--", "no reading yet", True, ""
    short = value
    if nibp is not None and not nibp.ok:
        detail = f"failed: {nibp.error or STATUS_WORDS.get(nibp.status, nibp.status)}"
    elif nibp is not None:
        seconds = (nibp.age_s or 0.0) + view.state_age
        freshness = schedule.freshness if schedule is not None else "fresh"
        mean = f" ({nibp.map})" if nibp.map is not None else ""
        if freshness == "invalid":
            flag = "INVALID"
            detail = f"last {nibp.sbp}/{nibp.dbp} {age(seconds)} ago"
        else:
            value = f"{nibp.sbp}/{nibp.dbp}{mean}"
            detail = f"{age(seconds)} ago"
            stale = freshness == "grey" or not view.live
            short = f"{nibp.sbp}/{nibp.dbp} {age(seconds)}"
            if stale:
                flag = "OLD" if freshness == "grey" else "NOT LIVE"
                short = f"old {nibp.sbp}/{nibp.dbp}"
    if schedule is not None:
        if schedule.stat_requested:
            detail += " - STAT requested"
        elif schedule.overdue:
            detail += " - overdue"
        elif schedule.next_due_at is not None:
            detail += f" - next {view.clock(schedule.next_due_at)[:5]}"
    return TileContent(
        title="NIBP mmHg",
        limits=_limits_text(Tile.NIBP, state.limits) if state is not None else "",
        value=value,
        flag=flag,
        detail=detail,
        priority=priority,
        unacknowledged=alarm is not None and not alarm.acknowledged,
        stale=stale,
        trend=[(t, float(sbp)) for t, sbp, _ in view.model.history.nibp],
        short=short,
    )


# ------------------------------------------------------------------ alarms


def alarm_line(alarm: Alarm) -> str:
    """One alarm in one line: marker, text (value and limit), state."""
    flags = []
    if not alarm.acknowledged:
        flags.append("NOT ACK")
    elif alarm.acknowledged_by:
        flags.append(f"ack {alarm.acknowledged_by}")
    else:
        flags.append("ack")
    if alarm.latched:
        flags.append("LATCHED" if alarm.condition_present else "LATCHED - reset")
    elif not alarm.condition_present:
        flags.append("ended")
    return f"{alarm.mark} {alarm.text} [{', '.join(flags)}]"


def alarm_detail(view: RoomView, alarm: Alarm) -> str:
    """The second look at one alarm: code, value, limit, times, how it resolves."""
    parts = [
        alarm.code,
        f"{alarm.priority.value} {alarm.kind}".strip(),
        f"value {alarm.value}",
        f"limit {alarm.limit}",
        f"raised {view.clock(alarm.raised_at)}",
    ]
    if alarm.sounding:
        parts.append("sounding")
    text = " | ".join(parts)
    if alarm.resolution:
        text += f"\nResolves: {alarm.resolution}"
    return text


@dataclass(frozen=True, slots=True, kw_only=True)
class BannerContent:
    """The alarm banner: the top alarm and the audio."""

    headline: str
    status: str
    priority: AlarmPriority | None
    unacknowledged: bool


def audio_text(view: RoomView) -> str:
    """The audio state with the pause countdown."""
    state = view.state
    audio = None if state is None else state.audio
    if audio is None:
        return "audio: unknown"
    remaining = audio.pause_remaining_s - (view.state_age if view.live else 0.0)
    if audio.pause_remaining_s > 0:
        by = f" by {audio.paused_by}" if audio.paused_by else ""
        frozen = "" if view.live else " (not live)"
        return f"AUDIO PAUSED {countdown(remaining)}{by}{frozen}"
    if audio.sounding:
        return f"audio SOUNDING: {', '.join(audio.sounding_codes)}"
    return "audio on"


def banner(view: RoomView) -> BannerContent:
    """The banner's two lines."""
    state = view.state
    alarms = () if state is None else state.alarms
    audio = audio_text(view)
    if not alarms:
        return BannerContent(
            headline="No active alarms",
            status=audio,
            priority=None,
            unacknowledged=False,
        )
    top = alarms[0]
    unacked = sum(1 for a in alarms if not a.acknowledged)
    more = f"+{len(alarms) - 1} more" if len(alarms) > 1 else "1 alarm"
    status = f"{more}, {unacked} not acknowledged | {audio}"
    return BannerContent(
        headline=alarm_line(top),
        status=status,
        priority=top.priority,
        unacknowledged=not top.acknowledged,
    )


# ------------------------------------------------------------------ session


def phase_line(view: RoomView) -> str:
    """Phase and dose time, for the title bar."""
    state = view.state
    if state is None or state.phase is None:
        return "phase ?"
    text = state.phase.value.upper()
    dose = state.dose_offset_s
    if dose is not None:
        text += f" dose {offset(dose + (view.state_age if view.live else 0.0))}"
    return text


def describe_command(verb: str, payload: Mapping[str, object]) -> str:
    """A command in words, for the reply bar and the log.

    >>> describe_command("acknowledge", {"code": "spo2.desat", "id": "c1"})
    'acknowledge spo2.desat'
    >>> describe_command("phase", {"phase": "closed", "reason": "patient left"})
    'phase closed (reason: patient left)'
    """
    fields = {k: v for k, v in payload.items() if k not in {"id", "by"}}
    match verb:
        case "acknowledge":
            return f"acknowledge {fields.get('code', 'all')}"
        case "note":
            return "note"
        case "baseline_confirm":
            values = ", ".join(
                f"{k} {fields[k]}" for k in ("sbp", "dbp", "hr", "spo2") if k in fields
            )
            return f"baseline override {values}" if values else "baseline confirm"
        case _:
            reason = fields.pop("reason", None)
            words = " ".join(str(v) for v in fields.values())
            text = f"{verb} {words}".strip()
            return f"{text} (reason: {reason})" if reason else text
