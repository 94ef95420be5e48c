"""NIBP rules: plausibility, and the absolute rows confirmed by a second reading.

Layer: pure core. Each NIBP reading is judged once, when it arrives; no time delay
applies, but a confirmation reading does (alarm-policy.md, "Evaluation"). A reading
that fails plausibility (``tech.nibp.questionable``) is excluded from every
physiological rule, from the baseline and from episode peaks.

The absolute rows are data (``BpRuleSpec``): levels, each a condition with the priority
of its first reading and of its confirmed state; a resolution condition counted over
consecutive readings at least ``resolve_spacing_s`` apart (a resolving reading that
comes sooner is not counted, but does not break the count; a reading that does not
resolve does).

Decisions on the policy's ambiguities:

- ``bp.high`` and ``bp.severe`` are one hypertension on two codes. A severe reading is
  judged by the severe row; while ``bp.severe`` is active, ``bp.high`` is neither raised
  nor escalated (no second card for the same readings), but it still follows the
  resolution readings. If ``bp.high`` was already active when the severe row fired, it
  keeps its card at its priority and both resolve on the same readings. The ``bp.high``
  row's escalation "a value reaching the severe row -> HIGH" is carried by the
  ``bp.severe`` code (MEDIUM at once with a STAT repeat, HIGH when confirmed), so
  consumers see the severe row under its own code.
- An unconfirmed first reading (``bp.high`` LOW, ``bp.severe`` MEDIUM, ``bp.low`` LOW)
  stays until the resolution rule is met; a later reading that does not confirm it
  does not clear it. The priority never falls while the alarm is active.
- ``bp.low``: a level is confirmed by two consecutive readings at that level or
  deeper, so HIGH needs two readings with SBP < 80 (LOW in between, as the row says).
  "Above limit + 5 mmHg" reads as SBP >= 95 and MAP >= 70. A reading without MAP is
  judged on SBP alone.
- STAT: only an *unconfirmed* severe reading asks for a STAT repeat; once confirmed,
  the 3-minute cycle continues (a STAT after every severe reading would inflate the
  cuff without pause).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING

from roomctl.alarms.board import Assertion
from roomctl.events import AlarmKind, AlarmPriority
from roomctl.readings import ReadingStatus

if TYPE_CHECKING:
    from roomctl.alarms.policy import (
        AlarmPolicy,
        BpHighPolicy,
        BpSeverePolicy,
        NibpPlausibilityPolicy,
    )
    from roomctl.readings import NibpReading


@dataclass(frozen=True, slots=True, kw_only=True)
class Bp:
    """A plausible NIBP reading's pressures (mmHg) and receive time."""

    sbp: float
    dbp: float
    map: float | None
    t: float

    @property
    def text(self) -> str:
        """``188/114``."""
        return f"{self.sbp:g}/{self.dbp:g}"


class Pressure(enum.StrEnum):
    """A pressure of a reading."""

    SBP = "sbp"
    DBP = "dbp"
    MAP = "map"


@dataclass(frozen=True, slots=True, kw_only=True)
class Term:
    """One comparison of a pressure with a limit (``sbp >= 180``)."""

    pressure: Pressure
    above: bool
    limit: float

    def holds(self, bp: Bp) -> bool | None:
        """The verdict; ``None`` when the reading has no such value (MAP)."""
        value = getattr(bp, self.pressure.value)
        if value is None:
            return None
        return bool(value >= self.limit if self.above else value < self.limit)


@dataclass(frozen=True, slots=True, kw_only=True)
class Condition:
    """Terms joined by *or* (``any_of``) or by *and*; unknown terms are skipped."""

    terms: tuple[Term, ...]
    any_of: bool

    def holds(self, bp: Bp) -> bool:
        """Whether the reading meets the condition.

        >>> high = Condition(
        ...     terms=(
        ...         Term(pressure=Pressure.SBP, above=True, limit=180),
        ...         Term(pressure=Pressure.DBP, above=True, limit=110),
        ...     ),
        ...     any_of=True,
        ... )
        >>> high.holds(Bp(sbp=172, dbp=112, map=None, t=0.0))
        True
        """
        verdicts = [v for v in (term.holds(bp) for term in self.terms) if v is not None]
        return any(verdicts) if self.any_of else all(verdicts)


