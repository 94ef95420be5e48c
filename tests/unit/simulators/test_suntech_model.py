"""The SunTech Advantage device model: replies, timeline, results, determinism."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from roomctl.devices.suntech_nibp.protocol import (
    AbortBp,
    AckCode,
    BpData,
    ControlPneumatics,
    CuffPressure,
    GetBpData,
    GetCuffPressure,
    GetModuleStatus,
    GetReturnString,
    HostCommand,
    PatientMode,
    Reset,
    ReturnString,
    SetInitialInflate,
    StartBp,
    SuntechAck,
    SuntechDecoder,
    SuntechResponse,
    UnknownCommand,
)
from simulators.scenarios import Keyframe, NibpError, NibpResult, Scenario
from simulators.suntech_nibp import (
    ACK_DELAY_S,
    DEFLATE_STEP_MMHG,
    OVERSHOOT_MMHG,
    VERSION_TEXT,
    SuntechModel,
)

if TYPE_CHECKING:
    from simulators.model import DeviceModel

INFLATE_S = 30.0

STEADY = Scenario(
    name="steady",
    description="130/85, HR 70 throughout",
    duration_s=3600,
    keyframes=(
        Keyframe(t_s=0, systolic_mmhg=130, diastolic_mmhg=85, pulse_rate_bpm=70),
    ),
    nibp_inflate_s=INFLATE_S,
)


def ack(code: AckCode) -> SuntechAck:
    return SuntechAck(code=code)


class Host:
    """Drives a model like a host: sends commands, decodes what comes back."""

    def __init__(self, model: SuntechModel) -> None:
        self.model = model
        self.decoder = SuntechDecoder()

    def send(self, t_s: float, *commands: HostCommand) -> None:
        self.model.receive(b"".join(c.encode() for c in commands), t_s)

    def replies(self, until_s: float) -> list[SuntechResponse]:
        return self.decoder.feed(self.model.emit(until_s))

    def ask(self, t_s: float, command: HostCommand) -> SuntechResponse:
        self.send(t_s, command)
        [reply] = self.replies(t_s + 0.2)
        return reply

    def bp_data(self, t_s: float) -> BpData:
        reply = self.ask(t_s, GetBpData())
        assert isinstance(reply, BpData)
        return reply

    def measure(self, t_s: float) -> BpData:
        """Run one whole determination from ``t_s``; return its result."""
        assert self.ask(t_s, StartBp()) == ack(AckCode.RECEIVED)
        end_s = t_s + INFLATE_S
        assert self.replies(end_s) == [ack(AckCode.COMPLETE)]
        return self.bp_data(end_s + 0.1)


def test_model_satisfies_the_device_model_port() -> None:
    model: DeviceModel = SuntechModel(STEADY)
    assert model.emit(1.0) == b""


def test_start_is_acknowledged_after_a_short_delay() -> None:
    host = Host(SuntechModel(STEADY))
    host.send(10.0, StartBp())
    assert host.replies(10.0 + ACK_DELAY_S / 2) == []
    assert host.replies(10.0 + ACK_DELAY_S) == [ack(AckCode.RECEIVED)]
    assert host.model.measuring


def test_full_determination_gives_the_scenario_values() -> None:
    host = Host(SuntechModel(STEADY, seed=3))
    result = host.measure(10.0)
    assert abs(result.systolic_mmhg - 130) <= 10
    assert abs(result.diastolic_mmhg - 85) <= 10
    assert abs(result.heart_rate_bpm - 70) <= 6
    expected_map = round(
        result.diastolic_mmhg + (result.systolic_mmhg - result.diastolic_mmhg) / 3
    )
    assert result.map_mmhg == expected_map
    assert result.error_code == 0
    assert result.beats > 0
    assert not host.model.measuring
    assert host.model.completed == 1


@pytest.mark.parametrize("mode", list(PatientMode))
def test_every_patient_mode_starts_a_determination(mode: PatientMode) -> None:
    host = Host(SuntechModel(STEADY))
    assert host.ask(0.0, StartBp(mode=mode)) == ack(AckCode.RECEIVED)


def test_cuff_inflates_above_systolic_then_deflates_stepwise() -> None:
    host = Host(SuntechModel(STEADY))
    assert host.ask(0.0, GetCuffPressure()) == CuffPressure(mmhg=None)
    host.ask(1.0, StartBp())
    pressures: list[int] = []
    t_s = 1.0
    while t_s < 1.0 + INFLATE_S - 0.5:
        reply = host.ask(t_s, GetCuffPressure())
        assert isinstance(reply, CuffPressure)
        assert reply.mmhg is not None
        pressures.append(reply.mmhg)
        t_s += 0.5
    peak = max(pressures)
    assert peak == pytest.approx(130 + OVERSHOOT_MMHG, abs=DEFLATE_STEP_MMHG)
    top = pressures.index(peak)
    # Up in the first third, then down in whole steps, never below diastolic - 20.
    assert pressures[:top] == sorted(pressures[:top])
    assert top * 0.5 <= INFLATE_S / 3 + 0.5
    falling = pressures[top:]
    assert falling == sorted(falling, reverse=True)
    assert {(peak - p) % DEFLATE_STEP_MMHG for p in falling[:-1]} == {0}
    assert min(falling) >= 85 - 20
    # After the end the module is idle: not available.
    host.replies(1.0 + INFLATE_S)
    assert host.ask(1.0 + INFLATE_S + 1, GetCuffPressure()) == CuffPressure(mmhg=None)


def test_start_while_measuring_is_busy() -> None:
    host = Host(SuntechModel(STEADY))
    host.send(0.0, StartBp())
    host.send(5.0, StartBp())
    assert host.replies(6.0) == [ack(AckCode.RECEIVED), ack(AckCode.BUSY)]
    assert host.replies(INFLATE_S) == [ack(AckCode.COMPLETE)]
    assert host.model.completed == 1


def test_abort_stops_the_determination_without_a_result() -> None:
    host = Host(SuntechModel(STEADY))
    host.ask(0.0, StartBp())
    assert host.ask(5.0, AbortBp()) == ack(AckCode.ABORTED)
    assert not host.model.measuring
    assert host.ask(6.0, GetCuffPressure()) == CuffPressure(mmhg=None)
    assert host.replies(INFLATE_S + 1) == []  # no K
    result = host.bp_data(INFLATE_S + 2)
    assert (result.systolic_mmhg, result.diastolic_mmhg) == (0, 0)
    assert result.error_code == 86
    assert host.model.completed == 0


def test_abort_while_idle_is_acknowledged() -> None:
    host = Host(SuntechModel(STEADY))
    assert host.ask(0.0, AbortBp()) == ack(AckCode.ABORTED)
    assert host.bp_data(1.0).error_code == 0


def test_bp_data_before_any_determination_is_empty() -> None:
    result = Host(SuntechModel(STEADY)).bp_data(0.0)
    assert (result.systolic_mmhg, result.diastolic_mmhg, result.error_code) == (0, 0, 0)


def test_a_new_start_clears_the_old_result() -> None:
    host = Host(SuntechModel(STEADY))
    assert host.measure(0.0).systolic_mmhg > 0
    host.ask(100.0, StartBp())
    assert host.bp_data(101.0).systolic_mmhg == 0


def test_return_string_names_an_advantage() -> None:
    reply = Host(SuntechModel(STEADY)).ask(0.0, GetReturnString())
    assert reply == ReturnString(text=VERSION_TEXT)
    assert VERSION_TEXT.startswith("LX")


def test_unknown_command_is_answered_n() -> None:
    host = Host(SuntechModel(STEADY))
    unknown = UnknownCommand(data=bytes.fromhex("79 11 00"))
    assert host.ask(0.0, unknown) == ack(AckCode.UNDEFINED_COMMAND)


@pytest.mark.parametrize(
    "garbage",
    [
        b"\x00\x01\x02",
        b"\x3a\x55\x71",  # unknown command byte: cannot be framed
        b"\x3a\x20\xa7",  # start BP with a bad checksum
    ],
)
def test_undecodable_bytes_are_answered_n(garbage: bytes) -> None:
    host = Host(SuntechModel(STEADY))
    host.model.receive(garbage + GetBpData().encode(), 0.0)
    replies = host.replies(1.0)
    assert replies[0] == ack(AckCode.UNDEFINED_COMMAND)
    assert isinstance(replies[1], BpData)
    assert len(replies) == 2


def test_configuration_commands_are_acknowledged() -> None:
    host = Host(SuntechModel(STEADY))
    assert host.ask(0.0, SetInitialInflate(pressure_mmhg=160)) == ack(AckCode.RECEIVED)
    assert host.model.initial_inflate_mmhg == 160
    assert host.ask(1.0, GetModuleStatus()) == ack(AckCode.RECEIVED)
    pneumatics = ControlPneumatics(pump=0, valve=1, dump=1)
    assert host.ask(2.0, pneumatics) == ack(AckCode.RECEIVED)


def test_reset_stops_a_determination_silently() -> None:
    host = Host(SuntechModel(STEADY))
    host.ask(0.0, StartBp())
    assert host.ask(5.0, Reset()) == ack(AckCode.RECEIVED)
    assert not host.model.measuring
    assert host.replies(INFLATE_S + 1) == []
    assert host.bp_data(INFLATE_S + 2).systolic_mmhg == 0


def test_replies_leave_in_order_even_when_k_is_due_first() -> None:
    host = Host(SuntechModel(STEADY))
    host.ask(0.0, StartBp())
    # The host polls after the end without having read anything: K comes first.
    host.send(INFLATE_S + 5, GetCuffPressure())
    assert host.replies(INFLATE_S + 6) == [
        ack(AckCode.COMPLETE),
        CuffPressure(mmhg=None),
    ]


def test_zero_length_determination_reports_an_empty_cuff() -> None:
    scenario = Scenario(
        name="instant",
        description="",
        duration_s=10,
        keyframes=STEADY.keyframes,
        nibp_inflate_s=0.0,
    )
    host = Host(SuntechModel(scenario))
    host.send(1.0, StartBp(), GetCuffPressure())
    assert host.replies(2.0) == [
        ack(AckCode.RECEIVED),
        CuffPressure(mmhg=0),
        ack(AckCode.COMPLETE),
    ]


def test_scripted_readings_take_precedence_each_used_once() -> None:
    scenario = Scenario(
        name="scripted",
        description="",
        duration_s=3600,
        keyframes=STEADY.keyframes,
        nibp_inflate_s=INFLATE_S,
        # Listed out of order on purpose: the model takes them by time.
        nibp_readings=(
            NibpResult(t_s=500, systolic_mmhg=90, diastolic_mmhg=60),
            NibpResult(
                t_s=0,
                systolic_mmhg=150,
                diastolic_mmhg=95,
                map_mmhg=110,
                pulse_rate_bpm=88,
            ),
            NibpResult(t_s=0, systolic_mmhg=170, diastolic_mmhg=100, error_code=2),
        ),
        # An error span over everything: scripted entries still win.
        nibp_errors=(NibpError(start_s=0, end_s=3600, code=87),),
    )
    host = Host(SuntechModel(scenario))
    first = host.measure(0.0)
    assert (first.systolic_mmhg, first.diastolic_mmhg) == (150, 95)
    assert (first.map_mmhg, first.heart_rate_bpm, first.error_code) == (110, 88, 0)
    second = host.measure(100.0)
    # A scripted error flag keeps its numbers on the wire.
    assert (second.systolic_mmhg, second.diastolic_mmhg) == (170, 100)
    assert second.error_code == 2
    assert second.map_mmhg == round(100 + 70 / 3)
    assert second.heart_rate_bpm == 70
    # The 500 s entry is not due yet: the error span applies.
    third = host.measure(200.0)
    assert (third.systolic_mmhg, third.error_code) == (0, 87)
    fourth = host.measure(480.0)  # completes at 510 s
    assert (fourth.systolic_mmhg, fourth.diastolic_mmhg) == (90, 60)
    assert host.measure(600.0).error_code == 87


def test_error_span_gives_the_code_and_zeros() -> None:
    scenario = Scenario(
        name="leak",
        description="",
        duration_s=3600,
        keyframes=STEADY.keyframes,
        nibp_inflate_s=INFLATE_S,
        nibp_errors=(NibpError(start_s=20, end_s=40, code=87),),
    )
    host = Host(SuntechModel(scenario))
    failed = host.measure(0.0)  # completes at 30 s, inside the span
    assert (failed.systolic_mmhg, failed.diastolic_mmhg, failed.map_mmhg) == (0, 0, 0)
    assert failed.error_code == 87
    assert host.measure(100.0).error_code == 0


def _script(model: SuntechModel, emit_step_s: float) -> bytes:
    """A fixed sequence of receive() calls, with emit() called every emit_step_s."""
    sends: list[tuple[float, HostCommand]] = [
        (0.0, StartBp()),
        (5.0, StartBp()),
        (31.0, GetBpData()),
        (40.0, StartBp()),
        (50.0, AbortBp()),
        (60.0, StartBp()),
        (95.0, GetBpData()),
        (96.0, GetReturnString()),
    ]
    out = bytearray()
    t_s = 0.0
    for at_s, command in sends:
        while t_s + emit_step_s <= at_s:
            t_s += emit_step_s
            out += model.emit(t_s)
        model.receive(command.encode(), at_s)
    out += model.emit(200.0)
    return bytes(out)


def test_model_is_deterministic_whatever_the_emit_times() -> None:
    coarse = _script(SuntechModel(STEADY, seed=7), emit_step_s=10.0)
    fine = _script(SuntechModel(STEADY, seed=7), emit_step_s=0.25)
    assert coarse == fine
    assert _script(SuntechModel(STEADY, seed=7), emit_step_s=1.0) == coarse


def test_seed_changes_the_noise() -> None:
    results = {
        _script(SuntechModel(STEADY, seed=seed), emit_step_s=1.0) for seed in range(5)
    }
    assert len(results) > 1
