from __future__ import annotations

import signal
import sqlite3
import time
from typing import TYPE_CHECKING

import pytest

from tests.system.conftest import write_config

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from tests.system.conftest import Proc

pytestmark = pytest.mark.subprocess


def test_daemon_stops_cleanly_on_sigterm_within_2_s(
    tmp_path: Path, spawn: Callable[..., Proc]
) -> None:
    record = tmp_path / "record.sqlite"
    config = write_config(
        tmp_path / "room.toml",
        f'[room]\nname = "room-9"\n[record]\npath = "{record}"\n'
        "[music]\nenabled = false\n",
    )
    daemon = spawn("-m", "roomctl", "run", "--config", str(config))
    daemon.wait_for(
        lambda: any("started" in str(line.get("msg")) for line in daemon.log_lines()),
        timeout=15,
        what="the daemon to start",
    )
    sent = time.monotonic()
    daemon.popen.send_signal(signal.SIGTERM)
    assert daemon.popen.wait(timeout=5) == 0
    assert time.monotonic() - sent < 2.0
    lines = daemon.log_lines()
    assert all({"at", "level", "logger", "msg"} <= set(line) for line in lines)
    assert any("Secondary display" in str(line["msg"]) for line in lines)
    assert "session record is flushed" in str(lines[-1]["msg"])
    conn = sqlite3.connect(record)
    rows = conn.execute("SELECT room, ended_at FROM sessions").fetchall()
    assert len(rows) == 1
    assert rows[0][0] == "room-9"
    assert rows[0][1] is not None


def test_daemon_refuses_bad_configuration_with_exit_2(
    tmp_path: Path, spawn: Callable[..., Proc]
) -> None:
    config = write_config(
        tmp_path / "room.toml",
        '[room]\nname = "Room 1"\n[devices.oximeter]\nprotocol = "nonin"\n',
    )
    daemon = spawn("-m", "roomctl", "run", "--config", str(config))
    assert daemon.popen.wait(timeout=15) == 2
    err = daemon.stderr()
    assert "the configuration has 3 problems" in err
    assert f"{config}:2: room.name" in err
    assert f"{config}:4: devices.oximeter.protocol" in err
    assert f"{config}:3: devices.oximeter.port: Field required" in err
