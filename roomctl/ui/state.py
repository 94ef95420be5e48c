"""A room's ``state`` document as frozen values, read without ever failing.

Pure module (no Textual, no MQTT). ``parse_state`` turns the retained ``state``
document (``roomctl.roomstate`` plus its ``engine``, ``lights`` and ``music``
sections) into values: a field that is missing or of the wrong type is simply unknown,
never an exception, so an odd document can never take the console down. Also which
vitals tile each alarm code belongs to.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING

from roomctl.events import AlarmPriority, Phase
from roomctl.ui.format import number, parse_time

if TYPE_CHECKING:
    from collections.abc import Mapping
    from datetime import datetime

#: Priority markers as monitors print them (colour is never the only cue).
PRIORITY_MARK: dict[AlarmPriority, str] = {
    AlarmPriority.HIGH: "***",
    AlarmPriority.MEDIUM: "**",
    AlarmPriority.LOW: "*",
}

SPO2 = "spo2_percent"
PULSE = "pulse_rate_bpm"


# ------------------------------------------------------------------ tolerant reads


def read_map(value: object) -> Mapping[str, object]:
    """``value`` if it is a JSON object, else an empty one."""
    return value if isinstance(value, dict) else {}


def read_list(value: object) -> list[object]:
    """``value`` if it is a JSON array, else an empty one."""
    return value if isinstance(value, list) else []


def read_num(value: object) -> float | None:
    """``value`` as a float if it is a JSON number (not a boolean), else ``None``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def read_int(value: object) -> int | None:
    """``value`` rounded to an int if it is a JSON number, else ``None``."""
    number_ = read_num(value)
    return None if number_ is None else round(number_)


def read_str(value: object, default: str = "") -> str:
    """``value`` if it is text, else ``default``."""
    return value if isinstance(value, str) else default


def read_opt_str(value: object) -> str | None:
    """``value`` if it is non-empty text, else ``None``."""
    return value if isinstance(value, str) and value else None


def read_bool(value: object) -> bool:
    """Whether ``value`` is JSON ``true`` (anything else is false)."""
    return value is True


def read_priority(value: object) -> AlarmPriority:
    """An alarm priority; an unknown one reads as HIGH."""
    try:
        return AlarmPriority(read_str(value))
    except ValueError:
        # An unknown priority is shown as the highest: never understate an alarm.
        return AlarmPriority.HIGH


def _phase(value: object) -> Phase | None:
    try:
        return Phase(read_str(value))
    except ValueError:
        return None


def _value_text(value: object) -> str:
    if isinstance(value, str):
        return value
    return number(read_num(value))


# ------------------------------------------------------------------ state values


@dataclass(frozen=True, slots=True, kw_only=True)
class Vital:
    """One continuous value as the daemon reported it."""

    metric: str
    value: float | None
    #: ``ok``, ``sensor_off``, ``searching`` ...
    status: str
    age_s: float | None
    #: The daemon's own verdict: fresh and its device link up.
    live: bool
    device: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Nibp:
    """The last NIBP determination."""

    sbp: int | None
    dbp: int | None
    map: int | None
    pulse: int | None
    status: str
    ok: bool
    error: str
    age_s: float | None
    measured_at: datetime | None
    device: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Alarm:
    """One alarm on the room's board."""

    code: str
    priority: AlarmPriority
    kind: str
    #: With value and limit ("BP 188/114 >= 180/110").
    text: str
    value: str
    limit: str
    acknowledged: bool
    acknowledged_by: str | None
    latched: bool
    condition_present: bool
    sounding: bool
    raised_mono: float | None
    raised_at: datetime | None
    resolution: str

    @property
    def mark(self) -> str:
        """``***``, ``**`` or ``*``."""
        return PRIORITY_MARK[self.priority]

    @property
    def sort_key(self) -> tuple[int, bool, float]:
        """Highest priority first, unacknowledged before acknowledged, newest first."""
        return (-self.priority.rank, self.acknowledged, -(self.raised_mono or 0.0))


