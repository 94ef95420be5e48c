"""SunTech Advantage driver: responses to readings, and the measurement session.

Layer: a pure mapping plus an asyncio session (style guide §2.3, "request/response
session with pending futures and deadlines").

- ``cuff_pressure_reading`` and ``bp_data_reading`` are pure; ``on_frame`` calls them
  and also resolves the session's pending requests (it never awaits).
- ``measure()`` runs one determination the way protocols.md §2.1 describes it: send
  start, the module acknowledges ``O``, poll the cuff pressure until the module
  says ``K`` (complete), ask for the BP data, and return the reading ``on_frame``
  made from it (the very object the supervisor also published).

Matching replies: the protocol has no sequence numbers, so the driver keeps at most
ONE outstanding request per reply kind (acknowledgement, cuff pressure, BP data,
return string), each behind its own lock, and a reply resolves the request of its
kind. Writes are serialised and spaced ``command_gap_s`` apart (Appciton spaces
queued commands 100 ms apart, protocols.md §2.1).

Failure policy (style guide §2.8, C5, C7, C8):

- every wait has a deadline (``SuntechTimeouts``); a missed one raises
  ``DeviceTimeout`` after a best-effort abort, so the cuff is never left inflated by
  our side;
- ``B`` (busy) or another refusal of the start raises ``DeviceRejected`` (no
  abort: the determination that keeps the module busy is not ours); a refusal that
  ends our running determination (``E``, ``T``, ``D``...) also raises it, after a
  best-effort abort;
- an ``A`` (aborted) during a determination raises
  ``DeviceRejected(86, "measurement stopped ...")``: a deliberate stop is not a failed
  measurement, so no ``DEVICE_ERROR`` reading is made that the plausibility rules
  would count (alarm-policy.md "NIBP plausibility"); 86 is the module's own code
  for "BP terminated by user";
- a determination that ends with a non-zero error code is NOT an exception: it is a
  ``DEVICE_ERROR`` reading with the code and its meaning in words;
- ``on_link_lost`` fails every pending request at once with ``DeviceDisconnected``;
- cancellation sends the abort best-effort and propagates.

For an acknowledgement that refuses a command, ``DeviceRejected.code`` is the
acknowledgement's byte (``B`` is 66) and ``meaning`` its words (``ACK_MEANINGS``).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, TypeVar

from roomctl.devices.base import DriverSpec, MetricSpec
from roomctl.devices.suntech_nibp.protocol import (
    ACK_MEANINGS,
    ERROR_ABORTED,
    AbortBp,
    AckCode,
    BpData,
    CuffPressure,
    GetBpData,
    GetCuffPressure,
    GetReturnString,
    ReturnString,
    StartBp,
    SuntechAck,
    SuntechDecoder,
    error_text,
)
from roomctl.errors import DeviceDisconnected, DeviceRejected, DeviceTimeout
from roomctl.readings import Metric, NibpReading, ProtocolId, Reading, ReadingStatus

if TYPE_CHECKING:
    from datetime import datetime

    from roomctl.devices.base import ByteLink
    from roomctl.devices.codec import Decoder
    from roomctl.devices.suntech_nibp.protocol import HostCommand, PatientMode
    from roomctl.readings import AnyReading

_LOGGER = logging.getLogger(__name__)

T = TypeVar("T")

# ------------------------------------------------------------------------ deadlines

#: Wait for an acknowledgement (``O`` after start, ``A`` after abort). No source gives
#: the module's latency [I]; a 4-byte ack takes about 4 ms at 9600 baud and Appciton
#: spaces its commands 100 ms apart (protocols.md §2.1), so 1 s is ten times that.
ACK_TIMEOUT_S = 1.0
#: Wait for a data reply (cuff pressure, 5 bytes; BP data, 24 bytes = 25 ms on the
#: wire at 9600 baud). Same reasoning as ``ACK_TIMEOUT_S`` [I].
REPLY_TIMEOUT_S = 1.0
#: Cuff-pressure poll period during a determination: Appciton polls every 200 ms
#: (protocols.md §2.1).
POLL_INTERVAL_S = 0.2
#: Whole determination, start to result. A determination takes about 20-45 s
#: (protocols.md §2.1 [I]) and the module enforces its own safety time limit (error
#: 88, "safety timeout"); this host deadline is the last resort behind both and only
#: fires when the module stopped talking sensibly. 180 s is four times the longest
#: typical determination [I: our choice, not from a standard].
DETERMINATION_TIMEOUT_S = 180.0
#: Minimum spacing between two commands: Appciton spaces queued commands 100 ms
#: apart (protocols.md §2.1).
COMMAND_GAP_S = 0.1
#: A write of at most 7 bytes to a local port; longer means the port is stuck.
WRITE_TIMEOUT_S = 1.0

#: Text of a determination that ended without error but with no numbers (0/0).
NO_RESULT_TEXT = "no blood-pressure result: the NIBP module returned no numbers"

# ------------------------------------------------------------------ value ranges

#: What the module can measure, mmHg or bpm: the registry's ``DriverSpec.metrics``
#: (adult mode). A number outside its range is not a measurement the module can
#: make; it comes from a reply damaged in a way its 8-bit sum cannot see (the fuzzer
#: found a systolic of 13,411 mmHg and a cuff pressure of -25,313 mmHg passing it,
#: RELIABILITY.md "Bad input"). Such a reading is ``QUESTIONABLE``, with no values.
SYSTOLIC_RANGE_MMHG = (40, 260)
DIASTOLIC_RANGE_MMHG = (20, 200)
MAP_RANGE_MMHG = (30, 220)
PULSE_RATE_RANGE_BPM = (30, 220)
#: Cuff pressure during a determination: 0 to the adult inflation ceiling; the
#: module stops itself on over-pressure (error 89). 300 mmHg is our bound [I].
CUFF_PRESSURE_RANGE_MMHG = (0, 300)

# Acknowledgements that end a running determination before any command wants them.
_ENDING_ACKS = frozenset({AckCode.COMPLETE, AckCode.TIMEOUT})
# Refusals: the answer to a command if one waits, else the end of the determination.
_REFUSALS = frozenset(
    {
        AckCode.BUSY,
        AckCode.ERROR,
        AckCode.UNDEFINED_COMMAND,
        AckCode.UNRECOGNIZABLE,
        AckCode.SLEEP,
    }
)


@dataclass(frozen=True, slots=True, kw_only=True)
class SuntechTimeouts:
    """The session's deadlines; tests shrink them (the znp ``shorten_delays`` idea)."""

    #: Seconds to wait for an acknowledgement.
    ack_timeout_s: float = ACK_TIMEOUT_S
    #: Seconds to wait for a cuff-pressure or BP-data reply.
    reply_timeout_s: float = REPLY_TIMEOUT_S
    #: Seconds between cuff-pressure polls during a determination.
    poll_interval_s: float = POLL_INTERVAL_S
    #: Seconds for a whole determination, start to result.
    determination_timeout_s: float = DETERMINATION_TIMEOUT_S
    #: Minimum seconds between two commands.
    command_gap_s: float = COMMAND_GAP_S
    #: Seconds a single write may take.
    write_timeout_s: float = WRITE_TIMEOUT_S


