"""Drive a real terminal program in a detached tmux session of a fixed size.

End-to-end helper for the console (and the demo): start a command in its own tmux
server (a private socket, so the user's tmux is never touched), send keys, read the
screen as text. The pane stays after the program exits, with its last screen and a
line giving its exit status.

    with Tmux(width=100, height=30) as term:
        term.start([sys.executable, "-m", "roomctl.ui.app", "--help"])
        term.wait_for("--broker")
        assert term.wait_for_exit() == 0
        print(term.capture())
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Self

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from types import TracebackType

#: The repository, where commands run by default.
ROOT = Path(__file__).resolve().parents[2]
#: Printed with the exit status when the command ends.
EXIT_MARK = "[tmux-test exited]"


def tmux_path() -> str:
    """The tmux binary."""
    found = shutil.which("tmux")
    if found is None:
        raise RuntimeError("tmux is not installed")
    return found


class Tmux:
    """One detached tmux session on a private server.

    Args:
        width: Columns of the pane.
        height: Rows of the pane.
        name: Session name (also part of the private socket's name).
    """

    def __init__(self, *, width: int = 100, height: int = 30, name: str = "t") -> None:
        self.width = width
        self.height = height
        self.session = name
        self.socket = f"roomctl-test-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._started = False

    def _tmux(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [tmux_path(), "-L", self.socket, *args],
            capture_output=True,
            text=True,
            check=check,
            timeout=10,
        )

    def start(
        self,
        command: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path = ROOT,
    ) -> None:
        """Run ``command`` in a new detached session of ``width`` x ``height``.

        The command runs under ``sh``, which prints ``EXIT_MARK <status>`` when it
        ends and keeps the pane open, so the last screen and the status stay
        readable (the shell reaps the program: no reliance on tmux noticing).
        """
        variables = {"PYTHONUNBUFFERED": "1", **(env or {})}
        env_args = [arg for k, v in variables.items() for arg in ("-e", f"{k}={v}")]
        script = f'{shlex.join(command)}; echo "{EXIT_MARK} $?"; exec sleep 86400'
        self._tmux(
            "-f",
            "/dev/null",
            "new-session",
            "-d",
            "-s",
            self.session,
            "-x",
            str(self.width),
            "-y",
            str(self.height),
            "-c",
            str(cwd),
            *env_args,
            shlex.join(["sh", "-c", script]),
        )
        self._started = True

    def send(self, *keys: str, literal: bool = False) -> None:
        """Send keys (tmux names: ``Enter``, ``Escape``, ``C-q``, ``Up``; or text)."""
        args = ["send-keys", "-t", self.session]
        if literal:
            args.append("-l")
        self._tmux(*args, *keys)

    def capture(self) -> str:
        """The visible pane as text."""
        return self._tmux("capture-pane", "-p", "-t", self.session).stdout

    def exit_status(self) -> int | None:
        """The program's exit status once it has exited, else ``None``."""
        found = re.search(
            rf"^{re.escape(EXIT_MARK)} (\d+)$", self.capture(), re.MULTILINE
        )
        return int(found.group(1)) if found else None

    def wait_for(self, text: str, timeout: float = 15.0) -> str:
        """Poll the pane until ``text`` shows; the screen then.

        Raises:
            AssertionError: not seen in time (the last screen is in the message).
        """
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.capture()
            if text in screen:
                return screen
            time.sleep(0.1)
        raise AssertionError(f"{text!r} not on screen after {timeout} s:\n{screen}")

    def wait_for_exit(self, timeout: float = 10.0) -> int:
        """Wait for the program to exit; its exit status.

        Raises:
            AssertionError: still running after ``timeout`` (with the screen).
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self.exit_status()
            if status is not None:
                return status
            time.sleep(0.1)
        raise AssertionError(f"still running after {timeout} s:\n{self.capture()}")

    def close(self) -> None:
        """Stop the private tmux server (and the program, if still running)."""
        if self._started:
            socket_path = self._tmux(
                "display-message", "-p", "#{socket_path}", check=False
            ).stdout.strip()
            self._tmux("kill-server", check=False)
            self._started = False
            if socket_path:
                # tmux leaves its socket file behind.
                Path(socket_path).unlink(missing_ok=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
