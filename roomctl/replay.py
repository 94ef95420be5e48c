"""Replay a capture through the live decoders, drivers and pipeline in virtual time.

As fast as it can: records are applied in order at their ``t`` on a virtual clock;
between records the clock advances at least once per virtual second so time-based
rules run (contracts.md §2 "Replay rules"); ``tx`` bytes are not sent anywhere. The
events the pipeline publishes are printed as the event stream of contracts.md §3, the
``summary`` line last.

Working ahead (issue 3). A device's decoder and driver depend on nothing but that
device's bytes, link changes and receive times: not on the pipeline, the engine or
other devices. So ``replay`` reads ``READ_AHEAD_RECORDS`` records at a time, and a
device whose decoder and driver can take many reads in one call (``BatchDecoder``,
``BatchDriver``: the Nonin DF2 oximeter, 75 frames a second) gets the window's reads
in one call each. The driver sees the device's link changes at their places among
the reads. Then the records are applied one by one, as before: the clock, the ticks,
the link and stale logic, the readings and the commands go to the pipeline in the
same order and at the same virtual times as record-by-record decoding would give.
Other devices are still decoded and driven record by record.
"""

from __future__ import annotations

import gc
import itertools
import json
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, TypeAlias, runtime_checkable

from roomctl.alarms import AlarmEngine, AlarmPolicy
from roomctl.bus import EventBus
from roomctl.capture import (
    BytesRecord,
    CaptureHeader,
    CaptureRecord,
    LinkRecord,
    OpRecord,
    read_capture,
)
from roomctl.clock import VirtualClock
from roomctl.devices.codec import DecoderStats, ErrorRateWindow
from roomctl.devices.registry import DRIVERS
from roomctl.events import (
    Command,
    DeviceConnected,
    DeviceLost,
    DeviceStale,
    ReadingReceived,
)
from roomctl.eventstream import to_wire
from roomctl.pipeline import ReadingPipeline
from roomctl.readings import LinkState

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
    from datetime import datetime
    from typing import TextIO

    from roomctl.devices.base import DeviceDriver
    from roomctl.devices.codec import Decoder
    from roomctl.events import Event
    from roomctl.readings import AnyReading

#: The garbage collector's first threshold while replaying (the default is 700).
GC_THRESHOLD_DURING_REPLAY = 50_000
#: The engine is ticked at least this often in virtual time.
TICK_S = 1.0

#: Records read ahead of the one being applied. 1024 records of 0.1 s reads hold
#: about 7,700 Nonin frames: one vectorised decoder pass, one driver call.
READ_AHEAD_RECORDS = 1024


@runtime_checkable
class BatchDecoder(Protocol):
    """A decoder that takes many reads in one call (``NoninDf2Decoder``)."""

    def feed_counted(
        self, chunks: Sequence[bytes], *, failed: list[int] | None = None
    ) -> tuple[Sequence[object], Sequence[int]]:
        """``feed`` of all the chunks, and how many frames each chunk completed.

        ``failed`` receives the frames that failed to parse, chunk by chunk.
        """
        ...


@runtime_checkable
class BatchDriver(Protocol):
    """A driver that takes the frames of many reads in one call (``NoninDf2Driver``)."""

    def on_frames_chunked(
        self,
        frames: Iterable[object],
        chunk_frames: Sequence[int],
        received_mono: Sequence[float],
        received_at: Callable[[float], datetime],
    ) -> Mapping[int, Sequence[AnyReading]]:
        """``on_frame`` read by read, in one call; the readings by read index."""
        ...

    def on_link_lost(self) -> None:
        """The link dropped."""
        ...


#: What a record did to its device's decoder and driver, worked out ahead: for a
#: read, how many frames it completed, the readings they gave and how many frames
#: failed to parse (checksum errors, resyncs) on it; for a link change ``(0, (), 0)``
#: (the driver has seen it).
_Ahead: TypeAlias = tuple[int, "Sequence[AnyReading]", int]

_LINK_SEEN: _Ahead = (0, (), 0)

#: How far (relative) ahead of a device's stale deadline ``_check_stale`` looks again.
_STALE_CHECK_EARLY = 1e-9

#: How often (virtual seconds) a device's parse-error share is looked at, as the
#: supervisor's window reports it live at most once a second.
ERROR_SHARE_EVERY_S = 1.0


