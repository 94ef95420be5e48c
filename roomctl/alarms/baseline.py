"""The session baseline: computed from pre-dose readings, confirmed by a nurse.

Layer: pure core. alarm-policy.md, "Baseline":

- SBP and DBP: the median of >= 2 plausible pre-dose NIBP readings at least 3 min
  apart. Decision: every plausible pre-dose reading counts (STAT repeats included), as
  long as the earliest and the latest are at least 3 min apart; SBP and DBP are
  medians of their own.
- HR and SpO2: the median of the valid samples in the last 3 min before dosing.
  Decision: the samples must cover at least ``min_coverage_s`` of those 3 min
  (each sample standing for at most the sample hold), or the part is missing.
- A nurse confirms the computed baseline or overrides values with a reason; the
  confirmation keeps the values as they stood then (what the nurse saw), the snapshot
  keeps what roomctl computed beside them. A part missing at confirmation stays
  missing unless overridden; confirming nothing at all is refused.
- At dose start the computation freezes. Unconfirmed, it is used and marked so. A nurse
  may still confirm or override afterwards; the relative rules use the new values from
  then on.

>>> from roomctl.alarms.policy import BaselinePolicy
>>> builder = BaselineBuilder(BaselinePolicy(), hold_s=3)
>>> builder.add_bp(0.0, 148, 94)
>>> builder.add_bp(240.0, 146, 92)
>>> builder.bp()
(147.0, 93.0)
"""

from __future__ import annotations

import dataclasses
import statistics
from collections import deque
from typing import TYPE_CHECKING

from roomctl.alarms.state import BaselineStatus, BaselineValues
from roomctl.readings import Metric

if TYPE_CHECKING:
    from collections.abc import Mapping

    from roomctl.alarms.policy import BaselinePolicy
    from roomctl.events import Role

#: Override argument -> ``BaselineValues`` field (contracts.md §2 ``baseline_confirm``).
OVERRIDE_FIELDS: dict[str, str] = {
    "sbp": "sbp_mmhg",
    "dbp": "dbp_mmhg",
    "hr": "hr_bpm",
    "spo2": "spo2_percent",
}


_PR, _SPO2 = Metric.PULSE_RATE_BPM, Metric.SPO2_PERCENT

#: Every part of a baseline, as ``BaselineValues.missing`` names them.
ALL_PARTS = ("bp", "hr", "spo2")


class BaselineBuilder:
    """Pre-dose readings, and the baseline they give."""

    def __init__(self, policy: BaselinePolicy, *, hold_s: float) -> None:
        self._policy = policy
        self._hold_s = hold_s
        self._bp: list[tuple[float, float, float]] = []
        self._window_s = policy.window_s
        self._pr: deque[tuple[float, float]] = deque()
        self._spo2: deque[tuple[float, float]] = deque()
        self._samples: dict[Metric, deque[tuple[float, float]]] = {
            Metric.PULSE_RATE_BPM: self._pr,
            Metric.SPO2_PERCENT: self._spo2,
        }

    def add_bp(self, t: float, sbp: float, dbp: float) -> None:
        """A plausible pre-dose NIBP reading."""
        self._bp.append((t, sbp, dbp))

    def add_sample(self, metric: Metric, t: float, value: float) -> None:
        """A valid pre-dose HR or SpO2 sample."""
        if metric is _PR:
            samples = self._pr
        elif metric is _SPO2:
            samples = self._spo2
        else:
            samples = self._samples[metric]
        samples.append((t, value))
        while samples[0][0] < t - self._window_s - self._hold_s:
            samples.popleft()

    def bp(self) -> tuple[float, float] | None:
        """The BP baseline (SBP, DBP), or ``None`` without enough readings."""
        policy = self._policy
        if len(self._bp) < policy.bp_min_readings:
            return None
        times = [t for t, _, _ in self._bp]
        if max(times) - min(times) < policy.bp_min_spacing_s:
            return None
        return (
            float(statistics.median(s for _, s, _ in self._bp)),
            float(statistics.median(d for _, _, d in self._bp)),
        )

    def median(self, metric: Metric, now: float) -> float | None:
        """The HR or SpO2 baseline at ``now``, or ``None`` without enough samples."""
        start = now - self._policy.window_s
        inside = [(t, v) for t, v in self._samples[metric] if start <= t <= now]
        if not inside:
            return None
        ends = [t for t, _ in inside[1:]] + [now]
        covered = sum(
            min(end - t, self._hold_s) for (t, _), end in zip(inside, ends, strict=True)
        )
        if covered < self._policy.min_coverage_s:
            return None
        return float(statistics.median(v for _, v in inside))

    def compute(self, now: float) -> BaselineValues:
        """Every part of the baseline at ``now``."""
        bp = self.bp()
        return BaselineValues(
            sbp_mmhg=None if bp is None else bp[0],
            dbp_mmhg=None if bp is None else bp[1],
            hr_bpm=self.median(Metric.PULSE_RATE_BPM, now),
            spo2_percent=self.median(Metric.SPO2_PERCENT, now),
        )


