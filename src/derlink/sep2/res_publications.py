"""What the published function sets share in the head-end (Pricing §10.5, Demand Response
and Load Control, Messaging, File Download): who may read a publication, its lists under
DeviceCapability and FunctionSetAssignments, the EventStatus of its events, and the Responses
devices post about them.

Access is that of DER programs (:func:`derlink.sep2.res_der.visible_program`): a device reads
what targets the groups of its site, an aggregator what targets its devices' groups; anything
else is 403, an unknown id 404. A list under DeviceCapability holds what the caller may read; a
list under a FunctionSetAssignments what targets that FSA's group.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from derlink.control.errors import NotFound
from derlink.control.events import EventStatus
from derlink.control.events_published import Scope, event_statuses
from derlink.control.publications import PublicationService
from derlink.domain import ControlStatus, Event, Publication, PublicationKind, ResponseStatus
from derlink.domain import Response as DomainResponse
from derlink.sep2 import hrefs
from derlink.sep2.app import Call, Router
from derlink.sep2.context import HeadEnd
from derlink.sep2.http import HttpError, Response, forbidden
from derlink.sep2.res_common import answer, body, page
from derlink.sep2.res_der import _mrid, _xml_status
from derlink.sep2.xml import DateTimeInterval, ListLink, Sep2Object
from derlink.sep2.xml import Response as XmlResponse

ROOTS = {
    PublicationKind.TARIFF: "tp",
    PublicationKind.DEMAND: "dr",
    PublicationKind.MESSAGING: "msg",
    PublicationKind.FILE: "file",
}
# responseRequired (Annex B RespondableResource): 0x01 message received, 0x02 specific
# responses (started, completed...), 0x04 a user's response (e.g. acknowledging a message).
RECEIVED, SPECIFIC, USER = 0x01, 0x02, 0x04


def service(headend: HeadEnd) -> PublicationService:
    return PublicationService(headend.db, headend.audit, clock=headend.clock)


def mrid(kind: PublicationKind, *parts: str) -> bytes:
    """The mRID of a publication (or of a part of one), stable across restarts and nodes."""
    return _mrid(f"{kind.value}:{'/'.join(parts)}")


async def publication_counts(
    headend: HeadEnd, groups: frozenset[str]
) -> dict[PublicationKind, int]:
    """How many publications of each kind target ``groups`` (cached: FSAs are polled)."""
    return await headend.cache.get(
        ("publications", groups), lambda: service(headend).counts(groups)
    )


async def caller_groups(call: Call) -> frozenset[str]:
    return await call.headend.caller_groups(call.caller)


async def visible(call: Call, kind: PublicationKind, item_id: str) -> Publication:
    """The publication if it targets a group of one of the caller's EndDevices; else 403/404."""
    try:
        item = await call.headend.cache.get(
            ("publication", kind, item_id), lambda: service(call.headend).publication(kind, item_id)
        )
    except NotFound:
        call.caller.require_enrolled()
        raise HttpError(404, f"no {item_id!r} in {ROOTS[kind]}") from None
    if not item.groups & await caller_groups(call):
        raise forbidden(f"{item.LABEL} {item_id} is not assigned to {call.caller.lfdi}")
    return item


@dataclass(frozen=True, slots=True)
class ListSpec:
    """A function set's publications: the route and type name of their list
    (``TariffProfileList``), how to build it, the element (and route name) of its items
    (``TariffProfile``), and how one item is rendered."""

    kind: PublicationKind
    name: str
    make: Callable[..., Sep2Object]
    field: str
    item: Callable[[HeadEnd, Publication], Awaitable[Sep2Object]]
    subscribable: bool = True
    by_primacy: bool = True

    def ordered(self, items: list[Publication]) -> list[Publication]:
        """List ordering: mRID descending, after primacy ascending where programs have one
        (§10.5.2 Table 42 orders TariffProfiles by mRID alone)."""
        items = sorted(items, key=lambda i: mrid(self.kind, i.id), reverse=True)
        if self.by_primacy:
            items.sort(key=lambda i: getattr(i, "primacy", 0))
        return items


