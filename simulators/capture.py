"""Captures from the simulators, in virtual time: a scenario played into a file.

Pure module apart from writing the file (no clock, no asyncio, no roomctl module that
does I/O): it writes contracts.md §2 JSON lines itself. A ``CapturePlan`` names the
scenario, the seed, the device models and the operator inputs; ``capture_lines``
turns it into the lines a daemon would have recorded in that session, and
``write_capture`` writes them. The same plan gives the same bytes.

How each device is driven, in scenario time (``t`` of a record = scenario seconds):

- oximeter (Nonin DF2, Masimo ASCII 1): what the model sent is read every
  ``OXIMETER_READ_S`` (0.1 s, a typical daemon read), one ``rx`` record per read
  that returned bytes;
- NIBP (SunTech Advantage) the way ``SuntechDriver.measure()`` does it, with ``tx``
  and ``rx`` records: start ``:20``, wait for the ``O``, then poll the cuff pressure
  and wait up to ``POLL_INTERVAL_S`` for the ``K`` after each reply, then fetch the
  BP data. Commands are spaced ``COMMAND_GAP_S`` apart. A determination starts
  ``scenario.nibp_inflate_s`` before each time of ``CapturePlan.nibp_at``, so its
  ``K`` comes at that time and the reading a fraction of a second later. A module
  that does not acknowledge within ``ACK_TIMEOUT_S`` gets an abort, as the driver
  sends one before giving up;
- ``Outage``: a device goes silent (``link=False``: the port stays open, nothing
  arrives; the NIBP module ignores the driver's commands) or its port closes
  (``link=True``: ``link`` records ``lost`` and ``up``; nothing is sent or read in
  between). Whatever a model produced in the gap is thrown away;
- operator inputs: ``op`` records, checked with the commands' own validator.

Records of the same time are written in this order: bytes, link changes, operator
inputs; so a port closes after the last read before it, and an operator input at
``t`` follows the bytes read at ``t``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from roomctl.commands import validate_command
from roomctl.devices.suntech_nibp.protocol import (
    AbortBp,
    AckCode,
    GetBpData,
    GetCuffPressure,
    StartBp,
    SuntechAck,
    SuntechDecoder,
)
from roomctl.events import Route
from roomctl.readings import ProtocolId
from simulators.masimo_ascii1 import MasimoAscii1Model
from simulators.nonin_df2 import NoninDf2Model
from simulators.suntech_nibp import SuntechModel

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence
    from pathlib import Path

    from simulators.model import DeviceModel
    from simulators.scenarios import OperatorInput, Scenario

#: The capture format written (contracts.md §2).
CAPTURE_VERSION = 1
#: Device names in the header (contracts.md §2 example; the alarm engine's defaults).
OXIMETER = "oximeter"
NIBP = "nibp"
#: The time all generated captures start at, unless the plan says otherwise.
STARTED_AT = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)

#: How often the oximeter's bytes are read (the daemon reads every 20-100 ms).
OXIMETER_READ_S = 0.1
#: The SunTech driver's timings (``roomctl.devices.suntech_nibp.driver``): the
#: cuff-pressure poll wait, the gap between commands, the acknowledgement and reply
#: deadlines.
POLL_INTERVAL_S = 0.2
COMMAND_GAP_S = 0.1
ACK_TIMEOUT_S = 1.0
REPLY_TIMEOUT_S = 1.0
#: The whole determination's deadline.
DETERMINATION_TIMEOUT_S = 180.0

#: Internal time step: the generator works in whole milliseconds (no float drift)
#: and looks for the NIBP module's replies every ``_NIBP_STEP_MS``.
_MS = 1000
_NIBP_STEP_MS = 10

# Sort ranks of records at the same time (module doc).
_BYTES, _LINK, _OP = 0, 1, 2

_START = StartBp().encode()
_POLL = GetCuffPressure().encode()
_FETCH = GetBpData().encode()
_ABORT = AbortBp().encode()


@dataclass(frozen=True, slots=True, kw_only=True)
class Outage:
    """A device gone from ``start_s`` to ``end_s`` (scenario seconds).

    ``link=False``: the device falls silent with the port open (a stalled stream, a
    module that stopped answering). ``link=True``: the port closes (a cable pulled);
    the capture records ``link`` ``lost`` at the start and ``up`` at the end.
    """

    device: str
    start_s: float
    end_s: float
    link: bool = False

    def covers(self, t_s: float) -> bool:
        """Whether ``t_s`` is inside the outage (start inclusive, end exclusive)."""
        return self.start_s <= t_s < self.end_s


@dataclass(frozen=True, slots=True, kw_only=True)
class CapturePlan:
    """Everything a capture is made from.

    Args:
        scenario: the patient and device timeline.
        seed: the noise seed for every model.
        oximeter: the oximeter's protocol; ``None`` for no oximeter.
        masimo_variant: the Masimo model's field layout (``rad8``, ``radical7``,
            ``radical5``).
        nibp: whether a SunTech NIBP module is connected.
        nibp_at: times (scenario seconds) at which determinations complete; empty:
            the times of ``scenario.nibp_readings``.
        inputs: operator inputs; ``None``: ``scenario.operator_inputs``.
        outages: device outages.
        duration_s: capture length; ``None``: ``scenario.duration_s``.
        route: the session's route (header).
        infusion_min: the planned IV infusion (header).
        room: the room name (header).
        started_at: the capture's start (header).
    """

    scenario: Scenario
    seed: int = 1
    oximeter: ProtocolId | None = ProtocolId.NONIN_DF2
    masimo_variant: str = "rad8"
    nibp: bool = True
    nibp_at: tuple[float, ...] = ()
    inputs: tuple[OperatorInput, ...] | None = None
    outages: tuple[Outage, ...] = ()
    duration_s: float | None = None
    route: Route = Route.IV
    infusion_min: float = 40.0
    room: str = "sim"
    started_at: datetime = STARTED_AT

    @property
    def length_s(self) -> float:
        """The capture's length in seconds."""
        return self.scenario.duration_s if self.duration_s is None else self.duration_s

    def determinations(self) -> tuple[float, ...]:
        """When determinations complete, in order."""
        if not self.nibp:
            return ()
        times = self.nibp_at or tuple(r.t_s for r in self.scenario.nibp_readings)
        return tuple(sorted(times))

    def operator_inputs(self) -> tuple[OperatorInput, ...]:
        """The operator inputs, in time order."""
        inputs = self.scenario.operator_inputs if self.inputs is None else self.inputs
        return tuple(sorted(inputs, key=lambda i: i.t_s))


