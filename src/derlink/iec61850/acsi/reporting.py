"""Report control blocks of IEC 61850-7-2 §17 (URCB and BRCB) as sans-IO state machines.

One :class:`ReportControlBlock` holds the attributes a client reads and writes (RptEna,
Resv/ResvTms, Owner, TrgOps, IntgPd, BufTm, GI, EntryID, PurgeBuf, OptFlds, ...) and turns
data changes, integrity periods and general interrogations into :class:`Report` values. The
server feeds it data-set member changes from the value store and the current time; it hands
back what to send. A buffered block keeps every entry in a bounded buffer, also while its
client is away: after reconnection the client writes the last EntryID it received and gets
exactly the entries after it (or all buffered ones without that write); entries lost to a
full buffer are flagged with BufOvfl on the next report sent.

The 8-1 layout of the report (the ``RPT`` informationReport) is
:mod:`derlink.iec61850.mms.reports`; :mod:`derlink.iec61850.acsi.rpt` fills it from a
:class:`Report`. The bit-string helpers here fix the 8-1 bit positions of TrgOps, OptFlds and
ReasonCode (the BIT STRING packing itself is ``mms.data.pack_bits``).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field, replace
from enum import IntFlag
from typing import Any

from derlink.iec61850.acsi.errors import ServiceError, ServiceErrorClass
from derlink.iec61850.mms import data as mms_data
from derlink.iec61850.mms.data import pack_bits as pack_bits
from derlink.iec61850.mms.errors import MmsDataError

ENTRY_ID_SIZE = 8
NO_ENTRY = bytes(ENTRY_ID_SIZE)
DEFAULT_BUFFER_ENTRIES = 256
EPSILON = 1e-6


class Reason(IntFlag):
    """Reason for inclusion; also used for the trigger options (7-2 TrgOps)."""

    NONE = 0
    DCHG = 1
    QCHG = 2
    DUPD = 4
    INTEGRITY = 8
    GI = 16
    APP_TRIGGER = 32


_REASON_ORDER = (
    Reason.DCHG,
    Reason.QCHG,
    Reason.DUPD,
    Reason.INTEGRITY,
    Reason.GI,
    Reason.APP_TRIGGER,
)


def unpack_bits(value: tuple[bytes, int]) -> list[bool]:
    """The bits of an asn1tools BIT STRING value (:func:`pack_bits` is the inverse)."""
    try:
        return list(mms_data.unpack_bits(value))
    except MmsDataError:
        raise ServiceError(
            ServiceErrorClass.TYPE_CONFLICT, "bit string shorter than its length"
        ) from None


def _from_flags(bits: list[bool], order: tuple[Reason, ...]) -> Reason:
    out = Reason.NONE
    for i, r in enumerate(order, start=1):
        if i < len(bits) and bits[i]:
            out |= r
    return out


def trg_ops_to_bits(trg: Reason) -> tuple[bytes, int]:
    """8-1 TrgConditions BIT STRING(6): reserved, dchg, qchg, dupd, integrity, gi."""
    return pack_bits([False, *(bool(trg & r) for r in _REASON_ORDER[:5])])


def trg_ops_from_bits(value: tuple[bytes, int]) -> Reason:
    """Inverse of :func:`trg_ops_to_bits` (extra bits are ignored)."""
    return _from_flags(unpack_bits(value), _REASON_ORDER[:5])


def reason_code(reason: Reason) -> tuple[bool, ...]:
    """The 7 bits of an 8-1 ReasonCode: reserved, dchg, qchg, dupd, integrity, gi,
    app-trigger."""
    return (False, *(bool(reason & r) for r in _REASON_ORDER))


def reason_from_code(bits: tuple[bool, ...] | list[bool]) -> Reason:
    """Inverse of :func:`reason_code` (extra bits are ignored)."""
    return _from_flags(list(bits), _REASON_ORDER)


def reason_to_bits(reason: Reason) -> tuple[bytes, int]:
    """8-1 ReasonCode BIT STRING(7) of ``reason`` (see :func:`reason_code`)."""
    return pack_bits(reason_code(reason))


def reason_from_bits(value: tuple[bytes, int]) -> Reason:
    """Inverse of :func:`reason_to_bits`."""
    return reason_from_code(unpack_bits(value))


@dataclass(frozen=True)
class OptFlds:
    """Optional fields of a report (8-1 RCBOptFlds, BIT STRING(10))."""

    seq_num: bool = True
    time_stamp: bool = True
    reason: bool = True
    data_set: bool = True
    data_ref: bool = False
    buf_ovfl: bool = True
    entry_id: bool = True
    conf_rev: bool = True
    segmentation: bool = False

    def to_bits(self) -> tuple[bytes, int]:
        """Bits: reserved, seq-num, time-stamp, reason, data-set, data-ref, buf-ovfl,
        entryID, conf-rev, segmentation."""
        return pack_bits(
            [
                False,
                self.seq_num,
                self.time_stamp,
                self.reason,
                self.data_set,
                self.data_ref,
                self.buf_ovfl,
                self.entry_id,
                self.conf_rev,
                self.segmentation,
            ]
        )

    @classmethod
    def from_bits(cls, value: tuple[bytes, int]) -> OptFlds:
        """Inverse of :meth:`to_bits`."""
        bits = unpack_bits(value) + [False] * 10
        return cls(*bits[1:10])

    def for_block(self, buffered: bool) -> OptFlds:
        """What a block of this kind reports: BufOvfl and EntryID exist in BRCBs only."""
        if buffered:
            return replace(self, segmentation=False)
        return replace(self, buf_ovfl=False, entry_id=False, segmentation=False)


@dataclass(frozen=True)
class Member:
    """One data-set member in a report: its index in the data set, value and reason."""

    index: int
    value: Any
    reason: Reason


@dataclass(frozen=True)
class Entry:
    """A report entry as kept in the buffer of a BRCB (or produced once by a URCB)."""

    entry_id: bytes
    time_of_entry: float
    members: tuple[Member, ...]


@dataclass(frozen=True)
class Report:
    """One report to send to the owner of a block (7-2 §17.2.3.2 parameters)."""

    rcb: str
    owner: str
    rpt_id: str
    opt_flds: OptFlds
    seq_num: int
    time_of_entry: float
    dat_set: str
    buf_ovfl: bool
    entry_id: bytes
    conf_rev: int
    members: tuple[Member, ...]
    buffered: bool = False


def entry_id_int(entry_id: bytes) -> int:
    """An EntryID as an integer (EntryIDs of one block grow monotonically)."""
    return int.from_bytes(entry_id, "big")


@dataclass
class RcbConfig:
    """What SCL declares for a report control block (one instance)."""

    ref: str  # e.g. "IEDLD0/LLN0.brcbA" (7-2 reference, FC BR or RP)
    buffered: bool
    dat_set: str  # data-set reference, e.g. "IEDLD0/LLN0.dsMeas"
    member_count: int
    rpt_id: str = ""
    conf_rev: int = 1
    trg_ops: Reason = Reason.DCHG | Reason.QCHG | Reason.GI
    intg_pd_ms: int = 0
    buf_tm_ms: int = 0
    opt_flds: OptFlds = field(default_factory=OptFlds)
    buffer_entries: int = DEFAULT_BUFFER_ENTRIES
    resv_tms: int = 0  # BRCB: -1 reserved by configuration, 0 none, >0 seconds


# Attribute names of 7-2 (8-1 item names under LLN0$BR$name / LLN0$RP$name).
URCB_ATTRIBUTES = (
    "RptID",
    "RptEna",
    "Resv",
    "DatSet",
    "ConfRev",
    "OptFlds",
    "BufTm",
    "SqNum",
    "TrgOps",
    "IntgPd",
    "GI",
    "Owner",
)
BRCB_ATTRIBUTES = (
    "RptID",
    "RptEna",
    "DatSet",
    "ConfRev",
    "OptFlds",
    "BufTm",
    "SqNum",
    "TrgOps",
    "IntgPd",
    "GI",
    "PurgeBuf",
    "EntryID",
    "TimeOfEntry",
    "ResvTms",
    "Owner",
)


def _type_error(attr: str, expected: str) -> ServiceError:
    return ServiceError(ServiceErrorClass.TYPE_CONFLICT, f"{attr} takes {expected}")


class ReportControlBlock:
    """One URCB or BRCB instance: attributes, reservation, trigger handling and buffer."""

    def __init__(self, config: RcbConfig, *, first_entry_id: int = 1) -> None:
        self.config = config
        self.ref = config.ref
        self.buffered = config.buffered
        self.rpt_id = config.rpt_id or config.ref.replace(".", "$")
        self.dat_set = config.dat_set
        self.conf_rev = config.conf_rev
        self.trg_ops = config.trg_ops
        self.intg_pd_ms = config.intg_pd_ms
        self.buf_tm_ms = config.buf_tm_ms
        self.opt_flds = config.opt_flds
        self.rpt_ena = False
        self.resv = False  # URCB
        self.resv_tms = config.resv_tms if config.buffered else 0
        self.owner: str | None = None
        self.sq_num = 0
        self.entry_id = NO_ENTRY  # last entry sent (BRCB)
        self.time_of_entry = 0.0
        self._next_entry = first_entry_id
        self._buffer: deque[Entry] = deque()
        self._sent_upto = 0  # entries with a larger id are still to send
        self._resume_written = False
        self._overflow = False
        self._pending: dict[int, Member] = {}
        self._pending_since = 0.0
        self._pending_last = 0.0
        self._next_integrity: float | None = None
        self._owner_connected = False
        self._release_at: float | None = None

    # -- reading ---------------------------------------------------------------------------

    @property
    def attributes(self) -> tuple[str, ...]:
        """The attribute names of this kind of block."""
        return BRCB_ATTRIBUTES if self.buffered else URCB_ATTRIBUTES

    def read(self, attr: str) -> Any:
        """The current value of one attribute (Python value, see :meth:`write`)."""
        values: dict[str, Any] = {
            "RptID": self.rpt_id,
            "RptEna": self.rpt_ena,
            "DatSet": self.dat_set,
            "ConfRev": self.conf_rev,
            "OptFlds": self.opt_flds,
            "BufTm": self.buf_tm_ms,
            "SqNum": self.sq_num,
            "TrgOps": self.trg_ops,
            "IntgPd": self.intg_pd_ms,
            "GI": False,
            "Owner": self.owner.encode()[:64] if self.owner is not None else b"",
        }
        if self.buffered:
            values.update(
                PurgeBuf=False,
                EntryID=self.entry_id,
                TimeOfEntry=self.time_of_entry,
                ResvTms=self.resv_tms,
            )
        else:
            values["Resv"] = self.resv
        if attr not in self.attributes:
            raise ServiceError(ServiceErrorClass.INSTANCE_NOT_AVAILABLE, f"{self.ref}.{attr}")
        return values[attr]

    def reserved_by_other(self, peer: str) -> bool:
        """True when another client holds this block."""
        return self.owner is not None and self.owner != peer

    @property
    def buffered_entries(self) -> list[Entry]:
        """The entries kept in the buffer, oldest first (BRCB)."""
        return list(self._buffer)

    # -- writing ---------------------------------------------------------------------------

    def write(
        self, peer: str, attr: str, value: Any, now: float, snapshot: list[Any]
    ) -> list[Report]:
        """Write one attribute for ``peer``; refusals raise :class:`ServiceError` and change
        nothing. ``snapshot`` is the data set's current values (used by GI and integrity).

        Values: RptEna/Resv/GI/PurgeBuf ``bool``, TrgOps :class:`Reason`, OptFlds
        :class:`OptFlds`, IntgPd/BufTm/ResvTms ``int``, EntryID 8 ``bytes``, RptID ``str``.
        """
        if attr not in self.attributes:
            raise ServiceError(ServiceErrorClass.INSTANCE_NOT_AVAILABLE, f"{self.ref}.{attr}")
        if self.reserved_by_other(peer):
            raise ServiceError(
                ServiceErrorClass.INSTANCE_LOCKED_BY_OTHER_CLIENT, f"{self.ref} is reserved"
            )
        if attr in ("ConfRev", "SqNum", "Owner", "TimeOfEntry"):
            raise ServiceError(ServiceErrorClass.ACCESS_VIOLATION, f"{attr} is read-only")
        if self.rpt_ena and attr not in ("RptEna", "GI"):
            raise ServiceError(
                ServiceErrorClass.ACCESS_NOT_ALLOWED_IN_CURRENT_STATE,
                f"{self.ref}: {attr} cannot be written while RptEna is true",
            )
        if attr == "RptEna":
            if not isinstance(value, bool):
                raise _type_error(attr, "a boolean")
            return self._set_enabled(peer, value, now)
        if attr == "GI":
            if not isinstance(value, bool):
                raise _type_error(attr, "a boolean")
            if value and self.rpt_ena:
                return self._general_interrogation(now, snapshot)
            return []
        if attr in ("IntgPd", "BufTm", "ResvTms"):
            if not isinstance(value, int) or isinstance(value, bool):
                raise _type_error(attr, "an integer")
            limit = 32767 if attr == "ResvTms" else 0xFFFFFFFF
            low = -1 if attr == "ResvTms" else 0
            if not low <= value <= limit:
                raise ServiceError(
                    ServiceErrorClass.PARAMETER_VALUE_INAPPROPRIATE, f"{attr} out of range"
                )
            if attr == "IntgPd":
                self.intg_pd_ms = value
            elif attr == "BufTm":
                self.buf_tm_ms = value
            else:
                if value == -1 and self.resv_tms != -1:
                    raise ServiceError(
                        ServiceErrorClass.PARAMETER_VALUE_INAPPROPRIATE,
                        "ResvTms -1 is set by configuration only",
                    )
                self.resv_tms = value
                if value != 0:
                    self.owner = peer
                    self._owner_connected = True
            return []
        if attr == "TrgOps":
            if not isinstance(value, Reason):
                raise _type_error(attr, "trigger options")
            self.trg_ops = value & ~Reason.APP_TRIGGER
            return []
        if attr == "OptFlds":
            if not isinstance(value, OptFlds):
                raise _type_error(attr, "optional fields")
            self.opt_flds = value
            return []
        if attr == "RptID":
            if not isinstance(value, str) or len(value) > 129:
                raise _type_error(attr, "a visible string of at most 129 characters")
            self.rpt_id = value or self.ref.replace(".", "$")
            return []
        if attr == "DatSet":
            if value != self.dat_set:
                raise ServiceError(
                    ServiceErrorClass.PARAMETER_VALUE_INAPPROPRIATE,
                    "changing the data set of a block is not supported",
                )
            return []
        if attr == "Resv":
            if not isinstance(value, bool):
                raise _type_error(attr, "a boolean")
            self.resv = value
            self.owner = peer if value else None
            self._owner_connected = value
            return []
        if attr == "PurgeBuf":
            if not isinstance(value, bool):
                raise _type_error(attr, "a boolean")
            if value:
                self._buffer.clear()
                self._pending.clear()
                self._overflow = False
                self._sent_upto = self._next_entry - 1
            return []
        # EntryID
        if not isinstance(value, bytes) or len(value) != ENTRY_ID_SIZE:
            raise _type_error(attr, f"{ENTRY_ID_SIZE} octets")
        wanted = entry_id_int(value)
        if wanted != 0 and not any(e.entry_id == value for e in self._buffer):
            raise ServiceError(
                ServiceErrorClass.PARAMETER_VALUE_INAPPROPRIATE,
                f"{self.ref}: entry {value.hex()} is not in the buffer",
            )
        self._sent_upto = wanted
        self._resume_written = True
        self.entry_id = value
        return []

    def _set_enabled(self, peer: str, enable: bool, now: float) -> list[Report]:
        if not enable:
            if self.rpt_ena:
                self._flush_pending()
            self.rpt_ena = False
            self._next_integrity = None
            return []
        if self.rpt_ena:
            return []
        self.owner = peer
        self._owner_connected = True
        self._release_at = None
        if not self.buffered:
            self.resv = True
        elif not self._resume_written:
            self._sent_upto = 0  # send everything still buffered
        self._resume_written = False
        self.rpt_ena = True
        self._next_integrity = (
            now + self.intg_pd_ms / 1000.0
            if self.trg_ops & Reason.INTEGRITY and self.intg_pd_ms > 0
            else None
        )
        return self._drain()

    # -- producing entries -----------------------------------------------------------------

    @property
    def _generating(self) -> bool:
        return self.rpt_ena or self.buffered

    def _new_entry(self, members: tuple[Member, ...], now: float) -> None:
        entry_id = self._next_entry.to_bytes(ENTRY_ID_SIZE, "big")
        self._next_entry += 1
        entry = Entry(entry_id, now, members)
        self._buffer.append(entry)
        limit = self.config.buffer_entries if self.buffered else 1 << 30
        while len(self._buffer) > max(limit, 1):
            dropped = self._buffer.popleft()
            if entry_id_int(dropped.entry_id) > self._sent_upto:
                self._overflow = True

    def _flush_pending(self) -> None:
        if self._pending:
            members = tuple(self._pending[i] for i in sorted(self._pending))
            self._pending.clear()
            self._new_entry(members, self._pending_last)

    def _general_interrogation(self, now: float, snapshot: list[Any]) -> list[Report]:
        self._flush_pending()
        if self.trg_ops & Reason.GI:
            members = tuple(Member(i, v, Reason.GI) for i, v in enumerate(snapshot))
            self._new_entry(members, now)
        return self._drain()

    def on_change(self, index: int, value: Any, reason: Reason, now: float) -> list[Report]:
        """A data-set member changed (``reason`` dchg/qchg/dupd); returns reports due now."""
        if not self._generating or not 0 <= index < self.config.member_count:
            return []
        reason = reason & self.trg_ops & (Reason.DCHG | Reason.QCHG | Reason.DUPD)
        if not reason:
            return []
        if self.buf_tm_ms <= 0:
            self._new_entry((Member(index, value, reason),), now)
            return self._drain()
        if index in self._pending:
            previous = self._pending[index]
            if now == self._pending_last:  # one update touching several attributes
                self._pending[index] = Member(index, value, previous.reason | reason)
                return []
            self._flush_pending()
        if not self._pending:
            self._pending_since = now
        self._pending[index] = Member(index, value, reason)
        self._pending_last = now
        return self._drain()

    def tick(self, now: float, snapshot: list[Any]) -> list[Report]:
        """Advance time: BufTm expiry, integrity period, reservation timeout."""
        now += EPSILON  # float clocks: a deadline hit exactly counts as reached
        if self._pending and now - self._pending_since >= self.buf_tm_ms / 1000.0:
            self._flush_pending()
        if self._next_integrity is not None and now >= self._next_integrity and self.rpt_ena:
            self._flush_pending()
            members = tuple(Member(i, v, Reason.INTEGRITY) for i, v in enumerate(snapshot))
            self._new_entry(members, now)
            period = self.intg_pd_ms / 1000.0
            while self._next_integrity <= now:
                self._next_integrity += period
        if self._release_at is not None and now >= self._release_at:
            self._release_at = None
            if not self._owner_connected:
                self.owner = None
        return self._drain()

    def next_deadline(self) -> float | None:
        """When :meth:`tick` next has work (for an I/O loop's timer)."""
        times = []
        if self._pending:
            times.append(self._pending_since + self.buf_tm_ms / 1000.0)
        if self._next_integrity is not None:
            times.append(self._next_integrity)
        if self._release_at is not None:
            times.append(self._release_at)
        return min(times) if times else None

    # -- sending ---------------------------------------------------------------------------

    def _drain(self) -> list[Report]:
        if not self.rpt_ena or self.owner is None or not self._owner_connected:
            if not self.buffered:
                self._buffer.clear()
            return []
        out: list[Report] = []
        opt = self.opt_flds.for_block(self.buffered)
        for entry in list(self._buffer):
            if entry_id_int(entry.entry_id) <= self._sent_upto:
                continue
            out.append(
                Report(
                    rcb=self.ref,
                    owner=self.owner,
                    rpt_id=self.rpt_id,
                    opt_flds=opt,
                    seq_num=self.sq_num,
                    time_of_entry=entry.time_of_entry,
                    dat_set=self.dat_set,
                    buf_ovfl=self._overflow,
                    entry_id=entry.entry_id,
                    conf_rev=self.conf_rev,
                    members=entry.members,
                    buffered=self.buffered,
                )
            )
            self._overflow = False
            self.sq_num = (self.sq_num + 1) % (65536 if self.buffered else 256)
            self._sent_upto = entry_id_int(entry.entry_id)
            self.entry_id = entry.entry_id
            self.time_of_entry = entry.time_of_entry
        if not self.buffered:
            self._buffer.clear()
        return out

    # -- association -------------------------------------------------------------------------

    def peer_lost(self, peer: str, now: float) -> None:
        """The association of ``peer`` ended: disable; keep a BRCB reservation for ResvTms."""
        if self.owner != peer:
            return
        self.rpt_ena = False
        self._next_integrity = None
        self._owner_connected = False
        if not self.buffered:
            self._pending.clear()
            self._buffer.clear()
            self.resv = False
            self.owner = None
            return
        if self.resv_tms > 0:
            self._release_at = now + self.resv_tms
        elif self.resv_tms == 0:
            self.owner = None

    def peer_back(self, peer: str) -> None:
        """The owner associated again within its reservation time."""
        if self.owner == peer:
            self._owner_connected = True
            self._release_at = None
