"""Light scenes: the value model, the phase -> scene table and its settings.

Pure module (no I/O, no asyncio, no clock): scene selection is a function of the
session phase, the highest alarm priority in force and an operator override, and
ramps are planned from times passed in. ``roomctl.lighting`` turns the result into
MQTT messages and runs it.

The model speaks Zigbee2MQTT's terms (ecosystem.md §2.1, §2.5): on/off, brightness
(0.0-1.0 here; adapters scale it to 0-254, 0-255 or 0-100), colour temperature in
mireds (``1_000_000 / kelvin``; higher is warmer), an optional colour (CIE xy or
RGB) and a transition in seconds. A scene's ``transition_s`` is the whole fade; when
it is longer than a bulb can fade natively, the daemon runs it as steps
(``plan_ramp``).

KAP practice (the default table): soft warm light while preparing; dim and warm from
dosing through the peak; light rising slowly, over minutes, during the return;
warm and quiet for integration; ordinary room light once the session is closed.
Every phase has a brightness ceiling, so no setting or override can make the room
jump to full brightness; only the alarm scene (light for the nurse) is above them.

>>> scene = choose_scene(Phase.PEAK)
>>> scene.name, scene.brightness, scene.mired, scene.kelvin
('peak', 0.08, 455, 2198)
>>> choose_scene(Phase.PEAK, alarm_priority=AlarmPriority.HIGH).name
'alarm'
"""

from __future__ import annotations

import enum
import math
import re
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import TYPE_CHECKING, Annotated, Literal, TypeAlias

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from roomctl.events import AlarmPriority, Phase

if TYPE_CHECKING:
    from collections.abc import Mapping

# ---------------------------------------------------------------- units

#: The model accepts colour temperatures from 1000 K to 10000 K (100-1000 mireds);
#: adapters clamp to what the bulbs take (typically 153-500 mireds, ecosystem.md §2.1).
MIRED_MIN_VALID = 100
MIRED_MAX_VALID = 1000

#: The usual bulb range: Home Assistant's default ``min_mireds``/``max_mireds`` and
#: Tasmota's ``CT`` limits (ecosystem.md §2.2, §2.3): 6536 K to 2000 K.
MIRED_MIN_TYPICAL = 153
MIRED_MAX_TYPICAL = 500

#: The longest transition a scene may ask for (a long return ramp, in seconds).
MAX_TRANSITION_S = 3600.0

#: The Kim et al. (2002) Planckian-locus approximation used by ``kelvin_to_xy`` holds
#: from 1667 K to 25000 K.
_KELVIN_XY_MIN = 1667.0
_KELVIN_XY_MAX = 25000.0


def kelvin_to_mired(kelvin: float) -> int:
    """Colour temperature in kelvin to mireds (micro reciprocal degrees).

    >>> kelvin_to_mired(2700), kelvin_to_mired(6500)
    (370, 154)
    """
    if kelvin <= 0:
        raise ValueError(f"a colour temperature must be positive, not {kelvin} K")
    return round(1_000_000 / kelvin)


def mired_to_kelvin(mired: float) -> int:
    """Mireds to kelvin.

    >>> mired_to_kelvin(370), mired_to_kelvin(500)
    (2703, 2000)
    """
    if mired <= 0:
        raise ValueError(f"a colour temperature must be positive, not {mired} mired")
    return round(1_000_000 / mired)


def brightness_to_scale(brightness: float, full: int) -> int:
    """Brightness 0.0-1.0 to a device scale ``0..full``; lit never rounds to 0.

    >>> brightness_to_scale(1.0, 254), brightness_to_scale(0.5, 100)
    (254, 50)
    >>> brightness_to_scale(0.001, 254)
    1
    """
    if not 0.0 <= brightness <= 1.0:
        raise ValueError(f"brightness must be 0.0-1.0, not {brightness}")
    if brightness == 0.0:
        return 0
    return max(1, min(full, round(brightness * full)))


def scale_to_brightness(value: float, full: int) -> float:
    """A device scale ``0..full`` back to 0.0-1.0 (clamped).

    >>> scale_to_brightness(127, 254)
    0.5
    """
    return min(1.0, max(0.0, value / full))