@dataclass(frozen=True, slots=True, kw_only=True)
class Level:
    """One level of a confirmation rule."""

    condition: Condition
    first: AlarmPriority
    confirmed: AlarmPriority
    #: ``>= 180/110``, ``(SBP < 90 or MAP < 65)``.
    limit_text: str
    #: The limit for the event's ``limit`` field ("180/110").
    limit: str


@dataclass(frozen=True, slots=True, kw_only=True)
class BpRuleSpec:
    """An absolute BP row as data."""

    code: str
    #: Levels, lowest priority first.
    levels: tuple[Level, ...]
    confirm_readings: int
    resolve: Condition
    resolve_readings: int
    resolve_spacing_s: float
    resolution_text: str
    latch_at: AlarmPriority | None
    card_until_acknowledged: bool
    #: An unconfirmed reading of the top level asks for a STAT repeat.
    stat_on_first: bool = False
    #: Show MAP in the value ("85/55 MAP 62").
    show_map: bool = False


class BpRule:
    """One absolute BP row's state."""

    def __init__(self, spec: BpRuleSpec) -> None:
        self.spec = spec
        self._counts = [0] * len(spec.levels)
        #: Priority in force; ``None``: not active.
        self.priority: AlarmPriority | None = None
        self._level = 0
        self._resolved = 0
        self._last_resolving: float | None = None
        self._value = ""
        self.stat_wanted = False

    @property
    def active(self) -> bool:
        """Active, or awaiting its confirming reading."""
        return self.priority is not None

    def reading(self, bp: Bp, *, may_raise: bool) -> None:
        """Judge one plausible reading; ``may_raise=False`` only follows resolution."""
        spec = self.spec
        best: tuple[AlarmPriority, int] | None = None
        for index, level in enumerate(spec.levels):
            met = level.condition.holds(bp)
            self._counts[index] = self._counts[index] + 1 if met else 0
            if not met:
                continue
            confirmed = self._counts[index] >= spec.confirm_readings
            priority = level.confirmed if confirmed else level.first
            if best is None or priority.rank >= best[0].rank:
                best = (priority, index)
            top = index == len(spec.levels) - 1
            if spec.stat_on_first and top and not confirmed and may_raise:
                self.stat_wanted = True
        if best is not None and may_raise:
            self._value = self._format(bp)
            if self.priority is None or best[0].rank >= self.priority.rank:
                self.priority, self._level = best
        if self.priority is not None:
            self._follow_resolution(bp)

    def _follow_resolution(self, bp: Bp) -> None:
        spec = self.spec
        if not spec.resolve.holds(bp):
            self._resolved = 0
            self._last_resolving = None
            return
        if (
            self._last_resolving is None
            or bp.t - self._last_resolving >= spec.resolve_spacing_s
        ):
            self._resolved += 1
            self._last_resolving = bp.t
        if self._resolved >= spec.resolve_readings:
            self.priority = None
            self._counts = [0] * len(spec.levels)
            self._resolved = 0
            self._last_resolving = None

    def _format(self, bp: Bp) -> str:
        if self.spec.show_map and bp.map is not None:
            return f"{bp.text} MAP {bp.map:g}"
        return bp.text

    def assertion(self) -> Assertion | None:
        """The condition in force, if any."""
        if self.priority is None:
            return None
        spec = self.spec
        level = spec.levels[self._level]
        return Assertion(
            code=spec.code,
            priority=self.priority,
            kind=AlarmKind.PHYSIOLOGICAL,
            text=f"BP {self._value} {level.limit_text}",
            value=self._value,
            limit=level.limit,
            latch_at=spec.latch_at,
            card_until_acknowledged=spec.card_until_acknowledged,
            resolution=spec.resolution_text,
        )


def _above(sbp: float, dbp: float) -> Condition:
    return Condition(
        terms=(
            Term(pressure=Pressure.SBP, above=True, limit=sbp),
            Term(pressure=Pressure.DBP, above=True, limit=dbp),
        ),
        any_of=True,
    )


