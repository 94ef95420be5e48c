"""The simulator registry: protocol id -> device model factory."""

from __future__ import annotations

from typing import TYPE_CHECKING

from roomctl.readings import ProtocolId
from simulators.masimo_ascii1 import MasimoAscii1Model
from simulators.nonin_df2 import NoninDf2Model
from simulators.suntech_nibp import SuntechModel

if TYPE_CHECKING:
    from simulators.model import DeviceModel
    from simulators.scenarios import Scenario


def make_model(protocol: ProtocolId, scenario: Scenario, seed: int) -> DeviceModel:
    """A device model speaking ``protocol`` and playing ``scenario``."""
    if protocol is ProtocolId.NONIN_DF2:
        return NoninDf2Model(scenario, seed)
    if protocol is ProtocolId.MASIMO_ASCII1:
        return MasimoAscii1Model(scenario, seed)
    return SuntechModel(scenario, seed)
