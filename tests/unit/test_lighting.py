"""Adapters: every backend's topics, payloads and units."""

from __future__ import annotations

import json

import pytest

from roomctl.lighting import (
    FeedbackKind,
    HaJsonAdapter,
    ReportedState,
    TasmotaAdapter,
    WledAdapter,
    Zigbee2MqttAdapter,
    make_adapter,
)
from roomctl.scenes import (
    AdapterKind,
    ColorRGB,
    ColorXY,
    LightingSettings,
    LightScene,
)

WARM = LightScene.warm("peak", brightness=0.5, kelvin=2700, transition_s=4)
OFF = LightScene.off(transition_s=2)
XY = LightScene(name="xy", brightness=0.2, color=ColorXY(x=0.5, y=0.4))
RGB = LightScene(name="rgb", brightness=0.2, color=ColorRGB(r=255, g=80, b=0))


def payload_of(
    adapter: Zigbee2MqttAdapter | HaJsonAdapter | WledAdapter, scene: LightScene
) -> dict[str, object]:
    [message] = adapter.command("room-1", scene)
    data = json.loads(message.payload)
    assert isinstance(data, dict)
    return data


# ---------------------------------------------------------------- Zigbee2MQTT


def test_z2m_warm_scene() -> None:
    adapter = Zigbee2MqttAdapter(base_topic="z2m")
    [message] = adapter.command("room-1/ceiling", WARM)
    assert message.topic == "z2m/room-1/ceiling/set"
    assert message.qos == 1
    assert message.retain is False
    assert json.loads(message.payload) == {
        "state": "ON",
        "brightness": 127,
        "color_temp": 370,
        "transition": 4,
    }


@pytest.mark.parametrize(
    ("brightness", "expected"), [(1.0, 254), (0.5, 127), (0.08, 20), (0.001, 1)]
)
def test_z2m_brightness_is_0_to_254(brightness: float, expected: int) -> None:
    scene = LightScene(name="x", brightness=brightness)
    assert payload_of(Zigbee2MqttAdapter(), scene)["brightness"] == expected


def test_z2m_off_and_colours() -> None:
    adapter = Zigbee2MqttAdapter()
    assert payload_of(adapter, OFF) == {"state": "OFF", "transition": 2}
    assert payload_of(adapter, XY)["color"] == {"x": 0.5, "y": 0.4}
    assert "color_temp" not in payload_of(adapter, XY)
    assert payload_of(adapter, RGB)["color"] == {"r": 255, "g": 80, "b": 0}
    assert "color_temp" not in payload_of(adapter, LightScene(name="b", brightness=0.3))


def test_z2m_clamps_colour_temperature_to_the_bulbs_range() -> None:
    adapter = Zigbee2MqttAdapter(mired_min=250, mired_max=454)
    cold = LightScene(name="c", brightness=0.3, mired=153)
    hot = LightScene(name="h", brightness=0.3, mired=555)
    assert payload_of(adapter, cold)["color_temp"] == 250
    assert payload_of(adapter, hot)["color_temp"] == 454


@pytest.mark.parametrize(
    ("transition_s", "expected"), [(0, 0), (0.25, 0.2), (1.26, 1.3), (5.0, 5)]
)
def test_z2m_transition_is_seconds_at_a_tenth(
    transition_s: float, expected: float
) -> None:
    scene = WARM.with_transition(transition_s)
    assert payload_of(Zigbee2MqttAdapter(), scene)["transition"] == expected


def test_z2m_transition_is_capped_at_the_zigbee_maximum() -> None:
    scene = WARM.with_transition(3600)
    assert payload_of(Zigbee2MqttAdapter(), scene)["transition"] == 3600
    assert Zigbee2MqttAdapter().max_transition_s == 6553.5


