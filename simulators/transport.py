"""Runners that pace a device model in real time over a pty, TCP, or memory.

- ``PtyPort``: a pseudo-terminal in raw mode behind a stable symlink (like
  ``/dev/serial/by-id/...``), so the daemon keeps one path across unplug and replug;
  an unplug closes the pty (the daemon's reads fail, as with a pulled USB cable) and a
  replug creates a new one and re-points the link.
- ``TcpPort``: a loopback listener for ``socket://127.0.0.1:PORT``; an unplug drops the
  client and refuses new ones until the replug.
- ``MemoryLink``: an in-process ``ByteLink`` for fast component tests.

Scenario time is ``(loop time - start) * speed``; bytes go out every ``tick_s`` in the
chunks the model and the faults produce, so the daemon sees realistic partial reads.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import tty
from typing import TYPE_CHECKING

from roomctl.errors import DeviceDisconnected
from simulators.faults import Faults

if TYPE_CHECKING:
    from pathlib import Path

    from simulators.model import DeviceModel

_LOGGER = logging.getLogger(__name__)

#: How often the runner asks the model for bytes (real seconds).
DEFAULT_TICK_S = 0.02


class Pacer:
    """Scenario time from the event loop's clock and a speed factor."""

    def __init__(self, *, speed: float = 1.0, start_s: float = 0.0) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.speed = speed
        self._start = asyncio.get_running_loop().time() - start_s / speed

    def now_s(self) -> float:
        """Current scenario time."""
        return (asyncio.get_running_loop().time() - self._start) * self.speed


class PtyPort:
    """A simulated device on a pty, reachable at ``link_path``."""

    def __init__(
        self,
        model: DeviceModel,
        *,
        link_path: Path,
        speed: float = 1.0,
        faults: Faults | None = None,
        tick_s: float = DEFAULT_TICK_S,
    ) -> None:
        self.model = model
        self.link_path = link_path
        self._speed = speed
        self._faults = faults if faults is not None else Faults()
        self._tick_s = tick_s
        self._master: int | None = None
        self._slave: int | None = None
        self.plugged = asyncio.Event()
        #: Bytes actually sent to the daemon.
        self.bytes_sent = 0

    def _open(self) -> None:
        master, slave = os.openpty()
        # Raw mode: no echo, no CR/LF translation; the line discipline must not touch
        # protocol bytes.
        tty.setraw(slave)
        os.set_blocking(master, False)
        self._master, self._slave = master, slave
        tmp = self.link_path.with_name(self.link_path.name + ".new")
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        tmp.symlink_to(os.ttyname(slave))
        tmp.replace(self.link_path)
        self.plugged.set()

    def _close(self) -> None:
        self.plugged.clear()
        with contextlib.suppress(FileNotFoundError):
            self.link_path.unlink()
        for fd in (self._master, self._slave):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._master = self._slave = None

    def _read_host(self, t_s: float) -> None:
        if self._master is None:
            return
        while True:
            try:
                data = os.read(self._master, 4096)
            except (BlockingIOError, OSError):
                return
            if not data:
                return
            self.model.receive(data, t_s)

    def _send(self, chunks: list[bytes]) -> None:
        if self._master is None:
            return
        for chunk in chunks:
            try:
                os.write(self._master, chunk)
                self.bytes_sent += len(chunk)
            except BlockingIOError:
                # The daemon is not reading: a real UART would overrun; drop.
                return
            except OSError:
                return

    async def run(self) -> None:
        """Serve until cancelled (unplugging and replugging as the faults say)."""
        pacer = Pacer(speed=self._speed)
        self._open()
        try:
            while True:
                await asyncio.sleep(self._tick_s)
                t_s = pacer.now_s()
                unplugged = self._faults.unplugged(t_s)
                if unplugged and self._master is not None:
                    _LOGGER.info("unplugging %s at t=%.1f s", self.link_path, t_s)
                    self._close()
                elif not unplugged and self._master is None:
                    _LOGGER.info("replugging %s at t=%.1f s", self.link_path, t_s)
                    self._open()
                self._read_host(t_s)
                data = self.model.emit(t_s)
                if self._master is not None:
                    self._send(self._faults.apply(data, t_s))
        finally:
            self._close()


class TcpPort:
    """A simulated device on a loopback TCP port (``socket://127.0.0.1:PORT``)."""

    def __init__(
        self,
        model: DeviceModel,
        *,
        port: int = 0,
        speed: float = 1.0,
        faults: Faults | None = None,
        tick_s: float = DEFAULT_TICK_S,
    ) -> None:
        self.model = model
        self._port = port
        self._speed = speed
        self._faults = faults if faults is not None else Faults()
        self._tick_s = tick_s
        self._writer: asyncio.StreamWriter | None = None
        self._pacer: Pacer | None = None
        self.bound = asyncio.Event()
        self.url = ""
        self.bytes_sent = 0

    async def _client(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        assert self._pacer is not None  # noqa: S101 (set before the server starts)
        if self._writer is not None or self._faults.unplugged(self._pacer.now_s()):
            writer.close()
            return
        self._writer = writer
        try:
            while data := await reader.read(4096):
                self.model.receive(data, self._pacer.now_s())
        except OSError:
            pass
        finally:
            if self._writer is writer:
                self._writer = None
            writer.close()

    async def run(self) -> None:
        """Listen on loopback and serve until cancelled."""
        self._pacer = Pacer(speed=self._speed)
        server = await asyncio.start_server(self._client, "127.0.0.1", self._port)
        sock = server.sockets[0]
        self.url = f"socket://127.0.0.1:{sock.getsockname()[1]}"
        self.bound.set()
        async with server:
            while True:
                await asyncio.sleep(self._tick_s)
                t_s = self._pacer.now_s()
                data = self.model.emit(t_s)
                writer = self._writer
                if writer is None:
                    continue
                if self._faults.unplugged(t_s):
                    writer.close()
                    self._writer = None
                    continue
                for chunk in self._faults.apply(data, t_s):
                    writer.write(chunk)
                    self.bytes_sent += len(chunk)


class MemoryLink:
    """An in-process ``ByteLink`` to a model, paced in real time (component tests)."""

    def __init__(
        self,
        model: DeviceModel,
        *,
        speed: float = 1.0,
        faults: Faults | None = None,
        tick_s: float = DEFAULT_TICK_S,
    ) -> None:
        self.model = model
        self._faults = faults if faults is not None else Faults()
        self._tick_s = tick_s
        self._pacer = Pacer(speed=speed)
        self._pending: list[bytes] = []
        self.closed = False
        self.written = bytearray()

    def now_s(self) -> float:
        """The model's scenario time."""
        return self._pacer.now_s()

    async def read(self) -> bytes:
        """Wait for the device's next chunk."""
        while not self._pending:
            if self.closed or self._faults.unplugged(self.now_s()):
                self.closed = True
                raise DeviceDisconnected("memory link: unplugged")
            await asyncio.sleep(self._tick_s)
            t_s = self.now_s()
            self._pending.extend(self._faults.apply(self.model.emit(t_s), t_s))
        return self._pending.pop(0)

    async def write(self, data: bytes) -> None:
        """Hand host bytes to the model."""
        if self.closed:
            raise DeviceDisconnected("memory link: closed")
        self.written.extend(data)
        self.model.receive(data, self.now_s())

    async def aclose(self) -> None:
        """Close it."""
        self.closed = True
