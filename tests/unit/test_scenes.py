from __future__ import annotations

import math
import tomllib
from dataclasses import FrozenInstanceError, replace
from types import MappingProxyType

import pytest
from pydantic import ValidationError

from roomctl.events import AlarmPriority, Phase
from roomctl.scenes import (
    DEFAULT_SCENE_TABLE,
    AdapterKind,
    ColorRGB,
    ColorXY,
    LightingSettings,
    LightScene,
    SceneSettings,
    SceneSource,
    SceneTable,
    blend,
    brightness_to_scale,
    choose_scene,
    kelvin_to_mired,
    kelvin_to_rgb,
    kelvin_to_xy,
    mired_to_kelvin,
    plan_ramp,
    scale_to_brightness,
    scene_for_command,
    xy_to_rgb,
)

WARM_MIRED = 400  # 2500 K: anything at or above this is "warm"


# ---------------------------------------------------------------- units


@pytest.mark.parametrize(
    ("kelvin", "mired"),
    [(2000, 500), (2200, 455), (2700, 370), (4000, 250), (6500, 154), (6536, 153)],
)
def test_kelvin_and_mired_convert_both_ways(kelvin: int, mired: int) -> None:
    assert kelvin_to_mired(kelvin) == mired
    assert abs(mired_to_kelvin(mired) - kelvin) <= kelvin * 0.01


@pytest.mark.parametrize("bad", [0, -100])
def test_kelvin_and_mired_must_be_positive(bad: int) -> None:
    with pytest.raises(ValueError, match="positive"):
        kelvin_to_mired(bad)
    with pytest.raises(ValueError, match="positive"):
        mired_to_kelvin(bad)


@pytest.mark.parametrize(
    ("brightness", "full", "expected"),
    [
        (0.0, 254, 0),
        (1.0, 254, 254),
        (0.5, 254, 127),
        (0.5, 255, 128),
        (0.45, 100, 45),
        (0.001, 254, 1),
        (0.001, 100, 1),
    ],
)
def test_brightness_scales(brightness: float, full: int, expected: int) -> None:
    assert brightness_to_scale(brightness, full) == expected


def test_brightness_scale_rejects_out_of_range() -> None:
    with pytest.raises(ValueError, match=r"0\.0-1\.0"):
        brightness_to_scale(1.2, 254)


def test_scale_back_to_brightness_clamps() -> None:
    assert scale_to_brightness(254, 254) == 1.0
    assert scale_to_brightness(300, 255) == 1.0
    assert scale_to_brightness(-3, 100) == 0.0


def test_daylight_is_white_and_candlelight_is_orange() -> None:
    r, g, b = kelvin_to_rgb(6500)
    assert min(r, g, b) >= 240
    r, g, b = kelvin_to_rgb(2200)
    assert r == 255
    assert r > g > b
    assert b < 80


def test_warmer_light_has_less_blue_relative_to_red() -> None:
    ratios = []
    for kelvin in range(2000, 6600, 250):
        r, _, b = kelvin_to_rgb(kelvin)
        ratios.append(b / r)
    assert ratios == sorted(ratios)


def test_kelvin_to_xy_follows_the_planckian_locus() -> None:
    x, y = kelvin_to_xy(2856)  # CIE illuminant A: (0.4476, 0.4074)
    assert abs(x - 0.4476) < 0.002
    assert abs(y - 0.4074) < 0.002
    # Outside the approximation's range it clamps instead of going wild.
    assert kelvin_to_xy(1000) == kelvin_to_xy(1667)
    assert kelvin_to_xy(40000) == kelvin_to_xy(25000)


def test_xy_to_rgb_white_point_and_primaries() -> None:
    assert xy_to_rgb(0.3127, 0.3290) == (255, 255, 255)
    r, g, b = xy_to_rgb(0.64, 0.33)  # sRGB red primary
    assert r == 255
    assert g < 30
    assert b < 30
    with pytest.raises(ValueError, match="chromaticity"):
        xy_to_rgb(0.3, 0.0)


# ---------------------------------------------------------------- scene values


