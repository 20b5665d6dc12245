"""Metering Mirror: clients POST MirrorUsagePoints and MirrorMeterReadings (site and device
telemetry, CSIP-AUS roleFlags 0x03 / 0x49); the server keeps every reading durably before it
answers, and shows what was mirrored as UsagePoint / MeterReading / ReadingSet / Reading."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from derlink.audit.event import Outcome
from derlink.sep2 import hrefs
from derlink.sep2.app import Call, Router
from derlink.sep2.context import Caller, HeadEnd
from derlink.sep2.http import HttpError, Response, forbidden
from derlink.sep2.repo import NewReading
from derlink.sep2.res_common import answer, body, page
from derlink.sep2.xml import (
    DateTimeInterval,
    Link,
    ListLink,
    MeterReading,
    MeterReadingList,
    MirrorMeterReading,
    MirrorMeterReadingList,
    MirrorUsagePoint,
    MirrorUsagePointList,
    Reading,
    ReadingList,
    ReadingSet,
    ReadingSetList,
    ReadingType,
    UsagePoint,
    UsagePointList,
    decode,
    encode,
)
from derlink.store.schema import MirrorMeterReadingRow, MirrorUsagePointRow


def register(router: Router) -> None:
    router.add("GET", hrefs.MUP, "MirrorUsagePointList")(get_mirrors)
    router.add("POST", hrefs.MUP, "MirrorUsagePointList")(post_mirror)
    router.add("GET", "/mup/{n:int}", "MirrorUsagePoint")(get_mirror)
    router.add("POST", "/mup/{n:int}", "MirrorUsagePoint")(post_readings)
    router.add("GET", hrefs.UPT, "UsagePointList")(get_usage_points)
    router.add("GET", "/upt/{n:int}", "UsagePoint")(get_usage_point)
    router.add("GET", "/upt/{n:int}/mr", "MeterReadingList")(get_meter_readings)
    router.add("GET", "/upt/{n:int}/mr/{m}", "MeterReading")(get_meter_reading)
    router.add("GET", "/upt/{n:int}/mr/{m}/rt", "ReadingType")(get_reading_type)
    router.add("GET", "/upt/{n:int}/mr/{m}/rs", "ReadingSetList")(get_reading_sets)
    router.add("GET", "/upt/{n:int}/mr/{m}/rs/0/r", "ReadingList")(get_readings)


async def _owned(call: Call, n: int) -> MirrorUsagePointRow:
    """Mirror ``n`` if the caller may act for its device. A mirror never changes owner, so
    found rows are cached for the life of the snapshot (a missing one is looked up again)."""
    cache = call.headend.cache
    row = await cache.get(("mup", n), lambda: call.headend.repo.mirror(n))
    if row is None:
        cache.discard(("mup", n))
        call.caller.require_enrolled()
        raise HttpError(404, f"no MirrorUsagePoint {n}")
    device = await cache.get(("lfdi", row.lfdi), lambda: call.headend.fleet.device(row.lfdi))
    if device is None or not call.caller.may_act_for(device):
        raise forbidden(f"MirrorUsagePoint {n} belongs to another client")
    return row


async def _lfdis(headend: HeadEnd, caller: Caller) -> list[str]:
    return [d.lfdi for d in await headend.devices_of(caller)]


async def _post_rate(headend: HeadEnd, row: MirrorUsagePointRow) -> int | None:
    device = await headend.fleet.device(row.lfdi)
    return await headend.rate("post", "MirrorUsagePoint", device.site if device else None)


async def _mirror_xml(headend: HeadEnd, row: MirrorUsagePointRow) -> MirrorUsagePoint:
    meters = await headend.repo.meter_readings(row.id)
    return MirrorUsagePoint(
        href=hrefs.mirror(row.id),
        mRID=bytes.fromhex(row.mrid),
        description=row.description[:32] or None,
        roleFlags=row.role_flags.to_bytes(2, "big"),
        serviceCategoryKind=row.service_category,
        status=row.status,
        deviceLFDI=bytes.fromhex(row.device_lfdi),
        MirrorMeterReading=tuple(_mmr(m) for m in meters),
        postRate=await _post_rate(headend, row),
    )


def _mmr(row: MirrorMeterReadingRow) -> MirrorMeterReading:
    reading_type = decode(row.reading_type.encode(), ReadingType) if row.reading_type else None
    return MirrorMeterReading(
        mRID=bytes.fromhex(row.mrid),
        description=row.description[:32] or None,
        ReadingType=reading_type,
    )


async def get_mirrors(call: Call) -> Response:
    rows = await call.headend.repo.mirrors(await _lfdis(call.headend, call.caller))
    shown, total = page(call, rows)
    items = tuple([await _mirror_xml(call.headend, r) for r in shown])
    return answer(
        call,
        MirrorUsagePointList(
            href=hrefs.MUP,
            pollRate=await call.headend.poll_rate("MirrorUsagePointList"),
            all=total,
            results=len(items),
            MirrorUsagePoint=items,
        ),
    )


async def post_mirror(call: Call) -> Response:
    doc = body(call, MirrorUsagePoint)
    lfdi = doc.deviceLFDI.hex().upper()
    device = await call.headend.fleet.device(lfdi)
    if device is None or not call.caller.may_act_for(device):
        raise forbidden(f"{call.caller.lfdi} may not mirror for device {lfdi}")
    mrid = doc.mRID.hex().upper()
    existing = await call.headend.repo.mirror_by_mrid(mrid)
    if existing is not None:
        if existing.lfdi != lfdi:
            raise HttpError(409, f"mRID {mrid} is another device's mirror")
        mup_id = existing.id
    else:
        mup_id = await call.headend.repo.add_mirror(
            MirrorUsagePointRow(
                mrid=mrid,
                lfdi=lfdi,
                device_lfdi=lfdi,
                description=doc.description or "",
                role_flags=int.from_bytes(doc.roleFlags, "big"),
                service_category=doc.serviceCategoryKind,
                status=doc.status,
            )
        )
        await call.headend.audit_event(
            call.caller.lfdi,
            "sep2.mirror",
            f"href:{hrefs.mirror(mup_id)}",
            Outcome.SUCCESS,
            role_flags=int.from_bytes(doc.roleFlags, "big"),
            device=lfdi,
        )
    await _store(call.headend, mup_id, doc.MirrorMeterReading)
    return Response.created(hrefs.mirror(mup_id))


async def get_mirror(call: Call, n: int) -> Response:
    return answer(call, await _mirror_xml(call.headend, await _owned(call, n)))


async def post_readings(call: Call, n: int) -> Response:
    """A MirrorMeterReading or a MirrorMeterReadingList for mirror ``n``: durable, then 201."""
    row = await _owned(call, n)
    doc = body(call, (MirrorMeterReading, MirrorMeterReadingList))
    meters: tuple[MirrorMeterReading, ...] = ()
    if isinstance(doc, MirrorMeterReadingList):
        meters = doc.MirrorMeterReading
    elif isinstance(doc, MirrorMeterReading):
        meters = (doc,)
    await _store(call.headend, row.id, meters)
    return Response.created(hrefs.mirror(n))


async def _store(headend: HeadEnd, mup_id: int, meters: Sequence[MirrorMeterReading]) -> None:
    """All of a post's meter readings in one transaction, durable before the answer."""
    batch = []
    for meter in meters:
        readings: list[NewReading] = []
        if meter.Reading is not None:
            readings.append(_reading(meter.Reading, None))
        for reading_set in meter.MirrorReadingSet:
            readings.extend(_reading(r, reading_set.timePeriod) for r in reading_set.Reading)
        reading_type = encode(meter.ReadingType).decode() if meter.ReadingType else ""
        key = (meter.mRID.hex().upper(), meter.description or "", reading_type)
        batch.append((key, readings))
    if batch:
        await headend.repo.store_meters(mup_id, batch, headend.now())


