from __future__ import annotations

import math

import pytest

from roomctl.errors import ExportError
from roomctl.export.mllp import Ack, frame, parse_ack
from roomctl.export.numbers import format_number


def test_ack_parsing_reads_msa_and_error_words() -> None:
    text = (
        "MSH|^~\\&|RX|||||||ACK^R01^ACK|9|P|2.6\r"
        "MSA|ae|MSG7|bad \\F\\ field\r"
        "ERR|||207^Application internal error^HL70357|E||||OBX-3 unknown\r"
        "ERR|||101^Required field missing^HL70357|E\r"
    )
    assert parse_ack(text) == Ack(
        code="AE",
        control_id="MSG7",
        text=("bad | field; OBX-3 unknown; 101^Required field missing^HL70357"),
    )


def test_ack_parsing_accepts_lf_separated_segments() -> None:
    assert parse_ack("MSH|^~\\&|RX\nMSA|AA|M1\n") == Ack("AA", "M1", "")


@pytest.mark.parametrize("text", ["MSH|^~\\&|RX\r", "MSH|^~\\&\rMSA|AA\r", ""])
def test_ack_parsing_refuses_an_answer_without_msa(text: str) -> None:
    with pytest.raises(ExportError, match="not an acknowledgement"):
        parse_ack(text)


def test_frame_wraps_utf8_between_start_and_end_bytes() -> None:
    assert frame("MSH|é\r") == b"\x0bMSH|\xc3\xa9\r\x1c\x0d"


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_numbers_refuse_non_finite_values(value: float) -> None:
    with pytest.raises(ValueError, match="not a finite number"):
        format_number(value)


def test_numbers_never_use_an_exponent() -> None:
    assert [format_number(v) for v in (1e-7, 1e20, 0.1 + 0.2, -0.0)] == [
        "0.0000001",
        "100000000000000000000",
        "0.30000000000000004",
        "0",
    ]
