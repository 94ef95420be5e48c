"""Ramp curves and the [music] settings model."""

from __future__ import annotations

import math
import tomllib

import pytest
from pydantic import ValidationError

from roomctl.events import AlarmPriority, Phase
from roomctl.playlists.ramp import Curve, Ramp, amplitude, decibels
from roomctl.playlists.settings import MusicSettings


def test_linear_ramp() -> None:
    ramp = Ramp(start=40.0, end=20.0, start_mono=5.0, duration_s=2.0)
    assert ramp.value_at(4.0) == 40.0
    assert ramp.value_at(6.0) == 30.0
    assert ramp.value_at(7.0) == 20.0
    assert ramp.value_at(99.0) == 20.0
    assert not ramp.done(6.9)
    assert ramp.done(7.0)


def test_zero_length_ramp_is_done_at_once() -> None:
    ramp = Ramp(start=0.0, end=1.0, start_mono=5.0)
    assert ramp.done(0.0)
    assert ramp.value_at(0.0) == 1.0
    assert Ramp.hold(0.3).value_at(123.0) == 0.3


@pytest.mark.parametrize("t", [0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 1.0])
def test_equal_power_crossfade_keeps_power_constant(t: float) -> None:
    fade_in = Ramp(start=0, end=1, start_mono=0, duration_s=1, curve=Curve.EQUAL_POWER)
    fade_out = Ramp(start=1, end=0, start_mono=0, duration_s=1, curve=Curve.EQUAL_POWER)
    power = (
        amplitude(100 * fade_in.value_at(t)) ** 2
        + amplitude(100 * fade_out.value_at(t)) ** 2
    )
    assert power == pytest.approx(1.0)


def test_ramp_to_starts_from_the_current_value() -> None:
    ramp = Ramp(start=0.0, end=10.0, start_mono=0.0, duration_s=10.0)
    turned = ramp.to(0.0, now=5.0, duration_s=5.0)
    assert turned.value_at(5.0) == 5.0
    assert turned.value_at(7.5) == 2.5
    assert turned.done(10.0)


def test_volume_scale() -> None:
    assert amplitude(100) == 1.0
    assert amplitude(0) == 0.0
    assert decibels(0) == -math.inf
    assert decibels(50) == pytest.approx(-18.06, abs=0.01)


def test_music_settings_defaults_and_toml() -> None:
    settings = MusicSettings.model_validate(
        tomllib.loads(
            """
library_dir = "/srv/music"
output = "file:/tmp/music.wav"
exclusions = ["title:Clair de Lune"]
duck_on = ["high"]
[volume_percent]
return = 33
[builtin]
track_s = 60
"""
        )
    )
    assert str(settings.library_dir) == "/srv/music"
    assert settings.volume_percent.for_phase(Phase.RETURN) == 33
    assert settings.volume_percent.for_phase(Phase.PEAK) == 40
    assert settings.volume_percent.for_phase(Phase.CLOSED) == 0
    assert settings.builtin.track_s == 60
    assert settings.should_duck([AlarmPriority.HIGH])
    assert not settings.should_duck([AlarmPriority.MEDIUM])
    assert settings.exclusions == ("title:Clair de Lune",)
    default = MusicSettings()
    assert default.library_dir is None
    assert default.output == "auto"
    assert default.should_duck([AlarmPriority.MEDIUM])


@pytest.mark.parametrize(
    "raw",
    [
        {"output": "speaker"},
        {"crossfade_s": -1},
        {"duck_percent": 120},
        {"tick_s": 1.0},
        {"volume_percent": {"peek": 30}},
        {"colour": "blue"},
        {"builtin": {"channels": 3}},
    ],
)
def test_music_settings_reject_bad_values(raw: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        MusicSettings.model_validate(raw)


def test_music_settings_are_frozen() -> None:
    settings = MusicSettings()
    with pytest.raises(ValidationError):
        settings.crossfade_s = 3  # type: ignore[misc]
