from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import pytest

from roomctl.bus import EventBus, Overflow
from roomctl.events import (
    AlarmChanged,
    AlarmKind,
    AlarmPriority,
    AlarmTransition,
    DeviceConnected,
    Event,
    ReadingReceived,
)
from roomctl.readings import Metric, Reading, ReadingStatus

if TYPE_CHECKING:
    from roomctl.clock import VirtualClock


def reading(
    clock: VirtualClock, value: float, metric: Metric = Metric.SPO2_PERCENT
) -> ReadingReceived:
    return ReadingReceived(
        occurred_mono=clock.monotonic(),
        occurred_at=clock.now_utc(),
        reading=Reading(
            device="oximeter",
            metric=metric,
            value=value,
            status=ReadingStatus.OK,
            received_mono=clock.monotonic(),
            received_at=clock.now_utc(),
        ),
    )


def alarm(clock: VirtualClock, code: str) -> AlarmChanged:
    return AlarmChanged(
        occurred_mono=clock.monotonic(),
        occurred_at=clock.now_utc(),
        transition=AlarmTransition.RAISED,
        code=code,
        priority=AlarmPriority.HIGH,
        kind=AlarmKind.PHYSIOLOGICAL,
    )


def values(events: list[Event]) -> list[object]:
    out: list[object] = []
    for e in events:
        if isinstance(e, ReadingReceived):
            assert isinstance(e.reading, Reading)
            out.append(e.reading.value)
        elif isinstance(e, AlarmChanged):
            out.append(e.code)
    return out


def drain(sub_get: object) -> list[Event]:
    events: list[Event] = []
    get = sub_get
    assert callable(get)
    while (event := get()) is not None:
        events.append(event)
    return events


async def test_bus_fans_out_by_type(clock: VirtualClock) -> None:
    bus = EventBus()
    everything = bus.open(name="all")
    alarms = bus.open(AlarmChanged, name="alarms")
    bus.publish(reading(clock, 97))
    bus.publish(alarm(clock, "spo2.desat"))
    bus.publish(
        DeviceConnected(occurred_mono=0, occurred_at=clock.now_utc(), device="x")
    )
    assert len(everything) == 3
    assert values(drain(alarms.get_nowait)) == ["spo2.desat"]


async def test_bus_drop_oldest_never_drops_a_critical_event(
    clock: VirtualClock,
) -> None:
    bus = EventBus()
    sub = bus.open(name="slow", maxlen=3)
    bus.publish(reading(clock, 1))
    bus.publish(alarm(clock, "a1"))
    bus.publish(reading(clock, 2))
    bus.publish(reading(clock, 3))  # evicts reading 1
    bus.publish(alarm(clock, "a2"))  # evicts reading 2
    bus.publish(alarm(clock, "a3"))  # evicts reading 3
    bus.publish(reading(clock, 4))  # queue is all critical: the reading is dropped
    bus.publish(alarm(clock, "a4"))  # never dropped: grows past the bound
    assert values(drain(sub.get_nowait)) == ["a1", "a2", "a3", "a4"]
    assert sub.dropped == 4
    assert sub.over_capacity == 1


async def test_bus_coalesce_keeps_the_newest_per_key(clock: VirtualClock) -> None:
    bus = EventBus()

    def key(event: Event) -> object:
        if isinstance(event, ReadingReceived) and isinstance(event.reading, Reading):
            return event.reading.metric
        return None

    sub = bus.open(name="ui", maxlen=10, overflow=Overflow.COALESCE, key=key)
    bus.publish(reading(clock, 97))
    bus.publish(reading(clock, 70, Metric.PULSE_RATE_BPM))
    bus.publish(alarm(clock, "hr.high"))
    bus.publish(reading(clock, 96))
    bus.publish(reading(clock, 95))
    assert values(drain(sub.get_nowait)) == [70, "hr.high", 95]
    assert sub.coalesced == 2


async def test_bus_coalesce_needs_a_key() -> None:
    with pytest.raises(ValueError, match="key"):
        EventBus().open(overflow=Overflow.COALESCE)


async def test_bus_subscriber_wakes_and_ends_after_close(clock: VirtualClock) -> None:
    bus = EventBus()
    received: list[Event] = []

    async def consume() -> None:
        async with bus.subscribe(name="consumer") as sub:
            async for event in sub:
                received.append(event)  # noqa: PERF401 (the test watches it grow)

    task = asyncio.create_task(consume())
    await asyncio.sleep(0)
    bus.publish(reading(clock, 97))
    await asyncio.sleep(0)
    assert len(received) == 1
    bus.publish(reading(clock, 98))
    bus.close()
    await asyncio.wait_for(task, 1)
    assert values(received) == [97, 98]


async def test_bus_publish_with_a_dead_consumer_never_blocks(
    clock: VirtualClock,
) -> None:
    bus = EventBus()
    sub = bus.open(name="dead", maxlen=100)
    for i in range(10_000):
        bus.publish(reading(clock, i))
    assert len(sub) == 100
    assert sub.dropped == 9_900


async def test_bus_unsubscribed_queue_gets_nothing_more(clock: VirtualClock) -> None:
    bus = EventBus()
    sub = bus.open(name="gone")
    bus.unsubscribe(sub)
    bus.publish(reading(clock, 97))
    assert len(sub) == 0
    with pytest.raises(StopAsyncIteration):
        await sub.get()


async def test_bus_opened_after_close_is_already_closed() -> None:
    bus = EventBus()
    bus.close()
    sub = bus.open()
    assert sub.closed
