"""MqttLightController with a fake publish, a virtual clock and an injected sleep."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pytest

from roomctl.backoff import Backoff
from roomctl.events import AlarmPriority, Phase, TechnicalNotice
from roomctl.lighting import (
    LightController,
    MqttLightController,
    MqttMessage,
    Zigbee2MqttAdapter,
)
from roomctl.scenes import DEFAULT_SCENE_TABLE, LightingSettings, LightScene

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from roomctl.clock import VirtualClock

LIGHT = "room-1"
SET_TOPIC = f"zigbee2mqtt/{LIGHT}/set"
STATE_TOPIC = f"zigbee2mqtt/{LIGHT}"

DIM = LightScene.warm("dim", brightness=0.1, kelvin=2200, transition_s=2)
BRIGHT = LightScene.warm("bright", brightness=0.4, kelvin=2700, transition_s=2)
RAMP = LightScene.warm("return", brightness=0.3, kelvin=2700, transition_s=60)


@dataclass
class Recorder:
    """A fake MQTT publish: records, or fails while ``failing`` is set."""

    sent: list[tuple[str, dict[str, object], int, bool]] = field(default_factory=list)
    failing: Exception | None = None
    hang: bool = False

    async def publish(self, topic: str, payload: bytes, qos: int, retain: bool) -> None:
        if self.hang:
            await asyncio.Event().wait()
        if self.failing is not None:
            raise self.failing
        self.sent.append((topic, json.loads(payload), qos, retain))

    def payloads(self, topic: str = SET_TOPIC) -> list[dict[str, object]]:
        return [p for t, p, _, _ in self.sent if t == topic]

    def numbers(self, name: str) -> list[int]:
        """One numeric field of every ``/set`` payload, in order."""
        values = [p[name] for p in self.payloads()]
        assert all(isinstance(v, int) for v in values), values
        return [v for v in values if isinstance(v, int)]


@dataclass
class FakeSleep:
    """Advances the virtual clock instead of waiting; can block to freeze a ramp."""

    clock: VirtualClock
    sleeps: list[float] = field(default_factory=list)
    block_after: int | None = None

    async def __call__(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.clock.advance(seconds)
        if self.block_after is not None and len(self.sleeps) >= self.block_after:
            await asyncio.Event().wait()
        await asyncio.sleep(0)


@dataclass
class Rig:
    controller: MqttLightController
    publisher: Recorder
    sleep: FakeSleep
    notices: list[TechnicalNotice]

    def texts(self) -> list[str]:
        return [n.text for n in self.notices]


def make_rig(
    clock: VirtualClock,
    *,
    lights: tuple[str, ...] = (LIGHT,),
    confirm_timeout_s: float = 0.0,
    ramp_step_s: float = 5.0,
    publish_timeout_s: float = 5.0,
    **kwargs: object,
) -> Rig:
    publisher = Recorder()
    sleep = FakeSleep(clock)
    notices: list[TechnicalNotice] = []
    settings = LightingSettings(
        lights=list(lights),
        confirm_timeout_s=confirm_timeout_s,
        ramp_step_s=ramp_step_s,
        publish_timeout_s=publish_timeout_s,
    )
    controller = MqttLightController(
        settings=settings,
        publish=publisher.publish,
        on_notice=notices.append,
        clock=clock,
        sleep=sleep,
        backoff=Backoff(base_s=1.0, cap_s=4.0, rng=random.Random(3)),
        **kwargs,  # type: ignore[arg-type]
    )
    return Rig(controller, publisher, sleep, notices)


@contextlib.asynccontextmanager
async def running(controller: MqttLightController) -> AsyncIterator[None]:
    async with asyncio.TaskGroup() as tg:
        task = tg.create_task(controller.run(), name="test.lighting")
        try:
            yield
        finally:
            task.cancel()


async def test_controller_satisfies_the_port(clock: VirtualClock) -> None:
    controller: LightController = make_rig(clock).controller
    await controller.apply(DIM)


async def test_short_scene_is_one_native_fade(clock: VirtualClock) -> None:
    rig = make_rig(clock, lights=("room-1", "room-2"))
    async with running(rig.controller):
        await rig.controller.apply(DIM)
        await rig.controller.wait_idle()
    assert [t for t, *_ in rig.publisher.sent] == [
        "zigbee2mqtt/room-1/set",
        "zigbee2mqtt/room-2/set",
    ]
    _, payload, qos, retain = rig.publisher.sent[0]
    assert payload == {
        "state": "ON",
        "brightness": 25,
        "color_temp": 455,
        "transition": 2,
    }
    assert (qos, retain) == (1, False)
    status = rig.controller.status
    assert status.scene == "dim"
    assert status.level_percent == 10
    assert status.kelvin == 2198
    assert status.ramping is False
    assert status.ok
    assert rig.sleep.sleeps == []


async def test_reapplying_the_same_scene_sends_nothing(clock: VirtualClock) -> None:
    rig = make_rig(clock)
    async with running(rig.controller):
        await rig.controller.apply(DIM)
        await rig.controller.wait_idle()
        await rig.controller.apply(DIM)
        await rig.controller.wait_idle()
        # A differently named scene that looks the same is not re-sent either.
        await rig.controller.apply(DIM.with_transition(9))
        await rig.controller.wait_idle()
    assert len(rig.publisher.payloads()) == 1


async def test_long_ramp_runs_in_native_steps(clock: VirtualClock) -> None:
    rig = make_rig(clock)
    async with running(rig.controller):
        await rig.controller.apply(DIM)
        await rig.controller.wait_idle()
        await rig.controller.apply(RAMP)
        await rig.controller.wait_idle()
    steps = rig.publisher.payloads()[1:]
    assert len(steps) == 12
    assert all(p["transition"] == 5 for p in steps)
    levels = rig.publisher.numbers("brightness")[1:]
    assert levels == sorted(levels)
    assert levels[0] > 25
    assert levels[-1] == 76
    temps = rig.publisher.numbers("color_temp")[1:]
    assert temps == sorted(temps, reverse=True)
    assert temps[-1] == 370
    assert rig.sleep.sleeps == pytest.approx([5.0] * 11)
    assert clock.monotonic() == pytest.approx(55.0)
    assert rig.controller.status.level_percent == 30


async def test_ramp_steps_never_exceed_the_adapters_native_limit(
    clock: VirtualClock,
) -> None:
    class Slow(Zigbee2MqttAdapter):
        @property
        def max_transition_s(self) -> float:
            return 2.0

    rig = make_rig(clock, adapter=Slow(), ramp_step_s=10)
    async with running(rig.controller):
        await rig.controller.apply(DIM)
        await rig.controller.wait_idle()
        await rig.controller.apply(RAMP)
        await rig.controller.wait_idle()
    assert len(rig.publisher.payloads()) == 1 + 30
    assert {p["transition"] for p in rig.publisher.payloads()[1:]} == {2}


async def test_a_new_scene_interrupts_a_ramp_at_once(clock: VirtualClock) -> None:
    rig = make_rig(clock)
    async with running(rig.controller):
        await rig.controller.apply(DIM)
        await rig.controller.wait_idle()
        rig.sleep.block_after = 3  # the ramp freezes after its third step
        await rig.controller.apply(RAMP)
        for _ in range(50):
            await asyncio.sleep(0)
        assert len(rig.publisher.payloads()) == 4
        assert rig.controller.status.ramping
        alarm = DEFAULT_SCENE_TABLE.alarm_scenes[AlarmPriority.HIGH]
        await rig.controller.apply(alarm)
        for _ in range(10):
            await asyncio.sleep(0)
        last = rig.publisher.payloads()[-1]
        assert last == {
            "state": "ON",
            "brightness": 152,
            "color_temp": 286,
            "transition": 2,
        }
        assert rig.controller.status.scene == "alarm"
        assert rig.controller.status.ramping is False


async def test_a_restarted_controller_resumes_its_ramp(clock: VirtualClock) -> None:
    rig = make_rig(clock)
    async with running(rig.controller):
        await rig.controller.apply(DIM)
        await rig.controller.wait_idle()
        rig.sleep.block_after = 2
        await rig.controller.apply(RAMP)
        for _ in range(50):
            await asyncio.sleep(0)
    stopped_at = len(rig.publisher.payloads())
    assert stopped_at == 3
    rig.sleep.block_after = None
    async with running(rig.controller):
        await rig.controller.wait_idle()
    assert rig.publisher.numbers("brightness")[-1] == 76
    assert len(rig.publisher.payloads()) > stopped_at


async def test_a_restarted_controller_that_reached_its_scene_sends_nothing(
    clock: VirtualClock,
) -> None:
    rig = make_rig(clock)
    async with running(rig.controller):
        await rig.controller.apply(DIM)
        await rig.controller.wait_idle()
    async with running(rig.controller):
        await rig.controller.wait_idle()
    assert len(rig.publisher.payloads()) == 1


async def test_reassert_sends_the_desired_state_again(clock: VirtualClock) -> None:
    rig = make_rig(clock)
    async with running(rig.controller):
        await rig.controller.reassert()  # nothing desired yet: nothing to send
        await rig.controller.wait_idle()
        assert rig.publisher.sent == []
        await rig.controller.apply(BRIGHT)
        await rig.controller.wait_idle()
        clock.advance(100)
        await rig.controller.reassert()
        await rig.controller.wait_idle()
    first, again = rig.publisher.payloads()
    assert again["brightness"] == first["brightness"] == 102
    assert again["transition"] == 0  # the fade is long over: restore at once


async def test_reassert_mid_ramp_continues_the_ramp(clock: VirtualClock) -> None:
    rig = make_rig(clock)
    async with running(rig.controller):
        await rig.controller.apply(DIM)
        await rig.controller.wait_idle()
        rig.sleep.block_after = 2
        await rig.controller.apply(RAMP)
        for _ in range(50):
            await asyncio.sleep(0)
        sent_before = len(rig.publisher.payloads())
        rig.sleep.block_after = None
        await rig.controller.reassert()
        await rig.controller.wait_idle()
    steps = rig.publisher.payloads()[sent_before:]
    assert steps
    assert steps[-1]["brightness"] == 76
    assert clock.monotonic() == pytest.approx(55.0, abs=5.1)


async def test_publish_failure_is_a_notice_and_is_retried(
    clock: VirtualClock,
) -> None:
    rig = make_rig(clock)
    rig.publisher.failing = ConnectionError("broker gone")
    async with running(rig.controller):
        await rig.controller.apply(DIM)
        for _ in range(30):
            await asyncio.sleep(0)
        failing = rig.controller.status
        assert not failing.ok
        assert "broker gone" in failing.problem
        rig.publisher.failing = None
        await rig.controller.wait_idle()
    assert rig.texts()[0].startswith("lights unreachable: publishing to")
    assert rig.texts().count(rig.texts()[0]) == 1, "one notice per outage"
    assert rig.texts()[-1] == "lights reachable again"
    assert all(n.component == "lighting" for n in rig.notices)
    assert rig.publisher.payloads()[-1]["brightness"] == 25
    assert rig.controller.status.ok
    assert all(0 <= s <= 4.0 for s in rig.sleep.sleeps)


async def test_a_hanging_publish_times_out_into_a_notice(clock: VirtualClock) -> None:
    rig = make_rig(clock, publish_timeout_s=0.05)
    rig.publisher.hang = True
    async with running(rig.controller):
        await rig.controller.apply(DIM)
        for _ in range(100):
            await asyncio.sleep(0.005)
            if rig.notices:
                break
    assert "took over 0.05 s" in rig.texts()[0]


async def test_an_unrenderable_scene_falls_back_to_the_safe_scene(
    clock: VirtualClock,
) -> None:
    class Picky(Zigbee2MqttAdapter):
        def command(self, light: str, scene: LightScene) -> list[MqttMessage]:
            if scene.name == "disco":
                raise ValueError("no disco here")
            return super().command(light, scene)

    rig = make_rig(clock, adapter=Picky())
    async with running(rig.controller):
        await rig.controller.apply(LightScene(name="disco", brightness=0.3))
        await rig.controller.wait_idle()
    [payload] = rig.publisher.payloads()
    assert payload["brightness"] == 51  # the safe scene: 0.2
    assert payload["color_temp"] == 455
    assert rig.controller.status.scene == "safe"
    assert "no disco here" in rig.controller.status.problem
    assert "safe scene" in rig.texts()[0]


async def test_when_even_the_safe_scene_fails_it_says_so_and_keeps_running(
    clock: VirtualClock,
) -> None:
    class Broken(Zigbee2MqttAdapter):
        def command(self, light: str, scene: LightScene) -> list[MqttMessage]:
            raise RuntimeError(f"bug rendering {scene.name} for {light}")

    rig = make_rig(clock, adapter=Broken())
    async with running(rig.controller):
        await rig.controller.apply(DIM)
        await rig.controller.wait_idle()
        await rig.controller.apply(BRIGHT)  # still running, still not raising
        await rig.controller.wait_idle()
    assert rig.publisher.sent == []
    assert any("cannot show even the safe scene" in t for t in rig.texts())
    assert "internal error" in rig.texts()[0]


async def test_fail_safe_shows_the_safe_scene(clock: VirtualClock) -> None:
    rig = make_rig(clock)
    async with running(rig.controller):
        rig.controller.fail_safe("the scene director crashed")
        await rig.controller.wait_idle()
    assert rig.controller.status.scene == "safe"
    assert rig.texts() == ["lights set to the safe scene: the scene director crashed"]


async def test_show_chooses_from_the_settings_table(clock: VirtualClock) -> None:
    rig = make_rig(clock)
    async with running(rig.controller):
        peak = await rig.controller.show(Phase.PEAK)
        alarm = await rig.controller.show(Phase.PEAK, alarm_priority=AlarmPriority.HIGH)
        await rig.controller.wait_idle()
    assert peak.name == "peak"
    assert alarm.name == "alarm"
    assert rig.controller.desired == alarm


async def test_no_lights_is_a_status_not_an_error(clock: VirtualClock) -> None:
    rig = make_rig(clock, lights=())
    async with running(rig.controller):
        await rig.controller.apply(DIM)
        await rig.controller.wait_idle()
    assert rig.publisher.sent == []
    assert rig.controller.status.problem == "no lights configured"
    assert rig.controller.subscriptions == ("zigbee2mqtt/bridge/state",)


async def test_first_ramp_starts_from_the_reported_state(clock: VirtualClock) -> None:
    rig = make_rig(clock)
    # Zigbee2MQTT's retained state arrives on subscribe, before any command.
    rig.controller.handle_message(
        STATE_TOPIC, b'{"state":"ON","brightness":25,"color_temp":455}'
    )
    async with running(rig.controller):
        await rig.controller.apply(RAMP)
        await rig.controller.wait_idle()
    levels = rig.publisher.numbers("brightness")
    assert len(levels) == 12
    assert 25 < levels[0] < 40
    assert rig.controller.status.reported == {LIGHT: pytest.approx(25 / 254)}


async def test_first_ramp_from_a_reported_off_light_rises_from_zero(
    clock: VirtualClock,
) -> None:
    rig = make_rig(clock)
    rig.controller.handle_message(STATE_TOPIC, b'{"state":"OFF","brightness":200}')
    async with running(rig.controller):
        await rig.controller.apply(RAMP)
        await rig.controller.wait_idle()
    levels = rig.publisher.numbers("brightness")
    assert levels[0] < 10
    assert rig.controller.status.reported == {LIGHT: 0.0}


async def test_a_report_without_brightness_is_no_ramp_start(
    clock: VirtualClock,
) -> None:
    rig = make_rig(clock)
    rig.controller.handle_message(STATE_TOPIC, b'{"state":"ON"}')
    async with running(rig.controller):
        await rig.controller.apply(RAMP)
        await rig.controller.wait_idle()
    assert len(rig.publisher.payloads()) == 1


async def test_a_publish_that_swallows_cancellation_cannot_hold_up_a_new_scene(
    clock: VirtualClock,
) -> None:
    """Python 3.11's asyncio.wait_for (inside aiomqtt) can eat a cancellation."""
    rig = make_rig(clock)
    release = asyncio.Event()
    entered = asyncio.Event()

    async def swallowing(topic: str, payload: bytes, qos: int, retain: bool) -> None:
        if len(rig.publisher.sent) == 1:  # the ramp's first step
            entered.set()
            # Like wait_for when the publish completes as the cancel lands.
            with contextlib.suppress(asyncio.CancelledError):
                await release.wait()
        await rig.publisher.publish(topic, payload, qos, retain)

    rig.controller._publish = swallowing
    async with running(rig.controller):
        await rig.controller.apply(DIM)
        await rig.controller.wait_idle()
        await rig.controller.apply(RAMP)
        await entered.wait()
        await rig.controller.apply(BRIGHT)
        for _ in range(20):
            await asyncio.sleep(0)
        release.set()
        await rig.controller.wait_idle()
    # dim, the swallowed first ramp step, then the new scene: no more ramp steps.
    assert len(rig.publisher.payloads()) == 3
    assert rig.publisher.numbers("brightness")[-1] == 102
    assert rig.controller.status.scene == "bright"


