"""The bridge's outbox: QoS 1 messages waiting for the broker, in the order they came.

Pure module. Alarms are *critical*: never dropped, however long the broker is away.
Other events are bounded; when the bound is reached the oldest of them goes. A message
leaves only when the sender says it was acknowledged (``done`` after the PUBACK), so a
message in flight when the connection drops is sent again after the reconnect: the
subscriber may see it twice, never zero times, and drops the repeat by its ``seq``
(``SeqFilter``).

>>> box = Outbox(max_ordinary=1)
>>> _ = box.put("a", b"alarm 1", critical=True)
>>> _ = box.put("e", b"event 1", critical=False)
>>> box.put("e", b"event 2", critical=False).payload  # the bound: event 1 goes
b'event 1'
>>> [box.peek().payload, len(box)]
[b'alarm 1', 2]
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One queued message."""

    topic: str
    payload: bytes
    #: Never dropped (alarms).
    critical: bool
    #: Position in arrival order, across critical and ordinary messages.
    order: int


class Outbox:
    """Two FIFO queues merged by arrival order; only the ordinary one is bounded.

    Attributes:
        dropped: ordinary messages dropped on overflow so far.
    """

    def __init__(self, *, max_ordinary: int) -> None:
        if max_ordinary < 1:
            raise ValueError("max_ordinary must be at least 1")
        self._max_ordinary = max_ordinary
        self._critical: deque[Outgoing] = deque()
        self._ordinary: deque[Outgoing] = deque()
        self._next_order = 0
        self.dropped = 0

    def __len__(self) -> int:
        return len(self._critical) + len(self._ordinary)

    @property
    def critical_count(self) -> int:
        """Critical messages waiting."""
        return len(self._critical)

    def put(self, topic: str, payload: bytes, *, critical: bool) -> Outgoing | None:
        """Queue a message; return the ordinary message dropped to make room, if any."""
        item = Outgoing(topic, payload, critical, self._next_order)
        self._next_order += 1
        if critical:
            self._critical.append(item)
            return None
        dropped = None
        if len(self._ordinary) >= self._max_ordinary:
            dropped = self._ordinary.popleft()
            self.dropped += 1
        self._ordinary.append(item)
        return dropped

    def peek(self) -> Outgoing | None:
        """The oldest waiting message (it stays queued until ``done``)."""
        if not self._critical:
            return self._ordinary[0] if self._ordinary else None
        if not self._ordinary:
            return self._critical[0]
        first, other = self._critical[0], self._ordinary[0]
        return first if first.order < other.order else other

    def done(self, item: Outgoing) -> None:
        """Remove ``item`` once the broker has acknowledged it.

        A no-op when ``item`` is no longer queued (an ordinary message dropped on
        overflow while it was in flight).
        """
        queue = self._critical if item.critical else self._ordinary
        if queue and queue[0] is item:
            queue.popleft()


class SeqFilter:
    """For subscribers: pass each ``(run, seq)`` of a topic once, in order.

    ``seq`` counts 1, 2, 3 ... per topic within one daemon run (``run``); a QoS 1
    resend repeats a number already seen. A jump forward is a gap (ordinary events
    dropped on a long outage), recorded in ``gaps``.

    >>> f = SeqFilter()
    >>> [f.accept("r1", n) for n in (1, 2, 2, 3, 5)], f.gaps
    ([True, True, False, True, True], [(4, 4)])
    """

    def __init__(self) -> None:
        self._last: dict[str, int] = {}
        #: ``(first, last)`` missing numbers, in order of detection.
        self.gaps: list[tuple[int, int]] = []

    def accept(self, run: str, seq: int) -> bool:
        """Whether this message is new (``False`` for a repeat)."""
        last = self._last.get(run, 0)
        if seq <= last:
            return False
        if seq > last + 1:
            self.gaps.append((last + 1, seq - 1))
        self._last[run] = seq
        return True
