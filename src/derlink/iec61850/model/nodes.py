"""The instantiated server model: LD -> LN -> DO -> DA trees, datasets and report controls.

A :class:`ServerModel` is what an IED exposes (IEC 61850-7-2 Ed.2 clauses 8-11): logical
devices holding logical nodes holding data objects whose leaves are data attributes, each with
a functional constraint. All nodes are frozen; children live in insertion-ordered mappings, so
iteration order is the model order (the order of the SCL type templates), which is also the
order of GetDataValues results and MMS structure members.

References given to lookups use the LD *name* (IED name + LD inst, 7-2 clause 22); a bare LD
inst is accepted too when it is unambiguous.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

from derlink.iec61850.model.errors import ObjectNotFound
from derlink.iec61850.model.refs import FC, FCDA, ObjectReference, split_element
from derlink.iec61850.model.types import BasicType, EnumType

_EMPTY: Mapping[str, object] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class TrgFlags:
    """Trigger options an attribute supports (SCL DA ``dchg``/``qchg``/``dupd``)."""

    dchg: bool = False
    qchg: bool = False
    dupd: bool = False

    def __bool__(self) -> bool:
        return self.dchg or self.qchg or self.dupd


@dataclass(frozen=True, slots=True)
class TrgOps:
    """Trigger options of a control block (SCL TrgOps; 7-2 Ed.2 clause 17.2.3.6).

    Bit order of the TrgOps bit string (8-1): bit 0 reserved, 1 dchg, 2 qchg, 3 dupd,
    4 period (integrity), 5 gi.
    """

    dchg: bool = False
    qchg: bool = False
    dupd: bool = False
    period: bool = False
    gi: bool = True

    def to_bits(self) -> tuple[bool, ...]:
        """The 6-bit TrgOps string, bit 0 (reserved) first."""
        return (False, self.dchg, self.qchg, self.dupd, self.period, self.gi)

    @classmethod
    def from_bits(cls, bits: tuple[bool, ...] | list[bool]) -> TrgOps:
        """Inverse of :meth:`to_bits` (bit 0 ignored)."""
        padded = (*bits, False, False, False, False, False, False)[:6]
        return cls(*(bool(bit) for bit in padded[1:6]))


@dataclass(frozen=True, slots=True)
class OptFields:
    """Optional fields of a report (SCL OptFields; 8-1 OptFlds bit order: 0 reserved,
    1 sequence-number, 2 report-time-stamp, 3 reason-for-inclusion, 4 data-set-name,
    5 data-reference, 6 buffer-overflow, 7 entryID, 8 conf-revision, 9 segmentation)."""

    seq_num: bool = False
    time_stamp: bool = False
    reason_code: bool = False
    data_set: bool = False
    data_ref: bool = False
    buf_ovfl: bool = False
    entry_id: bool = False
    config_ref: bool = False
    segmentation: bool = False

    def to_bits(self) -> tuple[bool, ...]:
        """The 10-bit OptFlds string, bit 0 (reserved) first."""
        return (
            False,
            self.seq_num,
            self.time_stamp,
            self.reason_code,
            self.data_set,
            self.data_ref,
            self.buf_ovfl,
            self.entry_id,
            self.config_ref,
            self.segmentation,
        )

    @classmethod
    def from_bits(cls, bits: tuple[bool, ...] | list[bool]) -> OptFields:
        """Inverse of :meth:`to_bits` (bit 0 ignored)."""
        padded = (*bits, *(False,) * 10)[:10]
        return cls(*(bool(bit) for bit in padded[1:10]))


@dataclass(frozen=True, slots=True)
class DataAttribute:
    """A DA or BDA. ``fc`` is the FC of the top-level DA (inherited by its BDAs); ``children``
    hold the members of a Struct (``btype`` Struct); ``count > 0`` makes it an array of that
    many elements; ``value`` is the SCL ``Val`` (already checked), ``None`` when absent."""

    name: str
    btype: BasicType
    fc: FC
    children: Mapping[str, DataAttribute] = field(default_factory=dict)
    enum_type: str | None = None
    trg: TrgFlags = field(default_factory=TrgFlags)
    count: int = 0
    type_id: str | None = None
    value: object = None

    @property
    def is_struct(self) -> bool:
        """Whether this attribute has members."""
        return self.btype is BasicType.Struct

    @property
    def is_array(self) -> bool:
        """Whether this attribute is an array (SCL ``count``)."""
        return self.count > 0

    def fcs(self) -> frozenset[FC]:
        """The FCs found at or below this attribute (always just ``{fc}``)."""
        return frozenset({self.fc})


@dataclass(frozen=True, slots=True)
class DataObject:
    """A DO or SDO of common data class ``cdc``; children are DAs and SDOs in model order."""

    name: str
    cdc: str
    children: Mapping[str, DataObject | DataAttribute] = field(default_factory=dict)
    type_id: str | None = None
    count: int = 0

    def fcs(self) -> frozenset[FC]:
        """Every FC of an attribute somewhere under this object."""
        found: set[FC] = set()
        for child in self.children.values():
            found |= child.fcs()
        return frozenset(found)

    def restricted(self, fc: FC) -> DataObject | None:
        """This object with only the members under ``fc`` (``None`` when nothing is left)."""
        kept: dict[str, DataObject | DataAttribute] = {}
        for name, child in self.children.items():
            if isinstance(child, DataAttribute):
                if child.fc is fc:
                    kept[name] = child
            else:
                sub = child.restricted(fc)
                if sub is not None:
                    kept[name] = sub
        return replace(self, children=kept) if kept else None


Node = DataObject | DataAttribute


@dataclass(frozen=True, slots=True)
class DataSet:
    """A dataset declared in SCL; ``ln`` is the reference of the LN that holds it."""

    name: str
    ln: ObjectReference
    members: tuple[FCDA, ...]

    @property
    def ref(self) -> ObjectReference:
        """``LD/LN.name``."""
        return self.ln.child(self.name)


@dataclass(frozen=True, slots=True)
class ReportControl:
    """A report control block declared in SCL (7-2 Ed.2 clause 17.2 / SCL ReportControl).

    ``dataset`` is the dataset name in the same LN (``None`` when empty); ``max_clients`` is
    ``RptEnabled max`` (how many instances an indexed RCB provides); times in milliseconds.
    """

    name: str
    ln: ObjectReference
    buffered: bool
    dataset: str | None
    rpt_id: str
    conf_rev: int
    buf_time_ms: int = 0
    intg_pd_ms: int = 0
    trg_ops: TrgOps = field(default_factory=TrgOps)
    opt_fields: OptFields = field(default_factory=OptFields)
    max_clients: int = 1
    indexed: bool = True

    @property
    def ref(self) -> ObjectReference:
        """``LD/LN.name``."""
        return self.ln.child(self.name)

    @property
    def fc(self) -> FC:
        """BR for buffered, RP for unbuffered."""
        return FC.BR if self.buffered else FC.RP

    @property
    def dataset_ref(self) -> ObjectReference | None:
        """``LD/LN.dataset`` or ``None``."""
        return self.ln.child(self.dataset) if self.dataset else None

    def instance_names(self) -> tuple[str, ...]:
        """The names of the RCB instances: ``name01``..``nameNN`` when indexed and
        ``max_clients > 1``, else just ``name``."""
        if not self.indexed or self.max_clients <= 1:
            return (self.name,)
        return tuple(f"{self.name}{i:02d}" for i in range(1, self.max_clients + 1))


@dataclass(frozen=True, slots=True)
class LogicalNode:
    """An LN: ``name == prefix + ln_class + inst``; ``objects`` in model order."""

    name: str
    ln_class: str
    prefix: str
    inst: str
    objects: Mapping[str, DataObject]
    ln_type: str = ""
    datasets: Mapping[str, DataSet] = field(default_factory=dict)
    reports: Mapping[str, ReportControl] = field(default_factory=dict)
    desc: str = ""

    def fcs(self) -> tuple[FC, ...]:
        """The FCs present in this LN, in FC declaration order."""
        found: set[FC] = set()
        for obj in self.objects.values():
            found |= obj.fcs()
        return tuple(fc for fc in FC if fc in found)


@dataclass(frozen=True, slots=True)
class LogicalDevice:
    """An LD: ``inst`` from SCL and ``name`` as used in references (IED name + inst)."""

    inst: str
    name: str
    nodes: Mapping[str, LogicalNode]
    desc: str = ""

    @property
    def ref(self) -> ObjectReference:
        """The reference of this LD."""
        return ObjectReference(self.name)


@dataclass(frozen=True, slots=True)
class ServerModel:
    """Everything one IED server exposes, with lookups and directory listings."""

    ied_name: str
    devices: Mapping[str, LogicalDevice]
    enum_types: Mapping[str, EnumType] = field(default_factory=dict)
    desc: str = ""

    # -- logical devices and nodes -------------------------------------------------------

    def device(self, ld: str) -> LogicalDevice:
        """The LD with reference name ``ld`` (or, when unambiguous, LD inst ``ld``)."""
        found = self.devices.get(ld)
        if found is not None:
            return found
        by_inst = [dev for dev in self.devices.values() if dev.inst == ld]
        if len(by_inst) == 1:
            return by_inst[0]
        raise ObjectNotFound(f"no logical device {ld!r} in {self.ied_name}")

    def node(self, ref: ObjectReference) -> LogicalNode:
        """The LN that ``ref`` lies in."""
        device = self.device(ref.ld)
        found = device.nodes.get(ref.ln)
        if found is None:
            raise ObjectNotFound(f"no logical node {ref.ln!r} in {device.name}")
        return found

    def ref(self, text: str) -> ObjectReference:
        """Parse ``text`` and return it with the LD spelled as in this model (inst -> name)."""
        parsed = ObjectReference.parse(text)
        return parsed.with_ld(self.device(parsed.ld).name)

    # -- data --------------------------------------------------------------------------

    def find(
        self, ref: ObjectReference, fc: FC | None = None
    ) -> LogicalDevice | LogicalNode | DataObject | DataAttribute:
        """The node ``ref`` names. With ``fc``, a DO must hold some attribute under ``fc`` and a
        DA must have that FC; otherwise :class:`ObjectNotFound`. Array elements ``x(n)`` resolve
        to the array's element type (a DataAttribute with ``count == 0``)."""
        if not ref.ln:
            if fc is not None:
                raise ObjectNotFound(f"{ref} is a logical device; it has no FC {fc}")
            return self.device(ref.ld)
        node = self.node(ref)
        if not ref.path:
            if fc is not None:
                raise ObjectNotFound(f"{ref} is a logical node; it has no FC {fc}")
            return node
        current: DataObject | DataAttribute | None = None
        children: Mapping[str, DataObject | DataAttribute] = node.objects
        for depth, element in enumerate(ref.path):
            name, index = split_element(element)
            current = children.get(name)
            if current is None:
                where = ObjectReference(ref.ld, ref.ln, ref.path[:depth])
                raise ObjectNotFound(f"{where} has no member {name!r}")
            if index is not None:
                if current.count <= 0 or index >= current.count:
                    raise ObjectNotFound(f"{ref}: index {index} outside array {name!r}")
                current = replace(current, count=0)
            elif current.count > 0 and depth < len(ref.path) - 1:
                raise ObjectNotFound(f"{ref}: array {name!r} needs an index before a member")
            children = current.children
        assert current is not None
        if fc is not None and fc not in current.fcs():
            raise ObjectNotFound(f"{ref} has nothing under functional constraint {fc}")
        return current

    def data(self, ref: ObjectReference, fc: FC | None = None) -> DataObject | DataAttribute:
        """Like :meth:`find` but only for a DO/DA reference."""
        found = self.find(ref, fc)
        if not isinstance(found, DataObject | DataAttribute):
            raise ObjectNotFound(f"{ref} names no data object or attribute")
        return found

    def definition(self, ref: ObjectReference, fc: FC | None = None) -> DataObject | DataAttribute:
        """The type tree of a DO/DA, restricted to ``fc`` when given (GetDataDefinition /
        GetVariableAccessAttributes of ``LN$FC$DO``)."""
        found = self.data(ref, fc)
        if fc is None or isinstance(found, DataAttribute):
            return found
        restricted = found.restricted(fc)
        assert restricted is not None  # find() checked the FC is present
        return restricted

    def attributes(
        self, ref: ObjectReference, fc: FC
    ) -> tuple[tuple[ObjectReference, DataAttribute], ...]:
        """The leaf attributes under ``ref`` with FC ``fc`` in model order, each with its full
        reference. A Struct is expanded into its members; an array is one leaf."""
        top = self.data(ref, fc)
        return tuple(_leaves(ref, top, fc))

    def fcda_leaves(self, fcda: FCDA) -> tuple[tuple[ObjectReference, DataAttribute], ...]:
        """:meth:`attributes` of an FCDA."""
        return self.attributes(fcda.ref, fcda.fc)

    # -- directories ---------------------------------------------------------------------

    def logical_devices(self) -> tuple[str, ...]:
        """LD names (GetServerDirectory(LOGICAL-DEVICE))."""
        return tuple(self.devices)

    def logical_nodes(self, ld: str) -> tuple[str, ...]:
        """LN names of an LD, LLN0 first (GetLogicalDeviceDirectory)."""
        return tuple(self.device(ld).nodes)

    def data_objects(self, ln: ObjectReference) -> tuple[str, ...]:
        """DO names of an LN (GetLogicalNodeDirectory(DATA))."""
        return tuple(self.node(ln).objects)

    def data_objects_by_fc(self, ln: ObjectReference, fc: FC) -> tuple[str, ...]:
        """DO names of an LN that hold something under ``fc``."""
        return tuple(name for name, obj in self.node(ln).objects.items() if fc in obj.fcs())

    def datasets(self, ln: ObjectReference | None = None) -> tuple[DataSet, ...]:
        """Datasets of one LN, or of the whole server."""
        return tuple(ds for node_ref, node in self._nodes(ln) for ds in node.datasets.values())

    def dataset(self, ref: ObjectReference) -> DataSet:
        """The dataset ``LD/LN.name``."""
        if len(ref.path) != 1:
            raise ObjectNotFound(f"{ref} is not a dataset reference")
        found = self.node(ref).datasets.get(ref.path[0])
        if found is None:
            raise ObjectNotFound(f"no dataset {ref}")
        return found

    def report_controls(self, ln: ObjectReference | None = None) -> tuple[ReportControl, ...]:
        """Report control blocks of one LN, or of the whole server."""
        return tuple(rc for _, node in self._nodes(ln) for rc in node.reports.values())

    def report_control(self, ref: ObjectReference) -> ReportControl:
        """The RCB ``LD/LN.name`` (also accepts an indexed instance name like ``brcbMX01``)."""
        if len(ref.path) != 1:
            raise ObjectNotFound(f"{ref} is not a report control reference")
        node = self.node(ref)
        name = ref.path[0]
        for rcb in node.reports.values():
            if name == rcb.name or name in rcb.instance_names():
                return rcb
        raise ObjectNotFound(f"no report control block {ref}")

    def walk(self) -> Iterator[tuple[ObjectReference, DataAttribute]]:
        """Every leaf attribute of the server with its reference, in model order."""
        for device in self.devices.values():
            for node in device.nodes.values():
                for obj in node.objects.values():
                    ref = ObjectReference(device.name, node.name, (obj.name,))
                    yield from _leaves(ref, obj, None)

    def _nodes(self, ln: ObjectReference | None) -> Iterator[tuple[ObjectReference, LogicalNode]]:
        if ln is not None:
            yield ln, self.node(ln)
            return
        for device in self.devices.values():
            for node in device.nodes.values():
                yield ObjectReference(device.name, node.name), node

    def enum(self, enum_id: str | None) -> EnumType | None:
        """The EnumType with ``enum_id`` (``None`` for ``None``)."""
        if enum_id is None:
            return None
        found = self.enum_types.get(enum_id)
        if found is None:
            raise ObjectNotFound(f"no enum type {enum_id!r}")
        return found


def _leaves(
    ref: ObjectReference, node: DataObject | DataAttribute, fc: FC | None
) -> Iterator[tuple[ObjectReference, DataAttribute]]:
    if isinstance(node, DataAttribute):
        if fc is not None and node.fc is not fc:
            return
        if node.is_struct and not node.is_array:
            for child in node.children.values():
                yield from _leaves(ref.child(child.name), child, fc)
        else:
            yield ref, node
        return
    for member in node.children.values():
        yield from _leaves(ref.child(member.name), member, fc)


__all__ = [
    "FCDA",
    "DataAttribute",
    "DataObject",
    "DataSet",
    "EnumType",
    "LogicalDevice",
    "LogicalNode",
    "Node",
    "OptFields",
    "ReportControl",
    "ServerModel",
    "TrgFlags",
    "TrgOps",
]
