"""IEC 61850-8-1 layouts of unsolicited information: reports, LastApplError, CommandTermination.

Reports are ``informationReport`` PDUs whose variable list is named ``RPT`` (vmd-specific)
and whose access results are, in order: RptID, OptFlds, then as OptFlds says SeqNum,
TimeOfEntry, DatSet, BufOvfl, EntryID, ConfRev, (SubSeqNum, MoreSegmentsFollow), the
inclusion bit string, data references, values, reason codes. Control feedback is an
informationReport listing the vmd-specific variable ``LastApplError`` and/or the ``Oper``
structure of the controlled object. Also here: the MMS types of the RCB attributes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from derlink.iec61850.acsi.errors import AddCause, ControlErrorCode, ProtocolError
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
    pack_bits,
    reason_from_bits,
    reason_to_bits,
    trg_ops_from_bits,
    trg_ops_to_bits,
    unpack_bits,
)

RPT = "RPT"
LAST_APPL_ERROR = "LastApplError"


def _visible(value: Any) -> Data:
    return ("visible-string", value)


def information_report(names: list[Any], results: list[Any]) -> tuple[str, Any]:
    """An unconfirmed informationReport PDU with a list of variables."""
    spec = ("listOfVariable", [{"variableSpecification": ("name", n)} for n in names])
    return (
        "unconfirmed-PDU",
        {
            "service": (
                "informationReport",
                {"variableAccessSpecification": spec, "listOfAccessResult": results},
            )
        },
    )


# --- reports ----------------------------------------------------------------------------


def encode_report(report: Report, data_refs: list[str], values: list[Data], count: int) -> Any:
    """The RPT informationReport PDU of ``report``.

    ``values[i]`` is the MMS Data of ``report.members[i]``, ``data_refs[i]`` its 8-1
    reference (used when OptFlds data-ref is set); ``count`` is the data-set size.
    """
    opt = report.opt_flds
    results: list[Any] = [
        ("success", _visible(report.rpt_id)),
        ("success", ("bit-string", opt.to_bits())),
    ]
    if opt.seq_num:
        results.append(("success", ("unsigned", report.seq_num)))
    if opt.time_stamp:
        results.append(("success", ("binary-time", encode_entry_time(report.time_of_entry))))
    if opt.data_set:
        results.append(("success", _visible(report.dat_set)))
    if opt.buf_ovfl:
        results.append(("success", ("boolean", report.buf_ovfl)))
    if opt.entry_id:
        results.append(("success", ("octet-string", report.entry_id)))
    if opt.conf_rev:
        results.append(("success", ("unsigned", report.conf_rev)))
    included = [False] * count
    for member in report.members:
        included[member.index] = True
    results.append(("success", ("bit-string", pack_bits(included))))
    if opt.data_ref:
        results.extend(("success", _visible(ref)) for ref in data_refs)
    results.extend(("success", value) for value in values)
    if opt.reason:
        results.extend(
            ("success", ("bit-string", reason_to_bits(m.reason))) for m in report.members
        )
    spec = ("variableListName", ("vmd-specific", RPT))
    return (
        "unconfirmed-PDU",
        {
            "service": (
                "informationReport",
                {"variableAccessSpecification": spec, "listOfAccessResult": results},
            )
        },
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


def _success(result: Any, kind: str, what: str) -> Any:
    try:
        tag, data = result
        if tag != "success" or data[0] != kind:
            raise ValueError(tag)
        return data[1]
    except (TypeError, ValueError, IndexError):
        raise ProtocolError(f"report field {what}: want {kind}, got {result!r}") from None


def is_report(info: dict[str, Any]) -> bool:
    """Whether an informationReport value is an RPT report."""
    spec = info.get("variableAccessSpecification")
    return spec == ("variableListName", ("vmd-specific", RPT))


def decode_report(info: dict[str, Any]) -> ReceivedReport:
    """Parse the access results of an RPT informationReport; ProtocolError if malformed."""
    results = list(info.get("listOfAccessResult", []))
    pos = 0

    def take(kind: str, what: str) -> Any:
        nonlocal pos
        if pos >= len(results):
            raise ProtocolError(f"report ends before {what}")
        value = _success(results[pos], kind, what)
        pos += 1
        return value

    rpt_id = take("visible-string", "RptID")
    opt = OptFlds.from_bits(take("bit-string", "OptFlds"))
    seq = take("unsigned", "SeqNum") if opt.seq_num else None
    toe = decode_entry_time(take("binary-time", "TimeOfEntry")) if opt.time_stamp else None
    dat_set = take("visible-string", "DatSet") if opt.data_set else None
    ovfl = bool(take("boolean", "BufOvfl")) if opt.buf_ovfl else False
    entry = bytes(take("octet-string", "EntryID")) if opt.entry_id else None
    conf = take("unsigned", "ConfRev") if opt.conf_rev else None
    if opt.segmentation:
        take("unsigned", "SubSeqNum")
        take("boolean", "MoreSegmentsFollow")
    inclusion = tuple(unpack_bits(take("bit-string", "inclusion")))
    n = sum(inclusion)
    refs = tuple(take("visible-string", "data-reference") for _ in range(n)) if opt.data_ref else ()
    values: list[Data] = []
    for _ in range(n):
        if pos >= len(results):
            raise ProtocolError("report ends before its values")
        tag, data = results[pos]
        if tag != "success":
            raise ProtocolError("report value is a failure")
        values.append(data)
        pos += 1
    reasons = (
        tuple(reason_from_bits(take("bit-string", "reason")) for _ in range(n))
        if opt.reason
        else ()
    )
    if pos != len(results):
        raise ProtocolError("report has trailing fields")
    return ReceivedReport(
        rpt_id, opt, seq, toe, dat_set, ovfl, entry, conf, inclusion, refs, tuple(values), reasons
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
    """The 8-1 LastApplError structure."""

    cntrl_obj: str  # e.g. "IEDLD0/DWMX1$CO$WMaxSptPct$Oper"
    error: ControlErrorCode
    or_cat: int
    or_ident: bytes
    ctl_num: int
    add_cause: AddCause

    def to_data(self) -> Data:
        """MMS Data of the structure."""
        return (
            "structure",
            [
                _visible(self.cntrl_obj),
                ("integer", int(self.error)),
                ("structure", [("integer", self.or_cat), ("octet-string", self.or_ident)]),
                ("unsigned", self.ctl_num),
                ("integer", int(self.add_cause)),
            ],
        )

    @classmethod
    def from_data(cls, data: Any) -> LastApplError:
        """Parse the structure; ProtocolError if it does not fit."""
        try:
            kind, items = data
            assert kind == "structure" and len(items) == 5
            obj, err, origin, num, cause = items
            or_cat, or_ident = origin[1]
            try:
                add_cause = AddCause(cause[1])
            except ValueError:
                add_cause = AddCause.UNKNOWN
            try:
                error = ControlErrorCode(err[1])
            except ValueError:
                error = ControlErrorCode.UNKNOWN
            return cls(obj[1], error, or_cat[1], bytes(or_ident[1]), num[1], add_cause)
        except (AssertionError, TypeError, ValueError, IndexError):
            raise ProtocolError(f"malformed LastApplError {data!r}") from None


def last_appl_error_report(error: LastApplError) -> Any:
    """The informationReport carrying a LastApplError (sent before a negative response)."""
    return information_report([("vmd-specific", LAST_APPL_ERROR)], [("success", error.to_data())])


def command_termination(oper_name: Any, oper: Data, error: LastApplError | None) -> Any:
    """CommandTermination: positive (Oper only) or negative (LastApplError, then Oper)."""
    if error is None:
        return information_report([oper_name], [("success", oper)])
    return information_report(
        [("vmd-specific", LAST_APPL_ERROR), oper_name],
        [("success", error.to_data()), ("success", oper)],
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
