"""EventBus: fan-out of events to bounded per-subscriber queues.

``publish`` is synchronous, never blocks and never raises into the producer: the
alarm path calls it inline. Each subscriber owns a bounded queue with an explicit
overflow policy; the bus never drops a ``CRITICAL`` event (alarm transitions,
episodes, phases, commands): when a queue is full it evicts the oldest non-critical
event instead, and if there is none it lets the queue grow and counts it.

Use it from the event loop's thread only (the daemon is single-threaded asyncio).

    async with bus.subscribe(AlarmChanged, maxlen=256) as alarms:
        async for event in alarms:
            ...
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import time
from collections import deque
from typing import TYPE_CHECKING, Self

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Hashable

    from roomctl.events import Event

_LOGGER = logging.getLogger(__name__)

#: How often one subscriber may log that it is dropping events.
OVERFLOW_LOG_INTERVAL_S = 60.0


class Overflow(enum.StrEnum):
    """What a full subscriber queue does with one event too many."""

    #: Evict the oldest non-critical event (telemetry, records).
    DROP_OLDEST = "drop_oldest"
    #: Keep only the newest event per key; when full, evict the oldest non-critical.
    COALESCE = "coalesce"


class Subscription:
    """One consumer's queue; iterate it with ``async for``.

    Attributes:
        name: the consumer's name, for logs.
        dropped: events evicted on overflow so far.
        over_capacity: critical events accepted beyond ``maxlen``.
        coalesced: events replaced by a newer one with the same key.
    """

    def __init__(
        self,
        *,
        name: str,
        types: tuple[type[Event], ...],
        maxlen: int,
        overflow: Overflow,
        key: Callable[[Event], Hashable | None] | None,
    ) -> None:
        if maxlen < 1:
            raise ValueError("maxlen must be at least 1")
        if overflow is Overflow.COALESCE and key is None:
            raise ValueError("COALESCE needs a key function")
        self.name = name
        self._types = types
        self._maxlen = maxlen
        self._overflow = overflow
        self._key = key
        self._queue: deque[Event] = deque()
        self._by_key: dict[Hashable, Event] = {}
        self._ready = asyncio.Event()
        self._closed = False
        self.dropped = 0
        self.over_capacity = 0
        self.coalesced = 0
        self._last_overflow_log = -OVERFLOW_LOG_INTERVAL_S

    def __len__(self) -> int:
        return len(self._queue)

    def wants(self, event: Event) -> bool:
        """Whether this subscription takes events of this type."""
        return not self._types or isinstance(event, self._types)

    def offer(self, event: Event) -> None:
        """Queue an event by the overflow policy (called by the bus)."""
        if self._closed:
            return
        if self._key is not None and self._overflow is Overflow.COALESCE:
            key = self._key(event)
            if key is not None:
                previous = self._by_key.get(key)
                if previous is not None:
                    self._queue.remove(previous)
                    self.coalesced += 1
                self._by_key[key] = event
        if len(self._queue) >= self._maxlen and not self._evict_for(event):
            return
        self._queue.append(event)
        self._ready.set()

    def _evict_for(self, event: Event) -> bool:
        """Make room for ``event``; return whether it should be queued."""
        for index, queued in enumerate(self._queue):
            if not queued.CRITICAL:
                del self._queue[index]
                self._forget_key(queued)
                self._count_drop()
                return True
        if event.CRITICAL:
            # Never drop a critical event: grow past the bound and say so.
            self.over_capacity += 1
            self._log_overflow()
            return True
        self._forget_key(event)
        self._count_drop()
        return False

    def _forget_key(self, event: Event) -> None:
        if self._key is None or self._overflow is not Overflow.COALESCE:
            return
        key = self._key(event)
        if key is not None and self._by_key.get(key) is event:
            del self._by_key[key]

    def _count_drop(self) -> None:
        self.dropped += 1
        self._log_overflow()

    def _log_overflow(self) -> None:
        now = time.monotonic()
        if now - self._last_overflow_log >= OVERFLOW_LOG_INTERVAL_S:
            self._last_overflow_log = now
            _LOGGER.warning(
                "subscriber %s is falling behind: %d events dropped, "
                "%d critical events queued beyond its limit of %d",
                self.name,
                self.dropped,
                self.over_capacity,
                self._maxlen,
            )

    def get_nowait(self) -> Event | None:
        """Take the oldest queued event, or ``None`` when the queue is empty."""
        if not self._queue:
            if not self._closed:
                self._ready.clear()
            return None
        event = self._queue.popleft()
        self._forget_key(event)
        return event

    def close(self) -> None:
        """End the subscription once its queue is drained."""
        self._closed = True
        self._ready.set()

    @property
    def closed(self) -> bool:
        """Whether the subscription has ended or will end once drained."""
        return self._closed

    async def get(self) -> Event:
        """Wait for the next event.

        Raises:
            StopAsyncIteration: the subscription is closed and drained.
        """
        while True:
            event = self.get_nowait()
            if event is not None:
                return event
            if self._closed:
                raise StopAsyncIteration
            await self._ready.wait()

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Event:
        return await self.get()


class EventBus:
    """Publish events to every interested subscriber without ever blocking."""

    def __init__(self) -> None:
        self._subscriptions: list[Subscription] = []
        self._closed = False

    def publish(self, event: Event) -> None:
        """Hand ``event`` to every subscriber that wants it; never blocks or raises."""
        for subscription in self._subscriptions:
            if subscription.wants(event):
                subscription.offer(event)

    def open(
        self,
        *types: type[Event],
        name: str = "",
        maxlen: int = 1024,
        overflow: Overflow = Overflow.DROP_OLDEST,
        key: Callable[[Event], Hashable | None] | None = None,
    ) -> Subscription:
        """Register a subscription now (events published from here on reach it).

        Prefer ``subscribe``; use ``open``/``unsubscribe`` when the subscription must
        exist before the consumer task starts.
        """
        subscription = Subscription(
            name=name or "subscriber",
            types=types,
            maxlen=maxlen,
            overflow=overflow,
            key=key,
        )
        if self._closed:
            subscription.close()
        self._subscriptions.append(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        """Remove a subscription; it ends after its queue is drained."""
        subscription.close()
        with contextlib.suppress(ValueError):
            self._subscriptions.remove(subscription)

    @contextlib.asynccontextmanager
    async def subscribe(
        self,
        *types: type[Event],
        name: str = "",
        maxlen: int = 1024,
        overflow: Overflow = Overflow.DROP_OLDEST,
        key: Callable[[Event], Hashable | None] | None = None,
    ) -> AsyncIterator[Subscription]:
        """Subscribe to ``types`` (all events when none are given) for a block."""
        subscription = self.open(
            *types, name=name, maxlen=maxlen, overflow=overflow, key=key
        )
        try:
            yield subscription
        finally:
            self.unsubscribe(subscription)

    def close(self) -> None:
        """End every subscription once it has drained its queue."""
        self._closed = True
        for subscription in self._subscriptions:
            subscription.close()
