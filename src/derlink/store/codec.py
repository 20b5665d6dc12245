"""Rows ⇄ domain objects. The only place that knows both shapes."""

from __future__ import annotations

import json
from dataclasses import fields
from typing import Any

from derlink.domain import (
    Control,
    ControlBase,
    ControlStatus,
    Device,
    DeviceKind,
    Group,
    Program,
    Response,
    ResponseStatus,
    Site,
)
from derlink.store.schema import (
    ControlRow,
    DeviceRow,
    GroupRow,
    ProgramRow,
    ResponseRow,
    SiteRow,
)

_BASE_FIELDS = {f.name for f in fields(ControlBase)}


def base_to_json(base: ControlBase | None) -> str | None:
    return None if base is None else json.dumps(base.set_fields(), sort_keys=True)


def base_from_json(text: str | None) -> ControlBase | None:
    if text is None:
        return None
    data: dict[str, Any] = json.loads(text)
    return ControlBase(**{k: v for k, v in data.items() if k in _BASE_FIELDS})


def site_from_row(row: SiteRow, groups: frozenset[str]) -> Site:
    return Site(
        id=row.id,
        name=row.name,
        connection_point_id=row.connection_point_id,
        groups=groups,
        latitude=row.latitude,
        longitude=row.longitude,
        capacity_w=row.capacity_w,
        lock_connection_point=row.lock_connection_point,
    )


def site_to_row(site: Site) -> SiteRow:
    return SiteRow(
        id=site.id,
        name=site.name,
        connection_point_id=site.connection_point_id,
        latitude=site.latitude,
        longitude=site.longitude,
        capacity_w=site.capacity_w,
        lock_connection_point=site.lock_connection_point,
    )


def group_from_row(row: GroupRow) -> Group:
    return Group(id=row.id, name=row.name, kind=row.kind)


def device_from_row(row: DeviceRow) -> Device:
    return Device(
        lfdi=row.lfdi,
        sfdi=row.sfdi,
        kind=DeviceKind(row.kind),
        site=row.site_id,
        aggregator=row.aggregator,
        pin=row.pin,
        device_category=row.device_category,
        enabled=row.enabled,
        changed_time=row.changed_time,
    )


def device_to_row(device: Device, created: int) -> DeviceRow:
    return DeviceRow(
        lfdi=device.lfdi,
        sfdi=device.sfdi,
        kind=device.kind.value,
        site_id=device.site,
        aggregator=device.aggregator,
        pin=device.pin,
        device_category=device.device_category,
        enabled=device.enabled,
        changed_time=device.changed_time,
        created=created,
    )


def program_from_row(row: ProgramRow, groups: frozenset[str]) -> Program:
    return Program(
        id=row.id,
        primacy=row.primacy,
        groups=groups,
        description=row.description,
        default=base_from_json(row.default_base),
    )


def control_from_row(row: ControlRow) -> Control:
    base = base_from_json(row.base)
    assert base is not None
    return Control(
        mrid=row.mrid,
        program=row.program_id,
        start=row.start,
        duration=row.duration,
        base=base,
        created=row.created,
        description=row.description,
        randomize_start=row.randomize_start,
        randomize_duration=row.randomize_duration,
        status=ControlStatus(row.status),
        status_time=row.status_time,
    )


def control_to_row(control: Control) -> ControlRow:
    return ControlRow(
        mrid=control.mrid,
        program_id=control.program,
        start=control.start,
        duration=control.duration,
        randomize_start=control.randomize_start,
        randomize_duration=control.randomize_duration,
        base=base_to_json(control.base),
        created=control.created,
        description=control.description,
        status=int(control.status),
        status_time=control.status_time,
    )


def response_from_row(row: ResponseRow) -> Response:
    return Response(
        subject=row.subject,
        lfdi=row.lfdi,
        status=ResponseStatus(row.status),
        created=row.created,
    )