def _below_both(sbp: float, dbp: float) -> Condition:
    return Condition(
        terms=(
            Term(pressure=Pressure.SBP, above=False, limit=sbp),
            Term(pressure=Pressure.DBP, above=False, limit=dbp),
        ),
        any_of=False,
    )


def _hypertension_resolution(row: BpHighPolicy | BpSeverePolicy, suffix: str) -> str:
    return (
        f"{row.resolve_readings} readings at least {row.resolve_spacing_s:g} s apart "
        f"with SBP < {row.resolve_sbp_below_mmhg:g} and DBP < "
        f"{row.resolve_dbp_below_mmhg:g}{suffix}"
    )


def _spacing(required_s: float, tolerance_s: float) -> float:
    """The spacing a resolution rule enforces: the policy's, less the tolerance."""
    return max(0.0, required_s - tolerance_s)


def bp_specs(policy: AlarmPolicy) -> tuple[BpRuleSpec, BpRuleSpec, BpRuleSpec]:
    """The absolute BP rows: ``bp.high``, ``bp.severe``, ``bp.low``."""
    high, severe, low = policy.bp_high, policy.bp_severe, policy.bp_low
    margin = low.resolve_margin_mmhg
    tolerance = policy.nibp_schedule.spacing_tolerance_s
    high_spec = BpRuleSpec(
        code="bp.high",
        levels=(
            Level(
                condition=_above(high.sbp_mmhg, high.dbp_mmhg),
                first=high.first_priority,
                confirmed=high.confirmed_priority,
                limit_text=f">= {high.sbp_mmhg:g}/{high.dbp_mmhg:g}",
                limit=f"{high.sbp_mmhg:g}/{high.dbp_mmhg:g}",
            ),
        ),
        confirm_readings=high.confirm_readings,
        resolve=_below_both(high.resolve_sbp_below_mmhg, high.resolve_dbp_below_mmhg),
        resolve_readings=high.resolve_readings,
        resolve_spacing_s=_spacing(high.resolve_spacing_s, tolerance),
        resolution_text=_hypertension_resolution(high, ""),
        latch_at=None,
        card_until_acknowledged=high.card_until_acknowledged,
    )
    severe_spec = BpRuleSpec(
        code="bp.severe",
        levels=(
            Level(
                condition=_above(severe.sbp_mmhg, severe.dbp_mmhg),
                first=severe.first_priority,
                confirmed=severe.confirmed_priority,
                limit_text=f">= {severe.sbp_mmhg:g}/{severe.dbp_mmhg:g}",
                limit=f"{severe.sbp_mmhg:g}/{severe.dbp_mmhg:g}",
            ),
        ),
        confirm_readings=severe.confirm_readings,
        resolve=_below_both(
            severe.resolve_sbp_below_mmhg, severe.resolve_dbp_below_mmhg
        ),
        resolve_readings=severe.resolve_readings,
        resolve_spacing_s=_spacing(severe.resolve_spacing_s, tolerance),
        resolution_text=_hypertension_resolution(
            severe, ", then reset" if severe.latching else ""
        ),
        latch_at=severe.confirmed_priority if severe.latching else None,
        card_until_acknowledged=severe.card_until_acknowledged,
        stat_on_first=severe.stat_repeat,
    )
    low_spec = BpRuleSpec(
        code="bp.low",
        levels=(
            Level(
                condition=Condition(
                    terms=(
                        Term(pressure=Pressure.SBP, above=False, limit=low.sbp_mmhg),
                        Term(pressure=Pressure.MAP, above=False, limit=low.map_mmhg),
                    ),
                    any_of=True,
                ),
                first=low.first_priority,
                confirmed=low.priority,
                limit_text=f"(SBP < {low.sbp_mmhg:g} or MAP < {low.map_mmhg:g})",
                limit=f"{low.sbp_mmhg:g}/MAP {low.map_mmhg:g}",
            ),
            Level(
                condition=Condition(
                    terms=(
                        Term(
                            pressure=Pressure.SBP,
                            above=False,
                            limit=low.severe_sbp_mmhg,
                        ),
                    ),
                    any_of=True,
                ),
                first=low.first_priority,
                confirmed=low.severe_priority,
                limit_text=f"(SBP < {low.severe_sbp_mmhg:g})",
                limit=f"{low.severe_sbp_mmhg:g}",
            ),
        ),
        confirm_readings=low.confirm_readings,
        resolve=Condition(
            terms=(
                Term(pressure=Pressure.SBP, above=True, limit=low.sbp_mmhg + margin),
                Term(pressure=Pressure.MAP, above=True, limit=low.map_mmhg + margin),
            ),
            any_of=False,
        ),
        resolve_readings=low.resolve_readings,
        resolve_spacing_s=_spacing(low.resolve_spacing_s, tolerance),
        resolution_text=(
            f"{low.resolve_readings} readings with SBP >= {low.sbp_mmhg + margin:g} "
            f"and MAP >= {low.map_mmhg + margin:g}"
            + (", then reset" if low.severe_latching else "")
        ),
        latch_at=low.severe_priority if low.severe_latching else None,
        card_until_acknowledged=low.card_until_acknowledged,
        show_map=True,
    )
    return high_spec, severe_spec, low_spec