@dataclass(frozen=True, slots=True, kw_only=True)
class Audio:
    """The room's alarm audio."""

    sounding: bool
    sounding_codes: tuple[str, ...]
    silenced_codes: tuple[str, ...]
    volume_step: int
    pause_remaining_s: float
    paused_by: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class BaselineValues:
    """Baseline numbers; ``None`` where a part is missing."""

    sbp: float | None = None
    dbp: float | None = None
    hr: float | None = None
    spo2: float | None = None

    @classmethod
    def parse(cls, doc: Mapping[str, object]) -> BaselineValues:
        """From the engine's ``sbp_mmhg`` ... keys."""
        return cls(
            sbp=read_num(doc.get("sbp_mmhg")),
            dbp=read_num(doc.get("dbp_mmhg")),
            hr=read_num(doc.get("hr_bpm")),
            spo2=read_num(doc.get("spo2_percent")),
        )

    @property
    def bp_text(self) -> str:
        """``124/78`` or ``--/--``."""
        return f"{number(self.sbp, digits=0)}/{number(self.dbp, digits=0)}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Baseline:
    """The session baseline and how it came about."""

    values: BaselineValues
    computed: BaselineValues
    #: ``unconfirmed``, ``confirmed`` or ``overridden``.
    status: str
    confirmed_by: str | None
    confirmed_at: datetime | None
    overridden: tuple[str, ...]
    override_reason: str | None
    missing: tuple[str, ...]
    frozen: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class Episode:
    """A transient-rise information card."""

    episode_id: int
    signal: str
    open: bool
    text: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Discharge:
    """Discharge readiness and its reasons."""

    ready: bool
    reasons: tuple[str, ...]
    earliest_at: datetime | None


