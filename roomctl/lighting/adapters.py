"""Lighting adapters: a ``LightScene`` as each backend's MQTT messages, in its units.

Pure module (no I/O, no asyncio): ``command(light, scene)`` returns messages;
``parse_state``/``parse_online`` read what lights report. Units (ecosystem.md §2.5):

| backend | command topic | brightness | colour temperature | fade |
|---|---|---|---|---|
| Zigbee2MQTT | ``<base>/<name>/set`` | 0-254 | ``color_temp`` mired | s |
| HA JSON | the light's own | 0-255 | ``color_temp`` mired | s |
| Tasmota | ``cmnd/<t>/Backlog`` | ``Dimmer`` 0-100 | ``CT`` 153-500 | <= 20 s |
| WLED | ``<t>/api`` | ``bri`` 0-255 | RGB only (converted) | ``tt`` 100 ms |
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from roomctl.errors import LightingError
from roomctl.scenes import (
    MIRED_MAX_TYPICAL,
    MIRED_MIN_TYPICAL,
    AdapterKind,
    ColorRGB,
    ColorXY,
    LightingSettings,
    LightScene,
    brightness_to_scale,
    kelvin_to_rgb,
    mired_to_kelvin,
    scale_to_brightness,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

#: Zigbee level-control transition time is a 16-bit count of 0.1 s (ZCL "move to
#: level"; ecosystem.md §2.1), so at most 6553.5 s; WLED's ``tt`` has the same unit.
ZIGBEE_MAX_TRANSITION_S = 6553.5
WLED_MAX_TRANSITION_S = 6553.5
#: Tasmota: ``Speed`` 1-40 in 0.5 s units, so a fade lasts at most 20 s (§2.3).
TASMOTA_MAX_TRANSITION_S = 20.0
TASMOTA_SPEED_MAX = 40
#: Tasmota's ``CT`` range in mireds (§2.3).
TASMOTA_CT_MIN = 153
TASMOTA_CT_MAX = 500
#: Zigbee2MQTT brightness is 0-254 (§2.1); HA and WLED use 0-255; Tasmota 0-100 %.
Z2M_BRIGHTNESS_FULL = 254
HA_BRIGHTNESS_FULL = 255
WLED_BRIGHTNESS_FULL = 255
TASMOTA_DIMMER_FULL = 100


class LightCommandError(LightingError):
    """A scene could not be turned into commands (the controller falls back to safe)."""


class FeedbackKind(enum.StrEnum):
    """What a light's report topic carries."""

    STATE = "state"
    AVAILABILITY = "availability"


@dataclass(frozen=True, slots=True, kw_only=True)
class MqttMessage:
    """One MQTT message to publish."""

    topic: str
    payload: bytes
    qos: int = 1
    #: Commands are never retained: a retained ``/set`` would run again on every
    #: reconnect of the bridge.
    retain: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class ReportedState:
    """What a light says it shows."""

    on: bool
    #: 0.0-1.0, when reported.
    brightness: float | None = None
    #: Mireds, when reported.
    mired: int | None = None


def _json(payload: Mapping[str, object]) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


def _seconds(value: float) -> float | int:
    # 0.1 s resolution (Zigbee's unit); whole numbers print as integers.
    rounded = round(value, 1)
    return int(rounded) if rounded == int(rounded) else rounded


def _clamp_mired(mired: int, low: int, high: int) -> int:
    return max(low, min(high, mired))


def _rgb_of(scene: LightScene) -> tuple[int, int, int] | None:
    match scene.color:
        case ColorRGB() | ColorXY() as color:
            return color.to_rgb()
        case None:
            pass
    if scene.mired is not None:
        return kelvin_to_rgb(mired_to_kelvin(scene.mired))
    return None


def _parse_online(payload: bytes) -> bool | None:
    text = payload.decode(errors="replace").strip()
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except ValueError:
            return None
        text = str(data.get("state", "")) if isinstance(data, dict) else ""
    match text.lower():
        case "online":
            return True
        case "offline":
            return False
        case _:
            return None


def _json_object(payload: bytes) -> dict[str, object] | None:
    try:
        data = json.loads(payload)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


