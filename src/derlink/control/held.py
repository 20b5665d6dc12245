"""Controls held by anomaly detection, and the second operator's approval or rejection.

:func:`screen_control` runs before a control is created: it counts the command (per operator,
per group) and, above a threshold, either stores the request in ``held_control`` with a
security event (nothing is published: the control does not exist yet) and raises
:class:`~derlink.audit.anomaly.CommandHeld`, or audits the refusal and raises
:class:`~derlink.audit.anomaly.CommandRefused`. A held control becomes a control only when an
operator other than the one who issued it approves it (:func:`approve`); the approver's
permission is checked by the interface (RBAC ``approve``), the four-eyes rule here.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update

from derlink.audit.anomaly import (
    Action,
    AnomalyError,
    AnomalyGuard,
    CommandHeld,
    CommandRefused,
)
from derlink.audit.event import AuditEvent, Outcome, Severity
from derlink.control.errors import ControlError, NotFound
from derlink.control.service import FleetService, program_groups
from derlink.domain import Control, ControlBase, Priority
from derlink.store import codec
from derlink.store.schema import HeldControlRow

HELD = "held"
APPROVED = "approved"
REJECTED = "rejected"
FAILED = "failed"
SOURCE = "derlink.control"


@dataclass(frozen=True, slots=True)
class HeldControl:
    id: int
    created: int
    operator: str
    reason: str
    request: dict[str, Any]
    status: str
    decided_by: str | None
    decided_time: int | None
    control_mrid: str | None


def _held(row: HeldControlRow) -> HeldControl:
    return HeldControl(
        id=row.id,
        created=row.created,
        operator=row.operator,
        reason=row.reason,
        request=json.loads(row.request),
        status=row.status,
        decided_by=row.decided_by,
        decided_time=row.decided_time,
        control_mrid=row.control_mrid,
    )


def control_request(
    base: ControlBase,
    *,
    start: int,
    duration: int,
    program: str | None,
    group: str | None,
    priority: Priority,
    randomize_start: int,
    randomize_duration: int,
    description: str,
) -> dict[str, Any]:
    """The arguments of ``create_control`` as JSON, to create it later on approval."""
    return {
        "base": base.set_fields(),
        "start": start,
        "duration": duration,
        "program": program,
        "group": group,
        "priority": priority.value,
        "randomize_start": randomize_start,
        "randomize_duration": randomize_duration,
        "description": description,
    }


async def screen_control(
    fleet: FleetService, guard: AnomalyGuard, actor: str, request: dict[str, Any]
) -> None:
    """Count the command; hold or refuse it above a threshold (see the module docstring)."""
    now = fleet.now()
    async with fleet.db.transaction() as s:
        if request["group"] is not None:
            groups: Collection[str] = [request["group"]]
        else:
            groups = await program_groups(s, request["program"])
        assessment = await guard.screen_command(s, operator=actor, groups=groups, now=now)
        if assessment.action is Action.ALLOW:
            return
        if assessment.action is Action.REFUSE:
            event = assessment.event(
                actor=actor, target="control:new", source=SOURCE, action="control.refuse"
            )
            await fleet.audit.append_in(s, [event])
            refused: AnomalyError = CommandRefused(
                f"control refused by anomaly detection: {assessment.reason}"
            )
        else:
            row = HeldControlRow(
                created=now,
                operator=actor,
                reason=assessment.reason[:512],
                request=json.dumps(request, sort_keys=True),
                status=HELD,
            )
            s.add(row)
            await s.flush()
            event = assessment.event(
                actor=actor, target=f"held:{row.id}", source=SOURCE, action="control.hold"
            )
            await fleet.audit.append_in(s, [event])
            refused = CommandHeld(row.id, assessment.reason)
    raise refused


async def held_controls(fleet: FleetService, *, include_decided: bool = False) -> list[HeldControl]:
    query = select(HeldControlRow).order_by(HeldControlRow.id)
    if not include_decided:
        query = query.where(HeldControlRow.status == HELD)
    async with fleet.db.sessions() as s:
        return [_held(r) for r in (await s.scalars(query)).all()]


async def _decide(fleet: FleetService, held_id: int, actor: str, status: str) -> HeldControl:
    """Mark a held control decided, once: a second decision finds it no longer held."""
    verb = "approve" if status == APPROVED else "reject"
    async with fleet.db.sessions() as s:
        row = await s.get(HeldControlRow, held_id)
        held = _held(row) if row is not None else None
    if held is None:
        raise NotFound(f"no held control {held_id}")
    if held.status != HELD:
        raise ControlError(f"held control {held_id} is already {held.status}")
    if held.operator == actor:
        await fleet.audit.append(
            AuditEvent(
                action=f"control.{verb}",
                target=f"held:{held_id}",
                actor=actor,
                outcome=Outcome.DENIED,
                severity=Severity.WARNING,
                event_id="Anomaly:Approval.2",
                source=SOURCE,
                details={"reason": "the operator who issued a held control may not decide it"},
            )
        )
        raise ControlError(
            f"held control {held_id} was issued by {actor}: a second operator must decide it"
        )
    async with fleet.db.transaction() as s:
        done = await s.execute(
            update(HeldControlRow)
            .where(HeldControlRow.id == held_id, HeldControlRow.status == HELD)
            .values(status=status, decided_by=actor, decided_time=fleet.now())
        )
        if getattr(done, "rowcount", 1) != 1:
            raise ControlError(f"held control {held_id} was decided meanwhile")
        event = AuditEvent(
            action=f"control.{verb}",
            target=f"held:{held_id}",
            actor=actor,
            severity=Severity.NOTICE,
            event_id="Anomaly:Approval.1",
            source=SOURCE,
            details={"operator": held.operator, "status": status},
        )
        await fleet.audit.append_in(s, [event])
    return held


async def approve(fleet: FleetService, held_id: int, *, actor: str) -> Control:
    """A second operator approves: the control is created (and published) now."""
    held = await _decide(fleet, held_id, actor, APPROVED)
    request = held.request
    base = codec.base_from_json(json.dumps(request["base"]))
    assert base is not None
    try:
        control = await fleet.create_control(
            base,
            actor=held.operator,
            start=request["start"],
            duration=request["duration"],
            program=request["program"],
            group=request["group"],
            priority=Priority(request["priority"]),
            randomize_start=request["randomize_start"],
            randomize_duration=request["randomize_duration"],
            description=request["description"],
            approved_by=actor,
        )
    except ControlError as err:
        async with fleet.db.transaction() as s:
            await s.execute(
                update(HeldControlRow).where(HeldControlRow.id == held_id).values(status=FAILED)
            )
        raise ControlError(f"held control {held_id} approved but not created: {err}") from None
    async with fleet.db.transaction() as s:
        await s.execute(
            update(HeldControlRow)
            .where(HeldControlRow.id == held_id)
            .values(control_mrid=control.mrid)
        )
    return control


async def reject(fleet: FleetService, held_id: int, *, actor: str) -> HeldControl:
    """A second operator rejects: the request is dropped, nothing is published."""
    return await _decide(fleet, held_id, actor, REJECTED)
