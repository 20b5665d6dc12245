"""Pricing function set (IEEE 2030.5 §10.5): TariffProfile(List), RateComponent(List), the
ReadingType a rate component prices, TimeTariffInterval(List) with the active ones, and
ConsumptionTariffInterval(List); PriceResponses at the intervals' ``replyTo``.

Prices are Int32 counts of 10^pricePowerOfTenMultiplier of the tariff's currency, per unit of
the rate component's ReadingType (uom × 10^powerOfTenMultiplier: kWh by default).
"""

from __future__ import annotations

from derlink.control.events import EventStatus
from derlink.control.events_published import whole_list
from derlink.domain import (
    Event,
    Publication,
    PublicationKind,
    RateComponent,
    ServiceKind,
    Tariff,
    TariffInterval,
)
from derlink.sep2 import hrefs
from derlink.sep2.app import Call, Router
from derlink.sep2.context import HeadEnd
from derlink.sep2.http import HttpError, Response
from derlink.sep2.res_common import answer, page
from derlink.sep2.res_publications import (
    RECEIVED,
    EventSpec,
    ListSpec,
    event_attrs,
    mrid,
    register_events,
    register_lists,
    register_responses,
    visible,
)
from derlink.sep2.xml import (
    ConsumptionTariffInterval,
    ConsumptionTariffIntervalList,
    Link,
    ListLink,
    PriceResponse,
    RateComponentList,
    ReadingType,
    TariffProfile,
    TariffProfileList,
    TimeTariffInterval,
    TimeTariffIntervalList,
)
from derlink.sep2.xml import RateComponent as XmlRateComponent
from derlink.sep2.xml import Response as XmlResponse

TARIFF = PublicationKind.TARIFF
COMMODITY_ELECTRICITY = 1  # CommodityType: electricity secondary metered
KIND_ENERGY = 12  # KindType
UOM_WH = 72

RC = "/tp/{program}/rc/{part}"


def tariff_profile(tariff: Tariff) -> TariffProfile:
    return TariffProfile(
        href=hrefs.tariff(tariff.id),
        mRID=mrid(TARIFF, tariff.id),
        description=(tariff.description or tariff.id)[:32],
        currency=tariff.currency or None,
        pricePowerOfTenMultiplier=tariff.price_exponent,
        primacy=tariff.primacy,
        rateCode=tariff.rate_code or None,
        RateComponentListLink=ListLink(
            href=hrefs.tariff(tariff.id, "rc"), all=len(tariff.components)
        ),
        serviceCategoryKind=int(tariff.service_kind),
    )


async def _profile(_headend: HeadEnd, item: Publication) -> TariffProfile:
    assert isinstance(item, Tariff)
    return tariff_profile(item)


def _component_of(item: Publication, component: str) -> RateComponent:
    assert isinstance(item, Tariff)
    for rc in item.components:
        if rc.id == component:
            return rc
    raise HttpError(404, f"no RateComponent {component} in TariffProfile {item.id}")


def time_tariff_interval(interval: Event, status: EventStatus) -> TimeTariffInterval:
    assert isinstance(interval, TariffInterval)
    tariff, rc = interval.program, interval.component
    return TimeTariffInterval(
        **event_attrs(
            interval,
            status,
            href=hrefs.price_interval(tariff, rc, interval.mrid),
            reply_to=hrefs.event_responses("tp", tariff),
            required=RECEIVED,
        ),
        ConsumptionTariffIntervalListLink=ListLink(
            href=hrefs.price_interval(tariff, rc, interval.mrid, "cti"), all=len(interval.blocks)
        ),
        touTier=interval.tou_tier,
    )


INTERVALS = EventSpec(
    TARIFF,
    RC,
    ("tti", "acttti"),
    ("TimeTariffIntervalList", "ActiveTimeTariffIntervalList", "TimeTariffInterval"),
    TimeTariffIntervalList,
    "TimeTariffInterval",
    time_tariff_interval,
    whole_list,
    _component_of,
)