class LightAdapter(Protocol):
    """Speaks one lighting backend's MQTT dialect (pure: no I/O)."""

    @property
    def kind(self) -> AdapterKind:
        """Which backend."""
        ...

    @property
    def max_transition_s(self) -> float:
        """The longest fade the backend runs by itself."""
        ...

    def command(self, light: str, scene: LightScene) -> list[MqttMessage]:
        """The messages that make ``light`` show ``scene``.

        Raises:
            LightCommandError: the scene cannot be expressed for this backend.
        """
        ...

    def feedback_topics(self, light: str) -> dict[str, FeedbackKind]:
        """Topics on which ``light`` reports its state and availability."""
        ...

    def bridge_topics(self) -> tuple[str, ...]:
        """Topics on which the bridge reports whether it is online."""
        ...

    def parse_state(self, payload: bytes) -> ReportedState | None:
        """A state report, or ``None`` if it says nothing about the light."""
        ...

    def parse_online(self, payload: bytes) -> bool | None:
        """An availability report: online, offline, or ``None`` if unreadable."""
        ...


class Zigbee2MqttAdapter:
    """Zigbee2MQTT: JSON on ``<base>/<friendly name>/set`` (ecosystem.md §2.1).

    >>> from roomctl.scenes import LightScene
    >>> adapter = Zigbee2MqttAdapter()
    >>> scene = LightScene.warm("peak", brightness=0.5, kelvin=2200, transition_s=4)
    >>> [message] = adapter.command("room-1/ceiling", scene)
    >>> message.topic
    'zigbee2mqtt/room-1/ceiling/set'
    >>> message.payload
    b'{"state":"ON","brightness":127,"color_temp":455,"transition":4}'
    """

    def __init__(
        self,
        *,
        base_topic: str = "zigbee2mqtt",
        qos: int = 1,
        mired_min: int = MIRED_MIN_TYPICAL,
        mired_max: int = MIRED_MAX_TYPICAL,
    ) -> None:
        self.base_topic = base_topic
        self.qos = qos
        self.mired_min = mired_min
        self.mired_max = mired_max

    @property
    def kind(self) -> AdapterKind:
        """Zigbee2MQTT."""
        return AdapterKind.ZIGBEE2MQTT

    @property
    def max_transition_s(self) -> float:
        """6553.5 s (a 16-bit count of 0.1 s)."""
        return ZIGBEE_MAX_TRANSITION_S

    def payload(self, scene: LightScene) -> dict[str, object]:
        """The ``/set`` JSON object for ``scene``."""
        transition = _seconds(min(scene.transition_s, self.max_transition_s))
        if not scene.on:
            return {"state": "OFF", "transition": transition}
        out: dict[str, object] = {
            "state": "ON",
            "brightness": brightness_to_scale(scene.brightness, Z2M_BRIGHTNESS_FULL),
        }
        if scene.mired is not None:
            out["color_temp"] = _clamp_mired(
                scene.mired, self.mired_min, self.mired_max
            )
        match scene.color:
            case ColorXY(x=x, y=y):
                out["color"] = {"x": x, "y": y}
            case ColorRGB(r=r, g=g, b=b):
                out["color"] = {"r": r, "g": g, "b": b}
            case None:
                pass
        out["transition"] = transition
        return out

    def command(self, light: str, scene: LightScene) -> list[MqttMessage]:
        """One ``/set`` message."""
        return [
            MqttMessage(
                topic=f"{self.base_topic}/{light}/set",
                payload=_json(self.payload(scene)),
                qos=self.qos,
            )
        ]

    def feedback_topics(self, light: str) -> dict[str, FeedbackKind]:
        """``<base>/<name>`` (state) and ``<base>/<name>/availability``."""
        return {
            f"{self.base_topic}/{light}": FeedbackKind.STATE,
            f"{self.base_topic}/{light}/availability": FeedbackKind.AVAILABILITY,
        }

    def bridge_topics(self) -> tuple[str, ...]:
        """``<base>/bridge/state``."""
        return (f"{self.base_topic}/bridge/state",)

    def parse_state(self, payload: bytes) -> ReportedState | None:
        """Read ``{"state": "ON", "brightness": 127, "color_temp": 455}``."""
        return _parse_json_state(payload, Z2M_BRIGHTNESS_FULL)

    def parse_online(self, payload: bytes) -> bool | None:
        """``online``/``offline``, plain or as ``{"state": "online"}``."""
        return _parse_online(payload)


def _parse_json_state(payload: bytes, full: int) -> ReportedState | None:
    data = _json_object(payload)
    if data is None or not isinstance(data.get("state"), str):
        return None
    on = str(data["state"]).upper() == "ON"
    brightness = data.get("brightness")
    mired = data.get("color_temp")
    return ReportedState(
        on=on,
        brightness=(
            scale_to_brightness(brightness, full)
            if isinstance(brightness, int | float)
            else None
        ),
        mired=mired if isinstance(mired, int) else None,
    )