@dataclass(slots=True)
class CaptureStats:
    """What ``write_capture`` wrote."""

    records: int = 0
    rx_bytes: dict[str, int] = field(default_factory=dict)
    determinations: int = 0


@dataclass(frozen=True, slots=True, order=True)
class _Record:
    ms: int
    rank: int
    seq: int
    text: str = field(compare=False)


def _ms(t_s: float) -> int:
    return round(t_s * _MS)


def _t_text(ms: int) -> str:
    """A time as a plain JSON number (the capture reader's fast path)."""
    return f"{ms // _MS}.{ms % _MS:03d}"


def _bytes_line(ms: int, dev: str, key: str, data: bytes) -> str:
    return f'{{"t":{_t_text(ms)},"dev":"{dev}","{key}":"{data.hex()}"}}'


def _link_line(ms: int, dev: str, state: str) -> str:
    return f'{{"t":{_t_text(ms)},"dev":"{dev}","link":"{state}"}}'


def header_line(plan: CapturePlan) -> str:
    """Line 1 of the capture (contracts.md §2)."""
    devices: dict[str, dict[str, str]] = {}
    if plan.oximeter is not None:
        devices[OXIMETER] = {"protocol": plan.oximeter.value}
    if plan.nibp:
        devices[NIBP] = {"protocol": ProtocolId.SUNTECH_ADVANTAGE.value}
    header = {
        "roomctl_capture": CAPTURE_VERSION,
        "room": plan.room,
        "started_at": plan.started_at.isoformat().replace("+00:00", "Z"),
        "devices": devices,
        "session": {"route": plan.route.value, "infusion_min": plan.infusion_min},
    }
    return json.dumps(header, separators=(",", ":"))


