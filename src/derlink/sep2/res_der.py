"""DER function set: DERProgramList (per FSA), DERProgram, DERControlList, DERControl,
ActiveDERControlList, DefaultDERControl (their curves: :mod:`derlink.sep2.res_curves`); and the
DER of an EndDevice with what the client writes about it (DERCapability, DERSettings,
DERStatus, DERAvailability)."""

from __future__ import annotations

import hashlib
from dataclasses import replace

from derlink.audit.event import Outcome
from derlink.control.events import EventStatus, program_event_statuses
from derlink.control.publications import PublicationService
from derlink.domain import Control, ControlStatus, Program
from derlink.sep2 import hrefs
from derlink.sep2.app import Call, Router
from derlink.sep2.context import HeadEnd
from derlink.sep2.http import HttpError, Response, forbidden
from derlink.sep2.mapping import CurveLinks, to_der_control, to_der_control_base
from derlink.sep2.res_common import answer, body, page
from derlink.sep2.xml import (
    DER,
    DefaultDERControl,
    DERAvailability,
    DERCapability,
    DERControl,
    DERControlList,
    DERList,
    DERProgram,
    DERProgramList,
    DERSettings,
    DERStatus,
    Link,
    ListLink,
    Resource,
    Sep2Object,
    decode,
    encode,
)
from derlink.sep2.xml import EventStatus as XmlEventStatus

DER_PARTS: dict[str, tuple[str, type[Resource]]] = {
    "dercap": ("DERCapability", DERCapability),
    "derg": ("DERSettings", DERSettings),
    "ders": ("DERStatus", DERStatus),
    "dera": ("DERAvailability", DERAvailability),
}


def register(router: Router) -> None:
    router.add("GET", "/edev/{sfdi:int}/fsa/{group}/derp", "DERProgramList")(get_fsa_programs)
    router.add("GET", "/derp/{program}", "DERProgram")(get_program)
    router.add("GET", "/derp/{program}/derc", "DERControlList")(get_controls)
    router.add("GET", "/derp/{program}/derc/{mrid}", "DERControl")(get_control)
    router.add("GET", "/derp/{program}/derc/{mrid}/sc", "SignedCommand")(get_signed_command)
    router.add("GET", "/derp/{program}/actderc", "ActiveDERControlList")(get_active)
    router.add("GET", "/derp/{program}/dderc", "DefaultDERControl")(get_default)
    router.add("GET", "/edev/{sfdi:int}/der", "DERList")(get_der_list)
    router.add("GET", "/edev/{sfdi:int}/der/1", "DER")(get_der)
    for part, (name, _) in DER_PARTS.items():
        router.add("GET", f"/edev/{{sfdi:int}}/der/1/{part}", name)(get_der_part)
        router.add("PUT", f"/edev/{{sfdi:int}}/der/1/{part}", name)(put_der_part)


def _mrid(text: str) -> bytes:
    return hashlib.sha256(b"derlink-program:" + text.encode()).digest()[:16]


def der_program(program: Program, controls: int, active: int, curves: int = 0) -> DERProgram:
    pid = program.id
    return DERProgram(
        href=hrefs.program(pid),
        subscribable=1,  # notified on change: notify.py
        mRID=_mrid(pid),
        description=(program.description or pid)[:32],
        ActiveDERControlListLink=ListLink(href=hrefs.program(pid, "actderc"), all=active),
        DefaultDERControlLink=Link(href=hrefs.program(pid, "dderc")) if program.default else None,
        DERControlListLink=ListLink(href=hrefs.program(pid, "derc"), all=controls),
        DERCurveListLink=ListLink(href=hrefs.program(pid, "dc"), all=curves),
        primacy=program.primacy,
    )


async def visible_program(call: Call, program_id: str) -> Program:
    """The program if it targets a group of one of the caller's EndDevices; else 403/404."""
    from derlink.control.errors import NotFound

    try:
        program = await call.headend.program(program_id)
    except NotFound:
        call.caller.require_enrolled()
        raise HttpError(404, f"no DERProgram {program_id}") from None
    groups = await call.headend.caller_groups(call.caller)
    if not program.groups & groups:
        raise forbidden(f"DERProgram {program_id} is not assigned to {call.caller.lfdi}")
    return program