# ------------------------------------------------------------------ pure mapping


def cuff_pressure_reading(
    frame: CuffPressure, *, device: str, received_mono: float, received_at: datetime
) -> Reading:
    """Map a cuff-pressure reply to a reading.

    Args:
        frame: the decoded reply.
        device: the configured device name.
        received_mono: host monotonic seconds when the reply completed.
        received_at: host UTC time of the same moment.

    Returns:
        A ``CUFF_PRESSURE_MMHG`` reading; ``UNAVAILABLE`` when the module sent -1,
        ``QUESTIONABLE`` (no value) outside ``CUFF_PRESSURE_RANGE_MMHG``.
    """
    low, high = CUFF_PRESSURE_RANGE_MMHG
    if frame.mmhg is None:
        value, status = None, ReadingStatus.UNAVAILABLE
    elif not low <= frame.mmhg <= high:
        value, status = None, ReadingStatus.QUESTIONABLE
    else:
        value, status = float(frame.mmhg), ReadingStatus.OK
    return Reading(
        device=device,
        metric=Metric.CUFF_PRESSURE_MMHG,
        value=value,
        status=status,
        received_mono=received_mono,
        received_at=received_at,
    )


def out_of_range_text(frame: BpData) -> str | None:
    """Why a BP result cannot be a measurement, in words; ``None`` if in range.

    Checks systolic, diastolic, and MAP and pulse rate unless 0 ("not measured"),
    against the module's ranges (``SYSTOLIC_RANGE_MMHG`` and the others).

    >>> frame = BpData(
    ...     systolic_mmhg=13411, diastolic_mmhg=80, map_mmhg=0, heart_rate_bpm=0
    ... )
    >>> out_of_range_text(frame)
    "result outside the module's range: systolic 13411 mmHg (range 40-260)"
    """
    checks = (
        ("systolic", frame.systolic_mmhg, SYSTOLIC_RANGE_MMHG, "mmHg", True),
        ("diastolic", frame.diastolic_mmhg, DIASTOLIC_RANGE_MMHG, "mmHg", True),
        ("mean", frame.map_mmhg, MAP_RANGE_MMHG, "mmHg", False),
        ("pulse rate", frame.heart_rate_bpm, PULSE_RATE_RANGE_BPM, "bpm", False),
    )
    faults = [
        f"{name} {value} {unit} (range {low}-{high})"
        for name, value, (low, high), unit, always in checks
        if (always or value) and not low <= value <= high
    ]
    if not faults:
        return None
    return "result outside the module's range: " + ", ".join(faults)


