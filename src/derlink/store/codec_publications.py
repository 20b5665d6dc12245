"""Rows ⇄ domain objects for publications, their events, and DER curves.

A publication's or event's own fields travel as JSON (``data``); the columns hold what is
queried (kind, id, program, times, status). Enum fields are stored as their codes and
rebuilt by the domain constructors.
"""

from __future__ import annotations

import json
from dataclasses import asdict, fields
from typing import Any

from derlink.domain import (
    ControlStatus,
    Curve,
    CurveKind,
    DemandProgram,
    Event,
    Firmware,
    LoadControl,
    LoadModes,
    Message,
    MessageProgram,
    PriceBlock,
    Publication,
    PublicationKind,
    RateComponent,
    Tariff,
    TariffInterval,
)
from derlink.store.schema import CurveRow
from derlink.store.schema_publications import PublicationEventRow, PublicationRow

KINDS: dict[type[Publication], PublicationKind] = {
    Tariff: PublicationKind.TARIFF,
    DemandProgram: PublicationKind.DEMAND,
    MessageProgram: PublicationKind.MESSAGING,
    Firmware: PublicationKind.FILE,
}
EVENT_KINDS: dict[type[Event], PublicationKind] = {
    TariffInterval: PublicationKind.TARIFF,
    LoadControl: PublicationKind.DEMAND,
    Message: PublicationKind.MESSAGING,
}
_COMMON = frozenset({"id", "groups", "description", "primacy"})
_EVENT_COMMON = frozenset(f.name for f in fields(Event)) | {"component"}


def _own(obj: Any, common: frozenset[str]) -> str:
    data = {k: v for k, v in asdict(obj).items() if k not in common}
    return json.dumps(data, sort_keys=True)


def publication_to_row(item: Publication, mrid: str, created: int) -> PublicationRow:
    return PublicationRow(
        kind=KINDS[type(item)].value,
        id=item.id,
        mrid=mrid,
        primacy=getattr(item, "primacy", 0),
        description=item.description,
        data=_own(item, _COMMON),
        created=created,
    )


def publication_from_row(row: PublicationRow, groups: frozenset[str]) -> Publication:
    kind = PublicationKind(row.kind)
    data: dict[str, Any] = json.loads(row.data)
    common: dict[str, Any] = {"id": row.id, "groups": groups, "description": row.description}
    if kind is PublicationKind.FILE:
        return Firmware(**common, **data)
    common["primacy"] = row.primacy
    if kind is PublicationKind.TARIFF:
        components = tuple(RateComponent(**c) for c in data.pop("components"))
        return Tariff(**common, components=components, **data)
    if kind is PublicationKind.DEMAND:
        return DemandProgram(**common)
    return MessageProgram(**common, **data)


def event_to_row(event: Event) -> PublicationEventRow:
    return PublicationEventRow(
        mrid=event.mrid,
        kind=EVENT_KINDS[type(event)].value,
        program_id=event.program,
        part=getattr(event, "component", ""),
        start=event.start,
        duration=event.duration,
        randomize_start=event.randomize_start,
        randomize_duration=event.randomize_duration,
        created=event.created,
        description=event.description,
        status=int(event.status),
        status_time=event.status_time,
        data=_own(event, _EVENT_COMMON),
    )


def event_from_row(row: PublicationEventRow) -> Event:
    common: dict[str, Any] = {
        "mrid": row.mrid,
        "program": row.program_id,
        "start": row.start,
        "duration": row.duration,
        "created": row.created,
        "description": row.description,
        "randomize_start": row.randomize_start,
        "randomize_duration": row.randomize_duration,
        "status": ControlStatus(row.status),
        "status_time": row.status_time,
    }
    data: dict[str, Any] = json.loads(row.data)
    kind = PublicationKind(row.kind)
    if kind is PublicationKind.TARIFF:
        blocks = tuple(PriceBlock(**b) for b in data.pop("blocks"))
        return TariffInterval(**common, component=row.part, blocks=blocks, **data)
    if kind is PublicationKind.DEMAND:
        return LoadControl(**common, modes=LoadModes(**data.pop("modes")), **data)
    return Message(**common, **data)


def curve_to_row(curve: Curve, mrid: str, created: int) -> CurveRow:
    points = {"points": curve.points, "x_unit": curve.x_unit, "y_unit": curve.y_unit}
    return CurveRow(
        id=curve.id, mrid=mrid, kind=int(curve.kind), points=json.dumps(points), created=created
    )


def curve_from_row(row: CurveRow) -> Curve:
    data: dict[str, Any] = json.loads(row.points)
    return Curve(
        id=row.id,
        kind=CurveKind(row.kind),
        points=tuple((float(x), float(y)) for x, y in data["points"]),
        x_unit=data["x_unit"],
        y_unit=data["y_unit"],
    )