async def _live_controls(
    call: Call | HeadEnd, program: Program
) -> tuple[list[Control], dict[str, EventStatus]]:
    """Controls not yet ended (cancelled ones stay listed until their end), with status."""
    headend = call.headend if isinstance(call, Call) else call
    controls = await headend.controls_of(program.id)
    statuses = dict(program_event_statuses(program, controls, headend.now()))
    return controls, statuses


async def program_resource(headend: HeadEnd, program: Program) -> DERProgram:
    """The DERProgram with the counts of its lists."""
    controls, statuses = await _live_controls(headend, program)
    active = sum(1 for s in statuses.values() if s.current_status is ControlStatus.ACTIVE)
    service = PublicationService(headend.db, headend.audit, clock=headend.clock)
    curves = await headend.cache.get(("curves", program.id), lambda: service.curves(program.id))
    return der_program(program, len(controls), active, len(curves))


def curve_links(program: Program) -> CurveLinks:
    """Curve ids of the program's envelopes as links to its DERCurves."""
    return CurveLinks(lambda curve: hrefs.curve(program.id, curve))


def _xml_status(status: EventStatus) -> XmlEventStatus:
    return XmlEventStatus(
        currentStatus=int(status.current_status),
        dateTime=status.date_time,
        potentiallySuperseded=status.potentially_superseded,
        potentiallySupersededTime=status.potentially_superseded_time,
        reason=status.reason[:192] or None,
    )


def _der_control(program: Program, control: Control, status: EventStatus) -> DERControl:
    return to_der_control(
        control,
        _xml_status(status),
        href=hrefs.control(program.id, control.mrid),
        reply_to=hrefs.responses(program.id),
        curves=curve_links(program),
    )


async def get_fsa_programs(call: Call, sfdi: int, group: str) -> Response:
    device = await call.headend.device_by_sfdi(call.caller, sfdi)
    if group not in await call.headend.groups_of([device]):
        raise HttpError(404, f"no FunctionSetAssignments {group} for EndDevice {sfdi}")
    programs = await call.headend.programs(frozenset({group}))
    shown, total = page(call, programs)
    items = [await program_resource(call.headend, program) for program in shown]
    return answer(
        call,
        DERProgramList(
            href=hrefs.fsa_programs(sfdi, group),
            pollRate=await call.headend.poll_rate("DERProgramList", device.site),
            subscribable=0,
            all=total,
            results=len(items),
            DERProgram=tuple(items),
        ),
    )


async def get_program(call: Call, program: str) -> Response:
    found = await visible_program(call, program)
    return answer(call, await program_resource(call.headend, found))


async def get_controls(call: Call, program: str) -> Response:
    found = await visible_program(call, program)
    paging = call.request.paging()
    return answer(call, await control_list(call.headend, found, paging.start, paging.limit))


async def control_list(
    headend: HeadEnd, program: Program, start: int = 0, limit: int = 1000, *, active: bool = False
) -> DERControlList:
    """The program's DERControlList (or ActiveDERControlList), by start time, paged."""
    controls, statuses = await _live_controls(headend, program)
    if active:
        now = headend.now()
        controls = [
            c
            for c in controls
            if statuses[c.mrid].current_status is ControlStatus.ACTIVE and c.start <= now < c.end
        ]
    controls = sorted(controls, key=lambda c: (c.start, -c.created))
    shown = controls[start : start + limit]
    return DERControlList(
        href=hrefs.program(program.id, "actderc" if active else "derc"),
        subscribable=1,
        all=len(controls),
        results=len(shown),
        DERControl=tuple(_der_control(program, c, statuses[c.mrid]) for c in shown),
    )


async def render(headend: HeadEnd, program: Program, target: str) -> Sep2Object | None:
    """The program resource at ``target`` as every permitted reader sees it (notifications)."""
    part = target.removeprefix(hrefs.program(program.id)).lstrip("/")
    if part == "derc":
        return await control_list(headend, program)
    if part == "actderc":
        return await control_list(headend, program, active=True)
    if part == "dderc":
        return default_control(program)
    return await program_resource(headend, program)


async def get_control(call: Call, program: str, mrid: str) -> Response:
    found = await visible_program(call, program)
    controls, statuses = await _live_controls(call, found)
    for control in controls:
        if control.mrid == mrid.upper():
            return answer(call, _der_control(found, control, statuses[control.mrid]))
    raise HttpError(404, f"no DERControl {mrid} in DERProgram {program}")


