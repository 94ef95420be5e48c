"""MLLP client: send HL7 messages to a receiver and wait for each acknowledgement.

Framing (HL7 MLLP, protocols.md §4): ``0x0B`` + message + ``0x1C 0x0D``; no length or
checksum at this layer. Each message is sent once, then the client waits for the
receiver's ACK before sending the next, so a refusal stops the transfer at the
message that caused it. ``MSA-1`` ``AA`` (original mode) or ``CA`` (enhanced mode,
the accept acknowledgement PCD-01 asks for with ``MSH-15 = AL``) is success; ``AE``,
``AR``, ``CE`` and ``CR`` are errors naming the message's control id.

Plain blocking sockets: ``roomctl report`` is a one-shot command, not the daemon.
Every wait has a deadline; every failure is an ``ExportError`` in words.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Self

from roomctl.errors import ExportError

if TYPE_CHECKING:
    from collections.abc import Iterable

#: Start of an MLLP block (VT).
START_BLOCK = b"\x0b"
#: End of an MLLP block (FS CR).
END_BLOCK = b"\x1c\x0d"
#: How long to wait for the receiver to accept the TCP connection.
CONNECT_TIMEOUT_S = 5.0
#: How long to wait for the acknowledgement of one message.
ACK_TIMEOUT_S = 10.0
#: Larger answers are not acknowledgements; stop reading rather than fill memory.
MAX_ACK_BYTES = 1_000_000
#: The standard MLLP port, for the error text.
EXAMPLE_ENDPOINT = "10.1.2.3:2575"

#: MSA-1 codes that mean the message was accepted.
ACCEPTED = frozenset({"AA", "CA"})
#: MSA-1 codes that mean it was not, in words.
NOT_ACCEPTED = {
    "AE": "application error",
    "AR": "application reject",
    "CE": "commit error",
    "CR": "commit reject",
}


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where the HL7 receiver listens."""

    host: str
    port: int

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


@dataclass(frozen=True, slots=True)
class Ack:
    """The parts of an acknowledgement roomctl acts on."""

    #: MSA-1 (``AA``, ``AE`` ...).
    code: str
    #: MSA-2: the control id of the message acknowledged.
    control_id: str
    #: MSA-3 and ERR details, for people; may be empty.
    text: str


def parse_endpoint(text: str) -> Endpoint:
    """``HOST:PORT`` (``[v6addr]:PORT`` for IPv6) as an ``Endpoint``.

    >>> parse_endpoint("10.1.2.3:2575"), str(parse_endpoint("[::1]:2575"))
    (Endpoint(host='10.1.2.3', port=2575), '[::1]:2575')
    """
    usage = (
        f"the HL7 receiver must be given as HOST:PORT, for example "
        f"{EXAMPLE_ENDPOINT} (got {text!r})"
    )
    host, sep, port_text = text.strip().rpartition(":")
    bracketed = host.startswith("[") and host.endswith("]")
    if bracketed:
        host = host[1:-1]
    if not sep or not host or (":" in host and not bracketed):
        raise ExportError(usage)
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise ExportError(f"{usage}; the port must be a number from 1 to 65535")
    return Endpoint(host=host, port=int(port_text))


def frame(message: str) -> bytes:
    """One message as an MLLP block (UTF-8, as MSH-18 declares)."""
    return START_BLOCK + message.encode("utf-8") + END_BLOCK


def _unescape(text: str) -> str:
    for code, char in (("\\F\\", "|"), ("\\S\\", "^"), ("\\T\\", "&")):
        text = text.replace(code, char)
    return text.replace("\\R\\", "~").replace("\\E\\", "\\")


def parse_ack(payload: str) -> Ack:
    r"""The MSA (and any ERR text) of an acknowledgement message.

    >>> parse_ack("MSH|^~\\&|RX|||||||ACK|1|P|2.6\rMSA|AE|MSG1|bad OBX\r")
    Ack(code='AE', control_id='MSG1', text='bad OBX')
    """
    msa: list[str] | None = None
    details: list[str] = []
    for segment in payload.replace("\n", "\r").split("\r"):
        fields = segment.split("|")
        if fields[0] == "MSA" and msa is None:
            msa = fields
        elif fields[0] == "ERR":
            # ERR-8 user message, else ERR-3 (HL7 error code) as sent.
            words = fields[8] if len(fields) > 8 and fields[8] else ""
            words = words or (fields[3] if len(fields) > 3 else "")
            if words:
                details.append(_unescape(words))
    if msa is None or len(msa) < 3:
        raise ExportError(
            "the HL7 receiver answered with something that is not an "
            "acknowledgement (no MSA segment)"
        )
    text = _unescape(msa[3]) if len(msa) > 3 else ""
    return Ack(
        code=msa[1].strip().upper(),
        control_id=msa[2].strip(),
        text="; ".join(t for t in [text, *details] if t),
    )


