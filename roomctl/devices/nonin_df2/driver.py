"""Nonin Serial Data Format #2 driver: complete packets become SpO2 and pulse readings.

Layer: device driver, a pure mapping (style.md §2.2, §2.3). It does no I/O and reads no
clock; receive times come in as arguments. The driver never writes to the link: the only
host commands in protocols.md §1.2 are the format selection of the DF7/DF13 Bluetooth
devices, and a Format #2 module streams without being asked.

The driver groups frames with a ``NoninDf2PacketAssembler``. It takes what the decoder
hands out: single frames and blocks of consecutive frames (see ``protocol``, "Why
blocks"). A block that completes several packets yields their readings in order, all
stamped with the block's receive time, as frames decoded from one read always were. A
frame that follows dropped bytes carries ``after_gap``, so a packet that lost a frame
is discarded and never becomes a reading. The assembler holds a complete packet until
the next packet's SYNC frame arrives (one frame, 13 ms, later), so a packet with a frame
added is discarded too; readings carry the receive time of that confirming frame. Each
complete packet (3 a second) yields two readings: ``SPO2_PERCENT`` from SpO2-D (frame
8) and ``PULSE_RATE_BPM`` from HR-D (frames 19-20). These are the values the device
formats for display. Status, first match wins, over all 25 frames of the packet:

1. SNSD or SNSA on any frame: ``SENSOR_OFF``;
2. OOT: ``SEARCHING``;
3. ARTF: ``ARTIFACT``;
4. red-only perfusion on the frames that carry a perfusion indication:
   ``LOW_PERFUSION``;
5. otherwise ``OK``. A metric whose value is a sentinel (127, 511) then becomes
   ``UNAVAILABLE``; one outside the range the driver takes (SpO2 0-100 %, pulse rate
   18-300 bpm: the advertised ``DRIVER_SPEC`` range, capped at
   ``PULSE_RATE_MAX_BPM``) becomes ``QUESTIONABLE``, since the device does not
   measure it and only a damaged packet carries it (RELIABILITY.md, "Bad input").

The perfusion bits are only set for about 160 ms during each pulse (protocols.md §1.2).
At a resting rate, most packets (1/3 s) carry no indication at all. A strictly
per-packet rule would therefore flip a low-perfusion signal between
``LOW_PERFUSION`` and ``OK`` several times a second. So the driver keeps the latest
indication it saw and applies it to packets that carry none, for up to
``PERFUSION_HOLD_PACKETS`` packets (one beat at the slowest rate in the metric range).
It forgets the indication when the link drops and when a packet says the sensor is off
or the pulse was lost: an amplitude from before then no longer describes the signal.

Every reading keeps the ``Reading`` invariant: the value is ``None`` exactly when the
status is not ``OK``.
"""

from __future__ import annotations

import bisect
import itertools
from typing import TYPE_CHECKING

from roomctl.devices.base import DriverSpec, MetricSpec
from roomctl.devices.nonin_df2.protocol import (
    FRAME_RATE_HZ,
    PACKET_LEN_FRAMES,
    SERIAL_BAUD,
    NoninDf2Decoder,
    NoninDf2Frame,
    NoninDf2FrameBlock,
    NoninDf2PacketAssembler,
    Perfusion,
    StatusBit,
)
from roomctl.readings import Metric, ProtocolId, Reading, ReadingStatus

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence
    from datetime import datetime

    from roomctl.devices.base import ByteLink
    from roomctl.devices.codec import Decoder
    from roomctl.devices.nonin_df2.protocol import NoninDf2Packet
    from roomctl.readings import AnyReading

#: Highest SpO2 that is a measurement rather than a fault. SpO2 is a percentage; the
#: 7-bit byte can carry up to 126 before the sentinel 127 (protocols.md §1.2).
SPO2_MAX_PERCENT = 100

#: Highest heart rate taken as a measurement. This is roomctl's plausibility bound, not
#: a Nonin figure: the 9-bit field can carry up to 510 before the sentinel 511.
PULSE_RATE_MAX_BPM = 300

#: Seconds without a valid frame before the link is stale. This is mdpnp's Nonin
#: max-quiet-time watchdog (protocols.md §3, mdpnp row).
STALE_AFTER_S = 3.0

#: Reading the port when the next packet is due (issue 6). The module streams 75
#: frames a second (375 bytes), which a port hands over in chunks of a few bytes:
#: about 50 wake-ups a second, each running the whole read path, for readings that
#: come 3 times a second. So after each read the driver says how long the next
#: packet still needs (``read_again_in_s``: the frames it lacks at 75 a second, plus
#: ``READ_MARGIN_S`` for the port's chunking), and the link takes no bytes before
#: then (``SerialLink.hold``): one wake-up per packet, and a reading waits at most
#: about ``READ_MARGIN_S`` after its last byte arrived, as long as the module keeps
#: its 75 frames a second; never more than ``READ_HOLD_MAX_S``. Far inside the alarm
#: policy's budget (SpO2 and pulse rate are checked once a second, and "raise within
#: N s" allows up to 2 s for processing).
READ_MARGIN_S = 0.03
#: The longest hold: a packet and its confirming frame (26 frames), and the margin.
READ_HOLD_MAX_S = (PACKET_LEN_FRAMES + 1) / FRAME_RATE_HZ + READ_MARGIN_S