def _reading(reading: Reading, period: DateTimeInterval | None) -> NewReading:
    interval = reading.timePeriod or period
    if reading.value is None:
        raise HttpError(400, "a mirrored Reading needs a value", reason=1)
    return NewReading(
        time=interval.start if interval else 0,
        duration=interval.duration if interval else 0,
        value=reading.value,
        quality_flags=int.from_bytes(reading.qualityFlags or b"\0\0", "big"),
    )


def _usage_point(row: MirrorUsagePointRow, meters: int) -> UsagePoint:
    return UsagePoint(
        href=hrefs.usage_point(row.id),
        mRID=bytes.fromhex(row.mrid),
        description=row.description[:32] or None,
        roleFlags=row.role_flags.to_bytes(2, "big"),
        serviceCategoryKind=row.service_category,
        status=row.status,
        deviceLFDI=bytes.fromhex(row.device_lfdi),
        MeterReadingListLink=ListLink(href=hrefs.usage_point(row.id, "mr"), all=meters),
    )


async def get_usage_points(call: Call) -> Response:
    rows = await call.headend.repo.mirrors(await _lfdis(call.headend, call.caller))
    shown, total = page(call, rows)
    items = []
    for row in shown:
        items.append(_usage_point(row, len(await call.headend.repo.meter_readings(row.id))))
    return answer(
        call,
        UsagePointList(
            href=hrefs.UPT, subscribable=0, all=total, results=len(items), UsagePoint=tuple(items)
        ),
    )


