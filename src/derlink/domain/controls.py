"""Programs, controls and curves: what the operator asks the fleet to do.

A *program* (IEEE 2030.5 DERProgram, a 61850 schedule controller) has a primacy and targets
groups; its *controls* are time-bound events carrying a :class:`ControlBase`, the operating
envelope (limits, set points, modes, curves). A program also has a default control base,
in force when none of its controls is active (2030.5 DefaultDERControl).
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field, fields

from derlink.domain.errors import DomainError
from derlink.domain.fleet import check_name

MAX_RANDOMIZE = 3600  # IEEE 2030.5 RandomizableEvent: randomizeStart/Duration in -3600..3600


class ControlStatus(enum.IntEnum):
    """IEEE 2030.5 EventStatus.currentStatus."""

    SCHEDULED = 0
    ACTIVE = 1
    CANCELLED = 2
    CANCELLED_RANDOM = 3
    SUPERSEDED = 4


class CurveKind(enum.IntEnum):
    """IEEE 2030.5 DERCurveType (curveType)."""

    OPMOD_FREQ_WATT = 0
    OPMOD_HFRT_MAY_TRIP = 1
    OPMOD_HFRT_MUST_TRIP = 2
    OPMOD_HVRT_MAY_TRIP = 3
    OPMOD_HVRT_MOMENTARY_CESSATION = 4
    OPMOD_HVRT_MUST_TRIP = 5
    OPMOD_LFRT_MAY_TRIP = 6
    OPMOD_LFRT_MUST_TRIP = 7
    OPMOD_LVRT_MAY_TRIP = 8
    OPMOD_LVRT_MOMENTARY_CESSATION = 9
    OPMOD_LVRT_MUST_TRIP = 10
    OPMOD_VOLT_VAR = 11
    OPMOD_VOLT_WATT = 12
    OPMOD_WATT_PF = 13
    OPMOD_WATT_VAR = 14


@dataclass(frozen=True, slots=True)
class Curve:
    """A piecewise-linear curve: x/y points in the units of its kind, at most 10 points."""

    id: str
    kind: CurveKind
    points: tuple[tuple[float, float], ...]
    x_unit: str = ""
    y_unit: str = ""

    def __post_init__(self) -> None:
        check_name("curve", self.id)
        if not 1 <= len(self.points) <= 10:
            raise DomainError("a curve has 1 to 10 points")
        xs = [x for x, _ in self.points]
        if xs != sorted(xs):
            raise DomainError("curve points must be in increasing x order")


@dataclass(frozen=True, slots=True)
class ControlBase:
    """An operating envelope: every field None means "no change" (not part of the control).

    Limits and set points in W / var; percentages in percent of the rated value; power
    factors as displacement (0..1]; ramp time in seconds. The CSIP-AUS limits are
    site-level (at the connection point), the others device-level.
    """

    connect: bool | None = None
    energize: bool | None = None
    export_limit_w: float | None = None
    import_limit_w: float | None = None
    generation_limit_w: float | None = None
    load_limit_w: float | None = None
    storage_target_w: float | None = None
    max_limit_pct: float | None = None
    target_w: float | None = None
    target_var: float | None = None
    fixed_w_pct: float | None = None
    fixed_var_pct: float | None = None
    fixed_pf_inject: float | None = None
    fixed_pf_absorb: float | None = None
    volt_var_curve: str | None = None
    volt_watt_curve: str | None = None
    freq_watt_curve: str | None = None
    watt_pf_curve: str | None = None
    watt_var_curve: str | None = None
    ramp_time_s: float | None = None

    def __post_init__(self) -> None:
        for name in ("export_limit_w", "import_limit_w", "generation_limit_w", "load_limit_w"):
            _check_range(name, getattr(self, name), 0.0, 1e12)
        _check_range("storage_target_w", self.storage_target_w, -1e12, 1e12)
        _check_range("target_w", self.target_w, -1e12, 1e12)
        _check_range("target_var", self.target_var, -1e12, 1e12)
        for name in ("max_limit_pct", "fixed_w_pct"):
            _check_range(name, getattr(self, name), 0.0, 100.0)
        _check_range("fixed_var_pct", self.fixed_var_pct, -100.0, 100.0)
        for name in ("fixed_pf_inject", "fixed_pf_absorb"):
            value = getattr(self, name)
            if value is not None and not 0.0 < value <= 1.0:
                raise DomainError(f"{name} must be a displacement power factor in (0, 1]")
        _check_range("ramp_time_s", self.ramp_time_s, 0.0, 655.35)  # UInt16 hundredths

    def set_fields(self) -> dict[str, object]:
        """The fields this envelope sets (the others are None)."""
        return {f.name: v for f in fields(self) if (v := getattr(self, f.name)) is not None}

    def is_empty(self) -> bool:
        return not self.set_fields()


def _check_range(name: str, value: float | None, low: float, high: float) -> None:
    if value is None:
        return
    if not math.isfinite(value) or not low <= value <= high:
        raise DomainError(f"{name} = {value} is outside {low:g}..{high:g}")


@dataclass(frozen=True, slots=True)
class Program:
    """A DER program: primacy (lower wins), the groups it targets, its default envelope."""

    id: str
    primacy: int
    groups: frozenset[str] = field(default_factory=frozenset)
    description: str = ""
    default: ControlBase | None = None
    default_ramp_s: float | None = None

    def __post_init__(self) -> None:
        check_name("program", self.id)
        if not 0 <= self.primacy <= 255:
            raise DomainError(f"primacy {self.primacy} must be 0..255")


@dataclass(frozen=True, slots=True)
class Control:
    """A time-bound control event of a program (IEEE 2030.5 DERControl).

    ``start`` and ``created`` are Unix seconds; ``randomize_start``/``randomize_duration`` are
    the 2030.5 bounds in seconds (-3600..3600). ``mrid`` is the event's global id (32 hex).
    """

    mrid: str
    program: str
    start: int
    duration: int
    base: ControlBase
    created: int
    description: str = ""
    randomize_start: int = 0
    randomize_duration: int = 0
    status: ControlStatus = ControlStatus.SCHEDULED
    status_time: int = 0

    def __post_init__(self) -> None:
        if len(self.mrid) != 32 or any(c not in "0123456789ABCDEF" for c in self.mrid):
            raise DomainError(f"mRID {self.mrid!r} must be 32 upper-case hex digits")
        check_name("program", self.program)
        if self.start < 0 or self.created < 0:
            raise DomainError("start and creation time must be Unix seconds (>= 0)")
        if not 0 < self.duration <= 0xFFFFFFFF:
            raise DomainError(f"duration {self.duration} s must be 1..4294967295")
        for name in ("randomize_start", "randomize_duration"):
            if abs(getattr(self, name)) > MAX_RANDOMIZE:
                raise DomainError(f"{name} must be within -3600..3600 s")
        if self.base.is_empty():
            raise DomainError("a control must set at least one mode or limit")

    @property
    def end(self) -> int:
        return self.start + self.duration

    @property
    def cancelled(self) -> bool:
        return self.status in (ControlStatus.CANCELLED, ControlStatus.CANCELLED_RANDOM)
