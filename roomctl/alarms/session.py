"""The session timeline: phases, dose start, infusion end, NIBP cycle, discharge time.

Layer: pure core. alarm-policy.md, "Session phases" and "NIBP cycle":

- Phases move forward only: preparation -> dosing -> (peak) -> (return) ->
  integration -> closed; ``peak`` and ``return`` may be skipped. Marking ``dosing`` is
  dose start (t = 0). ``closed`` follows ``integration`` when discharge-ready;
  otherwise (not ready, or an earlier phase: an aborted session) it needs a reason,
  which the snapshot keeps.
- "During infusion" runs from dose start to the infusion end: the recorded one (IV,
  ``infusion_end`` command), else dose + ``infusion_min`` for IV, else dose +
  ``other_routes_min`` (40 min) for nasal, IM and oral.
- NIBP cycle: on demand before dosing; 5 min until infusion end + 20 min; then 15 min;
  3 min while a BP rule is active or awaiting its confirming reading (in any phase
  before ``closed``: pre-dose hypertension is repeated too); none once closed.
- Minimum monitoring (discharge): IV from the infusion end, other routes from the dose.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from roomctl.events import Phase, Route

if TYPE_CHECKING:
    from collections.abc import Sequence

    from roomctl.alarms.policy import AlarmPolicy

#: Where each phase may go next, ``closed`` aside (see ``Session.refuse_move``).
NEXT_PHASES: dict[Phase, frozenset[Phase]] = {
    Phase.PREPARATION: frozenset({Phase.DOSING}),
    Phase.DOSING: frozenset({Phase.PEAK, Phase.RETURN, Phase.INTEGRATION}),
    Phase.PEAK: frozenset({Phase.RETURN, Phase.INTEGRATION}),
    Phase.RETURN: frozenset({Phase.INTEGRATION}),
    Phase.INTEGRATION: frozenset(),
    Phase.CLOSED: frozenset(),
}


class Session:
    """Phase, dose start and infusion end, and what follows from them."""

    def __init__(
        self, policy: AlarmPolicy, *, route: Route, infusion_min: float
    ) -> None:
        self._policy = policy
        self.route = route
        self.infusion_min = infusion_min
        self.phase = Phase.PREPARATION
        self.dose_mono: float | None = None
        self.recorded_infusion_end: float | None = None
        self.closed_reason: str | None = None

    @property
    def dosed(self) -> bool:
        """Whether dose start has been marked."""
        return self.dose_mono is not None

    def infusion_end(self) -> float | None:
        """The infusion end in force; ``None`` before the dose."""
        if self.dose_mono is None:
            return None
        if self.recorded_infusion_end is not None:
            return self.recorded_infusion_end
        minutes = (
            self.infusion_min
            if self.route is Route.IV
            else self._policy.infusion.other_routes_min
        )
        return self.dose_mono + minutes * 60

    def during_infusion(self, now: float) -> bool:
        """Whether ``now`` is between dose start and the infusion end."""
        end = self.infusion_end()
        return (
            end is not None
            and self.dose_mono is not None
            and self.dose_mono <= now < end
        )

    def rise_deadline(self) -> float | None:
        """When an unresolved ``bp.rise`` becomes MEDIUM "BP not resolved"."""
        rel = self._policy.bp_relative
        end = self.infusion_end()
        if self.dose_mono is None or end is None:
            return None
        if self.route is Route.IV:
            return end + rel.escalate_iv_after_infusion_end_min * 60
        return self.dose_mono + rel.escalate_after_dose_min * 60

    def discharge_earliest(self) -> float | None:
        """End of the minimum monitoring time; ``None`` before the dose."""
        discharge = self._policy.discharge
        end = self.infusion_end()
        if self.dose_mono is None or end is None:
            return None
        if self.route is Route.IV:
            return end + discharge.iv_after_infusion_end_min * 60
        minutes = {
            Route.NASAL: discharge.nasal_after_dose_min,
            Route.IM: discharge.im_after_dose_min,
            Route.ORAL: discharge.oral_after_dose_min,
        }[self.route]
        return self.dose_mono + minutes * 60

    def nibp_cycle(
        self, now: float, *, bp_rule_active: bool
    ) -> tuple[float | None, float, float]:
        """The NIBP cycle in force at ``now``, and the times it holds for.

        Returns:
            The cycle (``None``: on demand, or closed) and ``[from, until)``: the
            times over which it stays the same while nothing else changes.
        """
        schedule = self._policy.nibp_schedule
        if self.phase is Phase.CLOSED:
            return None, -math.inf, math.inf
        if bp_rule_active:
            return schedule.bp_rule_cycle_s, -math.inf, math.inf
        end = self.infusion_end()
        if end is None:
            return schedule.preparation_cycle_s, -math.inf, math.inf
        tail = end + schedule.infusion_tail_min * 60
        if now < tail:
            return schedule.infusion_cycle_s, -math.inf, tail
        return schedule.after_cycle_s, tail, math.inf

    def refuse_move(
        self, target: Phase, *, not_ready: Sequence[str], reason: str | None
    ) -> str | None:
        """Why the session cannot move to ``target`` now, in words; ``None``: it can.

        ``not_ready`` lists why the patient is not discharge-ready (empty: ready).
        """
        current = self.phase
        if target is current:
            return f"The session is already in {current}."
        if target.order < current.order:
            return (
                f"Phases only move forward: the session is in {current} and cannot go "
                f"back to {target}."
            )
        if target is Phase.CLOSED:
            if reason or (not not_ready and current is Phase.INTEGRATION):
                return None
            if current is not Phase.INTEGRATION:
                return (
                    f"The session is in {current}; closing it before integration "
                    "needs a reason."
                )
            return (
                "The patient is not discharge-ready: "
                + " ".join(not_ready)
                + " Closing now needs a reason."
            )
        if target not in NEXT_PHASES[current]:
            return f"Mark the dose (dosing) before moving to {target}."
        return None

    def move(self, target: Phase, now: float, *, reason: str | None) -> None:
        """Move to ``target`` (already checked)."""
        self.phase = target
        if target is Phase.DOSING:
            self.dose_mono = now
        if target is Phase.CLOSED:
            self.closed_reason = reason
