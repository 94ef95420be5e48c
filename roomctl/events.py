"""The bus vocabulary: facts in the past tense and commands in the imperative.

Pure module. Every event is a frozen dataclass carrying ``occurred_mono`` (monotonic
seconds, for logic) and ``occurred_at`` (aware UTC, for records). ``CRITICAL`` events
(alarm, episode and phase changes, commands and their outcomes) are never dropped by a
bus queue, whatever its overflow policy.

The JSON shapes other programs read are in ``roomctl.eventstream`` (contracts.md §3).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar, TypeAlias

if TYPE_CHECKING:
    from collections.abc import Mapping
    from datetime import datetime

    from roomctl.readings import AnyReading


class Role(enum.StrEnum):
    """Who gave an operator input."""

    NURSE = "nurse"
    THERAPIST = "therapist"
    SYSTEM = "system"


class Phase(enum.StrEnum):
    """Session phases (alarm-policy.md, "Session phases"), in their only order."""

    PREPARATION = "preparation"
    DOSING = "dosing"
    PEAK = "peak"
    RETURN = "return"
    INTEGRATION = "integration"
    CLOSED = "closed"

    @property
    def order(self) -> int:
        """Position in the session; phases only move forward."""
        return list(Phase).index(self)


class Route(enum.StrEnum):
    """How the medicine was given (a session setting)."""

    IV = "iv"
    IM = "im"
    NASAL = "nasal"
    ORAL = "oral"


class AlarmPriority(enum.StrEnum):
    """Alarm priority as IEC 60601-1-8 names it; ``rank`` orders them."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"

    @property
    def rank(self) -> int:
        """1 for low, 2 for medium, 3 for high."""
        return {"low": 1, "medium": 2, "high": 3}[self.value]


class AlarmKind(enum.StrEnum):
    """Physiological (the patient) or technical (the equipment)."""

    PHYSIOLOGICAL = "physiological"
    TECHNICAL = "technical"


class AlarmTransition(enum.StrEnum):
    """What happened to an alarm (contracts.md §3)."""

    RAISED = "raised"
    ESCALATED = "escalated"
    DEESCALATED = "deescalated"
    ACKNOWLEDGED = "acknowledged"
    #: Audio comes back for an alarm still present (reminder, or volume raised
    #: after going unacknowledged); priority unchanged.
    REMINDED = "reminded"
    CLEARED = "cleared"
    RESET = "reset"


class EpisodeTransition(enum.StrEnum):
    """What happened to a transient-rise episode."""

    OPENED = "opened"
    UPDATED = "updated"
    CLOSED = "closed"


class EpisodeSignal(enum.StrEnum):
    """The signal a transient-rise episode tracks."""

    BP = "bp"
    HR = "hr"


@dataclass(frozen=True, slots=True, kw_only=True)
class BaseEvent:
    """Fields every event and command carries."""

    #: Whether a bus queue may ever drop this event on overflow.
    CRITICAL: ClassVar[bool] = False

    #: Monotonic seconds when it happened.
    occurred_mono: float
    #: Aware UTC time when it happened.
    occurred_at: datetime


# ------------------------------------------------------------------ device facts


@dataclass(frozen=True, slots=True, kw_only=True)
class ReadingReceived(BaseEvent):
    """A device driver produced a reading."""

    reading: AnyReading


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceConnected(BaseEvent):
    """A device link opened (capture ``link: up``)."""

    device: str
    port: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceLost(BaseEvent):
    """A device link closed or broke (capture ``link: lost``)."""

    device: str
    #: In words, for the nurse and the admin.
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceStale(BaseEvent):
    """A connected device sent no valid frame for ``silent_s`` seconds."""

    device: str
    silent_s: float


# ------------------------------------------------------------------ clinical facts


