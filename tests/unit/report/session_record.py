"""A real session record for the report, ``roomctl sessions`` and retention tests.

A simulated IM session is generated as a capture (``simulators.capture``: a Masimo
oximeter and a SunTech NIBP module in virtual time, a pulled oximeter cable, operator
inputs), replayed through the real decoders, drivers, pipeline and alarm engine
(``roomctl.replay.Replayer``), and the events that bus carries are written by the
real ``Recorder`` into a SQLite record. As in the daemon (``roomctl.app``), a note
command also publishes ``NoteAdded``, and the tracks the music played are published
as ``MusicPlayed``.

The session (minutes from the dose at ``at(0)`` = 09:10 UTC):

- pre-dose NIBP 124/78 at -9 and -5, the nurse confirms the baseline at -1, the
  therapist marks the dose at 0;
- the oximeter's cable is pulled from +8:00 to +8:40 (``link`` lost, then up);
- BP rises to 184/112 at +20 (``bp.high`` LOW) and 188/114 at +23 (MEDIUM); the nurse
  acknowledges it at +24; a therapist's reset of it at +25 is refused (it does not
  latch); BP comes back to 140/86 at +29 and 132/82 at +35;
- phases: peak at +12 (therapist), return at +30 (therapist), integration at +36
  (nurse); a note at +18; the capture ends at +40.
"""

from __future__ import annotations

import io
import sqlite3
from dataclasses import dataclass
from typing import TYPE_CHECKING

from roomctl.capture import OpRecord, read_capture
from roomctl.events import (
    CommandVerb,
    MusicPlayed,
    NoteAdded,
    Phase,
    Role,
    Route,
    SessionOpened,
)
from roomctl.readings import ProtocolId
from roomctl.recorder import Recorder
from roomctl.replay import Replayer
from simulators.alarm_scenarios import Bp, at, op, predose, scenario, session
from simulators.capture import STARTED_AT, CapturePlan, Outage, capture_lines
from simulators.scenarios import Keyframe

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime
    from pathlib import Path

ROOM = "room-3"
SESSION_ID = "room-3-20261121T090000Z"
#: A pseudonymous patient code: it must never appear in a report.
PATIENT_REF = "PTREF-7Q4Z-SECRET"

READINGS = [
    *predose(124, 78),
    Bp(5, 126, 80),
    Bp(10, 150, 92),
    Bp(15, 170, 100),
    Bp(20, 184, 112),
    Bp(23, 188, 114),
    Bp(26, 160, 96),
    Bp(29, 140, 86),
    Bp(35, 132, 82),
]

#: Tracks the music "played": (minutes from the dose, title, phase).
TRACKS = (
    (-10.0, "Slow Pads I", Phase.PREPARATION),
    (0.0, "Drone in D", Phase.DOSING),
    (12.0, "Deep Field", Phase.PEAK),
    (30.0, "Return Light", Phase.RETURN),
)

NOTE_TEXT = "Patient calm, eyes closed; says the music is fine."


def plan(
    end_min: float = 40.0,
    *,
    room: str = ROOM,
    started_at: datetime = STARTED_AT,
    close_reason: str | None = None,
) -> CapturePlan:
    """The capture plan of the session, cut at "+end_min".

    ``close_reason``: the nurse closes the session one minute before the end, with
    this reason (it is not discharge-ready then).
    """
    hr = (
        Keyframe(t_s=0, pulse_rate_bpm=72, spo2_percent=98),
        Keyframe(t_s=at(20), pulse_rate_bpm=95),
        Keyframe(t_s=at(35), pulse_rate_bpm=75),
    )
    end_s = at(end_min)
    readings = [r for r in READINGS if at(r.minute) < end_s - 1]
    inputs = session(
        op(12, 0, "phase", phase="peak", by="therapist"),
        op(18, 0, "note", text=NOTE_TEXT, by="therapist"),
        op(24, 0, "acknowledge", code="bp.high"),
        op(25, 0, "reset", code="bp.high", by="therapist"),
        op(30, 0, "phase", phase="return", by="therapist"),
        op(36, 0, "phase", phase="integration"),
    )
    if close_reason is not None:
        inputs = (
            *inputs,
            op(end_min - 1, 0, "phase", phase="closed", reason=close_reason),
        )
    s = scenario(
        "report_session",
        "An IM session with a confirmed BP rise, a pulled oximeter cable and a note.",
        end_min=end_min,
        keyframes=hr,
        readings=readings,
        inputs=tuple(i for i in inputs if i.t_s < end_s),
    )
    outages: tuple[Outage, ...] = ()
    if end_s > at(8, 40):
        outages = (
            Outage(device="oximeter", start_s=at(8), end_s=at(8, 40), link=True),
        )
    return CapturePlan(
        scenario=s,
        seed=11,
        oximeter=ProtocolId.MASIMO_ASCII1,
        nibp=bool(readings),
        nibp_at=tuple(sorted(at(r.minute) for r in readings)),
        outages=outages,
        route=Route.IM,
        room=room,
        started_at=started_at,
    )


