"""DeviceCapability, Time, EndDevice(List), Registration, FunctionSetAssignments, and what a
client writes about itself (DeviceInformation, PowerStatus, ConnectionPoint, LogEvent)."""

from __future__ import annotations

import time as _time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from derlink.audit.event import Outcome
from derlink.domain import Device, PublicationKind
from derlink.sep2 import hrefs
from derlink.sep2.app import Call, Router
from derlink.sep2.http import HttpError, Response, forbidden
from derlink.sep2.res_common import answer, body, list_link, page
from derlink.sep2.res_publications import ROOTS, publication_counts
from derlink.sep2.xml import (
    ConnectionPoint,
    DeviceCapability,
    DeviceInformation,
    EndDevice,
    EndDeviceList,
    FunctionSetAssignments,
    FunctionSetAssignmentsList,
    Link,
    ListLink,
    LogEvent,
    LogEventList,
    PowerStatus,
    Registration,
    Time,
    decode,
)

TIME_QUALITY_NTP = 4  # 2030.5 Time.quality: level 3 source


def register(router: Router) -> None:
    router.add("GET", hrefs.DCAP, "DeviceCapability")(get_dcap)
    router.add("GET", hrefs.TIME, "Time")(get_time)
    router.add("GET", hrefs.EDEV, "EndDeviceList")(get_edev_list)
    router.add("POST", hrefs.EDEV, "EndDeviceList")(post_edev)
    router.add("GET", "/edev/{sfdi:int}", "EndDevice")(get_edev)
    router.add("GET", "/edev/{sfdi:int}/rg", "Registration")(get_registration)
    router.add("GET", "/edev/{sfdi:int}/fsa", "FunctionSetAssignmentsList")(get_fsa_list)
    router.add("GET", "/edev/{sfdi:int}/fsa/{group}", "FunctionSetAssignments")(get_fsa)
    for part, name in DOCUMENTS.items():
        router.add("GET", f"/edev/{{sfdi:int}}/{part}", name)(get_document)
        router.add("PUT", f"/edev/{{sfdi:int}}/{part}", name)(put_document)
    router.add("GET", "/edev/{sfdi:int}/cp", "ConnectionPoint")(get_connection_point)
    router.add("PUT", "/edev/{sfdi:int}/cp", "ConnectionPoint")(put_connection_point)
    router.add("GET", "/edev/{sfdi:int}/lel", "LogEventList")(get_log_events)
    router.add("POST", "/edev/{sfdi:int}/lel", "LogEventList")(post_log_event)


DOCUMENTS = {"di": "DeviceInformation", "ps": "PowerStatus"}
DOCUMENT_TYPES: dict[str, type[DeviceInformation] | type[PowerStatus]] = {
    "di": DeviceInformation,
    "ps": PowerStatus,
}


async def get_dcap(call: Call) -> Response:
    devices = await call.headend.devices_of(call.caller)
    mirrors = await call.headend.repo.mirrors([d.lfdi for d in devices])
    site = call.caller.device.site if call.caller.device else None
    poll = await call.headend.poll_rate("DeviceCapability", site)
    counts = await publication_counts(call.headend, await call.headend.groups_of(devices))
    links = Links(await call.headend.disabled())
    return answer(
        call,
        DeviceCapability(
            href=hrefs.DCAP,
            pollRate=poll,
            ResponseSetListLink=links.list("ResponseSetList", hrefs.RSPS, None),
            TimeLink=links.one("Time", hrefs.TIME),
            UsagePointListLink=links.list("UsagePointList", hrefs.UPT, len(mirrors)),
            EndDeviceListLink=links.list("EndDeviceList", hrefs.EDEV, len(devices)),
            MirrorUsagePointListLink=links.list("MirrorUsagePointList", hrefs.MUP, len(mirrors)),
            **links.published(lambda root: f"/{root}", counts),
        ),
    )


@dataclass(frozen=True, slots=True)
class Links:
    """Links to the resources this deployment has not disabled ('derlink resource disable')."""

    disabled: frozenset[str]

    def one(self, name: str, href: str) -> Link | None:
        return None if name in self.disabled else Link(href=href)

    def list(self, name: str, href: str, count: int | None) -> ListLink | None:
        return None if name in self.disabled else list_link(href, count)

    def published(
        self, href: Callable[[str], str], counts: dict[PublicationKind, int]
    ) -> dict[str, Any]:
        """The links to the lists of the published function sets (FunctionSetAssignmentsBase:
        TariffProfileListLink, DemandResponseProgramListLink, MessagingProgramListLink,
        FileListLink)."""
        return {
            f"{name}Link": self.list(name, href(ROOTS[kind]), counts[kind])
            for kind, name in PUBLISHED_LISTS.items()
        }


PUBLISHED_LISTS = {
    PublicationKind.DEMAND: "DemandResponseProgramList",
    PublicationKind.FILE: "FileList",
    PublicationKind.MESSAGING: "MessagingProgramList",
    PublicationKind.TARIFF: "TariffProfileList",
}