def register_lists(router: Router, spec: ListSpec) -> None:
    """GET the list under DeviceCapability (``/tp``) and under each FSA (``.../fsa/G/tp``),
    and each item (``/tp/{id}``)."""
    root = ROOTS[spec.kind]

    async def get_item(call: Call, item: str) -> Response:
        return answer(call, await spec.item(call.headend, await visible(call, spec.kind, item)))

    async def get_list(call: Call, sfdi: int | None = None, group: str | None = None) -> Response:
        groups, href, site = await _scope(call, root, sfdi, group)
        items = await service(call.headend).publications(spec.kind, groups=groups)
        shown, total = page(call, spec.ordered(items) if groups else [])
        extra = {"subscribable": 0} if spec.subscribable else {}
        rendered = tuple([await spec.item(call.headend, i) for i in shown])
        poll = await call.headend.poll_rate(spec.name, site)
        return answer(
            call,
            spec.make(
                href=href,
                pollRate=poll,
                all=total,
                results=len(shown),
                **extra,
                **{spec.field: rendered},
            ),
        )

    router.add("GET", f"/{root}", spec.name)(get_list)
    router.add("GET", f"/edev/{{sfdi:int}}/fsa/{{group}}/{root}", spec.name)(get_list)
    router.add("GET", f"/{root}/{{item}}", spec.field)(get_item)


async def _scope(
    call: Call, root: str, sfdi: int | None, group: str | None
) -> tuple[frozenset[str], str, str | None]:
    """(groups, href, site) of a list: the caller's, or one FSA's of one EndDevice."""
    if sfdi is None or group is None:
        site = call.caller.device.site if call.caller.device else None
        return await caller_groups(call), f"/{root}", site
    device = await call.headend.device_by_sfdi(call.caller, sfdi)
    if group not in await call.headend.groups_of([device]):
        raise HttpError(404, f"no FunctionSetAssignments {group} for EndDevice {sfdi}")
    return frozenset({group}), hrefs.fsa_part(sfdi, group, root), device.site


# --- events ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Events:
    """The live events of one list (not yet ended; cancelled ones stay until their end), by
    start, with their EventStatus at ``now``."""

    events: list[Event]
    statuses: dict[str, EventStatus]
    now: int

    @classmethod
    async def of(
        cls,
        headend: HeadEnd,
        kind: PublicationKind,
        program: str,
        scope: Scope,
        part: str | None = None,
    ) -> Events:
        events = await service(headend).events(kind, program, part=part)
        now = headend.now()
        # interval.start ascending, creationTime descending, mRID descending (§10.5.2 Table 42)
        events.sort(key=lambda e: e.mrid, reverse=True)
        events.sort(key=lambda e: (e.start, -e.created))
        return cls(events, dict(event_statuses(events, now, scope)), now)

    def active(self) -> list[Event]:
        return [
            e
            for e in self.events
            if self.statuses[e.mrid].current_status is ControlStatus.ACTIVE
            and e.start <= self.now < e.end
        ]

    def page(self, call: Call, active: bool = False) -> tuple[list[Event], int]:
        listed = self.active() if active else self.events
        return call.request.paging().window(listed), len(listed)

    def find(self, event_mrid: str) -> Event:
        for event in self.events:
            if event.mrid == event_mrid.upper():
                return event
        raise HttpError(404, f"no event {event_mrid}")


@dataclass(frozen=True, slots=True)
class EventSpec:
    """A function set's event lists: under ``path`` (``/dr/{program}``; pricing adds the rate
    component, ``/tp/{program}/rc/{part}``), the list and the active list at ``parts`` with
    route ``names`` (list, active list, one event), built by ``make_list`` with items in
    ``field`` rendered by ``render``; ``scope`` decides supersession, ``check_part`` refuses
    an unknown part (404)."""

    kind: PublicationKind
    path: str
    parts: tuple[str, str]
    names: tuple[str, str, str]
    make_list: Callable[..., Sep2Object]
    field: str
    render: Callable[[Event, EventStatus], Sep2Object]
    scope: Scope
    check_part: Callable[[Publication, str], object] | None = None

    async def events(self, call: Call, program: str, part: str | None = None) -> Events:
        """The live events of a list the caller may read."""
        item = await visible(call, self.kind, program)
        if part is not None and self.check_part is not None:
            self.check_part(item, part)
        return await Events.of(call.headend, self.kind, program, self.scope, part)

    def href(self, program: str, part: str | None, child: str) -> str:
        return f"{self.path.format(program=program, part=part)}/{child}"

    async def links(
        self, headend: HeadEnd, program: str, part: str | None = None
    ) -> tuple[ListLink, ListLink]:
        """Links to the event list and to the active event list, with their sizes."""
        events = await Events.of(headend, self.kind, program, self.scope, part)
        return (
            ListLink(href=self.href(program, part, self.parts[0]), all=len(events.events)),
            ListLink(href=self.href(program, part, self.parts[1]), all=len(events.active())),
        )


