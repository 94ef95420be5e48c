"""ISO/IEEE 11073-10101 (MDC) codes for the HL7 export, and where each metric sits.

Pure module. Only codes from the verified table of ``protocols.md`` §4 are used, each
with the source that confirms it:

| code | name | source |
|---|---|---|
| 69965 | MDC_DEV_MON_PHYSIO_MULTI_PARAM_MDS | GE B40 HL7 manual p. 19 (PCD-01) |
| 150456 | MDC_PULS_OXIM_SAT_O2 | HL7 FHIR IG pages (protocols.md §4 [P]) |
| 149530 | MDC_PULS_OXIM_PULS_RATE | HL7 PHD IG example (protocols.md §4 [P]) |
| 150021 | MDC_PRESS_BLD_NONINV_SYS | HL7 PHD IG bloodPress example (§4 [P]) |
| 150022 | MDC_PRESS_BLD_NONINV_DIA | same (§4 [P]) |
| 150023 | MDC_PRESS_BLD_NONINV_MEAN | same (§4 [P]) |
| 149546 | MDC_PULS_RATE_NON_INV | code examples only (§4 [S]), several agreeing |
| 262688 | MDC_DIM_PERCENT | code examples (§4 [S]) |
| 264864 | MDC_DIM_BEAT_PER_MIN | code examples (§4 [S]); GE B40 manual p. 15 |
| 266016 | MDC_DIM_MMHG | HL7 PoCD IG (§4 [P]); GE B40 manual p. 15 |

Containment (OBX-4, ``MDS.VMD.Channel.Metric``). roomctl reports one MDS, the room
(``1.0.0.0``, header OBX with code 69965). The VMD and channel levels are written as
``0`` ("not applicable"; the flat layout IHE PCD allows and Continua gateways use),
so there are no VMD or channel header OBXs. Why: ``protocols.md`` lists 69798/69799
as the pulse-oximeter VMD/channel, but the code samples it cites are inconsistent
(one uses 69798 for both the ECG and the pulse-oximeter VMD, and the wrong 150457 for
pulse rate), and two GE-derived samples give 69798 = MDC_DEV_ECG_VMD. Labelling our
SpO2 as an ECG device would be worse than leaving the level out. NIBP VMD/channel
codes are not in the verified table at all. Add the headers once those codes are
checked against the 11073-10101 tables.

Metric numbers (the fourth level) are fixed per metric, so a receiver sees the same
sub-id for the same quantity in every message. Perfusion index and cuff pressure have
no verified code and are left out of HL7 (they are in the CSV).
"""

from __future__ import annotations

from dataclasses import dataclass

from roomctl.readings import Metric


@dataclass(frozen=True, slots=True, kw_only=True)
class MdcCode:
    """One term of the 11073-10101 nomenclature."""

    #: The numeric context-free code.
    code: int
    #: The reference id (``MDC_...``).
    name: str

    def coded(self) -> str:
        """The HL7 CWE value ``code^NAME^MDC`` (no escaping needed: digits, A-Z, _)."""
        return f"{self.code}^{self.name}^MDC"


@dataclass(frozen=True, slots=True, kw_only=True)
class MetricCoding:
    """How one roomctl metric is reported in an OBX."""

    observation: MdcCode
    unit: MdcCode
    #: The metric level of OBX-4 (``1.0.0.<metric_index>``).
    metric_index: int

    @property
    def sub_id(self) -> str:
        """OBX-4 for this metric."""
        return f"{MDS_INDEX}.0.0.{self.metric_index}"


#: The room as a multi-parameter monitor: the one MDS of every message.
MDS = MdcCode(code=69965, name="MDC_DEV_MON_PHYSIO_MULTI_PARAM_MDS")
#: The MDS level of OBX-4.
MDS_INDEX = 1
#: OBX-4 of the MDS header OBX.
MDS_SUB_ID = f"{MDS_INDEX}.0.0.0"

PERCENT = MdcCode(code=262688, name="MDC_DIM_PERCENT")
BEAT_PER_MIN = MdcCode(code=264864, name="MDC_DIM_BEAT_PER_MIN")
MMHG = MdcCode(code=266016, name="MDC_DIM_MMHG")

#: Every metric the HL7 export reports, with its code, unit and OBX-4 position.
METRIC_CODING: dict[Metric, MetricCoding] = {
    Metric.SPO2_PERCENT: MetricCoding(
        observation=MdcCode(code=150456, name="MDC_PULS_OXIM_SAT_O2"),
        unit=PERCENT,
        metric_index=1,
    ),
    Metric.PULSE_RATE_BPM: MetricCoding(
        observation=MdcCode(code=149530, name="MDC_PULS_OXIM_PULS_RATE"),
        unit=BEAT_PER_MIN,
        metric_index=2,
    ),
    Metric.SYSTOLIC_MMHG: MetricCoding(
        observation=MdcCode(code=150021, name="MDC_PRESS_BLD_NONINV_SYS"),
        unit=MMHG,
        metric_index=3,
    ),
    Metric.DIASTOLIC_MMHG: MetricCoding(
        observation=MdcCode(code=150022, name="MDC_PRESS_BLD_NONINV_DIA"),
        unit=MMHG,
        metric_index=4,
    ),
    Metric.MAP_MMHG: MetricCoding(
        observation=MdcCode(code=150023, name="MDC_PRESS_BLD_NONINV_MEAN"),
        unit=MMHG,
        metric_index=5,
    ),
    Metric.NIBP_PULSE_RATE_BPM: MetricCoding(
        observation=MdcCode(code=149546, name="MDC_PULS_RATE_NON_INV"),
        unit=BEAT_PER_MIN,
        metric_index=6,
    ),
}

#: Metrics sampled continuously by the oximeter (batched per minute).
OXIMETRY_METRICS = frozenset({Metric.SPO2_PERCENT, Metric.PULSE_RATE_BPM})
#: Metrics of one NIBP determination (one message each).
NIBP_METRICS = frozenset(
    {
        Metric.SYSTOLIC_MMHG,
        Metric.DIASTOLIC_MMHG,
        Metric.MAP_MMHG,
        Metric.NIBP_PULSE_RATE_BPM,
    }
)
