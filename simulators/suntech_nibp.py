"""Device-side model of a SunTech Advantage OEM NIBP module.

Pure module: a ``simulators.model.DeviceModel``. Runners pace it in real time. It
answers host commands the way protocols.md §2.1 describes the module, using the
codec's own decoder and encoders (``roomctl.devices.suntech_nibp.protocol``), so the
wire format lives in one place (style.md §2.13).

Behaviour, in scenario time (``t_s``):

- start BP (any patient mode): ``O``; a determination then lasts
  ``scenario.nibp_inflate_s``. The cuff inflates linearly to about systolic + 30 mmHg
  in the first third, then deflates in 8 mmHg steps down to about diastolic - 20;
  when it ends the module sends ``K`` and stores the result;
- start BP while a determination runs: ``B`` (busy);
- abort: ``A``; a running determination stops at once (the cuff is released, so the
  model is idle) and the stored result becomes error 86, "BP terminated by user";
- get cuff pressure: the current pressure, or -1 (not available) when idle;
- get BP data: the stored result; all zeros before the first determination and
  while one runs (a new start clears the old result);
- get return string: ``VERSION_TEXT`` (``LX`` = Advantage);
- module status, set initial inflate, control pneumatics, reset: ``O`` (reset also
  stops a determination without a result). The module-status reply layout is not in
  our sources [I], so the model only acknowledges it;
- an unknown command, or bytes the command decoder had to drop: ``N`` (one per
  ``receive`` call that carried undecodable bytes).

The result is computed when the determination completes, at its completion time:

1. the first ``scenario.nibp_readings`` entry (by ``t_s``) not yet used whose
   ``t_s`` is at or before completion: its numbers and its own error flag, MAP by
   the one-third rule and pulse from the vitals when the entry leaves them out;
2. else, when ``scenario.nibp_error_at(completion)`` is not 0: that error code and
   zeros;
3. else the scenario's vitals with ``Jitter(seed, "suntech")`` noise.

Replies leave in order, each about ``ACK_DELAY_S`` or ``REPLY_DELAY_S`` after the
command that asked for it. Deterministic: noise is drawn only at completions, which
happen in time order, so the same scenario, seed and ``receive`` calls give the same
bytes however ``emit`` is called.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, assert_never

from roomctl.devices.suntech_nibp.protocol import (
    ERROR_ABORTED,
    AbortBp,
    AckCode,
    BpData,
    ControlPneumatics,
    CuffPressure,
    GetBpData,
    GetCuffPressure,
    GetModuleStatus,
    GetReturnString,
    Reset,
    ReturnString,
    SetInitialInflate,
    StartBp,
    SuntechAck,
    SuntechCommandDecoder,
    UnknownCommand,
)
from simulators.scenarios import Jitter

if TYPE_CHECKING:
    from roomctl.devices.suntech_nibp.protocol import HostCommand, SuntechResponse
    from simulators.scenarios import NibpResult, Scenario

#: The model's return string: ``LX`` marks an Advantage (protocols.md §2.1); the rest
#: is ours (the real version numbering is not in our sources).
VERSION_TEXT = "LX01.00 roomctl-sim"

#: Delay from a command to its acknowledgement, seconds. Our choice [I]: a 4-byte ack
#: takes about 4 ms on the wire at 9600 baud, plus the module's own processing.
ACK_DELAY_S = 0.05
#: Delay from a command to its data reply (cuff pressure, BP data, return string).
REPLY_DELAY_S = 0.05

#: Share of the determination spent inflating; the rest deflates stepwise.
INFLATE_FRACTION = 1 / 3
#: How far above systolic the cuff inflates, mmHg.
OVERSHOOT_MMHG = 30
#: Deflation step, mmHg (oscillometric step deflation).
DEFLATE_STEP_MMHG = 8
#: How far below diastolic the deflation goes before the module decides, mmHg.
UNDERSHOOT_MMHG = 20
#: Standard deviation of the noise on systolic and diastolic results, mmHg.
BP_JITTER_MMHG = 2.0

_NO_RESULT = BpData(systolic_mmhg=0, diastolic_mmhg=0, map_mmhg=0, heart_rate_bpm=0)
_U16_MAX = 0xFFFF
_U8_MAX = 0xFF


def _clamp(value: float, high: int) -> int:
    return min(max(round(value), 0), high)


def _one_third_map(systolic: int, diastolic: int) -> int:
    return round(diastolic + (systolic - diastolic) / 3)


@dataclass(frozen=True, slots=True, kw_only=True)
class _Determination:
    """One running determination."""

    start_s: float
    end_s: float
    peak_mmhg: int
    floor_mmhg: int

    def cuff_mmhg(self, t_s: float) -> int:
        """Cuff pressure at ``t_s``: linear inflation, then stepwise deflation."""
        duration_s = self.end_s - self.start_s
        if duration_s <= 0:
            return 0
        inflate_s = duration_s * INFLATE_FRACTION
        elapsed_s = max(t_s - self.start_s, 0.0)
        if elapsed_s < inflate_s:
            return round(self.peak_mmhg * elapsed_s / inflate_s)
        span = max(self.peak_mmhg - self.floor_mmhg, 0)
        steps = max(math.ceil(span / DEFLATE_STEP_MMHG), 1)
        step_s = (duration_s - inflate_s) / steps
        done = int((elapsed_s - inflate_s) / step_s)
        return max(self.floor_mmhg, self.peak_mmhg - DEFLATE_STEP_MMHG * done)


class SuntechModel:
    """A simulated SunTech Advantage module playing one scenario.

    Args:
        scenario: the patient and device timeline.
        seed: noise seed; the same seed gives the same results.
    """

    def __init__(self, scenario: Scenario, seed: int = 0) -> None:
        self._scenario = scenario
        self._jitter = Jitter(seed, "suntech")
        self._decoder = SuntechCommandDecoder()
        # Replies in send order, each with its release time (non-decreasing).
        self._outbox: deque[tuple[float, bytes]] = deque()
        self._last_release_s = -math.inf
        self._running: _Determination | None = None
        self._result = _NO_RESULT
        self._scripted = sorted(scenario.nibp_readings, key=lambda entry: entry.t_s)
        self._used = [False] * len(self._scripted)
        #: The last initial-inflate pressure the host set, mmHg (not used further).
        self.initial_inflate_mmhg: int | None = None
        #: Determinations completed (with or without an error code).
        self.completed = 0

    @property
    def measuring(self) -> bool:
        """Whether a determination is running (after the last ``receive``/``emit``)."""
        return self._running is not None

    def receive(self, data: bytes, t_s: float) -> None:
        """Bytes from the host arrived at scenario time ``t_s``."""
        self._advance(t_s)
        dropped = self._decoder.stats.dropped_bytes
        commands = self._decoder.feed(data)
        if self._decoder.stats.dropped_bytes > dropped:
            self._reply(t_s + ACK_DELAY_S, SuntechAck(code=AckCode.UNDEFINED_COMMAND))
        for command in commands:
            self._handle(command, t_s)

    def emit(self, until_s: float) -> bytes:
        """Every reply due by ``until_s`` that has not been sent yet."""
        self._advance(until_s)
        out = bytearray()
        while self._outbox and self._outbox[0][0] <= until_s:
            out += self._outbox.popleft()[1]
        return bytes(out)

    # -------------------------------------------------------------- internals

    def _reply(self, at_s: float, response: SuntechResponse) -> None:
        # A serial device answers in order: never release before an earlier reply.
        release_s = max(at_s, self._last_release_s)
        self._last_release_s = release_s
        self._outbox.append((release_s, response.encode()))

    def _ack(self, t_s: float, code: AckCode) -> None:
        self._reply(t_s + ACK_DELAY_S, SuntechAck(code=code))

    def _advance(self, t_s: float) -> None:
        """Complete the running determination if it ended by ``t_s``."""
        running = self._running
        if running is None or running.end_s > t_s:
            return
        self._running = None
        self._result = self._result_at(running.end_s)
        self.completed += 1
        self._reply(running.end_s, SuntechAck(code=AckCode.COMPLETE))

    def _handle(self, command: HostCommand, t_s: float) -> None:
        match command:
            case StartBp():
                self._start(t_s)
            case AbortBp():
                self._abort(t_s)
            case GetCuffPressure():
                running = self._running
                mmhg = None if running is None else running.cuff_mmhg(t_s)
                self._reply(t_s + REPLY_DELAY_S, CuffPressure(mmhg=mmhg))
            case GetBpData():
                self._reply(t_s + REPLY_DELAY_S, self._result)
            case GetReturnString():
                self._reply(t_s + REPLY_DELAY_S, ReturnString(text=VERSION_TEXT))
            case Reset():
                self._running = None
                self._result = _NO_RESULT
                self._ack(t_s, AckCode.RECEIVED)
            case SetInitialInflate(pressure_mmhg=pressure):
                self.initial_inflate_mmhg = pressure
                self._ack(t_s, AckCode.RECEIVED)
            case GetModuleStatus() | ControlPneumatics():
                self._ack(t_s, AckCode.RECEIVED)
            case UnknownCommand():
                self._ack(t_s, AckCode.UNDEFINED_COMMAND)
            case _:
                assert_never(command)

    def _start(self, t_s: float) -> None:
        if self._running is not None:
            self._ack(t_s, AckCode.BUSY)
            return
        self._ack(t_s, AckCode.RECEIVED)
        end_s = t_s + self._scenario.nibp_inflate_s
        # The cuff profile follows what the result will be (peeked, not consumed).
        scripted = self._scripted_index(end_s)
        vitals = self._scenario.vitals_at(end_s)
        systolic = (
            self._scripted[scripted].systolic_mmhg
            if scripted is not None
            else vitals.systolic_mmhg
        )
        diastolic = (
            self._scripted[scripted].diastolic_mmhg
            if scripted is not None
            else vitals.diastolic_mmhg
        )
        self._result = _NO_RESULT
        self._running = _Determination(
            start_s=t_s,
            end_s=end_s,
            peak_mmhg=round(systolic) + OVERSHOOT_MMHG,
            floor_mmhg=max(round(diastolic) - UNDERSHOOT_MMHG, 0),
        )

    def _abort(self, t_s: float) -> None:
        if self._running is not None:
            # The module's own code for a determination stopped by the host.
            self._running = None
            self._result = BpData(
                systolic_mmhg=0,
                diastolic_mmhg=0,
                map_mmhg=0,
                heart_rate_bpm=0,
                error_code=ERROR_ABORTED,
            )
        self._ack(t_s, AckCode.ABORTED)

    def _scripted_index(self, t_s: float) -> int | None:
        for index, entry in enumerate(self._scripted):
            if entry.t_s > t_s:
                return None
            if not self._used[index]:
                return index
        return None

    def _result_at(self, t_s: float) -> BpData:
        """The result of a determination completing at ``t_s``."""
        scripted = self._scripted_index(t_s)
        if scripted is not None:
            self._used[scripted] = True
            return self._scripted_result(self._scripted[scripted], t_s)
        code = self._scenario.nibp_error_at(t_s)
        if code:
            return BpData(
                systolic_mmhg=0,
                diastolic_mmhg=0,
                map_mmhg=0,
                heart_rate_bpm=0,
                error_code=code,
            )
        vitals = self._scenario.vitals_at(t_s)
        systolic = _clamp(
            vitals.systolic_mmhg + self._jitter.gauss(BP_JITTER_MMHG), _U16_MAX
        )
        diastolic = _clamp(
            vitals.diastolic_mmhg + self._jitter.gauss(BP_JITTER_MMHG), _U16_MAX
        )
        heart_rate = _clamp(
            vitals.pulse_rate_bpm + self._jitter.gauss(self._scenario.hr_jitter_bpm),
            _U8_MAX,
        )
        return BpData(
            systolic_mmhg=systolic,
            diastolic_mmhg=diastolic,
            map_mmhg=_one_third_map(systolic, diastolic),
            heart_rate_bpm=heart_rate,
            beats=self._beats(heart_rate),
        )

    def _scripted_result(self, entry: NibpResult, t_s: float) -> BpData:
        heart_rate = (
            entry.pulse_rate_bpm
            if entry.pulse_rate_bpm is not None
            else round(self._scenario.vitals_at(t_s).pulse_rate_bpm)
        )
        map_mmhg = (
            entry.map_mmhg
            if entry.map_mmhg is not None
            else _one_third_map(entry.systolic_mmhg, entry.diastolic_mmhg)
        )
        return BpData(
            systolic_mmhg=_clamp(entry.systolic_mmhg, _U16_MAX),
            diastolic_mmhg=_clamp(entry.diastolic_mmhg, _U16_MAX),
            map_mmhg=_clamp(map_mmhg, _U16_MAX),
            heart_rate_bpm=_clamp(heart_rate, _U8_MAX),
            beats=self._beats(heart_rate),
            error_code=_clamp(entry.error_code, _U8_MAX),
        )

    def _beats(self, heart_rate_bpm: float) -> int:
        """Beats the module would count while deflating."""
        deflate_s = self._scenario.nibp_inflate_s * (1 - INFLATE_FRACTION)
        return _clamp(heart_rate_bpm * deflate_s / 60, _U8_MAX)
