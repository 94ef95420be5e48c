"""Fixed data and a fake ``RoomSource`` for the console's tests.

``room_state`` builds a ``state`` document shaped like the daemon's
(``roomctl.roomstate`` plus the engine, lights and music sections; ``test_state.py``
checks the shape against a real ``Daemon``). ``FakeSource`` delivers what a test
pushes and answers commands as told, recording each one.
"""

from __future__ import annotations

import asyncio
import copy
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, TypedDict, Unpack

from roomctl.ui.source import (
    BrokerLink,
    CommandReply,
    StateReceived,
    StatusReceived,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from roomctl.ui.source import FeedItem

AT = datetime(2026, 11, 21, 9, 19, 20, tzinfo=UTC)
ROOM = "room-1"


def iso(seconds_before: float = 0.0) -> str:
    """``AT`` minus ``seconds_before``, as the daemon writes times."""
    return (AT - timedelta(seconds=seconds_before)).isoformat().replace("+00:00", "Z")


def alarm(
    code: str,
    priority: str,
    text: str,
    *,
    value: object = None,
    limit: object = None,
    acknowledged: bool = False,
    latched: bool = False,
    present: bool = True,
    raised_s_ago: float = 60.0,
    resolution: str = "",
) -> dict[str, object]:
    """One engine ``AlarmView`` as JSON."""
    return {
        "code": code,
        "priority": priority,
        "kind": "technical" if code.startswith("tech.") else "physiological",
        "text": text,
        "value": value,
        "limit": limit,
        "acknowledged": acknowledged,
        "acknowledged_by": "nurse" if acknowledged else None,
        "latched": latched,
        "condition_present": present,
        "sounding": not acknowledged,
        "volume_step": 0,
        "raised_mono": 1160.0 - raised_s_ago,
        "raised_at": iso(raised_s_ago),
        "ended_at": None,
        "resolution": resolution,
    }


DESAT = alarm(
    "spo2.desat",
    "high",
    "SpO2 83 % < 85",
    value=83,
    limit=85.0,
    latched=True,
    raised_s_ago=63,
    resolution="SpO2 >= 92 % for 30 s, then reset",
)
BP_SEVERE = alarm(
    "bp.severe",
    "high",
    "BP 208/125 >= 200/120",
    value="208/125",
    limit="200/120",
    acknowledged=True,
    latched=True,
    raised_s_ago=130,
    resolution="2 readings at least 180 s apart with SBP < 170 and DBP < 105",
)
HR_HIGH = alarm(
    "hr.high", "medium", "HR 135 bpm >= 130", value=135.0, limit=130.0, raised_s_ago=99
)
HR_RISE = alarm(
    "hr.rise",
    "low",
    "HR 135 bpm >= 110 (baseline 72 + 30)",
    value=135.0,
    limit=110.0,
    raised_s_ago=69,
)


class StateOptions(TypedDict, total=False):
    """The knobs of ``room_state`` (for helpers that pass them on)."""

    room: str
    phase: str
    session_time_s: float
    spo2: float | None
    pulse: float | None
    spo2_status: str
    vitals_live: bool
    vitals_age_s: float
    nibp: tuple[int, int] | None
    nibp_age_s: float
    freshness: str
    alarms: list[dict[str, object]] | None
    pause_remaining_s: float
    baseline_status: str
    discharge_ready: bool
    episodes: bool
    music: dict[str, object] | None
    lights: dict[str, object] | None
    session_id: str


def room_state(
    *,
    room: str = ROOM,
    phase: str = "dosing",
    session_time_s: float = 1160.0,
    spo2: float | None = 97,
    pulse: float | None = 72,
    spo2_status: str = "ok",
    vitals_live: bool = True,
    vitals_age_s: float = 0.0,
    nibp: tuple[int, int] | None = (124, 78),
    nibp_age_s: float = 95.0,
    freshness: str = "fresh",
    alarms: list[dict[str, object]] | None = None,
    pause_remaining_s: float = 0.0,
    baseline_status: str = "unconfirmed",
    discharge_ready: bool = False,
    episodes: bool = True,
    music: dict[str, object] | None = None,
    lights: dict[str, object] | None = None,
    limits: bool = False,
    session_id: str = "room-1-20261121T090000Z",
) -> dict[str, object]:
    """A state document as the daemon publishes it (all times fixed)."""
    dosed = phase != "preparation"
    vitals: dict[str, object] = {}
    for metric, value in (("spo2_percent", spo2), ("pulse_rate_bpm", pulse)):
        status = spo2_status if value is None else "ok"
        vitals[metric] = {
            "device": "oximeter",
            "value": value,
            "status": status,
            "age_s": vitals_age_s,
            "live": vitals_live,
        }
    nibp_doc = None
    if nibp is not None:
        sbp, dbp = nibp
        nibp_doc = {
            "device": "nibp",
            "systolic_mmhg": sbp,
            "diastolic_mmhg": dbp,
            "map_mmhg": (sbp + 2 * dbp) // 3,
            "pulse_rate_bpm": 70,
            "status": "ok",
            "ok": True,
            "error": "",
            "age_s": nibp_age_s,
            "measured_at": iso(nibp_age_s),
        }
    baseline_values = {
        "sbp_mmhg": 125.0,
        "dbp_mmhg": 79.0,
        "hr_bpm": 72.0,
        "spo2_percent": 98.0,
    }
    state: dict[str, object] = {
        "room": room,
        "session_id": session_id,
        "at": iso(),
        "session_time_s": session_time_s,
        "vitals": vitals,
        "nibp": nibp_doc,
        "links": {"oximeter": "up", "nibp": "up"},
        "engine": {
            # The engine's clock and the session's share their origin here.
            "now_mono": session_time_s,
            "now_at": iso(),
            "phase": phase,
            "route": "iv",
            "dose_start_mono": 430.0 if dosed else None,
            "dose_start_at": iso(730) if dosed else None,
            "infusion_end_mono": 2830.0 if dosed else None,
            "infusion_end_at": iso(-1670) if dosed else None,
            "infusion_end_recorded": False,
            "closed_reason": None,
            "baseline": {
                "values": baseline_values,
                "computed": dict(baseline_values),
                "status": baseline_status,
                "confirmed_by": None if baseline_status == "unconfirmed" else "nurse",
                "confirmed_at": None if baseline_status == "unconfirmed" else iso(800),
                "overridden": [],
                "override_reason": None,
                "missing": [],
                "frozen": dosed,
            },
            "alarms": copy.deepcopy(alarms or []),
            "audio": {
                "sounding": any(not a["acknowledged"] for a in alarms or []),
                "sounding_codes": [
                    a["code"] for a in alarms or [] if not a["acknowledged"]
                ],
                "silenced_codes": [
                    a["code"] for a in alarms or [] if a["acknowledged"]
                ],
                "volume_step": 0,
                "paused_until_mono": None,
                "paused_until_at": None,
                "pause_remaining_s": pause_remaining_s,
                "paused_by": "nurse" if pause_remaining_s else None,
            },
            "episodes": [
                {
                    "episode_id": 1,
                    "signal": "bp",
                    "open": True,
                    "opened_at": iso(130),
                    "baseline": {"sbp": 125.0, "dbp": 79.0},
                    "peak": {"sbp": 168.0, "dbp": 100.0},
                    "peak_t": 600.0,
                    "confirming_readings": 1,
                    "closed_at": None,
                    "text": "ketamine BP response: peak 168/100 at +10 min, ongoing",
                }
            ]
            if episodes
            else [],
            "peaks": {"bp": {}, "bp_t": None, "hr_bpm": None, "hr_t": None},
            "discharge": {
                "ready": discharge_ready,
                "reasons": []
                if discharge_ready
                else ["Minimum monitoring runs until +100 min (88 min to go)."],
                "earliest_mono": 6430.0,
                "earliest_at": iso(-5270),
            },
            "nibp": {
                "cycle_s": 300.0,
                "next_due_mono": 1330.0,
                "next_due_at": iso(-170),
                "stat_requested": False,
                "overdue": False,
                "last_reading_mono": 1065.0,
                "last_reading_at": iso(95),
                "freshness": freshness,
            },
        },
    }
    state["music"] = (
        music
        if music is not None
        else {
            "state": "playing",
            "phase": phase,
            "track": {
                "id": "t1",
                "title": "Slow Water",
                "artist": "Builtin",
                "position_s": 83.0,
                "length_s": 296.0,
            },
            "up_next": [{"id": "t2", "title": "Low Tide"}],
            "level_percent": 40.0,
            "ducked": False,
            "library": "built-in",
            "notice": "",
        }
    )
    state["lights"] = (
        lights
        if lights is not None
        else {
            "scene": phase,
            "level": 15,
            "target": 15,
            "kelvin": 2200,
            "ramping": False,
            "ok": True,
            "problem": "",
            "reported": {},
        }
    )
    if limits:
        # The limits in force, as a daemon sends them (here the policy defaults);
        # without them the console shows the defaults marked "(default)".
        state["limits"] = {
            "spo2_percent": {"low": 90, "severe_low": 85},
            "pulse_rate_bpm": {"low": 45, "high": 130},
            "bp": {"sbp_high": 180, "dbp_high": 110, "sbp_low": 90},
        }
    return state


def with_room(state: StateOptions, room: str) -> StateOptions:
    """``state`` with ``room`` set."""
    merged = state.copy()
    merged["room"] = room
    return merged


def live_room(room: str = ROOM, /, **state: Unpack[StateOptions]) -> list[FeedItem]:
    """The items of a connected console seeing ``room`` online with one live state."""
    return [
        BrokerLink(connected=True, detail="fake broker"),
        StatusReceived(room=room, online=True),
        StateReceived(room=room, state=room_state(**with_room(state, room))),
    ]


@dataclass(frozen=True, slots=True)
class Sent:
    """One command the console sent."""

    room: str
    verb: str
    payload: dict[str, object]


@dataclass
class FakeSource:
    """A ``RoomSource`` driven by the test.

    ``replies`` maps a verb to ``(ok, error, answered)``; other verbs succeed.
    """

    items: list[FeedItem] = field(default_factory=list)
    replies: dict[str, tuple[bool, str, bool]] = field(default_factory=dict)
    sent: list[Sent] = field(default_factory=list)
    deliver: Callable[[FeedItem], None] | None = None

    async def run(self, deliver: Callable[[FeedItem], None]) -> None:
        self.deliver = deliver
        for item in self.items:
            deliver(item)
        await asyncio.Event().wait()

    def push(self, *items: FeedItem) -> None:
        assert self.deliver is not None, "the app has not started the source yet"
        for item in items:
            self.deliver(item)

    async def command(
        self,
        room: str,
        verb: str,
        payload: Mapping[str, object],
        *,
        timeout_s: float = 5.0,
    ) -> CommandReply:
        del timeout_s
        self.sent.append(Sent(room, verb, dict(payload)))
        ok, error, answered = self.replies.get(verb, (True, "", True))
        return CommandReply(
            ok=ok, error=error, command_id=str(payload.get("id")), answered=answered
        )

    def verbs(self) -> list[str]:
        return [sent.verb for sent in self.sent]

    def fields(self, index: int = -1) -> dict[str, object]:
        """The last (or ``index``-th) command's fields without ``id`` and ``by``."""
        payload = self.sent[index].payload
        return {k: v for k, v in payload.items() if k not in {"id", "by"}}
