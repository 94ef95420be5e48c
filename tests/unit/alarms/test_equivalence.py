"""Long randomized sessions: recorded behaviour kept, and shortcuts change nothing.

The golden records in ``golden/`` were first made by the engine as it stood before its
performance work (every rule advanced and every assertion rebuilt on every call). Each
holds, call by call, every event with every field, every refusal, and a digest of the
snapshot every five minutes: the engine must reproduce them byte for byte. They are
re-recorded (``python -m tests.unit.alarms.randomized``) only for a deliberate change of
behaviour, named in the commit: so far (1) a stale link with the port open is not a
``tech.link`` fault, (2) resolution spacing accepts readings up to the NIBP cycle's
tolerance early, (3) a ``spo2.low`` dip ends only at 92 %, (4) a delay run forgives one
failing sample. Because a re-recording also takes in the tuned engine's shortcuts,
``test_shortcuts_change_nothing`` runs every session again with the continuous rules'
shortcuts (quiet-value regions and next-change times) turned off and wants the same
record.
"""

from __future__ import annotations

import math

import pytest

from roomctl.alarms import rules
from roomctl.alarms.signal import EMPTY
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


@pytest.mark.parametrize("config", configs(), ids=lambda c: f"seed-{c.seed}")
def test_shortcuts_change_nothing(
    config: SessionConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    tuned = record(config)
    # Every sample judged in full and every rule advanced at every call.
    monkeypatch.setattr(rules.ContinuousRule, "still", lambda *_: EMPTY)
    monkeypatch.setattr(rules.ContinuousRule, "next_change", lambda *_: -math.inf)
    monkeypatch.setattr(rules.Spo2LowRule, "still", lambda *_: EMPTY)
    monkeypatch.setattr(rules.Spo2LowRule, "next_change", lambda *_: -math.inf)

    assert record(config) == tuned


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
