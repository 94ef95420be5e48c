"""roomctl: the treatment-room daemon for ketamine-assisted psychotherapy.

roomctl reads vital signs from serial monitors, alarms on them by a clinical policy,
drives music and light with the session's phases, publishes everything over MQTT and
records everything. It is a secondary display and automation layer: the bedside
monitor's own alarms stay primary.

This package root holds the version only; import the modules you need.
"""

from __future__ import annotations

__version__ = "0.1.0"

#: The notice every user-facing surface shows.
SAFETY_NOTICE = (
    "Secondary display: the bedside monitor's own alarms stay primary. "
    "Relayed alarms may be delayed."
)

__all__ = ["SAFETY_NOTICE", "__version__"]
