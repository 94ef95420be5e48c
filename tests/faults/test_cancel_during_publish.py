"""A stop asked for while an MQTT publish completes is never lost.

Found by the output-fault suite: the daemon sometimes never stopped. aiomqtt 2.x waits
for a PUBACK with ``asyncio.wait_for``; on Python 3.11, a cancellation that arrives
in the same loop iteration as the PUBACK is dropped (``wait_for`` returns the result),
so the bridge's publishing task ran on and the daemon's task group waited for it for
ever. The client here is a stand-in that waits exactly as aiomqtt does (the real
``asyncio.wait_for`` on a future the "broker" completes); the daemon-level check is
``tests/faults/room.py``: every room must stop within 5 s.
"""

from __future__ import annotations

import asyncio
import sys
from typing import TYPE_CHECKING, cast

import pytest

from roomctl.mqtt.bridge import _publish

if TYPE_CHECKING:
    import aiomqtt


class AckedAsCancelled:
    """Publishes whose PUBACK lands in the same iteration as a cancellation."""

    def __init__(self) -> None:
        self.acked = asyncio.Event()
        self._loop = asyncio.get_running_loop()

    async def publish(self, topic: str, payload: bytes, **_options: object) -> None:
        del topic, payload
        puback = self._loop.create_future()
        # The broker's acknowledgement, due in the next loop iteration.
        self._loop.call_soon(puback.set_result, None)
        self._loop.call_soon(self.acked.set)
        await asyncio.wait_for(puback, timeout=10)


async def _race(publish: bool) -> asyncio.Task[None]:
    client = AckedAsCancelled()

    async def send() -> None:
        if publish:
            await _publish(cast("aiomqtt.Client", client), "t", b"x", qos=1)
        else:
            await client.publish("t", b"x")
        await asyncio.sleep(3600)  # a publishing loop carrying on

    task = asyncio.create_task(send())
    await asyncio.sleep(0)  # the task now waits for its PUBACK
    task.cancel()  # ... which arrives in the iteration the cancellation does
    await asyncio.sleep(0.05)
    return task


@pytest.mark.skipif(
    sys.version_info >= (3, 12), reason="asyncio.wait_for keeps cancellations in 3.12"
)
async def test_the_stand_in_loses_the_cancellation_as_aiomqtt_does() -> None:
    task = await _race(publish=False)
    assert not task.done()  # the bug this guards against: still running
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_the_bridge_publish_keeps_the_cancellation() -> None:
    task = await _race(publish=True)
    assert task.done()
    assert task.cancelled()
