"""The IED side of ACSI (IEC 61850-7-2) on MMS PDUs (IEC 61850-8-1 / 8-2), sans-IO.

:class:`IedServer` takes decoded MMS PDUs from a peer (an XMPP JID or any string naming the
association) and returns what to send back, each tagged with its kind (response, report,
command-termination), plus typed events the runtime audits or hands to its device driver
(:meth:`IedServer.take_events`). Time comes from the injected ``clock`` (seconds) and from
:meth:`IedServer.tick`. Every request passes the ``authorize(peer, right, ref)`` hook first;
a refused request changes nothing and yields an :class:`AccessDenied` event.

Services: Associate/Release/Abort (initiate, conclude, :meth:`IedServer.peer_lost`),
GetServerDirectory / GetLogicalDeviceDirectory / GetLogicalNodeDirectory / GetDataDirectory
(GetNameList), GetDataDefinition (GetVariableAccessAttributes), GetDataValues / SetDataValues
(Read / Write), GetDataSetValues / GetDataSetDirectory (Read of / attributes of a named
variable list), report control blocks (Read/Write of ``LLN0$BR|RP$name$attr``), controls
(Write of ``$CO$DO$SBOw|Oper|Cancel``) with LastApplError and CommandTermination.
"""

from __future__ import annotations

import bisect
import contextlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from derlink.iec61850.acsi.control import (
    ActivationDue,
    ControlModel,
    ControlObject,
    ControlOutcome,
    ControlRequest,
    OrCat,
    Origin,
    SelectExpired,
    Terminated,
)
from derlink.iec61850.acsi.errors import (
    AccessError,
    AddCause,
    ControlErrorCode,
    ServiceError,
    ServiceErrorClass,
    access_error_for,
    mms_service_error,
)
from derlink.iec61850.acsi.events import (
    DEFER,
    AccessDenied,
    AssociationChanged,
    Authorize,
    Checker,
    ControlApplied,
    ControlRefused,
    Defer,
    Executor,
    Outgoing,
    OutKind,
    RequestRefused,
    ServerEvent,
    SettingApplied,
    allow_all,
)
from derlink.iec61850.acsi.mapping import (
    Data,
    data_to_value,
    object_name,
    parse_object_name,
    type_description,
    value_to_data,
)
from derlink.iec61850.acsi.reporting import (
    OptFlds,
    RcbConfig,
    Reason,
    Report,
    ReportControlBlock,
)
from derlink.iec61850.acsi.rpt import (
    LastApplError,
    command_termination,
    data_to_rcb_attr,
    encode_report,
    last_appl_error_report,
    rcb_attr_to_data,
    rcb_attr_type,
)
from derlink.iec61850.mms import errors as mms_errors
from derlink.iec61850.mms.data import pack_positions
from derlink.iec61850.model.errors import ModelError, ObjectNotFound
from derlink.iec61850.model.nodes import DataAttribute, DataObject, ServerModel
from derlink.iec61850.model.refs import FC, FCDA, ObjectReference
from derlink.iec61850.model.store import Cause, Change, TriggerReason, ValueStore
from derlink.iec61850.model.types import Timestamp

Pdu = tuple[str, Any]

MMS_VERSION = 1
DEFAULT_MAX_OUTSTANDING = 8
DEFAULT_NESTING = 10
NAME_LIST_PAGE = 200

# Rights asked of the authorize hook (IEC 62351-8 rights, lower case).
VIEW, READ, REPORTING, CONTROL, CONFIG = "view", "read", "reporting", "control", "config"
SETTING_GROUP = "settinggroup"

_WRITABLE_FC = {FC.SP: CONTROL, FC.SE: SETTING_GROUP, FC.SG: SETTING_GROUP, FC.SV: CONFIG}
_WRITABLE_FC.update({FC.CF: CONFIG, FC.DC: CONFIG, FC.BL: CONFIG, FC.EX: CONFIG})
_CONTROL_ATTRS = {"Oper", "SBOw", "Cancel", "SBO"}

# 8-1 parameter CBBs (str1 str2 vnam valt vlis) and the services this server answers.
_PARAMETER_CBB = (0, 1, 2, 3, 7)
_SERVICES = (1, 2, 4, 5, 6, 12, 79, 83)


_Result = tuple[Any, list[Outgoing], list[Outgoing]]
"""A service answer: response value, PDUs sent before the response, PDUs sent after it."""


@dataclass
class Association:
    """Negotiated parameters of one peer's association."""

    peer: str
    max_outstanding_calling: int
    max_outstanding_called: int
    nesting: int
    version: int = MMS_VERSION


@dataclass
class _Rcb:
    block: ReportControlBlock
    members: tuple[FCDA, ...]
    ld: str


@dataclass
class _Control:
    machine: ControlObject
    ref: ObjectReference  # the DO
    oper: dict[str, Data] = field(default_factory=dict)  # peer -> last Oper data
    deferred: tuple[str, ControlRequest, float | None] | None = None  # peer, request, deadline


def _fail(code: AccessError) -> tuple[str, int]:
    return ("failure", int(code))


