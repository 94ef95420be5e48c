from __future__ import annotations

import re
import signal
import subprocess
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from collections.abc import Callable

    from tests.system.conftest import Proc

pytestmark = [pytest.mark.subprocess, pytest.mark.pty]


def children_of(pid: int) -> list[int]:
    out = subprocess.run(
        ["ps", "-o", "pid=", "--ppid", str(pid)],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    return [int(x) for x in out.split()]


def test_demo_shows_a_live_room_and_ctrl_c_leaves_no_process(
    spawn: Callable[..., Proc],
) -> None:
    demo = spawn("-m", "roomctl", "demo", "--speed", "10", "--no-console")
    demo.wait_for(
        lambda: (
            re.search(r"SpO2 \d+%  PR \d+/min  NIBP \d+/\d+", demo.stdout()) is not None
        ),
        timeout=30,
        what="live vitals with a blood pressure",
    )
    children = children_of(demo.popen.pid)
    # The embedded broker, the oximeter, the NIBP monitor and the bulb.
    assert len(children) == 4
    demo.popen.send_signal(signal.SIGINT)
    assert demo.popen.wait(timeout=10) == 0
    assert "roomctl demo stopped." in demo.stdout()
    assert "Secondary display" in demo.stdout()
    assert "MQTT broker: mqtt://127.0.0.1:" in demo.stdout()
    assert "level" not in demo.stderr()  # no warning or error logged on the way out
    for pid in children:
        assert subprocess.run(["kill", "-0", str(pid)], check=False).returncode != 0
