r"""HL7 v2.6 ORU^R01 messages in the IHE PCD-01 profile, built from a recorded session.

Pure module: a ``SessionHistory`` in, message texts out.

Batching. Each NIBP determination is one message (its four values share one
observation time). Oximetry is one message per device and UTC minute; inside it,
every observation time (one oximeter sample: SpO2 and pulse rate of the same frame)
is one OBR group. So a receiver gets every recorded sample, about one message a
minute, and never a message that spans a long gap.

Message layout (segments end with ``\r``; field meaning as IHE PCD TF-2 and the GE
B40 HL7 manual's PCD-01 examples show them; ``...`` elides)::

    MSH|^~\&|ROOMCTL||||<now>||ORU^R01^ORU_R01|<id>|P|2.6|||AL|NE||UNICODE UTF-8
        |||PCD_DEC_001^IHE PCD^1.3.6.1.4.1.19376.1.6.1.1.1^ISO
    PID|||<session id>^^^ROOMCTL^ANON
    PV1||U|^<room>||...||<session id>^^^ROOMCTL^VN                      (PV1-19)
    OBR|1|<session id>.<n>^ROOMCTL|<same>|182777000^monitoring of patient^SCT
        |||<time>
    OBX|1||69965^MDC_DEV_MON_PHYSIO_MULTI_PARAM_MDS^MDC|1.0.0.0|||||||X|||<time>
        ||||<room>^ROOMCTL
    OBX|2|NM|150456^MDC_PULS_OXIM_SAT_O2^MDC|1.0.0.1|97|262688^MDC_DIM_PERCENT^MDC
        |||||R|||<time>||||<device>.<room>^ROOMCTL

Identification. roomctl knows no patient name or identifier and sends none: PID-3
carries the session id (room and start time) as an anonymous identifier, PID-5 (name)
is empty, PV1-3 names the room and PV1-19 repeats the session id as the visit number.
The receiver must match the session to a patient by room and time itself.

Result status. A valid value is sent with OBX-11 ``R`` (results entered, not
verified): the values come straight from the device and no clinician has verified
them (the GE B40 manual's PCD-01 examples send ``R`` for monitor numerics).

Invalid readings (status other than ``ok``: sensor off, searching, low perfusion,
artifact, questionable, device error, unavailable) are sent with OBX-5 empty and
OBX-11 ``X``, "results cannot be obtained for this observation" (HL7 table 0085),
which is what the Philips Efficia CM data export guide (p. 3-18) does when the monitor
shows ``?``. OBX-8 carries the IHE PCD null flavour for the missing value (IHE wiki,
"Null Flavors in PCD": OBX-8 gives the reason an observation is missing): ``NAV``
(temporarily not available) for the device's own "no value" states, ``NI`` (no
information) when the device gave no reason. We found no PCD rule mapping the
11073 measurement-status bits ("invalid", "questionable") to OBX-8 codes we could
verify, so roomctl's exact status is not coded in HL7; the CSV export carries it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from roomctl.export.codes import (
    MDS,
    MDS_SUB_ID,
    METRIC_CODING,
    NIBP_METRICS,
    OXIMETRY_METRICS,
    MetricCoding,
)
from roomctl.export.numbers import format_number, utc_datetime
from roomctl.readings import Metric, ReadingStatus

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime

    from roomctl.history import RecordedReading, SessionHistory

#: Segment terminator (HL7 v2: carriage return).
SEGMENT_END = "\r"
#: MSH-2: component, repetition, escape and subcomponent separators.
ENCODING_CHARACTERS = "^~\\&"
#: MSH-9.
MESSAGE_TYPE = "ORU^R01^ORU_R01"
#: MSH-12.
HL7_VERSION = "2.6"
#: MSH-21: the IHE PCD DEC PCD-01 message profile (protocols.md §4).
PCD_01_PROFILE = "PCD_DEC_001^IHE PCD^1.3.6.1.4.1.19376.1.6.1.1.1^ISO"
#: MSH-3 and the namespace of every identifier roomctl assigns.
NAMESPACE = "ROOMCTL"
#: OBR-4 for unsolicited monitoring results (GE B40 HL7 manual p. 19 example).
MONITORING_SERVICE = "182777000^monitoring of patient^SCT"
#: Oximetry samples per message: one message per this many seconds (UTC-aligned).
OXIMETRY_BATCH_S = 60
#: OBX-11 for a value from the device, not verified by a clinician.
RESULT_UNVERIFIED = "R"
#: OBX-11 for a header OBX or an observation whose value could not be obtained.
RESULT_NOT_OBTAINED = "X"
#: OBX-8 null flavour: temporarily not available (the device said why).
FLAG_NOT_AVAILABLE = "NAV"
#: OBX-8 null flavour: no information (the device gave no reason).
FLAG_NO_INFORMATION = "NI"
#: Longest control id prefix (MSH-10 gets 6 more digits; 20 characters in all).
MAX_CONTROL_PREFIX = 14

#: Statuses in which the device said why it has no value.
_REASONED = frozenset(s.value for s in ReadingStatus) - {
    ReadingStatus.OK.value,
    ReadingStatus.UNAVAILABLE.value,
}

_ESCAPES = {
    "\\": "\\E\\",
    "|": "\\F\\",
    "^": "\\S\\",
    "&": "\\T\\",
    "~": "\\R\\",
}


def escape(text: str) -> str:
    r"""``text`` with HL7's delimiters and control characters escaped.

    >>> escape("a|b^c&d~e\\f")
    'a\\F\\b\\S\\c\\T\\d\\R\\e\\E\\f'
    >>> escape("line one\nline two")
    'line one\\X0A\\line two'
    """
    out: list[str] = []
    for char in text:
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\X{ord(char):02X}\\")
        else:
            out.append(char)
    return "".join(out)


def hl7_time(ts: float) -> str:
    """Epoch seconds as an HL7 DTM in UTC: ``YYYYMMDDHHMMSS[.SSS]+0000``.

    >>> hl7_time(1795251600.25), hl7_time(1795251600.0)
    ('20261121090000.250+0000', '20261121090000+0000')
    """
    at = utc_datetime(ts)
    millis = at.microsecond // 1000
    fraction = f".{millis:03d}" if millis else ""
    return f"{at:%Y%m%d%H%M%S}{fraction}+0000"


@dataclass(frozen=True, slots=True)
class Hl7Message:
    """One ORU^R01 message."""

    #: MSH-10, the id the receiver's acknowledgement names.
    control_id: str
    #: The whole message, every segment ending in ``\r``.
    text: str
    #: Metric OBXs in it (header OBXs not counted).
    observations: int


@dataclass(frozen=True, slots=True)
class _Batch:
    """Readings of one message: OBR groups, each one observation time."""

    device: str
    groups: list[list[RecordedReading]]

    @property
    def first_ts(self) -> float:
        return self.groups[0][0].ts


def _segment(name: str, fields: Sequence[str]) -> str:
    """``name|f1|f2...`` ending the segment (every segment's last field is valued)."""
    return "|".join([name, *fields]) + SEGMENT_END


def _fields(count: int, values: dict[int, str]) -> list[str]:
    """Fields 1..``count`` of a segment, empty unless given in ``values``."""
    return [values.get(i, "") for i in range(1, count + 1)]


def _batches(readings: Sequence[RecordedReading]) -> list[_Batch]:
    by_key: dict[tuple[str, str, float], _Batch] = {}
    for reading in readings:
        if reading.metric in NIBP_METRICS:
            key = ("nibp", reading.device, reading.ts)
        elif reading.metric in OXIMETRY_METRICS:
            minute = float(int(reading.ts // OXIMETRY_BATCH_S))
            key = ("oximetry", reading.device, minute)
        else:
            continue  # no verified MDC code: CSV only
        batch = by_key.get(key)
        if batch is None:
            by_key[key] = _Batch(device=reading.device, groups=[[reading]])
            continue
        group = batch.groups[-1]
        same_time = group[0].ts == reading.ts
        if same_time and all(r.metric != reading.metric for r in group):
            group.append(reading)
        else:
            batch.groups.append([reading])
    return sorted(by_key.values(), key=lambda b: (b.first_ts, b.device))


def _value_fields(reading: RecordedReading) -> tuple[str, str, str]:
    """OBX-5, OBX-8 and OBX-11 for one reading."""
    value = reading.value
    if (
        reading.status == ReadingStatus.OK
        and value is not None
        and math.isfinite(value)
    ):
        return format_number(value), "", RESULT_UNVERIFIED
    flag = FLAG_NOT_AVAILABLE if reading.status in _REASONED else FLAG_NO_INFORMATION
    return "", flag, RESULT_NOT_OBTAINED


def _metric_obx(
    set_id: int, reading: RecordedReading, coding: MetricCoding, equipment: str
) -> str:
    value, flag, status = _value_fields(reading)
    return _segment(
        "OBX",
        _fields(
            18,
            {
                1: str(set_id),
                2: "NM",
                3: coding.observation.coded(),
                4: coding.sub_id,
                5: value,
                6: coding.unit.coded(),
                8: flag,
                11: status,
                14: hl7_time(reading.ts),
                18: equipment,
            },
        ),
    )


class _Builder:
    def __init__(
        self, history: SessionHistory, *, control_prefix: str, now: datetime
    ) -> None:
        info = history.info
        self._room = escape(info.room)
        self._session = escape(info.id)
        self._now = hl7_time(now.timestamp())
        self._prefix = control_prefix
        self._obr_seq = 0

    def _header(self, control_id: str) -> str:
        msh_fields = {
            2: ENCODING_CHARACTERS,
            3: NAMESPACE,  # sending application
            7: self._now,  # date/time of message
            9: MESSAGE_TYPE,
            10: control_id,
            11: "P",  # production
            12: HL7_VERSION,
            15: "AL",  # accept acknowledgement: always
            16: "NE",  # application acknowledgement: never
            18: "UNICODE UTF-8",
            21: PCD_01_PROFILE,
        }
        # MSH-1 is the field separator itself, so the fields start at MSH-2.
        msh = "|".join(["MSH", *_fields(21, msh_fields)[1:]])
        anonymous = f"{self._session}^^^{NAMESPACE}^ANON"
        visit = f"{self._session}^^^{NAMESPACE}^VN"
        pid = _segment("PID", _fields(3, {3: anonymous}))
        pv1 = _segment("PV1", _fields(19, {2: "U", 3: f"^{self._room}", 19: visit}))
        return msh + SEGMENT_END + pid + pv1

    def _obr_group(self, index: int, group: list[RecordedReading]) -> tuple[str, int]:
        self._obr_seq += 1
        ts = hl7_time(group[0].ts)
        order = f"{self._session}.{self._obr_seq}^{NAMESPACE}"
        text = _segment(
            "OBR",
            _fields(
                7, {1: str(index), 2: order, 3: order, 4: MONITORING_SERVICE, 7: ts}
            ),
        )
        text += _segment(
            "OBX",
            _fields(
                18,
                {
                    1: "1",
                    3: MDS.coded(),
                    4: MDS_SUB_ID,
                    11: RESULT_NOT_OBTAINED,
                    14: ts,
                    18: f"{self._room}^{NAMESPACE}",
                },
            ),
        )
        ordered = sorted(
            group, key=lambda r: METRIC_CODING[Metric(r.metric)].metric_index
        )
        for set_id, reading in enumerate(ordered, start=2):
            coding = METRIC_CODING[Metric(reading.metric)]
            equipment = f"{escape(reading.device)}.{self._room}^{NAMESPACE}"
            text += _metric_obx(set_id, reading, coding, equipment)
        return text, len(ordered)

    def message(self, number: int, batch: _Batch) -> Hl7Message:
        control_id = f"{self._prefix}{number:06d}"
        text = self._header(control_id)
        observations = 0
        for index, group in enumerate(batch.groups, start=1):
            group_text, count = self._obr_group(index, group)
            text += group_text
            observations += count
        return Hl7Message(control_id=control_id, text=text, observations=observations)


def build_messages(
    history: SessionHistory, *, control_prefix: str, now: datetime
) -> list[Hl7Message]:
    """Every SpO2, pulse-rate and NIBP reading of the session as ORU^R01 messages.

    Args:
        history: the session, as ``roomctl.history.load_session`` gives it.
        control_prefix: the start of every MSH-10 (letters and digits, at most 14),
            unique per export so that two exports never reuse a control id.
        now: the message creation time (MSH-7), aware.

    Returns:
        The messages in time order (empty when there is nothing to report).
    """
    if not (control_prefix.isalnum() and len(control_prefix) <= MAX_CONTROL_PREFIX):
        raise ValueError(f"bad control id prefix {control_prefix!r}")
    builder = _Builder(history, control_prefix=control_prefix, now=now)
    return [
        builder.message(number, batch)
        for number, batch in enumerate(_batches(history.readings), start=1)
    ]
