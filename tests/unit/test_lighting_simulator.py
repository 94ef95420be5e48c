"""The simulated Zigbee2MQTT bulb, without a broker."""

from __future__ import annotations

import pytest

from simulators.light import (
    FULL_BRIGHTNESS,
    BulbState,
    LightSimulator,
    SimulatedBulb,
    main,
    parse_broker,
)


def test_bulb_fades_brightness_and_colour_temperature() -> None:
    bulb = SimulatedBulb("ceiling")
    bulb.set({"state": "ON", "brightness": 200, "color_temp": 250}, now=0.0)
    bulb.set({"brightness": 100, "color_temp": 450, "transition": 4}, now=10.0)
    assert bulb.target == BulbState(on=True, brightness=100, color_temp=450)
    assert bulb.state_at(10.0).brightness == 200
    middle = bulb.state_at(12.0)
    assert middle.brightness == 150
    assert middle.color_temp == 350
    assert bulb.state_at(14.0) == bulb.target
    assert bulb.state_at(99.0).level == pytest.approx(100 / FULL_BRIGHTNESS)
    assert bulb.commands[-1]["transition"] == 4


def test_bulb_fades_out_then_is_off() -> None:
    bulb = SimulatedBulb("ceiling")
    bulb.set({"state": "ON", "brightness": 100}, now=0.0)
    bulb.set({"state": "OFF", "transition": 2}, now=0.0)
    assert bulb.state_at(1.0).on
    assert bulb.state_at(1.0).brightness == 50
    assert bulb.state_at(2.0).on is False
    assert bulb.state_at(2.0).level == 0.0
    bulb.set({"state": "TOGGLE"}, now=3.0)
    assert bulb.state_at(3.0).on
    assert bulb.state_at(3.0).brightness == 100, "brightness is kept while off"


def test_bulb_brightness_alone_switches() -> None:
    bulb = SimulatedBulb("ceiling")
    bulb.set({"state": "OFF"}, now=0.0)
    bulb.set({"brightness": 30}, now=1.0)
    assert bulb.target.on
    bulb.set({"brightness": 0}, now=2.0)
    assert bulb.target.on is False


def test_bulb_clamps_and_understands_presets_and_colours() -> None:
    bulb = SimulatedBulb("ceiling", mired_min=250, mired_max=454)
    bulb.set({"color_temp": 100, "brightness": 999}, now=0.0)
    assert bulb.target.color_temp == 250
    assert bulb.target.brightness == FULL_BRIGHTNESS
    bulb.set({"color_temp": "warmest"}, now=0.0)
    assert bulb.target.color_temp == 454
    bulb.set({"color": {"x": 0.5, "y": 0.4}}, now=0.0)
    assert bulb.target.color == {"x": 0.5, "y": 0.4}
    assert bulb.target.report()["color_mode"] == "xy"
    bulb.set({"color_temp": 300}, now=0.0)
    assert bulb.target.color is None


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        ({"state": "DIM"}, ValueError),
        ({"brightness": "high"}, TypeError),
        ({"brightness": True}, TypeError),
        ({"color_temp": [1]}, TypeError),
        ({"color": {"h": 10}}, ValueError),
        ({"transition": "slow"}, TypeError),
    ],
)
def test_bulb_rejects_bad_commands(
    payload: dict[str, object], error: type[Exception]
) -> None:
    with pytest.raises(error):
        SimulatedBulb("ceiling").set(payload, now=0.0)


def test_bulb_power_cycle_comes_back_full_white() -> None:
    bulb = SimulatedBulb("ceiling")
    bulb.set({"brightness": 20, "color_temp": 455}, now=0.0)
    bulb.power_cycle(5.0)
    assert bulb.state_at(5.0).brightness == FULL_BRIGHTNESS
    assert bulb.state_at(5.0).color_temp == 250


def test_report_is_zigbee2mqtt_state_json() -> None:
    state = BulbState(on=True, brightness=76, color_temp=370)
    assert state.report() == {
        "state": "ON",
        "brightness": 76,
        "color_temp": 370,
        "color_mode": "color_temp",
    }


def test_parse_broker() -> None:
    assert parse_broker("mqtt://localhost") == ("localhost", 1883)
    with pytest.raises(ValueError, match="loopback"):
        parse_broker("mqtt://10.0.0.2:1883")
    with pytest.raises(ValueError, match="mqtt://"):
        parse_broker("http://127.0.0.1:1883")


def test_simulator_stays_on_loopback() -> None:
    with pytest.raises(ValueError, match="loopback"):
        LightSimulator(host="192.168.1.2")
    with pytest.raises(ValueError, match="at least one"):
        LightSimulator(names=())
    simulator = LightSimulator(names=["a", "b/c"], clock=lambda: 0.0)
    assert simulator.state("b/c").brightness == FULL_BRIGHTNESS
    simulator.power_cycle("a")


def test_main_rejects_a_remote_broker(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--broker", "mqtt://example.org:1883"]) == 2
    assert "loopback" in capsys.readouterr().err
