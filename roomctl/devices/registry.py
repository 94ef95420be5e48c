"""The explicit registry of wire protocols: ``DRIVERS[ProtocolId] -> DriverSpec``.

No registration by import side effect: configuration names a protocol and the
composition root looks it up here. (It lives beside, not in, ``devices/__init__.py``
so that importing a pure codec never imports the asyncio drivers.)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from roomctl.devices.masimo_ascii1.driver import DRIVER_SPEC as MASIMO_ASCII1
from roomctl.devices.nonin_df2.driver import DRIVER_SPEC as NONIN_DF2
from roomctl.devices.suntech_nibp.driver import DRIVER_SPEC as SUNTECH_ADVANTAGE
from roomctl.readings import ProtocolId

if TYPE_CHECKING:
    from roomctl.devices.base import DriverSpec

#: Every protocol roomctl speaks.
DRIVERS: dict[ProtocolId, DriverSpec] = {
    ProtocolId.MASIMO_ASCII1: MASIMO_ASCII1,
    ProtocolId.NONIN_DF2: NONIN_DF2,
    ProtocolId.SUNTECH_ADVANTAGE: SUNTECH_ADVANTAGE,
}