def test_z2m_feedback() -> None:
    adapter = Zigbee2MqttAdapter(base_topic="z2m")
    assert adapter.feedback_topics("room-1") == {
        "z2m/room-1": FeedbackKind.STATE,
        "z2m/room-1/availability": FeedbackKind.AVAILABILITY,
    }
    assert adapter.bridge_topics() == ("z2m/bridge/state",)
    state = adapter.parse_state(b'{"state":"ON","brightness":127,"color_temp":370}')
    assert state == ReportedState(on=True, brightness=0.5, mired=370)
    assert adapter.parse_state(b'{"state":"OFF"}') == ReportedState(on=False)
    assert adapter.parse_state(b'{"linkquality": 80}') is None
    assert adapter.parse_state(b"not json") is None
    assert adapter.parse_state(b"[1, 2]") is None
    assert adapter.parse_online(b"online") is True
    assert adapter.parse_online(b"offline") is False
    assert adapter.parse_online(b'{"state":"online"}') is True
    assert adapter.parse_online(b'{"state":"offline"}') is False
    assert adapter.parse_online(b"{broken") is None
    assert adapter.parse_online(b"[]") is None
    assert adapter.parse_online(b"maybe") is None


# ---------------------------------------------------------------- Home Assistant JSON


def test_ha_json_scene() -> None:
    adapter = HaJsonAdapter()
    [message] = adapter.command("esphome/room1/light/ceiling/command", WARM)
    assert message.topic == "esphome/room1/light/ceiling/command"
    assert json.loads(message.payload) == {
        "state": "ON",
        "brightness": 128,
        "color_temp": 370,
        "transition": 4,
    }
    assert payload_of(adapter, OFF) == {"state": "OFF", "transition": 2}
    assert payload_of(adapter, XY)["color"] == {"x": 0.5, "y": 0.4}
    assert payload_of(adapter, RGB)["color"] == {"r": 255, "g": 80, "b": 0}


def test_ha_json_brightness_scale_and_clamp() -> None:
    adapter = HaJsonAdapter(brightness_scale=100, mired_min=200, mired_max=400)
    scene = LightScene(name="x", brightness=0.45, mired=500)
    data = payload_of(adapter, scene)
    assert data["brightness"] == 45
    assert data["color_temp"] == 400
    assert "color_mode" not in data
    full = payload_of(HaJsonAdapter(), LightScene(name="f", brightness=1.0))
    assert full["brightness"] == 255


def test_ha_json_feedback() -> None:
    adapter = HaJsonAdapter()
    assert adapter.feedback_topics("x") == {}
    assert adapter.bridge_topics() == ()
    state = adapter.parse_state(b'{"state":"ON","brightness":255}')
    assert state == ReportedState(on=True, brightness=1.0)
    assert adapter.parse_online(b"online") is True


# ---------------------------------------------------------------- Tasmota


def test_tasmota_backlog() -> None:
    [message] = TasmotaAdapter().command("room1", WARM)
    assert message.topic == "cmnd/room1/Backlog"
    assert message.payload == b"Fade 1; Speed 8; CT 370; Dimmer 50; Power ON"


@pytest.mark.parametrize(
    ("mired", "ct"), [(120, 153), (153, 153), (370, 370), (500, 500), (600, 500)]
)
def test_tasmota_ct_is_clamped_to_153_500(mired: int, ct: int) -> None:
    scene = LightScene(name="x", brightness=0.3, mired=mired, transition_s=0)
    assert f"CT {ct}" in TasmotaAdapter().commands(scene)


@pytest.mark.parametrize(
    ("transition_s", "fade"),
    [
        (0, ["Fade 0"]),
        (0.2, ["Fade 1", "Speed 1"]),
        (5, ["Fade 1", "Speed 10"]),
        (20, ["Fade 1", "Speed 40"]),
        (60, ["Fade 1", "Speed 40"]),
    ],
)
def test_tasmota_fades_are_half_seconds_up_to_20_s(
    transition_s: float, fade: list[str]
) -> None:
    scene = WARM.with_transition(transition_s)
    commands = TasmotaAdapter().commands(scene)
    assert commands[: len(fade)] == fade
    assert TasmotaAdapter().max_transition_s == 20


@pytest.mark.parametrize(("brightness", "dimmer"), [(1.0, 100), (0.45, 45), (0.004, 1)])
def test_tasmota_dimmer_is_percent(brightness: float, dimmer: int) -> None:
    scene = LightScene(name="x", brightness=brightness, transition_s=0)
    assert TasmotaAdapter().commands(scene) == [
        "Fade 0",
        f"Dimmer {dimmer}",
        "Power ON",
    ]


