"""The alarm board: alarm lifecycle, latching, acknowledgement and audio.

Layer: pure core. Rules say *what condition holds now* as ``Assertion`` values; the
board turns the difference from the last call into explicit transitions
(``AlarmChanged``), so consumers never diff states themselves (style.md §2.4). It also
owns the audio mechanics of alarm-policy.md ("Mechanics", and the Escalation column of
the ``bp.high`` row, applied to every audible alarm):

- A code keeps its identity while its priority changes: a higher assertion is
  ``ESCALATED``, a lower one ``DEESCALATED`` (never while latched).
- Latching: an alarm asserted at or above its ``latch_at`` priority stays on the board
  after its condition ends, until an operator resets it. The condition's end emits no
  transition (``cleared`` would read as "gone"); the snapshot shows
  ``condition_present=False`` and ``ended_at``.
- "Card stays until acknowledged" (``bp.high``): a non-latching MEDIUM or HIGH alarm
  whose rule says so emits ``CLEARED`` when its condition ends, but stays on the board
  as a card until acknowledged, so a BP alarm nobody saw is never lost. It does not
  sound.
- Acknowledge silences the audio of one condition (or of every one) present now; the
  card and colour remain. An escalation, or a latched condition that returns, sounds
  again.
- Still present after acknowledgement: a ``REMINDED`` every ``reminder_s``.
  Unacknowledged while sounding for ``volume_up_after_s``: one volume step up, as a
  ``REMINDED``.
- Audio pause silences everything for ``pause_s``. Audio returns when a new audible
  alarm is raised or one escalates (a new or higher-priority condition, and every HIGH
  one: desat and severe BP "break through"), or when the pause runs out; every alarm
  whose audio comes back gets a ``REMINDED``.
- LOW alarms never sound (an information card, "no sound or a single chime").
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from roomctl.alarms.signal import TIME_SLACK_S
from roomctl.alarms.state import AlarmView, AudioView
from roomctl.events import AlarmChanged, AlarmPriority, AlarmTransition

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence
    from datetime import datetime

    from roomctl.alarms.policy import AudioPolicy
    from roomctl.events import AlarmKind, Role


@dataclass(frozen=True, slots=True, kw_only=True)
class Assertion:
    """A rule's verdict: this condition holds now, at this priority."""

    code: str
    priority: AlarmPriority
    kind: AlarmKind
    #: Display text with value and limit.
    text: str
    value: float | str | None = None
    limit: float | str | None = None
    #: Priority at or above which the alarm latches; ``None``: never latches.
    latch_at: AlarmPriority | None = None
    #: A cleared, unacknowledged MEDIUM/HIGH alarm stays as a card (``bp.*``).
    card_until_acknowledged: bool = False
    #: The resolution rule in words, for the console and refusals.
    resolution: str = ""


@dataclass(slots=True, kw_only=True)
class _Alarm:
    """One alarm's mutable state on the board."""

    code: str
    kind: AlarmKind
    priority: AlarmPriority
    text: str
    value: float | str | None
    limit: float | str | None
    resolution: str
    card: bool
    raised_mono: float
    condition_present: bool = True
    ended_mono: float | None = None
    latched: bool = False
    acknowledged: bool = False
    acknowledged_by: Role | None = None
    volume_step: int = 0
    #: When it last started sounding (raise, escalation, audio back).
    sounding_since: float = 0.0
    #: When the next reminder is due (acknowledged and present).
    reminder_due: float | None = None
    #: The assertion last taken (the same object again changes nothing).
    source: Assertion | None = None

    def take(self, assertion: Assertion) -> None:
        """Follow the rule's latest value and text, silently."""
        self.text = assertion.text
        self.value = assertion.value
        self.limit = assertion.limit
        self.resolution = assertion.resolution
        self.card = assertion.card_until_acknowledged
        latch_at = assertion.latch_at
        if latch_at is not None and self.priority.rank >= latch_at.rank:
            self.latched = True
        self.source = assertion


