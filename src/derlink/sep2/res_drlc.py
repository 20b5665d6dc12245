"""Demand Response and Load Control function set (IEEE 2030.5-2018):
DemandResponseProgram(List), EndDeviceControl(List) with the active ones; DrResponses at the
controls' ``replyTo``.

A load control's modes map to the standard's units: offsets in tenths of °C, set points in
hundredths of °C, the load adjustment as PerCent (hundredths). Supersession is by device
category (Annex B EventStatus), see :mod:`derlink.control.events_published`.
"""

from __future__ import annotations

from derlink.control.events import EventStatus
from derlink.control.events_published import device_categories
from derlink.domain import DemandProgram, Event, LoadControl, Publication
from derlink.domain import PublicationKind as Kind
from derlink.sep2 import hrefs
from derlink.sep2.app import Router
from derlink.sep2.context import HeadEnd
from derlink.sep2.res_publications import (
    RECEIVED,
    SPECIFIC,
    EventSpec,
    ListSpec,
    event_attrs,
    mrid,
    register_events,
    register_lists,
    register_responses,
)
from derlink.sep2.xml import (
    ApplianceLoadReduction,
    DemandResponseProgram,
    DemandResponseProgramList,
    DrResponse,
    DutyCycle,
    EndDeviceControl,
    EndDeviceControlList,
    Offset,
    SetPoint,
    TargetReduction,
)
from derlink.sep2.xml import Response as XmlResponse

DEMAND = Kind.DEMAND


def _tenths(value: float | None) -> int | None:
    return None if value is None else round(value * 10)


def _hundredths(value: float | None) -> int | None:
    return None if value is None else round(value * 100)


def end_device_control(control: Event, status: EventStatus) -> EndDeviceControl:
    assert isinstance(control, LoadControl)
    m = control.modes
    offsets = (m.cooling_offset_c, m.heating_offset_c, m.load_adjustment_pct)
    setpoints = (m.cooling_setpoint_c, m.heating_setpoint_c)
    return EndDeviceControl(
        **event_attrs(
            control,
            status,
            href=f"{hrefs.dr_program(control.program, 'edc')}/{control.mrid}",
            reply_to=hrefs.event_responses("dr", control.program),
            required=RECEIVED | SPECIFIC,
        ),
        ApplianceLoadReduction=None
        if m.appliance_reduction is None
        else ApplianceLoadReduction(type=int(m.appliance_reduction)),
        deviceCategory=control.device_category.to_bytes(4, "big"),
        drProgramMandatory=control.mandatory,
        DutyCycle=None if m.duty_cycle_pct is None else DutyCycle(normalValue=m.duty_cycle_pct),
        loadShiftForward=control.load_shift_forward,
        Offset=None
        if offsets == (None, None, None)
        else Offset(
            coolingOffset=_tenths(m.cooling_offset_c),
            heatingOffset=_tenths(m.heating_offset_c),
            loadAdjustmentPercentageOffset=_hundredths(m.load_adjustment_pct),
        ),
        overrideDuration=control.override_duration,
        SetPoint=None
        if setpoints == (None, None)
        else SetPoint(
            coolingSetpoint=_hundredths(m.cooling_setpoint_c),
            heatingSetpoint=_hundredths(m.heating_setpoint_c),
        ),
        TargetReduction=None
        if m.target_reduction is None
        else TargetReduction(type=int(m.target_unit), value=m.target_reduction),
    )


CONTROLS = EventSpec(
    DEMAND,
    "/dr/{program}",
    ("edc", "actedc"),
    ("EndDeviceControlList", "ActiveEndDeviceControlList", "EndDeviceControl"),
    EndDeviceControlList,
    "EndDeviceControl",
    end_device_control,
    device_categories,
)


async def program_resource(headend: HeadEnd, item: Publication) -> DemandResponseProgram:
    assert isinstance(item, DemandProgram)
    controls, active = await CONTROLS.links(headend, item.id)
    return DemandResponseProgram(
        href=hrefs.dr_program(item.id),
        mRID=mrid(DEMAND, item.id),
        description=(item.description or item.id)[:32],
        ActiveEndDeviceControlListLink=active,
        EndDeviceControlListLink=controls,
        primacy=item.primacy,
    )


def register(router: Router) -> None:
    register_lists(
        router,
        ListSpec(
            DEMAND,
            "DemandResponseProgramList",
            DemandResponseProgramList,
            "DemandResponseProgram",
            program_resource,
        ),
    )
    register_events(router, CONTROLS)
    register_responses(router, DEMAND, (DrResponse, XmlResponse))