def kelvin_to_xy(kelvin: float) -> tuple[float, float]:
    """CIE 1931 xy chromaticity of a black body at ``kelvin`` (Kim et al. 2002).

    Clamped to the approximation's range, 1667-25000 K.

    >>> x, y = kelvin_to_xy(6500)
    >>> round(x, 3), round(y, 3)
    (0.313, 0.324)
    """
    t = min(_KELVIN_XY_MAX, max(_KELVIN_XY_MIN, float(kelvin)))
    if t <= 4000:
        x = -0.2661239e9 / t**3 - 0.2343589e6 / t**2 + 0.8776956e3 / t + 0.179910
    else:
        x = -3.0258469e9 / t**3 + 2.1070379e6 / t**2 + 0.2226347e3 / t + 0.240390
    if t <= 2222:
        y = -1.1063814 * x**3 - 1.34811020 * x**2 + 2.18555832 * x - 0.20219683
    elif t <= 4000:
        y = -0.9549476 * x**3 - 1.37418593 * x**2 + 2.09137015 * x - 0.16748867
    else:
        y = 3.0817580 * x**3 - 5.87338670 * x**2 + 3.75112997 * x - 0.37001483
    return x, y


def _srgb_gamma(linear: float) -> float:
    # IEC 61966-2-1 transfer function.
    if linear <= 0.0031308:
        return 12.92 * linear
    return 1.055 * math.pow(linear, 1 / 2.4) - 0.055


def xy_to_rgb(x: float, y: float) -> tuple[int, int, int]:
    """CIE xy chromaticity to an sRGB colour at full brightness (largest channel 255).

    Colours outside the sRGB gamut are clipped; brightness is carried separately.

    >>> xy_to_rgb(0.3127, 0.3290)
    (255, 255, 255)
    """
    if not (0.0 < y <= 1.0 and 0.0 <= x <= 1.0):
        raise ValueError(f"not a chromaticity: x={x}, y={y}")
    big_x, big_y, big_z = x / y, 1.0, (1.0 - x - y) / y
    # XYZ (D65) to linear sRGB, IEC 61966-2-1.
    linear = (
        3.2406 * big_x - 1.5372 * big_y - 0.4986 * big_z,
        -0.9689 * big_x + 1.8758 * big_y + 0.0415 * big_z,
        0.0557 * big_x - 0.2040 * big_y + 1.0570 * big_z,
    )
    clipped = [max(0.0, c) for c in linear]
    peak = max(clipped)
    if peak <= 0.0:
        return (0, 0, 0)
    r, g, b = (round(255 * _srgb_gamma(c / peak)) for c in clipped)
    return (r, g, b)


def kelvin_to_rgb(kelvin: float) -> tuple[int, int, int]:
    """An sRGB colour (largest channel 255) that looks like white light at ``kelvin``.

    For RGB-only fixtures (WLED) that have no colour-temperature channel.

    >>> kelvin_to_rgb(2700)
    (255, 173, 89)
    """
    return xy_to_rgb(*kelvin_to_xy(kelvin))


# ---------------------------------------------------------------- scene values


@dataclass(frozen=True, slots=True, kw_only=True)
class ColorXY:
    """A colour as CIE 1931 xy chromaticity (Zigbee's native colour space)."""

    #: 0.0-1.0.
    x: float
    #: 0.0-1.0, above 0.
    y: float

    def __post_init__(self) -> None:
        if not (0.0 <= self.x <= 1.0 and 0.0 < self.y <= 1.0):
            raise ValueError(f"xy colour out of range: x={self.x}, y={self.y}")

    def to_rgb(self) -> tuple[int, int, int]:
        """This colour as sRGB at full brightness."""
        return xy_to_rgb(self.x, self.y)


@dataclass(frozen=True, slots=True, kw_only=True)
class ColorRGB:
    """A colour as sRGB channels, 0-255 each."""

    r: int
    g: int
    b: int

    def __post_init__(self) -> None:
        for channel in (self.r, self.g, self.b):
            if not 0 <= channel <= 255:
                raise ValueError(f"RGB channels are 0-255, not {channel}")

    def to_rgb(self) -> tuple[int, int, int]:
        """The channels as a tuple."""
        return (self.r, self.g, self.b)


#: A scene colour.
Color: TypeAlias = ColorXY | ColorRGB