@dataclass(frozen=True, slots=True, kw_only=True)
class AlarmChanged(BaseEvent):
    """An alarm made a transition (raised, escalated, acknowledged, cleared, ...)."""

    CRITICAL: ClassVar[bool] = True

    transition: AlarmTransition
    #: Stable code from alarm-policy.md (``bp.high``, ``tech.link.oximeter``).
    code: str
    priority: AlarmPriority
    kind: AlarmKind
    #: The value that triggered it, in the metric's unit ("184/112" for BP).
    value: float | str | None = None
    #: The limit in force.
    limit: float | str | None = None
    #: Display text for people.
    text: str = ""
    #: Who acknowledged or reset it, where that applies.
    by: Role | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class EpisodeChanged(BaseEvent):
    """A transient BP or HR rise episode opened, changed or closed."""

    CRITICAL: ClassVar[bool] = True

    transition: EpisodeTransition
    signal: EpisodeSignal
    episode_id: int
    #: Baseline values, e.g. ``{"sbp": 120, "dbp": 75}`` or ``{"hr": 72}``.
    baseline: Mapping[str, float] = field(default_factory=dict)
    #: Peak values in the same keys.
    peak: Mapping[str, float] = field(default_factory=dict)
    #: Seconds from dose start to the peak; ``None`` before dose start.
    peak_t: float | None = None
    #: The sentence the console shows.
    text: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class PhaseChanged(BaseEvent):
    """The session moved to a new phase."""

    CRITICAL: ClassVar[bool] = True

    phase: Phase
    previous: Phase | None
    by: Role


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionOpened(BaseEvent):
    """A session began (or resumed after a restart)."""

    CRITICAL: ClassVar[bool] = True

    session_id: str
    route: Route
    infusion_min: float
    resumed: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class NoteAdded(BaseEvent):
    """Someone wrote a note into the session record."""

    CRITICAL: ClassVar[bool] = True

    text: str
    by: Role


@dataclass(frozen=True, slots=True, kw_only=True)
class StateSnapshot(BaseEvent):
    """The room's whole state, for retained MQTT state and a console (at most 1 Hz)."""

    state: Mapping[str, object]


# ------------------------------------------------------------------ outputs


@dataclass(frozen=True, slots=True, kw_only=True)
class MusicPlayed(BaseEvent):
    """A track became audible (the record keeps it for the no-repeat rule)."""

    track_id: str
    title: str
    phase: Phase
    #: Queued although heard in an earlier session (everything had been heard).
    repeat: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class OutputFailed(BaseEvent):
    """An auxiliary component (MQTT, music, lights, record) failed; it restarts."""

    component: str
    error: str


@dataclass(frozen=True, slots=True, kw_only=True)
class TechnicalNotice(BaseEvent):
    """A technical condition worth telling people that is not an alarm."""

    component: str
    text: str


# ------------------------------------------------------------------ commands


class CommandVerb(enum.StrEnum):
    """Operator command verbs (contracts.md §2 ``op`` and §4 ``cmd/<verb>``)."""

    PHASE = "phase"
    INFUSION_END = "infusion_end"
    BASELINE_CONFIRM = "baseline_confirm"
    ACKNOWLEDGE = "acknowledge"
    AUDIO_PAUSE = "audio_pause"
    RESET = "reset"
    NIBP_START = "nibp_start"
    NOTE = "note"
    MUSIC = "music"
    LIGHTS = "lights"


@dataclass(frozen=True, slots=True, kw_only=True)
class Command(BaseEvent):
    """An operator input, validated at the edge that received it.

    ``args`` holds the verb's fields exactly as contracts.md names them (``phase``,
    ``code``, ``text``, ``sbp`` ...). ``command_id`` lets the edge match the outcome.
    """

    CRITICAL: ClassVar[bool] = True

    verb: CommandVerb
    args: Mapping[str, object] = field(default_factory=dict)
    by: Role | None = None
    #: Where it came from: ``mqtt``, ``console``, ``capture``, ``api``.
    source: str = "api"
    command_id: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class CommandHandled(BaseEvent):
    """The outcome of a command: done, or refused with a reason in words."""

    CRITICAL: ClassVar[bool] = True

    command_id: str
    verb: CommandVerb
    ok: bool
    error: str = ""


#: Everything that travels on the bus.
Event: TypeAlias = (
    ReadingReceived
    | DeviceConnected
    | DeviceLost
    | DeviceStale
    | AlarmChanged
    | EpisodeChanged
    | PhaseChanged
    | SessionOpened
    | NoteAdded
    | MusicPlayed
    | StateSnapshot
    | OutputFailed
    | TechnicalNotice
    | Command
    | CommandHandled
)
