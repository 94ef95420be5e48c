"""SerialLink: the only code that touches a port.

Opens a serial device or pty through ``serial_asyncio_fast`` (pyserial-asyncio-fast:
non-blocking writes, open and close off the loop, ``connection_lost`` only after the
port is really closed) or a ``socket://host:port`` URL through
``asyncio.open_connection`` (simulators and ser2net). It reads and writes bytes and
nothing else; every serial and OS error becomes ``DeviceDisconnected`` with the reason
in words.

**Holding.** A device that streams many small frames (the Nonin sends 75 frames of 5
bytes a second) would otherwise wake the daemon for every few bytes the port hands
over: about 50 times a second, each wake-up running the whole read path. After
``hold(seconds)`` the next ``read`` returns nothing before ``seconds`` from now: the
caller knows when the bytes it waits for are due (a Nonin packet: the frames it lacks
at 75 a second) and asks for exactly that. Meanwhile the link stops watching the port
(``pause_reading``: no wake-up at all; the bytes wait in the kernel's buffer), then
takes everything that arrived. A byte therefore waits at most until the hold ends
(plus the loop's own delay); when the port was quiet past it, the next byte is
returned as soon as it arrives.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import serial
import serial_asyncio_fast

from roomctl.errors import DeviceDisconnected

if TYPE_CHECKING:
    from collections.abc import Callable

_LOGGER = logging.getLogger(__name__)

#: Largest chunk taken from the port at once.
READ_CHUNK_BYTES = 4096
#: Opening a local port or a loopback socket is quick; a hung open is a fault.
OPEN_TIMEOUT_S = 5.0
#: A write that cannot drain in this time means the port is stuck.
WRITE_TIMEOUT_S = 2.0


class SerialLink:
    """A connected byte stream; implements ``roomctl.devices.base.ByteLink``.

    Attributes:
        port: the path or URL it was opened with.
    """

    def __init__(
        self,
        port: str,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        on_write: Callable[[bytes], None] | None = None,
    ) -> None:
        self.port = port
        self._reader = reader
        self._writer = writer
        self._on_write = on_write
        self._closed = False
        #: Loop time before which ``read`` returns nothing (``hold``).
        self._not_before = -math.inf

    async def read(self) -> bytes:
        """Wait for the next chunk of bytes.

        Raises:
            DeviceDisconnected: EOF, the port vanished, or it was closed.
        """
        if self._closed:
            raise DeviceDisconnected(f"{self.port}: the link is closed")
        await self._gather()
        try:
            data = await self._reader.read(READ_CHUNK_BYTES)
        except (OSError, serial.SerialException) as exc:
            raise DeviceDisconnected(f"{self.port}: {_describe(exc)}") from exc
        if not data:
            raise DeviceDisconnected(f"{self.port}: the device closed the connection")
        return data

    def hold(self, seconds: float) -> None:
        """Let the next ``read`` return nothing before ``seconds`` from now."""
        self._not_before = asyncio.get_running_loop().time() + seconds

    async def _gather(self) -> None:
        """Wait, not watching the port, until the time set by ``hold``."""
        if self._not_before == -math.inf:
            return
        wait = self._not_before - asyncio.get_running_loop().time()
        if wait <= 0:
            return
        transport = self._writer.transport
        if not isinstance(transport, asyncio.ReadTransport):  # pragma: no cover
            await asyncio.sleep(wait)  # every transport here also reads
            return
        transport.pause_reading()
        try:
            await asyncio.sleep(wait)
        finally:
            if not transport.is_closing():
                transport.resume_reading()

    async def write(self, data: bytes) -> None:
        """Send bytes and wait (bounded) until they are handed to the port.

        Raises:
            DeviceDisconnected: the port is closed, broken or stuck.
        """
        if self._closed or self._writer.is_closing():
            raise DeviceDisconnected(f"{self.port}: the link is closed")
        if self._on_write is not None:
            self._on_write(data)
        try:
            self._writer.write(data)
            async with asyncio.timeout(WRITE_TIMEOUT_S):
                await self._writer.drain()
        except TimeoutError as exc:
            raise DeviceDisconnected(f"{self.port}: writes do not drain") from exc
        except (OSError, serial.SerialException) as exc:
            raise DeviceDisconnected(f"{self.port}: {_describe(exc)}") from exc

    async def aclose(self) -> None:
        """Close the port; safe to call twice, never raises."""
        if self._closed:
            return
        self._closed = True
        self._writer.close()
        with contextlib.suppress(OSError, serial.SerialException, TimeoutError):
            async with asyncio.timeout(OPEN_TIMEOUT_S):
                await self._writer.wait_closed()


def _describe(exc: BaseException) -> str:
    """An OS or serial error in words for the log and the console."""
    if isinstance(exc, FileNotFoundError):
        return "no such port (is the cable plugged in?)"
    if isinstance(exc, PermissionError):
        return "permission denied (is the service user in the dialout group?)"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused (is the device server running?)"
    text = str(exc) or type(exc).__name__
    if "readiness to read but returned no data" in text:
        return "the device disconnected (or another program uses the port)"
    return text


async def open_link(
    port: str,
    *,
    baud: int,
    on_write: Callable[[bytes], None] | None = None,
) -> SerialLink:
    """Open a serial port, a pty or a ``socket://host:port`` URL.

    Raises:
        DeviceDisconnected: the port cannot be opened (in words).
    """
    try:
        async with asyncio.timeout(OPEN_TIMEOUT_S):
            if port.startswith("socket://"):
                parts = urlsplit(port)
                if parts.hostname is None or parts.port is None:
                    raise DeviceDisconnected(f"{port}: expected socket://host:port")
                reader, writer = await asyncio.open_connection(
                    parts.hostname, parts.port
                )
            else:
                reader, writer = await serial_asyncio_fast.open_serial_connection(
                    url=port, baudrate=baud, limit=READ_CHUNK_BYTES * 16
                )
    except TimeoutError as exc:
        raise DeviceDisconnected(f"{port}: opening timed out") from exc
    except (OSError, serial.SerialException, ValueError) as exc:
        raise DeviceDisconnected(f"{port}: {_describe(exc)}") from exc
    _LOGGER.debug("opened %s at %d baud", port, baud)
    return SerialLink(port, reader, writer, on_write=on_write)
