"""Load an SCL 2007B ICD/CID file (IEC 61850-6) into a :class:`ServerModel`.

What is read: one IED (chosen by name, or the only one), its first AccessPoint with a Server,
every LDevice/LN0/LN with DOI/SDI/DAI ``Val`` instance values, DataSet/FCDA and
ReportControl (TrgOps, OptFields, RptEnabled), and the DataTypeTemplates (LNodeType, DOType,
DAType, EnumType). Communication, Substation and GOOSE/SV are ignored.

The parser is hardened: size limit, no DTD, no entity resolution, no network, no huge trees.
Every fault raises :class:`SclError` naming the file, the line and the problem, so an engineer
can fix the file without reading Python.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TypeVar

from lxml import etree

from derlink import xmlsafe
from derlink.iec61850.model.errors import ModelError, SclError, TypeMismatch
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
from derlink.iec61850.model.refs import (
    FC,
    FCDA,
    ObjectReference,
    check_acsi_name,
    check_da_name,
    check_do_name,
    check_ied_name,
    check_ld_name,
    check_sdo_name,
    ln_name,
)
from derlink.iec61850.model.types import BIT_LENGTHS, BasicType, EnumType, check_value

SCL_NS = "http://www.iec.ch/61850/2003/SCL"
MAX_SCL_BYTES = 16 * 1024 * 1024
MAX_ARRAY = 4096

_T = TypeVar("_T")
Element = etree._Element


def _q(tag: str) -> str:
    return f"{{{SCL_NS}}}{tag}"


def load_scl(
    source: Path | bytes,
    ied_name: str | None = None,
    *,
    rename: str | None = None,
    max_bytes: int = MAX_SCL_BYTES,
) -> ServerModel:
    """The server model of IED ``ied_name`` (or the only IED) in an SCL file or document.

    ``rename`` gives the IED another name (an ICD template instantiated per device); LD names
    follow it. Raises :class:`SclError` for anything that is not a loadable SCL server.
    """
    name = str(source) if isinstance(source, Path) else "<bytes>"
    if isinstance(source, Path):
        try:
            size = source.stat().st_size
            if size > max_bytes:
                raise SclError(f"file is {size} bytes, larger than {max_bytes}", source=name)
            data = source.read_bytes()
        except OSError as exc:
            raise SclError(f"cannot read: {exc.strerror or exc}", source=name) from None
    elif isinstance(source, bytes | bytearray):
        data = bytes(source)
    else:
        raise SclError(f"SCL source must be a Path or bytes, not {type(source).__name__}")
    if len(data) > max_bytes:
        raise SclError(f"document is {len(data)} bytes, larger than {max_bytes}", source=name)
    if xmlsafe.declares_dtd(data):
        raise SclError("DOCTYPE and ENTITY declarations are not allowed in SCL", source=name)
    root = _parse(data, name)
    try:
        return _Loader(root, name).load(ied_name, rename)
    except _BadFlag as exc:
        raise SclError(str(exc), source=name, line=exc.line) from None


def _parse(data: bytes, name: str) -> Element:
    try:
        root = etree.fromstring(data, xmlsafe.parser())
    except etree.XMLSyntaxError as exc:
        line = exc.lineno if exc.lineno else None
        raise SclError(f"not well-formed XML: {exc.msg}", source=name, line=line) from None
    if root is None:
        raise SclError("empty document", source=name)
    if root.tag != _q("SCL"):
        raise SclError(
            f"root element is {root.tag!r}, want SCL in namespace {SCL_NS}",
            source=name,
            line=_line(root),
        )
    return root


@dataclass(frozen=True, slots=True)
class _Template:
    element: Element
    kind: str


class _Loader:
    """One load: templates indexed by id, caches of instantiated types, the error context."""

    def __init__(self, root: Element, name: str) -> None:
        self.root = root
        self.name = name
        self.enums: dict[str, EnumType] = {}
        self.lnode_types: dict[str, Element] = {}
        self.do_types: dict[str, Element] = {}
        self.da_types: dict[str, Element] = {}
        self._do_cache: dict[str, DataObject] = {}
        self._da_cache: dict[tuple[str, FC, TrgFlags], dict[str, DataAttribute]] = {}
        self._resolving: list[str] = []

    # -- errors ------------------------------------------------------------------------

    def fail(self, element: Element | None, message: str) -> SclError:
        line = _line(element) if element is not None else None
        return SclError(message, source=self.name, line=line)

    def guard(self, element: Element, call: Callable[[], _T]) -> _T:
        """Run ``call``; turn a model error into an SclError at ``element``'s line."""
        try:
            return call()
        except SclError:
            raise
        except ModelError as exc:
            raise self.fail(element, str(exc)) from None

    def attr(self, element: Element, key: str) -> str:
        value = element.get(key)
        if value is None or value == "":
            raise self.fail(element, f"<{_local(element)}> needs attribute {key!r}")
        return value

    # -- top level ---------------------------------------------------------------------

    def load(self, ied_name: str | None, rename: str | None) -> ServerModel:
        self._templates()
        ied = self._ied(ied_name)
        name = self.guard(ied, lambda: check_ied_name(self.attr(ied, "name")))
        final_name = name if rename is None else self.guard(ied, lambda: check_ied_name(rename))
        server = self._server(ied)
        devices: dict[str, LogicalDevice] = {}
        inst_to_name: dict[str, str] = {}
        ld_elements: list[tuple[Element, LogicalDevice]] = []
        for ld_el in server.iterchildren(_q("LDevice")):
            device = self._device(ld_el, final_name)
            if device.name in devices or device.inst in inst_to_name:
                raise self.fail(ld_el, f"duplicate logical device {device.inst!r}")
            devices[device.name] = device
            inst_to_name[device.inst] = device.name
            ld_elements.append((ld_el, device))
        if not devices:
            raise self.fail(server, "Server has no LDevice")
        model = ServerModel(final_name, devices, dict(self.enums), ied.get("desc", ""))
        # Datasets and RCBs refer to data anywhere in the server: resolve them on the full tree.
        finished: dict[str, LogicalDevice] = {}
        for ld_el, device in ld_elements:
            nodes = dict(device.nodes)
            for ln_el in _ln_elements(ld_el):
                ln = ln_name(
                    ln_el.get("prefix", ""), ln_el.get("lnClass", ""), ln_el.get("inst", "")
                )
                nodes[ln] = self._controls(ln_el, model, device, nodes[ln], inst_to_name)
            finished[device.name] = replace(device, nodes=nodes)
        return replace(model, devices=finished)

    def _ied(self, ied_name: str | None) -> Element:
        ieds = list(self.root.iterchildren(_q("IED")))
        if not ieds:
            raise self.fail(self.root, "no IED element in the SCL file")
        if ied_name is not None:
            for ied in ieds:
                if ied.get("name") == ied_name:
                    return ied
            names = ", ".join(repr(i.get("name")) for i in ieds)
            raise self.fail(self.root, f"no IED named {ied_name!r} (found {names})")
        if len(ieds) > 1:
            names = ", ".join(repr(i.get("name")) for i in ieds)
            raise self.fail(ieds[1], f"several IEDs ({names}); say which one to load")
        return ieds[0]

    def _server(self, ied: Element) -> Element:
        access_points = list(ied.iterchildren(_q("AccessPoint")))
        if not access_points:
            raise self.fail(ied, "IED has no AccessPoint")
        for ap in access_points:
            server = ap.find(_q("Server"))
            if server is not None:
                return server
        raise self.fail(access_points[0], "no AccessPoint of the IED has a Server")

    # -- templates ---------------------------------------------------------------------

    def _templates(self) -> None:
        dtt = self.root.find(_q("DataTypeTemplates"))
        if dtt is None:
            raise self.fail(self.root, "no DataTypeTemplates section")
        for el in dtt.iterchildren(_q("EnumType")):
            enum_id = self.attr(el, "id")
            if enum_id in self.enums:
                raise self.fail(el, f"duplicate EnumType id {enum_id!r}")
            self.enums[enum_id] = self._enum(el, enum_id)
        for tag, table in (
            ("LNodeType", self.lnode_types),
            ("DOType", self.do_types),
            ("DAType", self.da_types),
        ):
            for el in dtt.iterchildren(_q(tag)):
                type_id = self.attr(el, "id")
                if type_id in table:
                    raise self.fail(el, f"duplicate {tag} id {type_id!r}")
                table[type_id] = el

    def _enum(self, el: Element, enum_id: str) -> EnumType:
        values: dict[int, str] = {}
        for val in el.iterchildren(_q("EnumVal")):
            raw = self.attr(val, "ord")
            try:
                ordinal = int(raw)
            except ValueError:
                raise self.fail(val, f"EnumVal ord {raw!r} is not an integer") from None
            literal = (val.text or "").strip()
            if ordinal in values:
                raise self.fail(val, f"duplicate ord {ordinal} in EnumType {enum_id!r}")
            if literal in values.values() and literal:
                raise self.fail(val, f"duplicate literal {literal!r} in EnumType {enum_id!r}")
            values[ordinal] = literal
        if not values:
            raise self.fail(el, f"EnumType {enum_id!r} has no EnumVal")
        return EnumType(enum_id, values)

    def _lnode_type(self, ln_el: Element, type_id: str, ln_class: str) -> dict[str, DataObject]:
        el = self.lnode_types.get(type_id)
        if el is None:
            raise self.fail(ln_el, f"unknown lnType {type_id!r}")
        declared = el.get("lnClass")
        if declared != ln_class:
            raise self.fail(ln_el, f"lnType {type_id!r} is for lnClass {declared}, not {ln_class}")
        objects: dict[str, DataObject] = {}
        for do_el in el.iterchildren(_q("DO")):
            name = _check(self, do_el, check_do_name, self.attr(do_el, "name"))
            if name in objects:
                raise self.fail(do_el, f"duplicate DO {name!r} in LNodeType {type_id!r}")
            obj = self._do_type(do_el, self.attr(do_el, "type"))
            objects[name] = replace(obj, name=name)
        return objects

    def _do_type(self, user: Element, type_id: str) -> DataObject:
        cached = self._do_cache.get(type_id)
        if cached is not None:
            return cached
        el = self.do_types.get(type_id)
        if el is None:
            raise self.fail(user, f"unknown DOType {type_id!r}")
        if type_id in self._resolving:
            raise self.fail(user, f"DOType {type_id!r} contains itself")
        self._resolving.append(type_id)
        children: dict[str, DataObject | DataAttribute] = {}
        for child in el.iterchildren(_q("DA"), _q("SDO")):
            name = self.attr(child, "name")
            if name in children:
                raise self.fail(child, f"duplicate name {name!r} in DOType {type_id!r}")
            if _local(child) == "SDO":
                _check(self, child, check_sdo_name, name)
                sdo = self._do_type(child, self.attr(child, "type"))
                count = self._count(child)
                children[name] = replace(sdo, name=name, count=count)
            else:
                children[name] = self._da(child, None, None)
        self._resolving.pop()
        obj = DataObject("", self.attr(el, "cdc"), children, type_id)
        self._do_cache[type_id] = obj
        return obj

    def _da(self, el: Element, fc: FC | None, trg: TrgFlags | None) -> DataAttribute:
        """A DA (``fc is None``: read fc and triggers from ``el``) or a BDA (inherits them)."""
        name = self.guard(el, lambda: check_da_name(self.attr(el, "name")))
        if fc is None:
            fc = self.guard(el, lambda: FC.parse(self.attr(el, "fc")))
            trg = TrgFlags(_flag(el, "dchg"), _flag(el, "qchg"), _flag(el, "dupd"))
        assert trg is not None
        raw_btype = self.attr(el, "bType")
        try:
            btype = BasicType(raw_btype)
        except ValueError:
            raise self.fail(el, f"bad bType {raw_btype!r} for {name!r}") from None
        count = self._count(el)
        enum_id: str | None = None
        type_id: str | None = None
        children: dict[str, DataAttribute] = {}
        if btype is BasicType.Struct:
            type_id = self.attr(el, "type")
            children = self._da_type(el, type_id, fc, trg)
        elif btype is BasicType.Enum:
            enum_id = self.attr(el, "type")
            if enum_id not in self.enums:
                raise self.fail(el, f"unknown EnumType {enum_id!r} for {name!r}")
        attribute = DataAttribute(name, btype, fc, children, enum_id, trg, count, type_id)
        val = el.find(_q("Val"))
        if val is not None:
            attribute = replace(attribute, value=self._value(val, attribute))
        return attribute

    def _da_type(
        self, user: Element, type_id: str, fc: FC, trg: TrgFlags
    ) -> dict[str, DataAttribute]:
        key = (type_id, fc, trg)
        cached = self._da_cache.get(key)
        if cached is not None:
            return cached
        el = self.da_types.get(type_id)
        if el is None:
            raise self.fail(user, f"unknown DAType {type_id!r}")
        if type_id in self._resolving:
            raise self.fail(user, f"DAType {type_id!r} contains itself")
        self._resolving.append(type_id)
        children: dict[str, DataAttribute] = {}
        for bda in el.iterchildren(_q("BDA")):
            member = self._da(bda, fc, trg)
            if member.name in children:
                raise self.fail(bda, f"duplicate BDA {member.name!r} in DAType {type_id!r}")
            children[member.name] = member
        self._resolving.pop()
        if not children:
            raise self.fail(el, f"DAType {type_id!r} has no BDA")
        self._da_cache[key] = children
        return children

    def _count(self, el: Element) -> int:
        raw = el.get("count")
        if raw is None or raw == "":
            return 0
        if not (raw.isascii() and raw.isdigit()) or not 0 <= int(raw) <= MAX_ARRAY:
            raise self.fail(el, f"count {raw!r} is not a number 0..{MAX_ARRAY}")
        return int(raw)

    def _value(self, val: Element, attribute: DataAttribute) -> object:
        text = (val.text or "").strip()
        btype = attribute.btype
        where = f"Val {text!r} for {attribute.name!r} ({btype.value})"
        if attribute.is_array or attribute.is_struct:
            raise self.fail(val, f"{where}: arrays and structures take values per member")
        value: object
        try:
            if btype is BasicType.BOOLEAN:
                if text not in ("true", "false", "1", "0"):
                    raise ValueError(text)
                value = text in ("true", "1")
            elif btype is BasicType.Enum:
                enum = self.enums[attribute.enum_type or ""]
                value = enum.ord_of(text)
            elif btype in (BasicType.FLOAT32, BasicType.FLOAT64):
                value = float(text)
            elif btype in BIT_LENGTHS or btype in (BasicType.Timestamp, BasicType.EntryTime):
                raise ValueError("not configurable")
            elif btype.value.startswith("INT") or btype in (BasicType.Dbpos, BasicType.Tcmd):
                value = int(text)
            elif btype.value.startswith("Octet") or btype is BasicType.EntryID:
                value = bytes.fromhex(text)
            elif btype is BasicType.PhyComAddr:
                raise ValueError("not configurable")
            else:
                value = val.text or ""
            return check_value(btype, value, self.enums.get(attribute.enum_type or ""))
        except (ValueError, TypeMismatch) as exc:
            raise self.fail(val, f"{where} does not parse: {exc}") from None

    # -- instances ---------------------------------------------------------------------

    def _device(self, ld_el: Element, ied_name: str) -> LogicalDevice:
        inst = self.attr(ld_el, "inst")
        ld_name = ld_el.get("ldName") or ied_name + inst
        self.guard(ld_el, lambda: check_ld_name(inst))
        self.guard(ld_el, lambda: check_ld_name(ld_name))
        nodes: dict[str, LogicalNode] = {}
        ln0_count = 0
        for ln_el in _ln_elements(ld_el):
            node = self._node(ln_el)
            if node.name in nodes:
                raise self.fail(ln_el, f"duplicate logical node {node.name!r} in {inst!r}")
            if _local(ln_el) == "LN0":
                ln0_count += 1
            nodes[node.name] = node
        if ln0_count != 1:
            raise self.fail(ld_el, f"LDevice {inst!r} needs exactly one LN0, has {ln0_count}")
        return LogicalDevice(inst, ld_name, nodes, ld_el.get("desc", ""))

    def _node(self, ln_el: Element) -> LogicalNode:
        prefix = ln_el.get("prefix", "")
        ln_class = self.attr(ln_el, "lnClass")
        inst = ln_el.get("inst", "")
        if _local(ln_el) == "LN0" and (ln_class != "LLN0" or inst or prefix):
            raise self.fail(ln_el, "LN0 must have lnClass LLN0, no prefix and an empty inst")
        if _local(ln_el) == "LN" and ln_class == "LLN0":
            raise self.fail(ln_el, "lnClass LLN0 belongs in an LN0 element")
        name = self.guard(ln_el, lambda: ln_name(prefix, ln_class, inst))
        type_id = self.attr(ln_el, "lnType")
        objects = self._lnode_type(ln_el, type_id, ln_class)
        for doi in ln_el.iterchildren(_q("DOI")):
            do_name = self.attr(doi, "name")
            target = objects.get(do_name)
            if target is None:
                raise self.fail(doi, f"DOI {do_name!r}: {name} ({type_id}) has no such DO")
            objects[do_name] = self._instance(doi, target, f"{name}.{do_name}")
        return LogicalNode(
            name, ln_class, prefix, inst, objects, type_id, desc=ln_el.get("desc", "")
        )

    def _instance(self, el: Element, obj: DataObject, where: str) -> DataObject:
        children = dict(obj.children)
        for child in el.iterchildren(_q("SDI"), _q("DAI")):
            name = self.attr(child, "name")
            target = children.get(name)
            if target is None:
                raise self.fail(child, f"{_local(child)} {name!r}: {where} has no such member")
            if child.get("ix") is not None:
                raise self.fail(child, f"{where}.{name}: values of array elements (ix) unsupported")
            children[name] = self._apply(child, target, f"{where}.{name}")
        return replace(obj, children=children)

    def _apply(
        self, el: Element, target: DataObject | DataAttribute, where: str
    ) -> DataObject | DataAttribute:
        if _local(el) == "DAI":
            if not isinstance(target, DataAttribute) or target.is_struct:
                raise self.fail(el, f"DAI {where}: not a basic attribute (use SDI)")
            val = el.find(_q("Val"))
            if val is None:
                return target
            return replace(target, value=self._value(val, target))
        if isinstance(target, DataObject):
            return self._instance(el, target, where)
        if not target.is_struct:
            raise self.fail(el, f"SDI {where}: not a structure (use DAI)")
        members: dict[str, DataAttribute] = dict(target.children)
        for child in el.iterchildren(_q("SDI"), _q("DAI")):
            name = self.attr(child, "name")
            member = members.get(name)
            if member is None:
                raise self.fail(child, f"{where} has no member {name!r}")
            updated = self._apply(child, member, f"{where}.{name}")
            assert isinstance(updated, DataAttribute)
            members[name] = updated
        return replace(target, children=members)

    # -- datasets and report controls --------------------------------------------------

    def _controls(
        self,
        ln_el: Element,
        model: ServerModel,
        device: LogicalDevice,
        node: LogicalNode,
        inst_to_name: Mapping[str, str],
    ) -> LogicalNode:
        ln_ref = ObjectReference(device.name, node.name)
        datasets: dict[str, DataSet] = {}
        for ds_el in ln_el.iterchildren(_q("DataSet")):
            ds_name = _check(self, ds_el, check_acsi_name, self.attr(ds_el, "name"))
            if ds_name in datasets:
                raise self.fail(ds_el, f"duplicate dataset {ds_name!r} in {node.name}")
            members = tuple(
                self._fcda(fcda_el, model, device, inst_to_name)
                for fcda_el in ds_el.iterchildren(_q("FCDA"))
            )
            if not members:
                raise self.fail(ds_el, f"dataset {ds_name!r} has no FCDA")
            datasets[ds_name] = DataSet(ds_name, ln_ref, members)
        reports: dict[str, ReportControl] = {}
        for rc_el in ln_el.iterchildren(_q("ReportControl")):
            report = self._report(rc_el, ln_ref, datasets)
            if report.name in reports or report.name in datasets:
                raise self.fail(rc_el, f"duplicate control block name {report.name!r}")
            reports[report.name] = report
        return replace(node, datasets=datasets, reports=reports)

    def _fcda(
        self,
        el: Element,
        model: ServerModel,
        device: LogicalDevice,
        inst_to_name: Mapping[str, str],
    ) -> FCDA:
        ld_inst = el.get("ldInst") or device.inst
        ld = inst_to_name.get(ld_inst)
        if ld is None:
            raise self.fail(el, f"FCDA points to unknown LDevice {ld_inst!r}")
        fc = self.guard(el, lambda: FC.parse(self.attr(el, "fc")))
        do_name = self.attr(el, "doName")
        da_name = el.get("daName", "")

        def build() -> FCDA:
            ln = ln_name(el.get("prefix", ""), self.attr(el, "lnClass"), el.get("lnInst", ""))
            path = tuple(do_name.split(".")) + (tuple(da_name.split(".")) if da_name else ())
            return FCDA(ObjectReference(ld, ln, path), fc)

        fcda = self.guard(el, build)
        try:
            model.find(fcda.ref)
        except ModelError:
            raise self.fail(el, f"FCDA {fcda.ref} points to nothing in the model") from None
        try:
            model.find(fcda.ref, fcda.fc)
        except ModelError:
            raise self.fail(el, f"FCDA {fcda.ref} has no data under FC {fc}") from None
        return fcda

    def _report(
        self, el: Element, ln_ref: ObjectReference, datasets: Mapping[str, DataSet]
    ) -> ReportControl:
        name = self.guard(el, lambda: check_acsi_name(self.attr(el, "name"), "RCB name"))
        dataset = el.get("datSet") or None
        if dataset is not None and dataset not in datasets:
            raise self.fail(el, f"ReportControl {name!r}: no dataset {dataset!r} in {ln_ref.ln}")
        trg = el.find(_q("TrgOps"))
        trg_ops = (
            TrgOps(
                dchg=_flag(trg, "dchg"),
                qchg=_flag(trg, "qchg"),
                dupd=_flag(trg, "dupd"),
                period=_flag(trg, "period"),
                gi=_flag(trg, "gi", True),
            )
            if trg is not None
            else TrgOps()
        )
        opt = el.find(_q("OptFields"))
        opt_fields = (
            OptFields(
                seq_num=_flag(opt, "seqNum"),
                time_stamp=_flag(opt, "timeStamp"),
                reason_code=_flag(opt, "reasonCode"),
                data_set=_flag(opt, "dataSet"),
                data_ref=_flag(opt, "dataRef"),
                buf_ovfl=_flag(opt, "bufOvfl", True),
                entry_id=_flag(opt, "entryID"),
                config_ref=_flag(opt, "configRef"),
                segmentation=_flag(opt, "segmentation"),
            )
            if opt is not None
            else OptFields()
        )
        enabled = el.find(_q("RptEnabled"))
        max_clients = self._uint(enabled, "max", 1) if enabled is not None else 1
        if not 1 <= max_clients <= 99:
            raise self.fail(enabled, f"RptEnabled max {max_clients} is not 1..99")
        rpt_id = el.get("rptID") or str(ln_ref.child(name))
        return ReportControl(
            name=name,
            ln=ln_ref,
            buffered=_flag(el, "buffered"),
            dataset=dataset,
            rpt_id=rpt_id,
            conf_rev=self._uint(el, "confRev", 0),
            buf_time_ms=self._uint(el, "bufTime", 0),
            intg_pd_ms=self._uint(el, "intgPd", 0),
            trg_ops=trg_ops,
            opt_fields=opt_fields,
            max_clients=max_clients,
            indexed=_flag(el, "indexed", True),
        )

    def _uint(self, el: Element, key: str, default: int) -> int:
        raw = el.get(key)
        if raw is None:
            return default
        if not (raw.isascii() and raw.isdigit()) or int(raw) >= 1 << 32:
            raise self.fail(el, f"{key}={raw!r} is not an unsigned 32-bit number")
        return int(raw)


def _check(loader: _Loader, el: Element, check: Callable[[str], str], name: str) -> str:
    try:
        return check(name)
    except ModelError as exc:
        raise loader.fail(el, str(exc)) from None


def _line(el: Element) -> int | None:
    line = el.sourceline
    return line if isinstance(line, int) else None


def _flag(el: Element, key: str, default: bool = False) -> bool:
    raw = el.get(key)
    if raw is None:
        return default
    if raw in ("true", "1"):
        return True
    if raw in ("false", "0"):
        return False
    line = _line(el)
    raise _BadFlag(f"{key}={raw!r} must be true or false", line)


class _BadFlag(ValueError):
    """A boolean attribute with another value; the loader turns it into an SclError."""

    def __init__(self, message: str, line: int | None) -> None:
        super().__init__(message)
        self.line = line


def _local(el: Element) -> str:
    return etree.QName(el).localname


def _ln_elements(ld_el: Element) -> Iterator[Element]:
    yield from ld_el.iterchildren(_q("LN0"), _q("LN"))


__all__ = ["MAX_SCL_BYTES", "SCL_NS", "load_scl"]
