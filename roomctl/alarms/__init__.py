"""The alarm engine: a pure state machine over readings, link changes and commands.

Layer: pure core (style.md §2.0, §2.4). Nothing in this package awaits, does I/O or
reads a clock: every method takes ``now`` (monotonic seconds) and UTC stamps are
derived deterministically from the engine's epoch. The policy in force is data
(``AlarmPolicy``, one pydantic model per row of alarm-policy.md); the engine turns
readings into ``AlarmChanged``, ``EpisodeChanged`` and ``PhaseChanged`` events and
answers ``snapshot(now)`` for the console and MQTT.

roomctl is a secondary display: the bedside monitor's own alarms stay primary.
"""

from __future__ import annotations

from roomctl.alarms.engine import AlarmEngine
from roomctl.alarms.policy import AlarmPolicy, policy_table
from roomctl.alarms.state import (
    AlarmView,
    AudioView,
    BaselineStatus,
    BaselineValues,
    BaselineView,
    DischargeView,
    EngineState,
    EpisodeView,
    NibpFreshness,
    NibpScheduleView,
    PeakView,
)

__all__ = [
    "AlarmEngine",
    "AlarmPolicy",
    "AlarmView",
    "AudioView",
    "BaselineStatus",
    "BaselineValues",
    "BaselineView",
    "DischargeView",
    "EngineState",
    "EpisodeView",
    "NibpFreshness",
    "NibpScheduleView",
    "PeakView",
    "policy_table",
]