async def get_usage_point(call: Call, n: int) -> Response:
    row = await _owned(call, n)
    return answer(call, _usage_point(row, len(await call.headend.repo.meter_readings(n))))


def _meter_reading(n: int, row: MirrorMeterReadingRow) -> MeterReading:
    base = hrefs.usage_point(n, f"mr/{row.mrid}")
    return MeterReading(
        href=base,
        mRID=bytes.fromhex(row.mrid),
        description=row.description[:32] or None,
        ReadingSetListLink=ListLink(href=f"{base}/rs", all=1),
        ReadingTypeLink=Link(href=f"{base}/rt"),
    )


async def _meter(call: Call, n: int, m: str) -> MirrorMeterReadingRow:
    await _owned(call, n)
    for row in await call.headend.repo.meter_readings(n):
        if row.mrid == m.upper():
            return row
    raise HttpError(404, f"no MeterReading {m} in UsagePoint {n}")


async def get_meter_readings(call: Call, n: int) -> Response:
    await _owned(call, n)
    rows = await call.headend.repo.meter_readings(n)
    shown, total = page(call, rows)
    return answer(
        call,
        MeterReadingList(
            href=hrefs.usage_point(n, "mr"),
            subscribable=0,
            all=total,
            results=len(shown),
            MeterReading=tuple(_meter_reading(n, r) for r in shown),
        ),
    )


async def get_meter_reading(call: Call, n: int, m: str) -> Response:
    return answer(call, _meter_reading(n, await _meter(call, n, m)))


async def get_reading_type(call: Call, n: int, m: str) -> Response:
    row = await _meter(call, n, m)
    if not row.reading_type:
        raise HttpError(404, "no ReadingType was mirrored for this MeterReading")
    doc = decode(row.reading_type.encode(), ReadingType)
    return answer(call, replace(doc, href=hrefs.usage_point(n, f"mr/{row.mrid}/rt")))


async def get_reading_sets(call: Call, n: int, m: str) -> Response:
    row = await _meter(call, n, m)
    base = hrefs.usage_point(n, f"mr/{row.mrid}/rs")
    total, latest = await call.headend.repo.readings(row.id, 0, 1)
    start = latest[0].time if latest else 0
    reading_set = ReadingSet(
        href=f"{base}/0",
        mRID=bytes.fromhex(row.mrid),
        description="all mirrored readings",
        timePeriod=DateTimeInterval(duration=0, start=start),
        ReadingListLink=ListLink(href=f"{base}/0/r", all=total),
    )
    return answer(
        call, ReadingSetList(href=base, subscribable=0, all=1, results=1, ReadingSet=(reading_set,))
    )


async def get_readings(call: Call, n: int, m: str) -> Response:
    """Readings newest first, paged by ``s`` and ``l``."""
    row = await _meter(call, n, m)
    paging = call.request.paging()
    total, rows = await call.headend.repo.readings(row.id, paging.start, paging.limit)
    readings = tuple(
        Reading(
            qualityFlags=r.quality_flags.to_bytes(2, "big") if r.quality_flags else None,
            timePeriod=DateTimeInterval(duration=r.duration, start=r.time),
            value=r.value,
        )
        for r in rows
    )
    return answer(
        call,
        ReadingList(
            href=hrefs.usage_point(n, f"mr/{row.mrid}/rs/0/r"),
            subscribable=0,
            all=total,
            results=len(readings),
            Reading=readings,
        ),
    )
