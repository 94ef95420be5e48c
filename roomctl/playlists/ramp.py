"""Volume ramps and crossfade curves, as pure functions of monotonic time.

Pure module: no clock is read; every value is asked for at an explicit ``now``.

Volumes are in the player's *perceptual percent* (libVLC's 0-100 volume). libVLC's
software volume turns percent into amplitude as a cube: ``(percent / 100) ** 3``
(amem.c ``SoftVolumeSet``; measured here: 50 % gave 0.125 of the amplitude), so a
linear ramp in percent already sounds even, and ``VOLUME_EXPONENT`` lets crossfades be
*equal power* in amplitude: the outgoing and incoming tracks' powers always add up to
the full level, with no dip or bump in the middle.

>>> fade = Ramp(
...     start=0.0, end=1.0, start_mono=10.0, duration_s=4.0, curve=Curve.EQUAL_POWER
... )
>>> round(fade.value_at(10.0), 3), round(fade.value_at(14.0), 3), fade.done(14.0)
(0.0, 1.0, True)
>>> out = Ramp(
...     start=1.0, end=0.0, start_mono=10.0, duration_s=4.0, curve=Curve.EQUAL_POWER
... )
>>> mid_in, mid_out = fade.value_at(12.0) ** 3, out.value_at(12.0) ** 3
>>> round(mid_in**2 + mid_out**2, 6)  # power of the two amplitudes at half-way
1.0
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

__all__ = ["VOLUME_EXPONENT", "Curve", "Ramp", "amplitude", "decibels"]

#: Amplitude = (percent / 100) ** VOLUME_EXPONENT for libVLC's software volume.
VOLUME_EXPONENT = 3.0


def amplitude(percent: float) -> float:
    """Linear amplitude (0-1) of a perceptual volume in percent.

    >>> amplitude(50.0)
    0.125
    """
    return math.pow(max(percent, 0.0) / 100.0, VOLUME_EXPONENT)


def decibels(percent: float) -> float:
    """Level in dB (relative to 100 %) of a perceptual volume in percent.

    >>> round(decibels(50.0), 1)
    -18.1
    """
    value = amplitude(percent)
    return 20 * math.log10(value) if value > 0 else -math.inf


class Curve(enum.StrEnum):
    """How a ramp moves from its start to its end."""

    #: Straight line in perceptual percent (volume changes, ducking, pause fades).
    LINEAR = "linear"
    #: Quarter-sine in amplitude (``sin`` rising, ``cos`` falling): crossfades.
    EQUAL_POWER = "equal_power"


@dataclass(frozen=True, slots=True, kw_only=True)
class Ramp:
    """A value moving from ``start`` to ``end`` within ``duration_s``."""

    start: float
    end: float
    #: Monotonic seconds when the ramp begins.
    start_mono: float
    duration_s: float = 0.0
    curve: Curve = Curve.LINEAR

    @classmethod
    def hold(cls, value: float) -> Ramp:
        """A ramp that is already at ``value``."""
        return cls(start=value, end=value, start_mono=0.0)

    def progress(self, now: float) -> float:
        """0 at the start, 1 at (and after) the end."""
        if self.duration_s <= 0:
            return 1.0
        return min(max((now - self.start_mono) / self.duration_s, 0.0), 1.0)

    def value_at(self, now: float) -> float:
        """The value at monotonic time ``now``."""
        t = self.progress(now)
        if t >= 1.0:
            return self.end
        if self.curve is Curve.LINEAR or self.start == self.end:
            return self.start + (self.end - self.start) * t
        # Equal power: amplitude follows sin/cos, so percent follows their cube root.
        root = 1.0 / VOLUME_EXPONENT
        if self.end > self.start:
            shape = math.pow(math.sin(0.5 * math.pi * t), root)
            return self.start + (self.end - self.start) * shape
        shape = math.pow(math.cos(0.5 * math.pi * t), root)
        return self.end + (self.start - self.end) * shape

    def done(self, now: float) -> bool:
        """Whether the ramp has reached its end."""
        return self.progress(now) >= 1.0

    def to(
        self,
        end: float,
        *,
        now: float,
        duration_s: float,
        curve: Curve = Curve.LINEAR,
    ) -> Ramp:
        """A new ramp from this one's value at ``now`` to ``end``."""
        return Ramp(
            start=self.value_at(now),
            end=end,
            start_mono=now,
            duration_s=max(duration_s, 0.0),
            curve=curve,
        )
