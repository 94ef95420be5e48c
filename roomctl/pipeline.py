"""ReadingPipeline: driver output to the alarm engine and the bus, synchronously.

Nothing here awaits: a reading's alarm decision is made in the same call that
publishes it, so no queue, output or consumer can delay or drop it (style.md §2.2).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from roomctl.events import ReadingReceived

if TYPE_CHECKING:
    from roomctl.bus import EventBus
    from roomctl.events import DeviceConnected, DeviceLost, DeviceStale
    from roomctl.readings import AnyReading


class ReadingPipeline:
    """Takes readings and link changes from every device supervisor."""

    def __init__(self, *, bus: EventBus) -> None:
        self._bus = bus

    def handle(self, reading: AnyReading) -> None:
        """Publish a reading (stamped with its receive time)."""
        self._bus.publish(
            ReadingReceived(
                occurred_mono=reading.received_mono,
                occurred_at=reading.received_at,
                reading=reading,
            )
        )

    def link_changed(self, event: DeviceConnected | DeviceLost | DeviceStale) -> None:
        """Publish a link change."""
        self._bus.publish(event)