async def get_signed_command(call: Call, program: str, mrid: str) -> Response:
    """The operator's signed form of a DERControl (derlink.e2e.commands), next to it at
    ``{DERControl href}/sc``: DERControl has no place for a signature, so the signature
    travels as this detached document (``application/vnd.derlink.signed-command``)."""
    from derlink.control.signing import signed_document
    from derlink.e2e.commands import MEDIA_TYPE as SIGNED_MEDIA_TYPE

    found = await visible_program(call, program)
    key = mrid.upper()
    document = await call.headend.cache.get(
        ("signed", key), lambda: signed_document(call.headend.db, key)
    )
    if document is None:  # a miss may predate the control: look again, uncached
        call.headend.cache.discard(("signed", key))
        document = await call.headend.cache.get(
            ("signed", key), lambda: signed_document(call.headend.db, key)
        )
    if document is None or not await call.headend.is_control_of(found.id, key):
        raise HttpError(404, f"DERControl {mrid} of DERProgram {program} is not signed")
    return Response(200, document, [(b"content-type", SIGNED_MEDIA_TYPE.encode())])


async def get_active(call: Call, program: str) -> Response:
    found = await visible_program(call, program)
    paging = call.request.paging()
    return answer(
        call, await control_list(call.headend, found, paging.start, paging.limit, active=True)
    )


def default_control(program: Program) -> DefaultDERControl | None:
    if program.default is None:
        return None
    return DefaultDERControl(
        href=hrefs.program(program.id, "dderc"),
        subscribable=1,
        mRID=_mrid(f"{program.id}/default"),
        description=f"default {program.id}"[:32],
        DERControlBase=to_der_control_base(program.default, curve_links(program)),
    )


async def get_default(call: Call, program: str) -> Response:
    found = await visible_program(call, program)
    default = default_control(found)
    if default is None:
        raise HttpError(404, f"DERProgram {program} has no default control")
    return answer(call, default)


async def get_der_list(call: Call, sfdi: int) -> Response:
    await call.headend.device_by_sfdi(call.caller, sfdi)
    der = _der(sfdi)
    return answer(
        call,
        DERList(
            href=hrefs.edev_part(sfdi, "der"),
            pollRate=await call.headend.poll_rate("DERList"),
            all=1,
            results=1,
            DER=(der,),
        ),
    )


def _der(sfdi: int) -> DER:
    return DER(
        href=hrefs.der(sfdi),
        subscribable=0,
        DERAvailabilityLink=Link(href=hrefs.der(sfdi, "dera")),
        DERCapabilityLink=Link(href=hrefs.der(sfdi, "dercap")),
        DERSettingsLink=Link(href=hrefs.der(sfdi, "derg")),
        DERStatusLink=Link(href=hrefs.der(sfdi, "ders")),
    )


async def get_der(call: Call, sfdi: int) -> Response:
    await call.headend.device_by_sfdi(call.caller, sfdi)
    return answer(call, _der(sfdi))


async def get_der_part(call: Call, sfdi: int) -> Response:
    part = call.request.path.rsplit("/", 1)[-1]
    name, kind = DER_PARTS[part]
    device = await call.headend.device_by_sfdi(call.caller, sfdi)
    stored = await call.headend.repo.document(device.lfdi, name)
    if stored is None:
        raise HttpError(404, f"EndDevice {sfdi} has not written its {name}")
    return answer(call, decode(stored, kind))


async def put_der_part(call: Call, sfdi: int) -> Response:
    """Keep what the DER reports exactly as sent: its times (readingTime...) are its own."""
    part = call.request.path.rsplit("/", 1)[-1]
    name, kind = DER_PARTS[part]
    device = await call.headend.device_by_sfdi(call.caller, sfdi)
    doc = body(call, kind)
    href = hrefs.der(sfdi, part)
    await call.headend.repo.put_document(
        device.lfdi, name, encode(replace(doc, href=href)), call.headend.now()
    )
    if name != "DERStatus":  # status is telemetry; capability and settings are configuration
        await call.headend.audit_event(
            call.caller.lfdi, "sep2.put", f"href:{href}", Outcome.SUCCESS, resource=name
        )
    return Response.no_content()