class IedServer:
    """The ACSI server of one IED model over its value store."""

    def __init__(
        self,
        model: ServerModel,
        store: ValueStore,
        *,
        clock: Callable[[], float],
        authorize: Authorize = allow_all,
        checker: Checker | None = None,
        executor: Executor | None = None,
        max_outstanding: int = DEFAULT_MAX_OUTSTANDING,
        buffer_entries: int = 256,
        vendor: str = "derlink",
        revision: str = "0.1.0",
    ) -> None:
        self.model = model
        self.store = store
        self.clock = clock
        self.authorize = authorize
        self.checker = checker
        self.executor = executor
        self.max_outstanding = max_outstanding
        self.vendor = vendor
        self.revision = revision
        self.associations: dict[str, Association] = {}
        self._events: list[ServerEvent] = []
        self._controls: dict[str, _Control] = {}
        self._rcbs: dict[tuple[str, str], _Rcb] = {}  # (ld, "LLN0$BR$name") -> block
        self._names: dict[str, list[str]] = {}
        self._members_of: dict[tuple[str, FC], list[tuple[_Rcb, int]]] = {}
        self._pending: list[Outgoing] = []
        self._build_rcbs(buffer_entries)
        store.subscribe(self._on_store_change)

    # -- setup ------------------------------------------------------------------------------

    def _build_rcbs(self, buffer_entries: int) -> None:
        # EntryIDs unique within the server and across restarts: block index in the top
        # octet, the start time in ms above a 12-bit room for 4096 entries per ms of uptime.
        base = max(int(self.clock() * 1000), 0) % (1 << 43) << 12
        index = 0
        for rc in self.model.report_controls():
            if rc.dataset is None:
                continue
            ds = self.model.dataset(rc.ln.child(rc.dataset))
            trg = Reason.NONE
            for flag, reason in (
                (rc.trg_ops.dchg, Reason.DCHG),
                (rc.trg_ops.qchg, Reason.QCHG),
                (rc.trg_ops.dupd, Reason.DUPD),
                (rc.trg_ops.period, Reason.INTEGRITY),
                (rc.trg_ops.gi, Reason.GI),
            ):
                if flag:
                    trg |= reason
            o = rc.opt_fields
            opt = OptFlds(
                seq_num=o.seq_num,
                time_stamp=o.time_stamp,
                reason=o.reason_code,
                data_set=o.data_set,
                data_ref=o.data_ref,
                buf_ovfl=o.buf_ovfl,
                entry_id=o.entry_id,
                conf_rev=o.config_ref,
            )
            fc = "BR" if rc.buffered else "RP"
            for name in rc.instance_names():
                cfg = RcbConfig(
                    ref=str(rc.ln.child(name)),
                    buffered=rc.buffered,
                    dat_set=f"{rc.ln.ld}/{rc.ln.ln}${rc.dataset}",
                    member_count=len(ds.members),
                    rpt_id=rc.rpt_id,
                    conf_rev=rc.conf_rev,
                    trg_ops=trg,
                    intg_pd_ms=rc.intg_pd_ms,
                    buf_tm_ms=rc.buf_time_ms,
                    opt_flds=opt,
                    buffer_entries=buffer_entries,
                )
                index += 1
                block = ReportControlBlock(cfg, first_entry_id=(index % 256) << 56 | base | 1)
                key = (rc.ln.ld, f"{rc.ln.ln}${fc}${name}")
                self._rcbs[key] = _Rcb(block, ds.members, rc.ln.ld)

    # -- public API -------------------------------------------------------------------------

    def take_events(self) -> list[ServerEvent]:
        """Events since the last call (access refusals, controls applied, associations)."""
        events, self._events = self._events, []
        return events

    def report_blocks(self) -> list[ReportControlBlock]:
        """Every RCB instance (for inspection and tests)."""
        return [r.block for r in self._rcbs.values()]

    def handle(self, peer: str, pdu: Pdu) -> list[Outgoing]:
        """Process one PDU from ``peer``; returns the PDUs to send, in order."""
        try:
            kind, body = pdu
        except (TypeError, ValueError):
            self._events.append(RequestRefused(peer, "?", "not an MMS PDU"))
            return [self._reject(peer, None, "pdu-error", 1)]
        if kind == "initiate-RequestPDU":
            return self._initiate(peer, body)
        if kind == "conclude-RequestPDU":
            if peer not in self.associations:
                return [self._reject(peer, None, "conclude-requestPDU", 0)]
            self._drop(peer, "released")
            return [Outgoing(peer, ("conclude-ResponsePDU", None), OutKind.RESPONSE)]
        if kind != "confirmed-RequestPDU":
            self._events.append(RequestRefused(peer, kind, "unexpected PDU"))
            return []
        invoke = body.get("invokeID", 0) if isinstance(body, Mapping) else 0
        if peer not in self.associations:
            self._events.append(RequestRefused(peer, "confirmed-request", "not associated"))
            refused = mms_errors.service_error(
                mms_errors.ServiceProblem.PRIMITIVES_OUT_OF_SEQUENCE,
                additional_description="not associated",
            )
            return [self._error(peer, invoke, refused)]
        try:
            service, request = body["service"]
        except (KeyError, TypeError, ValueError):
            return [self._reject(peer, invoke, "confirmed-requestPDU", 4)]
        handler = {
            "getNameList": self._get_name_list,
            "identify": self._identify,
            "read": self._read,
            "write": self._write,
            "getVariableAccessAttributes": self._get_var_attrs,
            "getNamedVariableListAttributes": self._get_nvl_attrs,
        }.get(service)
        if handler is None:
            return [self._reject(peer, invoke, "confirmed-requestPDU", 1)]
        try:
            response, before, after = handler(peer, request)
        except ServiceError as exc:
            return [self._error(peer, invoke, mms_service_error(exc.service_class, _vis(str(exc))))]
        except Exception as exc:  # untrusted input: never let a malformed request crash us
            self._events.append(RequestRefused(peer, service, f"{type(exc).__name__}: {exc}"))
            return [self._reject(peer, invoke, "confirmed-requestPDU", 4)]
        reply = ("confirmed-ResponsePDU", {"invokeID": invoke, "service": (service, response)})
        return [*before, Outgoing(peer, reply, OutKind.RESPONSE), *after, *self.take_pending()]

    def peer_lost(self, peer: str) -> list[Outgoing]:
        """The association of ``peer`` ended without Release (abort, presence unavailable)."""
        if peer not in self.associations:
            return []
        return self._drop(peer, "aborted")

    def tick(self, now: float | None = None) -> list[Outgoing]:
        """Advance time: integrity reports, BufTm expiry, SBO timeouts, timed operates."""
        now = self.clock() if now is None else now
        out: list[Outgoing] = []
        for rcb in self._rcbs.values():
            snapshot = self._snapshot(rcb) if rcb.block.rpt_ena else []
            out.extend(self._send_reports(rcb, rcb.block.tick(now, snapshot)))
        for ctl in self._controls.values():
            for event in ctl.machine.tick(now):
                out.extend(self._control_event(ctl, event, now))
            if ctl.deferred is not None and ctl.deferred[2] is not None:
                peer, req, deadline = ctl.deferred
                if deadline is not None and now >= deadline:  # operTimeout ran out
                    out.extend(self._conclude(ctl, peer, req, AddCause.TIME_LIMIT_OVER, now))
        return out + self.take_pending()

    def next_deadline(self) -> float | None:
        """The earliest time :meth:`tick` has report work (SBO timeouts: tick every second)."""
        times = [t for r in self._rcbs.values() if (t := r.block.next_deadline()) is not None]
        return min(times) if times else None

    # -- association ------------------------------------------------------------------------

    def _initiate(self, peer: str, body: Any) -> list[Outgoing]:
        try:
            calling = int(body["proposedMaxServOutstandingCalling"])
            called = int(body["proposedMaxServOutstandingCalled"])
            nesting = int(body.get("proposedDataStructureNestingLevel", DEFAULT_NESTING))
            detail = body["initRequestDetail"]
            version = int(detail["proposedVersionNumber"])
        except (KeyError, TypeError, ValueError):
            self._events.append(AssociationChanged(peer, "refused", "malformed initiate"))
            return [
                Outgoing(
                    peer, ("initiate-ErrorPDU", {"errorClass": ("initiate", 0)}), OutKind.RESPONSE
                )
            ]
        if calling < 1 or called < 1 or version < 1:
            self._events.append(AssociationChanged(peer, "refused", "bad parameters"))
            code = 3 if calling < 1 else 4
            return [
                Outgoing(
                    peer,
                    ("initiate-ErrorPDU", {"errorClass": ("initiate", code)}),
                    OutKind.RESPONSE,
                )
            ]
        if peer in self.associations:
            self._drop(peer, "aborted")  # a new Associate replaces a stale one
        assoc = Association(
            peer,
            max_outstanding_calling=min(calling, self.max_outstanding),
            max_outstanding_called=min(called, self.max_outstanding),
            nesting=min(max(nesting, 1), DEFAULT_NESTING),
        )
        self.associations[peer] = assoc
        for rcb in self._rcbs.values():
            rcb.block.peer_back(peer)
        self._events.append(AssociationChanged(peer, "associated"))
        response = {
            "negotiatedMaxServOutstandingCalling": assoc.max_outstanding_calling,
            "negotiatedMaxServOutstandingCalled": assoc.max_outstanding_called,
            "negotiatedDataStructureNestingLevel": assoc.nesting,
            "initResponseDetail": {
                "negotiatedVersionNumber": MMS_VERSION,
                "negotiatedParameterCBB": pack_positions(_PARAMETER_CBB, 18),
                "servicesSupportedCalled": pack_positions(_SERVICES, 93),
            },
        }
        return [Outgoing(peer, ("initiate-ResponsePDU", response), OutKind.RESPONSE)]

    def _drop(self, peer: str, state: str) -> list[Outgoing]:
        self.associations.pop(peer, None)
        now = self.clock()
        out: list[Outgoing] = []
        for rcb in self._rcbs.values():
            rcb.block.peer_lost(peer, now)
        for ctl in self._controls.values():
            for event in ctl.machine.peer_lost(peer):
                out.extend(self._control_event(ctl, event, now))
        self._events.append(AssociationChanged(peer, state))
        # nothing can be sent to a peer that is gone
        return [o for o in out if o.peer != peer]

    # -- PDUs ------------------------------------------------------------------------------

    def _error(self, peer: str, invoke: int, service_error: dict[str, Any]) -> Outgoing:
        body = {"invokeID": invoke, "serviceError": service_error}
        return Outgoing(peer, ("confirmed-ErrorPDU", body), OutKind.RESPONSE)

    def _reject(self, peer: str, invoke: int | None, kind: str, code: int) -> Outgoing:
        body: dict[str, Any] = {"rejectReason": (kind, code)}
        if invoke is not None:
            body["originalInvokeID"] = invoke
        return Outgoing(peer, ("rejectPDU", body), OutKind.RESPONSE)

    def _allowed(self, peer: str, right: str, ref: ObjectReference | None, service: str) -> bool:
        if self.authorize(peer, right, ref):
            return True
        self._events.append(AccessDenied(peer, right, str(ref) if ref else "", service))
        return False

    def _deny(self, peer: str, right: str, ref: ObjectReference | None, service: str) -> None:
        if not self._allowed(peer, right, ref, service):
            raise ServiceError(ServiceErrorClass.ACCESS_VIOLATION, f"{right} on {ref} refused")

    # -- Identify / directories --------------------------------------------------------------

    def _identify(self, peer: str, request: Any) -> _Result:
        self._deny(peer, VIEW, None, "Identify")
        resp = {
            "vendorName": self.vendor,
            "modelName": self.model.ied_name,
            "revision": self.revision,
        }
        return resp, [], []

    def _get_name_list(self, peer: str, request: Any) -> _Result:
        obj_class = request["objectClass"]
        scope_kind, scope = request["objectScope"]
        after = request.get("continueAfter")
        cls = obj_class[1] if obj_class[0] == "basicObjectClass" else -1
        if cls == 9 and scope_kind == "vmdSpecific":  # domains: GetServerDirectory
            self._deny(peer, VIEW, None, "GetServerDirectory")
            names = sorted(self.model.logical_devices())
        elif cls in (0, 2) and scope_kind == "domainSpecific":
            try:
                device = self.model.device(scope)
            except ObjectNotFound:
                raise ServiceError(
                    ServiceErrorClass.INSTANCE_NOT_AVAILABLE, f"no domain {scope}"
                ) from None
            self._deny(peer, VIEW, device.ref, "GetLogicalDeviceDirectory")
            names = self._variable_names(device.name) if cls == 0 else self._nvl_names(device.name)
        elif scope_kind == "vmdSpecific" and cls in (0, 2):
            names = []
        else:
            raise ServiceError(ServiceErrorClass.CLASS_NOT_SUPPORTED, "object class not supported")
        start = bisect.bisect_right(names, after) if after is not None else 0
        page = names[start : start + NAME_LIST_PAGE]
        more = start + NAME_LIST_PAGE < len(names)
        return {"listOfIdentifier": page, "moreFollows": more}, [], []

    def _nvl_names(self, ld: str) -> list[str]:
        device = self.model.device(ld)
        return sorted(
            f"{ln.name}${ds.name}" for ln in device.nodes.values() for ds in ln.datasets.values()
        )

    def _variable_names(self, ld: str) -> list[str]:
        cached = self._names.get(ld)
        if cached is not None:
            return cached
        names: list[str] = []
        device = self.model.device(ld)
        for ln in device.nodes.values():
            names.append(ln.name)
            for fc in ln.fcs():
                names.append(f"{ln.name}${fc.value}")
                for do in ln.objects.values():
                    sub = do.restricted(fc)
                    if sub is not None:
                        _collect(names, f"{ln.name}${fc.value}${do.name}", sub)
        for (rld, item), rcb in self._rcbs.items():
            if rld != ld:
                continue
            ln_name, fc_name, _ = item.split("$")
            if f"{ln_name}${fc_name}" not in names:
                names.append(f"{ln_name}${fc_name}")
            names.append(item)
            names.extend(f"{item}${attr}" for attr in rcb.block.attributes)
        names = sorted(set(names))
        self._names[ld] = names
        return names

    # -- GetDataDefinition --------------------------------------------------------------------

    def _get_var_attrs(self, peer: str, request: Any) -> _Result:
        kind, name = request
        if kind != "name":
            raise ServiceError(ServiceErrorClass.CLASS_NOT_SUPPORTED, "only names are supported")
        ref, fc = parse_object_name(name)
        self._deny(peer, VIEW, ref, "GetDataDefinition")
        td = self._type_of(ref, fc)
        return {"mmsDeletable": False, "typeDescription": td}, [], []

    def _type_of(self, ref: ObjectReference, fc: FC | None) -> tuple[str, Any]:
        try:
            if fc in (FC.BR, FC.RP):
                rcb, attr = self._rcb_for(ref, fc)
                attrs = [attr] if attr else list(rcb.block.attributes)
                comps = [
                    {
                        "componentName": a,
                        "componentType": ("typeDescription", rcb_attr_type(a, rcb.block.buffered)),
                    }
                    for a in attrs
                ]
                if attr:
                    return rcb_attr_type(attr, rcb.block.buffered)
                return ("structure", {"components": comps})
            if fc is None:
                node = self.model.node(ref)
                if ref.path:
                    raise ObjectNotFound(f"{ref}: a data name needs an FC")
                return (
                    "structure",
                    {
                        "components": [
                            {
                                "componentName": f.value,
                                "componentType": ("typeDescription", self._type_of(ref, f)),
                            }
                            for f in node.fcs()
                        ]
                    },
                )
            if not ref.path:
                node = self.model.node(ref)
                comps = []
                for do in node.objects.values():
                    sub = do.restricted(fc)
                    if sub is not None:
                        comps.append(
                            {
                                "componentName": do.name,
                                "componentType": ("typeDescription", type_description(sub)),
                            }
                        )
                if not comps:
                    raise ObjectNotFound(f"{ref} has nothing under {fc}")
                return ("structure", {"components": comps})
            return type_description(self.model.definition(ref, fc))
        except ObjectNotFound as exc:
            raise ServiceError(ServiceErrorClass.INSTANCE_NOT_AVAILABLE, str(exc)) from None

    # -- data sets ----------------------------------------------------------------------------

    def _dataset(self, name: Any) -> tuple[ObjectReference, tuple[FCDA, ...]]:
        try:
            kind, value = name
            if kind != "domain-specific":
                raise ValueError(kind)
            ln, _, ds = value["itemID"].partition("$")
            ref = ObjectReference(value["domainID"], ln, (ds,))
            return ref, self.model.dataset(ref).members
        except (ModelError, KeyError, TypeError, ValueError):
            raise ServiceError(
                ServiceErrorClass.INSTANCE_NOT_AVAILABLE, f"no data set {name!r}"
            ) from None

    def _get_nvl_attrs(self, peer: str, request: Any) -> _Result:
        ref, members = self._dataset(request)
        self._deny(peer, VIEW, ref, "GetDataSetDirectory")
        listing = [{"variableSpecification": ("name", object_name(m.ref, m.fc))} for m in members]
        return {"mmsDeletable": False, "listOfVariable": listing}, [], []

    # -- values -----------------------------------------------------------------------------

    def value_of(self, ref: ObjectReference, fc: FC) -> Any:
        """The current Python value of ``ref[fc]`` (dicts for structures)."""
        return self.store.get(FCDA(ref, fc))

    def _set(self, ref: ObjectReference, fc: FC, value: Any, now: float, cause: Cause) -> None:
        """Write a (possibly structured) value; the store checks it all before changing any."""
        self.store.set(FCDA(ref, fc), value, reason=cause, now=now)

    def _try_set(self, ref: ObjectReference, fc: FC, value: Any, now: float) -> None:
        with contextlib.suppress(ModelError):
            self._set(ref, fc, value, now, Cause.PROCESS)

    def _read_one(self, peer: str, ref: ObjectReference, fc: FC | None) -> Any:
        if fc is None:
            return _fail(AccessError.OBJECT_ACCESS_UNSUPPORTED)
        if fc in (FC.BR, FC.RP):
            if not self._allowed(peer, REPORTING, ref, "GetRCBValues"):
                return _fail(AccessError.OBJECT_ACCESS_DENIED)
            try:
                rcb, attr = self._rcb_for(ref, fc)
            except ServiceError as exc:
                return _fail(access_error_for(exc.service_class))
            b = rcb.block
            if attr:
                return ("success", rcb_attr_to_data(attr, b.read(attr), b.buffered))
            items = [rcb_attr_to_data(a, b.read(a), b.buffered) for a in b.attributes]
            return ("success", ("structure", items))
        if fc is FC.CO and ref.path and ref.path[-1] == "SBO":
            return self._select_normal(peer, ref)
        if not self._allowed(peer, READ, ref, "GetDataValues"):
            return _fail(AccessError.OBJECT_ACCESS_DENIED)
        try:
            if not ref.path:
                node = self.model.node(ref)
                items = []
                for do in node.objects.values():
                    sub = do.restricted(fc)
                    if sub is not None:
                        items.append(value_to_data(sub, self.value_of(ref.child(do.name), fc)))
                if not items:
                    return _fail(AccessError.OBJECT_NON_EXISTENT)
                return ("success", ("structure", items))
            node2 = self.model.definition(ref, fc)
            return ("success", value_to_data(node2, self.value_of(ref, fc)))
        except ObjectNotFound:
            return _fail(AccessError.OBJECT_NON_EXISTENT)

    def _read(self, peer: str, request: Any) -> _Result:
        kind, spec = request["variableAccessSpecification"]
        results: list[Any] = []
        if kind == "variableListName":
            ref, members = self._dataset(spec)
            if not self._allowed(peer, READ, ref, "GetDataSetValues"):
                raise ServiceError(ServiceErrorClass.ACCESS_VIOLATION, f"read of {ref} refused")
            for m in members:
                results.append(self._read_one(peer, m.ref, m.fc))
            response: dict[str, Any] = {"listOfAccessResult": results}
            if request.get("specificationWithResult"):
                response["variableAccessSpecification"] = (kind, spec)
            return response, [], []
        for item in spec:
            if "alternateAccess" in item:
                results.append(_fail(AccessError.OBJECT_ACCESS_UNSUPPORTED))
                continue
            vkind, name = item["variableSpecification"]
            if vkind != "name":
                results.append(_fail(AccessError.OBJECT_ACCESS_UNSUPPORTED))
                continue
            try:
                ref, fc = parse_object_name(name)
            except ServiceError:
                results.append(_fail(AccessError.OBJECT_NON_EXISTENT))
                continue
            results.append(self._read_one(peer, ref, fc))
        response = {"listOfAccessResult": results}
        if request.get("specificationWithResult"):
            response["variableAccessSpecification"] = (kind, spec)
        return response, [], []

    # -- write ----------------------------------------------------------------------------

    def _write(self, peer: str, request: Any) -> _Result:
        kind, spec = request["variableAccessSpecification"]
        data = request["listOfData"]
        if kind != "listOfVariable" or len(spec) != len(data):
            raise ServiceError(
                ServiceErrorClass.PARAMETER_VALUE_INCONSISTENT, "variables and data differ"
            )
        # Check the shape of every item before acting on any (a malformed request changes
        # nothing); then each variable succeeds or fails on its own, as MMS Write does.
        targets: list[tuple[ObjectReference, FC | None, Any] | AccessError] = []
        for item in spec:
            vkind, name = item["variableSpecification"]
            if vkind != "name" or "alternateAccess" in item:
                targets.append(AccessError.OBJECT_ACCESS_UNSUPPORTED)
                continue
            try:
                ref, fc = parse_object_name(name)
            except ServiceError:
                targets.append(AccessError.OBJECT_NON_EXISTENT)
                continue
            targets.append((ref, fc, name))
        results: list[Any] = []
        before: list[Outgoing] = []
        after: list[Outgoing] = []
        now = self.clock()
        for target, value in zip(targets, data, strict=True):
            if isinstance(target, AccessError):
                results.append(_fail(target))
                continue
            ref, fc, name = target
            if fc in (FC.BR, FC.RP):
                results.append(self._write_rcb(peer, ref, fc, value, now, after))
            elif fc is FC.CO and ref.path and ref.path[-1] in _CONTROL_ATTRS:
                results.append(self._write_control(peer, ref, name, value, now, before, after))
            else:
                results.append(self._write_data(peer, ref, fc, value, now))
        return results, before, after

    def _write_data(
        self, peer: str, ref: ObjectReference, fc: FC | None, value: Any, now: float
    ) -> Any:
        if fc is None or not ref.path:
            return _fail(AccessError.OBJECT_ACCESS_UNSUPPORTED)
        right = _WRITABLE_FC.get(fc)
        try:
            node = self.model.definition(ref, fc)
        except ObjectNotFound:
            return _fail(AccessError.OBJECT_NON_EXISTENT)
        if right is None:
            self._allowed(peer, CONFIG, ref, "SetDataValues")
            return _fail(AccessError.OBJECT_ACCESS_DENIED)
        if not self._allowed(peer, right, ref, "SetDataValues"):
            return _fail(AccessError.OBJECT_ACCESS_DENIED)
        try:
            python = data_to_value(node, value)
            self._set(ref, fc, python, now, Cause.CLIENT)
        except ServiceError:
            return _fail(AccessError.TYPE_INCONSISTENT)
        except ModelError:
            return _fail(AccessError.OBJECT_VALUE_INVALID)
        self._events.append(SettingApplied(peer, FCDA(ref, fc), python))
        return ("success", None)

    # -- report control blocks ----------------------------------------------------------------

    def _rcb_for(self, ref: ObjectReference, fc: FC) -> tuple[_Rcb, str | None]:
        if not ref.path or len(ref.path) > 2:
            raise ServiceError(ServiceErrorClass.INSTANCE_NOT_AVAILABLE, f"{ref} is no RCB")
        rcb = self._rcbs.get((ref.ld, f"{ref.ln}${fc.value}${ref.path[0]}"))
        if rcb is None:
            raise ServiceError(ServiceErrorClass.INSTANCE_NOT_AVAILABLE, f"no RCB {ref}")
        attr = ref.path[1] if len(ref.path) == 2 else None
        if attr is not None and attr not in rcb.block.attributes:
            raise ServiceError(ServiceErrorClass.INSTANCE_NOT_AVAILABLE, f"no attribute {attr}")
        return rcb, attr

    def _snapshot(self, rcb: _Rcb) -> list[Any]:
        return [self.value_of(m.ref, m.fc) for m in rcb.members]

    def _write_rcb(
        self, peer: str, ref: ObjectReference, fc: FC, value: Any, now: float, after: list[Outgoing]
    ) -> Any:
        if not self._allowed(peer, REPORTING, ref, "SetRCBValues"):
            return _fail(AccessError.OBJECT_ACCESS_DENIED)
        try:
            rcb, attr = self._rcb_for(ref, fc)
            if attr is None:
                return _fail(AccessError.OBJECT_ACCESS_UNSUPPORTED)
            python = data_to_rcb_attr(attr, value)
            snapshot = self._snapshot(rcb) if attr in ("GI", "RptEna") else []
            reports = rcb.block.write(peer, attr, python, now, snapshot)
        except ServiceError as exc:
            return _fail(access_error_for(exc.service_class))
        after.extend(self._send_reports(rcb, reports))
        return ("success", None)

    def _send_reports(self, rcb: _Rcb, reports: list[Report]) -> list[Outgoing]:
        out: list[Outgoing] = []
        for report in reports:
            if report.owner not in self.associations:
                continue
            values: list[Data] = []
            refs: list[str] = []
            for member in report.members:
                fcda = rcb.members[member.index]
                node = self.model.definition(fcda.ref, fcda.fc)
                values.append(value_to_data(node, member.value))
                item = object_name(fcda.ref, fcda.fc)[1]["itemID"]
                refs.append(f"{fcda.ref.ld}/{item}")
            pdu = encode_report(report, refs, values, len(rcb.members))
            out.append(Outgoing(report.owner, pdu, OutKind.REPORT))
        return out

    def _on_store_change(self, changes: tuple[Change, ...]) -> None:
        """Store listener: one batch of leaf changes -> one trigger per data-set member."""
        reasons: dict[tuple[int, int], tuple[_Rcb, int, Reason]] = {}
        for change in changes:
            flags = _reason(change.triggers)
            if not flags:
                continue
            for rcb, index in self._targets(change.fcda):
                key = (id(rcb), index)
                prev = reasons.get(key)
                reasons[key] = (rcb, index, flags | (prev[2] if prev else Reason.NONE))
        now = self.clock()
        for rcb, index, flags in reasons.values():
            member = rcb.members[index]
            value = self.value_of(member.ref, member.fc)
            reports = rcb.block.on_change(index, value, flags, now)
            self._pending.extend(self._send_reports(rcb, reports))

    def _targets(self, fcda: FCDA) -> list[tuple[_Rcb, int]]:
        key = (str(fcda.ref), fcda.fc)
        targets = self._members_of.get(key)
        if targets is None:
            targets = [
                (rcb, i)
                for rcb in self._rcbs.values()
                for i, m in enumerate(rcb.members)
                if m.fc is fcda.fc and (fcda.ref.startswith(m.ref) or m.ref.startswith(fcda.ref))
            ]
            self._members_of[key] = targets
        return targets

    def take_pending(self) -> list[Outgoing]:
        """Reports produced by value changes since the last call."""
        out, self._pending = self._pending, []
        return out

    # -- controls -------------------------------------------------------------------------

    def _control(self, do_ref: ObjectReference) -> _Control:
        key = str(do_ref)
        model = ControlModel(int(self._get_or(do_ref.child("ctlModel"), FC.CF, 0)))
        timeout = int(self._get_or(do_ref.child("sboTimeout"), FC.CF, 0))
        ctl = self._controls.get(key)
        if ctl is None:
            ctl = _Control(ControlObject(key, model, sbo_timeout_ms=timeout), do_ref)
            self._controls[key] = ctl
        elif ctl.machine.state.value == "unselected":
            ctl.machine.model = model
            if timeout > 0:
                ctl.machine.sbo_timeout_ms = timeout
        return ctl

    def _get_or(self, ref: ObjectReference, fc: FC, default: Any) -> Any:
        try:
            self.model.data(ref, fc)
            return self.store.get(FCDA(ref, fc))
        except ModelError:
            return default

    def _behaviour(self, do_ref: ObjectReference) -> int:
        """Effective Beh of the LN of ``do_ref``: its own Beh combined with LLN0's (7-4: an LD
        switched off or to test takes its LNs with it)."""
        own = int(self._get_or(do_ref.ln_ref.child("Beh", "stVal"), FC.ST, 1))
        lln0 = int(self._get_or(ObjectReference(do_ref.ld, "LLN0", ("Beh", "stVal")), FC.ST, 1))
        if 5 in (own, lln0):
            return 5
        test = own in (3, 4) or lln0 in (3, 4)
        blocked = own in (2, 4) or lln0 in (2, 4)
        return (3 if test else 1) + (1 if blocked else 0)

    def _refusal(self, do_ref: ObjectReference, req: ControlRequest) -> AddCause | None:
        if do_ref.path[0] != "Mod":
            beh = self._behaviour(do_ref)
            if beh == 5 or (beh in (1, 2) and req.test) or (beh in (3, 4) and not req.test):
                return AddCause.BLOCKED_BY_MODE
        if self.checker is not None:
            return self.checker(do_ref, req)
        return None

    def _select_normal(self, peer: str, ref: ObjectReference) -> Any:
        do_ref = ObjectReference(ref.ld, ref.ln, ref.path[:-1])
        if not self._allowed(peer, CONTROL, do_ref, "Select"):
            return _fail(AccessError.OBJECT_ACCESS_DENIED)
        try:
            self.model.data(do_ref)
        except ObjectNotFound:
            return _fail(AccessError.OBJECT_NON_EXISTENT)
        ctl = self._control(do_ref)
        now = self.clock()
        beh = self._behaviour(do_ref)
        refusal = AddCause.BLOCKED_BY_MODE if beh == 5 and do_ref.path[0] != "Mod" else None
        outcome = ctl.machine.select(peer, now, refusal)
        if not outcome.accepted:
            self._events.append(ControlRefused(peer, do_ref, "Select", outcome.add_cause))
            return ("success", ("visible-string", ""))
        self._try_set(do_ref.child("stSeld"), FC.ST, True, now)
        item = object_name(do_ref, FC.CO)[1]["itemID"]
        return ("success", ("visible-string", f"{do_ref.ld}/{item}"))

    def _write_control(
        self,
        peer: str,
        ref: ObjectReference,
        name: Any,
        value: Any,
        now: float,
        before: list[Outgoing],
        after: list[Outgoing],
    ) -> Any:
        attr = ref.path[-1]
        do_ref = ObjectReference(ref.ld, ref.ln, ref.path[:-1])
        try:
            definition = self.model.definition(ref, FC.CO)
        except ObjectNotFound:
            return _fail(AccessError.OBJECT_NON_EXISTENT)
        try:
            params = data_to_value(definition, value)
            req = _request(params)
        except (ServiceError, KeyError, TypeError, ValueError):
            return _fail(AccessError.TYPE_INCONSISTENT)
        ctl = self._control(do_ref)
        enhanced = ctl.machine.model.enhanced
        cntrl_obj = f"{ref.ld}/{object_name(ref, FC.CO)[1]['itemID']}"
        if not self._allowed(peer, CONTROL, do_ref, attr):
            if enhanced:
                before.append(
                    self._last_appl_error(peer, cntrl_obj, req, AddCause.NO_ACCESS_AUTHORITY)
                )
            return _fail(AccessError.OBJECT_ACCESS_DENIED)
        if req.origin.or_cat not in set(OrCat):  # 7-3: orCat outside its enumeration
            cause = AddCause.SELECT_FAILED if attr == "SBOw" else AddCause.INCONSISTENT_PARAMETERS
            self._events.append(ControlRefused(peer, do_ref, attr, cause))
            if enhanced:
                before.append(self._last_appl_error(peer, cntrl_obj, req, cause))
            return _fail(AccessError.OBJECT_VALUE_INVALID)
        if attr == "Cancel":
            outcome = ctl.machine.cancel(peer, req, now)
        elif attr == "SBOw":
            outcome = ctl.machine.select_with_value(peer, req, now, self._refusal(do_ref, req))
        elif attr == "Oper":
            outcome = ctl.machine.operate(peer, req, now, self._refusal(do_ref, req))
        else:
            return _fail(AccessError.OBJECT_ACCESS_DENIED)
        if not outcome.accepted:
            self._events.append(ControlRefused(peer, do_ref, attr, outcome.add_cause))
            if enhanced:
                before.append(
                    self._last_appl_error(peer, cntrl_obj, req, outcome.add_cause, outcome.error)
                )
            if attr == "Oper" and ctl.machine.state.value == "unselected":
                self._try_set(do_ref.child("stSeld"), FC.ST, False, now)
            return _fail(_access_for_cause(outcome.add_cause))
        if attr == "SBOw":
            self._try_set(do_ref.child("stSeld"), FC.ST, True, now)
        elif attr == "Cancel":
            self._try_set(do_ref.child("stSeld"), FC.ST, False, now)
            if outcome.aborted is not None and enhanced:
                oper = ctl.oper.pop(peer, value)
                err = self._appl_error(
                    cntrl_obj.replace("$Cancel", "$Oper"),
                    outcome.aborted,
                    AddCause.ABORTION_BY_CANCEL,
                )
                after.append(self._termination(peer, do_ref, oper, err))
        else:
            ctl.oper[peer] = value
            after.extend(self._execute(ctl, peer, outcome, now))
        return ("success", None)

    def _execute(
        self, ctl: _Control, peer: str, outcome: ControlOutcome, now: float
    ) -> list[Outgoing]:
        req = outcome.execute
        if req is None:
            return []  # time-activated: runs from tick()
        return self._apply(ctl, peer, req, now)

    def _apply(self, ctl: _Control, peer: str, req: ControlRequest, now: float) -> list[Outgoing]:
        """Execute an accepted operate: ask the executor (the device), then update the store
        and answer CommandTermination (+ or -) for enhanced security. An executor returning
        :data:`DEFER` finishes later through :meth:`complete_control`."""
        applied = ControlApplied(peer, ctl.ref, req.ctl_val, req)
        cause = self.executor(applied) if self.executor is not None else None
        if isinstance(cause, Defer):
            timeout = int(self._get_or(ctl.ref.child("operTimeout"), FC.CF, 0))
            deadline = now + timeout / 1000.0 if timeout > 0 else None
            ctl.deferred = (peer, req, deadline)
            return []
        return self._conclude(ctl, peer, req, cause, now)

    def complete_control(
        self, ref: ObjectReference, cause: AddCause | None = None
    ) -> list[Outgoing]:
        """The device finished a deferred operate of DO ``ref``: ``cause`` None applies it
        (store update, CommandTermination+), otherwise CommandTermination- with ``cause``."""
        ctl = self._controls.get(str(ref))
        if ctl is None or ctl.deferred is None:
            return []
        peer, req, _ = ctl.deferred
        return self._conclude(ctl, peer, req, cause, self.clock()) + self.take_pending()

    def _conclude(
        self, ctl: _Control, peer: str, req: ControlRequest, cause: AddCause | None, now: float
    ) -> list[Outgoing]:
        do_ref = ctl.ref
        ctl.deferred = None
        if cause is None:
            self._store_control(do_ref, req, now)
            self._events.append(ControlApplied(peer, do_ref, req.ctl_val, req))
        else:
            self._events.append(ControlRefused(peer, do_ref, "Oper", cause))
            self._try_set(do_ref.child("stSeld"), FC.ST, False, now)
        out: list[Outgoing] = []
        if ctl.machine.model.enhanced:
            ctl.machine.finish()
            oper = ctl.oper.pop(peer, None)
            if oper is not None and peer in self.associations:
                error = None
                if cause is not None:
                    name = f"{do_ref.ld}/{object_name(do_ref.child('Oper'), FC.CO)[1]['itemID']}"
                    error = self._appl_error(name, req, cause)
                out.append(self._termination(peer, do_ref, oper, error))
        return out

    def _store_control(self, do_ref: ObjectReference, req: ControlRequest, now: float) -> None:
        """The new state of a controlled object after an operate (7-3 CDC semantics)."""
        do = self.model.data(do_ref)
        cdc = do.cdc if isinstance(do, DataObject) else ""
        stamp = Timestamp.from_unix(now)
        if cdc == "APC":
            self._try_set(do_ref.child("mxVal"), FC.MX, req.ctl_val, now)
            self._try_set(do_ref.child("t"), FC.MX, stamp, now)
        else:
            value = req.ctl_val
            if cdc == "DPC" and isinstance(value, bool):
                value = 2 if value else 1
            self._try_set(do_ref.child("stVal"), FC.ST, value, now)
            self._try_set(do_ref.child("t"), FC.ST, stamp, now)
            if do_ref.path[0] == "Mod":
                self._try_set(do_ref.ln_ref.child("Beh", "stVal"), FC.ST, value, now)
                self._try_set(do_ref.ln_ref.child("Beh", "t"), FC.ST, stamp, now)
        origin = {"orCat": req.origin.or_cat, "orIdent": req.origin.or_ident}
        self._try_set(do_ref.child("origin"), FC.ST, origin, now)
        self._try_set(do_ref.child("ctlNum"), FC.ST, req.ctl_num, now)
        self._try_set(do_ref.child("stSeld"), FC.ST, False, now)

    def _control_event(self, ctl: _Control, event: Any, now: float) -> list[Outgoing]:
        if isinstance(event, SelectExpired):
            self._try_set(ctl.ref.child("stSeld"), FC.ST, False, now)
            return []
        if isinstance(event, ActivationDue):
            return self._apply(ctl, event.peer, event.request, now)
        if isinstance(event, Terminated):
            oper = ctl.oper.pop(event.peer, None)
            if (
                oper is None
                or event.peer not in self.associations
                or not ctl.machine.model.enhanced
            ):
                return []
            name = f"{ctl.ref.ld}/{object_name(ctl.ref.child('Oper'), FC.CO)[1]['itemID']}"
            err = self._appl_error(name, event.request, event.add_cause)
            return [self._termination(event.peer, ctl.ref, oper, err)]
        return []

    def _appl_error(
        self,
        cntrl_obj: str,
        req: ControlRequest,
        cause: AddCause,
        error: ControlErrorCode = ControlErrorCode.UNKNOWN,
    ) -> LastApplError:
        return LastApplError(
            cntrl_obj, error, req.origin.or_cat, req.origin.or_ident, req.ctl_num, cause
        )

    def _last_appl_error(
        self,
        peer: str,
        cntrl_obj: str,
        req: ControlRequest,
        cause: AddCause,
        error: ControlErrorCode = ControlErrorCode.UNKNOWN,
    ) -> Outgoing:
        pdu = last_appl_error_report(self._appl_error(cntrl_obj, req, cause, error))
        return Outgoing(peer, pdu, OutKind.REPORT)

    def _termination(
        self, peer: str, do_ref: ObjectReference, oper: Data, error: LastApplError | None
    ) -> Outgoing:
        name = object_name(do_ref.child("Oper"), FC.CO)
        return Outgoing(peer, command_termination(name, oper, error), OutKind.COMMAND_TERMINATION)