class MllpClient:
    """One TCP connection to an HL7 receiver; use as a context manager."""

    def __init__(
        self,
        endpoint: Endpoint,
        *,
        connect_timeout_s: float = CONNECT_TIMEOUT_S,
        ack_timeout_s: float = ACK_TIMEOUT_S,
    ) -> None:
        self._endpoint = endpoint
        self._connect_timeout_s = connect_timeout_s
        self._ack_timeout_s = ack_timeout_s
        self._sock: socket.socket | None = None
        self._buffer = b""

    def __enter__(self) -> Self:
        where = f"the HL7 receiver at {self._endpoint}"
        try:
            self._sock = socket.create_connection(
                (self._endpoint.host, self._endpoint.port),
                timeout=self._connect_timeout_s,
            )
        except ConnectionRefusedError as exc:
            raise ExportError(f"{where} refused the connection") from exc
        except socket.gaierror as exc:
            raise ExportError(
                f"cannot find the host {self._endpoint.host!r} of the HL7 receiver "
                f"({exc.strerror})"
            ) from exc
        except TimeoutError as exc:
            raise ExportError(
                f"{where} did not accept the connection within "
                f"{self._connect_timeout_s:g} s"
            ) from exc
        except OSError as exc:
            raise ExportError(f"cannot connect to {where}: {exc.strerror}") from exc
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def send(self, message: str, control_id: str) -> Ack:
        """Send one message and return its acknowledgement if it was accepted.

        Raises:
            ExportError: the receiver refused it, answered for another message,
                did not answer in time, or the connection broke.
        """
        sock = self._sock
        if sock is None:
            raise ExportError("the MLLP connection is not open")
        where = f"the HL7 receiver at {self._endpoint}"
        try:
            sock.settimeout(self._ack_timeout_s)
            sock.sendall(frame(message))
            payload = self._read_block(sock, control_id)
        except TimeoutError as exc:
            raise ExportError(
                f"{where} did not acknowledge message {control_id} within "
                f"{self._ack_timeout_s:g} s"
            ) from exc
        except OSError as exc:
            raise ExportError(
                f"the connection to {where} broke while sending message "
                f"{control_id}: {exc.strerror or exc}"
            ) from exc
        ack = parse_ack(payload)
        if ack.code in ACCEPTED and ack.control_id == control_id:
            return ack
        if ack.control_id != control_id:
            raise ExportError(
                f"{where} acknowledged message {ack.control_id!r} while roomctl "
                f"waited for {control_id}; the transfer was stopped"
            )
        meaning = NOT_ACCEPTED.get(ack.code, "an unknown acknowledgement code")
        reason = f": {ack.text}" if ack.text else ""
        raise ExportError(
            f"{where} did not accept message {control_id} "
            f"({ack.code}, {meaning}){reason}"
        )

    def _read_block(self, sock: socket.socket, control_id: str) -> str:
        deadline = time.monotonic() + self._ack_timeout_s
        while True:
            start = self._buffer.find(START_BLOCK)
            if start >= 0:
                end = self._buffer.find(END_BLOCK, start + 1)
                if end >= 0:
                    block = self._buffer[start + 1 : end]
                    self._buffer = self._buffer[end + len(END_BLOCK) :]
                    return block.decode("utf-8", errors="replace")
            else:
                self._buffer = b""  # bytes outside a block carry nothing
            if len(self._buffer) > MAX_ACK_BYTES:
                raise ExportError(
                    f"the HL7 receiver at {self._endpoint} sent more than "
                    f"{MAX_ACK_BYTES} bytes without ending its acknowledgement "
                    f"of message {control_id}"
                )
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            sock.settimeout(remaining)
            chunk = sock.recv(65536)
            if not chunk:
                raise ExportError(
                    f"the HL7 receiver at {self._endpoint} closed the connection "
                    f"before acknowledging message {control_id}"
                )
            self._buffer += chunk


def send_messages(
    messages: Iterable[tuple[str, str]],
    endpoint: Endpoint,
    *,
    connect_timeout_s: float = CONNECT_TIMEOUT_S,
    ack_timeout_s: float = ACK_TIMEOUT_S,
) -> int:
    """Send ``(control_id, text)`` messages in order on one connection.

    Returns:
        How many were sent and accepted (all of them, or an error is raised).

    Raises:
        ExportError: at the first failure, saying how many were accepted before it.
    """
    accepted = 0
    with MllpClient(
        endpoint, connect_timeout_s=connect_timeout_s, ack_timeout_s=ack_timeout_s
    ) as client:
        for control_id, text in messages:
            try:
                client.send(text, control_id)
            except ExportError as exc:
                before = (
                    f"{accepted} earlier message{'s' if accepted != 1 else ''} "
                    f"{'were' if accepted != 1 else 'was'} accepted"
                )
                raise ExportError(f"{exc} ({before})") from exc
            accepted += 1
    return accepted
