"""The client side of ACSI (IEC 61850-7-2) on MMS PDUs (IEC 61850-8-1 / 8-2), sans-IO.

:class:`AcsiClient` builds request PDUs with invoke ids, keeps at most the negotiated number of
requests outstanding (queueing or refusing the rest), matches responses, and turns them into
Python results or typed errors (:class:`~derlink.iec61850.acsi.errors.ServiceError` with the
7-2 class). It tracks the association (idle, associating, associated, lost, re-associating),
parses reports (dropping entries already received from a BRCB, and remembering the last
EntryID so that re-enabling after a reconnection resumes where it stopped), and runs controls
with ctlNum bookkeeping, LastApplError and CommandTermination.

Use: call a service method (it returns a request id), send ``take_outgoing()`` to the server,
feed each received PDU to :meth:`AcsiClient.receive` (it returns events), read a finished
request with :meth:`AcsiClient.result`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from derlink.iec61850.acsi.control import OrCat, Origin
from derlink.iec61850.acsi.errors import (
    AccessError,
    AcsiError,
    AddCause,
    AssociationError,
    ControlRefused,
    ProtocolError,
    ServiceError,
    ServiceErrorClass,
    TooManyRequests,
    service_error_from_mms,
)
from derlink.iec61850.acsi.mapping import Data, data_to_python, encode_utc_time, object_name
from derlink.iec61850.acsi.reporting import (
    BRCB_ATTRIBUTES,
    URCB_ATTRIBUTES,
    OptFlds,
    Reason,
    trg_ops_to_bits,
)
from derlink.iec61850.acsi.rpt import (
    LAST_APPL_ERROR,
    LastApplError,
    ReceivedReport,
    decode_report,
    is_report,
)
from derlink.iec61850.mms import data as mms_data
from derlink.iec61850.mms.data import pack_positions
from derlink.iec61850.model.refs import FC, ObjectReference
from derlink.iec61850.model.types import Timestamp

Pdu = tuple[str, Any]

DEFAULT_MAX_OUTSTANDING = 8
SEEN_ENTRY_IDS = 4096
MAX_KEPT_RESULTS = 4096


class AssocState(StrEnum):
    """Association state as the client sees it."""

    IDLE = "idle"
    ASSOCIATING = "associating"
    ASSOCIATED = "associated"
    RELEASING = "releasing"
    LOST = "lost"
    RE_ASSOCIATING = "re-associating"


# --- events ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Associated:
    """The server accepted the association; ``max_outstanding`` is what was negotiated."""

    max_outstanding: int


@dataclass(frozen=True)
class AssociationFailed:
    """The server refused the association (or it was lost)."""

    error: AcsiError


@dataclass(frozen=True)
class Released:
    """The association was released (Conclude)."""


@dataclass(frozen=True)
class Completed:
    """Request ``request_id`` succeeded; ``result`` is its Python result."""

    request_id: int
    service: str
    result: Any


@dataclass(frozen=True)
class Failed:
    """Request ``request_id`` failed with ``error``."""

    request_id: int
    service: str
    error: AcsiError


@dataclass(frozen=True)
class ReportReceived:
    """A report arrived (duplicates of buffered entries are dropped, not reported)."""

    report: ReceivedReport


@dataclass(frozen=True)
class CommandTerminated:
    """CommandTermination of an enhanced-security control (``ref`` is the DO)."""

    ref: str
    success: bool
    ctl_num: int | None
    add_cause: AddCause | None


ClientEvent = (
    Associated | AssociationFailed | Released | Completed | Failed | ReportReceived
) | CommandTerminated


@dataclass
class _Request:
    request_id: int
    service: str
    build: Callable[[int], Pdu]
    finish: Callable[[Any], Any]
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class _ControlState:
    ctl_num: int = 0
    awaiting_termination: bool = False
    selected: bool = False  # a SelectWithValue was sent whose ctlNum the Operate reuses


# --- helpers for values ----------------------------------------------------------------------


def analogue(value: float) -> Data:
    """MMS Data of an AnalogueValue ``{f}`` (the ctlVal of APC, setMag of ASG)."""
    return ("structure", [("floating-point", mms_data.to_data(mms_data.td_float32(), value)[1])])


def boolean(value: bool) -> Data:
    """MMS Data of a BOOLEAN ctlVal (SPC)."""
    return ("boolean", value)


def enum_value(value: int) -> Data:
    """MMS Data of an Enum ctlVal (ENC, e.g. Mod or DEROpStCtl)."""
    return ("integer", value)


def _access_error(code: int, what: str) -> ServiceError:
    return ServiceError.from_access(code, what)


class AcsiClient:
    """One association to one IED server (sans-IO)."""

    def __init__(
        self,
        *,
        max_outstanding: int = DEFAULT_MAX_OUTSTANDING,
        queue_when_full: bool = True,
        origin: Origin | None = None,
        clock: Callable[[], float] = lambda: 0.0,
    ) -> None:
        self.max_outstanding = max_outstanding
        self.queue_when_full = queue_when_full
        self.origin = origin or Origin(OrCat.REMOTE_CONTROL, b"derlink")
        self.clock = clock
        self.state = AssocState.IDLE
        self.negotiated_outstanding = max_outstanding
        self._next_invoke = 1
        self._next_request = 1
        self._outgoing: list[Pdu] = []
        self._queue: deque[_Request] = deque()
        self._inflight: dict[int, _Request] = {}  # invoke id -> request
        self._results: dict[int, tuple[bool, Any]] = {}
        self._was_associated = False
        self._types: dict[tuple[str, FC], tuple[str, Any]] = {}
        self._controls: dict[str, _ControlState] = {}
        self._last_appl_error: dict[str, LastApplError] = {}
        self._seen: dict[str, tuple[deque[bytes], set[bytes]]] = {}
        self.last_entry_id: dict[str, bytes] = {}  # RptID -> last EntryID received
        self.rpt_ids: dict[str, str] = {}  # RCB reference -> RptID
        self.duplicates_dropped = 0

    @classmethod
    def group_sender(
        cls, *, origin: Origin | None = None, clock: Callable[[], float] = lambda: 0.0
    ) -> AcsiClient:
        """A client that only builds requests for a group (8-2 multicast through a MUC room):
        it has no association of its own and receives nothing; send what
        :meth:`take_unconfirmed` hands out."""
        client = cls(max_outstanding=1 << 30, origin=origin, clock=clock)
        client.state = AssocState.ASSOCIATED
        return client

    # -- plumbing ---------------------------------------------------------------------------

    def take_unconfirmed(self) -> list[Pdu]:
        """The PDUs built so far, as requests nobody will answer: they are not kept as
        outstanding, and no control waits for its CommandTermination."""
        out = self.take_outgoing()
        self._inflight.clear()
        self._queue.clear()
        for ctl in self._controls.values():
            ctl.awaiting_termination = False
        return out

    def take_outgoing(self) -> list[Pdu]:
        """PDUs to send to the server, in order."""
        out, self._outgoing = self._outgoing, []
        return out

    @property
    def outstanding(self) -> int:
        """Requests sent and not answered yet."""
        return len(self._inflight)

    @property
    def queued(self) -> int:
        """Requests waiting for a free slot."""
        return len(self._queue)

    def done(self, request_id: int) -> bool:
        """Whether request ``request_id`` has finished."""
        return request_id in self._results

    def result(self, request_id: int) -> Any:
        """The result of a finished request (handed out once); raises its error if it
        failed. Results nobody collects are forgotten after ``MAX_KEPT_RESULTS`` newer ones."""
        try:
            ok, value = self._results.pop(request_id)
        except KeyError:
            raise ProtocolError(f"request {request_id} has not finished") from None
        if not ok:
            raise value
        return value

    def _limit(self) -> int:
        return max(1, min(self.max_outstanding, self.negotiated_outstanding))

    def _submit(
        self,
        service: str,
        build: Callable[[int], Pdu],
        finish: Callable[[Any], Any],
        **extra: Any,
    ) -> int:
        if self.state is not AssocState.ASSOCIATED:
            raise AssociationError(f"not associated (state {self.state})")
        req = _Request(self._next_request, service, build, finish, dict(extra))
        self._next_request += 1
        if len(self._inflight) >= self._limit():
            if not self.queue_when_full:
                raise TooManyRequests(f"{len(self._inflight)} requests outstanding")
            self._queue.append(req)
        else:
            self._send(req)
        return req.request_id

    def _send(self, req: _Request) -> None:
        invoke = self._next_invoke
        self._next_invoke = self._next_invoke + 1 if self._next_invoke < 2**31 - 1 else 1
        self._inflight[invoke] = req
        self._outgoing.append(req.build(invoke))

    def _pump_queue(self) -> None:
        while self._queue and len(self._inflight) < self._limit():
            self._send(self._queue.popleft())

    def _finish(self, req: _Request, ok: bool, value: Any) -> ClientEvent:
        self._results[req.request_id] = (ok, value)
        while len(self._results) > MAX_KEPT_RESULTS:
            del self._results[next(iter(self._results))]
        if ok:
            return Completed(req.request_id, req.service, value)
        return Failed(req.request_id, req.service, value)

    # -- association ------------------------------------------------------------------------

    def associate(self, *, nesting: int = 10) -> None:
        """Queue an initiate-Request (Associate)."""
        if self.state in (AssocState.ASSOCIATED, AssocState.ASSOCIATING):
            raise AssociationError(f"already {self.state}")
        self.state = AssocState.RE_ASSOCIATING if self._was_associated else AssocState.ASSOCIATING
        detail = {
            "proposedVersionNumber": 1,
            "proposedParameterCBB": pack_positions((0, 1, 2, 3, 7), 18),
            "servicesSupportedCalling": pack_positions((79,), 93),
        }
        body = {
            "proposedMaxServOutstandingCalling": self.max_outstanding,
            "proposedMaxServOutstandingCalled": self.max_outstanding,
            "proposedDataStructureNestingLevel": nesting,
            "initRequestDetail": detail,
        }
        self._outgoing.append(("initiate-RequestPDU", body))

    def release(self) -> None:
        """Queue a conclude-Request (Release)."""
        if self.state is not AssocState.ASSOCIATED:
            raise AssociationError(f"not associated (state {self.state})")
        self.state = AssocState.RELEASING
        self._outgoing.append(("conclude-RequestPDU", None))

    def connection_lost(self) -> list[ClientEvent]:
        """The transport lost the server (abort): outstanding requests fail."""
        events: list[ClientEvent] = []
        if self.state is not AssocState.IDLE:
            self.state = AssocState.LOST
        for req in [*self._inflight.values(), *self._queue]:
            events.append(self._finish(req, False, AssociationError("association lost")))
        self._inflight.clear()
        self._queue.clear()
        self._outgoing.clear()  # unsent requests belong to the lost association
        for ctl in self._controls.values():
            ctl.awaiting_termination = False
        return events

    # -- receiving --------------------------------------------------------------------------

    def receive(self, pdu: Pdu) -> list[ClientEvent]:
        """Process one PDU from the server; returns what happened. A PDU that does not fit
        the 8-1 mapping raises :class:`ProtocolError` and changes nothing else."""
        try:
            return self._receive(pdu)
        except AcsiError:
            raise
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
            raise ProtocolError(f"malformed PDU from the server: {exc!r}") from None

    def _receive(self, pdu: Pdu) -> list[ClientEvent]:
        try:
            kind, body = pdu
        except (TypeError, ValueError):
            raise ProtocolError("not an MMS PDU") from None
        if kind == "initiate-ResponsePDU":
            self.state = AssocState.ASSOCIATED
            self._was_associated = True
            self.negotiated_outstanding = int(body["negotiatedMaxServOutstandingCalling"])
            self._pump_queue()
            return [Associated(self.negotiated_outstanding)]
        if kind == "initiate-ErrorPDU":
            self.state = AssocState.LOST if self._was_associated else AssocState.IDLE
            return [AssociationFailed(AssociationError(f"association refused: {body}"))]
        if kind == "conclude-ResponsePDU":
            self.state = AssocState.IDLE
            events: list[ClientEvent] = [Released()]
            for req in [*self._inflight.values(), *self._queue]:
                events.append(self._finish(req, False, AssociationError("released")))
            self._inflight.clear()
            self._queue.clear()
            return events
        if kind == "unconfirmed-PDU":
            return self._unconfirmed(body)
        if kind in ("confirmed-ResponsePDU", "confirmed-ErrorPDU"):
            invoke = body["invokeID"]
        elif kind == "rejectPDU":
            invoke = body.get("originalInvokeID")
        else:
            raise ProtocolError(f"unexpected PDU {kind}")
        found = self._inflight.pop(invoke, None) if invoke is not None else None
        if found is None:
            raise ProtocolError(f"response to unknown invoke id {invoke}")
        req = found
        out: list[ClientEvent]
        if kind == "confirmed-ErrorPDU":
            out = [self._finish(req, False, service_error_from_mms(body["serviceError"]))]
        elif kind == "rejectPDU":
            out = [self._finish(req, False, ProtocolError(f"rejected: {body['rejectReason']}"))]
        else:
            _service, value = body["service"]
            try:
                outcome = req.finish(value)
            except AcsiError as exc:
                out = [self._finish(req, False, exc)]
            except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
                out = [self._finish(req, False, ProtocolError(f"malformed result: {exc!r}"))]
            else:
                if isinstance(outcome, _Continue):
                    req.extra.update(outcome.extra)
                    req.build = outcome.build
                    self._send(req)
                    out = []
                else:
                    out = [self._finish(req, True, outcome)]
        self._pump_queue()
        return out

    def _unconfirmed(self, body: Any) -> list[ClientEvent]:
        service, info = body["service"]
        if service != "informationReport":
            return []
        if is_report(info):
            report = decode_report(info)
            if report.entry_id is not None:
                seen = self._seen.setdefault(report.rpt_id, (deque(), set()))
                if report.entry_id in seen[1]:
                    self.duplicates_dropped += 1
                    return []
                seen[0].append(report.entry_id)
                seen[1].add(report.entry_id)
                if len(seen[0]) > SEEN_ENTRY_IDS:
                    seen[1].discard(seen[0].popleft())
                self.last_entry_id[report.rpt_id] = report.entry_id
            return [ReportReceived(report)]
        kind, names = info["variableAccessSpecification"]
        if kind != "listOfVariable":
            return []
        results = info["listOfAccessResult"]
        variables = [item["variableSpecification"][1] for item in names]
        error: LastApplError | None = None
        if variables and variables[0] == ("vmd-specific", LAST_APPL_ERROR):
            error = LastApplError.from_data(results[0][1])
            variables, results = variables[1:], results[1:]
            if not variables:  # explains the negative response that follows
                self._last_appl_error[error.cntrl_obj] = error
                return []
        # CommandTermination: the Oper variable of a controlled object
        name = variables[0]
        if name[0] != "domain-specific" or not name[1]["itemID"].endswith("$Oper"):
            return []
        item = name[1]["itemID"]
        ln, _, rest = item.partition("$CO$")
        do_path = rest[: -len("$Oper")].replace("$", ".")
        ref = f"{name[1]['domainID']}/{ln}.{do_path}"
        ctl = self._controls.get(ref)
        if ctl is not None:
            ctl.awaiting_termination = False
        ctl_num = error.ctl_num if error is not None else _oper_ctl_num(results[0])
        return [
            CommandTerminated(
                ref, error is None, ctl_num, error.add_cause if error is not None else None
            )
        ]

    # -- directories --------------------------------------------------------------------------

    def _name_list(
        self, scope: tuple[str, Any], obj_class: int, after: str | None
    ) -> Callable[[int], Pdu]:
        def build(invoke: int) -> Pdu:
            req: dict[str, Any] = {
                "objectClass": ("basicObjectClass", obj_class),
                "objectScope": scope,
            }
            if after is not None:
                req["continueAfter"] = after
            return _confirmed(invoke, ("getNameList", req))

        return build

    def _name_list_request(
        self, service: str, scope: tuple[str, Any], obj_class: int, post: Callable[[list[str]], Any]
    ) -> int:
        collected: list[str] = []

        def finish(value: Any) -> Any:
            names = list(value["listOfIdentifier"])
            collected.extend(names)
            if value.get("moreFollows", True) and names:
                return _Continue(self._name_list(scope, obj_class, names[-1]))
            return post(collected)

        return self._submit(service, self._name_list(scope, obj_class, None), finish)

    def get_server_directory(self) -> int:
        """GetServerDirectory(LOGICAL-DEVICE): LD names."""
        return self._name_list_request("GetServerDirectory", ("vmdSpecific", None), 9, list)

    def get_logical_device_directory(self, ld: str) -> int:
        """GetLogicalDeviceDirectory: LN names of ``ld``."""
        return self._name_list_request(
            "GetLogicalDeviceDirectory",
            ("domainSpecific", ld),
            0,
            lambda names: [n for n in names if "$" not in n],
        )

    def get_logical_node_directory(self, ln: ObjectReference) -> int:
        """GetLogicalNodeDirectory(DATA): DO names of an LN (over all FCs, model order lost:
        MMS lists names alphabetically)."""

        def post(names: list[str]) -> list[str]:
            out: list[str] = []
            for n in names:
                parts = n.split("$")
                keep = len(parts) == 3 and parts[0] == ln.ln and parts[1] not in ("BR", "RP")
                if keep and parts[2] not in out:
                    out.append(parts[2])
            return out

        return self._name_list_request(
            "GetLogicalNodeDirectory", ("domainSpecific", ln.ld), 0, post
        )

    def get_data_directory(self, ref: ObjectReference) -> int:
        """GetDataDirectory: the names of the children of a DO/SDO/DA (over all FCs)."""
        depth = len(ref.path)

        def post(names: list[str]) -> list[str]:
            out: list[str] = []
            for n in names:
                parts = n.split("$")
                keep = len(parts) == depth + 3 and parts[0] == ref.ln
                if keep and parts[2:-1] == list(ref.path) and parts[-1] not in out:
                    out.append(parts[-1])
            return out

        return self._name_list_request("GetDataDirectory", ("domainSpecific", ref.ld), 0, post)

    def get_data_set_names(self, ld: str) -> int:
        """The data sets of an LD (GetNameList of named variable lists)."""
        return self._name_list_request(
            "GetLogicalDeviceDirectory(DATA-SET)", ("domainSpecific", ld), 2, list
        )

    # -- data -----------------------------------------------------------------------------

    def get_data_definition(self, ref: ObjectReference, fc: FC) -> int:
        """GetDataDefinition: the MMS TypeDescription of ``ref[fc]`` (also cached for typed
        reads and writes)."""
        key = (str(ref), fc)

        def finish(value: Any) -> Any:
            td = value["typeDescription"]
            self._types[key] = td
            return td

        name = object_name(ref, fc)
        return self._submit(
            "GetDataDefinition",
            lambda inv: _confirmed(inv, ("getVariableAccessAttributes", ("name", name))),
            finish,
        )

    def _decode(self, ref: ObjectReference, fc: FC, data: Any) -> Any:
        td = self._types.get((str(ref), fc))
        if td is not None:
            try:
                return mms_data.from_data(td, data)
            except Exception as exc:
                raise ServiceError(ServiceErrorClass.TYPE_CONFLICT, str(exc)) from exc
        return data_to_python(data)

    def get_data_values(self, ref: ObjectReference, fc: FC, *, raw: bool = False) -> int:
        """GetDataValues: typed by a cached definition when there is one; ``raw`` keeps Data."""
        name = object_name(ref, fc)

        def finish(value: Any) -> Any:
            result = value["listOfAccessResult"][0]
            if result[0] == "failure":
                raise _access_error(result[1], str(ref))
            return result[1] if raw else self._decode(ref, fc, result[1])

        return self._submit("GetDataValues", lambda inv: _read_pdu(inv, [name]), finish)

    def set_data_values(self, ref: ObjectReference, fc: FC, value: Any) -> int:
        """SetDataValues with a Python value (needs a cached definition) or MMS ``Data``."""
        td = self._types.get((str(ref), fc))
        if td is not None and not _looks_like_data(value):
            try:
                data = mms_data.to_data(td, value)
            except Exception as exc:
                raise ServiceError(ServiceErrorClass.TYPE_CONFLICT, str(exc)) from exc
        elif _looks_like_data(value):
            data = value
        else:
            raise ProtocolError(f"no definition of {ref}[{fc}] cached: pass MMS Data")
        return self._write("SetDataValues", [(object_name(ref, fc), data)], str(ref))

    def _write(self, service: str, items: list[tuple[Any, Data]], what: str) -> int:
        def finish(value: Any) -> Any:
            failures = [(i, r[1]) for i, r in enumerate(value) if r[0] == "failure"]
            if failures:
                raise _access_error(failures[0][1], f"{what} (item {failures[0][0]})")
            return None

        return self._submit(service, lambda inv: _write_pdu(inv, items), finish)

    def get_data_set_values(self, ds: ObjectReference) -> int:
        """GetDataSetValues of ``LD/LLN0.dsName``: list of untyped values (None: failure)."""
        name = ("domain-specific", {"domainID": ds.ld, "itemID": f"{ds.ln}${ds.path[0]}"})

        def finish(value: Any) -> Any:
            return [
                data_to_python(r[1]) if r[0] == "success" else None
                for r in value["listOfAccessResult"]
            ]

        def build(inv: int) -> Pdu:
            req = {"variableAccessSpecification": ("variableListName", name)}
            return _confirmed(inv, ("read", req))

        return self._submit("GetDataSetValues", build, finish)

    def get_data_set_directory(self, ds: ObjectReference) -> int:
        """GetDataSetDirectory: the members as ``(ObjectReference, FC)``."""
        name = ("domain-specific", {"domainID": ds.ld, "itemID": f"{ds.ln}${ds.path[0]}"})

        def finish(value: Any) -> Any:
            out = []
            for item in value["listOfVariable"]:
                spec = item["variableSpecification"][1][1]
                parts = spec["itemID"].split("$")
                out.append(
                    (ObjectReference(spec["domainID"], parts[0], tuple(parts[2:])), FC(parts[1]))
                )
            return out

        return self._submit(
            "GetDataSetDirectory",
            lambda inv: _confirmed(inv, ("getNamedVariableListAttributes", name)),
            finish,
        )

    # -- report control blocks ------------------------------------------------------------

    def get_rcb_values(self, rcb: ObjectReference, buffered: bool) -> int:
        """GetBRCBValues/GetURCBValues: ``dict`` of attribute -> value (untyped Python)."""
        fc = FC.BR if buffered else FC.RP
        attrs = _BRCB if buffered else _URCB
        names = [object_name(rcb.child(a), fc) for a in attrs]

        def finish(value: Any) -> Any:
            out: dict[str, Any] = {}
            for attr, result in zip(attrs, value["listOfAccessResult"], strict=True):
                if result[0] == "failure":
                    raise _access_error(result[1], f"{rcb}.{attr}")
                out[attr] = data_to_python(result[1])
            opt = value["listOfAccessResult"][attrs.index("OptFlds")]
            out["OptFlds"] = OptFlds.from_bits(opt[1][1])
            self.rpt_ids[str(rcb)] = out["RptID"]
            return out

        return self._submit("GetRCBValues", lambda inv: _read_pdu(inv, names), finish)

    def set_rcb_values(self, rcb: ObjectReference, buffered: bool, values: dict[str, Data]) -> int:
        """SetBRCBValues/SetURCBValues: one Write of the given attributes (MMS Data), in the
        order given."""
        fc = FC.BR if buffered else FC.RP
        items = [(object_name(rcb.child(attr), fc), data) for attr, data in values.items()]
        return self._write("SetRCBValues", items, str(rcb))

    def enable_reporting(
        self,
        rcb: ObjectReference,
        buffered: bool,
        *,
        rpt_id: str | None = None,
        trg_ops: Reason | None = None,
        intg_pd_ms: int | None = None,
        buf_tm_ms: int | None = None,
        opt_flds: OptFlds | None = None,
        resv_tms: int | None = None,
        gi: bool = False,
        resync: bool = True,
    ) -> int:
        """Configure and enable an RCB. For a BRCB whose RptID is known (``rpt_id`` or an
        earlier :meth:`get_rcb_values`) and from which entries were received, EntryID is
        written first so the server resumes after the last one. Result: ``False`` when that
        EntryID was no longer buffered (the server then sends everything it holds)."""
        values: dict[str, Data] = {}
        if buffered and resv_tms is not None:
            values["ResvTms"] = ("integer", resv_tms)
        if not buffered:
            values["Resv"] = ("boolean", True)
        rid = rpt_id or self.rpt_ids.get(str(rcb))
        if rpt_id:
            self.rpt_ids[str(rcb)] = rpt_id
        if buffered and resync and rid is not None and rid in self.last_entry_id:
            values["EntryID"] = ("octet-string", self.last_entry_id[rid])
        if trg_ops is not None:
            values["TrgOps"] = ("bit-string", trg_ops_to_bits(trg_ops))
        if intg_pd_ms is not None:
            values["IntgPd"] = ("unsigned", intg_pd_ms)
        if buf_tm_ms is not None:
            values["BufTm"] = ("unsigned", buf_tm_ms)
        if opt_flds is not None:
            values["OptFlds"] = ("bit-string", opt_flds.to_bits())
        values["RptEna"] = ("boolean", True)
        if gi:
            values["GI"] = ("boolean", True)
        fc = FC.BR if buffered else FC.RP
        attrs = list(values)
        items = [(object_name(rcb.child(attr), fc), data) for attr, data in values.items()]

        def finish(value: Any) -> Any:
            resynced = True
            for attr, result in zip(attrs, value, strict=True):
                if result[0] != "failure":
                    continue
                if attr == "EntryID":
                    # the entry left the buffer: the server sends all it still holds (BufOvfl
                    # set) and duplicates are dropped here
                    resynced = False
                    continue
                raise _access_error(result[1], f"{rcb}.{attr}")
            return resynced

        return self._submit("SetRCBValues", lambda inv: _write_pdu(inv, items), finish)

    def disable_reporting(self, rcb: ObjectReference, buffered: bool) -> int:
        """Write RptEna false."""
        return self.set_rcb_values(rcb, buffered, {"RptEna": ("boolean", False)})

    def general_interrogation(self, rcb: ObjectReference, buffered: bool) -> int:
        """Write GI true (the server sends a GI report)."""
        return self.set_rcb_values(rcb, buffered, {"GI": ("boolean", True)})

    # -- controls ---------------------------------------------------------------------------

    def _next_ctl_num(self, ref: str) -> int:
        ctl = self._controls.setdefault(ref, _ControlState(ctl_num=-1))
        ctl.ctl_num = (ctl.ctl_num + 1) % 256
        return ctl.ctl_num

    def control_state(self, ref: ObjectReference) -> tuple[int, bool]:
        """``(last ctlNum, awaiting CommandTermination)`` of a controlled DO."""
        ctl = self._controls.get(str(ref), _ControlState())
        return ctl.ctl_num, ctl.awaiting_termination

    def _oper(
        self,
        ctl_val: Data,
        ctl_num: int,
        *,
        test: bool,
        check: tuple[bool, bool] | None,
        oper_tm: float | None,
    ) -> Data:
        now = Timestamp.from_unix(max(self.clock(), 0.0))
        items: list[Data] = [ctl_val]
        if oper_tm is not None:
            items.append(("utc-time", encode_utc_time(Timestamp.from_unix(oper_tm))))
        items += [
            (
                "structure",
                [("integer", int(self.origin.or_cat)), ("octet-string", self.origin.or_ident)],
            ),
            ("unsigned", ctl_num),
            ("utc-time", encode_utc_time(now)),
            ("boolean", test),
        ]
        if check is not None:
            items.append(("bit-string", mms_data.pack_bits(check)))
        return ("structure", items)

    def _control_write(
        self, ref: ObjectReference, attr: str, data: Data, *, after_ok: Callable[[], None]
    ) -> int:
        name = object_name(ref.child(attr), FC.CO)
        cntrl_obj = f"{ref.ld}/{name[1]['itemID']}"

        def finish(value: Any) -> Any:
            result = value[0]
            error = self._last_appl_error.pop(cntrl_obj, None)
            if result[0] == "failure":
                base = ServiceError.from_access(result[1])
                raise ControlRefused(
                    base.service_class,
                    f"{attr} {ref}",
                    access_error=base.access_error,
                    add_cause=error.add_cause if error else None,
                    control_error=error.error if error else None,
                )
            after_ok()
            return None

        return self._submit(attr, lambda inv: _write_pdu(inv, [(name, data)]), finish)

    def select(self, ref: ObjectReference) -> int:
        """Select (Read of ``SBO``) for sbo-with-normal-security: ``True`` when selected."""
        name = object_name(ref.child("SBO"), FC.CO)

        def finish(value: Any) -> Any:
            result = value["listOfAccessResult"][0]
            if result[0] == "failure":
                raise _access_error(result[1], f"select {ref}")
            return bool(result[1][1])  # the Operate that follows takes a new ctlNum

        return self._submit("Select", lambda inv: _read_pdu(inv, [name]), finish)

    def select_with_value(
        self,
        ref: ObjectReference,
        ctl_val: Data,
        *,
        test: bool = False,
        check: tuple[bool, bool] = (False, False),
        oper_tm: float | None = None,
    ) -> int:
        """SelectWithValue (Write of ``SBOw``) with a new ctlNum, which Operate then reuses."""
        key = str(ref)
        num = self._next_ctl_num(key)
        ctl = self._controls[key]
        ctl.selected = True
        data = self._oper(ctl_val, num, test=test, check=check, oper_tm=oper_tm)
        return self._control_write(ref, "SBOw", data, after_ok=lambda: None)

    def operate(
        self,
        ref: ObjectReference,
        ctl_val: Data,
        *,
        test: bool = False,
        check: tuple[bool, bool] = (False, False),
        oper_tm: float | None = None,
        new_ctl_num: bool = False,
        enhanced: bool = True,
    ) -> int:
        """Operate (Write of ``Oper``). After a selection it reuses the selection's ctlNum,
        otherwise (direct control, or ``new_ctl_num``) it takes the next one. With
        ``enhanced`` the client then waits for CommandTermination."""
        key = str(ref)
        ctl = self._controls.get(key)
        if new_ctl_num or ctl is None or not ctl.selected:
            self._next_ctl_num(key)
        ctl = self._controls[key]
        data = self._oper(ctl_val, ctl.ctl_num, test=test, check=check, oper_tm=oper_tm)

        def ok() -> None:
            ctl.selected = False
            ctl.awaiting_termination = enhanced

        return self._control_write(ref, "Oper", data, after_ok=ok)

    def cancel(self, ref: ObjectReference, ctl_val: Data, *, test: bool = False) -> int:
        """Cancel (Write of ``Cancel``) with the current ctlNum."""
        ctl = self._controls.setdefault(str(ref), _ControlState())
        data = self._oper(ctl_val, ctl.ctl_num, test=test, check=None, oper_tm=None)

        def ok() -> None:
            ctl.selected = False
            ctl.awaiting_termination = False

        return self._control_write(ref, "Cancel", data, after_ok=ok)


@dataclass
class _Continue:
    build: Callable[[int], Pdu]
    extra: dict[str, Any] = field(default_factory=dict)


_URCB: tuple[str, ...] = URCB_ATTRIBUTES
_BRCB: tuple[str, ...] = BRCB_ATTRIBUTES


def _confirmed(invoke: int, service: tuple[str, Any]) -> Pdu:
    return ("confirmed-RequestPDU", {"invokeID": invoke, "service": service})


def _read_pdu(invoke: int, names: list[Any]) -> Pdu:
    spec = ("listOfVariable", [{"variableSpecification": ("name", n)} for n in names])
    return _confirmed(invoke, ("read", {"variableAccessSpecification": spec}))


def _write_pdu(invoke: int, items: list[tuple[Any, Data]]) -> Pdu:
    spec = ("listOfVariable", [{"variableSpecification": ("name", n)} for n, _ in items])
    return _confirmed(
        invoke,
        ("write", {"variableAccessSpecification": spec, "listOfData": [d for _, d in items]}),
    )


_DATA_KINDS = frozenset(
    {
        "array",
        "structure",
        "boolean",
        "bit-string",
        "integer",
        "unsigned",
        "floating-point",
        "octet-string",
        "visible-string",
        "binary-time",
        "bcd",
        "booleanArray",
        "objId",
        "mMSString",
        "utc-time",
    }
)


def _oper_ctl_num(result: Any) -> int | None:
    """ctlNum of an Oper structure (..., ctlNum, T, Test, Check) in an access result."""
    try:
        items = result[1][1]
        kind, value = items[-4]
        return int(value) if kind == "unsigned" else None
    except (TypeError, ValueError, IndexError, KeyError):
        return None


def _looks_like_data(value: Any) -> bool:
    return isinstance(value, tuple) and len(value) == 2 and value[0] in _DATA_KINDS


__all__ = [
    "AccessError",
    "AcsiClient",
    "AssocState",
    "Associated",
    "AssociationFailed",
    "ClientEvent",
    "CommandTerminated",
    "Completed",
    "Failed",
    "Released",
    "ReportReceived",
    "analogue",
    "boolean",
    "enum_value",
]
