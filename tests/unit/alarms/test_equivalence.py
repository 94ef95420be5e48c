"""Long randomized sessions give exactly the record kept before the engine was tuned.

The golden records in ``golden/`` were made by the engine as it stood before its
performance work (every rule advanced and every assertion rebuilt on every call). Each
holds, call by call, every event with every field, every refusal, and a digest of the
snapshot every five minutes: the tuned engine must reproduce them byte for byte.
"""

from __future__ import annotations

import pytest

from tests.unit.alarms.randomized import (
    SessionConfig,
    configs,
    counts,
    payloads,
    read_golden,
    record,
)


@pytest.mark.parametrize("config", configs(), ids=lambda c: f"seed-{c.seed}")
def test_session_matches_the_golden_record(config: SessionConfig) -> None:
    golden_counts, golden = read_golden(config.seed)
    entries = record(config)

    assert counts(config, entries) == golden_counts
    for got, want in zip(entries, golden, strict=True):
        assert got == want


def test_a_session_is_deterministic() -> None:
    config = configs()[0]

    assert record(config) == record(config)


def test_the_golden_records_cover_every_code() -> None:
    seen = {
        payload[4]
        for config in configs()
        for entry in read_golden(config.seed)[1]
        for payload in payloads(entry)
        if isinstance(payload, list) and payload[0] == "alarm"
    }

    assert seen >= {
        "bp.high",
        "bp.severe",
        "bp.low",
        "bp.rise",
        "bp.predose_high",
        "hr.high",
        "hr.rise",
        "hr.low",
        "spo2.low",
        "spo2.desat",
        "spo2.borderline",
        "tech.spo2.signal",
        "tech.spo2.data_lost",
        "tech.nibp.overdue",
        "tech.nibp.questionable",
        "tech.baseline_missing",
        "tech.link.oximeter",
        "tech.link.nibp",
        "tech.link.capnograph",
    }
