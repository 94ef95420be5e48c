from __future__ import annotations

from typing import TYPE_CHECKING

import aiomqtt
import pytest

if TYPE_CHECKING:
    from tests.broker import Broker

pytestmark = pytest.mark.broker


async def test_broker_fixture_round_trips_and_survives_a_restart(
    broker: Broker,
) -> None:
    async with aiomqtt.Client("127.0.0.1", port=broker.port) as client:
        await client.subscribe("roomctl/test/#", qos=1)
        await client.publish("roomctl/test/a", b"hello", qos=1)
        async for message in client.messages:
            assert message.payload == b"hello"
            break
    broker.restart()
    async with aiomqtt.Client("127.0.0.1", port=broker.port) as client:
        await client.publish("roomctl/test/b", b"again", qos=1)
    assert broker.starts == 2