#: Plausible pulse-rate range advertised in the registry, bpm. 18-321 is roomctl's
#: design figure for this device; protocols.md cites no Nonin document for it, so
#: treat it as unverified against the manual.
PULSE_RATE_RANGE_BPM = (18.0, 321.0)


#: Packets a perfusion indication stays in force when later packets carry none:
#: 10 packets are 3.3 s, one beat at 18 bpm, the bottom of ``PULSE_RATE_RANGE_BPM``.
PERFUSION_HOLD_PACKETS = 10


#: Status bits (any frame of the packet) that make its signal ``SENSOR_OFF``.
_SENSOR_OFF_BITS = StatusBit.SNSD.value | StatusBit.SNSA.value
#: Status bits after which a held perfusion indication no longer applies.
_FORGET_PERFUSION_BITS = _SENSOR_OFF_BITS | StatusBit.OOT.value
_OOT_BIT = StatusBit.OOT.value
_ARTF_BIT = StatusBit.ARTF.value


def packet_status(
    packet: NoninDf2Packet, perfusion: Perfusion | None = None
) -> ReadingStatus:
    """The packet's signal status, shared by both of its readings (see module doc).

    Args:
        packet: a complete packet.
        perfusion: the perfusion indication in force; ``None`` uses the packet's own.
    """
    # The packet's flags, read once as bits (three packets a second live, 43,200 in
    # a 4-hour replay); the same tests as ``sensor_disconnected`` and the others.
    bits = packet.status_bits
    if bits & _SENSOR_OFF_BITS:
        return ReadingStatus.SENSOR_OFF
    if bits & _OOT_BIT:
        return ReadingStatus.SEARCHING
    if bits & _ARTF_BIT:
        return ReadingStatus.ARTIFACT
    if (packet.perfusion if perfusion is None else perfusion) is Perfusion.RED:
        return ReadingStatus.LOW_PERFUSION
    return ReadingStatus.OK


def _value_and_status(
    value: int | None, minimum: float, maximum: float
) -> tuple[float | None, ReadingStatus]:
    """A metric of a packet whose signal is ``OK``."""
    if value is None:
        return None, ReadingStatus.UNAVAILABLE
    if not minimum <= value <= maximum:
        # Not a value the device measures: a damaged packet (RELIABILITY.md).
        return None, ReadingStatus.QUESTIONABLE
    return float(value), ReadingStatus.OK


def packet_readings(
    packet: NoninDf2Packet,
    *,
    device: str,
    received_mono: float,
    received_at: datetime,
    perfusion: Perfusion | None = None,
) -> list[AnyReading]:
    """Map one complete packet to its SpO2 and pulse-rate readings.

    Args:
        packet: a complete packet.
        device: the configured device name.
        received_mono: host monotonic seconds when the completing byte arrived.
        received_at: host UTC time when the completing byte arrived.
        perfusion: the perfusion indication in force; ``None`` uses the packet's own.

    Returns:
        ``[spo2, pulse_rate]``, both stamped with the given times.
    """
    signal = packet_status(packet, perfusion)
    spo2: float | None
    pulse: float | None
    if signal is ReadingStatus.OK:
        spo2, spo2_status = _value_and_status(
            packet.spo2_d_percent, 0, SPO2_MAX_PERCENT
        )
        pulse, pulse_status = _value_and_status(
            packet.hr_d_bpm, PULSE_RATE_RANGE_BPM[0], PULSE_RATE_MAX_BPM
        )
    else:
        spo2 = pulse = None
        spo2_status = pulse_status = signal
    return [
        Reading(
            device=device,
            metric=Metric.SPO2_PERCENT,
            value=spo2,
            status=spo2_status,
            received_mono=received_mono,
            received_at=received_at,
        ),
        Reading(
            device=device,
            metric=Metric.PULSE_RATE_BPM,
            value=pulse,
            status=pulse_status,
            received_mono=received_mono,
            received_at=received_at,
        ),
    ]


