"""The IEC 61850 data model of a DER IED, sans-IO: references, types, nodes, SCL, values.

No networking here: the ACSI server and the MMS mapping build on these objects.

API summary
-----------
refs      ``FC`` (ST MX SP SV CF DC SG SE SR OR BL EX CO US MS RP BR LG GO; ``FC.parse``),
          ``ObjectReference(ld, ln="", path=())`` with ``parse("LD/LN.DO.DA")`` / ``str()``,
          ``.parent``, ``.child(*names)``, ``.ln_ref``, ``.with_ld(ld)``, ``.startswith(ref)``;
          ``ld`` is the LD *name* (IED name + LD inst). Array elements are path elements
          ``"crvPts(3)"`` (``split_element``). ``FCDA(ref, fc)`` (also ``FCD``),
          ``FCDA.parse("LD/LN.DO[FC]")``, ``FCDA.of(text, "MX")``.
types     ``BasicType`` (SCL bType names), ``Quality`` (13 bits: ``to_bits``/``from_bits``/
          ``to_int``), ``Validity``, ``Timestamp(seconds, fraction, quality)``
          (``from_unix(now)``), ``TimeQuality``, ``EnumType(id, values: {ord: name})``,
          ``check_value(btype, value, enum_type=None) -> normalised value`` (TypeMismatch),
          ``default_value(btype, enum_type=None)``.
nodes     ``ServerModel(ied_name, devices, enum_types)``, ``LogicalDevice(inst, name, nodes)``,
          ``LogicalNode(name, ln_class, prefix, inst, objects, ln_type, datasets, reports)``,
          ``DataObject(name, cdc, children)``, ``DataAttribute(name, btype, fc, children,
          enum_type, trg: TrgFlags, count, type_id, value)``, ``DataSet(name, ln, members)``,
          ``ReportControl(name, ln, buffered, dataset, rpt_id, conf_rev, buf_time_ms,
          intg_pd_ms, trg_ops: TrgOps, opt_fields: OptFields, max_clients, indexed)``.
          Lookups: ``model.find(ref, fc=None)``, ``model.data(ref, fc)``,
          ``model.definition(ref, fc)`` (type tree restricted to an FC),
          ``model.attributes(ref, fc) -> ((leaf_ref, DataAttribute), ...)`` in model order,
          ``model.logical_devices()``, ``model.logical_nodes(ld)``, ``model.data_objects(ln)``,
          ``model.data_objects_by_fc(ln, fc)``, ``node.fcs()``, ``model.datasets(ln=None)``,
          ``model.dataset(ref)``, ``model.report_controls(ln=None)``,
          ``model.report_control(ref)``, ``model.walk()``, ``model.ref("LD0/...")``.
scl       ``load_scl(source: Path | bytes, ied_name=None) -> ServerModel`` (SclError).
store     ``ValueStore(model, clock=None)``: ``get(fcda)`` (leaf value or dict tree),
          ``set(fcda, value, *, reason=Cause.PROCESS|CLIENT|CONTROL, now=None) ->
          tuple[Change, ...]`` (partial dicts allowed; checked fully before any change),
          ``subscribe(listener) -> unsubscribe``; listeners get each batch of ``Change(ref,
          fc, old, new, triggers: frozenset[TriggerReason dchg/qchg/dupd], cause, data)``;
          ``Change.within(member_fcda)``; ``snapshot()`` / ``restore(snap)``.
der       ``DER_POINTS: {DerSemantic: DerPoint}`` -> ``point.fcda(model)`` (value),
          ``point.control(model)`` (Oper, CO); ``load_der_ied(ied_name=None)``,
          ``der_icd_bytes()``.
errors    ``ModelError`` > ``BadReference`` (= ``ReferenceError_``), ``ObjectNotFound``,
          ``TypeMismatch``, ``ReadOnly``, ``SclError`` (all DerlinkError).
"""

from __future__ import annotations

from derlink.iec61850.model.errors import (
    BadReference,
    ModelError,
    ObjectNotFound,
    ReadOnly,
    ReferenceError_,
    SclError,
    TypeMismatch,
)
from derlink.iec61850.model.nodes import (
    DataAttribute,
    DataObject,
    DataSet,
    LogicalDevice,
    LogicalNode,
    OptFields,
    ReportControl,
    ServerModel,
    TrgFlags,
    TrgOps,
)
from derlink.iec61850.model.refs import FC, FCD, FCDA, ObjectReference
from derlink.iec61850.model.scl import load_scl
from derlink.iec61850.model.store import Cause, Change, TriggerReason, ValueStore
from derlink.iec61850.model.types import (
    BasicType,
    EnumType,
    Quality,
    TimeQuality,
    Timestamp,
    Validity,
    check_value,
    default_value,
)

__all__ = [
    "FC",
    "FCD",
    "FCDA",
    "BadReference",
    "BasicType",
    "Cause",
    "Change",
    "DataAttribute",
    "DataObject",
    "DataSet",
    "EnumType",
    "LogicalDevice",
    "LogicalNode",
    "ModelError",
    "ObjectNotFound",
    "ObjectReference",
    "OptFields",
    "Quality",
    "ReadOnly",
    "ReferenceError_",
    "ReportControl",
    "SclError",
    "ServerModel",
    "TimeQuality",
    "Timestamp",
    "TrgFlags",
    "TrgOps",
    "TriggerReason",
    "TypeMismatch",
    "Validity",
    "ValueStore",
    "check_value",
    "default_value",
    "load_scl",
]