# --- helpers -------------------------------------------------------------------------------


def _collect(names: list[str], prefix: str, node: DataObject | DataAttribute) -> None:
    names.append(prefix)
    if isinstance(node, DataAttribute) and (node.is_array or not node.is_struct):
        return
    for name, child in node.children.items():
        _collect(names, f"{prefix}${name}", child)


def _vis(text: str) -> str:
    return "".join(c if " " <= c <= "~" else "?" for c in text)[:255]


_TRIGGERS = {
    TriggerReason.DCHG: Reason.DCHG,
    TriggerReason.QCHG: Reason.QCHG,
    TriggerReason.DUPD: Reason.DUPD,
}


def _reason(triggers: frozenset[TriggerReason]) -> Reason:
    out = Reason.NONE
    for trigger in triggers:
        out |= _TRIGGERS[trigger]
    return out


def _access_for_cause(cause: AddCause) -> AccessError:
    if cause in (
        AddCause.LOCKED_BY_OTHER_CLIENT,
        AddCause.OBJECT_ALREADY_SELECTED,
        AddCause.COMMAND_ALREADY_IN_EXECUTION,
    ):
        return AccessError.TEMPORARILY_UNAVAILABLE
    if cause in (AddCause.INCONSISTENT_PARAMETERS, AddCause.PARAMETER_CHANGE_IN_EXECUTION):
        return AccessError.OBJECT_VALUE_INVALID
    if cause is AddCause.NOT_SUPPORTED:
        return AccessError.OBJECT_ACCESS_UNSUPPORTED
    return AccessError.OBJECT_ACCESS_DENIED


def _request(params: dict[str, Any]) -> ControlRequest:
    """A ControlRequest from a decoded Oper/SBOw/Cancel structure."""
    origin = params["origin"]
    t = params.get("T")
    oper_tm = params.get("operTm")
    check = params.get("Check", (False, False))
    oper_unix = oper_tm.to_unix() if isinstance(oper_tm, Timestamp) else None
    return ControlRequest(
        ctl_val=params["ctlVal"],
        ctl_num=int(params["ctlNum"]),
        origin=Origin(int(origin["orCat"]), bytes(origin["orIdent"])),
        t=t.to_unix() if isinstance(t, Timestamp) else 0.0,
        test=bool(params.get("Test", False)),
        synchro_check=bool(check[0]),
        interlock_check=bool(check[1]),
        oper_tm=oper_unix if oper_unix else None,
    )


__all__ = [
    "DEFER",
    "AccessDenied",
    "Association",
    "AssociationChanged",
    "Authorize",
    "Checker",
    "ControlApplied",
    "ControlRefused",
    "Defer",
    "Executor",
    "IedServer",
    "OutKind",
    "Outgoing",
    "RequestRefused",
    "ServerEvent",
    "SettingApplied",
    "allow_all",
]
