"""What the axes of each kind of curve measure, and the names operators type for kinds.

IEEE 2030.5 (DERControlBase opMod* curve modes, DERCurve yRefType/DERUnitRefType) defines
the axes per curve type: volt-var maps voltage in % of the reference voltage to reactive power
in % of the maximum var, frequency-watt maps Hz to % of the maximum active power, ride-through
curves map seconds to voltage (% of the effective voltage) or frequency (Hz). A unit written
``%setMaxVar`` names the reference the percentage is of (DERUnitRefType's words).
"""

from __future__ import annotations

from dataclasses import replace

from derlink.domain.controls import Curve, CurveKind
from derlink.domain.errors import DomainError

# y-axis references of DERUnitRefType (the head-end maps them to their codes).
Y_REFERENCES = (
    "%setMaxW",
    "%setMaxVar",
    "%statVarAvail",
    "%setEffectiveV",
    "%setMaxChargeRateW",
    "%setMaxDischargeRateW",
    "%statWAvail",
)

_VOLT = ("s", "%setEffectiveV")
_FREQ = ("s", "Hz")
CURVE_UNITS: dict[CurveKind, tuple[str, str]] = {
    CurveKind.OPMOD_FREQ_WATT: ("Hz", "%setMaxW"),
    CurveKind.OPMOD_HFRT_MAY_TRIP: _FREQ,
    CurveKind.OPMOD_HFRT_MUST_TRIP: _FREQ,
    CurveKind.OPMOD_HVRT_MAY_TRIP: _VOLT,
    CurveKind.OPMOD_HVRT_MOMENTARY_CESSATION: _VOLT,
    CurveKind.OPMOD_HVRT_MUST_TRIP: _VOLT,
    CurveKind.OPMOD_LFRT_MAY_TRIP: _FREQ,
    CurveKind.OPMOD_LFRT_MUST_TRIP: _FREQ,
    CurveKind.OPMOD_LVRT_MAY_TRIP: _VOLT,
    CurveKind.OPMOD_LVRT_MOMENTARY_CESSATION: _VOLT,
    CurveKind.OPMOD_LVRT_MUST_TRIP: _VOLT,
    CurveKind.OPMOD_VOLT_VAR: ("%VRef", "%setMaxVar"),
    CurveKind.OPMOD_VOLT_WATT: ("%VRef", "%setMaxW"),
    CurveKind.OPMOD_WATT_PF: ("%setMaxW", "PF"),
    CurveKind.OPMOD_WATT_VAR: ("%setMaxW", "%setMaxVar"),
}


def kind_name(kind: CurveKind) -> str:
    """The name an operator types: OPMOD_VOLT_VAR is ``volt-var``."""
    return kind.name.removeprefix("OPMOD_").lower().replace("_", "-")


KIND_NAMES: dict[str, CurveKind] = {kind_name(k): k for k in CurveKind}


def kind_of(name: str) -> CurveKind:
    try:
        return KIND_NAMES[name]
    except KeyError:
        raise DomainError(
            f"curve kind {name!r} is not one of {', '.join(sorted(KIND_NAMES))}"
        ) from None


def with_units(curve: Curve) -> Curve:
    """``curve`` with the axis units of its kind where it names none."""
    x_unit, y_unit = CURVE_UNITS[curve.kind]
    return replace(curve, x_unit=curve.x_unit or x_unit, y_unit=curve.y_unit or y_unit)
