"""Generate long captures from the simulators' device models (deterministic)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from roomctl.capture import CaptureHeader
from roomctl.devices.suntech_nibp.protocol import GetBpData, GetCuffPressure, StartBp
from roomctl.readings import ProtocolId
from simulators.masimo_ascii1 import MasimoAscii1Model
from simulators.nonin_df2 import NoninDf2Model
from simulators.scenarios import TYPICAL, Scenario
from simulators.suntech_nibp import SuntechModel

if TYPE_CHECKING:
    from pathlib import Path

    from simulators.model import DeviceModel

START = StartBp().encode()
POLL = GetCuffPressure().encode()
FETCH = GetBpData().encode()

#: Chunk length: the daemon's reads land about every 20-100 ms; 0.1 s is typical.
CHUNK_S = 0.1
NIBP_CYCLE_S = 300.0
POLL_S = 0.2


def _nibp_records(
    model: SuntechModel, duration_s: float
) -> list[tuple[float, str, str]]:
    """Drive the NIBP model as the driver would: start, poll, fetch the result."""
    records: list[tuple[float, str, str]] = []
    t = 5.0
    while t < duration_s:
        start = t
        model.receive(START, t)
        records.append((t, "tx", START.hex()))
        done = False
        while not done and t < start + 120:
            t += POLL_S
            out = model.emit(t)
            if out:
                records.append((t, "rx", out.hex()))
                done = b">\x04K" in out
            if not done:
                model.receive(POLL, t)
                records.append((t, "tx", POLL.hex()))
        model.receive(FETCH, t)
        records.append((t, "tx", FETCH.hex()))
        t += POLL_S
        records.append((t, "rx", model.emit(t).hex()))
        t = start + NIBP_CYCLE_S
    return records


def generate(
    path: Path,
    *,
    duration_s: float,
    oximeter: ProtocolId = ProtocolId.NONIN_DF2,
    scenario: Scenario = TYPICAL,
    seed: int = 1,
) -> int:
    """Write a capture of ``duration_s`` seconds; return the number of records."""
    header = CaptureHeader(
        room="bench",
        started_at=datetime(2026, 11, 21, 9, tzinfo=UTC),
        devices={"oximeter": oximeter, "nibp": ProtocolId.SUNTECH_ADVANTAGE},
    )
    ox: DeviceModel = (
        NoninDf2Model(scenario, seed)
        if oximeter is ProtocolId.NONIN_DF2
        else MasimoAscii1Model(scenario, seed)
    )
    nibp = _nibp_records(SuntechModel(scenario, seed), duration_s)
    count = 0
    with path.open("w") as f:
        f.write(json.dumps(header.to_json()) + "\n")
        nibp_index = 0
        steps = int(duration_s / CHUNK_S)
        for step in range(1, steps + 1):
            t = step * CHUNK_S
            while nibp_index < len(nibp) and nibp[nibp_index][0] <= t:
                nt, kind, data = nibp[nibp_index]
                f.write(f'{{"t":{nt:.3f},"dev":"nibp","{kind}":"{data}"}}\n')
                nibp_index += 1
                count += 1
            data_ox = ox.emit(t)
            if data_ox:
                f.write(f'{{"t":{t:.3f},"dev":"oximeter","rx":"{data_ox.hex()}"}}\n')
                count += 1
    return count