def _oximeter_model(plan: CapturePlan) -> DeviceModel:
    if plan.oximeter is ProtocolId.NONIN_DF2:
        return NoninDf2Model(plan.scenario, plan.seed)
    if plan.oximeter is ProtocolId.MASIMO_ASCII1:
        return MasimoAscii1Model(plan.scenario, plan.seed, plan.masimo_variant)
    raise ValueError(f"{plan.oximeter} is not an oximeter protocol")


class _Sink:
    """Collects records with their sort keys."""

    def __init__(self) -> None:
        self.records: list[_Record] = []
        self.rx_bytes: dict[str, int] = {}

    def add(self, ms: int, rank: int, text: str) -> None:
        self.records.append(_Record(ms, rank, len(self.records), text))

    def rx(self, ms: int, dev: str, data: bytes) -> None:
        self.add(ms, _BYTES, _bytes_line(ms, dev, "rx", data))
        self.rx_bytes[dev] = self.rx_bytes.get(dev, 0) + len(data)

    def tx(self, ms: int, dev: str, data: bytes) -> None:
        self.add(ms, _BYTES, _bytes_line(ms, dev, "tx", data))


def _outages(plan: CapturePlan, device: str) -> list[Outage]:
    return sorted(
        (o for o in plan.outages if o.device == device), key=lambda o: o.start_s
    )


def _links(plan: CapturePlan, sink: _Sink) -> None:
    for outage in plan.outages:
        if outage.link:
            sink.add(
                _ms(outage.start_s),
                _LINK,
                _link_line(_ms(outage.start_s), outage.device, "lost"),
            )
            sink.add(
                _ms(outage.end_s),
                _LINK,
                _link_line(_ms(outage.end_s), outage.device, "up"),
            )


def _oximeter(plan: CapturePlan, sink: _Sink) -> None:
    model = _oximeter_model(plan)
    outages = _outages(plan, OXIMETER)
    step = _ms(OXIMETER_READ_S)
    end = _ms(plan.length_s)
    ms = step
    while ms <= end:
        t_s = ms / _MS
        data = model.emit(t_s)
        gone = next((o for o in outages if o.start_s < t_s <= o.end_s), None)
        # A read in an outage finds nothing: what the model sent is lost.
        if data and gone is None:
            sink.rx(ms, OXIMETER, data)
        ms += step