def bp_data_reading(
    frame: BpData, *, device: str, received_mono: float, received_at: datetime
) -> NibpReading:
    """Map a BP-data reply to an NIBP reading.

    A non-zero error code means the numbers are not valid (protocols.md §2.1): the
    reading is ``DEVICE_ERROR`` with the code and its meaning, and no numbers. A
    reply of 0/0 with no error code is a result the module never produced:
    ``DEVICE_ERROR`` with ``NO_RESULT_TEXT``. A number outside the module's range
    (``out_of_range_text``) makes the whole reading ``QUESTIONABLE``, with no numbers
    and the reason in words: one impossible field means the reply is not to be
    trusted. A MAP or heart rate of 0 alongside valid pressures is "not measured"
    (``None``).

    Args:
        frame: the decoded reply.
        device: the configured device name.
        received_mono: host monotonic seconds when the reply completed.
        received_at: host UTC time of the same moment.

    Returns:
        The reading.
    """
    no_values = functools.partial(
        NibpReading,
        device=device,
        systolic_mmhg=None,
        diastolic_mmhg=None,
        map_mmhg=None,
        pulse_rate_bpm=None,
        received_mono=received_mono,
        received_at=received_at,
    )
    if frame.error_code:
        return no_values(
            status=ReadingStatus.DEVICE_ERROR,
            error_code=frame.error_code,
            error_text=error_text(frame.error_code),
        )
    if frame.systolic_mmhg == 0 and frame.diastolic_mmhg == 0:
        return no_values(status=ReadingStatus.DEVICE_ERROR, error_text=NO_RESULT_TEXT)
    if (why := out_of_range_text(frame)) is not None:
        return no_values(status=ReadingStatus.QUESTIONABLE, error_text=why)
    return NibpReading(
        device=device,
        systolic_mmhg=frame.systolic_mmhg,
        diastolic_mmhg=frame.diastolic_mmhg,
        map_mmhg=frame.map_mmhg or None,
        pulse_rate_bpm=frame.heart_rate_bpm or None,
        status=ReadingStatus.OK,
        received_mono=received_mono,
        received_at=received_at,
    )


# ------------------------------------------------------------------------ session