@dataclass(slots=True)
class _Device:
    decoder: Decoder[object]
    driver: DeviceDriver
    stale_after_s: float
    #: The parse-error share over the policy's window, as the supervisor keeps it.
    errors: ErrorRateWindow
    #: Decoder and driver take a window of reads at once (``_work_ahead``).
    batched: bool = False
    state: LinkState = LinkState.UP
    last_valid_t: float = 0.0
    #: Counts of the decoders replaced at daemon restarts (``LinkRecord.restart``).
    earlier: DecoderStats = field(default_factory=DecoderStats)
    #: Frames decoded and frames failed so far (across decoder restarts).
    frames_seen: int = 0
    failed_seen: int = 0
    #: When the share is looked at next (virtual time).
    errors_due: float = -math.inf
    #: The share last given to the engine.
    reported_ratio: float = 0.0


@dataclass(slots=True)
class _Reads:
    """A batched device's reads in a window since its last link change."""

    #: Where the reads are in the window.
    indices: list[int] = field(default_factory=list)
    records: list[BytesRecord] = field(default_factory=list)


@dataclass(slots=True)
class ReplaySummary:
    """What a replay saw; the ``summary`` line."""

    t: float = 0.0
    frames: dict[str, int] = field(default_factory=dict)
    errors: dict[str, dict[str, int]] = field(default_factory=dict)
    discharge_ready: bool = False
    active_alarms: list[str] = field(default_factory=list)
    episodes: int = 0

    def to_json(self) -> dict[str, object]:
        """The summary as a contracts.md §3 line."""
        return {
            "t": round(self.t, 3),
            "type": "summary",
            "discharge_ready": self.discharge_ready,
            "active_alarms": self.active_alarms,
            "episodes": self.episodes,
            "frames": self.frames,
            "errors": self.errors,
        }