async def get_time(call: Call) -> Response:
    now = call.headend.now()
    return answer(
        call,
        Time(
            href=hrefs.TIME,
            pollRate=await call.headend.poll_rate("Time"),
            currentTime=now,
            dstEndTime=0,
            dstOffset=0,
            dstStartTime=0,
            localTime=now,
            quality=TIME_QUALITY_NTP,
            tzOffset=0,
        ),
    )


def end_device(device: Device, fsa_count: int | None = None) -> EndDevice:
    sfdi = device.sfdi
    return EndDevice(
        href=hrefs.edev(sfdi),
        subscribable=0,
        DERListLink=list_link(hrefs.edev_part(sfdi, "der"), 1),
        deviceCategory=device.device_category.to_bytes(4, "big"),
        DeviceInformationLink=Link(href=hrefs.edev_part(sfdi, "di")),
        FileStatusLink=Link(href=hrefs.file_status(sfdi)),
        lFDI=bytes.fromhex(device.lfdi),
        LogEventListLink=list_link(hrefs.edev_part(sfdi, "lel"), None),
        PowerStatusLink=Link(href=hrefs.edev_part(sfdi, "ps")),
        sFDI=sfdi,
        changedTime=device.changed_time,
        enabled=device.enabled,
        FunctionSetAssignmentsListLink=list_link(hrefs.fsa(sfdi), fsa_count),
        RegistrationLink=Link(href=hrefs.edev_part(sfdi, "rg")),
        SubscriptionListLink=list_link(hrefs.subscription(sfdi), None),
        ConnectionPointLink=Link(href=hrefs.edev_part(sfdi, "cp")),
    )


async def get_edev_list(call: Call) -> Response:
    devices = sorted(await call.headend.devices_of(call.caller), key=lambda d: d.sfdi)
    shown, total = page(call, devices)
    return answer(
        call,
        EndDeviceList(
            href=hrefs.EDEV,
            pollRate=await call.headend.poll_rate("EndDeviceList"),
            subscribable=0,
            all=total,
            results=len(shown),
            EndDevice=tuple(end_device(d) for d in shown),
        ),
    )


async def post_edev(call: Call) -> Response:
    """An aggregator registers one of its EndDevices; under open registration a device
    registers itself. The LFDI/SFDI pair must agree (SFDI is derived from LFDI)."""
    from derlink.domain import DeviceKind
    from derlink.pki import sfdi_from_lfdi

    doc = body(call, EndDevice)
    if doc.lFDI is None:
        raise HttpError(400, "an EndDevice registration needs its lFDI", reason=1)
    lfdi = doc.lFDI.hex().upper()
    if sfdi_from_lfdi(lfdi) != doc.sFDI:
        raise HttpError(400, f"sFDI {doc.sFDI} does not belong to lFDI {lfdi}", reason=1)
    caller = call.caller
    existing = await call.headend.fleet.device(lfdi)
    if existing is not None:
        if not caller.may_act_for(existing):
            raise forbidden(f"EndDevice {lfdi} belongs to another client")
        return Response.created(hrefs.edev(existing.sfdi))
    if caller.device is not None and caller.device.kind is DeviceKind.AGGREGATOR:
        aggregator: str | None = caller.device.lfdi
    elif call.headend.settings.registration == "open" and lfdi == caller.lfdi:
        aggregator = None
    else:
        raise forbidden("registration is by the operator: this client may not add EndDevices")
    device = Device(
        lfdi=lfdi,
        sfdi=doc.sFDI,
        aggregator=aggregator,
        device_category=int.from_bytes(doc.deviceCategory or b"\0", "big"),
    )
    await call.headend.fleet.enrol(device, actor=f"lfdi:{caller.lfdi}")
    call.headend.cache.forget()
    return Response.created(hrefs.edev(device.sfdi))


async def get_edev(call: Call, sfdi: int) -> Response:
    device = await call.headend.device_by_sfdi(call.caller, sfdi)
    groups = await call.headend.groups_of([device])
    return answer(call, end_device(device, len(groups)))


async def get_registration(call: Call, sfdi: int) -> Response:
    device = await call.headend.device_by_sfdi(call.caller, sfdi)
    if device.pin is None:
        raise HttpError(404, f"EndDevice {sfdi} has no registration PIN")
    return answer(
        call,
        Registration(
            href=hrefs.edev_part(sfdi, "rg"),
            pollRate=await call.headend.poll_rate("Registration", device.site),
            dateTimeRegistered=device.changed_time,
            pIN=device.pin,
        ),
    )


async def fsa(call: Call, sfdi: int, group: str) -> FunctionSetAssignments:
    """The FSA of ``group``: links to the lists of what targets the group."""
    programs = await call.headend.programs(frozenset({group}))
    counts = await publication_counts(call.headend, frozenset({group}))
    links = Links(await call.headend.disabled())
    return FunctionSetAssignments(
        href=hrefs.fsa(sfdi, group),
        subscribable=0,
        DERProgramListLink=links.list(
            "DERProgramList", hrefs.fsa_programs(sfdi, group), len(programs)
        ),
        ResponseSetListLink=links.list("ResponseSetList", hrefs.RSPS, None),
        TimeLink=links.one("Time", hrefs.TIME),
        mRID=_group_mrid(group),
        description=group[:32],
        **links.published(lambda root: hrefs.fsa_part(sfdi, group, root), counts),
    )


