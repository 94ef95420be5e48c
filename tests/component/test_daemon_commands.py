"""The daemon's command path with the real alarm engine, bus, record and capture."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from roomctl.app import Daemon
from roomctl.events import (
    Command,
    CommandHandled,
    CommandVerb,
    NoteAdded,
    PhaseChanged,
    Role,
)
from roomctl.settings import parse_settings

if TYPE_CHECKING:
    from pathlib import Path

    from roomctl.clock import VirtualClock


def make_daemon(tmp_path: Path, clock: VirtualClock) -> Daemon:
    settings = parse_settings(
        f'[room]\nname = "r1"\n[record]\npath = "{tmp_path / "rec.sqlite"}"\n'
    )
    return Daemon(settings, clock=clock)


def command(
    clock: VirtualClock, verb: CommandVerb, by: Role | None = None, **args: object
) -> Command:
    return Command(
        occurred_mono=clock.monotonic(),
        occurred_at=clock.now_utc(),
        verb=verb,
        args=args,
        by=by,
        source="test",
        command_id=f"c-{verb}",
    )


def test_daemon_moves_phases_and_refuses_invalid_moves(
    tmp_path: Path, clock: VirtualClock
) -> None:
    daemon = make_daemon(tmp_path, clock)
    seen = daemon.bus.open(name="test")
    clock.advance(60)
    done = daemon.handle_command(
        command(clock, CommandVerb.PHASE, Role.THERAPIST, phase="dosing")
    )
    assert done.ok, done.error
    refused = daemon.handle_command(
        command(clock, CommandVerb.PHASE, Role.THERAPIST, phase="preparation")
    )
    assert not refused.ok
    assert refused.error  # a reason in words
    events = []
    while (e := seen.get_nowait()) is not None:
        events.append(e)
    phases = [e for e in events if isinstance(e, PhaseChanged)]
    assert [(p.phase.value, p.by) for p in phases] == [("dosing", Role.THERAPIST)]
    outcomes = [e for e in events if isinstance(e, CommandHandled)]
    assert [o.ok for o in outcomes] == [True, False]
    assert daemon.engine.snapshot(clock.monotonic()).phase.value == "dosing"
    daemon.close()


def test_daemon_notes_and_capture_of_every_input(
    tmp_path: Path, clock: VirtualClock
) -> None:
    daemon = make_daemon(tmp_path, clock)
    seen = daemon.bus.open(NoteAdded, name="test")
    assert daemon.handle_command(
        command(clock, CommandVerb.NOTE, Role.NURSE, text="calm")
    ).ok
    nibp = daemon.handle_command(command(clock, CommandVerb.NIBP_START, Role.NURSE))
    assert not nibp.ok
    assert "cannot be started remotely" in nibp.error
    note = seen.get_nowait()
    assert isinstance(note, NoteAdded)
    assert (note.text, note.by) == ("calm", Role.NURSE)
    assert daemon.capture is not None
    daemon.close()
    lines = [json.loads(x) for x in daemon.capture.path.read_text().splitlines()[1:]]
    assert [(x["op"], x.get("by")) for x in lines] == [
        ("note", "nurse"),
        ("nibp_start", "nurse"),
    ]
    assert lines[0]["text"] == "calm"
