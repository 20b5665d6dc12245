"""Controls created through the fleet service reach simulated 61850 IEDs over a real XMPP
server: values applied on the IED, responses recorded like 2030.5 ones, audited; a cancellation
or the end of a control restores what the IED had; a group without IEDs sees no XMPP traffic."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from derlink.control.publications import PublicationService
from derlink.domain import (
    ControlBase,
    Curve,
    CurveKind,
    Group,
    Priority,
    Program,
    ResponseStatus,
)
from derlink.iec61850.dispatch import Dispatcher
from derlink.iec61850.model.refs import FC, FCDA, ObjectReference
from derlink.sim.iedfleet import NO_LIMIT

from .conftest import World

pytestmark = pytest.mark.xmpp

RECEIVED, STARTED = int(ResponseStatus.EVENT_RECEIVED), int(ResponseStatus.EVENT_STARTED)
COMPLETED, CANCELLED = int(ResponseStatus.EVENT_COMPLETED), int(ResponseStatus.EVENT_CANCELLED)
EXPORT = FCDA(ObjectReference.parse("DERIEDLD0/DECP1.WExpLim.setMag.f"), FC.SP)
GEN_PCT = FCDA(ObjectReference.parse("DERIEDLD0/DWMX1.WMaxSptPct.mxVal.f"), FC.MX)


async def test_a_group_control_reaches_the_ieds_and_a_cancel_restores(world: World) -> None:
    control = await world.control(
        ControlBase(export_limit_w=1500.0, max_limit_pct=40.0), duration=3600, priority=Priority.RED
    )
    summary = await world.summary_until(control.mrid, {RECEIVED: 2, STARTED: 2})
    assert summary == {RECEIVED: 2, STARTED: 2}
    for lfdi, driver in world.drivers.items():
        assert driver.envelope.export_limit_w == 1500.0
        assert driver.envelope.max_limit_pct == 40.0
        store = world.runtimes[lfdi].server.store
        assert store.get(EXPORT) == 1500.0
        assert store.get(GEN_PCT) == 40.0
        # the physics honours the envelope: the site exports at most 1.5 kW
        assert -driver.sample().site_w <= 1500.0 + 1e-6
    assert len(world.dispatcher.states) == 2

    await world.fleet.cancel(control.mrid, actor="operator")
    summary = await world.summary_until(control.mrid, {CANCELLED: 2})
    assert summary[CANCELLED] == 2
    for lfdi, driver in world.drivers.items():
        assert driver.envelope.export_limit_w is None
        assert driver.envelope.max_limit_pct is None
        store = world.runtimes[lfdi].server.store
        assert store.get(EXPORT) == NO_LIMIT
        assert store.get(GEN_PCT) == 100.0
    audited = await _audited(world, control.mrid)
    assert {"control.create", "control.cancel", "iec61850.dispatch.apply"} <= audited
    assert "iec61850.dispatch.restore" in audited
    assert (await world.audit.verify()).ok


async def test_a_control_that_ends_restores_and_completes(world: World) -> None:
    control = await world.control(ControlBase(export_limit_w=800.0), duration=3)
    await world.summary_until(control.mrid, {STARTED: 2})
    assert all(d.envelope.export_limit_w == 800.0 for d in world.drivers.values())
    summary = await world.summary_until(control.mrid, {COMPLETED: 2})
    assert summary[COMPLETED] == 2
    assert all(d.envelope.export_limit_w is None for d in world.drivers.values())


async def test_higher_priority_wins_and_the_lower_returns(world: World) -> None:
    both: dict[str, Any] = {"duration": 3600, "actor": "op", "start": int(time.time())}
    green = await world.control(ControlBase(export_limit_w=3000.0), priority=Priority.GREEN, **both)
    await world.summary_until(green.mrid, {STARTED: 2})
    red = await world.control(ControlBase(export_limit_w=500.0), priority=Priority.RED, **both)
    await world.summary_until(red.mrid, {STARTED: 2})
    assert all(d.envelope.export_limit_w == 500.0 for d in world.drivers.values())
    await world.fleet.cancel(red.mrid, actor="op")
    await world.summary_until(red.mrid, {CANCELLED: 2})
    assert all(d.envelope.export_limit_w == 3000.0 for d in world.drivers.values())


async def test_a_group_without_ieds_sees_no_xmpp_traffic(world: World) -> None:
    await world.dispatcher.run_once()
    sent = world.centre.endpoint.stats.requests_sent
    control = await world.control(ControlBase(export_limit_w=100.0), group="b")
    for _ in range(5):
        await world.dispatcher.run_once()
        await asyncio.sleep(0.05)
    assert world.centre.endpoint.stats.requests_sent == sent
    assert control.mrid not in world.dispatcher.schedule.controls
    assert await world.fleet.response_summary(control.mrid) == {}
    assert all(d.envelope.export_limit_w is None for d in world.drivers.values())


async def test_an_envelope_without_61850_points_is_rejected_without_traffic(world: World) -> None:
    await world.dispatcher.run_once()
    sent = world.centre.endpoint.stats.requests_sent
    control = await world.control(ControlBase(storage_target_w=2000.0))
    summary = await world.summary_until(
        control.mrid, {int(ResponseStatus.REJECTED_NOT_APPLICABLE): 2}
    )
    assert summary == {int(ResponseStatus.REJECTED_NOT_APPLICABLE): 2}
    assert world.centre.endpoint.stats.requests_sent == sent


async def test_a_volt_var_curve_is_written_to_the_csg_and_restored(world: World) -> None:
    publications = PublicationService(world.fleet.db, world.audit)
    program = f"vv-{world.tag}"
    await publications.add_program(
        Program(program, primacy=5, groups=frozenset({f"a-{world.tag}"})), actor="op"
    )
    points = ((92.0, 40.0), (98.0, 0.0), (102.0, 0.0), (108.0, -40.0))
    await publications.add_curve(
        program, Curve(f"c-{world.tag}", CurveKind.OPMOD_VOLT_VAR, points), actor="op"
    )
    control = await world.control(
        ControlBase(volt_var_curve=f"c-{world.tag}"), group=None, program=program, actor="op"
    )
    await world.summary_until(control.mrid, {STARTED: 2})
    crv = ObjectReference.parse("DERIEDLD0/DVVR1.Crv")
    for runtime in world.runtimes.values():
        store = runtime.server.store
        assert store.get(FCDA(crv.child("numPts"), FC.SP)) == 4
        first = store.get(FCDA(crv.child("crvPts(0)"), FC.SP))
        assert first == {"xVal": 92.0, "yVal": 40.0}
    await world.fleet.cancel(control.mrid, actor="op")
    await world.summary_until(control.mrid, {CANCELLED: 2})
    for runtime in world.runtimes.values():
        assert runtime.server.store.get(FCDA(crv.child("numPts"), FC.SP)) == 0


async def test_an_ied_that_refuses_is_reported_rejected_and_audited(world: World) -> None:
    group = f"c-{world.tag}"
    await world.fleet.add_group(Group(group), actor="test")
    wrong = await world.add_ied(7, group, ied_name="OTHERIED")  # registered under a wrong name
    control = await world.control(ControlBase(export_limit_w=700.0), group="c")
    rejected = int(ResponseStatus.REJECTED_NOT_APPLICABLE)
    summary = await world.summary_until(control.mrid, {rejected: 1})
    assert summary == {rejected: 1}
    assert world.drivers[wrong].envelope.export_limit_w is None
    assert "iec61850.dispatch.refused" in await _audited(world, control.mrid)


async def test_a_restarted_dispatcher_still_restores_what_the_ied_had(world: World) -> None:
    control = await world.control(ControlBase(export_limit_w=1200.0))
    await world.summary_until(control.mrid, {STARTED: 2})
    await world.dispatcher.release()  # the node stops; another takes over
    world.dispatcher = Dispatcher(world.fleet, world.audit, world.centre)
    await world.dispatcher.run_once()
    assert all(d.envelope.export_limit_w == 1200.0 for d in world.drivers.values())
    await world.fleet.cancel(control.mrid, actor="operator")
    summary = await world.summary_until(control.mrid, {CANCELLED: 2})
    assert summary == {RECEIVED: 2, STARTED: 2, CANCELLED: 2}
    for lfdi, driver in world.drivers.items():
        assert driver.envelope.export_limit_w is None
        assert world.runtimes[lfdi].server.store.get(EXPORT) == NO_LIMIT


async def _audited(world: World, mrid: str) -> set[str]:
    from sqlalchemy import select

    from derlink.store.schema import AuditRecordRow

    async with world.fleet.db.sessions() as s:
        rows = await s.scalars(
            select(AuditRecordRow.action).where(AuditRecordRow.target == f"control:{mrid}")
        )
        return set(rows.all())
