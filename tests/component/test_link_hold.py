"""SerialLink.hold over a real pseudo-terminal and a loopback socket (issue 6).

A device that streams small chunks (the Nonin: a few bytes every 20 ms or so) must
not wake the daemon for each of them. After ``hold(s)`` the next read returns nothing
for ``s`` seconds and then everything that arrived: every byte intact and in order,
none later than the hold's end (plus scheduling); a byte after a quiet spell comes at
once.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import tty
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pytest

from roomctl.devices.link import open_link
from roomctl.errors import DeviceDisconnected

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable

    from roomctl.devices.link import SerialLink

HOLD_S = 0.1
#: The writer's pace: a 5-byte frame every 20 ms, as the Nonin simulator writes.
CHUNK_EVERY_S = 0.02
CHUNKS = 60
#: Scheduling slack on a shared 2-core machine.
SLACK_S = 0.1


@dataclass
class Trace:
    """When each chunk was written and when each read returned."""

    written: list[tuple[float, bytes]] = field(default_factory=list)
    reads: list[tuple[float, bytes]] = field(default_factory=list)

    def delays(self) -> list[float]:
        """How long each written byte waited for the read that returned it."""
        read_at: list[float] = []
        for at, data in self.reads:
            read_at += [at] * len(data)
        sent_at: list[float] = []
        for at, data in self.written:
            sent_at += [at] * len(data)
        return [r - s for r, s in zip(read_at, sent_at, strict=True)]


@contextlib.asynccontextmanager
async def pty_link() -> AsyncIterator[tuple[SerialLink, int]]:
    master, slave = os.openpty()
    tty.setraw(master)
    os.set_blocking(master, False)
    link = await open_link(os.ttyname(slave), baud=9600)
    try:
        yield link, master
    finally:
        await link.aclose()
        os.close(slave)
        with contextlib.suppress(OSError):
            os.close(master)


async def stream(
    write: Callable[[bytes], Awaitable[None] | None], trace: Trace
) -> None:
    loop = asyncio.get_running_loop()
    start = loop.time()
    for n in range(CHUNKS):
        await asyncio.sleep(max(0.0, start + n * CHUNK_EVERY_S - loop.time()))
        chunk = bytes([n, n, n, n, n])
        trace.written.append((loop.time(), chunk))
        result = write(chunk)
        if result is not None:
            await result


async def read_all(link: SerialLink, trace: Trace, hold_s: float) -> None:
    loop = asyncio.get_running_loop()
    total = CHUNKS * 5
    while sum(len(d) for _, d in trace.reads) < total:
        data = await link.read()
        trace.reads.append((loop.time(), data))
        if hold_s:
            link.hold(hold_s)


async def run_stream(
    link: SerialLink,
    write: Callable[[bytes], Awaitable[None] | None],
    hold_s: float = HOLD_S,
) -> Trace:
    trace = Trace()
    async with asyncio.timeout(10):
        await asyncio.gather(stream(write, trace), read_all(link, trace, hold_s))
    return trace


def check_held(trace: Trace) -> None:
    data = b"".join(d for _, d in trace.reads)
    assert data == b"".join(bytes([n] * 5) for n in range(CHUNKS))
    span = trace.written[-1][0] - trace.written[0][0]
    # About one read per hold over the stream (not one per chunk: 60 chunks).
    assert len(trace.reads) <= span / HOLD_S + 3
    gaps = [b[0] - a[0] for a, b in itertools.pairwise(trace.reads)]
    assert min(gaps) >= HOLD_S - 0.005
    delays = trace.delays()
    assert max(delays) <= HOLD_S + SLACK_S
    assert sum(delays) / len(delays) <= HOLD_S


def to_master(master: int) -> Callable[[bytes], None]:
    def write(chunk: bytes) -> None:
        os.write(master, chunk)

    return write


@pytest.mark.pty
async def test_a_holding_pty_link_reads_once_per_hold_and_loses_nothing() -> None:
    async with pty_link() as (link, master):
        trace = await run_stream(link, to_master(master))
    check_held(trace)


@pytest.mark.pty
async def test_without_holds_a_pty_link_reads_every_chunk() -> None:
    # The contrast that shows the test above measures something.
    async with pty_link() as (link, master):
        trace = await run_stream(link, to_master(master), hold_s=0.0)
    assert len(trace.reads) >= CHUNKS // 2
    assert max(trace.delays()) <= SLACK_S


@pytest.mark.pty
async def test_a_byte_after_a_quiet_spell_comes_at_once() -> None:
    async with pty_link() as (link, master):
        loop = asyncio.get_running_loop()
        os.write(master, b"a")
        assert await asyncio.wait_for(link.read(), 2) == b"a"
        link.hold(HOLD_S)
        await asyncio.sleep(3 * HOLD_S)  # quiet for longer than the hold
        reader = asyncio.create_task(link.read())
        await asyncio.sleep(0.05)
        sent = loop.time()
        os.write(master, b"b")
        assert await asyncio.wait_for(reader, 2) == b"b"
        assert loop.time() - sent < HOLD_S / 2 + SLACK_S / 2


@pytest.mark.pty
async def test_a_cable_pulled_during_a_hold_is_reported() -> None:
    async with pty_link() as (link, master):
        os.write(master, b"x")
        assert await asyncio.wait_for(link.read(), 2) == b"x"
        link.hold(HOLD_S)
        reader = asyncio.create_task(link.read())  # holding now
        await asyncio.sleep(HOLD_S / 4)
        os.close(master)  # the device side goes away
        with pytest.raises(DeviceDisconnected):
            await asyncio.wait_for(reader, 2)


async def test_a_holding_socket_link_reads_once_per_hold() -> None:
    writers: list[asyncio.StreamWriter] = []
    connected = asyncio.Event()

    def accept(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)
        connected.set()

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        link = await open_link(f"socket://127.0.0.1:{port}", baud=0)
        await asyncio.wait_for(connected.wait(), 2)
        peer = writers[0]

        async def send(chunk: bytes) -> None:
            peer.write(chunk)
            await peer.drain()

        trace = await run_stream(link, send)
        await link.aclose()
        peer.close()
    finally:
        server.close()
        await server.wait_closed()
    check_held(trace)
