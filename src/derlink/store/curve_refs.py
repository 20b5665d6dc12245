"""A control's curves belong to its program: checked whenever a control or a program's
default control is written, in the writing transaction.

The curve ids sit inside the JSON envelope (``control.base``, ``program.default_base``), where
no foreign key reaches, so this check stands in for one: a flush that would store a control
naming a curve its program does not have raises :class:`~derlink.domain.DomainError`, and the
transaction (the change and its audit record) rolls back. Every writer goes through it: the
fleet service, the CLI and the head-end alike.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, inspect, select
from sqlalchemy.orm import Session

from derlink.domain import DomainError
from derlink.store.codec import base_from_json
from derlink.store.schema import ControlRow, ProgramRow
from derlink.store.schema_publications import ProgramCurveRow


def curve_ids(base_json: str | None) -> set[str]:
    """The curve ids an envelope (as stored) refers to."""
    base = base_from_json(base_json)
    if base is None:
        return set()
    return {str(v) for k, v in base.set_fields().items() if k.endswith("_curve")}


def _wanted(session: Session) -> dict[str, set[str]]:
    wanted: dict[str, set[str]] = {}
    for obj in session.new:
        if isinstance(obj, ControlRow):
            wanted.setdefault(obj.program_id, set()).update(curve_ids(obj.base))
    for obj in session.new | session.dirty:
        if isinstance(obj, ProgramRow) and (
            obj in session.new or inspect(obj).attrs.default_base.history.has_changes()
        ):
            wanted.setdefault(obj.id, set()).update(curve_ids(obj.default_base))
    return {program: ids for program, ids in wanted.items() if ids}


@event.listens_for(Session, "before_flush")
def check_curve_references(session: Session, _context: Any, _instances: Any) -> None:
    for program, ids in _wanted(session).items():
        with session.no_autoflush:
            have = set(
                session.scalars(
                    select(ProgramCurveRow.curve_id).where(
                        ProgramCurveRow.program_id == program, ProgramCurveRow.curve_id.in_(ids)
                    )
                )
            )
        missing = sorted(ids - have)
        if missing:
            raise DomainError(
                f"program {program} has no curve {', '.join(missing)}: "
                f"add it first with 'derlink curve add {program} ...'"
            )
