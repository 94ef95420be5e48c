"""MQTT settings: the broker, the topic root, credentials, TLS and Home Assistant.

Pure configuration module (pydantic only, no I/O): ``roomctl.settings`` includes
``MqttSettings`` as ``Settings.mqtt``. Secrets are ``SecretStr`` so ``roomctl config
check`` never prints them; a password file is read by the bridge, off the event loop,
when it starts.
"""

from __future__ import annotations

import re
from pathlib import Path  # noqa: TC003 -- pydantic reads annotations at run time
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)

from roomctl.events import Phase

#: Topic roots and prefixes: plain levels only (no wildcards, no empty level, no
#: leading ``$`` or ``/``), so every topic the bridge builds is valid and predictable.
TOPIC_PATTERN = r"^[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*$"
#: MQTT client identifiers (mosquitto accepts long ones; 3.1.1 servers may cap at 23).
CLIENT_ID_PATTERN = r"^[A-Za-z0-9_-]{1,128}$"
#: Ports the schemes default to (IANA: 1883 mqtt, 8883 secure-mqtt).
DEFAULT_PORTS = {"mqtt": 1883, "mqtts": 8883}


class _StrictModel(BaseModel):
    # The same rules as roomctl.settings.StrictModel (kept here to avoid an import
    # cycle: roomctl.settings imports this module).
    model_config = ConfigDict(
        extra="forbid", frozen=True, use_attribute_docstrings=True
    )


class MqttTlsSettings(_StrictModel):
    """TLS for an ``mqtts://`` broker (the system's CA store unless ``ca_file``)."""

    ca_file: Path | None = None
    """PEM file of the certificate authorities to trust (the broker's CA)."""
    cert_file: Path | None = None
    """PEM client certificate, for brokers that require one (with ``key_file``)."""
    key_file: Path | None = None
    """PEM private key of ``cert_file``."""
    insecure: bool = False
    """Skip checking the broker's host name against its certificate (testing only)."""

    @model_validator(mode="after")
    def _cert_and_key_together(self) -> MqttTlsSettings:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file and key_file go together")
        return self

    @property
    def configured(self) -> bool:
        """Whether any TLS option differs from its default."""
        return self != MqttTlsSettings()


class MqttSettings(_StrictModel):
    """The MQTT bridge: status, state, alarms, events and vitals out; commands in."""

    enabled: bool = True
    """Whether the daemon connects to a broker at all."""
    url: str = "mqtt://127.0.0.1:1883"
    """Broker address: ``mqtt://host[:port]`` or ``mqtts://host[:port]`` (TLS)."""
    topic_root: Annotated[str, Field(pattern=TOPIC_PATTERN, max_length=200)] = "roomctl"
    """First topic levels; the room's topics are ``<topic_root>/<room>/...``."""
    username: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    """User name for the broker, when it requires one."""
    password: SecretStr | None = None
    """Password for ``username`` (prefer ``password_file``)."""
    password_file: Path | None = None
    """File holding the password (first line), readable by roomctl only."""
    tls: MqttTlsSettings = MqttTlsSettings()
    """TLS options; used with ``mqtts://`` URLs only."""
    client_id: Annotated[str, Field(pattern=CLIENT_ID_PATTERN)] | None = None
    """MQTT client identifier; ``roomctl-<room>`` when unset."""
    keepalive_s: Annotated[int, Field(ge=5, le=3600)] = 30
    """Keep-alive interval; the broker announces ``offline`` about 1.5 times this
    long after the daemon silently disappears (MQTT 3.1.1 §3.1.2.10)."""
    connect_timeout_s: Annotated[float, Field(gt=0, le=120)] = 10.0
    """How long one connection attempt (TCP, TLS and CONNACK) may take."""
    reconnect_base_s: Annotated[float, Field(gt=0, le=60)] = 0.2
    """First reconnect delay ceiling; it doubles per failed attempt (full jitter)."""
    reconnect_cap_s: Annotated[float, Field(gt=0, le=600)] = 5.0
    """Largest reconnect delay: queued alarms go out at most this long after the
    broker is back."""
    max_command_bytes: Annotated[int, Field(ge=64, le=1_048_576)] = 4096
    """Largest accepted command payload; larger ones are refused unread."""
    max_queued_events: Annotated[int, Field(ge=10, le=1_000_000)] = 10_000
    """Events (phase, episode, link, command outcomes) kept while the broker is
    away; the oldest go first. Alarms are never dropped."""
    ha_discovery: bool = False
    """Announce the room's phase, music and light scene to Home Assistant."""
    ha_prefix: Annotated[str, Field(pattern=TOPIC_PATTERN, max_length=200)] = (
        "homeassistant"
    )
    """Home Assistant's discovery prefix (its ``discovery_prefix`` option)."""
    ha_light_scenes: tuple[Annotated[str, Field(min_length=1, max_length=64)], ...] = (
        *(phase.value for phase in Phase),
        "safe",
        "off",
    )
    """Scene names Home Assistant offers for the room's lights: by default the ones
    a ``lights`` command takes (``roomctl.scenes.SceneTable.named``: each phase's
    scene, ``safe`` and ``off``)."""

    @field_validator("url")
    @classmethod
    def _url_is_a_broker(cls, url: str) -> str:
        parts = urlsplit(url)
        if parts.scheme not in DEFAULT_PORTS:
            raise ValueError("the url must start with mqtt:// or mqtts://")
        if parts.username is not None or parts.password is not None:
            raise ValueError(
                "put the user name and password in username and password_file, "
                "not in the url"
            )
        if not parts.hostname:
            raise ValueError("the url needs a host name, e.g. mqtt://127.0.0.1:1883")
        if parts.path not in {"", "/"} or parts.query or parts.fragment:
            raise ValueError("the url takes a host and a port only")
        try:
            port = parts.port
        except ValueError as exc:
            raise ValueError(f"the url's port is not valid: {exc}") from None
        if port == 0:
            raise ValueError("the url's port is not valid: 0")
        return url

    @field_validator("ha_light_scenes")
    @classmethod
    def _scenes_are_distinct(cls, scenes: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(scenes)) != len(scenes):
            raise ValueError("scene names must be distinct")
        return scenes

    @model_validator(mode="after")
    def _credentials_and_tls_fit(self) -> MqttSettings:
        if self.password is not None and self.password_file is not None:
            raise ValueError("give password or password_file, not both")
        if self.username is None and (
            self.password is not None or self.password_file is not None
        ):
            raise ValueError("a password needs a username (MQTT 3.1.1 §3.1.2.9)")
        if not self.use_tls and self.tls.configured:
            raise ValueError("tls options apply to mqtts:// urls only")
        if self.reconnect_cap_s < self.reconnect_base_s:
            raise ValueError("reconnect_cap_s must not be below reconnect_base_s")
        return self

    @property
    def use_tls(self) -> bool:
        """Whether the broker is reached over TLS (``mqtts://``)."""
        return urlsplit(self.url).scheme == "mqtts"

    @property
    def host(self) -> str:
        """The broker's host name or address."""
        return urlsplit(self.url).hostname or ""

    @property
    def port(self) -> int:
        """The broker's port (1883, or 8883 with TLS, when the url has none)."""
        parts = urlsplit(self.url)
        return parts.port or DEFAULT_PORTS[parts.scheme]

    def client_id_for(self, room: str) -> str:
        """The client identifier for ``room``."""
        return self.client_id or f"roomctl-{room}"


def is_topic_level(text: str) -> bool:
    """Whether ``text`` is one plain topic level (no ``/``, wildcards or ``$``)."""
    return re.fullmatch(r"[A-Za-z0-9_-]+", text) is not None
