"""Anomaly detection: sliding-window thresholds (sans-IO), controls held for a second
operator or refused over a real database, and the CLI's held/approve/reject commands."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import event, func, select

from derlink.audit import AuditLog
from derlink.audit.anomaly import (
    NAMED_DEVICES,
    Action,
    AnomalyDetector,
    AnomalyGuard,
    CommandHeld,
    CommandRefused,
    Counter,
    Thresholds,
)
from derlink.control import held as holds
from derlink.control.errors import ControlError
from derlink.control.service import FleetService
from derlink.domain import ControlBase, Device, Group, Program, Site
from derlink.home import Home
from derlink.pki import Pki, Role
from derlink.store import Database, upgrade
from derlink.store.schema import AnomalyCountRow, ChangeRow, HeldControlRow
from support.cli import Cli

NOW = 1_800_000_000
BASE = ControlBase(export_limit_w=5000.0)


def test_thresholds_per_operator_group_device_and_window() -> None:
    detector = AnomalyDetector(
        Thresholds(window=60, per_operator=3, per_group=2, per_device=1, failed_auth=2)
    )
    first = detector.assess_command(operator="alice", groups=["g1"], devices=["d1"], now=NOW)
    assert first.action is Action.ALLOW and not first.anomalous
    second = detector.assess_command(operator="alice", groups=["g1"], devices=["d1"], now=NOW + 1)
    assert second.action is Action.HOLD
    assert [(e.counter, e.name, e.count) for e in second.exceeded] == [(Counter.DEVICE, "d1", 2)]
    third = detector.assess_command(operator="alice", groups=["g1"], now=NOW + 2)
    assert {e.counter for e in third.exceeded} == {Counter.GROUP}
    fourth = detector.assess_command(operator="alice", groups=["g2"], now=NOW + 3)
    assert {e.counter for e in fourth.exceeded} == {Counter.OPERATOR}
    assert (
        detector.assess_command(operator="bob", groups=["g2"], now=NOW + 3).action is Action.ALLOW
    )
    # sixty seconds later the window has moved past every one of them
    assert detector.assess_command(operator="alice", groups=["g1"], now=NOW + 63).action is (
        Action.ALLOW
    )
    assert not detector.assess_failed_auth("10.0.0.9", now=NOW).anomalous
    assert not detector.assess_failed_auth("10.0.0.9", now=NOW).anomalous
    alarm = detector.assess_failed_auth("10.0.0.9", now=NOW)
    event = alarm.event(actor="unauthenticated", target="peer:10.0.0.9", source="t", action="a")
    assert (event.event_id, event.severity.value) == ("Anomaly:FailedAuth.1", "alarm")


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=300), max_size=60), st.integers(1, 5))
def test_counts_match_a_naive_window(gaps: list[int], limit: int) -> None:
    detector = AnomalyDetector(Thresholds(window=60, per_operator=limit))
    times: list[int] = []
    now = NOW
    for gap in gaps:
        now += gap
        times.append(now)
        verdict = detector.assess_command(operator="op", now=now)
        in_window = sum(1 for t in times if t > now - 60)
        assert verdict.anomalous == (in_window > limit)


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[tuple[Database, AuditLog]]:
    async with Database(db_url) as database:
        await upgrade(database)
        yield database, AuditLog(database, signer=ec.generate_private_key(ec.SECP256R1()))


def service(db: tuple[Database, AuditLog], action: Action = Action.HOLD) -> FleetService:
    guard = AnomalyGuard(Thresholds(window=60, per_operator=10, per_group=2, action=action))
    return FleetService(db[0], db[1], clock=lambda: NOW, detector=guard)


async def _create(fleet: FleetService, actor: str = "alice", group: str = "g1") -> object:
    return await fleet.create_control(
        BASE, actor=actor, start=NOW, duration=3600, group=group, description="x"
    )


async def test_held_until_a_second_operator_approves(db: tuple[Database, AuditLog]) -> None:
    fleet = service(db)
    await fleet.add_group(Group("g1"), actor="t")
    await fleet.add_program(Program("p1", primacy=5, groups=frozenset({"g1"})), actor="t")
    await _create(fleet)
    await fleet.create_control(BASE, actor="alice", start=NOW, duration=60, program="p1")
    again = service(db)  # another process: the counts live in the database
    with pytest.raises(CommandHeld) as held:
        await _create(again)
    assert held.value.exit_code == 9 and "group g1" in held.value.reason
    assert len(await fleet.controls(include_ended=True)) == 2  # nothing published
    async with db[0].sessions() as s:
        changes = await s.scalar(select(func.count()).select_from(ChangeRow))
    (pending,) = await holds.held_controls(fleet)
    assert pending.operator == "alice" and pending.request["group"] == "g1"
    with pytest.raises(ControlError, match="a second operator must decide"):
        await holds.approve(fleet, pending.id, actor="alice")
    made = await holds.approve(fleet, pending.id, actor="bob")
    assert made.program == "g1.yellow" and made.base == BASE
    assert len(await fleet.controls(include_ended=True)) == 3
    async with db[0].sessions() as s:
        assert (await s.scalar(select(func.count()).select_from(ChangeRow)) or 0) > (changes or 0)
        row = await s.get(HeldControlRow, pending.id)
        assert row is not None and (row.status, row.decided_by, row.control_mrid) == (
            "approved",
            "bob",
            made.mrid,
        )
    with pytest.raises(ControlError, match="already approved"):
        await holds.approve(fleet, pending.id, actor="carol")
    events = [r.record.event async for r in db[1].records()]
    ids = [e.event_id for e in events]
    assert "Anomaly:CommandRate.1" in ids and "Anomaly:Approval.2" in ids
    assert "Anomaly:Approval.1" in ids
    created = [e for e in events if e.action == "control.create"]
    assert created[-1].actor == "alice" and created[-1].details["approved_by"] == "bob"
    assert (await db[1].verify()).ok


async def test_rejected_and_refused_controls_are_never_published(
    db: tuple[Database, AuditLog],
) -> None:
    fleet = service(db)
    await fleet.add_group(Group("g1"), actor="t")
    await _create(fleet)
    await _create(fleet)
    with pytest.raises(CommandHeld) as held:
        await _create(fleet)
    rejected = await holds.reject(fleet, held.value.held_id, actor="bob")
    assert rejected.id == held.value.held_id
    assert await holds.held_controls(fleet) == []
    refusing = service(db, Action.REFUSE)
    with pytest.raises(CommandRefused):
        await _create(refusing)
    assert len(await fleet.controls(include_ended=True)) == 2
    decided = await holds.held_controls(fleet, include_decided=True)
    assert [h.status for h in decided] == ["rejected"]
    events = [r.record.event async for r in db[1].records()]
    refused = [e for e in events if e.event_id == "Anomaly:CommandRate.2"]
    assert refused and refused[0].severity.value == "alarm" and refused[0].outcome.value == "denied"


def test_cli_hold_then_approve_by_a_second_operator(
    home: Home,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.delenv("DERLINK_PKI_PASSPHRASE", raising=False)
    monkeypatch.setenv("DERLINK_ANOMALY_MAX_PER_OPERATOR", "2")
    cli = Cli(home, capsys)
    cli.ok("init")
    cli.ok("group", "add", "g1")
    pki = Pki.open(home.pki_dir, passphrase=None)
    ids: dict[str, str] = {}
    for name, role in (("alice", Role.OPERATOR), ("bob", Role.OPERATOR), ("vic", Role.VIEWER)):
        pki.issue_operator(name, [role], now=datetime.now(UTC)).write(tmp_path / name)
        ids[name] = str(tmp_path / f"{name}.pem")
    create = ("control", "create", "--group", "g1", "--export-limit", "5kW", "--duration", "1h")
    cli.ok("--identity", ids["alice"], *create)
    cli.ok("--identity", ids["alice"], *create)
    held = cli("--identity", ids["alice"], *create)
    assert held.code == 9 and "held for a second operator's approval as held control" in held.err
    listed = cli.json("control", "held")
    assert isinstance(listed, list) and len(listed) == 1
    held_id = str(listed[0]["id"])
    same = cli("--identity", ids["alice"], "control", "approve", held_id)
    assert same.code == 7 and "second operator" in same.err
    viewer = cli("--identity", ids["vic"], "control", "approve", held_id)
    assert viewer.code == 8 and "may not approve" in viewer.err
    approved = cli("--identity", ids["bob"], "control", "approve", held_id)
    assert approved.code == 0 and "approved: control" in approved.out
    assert len(json.loads(cli.ok("control", "list", "--json").out)) == 3
    records = cli.audit_records()
    hold = next(r for r in records if r["event_id"] == "Anomaly:CommandRate.1")
    assert hold["severity"] == "warning" and str(hold["actor"]).endswith(":alice")
    assert any(r["event_id"] == "RBAC:Denied.1" and r["details"]["permission"] == "approve"
               for r in records)  # fmt: skip


def _lfdi(n: int) -> str:
    return f"{n:040X}"


async def _anomaly_rows(db: Database, key: str) -> int:
    async with db.sessions() as s:
        query = select(func.count()).select_from(AnomalyCountRow).where(AnomalyCountRow.key == key)
        return await s.scalar(query) or 0


async def test_a_device_in_two_groups_trips_its_own_threshold(
    db: tuple[Database, AuditLog],
) -> None:
    def fleet_of(action: Action) -> FleetService:
        limits = Thresholds(window=60, per_operator=10, per_group=2, per_device=2, action=action)
        return FleetService(db[0], db[1], clock=lambda: NOW, detector=AnomalyGuard(limits))

    fleet = fleet_of(Action.HOLD)
    for group in ("ga", "gb"):
        await fleet.add_group(Group(group), actor="t")
    for site, groups in (("sa", {"ga"}), ("sb", {"gb"}), ("sab", {"ga", "gb"})):
        await fleet.add_site(Site(site, groups=frozenset(groups)), actor="t")
    only_a, only_b, both = _lfdi(1), _lfdi(2), _lfdi(3)
    await fleet.enrol_many(
        [Device(only_a, 1, site="sa"), Device(only_b, 2, site="sb"), Device(both, 3, site="sab")],
        actor="t",
    )
    await fleet.add_program(Program("p1", primacy=5, groups=frozenset({"ga", "gb"})), actor="t")
    # a program over both groups reaches the shared device once
    await fleet.create_control(BASE, actor="alice", start=NOW, duration=60, program="p1")
    assert await _anomaly_rows(db[0], f"device:{both}") == 1
    await _create(fleet, group="ga")  # ga: 2 of 2, both: 2 of 2
    with pytest.raises(CommandHeld) as held:
        await _create(fleet, group="gb")  # gb: 2 of 2, both: 3 of 2
    assert f"device {both}" in held.value.reason
    assert "group" not in held.value.reason and only_a not in held.value.reason
    with pytest.raises(CommandRefused, match=f"device {both}"):
        await _create(fleet_of(Action.REFUSE), group="gb")  # now gb and its devices trip
    assert len(await fleet.controls(include_ended=True)) == 2
    events = [r.record.event async for r in db[1].records()]
    hold = next(e for e in events if e.event_id == "Anomaly:CommandRate.1")
    assert hold.details["exceeded"] == [{"counter": "device", "key": both, "count": 3, "limit": 2}]
    refusal = next(e for e in events if e.event_id == "Anomaly:CommandRate.2")
    named = {(x["counter"], x["key"]) for x in refusal.details["exceeded"]}
    assert named == {("group", "gb"), ("device", both), ("device", only_b)}
    # the window moves on: the shared device's rows expire and are deleted as it is counted
    later = FleetService(
        db[0],
        db[1],
        clock=lambda: NOW + 61,
        detector=AnomalyGuard(Thresholds(window=60, per_group=2, per_device=2)),
    )
    await later.create_control(BASE, actor="alice", start=NOW + 61, duration=60, group="gb")
    assert await _anomaly_rows(db[0], f"device:{both}") == 1


async def test_a_large_group_costs_a_constant_number_of_statements(
    db: tuple[Database, AuditLog],
) -> None:
    size = 2000
    fleet = service(db)
    for group, site in (("small", "s1"), ("big", "s2")):
        await fleet.add_group(Group(group), actor="t")
        await fleet.add_site(Site(site, groups=frozenset({group})), actor="t")
    await fleet.enrol_many([Device(_lfdi(1), 1, site="s1")], actor="t")
    await fleet.enrol_many([Device(_lfdi(n), n, site="s2") for n in range(2, size + 2)], actor="t")
    statements: list[str] = []

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    sync_engine = db[0].engine.sync_engine
    event.listen(sync_engine, "before_cursor_execute", count)
    try:
        timings: dict[str, float] = {}
        per_group: dict[str, int] = {}
        for group in ("small", "big"):
            statements.clear()
            started = time.perf_counter()
            await _create(fleet, group=group)
            timings[group] = time.perf_counter() - started
            per_group[group] = len(statements)
    finally:
        event.remove(sync_engine, "before_cursor_execute", count)
    assert per_group["big"] == per_group["small"], per_group
    counting = [s for s in statements if "anomaly_count" in s]
    # delete, select and insert of the operator's and group's rows; then the same three
    # statements, set-based, for every device the control reaches
    assert len(counting) == 6 and sum("device.lfdi" in s for s in counting) == 3, counting
    assert timings["big"] < 5.0, timings
    print(f"statements per control {per_group}, seconds {timings}")
    async with db[0].sessions() as s:
        query = select(func.count()).where(AnomalyCountRow.key.like("device:%"))
        assert await s.scalar(query) == size + 1
    strict = AnomalyGuard(Thresholds(window=60, per_group=10, per_device=1))
    tight = FleetService(db[0], db[1], clock=lambda: NOW, detector=strict)
    with pytest.raises(CommandHeld) as held:
        await _create(tight, group="big")
    events = [r.record.event async for r in db[1].records()]
    hold = next(e for e in events if e.event_id == "Anomaly:CommandRate.1")
    assert len(hold.details["exceeded"]) == NAMED_DEVICES
    assert {x["key"] for x in hold.details["exceeded"]} <= {_lfdi(n) for n in range(2, size + 2)}
    assert _lfdi(2) in held.value.reason
