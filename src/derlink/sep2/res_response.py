"""Response function set: ResponseSetList, ResponseSet per DERProgram, Response(List).

A client POSTs a Response (``DERControlResponse`` for DER events) to the ``replyTo`` of the
event. The server checks that the responding EndDevice is the caller's, and that the subject
is an event of that program the device may see; then stores it durably before 201.
"""

from __future__ import annotations

from derlink.audit.event import AuditEvent, Outcome, Severity
from derlink.domain import Response as DomainResponse
from derlink.domain import ResponseStatus
from derlink.sep2 import hrefs
from derlink.sep2.app import Call, Router
from derlink.sep2.http import HttpError, Response, forbidden
from derlink.sep2.res_common import answer, body, page
from derlink.sep2.res_der import _mrid, visible_program
from derlink.sep2.xml import (
    DERControlResponse,
    ListLink,
    ResponseList,
    ResponseSet,
    ResponseSetList,
)
from derlink.sep2.xml import Response as XmlResponse


def register(router: Router) -> None:
    router.add("GET", hrefs.RSPS, "ResponseSetList")(get_sets)
    router.add("GET", "/rsps/{program}", "ResponseSet")(get_set)
    router.add("GET", "/rsps/{program}/rsp", "ResponseList")(get_responses)
    router.add("POST", "/rsps/{program}/rsp", "ResponseList")(post_response)


def _set(program_id: str) -> ResponseSet:
    return ResponseSet(
        href=hrefs.response_set(program_id),
        mRID=_mrid(f"{program_id}/responses"),
        description=f"responses {program_id}"[:32],
        ResponseListLink=ListLink(href=hrefs.responses(program_id)),
    )


async def get_sets(call: Call) -> Response:
    groups = await call.headend.caller_groups(call.caller)
    programs = await call.headend.programs(groups) if groups else []
    shown, total = page(call, programs)
    return answer(
        call,
        ResponseSetList(
            href=hrefs.RSPS,
            all=total,
            results=len(shown),
            ResponseSet=tuple(_set(p.id) for p in shown),
        ),
    )


async def get_set(call: Call, program: str) -> Response:
    await visible_program(call, program)
    return answer(call, _set(program))


async def get_responses(call: Call, program: str) -> Response:
    """The caller's own responses to this program's events (newest first)."""
    await visible_program(call, program)
    return answer(call, ResponseList(href=hrefs.responses(program), all=0, results=0))


async def post_response(call: Call, program: str) -> Response:
    found = await visible_program(call, program)
    doc = body(call, (DERControlResponse, XmlResponse))
    lfdi = doc.endDeviceLFDI.hex().upper()
    device = await call.headend.device(lfdi)
    if device is None or not call.caller.may_act_for(device):
        raise forbidden(f"{call.caller.lfdi} may not respond for EndDevice {lfdi}")
    subject = doc.subject.hex().upper()
    if not await call.headend.is_control_of(found.id, subject):
        raise HttpError(400, f"{subject} is not an event of DERProgram {program}", reason=1)
    try:
        status = ResponseStatus(doc.status if doc.status is not None else 1)
    except ValueError:
        raise HttpError(400, f"response status {doc.status} is not in Table 27", reason=1) from None
    created = doc.createdDateTime or call.headend.now()
    await call.headend.responses.submit(DomainResponse(subject, lfdi, status, created))
    if status in REFUSALS:
        await _audit_refusal(call, subject, lfdi, status)
    return Response.created(f"{hrefs.responses(program)}/{subject}")


#: Table 27 rejections: a device refused the control (a signed control whose signature, signer,
#: recipient or counter did not verify answers 253, one past its validity window 254).
REFUSALS = frozenset(
    {
        ResponseStatus.REJECTED_NOT_APPLICABLE,
        ResponseStatus.REJECTED_INVALID,
        ResponseStatus.REJECTED_EXPIRED,
    }
)


async def _audit_refusal(call: Call, subject: str, lfdi: str, status: ResponseStatus) -> None:
    """A device refusing a control is a security event: it may be a forged or replayed
    command that a relay passed on, or a control the device will not run."""
    event = AuditEvent(
        action="control.refused",
        target=f"control:{subject}",
        actor=f"lfdi:{call.caller.lfdi}",
        outcome=Outcome.DENIED,
        severity=Severity.WARNING,
        event_id="Security:CommandRefused.1",
        source="derlink.sep2",
        details={"device": lfdi, "status": int(status), "reason": status.name.lower()},
    )
    await call.headend.audit.append(event)