@dataclass(frozen=True, slots=True, kw_only=True)
class LightScene:
    """What the room's lights should look like, and how fast to get there.

    A scene has either a colour temperature or a colour (or neither: brightness
    only, keeping the bulbs' colour). An ``on`` scene needs a brightness above 0;
    an ``off`` scene's brightness is ignored.

    >>> LightScene.warm("reading", brightness=0.4, kelvin=2700).mired
    370
    """

    #: Shown on the console ("peak", "alarm", "safe", ...).
    name: str
    #: Whether the lights are on.
    on: bool = True
    #: 0.0-1.0 (adapters scale it to the device's range).
    brightness: float = 0.0
    #: Colour temperature in mireds (100-1000; higher is warmer).
    mired: int | None = None
    #: A colour instead of a colour temperature.
    color: Color | None = None
    #: Seconds to fade from the current state to this one (the whole ramp).
    transition_s: float = 1.0

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("a scene needs a name")
        if not 0.0 <= self.brightness <= 1.0:
            raise ValueError(f"brightness must be 0.0-1.0, not {self.brightness}")
        if self.on and self.brightness == 0.0:
            raise ValueError("an 'on' scene needs a brightness above 0 (or turn off)")
        if self.mired is not None and not (
            MIRED_MIN_VALID <= self.mired <= MIRED_MAX_VALID
        ):
            raise ValueError(
                f"colour temperature must be {MIRED_MIN_VALID}-{MIRED_MAX_VALID} "
                f"mired, not {self.mired}"
            )
        if self.mired is not None and self.color is not None:
            raise ValueError("a scene has a colour temperature or a colour, not both")
        if not (
            math.isfinite(self.transition_s)
            and 0.0 <= self.transition_s <= MAX_TRANSITION_S
        ):
            raise ValueError(
                f"transition must be 0-{MAX_TRANSITION_S:g} s, not {self.transition_s}"
            )

    @classmethod
    def warm(
        cls,
        name: str,
        *,
        brightness: float,
        kelvin: float,
        transition_s: float = 1.0,
    ) -> LightScene:
        """A lit white scene given its colour temperature in kelvin."""
        return cls(
            name=name,
            brightness=brightness,
            mired=kelvin_to_mired(kelvin),
            transition_s=transition_s,
        )

    @classmethod
    def off(cls, name: str = "off", *, transition_s: float = 1.0) -> LightScene:
        """Lights off."""
        return cls(name=name, on=False, transition_s=transition_s)

    @property
    def kelvin(self) -> int | None:
        """The colour temperature in kelvin, if the scene has one."""
        return None if self.mired is None else mired_to_kelvin(self.mired)

    @property
    def level(self) -> float:
        """Effective brightness 0.0-1.0 (0 when off)."""
        return self.brightness if self.on else 0.0

    def capped(self, ceiling: float) -> LightScene:
        """This scene with its brightness held at or below ``ceiling``."""
        if not self.on or self.brightness <= ceiling:
            return self
        return replace(self, brightness=ceiling)

    def with_transition(self, transition_s: float) -> LightScene:
        """This scene with another transition time."""
        return replace(self, transition_s=transition_s)


