"""Technical rules: oximeter signal quality, SpO2/PR data freshness, device links.

Layer: pure core. These rows of the policy table describe the equipment, not the
patient; they make missing data a state, never a silence (style.md §2.0 rule 4).

Decisions on the policy's ambiguities:

- Oximeter statuses. ``SENSOR_OFF``, ``SEARCHING``, ``LOW_PERFUSION``, ``ARTIFACT`` and
  ``QUESTIONABLE`` are signal-quality INOPs: they raise ``tech.spo2.signal`` and
  suspend that metric's physiological rules, and they count as frames for data
  freshness (the device is talking). ``UNAVAILABLE`` and ``DEVICE_ERROR`` carry no value
  and no signal verdict: they neither refresh the stream nor clear the signal alarm.
  Freshness is judged on the SpO2 metric, which every supported oximeter sends in the
  same frame as PR; the signal verdict on the worse of SpO2 and PR.
- ``tech.spo2.signal`` persists from its first bad frame until the signal has been valid
  for 10 s; it escalates once that episode is 30 s old while the signal is still bad
  (60 s while the NIBP cuff inflates on the same limb, i.e. a cuff pressure above
  20 mmHg was reported in the last ``cuff_recent_s``).
- ``tech.spo2.data_lost`` counts from the last valid frame (or from the engine's start
  before any frame): LOW at 10 s, MEDIUM at 30 s (15 s during the infusion); once
  frames come back it clears after 5 s of frames without a gap longer than the sample
  hold. Its text keeps the length of the gap, so the clearing event logs it.
- ``tech.record`` (roomctl's own row, not alarm-policy.md's) holds while some part of
  the session record (the database, the capture file) has failed to write for
  ``delay_s``; it clears once every part is written again. The first reason given
  stays in its text until the part is written again, so the text does not change
  while the fault lasts.
- A link with no news yet counts as healthy; a device that never connects shows up as
  ``tech.spo2.data_lost`` or ``tech.nibp.overdue`` instead. A link that is up but
  garbled (``decoder_errors`` above the ratio) is unhealthy like a lost one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from roomctl.alarms.board import Assertion
from roomctl.events import AlarmKind
from roomctl.readings import LinkState, Metric, ReadingStatus

if TYPE_CHECKING:
    from roomctl.alarms.policy import (
        LinkPolicy,
        RecordPolicy,
        Spo2DataPolicy,
        Spo2SignalPolicy,
    )

#: Oximeter statuses that are signal-quality INOPs, and their display text.
SIGNAL_TEXT: dict[ReadingStatus, str] = {
    ReadingStatus.SENSOR_OFF: "SpO2 sensor off",
    ReadingStatus.SEARCHING: "SpO2 searching for pulse",
    ReadingStatus.LOW_PERFUSION: "SpO2 low perfusion",
    ReadingStatus.ARTIFACT: "SpO2 noisy",
    ReadingStatus.QUESTIONABLE: "SpO2 signal questionable",
}


class SignalQualityRule:
    """``tech.spo2.signal``."""

    def __init__(self, policy: Spo2SignalPolicy) -> None:
        self._policy = policy
        self.bad: dict[Metric, ReadingStatus] = {}
        self._last = ReadingStatus.ARTIFACT
        #: Start of the current bad-signal episode; ``None``: no episode.
        self.since: float | None = None
        self._ok_since: float | None = None
        self._escalated = False
        self._limit = policy.escalate_after_s
        self._age = 0.0

    def status(self, t: float, metric: Metric, status: ReadingStatus) -> None:
        """Take the status of one oximeter reading."""
        if status in SIGNAL_TEXT:
            self.bad[metric] = status
            self._last = status
            self._ok_since = None
            if self.since is None:
                self.since = t
        elif status is ReadingStatus.OK:
            self.bad.pop(metric, None)
            if not self.bad and self.since is not None and self._ok_since is None:
                self._ok_since = t

    def advance(self, now: float, *, cuff_inflating: bool, live: bool) -> None:
        """Escalate or clear at ``now``."""
        if self.since is None:
            return
        policy = self._policy
        if self.bad:
            self._limit = (
                policy.escalate_during_nibp_s
                if cuff_inflating
                else policy.escalate_after_s
            )
            self._age = now - self.since
            if self._age >= self._limit:
                self._escalated = True
        elif not live:
            # "Valid signal" means values the rules can judge: a gap restarts it.
            self._ok_since = None
        elif (
            self._ok_since is not None and now - self._ok_since >= policy.clear_after_s
        ):
            self.since = None
            self._ok_since = None
            self._escalated = False

    def shown(self) -> tuple[object, ...] | None:
        """What ``assertion`` is made of (equal: the same assertion)."""
        if self.since is None:
            return None
        age = f"{self._age:.0f}" if self._escalated else None
        return self._last, self._escalated, age, self._limit

    def assertion(self) -> Assertion | None:
        """The condition in force, if any."""
        if self.since is None:
            return None
        policy = self._policy
        text = SIGNAL_TEXT[self._last]
        if self._escalated:
            text += f" for {self._age:.0f} s"
        return Assertion(
            code="tech.spo2.signal",
            priority=policy.escalated_priority if self._escalated else policy.priority,
            kind=AlarmKind.TECHNICAL,
            text=text,
            value=self._last.value,
            limit=self._limit,
            resolution=f"valid SpO2 signal for {policy.clear_after_s:g} s",
        )


class DataLostRule:
    """``tech.spo2.data_lost``."""

    def __init__(self, policy: Spo2DataPolicy, *, start: float) -> None:
        self._policy = policy
        #: Receive time of the latest valid frame (the engine's start before any).
        self.last_frame = start
        self._gap_start = start
        self._resume_since: float | None = None
        self.active = False
        self._escalated = False
        self._now = start

    def frame(self, t: float) -> None:
        """A valid oximeter frame arrived (received at ``t``)."""
        if self.active and (
            self._resume_since is None
            or t - self.last_frame > self._policy.sample_hold_s
        ):
            self._resume_since = t
        self.last_frame = max(self.last_frame, t)

    def advance(self, now: float, *, during_infusion: bool) -> None:
        """Raise, escalate or clear at ``now``."""
        policy = self._policy
        self._now = now
        age = now - self.last_frame
        if age > policy.sample_hold_s:
            self._resume_since = None
        if not self.active and age >= policy.low_after_s:
            self.active = True
            self._gap_start = self.last_frame
        if not self.active:
            return
        medium_after = (
            policy.medium_during_infusion_s
            if during_infusion
            else policy.medium_after_s
        )
        if age >= medium_after:
            self._escalated = True
        if (
            self._resume_since is not None
            and now - self._resume_since >= policy.clear_after_s
        ):
            self.active = False
            self._escalated = False
            self._resume_since = None

    def shown(self) -> tuple[object, ...] | None:
        """What ``assertion`` is made of (equal: the same assertion)."""
        if not self.active:
            return None
        end = self._now if self._resume_since is None else self._resume_since
        gap = end - self._gap_start
        return self._escalated, f"{gap:.0f}", round(gap, 1)

    def assertion(self) -> Assertion | None:
        """The condition in force, if any."""
        if not self.active:
            return None
        policy = self._policy
        end = self._now if self._resume_since is None else self._resume_since
        gap = end - self._gap_start
        return Assertion(
            code="tech.spo2.data_lost",
            priority=policy.escalated_priority if self._escalated else policy.priority,
            kind=AlarmKind.TECHNICAL,
            text=f"SpO2/PR data lost for {gap:.0f} s",
            value=round(gap, 1),
            limit=policy.low_after_s,
            resolution=f"valid SpO2/PR frames for {policy.clear_after_s:g} s",
        )


class LinkRule:
    """``tech.link.<device>``."""

    def __init__(self, device: str, policy: LinkPolicy) -> None:
        self.device = device
        self._policy = policy
        self._state = LinkState.UP
        self._error_ratio = 0.0
        self._changed_at = 0.0
        self.active = False

    @property
    def healthy(self) -> bool:
        """Port open and parsing cleanly.

        A stream that stops with the port open (``stale``) is not a link fault: the
        policy's link row names a closed port and parse errors, and the data-freshness
        rows (``tech.spo2.data_lost``, ``tech.nibp.overdue``) own a silent device, so
        one fault never raises two MEDIUM technical alarms (alarm-research.md §6,
        scenario 10).
        """
        return (
            self._state is not LinkState.LOST
            and self._error_ratio <= self._policy.parse_error_ratio
        )

    def _update(self, now: float, state: LinkState, ratio: float) -> None:
        was = self.healthy
        self._state = state
        self._error_ratio = ratio
        if self.healthy != was:
            self._changed_at = now

    def link(self, state: LinkState, now: float) -> None:
        """The link went up, was lost or went stale."""
        self._update(now, state, self._error_ratio)

    def errors(self, ratio: float, now: float) -> None:
        """The share of frames failing to parse over the supervisor's window."""
        self._update(now, self._state, ratio)

    def advance(self, now: float) -> None:
        """Raise or clear at ``now``."""
        policy = self._policy
        held = now - self._changed_at
        if not self.active and not self.healthy and held >= policy.delay_s:
            self.active = True
        elif self.active and self.healthy and held >= policy.clear_after_s:
            self.active = False

    def assertion(self) -> Assertion | None:
        """The condition in force, if any."""
        if not self.active:
            return None
        if self._state is LinkState.UP:
            what = f"{self._error_ratio:.0%} of frames fail to parse"
        else:
            what = f"link {self._state.value}"
        return Assertion(
            code=f"tech.link.{self.device}",
            priority=self._policy.priority,
            kind=AlarmKind.TECHNICAL,
            text=f"{self.device}: {what}",
            value=self._state.value
            if self._state is not LinkState.UP
            else self._error_ratio,
            limit=self._policy.delay_s,
            resolution=f"link healthy for {self._policy.clear_after_s:g} s",
        )


