"""One continuous metric's rules, and when they next need judging.

Layer: pure core. The engine judges SpO2 and PR on every reading and every tick, but
between samples a rule's state can only change at a few moments: when a run becomes
old enough to fire or to resolve, or when the held sample stops being live. A
``Channel`` works those moments out after every full judgement (``judge``) and lets
the engine skip the calls before them (``due``). Equally, most samples leave every rule
as it was (every verdict the same as the held sample's, every run already agreeing
with it): the values that do so are a range (``raw_lo``..``raw_hi``, and for the HR
episode ``response_lo``..``response_hi``), so two comparisons tell a quiet sample,
and only the others go through the rules.

Skipping is exact, not approximate: a skipped call is one the rules would have turned
into no change, apart from ``spo2.low``'s integration start and dip window, which
``judge`` brings up to date (``Spo2LowRule.catch_up``) before it judges; while SpO2 is
below its limit, ``spo2.low`` integrates at every call as before (``low_busy``).
Deadlines are brought forward by ``TIME_SLACK_S`` so float rounding never skips a
call that would have fired. Anything else that changes a rule's inputs (a command, a
new baseline, a suspended signal) calls ``forget``, and the next call judges in full.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from roomctl.alarms.signal import EMPTY, TIME_SLACK_S

if TYPE_CHECKING:
    from roomctl.alarms.rules import ContinuousRule, Spo2LowRule
    from roomctl.alarms.signal import SignalTrack
    from roomctl.readings import Metric


class Channel:
    """A continuous metric: its track, its rules, and what may be skipped."""

    __slots__ = (
        "due",
        "hold_s",
        "latest",
        "low",
        "low_busy",
        "metric",
        "raw_hi",
        "raw_lo",
        "response_hi",
        "response_lo",
        "rules",
        "rules_due",
        "smoothed",
        "track",
        "was_live",
    )

    def __init__(
        self,
        metric: Metric,
        track: SignalTrack,
        rules: tuple[ContinuousRule, ...],
        *,
        low: Spo2LowRule | None,
        hold_s: float,
    ) -> None:
        self.metric = metric
        self.track = track
        self.rules = rules
        #: ``spo2.low`` (SpO2 only).
        self.low = low
        #: Some rule judges the rolling median (else it is never needed).
        self.smoothed = any(rule.spec.smoothed for rule in rules)
        self.hold_s = hold_s
        #: Calls before this change nothing in the rules (``-inf``: judge at once).
        self.due = -math.inf
        #: The same, leaving out the end of the held sample's life.
        self.rules_due = -math.inf
        #: ``spo2.low`` integrates at every call (the held value is below its
        #: limit): the calls ``due`` skips still advance it.
        self.low_busy = False
        #: The latest time of a call skipped since the last judgement.
        self.latest = -math.inf
        #: Whether the last judgement had a live sample.
        self.was_live = False
        #: A sample whose raw value and median (if judged) are both in ``raw_*``
        #: changes no rule ...
        self.raw_lo, self.raw_hi = EMPTY
        #: ... and one whose median is in ``response_*`` changes no HR episode.
        self.response_lo, self.response_hi = EMPTY

    def forget(self) -> None:
        """The rules' inputs changed: judge in full at the next call."""
        self.due = -math.inf
        self.raw_lo, self.raw_hi = EMPTY
        self.response_lo, self.response_hi = EMPTY

    def judge(
        self, now: float, baseline: float | None
    ) -> tuple[tuple[float, float] | None, bool]:
        """Advance every rule to ``now`` as the policy says.

        Returns:
            The held sample (raw value, judged value) when it is live, else
            ``None``; and whether any rule's assertion may have changed.
        """
        track = self.track
        value = track.value
        held: tuple[float, float] | None = None
        if value is not None and now - track.value_t <= self.hold_s:
            held = (value, track.median() if self.smoothed else value)
        low = self.low
        if held is None and not self.was_live:
            # Still not live: every run ended at the judgement that found it so, and
            # no sample came since; only ``spo2.low`` restarts its integration.
            if low is not None:
                low.interrupt(now)
            return None, False
        before = [rule.shown() for rule in self.rules]
        for rule in self.rules:
            rule.advance(now, held, baseline)
        changed = before != [rule.shown() for rule in self.rules]
        if low is not None:
            if self.was_live and self.latest > -math.inf:
                low.catch_up(self.latest)
            shown = low.shown()
            low.advance(now, None if held is None else held[0])
            changed = changed or shown != low.shown()
        self.latest = -math.inf
        self.was_live = held is not None
        if held is None:
            # The rules wait for a sample (the engine judges before it), but
            # ``spo2.low`` restarts its integration at every call: a later call
            # may find an earlier sample live again (times need not grow).
            self.due = self.rules_due = math.inf if low is None else -math.inf
            self.low_busy = False
            self.raw_lo, self.raw_hi = EMPTY
            self.response_lo, self.response_hi = EMPTY
        return held, changed

    def plan(self, held: tuple[float, float], baseline: float | None) -> None:
        """After a live judgement: when to judge next, and which samples are quiet."""
        raw, judged = held
        due = math.inf
        lo, hi = -math.inf, math.inf
        for rule in self.rules:
            due = min(due, rule.next_change(raw, judged, baseline))
            a, b = rule.still(raw, judged, baseline)
            lo, hi = max(lo, a), min(hi, b)
        low = self.low
        self.low_busy = low is not None and low.integrating(raw)
        if low is not None:
            if not self.low_busy:
                due = min(due, low.next_change(raw))
            a, b = low.still()
            lo, hi = max(lo, a), min(hi, b)
        self.rules_due = due - TIME_SLACK_S
        self.refresh()
        if lo <= raw <= hi and lo <= judged <= hi:
            self.raw_lo, self.raw_hi = lo, hi
        else:
            self.raw_lo, self.raw_hi = EMPTY

    def refresh(self) -> None:
        """A quiet sample arrived: the held sample lives on from its time."""
        self.due = min(self.rules_due, self.track.value_t + self.hold_s - TIME_SLACK_S)
