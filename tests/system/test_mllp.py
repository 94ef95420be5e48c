"""The HL7 export over MLLP against a real TCP listener on loopback.

The listener runs in a thread, reads the client's bytes one at a time through an MLLP
framing state machine (0x0B, message, 0x1C 0x0D; nothing outside a block, no start
byte inside one), checks that the client waits for each acknowledgement before sending
the next message, and answers as each test tells it.
"""

from __future__ import annotations

import select
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pytest

from roomctl.errors import ExportError
from roomctl.export import export_session
from tests.unit.export.hl7_checker import problems, split_messages
from tests.unit.export.records import SESSION_ID, build_full_session

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

VT, FS, CR = 0x0B, 0x1C, 0x0D
#: How long the listener watches for a message sent before its acknowledgement.
EAGER_WINDOW_S = 0.05


def ack(control_id: str, code: str = "AA", text: str = "") -> bytes:
    message = (
        f"MSH|^~\\&|RECEIVER||ROOMCTL||20261121120000+0000||ACK^R01^ACK|"
        f"ACK{control_id}|P|2.6\rMSA|{code}|{control_id}|{text}\r"
    )
    return bytes([VT]) + message.encode() + bytes([FS, CR])


@dataclass
class Framing:
    """MLLP framing, one byte at a time: 0x0B, message bytes, 0x1C, 0x0D."""

    errors: list[str]
    inside: bool = False
    ending: bool = False
    body: bytearray = field(default_factory=bytearray)

    def feed(self, byte: int) -> bytes | None:
        """The message when ``byte`` completes a block, else ``None``."""
        if self.ending:
            self.ending = False
            if byte != CR:
                self.errors.append(f"0x1C followed by {byte:#04x}, not 0x0D")
                return None
            self.inside = False
            body = bytes(self.body)
            self.body.clear()
            return body
        if not self.inside:
            if byte != VT:
                self.errors.append(f"byte {byte:#04x} outside a block")
            self.inside = True
        elif byte == FS:
            self.ending = True
        elif byte == VT:
            self.errors.append("start byte 0x0B inside a block")
        else:
            self.body.append(byte)
        return None


@dataclass
class Receiver:
    """A loopback MLLP listener in a thread."""

    #: Given the message's number (from 1) and control id: the bytes to answer, or
    #: ``None`` to say nothing.
    answer: Callable[[int, str], bytes | None]
    #: Send the answer one byte at a time.
    trickle: bool = False
    #: Close the connection instead of answering message N.
    hang_up_at: int | None = None
    #: Hang up with a TCP reset rather than an orderly close.
    reset: bool = False
    frames: list[bytes] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    listener: socket.socket = field(init=False)
    thread: threading.Thread = field(init=False)
    stopping: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(1)
        self.listener.settimeout(0.05)
        self.thread = threading.Thread(target=self._serve, name="mllp-receiver")
        self.thread.start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.listener.getsockname()[1]}"

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=10)
        self.listener.close()

    def _serve(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            with conn:
                self._talk(conn)

    def _talk(self, conn: socket.socket) -> None:
        conn.settimeout(0.05)
        framing = Framing(errors=self.errors)
        while not self.stopping.is_set():
            try:
                chunk = conn.recv(4096)
            except TimeoutError:
                continue
            except ConnectionResetError:
                return  # the client gave up with our answer unread
            if not chunk:
                if framing.inside:
                    self.errors.append("connection closed inside a block")
                return
            for byte in chunk:  # the framing, byte by byte
                body = framing.feed(byte)
                if body is not None and not self._answer(conn, body):
                    return

    def _answer(self, conn: socket.socket, body: bytes) -> bool:
        self.frames.append(body)
        number = len(self.frames)
        # The client must wait for our answer: nothing more may arrive before it.
        readable, _, _ = select.select([conn], [], [], EAGER_WINDOW_S)
        if readable:
            self.errors.append(f"message {number + 1} was sent before ACK {number}")
        if self.hang_up_at == number:
            if self.reset:
                linger_off = struct.pack("ii", 1, 0)
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger_off)
            return False
        control_id = body.decode().split("\r")[0].split("|")[9]
        reply = self.answer(number, control_id)
        if reply is None:
            return True
        try:
            if self.trickle:
                for byte in reply:
                    conn.sendall(bytes([byte]))
                    time.sleep(0.001)
            else:
                conn.sendall(reply)
        except (BrokenPipeError, ConnectionResetError):
            return False  # the client gave up on us: what some tests want
        return True


@pytest.fixture
def receiver() -> Iterator[Callable[..., Receiver]]:
    started: list[Receiver] = []

    def start(
        answer: Callable[[int, str], bytes | None], **options: object
    ) -> Receiver:
        instance = Receiver(answer, **options)  # type: ignore[arg-type]  # options are Receiver's own fields
        started.append(instance)
        return instance

    yield start
    for instance in started:
        instance.stop()


@pytest.fixture
async def record(tmp_path: Path) -> Path:
    path = tmp_path / "record.sqlite"
    await build_full_session(path)
    return path


