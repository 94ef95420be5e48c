"""Room lights over MQTT: backend adapters and the ``MqttLightController``.

- ``roomctl.lighting.adapters``: pure; a ``LightScene`` as Zigbee2MQTT, Home
  Assistant JSON, Tasmota or WLED messages, with each backend's units.
- ``roomctl.lighting.controller``: the controller that publishes them through the
  daemon's MQTT client, runs long ramps as steps, re-asserts after reconnects and
  reports failures as notices.

The scene model and the phase table are in ``roomctl.scenes``.
"""

from __future__ import annotations

from roomctl.lighting.adapters import (
    FeedbackKind,
    HaJsonAdapter,
    LightAdapter,
    LightCommandError,
    MqttMessage,
    ReportedState,
    TasmotaAdapter,
    WledAdapter,
    Zigbee2MqttAdapter,
    make_adapter,
)
from roomctl.lighting.controller import (
    COMPONENT,
    LightController,
    LightingStatus,
    MqttLightController,
    NoticeSink,
    Publish,
)

__all__ = [
    "COMPONENT",
    "FeedbackKind",
    "HaJsonAdapter",
    "LightAdapter",
    "LightCommandError",
    "LightController",
    "LightingStatus",
    "MqttLightController",
    "MqttMessage",
    "NoticeSink",
    "Publish",
    "ReportedState",
    "TasmotaAdapter",
    "WledAdapter",
    "Zigbee2MqttAdapter",
    "make_adapter",
]