def register_events(router: Router, spec: EventSpec) -> None:
    """GET the event list, the active event list and one event of ``spec``."""

    async def listing(call: Call, program: str, part: str | None, active: bool) -> Response:
        events = await spec.events(call, program, part)
        shown, total = events.page(call, active)
        return answer(
            call,
            spec.make_list(
                href=spec.href(program, part, spec.parts[active]),
                subscribable=0,
                all=total,
                results=len(shown),
                **{spec.field: tuple(spec.render(e, events.statuses[e.mrid]) for e in shown)},
            ),
        )

    async def get_list(call: Call, program: str, part: str | None = None) -> Response:
        return await listing(call, program, part, active=False)

    async def get_active(call: Call, program: str, part: str | None = None) -> Response:
        return await listing(call, program, part, active=True)

    async def get_event(call: Call, program: str, event: str, part: str | None = None) -> Response:
        events = await spec.events(call, program, part)
        found = events.find(event)
        return answer(call, spec.render(found, events.statuses[found.mrid]))

    router.add("GET", f"{spec.path}/{spec.parts[0]}", spec.names[0])(get_list)
    router.add("GET", f"{spec.path}/{spec.parts[1]}", spec.names[1])(get_active)
    router.add("GET", f"{spec.path}/{spec.parts[0]}/{{event}}", spec.names[2])(get_event)


def event_attrs(
    event: Event, status: EventStatus, *, href: str, reply_to: str, required: int
) -> dict[str, Any]:
    """The Event / RandomizableEvent elements of ``event`` (Annex B)."""
    attrs: dict[str, Any] = {
        "href": href,
        "replyTo": reply_to,
        "responseRequired": bytes([required]),
        "subscribable": 0,
        "mRID": bytes.fromhex(event.mrid),
        "description": event.description or None,
        "creationTime": event.created,
        "EventStatus": _xml_status(status),
        "interval": DateTimeInterval(duration=event.duration, start=event.start),
    }
    if event.randomize_start or event.randomize_duration:
        attrs["randomizeStart"] = event.randomize_start or None
        attrs["randomizeDuration"] = event.randomize_duration or None
    return attrs


def register_responses(
    router: Router, kind: PublicationKind, accepted: tuple[type[XmlResponse], ...]
) -> None:
    """POST the Responses to a publication's events at their ``replyTo`` (Response function set)."""

    async def post_response(call: Call, program: str) -> Response:
        await visible(call, kind, program)
        doc = body(call, accepted)
        lfdi = doc.endDeviceLFDI.hex().upper()
        device = await call.headend.fleet.device(lfdi)
        if device is None or not call.caller.may_act_for(device):
            raise forbidden(f"{call.caller.lfdi} may not respond for EndDevice {lfdi}")
        subject = doc.subject.hex().upper()
        events = await service(call.headend).events(kind, program, include_ended=True)
        if subject not in {e.mrid for e in events}:
            raise HttpError(400, f"{subject} is not an event of {program}", reason=1)
        try:
            status = ResponseStatus(doc.status if doc.status is not None else 1)
        except ValueError:
            raise HttpError(400, f"status {doc.status} is not in Table 27", reason=1) from None
        created = doc.createdDateTime or call.headend.now()
        await call.headend.fleet.record_responses([DomainResponse(subject, lfdi, status, created)])
        return Response.created(f"{hrefs.event_responses(ROOTS[kind], program)}/{subject}")

    router.add("POST", f"/rsps/{ROOTS[kind]}/{{program}}/rsp", "ResponseList")(post_response)