class Replayer:
    """Feeds one capture through the pipeline; ``emit`` receives every wire line.

    ``emit=None`` prints nothing; ``on_event`` then still sees every event (crash
    resume rebuilds a daemon's state this way).
    """

    def __init__(
        self,
        header: CaptureHeader,
        *,
        emit: Callable[[dict[str, object]], None] | None,
        readings: bool = False,
        policy: AlarmPolicy | None = None,
        on_event: Callable[[Event], None] | None = None,
    ) -> None:
        self.header = header
        #: Sees every event the pipeline publishes, in order (crash resume).
        self._on_event = on_event
        self.clock = VirtualClock(start_at=header.started_at)
        self.bus = EventBus()
        self._events = self.bus.open(name="replay", maxlen=1 << 30)
        # The same engine as the daemon's, on the virtual clock: t = 0 is the
        # capture's start, so alarm times are seconds since the capture began.
        policy = policy if policy is not None else AlarmPolicy()
        self.engine = AlarmEngine(
            policy,
            route=header.route,
            infusion_min=header.infusion_min,
            epoch_mono=0.0,
            epoch_at=header.started_at,
            devices={n: DRIVERS[p].category for n, p in header.devices.items()},
        )
        self.pipeline = ReadingPipeline(bus=self.bus, engine=self.engine)
        self._engine_second = -1.0
        self._emit = emit
        self._readings = readings
        # Reads the UTC time of a reading worked out ahead: the same arithmetic as
        # ``self.clock``, moved forward the same way (times only grow).
        self._ahead_clock = VirtualClock(start_at=header.started_at)
        self.devices: dict[str, _Device] = {}
        for name, protocol in header.devices.items():
            spec = DRIVERS[protocol]
            decoder = spec.decoder_factory()
            driver = spec.driver_factory(name)
            self.devices[name] = _Device(
                decoder=decoder,
                driver=driver,
                stale_after_s=spec.stale_after_s,
                errors=ErrorRateWindow(window_s=policy.link.parse_error_window_s),
                batched=isinstance(decoder, BatchDecoder)
                and isinstance(driver, BatchDriver),
            )
        self._device_items = tuple(self.devices.items())
        #: No device can go stale before this virtual time (``_check_stale``).
        self._stale_check_at = -math.inf
        self._batched = {name for name, device in self._device_items if device.batched}

    def _print_events(self) -> None:
        on_event, emit = self._on_event, self._emit
        while (event := self._events.get_nowait()) is not None:
            if on_event is not None:
                on_event(event)
            if emit is None or (
                isinstance(event, ReadingReceived) and not self._readings
            ):
                continue
            t = event.occurred_mono
            for line in to_wire(event, t=t):
                if line["type"] in ("reading", "link", "alarm", "episode", "phase"):
                    emit(line)

    def _publish(self, event: Event) -> None:
        self.bus.publish(event)

    def _advance(self, t: float) -> float:
        """Move virtual time to ``t``, stopping at least every second on the way.

        Returns:
            The clock's time after the move.
        """
        clock = self.clock
        now = clock.monotonic()
        while now + TICK_S < t:
            now = (math.floor(now / TICK_S) + 1) * TICK_S
            clock.set(now)
            self._tick(clock.monotonic())
        if t > now:
            clock.set(t)
            now = t  # what the clock reads now: it never goes back
        self._tick(now)
        return now

    def _tick(self, now: float) -> None:
        # The events are printed after the record (``_apply``), in the order published.
        # The engine is ticked once per virtual second (the contract's minimum); the
        # stale test is as the live watchdog's, looked at from just before the first
        # device's deadline (``_check_stale``).
        second = math.floor(now / TICK_S)
        if second > self._engine_second:
            self._engine_second = second
            self.pipeline.tick(now)
        if now >= self._stale_check_at:
            self._check_stale(now)

    def _check_stale(self, now: float) -> None:
        """Mark stale every device up and silent for its ``stale_after_s``.

        Then note when the next check is due: no device can go stale before the
        earliest of their deadlines (``last_valid_t`` only grows while a device is
        up; a device that comes up sets ``_stale_check_at`` back). The deadline is
        taken a relative 1e-9 early, far more than the rounding of ``now -
        last_valid_t``, so the test below still decides, exactly as before.
        """
        check_at = math.inf
        for name, device in self._device_items:
            if device.state is not LinkState.UP:
                continue
            last, silent_s = device.last_valid_t, device.stale_after_s
            if now - last >= silent_s:
                self._went_stale(name, device, now)
            elif silent_s < math.inf:  # SunTech: never stale for silence
                early = _STALE_CHECK_EARLY * (abs(last) + silent_s)
                check_at = min(check_at, last + silent_s - early)
        self._stale_check_at = check_at

    def _went_stale(self, name: str, device: _Device, now: float) -> None:
        device.state = LinkState.STALE
        self.pipeline.link_changed(
            DeviceStale(
                occurred_mono=now,
                occurred_at=self.clock.now_utc(),
                device=name,
                silent_s=device.stale_after_s,
            )
        )

    def _bytes(self, record: BytesRecord, ahead: _Ahead | None, now: float) -> None:
        if not record.received:
            return  # tx: kept for review, never sent
        device = self.devices[record.dev]
        readings: Sequence[AnyReading]
        if ahead is None:
            at = self.clock.now_utc()
            decoder = device.decoder
            before = decoder.stats
            frames = decoder.feed(record.data)
            after = decoder.stats
            completed = after.frames - before.frames
            failed = (
                after.checksum_errors
                + after.resyncs
                - before.checksum_errors
                - before.resyncs
            )
            readings = [r for f in frames for r in device.driver.on_frame(f, now, at)]
        else:
            completed, readings, failed = ahead
        for reading in readings:
            self.pipeline.handle(reading)
        device.frames_seen += completed
        device.failed_seen += failed
        if now >= device.errors_due:
            self._error_share(record.dev, device, now)
        if completed:
            device.last_valid_t = now
            if device.state is LinkState.STALE:
                self._came_back(record.dev, device, now)

    def _error_share(self, name: str, device: _Device, now: float) -> None:
        """Look at the device's parse-error share (due once a virtual second)."""
        # The link row's parse-error share, as the supervisor reports it live.
        device.errors_due = now + ERROR_SHARE_EVERY_S
        ratio = device.errors.update(
            now,
            DecoderStats(frames=device.frames_seen, checksum_errors=device.failed_seen),
        )
        if ratio is not None and ratio != device.reported_ratio:
            # Only a new share can change the link rule (the engine starts at 0);
            # the engine is ticked every virtual second anyway.
            device.reported_ratio = ratio
            self.pipeline.decoder_errors(name, ratio, now)

    def _came_back(self, name: str, device: _Device, now: float) -> None:
        """Valid frames from a stale device: its link is up again."""
        device.state = LinkState.UP
        self._stale_check_at = -math.inf
        self.pipeline.link_changed(
            DeviceConnected(
                occurred_mono=now, occurred_at=self.clock.now_utc(), device=name
            )
        )

    def _restart(self, name: str, device: _Device) -> None:
        """The daemon restarted: its decoder and driver for ``name`` began afresh."""
        earlier, stats = device.earlier, device.decoder.stats
        earlier.frames += stats.frames
        earlier.bytes_in += stats.bytes_in
        earlier.dropped_bytes += stats.dropped_bytes
        earlier.checksum_errors += stats.checksum_errors
        earlier.resyncs += stats.resyncs
        spec = DRIVERS[self.header.devices[name]]
        device.decoder = spec.decoder_factory()
        device.driver = spec.driver_factory(name)

    def _link(self, record: LinkRecord, ahead: _Ahead | None) -> None:
        device = self.devices[record.dev]
        now, at = self.clock.monotonic(), self.clock.now_utc()
        if ahead is None and record.restart:
            self._restart(record.dev, device)
        elif ahead is None and record.state in (LinkState.UP, LinkState.LOST):
            device.driver.on_link_lost()
        if record.state is LinkState.UP:
            device.state = LinkState.UP
            device.last_valid_t = now
            self._stale_check_at = -math.inf
            self.pipeline.link_changed(
                DeviceConnected(occurred_mono=now, occurred_at=at, device=record.dev)
            )
        elif record.state is LinkState.LOST:
            device.state = LinkState.LOST
            self.pipeline.link_changed(
                DeviceLost(
                    occurred_mono=now,
                    occurred_at=at,
                    device=record.dev,
                    reason="link lost",
                )
            )

    def apply(self, record: CaptureRecord) -> None:
        """Apply one record at its time."""
        self._apply(record, None)

    def apply_all(self, records: Iterator[CaptureRecord]) -> None:
        """Apply every record, ``READ_AHEAD_RECORDS`` at a time.

        Raises:
            CaptureError: a bad line (the records before it are applied).
        """
        # A replay makes millions of short-lived objects and no reference cycles worth
        # collecting mid-run: collect rarely (measured: about 5 % faster), then restore.
        thresholds = gc.get_threshold()
        gc.set_threshold(GC_THRESHOLD_DURING_REPLAY, *thresholds[1:])
        try:
            for window in _read_ahead(records, READ_AHEAD_RECORDS):
                self.apply_many(window)
        finally:
            gc.set_threshold(*thresholds)

    def apply_many(self, records: Sequence[CaptureRecord]) -> None:
        """Apply records in order, working ahead for batched devices (module doc).

        The same steps as ``apply`` record by record; a read worked out ahead goes
        straight to the pipeline here (issue 3: most of the 158,000 records of a
        4-hour Nonin capture).
        """
        handle = self.pipeline.handle
        devices = self.devices
        events = self._events
        stale = LinkState.STALE
        for record, ahead in zip(records, self._work_ahead(records), strict=True):
            now = self._advance(record.t)
            if ahead is not None and isinstance(record, BytesRecord):
                # What ``_bytes`` does with a read decoded and driven ahead.
                completed, readings, failed = ahead
                device = devices[record.dev]
                for reading in readings:
                    handle(reading)
                device.frames_seen += completed
                device.failed_seen += failed
                if now >= device.errors_due:
                    self._error_share(record.dev, device, now)
                if completed:
                    device.last_valid_t = now
                    if device.state is stale:
                        self._came_back(record.dev, device, now)
            else:
                self._record(record, ahead, now)
            if len(events):
                self._print_events()

    def _work_ahead(self, records: Sequence[CaptureRecord]) -> list[_Ahead | None]:
        """Decode and drive the batched devices' reads and link changes in ``records``.

        Returns, by record, what ``_apply`` takes instead of decoding and driving:
        ``None`` for the records of other devices, tx bytes and operator inputs.
        """
        ahead: list[_Ahead | None] = [None] * len(records)
        # What the clock will read at each record: its ``t``, as the clock never goes
        # back (``VirtualClock.set``).
        times = list(
            itertools.accumulate(
                (record.t for record in records), max, initial=self.clock.monotonic()
            )
        )[1:]
        batched = self._batched
        reads: dict[str, _Reads] = {}
        for index, record in enumerate(records):
            if isinstance(record, BytesRecord):
                if record.received and record.dev in batched:
                    pending = reads.get(record.dev)
                    if pending is None:
                        pending = reads[record.dev] = _Reads()
                    pending.indices.append(index)
                    pending.records.append(record)
            elif isinstance(record, LinkRecord) and record.dev in batched:
                # The driver takes the reads before the change, then the change.
                device = self.devices[record.dev]
                self._drive(device, reads.pop(record.dev, None), times, ahead)
                if record.restart:
                    self._restart(record.dev, device)
                elif record.state in (LinkState.UP, LinkState.LOST):
                    device.driver.on_link_lost()
                ahead[index] = _LINK_SEEN
        for name, pending in reads.items():
            self._drive(self.devices[name], pending, times, ahead)
        return ahead

    def _drive(
        self,
        device: _Device,
        reads: _Reads | None,
        times: Sequence[float],
        ahead: list[_Ahead | None],
    ) -> None:
        if reads is None:
            return
        decoder, driver = device.decoder, device.driver
        # ``batched`` is set only when both protocols hold.
        assert isinstance(decoder, BatchDecoder)  # noqa: S101
        assert isinstance(driver, BatchDriver)  # noqa: S101
        failed: list[int] = []
        frames, counts = decoder.feed_counted(
            [r.data for r in reads.records], failed=failed
        )
        readings = driver.on_frames_chunked(
            frames, counts, [times[i] for i in reads.indices], self._utc_ahead
        )
        for index, worked_out in zip(
            reads.indices,
            zip(
                counts,
                map(readings.get, range(len(counts)), itertools.repeat(())),
                failed,
                strict=True,
            ),
            strict=True,
        ):
            ahead[index] = worked_out

    def _utc_ahead(self, mono: float) -> datetime:
        """What ``self.clock.now_utc()`` will read at ``mono``."""
        self._ahead_clock.set(mono)
        return self._ahead_clock.now_utc()

    def _apply(self, record: CaptureRecord, ahead: _Ahead | None) -> None:
        now = self._advance(record.t)
        self._record(record, ahead, now)
        self._print_events()

    def _record(self, record: CaptureRecord, ahead: _Ahead | None, now: float) -> None:
        if isinstance(record, BytesRecord):
            self._bytes(record, ahead, now)
        elif isinstance(record, LinkRecord):
            self._link(record, ahead)
        else:
            self._op(record)

    def _op(self, record: OpRecord) -> None:
        now = self.clock.monotonic()
        self.pipeline.command(
            Command(
                occurred_mono=now,
                occurred_at=self.clock.now_utc(),
                verb=record.verb,
                args=record.args,
                by=record.by,
                source="capture",
                command_id=record.command_id or f"line-{record.line}",
            )
        )

    def summary(self) -> ReplaySummary:
        """Counts for the summary line."""
        now = self.clock.monotonic()
        state = self.engine.snapshot(now)
        out = ReplaySummary(
            t=now,
            discharge_ready=state.discharge.ready,
            active_alarms=[
                alarm.code
                for alarm in state.alarms
                if alarm.condition_present or alarm.latched
            ],
            episodes=len(state.episodes),
        )
        for name, device in self.devices.items():
            stats, earlier = device.decoder.stats, device.earlier
            out.frames[name] = stats.frames + earlier.frames
            out.errors[name] = {
                "dropped_bytes": stats.dropped_bytes + earlier.dropped_bytes,
                "checksum_errors": stats.checksum_errors + earlier.checksum_errors,
            }
        return out