async def test_without_anything_known_the_first_fade_is_one_short_step(
    clock: VirtualClock,
) -> None:
    rig = make_rig(clock)
    async with running(rig.controller):
        await rig.controller.apply(RAMP)
        await rig.controller.wait_idle()
    [payload] = rig.publisher.payloads()
    assert payload["transition"] == 5
    assert payload["brightness"] == 76


def test_unanswered_lights_are_reported_once_and_recovery_too(
    clock: VirtualClock,
) -> None:
    rig = make_rig(clock, confirm_timeout_s=3)
    controller = rig.controller
    assert set(controller.subscriptions) == {
        STATE_TOPIC,
        f"{STATE_TOPIC}/availability",
        "zigbee2mqtt/bridge/state",
    }
    controller._expect_answer(LIGHT)
    clock.advance(2)
    controller.check_confirmations()
    assert rig.notices == []
    clock.advance(2)
    controller.check_confirmations()
    controller.check_confirmations()
    assert len(rig.notices) == 1
    assert "light room-1 did not answer within 3 s" in rig.texts()[0]
    assert "zigbee2mqtt bridge" in rig.texts()[0]
    assert "not answering: room-1" in controller.status.problem
    controller._expect_answer(LIGHT)
    clock.advance(5)
    controller.check_confirmations()
    assert len(rig.notices) == 1, "still unanswered: no second notice"
    controller.handle_message(STATE_TOPIC, b'{"state":"ON","brightness":10}')
    assert rig.texts()[-1] == "light room-1 answers again"
    assert controller.status.ok


