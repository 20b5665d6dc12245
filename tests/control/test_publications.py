"""The publication service on SQLite and PostgreSQL: curves, tariffs, demand response,
messaging and files; every change audited and in the outbox, every refusal changes nothing."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import func, select

from derlink.audit import AuditLog
from derlink.control.errors import Conflict, ControlError, NotFound
from derlink.control.publications import PublicationService
from derlink.control.service import new_mrid
from derlink.domain import (
    ControlBase,
    ControlStatus,
    Curve,
    CurveKind,
    DemandProgram,
    DomainError,
    Firmware,
    Group,
    LoadControl,
    LoadModes,
    Message,
    MessageProgram,
    PriceBlock,
    Program,
    PublicationKind,
    RateComponent,
    Tariff,
    TariffInterval,
)
from derlink.store import Database, upgrade
from derlink.store.schema import ChangeRow, CurveRow
from derlink.store.schema_publications import FileContentRow, PublicationEventRow

NOW = 1_800_000_000
KIND = PublicationKind
VV = Curve("vv1", CurveKind.OPMOD_VOLT_VAR, ((92.0, 30.0), (108.0, -30.0)))
CONTENT = b"\x7fELF firmware image" * 100
MODES = LoadModes(duty_cycle_pct=50)


@pytest.fixture
async def pubs(db_url: str) -> AsyncIterator[PublicationService]:
    async with Database(db_url) as db:
        await upgrade(db)
        log = AuditLog(db, signer=ec.generate_private_key(ec.SECP256R1()))
        service = PublicationService(db, log, clock=lambda: NOW)
        for group in ("feeder-1", "feeder-2"):
            await service.add_group(Group(group), actor="t")
        await service.add_program(Program("p1", 1, frozenset({"feeder-1"})), actor="t")
        yield service


def timing(program: str, start: int = NOW, duration: int = 3600, **more: Any) -> dict[str, Any]:
    return {
        "mrid": new_mrid(),
        "program": program,
        "start": start,
        "duration": duration,
        "created": 0,
        **more,
    }


def firmware(**more: Any) -> Firmware:
    fields: dict[str, Any] = {
        "id": "inv-1.2",
        "groups": frozenset({"feeder-1"}),
        "model": "INV",
        "version": "1.2",
        "size": len(CONTENT),
        "sha256": hashlib.sha256(CONTENT).hexdigest(),
    }
    return Firmware(**{**fields, **more})


async def test_curves_belong_to_their_program_and_controls_must_name_them(
    pubs: PublicationService,
) -> None:
    made = await pubs.add_curve("p1", VV, actor="op")
    assert (made.x_unit, made.y_unit) == ("%VRef", "%setMaxVar")
    assert [c.id for c, _ in await pubs.curves("p1")] == ["vv1"]
    before = await pubs.audit.size()
    with pytest.raises(DomainError, match="no curve vv9"):
        await pubs.create_control(
            ControlBase(volt_var_curve="vv9"), actor="op", start=NOW, duration=60, program="p1"
        )
    with pytest.raises(DomainError, match="no curve"):
        await pubs.set_default("p1", ControlBase(volt_watt_curve="vv9"), actor="op")
    assert await pubs.audit.size() == before and await pubs.controls() == []
    control = await pubs.create_control(
        ControlBase(volt_var_curve="vv1"), actor="op", start=NOW, duration=60, program="p1"
    )
    with pytest.raises(Conflict, match=f"control {control.mrid}"):
        await pubs.remove_curve("p1", "vv1", actor="op")
    await pubs.cancel(control.mrid, actor="op")
    with pytest.raises(Conflict, match="exists"):
        await pubs.add_curve("p1", VV, actor="op")
    with pytest.raises(NotFound):
        await pubs.remove_curve("other", "vv1", actor="op")
    await pubs.remove_curve("p1", "vv1", actor="op")
    assert await pubs.curves("p1") == []


async def test_a_removed_programs_curves_go_with_it(pubs: PublicationService) -> None:
    await pubs.add_curve("p1", VV, actor="op")
    await pubs.remove_program("p1", actor="op")
    await pubs.add_program(Program("p2", 1, frozenset({"feeder-1"})), actor="op")
    await pubs.add_curve("p2", VV, actor="op")
    async with pubs.db.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(CurveRow)) == 1


async def test_tariff_components_and_price_intervals(pubs: PublicationService) -> None:
    tariff = Tariff(
        id="tou",
        groups=frozenset({"feeder-1"}),
        primacy=1,
        currency=36,
        price_exponent=-4,
        rate_code="TOU-1",
    )
    await pubs.publish(tariff, actor="op")
    updated = await pubs.add_rate_component("tou", RateComponent("imp"), actor="op")
    assert [c.id for c in updated.components] == ["imp"]
    with pytest.raises(DomainError, match="share an id"):
        await pubs.add_rate_component("tou", RateComponent("imp"), actor="op")
    blocks = (PriceBlock(0, tariff.price_units("0.25")), PriceBlock(1000, 3100))
    with pytest.raises(DomainError, match="no rate component"):
        await pubs.schedule(
            TariffInterval(**timing("tou"), component="exp", blocks=blocks), actor="op"
        )
    interval = await pubs.schedule(
        TariffInterval(**timing("tou"), component="imp", blocks=blocks, tou_tier=1), actor="op"
    )
    assert interval.created == NOW and interval.status is ControlStatus.SCHEDULED
    assert await pubs.events(KIND.TARIFF, "tou", part="imp") == [interval]
    assert await pubs.events(KIND.TARIFF, "tou", part="exp") == []
    got = await pubs.publication(KIND.TARIFF, "tou")
    assert got == updated and await pubs.counts(frozenset({"feeder-1"})) == {
        KIND.TARIFF: 1,
        KIND.DEMAND: 0,
        KIND.MESSAGING: 0,
        KIND.FILE: 0,
    }
    assert await pubs.publications(KIND.TARIFF, groups=frozenset({"feeder-2"})) == []
    cancelled = await pubs.cancel_event(KIND.TARIFF, interval.mrid, actor="op", randomized=True)
    assert cancelled.status is ControlStatus.CANCELLED_RANDOM
    with pytest.raises(ControlError, match="already cancelled"):
        await pubs.cancel_event(KIND.TARIFF, interval.mrid, actor="op")
    with pytest.raises(NotFound):
        await pubs.cancel_event(KIND.DEMAND, interval.mrid, actor="op")


async def test_demand_response_and_messages(pubs: PublicationService) -> None:
    await pubs.publish(
        DemandProgram(id="dr1", groups=frozenset({"feeder-1"}), primacy=2), actor="op"
    )
    await pubs.publish(
        MessageProgram(id="m1", groups=frozenset({"feeder-2"}), primacy=3, locale="en-AU"),
        actor="op",
    )
    modes = LoadModes(duty_cycle_pct=50, cooling_offset_c=2.0)
    control = await pubs.schedule(
        LoadControl(**timing("dr1", randomize_start=60), device_category=0x8, modes=modes),
        actor="op",
    )
    assert await pubs.event(KIND.DEMAND, control.mrid) == control
    message = await pubs.schedule(Message(**timing("m1"), text="Hello"), actor="op")
    with pytest.raises(ControlError, match="not randomizable"):
        await pubs.cancel_event(KIND.MESSAGING, message.mrid, actor="op", randomized=True)
    with pytest.raises(ControlError, match="end before it starts"):
        await pubs.schedule(Message(**timing("m1", start=NOW - 7200), text="late"), actor="op")
    with pytest.raises(NotFound, match="no messaging program"):
        await pubs.schedule(Message(**timing("m9"), text="to nobody"), actor="op")
    await pubs.withdraw(KIND.DEMAND, "dr1", actor="op")
    async with pubs.db.sessions() as s:
        left = await s.scalars(select(PublicationEventRow.kind))
        assert list(left) == ["message"]


async def test_files_keep_their_content(pubs: PublicationService) -> None:
    with pytest.raises(ControlError, match="sha256"):
        await pubs.publish(firmware(), actor="op", content=CONTENT[::-1])
    with pytest.raises(ControlError, match="needs its"):
        await pubs.publish(firmware(), actor="op")
    await pubs.publish(firmware(activate_time=NOW + 60), actor="op", content=CONTENT)
    assert await pubs.file_content("inv-1.2") == CONTENT
    listed = await pubs.publications(KIND.FILE, groups=frozenset({"feeder-1"}))
    assert listed == [firmware(activate_time=NOW + 60)]
    await pubs.withdraw(KIND.FILE, "inv-1.2", actor="op")
    async with pubs.db.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(FileContentRow)) == 0


REFUSED: list[Any] = [
    lambda p: p.publish(Tariff(id="t", groups=frozenset({"nope"}), primacy=1), actor="t"),
    lambda p: p.publish(DemandProgram(id="dup", primacy=1), actor="t"),
    lambda p: p.publish(MessageProgram(id="m", primacy=1), actor="t", content=b"x"),
    lambda p: p.withdraw(KIND.FILE, "missing", actor="t"),
    lambda p: p.add_rate_component("missing", RateComponent("r"), actor="t"),
    lambda p: p.add_curve("missing", VV, actor="t"),
    lambda p: p.cancel_event(KIND.MESSAGING, "00" * 16, actor="t"),
    lambda p: p.schedule(
        LoadControl(**timing("dup", start=NOW - 7200), device_category=1, modes=MODES),
        actor="t",
    ),
    lambda p: p.publish(firmware(size=3), actor="t", content=b"abc"),
]


async def test_refusals_change_nothing(pubs: PublicationService) -> None:
    await pubs.publish(DemandProgram(id="dup", primacy=1), actor="t")
    before = await pubs.audit.size()
    async with pubs.db.sessions() as s:
        changes = await s.scalar(select(func.count()).select_from(ChangeRow))
    for n, bad in enumerate(REFUSED):
        with pytest.raises((ControlError, DomainError)):
            await bad(pubs)
        assert await pubs.audit.size() == before, n
    async with pubs.db.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(ChangeRow)) == changes
    assert [p.id for p in await pubs.publications(KIND.DEMAND)] == ["dup"]


async def test_every_change_is_audited(pubs: PublicationService) -> None:
    await pubs.add_curve("p1", VV, actor="op")
    await pubs.publish(firmware(), actor="op", content=CONTENT)
    records = [r.record.event async for r in pubs.audit.records()]
    assert [r.action for r in records[-2:]] == ["curve.add", "file.add"]
    assert records[-1].target == "file:inv-1.2" and records[-1].actor == "op"
    assert records[-1].details["sha256"] == firmware().sha256
    assert (await pubs.audit.verify()).ok