class _Slot(Generic[T]):
    """The one outstanding request of one reply kind."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        #: Held from sending the request until its reply or deadline.
        self.lock = asyncio.Lock()
        self._future: asyncio.Future[T] | None = None

    def arm(self) -> asyncio.Future[T]:
        """Create the future the next reply of this kind resolves."""
        self._future = asyncio.get_running_loop().create_future()
        return self._future

    def disarm(self, future: asyncio.Future[T]) -> None:
        """Forget ``future`` (reply, deadline or failure: the request is over)."""
        self._future = None
        if not future.done():
            future.cancel()
        elif not future.cancelled():
            # Mark a failure nobody awaited as seen (no "never retrieved" log).
            future.exception()

    def resolve(self, value: T) -> bool:
        """Hand a reply to the waiting request; ``False`` when none waits."""
        if self._future is None or self._future.done():
            return False
        self._future.set_result(value)
        return True

    def fail(self, error: Exception) -> None:
        """Fail the waiting request, if any."""
        if self._future is not None and not self._future.done():
            self._future.set_exception(error)


class _Completion:
    """How the running determination ended: an acknowledgement or a lost link.

    An event, not a future, because the poll loop waits on it many times with a
    short deadline each, and a deadline must not cancel what it waits on.
    """

    def __init__(self) -> None:
        self._ended = asyncio.Event()
        self._code: AckCode | None = None
        self._error: DeviceDisconnected | None = None

    def finish(self, code: AckCode) -> bool:
        """Record the ending acknowledgement; ``False`` if it had already ended."""
        if self._ended.is_set():
            return False
        self._code = code
        self._ended.set()
        return True

    def fail(self, error: DeviceDisconnected) -> None:
        """End with the link's loss (raised by ``wait``)."""
        if not self._ended.is_set():
            self._error = error
            self._ended.set()

    async def wait(self, timeout_s: float) -> AckCode | None:
        """The ending acknowledgement, or ``None`` if still running after timeout_s.

        Raises:
            DeviceDisconnected: the link dropped.
        """
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s):
                await self._ended.wait()
        if self._error is not None:
            raise self._error
        return self._code