class AlarmBoard:
    """Every alarm's lifecycle, acknowledgement and the room's alarm audio."""

    def __init__(self, audio: AudioPolicy, stamp: Callable[[float], datetime]) -> None:
        self._policy = audio
        self._stamp = stamp
        self._alarms: dict[str, _Alarm] = {}
        self._paused_until: float | None = None
        self._paused_by: Role | None = None
        #: ``timers`` has nothing to do before this (``-inf``: look again).
        self.timers_due = -math.inf

    # ------------------------------------------------------------ queries

    def priority_of(self, code: str) -> AlarmPriority | None:
        """The priority of an alarm on the board, or ``None``."""
        alarm = self._alarms.get(code)
        return None if alarm is None else alarm.priority

    def is_acknowledged(self, code: str) -> bool:
        """Whether the alarm is on the board and acknowledged."""
        alarm = self._alarms.get(code)
        return alarm is not None and alarm.acknowledged

    def blocking(self, kind: AlarmKind) -> list[tuple[str, bool]]:
        """MEDIUM/HIGH alarms of ``kind`` present or latched: (code, latched-only)."""
        return [
            (a.code, not a.condition_present)
            for a in self._alarms.values()
            if a.kind is kind
            and a.priority.rank >= AlarmPriority.MEDIUM.rank
            and (a.condition_present or a.latched)
        ]

    def _paused(self, now: float) -> bool:
        return self._paused_until is not None and now < self._paused_until

    def _audible(self, alarm: _Alarm) -> bool:
        return alarm.priority.rank >= self._policy.audible_priority.rank and (
            alarm.condition_present or alarm.latched
        )

    def _sounding(self, alarm: _Alarm, now: float) -> bool:
        return self._audible(alarm) and not alarm.acknowledged and not self._paused(now)

    # ------------------------------------------------------------ transitions

    def _event(
        self,
        alarm: _Alarm,
        transition: AlarmTransition,
        now: float,
        *,
        text: str | None = None,
        by: Role | None = None,
    ) -> AlarmChanged:
        return AlarmChanged(
            occurred_mono=now,
            occurred_at=self._stamp(now),
            transition=transition,
            code=alarm.code,
            priority=alarm.priority,
            kind=alarm.kind,
            value=alarm.value,
            limit=alarm.limit,
            text=alarm.text if text is None else text,
            by=by,
        )

    def _start_sounding(self, alarm: _Alarm, now: float) -> None:
        alarm.acknowledged = False
        alarm.acknowledged_by = None
        alarm.reminder_due = None
        alarm.volume_step = 0
        alarm.sounding_since = now

    def _raise(self, assertion: Assertion, now: float) -> AlarmChanged:
        alarm = _Alarm(
            code=assertion.code,
            kind=assertion.kind,
            priority=assertion.priority,
            text=assertion.text,
            value=assertion.value,
            limit=assertion.limit,
            resolution=assertion.resolution,
            card=assertion.card_until_acknowledged,
            raised_mono=now,
            sounding_since=now,
        )
        alarm.take(assertion)
        self._alarms[alarm.code] = alarm
        return self._event(alarm, AlarmTransition.RAISED, now)

    def _follow(
        self, alarm: _Alarm, assertion: Assertion, now: float
    ) -> AlarmChanged | None:
        """An alarm on the board is asserted again; return its transition, if any."""
        if not alarm.condition_present and not alarm.latched:
            # A card whose condition returns: a new occurrence of the same code.
            self._alarms.pop(alarm.code)
            return self._raise(assertion, now)
        returned = not alarm.condition_present
        alarm.condition_present = True
        alarm.ended_mono = None
        rank, current = assertion.priority.rank, alarm.priority.rank
        transition: AlarmTransition | None = None
        if rank > current:
            alarm.priority = assertion.priority
            transition = AlarmTransition.ESCALATED
        elif rank < current and not alarm.latched:
            alarm.priority = assertion.priority
            transition = AlarmTransition.DEESCALATED
        elif returned:
            # A latched condition came back: sound again without a new code.
            transition = AlarmTransition.REMINDED
        alarm.take(assertion)
        if transition is None:
            return None
        if transition is not AlarmTransition.DEESCALATED:
            self._start_sounding(alarm, now)
        return self._event(alarm, transition, now)

    def _end(self, alarm: _Alarm, now: float) -> AlarmChanged | None:
        """The rule no longer asserts ``alarm``'s condition."""
        self.timers_due = -math.inf
        alarm.condition_present = False
        alarm.ended_mono = now
        alarm.reminder_due = None
        if alarm.latched:
            return None
        keep_card = (
            alarm.card
            and not alarm.acknowledged
            and alarm.priority.rank >= AlarmPriority.MEDIUM.rank
        )
        if not keep_card:
            del self._alarms[alarm.code]
        return self._event(
            alarm, AlarmTransition.CLEARED, now, text=f"{alarm.text}: resolved"
        )

    def sync(self, assertions: Sequence[Assertion], now: float) -> list[AlarmChanged]:
        """Bring the board in line with what the rules assert now."""
        events: list[AlarmChanged] = []
        asserted = {a.code for a in assertions}
        for assertion in assertions:
            alarm = self._alarms.get(assertion.code)
            if alarm is None:
                events.append(self._raise(assertion, now))
                continue
            if alarm.source is assertion and alarm.condition_present:
                continue  # asserted as it was: nothing to follow
            event = self._follow(alarm, assertion, now)
            if event is not None:
                events.append(event)
        for alarm in list(self._alarms.values()):
            if alarm.condition_present and alarm.code not in asserted:
                ended = self._end(alarm, now)
                if ended is not None:
                    events.append(ended)
        self._break_through(events, now)
        if events:
            self.timers_due = -math.inf
        return events

    def _break_through(self, events: list[AlarmChanged], now: float) -> None:
        """A new or higher audible condition ends the audio pause for everyone."""
        if not self._paused(now):
            return
        breaking = {
            e.code
            for e in events
            if e.transition in {AlarmTransition.RAISED, AlarmTransition.ESCALATED}
            and e.priority.rank >= self._policy.audible_priority.rank
        }
        if breaking:
            events.extend(self._end_pause(now, skip=breaking))

    def _end_pause(self, now: float, *, skip: Iterable[str] = ()) -> list[AlarmChanged]:
        self._paused_until = None
        self._paused_by = None
        skipped = set(skip)
        events = []
        for alarm in self._alarms.values():
            if alarm.code in skipped or not self._sounding(alarm, now):
                continue
            alarm.sounding_since = now
            events.append(
                self._event(
                    alarm,
                    AlarmTransition.REMINDED,
                    now,
                    text=f"{alarm.text} (audio back)",
                )
            )
        return events

    def timers(self, now: float) -> list[AlarmChanged]:
        """Pause expiry, volume-up and reminders due at ``now``."""
        if now < self.timers_due:
            return []
        events: list[AlarmChanged] = []
        if self._paused_until is not None and now >= self._paused_until:
            events.extend(self._end_pause(now))
        if self._paused_until is not None and self._paused(now):
            self.timers_due = self._paused_until
            return events
        for alarm in self._alarms.values():
            event = self._volume_up(alarm, now) or self._remind(alarm, now)
            if event is not None:
                events.append(event)
        self.timers_due = self._next_timer()
        return events

    def _next_timer(self) -> float:
        """When ``timers`` next may do something, with no other change before."""
        due = math.inf
        volume_up = self._policy.volume_up_after_s
        for alarm in self._alarms.values():
            if (
                alarm.volume_step == 0
                and not alarm.acknowledged
                and self._audible(alarm)
            ):
                due = min(due, alarm.sounding_since + volume_up - TIME_SLACK_S)
            if alarm.reminder_due is not None:
                due = min(due, alarm.reminder_due)
        return due

    def _volume_up(self, alarm: _Alarm, now: float) -> AlarmChanged | None:
        if (
            alarm.volume_step == 0
            and self._sounding(alarm, now)
            and now - alarm.sounding_since >= self._policy.volume_up_after_s
        ):
            alarm.volume_step = 1
            return self._event(
                alarm, AlarmTransition.REMINDED, now, text=f"{alarm.text} (volume up)"
            )
        return None

    def _remind(self, alarm: _Alarm, now: float) -> AlarmChanged | None:
        if alarm.reminder_due is None or now < alarm.reminder_due:
            return None
        alarm.reminder_due = now + self._policy.reminder_s
        return self._event(
            alarm, AlarmTransition.REMINDED, now, text=f"{alarm.text} (reminder)"
        )

    # ------------------------------------------------------------ operator inputs

    def acknowledge(
        self, code: str | None, by: Role | None, now: float
    ) -> tuple[list[AlarmChanged], str | None]:
        """Silence one alarm (or every unacknowledged one); refuse with a reason."""
        self.timers_due = -math.inf
        if code is None:
            targets = [a for a in self._alarms.values() if not a.acknowledged]
            if not targets:
                return [], "There is no alarm waiting for acknowledgement."
        else:
            alarm = self._alarms.get(code)
            if alarm is None:
                return [], f"There is no active alarm {code}."
            if alarm.acknowledged:
                return [], f"{code} is already acknowledged."
            targets = [alarm]
        events = []
        for alarm in targets:
            alarm.acknowledged = True
            alarm.acknowledged_by = by
            alarm.volume_step = 0
            if alarm.condition_present and self._audible(alarm):
                alarm.reminder_due = now + self._policy.reminder_s
            events.append(self._event(alarm, AlarmTransition.ACKNOWLEDGED, now, by=by))
            if not alarm.condition_present and not alarm.latched:
                del self._alarms[alarm.code]
        return events, None

    def reset(
        self, code: str, by: Role | None, now: float
    ) -> tuple[list[AlarmChanged], str | None]:
        """Reset a latched alarm whose condition has ended; refuse with a reason."""
        self.timers_due = -math.inf
        alarm = self._alarms.get(code)
        if alarm is None:
            return [], f"There is no active alarm {code}; nothing to reset."
        if not alarm.latched:
            return [], (
                f"{code} does not latch; it clears by itself ({alarm.resolution})."
            )
        if alarm.condition_present:
            return [], (
                f"{code} is still present; it can be reset once {alarm.resolution}."
            )
        del self._alarms[code]
        return [self._event(alarm, AlarmTransition.RESET, now, by=by)], None

    def pause(self, by: Role | None, now: float) -> None:
        """Start (or restart) the audio pause."""
        self.timers_due = -math.inf
        self._paused_until = now + self._policy.pause_s
        self._paused_by = by

    # ------------------------------------------------------------ snapshot

    def views(self, now: float) -> tuple[AlarmView, ...]:
        """Every alarm on the board, highest priority first, then oldest first."""
        ordered = sorted(
            self._alarms.values(), key=lambda a: (-a.priority.rank, a.raised_mono)
        )
        return tuple(
            AlarmView(
                code=a.code,
                priority=a.priority,
                kind=a.kind,
                text=a.text,
                value=a.value,
                limit=a.limit,
                acknowledged=a.acknowledged,
                acknowledged_by=a.acknowledged_by,
                latched=a.latched,
                condition_present=a.condition_present,
                sounding=self._sounding(a, now),
                volume_step=a.volume_step,
                raised_mono=a.raised_mono,
                raised_at=self._stamp(a.raised_mono),
                ended_at=None if a.ended_mono is None else self._stamp(a.ended_mono),
                resolution=a.resolution,
            )
            for a in ordered
        )

    def audio(self, now: float) -> AudioView:
        """The audio state at ``now``."""
        sounding = [a for a in self._alarms.values() if self._sounding(a, now)]
        silenced = [
            a.code
            for a in self._alarms.values()
            if a.acknowledged and a.condition_present and self._audible(a)
        ]
        paused = self._paused(now)
        until = self._paused_until if paused else None
        return AudioView(
            sounding=bool(sounding),
            sounding_codes=tuple(a.code for a in sounding),
            silenced_codes=tuple(silenced),
            volume_step=max((a.volume_step for a in sounding), default=0),
            paused_until_mono=until,
            paused_until_at=None if until is None else self._stamp(until),
            pause_remaining_s=0.0 if until is None else until - now,
            paused_by=self._paused_by if paused else None,
        )