def _group_mrid(group: str) -> bytes:
    import hashlib

    return hashlib.sha256(b"derlink-fsa:" + group.encode()).digest()[:16]


async def get_fsa_list(call: Call, sfdi: int) -> Response:
    device = await call.headend.device_by_sfdi(call.caller, sfdi)
    groups = sorted(await call.headend.groups_of([device]))
    shown, total = page(call, groups)
    items = [await fsa(call, sfdi, group) for group in shown]
    return answer(
        call,
        FunctionSetAssignmentsList(
            href=hrefs.fsa(sfdi),
            pollRate=await call.headend.poll_rate("FunctionSetAssignmentsList", device.site),
            subscribable=0,
            all=total,
            results=len(items),
            FunctionSetAssignments=tuple(items),
        ),
    )


async def get_fsa(call: Call, sfdi: int, group: str) -> Response:
    device = await call.headend.device_by_sfdi(call.caller, sfdi)
    if group not in await call.headend.groups_of([device]):
        raise HttpError(404, f"no FunctionSetAssignments {group} for EndDevice {sfdi}")
    return answer(call, await fsa(call, sfdi, group))


async def get_document(call: Call, sfdi: int) -> Response:
    part = call.request.path.rsplit("/", 1)[-1]
    device = await call.headend.device_by_sfdi(call.caller, sfdi)
    stored = await call.headend.repo.document(device.lfdi, DOCUMENTS[part])
    if stored is None:
        raise HttpError(404, f"EndDevice {sfdi} has not written its {DOCUMENTS[part]}")
    doc = decode(stored, DOCUMENT_TYPES[part])
    return answer(call, doc)


async def put_document(call: Call, sfdi: int) -> Response:
    """Store what the client says about itself exactly as sent (its times are its own)."""
    part = call.request.path.rsplit("/", 1)[-1]
    device = await call.headend.device_by_sfdi(call.caller, sfdi)
    doc = body(call, DOCUMENT_TYPES[part])
    from dataclasses import replace

    from derlink.sep2.xml import encode

    href = hrefs.edev_part(sfdi, part)
    stored = encode(replace(doc, href=href))
    await call.headend.repo.put_document(device.lfdi, DOCUMENTS[part], stored, call.headend.now())
    await call.headend.audit_event(
        call.caller.lfdi, "sep2.put", f"href:{href}", Outcome.SUCCESS, resource=DOCUMENTS[part]
    )
    return Response.no_content()


async def get_connection_point(call: Call, sfdi: int) -> Response:
    device = await call.headend.device_by_sfdi(call.caller, sfdi)
    if device.site is None:
        raise HttpError(404, f"EndDevice {sfdi} is not at a site")
    site = await call.headend.fleet.site(device.site)
    if site.connection_point_id is None:
        raise HttpError(404, f"site {site.id} has no connection point id")
    return answer(
        call,
        ConnectionPoint(
            href=hrefs.edev_part(sfdi, "cp"), connectionPointId=site.connection_point_id
        ),
    )


async def put_connection_point(call: Call, sfdi: int) -> Response:
    """A client reports its connection point id (NMI), unless the operator locked it."""
    from dataclasses import replace

    device = await call.headend.device_by_sfdi(call.caller, sfdi)
    doc = body(call, ConnectionPoint)
    if device.site is None:
        raise HttpError(409, f"EndDevice {sfdi} is not at a site: the operator assigns sites")
    site = await call.headend.fleet.site(device.site)
    locked = site.lock_connection_point  # per site; 'derlink resource lock' for all sites
    if locked:
        raise forbidden(f"the connection point of site {site.id} is set by the operator")
    updated = replace(site, connection_point_id=doc.connectionPointId)
    await call.headend.fleet.update_site(updated, actor=f"lfdi:{call.caller.lfdi}")
    call.headend.cache.forget()
    return Response.no_content()


async def get_log_events(call: Call, sfdi: int) -> Response:
    device = await call.headend.device_by_sfdi(call.caller, sfdi)
    rows = await call.headend.repo.log_events(device.lfdi)
    shown, total = page(call, rows)
    events = tuple(_log_event(r.body.encode(), hrefs.edev_part(sfdi, f"lel/{r.id}")) for r in shown)
    return answer(
        call,
        LogEventList(
            href=hrefs.edev_part(sfdi, "lel"),
            subscribable=0,
            all=total,
            results=len(events),
            LogEvent=events,
        ),
    )


def _log_event(stored: bytes, href: str) -> LogEvent:
    from dataclasses import replace

    return replace(decode(stored, LogEvent), href=href)


async def post_log_event(call: Call, sfdi: int) -> Response:
    from derlink.sep2.xml import encode

    device = await call.headend.device_by_sfdi(call.caller, sfdi)
    doc = body(call, LogEvent)
    event_id = await call.headend.repo.add_log_event(device.lfdi, encode(doc), int(_time.time()))
    return Response.created(hrefs.edev_part(sfdi, f"lel/{event_id}"))
