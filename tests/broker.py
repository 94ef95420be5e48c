"""A real mosquitto broker on a free loopback port, for tests that talk MQTT.

``Broker`` writes a generated configuration (loopback only, no persistence unless
asked), starts Debian's ``mosquitto`` as a child process and can kill and restart it
on the same port, so tests can take the broker away in the middle of a session.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

#: How long a starting broker may take to accept connections.
START_TIMEOUT_S = 10.0


def free_port() -> int:
    """A TCP port free on loopback right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def mosquitto_path() -> str:
    """Where mosquitto is (Debian installs it in /usr/sbin)."""
    found = shutil.which("mosquitto") or shutil.which("/usr/sbin/mosquitto")
    if found is None:
        msg = "mosquitto is not installed (make test installs it with apt-get)"
        raise RuntimeError(msg)
    return found


@dataclass
class Broker:
    """One mosquitto process on ``127.0.0.1:port``."""

    folder: Path
    port: int = field(default_factory=free_port)
    extra_config: str = ""
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def url(self) -> str:
        """``mqtt://127.0.0.1:PORT``."""
        return f"mqtt://127.0.0.1:{self.port}"

    def config_text(self) -> str:
        """The generated configuration."""
        return (
            f"listener {self.port} 127.0.0.1\n"
            "allow_anonymous true\n"
            "persistence false\n"
            f"log_dest file {self.folder / 'mosquitto.log'}\n"
            "log_type error\nlog_type warning\nlog_type notice\n"
            f"{self.extra_config}"
        )

    def start(self) -> None:
        """Start the broker and wait until it accepts connections."""
        self.folder.mkdir(parents=True, exist_ok=True)
        config = self.folder / "mosquitto.conf"
        config.write_text(self.config_text())
        self.process = subprocess.Popen(
            [mosquitto_path(), "-c", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.starts += 1
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                log = (self.folder / "mosquitto.log").read_text(errors="replace")
                msg = f"mosquitto exited ({self.process.returncode}): {log}"
                raise RuntimeError(msg)
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2),
            ):
                return
            time.sleep(0.05)
        msg = f"mosquitto did not start on port {self.port}"
        raise RuntimeError(msg)

    def kill(self) -> None:
        """Take the broker away at once (SIGKILL), as a crash or pulled cable would."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=5)
        self.process = None

    def stop(self) -> None:
        """Stop the broker politely."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self.process = None

    def restart(self) -> None:
        """Kill and start again on the same port."""
        self.kill()
        self.start()
