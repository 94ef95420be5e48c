from __future__ import annotations

import asyncio
import random
import socket
from typing import TYPE_CHECKING

import pytest

from roomctl.backoff import Backoff, restarting
from roomctl.systemd import Notifier

if TYPE_CHECKING:
    from pathlib import Path


def test_notifier_sends_datagrams_to_the_notify_socket(tmp_path: Path) -> None:
    path = tmp_path / "notify.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as server:
        server.bind(str(path))
        notifier = Notifier({"NOTIFY_SOCKET": str(path), "WATCHDOG_USEC": "30000000"})
        assert notifier.enabled
        assert notifier.watchdog_interval_s == 15.0
        notifier.ready("room-1: running")
        notifier.watchdog()
        notifier.stopping()
        got = [server.recv(1024).decode() for _ in range(3)]
    assert got == ["READY=1\nSTATUS=room-1: running", "WATCHDOG=1", "STOPPING=1"]


def test_notifier_without_systemd_does_nothing() -> None:
    notifier = Notifier({})
    assert not notifier.enabled
    assert notifier.watchdog_interval_s is None
    notifier.ready("x")  # no socket: a no-op, no error


def test_notifier_survives_a_missing_socket(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    Notifier({"NOTIFY_SOCKET": str(tmp_path / "gone.sock")}).watchdog()
    assert "cannot notify systemd" in caplog.text


def test_notifier_abstract_socket_name() -> None:
    notifier = Notifier({"NOTIFY_SOCKET": "@roomctl-test-abstract"})
    assert notifier._address == "\0roomctl-test-abstract"


def test_backoff_doubles_to_its_cap_and_resets_after_a_healthy_connection() -> None:
    b = Backoff(base_s=1.0, cap_s=8.0, healthy_after_s=10.0, rng=random.Random(3))
    delays = [b.next_delay() for _ in range(8)]
    ceilings = [1, 2, 4, 8, 8, 8, 8, 8]
    assert all(0 <= d <= c for d, c in zip(delays, ceilings, strict=True))
    b.connection_lasted(3.0)
    assert b.attempt == 8
    b.connection_lasted(12.0)
    assert b.attempt == 0


async def test_restarting_reports_and_restarts_a_failing_component() -> None:
    runs = 0
    failures: list[str] = []

    async def flaky() -> None:
        nonlocal runs
        runs += 1
        if runs < 3:
            raise RuntimeError(f"boom {runs}")
        await asyncio.sleep(3600)

    task = asyncio.create_task(
        restarting(
            "flaky",
            flaky,
            backoff=Backoff(base_s=0.001, cap_s=0.002),
            on_failure=lambda name, exc: failures.append(f"{name}: {exc}"),
        )
    )
    for _ in range(100):
        await asyncio.sleep(0.01)
        if runs == 3:
            break
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert failures == ["flaky: boom 1", "flaky: boom 2"]
