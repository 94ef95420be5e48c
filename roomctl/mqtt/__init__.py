"""The MQTT adapter: the room's topics out, operator commands in (contracts.md §4).

- ``roomctl.mqtt.settings``: ``MqttSettings`` (pydantic; no I/O, safe to import from
  ``roomctl.settings``).
- ``roomctl.mqtt.wire``: pure topics, payloads, command checks, Home Assistant configs.
- ``roomctl.mqtt.outbox``: the pure QoS 1 outbox and ``SeqFilter`` for subscribers.
- ``roomctl.mqtt.bridge``: ``MqttBridge``, the aiomqtt client (import it explicitly;
  this package root does not, so loading settings never loads aiomqtt).
"""

from __future__ import annotations

from roomctl.mqtt.settings import MqttSettings, MqttTlsSettings

__all__ = ["MqttSettings", "MqttTlsSettings"]