def register(router: Router) -> None:
    register_lists(
        router,
        ListSpec(
            TARIFF,
            "TariffProfileList",
            TariffProfileList,
            "TariffProfile",
            _profile,
            by_primacy=False,
        ),
    )
    router.add("GET", "/tp/{program}/rc", "RateComponentList")(get_components)
    router.add("GET", RC, "RateComponent")(get_component)
    router.add("GET", RC + "/rt", "ReadingType")(get_reading_type)
    register_events(router, INTERVALS)
    router.add("GET", RC + "/tti/{event}/cti", "ConsumptionTariffIntervalList")(get_blocks)
    router.add("GET", RC + "/tti/{event}/cti/{n:int}", "ConsumptionTariffInterval")(get_block)
    register_responses(router, TARIFF, (PriceResponse, XmlResponse))


async def rate_component(headend: HeadEnd, tariff: Tariff, rc: RateComponent) -> XmlRateComponent:
    intervals, active = await INTERVALS.links(headend, tariff.id, rc.id)
    return XmlRateComponent(
        href=hrefs.rate_component(tariff.id, rc.id),
        mRID=mrid(TARIFF, tariff.id, rc.id),
        description=(rc.description or rc.id)[:32],
        ActiveTimeTariffIntervalListLink=active,
        ReadingTypeLink=Link(href=hrefs.rate_component(tariff.id, rc.id, "rt")),
        roleFlags=rc.role_flags.to_bytes(2, "big"),
        TimeTariffIntervalListLink=intervals,
    )


async def _tariff(call: Call, program: str) -> Tariff:
    found = await visible(call, TARIFF, program)
    assert isinstance(found, Tariff)
    return found


async def get_components(call: Call, program: str) -> Response:
    found = await _tariff(call, program)
    shown, total = page(call, found.components)
    items = [await rate_component(call.headend, found, rc) for rc in shown]
    return answer(
        call,
        RateComponentList(
            href=hrefs.tariff(program, "rc"),
            all=total,
            results=len(items),
            RateComponent=tuple(items),
        ),
    )


async def get_component(call: Call, program: str, part: str) -> Response:
    found = await _tariff(call, program)
    return answer(call, await rate_component(call.headend, found, _component_of(found, part)))


async def get_reading_type(call: Call, program: str, part: str) -> Response:
    found = await _tariff(call, program)
    rc = _component_of(found, part)
    electricity = found.service_kind is ServiceKind.ELECTRICITY
    return answer(
        call,
        ReadingType(
            href=hrefs.rate_component(program, part, "rt"),
            commodity=COMMODITY_ELECTRICITY if electricity else None,
            flowDirection=int(rc.flow),
            kind=KIND_ENERGY if rc.uom == UOM_WH else None,
            powerOfTenMultiplier=rc.unit_exponent,
            uom=rc.uom,
        ),
    )


async def _interval(call: Call, program: str, part: str, event: str) -> TariffInterval:
    found = (await INTERVALS.events(call, program, part)).find(event)
    assert isinstance(found, TariffInterval)
    return found


def _block(interval: TariffInterval, n: int) -> ConsumptionTariffInterval:
    block = interval.blocks[n - 1]
    return ConsumptionTariffInterval(
        href=hrefs.price_interval(interval.program, interval.component, interval.mrid, f"cti/{n}"),
        consumptionBlock=n,
        price=block.price,
        startValue=block.start,
    )


async def get_blocks(call: Call, program: str, part: str, event: str) -> Response:
    interval = await _interval(call, program, part, event)
    numbers = list(range(1, len(interval.blocks) + 1))
    shown, total = page(call, numbers)
    return answer(
        call,
        ConsumptionTariffIntervalList(
            href=hrefs.price_interval(program, part, interval.mrid, "cti"),
            all=total,
            results=len(shown),
            ConsumptionTariffInterval=tuple(_block(interval, n) for n in shown),
        ),
    )


async def get_block(call: Call, program: str, part: str, event: str, n: int) -> Response:
    interval = await _interval(call, program, part, event)
    if not 1 <= n <= len(interval.blocks):
        raise HttpError(404, f"no ConsumptionTariffInterval {n}")
    return answer(call, _block(interval, n))
