r"""A structural checker for the HL7 v2.6 ORU^R01 (IHE PCD-01) messages roomctl writes.

Test code, written independently of ``roomctl.export``: its code table is copied from
``protocols.md`` §4 here, so a wrong table in the product fails the check.

``problems(text)`` returns every problem found (empty when the text passes):

- every message starts with MSH; segments end with ``\r``;
- segment order ``MSH PID PV1 (OBR OBX+)+``;
- field counts within HL7 v2.6 limits, MSH exactly 21 fields;
- MSH-2, -9, -10 (unique, <= 20 characters), -11, -12, -21 as PCD-01 requires;
- no patient name in PID-5;
- OBR-1 and OBX-1 numbered from 1 in order, OBR-3 and OBR-4 given;
- OBX-3 codes and names only from the verified table, OBX-6 units matching the code;
- OBX-4 dotted containment, unique within its OBR; each OBR starts with the MDS header;
- an empty OBX-5 only with OBX-11 ``X`` and an OBX-8 null flavour, a value only with
  OBX-11 ``R``, values valid NM;
- timestamps ``YYYYMMDDHHMMSS[.S[S[S[S]]]]+/-ZZZZ`` and real dates; OBX-14 = OBR-7;
- every backslash in a field starts a known escape sequence.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

#: protocols.md §4, "Codes (urn:iso:std:iso:11073:10101)". 69798/69799 are listed there
#: only as "pulse-ox VMD/channel" without a reference id, so they cannot be checked by
#: name and are left out.
VERIFIED_CODES = {
    150456: "MDC_PULS_OXIM_SAT_O2",
    149530: "MDC_PULS_OXIM_PULS_RATE",
    150020: "MDC_PRESS_BLD_NONINV",
    150021: "MDC_PRESS_BLD_NONINV_SYS",
    150022: "MDC_PRESS_BLD_NONINV_DIA",
    150023: "MDC_PRESS_BLD_NONINV_MEAN",
    266016: "MDC_DIM_MMHG",
    262688: "MDC_DIM_PERCENT",
    264864: "MDC_DIM_BEAT_PER_MIN",
    149546: "MDC_PULS_RATE_NON_INV",
    69965: "MDC_DEV_MON_PHYSIO_MULTI_PARAM_MDS",
}
#: The unit each measured quantity must carry.
UNIT_OF = {
    150456: 262688,
    149530: 264864,
    150021: 266016,
    150022: 266016,
    150023: 266016,
    149546: 264864,
}
MDS_CODE = 69965
PROFILE = "PCD_DEC_001^IHE PCD^1.3.6.1.4.1.19376.1.6.1.1.1^ISO"
NULL_FLAVOURS = {"NI", "NA", "NAV", "OFF", "MSK", "OTH", "NAN", "PINF", "NINF"}
MAX_FIELDS = {"MSH": 21, "PID": 39, "PV1": 52, "OBR": 50, "OBX": 25}
TIMESTAMP = re.compile(
    r"(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(?:\.(\d{1,4}))?([+-])(\d{2})(\d{2})"
)
NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)")
ESCAPE = re.compile(r"\\(F|S|T|R|E|X(?:[0-9A-Fa-f]{2})+)\\")
CONTAINMENT = re.compile(r"\d+\.\d+\.\d+\.\d+")
_UNESCAPES = {"F": "|", "S": "^", "T": "&", "R": "~", "E": "\\"}


def unescape(text: str) -> str:
    """The text an HL7 field value stands for."""

    def replace(match: re.Match[str]) -> str:
        code = match.group(1)
        if code in _UNESCAPES:
            return _UNESCAPES[code]
        return bytes.fromhex(code[1:]).decode("latin-1")

    return ESCAPE.sub(replace, text)


def parse_timestamp(text: str) -> datetime | None:
    """An HL7 DTM as an aware datetime, or ``None`` when it is not one."""
    match = TIMESTAMP.fullmatch(text)
    if match is None:
        return None
    year, month, day, hour, minute, second, frac, sign, zh, zm = match.groups()
    offset = timedelta(hours=int(zh), minutes=int(zm))
    try:
        at = datetime(
            int(year),
            int(month),
            int(day),
            int(hour),
            int(minute),
            int(second),
            int((frac or "0").ljust(6, "0")),
            tzinfo=timezone(-offset if sign == "-" else offset),
        )
    except ValueError:
        return None
    return at.astimezone(UTC)


def split_messages(text: str) -> list[list[str]]:
    """Segments grouped into messages (a message starts at each MSH)."""
    messages: list[list[str]] = []
    for segment in text.split("\r"):
        if not segment:
            continue
        if segment.startswith("MSH") or not messages:
            messages.append([])
        messages[-1].append(segment)
    return messages


def field(segment: str, number: int) -> str:
    """Field ``number`` of a segment (HL7 numbering; MSH-1 is the separator)."""
    parts = segment.split("|")
    index = number - 1 if parts[0] == "MSH" else number
    if parts[0] == "MSH" and number == 1:
        return "|"
    return parts[index] if index < len(parts) else ""


class _Check:
    def __init__(self) -> None:
        self.found: list[str] = []

    def expect(self, ok: bool, where: str, what: str) -> None:
        if not ok:
            self.found.append(f"{where}: {what}")

    def timestamp(self, text: str, where: str) -> datetime | None:
        at = parse_timestamp(text)
        self.expect(at is not None, where, f"bad timestamp {text!r}")
        return at

    def escapes(self, segment: str, where: str) -> None:
        for number, value in enumerate(segment.split("|")[1:], start=1):
            if segment.startswith("MSH") and number == 1:
                continue  # MSH-2 holds the escape character itself
            stripped = ESCAPE.sub("", value)
            self.expect(
                "\\" not in stripped, f"{where}-{number}", f"bad escape in {value!r}"
            )

    def message(self, segments: list[str], n: int) -> str:
        where = f"message {n}"
        names = [s.split("|")[0] for s in segments]
        letters = "".join(
            {"MSH": "M", "PID": "P", "PV1": "V", "OBR": "R", "OBX": "X"}.get(x, "?")
            for x in names
        )
        self.expect(
            re.fullmatch(r"MPV(RX+)+", letters) is not None,
            where,
            f"segment order {' '.join(names)}",
        )
        for i, segment in enumerate(segments):
            name = names[i]
            limit = MAX_FIELDS.get(name, 0)
            count = len(segment.split("|")) - (0 if name == "MSH" else 1)
            self.expect(count <= limit, f"{where} {name}", f"{count} fields")
            self.escapes(segment, f"{where} {name}")
        msh = segments[0]
        self.expect(msh.startswith("MSH|^~\\&|"), where, "MSH-1/MSH-2 separators")
        self.expect(len(msh.split("|")) == 21, where, "MSH must have 21 fields")
        for number, wanted in (
            (9, "ORU^R01^ORU_R01"),
            (11, "P"),
            (12, "2.6"),
            (21, PROFILE),
        ):
            got = field(msh, number)
            self.expect(got == wanted, f"{where} MSH-{number}", f"{got!r}")
        control_id = field(msh, 10)
        self.expect(0 < len(control_id) <= 20, where, f"MSH-10 {control_id!r}")
        self.timestamp(field(msh, 7), f"{where} MSH-7")
        pid = next((s for s in segments if s.startswith("PID|")), "")
        self.expect(bool(field(pid, 3)), where, "PID-3 missing")
        self.expect(field(pid, 5) == "", where, "PID-5 (patient name) must be empty")
        pv1 = next((s for s in segments if s.startswith("PV1|")), "")
        self.expect(bool(field(pv1, 3)), where, "PV1-3 (location) missing")
        self.groups(segments, where)
        return control_id

    def groups(self, segments: list[str], where: str) -> None:
        obr_count = 0
        obr_time: datetime | None = None
        obx_count = 0
        sub_ids: set[str] = set()
        for segment in segments:
            if segment.startswith("OBR|"):
                obr_count += 1
                obx_count = 0
                sub_ids = set()
                here = f"{where} OBR {obr_count}"
                self.expect(field(segment, 1) == str(obr_count), here, "OBR-1 order")
                self.expect(bool(field(segment, 3)), here, "OBR-3 missing")
                self.expect(bool(field(segment, 4)), here, "OBR-4 missing")
                obr_time = self.timestamp(field(segment, 7), f"{here} OBR-7")
            elif segment.startswith("OBX|"):
                obx_count += 1
                here = f"{where} OBR {obr_count} OBX {obx_count}"
                self.expect(field(segment, 1) == str(obx_count), here, "OBX-1 order")
                self.observation(segment, here, first=obx_count == 1, sub_ids=sub_ids)
                stamp = field(segment, 14)
                if stamp:
                    at = self.timestamp(stamp, f"{here} OBX-14")
                    self.expect(at == obr_time, here, "OBX-14 differs from OBR-7")

    def coded(self, text: str, where: str) -> int | None:
        parts = text.split("^")
        ok = len(parts) == 3 and parts[2] == "MDC" and parts[0].isdigit()
        self.expect(ok, where, f"not code^name^MDC: {text!r}")
        if not ok:
            return None
        code = int(parts[0])
        self.expect(code in VERIFIED_CODES, where, f"code {code} is not verified")
        self.expect(
            VERIFIED_CODES.get(code) == parts[1], where, f"{code} is not {parts[1]}"
        )
        return code

    def observation(
        self, segment: str, where: str, *, first: bool, sub_ids: set[str]
    ) -> None:
        code = self.coded(field(segment, 3), f"{where} OBX-3")
        sub_id = field(segment, 4)
        self.expect(CONTAINMENT.fullmatch(sub_id) is not None, where, f"OBX-4 {sub_id}")
        self.expect(sub_id not in sub_ids, where, f"OBX-4 {sub_id} repeated")
        sub_ids.add(sub_id)
        value, status, flag = field(segment, 5), field(segment, 11), field(segment, 8)
        if first:
            self.expect(code == MDS_CODE, where, "an OBR must start with the MDS")
            self.expect(sub_id.endswith(".0.0.0"), where, "MDS header OBX-4")
        if code == MDS_CODE:
            header_ok = not value and not field(segment, 2) and not field(segment, 6)
            self.expect(header_ok, where, "a header OBX carries no value or units")
            self.expect(status == "X", where, "a header OBX has OBX-11 X")
            return
        self.expect(field(segment, 2) == "NM", where, "OBX-2 must be NM")
        unit = self.coded(field(segment, 6), f"{where} OBX-6")
        if code is not None:
            self.expect(UNIT_OF.get(code) == unit, where, f"unit {unit} for {code}")
        if value:
            self.expect(NUMBER.fullmatch(value) is not None, where, f"NM {value!r}")
            self.expect(status == "R", where, f"valued OBX-11 {status!r}")
            self.expect(not flag, where, f"valued OBX-8 {flag!r}")
        else:
            self.expect(status == "X", where, f"empty OBX-5 with OBX-11 {status!r}")
            self.expect(flag in NULL_FLAVOURS, where, f"empty OBX-5, OBX-8 {flag!r}")


def problems(text: str) -> list[str]:
    """Every structural problem of an HL7 text of one or more messages."""
    check = _Check()
    check.expect(text.endswith("\r"), "text", "the last segment must end with CR")
    check.expect("\n" not in text, "text", "segments end with CR, never LF")
    messages = split_messages(text)
    check.expect(bool(messages), "text", "no message")
    control_ids: list[str] = []
    for n, segments in enumerate(messages, start=1):
        check.expect(segments[0].startswith("MSH|"), f"message {n}", "no MSH first")
        control_ids.append(check.message(segments, n))
    check.expect(len(set(control_ids)) == len(control_ids), "text", "MSH-10 repeated")
    return check.found
