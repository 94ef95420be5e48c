from __future__ import annotations

from roomctl.devices.codec import DecoderStats, ErrorRateWindow, sum8, zero_sum


def test_checksums() -> None:
    assert sum8(b"\xff\x02") == 1
    assert (sum(b":\x79\x05\x00") + zero_sum(b":\x79\x05\x00")) & 0xFF == 0


def test_error_window_reports_the_share_over_its_window_only() -> None:
    window = ErrorRateWindow(window_s=30, report_every_s=1)
    assert window.update(0.0, DecoderStats()) is None  # nothing to compare yet
    assert window.update(0.5, DecoderStats(frames=10)) == 0.0
    assert window.update(1.0, DecoderStats(frames=40)) is None  # reported 0.5 s ago
    bad = DecoderStats(frames=75, checksum_errors=5, resyncs=5)
    assert window.update(1.5, bad) == 10 / 85
    # 40 s on, the early errors have left the 30 s window: only clean frames since.
    later = DecoderStats(frames=3075, checksum_errors=5, resyncs=5)
    assert window.update(20.0, DecoderStats(frames=1500, checksum_errors=5, resyncs=5))
    assert window.update(41.5, later) == 0.0


def test_error_window_with_no_frames_at_all_is_zero() -> None:
    window = ErrorRateWindow(window_s=30)
    window.update(0.0, DecoderStats())
    assert window.update(2.0, DecoderStats()) == 0.0
