"""Device-layer ports: the byte link, the frame driver, and the registry entry.

Pure module (protocols and value types only). Drivers are the pure mapping from
frames to typed readings; drivers of request/response devices (SunTech NIBP) also keep
the link to send commands and fail their pending requests when it drops.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime

    from roomctl.devices.codec import Decoder
    from roomctl.readings import AnyReading, Metric, ProtocolId


class ByteLink(Protocol):
    """A connected byte stream to one device (serial port, pty or ``socket://``)."""

    async def read(self) -> bytes:
        """Wait for the next chunk of bytes.

        Raises:
            DeviceDisconnected: the port closed, broke or reached EOF.
        """
        ...

    async def write(self, data: bytes) -> None:
        """Send bytes to the device.

        Raises:
            DeviceDisconnected: the port is closed or broken.
        """
        ...

    async def aclose(self) -> None:
        """Close the link; safe to call twice."""
        ...


class DeviceDriver(Protocol):
    """Turns decoded frames into readings; knows the device's meaning of its bits."""

    def on_frame(
        self, frame: object, received_mono: float, received_at: datetime
    ) -> list[AnyReading]:
        """Map one frame to readings (none, one or several)."""
        ...

    def on_link_up(self, link: ByteLink) -> None:
        """The link (re)opened; command-capable drivers keep it to write."""
        ...

    def on_link_lost(self) -> None:
        """The link dropped: forget partial state, fail every pending request."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class MetricSpec:
    """A metric a device can produce, with its plausible range."""

    metric: Metric
    unit: str
    minimum: float
    maximum: float


@dataclass(frozen=True, slots=True, kw_only=True)
class DriverSpec:
    """One wire protocol's registry entry."""

    protocol: ProtocolId
    display_name: str
    #: ``oximeter`` or ``nibp``: which alarms its readings feed.
    category: str
    baud: int
    #: Seconds without a valid frame before the link is stale.
    stale_after_s: float
    decoder_factory: Callable[[], Decoder[object]]
    driver_factory: Callable[[str], DeviceDriver]
    metrics: tuple[MetricSpec, ...]