def test_scene_helpers() -> None:
    scene = LightScene.warm("x", brightness=0.4, kelvin=2700, transition_s=3)
    assert scene.mired == 370
    assert scene.kelvin == 2703
    assert scene.level == 0.4
    assert LightScene.off().level == 0.0
    assert LightScene.off().kelvin is None
    assert scene.capped(0.2).brightness == 0.2
    assert scene.capped(0.9) is scene
    assert LightScene.off().capped(0.1).on is False
    assert scene.with_transition(9).transition_s == 9
    with pytest.raises(FrozenInstanceError):
        scene.brightness = 1.0  # type: ignore[misc]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"brightness": 1.5}, "brightness"),
        ({"brightness": -0.1}, "brightness"),
        ({"brightness": 0.0}, "above 0"),
        ({"brightness": 0.5, "mired": 50}, "colour temperature"),
        ({"brightness": 0.5, "mired": 1200}, "colour temperature"),
        (
            {"brightness": 0.5, "mired": 300, "color": ColorXY(x=0.3, y=0.3)},
            "not both",
        ),
        ({"brightness": 0.5, "transition_s": -1.0}, "transition"),
        ({"brightness": 0.5, "transition_s": math.inf}, "transition"),
        ({"brightness": 0.5, "transition_s": 4000.0}, "transition"),
        ({"brightness": 0.5, "name": ""}, "name"),
    ],
)
def test_scene_validation(fields: dict[str, object], message: str) -> None:
    arguments: dict[str, object] = {"name": "x", **fields}
    with pytest.raises(ValueError, match=message):
        LightScene(**arguments)  # type: ignore[arg-type]


def test_off_scene_needs_no_brightness() -> None:
    assert LightScene(name="off", on=False).level == 0.0


def test_colour_validation() -> None:
    with pytest.raises(ValueError, match="xy"):
        ColorXY(x=1.2, y=0.3)
    with pytest.raises(ValueError, match="xy"):
        ColorXY(x=0.3, y=0.0)
    with pytest.raises(ValueError, match="0-255"):
        ColorRGB(r=256, g=0, b=0)
    assert ColorRGB(r=1, g=2, b=3).to_rgb() == (1, 2, 3)
    assert ColorXY(x=0.3127, y=0.329).to_rgb() == (255, 255, 255)


# ---------------------------------------------------------------- blending and ramps


def test_blend_moves_brightness_and_colour_temperature_linearly() -> None:
    a = LightScene.warm("a", brightness=0.1, kelvin=2000)
    b = LightScene.warm("b", brightness=0.5, kelvin=4000, transition_s=7)
    quarter = blend(a, b, 0.25)
    assert quarter.name == "b"
    assert quarter.brightness == pytest.approx(0.2)
    assert quarter.mired == round(500 + (250 - 500) * 0.25)
    assert quarter.transition_s == 7
    assert blend(a, b, 0.0).brightness == pytest.approx(0.1)
    assert blend(a, b, 1.0) is b
    assert blend(a, b, 3.0) is b
    assert blend(a, b, -1.0).brightness == pytest.approx(0.1)


def test_blend_from_off_rises_from_zero_and_to_off_ends_off() -> None:
    off = LightScene.off()
    lit = LightScene.warm("lit", brightness=0.4, kelvin=2700)
    rising = blend(off, lit, 0.5)
    assert rising.on
    assert rising.brightness == pytest.approx(0.2)
    assert rising.mired == lit.mired
    falling = blend(lit, off, 0.5)
    assert falling.on
    assert falling.brightness == pytest.approx(0.2)
    assert blend(lit, off, 1.0).on is False
    assert blend(off, off, 0.5) is off
    assert blend(off, lit, 0.0).on is False


def test_blend_colours_of_the_same_kind() -> None:
    a = LightScene(name="a", brightness=0.2, color=ColorXY(x=0.5, y=0.4))
    b = LightScene(name="b", brightness=0.2, color=ColorXY(x=0.3, y=0.3))
    assert blend(a, b, 0.5).color == ColorXY(x=0.4, y=0.35)
    c = LightScene(name="c", brightness=0.2, color=ColorRGB(r=255, g=0, b=0))
    d = LightScene(name="d", brightness=0.2, color=ColorRGB(r=0, g=0, b=255))
    assert blend(c, d, 0.5).color == ColorRGB(r=128, g=0, b=128)
    # Different kinds: the target's colour from the first step.
    mixed = blend(LightScene.warm("w", brightness=0.2, kelvin=2700), d, 0.5)
    assert mixed.color == d.color
    assert mixed.mired is None


def test_blend_to_a_brightness_only_scene_keeps_the_colour() -> None:
    a = LightScene.warm("a", brightness=0.2, kelvin=2700)
    b = LightScene(name="b", brightness=0.6)
    assert blend(a, b, 0.5).mired == a.mired


def test_plan_without_a_start_is_one_short_fade() -> None:
    target = LightScene.warm("return", brightness=0.3, kelvin=2700, transition_s=600)
    [step] = plan_ramp(None, target, duration_s=600, step_s=5)
    assert step.at_s == 0.0
    assert step.scene.transition_s == 5
    assert step.scene.brightness == 0.3


