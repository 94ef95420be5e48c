"""Composition root: builds every component and owns the daemon's task group.

Fault domains (style.md C4): device supervisors and the pipeline are *critical*; an
unexpected exception there ends the daemon with a non-zero exit so systemd restarts it.
The recorder, MQTT, music, lights and UI are *auxiliary*: they run under
``restarting`` and their failures never reach the alarm path.

Shutdown order (C12): stop inputs, flush the record (bounded), close.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from typing import TYPE_CHECKING, cast

from roomctl import __version__
from roomctl.alarms import AlarmEngine
from roomctl.backoff import restarting
from roomctl.bus import EventBus
from roomctl.capture import CaptureHeader, CaptureWriter
from roomctl.clock import Clock, SystemClock
from roomctl.devices.registry import DRIVERS
from roomctl.devices.supervisor import DeviceSupervisor
from roomctl.director import SceneDirector
from roomctl.events import (
    Command,
    CommandHandled,
    CommandVerb,
    DeviceLost,
    MusicPlayed,
    NoteAdded,
    OutputFailed,
    Role,
    SessionOpened,
    TechnicalNotice,
)
from roomctl.eventstream import event_type
from roomctl.lighting import MqttLightController
from roomctl.mqtt.bridge import MqttBridge
from roomctl.nibp import MeasuringDriver, NibpController
from roomctl.pipeline import ReadingPipeline
from roomctl.playlists.controller import MusicController, TrackStarted
from roomctl.playlists.vlc_player import VlcPlayer
from roomctl.readings import LinkState
from roomctl.recorder import Recorder
from roomctl.resume import plan_resume
from roomctl.retention import apply_retention
from roomctl.roomstate import RoomState
from roomctl.systemd import Notifier

if TYPE_CHECKING:
    from collections.abc import Coroutine

    from roomctl.resume import Resumption
    from roomctl.settings import Settings

_LOGGER = logging.getLogger(__name__)

#: A watchdog ping is sent only when the loop has run within this many seconds.
DEFAULT_WATCHDOG_S = 10.0
#: How often the alarm engine is ticked.
TICK_INTERVAL_S = 0.5


def session_id_for(room: str, clock: Clock) -> str:
    """A session id from the room and the start time (never a patient identifier)."""
    return f"{room}-{clock.now_utc():%Y%m%dT%H%M%SZ}"


class Daemon:
    """One room: devices, pipeline, record and outputs, wired to one bus."""

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Clock | None = None,
        notifier: Notifier | None = None,
    ) -> None:
        self.settings = settings
        base_clock: Clock = clock if clock is not None else SystemClock()
        #: The unfinished session this daemon continues (``roomctl.resume``), if any.
        self.resumed = plan_resume(settings, base_clock)
        resumed = self.resumed
        # A resumed session runs on its own time axis: monotonic seconds are its t.
        self.clock: Clock = base_clock if resumed is None else resumed.clock
        self.notifier = notifier if notifier is not None else Notifier()
        self.bus = EventBus()
        self.recorder = Recorder(
            path=settings.record.path,
            bus=self.bus,
            clock=self.clock,
            flush_interval_s=settings.record.flush_interval_s,
            on_health=lambda error: self._record_health("record", error),
        )
        #: The session's start: t = 0 of the engine, the capture and the state.
        self.started_at = self.clock.now_utc()
        if resumed is None:
            self.started_mono = self.clock.monotonic()
            enabled = {n: d for n, d in settings.devices.items() if d.enabled}
            self.engine = AlarmEngine(
                settings.alarms,
                route=settings.session.route,
                infusion_min=settings.session.infusion_min,
                epoch_mono=self.started_mono,
                epoch_at=self.started_at,
                devices={n: DRIVERS[d.protocol].category for n, d in enabled.items()},
            )
            self.session_id = session_id_for(settings.room.name, self.clock)
        else:
            self.started_mono = 0.0
            self.started_at = resumed.header.started_at
            self.engine = resumed.engine
            self.session_id = resumed.session.session_id
        self.pipeline = ReadingPipeline(bus=self.bus, engine=self.engine)
        self.room_state = RoomState(
            bus=self.bus,
            clock=self.clock,
            room=settings.room.name,
            session_id=self.session_id,
            t0_mono=self.started_mono,
            providers={"engine": self.engine.snapshot, "limits": self._limits},
        )
        self._nurse_asked_for: float | None = None
        self.mqtt: MqttBridge | None = None
        if settings.mqtt.enabled:
            self.mqtt = MqttBridge(
                settings=settings.mqtt,
                room=settings.room.name,
                bus=self.bus,
                clock=self.clock,
                handle_command=self.handle_command,
                t0_mono=self.started_mono,
            )
        self.lights: MqttLightController | None = None
        self._mqtt_up = asyncio.Event()
        if self.mqtt is not None and settings.lighting.lights:
            self.lights = MqttLightController(
                settings=settings.lighting,
                publish=self.mqtt.publish,
                on_notice=self.bus.publish,
                clock=self.clock,
            )
            self.mqtt.listen(
                self.lights.subscriptions,
                self.lights.handle_message,
                on_connected=self._mqtt_connected,
            )
            self.room_state.add_provider("lights", lambda _now: self.lights_status())
        self.music: MusicController | None = None
        if settings.music.enabled:
            self.music = MusicController(
                settings.music,
                player=VlcPlayer.for_output(settings.music.output),
                clock=self.clock,
                notify=self.bus.publish,
                on_track=self._music_played,
            )
            music = self.music
            self.room_state.add_provider(
                "music", lambda _now: music.snapshot().as_dict()
            )
        self.director = SceneDirector(
            bus=self.bus,
            lights=self.lights,
            music=self.music,
            duck_on=settings.music.should_duck,
            table=settings.lighting.scene_table(),
        )
        self.capture: CaptureWriter | None = None
        if resumed is not None:
            # The session's capture goes on: no new header, the same time axis.
            self.capture = CaptureWriter(
                resumed.capture_path,
                None,
                start_mono=0.0,
                on_health=lambda error: self._record_health("capture", error),
            )
            self.room_state.add_provider("resumed", lambda _now: resumed.state())
        elif settings.record.capture:
            self.capture = CaptureWriter(
                settings.record.effective_captures_dir / f"{self.session_id}.jsonl",
                CaptureHeader(
                    room=settings.room.name,
                    started_at=self.started_at,
                    devices={
                        name: device.protocol
                        for name, device in settings.devices.items()
                        if device.enabled
                    },
                    route=settings.session.route,
                    infusion_min=settings.session.infusion_min,
                ),
                start_mono=self.started_mono,
                on_health=lambda error: self._record_health("capture", error),
            )
        self.supervisors = [
            DeviceSupervisor(
                name=name,
                spec=DRIVERS[device.protocol],
                port=device.port,
                baud=device.effective_baud,
                pipeline=self.pipeline,
                clock=self.clock,
                stale_after_s=device.stale_after_s,
                capture=self.capture,
                parse_error_window_s=settings.alarms.link.parse_error_window_s,
            )
            for name, device in settings.devices.items()
            if device.enabled
        ]
        self.nibp_controllers = [
            self._nibp_controller(sup)
            for sup in self.supervisors
            if sup.spec.category == "nibp" and hasattr(sup.driver, "measure")
        ]

    def _record_health(self, part: str, error: str | None) -> None:
        """A part of the record failed to write, or writes again: ``tech.record``."""
        self.pipeline.record_health(part, error, self.clock.monotonic())

    def _nibp_controller(self, supervisor: DeviceSupervisor) -> NibpController:
        # hasattr above: only drivers that can start a measurement get a controller.
        driver = cast("MeasuringDriver", supervisor.driver)
        return NibpController(
            device=supervisor.name,
            driver=driver,
            cycle_s=lambda: self.engine.nibp_cycle_s(self.clock.monotonic()),
            link_up=lambda: supervisor.state is LinkState.UP,
            clock=self.clock.monotonic,
        )

    def handle_command(self, command: Command) -> CommandHandled:
        """Carry out an operator command from any edge (MQTT, console, API).

        The command is written to the capture first (the black box keeps what was
        asked, whatever came of it), then the alarm engine takes its verbs through
        the pipeline; notes and NIBP start-now are handled here.
        """
        if self.capture is not None:
            self.capture.op(
                command.verb,
                dict(command.args),
                command.by,
                command.occurred_mono,
                command_id=command.command_id,
            )
            # On disk before the reply goes out: a command the room answered is
            # never lost to a crash (a resumed session records it from here).
            self.capture.flush_now()
        if command.verb is CommandVerb.NOTE:
            self.bus.publish(
                NoteAdded(
                    occurred_mono=command.occurred_mono,
                    occurred_at=command.occurred_at,
                    text=str(command.args["text"]),
                    by=command.by or Role.NURSE,
                )
            )
        elif command.verb is CommandVerb.LIGHTS:
            error = self.director.lights_command(command.args)
            if error is not None:
                return self.pipeline.refuse(command, error)
        elif command.verb is CommandVerb.MUSIC:
            error = self.director.music_command(command.args)
            if error is not None:
                return self.pipeline.refuse(command, error)
        elif command.verb is CommandVerb.NIBP_START:
            if not self.nibp_controllers:
                return self.pipeline.refuse(
                    command, "this room's NIBP monitor cannot be started remotely"
                )
            for controller in self.nibp_controllers:
                controller.request_now()
        return self.pipeline.command(command)

    def _music_played(self, started: TrackStarted) -> None:
        self.bus.publish(
            MusicPlayed(
                occurred_mono=started.occurred_mono,
                occurred_at=started.occurred_at,
                track_id=started.track_id,
                title=started.title,
                phase=started.phase,
                repeat=started.repeat,
            )
        )

    async def _lights_when_connected(self) -> None:
        # The lights speak through the MQTT connection: wait for its first connect
        # rather than report them unreachable while the daemon is still starting.
        assert self.lights is not None  # noqa: S101 (the task exists only with lights)
        await self._mqtt_up.wait()
        await self.lights.run()

    async def _mqtt_connected(self) -> None:
        self._mqtt_up.set()
        if self.lights is not None:
            await self.lights.reassert()

    def _limits(self, _now: float) -> dict[str, object]:
        """The alarm limits in force, for the console's tiles."""
        policy = self.settings.alarms
        return {
            "spo2_percent": {
                "low": policy.spo2_low.limit_percent,
                "severe_low": policy.spo2_desat.limit_percent,
            },
            "pulse_rate_bpm": {
                "low": policy.hr_low.limit_bpm,
                "high": policy.hr_high.limit_bpm,
            },
            "bp": {
                "sbp_high": policy.bp_high.sbp_mmhg,
                "dbp_high": policy.bp_high.dbp_mmhg,
                "sbp_low": policy.bp_low.sbp_mmhg,
            },
        }

    def lights_status(self) -> dict[str, object]:
        """The lights' state for the room snapshot."""
        return {} if self.lights is None else self.lights.status.as_dict()

    def _report_failure(self, component: str, exc: BaseException) -> None:
        self.bus.publish(
            OutputFailed(
                occurred_mono=self.clock.monotonic(),
                occurred_at=self.clock.now_utc(),
                component=component,
                error=str(exc) or type(exc).__name__,
            )
        )

    def _open_session(self) -> SessionOpened:
        if self.resumed is not None:
            return self._resume_session(self.resumed)
        opened = SessionOpened(
            occurred_mono=self.clock.monotonic(),
            occurred_at=self.clock.now_utc(),
            session_id=self.session_id,
            route=self.settings.session.route,
            infusion_min=self.settings.session.infusion_min,
        )
        patient_ref = self.settings.session.patient_ref
        self.recorder.start_session(opened, self.settings.room.name, patient_ref)
        if self.music is not None:
            self.music.begin_session(
                heard=self.recorder.heard_tracks(patient_ref),
                seed=self.session_id,
            )
        self.bus.publish(opened)
        return opened

    def _resume_session(self, resumed: Resumption) -> SessionOpened:
        """Continue an unfinished session (``roomctl.resume``).

        Write what the crash kept from the record, take up the room (director,
        music, NIBP cycle), then mark the gap.
        """
        now = self.clock.monotonic()
        header = resumed.header
        opened = SessionOpened(
            occurred_mono=now,
            occurred_at=self.clock.now_utc(),
            session_id=self.session_id,
            route=header.route,
            infusion_min=header.infusion_min,
            resumed=True,
        )
        self.recorder.resume_session(opened)
        self.recorder.record_now(resumed.missed)
        if resumed.missed:
            counts = Counter(event_type(event) for event in resumed.missed)
            _LOGGER.info(
                "the record lacked what came just before the crash; written from "
                "the capture now: %s",
                ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items())),
            )
        state = self.engine.snapshot(now)
        if self.music is not None:
            patient_ref = resumed.session.patient_ref
            self.music.begin_session(
                heard=self.recorder.heard_tracks(patient_ref) | resumed.heard,
                seed=self.session_id,
            )
        self.director.restore(
            phase=state.phase,
            alarms={alarm.code: alarm.priority for alarm in state.alarms},
            lights=resumed.lights,
            music=resumed.music,
        )
        nibp = state.nibp
        if nibp.cycle_s is not None and nibp.next_due_mono is not None:
            for controller in self.nibp_controllers:
                controller.continue_schedule(now - (nibp.next_due_mono - nibp.cycle_s))
        self.bus.publish(opened)
        self._mark_gap(resumed)
        return opened

    def _mark_gap(self, resumed: Resumption) -> None:
        """The devices went silent at the crash point; say so, then move time on."""
        text = resumed.gap_text()
        crash = resumed.t_crash
        for supervisor in self.supervisors:
            if self.capture is not None:
                self.capture.link(supervisor.name, LinkState.LOST, crash, restart=True)
            self.pipeline.link_changed(
                DeviceLost(
                    occurred_mono=crash,
                    occurred_at=resumed.at(crash),
                    device=supervisor.name,
                    reason=text,
                )
            )
        now = self.clock.monotonic()
        self.bus.publish(
            TechnicalNotice(
                occurred_mono=now,
                occurred_at=self.clock.now_utc(),
                component="session",
                text=text,
            )
        )
        _LOGGER.warning("session %s continues: %s", self.session_id, text)
        if resumed.trimmed_bytes:
            _LOGGER.warning(
                "the capture's last line was cut short by the crash; %d bytes removed",
                resumed.trimmed_bytes,
            )
        # The engine sees the gap now (tech.link, data lost), not at its next tick.
        self.tick()

    def critical_tasks(self) -> dict[str, Coroutine[None, None, None]]:
        """The alarm path: device supervisors and the pipeline, by task name."""
        tasks: dict[str, Coroutine[None, None, None]] = {
            f"device[{sup.name}].supervisor": sup.run() for sup in self.supervisors
        }
        tasks["alarms.tick"] = self._tick_loop()
        if self.settings.nibp.auto_start:
            tasks.update(
                {f"device[{c.device}].nibp": c.run() for c in self.nibp_controllers}
            )
        return tasks

    def auxiliary_tasks(self) -> dict[str, Coroutine[None, None, None]]:
        """Outputs that restart on failure, by task name."""
        tasks: dict[str, Coroutine[None, None, None]] = {
            "recorder": restarting(
                "recorder", self.recorder.run, on_failure=self._report_failure
            ),
        }
        tasks["roomstate"] = restarting(
            "roomstate", self.room_state.run, on_failure=self._report_failure
        )
        tasks["director"] = restarting(
            "director", self.director.run, on_failure=self._report_failure
        )
        if self.mqtt is not None:
            tasks["mqtt"] = restarting(
                "mqtt", self.mqtt.run, on_failure=self._report_failure
            )
        if self.music is not None:
            tasks["music"] = restarting(
                "music", self.music.run, on_failure=self._report_failure
            )
        if self.lights is not None:
            tasks["lighting"] = restarting(
                "lighting", self._lights_when_connected, on_failure=self._report_failure
            )
        if self.capture is not None:
            tasks["capture"] = restarting(
                "capture", self.capture.run, on_failure=self._report_failure
            )
        return tasks

    def tick(self) -> None:
        """One engine tick, plus the NIBP schedule's requests (STAT, nurse)."""
        now = self.clock.monotonic()
        self.pipeline.tick(now)
        if self.engine.take_stat_request():
            if self.settings.nibp.auto_start and self.nibp_controllers:
                for controller in self.nibp_controllers:
                    controller.request_now()
            else:
                self._ask_nurse("a STAT blood-pressure reading is needed now", now)
        if not (self.settings.nibp.auto_start and self.nibp_controllers):
            due = self.engine.snapshot(now).nibp.next_due_mono
            if due is not None and now >= due and self._nurse_asked_for != due:
                self._nurse_asked_for = due
                self._ask_nurse(
                    "a blood-pressure reading is due: please start one", now
                )

    def _ask_nurse(self, text: str, now: float) -> None:
        self.bus.publish(
            TechnicalNotice(
                occurred_mono=now,
                occurred_at=self.clock.now_utc(),
                component="nibp",
                text=text,
            )
        )

    async def _tick_loop(self) -> None:
        # The engine must be ticked at least once a second (alarm-policy.md:
        # continuous signals are checked every second); twice gives margin.
        while True:
            await asyncio.sleep(TICK_INTERVAL_S)
            self.tick()

    async def _watchdog_loop(self) -> None:
        interval = self.notifier.watchdog_interval_s or DEFAULT_WATCHDOG_S
        while True:
            self.notifier.watchdog()
            await asyncio.sleep(interval)

    async def _apply_retention(self) -> None:
        """The record's configured retention, once, after the session is open.

        Off the event loop; the running (or resumed) session is never touched. A
        failure is logged for the admin and never stops the room.
        """
        try:
            report = await asyncio.to_thread(
                apply_retention, self.settings.record, now=self.clock.now_utc()
            )
        except Exception as exc:  # noqa: BLE001 -- retention must never stop the room
            _LOGGER.error("record retention could not run: %s", exc)
            return
        for line in [] if report is None else report.lines():
            _LOGGER.info("record retention: %s", line)

    async def run(self) -> None:
        """Run the room until cancelled (SIGTERM), then shut down in order."""
        self.recorder.open()
        try:
            opened = self._open_session()
            _LOGGER.info(
                "roomctl %s started: room %s, session %s",
                __version__,
                self.settings.room.name,
                opened.session_id,
            )
            async with asyncio.TaskGroup() as tg:
                for name, coro in {
                    **self.auxiliary_tasks(),
                    **self.critical_tasks(),
                }.items():
                    tg.create_task(coro, name=name)
                tg.create_task(self._watchdog_loop(), name="systemd.watchdog")
                tg.create_task(self._apply_retention(), name="record.retention")
                self.notifier.ready(f"room {self.settings.room.name}: running")
        finally:
            self.notifier.stopping()
            self.close()
            _LOGGER.info("roomctl stopped; the session record is flushed")

    def close(self) -> None:
        """Flush and close the record and the capture; end every subscription."""
        self.recorder.final_flush()
        self.recorder.close()
        if self.capture is not None:
            self.capture.close()
        self.bus.close()