@dataclass(frozen=True, slots=True)
class Built:
    """What ``build_record`` wrote."""

    path: Path
    session_id: str
    started_at: datetime
    #: The capture text (a daemon writes one per session).
    capture: str


def build_record(
    path: Path,
    *,
    capture_plan: CapturePlan | None = None,
    session_id: str | None = None,
    captures_dir: Path | None = None,
    patient_ref: str | None = PATIENT_REF,
    tracks: Sequence[tuple[float, str, Phase]] = TRACKS,
    close: bool = True,
) -> Built:
    """Replay the session's capture into a record at ``path``.

    The session id is the daemon's (room and start time) unless given. The capture
    is also written to ``captures_dir`` when given, as the daemon writes it.
    ``close=False`` leaves the session running (no ``ended_at``).
    """
    the_plan = capture_plan if capture_plan is not None else plan()
    text = "\n".join(capture_lines(the_plan)) + "\n"
    header, records = read_capture(io.StringIO(text), "report-session")
    if session_id is None:
        session_id = f"{header.room}-{header.started_at:%Y%m%dT%H%M%SZ}"
    if captures_dir is not None:
        captures_dir.mkdir(parents=True, exist_ok=True)
        (captures_dir / f"{session_id}.jsonl").write_text(text)
    replayer = Replayer(header, emit=lambda _line: None)
    bus, clock = replayer.bus, replayer.clock
    recorder = Recorder(path=path, bus=bus, clock=clock)
    recorder.open()
    opened = SessionOpened(
        occurred_mono=clock.monotonic(),
        occurred_at=clock.now_utc(),
        session_id=session_id,
        route=header.route,
        infusion_min=header.infusion_min,
    )
    recorder.start_session(opened, header.room, patient_ref)
    bus.publish(opened)
    pending_tracks = sorted(tracks)
    for count, record in enumerate(records, start=1):
        while pending_tracks and at(pending_tracks[0][0]) <= record.t:
            minute, title, phase = pending_tracks.pop(0)
            clock.set(max(clock.monotonic(), at(minute)))
            bus.publish(
                MusicPlayed(
                    occurred_mono=clock.monotonic(),
                    occurred_at=clock.now_utc(),
                    track_id=title.lower().replace(" ", "-"),
                    title=title,
                    phase=phase,
                )
            )
        replayer.apply(record)
        if isinstance(record, OpRecord) and record.verb is CommandVerb.NOTE:
            # The daemon's handle_command publishes the note itself.
            bus.publish(
                NoteAdded(
                    occurred_mono=clock.monotonic(),
                    occurred_at=clock.now_utc(),
                    text=str(record.args["text"]),
                    by=record.by or Role.NURSE,
                )
            )
        if count % 2000 == 0:
            recorder.final_flush()  # the daemon flushes every 0.25 s; here, in steps
    recorder.final_flush()
    recorder.close()
    if not close:
        with sqlite3.connect(path) as conn:
            conn.execute(
                "UPDATE sessions SET ended_at = NULL WHERE id = ?", (session_id,)
            )
        conn.close()
    return Built(path, session_id, header.started_at, text)