def test_plan_short_fade_runs_natively() -> None:
    a = LightScene.warm("a", brightness=0.3, kelvin=2700)
    b = LightScene.warm("b", brightness=0.1, kelvin=2200)
    [step] = plan_ramp(a, b, duration_s=4, step_s=5)
    assert step.scene.transition_s == 4
    [step] = plan_ramp(a, b, duration_s=-3, step_s=5)
    assert step.scene.transition_s == 0


def test_plan_long_ramp_is_even_steps_of_native_fades() -> None:
    start = LightScene.warm("peak", brightness=0.08, kelvin=2200)
    target = LightScene.warm("return", brightness=0.3, kelvin=2700, transition_s=600)
    steps = plan_ramp(start, target, duration_s=600, step_s=5)
    assert len(steps) == 120
    assert [s.at_s for s in steps[:3]] == [0.0, 5.0, 10.0]
    assert all(s.scene.transition_s == 5 for s in steps)
    levels = [s.scene.brightness for s in steps]
    assert levels == sorted(levels)
    assert len(set(levels)) == len(levels)
    assert levels[0] > start.brightness
    assert max(levels) == target.brightness
    mireds = [s.scene.mired for s in steps]
    assert mireds[0] is not None
    assert mireds[-1] == target.mired
    assert steps[-1].scene == target.with_transition(5)


def test_plan_uneven_duration_spreads_steps_evenly() -> None:
    a = LightScene.warm("a", brightness=0.1, kelvin=2700)
    b = LightScene.warm("b", brightness=0.2, kelvin=2700)
    steps = plan_ramp(a, b, duration_s=12, step_s=5)
    assert len(steps) == 3
    assert [s.at_s for s in steps] == [0.0, 4.0, 8.0]
    assert all(s.scene.transition_s == 4 for s in steps)


def test_plan_needs_a_positive_step() -> None:
    scene = LightScene.warm("a", brightness=0.1, kelvin=2700)
    with pytest.raises(ValueError, match="step"):
        plan_ramp(scene, scene, duration_s=10, step_s=0)


# ---------------------------------------------------------------- the table


def test_default_table_follows_kap_practice() -> None:
    scenes = DEFAULT_SCENE_TABLE.phases
    ceilings = DEFAULT_SCENE_TABLE.ceilings
    for phase in Phase:
        scene = scenes[phase]
        assert scene.on
        assert scene.name == phase.value
        assert scene.brightness <= ceilings[phase]
        assert scene.brightness < 1.0, "never full brightness"
        assert scene.transition_s >= 10, "phase changes fade, never switch"
    assert scenes[Phase.PREPARATION].brightness > scenes[Phase.DOSING].brightness
    for phase in (Phase.DOSING, Phase.PEAK):
        mired = scenes[phase].mired
        assert scenes[phase].brightness <= 0.2
        assert mired is not None
        assert mired >= WARM_MIRED
    assert scenes[Phase.PEAK].brightness <= scenes[Phase.DOSING].brightness
    assert scenes[Phase.RETURN].brightness > scenes[Phase.PEAK].brightness
    assert scenes[Phase.RETURN].transition_s >= 120, "the return rises over minutes"
    assert scenes[Phase.CLOSED].brightness >= max(
        s.brightness for p, s in scenes.items() if p is not Phase.CLOSED
    )
    for phase in (Phase.DOSING, Phase.PEAK, Phase.RETURN, Phase.INTEGRATION):
        assert ceilings[phase] <= 0.5
    safe = DEFAULT_SCENE_TABLE.safe
    assert safe.on
    assert safe.brightness <= 0.3
    assert safe.mired is not None
    assert safe.mired >= WARM_MIRED


@pytest.mark.parametrize("phase", list(Phase))
def test_choose_scene_without_alarm_or_override_is_the_phase_scene(
    phase: Phase,
) -> None:
    assert choose_scene(phase) == DEFAULT_SCENE_TABLE.phases[phase]


@pytest.mark.parametrize("phase", list(Phase))
def test_high_alarm_brings_up_the_light_in_every_phase(phase: Phase) -> None:
    scene = choose_scene(phase, alarm_priority=AlarmPriority.HIGH)
    assert scene.name == "alarm"
    assert scene.brightness >= 0.5
    assert scene.brightness < 1.0
    assert scene.transition_s <= 3


@pytest.mark.parametrize("priority", [AlarmPriority.LOW, AlarmPriority.MEDIUM])
def test_lower_alarms_leave_the_light_alone_by_default(
    priority: AlarmPriority,
) -> None:
    assert choose_scene(Phase.PEAK, alarm_priority=priority).name == "peak"