class HaJsonAdapter:
    """Home Assistant's MQTT JSON light schema (ecosystem.md §2.2).

    Each light is named by its command topic. ``color_mode`` is never sent.
    """

    def __init__(
        self,
        *,
        qos: int = 1,
        brightness_scale: int = HA_BRIGHTNESS_FULL,
        mired_min: int = MIRED_MIN_TYPICAL,
        mired_max: int = MIRED_MAX_TYPICAL,
    ) -> None:
        self.qos = qos
        self.brightness_scale = brightness_scale
        self.mired_min = mired_min
        self.mired_max = mired_max

    @property
    def kind(self) -> AdapterKind:
        """HA JSON."""
        return AdapterKind.HA_JSON

    @property
    def max_transition_s(self) -> float:
        """As Zigbee (ESPHome and Z2M lights sit behind this schema)."""
        return ZIGBEE_MAX_TRANSITION_S

    def payload(self, scene: LightScene) -> dict[str, object]:
        """The command JSON object for ``scene``."""
        transition = _seconds(min(scene.transition_s, self.max_transition_s))
        if not scene.on:
            return {"state": "OFF", "transition": transition}
        out: dict[str, object] = {
            "state": "ON",
            "brightness": brightness_to_scale(scene.brightness, self.brightness_scale),
        }
        if scene.mired is not None:
            out["color_temp"] = _clamp_mired(
                scene.mired, self.mired_min, self.mired_max
            )
        match scene.color:
            case ColorXY(x=x, y=y):
                out["color"] = {"x": x, "y": y}
            case ColorRGB(r=r, g=g, b=b):
                out["color"] = {"r": r, "g": g, "b": b}
            case None:
                pass
        out["transition"] = transition
        return out

    def command(self, light: str, scene: LightScene) -> list[MqttMessage]:
        """One message on the light's command topic."""
        return [
            MqttMessage(topic=light, payload=_json(self.payload(scene)), qos=self.qos)
        ]

    def feedback_topics(self, light: str) -> dict[str, FeedbackKind]:  # noqa: ARG002
        """None: the state topic is not derivable from the command topic."""
        return {}

    def bridge_topics(self) -> tuple[str, ...]:
        """None."""
        return ()

    def parse_state(self, payload: bytes) -> ReportedState | None:
        """Read the schema's state JSON."""
        return _parse_json_state(payload, self.brightness_scale)

    def parse_online(self, payload: bytes) -> bool | None:
        """``online``/``offline``."""
        return _parse_online(payload)


class TasmotaAdapter:
    """Tasmota: one ``Backlog`` of commands on ``cmnd/<topic>/Backlog`` (§2.3).

    ``Speed`` is in 0.5 s units for a full 0-100 % fade; with ``SetOption117 1`` the
    fade lasts that long whatever the distance, which is what the daemon's ramp
    steps assume.

    >>> from roomctl.scenes import LightScene
    >>> scene = LightScene.warm("x", brightness=0.45, kelvin=2700, transition_s=5)
    >>> TasmotaAdapter().command("room1", scene)[0].payload
    b'Fade 1; Speed 10; CT 370; Dimmer 45; Power ON'
    """

    def __init__(self, *, qos: int = 1) -> None:
        self.qos = qos

    @property
    def kind(self) -> AdapterKind:
        """Tasmota."""
        return AdapterKind.TASMOTA

    @property
    def max_transition_s(self) -> float:
        """20 s (``Speed 40``)."""
        return TASMOTA_MAX_TRANSITION_S

    def commands(self, scene: LightScene) -> list[str]:
        """The Tasmota commands for ``scene``, in order."""
        speed = min(TASMOTA_SPEED_MAX, max(1, round(scene.transition_s * 2)))
        fade = ["Fade 0"] if scene.transition_s <= 0 else ["Fade 1", f"Speed {speed}"]
        if not scene.on:
            return [*fade, "Power OFF"]
        out = list(fade)
        if scene.mired is not None:
            ct = _clamp_mired(scene.mired, TASMOTA_CT_MIN, TASMOTA_CT_MAX)
            out.append(f"CT {ct}")
        elif scene.color is not None:
            r, g, b = scene.color.to_rgb()
            out.append(f"Color {r},{g},{b}")
        dimmer = brightness_to_scale(scene.brightness, TASMOTA_DIMMER_FULL)
        return [*out, f"Dimmer {dimmer}", "Power ON"]

    def command(self, light: str, scene: LightScene) -> list[MqttMessage]:
        """One ``Backlog`` message."""
        return [
            MqttMessage(
                topic=f"cmnd/{light}/Backlog",
                payload="; ".join(self.commands(scene)).encode(),
                qos=self.qos,
            )
        ]

    def feedback_topics(self, light: str) -> dict[str, FeedbackKind]:
        """``stat/<topic>/RESULT`` and the will ``tele/<topic>/LWT``."""
        return {
            f"stat/{light}/RESULT": FeedbackKind.STATE,
            f"tele/{light}/LWT": FeedbackKind.AVAILABILITY,
        }

    def bridge_topics(self) -> tuple[str, ...]:
        """None: every Tasmota device is its own bridge."""
        return ()

    def parse_state(self, payload: bytes) -> ReportedState | None:
        """Read ``{"POWER": "ON", "Dimmer": 45, "CT": 370}``."""
        data = _json_object(payload)
        if data is None or not isinstance(data.get("POWER"), str):
            return None
        dimmer = data.get("Dimmer")
        ct = data.get("CT")
        return ReportedState(
            on=str(data["POWER"]).upper() == "ON",
            brightness=(
                scale_to_brightness(dimmer, TASMOTA_DIMMER_FULL)
                if isinstance(dimmer, int | float)
                else None
            ),
            mired=ct if isinstance(ct, int) else None,
        )

    def parse_online(self, payload: bytes) -> bool | None:
        """``Online``/``Offline``."""
        return _parse_online(payload)


