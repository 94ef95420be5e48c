"""A real mosquitto broker on a free loopback port, for tests that talk MQTT.

``Broker`` writes a generated configuration (loopback only, no persistence unless
asked), starts Debian's ``mosquitto`` as a child process and can kill and restart it
on the same port, so tests can take the broker away in the middle of a session.
``ConfiguredBroker`` runs a whole configuration the test gives (the production one in
``deploy/mosquitto``, templated for a loopback port and temporary paths), and
``make_tls_files`` makes a throw-away CA and a broker certificate with ``openssl``.
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

from roomctl.demo import free_port

if TYPE_CHECKING:
    from pathlib import Path

#: How long a starting broker may take to accept connections.
START_TIMEOUT_S = 10.0


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


@dataclass
class ConfiguredBroker(Broker):
    """mosquitto with a whole configuration given by the test.

    ``config`` must open a listener on ``127.0.0.1:port`` (TCP or TLS: start() only
    waits for the port to accept connections) and should log to ``log_path``, where
    start() looks when mosquitto exits early.
    """

    config: str = ""

    @property
    def log_path(self) -> Path:
        """Where the configuration should send mosquitto's log."""
        return self.folder / "mosquitto.log"

    def config_text(self) -> str:
        """The configuration exactly as given."""
        return self.config


@dataclass(frozen=True)
class TlsFiles:
    """A test certificate authority and a broker certificate it signed (PEM)."""

    ca_cert: Path
    ca_key: Path
    server_cert: Path
    server_key: Path


def _openssl(*args: str) -> None:
    openssl = shutil.which("openssl")
    if openssl is None:
        msg = "openssl is not installed (Debian: apt-get install openssl)"
        raise RuntimeError(msg)
    subprocess.run([openssl, *args], check=True, capture_output=True, timeout=30)


def make_tls_files(folder: Path, *, address: str = "127.0.0.1") -> TlsFiles:
    """Make a CA and a broker certificate for ``address`` (P-256 keys, 2 days)."""
    folder.mkdir(parents=True, exist_ok=True)
    files = TlsFiles(
        ca_cert=folder / "ca.pem",
        ca_key=folder / "ca.key",
        server_cert=folder / "server.pem",
        server_key=folder / "server.key",
    )
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    _openssl(
        "req", "-x509", *ec,
        "-keyout", str(files.ca_key), "-out", str(files.ca_cert),
        "-days", "2", "-subj", "/CN=roomctl test CA",
    )  # fmt: skip
    request = folder / "server.csr"
    _openssl(
        "req", *ec,
        "-keyout", str(files.server_key), "-out", str(request),
        "-subj", f"/CN={address}",
    )  # fmt: skip
    extensions = folder / "san.cnf"
    extensions.write_text(f"subjectAltName=IP:{address}\n")
    _openssl(
        "x509", "-req", "-in", str(request),
        "-CA", str(files.ca_cert), "-CAkey", str(files.ca_key), "-CAcreateserial",
        "-out", str(files.server_cert), "-days", "2", "-extfile", str(extensions),
    )  # fmt: skip
    return files