# ------------------------------------------------------------------ plausibility


def implausible(reading: NibpReading, policy: NibpPlausibilityPolicy) -> str | None:
    """Why a reading fails plausibility, in words; ``None`` when it is plausible.

    >>> from datetime import UTC, datetime
    >>> from roomctl.alarms.policy import NibpPlausibilityPolicy
    >>> from roomctl.readings import NibpReading
    >>> reading = NibpReading(
    ...     device="nibp",
    ...     systolic_mmhg=96,
    ...     diastolic_mmhg=94,
    ...     map_mmhg=95,
    ...     pulse_rate_bpm=70,
    ...     status=ReadingStatus.OK,
    ...     received_mono=0.0,
    ...     received_at=datetime(2026, 11, 21, tzinfo=UTC),
    ... )
    >>> implausible(reading, NibpPlausibilityPolicy())
    'pulse pressure 2 mmHg < 10'
    """
    sbp, dbp, mean = reading.systolic_mmhg, reading.diastolic_mmhg, reading.map_mmhg
    if reading.status is not ReadingStatus.OK or sbp is None or dbp is None:
        detail = reading.error_text or reading.status.value.replace("_", " ")
        code = "" if reading.error_code is None else f" {reading.error_code}"
        return f"device error{code}: {detail}"
    pp = sbp - dbp
    checks = (
        (
            min(sbp, dbp) <= policy.min_pressure_mmhg,
            f"pressure {min(sbp, dbp)} mmHg <= {policy.min_pressure_mmhg:g}",
        ),
        (sbp == dbp == mean, f"SBP = DBP = MAP = {sbp}"),
        (sbp <= dbp, f"SBP {sbp} <= DBP {dbp}"),
        (
            pp < policy.min_pulse_pressure_mmhg,
            f"pulse pressure {pp} mmHg < {policy.min_pulse_pressure_mmhg:g}",
        ),
        (
            pp > policy.max_pulse_pressure_mmhg,
            f"pulse pressure {pp} mmHg > {policy.max_pulse_pressure_mmhg:g}",
        ),
    )
    return next((why for failed, why in checks if failed), None)


class QuestionableRule:
    """``tech.nibp.questionable``: LOW per failure, MEDIUM after consecutive ones."""

    def __init__(self, policy: NibpPlausibilityPolicy) -> None:
        self._policy = policy
        self.failures = 0
        self._why = ""
        self._value: str | None = None

    def failed(self, why: str, value: str | None) -> None:
        """A reading failed plausibility."""
        self.failures += 1
        self._why = why
        self._value = value

    def passed(self) -> None:
        """A plausible reading arrived: the condition clears."""
        self.failures = 0

    def assertion(self) -> Assertion | None:
        """The condition in force, if any."""
        if not self.failures:
            return None
        policy = self._policy
        escalated = self.failures >= policy.escalate_after_failures
        return Assertion(
            code="tech.nibp.questionable",
            priority=policy.escalated_priority if escalated else policy.priority,
            kind=AlarmKind.TECHNICAL,
            text=f"NIBP questionable: {self._why}",
            value=self._value,
            resolution="a plausible NIBP reading arrives",
        )