@dataclass(frozen=True, slots=True, kw_only=True)
class NibpSchedule:
    """The NIBP cycle the room asks for."""

    cycle_s: float | None
    next_due_at: datetime | None
    stat_requested: bool
    overdue: bool
    #: ``fresh``, ``grey`` or ``invalid`` (alarm-policy.md NIBP freshness).
    freshness: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Lights:
    """The room lights (``LightingStatus.as_dict``)."""

    scene: str | None
    level: int | None
    target: int | None
    kelvin: int | None
    ramping: bool
    ok: bool
    problem: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Music:
    """The room's music (``MusicSnapshot.as_dict``)."""

    state: str
    title: str | None
    artist: str | None
    position_s: float | None
    length_s: float | None
    up_next: tuple[str, ...]
    level: float | None
    ducked: bool
    notice: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Limits:
    """Alarm limits shown on the tiles.

    From the state's ``limits`` section when the room sends one, otherwise the
    policy's defaults (``default`` is then true and the tiles say so).
    """

    spo2_low: float | None
    spo2_severe_low: float | None
    pulse_low: float | None
    pulse_high: float | None
    sbp_high: float | None
    dbp_high: float | None
    sbp_low: float | None
    default: bool

    @classmethod
    def policy_default(cls) -> Limits:
        """alarm-policy.md defaults (MEDIUM limits; the desat limit for SpO2)."""
        return cls(
            spo2_low=90.0,
            spo2_severe_low=85.0,
            pulse_low=45.0,
            pulse_high=130.0,
            sbp_high=180.0,
            dbp_high=110.0,
            sbp_low=90.0,
            default=True,
        )

    @classmethod
    def parse(cls, doc: object) -> Limits:
        """The state's ``limits`` section, or the defaults when it has none.

        Expected shape: ``{"spo2_percent": {"low": 90, "severe_low": 85},
        "pulse_rate_bpm": {"low": 45, "high": 130}, "bp": {"sbp_high": 180,
        "dbp_high": 110, "sbp_low": 90}}``.
        """
        section = read_map(doc)
        if not section:
            return cls.policy_default()
        spo2, pulse, bp = (
            read_map(section.get(SPO2)),
            read_map(section.get(PULSE)),
            read_map(section.get("bp")),
        )
        return cls(
            spo2_low=read_num(spo2.get("low")),
            spo2_severe_low=read_num(spo2.get("severe_low")),
            pulse_low=read_num(pulse.get("low")),
            pulse_high=read_num(pulse.get("high")),
            sbp_high=read_num(bp.get("sbp_high")),
            dbp_high=read_num(bp.get("dbp_high")),
            sbp_low=read_num(bp.get("sbp_low")),
            default=False,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class RoomState:
    """One ``state`` document, parsed."""

    room: str
    session_id: str
    at: datetime | None
    #: Seconds since the daemon's session started (the time axis of trends).
    session_time_s: float | None
    #: The engine's monotonic clock at the snapshot (for ``*_mono`` fields).
    now_mono: float | None
    phase: Phase | None
    route: str
    dose_start_mono: float | None
    infusion_end_at: datetime | None
    infusion_end_recorded: bool
    closed_reason: str | None
    vitals: Mapping[str, Vital]
    nibp: Nibp | None
    links: Mapping[str, str]
    alarms: tuple[Alarm, ...]
    audio: Audio | None
    baseline: Baseline | None
    episodes: tuple[Episode, ...]
    discharge: Discharge | None
    schedule: NibpSchedule | None
    lights: Lights | None
    music: Music | None
    limits: Limits

    @property
    def dose_offset_s(self) -> float | None:
        """Seconds since dose start, at the snapshot; ``None`` before dosing."""
        if self.dose_start_mono is None or self.now_mono is None:
            return None
        return self.now_mono - self.dose_start_mono

    def session_t(self, mono: float | None) -> float | None:
        """An engine ``*_mono`` time on the session axis (``session_time_s``)."""
        if mono is None or self.now_mono is None or self.session_time_s is None:
            return None
        return self.session_time_s - (self.now_mono - mono)


def _parse_vital(metric: str, doc: Mapping[str, object]) -> Vital:
    return Vital(
        metric=metric,
        value=read_num(doc.get("value")),
        status=read_str(doc.get("status"), "unknown"),
        age_s=read_num(doc.get("age_s")),
        live=read_bool(doc.get("live")),
        device=read_str(doc.get("device")),
    )


def _parse_nibp(doc: Mapping[str, object]) -> Nibp | None:
    if not doc:
        return None
    return Nibp(
        sbp=read_int(doc.get("systolic_mmhg")),
        dbp=read_int(doc.get("diastolic_mmhg")),
        map=read_int(doc.get("map_mmhg")),
        pulse=read_int(doc.get("pulse_rate_bpm")),
        status=read_str(doc.get("status"), "unknown"),
        ok=read_bool(doc.get("ok")),
        error=read_str(doc.get("error")),
        age_s=read_num(doc.get("age_s")),
        measured_at=parse_time(doc.get("measured_at")),
        device=read_str(doc.get("device")),
    )


def _parse_alarm(doc: Mapping[str, object]) -> Alarm:
    return Alarm(
        code=read_str(doc.get("code"), "?"),
        priority=read_priority(doc.get("priority")),
        kind=read_str(doc.get("kind")),
        text=read_str(doc.get("text")) or read_str(doc.get("code"), "?"),
        value=_value_text(doc.get("value")),
        limit=_value_text(doc.get("limit")),
        acknowledged=read_bool(doc.get("acknowledged")),
        acknowledged_by=read_opt_str(doc.get("acknowledged_by")),
        latched=read_bool(doc.get("latched")),
        condition_present=read_bool(doc.get("condition_present")),
        sounding=read_bool(doc.get("sounding")),
        raised_mono=read_num(doc.get("raised_mono")),
        raised_at=parse_time(doc.get("raised_at")),
        resolution=read_str(doc.get("resolution")),
    )


def _parse_audio(doc: Mapping[str, object]) -> Audio | None:
    if not doc:
        return None
    return Audio(
        sounding=read_bool(doc.get("sounding")),
        sounding_codes=tuple(read_str(c) for c in read_list(doc.get("sounding_codes"))),
        silenced_codes=tuple(read_str(c) for c in read_list(doc.get("silenced_codes"))),
        volume_step=read_int(doc.get("volume_step")) or 0,
        pause_remaining_s=read_num(doc.get("pause_remaining_s")) or 0.0,
        paused_by=read_opt_str(doc.get("paused_by")),
    )


def _parse_baseline(doc: Mapping[str, object]) -> Baseline | None:
    if not doc:
        return None
    return Baseline(
        values=BaselineValues.parse(read_map(doc.get("values"))),
        computed=BaselineValues.parse(read_map(doc.get("computed"))),
        status=read_str(doc.get("status"), "unconfirmed"),
        confirmed_by=read_opt_str(doc.get("confirmed_by")),
        confirmed_at=parse_time(doc.get("confirmed_at")),
        overridden=tuple(read_str(x) for x in read_list(doc.get("overridden"))),
        override_reason=read_opt_str(doc.get("override_reason")),
        missing=tuple(read_str(x) for x in read_list(doc.get("missing"))),
        frozen=read_bool(doc.get("frozen")),
    )


def _parse_episode(doc: Mapping[str, object]) -> Episode:
    return Episode(
        episode_id=read_int(doc.get("episode_id")) or 0,
        signal=read_str(doc.get("signal")),
        open=read_bool(doc.get("open")),
        text=read_str(doc.get("text")),
    )


def _parse_discharge(doc: Mapping[str, object]) -> Discharge | None:
    if not doc:
        return None
    return Discharge(
        ready=read_bool(doc.get("ready")),
        reasons=tuple(
            read_str(x) for x in read_list(doc.get("reasons")) if read_str(x)
        ),
        earliest_at=parse_time(doc.get("earliest_at")),
    )


def _parse_schedule(doc: Mapping[str, object]) -> NibpSchedule | None:
    if not doc:
        return None
    return NibpSchedule(
        cycle_s=read_num(doc.get("cycle_s")),
        next_due_at=parse_time(doc.get("next_due_at")),
        stat_requested=read_bool(doc.get("stat_requested")),
        overdue=read_bool(doc.get("overdue")),
        freshness=read_opt_str(doc.get("freshness")),
    )


def _parse_lights(doc: Mapping[str, object]) -> Lights | None:
    if not doc:
        return None
    return Lights(
        scene=read_opt_str(doc.get("scene")),
        level=read_int(doc.get("level")),
        target=read_int(doc.get("target")),
        kelvin=read_int(doc.get("kelvin")),
        ramping=read_bool(doc.get("ramping")),
        ok=doc.get("ok") is not False,
        problem=read_str(doc.get("problem")),
    )


def _parse_music(value: object) -> Music | None:
    if isinstance(value, str):
        # A provider may publish just a word ("off").
        return Music(
            state=value,
            title=None,
            artist=None,
            position_s=None,
            length_s=None,
            up_next=(),
            level=None,
            ducked=False,
            notice="",
        )
    doc = read_map(value)
    if not doc:
        return None
    track = read_map(doc.get("track"))
    return Music(
        state=read_str(doc.get("state"), "unknown"),
        title=read_opt_str(track.get("title")),
        artist=read_opt_str(track.get("artist")),
        position_s=read_num(track.get("position_s")),
        length_s=read_num(track.get("length_s")),
        up_next=tuple(
            read_str(read_map(t).get("title"))
            for t in read_list(doc.get("up_next"))
            if read_map(t)
        ),
        level=read_num(doc.get("level_percent")),
        ducked=read_bool(doc.get("ducked")),
        notice=read_str(doc.get("notice")),
    )


def parse_state(doc: Mapping[str, object], *, room: str = "") -> RoomState:
    """A ``state`` document as values; never raises, whatever the document holds.

    >>> state = parse_state({"room": "r1", "engine": {"phase": "dosing"}})
    >>> state.room, state.phase, state.alarms, state.limits.default
    ('r1', <Phase.DOSING: 'dosing'>, (), True)
    """
    engine = read_map(doc.get("engine"))
    vitals = {
        str(name): _parse_vital(str(name), read_map(item))
        for name, item in read_map(doc.get("vitals")).items()
        if read_map(item)
    }
    alarms = tuple(
        sorted(
            (
                _parse_alarm(read_map(a))
                for a in read_list(engine.get("alarms"))
                if read_map(a)
            ),
            key=lambda alarm: alarm.sort_key,
        )
    )
    return RoomState(
        room=read_str(doc.get("room"), room),
        session_id=read_str(doc.get("session_id")),
        at=parse_time(doc.get("at")),
        session_time_s=read_num(doc.get("session_time_s")),
        now_mono=read_num(engine.get("now_mono")),
        phase=_phase(engine.get("phase")),
        route=read_str(engine.get("route")),
        dose_start_mono=read_num(engine.get("dose_start_mono")),
        infusion_end_at=parse_time(engine.get("infusion_end_at")),
        infusion_end_recorded=read_bool(engine.get("infusion_end_recorded")),
        closed_reason=read_opt_str(engine.get("closed_reason")),
        vitals=vitals,
        nibp=_parse_nibp(read_map(doc.get("nibp"))),
        links={str(k): read_str(v) for k, v in read_map(doc.get("links")).items()},
        alarms=alarms,
        audio=_parse_audio(read_map(engine.get("audio"))),
        baseline=_parse_baseline(read_map(engine.get("baseline"))),
        episodes=tuple(
            _parse_episode(read_map(e))
            for e in read_list(engine.get("episodes"))
            if read_map(e)
        ),
        discharge=_parse_discharge(read_map(engine.get("discharge"))),
        schedule=_parse_schedule(read_map(engine.get("nibp"))),
        lights=_parse_lights(read_map(doc.get("lights"))),
        music=_parse_music(doc.get("music")),
        limits=Limits.parse(doc.get("limits")),
    )


# ------------------------------------------------------------------ tiles and alarms


class Tile(enum.StrEnum):
    """The three vitals tiles."""

    SPO2 = "spo2"
    PULSE = "pulse"
    NIBP = "nibp"


def tile_of(code: str, state: RoomState) -> frozenset[Tile]:
    """The tiles an alarm code belongs to (its colour shows there).

    >>> sorted(tile_of("tech.spo2.data_lost", parse_state({})))
    [<Tile.PULSE: 'pulse'>, <Tile.SPO2: 'spo2'>]
    """
    if code.startswith(("spo2.", "tech.spo2.")):
        # SpO2 and PR come from the same probe: its technical alarms hit both.
        return (
            frozenset({Tile.SPO2, Tile.PULSE})
            if code.startswith("tech.")
            else frozenset({Tile.SPO2})
        )
    if code.startswith("hr."):
        return frozenset({Tile.PULSE})
    if code.startswith(("bp.", "tech.nibp.")):
        return frozenset({Tile.NIBP})
    if code.startswith("tech.link."):
        device = code.removeprefix("tech.link.")
        tiles = set()
        for metric, tile in ((SPO2, Tile.SPO2), (PULSE, Tile.PULSE)):
            vital = state.vitals.get(metric)
            if vital is not None and vital.device == device:
                tiles.add(tile)
        if state.nibp is not None and state.nibp.device == device:
            tiles.add(Tile.NIBP)
        return frozenset(tiles)
    return frozenset()


def tile_alarm(state: RoomState, tile: Tile) -> Alarm | None:
    """The highest alarm that colours ``tile`` (alarms are already sorted)."""
    for alarm in state.alarms:
        if tile in tile_of(alarm.code, state):
            return alarm
    return None