class WledAdapter:
    """WLED: JSON API on ``<topic>/api`` (ecosystem.md §2.4); RGB only.

    >>> from roomctl.scenes import LightScene
    >>> scene = LightScene.warm("x", brightness=0.5, kelvin=2700, transition_s=2.5)
    >>> WledAdapter().command("wled/room1", scene)[0].payload
    b'{"on":true,"bri":128,"tt":25,"seg":[{"col":[[255,173,89]]}]}'
    """

    def __init__(self, *, qos: int = 1) -> None:
        self.qos = qos

    @property
    def kind(self) -> AdapterKind:
        """WLED."""
        return AdapterKind.WLED

    @property
    def max_transition_s(self) -> float:
        """6553.5 s (``tt`` is a 16-bit count of 100 ms)."""
        return WLED_MAX_TRANSITION_S

    def payload(self, scene: LightScene) -> dict[str, object]:
        """The JSON API object for ``scene``."""
        tt = round(min(scene.transition_s, self.max_transition_s) * 10)
        if not scene.on:
            return {"on": False, "tt": tt}
        out: dict[str, object] = {
            "on": True,
            "bri": brightness_to_scale(scene.brightness, WLED_BRIGHTNESS_FULL),
            "tt": tt,
        }
        rgb = _rgb_of(scene)
        if rgb is not None:
            out["seg"] = [{"col": [list(rgb)]}]
        return out

    def command(self, light: str, scene: LightScene) -> list[MqttMessage]:
        """One ``/api`` message."""
        return [
            MqttMessage(
                topic=f"{light}/api", payload=_json(self.payload(scene)), qos=self.qos
            )
        ]

    def feedback_topics(self, light: str) -> dict[str, FeedbackKind]:
        """``<topic>/g`` (brightness) and the will ``<topic>/status``."""
        return {
            f"{light}/g": FeedbackKind.STATE,
            f"{light}/status": FeedbackKind.AVAILABILITY,
        }

    def bridge_topics(self) -> tuple[str, ...]:
        """None."""
        return ()

    def parse_state(self, payload: bytes) -> ReportedState | None:
        """Read the brightness WLED publishes on ``/g`` (0 is off)."""
        try:
            value = int(payload.decode().strip())
        except (UnicodeDecodeError, ValueError):
            return None
        return ReportedState(
            on=value > 0, brightness=scale_to_brightness(value, WLED_BRIGHTNESS_FULL)
        )

    def parse_online(self, payload: bytes) -> bool | None:
        """``online``/``offline``."""
        return _parse_online(payload)


def make_adapter(settings: LightingSettings) -> LightAdapter:
    """The adapter the settings name."""
    match settings.adapter:
        case AdapterKind.ZIGBEE2MQTT:
            return Zigbee2MqttAdapter(
                base_topic=settings.base_topic,
                qos=settings.qos,
                mired_min=settings.mired_min,
                mired_max=settings.mired_max,
            )
        case AdapterKind.HA_JSON:
            return HaJsonAdapter(
                qos=settings.qos,
                mired_min=settings.mired_min,
                mired_max=settings.mired_max,
            )
        case AdapterKind.TASMOTA:
            return TasmotaAdapter(qos=settings.qos)
        case AdapterKind.WLED:
            return WledAdapter(qos=settings.qos)