#: The parts of the session record, and how the alarm names them.
RECORD_PARTS: dict[str, str] = {
    "record": "Session record",
    "capture": "capture file",
}


class RecordRule:
    """``tech.record``."""

    def __init__(self, policy: RecordPolicy) -> None:
        self._policy = policy
        #: Parts failing now: the first reason in words, and since when.
        self.failing: dict[str, tuple[str, float]] = {}
        self.active = False

    def health(self, part: str, error: str | None, now: float) -> None:
        """A part of the record was written (``error`` ``None``) or failed to be.

        Raises:
            ValueError: ``part`` is not one of ``RECORD_PARTS``.
        """
        if part not in RECORD_PARTS:
            raise ValueError(f"unknown part of the record: {part!r}")
        if error is None:
            self.failing.pop(part, None)
        elif part not in self.failing:
            self.failing[part] = (error, now)

    @property
    def busy(self) -> bool:
        """Failing or alarming: ``advance`` may change something."""
        return self.active or bool(self.failing)

    def advance(self, now: float) -> None:
        """Raise or clear at ``now``."""
        if not self.failing:
            self.active = False
            return
        since = min(start for _reason, start in self.failing.values())
        if now - since >= self._policy.delay_s:
            self.active = True

    def assertion(self) -> Assertion | None:
        """The condition in force, if any."""
        if not self.active:
            return None
        parts = [part for part in RECORD_PARTS if part in self.failing]
        names = " and ".join(RECORD_PARTS[part] for part in parts)
        names = names[0].upper() + names[1:]
        reasons = sorted({reason for reason, _start in self.failing.values()})
        return Assertion(
            code="tech.record",
            priority=self._policy.priority,
            kind=AlarmKind.TECHNICAL,
            text=f"{names} not saved: {'; '.join(reasons)} (kept in memory)",
            value="+".join(parts),
            limit=self._policy.delay_s,
            resolution="the record is written again",
        )