class NoninDf2Driver:
    """``DeviceDriver`` for a Nonin Format #2 oximeter.

    Args:
        device: the configured device name, copied into every reading.
    """

    def __init__(self, device: str) -> None:
        self._device = device
        self._assembler = NoninDf2PacketAssembler()
        self._perfusion = Perfusion.NONE
        self._perfusion_age_packets = 0

    @property
    def device(self) -> str:
        """The configured device name."""
        return self._device

    @property
    def assembler(self) -> NoninDf2PacketAssembler:
        """The packet assembler, for its counts (packets, discarded, skipped)."""
        return self._assembler

    def on_frame(
        self, frame: object, received_mono: float, received_at: datetime
    ) -> list[AnyReading]:
        """Take a decoded frame or block; return the readings of the packets it ends.

        Objects that are neither ``NoninDf2Frame`` nor ``NoninDf2FrameBlock`` are
        ignored.
        """
        if isinstance(frame, NoninDf2FrameBlock):
            packets = self._assembler.add_block(frame)
        elif isinstance(frame, NoninDf2Frame):
            packet = self._assembler.add(frame)
            packets = [] if packet is None else [packet]
        else:
            return []
        readings: list[AnyReading] = []
        for packet in packets:
            readings += self._readings(packet, received_mono, received_at)
        return readings

    def on_frames_chunked(
        self,
        frames: Iterable[object],
        chunk_frames: Sequence[int],
        received_mono: Sequence[float],
        received_at: Callable[[float], datetime],
    ) -> dict[int, list[AnyReading]]:
        """Take the frames of several reads in one call; return the readings by read.

        The readings are exactly those ``on_frame`` would give if called read by read:
        a packet's readings carry the time of the read that completed it. One call
        per batch instead of one per read is what ``roomctl replay`` needs to run a
        4-hour capture in about a second (issue 3).

        Args:
            frames: decoded frames and blocks, in order (``feed_counted``).
            chunk_frames: how many of the frames each read brought, in order.
            received_mono: each read's host monotonic seconds.
            received_at: the host UTC time of a monotonic time (called only for reads
                that complete a packet).

        Returns:
            The readings of each read that completed a packet, by the read's index.
        """
        # Frames brought by reads 0..i; the read holding frame n is the first whose
        # count reaches n.
        brought = list(itertools.accumulate(chunk_frames))
        readings: dict[int, list[AnyReading]] = {}
        taken = 0
        for item in frames:
            if isinstance(item, NoninDf2FrameBlock):
                located = self._assembler.add_block_located(item)
                count = len(item)
            elif isinstance(item, NoninDf2Frame):
                packet = self._assembler.add(item)
                located = [] if packet is None else [(1, packet)]
                count = 1
            else:
                continue
            for end, packet in located:
                read = bisect.bisect_left(brought, taken + end)
                mono = received_mono[read]
                readings.setdefault(read, []).extend(
                    self._readings(packet, mono, received_at(mono))
                )
            taken += count
        return readings

    def _readings(
        self, packet: NoninDf2Packet, received_mono: float, received_at: datetime
    ) -> list[AnyReading]:
        return packet_readings(
            packet,
            device=self._device,
            received_mono=received_mono,
            received_at=received_at,
            perfusion=self._track_perfusion(packet),
        )

    def read_again_in_s(self) -> float:
        """How long the link may wait before its next read (see ``READ_MARGIN_S``).

        The open packet lacks ``PACKET_LEN_FRAMES + 1 - open_frames`` frames (a packet
        comes out with the frame after its last); they arrive at 75 a second.

        >>> round(NoninDf2Driver("ox").read_again_in_s(), 3)  # none open: 26 frames
        0.377
        """
        lacking = PACKET_LEN_FRAMES + 1 - self._assembler.open_frames
        return min(lacking / FRAME_RATE_HZ + READ_MARGIN_S, READ_HOLD_MAX_S)

    def on_link_up(self, link: ByteLink) -> None:
        """Nothing to do: the module streams unasked; the driver never writes."""

    def on_link_lost(self) -> None:
        """Forget the partial or held packet and the held perfusion indication."""
        self._assembler.reset()
        self._forget_perfusion()

    def _track_perfusion(self, packet: NoninDf2Packet) -> Perfusion:
        """The perfusion indication in force for ``packet`` (see module doc)."""
        if packet.status_bits & _FORGET_PERFUSION_BITS:
            self._forget_perfusion()
        elif (perfusion := packet.perfusion) is not Perfusion.NONE:
            self._perfusion = perfusion
            self._perfusion_age_packets = 0
        else:
            self._perfusion_age_packets += 1
            if self._perfusion_age_packets > PERFUSION_HOLD_PACKETS:
                self._forget_perfusion()
        return self._perfusion

    def _forget_perfusion(self) -> None:
        self._perfusion = Perfusion.NONE
        self._perfusion_age_packets = 0


def _new_decoder() -> Decoder[object]:
    return NoninDf2Decoder()


#: The registry entry for ``roomctl.devices.DRIVERS``.
DRIVER_SPEC = DriverSpec(
    protocol=ProtocolId.NONIN_DF2,
    display_name="Nonin (Serial Data Format #2)",
    category="oximeter",
    baud=SERIAL_BAUD,
    stale_after_s=STALE_AFTER_S,
    decoder_factory=_new_decoder,
    driver_factory=NoninDf2Driver,
    metrics=(
        MetricSpec(
            metric=Metric.SPO2_PERCENT,
            unit="%",
            minimum=0.0,
            maximum=float(SPO2_MAX_PERCENT),
        ),
        MetricSpec(
            metric=Metric.PULSE_RATE_BPM,
            unit="bpm",
            minimum=PULSE_RATE_RANGE_BPM[0],
            maximum=PULSE_RATE_RANGE_BPM[1],
        ),
    ),
)
