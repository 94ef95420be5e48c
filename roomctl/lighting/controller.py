"""``MqttLightController``: drives the room's lights through the daemon's MQTT client.

Adapter layer (auxiliary fault domain, style.md C4). The controller publishes through an
injected ``publish`` callable, so it owns no connection. It runs long fades (minutes)
as steps, each a short native fade (ecosystem.md §2.5: native limits differ; Tasmota
stops at 20 s); a new scene interrupts a ramp at once; ``reassert()`` sends the
desired state again after a reconnect; failures become ``TechnicalNotice``s, never
exceptions into the daemon (``LightingError`` stays inside). When lights report back
(Zigbee2MQTT state, Tasmota ``RESULT``, WLED ``/g``), a light that stays silent after
a command is reported too (wrong name, bridge down).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from roomctl.backoff import Backoff
from roomctl.clock import Clock, SystemClock
from roomctl.errors import LightingError
from roomctl.events import TechnicalNotice
from roomctl.lighting.adapters import (
    FeedbackKind,
    LightAdapter,
    LightCommandError,
    MqttMessage,
    ReportedState,
    make_adapter,
)
from roomctl.scenes import (
    LightingSettings,
    LightScene,
    SceneTable,
    choose_scene,
    plan_ramp,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

    from roomctl.events import AlarmPriority, Phase

_LOGGER = logging.getLogger(__name__)

#: The daemon's MQTT publish: ``await publish(topic, payload, qos, retain)``.
Publish = Callable[[str, bytes, int, bool], Awaitable[None]]
#: Where technical notices go (the bus's ``publish``).
NoticeSink = Callable[[TechnicalNotice], None]
#: ``asyncio.sleep`` or a test's fake.
Sleep = Callable[[float], Awaitable[None]]

#: ``TechnicalNotice.component`` for everything this module reports.
COMPONENT = "lighting"
#: How often a ramp that ignored a cancellation is cancelled again (see
#: ``_raise_if_cancelling``).
STOP_RETRY_S = 0.1


class LightController(Protocol):
    """What the scene director drives (style.md §2.6)."""

    async def apply(self, scene: LightScene) -> None:
        """Make the lights show ``scene``; re-applying the current scene is harmless."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class LightingStatus:
    """What the console shows about the lights."""

    #: The scene being shown or ramped to (``None`` before the first).
    scene: str | None
    #: The level last sent, 0.0-1.0.
    level: float
    #: The level of the scene being ramped to, 0.0-1.0.
    target_level: float
    #: Colour temperature last sent, in kelvin.
    kelvin: int | None
    #: Whether a long fade is running.
    ramping: bool
    #: Empty when all is well; otherwise what is wrong, in words.
    problem: str
    #: Levels the lights report (0.0-1.0), by light, where they report.
    reported: Mapping[str, float | None]

    @property
    def ok(self) -> bool:
        """Whether nothing is wrong."""
        return not self.problem

    @property
    def level_percent(self) -> int:
        """``level`` as 0-100."""
        return round(self.level * 100)

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form (the ``lights`` key of the room's state snapshot)."""
        return {
            "scene": self.scene,
            "level": self.level_percent,
            "target": round(self.target_level * 100),
            "kelvin": self.kelvin,
            "ramping": self.ramping,
            "ok": self.ok,
            "problem": self.problem,
            "reported": {
                name: None if level is None else round(level * 100)
                for name, level in self.reported.items()
            },
        }


def _raise_if_cancelling() -> None:
    """Honour a cancellation that an awaited library call swallowed.

    Python 3.11's ``asyncio.wait_for`` returns the result instead of raising when a
    cancellation races the awaited future's completion (CPython gh-86296); aiomqtt
    2.x waits for every publish that way.

    Raises:
        asyncio.CancelledError: this task has been asked to stop.
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


def _same_look(a: LightScene | None, b: LightScene | None) -> bool:
    """Whether two scenes show the same light (names and fades aside)."""
    if a is None or b is None:
        return a is b
    return (a.on, a.level, a.mired, a.color) == (b.on, b.level, b.mired, b.color)


class MqttLightController:
    """Drives the room's lights through one adapter and the daemon's MQTT client.

    ``apply`` (or ``request``) sets the desired scene and returns at once; ``run()``
    does the publishing. Feed it the messages of ``subscriptions`` through
    ``handle_message`` so it can tell lights that answer from lights that don't.
    Nothing here raises into the caller: failures become notices and a status.
    """

    def __init__(
        self,
        *,
        settings: LightingSettings,
        publish: Publish,
        on_notice: NoticeSink | None = None,
        clock: Clock | None = None,
        sleep: Sleep | None = None,
        adapter: LightAdapter | None = None,
        backoff: Backoff | None = None,
    ) -> None:
        self.settings = settings
        self.table: SceneTable = settings.scene_table()
        self.adapter: LightAdapter = (
            adapter if adapter is not None else make_adapter(settings)
        )
        self.lights: tuple[str, ...] = tuple(settings.lights)
        self._publish = publish
        self._on_notice = on_notice
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._sleep: Sleep = sleep if sleep is not None else asyncio.sleep
        self._backoff = backoff if backoff is not None else Backoff(cap_s=30.0)
        self._step_s = min(settings.ramp_step_s, self.adapter.max_transition_s)
        # Desired state and progress towards it.
        self._desired: LightScene | None = None
        self._end_mono = 0.0
        self._sent: LightScene | None = None
        self._force = False
        self._ramping = False
        self._wake = asyncio.Event()
        self._ramp_task: asyncio.Task[None] | None = None
        self._switching = False
        # Health.
        self._publish_problem = ""
        self._command_problem = ""
        self._unanswered: set[str] = set()
        self._offline: set[str] = set()
        self._awaiting: dict[str, float] = {}
        self._reported: dict[str, ReportedState] = {}
        self._routes: dict[str, tuple[str | None, FeedbackKind]] = {}
        for light in self.lights:
            for topic, kind in self.adapter.feedback_topics(light).items():
                self._routes[topic] = (light, kind)
        for topic in self.adapter.bridge_topics():
            self._routes[topic] = (None, FeedbackKind.AVAILABILITY)

    # ------------------------------------------------------------ what callers use

    @property
    def subscriptions(self) -> tuple[str, ...]:
        """Topics the daemon must subscribe to and pass to ``handle_message``."""
        return tuple(self._routes)

    @property
    def desired(self) -> LightScene | None:
        """The scene being shown or ramped to."""
        return self._desired

    @property
    def status(self) -> LightingStatus:
        """Scene, level and health, for the console and the state snapshot."""
        sent = self._sent
        problems = [p for p in (self._publish_problem, self._command_problem) if p]
        if self._offline:
            problems.append(f"offline: {', '.join(sorted(self._offline))}")
        if self._unanswered:
            problems.append(f"not answering: {', '.join(sorted(self._unanswered))}")
        if not self.lights:
            problems.append("no lights configured")
        return LightingStatus(
            scene=None if self._desired is None else self._desired.name,
            level=0.0 if sent is None else sent.level,
            target_level=0.0 if self._desired is None else self._desired.level,
            kelvin=None if sent is None else sent.kelvin,
            ramping=self._ramping,
            problem="; ".join(problems),
            reported={
                light: self._reported[light].brightness
                if self._reported[light].on
                else 0.0
                for light in self.lights
                if light in self._reported
            },
        )

    async def apply(self, scene: LightScene) -> None:
        """Make the lights show ``scene`` (returns at once; ``run()`` publishes)."""
        self.request(scene)

    def request(self, scene: LightScene) -> None:
        """Set the desired scene; a new scene interrupts any ramp in progress.

        Asking for the scene already desired changes nothing (idempotent).
        """
        if scene == self._desired:
            return
        self._desired = scene
        self._end_mono = self._clock.monotonic() + scene.transition_s
        self._command_problem = ""
        self._wake.set()

    async def show(
        self,
        phase: Phase,
        *,
        alarm_priority: AlarmPriority | None = None,
        override: LightScene | None = None,
    ) -> LightScene:
        """Choose the scene from this controller's table and apply it."""
        scene = choose_scene(
            phase, alarm_priority=alarm_priority, override=override, table=self.table
        )
        await self.apply(scene)
        return scene

    async def reassert(self) -> None:
        """Send the desired state again (after a reconnect or a bulb power cycle)."""
        if self._desired is None:
            return
        self._force = True
        self._wake.set()

    def fail_safe(self, reason: str) -> None:
        """Show the safe scene (dim, warm) because something went wrong upstream."""
        self._notice(f"lights set to the safe scene: {reason}")
        self.request(self.table.safe)

    async def wait_idle(self) -> None:
        """Return once nothing is left to send (tests, orderly shutdown).

        Only while ``run()`` is running; otherwise pending work never finishes.
        """
        while True:
            task = self._ramp_task
            if task is not None and not task.done():
                await asyncio.wait([task])
            elif self._wake.is_set() or self._switching:
                await asyncio.sleep(0)
            else:
                return

    def handle_message(self, topic: str, payload: bytes) -> None:
        """Take a message from one of ``subscriptions`` (never raises)."""
        route = self._routes.get(topic)
        if route is None:
            return
        light, kind = route
        if kind is FeedbackKind.AVAILABILITY:
            online = self.adapter.parse_online(payload)
            if online is not None:
                self._availability(
                    light if light is not None else "bridge", online=online
                )
            return
        if light is None:  # pragma: no cover - state topics always name a light
            return
        self._awaiting.pop(light, None)
        state = self.adapter.parse_state(payload)
        if state is not None:
            self._reported[light] = state
        if light in self._unanswered:
            self._unanswered.discard(light)
            self._notice(f"light {light} answers again")

    def check_confirmations(self, now_mono: float | None = None) -> None:
        """Report lights that did not answer a command in ``confirm_timeout_s``."""
        now = self._clock.monotonic() if now_mono is None else now_mono
        for light, deadline in list(self._awaiting.items()):
            if now < deadline:
                continue
            del self._awaiting[light]
            if light not in self._unanswered:
                self._unanswered.add(light)
                self._notice(
                    f"light {light} did not answer within "
                    f"{self.settings.confirm_timeout_s:g} s: check its name and "
                    f"that the {self.adapter.kind} bridge is running"
                )

    async def run(self) -> None:
        """Publish scenes until cancelled; owns its ramp and watchdog tasks.

        Restarting it (after a failure, under ``restarting``) resumes the scene it
        was showing or ramping to.
        """
        async with asyncio.TaskGroup() as tg:
            if self.settings.confirm_timeout_s > 0 and self._routes:
                tg.create_task(self._confirm_loop(), name="lighting.confirm")
            try:
                while True:
                    await self._wake.wait()
                    self._wake.clear()
                    self._switching = True
                    await self._stop_ramp()
                    self._ramp_task = tg.create_task(
                        self._ramp_guarded(), name="lighting.ramp"
                    )
                    self._switching = False
            finally:
                await self._stop_ramp()
                if not _same_look(self._sent, self._desired):
                    self._wake.set()  # unfinished: the next run() carries on

    # ------------------------------------------------------------ internals

    async def _stop_ramp(self) -> None:
        task = self._ramp_task
        # Cancel until it is done: Python 3.11's asyncio.wait_for (used by aiomqtt's
        # publish) can swallow a cancellation that races a completing publish
        # (CPython gh-86296). asyncio.wait never raises the task's CancelledError,
        # so our own cancellation still propagates (style.md C7).
        while task is not None and not task.done():
            task.cancel()
            await asyncio.wait([task], timeout=STOP_RETRY_S)
        self._ramping = False

    async def _confirm_loop(self) -> None:
        interval_s = min(1.0, max(0.05, self.settings.confirm_timeout_s / 4))
        while True:
            await asyncio.sleep(interval_s)
            self.check_confirmations()

    async def _ramp_guarded(self) -> None:
        try:
            await self._ramp()
        except LightCommandError as exc:
            self._fall_back(str(exc))
        except Exception as exc:  # lighting's fault boundary: never into the daemon
            _LOGGER.error("lighting failed", exc_info=exc)
            self._fall_back(f"internal error: {exc!r}")
        finally:
            self._ramping = False

    def _fall_back(self, reason: str) -> None:
        safe = self.table.safe
        if self._desired is not None and _same_look(self._desired, safe):
            self._command_problem = f"cannot show even the safe scene: {reason}"
            self._notice(f"lights: {self._command_problem}")
            return
        self._notice(f"lights fall back to the safe scene: {reason}")
        self.request(safe)
        self._command_problem = reason

    async def _ramp(self) -> None:
        target = self._desired
        if target is None:
            return
        force, self._force = self._force, False
        if not force and _same_look(self._sent, target):
            return
        while True:
            now = self._clock.monotonic()
            start = self._sent if self._sent is not None else self._reported_start()
            plan = plan_ramp(
                start,
                target,
                duration_s=self._end_mono - now,
                step_s=self._step_s,
            )
            self._ramping = len(plan) > 1
            sent = await self._send(plan[0].scene)
            _raise_if_cancelling()
            if not sent:
                await self._sleep(self._backoff.next_delay())
                continue
            self._backoff.attempt = 0
            if len(plan) == 1:
                self._ramping = False
                return
            await self._sleep(max(0.0, now + plan[1].at_s - self._clock.monotonic()))

    def _reported_start(self) -> LightScene | None:
        """The first light's reported state as a ramp start, when it has one."""
        for light in self.lights:
            state = self._reported.get(light)
            if state is None:
                continue
            if not state.on or state.brightness == 0.0:
                return LightScene.off("reported")
            if state.brightness is None:
                return None
            return LightScene(
                name="reported",
                brightness=state.brightness,
                mired=state.mired,
                transition_s=0.0,
            )
        return None

    async def _send(self, scene: LightScene) -> bool:
        """Publish ``scene`` to every light; False (and a notice) if publishing fails.

        Raises:
            LightCommandError: the adapter cannot express the scene.
        """
        try:
            messages = [
                (light, message)
                for light in self.lights
                for message in self.adapter.command(light, scene)
            ]
        except (ValueError, TypeError) as exc:
            raise LightCommandError(
                f"{self.adapter.kind} cannot show scene {scene.name!r}: {exc}"
            ) from exc
        try:
            for light, message in messages:
                await self._publish_one(message)
                self._expect_answer(light)
        except LightingError as exc:
            if not self._publish_problem:
                self._notice(f"lights unreachable: {exc}")
            self._publish_problem = str(exc)
            return False
        if self._publish_problem:
            self._publish_problem = ""
            self._notice("lights reachable again")
        self._sent = scene
        _LOGGER.debug("lights: %s at %.3f", scene.name, scene.level)
        return True

    async def _publish_one(self, message: MqttMessage) -> None:
        """Publish with a deadline, translating every failure to ``LightingError``.

        Raises:
            LightingError: the publish failed or took too long.
        """
        try:
            async with asyncio.timeout(self.settings.publish_timeout_s):
                await self._publish(
                    message.topic, message.payload, message.qos, message.retain
                )
        except TimeoutError as exc:
            raise LightingError(
                f"publishing to {message.topic} took over "
                f"{self.settings.publish_timeout_s:g} s"
            ) from exc
        except Exception as exc:  # the daemon's client: translate at the edge
            raise LightingError(f"publishing to {message.topic} failed: {exc}") from exc

    def _expect_answer(self, light: str) -> None:
        if self.settings.confirm_timeout_s <= 0:
            return
        if not any(
            route == (light, FeedbackKind.STATE) for route in self._routes.values()
        ):
            return
        self._awaiting.setdefault(
            light, self._clock.monotonic() + self.settings.confirm_timeout_s
        )

    def _availability(self, name: str, *, online: bool) -> None:
        if online:
            if name in self._offline:
                self._offline.discard(name)
                self._notice(f"{name} is back online")
                # A bulb or bridge that restarted may not show the desired scene.
                self._force = self._desired is not None
                if self._force:
                    self._wake.set()
        elif name not in self._offline:
            self._offline.add(name)
            self._notice(f"{name} is offline")

    def _notice(self, text: str) -> None:
        _LOGGER.warning("%s", text)
        if self._on_notice is None:
            return
        notice = TechnicalNotice(
            occurred_mono=self._clock.monotonic(),
            occurred_at=self._clock.now_utc(),
            component=COMPONENT,
            text=text,
        )
        try:
            self._on_notice(notice)
        except Exception as exc:  # a broken sink must not stop the lights
            _LOGGER.error("lighting notice sink failed", exc_info=exc)