def test_an_answer_in_time_raises_nothing(clock: VirtualClock) -> None:
    rig = make_rig(clock, confirm_timeout_s=3)
    rig.controller._expect_answer(LIGHT)
    rig.controller.handle_message(STATE_TOPIC, b"not even json")
    clock.advance(10)
    rig.controller.check_confirmations(clock.monotonic())
    assert rig.notices == []
    rig.controller.handle_message("some/other/topic", b"x")


async def test_availability_changes_are_notices_and_coming_back_reasserts(
    clock: VirtualClock,
) -> None:
    rig = make_rig(clock)
    async with running(rig.controller):
        await rig.controller.apply(DIM)
        await rig.controller.wait_idle()
        rig.controller.handle_message(
            "zigbee2mqtt/bridge/state", b'{"state":"offline"}'
        )
        rig.controller.handle_message(
            "zigbee2mqtt/bridge/state", b'{"state":"offline"}'
        )
        rig.controller.handle_message(f"{STATE_TOPIC}/availability", b"offline")
        rig.controller.handle_message(f"{STATE_TOPIC}/availability", b"garbage")
        assert "offline: bridge, room-1" in rig.controller.status.problem
        rig.controller.handle_message("zigbee2mqtt/bridge/state", b'{"state":"online"}')
        await rig.controller.wait_idle()
    assert rig.texts() == [
        "bridge is offline",
        "room-1 is offline",
        "bridge is back online",
    ]
    assert len(rig.publisher.payloads()) == 2, "the desired scene was sent again"


def test_a_broken_notice_sink_does_not_stop_the_lights(clock: VirtualClock) -> None:
    def explode(notice: TechnicalNotice) -> None:
        raise RuntimeError(notice.text)

    controller = MqttLightController(
        settings=LightingSettings(lights=[LIGHT]),
        publish=Recorder().publish,
        on_notice=explode,
        clock=clock,
    )
    controller.fail_safe("testing")
    assert controller.desired == DEFAULT_SCENE_TABLE.safe


def test_status_as_dict(clock: VirtualClock) -> None:
    rig = make_rig(clock)
    rig.controller.handle_message(STATE_TOPIC, b'{"state":"ON","brightness":127}')
    assert rig.controller.status.as_dict() == {
        "scene": None,
        "level": 0,
        "target": 0,
        "kelvin": None,
        "ramping": False,
        "ok": True,
        "problem": "",
        "reported": {LIGHT: 50},
    }