def test_mllp_delivers_every_message_framed_and_in_order(
    record: Path, tmp_path: Path, receiver: Callable[..., Receiver]
) -> None:
    listener = receiver(lambda _n, control_id: ack(control_id))
    out = tmp_path / "sent.hl7"
    said = export_session(record, SESSION_ID, out=out, mllp=listener.address)
    assert listener.errors == []
    assert len(listener.frames) == 5
    sent = b"".join(listener.frames).decode("utf-8")
    assert problems(sent) == []
    # exactly what was written to the file, message by message
    assert sent == out.read_bytes().decode("utf-8")
    ids = [segments[0].split("|")[9] for segments in split_messages(sent)]
    assert ids == sorted(ids)
    assert said.endswith(
        f"sent 5 HL7 ORU^R01 messages of session {SESSION_ID} to {listener.address}; "
        "the receiver acknowledged every one"
    )


def test_mllp_accepts_commit_acks_arriving_in_pieces(
    record: Path, receiver: Callable[..., Receiver]
) -> None:
    listener = receiver(
        lambda _n, control_id: b"\r\n" + ack(control_id, "CA"), trickle=True
    )
    said = export_session(record, SESSION_ID, out=None, mllp=listener.address)
    assert listener.errors == []
    assert len(listener.frames) == 5
    assert "acknowledged every one" in said


def test_mllp_stops_at_a_message_the_receiver_rejects(
    record: Path, receiver: Callable[..., Receiver]
) -> None:
    def answer(number: int, control_id: str) -> bytes:
        if number == 2:
            return ack(control_id, "AE", "unknown location")
        return ack(control_id)

    listener = receiver(answer)
    with pytest.raises(ExportError) as caught:
        export_session(record, SESSION_ID, out=None, mllp=listener.address)
    second_id = listener.frames[1].decode().split("|")[9]
    assert str(caught.value) == (
        f"the HL7 receiver at {listener.address} did not accept message {second_id} "
        "(AE, application error): unknown location (1 earlier message was accepted)"
    )
    assert len(listener.frames) == 2
    assert listener.errors == []


def test_mllp_says_when_nothing_listens(record: Path) -> None:
    probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    with pytest.raises(
        ExportError,
        match=rf"^the HL7 receiver at 127\.0\.0\.1:{port} refused the connection$",
    ):
        export_session(record, SESSION_ID, out=None, mllp=f"127.0.0.1:{port}")


def test_mllp_gives_up_on_a_silent_receiver(
    record: Path, receiver: Callable[..., Receiver]
) -> None:
    listener = receiver(lambda _n, _control_id: None)
    started = time.monotonic()
    with pytest.raises(
        ExportError, match=r"did not acknowledge message \w+ within 0.3 s"
    ):
        export_session(
            record, SESSION_ID, out=None, mllp=listener.address, ack_timeout_s=0.3
        )
    assert time.monotonic() - started < 5
    assert len(listener.frames) == 1


def test_mllp_reports_a_receiver_that_hangs_up(
    record: Path, receiver: Callable[..., Receiver]
) -> None:
    listener = receiver(lambda _n, control_id: ack(control_id), hang_up_at=3)
    with pytest.raises(
        ExportError,
        match=r"closed the connection before acknowledging message \w+ "
        r"\(2 earlier messages were accepted\)",
    ):
        export_session(record, SESSION_ID, out=None, mllp=listener.address)


@pytest.mark.parametrize(
    ("reply", "words"),
    [
        (lambda _id: ack("SOMEONE-ELSE"), "acknowledged message 'SOMEONE-ELSE' while"),
        (
            lambda _id: b"\x0bMSH|^~\\&|RX\rXYZ|1\r\x1c\x0d",
            "not an acknowledgement",
        ),
    ],
)
def test_mllp_refuses_an_answer_that_is_not_its_ack(
    record: Path,
    receiver: Callable[..., Receiver],
    reply: Callable[[str], bytes],
    words: str,
) -> None:
    listener = receiver(lambda _n, control_id: reply(control_id))
    with pytest.raises(ExportError, match=words):
        export_session(record, SESSION_ID, out=None, mllp=listener.address)
    assert len(listener.frames) == 1


def test_mllp_stops_reading_an_answer_that_never_ends(
    record: Path, receiver: Callable[..., Receiver]
) -> None:
    endless = b"\x0bMSA|AA|" + b"x" * 1_100_000
    listener = receiver(lambda _n, _control_id: endless)
    with pytest.raises(ExportError, match="more than 1000000 bytes without ending"):
        export_session(record, SESSION_ID, out=None, mllp=listener.address)


def test_mllp_deadline_holds_while_the_answer_trickles_in(
    record: Path, receiver: Callable[..., Receiver]
) -> None:
    slow = b"\x0bMSH|" + b"x" * 2000  # about 2 s at one byte a millisecond
    listener = receiver(lambda _n, _control_id: slow, trickle=True)
    started = time.monotonic()
    with pytest.raises(
        ExportError, match=r"did not acknowledge message \w+ within 0.2 s"
    ):
        export_session(
            record, SESSION_ID, out=None, mllp=listener.address, ack_timeout_s=0.2
        )
    assert time.monotonic() - started < 1.5


def test_mllp_reports_a_connection_reset(
    record: Path, receiver: Callable[..., Receiver]
) -> None:
    listener = receiver(
        lambda _n, control_id: ack(control_id), hang_up_at=1, reset=True
    )
    with pytest.raises(
        ExportError,
        match=r"^the connection to the HL7 receiver at .* broke while sending message "
        r"\w+: Connection reset by peer \(0 earlier messages were accepted\)$",
    ):
        export_session(record, SESSION_ID, out=None, mllp=listener.address)
