"""Continuous signals: sample-and-hold tracks, rolling medians and sustained runs.

Layer: pure core. SpO2 and PR arrive at about 1 Hz (Nonin: 3 Hz) as values the monitor
has already averaged. A ``SignalTrack`` holds the latest usable sample for at most
``hold_s`` seconds: after that the stream has a gap and nothing is judged on the old
value (style.md §2.0 rule 4: not-live data is never judged as live). A sample that
arrives with an earlier receive time than the last one is out of order and ignored, so
duplicates and reordering never reset a delay timer or an integral.

A ``SustainedRun`` measures how long a condition has held. How the 10 s median and a
sustain delay combine (``hr.high``: "30 s sustained, judged on a 10 s median"): the run
starts at the first *raw* sample that meets the condition and stays alive while either
the raw sample or the median still meets it; the rule fires once the run is
``delay_s`` old *and* both the held raw sample and the median meet the condition. So
the median bridges a single-sample dip without restarting the delay, but neither
stretches a spike that has ended (a 29 s spike to 135 raises nothing) nor adds lag to a
genuine step: 135 sustained raises at 30 s, and 155 for 15 s raises HIGH at 15 s, as
alarm-research.md §6 scenario 9 expects.

A rule's delay run (``TolerantRun``) also survives one sample on which both verdicts
fail, and ends on the second in a row. Right after a step the median still holds the
old values, so without this one noisy sample (HR 43 +/- 1 reading 45) restarted
``hr.low``'s 15 s delay before the median had crossed, and the alarm came 6 s late. A
rule fires only while both the held raw sample and the median meet the condition, so
the grace never fires a rule on a failing value. Resolution runs take no grace.

>>> run = SustainedRun()
>>> for t, meets in [(0, True), (1, True), (2, False), (3, True)]:
...     run.feed(t, raw=meets, smoothed=meets)
>>> run.since, run.held_for(5.0)
(3, 2.0)
"""

from __future__ import annotations

import math
import statistics
from bisect import bisect_left, insort
from collections import deque

#: Deadlines are brought forward by this much before a check is skipped, so float
#: rounding in ``since + delay`` never skips a check ``now - since >= delay`` would
#: pass (times stay far below 1e12 s).
TIME_SLACK_S = 1e-3

#: A range of values, ``(lo, hi)``, both ends included; ``lo > hi`` is empty.
Region = tuple[float, float]

#: No value at all.
EMPTY: Region = (math.inf, -math.inf)


class SustainedRun:
    """How long a condition has held on a continuous signal."""

    __slots__ = ("since",)

    def __init__(self) -> None:
        #: Receive time of the sample that started the run; ``None``: no run.
        self.since: float | None = None

    def feed(self, t: float, *, raw: bool, smoothed: bool) -> None:
        """Take one sample's verdicts: on the raw value and on the smoothed one."""
        if self.since is None:
            if raw:
                self.since = t
        elif not raw and not smoothed:
            self.since = None

    def held_for(self, now: float) -> float:
        """Seconds the run has lasted at ``now`` (0 without a run)."""
        return 0.0 if self.since is None else now - self.since

    def reset(self) -> None:
        """End the run (gap, suspension, or the rule changed state)."""
        self.since = None


class TolerantRun(SustainedRun):
    """A ``SustainedRun`` that ends on the second failing sample in a row."""

    __slots__ = ("missed",)

    def __init__(self) -> None:
        super().__init__()
        #: The last sample failed both verdicts (one more ends the run).
        self.missed = False

    def feed(self, t: float, *, raw: bool, smoothed: bool) -> None:
        """Take one sample's verdicts: on the raw value and on the smoothed one."""
        if self.since is None:
            if raw:
                self.since = t
        elif raw or smoothed:
            self.missed = False
        elif self.missed:
            self.since = None
            self.missed = False
        else:
            self.missed = True

    def reset(self) -> None:
        """End the run (gap, suspension, or the rule changed state)."""
        self.since = None
        self.missed = False


class SignalTrack:
    """One continuous metric: the held sample, its median window, its ordering.

    With ``keep_median`` the window's values are also kept sorted as samples enter
    and leave it, so the median is one index away instead of a sort per sample.
    Among equal values the sorted list keeps arrival order (insertion after equals,
    removal of the first equal), which is what sorting the window gives, so the
    median is the very same object ``statistics.median`` returns. A NaN in the
    window (nothing is ordered against it) falls back to ``statistics.median``.
    """

    __slots__ = (
        "_hold_s",
        "_keep",
        "_median",
        "_nans",
        "_samples",
        "_sorted",
        "_window_s",
        "last_t",
        "value",
        "value_t",
    )

    def __init__(
        self, *, median_window_s: float, hold_s: float, keep_median: bool = True
    ) -> None:
        self._window_s = median_window_s
        #: Keep the window sorted (``False``: nothing asks for the median often).
        self._keep = keep_median
        self._hold_s = hold_s
        self._samples: deque[tuple[float, float]] = deque()
        self._sorted: list[float] = []
        #: NaN values in the window (they cannot be kept in order).
        self._nans = 0
        #: The window's median, or ``None`` until asked for after a change.
        self._median: float | None = None
        #: Receive time of the latest reading of any status (ordering).
        self.last_t: float | None = None
        #: The latest usable value; ``None`` while suspended or before any.
        self.value: float | None = None
        #: Receive time of ``value``.
        self.value_t = 0.0

    def put(self, t: float, value: float) -> None:
        """A usable sample."""
        self.last_t = t
        self.value = value
        self.value_t = t
        samples = self._samples
        samples.append((t, value))
        self._median = None
        oldest = t - self._window_s
        if not self._keep:
            while samples[0][0] <= oldest:
                samples.popleft()
            return
        ordered = self._sorted
        if math.isnan(value):
            self._nans += 1
        else:
            insort(ordered, value)
        while samples[0][0] <= oldest:
            _, gone = samples.popleft()
            if math.isnan(gone):
                self._nans -= 1
            else:
                del ordered[bisect_left(ordered, gone)]

    def suspend(self, t: float) -> None:
        """A reading without a usable value: nothing is held any more."""
        self.last_t = t
        self.value = None

    def live(self, now: float) -> bool:
        """Whether a usable sample stands for the signal at ``now``."""
        return self.value is not None and now - self.value_t <= self._hold_s

    def median(self) -> float:
        """Median of the samples in the window ending at the latest sample.

        >>> track = SignalTrack(median_window_s=10, hold_s=3)
        >>> for t, v in enumerate([80, 80, 200, 80, 81]):
        ...     track.put(float(t), v)
        >>> track.median()
        80
        """
        median = self._median
        if median is None:
            median = self._median = self._compute_median()
        return median

    def _compute_median(self) -> float:
        if self._nans or not self._keep:
            return statistics.median(v for _, v in self._samples)
        ordered = self._sorted
        n = len(ordered)
        if n % 2:
            return ordered[n // 2]
        i = n // 2
        return (ordered[i - 1] + ordered[i]) / 2