def test_override_wins_over_the_phase_but_stays_under_its_ceiling() -> None:
    bright = LightScene.warm("reading", brightness=0.9, kelvin=3000)
    scene = choose_scene(Phase.PEAK, override=bright)
    assert scene.name == "reading"
    assert scene.brightness == DEFAULT_SCENE_TABLE.ceilings[Phase.PEAK]
    dim = LightScene.warm("dim", brightness=0.05, kelvin=2200)
    assert choose_scene(Phase.PEAK, override=dim) == dim


def test_alarm_wins_over_an_override() -> None:
    dim = LightScene.warm("dim", brightness=0.05, kelvin=2200)
    scene = choose_scene(Phase.PEAK, alarm_priority=AlarmPriority.HIGH, override=dim)
    assert scene.name == "alarm"


def test_precedence_is_data_in_the_table() -> None:
    table = replace(
        DEFAULT_SCENE_TABLE,
        precedence=(SceneSource.OVERRIDE, SceneSource.ALARM, SceneSource.PHASE),
    )
    dim = LightScene.warm("dim", brightness=0.05, kelvin=2200)
    chosen = choose_scene(
        Phase.PEAK, alarm_priority=AlarmPriority.HIGH, override=dim, table=table
    )
    assert chosen == dim


def _table(**changes: object) -> SceneTable:
    return replace(DEFAULT_SCENE_TABLE, **changes)  # type: ignore[arg-type]


def test_table_validation() -> None:
    phases = dict(DEFAULT_SCENE_TABLE.phases)
    del phases[Phase.PEAK]
    with pytest.raises(ValueError, match="peak"):
        _table(phases=MappingProxyType(phases))
    too_bright = dict(DEFAULT_SCENE_TABLE.phases)
    too_bright[Phase.PEAK] = LightScene.warm("peak", brightness=0.9, kelvin=2200)
    with pytest.raises(ValueError, match="brighter than the peak ceiling"):
        _table(phases=MappingProxyType(too_bright))
    ceilings = dict(DEFAULT_SCENE_TABLE.ceilings)
    ceilings[Phase.PEAK] = 0.0
    with pytest.raises(ValueError, match="ceiling"):
        _table(ceilings=MappingProxyType(ceilings))
    with pytest.raises(ValueError, match="safe scene"):
        _table(safe=LightScene.warm("safe", brightness=0.8, kelvin=2200))
    with pytest.raises(ValueError, match="safe scene"):
        _table(safe=LightScene.off())
    with pytest.raises(ValueError, match="precedence"):
        _table(precedence=(SceneSource.PHASE,))


def test_named_scenes() -> None:
    named = DEFAULT_SCENE_TABLE.named()
    assert set(named) == {*(p.value for p in Phase), "safe", "off"}
    assert named["off"].on is False


def test_scene_for_command() -> None:
    assert scene_for_command(phase=Phase.PEAK, scene="auto") is None
    assert scene_for_command(phase=Phase.PEAK, scene="phase") is None
    assert scene_for_command(phase=Phase.PEAK, scene="safe") == DEFAULT_SCENE_TABLE.safe
    dosing = scene_for_command(phase=Phase.PEAK, scene="dosing")
    assert dosing == DEFAULT_SCENE_TABLE.phases[Phase.DOSING]
    level = scene_for_command(phase=Phase.RETURN, level_percent=12)
    assert level is not None
    assert level.brightness == 0.12
    assert level.mired == DEFAULT_SCENE_TABLE.phases[Phase.RETURN].mired
    off = scene_for_command(phase=Phase.PEAK, level_percent=0)
    assert off is not None
    assert off.on is False
    relit = scene_for_command(phase=Phase.PEAK, scene="off", level_percent=10)
    assert relit is not None
    assert relit.on
    assert relit.brightness == 0.1
    with pytest.raises(ValueError, match="unknown light scene 'disco'"):
        scene_for_command(phase=Phase.PEAK, scene="disco")
    with pytest.raises(ValueError, match="0-100"):
        scene_for_command(phase=Phase.PEAK, level_percent=101)


# ---------------------------------------------------------------- settings


def test_settings_defaults() -> None:
    settings = LightingSettings()
    assert settings.adapter is AdapterKind.ZIGBEE2MQTT
    assert settings.base_topic == "zigbee2mqtt"
    assert settings.lights == []
    table = settings.scene_table()
    assert table.phases[Phase.RETURN].transition_s == 600
    assert set(table.alarm_scenes) == {AlarmPriority.HIGH}
    assert table.phases[Phase.PEAK] == DEFAULT_SCENE_TABLE.phases[Phase.PEAK]