class Baseline:
    """The baseline in force, with its confirmation record."""

    def __init__(self, builder: BaselineBuilder, policy: BaselinePolicy) -> None:
        self.builder = builder
        self._policy = policy
        self._frozen: BaselineValues | None = None
        self._confirmed: BaselineValues | None = None
        self.status = BaselineStatus.UNCONFIRMED
        self.confirmed_by: Role | None = None
        self.confirmed_mono: float | None = None
        self.override_reason: str | None = None
        self.overridden: tuple[str, ...] = ()

    @property
    def frozen(self) -> bool:
        """Dose start froze the computation."""
        return self._frozen is not None

    def computed(self, now: float) -> BaselineValues:
        """What roomctl computed: frozen at dose start, live before."""
        if self._frozen is not None:
            return self._frozen
        return self.builder.compute(now)

    def effective(self, now: float) -> BaselineValues:
        """The values the rules use."""
        if self._confirmed is not None:
            return self._confirmed
        return self.computed(now)

    def bp(self) -> tuple[float, float] | None:
        """The BP baseline in force (cheap: no HR/SpO2 medians)."""
        source = self._confirmed or self._frozen
        if source is None:
            return self.builder.bp()
        if source.sbp_mmhg is None or source.dbp_mmhg is None:
            return None
        return source.sbp_mmhg, source.dbp_mmhg

    def freeze(self, now: float) -> None:
        """Dose start: the computation stops here."""
        self._frozen = self.builder.compute(now)

    def confirm(
        self,
        now: float,
        *,
        by: Role | None,
        overrides: Mapping[str, float],
        reason: str | None,
    ) -> str | None:
        """Confirm the computed baseline, with optional overrides; or say why not."""
        if overrides and not reason:
            return "Overriding the baseline needs a reason."
        values = dataclasses.replace(
            self.computed(now),
            **{OVERRIDE_FIELDS[name]: value for name, value in overrides.items()},
        )
        if values.missing == ALL_PARTS:
            policy = self._policy
            return (
                "There is no baseline to confirm yet: BP needs "
                f"{policy.bp_min_readings} plausible readings at least "
                f"{policy.bp_min_spacing_s / 60:g} min apart, HR and SpO2 need "
                f"{policy.min_coverage_s:g} s of valid samples in the last "
                f"{policy.window_s / 60:g} min. Enter the values with a reason to "
                "override."
            )
        self._confirmed = values
        self.status = (
            BaselineStatus.OVERRIDDEN if overrides else BaselineStatus.CONFIRMED
        )
        self.confirmed_by = by
        self.confirmed_mono = now
        self.override_reason = reason if overrides else None
        self.overridden = tuple(sorted(overrides))
        return None