class SuntechDriver:
    """The ``DeviceDriver`` for a SunTech Advantage module, with its session.

    Args:
        device: the configured device name its readings carry.
        timeouts: the session's deadlines (defaults: ``SuntechTimeouts()``).
    """

    def __init__(self, device: str, *, timeouts: SuntechTimeouts | None = None) -> None:
        self._device = device
        self._timeouts = timeouts if timeouts is not None else SuntechTimeouts()
        self._link: ByteLink | None = None
        self._measure_lock = asyncio.Lock()
        self._write_lock = asyncio.Lock()
        self._last_write_mono: float | None = None
        self._acks: _Slot[AckCode] = _Slot("acknowledgement")
        self._cuff: _Slot[Reading] = _Slot("cuff pressure")
        self._bp: _Slot[NibpReading] = _Slot("BP data")
        self._version: _Slot[str] = _Slot("return string")
        self._completion: _Completion | None = None
        self._phase = "idle"
        self._last_cuff_pressure_mmhg: int | None = None

    @property
    def device(self) -> str:
        """The configured device name its readings carry."""
        return self._device

    @property
    def timeouts(self) -> SuntechTimeouts:
        """The session's deadlines."""
        return self._timeouts

    @property
    def measuring(self) -> bool:
        """Whether a determination started by ``measure()`` is under way."""
        return self._completion is not None

    @property
    def last_cuff_pressure_mmhg(self) -> int | None:
        """The last cuff pressure the module reported; ``None`` if not available."""
        return self._last_cuff_pressure_mmhg

    # ------------------------------------------------------------ DeviceDriver

    def on_frame(
        self, frame: object, received_mono: float, received_at: datetime
    ) -> list[AnyReading]:
        """Map a response to readings and hand it to the request waiting for it.

        Args:
            frame: what the decoder produced.
            received_mono: host monotonic seconds when the frame completed.
            received_at: host UTC time of the same moment.

        Returns:
            A cuff-pressure reading, an NIBP reading, or nothing (acknowledgements,
            return strings, unknown frames).
        """
        match frame:
            case SuntechAck(code=code):
                self._route_ack(code)
                return []
            case CuffPressure():
                cuff = cuff_pressure_reading(
                    frame,
                    device=self._device,
                    received_mono=received_mono,
                    received_at=received_at,
                )
                # Only a pressure in range: a questionable one is no pressure.
                self._last_cuff_pressure_mmhg = (
                    None if cuff.value is None else int(cuff.value)
                )
                self._cuff.resolve(cuff)
                return [cuff]
            case BpData():
                nibp = bp_data_reading(
                    frame,
                    device=self._device,
                    received_mono=received_mono,
                    received_at=received_at,
                )
                self._bp.resolve(nibp)
                return [nibp]
            case ReturnString(text=text):
                self._version.resolve(text)
                return []
            case _:
                return []

    def on_link_up(self, link: ByteLink) -> None:
        """Keep the link to send commands on."""
        self._link = link
        self._last_write_mono = None

    def on_link_lost(self) -> None:
        """Drop the link and fail every pending request at once (style C8)."""
        self._link = None
        self._last_cuff_pressure_mmhg = None
        for slot in (self._acks, self._cuff, self._bp, self._version):
            slot.fail(self._disconnected())
        if self._completion is not None:
            self._completion.fail(self._disconnected())

    def _disconnected(self) -> DeviceDisconnected:
        return DeviceDisconnected(f"{self._device}: link lost")

    def _route_ack(self, code: AckCode) -> None:
        """Give an acknowledgement to whoever waits for it."""
        completion = self._completion
        if code is AckCode.ABORTED:
            # The answer to abort() AND the end of a running determination.
            answered = self._acks.resolve(code)
            ended = completion is not None and completion.finish(code)
            taken = answered or ended
        elif code in _ENDING_ACKS:
            taken = (completion is not None and completion.finish(code)) or (
                self._acks.resolve(code)
            )
        elif code in _REFUSALS:
            taken = self._acks.resolve(code) or (
                completion is not None and completion.finish(code)
            )
        else:  # RECEIVED answers a command, nothing else
            taken = self._acks.resolve(code)
        if not taken:
            _LOGGER.debug("%s: unsolicited acknowledgement %s", self._device, code.name)

    # -------------------------------------------------------------- session

    async def measure(self, mode: PatientMode | None = None) -> NibpReading:
        """Run one determination and return its reading.

        One at a time: a second call waits for the first to finish.

        Args:
            mode: patient size; adult when not given.

        Returns:
            The reading ``on_frame`` made from the module's BP data: ``OK`` with
            numbers, or ``DEVICE_ERROR`` with the module's code and its meaning.

        Raises:
            DeviceRejected: the module refused (``B`` busy, other refusals) or the
                determination was aborted (code 86).
            DeviceTimeout: a reply or the whole determination missed its deadline
                (an abort was sent first).
            DeviceDisconnected: there is no link, or it dropped.
        """
        start = StartBp() if mode is None else StartBp(mode=mode)
        async with self._measure_lock:
            completion = _Completion()
            self._completion = completion
            deadline = asyncio.timeout(self._timeouts.determination_timeout_s)
            try:
                async with deadline:
                    reading = await self._determination(start, completion)
            except TimeoutError as exc:
                what = (
                    f"no result within {self._timeouts.determination_timeout_s:g} s"
                    if deadline.expired()
                    else f"no answer while {self._phase}"
                )
                await self._send_abort_best_effort()
                raise DeviceTimeout(f"{self._device}: NIBP module gave {what}") from exc
            except asyncio.CancelledError:
                await self._send_abort_best_effort()
                raise
            else:
                return reading
            finally:
                self._completion = None
                self._phase = "idle"

    async def _determination(
        self, start: StartBp, completion: _Completion
    ) -> NibpReading:
        self._phase = "starting a measurement"
        ack = await self._request(self._acks, start, self._timeouts.ack_timeout_s)
        if ack is not AckCode.RECEIVED:
            raise DeviceRejected(int(ack), ACK_MEANINGS[ack])
        self._phase = "measuring"
        code: AckCode | None = None
        while code is None:
            await self._request(
                self._cuff, GetCuffPressure(), self._timeouts.reply_timeout_s
            )
            code = await completion.wait(self._timeouts.poll_interval_s)
        if code is AckCode.ABORTED:
            raise DeviceRejected(ERROR_ABORTED, error_text(ERROR_ABORTED))
        if code is not AckCode.COMPLETE:
            # Our determination ended oddly (E, T, D...): make sure the cuff deflates.
            await self._send_abort_best_effort()
            raise DeviceRejected(int(code), ACK_MEANINGS[code])
        self._phase = "reading the result"
        return await self._request(
            self._bp, GetBpData(), self._timeouts.reply_timeout_s
        )

    async def abort(self) -> None:
        """Abort the determination (the module deflates) and wait for its ``A``.

        Raises:
            DeviceRejected: the module answered something else.
            DeviceTimeout: no answer within the acknowledgement deadline.
            DeviceDisconnected: there is no link, or it dropped.
        """
        try:
            code = await self._request(
                self._acks, AbortBp(), self._timeouts.ack_timeout_s
            )
        except TimeoutError as exc:
            raise DeviceTimeout(f"{self._device}: abort was not acknowledged") from exc
        if code is not AckCode.ABORTED:
            raise DeviceRejected(int(code), ACK_MEANINGS[code])

    async def read_version(self) -> str:
        """Ask for the module's return string (``LX...`` Advantage, ``SB...`` A+).

        Returns:
            The version text.

        Raises:
            DeviceTimeout: no answer within the reply deadline.
            DeviceDisconnected: there is no link, or it dropped.
        """
        try:
            return await self._request(
                self._version, GetReturnString(), self._timeouts.reply_timeout_s
            )
        except TimeoutError as exc:
            raise DeviceTimeout(f"{self._device}: no return string") from exc

    async def _request(
        self, slot: _Slot[T], command: HostCommand, timeout_s: float
    ) -> T:
        """Send ``command`` and wait for the reply of ``slot``'s kind.

        The future is armed before the write, so a reply that beats the write's
        return is not lost.
        """
        async with slot.lock:
            future = slot.arm()
            try:
                await self._send(command)
                async with asyncio.timeout(timeout_s):
                    return await future
            finally:
                slot.disarm(future)

    async def _send(self, command: HostCommand) -> None:
        """Write one command, spaced ``command_gap_s`` after the previous one."""
        async with self._write_lock:
            loop = asyncio.get_running_loop()
            if self._last_write_mono is not None:
                wait_s = self._last_write_mono + self._timeouts.command_gap_s
                if (remaining := wait_s - loop.time()) > 0:
                    await asyncio.sleep(remaining)
            link = self._link
            if link is None:
                raise DeviceDisconnected(f"{self._device}: not connected")
            frame = command.encode()
            _LOGGER.debug("%s tx %s", self._device, frame.hex(" "))
            async with asyncio.timeout(self._timeouts.write_timeout_s):
                await link.write(frame)
            self._last_write_mono = loop.time()

    async def _send_abort_best_effort(self) -> None:
        """Write an abort without waiting for its ``A``; never raises a device error.

        Used after a deadline, an odd ending and on cancellation, so the module does
        not keep the cuff inflated for a determination nobody waits for. Its ``A``
        arrives later and is dropped as unsolicited. It bypasses the write lock: a
        frame is one ``write()`` call, so frames never interleave, and a stuck writer
        must not delay the abort (this write has its own deadline).
        """
        link = self._link
        if link is None:
            return
        try:
            async with asyncio.timeout(self._timeouts.write_timeout_s):
                await link.write(AbortBp().encode())
        except (TimeoutError, DeviceDisconnected) as exc:
            _LOGGER.warning("%s: could not send abort: %r", self._device, exc)