def blend(start: LightScene, target: LightScene, fraction: float) -> LightScene:
    """The scene ``fraction`` (0-1) of the way from ``start`` to ``target``.

    Brightness and colour temperature (or xy/RGB colour, when both have one of the
    same kind) move linearly; otherwise the target's colour is used from the first
    step. Intermediate scenes carry the target's name and transition.

    >>> a = LightScene.warm("a", brightness=0.2, kelvin=2200)
    >>> b = LightScene.warm("b", brightness=0.4, kelvin=2700)
    >>> mid = blend(a, b, 0.5)
    >>> mid.name, mid.brightness, mid.mired
    ('b', 0.3, 412)
    """
    f = min(1.0, max(0.0, fraction))
    if f >= 1.0 or (not start.on and not target.on):
        return target
    level = start.level + (target.level - start.level) * f
    if level <= 0.0:
        return replace(start, name=target.name, transition_s=target.transition_s)
    mired = target.mired
    color = target.color
    if start.mired is not None and target.mired is not None:
        mired = round(start.mired + (target.mired - start.mired) * f)
    match start.color, target.color:
        case ColorXY() as a, ColorXY() as b:
            color = ColorXY(
                x=round(a.x + (b.x - a.x) * f, 4), y=round(a.y + (b.y - a.y) * f, 4)
            )
        case ColorRGB() as a, ColorRGB() as b:
            color = ColorRGB(
                r=round(a.r + (b.r - a.r) * f),
                g=round(a.g + (b.g - a.g) * f),
                b=round(a.b + (b.b - a.b) * f),
            )
        case _:
            pass
    if target.mired is None and target.color is None and start.on:
        # Brightness-only target: keep what the bulbs show.
        mired, color = start.mired, start.color
    return LightScene(
        name=target.name,
        on=True,
        brightness=round(level, 4),
        mired=mired,
        color=color,
        transition_s=target.transition_s,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class RampStep:
    """One command of a daemon-run ramp."""

    #: Seconds after the ramp's start at which to send it.
    at_s: float
    #: The scene to send; its ``transition_s`` is the short native fade.
    scene: LightScene


def plan_ramp(
    start: LightScene | None,
    target: LightScene,
    *,
    duration_s: float,
    step_s: float,
) -> list[RampStep]:
    """Split a fade of ``duration_s`` into native fades of at most ``step_s``.

    Each step is sent at its ``at_s`` with a native transition as long as the gap to
    the next, so the bulbs glide between steps. With no known start, or a fade short
    enough to run natively, the plan is the target alone (with no known start, its
    fade is at most ``step_s``: the bulbs' state is unknown, so no long native fade).

    >>> a = LightScene.warm("peak", brightness=0.1, kelvin=2200)
    >>> b = LightScene.warm("return", brightness=0.3, kelvin=2700)
    >>> [
    ...     (s.at_s, s.scene.brightness)
    ...     for s in plan_ramp(a, b, duration_s=30, step_s=10)
    ... ]
    [(0.0, 0.1667), (10.0, 0.2333), (20.0, 0.3)]
    """
    if step_s <= 0:
        raise ValueError("a ramp step must be longer than 0 s")
    duration_s = max(0.0, duration_s)
    if start is None or duration_s <= step_s:
        fade_s = min(duration_s, step_s)
        return [RampStep(at_s=0.0, scene=target.with_transition(fade_s))]
    count = math.ceil(duration_s / step_s - 1e-9)
    each_s = duration_s / count
    return [
        RampStep(
            at_s=round(index * each_s, 6),
            scene=blend(start, target, (index + 1) / count).with_transition(
                round(each_s, 3)
            ),
        )
        for index in range(count)
    ]


# ---------------------------------------------------------------- the scene table


class SceneSource(enum.StrEnum):
    """Where a chosen scene comes from; the table orders them by precedence."""

    ALARM = "alarm"
    OVERRIDE = "override"
    PHASE = "phase"


#: Scene names every table has besides the phases.
SAFE_SCENE = "safe"
ALARM_SCENE = "alarm"
OFF_SCENE = "off"
#: ``lights`` command scene names that clear an operator override.
AUTO_SCENES = frozenset({"auto", "phase"})

#: The safe scene must stay dim: it is what the room shows when lighting fails.
SAFE_MAX_BRIGHTNESS = 0.3


@dataclass(frozen=True, slots=True, kw_only=True)
class SceneTable:
    """Phase scenes, their ceilings, alarm scenes and the order of precedence."""

    #: One scene per phase.
    phases: Mapping[Phase, LightScene]
    #: Brightness ceiling (0.0-1.0) per phase; overrides are held below it.
    ceilings: Mapping[Phase, float]
    #: Scenes for alarm priorities that change the light (none: alarms don't).
    alarm_scenes: Mapping[AlarmPriority, LightScene] = field(
        default_factory=lambda: MappingProxyType({})
    )
    #: The dim warm scene shown when lighting fails.
    safe: LightScene
    #: First source with a scene wins.
    precedence: tuple[SceneSource, ...] = (
        SceneSource.ALARM,
        SceneSource.OVERRIDE,
        SceneSource.PHASE,
    )

    def __post_init__(self) -> None:
        for phase in Phase:
            if phase not in self.phases or phase not in self.ceilings:
                raise ValueError(f"the scene table has no scene or ceiling for {phase}")
            ceiling = self.ceilings[phase]
            if not 0.0 < ceiling <= 1.0:
                raise ValueError(f"{phase} ceiling must be above 0 and at most 1.0")
            if self.phases[phase].level > ceiling:
                raise ValueError(
                    f"the {phase} scene ({self.phases[phase].brightness:g}) is "
                    f"brighter than the {phase} ceiling ({ceiling:g})"
                )
        if self.safe.level > SAFE_MAX_BRIGHTNESS or not self.safe.on:
            raise ValueError(
                f"the safe scene must be on and at most {SAFE_MAX_BRIGHTNESS:g} bright"
            )
        if set(self.precedence) != set(SceneSource) or len(self.precedence) != len(
            SceneSource
        ):
            raise ValueError("precedence must list alarm, override and phase once each")

    def named(self) -> dict[str, LightScene]:
        """Scenes an operator can pick by name (``lights`` command)."""
        scenes = {str(phase): scene for phase, scene in self.phases.items()}
        scenes[SAFE_SCENE] = self.safe
        scenes[OFF_SCENE] = LightScene.off(transition_s=self.safe.transition_s)
        return scenes


def _default_table() -> SceneTable:
    warm = LightScene.warm
    return SceneTable(
        phases=MappingProxyType(
            {
                # Soft, warm and bright enough to talk, read consent forms, set up.
                Phase.PREPARATION: warm(
                    "preparation", brightness=0.45, kelvin=2700, transition_s=10
                ),
                # Dim and warm from dosing on; fade slowly, never a switch.
                Phase.DOSING: warm(
                    "dosing", brightness=0.15, kelvin=2200, transition_s=60
                ),
                Phase.PEAK: warm("peak", brightness=0.08, kelvin=2200, transition_s=60),
                # Light rises slowly; the settings stretch this to minutes.
                Phase.RETURN: warm(
                    "return", brightness=0.3, kelvin=2700, transition_s=600
                ),
                Phase.INTEGRATION: warm(
                    "integration", brightness=0.35, kelvin=2700, transition_s=60
                ),
                # Ordinary room light, reached gently.
                Phase.CLOSED: warm(
                    "closed", brightness=0.8, kelvin=4000, transition_s=30
                ),
            }
        ),
        ceilings=MappingProxyType(
            {
                Phase.PREPARATION: 0.6,
                Phase.DOSING: 0.25,
                Phase.PEAK: 0.15,
                Phase.RETURN: 0.4,
                Phase.INTEGRATION: 0.5,
                Phase.CLOSED: 1.0,
            }
        ),
        alarm_scenes=MappingProxyType(
            {
                # Enough neutral light for the nurse to see the patient, in 2 s.
                AlarmPriority.HIGH: warm(
                    ALARM_SCENE, brightness=0.6, kelvin=3500, transition_s=2
                ),
            }
        ),
        safe=warm(SAFE_SCENE, brightness=0.2, kelvin=2200, transition_s=5),
    )


#: The default table (KAP practice; see the module docstring).
DEFAULT_SCENE_TABLE = _default_table()


def choose_scene(
    phase: Phase,
    *,
    alarm_priority: AlarmPriority | None = None,
    override: LightScene | None = None,
    table: SceneTable = DEFAULT_SCENE_TABLE,
) -> LightScene:
    """The scene the room should show.

    Args:
        phase: the session phase.
        alarm_priority: the highest priority among the alarms in force, if any.
        override: a scene an operator picked; held below the phase's ceiling.
        table: the scene table (defaults to KAP practice).

    Returns:
        The scene of the first source in ``table.precedence`` that has one.
    """
    candidates: dict[SceneSource, LightScene | None] = {
        SceneSource.ALARM: (
            None if alarm_priority is None else table.alarm_scenes.get(alarm_priority)
        ),
        SceneSource.OVERRIDE: (
            None if override is None else override.capped(table.ceilings[phase])
        ),
        SceneSource.PHASE: table.phases[phase],
    }
    return next(
        scene
        for source in table.precedence
        if (scene := candidates[source]) is not None
    )


def scene_for_command(
    *,
    phase: Phase,
    scene: str | None = None,
    level_percent: int | None = None,
    table: SceneTable = DEFAULT_SCENE_TABLE,
) -> LightScene | None:
    """Turn a ``lights`` command (``scene`` and/or ``level``) into an override.

    ``auto`` or ``phase`` clears the override (returns ``None``); a level alone dims
    the phase's own scene.

    >>> scene_for_command(phase=Phase.PEAK, level_percent=5).brightness
    0.05
    >>> scene_for_command(phase=Phase.PEAK, scene="auto") is None
    True

    Raises:
        ValueError: an unknown scene name, or a level out of 0-100.
    """
    if scene is not None and scene in AUTO_SCENES:
        return None
    named = table.named()
    if scene is None:
        base = table.phases[phase]
    elif scene in named:
        base = named[scene]
    else:
        known = ", ".join(sorted({*named, *AUTO_SCENES}))
        raise ValueError(f"unknown light scene {scene!r} (known: {known})")
    if level_percent is None:
        return base
    if not 0 <= level_percent <= 100:
        raise ValueError(f"level must be 0-100, not {level_percent}")
    if level_percent == 0:
        return LightScene.off(transition_s=base.transition_s)
    return replace(
        base if base.on else table.phases[phase],
        on=True,
        brightness=level_percent / 100,
    )


# ---------------------------------------------------------------- settings


class AdapterKind(enum.StrEnum):
    """How the room's lights are spoken to over MQTT."""

    ZIGBEE2MQTT = "zigbee2mqtt"
    HA_JSON = "ha_json"
    TASMOTA = "tasmota"
    WLED = "wled"


_TOPIC_PART = re.compile(r"^[^#+\s/][^#+\s]*(?<!/)$")


class _Strict(BaseModel):
    # Same rules as roomctl.settings.StrictModel (not imported: settings imports us).
    model_config = ConfigDict(
        extra="forbid", frozen=True, use_attribute_docstrings=True
    )


class SceneSettings(_Strict):
    """One scene as written in the configuration."""

    state: Literal["on", "off"] = "on"
    """Lights on or off."""
    brightness: Annotated[float, Field(ge=0.0, le=1.0)] = 0.3
    """0.0-1.0 (a fraction of the lights' full output)."""
    kelvin: Annotated[int, Field(ge=1000, le=10000)] | None = None
    """Colour temperature in kelvin (2200 is candle-warm, 4000 neutral)."""
    color_xy: tuple[float, float] | None = None
    """A colour as CIE xy, instead of a colour temperature."""
    color_rgb: tuple[int, int, int] | None = None
    """A colour as sRGB 0-255, instead of a colour temperature."""
    transition_s: Annotated[float, Field(ge=0.0, le=MAX_TRANSITION_S)] = 5.0
    """Seconds to fade into this scene."""

    @model_validator(mode="after")
    def _one_colour(self) -> SceneSettings:
        given = [
            v for v in (self.kelvin, self.color_xy, self.color_rgb) if v is not None
        ]
        if len(given) > 1:
            raise ValueError("give one of kelvin, color_xy or color_rgb")
        if self.state == "on" and self.brightness == 0.0:
            raise ValueError("an 'on' scene needs a brightness above 0")
        return self

    def to_scene(self, name: str) -> LightScene:
        """The scene value.

        Raises:
            ValueError: the colour is out of range.
        """
        color: Color | None = None
        if self.color_xy is not None:
            color = ColorXY(x=self.color_xy[0], y=self.color_xy[1])
        elif self.color_rgb is not None:
            r, g, b = self.color_rgb
            color = ColorRGB(r=r, g=g, b=b)
        return LightScene(
            name=name,
            on=self.state == "on",
            brightness=self.brightness if self.state == "on" else 0.0,
            mired=None if self.kelvin is None else kelvin_to_mired(self.kelvin),
            color=color,
            transition_s=self.transition_s,
        )


class LightingSettings(_Strict):
    """The room's lights: how to reach them and what each phase looks like."""

    adapter: AdapterKind = AdapterKind.ZIGBEE2MQTT
    """``zigbee2mqtt`` (default), ``ha_json``, ``tasmota`` or ``wled``."""
    lights: list[str] = []
    """The lights, moved together. Zigbee2MQTT: friendly names or one group (best: a
    group per room, e.g. ``room-1``). ``ha_json``: each light's command topic.
    ``tasmota``: each device's topic. ``wled``: each device's topic. None: lighting
    is off."""
    base_topic: str = "zigbee2mqtt"
    """Zigbee2MQTT's base topic (its ``mqtt.base_topic``)."""
    scenes: dict[Phase, SceneSettings] = {}
    """Per-phase scene overrides (each held under the phase's ceiling)."""
    ceilings: dict[Phase, Annotated[float, Field(gt=0.0, le=1.0)]] = {}
    """Per-phase brightness ceilings (0.0-1.0) replacing the defaults."""
    safe_scene: SceneSettings | None = None
    """The scene shown when lighting fails (dim and warm; at most 0.3 bright)."""
    ramp_step_s: Annotated[float, Field(ge=0.5, le=20.0)] = 5.0
    """Seconds between the commands of a long ramp (each a native fade this long;
    at most 20 s, Tasmota's longest fade)."""
    return_ramp_min: Annotated[float, Field(ge=0.0, le=60.0)] = 10.0
    """Minutes over which the light rises in the return phase."""
    alarm_scene: bool = True
    """Raise the light for the nurse while an alarm of ``alarm_priorities`` is on."""
    alarm_priorities: list[AlarmPriority] = [AlarmPriority.HIGH]
    """Alarm priorities that bring up the alarm scene."""
    alarm: SceneSettings | None = None
    """The alarm scene, replacing the default (0.6 at 3500 K in 2 s)."""
    mired_min: Annotated[int, Field(ge=MIRED_MIN_VALID, le=MIRED_MAX_VALID)] = (
        MIRED_MIN_TYPICAL
    )
    """Coolest colour temperature the bulbs take, in mireds (153 = 6536 K)."""
    mired_max: Annotated[int, Field(ge=MIRED_MIN_VALID, le=MIRED_MAX_VALID)] = (
        MIRED_MAX_TYPICAL
    )
    """Warmest colour temperature the bulbs take, in mireds (500 = 2000 K)."""
    qos: Annotated[int, Field(ge=0, le=2)] = 1
    """MQTT QoS of light commands (1: the broker acknowledges them)."""
    publish_timeout_s: Annotated[float, Field(gt=0.0, le=30.0)] = 5.0
    """Deadline for one publish; a slower broker counts as a failure."""
    confirm_timeout_s: Annotated[float, Field(ge=0.0, le=120.0)] = 10.0
    """Seconds a light has to report its state after a command before a notice says
    it does not answer (wrong name, bridge down); 0 turns the check off."""

    @field_validator("lights")
    @classmethod
    def _lights_are_topics(cls, value: list[str]) -> list[str]:
        for name in value:
            if not _TOPIC_PART.match(name):
                raise ValueError(
                    f"light {name!r} is not usable in an MQTT topic (no wildcards, "
                    "spaces or leading/trailing '/')"
                )
        if len(set(value)) != len(value):
            raise ValueError("a light is listed twice")
        return value

    @field_validator("base_topic")
    @classmethod
    def _base_is_topic(cls, value: str) -> str:
        if not _TOPIC_PART.match(value):
            raise ValueError(f"base topic {value!r} is not a plain MQTT topic")
        return value

    @model_validator(mode="after")
    def _table_is_valid(self) -> LightingSettings:
        if self.mired_min > self.mired_max:
            raise ValueError("mired_min must not be above mired_max")
        self.scene_table()  # raises ValueError naming the phase
        return self

    def scene_table(self) -> SceneTable:
        """The scene table in force: the default one with these settings applied."""
        default = DEFAULT_SCENE_TABLE
        phases = dict(default.phases)
        for phase, scene in self.scenes.items():
            phases[phase] = scene.to_scene(str(phase))
        phases[Phase.RETURN] = phases[Phase.RETURN].with_transition(
            self.return_ramp_min * 60
        )
        alarm = (
            default.alarm_scenes[AlarmPriority.HIGH]
            if self.alarm is None
            else self.alarm.to_scene(ALARM_SCENE)
        )
        return SceneTable(
            phases=MappingProxyType(phases),
            ceilings=MappingProxyType({**default.ceilings, **self.ceilings}),
            alarm_scenes=MappingProxyType(
                dict.fromkeys(self.alarm_priorities, alarm) if self.alarm_scene else {}
            ),
            safe=(
                default.safe
                if self.safe_scene is None
                else self.safe_scene.to_scene(SAFE_SCENE)
            ),
        )