def test_tasmota_off_and_colours() -> None:
    adapter = TasmotaAdapter()
    assert adapter.commands(OFF) == ["Fade 1", "Speed 4", "Power OFF"]
    assert "Color 255,80,0" in adapter.commands(RGB)
    [colour] = [c for c in adapter.commands(XY) if c.startswith("Color ")]
    r, g, b = (int(v) for v in colour.removeprefix("Color ").split(","))
    assert r == 255
    assert r > g > b


def test_tasmota_feedback() -> None:
    adapter = TasmotaAdapter()
    assert adapter.feedback_topics("room1") == {
        "stat/room1/RESULT": FeedbackKind.STATE,
        "tele/room1/LWT": FeedbackKind.AVAILABILITY,
    }
    assert adapter.bridge_topics() == ()
    state = adapter.parse_state(b'{"POWER":"ON","Dimmer":45,"CT":370}')
    assert state == ReportedState(on=True, brightness=0.45, mired=370)
    assert adapter.parse_state(b'{"Fade":"ON"}') is None
    assert adapter.parse_state(b"junk") is None
    assert adapter.parse_online(b"Online") is True
    assert adapter.parse_online(b"Offline") is False


# ---------------------------------------------------------------- WLED


def test_wled_scene_is_rgb_with_tt_in_100_ms() -> None:
    [message] = WledAdapter().command("wled/room1", WARM)
    assert message.topic == "wled/room1/api"
    data = json.loads(message.payload)
    assert data["on"] is True
    assert data["bri"] == 128
    assert data["tt"] == 40
    [[r, g, b]] = data["seg"][0]["col"]
    assert r == 255
    assert r > g > b


@pytest.mark.parametrize(
    ("transition_s", "tt"), [(0, 0), (0.1, 1), (2.5, 25), (5, 50), (600, 6000)]
)
def test_wled_tt_units(transition_s: float, tt: int) -> None:
    assert payload_of(WledAdapter(), WARM.with_transition(transition_s))["tt"] == tt


def test_wled_brightness_off_and_colours() -> None:
    adapter = WledAdapter()
    full = payload_of(adapter, LightScene(name="f", brightness=1.0))
    assert full == {"on": True, "bri": 255, "tt": 10}
    assert payload_of(adapter, OFF) == {"on": False, "tt": 20}
    assert payload_of(adapter, RGB)["seg"] == [{"col": [[255, 80, 0]]}]
    cool = payload_of(adapter, LightScene.warm("c", brightness=0.5, kelvin=6500))
    [[r, g, b]] = cool["seg"][0]["col"]  # type: ignore[index]
    assert min(r, g, b) >= 240


def test_wled_feedback() -> None:
    adapter = WledAdapter()
    assert adapter.feedback_topics("wled/room1") == {
        "wled/room1/g": FeedbackKind.STATE,
        "wled/room1/status": FeedbackKind.AVAILABILITY,
    }
    assert adapter.bridge_topics() == ()
    assert adapter.parse_state(b"255") == ReportedState(on=True, brightness=1.0)
    assert adapter.parse_state(b"0") == ReportedState(on=False, brightness=0.0)
    assert adapter.parse_state(b"bright") is None
    assert adapter.parse_online(b"online") is True


# ---------------------------------------------------------------- choosing one


@pytest.mark.parametrize(
    ("kind", "cls"),
    [
        (AdapterKind.ZIGBEE2MQTT, Zigbee2MqttAdapter),
        (AdapterKind.HA_JSON, HaJsonAdapter),
        (AdapterKind.TASMOTA, TasmotaAdapter),
        (AdapterKind.WLED, WledAdapter),
    ],
)
def test_make_adapter(kind: AdapterKind, cls: type) -> None:
    adapter = make_adapter(LightingSettings(adapter=kind, qos=0))
    assert isinstance(adapter, cls)
    assert adapter.kind is kind
    [message] = adapter.command("room1", WARM)
    assert message.qos == 0


def test_make_adapter_passes_base_topic_and_range() -> None:
    settings = LightingSettings(base_topic="z2m", mired_min=200, mired_max=400)
    adapter = make_adapter(settings)
    [message] = adapter.command("r", LightScene(name="x", brightness=0.2, mired=500))
    assert message.topic == "z2m/r/set"
    assert json.loads(message.payload)["color_temp"] == 400
