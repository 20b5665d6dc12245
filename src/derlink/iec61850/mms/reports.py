"""IEC 61850-8-1 layouts of unsolicited information over MMS ``Data``: reports,
LastApplError and CommandTermination.

Reports are ``informationReport`` PDUs whose variable list name is ``RPT`` (vmd-specific) and
whose access results are, in order: RptID, OptFlds, then as OptFlds says SeqNum, TimeOfEntry,
DatSet, BufOvfl, EntryID, ConfRev, (SubSeqNum, MoreSegmentsFollow), the inclusion bit string,
data references, values, reason codes. :func:`build_report` and :func:`parse_report` turn a
:class:`Report` into that PDU and back; values stay MMS ``Data`` (typed conversion is
:mod:`derlink.iec61850.mms.data`).

Control feedback is an informationReport listing the vmd-specific variable ``LastApplError``
and/or the ``Oper`` structure of the controlled object (CommandTermination).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from derlink.iec61850.mms.data import DataValue, pack_bits, unpack_bits
from derlink.iec61850.mms.errors import MmsDataError, MmsDecodeError, MmsNameError

REPORT_VARIABLE = "RPT"
LAST_APPL_ERROR = "LastApplError"
REPORT_SPEC = ("variableListName", ("vmd-specific", REPORT_VARIABLE))
"""``variableAccessSpecification`` of every report."""
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
_HEADER = (
    ("sequence-number", "seq_num", "unsigned", "SeqNum"),
    ("report-time-stamp", "time_of_entry", "binary-time", "TimeOfEntry"),
    ("data-set-name", "dat_set", "visible-string", "DatSet"),
    ("buffer-overflow", "buf_ovfl", "boolean", "BufOvfl"),
    ("entryID", "entry_id", "octet-string", "EntryID"),
    ("conf-revision", "conf_rev", "unsigned", "ConfRev"),
)
"""The optional single fields after OptFlds, in 8-1 order: (OptFlds bit, :class:`Report`
field, Data alternative, 8-1 name)."""


def _information_report(spec: Any, results: list[Any]) -> tuple[str, Any]:
    return (
        "unconfirmed-PDU",
        {
            "service": (
                "informationReport",
                {"variableAccessSpecification": spec, "listOfAccessResult": results},
            )
        },
    )


def information_report(names: Sequence[Any], results: list[Any]) -> tuple[str, Any]:
    """An unconfirmed informationReport PDU listing the variables ``names`` (ObjectNames)."""
    spec = ("listOfVariable", [{"variableSpecification": ("name", n)} for n in names])
    return _information_report(spec, results)


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
        present = {bit: getattr(self, name) is not None for bit, name, _, _ in _HEADER}
        present["reason-for-inclusion"] = self.reasons is not None
        present["data-reference"] = self.data_refs is not None
        present["segmentation"] = self.sub_seq_num is not None
        return tuple(present.get(name, False) for name in OPT_FLDS)


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
        ("bit-string", pack_bits(report.opt_flds())),
    ]
    for _, name, kind, _ in _HEADER:
        value = getattr(report, name)
        if value is not None:
            out.append((kind, value))
    if report.sub_seq_num is not None:
        out.append(("unsigned", report.sub_seq_num))
        out.append(("boolean", bool(report.more_segments_follow)))
    out.append(("bit-string", pack_bits(report.inclusion)))
    if report.data_refs is not None:
        out.extend(("visible-string", ref) for ref in report.data_refs)
    out.extend(report.values)
    if report.reasons is not None:
        for reason in report.reasons:
            if len(reason) != len(REASON_CODES):
                raise MmsNameError(f"a ReasonCode has {len(REASON_CODES)} bits")
            out.append(("bit-string", pack_bits(reason)))
    return [("success", data) for data in out]


def build_report(report: Report) -> tuple[str, Any]:
    """The ``unconfirmed-PDU`` carrying ``report``."""
    return _information_report(REPORT_SPEC, report_data(report))


def is_report_info(info: Any) -> bool:
    """True when an ``informationReport`` value names the variable list ``RPT``."""
    try:
        return bool(info["variableAccessSpecification"] == REPORT_SPEC)
    except (TypeError, KeyError):
        return False


def is_report(pdu: Any) -> bool:
    """True when ``pdu`` is an informationReport named ``RPT``."""
    try:
        kind, body = pdu
        service, info = body["service"]
        return bool(
            kind == "unconfirmed-PDU" and service == "informationReport" and is_report_info(info)
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


def parse_report_info(info: Any) -> Report:
    """The :class:`Report` in the access results of an RPT ``informationReport`` value;
    raises :class:`MmsDecodeError` on a malformed report."""
    try:
        cursor = _Cursor(list(info["listOfAccessResult"]))
        rpt_id = cursor.take("visible-string", "RptID")
        flags = dict(zip(OPT_FLDS, unpack_bits(cursor.take("bit-string", "OptFlds")), strict=False))
        header = {
            name: cursor.take(kind, what) if flags.get(bit) else None
            for bit, name, kind, what in _HEADER
        }
        sub_seq = more = None
        if flags.get("segmentation"):
            sub_seq = cursor.take("unsigned", "SubSeqNum")
            more = cursor.take("boolean", "MoreSegmentsFollow")
        inclusion = unpack_bits(cursor.take("bit-string", "inclusion bitstring"))
        count = sum(inclusion)
        refs = None
        if flags.get("data-reference"):
            refs = tuple(cursor.take("visible-string", "data reference") for _ in range(count))
        values = tuple(cursor.take("", "data value") for _ in range(count))
        reasons = None
        if flags.get("reason-for-inclusion"):
            reasons = tuple(
                unpack_bits(cursor.take("bit-string", "ReasonCode")) for _ in range(count)
            )
    except (TypeError, ValueError, IndexError, KeyError, MmsDataError) as exc:
        raise MmsDecodeError(f"malformed report: {exc}") from None
    if cursor.index != len(cursor.results):
        raise MmsDecodeError("report has trailing values")
    return Report(
        rpt_id=rpt_id,
        inclusion=inclusion,
        values=values,
        sub_seq_num=sub_seq,
        more_segments_follow=more,
        data_refs=refs,
        reasons=reasons,
        **header,
    )


def parse_report(pdu: Any) -> Report:
    """Inverse of :func:`build_report`; raises :class:`MmsDecodeError` on a malformed report."""
    if not is_report(pdu):
        raise MmsDecodeError("not an RPT informationReport")
    return parse_report_info(pdu[1]["service"][1])


# --- control feedback -------------------------------------------------------------------------


def last_appl_error_data(
    cntrl_obj: str, error: int, or_cat: int, or_ident: bytes, ctl_num: int, add_cause: int
) -> DataValue:
    """The 8-1 LastApplError structure: CntrlObj, Error, Origin (orCat, orIdent), ctlNum,
    AddCause."""
    return (
        "structure",
        [
            ("visible-string", cntrl_obj),
            ("integer", error),
            ("structure", [("integer", or_cat), ("octet-string", or_ident)]),
            ("unsigned", ctl_num),
            ("integer", add_cause),
        ],
    )


def parse_last_appl_error(data: Any) -> tuple[str, int, int, bytes, int, int]:
    """Inverse of :func:`last_appl_error_data`: ``(cntrl_obj, error, or_cat, or_ident,
    ctl_num, add_cause)``, each member taken as it comes; :class:`MmsDecodeError` if the
    structure does not fit."""
    try:
        kind, items = data
        if kind != "structure" or len(items) != 5:
            raise ValueError(kind)
        obj, err, origin, num, cause = items
        or_cat, or_ident = origin[1]
        return obj[1], err[1], or_cat[1], bytes(or_ident[1]), num[1], cause[1]
    except (TypeError, ValueError, IndexError):
        raise MmsDecodeError(f"malformed LastApplError {data!r}") from None


def last_appl_error_report(error: DataValue) -> tuple[str, Any]:
    """The informationReport carrying a LastApplError (sent before a negative response)."""
    return information_report([("vmd-specific", LAST_APPL_ERROR)], [("success", error)])


def command_termination(
    oper_name: Any, oper: DataValue, error: DataValue | None
) -> tuple[str, Any]:
    """CommandTermination: positive (Oper only) or negative (LastApplError, then Oper)."""
    if error is None:
        return information_report([oper_name], [("success", oper)])
    return information_report(
        [("vmd-specific", LAST_APPL_ERROR), oper_name],
        [("success", error), ("success", oper)],
    )
