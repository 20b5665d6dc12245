"""Current values of every data attribute of a server, with change notification.

:class:`ValueStore` holds one value per leaf attribute (a Struct is split into its members;
an array is one leaf holding a tuple). Reads and writes address an FCDA at any level (DO,
SDO, struct DA, leaf, or array element ``crvPts(3)``); structured values are ``dict``s in model
order restricted to the FC, exactly what GetDataValues returns.

A write is checked completely before anything changes (a refused write changes nothing),
then applied and announced to listeners as one batch of :class:`Change`, each carrying the
trigger reasons 7-2 clause 17.2.3.6 defines: ``dchg`` when a value with the dchg option
changed, ``qchg`` when a quality with the qchg option changed, ``dupd`` on every update of an
attribute with the dupd option. When a write under ST or MX changes something and the DO has
a ``t`` under the same FC, ``t`` is set to the time passed in (sans-IO: no clock is read
unless one is given).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Container, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

from derlink.iec61850.model.errors import ObjectNotFound, ReadOnly, TypeMismatch
from derlink.iec61850.model.nodes import DataAttribute, DataObject, ServerModel
from derlink.iec61850.model.refs import FC, FCDA, ObjectReference, split_element
from derlink.iec61850.model.types import BasicType, Timestamp, check_value, default_value


class TriggerReason(StrEnum):
    """Why a change may be reported (7-2 TrgOps, minus integrity and GI)."""

    DCHG = "dchg"
    QCHG = "qchg"
    DUPD = "dupd"


class Cause(StrEnum):
    """Who writes: the process (device, simulator: anything), a client's SetDataValues
    (only FCs 7-2 lets a client write), or the control model (CO attributes too)."""

    PROCESS = "process"
    CLIENT = "client"
    CONTROL = "control"


CLIENT_WRITABLE = frozenset({FC.SP, FC.SV, FC.CF, FC.DC, FC.SE, FC.BL})
CONTROL_WRITABLE = CLIENT_WRITABLE | {FC.CO}
TIMESTAMPED = frozenset({FC.ST, FC.MX})


@dataclass(frozen=True, slots=True)
class Change:
    """One leaf attribute written: ``ref`` is the leaf, ``data`` the top DO it belongs to."""

    ref: ObjectReference
    fc: FC
    old: object
    new: object
    triggers: frozenset[TriggerReason]
    cause: Cause
    data: ObjectReference

    @property
    def fcda(self) -> FCDA:
        """The leaf as an FCDA."""
        return FCDA(self.ref, self.fc)

    def within(self, member: FCDA) -> bool:
        """Whether this change lies in ``member`` (a dataset member, DO or DA level)."""
        return member.fc is self.fc and self.ref.startswith(member.ref)


Listener = Callable[[tuple[Change, ...]], None]


@dataclass(frozen=True, slots=True)
class Snapshot:
    """An opaque copy of all values (for tests and for rollback)."""

    values: Mapping[ObjectReference, object] = field(default_factory=dict)


class ValueStore:
    """Values of every leaf attribute of ``model``, initialised from SCL ``Val`` or defaults."""

    def __init__(self, model: ServerModel, clock: Callable[[], float] | None = None) -> None:
        self.model = model
        self._clock = clock
        self._values: dict[ObjectReference, object] = {}
        self._attrs: dict[ObjectReference, DataAttribute] = {}
        self._listeners: list[Listener] = []
        self._stamps: dict[tuple[ObjectReference, FC], list[ObjectReference]] = {}
        for ref, attribute in model.walk():
            self._attrs[ref] = attribute
            self._values[ref] = self._initial(attribute)
            if ref.name == "t" and attribute.btype is BasicType.Timestamp:
                key = (ObjectReference(ref.ld, ref.ln, ref.path[:1]), attribute.fc)
                self._stamps.setdefault(key, []).append(ref)

    # -- listeners ---------------------------------------------------------------------

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` with every batch of changes; returns a function to unsubscribe."""
        self._listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return unsubscribe

    # -- reading -----------------------------------------------------------------------

    def get(self, fcda: FCDA) -> object:
        """The value of ``fcda``: a basic value for a leaf, a ``dict`` tree for a DO/Struct."""
        node = self.model.data(fcda.ref, fcda.fc)
        return self._read(fcda.ref, node, fcda.fc)

    def get_leaf(self, ref: ObjectReference) -> object:
        """The stored value of one leaf attribute (any FC)."""
        try:
            return copy.deepcopy(self._values[ref])
        except KeyError:
            raise ObjectNotFound(f"{ref} is not a leaf attribute") from None

    def _read(self, ref: ObjectReference, node: DataObject | DataAttribute, fc: FC) -> object:
        if ref in self._values:
            return copy.deepcopy(self._values[ref])
        if any("(" in element for element in ref.path):
            inside = self._array_element(ref)
            if inside is not None:
                return copy.deepcopy(inside)
        tree: dict[str, object] = {}
        for name, child in node.children.items():
            if fc in child.fcs():
                tree[name] = self._read(ref.child(name), child, fc)
        return tree

    def _array_element(self, ref: ObjectReference) -> object | None:
        """The value at ``ref`` when it points inside an array leaf (``crvPts(3).xVal``)."""
        found = _inside_array(ref, self._values)
        if found is None:
            return None
        base, index, rest = found
        array = self._values[base]
        assert isinstance(array, tuple)
        value: object = array[index]
        for element in rest:
            assert isinstance(value, dict)
            value = value[element]
        return value

    # -- writing -----------------------------------------------------------------------

    def set(
        self,
        fcda: FCDA,
        value: object,
        *,
        reason: Cause = Cause.PROCESS,
        now: float | None = None,
    ) -> tuple[Change, ...]:
        """Write ``value`` at ``fcda`` (a partial ``dict`` for structured targets is allowed)
        and notify listeners. Raises ObjectNotFound / ReadOnly / TypeMismatch and then changes
        nothing. Returns the changes made."""
        node = self.model.data(fcda.ref, fcda.fc)
        if reason is Cause.CLIENT and fcda.fc not in CLIENT_WRITABLE:
            raise ReadOnly(f"{fcda} cannot be written by a client (FC {fcda.fc})")
        if reason is Cause.CONTROL and fcda.fc not in CONTROL_WRITABLE:
            raise ReadOnly(f"{fcda} cannot be written by a control (FC {fcda.fc})")
        updates: dict[ObjectReference, object] = {}
        self._plan(fcda.ref, node, fcda.fc, value, updates)
        return self._apply(updates, fcda.fc, reason, now)

    def _plan(
        self,
        ref: ObjectReference,
        node: DataObject | DataAttribute,
        fc: FC,
        value: object,
        updates: dict[ObjectReference, object],
    ) -> None:
        if ref in self._attrs:
            attribute = self._attrs[ref]
            updates[ref] = self._check(attribute, value, str(ref))
            return
        if isinstance(node, DataAttribute) and self._plan_element(ref, node, value, updates):
            return
        if not isinstance(value, Mapping):
            raise TypeMismatch(f"{ref} is structured: write a mapping of member values")
        children = {n: c for n, c in node.children.items() if fc in c.fcs()}
        for name, member_value in value.items():
            child = children.get(name) if isinstance(name, str) else None
            if child is None:
                raise TypeMismatch(f"{ref} has no member {name!r} under FC {fc}")
            self._plan(ref.child(name), child, fc, member_value, updates)

    def _plan_element(
        self,
        ref: ObjectReference,
        node: DataAttribute,
        value: object,
        updates: dict[ObjectReference, object],
    ) -> bool:
        """Plan a write inside an array leaf; ``False`` when ``ref`` is not inside one."""
        found = _inside_array(ref, self._attrs)
        if found is None:
            return False
        base, index, rest = found
        current = updates.get(base, self._values[base])
        assert isinstance(current, tuple)
        checked = self._check(node, value, str(ref))
        items = list(copy.deepcopy(current))
        if not rest:
            items[index] = checked
        else:
            target = items[index]
            for element in rest[:-1]:
                assert isinstance(target, dict)
                target = target[element]
            assert isinstance(target, dict)
            target[rest[-1]] = checked
        updates[base] = tuple(items)
        return True

    def _check(self, attribute: DataAttribute, value: object, where: str) -> object:
        if attribute.is_array:
            if not isinstance(value, tuple | list) or len(value) != attribute.count:
                raise TypeMismatch(f"{where} is an array of {attribute.count} elements")
            element = _element_of(attribute)
            return tuple(
                self._check(element, item, f"{where}[{i}]") for i, item in enumerate(value)
            )
        if attribute.is_struct:
            if not isinstance(value, Mapping) or set(value) != set(attribute.children):
                names = ", ".join(attribute.children)
                raise TypeMismatch(f"{where} needs exactly the members {names}")
            return {
                name: self._check(child, value[name], f"{where}.{name}")
                for name, child in attribute.children.items()
            }
        try:
            return check_value(attribute.btype, value, self.model.enum(attribute.enum_type))
        except TypeMismatch as exc:
            raise TypeMismatch(f"{where}: {exc}") from None

    def _apply(
        self,
        updates: dict[ObjectReference, object],
        fc: FC,
        cause: Cause,
        now: float | None,
    ) -> tuple[Change, ...]:
        changes: list[Change] = []
        touched: dict[ObjectReference, None] = {}
        for ref, new in updates.items():
            attribute = self._attrs[ref]
            old = self._values[ref]
            triggers: list[TriggerReason] = []
            changed = old != new
            if changed and attribute.trg.dchg and attribute.btype is not BasicType.Quality:
                triggers.append(TriggerReason.DCHG)
            if changed and attribute.trg.qchg and attribute.btype is BasicType.Quality:
                triggers.append(TriggerReason.QCHG)
            if attribute.trg.dupd:
                triggers.append(TriggerReason.DUPD)
            self._values[ref] = new
            data = ObjectReference(ref.ld, ref.ln, ref.path[:1])
            if changed or triggers:
                touched[data] = None
            changes.append(Change(ref, fc, old, new, frozenset(triggers), cause, data))
        changes.extend(self._stamp(touched, fc, updates, cause, now))
        batch = tuple(changes)
        for listener in list(self._listeners):
            listener(batch)
        return batch

    def _stamp(
        self,
        touched: Mapping[ObjectReference, None],
        fc: FC,
        updates: Mapping[ObjectReference, object],
        cause: Cause,
        now: float | None,
    ) -> list[Change]:
        if fc not in TIMESTAMPED or not touched:
            return []
        if now is None and self._clock is not None:
            now = self._clock()
        if now is None:
            return []
        stamp = Timestamp.from_unix(now)
        changes = []
        for data in touched:
            for ref in self._stamps.get((data, fc), ()):
                if ref in updates:
                    continue
                old = self._values[ref]
                self._values[ref] = stamp
                changes.append(Change(ref, fc, old, stamp, frozenset(), cause, data))
        return changes

    # -- copies and snapshots ----------------------------------------------------------

    def copy(self) -> ValueStore:
        """A store of the same model holding this store's current values, with no listeners.

        Cheap, for fleets of identical IEDs: the parsed model and the tables derived from it
        (attribute definitions, timestamp attributes per DO) are shared, never written after
        construction; only the value dict is new. Sharing the values themselves is safe as a
        write replaces a leaf's value whole (an array element is written into a new tuple)."""
        twin = ValueStore.__new__(ValueStore)
        twin.model = self.model
        twin._clock = self._clock
        twin._values = dict(self._values)
        twin._attrs = self._attrs
        twin._listeners = []
        twin._stamps = self._stamps
        return twin

    def snapshot(self) -> Snapshot:
        """A copy of every value."""
        return Snapshot(MappingProxyType(copy.deepcopy(self._values)))

    def restore(self, snap: Snapshot) -> None:
        """Put back the values of ``snap`` (no notifications)."""
        if set(snap.values) != set(self._values):
            raise ObjectNotFound("snapshot was taken from another model")
        self._values = dict(copy.deepcopy(dict(snap.values)))

    # -- initial values ----------------------------------------------------------------

    def _initial(self, attribute: DataAttribute) -> object:
        if attribute.is_array:
            element = _element_of(attribute, value=attribute.value)
            return tuple(self._initial(element) for _ in range(attribute.count))
        if attribute.is_struct:
            return {name: self._initial(child) for name, child in attribute.children.items()}
        if attribute.value is not None:
            return attribute.value
        return default_value(attribute.btype, self.model.enum(attribute.enum_type))


def _element_of(array: DataAttribute, *, value: object = None) -> DataAttribute:
    """An element of the array attribute ``array``: the same type and FC, not an array."""
    return DataAttribute(
        array.name, array.btype, array.fc, array.children, array.enum_type, array.trg, value=value
    )


def _inside_array(
    ref: ObjectReference, leaves: Container[ObjectReference]
) -> tuple[ObjectReference, int, tuple[str, ...]] | None:
    """The array leaf of ``leaves`` that ``ref`` points inside (``crvPts`` for
    ``crvPts(3).xVal``), the element's index and the path below the element; ``None`` when
    ``ref`` is not inside one (the innermost indexed step that names a leaf wins)."""
    for depth in range(len(ref.path), 0, -1):
        name, index = split_element(ref.path[depth - 1])
        if index is None:
            continue
        base = ObjectReference(ref.ld, ref.ln, (*ref.path[: depth - 1], name))
        if base in leaves:
            return base, index, tuple(ref.path[depth:])
    return None


__all__ = [
    "CLIENT_WRITABLE",
    "Cause",
    "Change",
    "Listener",
    "Snapshot",
    "TriggerReason",
    "ValueStore",
]
