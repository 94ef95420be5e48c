"""The decoders under the mutational fuzzer: a short run in the default suite.

``ROOMCTL_FUZZ_INPUTS`` sets the inputs per protocol (default 7,000: about 21,000 in
all); ``python -m tests.fuzz`` (``make fuzz``) runs a million per protocol. The
fuzzer, its oracles and what they assert are described in ``tests/fuzz/mutate.py``.
The last tests break each decoder (and the Nonin and SunTech drivers' range checks) on
purpose and check that the fuzzer notices.
"""

from __future__ import annotations

import logging
import os
import re
from typing import TYPE_CHECKING

import pytest

from roomctl.devices.masimo_ascii1 import protocol as masimo
from roomctl.devices.nonin_df2 import driver as nonin_driver
from roomctl.devices.nonin_df2 import protocol as nonin
from roomctl.devices.suntech_nibp import driver as suntech_driver
from roomctl.devices.suntech_nibp import protocol as suntech
from roomctl.readings import Metric, Reading
from tests.fuzz.mutate import (
    PROTOCOLS,
    FuzzFailure,
    fuzz,
    reference_nonin_packets,
    run_nonin,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

INPUTS = int(os.environ.get("ROOMCTL_FUZZ_INPUTS", "7000"))


@pytest.fixture(autouse=True)
def quiet_decoders() -> Iterator[None]:
    """No DEBUG record per dropped line: the suite's root logger takes them all."""
    devices = logging.getLogger("roomctl.devices")
    level = devices.level
    devices.setLevel(logging.INFO)
    try:
        yield
    finally:
        devices.setLevel(level)


@pytest.mark.parametrize("name", list(PROTOCOLS))
def test_mutated_input_never_breaks_a_decoder_or_yields_a_broken_frame(
    name: str,
) -> None:
    stats = fuzz(name, INPUTS)
    print(stats.line())  # noqa: T201 -- the figures, with -s
    assert stats.inputs == INPUTS
    # The run exercised both sides: untouched units came through, mutated ones
    # were dropped (fewer units out than went in untouched or not).
    assert stats.units_out_intact > INPUTS // 2
    assert stats.units_out_intact >= 0.97 * stats.units_untouched
    assert stats.readings > 0


def _fails(name: str) -> str:
    with pytest.raises(FuzzFailure) as caught:
        fuzz(name, 3000)
    return str(caught.value)


def test_the_fuzzer_catches_a_nonin_decoder_that_skips_the_checksum(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The first frame of every run is judged by _judge: let it pass a bad sum.
    judge = nonin._judge

    def loose(window: bytes) -> object:
        verdict = judge(window)
        return (
            nonin._Verdict.VALID if verdict is nonin._Verdict.BAD_CHECKSUM else verdict
        )

    monkeypatch.setattr(nonin, "_judge", loose)
    assert "from the reference" in _fails("nonin-df2")


def test_the_fuzzer_catches_a_suntech_decoder_with_a_loose_length(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Two- and three-byte "responses": shorter than any frame can be.
    monkeypatch.setattr(suntech, "_response_length", lambda byte: min(byte, 67))
    assert "suntech-advantage input" in _fails("suntech-advantage")


def test_the_fuzzer_catches_a_masimo_decoder_that_takes_any_dash_for_no_value(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(masimo, "_DASHED_VALUE", re.compile(r"-.*"))
    assert "from the reference" in _fails("masimo-ascii1")


def test_a_nonin_packet_with_a_frame_repeated_gives_no_reading() -> None:
    # RELIABILITY.md "Bad input", found item 1: frame 8 (SpO2-D) of the middle
    # packet sent twice. Both the reference and the decoder drop that packet.
    packets = [
        nonin.encode_packet(hr_bpm=60 + 20 * i, spo2_percent=90 + i, pleth=[128] * 25)
        for i in range(3)
    ]
    frame_8 = packets[1][40:45]
    middle = packets[1][:40] + frame_8 + packets[1][40:]
    data = packets[0] + middle + packets[2] + packets[0][:5]
    kept = [(0, packets[0]), (125 + len(middle), packets[2])]
    assert reference_nonin_packets(data) == kept
    readings, found = run_nonin(data, [data[:200], data[200:]])
    assert found == [(at, 130) for at, _ in kept]
    pulses = [
        r.value
        for r in readings
        if isinstance(r, Reading) and r.metric is Metric.PULSE_RATE_BPM
    ]
    assert pulses == [60, 100]


def test_the_fuzzer_catches_a_nonin_driver_that_passes_any_spo2_as_ok(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The corpus has packets with a SpO2 of 120 %.
    monkeypatch.setattr(nonin_driver, "SPO2_MAX_PERCENT", 126)
    failure = _fails("nonin-df2")
    assert "an ok value beyond the driver's bound" in failure
    assert "spo2_percent" in failure


def test_the_fuzzer_catches_a_suntech_driver_that_passes_any_systolic_as_ok(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(suntech_driver, "SYSTOLIC_RANGE_MMHG", (0, 0xFFFF))
    assert "outside the advertised range" in _fails("suntech-advantage")
