from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from roomctl.mqtt import MqttSettings, MqttTlsSettings


def test_settings_defaults_reach_a_local_broker() -> None:
    settings = MqttSettings()
    assert settings.enabled
    assert (settings.host, settings.port, settings.use_tls) == (
        "127.0.0.1",
        1883,
        False,
    )
    assert settings.topic_root == "roomctl"
    assert settings.max_command_bytes == 4096
    assert not settings.ha_discovery
    assert settings.ha_prefix == "homeassistant"
    assert settings.client_id_for("room-1") == "roomctl-room-1"


def test_settings_mqtts_defaults_to_port_8883_and_takes_tls_files() -> None:
    settings = MqttSettings.model_validate(
        {
            "url": "mqtts://broker.lan",
            "username": "room1",
            "password_file": "/etc/roomctl/mqtt.pw",
            "client_id": "room1-daemon",
            "tls": {
                "ca_file": "/etc/roomctl/ca.pem",
                "cert_file": "/etc/roomctl/c.pem",
                "key_file": "/etc/roomctl/c.key",
            },
        }
    )
    assert (settings.host, settings.port, settings.use_tls) == (
        "broker.lan",
        8883,
        True,
    )
    assert settings.tls.ca_file == Path("/etc/roomctl/ca.pem")
    assert settings.client_id_for("room-1") == "room1-daemon"


def test_settings_never_show_the_password() -> None:
    settings = MqttSettings(username="u", password=SecretStr("s3cret"))
    assert "s3cret" not in repr(settings)
    assert "s3cret" not in settings.model_dump_json()
    assert settings.password is not None
    assert settings.password.get_secret_value() == "s3cret"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"url": "http://broker"}, "mqtt:// or mqtts://"),
        ({"url": "mqtt://"}, "needs a host name"),
        ({"url": "mqtt://u:p@broker"}, "not in the url"),
        ({"url": "mqtt://broker/x"}, "a host and a port only"),
        ({"url": "mqtt://broker:99999"}, "port is not valid"),
        ({"url": "mqtt://broker:0"}, "port is not valid"),
        ({"topic_root": "room/+"}, "should match pattern"),
        ({"topic_root": "/roomctl"}, "should match pattern"),
        ({"topic_root": "$SYS"}, "should match pattern"),
        ({"username": "u", "password": "p", "password_file": "/x"}, "not both"),
        ({"password": "p"}, "needs a username"),
        ({"tls": {"ca_file": "/ca.pem"}}, "mqtts:// urls only"),
        ({"url": "mqtts://b", "tls": {"cert_file": "/c.pem"}}, "go together"),
        ({"reconnect_base_s": 2, "reconnect_cap_s": 1}, "must not be below"),
        ({"max_command_bytes": 10}, "greater than or equal to 64"),
        ({"ha_light_scenes": ["calm", "calm"]}, "distinct"),
        ({"client_id": "has space"}, "should match pattern"),
        ({"colour": "red"}, "Extra inputs are not permitted"),
    ],
)
def test_settings_refuse_bad_values_with_a_reason(
    raw: dict[str, object], message: str
) -> None:
    with pytest.raises(ValidationError, match=message.replace("+", r"\+")):
        MqttSettings.model_validate(raw)


def test_settings_are_frozen() -> None:
    settings = MqttSettings()
    with pytest.raises(ValidationError):
        settings.url = "mqtt://elsewhere"  # type: ignore[misc] # frozen on purpose


def test_tls_settings_know_whether_they_were_given() -> None:
    assert not MqttTlsSettings().configured
    assert MqttTlsSettings(insecure=True).configured
