"""One EndDevice's walk of the server, sans-IO: from its EndDevice to its controls.

The order IEEE 2030.5 and CSIP prescribe: the EndDevice (found in the EndDeviceList by LFDI or
SFDI), its Registration (the PIN must be the one the device was given, else the device stops:
:class:`~derlink.sep2.client.errors.PinMismatch`), and only then its FunctionSetAssignmentsList
→ DERProgramList → each DERProgram's DERControlList, ActiveDERControlList, DefaultDERControl and
DERCurveList; its DERList gives the links the device writes its DER descriptions to.

:meth:`DeviceWalker.view` turns what was fetched into the domain objects the event rules take.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from derlink.domain import Control, Program
from derlink.sep2.client.convert import EventMeta, Rejected, convert_controls, to_program
from derlink.sep2.client.errors import NotRegistered, PinMismatch
from derlink.sep2.client.tree import ResourceTree
from derlink.sep2.xml import (
    DER,
    DefaultDERControl,
    DERControl,
    DERControlList,
    DERCurve,
    DERCurveList,
    DERList,
    DERProgram,
    DERProgramList,
    EndDevice,
    FunctionSetAssignmentsList,
    Link,
    ListLink,
    Registration,
    Sep2Object,
)


@dataclass(frozen=True, slots=True)
class ProgramView:
    """What the event rules need, as of the last fetches."""

    programs: tuple[Program, ...] = ()
    controls: tuple[Control, ...] = ()
    meta: Mapping[str, EventMeta] = field(default_factory=dict)
    rejected: tuple[Rejected, ...] = ()
    complete: bool = False
    curves: Mapping[str, DERCurve] = field(default_factory=dict)


def _href(link: Link | None) -> str | None:
    return None if link is None else link.href


def _wanted(link: ListLink | None) -> bool:
    """A list link worth fetching: present, and not announced empty."""
    return link is not None and link.all != 0


class DeviceWalker:
    """The resources of one EndDevice, and the registration gate in front of its controls."""

    def __init__(self, lfdi: str, sfdi: int, pin: int | None, *, device_category: int = 0) -> None:
        self.lfdi = lfdi.upper()
        self.sfdi = sfdi
        self.pin = pin
        self.device_category = device_category
        self.tree = ResourceTree(self._follow)
        self.end_device_href: str | None = None
        self.registered = pin is None
        self.version = 0
        self._view: ProgramView | None = None

    # --- what comes in ------------------------------------------------------------------------

    @property
    def end_device(self) -> EndDevice | None:
        obj = self.tree.get(self.end_device_href)
        return obj if isinstance(obj, EndDevice) else None

    def set_end_device(self, device: EndDevice, rate: int, now: float) -> None:
        """The EndDevice as its list shows it (it is polled through the list)."""
        href = device.href or f"sfdi:{device.sFDI}"
        if self.end_device_href not in (None, href):
            self.tree.remove(self.end_device_href)
        if self.end_device == device and self.end_device_href == href:
            return
        self.end_device_href = href
        self.tree.set_inline(href, device, rate, now)
        if self.pin is not None and device.RegistrationLink is None:
            raise NotRegistered(
                f"EndDevice {self.sfdi} has no Registration link: its PIN cannot be checked"
            )
        self._changed()

    def received(self, href: str, obj: Sep2Object, now: float) -> None:
        """A fetched resource; raises PinMismatch when the Registration is not ours."""
        old = self.tree.get(href)
        if isinstance(obj, Registration):
            self._check(obj)
        self.tree.received(href, obj, now)
        if old != obj:
            self._changed()

    def _check(self, registration: Registration) -> None:
        if self.pin is None:
            return
        if registration.pIN != self.pin:
            self.registered = False
            raise PinMismatch(self.sfdi, self.pin, registration.pIN)
        if not self.registered:
            self.registered = True
            if self.end_device_href is not None:
                entry = self.tree.entries[self.end_device_href]
                self.tree.relink(entry, entry.fetched or 0.0)

    def _changed(self) -> None:
        self.version += 1
        self._view = None

    # --- which links to follow ------------------------------------------------------------------

    def _follow(self, obj: Sep2Object) -> Iterable[tuple[str, type[Sep2Object]]]:
        if isinstance(obj, EndDevice):
            if obj.RegistrationLink is not None and self.pin is not None:
                yield obj.RegistrationLink.href, Registration
            if not self.registered:
                return
            if obj.FunctionSetAssignmentsListLink is not None:
                yield obj.FunctionSetAssignmentsListLink.href, FunctionSetAssignmentsList
            if obj.DERListLink is not None:
                yield obj.DERListLink.href, DERList
        elif isinstance(obj, FunctionSetAssignmentsList):
            for fsa in obj.FunctionSetAssignments:
                if fsa.DERProgramListLink is not None:
                    yield fsa.DERProgramListLink.href, DERProgramList
        elif isinstance(obj, DERProgramList):
            for program in obj.DERProgram:
                yield from self._program_links(program)
        elif isinstance(obj, DERList):
            for der in obj.DER:
                if der.href is not None and der.DERCapabilityLink is None:
                    yield der.href, DER

    @staticmethod
    def _program_links(program: DERProgram) -> Iterable[tuple[str, type[Sep2Object]]]:
        if program.DERControlListLink is not None:
            yield program.DERControlListLink.href, DERControlList
        if _wanted(program.ActiveDERControlListLink):
            assert program.ActiveDERControlListLink is not None
            yield program.ActiveDERControlListLink.href, DERControlList
        if program.DefaultDERControlLink is not None:
            yield program.DefaultDERControlLink.href, DefaultDERControl
        if _wanted(program.DERCurveListLink):
            assert program.DERCurveListLink is not None
            yield program.DERCurveListLink.href, DERCurveList

    # --- what it adds up to ---------------------------------------------------------------------

    def programs(self) -> list[tuple[str, DERProgram]]:
        """The DERPrograms of every FSA, each once, keyed by href (mRID when it has none)."""
        device = self.end_device
        if device is None or not self.registered or device.FunctionSetAssignmentsListLink is None:
            return []
        fsas = self.tree.get(device.FunctionSetAssignmentsListLink.href)
        if not isinstance(fsas, FunctionSetAssignmentsList):
            return []
        found: dict[str, DERProgram] = {}
        for fsa in fsas.FunctionSetAssignments:
            listed = self.tree.get(_href(fsa.DERProgramListLink))
            if isinstance(listed, DERProgramList):
                for program in listed.DERProgram:
                    found.setdefault(program.href or program.mRID.hex().upper(), program)
        return list(found.items())

    def needed(self) -> list[str]:
        """Every href the view depends on (the view is complete when all were fetched)."""
        device = self.end_device
        if device is None or not self.registered:
            return [self.end_device_href or ""]
        hrefs = [link.href for link in (device.FunctionSetAssignmentsListLink,) if link is not None]
        fsas = self.tree.get(hrefs[0] if hrefs else None)
        if isinstance(fsas, FunctionSetAssignmentsList):
            hrefs += [h for f in fsas.FunctionSetAssignments if (h := _href(f.DERProgramListLink))]
        for _, program in self.programs():
            hrefs += [href for href, _ in self._program_links(program)]
        return hrefs

    def view(self) -> ProgramView:
        if self._view is None:
            self._view = self._build_view()
        return self._view

    def _build_view(self) -> ProgramView:
        programs: list[Program] = []
        controls: list[Control] = []
        meta: dict[str, EventMeta] = {}
        rejected: list[Rejected] = []
        curves: dict[str, DERCurve] = {}
        for href, xml in self.programs():
            default = self.tree.get(_href(xml.DefaultDERControlLink))
            if not isinstance(default, DefaultDERControl):
                default = None
            program = to_program(href, xml, default)
            programs.append(program)
            converted = convert_controls(program.id, self._controls_of(xml), self.device_category)
            for control in converted.controls:
                if control.mrid not in meta:
                    controls.append(control)
            rejected += [r for r in converted.rejected if r.mrid not in meta]
            meta.update({k: v for k, v in converted.meta.items() if k not in meta})
            listed = self.tree.get(_href(xml.DERCurveListLink))
            if isinstance(listed, DERCurveList):
                curves.update({c.href: c for c in listed.DERCurve if c.href})
        complete = self.tree.complete(self.needed())
        return ProgramView(
            tuple(programs), tuple(controls), meta, tuple(rejected), complete, curves
        )

    def _controls_of(self, program: DERProgram) -> list[DERControl]:
        found: list[DERControl] = []
        for link in (program.DERControlListLink, program.ActiveDERControlListLink):
            listed = self.tree.get(_href(link))
            if isinstance(listed, DERControlList):
                found += listed.DERControl
        return found

    def der(self) -> DER | None:
        """The (first) DER of this EndDevice, with the links it writes to."""
        device = self.end_device
        listed = self.tree.get(_href(device.DERListLink) if device else None)
        if not isinstance(listed, DERList) or not listed.DER:
            return None
        first = listed.DER[0]
        fetched = self.tree.get(first.href) if first.DERCapabilityLink is None else None
        return fetched if isinstance(fetched, DER) else first

    def subscribable(self) -> list[tuple[str, int | None]]:
        """Program resources worth a subscription, with the ``subscribable`` they advertise
        (None until fetched)."""
        found: list[tuple[str, int | None]] = []
        for _, program in self.programs():
            for link in (program.DERControlListLink, program.DefaultDERControlLink):
                if link is not None:
                    obj = self.tree.get(link.href)
                    found.append((link.href, getattr(obj, "subscribable", None)))
        return found
