"""DER curves (IEEE 2030.5 §10.10 DERCurve, DERCurveList): the curves of a DERProgram, which
its controls' and default control's curve modes (opModVoltVar, opModFreqWatt...) link to.

A curve point travels as Int32 ``xvalue``/``yvalue`` with one power of ten per axis
(``xMultiplier``, ``yMultiplier``); :func:`scaled` picks it so the operator's values travel
exactly when 32 bits can hold them. ``yRefType`` (DERUnitRefType) comes from the curve's y unit.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from derlink.domain import Curve
from derlink.domain.curves import Y_REFERENCES
from derlink.sep2 import hrefs
from derlink.sep2.app import Call, Router
from derlink.sep2.http import HttpError, Response
from derlink.sep2.res_common import answer, page
from derlink.sep2.res_der import _mrid, visible_program
from derlink.sep2.res_publications import service
from derlink.sep2.xml import CurveData, DERCurve, DERCurveList

INT32_MAX = 2**31 - 1
Y_REF_CODES = {name: code for code, name in enumerate(Y_REFERENCES, start=1)}


def register(router: Router) -> None:
    router.add("GET", "/derp/{program}/dc", "DERCurveList")(get_curves)
    router.add("GET", "/derp/{program}/dc/{curve}", "DERCurve")(get_curve)


def scaled(values: Sequence[float]) -> tuple[list[int], int]:
    """(integers, power of ten) with each value = integer × 10^power and |integer| ≤ 2^31-1:
    the first power from 0 down to -9, then up to 9, that makes every value exact; when none
    does, the smallest that fits (the most precision)."""
    exact = [Decimal(repr(v)) for v in values]
    for power in [*range(0, -10, -1), *range(1, 10)]:
        ints = [d.scaleb(-power) for d in exact]
        if all(i == i.to_integral_value() and abs(i) <= INT32_MAX for i in ints):
            return [int(i) for i in ints], power
    for power in range(-9, 10):
        rounded = [round(v / 10.0**power) for v in values]
        if all(abs(i) <= INT32_MAX for i in rounded):
            return rounded, power
    raise ValueError(f"curve values {values} cannot be expressed in 2030.5 CurveData")


def der_curve(program_id: str, curve: Curve, created: int) -> DERCurve:
    xs, x_power = scaled([x for x, _ in curve.points])
    ys, y_power = scaled([y for _, y in curve.points])
    return DERCurve(
        href=hrefs.curve(program_id, curve.id),
        mRID=_mrid(f"curve:{curve.id}"),
        description=curve.id[:32],
        creationTime=created,
        CurveData=tuple(CurveData(xvalue=x, yvalue=y) for x, y in zip(xs, ys, strict=True)),
        curveType=int(curve.kind),
        xMultiplier=x_power,
        yMultiplier=y_power,
        yRefType=Y_REF_CODES.get(curve.y_unit, 0),
    )


async def get_curves(call: Call, program: str) -> Response:
    await visible_program(call, program)
    curves = await service(call.headend).curves(program)
    shown, total = page(call, curves)
    return answer(
        call,
        DERCurveList(
            href=hrefs.program(program, "dc"),
            all=total,
            results=len(shown),
            DERCurve=tuple(der_curve(program, c, created) for c, created in shown),
        ),
    )


async def get_curve(call: Call, program: str, curve: str) -> Response:
    await visible_program(call, program)
    for found, created in await service(call.headend).curves(program):
        if found.id == curve:
            return answer(call, der_curve(program, found, created))
    raise HttpError(404, f"no DERCurve {curve} in DERProgram {program}")
