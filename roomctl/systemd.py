"""systemd notification (``Type=notify``, watchdog) without a library.

sd_notify(3) is one datagram to the socket named in ``$NOTIFY_SOCKET`` (a path, or an
abstract socket when it starts with ``@``). Without that variable every call is a no-op,
so the daemon runs the same by hand, under tests and under systemd.
"""

from __future__ import annotations

import logging
import os
import socket

_LOGGER = logging.getLogger(__name__)


class Notifier:
    """Sends ``READY=1``, ``STATUS=...``, ``WATCHDOG=1`` and ``STOPPING=1``."""

    def __init__(self, environ: dict[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        address = env.get("NOTIFY_SOCKET", "")
        self._address = "\0" + address[1:] if address.startswith("@") else address
        usec = env.get("WATCHDOG_USEC", "")
        #: Seconds between watchdog pings: half of systemd's ``WatchdogSec``, or None.
        self.watchdog_interval_s: float | None = (
            int(usec) / 2_000_000 if usec.isdigit() and int(usec) > 0 else None
        )

    @property
    def enabled(self) -> bool:
        """Whether systemd asked for notifications."""
        return bool(self._address)

    def notify(self, message: str) -> None:
        """Send one notification; failures are logged, never raised."""
        if not self._address:
            return
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
                sock.connect(self._address)
                sock.sendall(message.encode())
        except OSError as exc:
            _LOGGER.warning("cannot notify systemd: %s", exc)

    def ready(self, status: str) -> None:
        """Tell systemd start-up is done."""
        self.notify(f"READY=1\nSTATUS={status}")

    def watchdog(self) -> None:
        """Tell systemd the daemon is alive and making progress."""
        self.notify("WATCHDOG=1")

    def stopping(self) -> None:
        """Tell systemd shutdown has begun."""
        self.notify("STOPPING=1")
