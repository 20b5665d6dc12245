"""IEC 61850-8-1 naming on MMS, and the layout of report InformationReports.

A 61850 data attribute ``IED1LD0/MMXU1.TotW.mag.f`` with FC ``MX`` is the MMS variable
``domain-specific {domainID "IED1LD0", itemID "MMXU1$MX$TotW$mag$f"}``: the domain is the
logical device name (IED name + LD inst), the item is ``LN$FC$DO$DA...``. Datasets are named
variable lists ``LLN0$<name>`` in the LD domain; report control blocks are ``LLN0$BR$<name>``
(buffered) or ``LLN0$RP$<name>`` (unbuffered). Identifiers hold at most 64 characters
(8-1 Ed.2) of ``A-Z a-z 0-9 _ $``, not starting with a digit.

Reports are ``informationReport`` PDUs whose variable list name is ``RPT``; :func:`build_report`
and :func:`parse_report` turn a :class:`Report` into that PDU and back (values stay MMS
``Data``; the reporting code converts them with :mod:`derlink.iec61850.mms.data`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from derlink.iec61850.mms.errors import MmsDecodeError, MmsNameError

MAX_IDENTIFIER = 64
ObjectName = tuple[str, Any]
"""An asn1tools value of ``ObjectName``."""

_IDENT_RE = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")
_PART_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|[0-9]+")
FUNCTIONAL_CONSTRAINTS = frozenset(
    {"ST", "MX", "SP", "SV", "CF", "DC", "SG", "SE", "SR", "OR", "BL", "EX", "CO", "US", "MS"}
    | {"RP", "BR", "LG", "GO", "GS", "SC"}
)

REPORT_VARIABLE = "RPT"
OPT_FLDS = (
    "reserved",
    "sequence-number",
    "report-time-stamp",
    "reason-for-inclusion",
    "data-set-name",
    "data-reference",
    "buffer-overflow",
    "entryID",
    "conf-revision",
    "segmentation",
)
"""Bits of the reported OptFlds BIT STRING (10 bits), in order."""
REASON_CODES = (
    "reserved",
    "data-change",
    "quality-change",
    "data-update",
    "integrity",
    "general-interrogation",
    "application-trigger",
)
"""Bits of a ReasonCode BIT STRING (7 bits), in order."""


def check_identifier(text: str, what: str = "identifier") -> str:
    """``text`` if it is a valid MMS Identifier for 61850, else :class:`MmsNameError`."""
    if not isinstance(text, str) or not _IDENT_RE.fullmatch(text):
        raise MmsNameError(f"invalid MMS {what}: {text!r}")
    if len(text) > MAX_IDENTIFIER:
        raise MmsNameError(f"MMS {what} longer than {MAX_IDENTIFIER} characters: {text!r}")
    return text


def _check_part(part: str, what: str) -> str:
    if not isinstance(part, str) or not _PART_RE.fullmatch(part):
        raise MmsNameError(f"invalid {what} {part!r} in an MMS name")
    return part


def _check_fc(fc: str) -> str:
    if fc not in FUNCTIONAL_CONSTRAINTS:
        raise MmsNameError(f"unknown functional constraint {fc!r}")
    return fc


@dataclass(frozen=True)
class ItemName:
    """The parts of an 8-1 item id: logical node, FC (None for the LN itself) and path."""

    ln: str
    fc: str | None = None
    path: tuple[str, ...] = ()

    def __str__(self) -> str:
        return item_id(self.ln, self.fc, self.path)


def item_id(ln: str, fc: str | None = None, path: Sequence[str] = ()) -> str:
    """``LN``, ``LN$FC`` or ``LN$FC$DO$DA...`` (array indices are path parts of digits)."""
    parts = [_check_part(ln, "logical node")]
    if fc is None:
        if path:
            raise MmsNameError("a data path needs a functional constraint")
    else:
        parts.append(_check_fc(fc))
        parts.extend(_check_part(p, "data name") for p in path)
    return check_identifier("$".join(parts), "item id")


def parse_item_id(item: str) -> ItemName:
    """Inverse of :func:`item_id`."""
    check_identifier(item, "item id")
    parts = item.split("$")
    if any(p == "" for p in parts):
        raise MmsNameError(f"empty component in item id {item!r}")
    ln = _check_part(parts[0], "logical node")
    if len(parts) == 1:
        return ItemName(ln)
    fc = _check_fc(parts[1])
    return ItemName(ln, fc, tuple(_check_part(p, "data name") for p in parts[2:]))


def domain_specific(domain: str, item: str) -> ObjectName:
    return (
        "domain-specific",
        {"domainID": check_identifier(domain, "domain"), "itemID": check_identifier(item)},
    )


def mms_name(
    ld_domain: str, ln: str, fc: str | None = None, path: Sequence[str] = ()
) -> ObjectName:
    """The ObjectName of a 61850 object: domain = LD name, item = ``LN$FC$DO$DA...``."""
    return domain_specific(ld_domain, item_id(ln, fc, path))


def split_object_name(name: ObjectName) -> tuple[str, str]:
    """``(domain, item)`` of a domain-specific ObjectName."""
    try:
        kind, value = name
        if kind != "domain-specific":
            raise MmsNameError(f"expected a domain-specific name, got {kind}")
        return value["domainID"], value["itemID"]
    except (TypeError, ValueError, KeyError):
        raise MmsNameError(f"malformed ObjectName {name!r}") from None


def parse_mms_name(name: ObjectName) -> tuple[str, ItemName]:
    """Inverse of :func:`mms_name`: ``(ld_domain, ItemName)``."""
    domain, item = split_object_name(name)
    return check_identifier(domain, "domain"), parse_item_id(item)


def dataset_name(ld_domain: str, ln: str, name: str) -> ObjectName:
    """Named variable list of a dataset: ``LLN0$<name>`` in the LD domain."""
    _check_part(name, "dataset name")
    return domain_specific(ld_domain, check_identifier(f"{_check_part(ln, 'LN')}${name}"))


def parse_dataset_name(name: ObjectName) -> tuple[str, str, str]:
    """``(ld_domain, ln, dataset)`` of a dataset ObjectName."""
    domain, item = split_object_name(name)
    parts = item.split("$")
    if len(parts) != 2:
        raise MmsNameError(f"not a dataset item id: {item!r}")
    return domain, _check_part(parts[0], "LN"), _check_part(parts[1], "dataset name")


def rcb_name(ld_domain: str, ln: str, rcb: str, buffered: bool) -> ObjectName:
    """``LLN0$BR$<rcb>`` (buffered) or ``LLN0$RP$<rcb>`` (unbuffered)."""
    return mms_name(ld_domain, ln, "BR" if buffered else "RP", (rcb,))


def parse_rcb_name(name: ObjectName) -> tuple[str, str, str, bool]:
    """``(ld_domain, ln, rcb, buffered)`` of a report control block ObjectName."""
    domain, parsed = parse_mms_name(name)
    if parsed.fc not in ("BR", "RP") or len(parsed.path) != 1:
        raise MmsNameError(f"not a report control block: {parsed}")
    return domain, parsed.ln, parsed.path[0], parsed.fc == "BR"


# --- reports ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Report:
    """One 8-1 report. Optional fields are present exactly when not None; OptFlds is derived
    from their presence (``sub_seq_num`` and ``more_segments_follow`` go together)."""

    rpt_id: str
    inclusion: tuple[bool, ...]
    values: tuple[tuple[str, Any], ...]
    seq_num: int | None = None
    time_of_entry: bytes | None = None  # binary-time octets (6), see data.BinaryTime
    dat_set: str | None = None
    buf_ovfl: bool | None = None
    entry_id: bytes | None = None
    conf_rev: int | None = None
    sub_seq_num: int | None = None
    more_segments_follow: bool | None = None
    data_refs: tuple[str, ...] | None = None
    reasons: tuple[tuple[bool, ...], ...] | None = None

    def opt_flds(self) -> tuple[bool, ...]:
        present = {
            "sequence-number": self.seq_num is not None,
            "report-time-stamp": self.time_of_entry is not None,
            "reason-for-inclusion": self.reasons is not None,
            "data-set-name": self.dat_set is not None,
            "data-reference": self.data_refs is not None,
            "buffer-overflow": self.buf_ovfl is not None,
            "entryID": self.entry_id is not None,
            "conf-revision": self.conf_rev is not None,
            "segmentation": self.sub_seq_num is not None,
        }
        return tuple(present.get(name, False) for name in OPT_FLDS)


def _bits(bits: Sequence[bool]) -> tuple[bytes, int]:
    raw = bytearray((len(bits) + 7) // 8)
    for index, bit in enumerate(bits):
        if bit:
            raw[index // 8] |= 0x80 >> (index % 8)
    return bytes(raw), len(bits)


def _unbits(value: Any) -> tuple[bool, ...]:
    raw, count = value
    return tuple(bool(raw[i // 8] & (0x80 >> (i % 8))) for i in range(count))


def report_data(report: Report) -> list[tuple[str, Any]]:
    """The ``listOfAccessResult`` of a report (all ``success``), in 8-1 order."""
    included = sum(report.inclusion)
    if len(report.values) != included:
        raise MmsNameError(f"{included} members included but {len(report.values)} values")
    if (report.sub_seq_num is None) != (report.more_segments_follow is None):
        raise MmsNameError("SubSeqNum and MoreSegmentsFollow go together")
    for name, items in (("data references", report.data_refs), ("reasons", report.reasons)):
        if items is not None and len(items) != included:
            raise MmsNameError(f"{included} members included but {len(items)} {name}")
    out: list[tuple[str, Any]] = [
        ("visible-string", report.rpt_id),
        ("bit-string", _bits(report.opt_flds())),
    ]
    if report.seq_num is not None:
        out.append(("unsigned", report.seq_num))
    if report.time_of_entry is not None:
        out.append(("binary-time", report.time_of_entry))
    if report.dat_set is not None:
        out.append(("visible-string", report.dat_set))
    if report.buf_ovfl is not None:
        out.append(("boolean", report.buf_ovfl))
    if report.entry_id is not None:
        out.append(("octet-string", report.entry_id))
    if report.conf_rev is not None:
        out.append(("unsigned", report.conf_rev))
    if report.sub_seq_num is not None:
        out.append(("unsigned", report.sub_seq_num))
        out.append(("boolean", bool(report.more_segments_follow)))
    out.append(("bit-string", _bits(report.inclusion)))
    if report.data_refs is not None:
        out.extend(("visible-string", ref) for ref in report.data_refs)
    out.extend(report.values)
    if report.reasons is not None:
        for reason in report.reasons:
            if len(reason) != len(REASON_CODES):
                raise MmsNameError(f"a ReasonCode has {len(REASON_CODES)} bits")
            out.append(("bit-string", _bits(reason)))
    return [("success", data) for data in out]


def build_report(report: Report) -> tuple[str, Any]:
    """The ``unconfirmed-PDU`` carrying ``report``."""
    return (
        "unconfirmed-PDU",
        {
            "service": (
                "informationReport",
                {
                    "variableAccessSpecification": (
                        "variableListName",
                        ("vmd-specific", REPORT_VARIABLE),
                    ),
                    "listOfAccessResult": report_data(report),
                },
            )
        },
    )


def is_report(pdu: Any) -> bool:
    """True when ``pdu`` is an informationReport named ``RPT``."""
    try:
        kind, body = pdu
        service, info = body["service"]
        spec = info["variableAccessSpecification"]
        return bool(
            kind == "unconfirmed-PDU"
            and service == "informationReport"
            and spec == ("variableListName", ("vmd-specific", REPORT_VARIABLE))
        )
    except (TypeError, ValueError, KeyError):
        return False


class _Cursor:
    def __init__(self, results: list[Any]) -> None:
        self.results = results
        self.index = 0

    def take(self, kind: str, what: str) -> Any:
        if self.index >= len(self.results):
            raise MmsDecodeError(f"report ends before {what}")
        result = self.results[self.index]
        self.index += 1
        if not (isinstance(result, tuple) and result[0] == "success"):
            raise MmsDecodeError(f"report {what} is not a success value")
        data = result[1]
        if kind and data[0] != kind:
            raise MmsDecodeError(f"report {what} should be {kind}, got {data[0]}")
        return data[1] if kind else data


def parse_report(pdu: Any) -> Report:
    """Inverse of :func:`build_report`; raises :class:`MmsDecodeError` on a malformed report."""
    if not is_report(pdu):
        raise MmsDecodeError("not an RPT informationReport")
    cursor = _Cursor(list(pdu[1]["service"][1]["listOfAccessResult"]))
    try:
        rpt_id = cursor.take("visible-string", "RptID")
        flags = dict(zip(OPT_FLDS, _unbits(cursor.take("bit-string", "OptFlds")), strict=False))
        seq_num = cursor.take("unsigned", "SeqNum") if flags.get("sequence-number") else None
        toe = cursor.take("binary-time", "TimeOfEntry") if flags.get("report-time-stamp") else None
        dat_set = cursor.take("visible-string", "DatSet") if flags.get("data-set-name") else None
        buf_ovfl = cursor.take("boolean", "BufOvfl") if flags.get("buffer-overflow") else None
        entry_id = cursor.take("octet-string", "EntryID") if flags.get("entryID") else None
        conf_rev = cursor.take("unsigned", "ConfRev") if flags.get("conf-revision") else None
        sub_seq = more = None
        if flags.get("segmentation"):
            sub_seq = cursor.take("unsigned", "SubSeqNum")
            more = cursor.take("boolean", "MoreSegmentsFollow")
        inclusion = _unbits(cursor.take("bit-string", "inclusion bitstring"))
        count = sum(inclusion)
        refs = None
        if flags.get("data-reference"):
            refs = tuple(cursor.take("visible-string", "data reference") for _ in range(count))
        values = tuple(cursor.take("", "data value") for _ in range(count))
        reasons = None
        if flags.get("reason-for-inclusion"):
            reasons = tuple(_unbits(cursor.take("bit-string", "ReasonCode")) for _ in range(count))
    except (TypeError, ValueError, IndexError, KeyError) as exc:
        raise MmsDecodeError(f"malformed report: {exc}") from None
    if cursor.index != len(cursor.results):
        raise MmsDecodeError("report has trailing values")
    return Report(
        rpt_id=rpt_id,
        inclusion=inclusion,
        values=values,
        seq_num=seq_num,
        time_of_entry=toe,
        dat_set=dat_set,
        buf_ovfl=buf_ovfl,
        entry_id=entry_id,
        conf_rev=conf_rev,
        sub_seq_num=sub_seq,
        more_segments_follow=more,
        data_refs=refs,
        reasons=reasons,
    )