def replay(
    stream: TextIO,
    out: TextIO,
    *,
    source: str,
    readings: bool = False,
    policy: AlarmPolicy | None = None,
) -> ReplaySummary:
    """Replay a capture from ``stream``, writing JSON lines to ``out``.

    Raises:
        CaptureError: a bad line (nothing after it is replayed).
    """
    header, records = read_capture(stream, source)

    def emit(line: dict[str, object]) -> None:
        out.write(json.dumps(line, separators=(",", ":")) + "\n")

    replayer = Replayer(header, emit=emit, readings=readings, policy=policy)
    replayer.apply_all(records)
    summary = replayer.summary()
    emit(summary.to_json())
    return summary


def _read_ahead(
    records: Iterator[CaptureRecord], size: int
) -> Iterator[list[CaptureRecord]]:
    """The records in lists of ``size``.

    When reading fails (a bad line, a file that is not UTF-8), the records read before
    the failure are still yielded, then the error is raised: they are replayed, as
    when records were taken one at a time.
    """
    failed: list[Exception] = []

    def until_failure() -> Iterator[CaptureRecord]:
        try:
            yield from records
        except Exception as exc:  # noqa: BLE001 (raised again below, after the window)
            failed.append(exc)

    readable = until_failure()
    while window := list(itertools.islice(readable, size)):
        yield window
    if failed:
        raise failed[0]
