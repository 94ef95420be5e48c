"""System-test helpers: the daemon and simulators as real processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Proc:
    """A started process with its stderr in a file."""

    popen: subprocess.Popen[bytes]
    stderr_path: Path
    stdout_path: Path

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def stdout(self) -> str:
        return self.stdout_path.read_text(errors="replace")

    def log_lines(self) -> list[dict[str, object]]:
        return [
            json.loads(text)
            for text in self.stderr().splitlines()
            if text.startswith("{")
        ]

    def wait_for(
        self, predicate: Callable[[], bool], timeout: float, what: str
    ) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            if self.popen.poll() is not None:
                code = self.popen.returncode
                msg = f"process exited ({code}) before {what}:\n{self.stderr()}"
                raise AssertionError(msg)
            time.sleep(0.05)
        msg = f"timed out waiting for {what}:\n{self.stderr()[-3000:]}"
        raise AssertionError(msg)


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[Callable[..., Proc]]:
    procs: list[Proc] = []
    counter = iter(range(1000))

    def start(*args: str, env: dict[str, str] | None = None) -> Proc:
        n = next(counter)
        err = tmp_path / f"proc{n}.stderr"
        out = tmp_path / f"proc{n}.stdout"
        full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        with err.open("wb") as e, out.open("wb") as o:
            popen = subprocess.Popen(
                [sys.executable, *args], stdout=o, stderr=e, cwd=ROOT, env=full_env
            )
        proc = Proc(popen, err, out)
        procs.append(proc)
        return proc

    yield start
    # SIGTERM first: a clean exit also lets coverage save its data.
    for proc in procs:
        if proc.popen.poll() is None:
            proc.popen.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.popen.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.popen.send_signal(signal.SIGKILL)
            proc.popen.wait(timeout=5)


def write_config(path: Path, text: str) -> Path:
    path.write_text(text)
    return path