class _NibpSession:
    """Drives a ``SuntechModel`` as ``SuntechDriver.measure()`` drives the module."""

    def __init__(self, plan: CapturePlan, sink: _Sink) -> None:
        self._model = SuntechModel(plan.scenario, plan.seed)
        self._decoder = SuntechDecoder()
        self._sink = sink
        self._outages = _outages(plan, NIBP)
        self._inflate_ms = _ms(plan.scenario.nibp_inflate_s)
        #: When the last command was written (ms).
        self._last_write: int | None = None
        #: Whether the module is deaf and mute now (a silent outage).
        self._silent = False
        self.completed = 0

    def _outage_at(self, ms: int) -> Outage | None:
        t_s = ms / _MS
        return next((o for o in self._outages if o.covers(t_s)), None)

    def _send(self, ms: int, command: bytes) -> int:
        """Write ``command`` no sooner than the command gap allows; when it went."""
        if self._last_write is not None:
            ms = max(ms, self._last_write + _ms(COMMAND_GAP_S))
        self._sink.tx(ms, NIBP, command)
        self._last_write = ms
        if self._outage_at(ms) is None:
            self._model.receive(command, ms / _MS)
        return ms

    def _read(self, ms: int) -> list[object]:
        data = self._model.emit(ms / _MS)
        if not data or self._outage_at(ms) is not None:
            return []
        self._sink.rx(ms, NIBP, data)
        return list(self._decoder.feed(data))

    def _wait(
        self, since: int, timeout_s: float, wanted: type
    ) -> tuple[int, list[object]] | None:
        """Read until a frame of type ``wanted`` or ``timeout_s`` after ``since``."""
        deadline = since + _ms(timeout_s)
        ms = since
        while ms < deadline:
            ms += _NIBP_STEP_MS
            frames = self._read(ms)
            if any(isinstance(f, wanted) for f in frames):
                return ms, frames
        return None

    def determination(self, complete_ms: int) -> None:
        """One determination whose ``K`` is due at ``complete_ms``."""
        start = self._send(complete_ms - self._inflate_ms, _START)
        ack = self._wait(start, ACK_TIMEOUT_S, SuntechAck)
        if ack is None:
            # No answer: the driver aborts best effort and gives up.
            self._send(start + _ms(ACK_TIMEOUT_S), _ABORT)
            return
        ms, frames = ack
        if not any(
            isinstance(f, SuntechAck) and f.code is AckCode.RECEIVED for f in frames
        ):
            return  # refused (busy): the driver does not abort
        deadline = start + _ms(DETERMINATION_TIMEOUT_S)
        done = False
        while not done and ms < deadline:
            sent = self._send(ms, _POLL)
            reply = self._wait(sent, REPLY_TIMEOUT_S, object)
            if reply is None:
                self._send(sent + _ms(REPLY_TIMEOUT_S), _ABORT)
                return
            ms, frames = reply
            done = _complete(frames)
            waited = ms
            while not done and ms < waited + _ms(POLL_INTERVAL_S):
                ms += _NIBP_STEP_MS
                done = _complete(self._read(ms))
        sent = self._send(ms, _FETCH)
        if self._wait(sent, REPLY_TIMEOUT_S, object) is not None:
            self.completed += 1


def _complete(frames: Sequence[object]) -> bool:
    return any(isinstance(f, SuntechAck) and f.code is AckCode.COMPLETE for f in frames)


def _nibp(plan: CapturePlan, sink: _Sink) -> int:
    session = _NibpSession(plan, sink)
    inflate_s = plan.scenario.nibp_inflate_s
    for complete_s in plan.determinations():
        start_s = complete_s - inflate_s
        closed = any(
            o.link and o.start_s <= complete_s + 1 and start_s < o.end_s
            for o in plan.outages
            if o.device == NIBP
        )
        if not closed and complete_s <= plan.length_s:
            session.determination(_ms(complete_s))
    return session.completed


def _operator(plan: CapturePlan, sink: _Sink) -> None:
    for item in plan.operator_inputs():
        verb, args, by = validate_command(item.op, item.args)
        fields: dict[str, object] = {"op": verb.value, **args}
        if by is not None:
            fields["by"] = by.value
        ms = _ms(item.t_s)
        rest = json.dumps(fields, separators=(",", ":"))
        sink.add(ms, _OP, f'{{"t":{_t_text(ms)},{rest[1:]}')


def capture_lines(
    plan: CapturePlan, stats: CaptureStats | None = None
) -> Iterator[str]:
    """The capture's lines (no newlines), header first.

    Raises:
        CommandInvalid: an operator input the commands' validator refuses.
        ValueError: an oximeter protocol that is not an oximeter's.
    """
    sink = _Sink()
    if plan.oximeter is not None:
        _oximeter(plan, sink)
    completed = _nibp(plan, sink) if plan.nibp else 0
    _links(plan, sink)
    _operator(plan, sink)
    sink.records.sort()
    if stats is not None:
        stats.records = len(sink.records)
        stats.rx_bytes = dict(sink.rx_bytes)
        stats.determinations = completed
    yield header_line(plan)
    for record in sink.records:
        yield record.text


def write_capture(path: Path, plan: CapturePlan) -> CaptureStats:
    """Write the capture of ``plan`` to ``path``; what was written."""
    stats = CaptureStats()
    with path.open("w", encoding="utf-8") as out:
        for line in capture_lines(plan, stats):
            out.write(line + "\n")
    return stats
