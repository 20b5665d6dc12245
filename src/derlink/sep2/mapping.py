"""Domain ⇄ IEEE 2030.5: the operating envelope and event as DERControlBase and DERControl.

2030.5 carries power as ``value × 10^multiplier`` with a 16-bit value, percentages in
hundredths (PerCent, SignedPerCent), power factors as ``displacement × 10^multiplier`` and ramp
times in hundredths of a second. Conversion picks the smallest multiplier that fits, so whole
watts up to 32 767 W travel exactly and larger values lose only what 16 bits cannot hold.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from derlink.domain import Control, ControlBase
from derlink.sep2.xml import (
    ActivePower,
    DERControl,
    DERControlBase,
    EventStatus,
    FixedVar,
    Link,
    PowerFactorWithExcitation,
    ReactivePower,
)
from derlink.sep2.xml import DateTimeInterval as Interval

INT16_MAX = 32767
UNIT_REF_MAX_VAR = 2  # DERUnitRefType: % of setMaxVar
T = TypeVar("T")
R = TypeVar("R")


def power_parts(watts: float) -> tuple[int, int]:
    """(value, multiplier) with |value| <= 32767 and the smallest multiplier (-3..9) that fits,
    which keeps the most precision."""
    for multiplier in range(-3, 10):
        value = round(watts / 10.0**multiplier)
        if abs(value) <= INT16_MAX:
            return value, multiplier
    raise ValueError(f"{watts} W cannot be expressed as a 2030.5 ActivePower")


def active_power(watts: float) -> ActivePower:
    value, multiplier = power_parts(watts)
    return ActivePower(multiplier=multiplier, value=value)


def reactive_power(var: float) -> ReactivePower:
    value, multiplier = power_parts(var)
    return ReactivePower(multiplier=multiplier, value=value)


def watts(power: ActivePower | ReactivePower) -> float:
    return float(power.value * 10.0**power.multiplier)


def hundredths(percent: float) -> int:
    return round(percent * 100)


def power_factor(pf: float) -> PowerFactorWithExcitation:
    """A displacement power factor in (0, 1] as ``displacement × 10^-4``, not over-excited."""
    return PowerFactorWithExcitation(
        displacement=round(pf * 10_000), excitation=False, multiplier=-4
    )


def pf_value(pf: PowerFactorWithExcitation) -> float:
    return float(pf.displacement * 10.0**pf.multiplier)


@dataclass(frozen=True, slots=True)
class CurveLinks:
    """How curve ids become hrefs (the server decides its URL layout; the client follows)."""

    href_of: Callable[[str], str]


def _opt(value: T | None, make: Callable[[T], R]) -> R | None:
    return None if value is None else make(value)


def to_der_control_base(base: ControlBase, curves: CurveLinks | None = None) -> DERControlBase:
    """The 2030.5 rendering of an operating envelope (CSIP-AUS limits included)."""

    def link(curve: str | None) -> Link | None:
        if curve is None or curves is None:
            return None
        return Link(href=curves.href_of(curve))

    return DERControlBase(
        opModConnect=base.connect,
        opModEnergize=base.energize,
        opModFixedPFAbsorbW=_opt(base.fixed_pf_absorb, power_factor),
        opModFixedPFInjectW=_opt(base.fixed_pf_inject, power_factor),
        opModFixedVar=_opt(
            base.fixed_var_pct,
            lambda v: FixedVar(refType=UNIT_REF_MAX_VAR, value=hundredths(v)),
        ),
        opModFixedW=_opt(base.fixed_w_pct, hundredths),
        opModFreqWatt=link(base.freq_watt_curve),
        opModMaxLimW=_opt(base.max_limit_pct, hundredths),
        opModTargetVar=_opt(base.target_var, reactive_power),
        opModTargetW=_opt(base.target_w, active_power),
        opModVoltVar=link(base.volt_var_curve),
        opModVoltWatt=link(base.volt_watt_curve),
        opModWattPF=link(base.watt_pf_curve),
        opModWattVar=link(base.watt_var_curve),
        rampTms=_opt(base.ramp_time_s, hundredths),
        opModImpLimW=_opt(base.import_limit_w, active_power),
        opModExpLimW=_opt(base.export_limit_w, active_power),
        opModGenLimW=_opt(base.generation_limit_w, active_power),
        opModLoadLimW=_opt(base.load_limit_w, active_power),
        opModStorageTargetW=_opt(base.storage_target_w, active_power),
    )


def from_der_control_base(
    xml: DERControlBase, curve_of: Callable[[str], str | None] | None = None
) -> ControlBase:
    """The operating envelope a DERControlBase carries (curve hrefs resolved by ``curve_of``)."""

    def curve(link: Link | None) -> str | None:
        if link is None or curve_of is None:
            return None
        return curve_of(link.href)

    return ControlBase(
        connect=xml.opModConnect,
        energize=xml.opModEnergize,
        export_limit_w=_opt(xml.opModExpLimW, watts),
        import_limit_w=_opt(xml.opModImpLimW, watts),
        generation_limit_w=_opt(xml.opModGenLimW, watts),
        load_limit_w=_opt(xml.opModLoadLimW, watts),
        storage_target_w=_opt(xml.opModStorageTargetW, watts),
        max_limit_pct=_opt(xml.opModMaxLimW, lambda v: v / 100),
        target_w=_opt(xml.opModTargetW, watts),
        target_var=_opt(xml.opModTargetVar, watts),
        fixed_w_pct=_opt(xml.opModFixedW, lambda v: v / 100),
        fixed_var_pct=_opt(xml.opModFixedVar, lambda v: v.value / 100),
        fixed_pf_inject=_opt(xml.opModFixedPFInjectW, pf_value),
        fixed_pf_absorb=_opt(xml.opModFixedPFAbsorbW, pf_value),
        volt_var_curve=curve(xml.opModVoltVar),
        volt_watt_curve=curve(xml.opModVoltWatt),
        freq_watt_curve=curve(xml.opModFreqWatt),
        watt_pf_curve=curve(xml.opModWattPF),
        watt_var_curve=curve(xml.opModWattVar),
        ramp_time_s=_opt(xml.rampTms, lambda v: v / 100),
    )


def to_der_control(
    control: Control,
    status: EventStatus,
    *,
    href: str,
    reply_to: str,
    curves: CurveLinks | None = None,
) -> DERControl:
    return DERControl(
        href=href,
        replyTo=reply_to,
        responseRequired=b"\x03",
        subscribable=0,
        mRID=bytes.fromhex(control.mrid),
        description=control.description[:32] or None,
        creationTime=control.created,
        EventStatus=status,
        interval=Interval(duration=control.duration, start=control.start),
        randomizeDuration=control.randomize_duration or None,
        randomizeStart=control.randomize_start or None,
        DERControlBase=to_der_control_base(control.base, curves),
    )