def test_settings_have_attribute_docstrings() -> None:
    description = LightingSettings.model_fields["ramp_step_s"].description
    assert description is not None
    assert "Tasmota" in description


def test_settings_from_toml() -> None:
    text = """
adapter = "tasmota"
lights = ["room1-ceiling", "room1-lamp"]
ramp_step_s = 10
return_ramp_min = 15
alarm_priorities = ["medium", "high"]

[scenes.peak]
brightness = 0.05
kelvin = 2000
transition_s = 90

[ceilings]
closed = 0.9

[alarm]
brightness = 0.5
kelvin = 4000
transition_s = 1
"""
    settings = LightingSettings.model_validate(tomllib.loads(text))
    table = settings.scene_table()
    assert settings.adapter is AdapterKind.TASMOTA
    assert table.phases[Phase.PEAK].brightness == 0.05
    assert table.phases[Phase.PEAK].mired == 500
    assert table.phases[Phase.RETURN].transition_s == 900
    assert table.ceilings[Phase.CLOSED] == 0.9
    assert set(table.alarm_scenes) == {AlarmPriority.MEDIUM, AlarmPriority.HIGH}
    assert table.alarm_scenes[AlarmPriority.MEDIUM].brightness == 0.5


def test_settings_reject_a_closed_ceiling_below_its_scene() -> None:
    with pytest.raises(ValidationError, match="brighter than the closed ceiling"):
        LightingSettings(ceilings={Phase.CLOSED: 0.5})


def test_settings_reject_an_override_above_the_ceiling() -> None:
    with pytest.raises(ValidationError, match="brighter than the peak ceiling"):
        LightingSettings(scenes={Phase.PEAK: SceneSettings(brightness=0.5)})


def test_settings_allow_a_brighter_scene_with_a_raised_ceiling() -> None:
    settings = LightingSettings(
        scenes={Phase.PEAK: SceneSettings(brightness=0.3, kelvin=2200)},
        ceilings={Phase.PEAK: 0.3},
    )
    assert choose_scene(Phase.PEAK, table=settings.scene_table()).brightness == 0.3


def test_alarm_scene_can_be_turned_off() -> None:
    table = LightingSettings(alarm_scene=False).scene_table()
    scene = choose_scene(Phase.PEAK, alarm_priority=AlarmPriority.HIGH, table=table)
    assert scene.name == "peak"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"surprise": 1}, "Extra inputs"),
        ({"adapter": "hue"}, "adapter"),
        ({"lights": ["room/+"]}, "MQTT topic"),
        ({"lights": ["/room"]}, "MQTT topic"),
        ({"lights": ["room/"]}, "MQTT topic"),
        ({"lights": ["a b"]}, "MQTT topic"),
        ({"lights": ["a", "a"]}, "twice"),
        ({"base_topic": "z2m/#"}, "base topic"),
        ({"ramp_step_s": 30}, "ramp_step_s"),
        ({"ramp_step_s": 0.1}, "ramp_step_s"),
        ({"return_ramp_min": 90}, "return_ramp_min"),
        ({"mired_min": 400, "mired_max": 300}, "mired_min"),
        ({"safe_scene": {"brightness": 0.9}}, "safe scene"),
        ({"scenes": {"dawn": {"brightness": 0.1}}}, "scenes"),
    ],
)
def test_settings_validation(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        LightingSettings.model_validate(fields)


def test_settings_are_frozen() -> None:
    settings = LightingSettings()
    with pytest.raises(ValidationError):
        settings.adapter = AdapterKind.WLED  # type: ignore[misc]


def test_scene_settings() -> None:
    with pytest.raises(ValidationError, match="one of kelvin"):
        SceneSettings(kelvin=2700, color_rgb=(255, 0, 0))
    with pytest.raises(ValidationError, match="above 0"):
        SceneSettings(brightness=0.0)
    rgb = SceneSettings(brightness=0.2, color_rgb=(255, 100, 0)).to_scene("x")
    assert rgb.color == ColorRGB(r=255, g=100, b=0)
    xy = SceneSettings(brightness=0.2, color_xy=(0.5, 0.4)).to_scene("x")
    assert xy.color == ColorXY(x=0.5, y=0.4)
    off = SceneSettings(state="off", brightness=0.0).to_scene("x")
    assert off.on is False
    with pytest.raises(ValueError, match="xy"):
        SceneSettings(color_xy=(2.0, 0.4)).to_scene("x")
