"""IEEE 2030.5 DER resources → derlink's domain model, for the event rules.

A DERProgram becomes a :class:`~derlink.domain.Program` whose id is derived from its href (the
client knows programs only by their links); each DERControl becomes a
:class:`~derlink.domain.Control`. A DERControl the domain refuses (a zero duration, an empty
DERControlBase, a value out of range, an mRID that is not 128 bits, an unknown EventStatus) is
not applied: it becomes a :class:`Rejected` event, answered "rejected, invalid event" (Table 27).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from derlink.domain import Control, ControlStatus, DomainError, Program, ResponseStatus
from derlink.sep2.mapping import from_der_control_base
from derlink.sep2.xml import DefaultDERControl, DERControl, DERProgram

RESPOND_ON_RECEIPT = 0x01  # responseRequired bit 0: "message received"
RESPOND_SPECIFIC = 0x02  # bit 1: event started, completed, cancelled, superseded, rejected...


def program_id(href: str) -> str:
    """A stable domain id for the program at ``href`` (hrefs are not valid domain ids)."""
    return "p" + hashlib.sha256(href.encode()).hexdigest()[:24]


@dataclass(frozen=True, slots=True)
class EventMeta:
    """What a Response to one event needs: the mRID as sent, where to reply, what is asked."""

    subject: bytes
    reply_to: str | None
    response_required: int

    def wants(self, status: ResponseStatus) -> bool:
        """Whether ``responseRequired`` asks for a Response with ``status`` (Annex B,
        RespondableResource: bit 0 receipt, bit 1 the specific responses)."""
        if self.reply_to is None:
            return False
        bit = RESPOND_ON_RECEIPT if status is ResponseStatus.EVENT_RECEIVED else RESPOND_SPECIFIC
        return bool(self.response_required & bit)


@dataclass(frozen=True, slots=True)
class Rejected:
    """A DERControl that is not applied, and why."""

    mrid: str
    meta: EventMeta
    status: ResponseStatus
    reason: str


@dataclass(frozen=True, slots=True)
class Converted:
    controls: tuple[Control, ...]
    meta: dict[str, EventMeta]
    rejected: tuple[Rejected, ...]


def to_program(href: str, program: DERProgram, default: DefaultDERControl | None) -> Program:
    base = from_der_control_base(default.DERControlBase, _curve) if default else None
    return Program(
        id=program_id(href),
        primacy=program.primacy,
        description=program.description or "",
        default=base if base is not None and not base.is_empty() else None,
    )


def _curve(href: str) -> str:
    return href


def to_control(program: str, xml: DERControl) -> Control:
    """The domain Control of a DERControl; DomainError or ValueError when it is not valid."""
    if len(xml.mRID) != 16:
        raise DomainError(f"mRID {xml.mRID.hex()} is not 128 bits")
    status = ControlStatus(xml.EventStatus.currentStatus)
    return Control(
        mrid=xml.mRID.hex().upper(),
        program=program,
        start=xml.interval.start,
        duration=xml.interval.duration,
        base=from_der_control_base(xml.DERControlBase, _curve),
        created=xml.creationTime,
        description=xml.description or "",
        randomize_start=xml.randomizeStart or 0,
        randomize_duration=xml.randomizeDuration or 0,
        status=status,
        status_time=xml.EventStatus.dateTime,
    )


def meta_of(xml: DERControl) -> EventMeta:
    required = int.from_bytes(xml.responseRequired, "big") if xml.responseRequired else 0
    return EventMeta(xml.mRID, xml.replyTo, required)


def applies_to(xml: DERControl, device_category: int) -> bool:
    """deviceCategory: "devices SHOULD ignore events that do not indicate their device
    category"; absent, or a device that did not say its category, means every device."""
    if xml.deviceCategory is None or device_category == 0:
        return True
    return bool(int.from_bytes(xml.deviceCategory, "big") & device_category)


def convert_controls(
    program: str, controls: Iterable[DERControl], device_category: int = 0
) -> Converted:
    """The valid controls of one program (first occurrence of an mRID wins), their Response
    metadata, and the rejected ones."""
    valid: list[Control] = []
    meta: dict[str, EventMeta] = {}
    rejected: list[Rejected] = []
    for xml in controls:
        if not applies_to(xml, device_category):
            continue
        mrid = xml.mRID.hex().upper()
        if mrid in meta:
            continue
        meta[mrid] = meta_of(xml)
        try:
            valid.append(to_control(program, xml))
        except (DomainError, ValueError) as err:
            rejected.append(Rejected(mrid, meta[mrid], ResponseStatus.REJECTED_INVALID, str(err)))
    return Converted(tuple(valid), meta, tuple(rejected))
