"""TLS for MQTT clients (the room's bridge, the console): contexts that leak no socket.

paho-mqtt 2.2 leaves its socket open when the TLS handshake fails (a CA it does not
trust, a wrong host name): the socket waits for the garbage collector, one per retry.
``TlsContext`` remembers every socket it wrapped, so each client closes the sockets of
a finished connection attempt itself (``close_all``).
"""

from __future__ import annotations

import ssl
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import socket
    from pathlib import Path


class TlsContext(ssl.SSLContext):
    """An ``SSLContext`` that remembers the sockets it wrapped."""

    wrapped: list[ssl.SSLSocket]

    def wrap_socket(  # noqa: PLR0917 -- SSLContext's signature
        self,
        sock: socket.socket,
        server_side: bool = False,  # noqa: FBT001, FBT002 -- SSLContext's signature
        do_handshake_on_connect: bool = True,  # noqa: FBT001, FBT002 -- same
        suppress_ragged_eofs: bool = True,  # noqa: FBT001, FBT002 -- same
        server_hostname: str | bytes | None = None,
        session: ssl.SSLSession | None = None,
    ) -> ssl.SSLSocket:
        """Wrap ``sock`` as ``SSLContext`` does, and remember it."""
        wrapped = super().wrap_socket(
            sock,
            server_side=server_side,
            do_handshake_on_connect=do_handshake_on_connect,
            suppress_ragged_eofs=suppress_ragged_eofs,
            server_hostname=server_hostname,
            session=session,
        )
        self.wrapped.append(wrapped)
        return wrapped

    def close_all(self) -> None:
        """Close every socket this context wrapped (a no-op for closed ones)."""
        for wrapped in self.wrapped:
            wrapped.close()
        self.wrapped.clear()


def tls_context(
    ca_file: Path | str | None = None,
    cert_file: Path | str | None = None,
    key_file: Path | str | None = None,
) -> TlsContext:
    """A client context: the CA (the system's store without one), a client cert.

    Blocking (it reads the files): run it in a thread. Raises ``OSError``
    (``ssl.SSLError`` is one) for files that cannot be read or used.
    """
    # TLS_CLIENT: certificates required, host name checked, TLS 1.2 at least.
    context = TlsContext(ssl.PROTOCOL_TLS_CLIENT)
    context.wrapped = []
    if ca_file is None:
        context.load_default_certs()
    else:
        context.load_verify_locations(cafile=ca_file)
    if cert_file is not None and key_file is not None:
        context.load_cert_chain(cert_file, key_file)
    return context
