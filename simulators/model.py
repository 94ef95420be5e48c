"""The device-model port every simulator implements.

Pure module. A device model is the device's side of the wire: it answers host bytes
and emits what the device would send, in scenario time. Runners (``simulators.
transport``) pace it in real time, over a pty, a TCP port or an in-memory pipe.
"""

from __future__ import annotations

from typing import Protocol


class DeviceModel(Protocol):
    """A simulated device."""

    def receive(self, data: bytes, t_s: float) -> None:
        """Bytes from the host arrived at scenario time ``t_s``."""
        ...

    def emit(self, until_s: float) -> bytes:
        """Everything the device sends after the previous call, up to ``until_s``.

        Successive calls take non-decreasing times; the model is deterministic for
        its scenario and seed, whatever the call times are.
        """
        ...