# -------------------------------------------------------------------- registry


def _new_decoder() -> Decoder[object]:
    return SuntechDecoder()


def _new_driver(device: str) -> SuntechDriver:
    return SuntechDriver(device)


#: The registry entry (roomctl.devices.registry.DRIVERS).
DRIVER_SPEC = DriverSpec(
    protocol=ProtocolId.SUNTECH_ADVANTAGE,
    display_name="SunTech Advantage NIBP",
    category="nibp",
    # protocols.md §2.1: 9600 8N1.
    baud=9600,
    # NIBP is request/response and silent between determinations (minutes apart), so
    # link silence means nothing: the supervisor never reports it stale. Staleness of
    # NIBP data is the alarm engine's "overdue" rule (alarm-policy.md "Data
    # freshness, NIBP": no new reading within the cycle interval + 3 min).
    stale_after_s=float("inf"),
    decoder_factory=_new_decoder,
    driver_factory=_new_driver,
    # The ranges the readings are checked against (``bp_data_reading``,
    # ``cuff_pressure_reading``).
    metrics=tuple(
        MetricSpec(metric=metric, unit=unit, minimum=low, maximum=high)
        for metric, unit, (low, high) in (
            (Metric.SYSTOLIC_MMHG, "mmHg", SYSTOLIC_RANGE_MMHG),
            (Metric.DIASTOLIC_MMHG, "mmHg", DIASTOLIC_RANGE_MMHG),
            (Metric.MAP_MMHG, "mmHg", MAP_RANGE_MMHG),
            (Metric.NIBP_PULSE_RATE_BPM, "bpm", PULSE_RATE_RANGE_BPM),
            (Metric.CUFF_PRESSURE_MMHG, "mmHg", CUFF_PRESSURE_RANGE_MMHG),
        )
    ),
)
