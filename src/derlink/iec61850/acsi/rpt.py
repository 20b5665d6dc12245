"""Reports, LastApplError and CommandTermination of ACSI in their IEC 61850-8-1 layouts.

The layouts themselves (which MMS ``Data`` in which order) are
:mod:`derlink.iec61850.mms.reports`; this module fills them from the ACSI values
(:class:`~derlink.iec61850.acsi.reporting.Report`, ``OptFlds``, ``Reason``, ``AddCause``) and
reads them back into what the client hands on, turning malformed input into
:class:`ProtocolError`. Also here: the MMS types of the RCB attributes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from derlink.iec61850.acsi.errors import (
    AddCause,
    ControlErrorCode,
    ProtocolError,
    ServiceError,
)
from derlink.iec61850.acsi.mapping import (
    Data,
    data_to_python,
    decode_entry_time,
    encode_entry_time,
)
from derlink.iec61850.acsi.reporting import (
    OptFlds,
    Reason,
    Report,
    reason_code,
    reason_from_code,
    trg_ops_from_bits,
    trg_ops_to_bits,
)
from derlink.iec61850.mms import reports as layout
from derlink.iec61850.mms.errors import MmsError
from derlink.iec61850.mms.reports import information_report as information_report

RPT = layout.REPORT_VARIABLE
LAST_APPL_ERROR = layout.LAST_APPL_ERROR


def _visible(value: Any) -> Data:
    return ("visible-string", value)


# --- reports ----------------------------------------------------------------------------


def encode_report(report: Report, data_refs: list[str], values: list[Data], count: int) -> Any:
    """The RPT informationReport PDU of ``report``.

    ``values[i]`` is the MMS Data of ``report.members[i]``, ``data_refs[i]`` its 8-1
    reference (used when OptFlds data-ref is set); ``count`` is the data-set size. With
    OptFlds segmentation set the report is the only segment (SubSeqNum 0, no more follow).
    """
    opt = report.opt_flds
    included = [False] * count
    for member in report.members:
        included[member.index] = True
    return layout.build_report(
        layout.Report(
            rpt_id=report.rpt_id,
            inclusion=tuple(included),
            values=tuple(values),
            seq_num=report.seq_num if opt.seq_num else None,
            time_of_entry=encode_entry_time(report.time_of_entry) if opt.time_stamp else None,
            dat_set=report.dat_set if opt.data_set else None,
            buf_ovfl=report.buf_ovfl if opt.buf_ovfl else None,
            entry_id=report.entry_id if opt.entry_id else None,
            conf_rev=report.conf_rev if opt.conf_rev else None,
            sub_seq_num=0 if opt.segmentation else None,
            more_segments_follow=False if opt.segmentation else None,
            data_refs=tuple(data_refs) if opt.data_ref else None,
            reasons=tuple(reason_code(m.reason) for m in report.members) if opt.reason else None,
        )
    )


@dataclass(frozen=True)
class ReceivedReport:
    """A report as a client decodes it (values untyped: see ``mapping.data_to_python``)."""

    rpt_id: str
    opt_flds: OptFlds
    seq_num: int | None
    time_of_entry: float | None
    dat_set: str | None
    buf_ovfl: bool
    entry_id: bytes | None
    conf_rev: int | None
    inclusion: tuple[bool, ...]
    data_refs: tuple[str, ...]
    values: tuple[Data, ...]
    reasons: tuple[Reason, ...]

    @property
    def indices(self) -> tuple[int, ...]:
        """Data-set indices of the included members, in report order."""
        return tuple(i for i, bit in enumerate(self.inclusion) if bit)

    def python_values(self) -> list[Any]:
        """The included values as plain Python values."""
        return [data_to_python(v) for v in self.values]


def is_report(info: dict[str, Any]) -> bool:
    """Whether an informationReport value is an RPT report."""
    return layout.is_report_info(info)


def decode_report(info: dict[str, Any]) -> ReceivedReport:
    """Parse the access results of an RPT informationReport; ProtocolError if malformed."""
    try:
        got = layout.parse_report_info(info)
        toe = decode_entry_time(got.time_of_entry) if got.time_of_entry is not None else None
    except (MmsError, ServiceError) as exc:
        raise ProtocolError(f"malformed report: {exc}") from None
    return ReceivedReport(
        rpt_id=got.rpt_id,
        opt_flds=OptFlds(*got.opt_flds()[1:]),
        seq_num=got.seq_num,
        time_of_entry=toe,
        dat_set=got.dat_set,
        buf_ovfl=bool(got.buf_ovfl),
        entry_id=bytes(got.entry_id) if got.entry_id is not None else None,
        conf_rev=got.conf_rev,
        inclusion=got.inclusion,
        data_refs=got.data_refs or (),
        values=got.values,
        reasons=tuple(reason_from_code(r) for r in got.reasons or ()),
    )


# --- RCB attribute types -------------------------------------------------------------------


def rcb_attr_to_data(attr: str, value: Any, buffered: bool) -> Data:
    """MMS Data of one RCB attribute value (as ``ReportControlBlock.read`` gives it)."""
    if attr in ("RptID", "DatSet"):
        return _visible(value)
    if attr in ("RptEna", "Resv", "GI", "PurgeBuf"):
        return ("boolean", value)
    if attr in ("ConfRev", "BufTm", "IntgPd", "SqNum"):
        return ("unsigned", value)
    if attr == "OptFlds":
        return ("bit-string", value.to_bits())
    if attr == "TrgOps":
        return ("bit-string", trg_ops_to_bits(value))
    if attr in ("EntryID", "Owner"):
        return ("octet-string", value)
    if attr == "TimeOfEntry":
        return ("binary-time", encode_entry_time(value))
    if attr == "ResvTms":
        return ("integer", value)
    raise ProtocolError(f"no RCB attribute {attr}")


def rcb_attr_type(attr: str, buffered: bool) -> tuple[str, Any]:
    """The 8-1 TypeDescription of one RCB attribute."""
    table: dict[str, tuple[str, Any]] = {
        "RptID": ("visible-string", -129),
        "DatSet": ("visible-string", -129),
        "RptEna": ("boolean", None),
        "Resv": ("boolean", None),
        "GI": ("boolean", None),
        "PurgeBuf": ("boolean", None),
        "ConfRev": ("unsigned", 32),
        "BufTm": ("unsigned", 32),
        "IntgPd": ("unsigned", 32),
        "SqNum": ("unsigned", 16 if buffered else 8),
        "OptFlds": ("bit-string", 10),
        "TrgOps": ("bit-string", 6),
        "EntryID": ("octet-string", 8),
        "Owner": ("octet-string", -64),
        "TimeOfEntry": ("binary-time", True),
        "ResvTms": ("integer", 16),
    }
    return table[attr]


def data_to_rcb_attr(attr: str, data: Any) -> Any:
    """The Python value of a written RCB attribute; a value of the wrong MMS type is passed
    through as ``None`` kind so that the block refuses it with type-conflict."""
    try:
        kind, raw = data
    except (TypeError, ValueError):
        return None
    want = rcb_attr_type(attr, True)[0]
    if kind != want:
        return data  # the block answers type-conflict
    if attr == "OptFlds":
        return OptFlds.from_bits(raw)
    if attr == "TrgOps":
        return trg_ops_from_bits(raw)
    if kind == "octet-string":
        return bytes(raw)
    if kind == "binary-time":
        return decode_entry_time(bytes(raw))
    return raw


# --- control feedback ------------------------------------------------------------------------


@dataclass(frozen=True)
class LastApplError:
    """The 8-1 LastApplError structure (layout: ``mms.reports.last_appl_error_data``)."""

    cntrl_obj: str  # e.g. "IEDLD0/DWMX1$CO$WMaxSptPct$Oper"
    error: ControlErrorCode
    or_cat: int
    or_ident: bytes
    ctl_num: int
    add_cause: AddCause

    def to_data(self) -> Data:
        """MMS Data of the structure."""
        return layout.last_appl_error_data(
            self.cntrl_obj,
            int(self.error),
            self.or_cat,
            self.or_ident,
            self.ctl_num,
            int(self.add_cause),
        )

    @classmethod
    def from_data(cls, data: Any) -> LastApplError:
        """Parse the structure; ProtocolError if it does not fit. Unknown codes read as
        ``UNKNOWN``."""
        try:
            obj, err, or_cat, or_ident, num, cause = layout.parse_last_appl_error(data)
        except MmsError:
            raise ProtocolError(f"malformed LastApplError {data!r}") from None
        try:
            add_cause = AddCause(cause)
        except ValueError:
            add_cause = AddCause.UNKNOWN
        try:
            error = ControlErrorCode(err)
        except ValueError:
            error = ControlErrorCode.UNKNOWN
        return cls(obj, error, or_cat, or_ident, num, add_cause)


def last_appl_error_report(error: LastApplError) -> Any:
    """The informationReport carrying a LastApplError (sent before a negative response)."""
    return layout.last_appl_error_report(error.to_data())


def command_termination(oper_name: Any, oper: Data, error: LastApplError | None) -> Any:
    """CommandTermination: positive (Oper only) or negative (LastApplError, then Oper)."""
    return layout.command_termination(
        oper_name, oper, error.to_data() if error is not None else None
    )


__all__ = [
    "LAST_APPL_ERROR",
    "RPT",
    "LastApplError",
    "ReceivedReport",
    "command_termination",
    "data_to_rcb_attr",
    "decode_report",
    "encode_report",
    "information_report",
    "is_report",
    "last_appl_error_report",
    "rcb_attr_to_data",
    "rcb_attr_type",
]
