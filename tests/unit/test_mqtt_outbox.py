from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from roomctl.mqtt.outbox import Outbox, SeqFilter


def _drain(box: Outbox) -> list[bytes]:
    out = []
    while (item := box.peek()) is not None:
        out.append(item.payload)
        box.done(item)
    return out


def test_outbox_keeps_arrival_order_across_alarms_and_events() -> None:
    box = Outbox(max_ordinary=10)
    for name, critical in [("e1", False), ("a1", True), ("e2", False), ("a2", True)]:
        box.put("t", name.encode(), critical=critical)
    assert _drain(box) == [b"e1", b"a1", b"e2", b"a2"]
    assert len(box) == 0
    assert box.peek() is None


def test_outbox_drops_the_oldest_event_but_never_an_alarm() -> None:
    box = Outbox(max_ordinary=2)
    for n in range(1000):
        box.put("alarms", f"a{n}".encode(), critical=True)
    dropped = [box.put("events", f"e{n}".encode(), critical=False) for n in range(4)]
    assert [d.payload if d else None for d in dropped] == [None, None, b"e0", b"e1"]
    assert box.dropped == 2
    assert box.critical_count == 1000
    assert _drain(box) == [f"a{n}".encode() for n in range(1000)] + [b"e2", b"e3"]


def test_outbox_resends_the_head_until_it_is_acknowledged() -> None:
    box = Outbox(max_ordinary=5)
    first = box.put("t", b"a1", critical=True) or box.peek()
    box.put("t", b"a2", critical=True)
    assert first is not None
    assert box.peek() is first
    assert box.peek() is first  # a failed send changes nothing
    box.done(first)
    next_item = box.peek()
    assert next_item is not None
    assert next_item.payload == b"a2"


def test_outbox_done_ignores_an_event_dropped_while_in_flight() -> None:
    box = Outbox(max_ordinary=1)
    box.put("t", b"e1", critical=False)
    in_flight = box.peek()
    assert in_flight is not None
    box.put("t", b"e2", critical=False)  # overflow drops e1, the one in flight
    box.done(in_flight)
    assert _drain(box) == [b"e2"]


def test_outbox_needs_room_for_one_event() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        Outbox(max_ordinary=0)


def test_seq_filter_drops_repeats_and_reports_gaps_per_run() -> None:
    seqs = SeqFilter()
    accepted = [
        seqs.accept(run, seq)
        for run, seq in [
            ("r1", 1),
            ("r1", 1),
            ("r1", 2),
            ("r2", 1),
            ("r1", 6),
            ("r1", 3),
        ]
    ]
    assert accepted == [True, False, True, True, True, False]
    assert seqs.gaps == [(3, 5)]


# What can happen to one QoS 1 publish: acknowledged; lost before the broker; or
# reached the broker (and the subscriber) but the PUBACK was lost with the link.
ACKED, LOST, UNACKED = "acked", "lost", "delivered-unacked"


@given(
    script=st.lists(
        st.one_of(
            st.tuples(st.just("put"), st.booleans()),
            st.tuples(st.just("send"), st.sampled_from([ACKED, LOST, UNACKED])),
        ),
        max_size=80,
    )
)
def test_outbox_and_seq_give_every_alarm_once_in_order_whatever_the_link_does(
    script: list[tuple[str, object]],
) -> None:
    box = Outbox(max_ordinary=3)
    seq = 0
    alarms: list[int] = []
    received: list[bytes] = []
    for op, arg in script:
        if op == "put":
            seq += 1
            critical = bool(arg)
            if critical:
                alarms.append(seq)
            box.put("t", json.dumps({"seq": seq}).encode(), critical=critical)
        elif (item := box.peek()) is not None:
            if arg in {ACKED, UNACKED}:
                received.append(item.payload)
            if arg == ACKED:
                box.done(item)
    received += _drain(box)  # the broker comes back for good
    seqs = SeqFilter()
    unique = [
        s for s in (json.loads(p)["seq"] for p in received) if seqs.accept("run", s)
    ]
    assert unique == sorted(unique)
    assert [s for s in unique if s in alarms] == alarms
