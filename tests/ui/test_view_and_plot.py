"""The display rules (view) and the trend plotter, without a terminal."""

from __future__ import annotations

from datetime import UTC
from typing import TYPE_CHECKING, Unpack

import pytest

from roomctl.events import AlarmPriority, Phase
from roomctl.ui import plot
from roomctl.ui.model import RoomModel
from roomctl.ui.state import Tile
from roomctl.ui.view import (
    RoomView,
    audio_text,
    banner,
    describe_command,
    liveness_text,
    nibp_tile,
    vital_tile,
)
from tests.ui.fakes import DESAT, HR_HIGH, room_state

if TYPE_CHECKING:
    from tests.ui.fakes import StateOptions


def view(
    age: float = 0.0, *, connected: bool = True, **state: Unpack[StateOptions]
) -> RoomView:
    model = RoomModel("room-1")
    model.on_status(online=True)
    model.on_state(room_state(**state), retained=False, now=100.0)
    return RoomView(model=model, now=100.0 + age, connected=connected, tz=UTC)


def test_a_live_value_is_shown() -> None:
    tile = vital_tile(view(), Tile.SPO2)
    assert (tile.value, tile.flag, tile.detail, tile.stale) == ("97", "", "live", False)
    assert tile.limits == "<90 <85 (default)"


@pytest.mark.parametrize(
    ("age", "state", "connected"),
    [
        (6.0, {}, True),  # the room went quiet
        (0.0, {"vitals_live": False}, True),  # the daemon says not live
        (0.0, {}, False),  # the console lost the broker
    ],
)
def test_a_value_that_is_not_live_is_never_shown_as_a_number(
    age: float, state: StateOptions, connected: bool
) -> None:
    tile = vital_tile(view(age, connected=connected, **state), Tile.PULSE)
    assert tile.value == "--"
    assert tile.flag == "NOT LIVE"
    assert tile.detail.startswith("last 72 bpm")
    assert tile.stale


def test_a_missing_value_says_why() -> None:
    tile = vital_tile(view(spo2=None, spo2_status="searching"), Tile.SPO2)
    assert (tile.value, tile.flag, tile.detail) == ("--", "", "searching")


def test_nibp_age_grey_invalid() -> None:
    fresh = nibp_tile(view(nibp_age_s=30))
    assert (fresh.value, fresh.flag, fresh.stale) == ("124/78 (93)", "", False)
    assert fresh.detail == "30 s ago - next 09:22"
    assert fresh.short == "124/78 30 s"
    grey = nibp_tile(view(freshness="grey", nibp_age_s=1900))
    assert (grey.value, grey.flag, grey.stale) == ("124/78 (93)", "OLD", True)
    invalid = nibp_tile(view(freshness="invalid", nibp_age_s=3700))
    assert (invalid.value, invalid.flag) == ("--/--", "INVALID")
    assert nibp_tile(view(nibp=None)).detail.startswith("no reading yet")


def test_tile_and_banner_priority_and_flashing() -> None:
    v = view(alarms=[DESAT, HR_HIGH])
    spo2 = vital_tile(v, Tile.SPO2)
    assert (spo2.priority, spo2.unacknowledged) == (AlarmPriority.HIGH, True)
    assert vital_tile(v, Tile.PULSE).priority is AlarmPriority.MEDIUM
    assert nibp_tile(v).priority is None
    content = banner(v)
    assert content.headline == "*** SpO2 83 % < 85 [NOT ACK, LATCHED]"
    assert content.status.startswith("+1 more, 2 not acknowledged")
    assert banner(view()).headline == "No active alarms"


def test_audio_pause_counts_down_only_while_live() -> None:
    assert audio_text(view(2.0, pause_remaining_s=120)) == "AUDIO PAUSED 1:58 by nurse"
    assert (
        audio_text(view(30.0, pause_remaining_s=120))
        == "AUDIO PAUSED 2:00 by nurse (not live)"
    )


def test_liveness_sentences() -> None:
    assert liveness_text(view()) == ""
    assert "nothing from room-1 for 9 s" in liveness_text(view(9.0))
    assert "not connected to the broker" in liveness_text(view(connected=False))


def test_describe_command() -> None:
    assert describe_command("acknowledge", {"id": "x", "by": "nurse"}) == (
        "acknowledge all"
    )
    assert describe_command("baseline_confirm", {"sbp": 130, "reason": "r"}) == (
        "baseline override sbp 130"
    )
    assert describe_command("lights", {"scene": "peak"}) == "lights peak"


# ------------------------------------------------------------------ plot


def test_area_bars_gaps_and_blanks() -> None:
    rows = plot.area(
        [(5.0, 100.0), (15.0, None), (25.0, 90.0)],
        t_end=40,
        window_s=40,
        width=4,
        height=2,
        low=80,
        high=100,
    )
    # column 0: full; column 1: not live (a gap); column 2: half; column 3: no data.
    assert [row.plain for row in rows] == ["█   ", "█╌█ "]


def test_area_summary_picks_the_worst_value() -> None:
    points = [(1.0, 98.0), (2.0, 81.0)]
    low = plot.area(points, t_end=10, window_s=10, width=1, height=1, low=80, high=100)
    high = plot.area(
        points, t_end=10, window_s=10, width=1, height=1, low=80, high=100, summary=max
    )
    assert (low[0].plain, high[0].plain) == ("▁", "▇")


def test_limit_lines_only_on_tall_plots() -> None:
    short, tall = (
        plot.area(
            [], t_end=10, window_s=10, width=3, height=h, low=80, high=100, limits=[90]
        )
        for h in (2, 4)
    )
    assert all("┄" not in row.plain for row in short)
    assert [row.plain for row in tall] == ["   ", "┄┄┄", "   ", "   "]


def test_bp_ranges() -> None:
    rows = plot.ranges(
        [(2.0, 180.0, 100.0)],
        t_end=10,
        window_s=10,
        width=2,
        height=4,
        low=60,
        high=200,
    )
    assert [row.plain for row in rows] == ["┃ ", "┃ ", "┃ ", "  "]


def test_phase_band_and_alarm_marks() -> None:
    band = plot.phase_band(
        [(0.0, Phase.PREPARATION), (20.0, Phase.DOSING)], t_end=40, window_s=40, width=4
    )
    assert band.plain == "P D "
    marks = plot.alarm_marks(
        [(12.0, AlarmPriority.LOW, "a"), (13.0, AlarmPriority.HIGH, "b")],
        t_end=40,
        window_s=40,
        width=4,
    )
    assert marks.plain == " ▲  "
    assert "red" in str(marks.spans[0].style)  # the highest in the column wins
