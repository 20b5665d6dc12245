"""The DER semantics the control plane uses, named once, mapped to the shipped DER IED model.

The control plane speaks of "export limit", "generation limit %", "battery state of charge";
the IEC 61850 adapter needs the 7-420 data objects that carry them. :data:`DER_POINTS` is that
table for ``data/der_ied.icd``: each :class:`DerPoint` gives the logical node and data object,
the attribute that holds the current value (and its FC), and for controllable objects the
``Oper`` attribute a client writes. References are relative to the LD inst (``LD0``) and are
bound to a concrete IED with :meth:`DerPoint.fcda` / :meth:`DerPoint.control`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from importlib import resources

from derlink.iec61850.model.errors import ObjectNotFound
from derlink.iec61850.model.nodes import ServerModel
from derlink.iec61850.model.refs import FC, FCDA, ObjectReference
from derlink.iec61850.model.scl import load_scl

DER_ICD = "der_ied.icd"
DER_LD_INST = "LD0"


class DerSemantic(StrEnum):
    """Protocol-neutral DER quantities and commands."""

    EXPORT_LIMIT_W = "export-limit-w"
    IMPORT_LIMIT_W = "import-limit-w"
    GENERATION_LIMIT_PCT = "generation-limit-pct"
    MAX_POWER_W = "max-power-w"
    ACTIVE_POWER_SETPOINT_W = "active-power-setpoint-w"
    REACTIVE_POWER_SETPOINT_VAR = "reactive-power-setpoint-var"
    REACTIVE_POWER_PCT = "reactive-power-pct"
    POWER_FACTOR = "power-factor"
    VOLT_VAR_CURVE = "volt-var-curve"
    CONNECT = "connect"
    OPERATIONAL_STATE = "operational-state"
    BATTERY_SOC_PCT = "battery-soc-pct"
    BATTERY_SOC_WH = "battery-soc-wh"
    MEASURED_W = "measured-w"
    MEASURED_VAR = "measured-var"
    MEASURED_V = "measured-v"
    MEASURED_HZ = "measured-hz"


class Access(StrEnum):
    """How a point is used: read only, written as a setting (SetDataValues on SP), or operated
    through the control model (Oper/SBOw on CO)."""

    MEASUREMENT = "measurement"
    STATUS = "status"
    SETTING = "setting"
    CONTROL = "control"


@dataclass(frozen=True, slots=True)
class DerPoint:
    """Where a DER semantic lives: ``LD0/<data>.<value>[fc]``; ``operate`` is the ``ctlVal``
    path for controls (``Oper.ctlVal.f``)."""

    semantic: DerSemantic
    data: str
    value: str
    fc: FC
    access: Access
    unit: str
    operate: str | None = None

    def data_ref(self, model: ServerModel) -> ObjectReference:
        """The data object (DO) reference in ``model``."""
        return model.ref(f"{DER_LD_INST}/{self.data}")

    def fcda(self, model: ServerModel) -> FCDA:
        """The attribute holding the current value (what to read or to set)."""
        return FCDA(model.ref(f"{DER_LD_INST}/{self.data}.{self.value}"), self.fc)

    def control(self, model: ServerModel) -> FCDA:
        """The ``Oper`` structure to operate (only for :attr:`Access.CONTROL`)."""
        if self.operate is None:
            raise ObjectNotFound(f"{self.semantic} is not a control")
        return FCDA(model.ref(f"{DER_LD_INST}/{self.data}.Oper"), FC.CO)


def _point(
    semantic: DerSemantic,
    data: str,
    value: str,
    fc: FC,
    access: Access,
    unit: str,
    operate: str | None = None,
) -> tuple[DerSemantic, DerPoint]:
    return semantic, DerPoint(semantic, data, value, fc, access, unit, operate)


S, A = DerSemantic, Access
DER_POINTS: dict[DerSemantic, DerPoint] = dict(
    [
        _point(S.EXPORT_LIMIT_W, "DECP1.WExpLim", "setMag.f", FC.SP, A.SETTING, "W"),
        _point(S.IMPORT_LIMIT_W, "DECP1.WImpLim", "setMag.f", FC.SP, A.SETTING, "W"),
        _point(
            S.GENERATION_LIMIT_PCT,
            "DWMX1.WMaxSptPct",
            "mxVal.f",
            FC.MX,
            A.CONTROL,
            "%",
            "Oper.ctlVal.f",
        ),
        _point(S.MAX_POWER_W, "DGEN1.WMax", "setMag.f", FC.SP, A.SETTING, "W"),
        _point(
            S.ACTIVE_POWER_SETPOINT_W,
            "DGEN1.WSpt",
            "mxVal.f",
            FC.MX,
            A.CONTROL,
            "W",
            "Oper.ctlVal.f",
        ),
        _point(
            S.REACTIVE_POWER_SETPOINT_VAR,
            "DGEN1.VArSpt",
            "mxVal.f",
            FC.MX,
            A.CONTROL,
            "var",
            "Oper.ctlVal.f",
        ),
        _point(
            S.REACTIVE_POWER_PCT,
            "DVAR1.VArTgtSptPct",
            "mxVal.f",
            FC.MX,
            A.CONTROL,
            "%",
            "Oper.ctlVal.f",
        ),
        _point(S.POWER_FACTOR, "DFPF1.PFTgtSpt", "setMag.f", FC.SP, A.SETTING, "cos(phi)"),
        _point(S.VOLT_VAR_CURVE, "DVVR1.Crv", "crvPts", FC.SP, A.SETTING, "V;var"),
        _point(
            S.CONNECT, "DGEN1.DEROpStCtl", "stVal", FC.ST, A.CONTROL, "DEROpStKind", "Oper.ctlVal"
        ),
        _point(S.OPERATIONAL_STATE, "DGEN1.DEROpSt", "stVal", FC.ST, A.STATUS, "DEROpStKind"),
        _point(S.BATTERY_SOC_PCT, "DSTO1.UseSocPct", "mag.f", FC.MX, A.MEASUREMENT, "%"),
        _point(S.BATTERY_SOC_WH, "DSTO1.SocWh", "mag.f", FC.MX, A.MEASUREMENT, "Wh"),
        _point(S.MEASURED_W, "MMXU1.TotW", "mag.f", FC.MX, A.MEASUREMENT, "W"),
        _point(S.MEASURED_VAR, "MMXU1.TotVAr", "mag.f", FC.MX, A.MEASUREMENT, "var"),
        _point(S.MEASURED_V, "MMXU1.PhV.phsA", "cVal.mag.f", FC.MX, A.MEASUREMENT, "V"),
        _point(S.MEASURED_HZ, "MMXU1.Hz", "mag.f", FC.MX, A.MEASUREMENT, "Hz"),
    ]
)
del S, A

# Enum literals of DEROpStKind used for connect / disconnect commands.
CONNECTED = "connected"
DISCONNECTED = "disconnected"


def der_icd_bytes() -> bytes:
    """The shipped DER IED ICD document."""
    return resources.files("derlink.iec61850.model").joinpath("data", DER_ICD).read_bytes()


def load_der_ied(ied_name: str | None = None) -> ServerModel:
    """The server model of the shipped DER IED, renamed to ``ied_name`` when given."""
    return load_scl(der_icd_bytes(), rename=ied_name)


__all__ = [
    "CONNECTED",
    "DER_ICD",
    "DER_POINTS",
    "DISCONNECTED",
    "Access",
    "DerPoint",
    "DerSemantic",
    "der_icd_bytes",
    "load_der_ied",
]
