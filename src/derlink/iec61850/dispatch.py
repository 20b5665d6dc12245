"""From the fleet's controls to IEC 61850 operations: the 61850 side of ``derlink.control``.

A control created for a program (or a group at a traffic-light priority) reaches 2030.5 DERs as
a DERControl; this module makes it reach the 61850 IEDs of the same groups, so an operator's
command is one command whatever the protocol.

How:

1. **Changes.** :class:`Dispatcher` reads the fleet's change outbox like the 2030.5 notifier
   (:class:`derlink.sep2.notify.ChangeConsumer`): one node at a time under a lease on its own
   cursor (``iec61850-dispatch``), advancing the cursor once the changes are taken into its
   schedule. On taking the lease it loads every control not yet ended, so a restart or a
   change of node loses nothing.
2. **Schedule** (:class:`Schedule`, sans-IO). For each IED, the envelope in force at ``now`` is
   merged from the active controls of the programs targeting its groups, the best first
   (lower primacy, then the later created); what no active control sets goes back to the value
   the IED had before derlink changed it (read from the IED before the first change). Timing
   is kept by the centre: a control is applied when it starts and undone when it ends or is
   cancelled. (7-420 schedules, FSCH/FSCC, would move the timing into the IED, but they carry
   one value per schedule and need a controller per quantity; the centre-side timing keeps
   supersession between programs in one place, the same for 2030.5 and 61850.) The values to
   restore are stored (``iec61850_baseline``) before an IED is changed, so a dispatcher that
   restarts mid-control still restores what the device had.
3. **Operations** through :class:`~derlink.iec61850.centre.ControlCentre`, per IED, confirmed:
   settings (export / import limit, max power, power factor, the volt-var curve's points) by
   SetDataValues on SP; controls
   (generation limit %, active / reactive set points, var %, connect) by select-before-operate
   with enhanced security, waiting for the CommandTermination. Each IED is its own association,
   so a device that refuses one thing, or is offline, holds nobody else up. Per-IED operations
   (not a MUC groupchat) because every device's own confirmation is what its response reports
   and because SBO and the previous value are per association.
4. **Responses and audit.** When an IED confirms the operations of a control that started,
   ``received`` and ``started`` are recorded for its LFDI (:meth:`FleetService.record_responses`,
   the IEEE 2030.5 status codes), ``completed`` when it ended and the IED was restored,
   ``cancelled`` on cancellation, ``rejected`` when the IED refused or the envelope holds nothing
   a 61850 DER can do; ``derlink control show`` therefore counts 61850 DERs like 2030.5 ones.
   Each pass appends one audit record per control and outcome (how many IEDs, which refused).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import delete, func, select

from derlink.audit.event import AuditEvent, Outcome, Severity
from derlink.audit.log import AuditLog
from derlink.control.errors import NotFound
from derlink.control.outbox import OutboxFeed
from derlink.control.service import FleetService
from derlink.domain import (
    Control,
    ControlBase,
    ControlStatus,
    Program,
    Response,
    ResponseStatus,
)
from derlink.errors import DerlinkError
from derlink.iec61850.acsi.client import analogue, enum_value
from derlink.iec61850.acsi.errors import ServiceError
from derlink.iec61850.centre import ControlCentre
from derlink.iec61850.mms import data as mms_data
from derlink.iec61850.model.der import DER_LD_INST, DER_POINTS, Access, DerSemantic
from derlink.iec61850.model.refs import FC, ObjectReference
from derlink.iec61850.registry import IedEntry, ieds_in_groups
from derlink.store.codec_publications import curve_from_row
from derlink.store.schema import ChangeRow, CurveRow, ResponseRow
from derlink.store.schema_ieds import IedBaselineRow

log = logging.getLogger(__name__)

CURSOR = "iec61850-dispatch"
SOURCE = "derlink.iec61850.dispatch"
DEROP_CONNECTED, DEROP_DISCONNECTED = 4, 5  # DEROpStKind ordinals (7-420)
RETRY_S = (2.0, 5.0, 15.0, 30.0)

Curve = tuple[tuple[float, float], ...]
Value = float | bool | Curve
CURVE_POINTS = 10  # crvPts count of the shipped model's CSG (DVVR1.Crv)

ENVELOPE_POINTS: dict[str, DerSemantic] = {
    "export_limit_w": DerSemantic.EXPORT_LIMIT_W,
    "import_limit_w": DerSemantic.IMPORT_LIMIT_W,
    "generation_limit_w": DerSemantic.MAX_POWER_W,
    "max_limit_pct": DerSemantic.GENERATION_LIMIT_PCT,
    "target_w": DerSemantic.ACTIVE_POWER_SETPOINT_W,
    "target_var": DerSemantic.REACTIVE_POWER_SETPOINT_VAR,
    "fixed_var_pct": DerSemantic.REACTIVE_POWER_PCT,
    "fixed_pf_inject": DerSemantic.POWER_FACTOR,
    "connect": DerSemantic.CONNECT,
}
"""ControlBase fields a 7-420 DER carries, and the DER semantic (data object) of each."""


class DispatchError(DerlinkError):
    """An operation on an IED failed (refused, unreachable, or not confirmed in time)."""


def envelope_points(base: ControlBase) -> tuple[dict[DerSemantic, Value], tuple[str, ...]]:
    """The 61850 points an envelope sets, and the fields it sets that 61850 cannot carry."""
    points: dict[DerSemantic, Value] = {}
    unsupported: list[str] = []
    for name, value in base.set_fields().items():
        semantic = ENVELOPE_POINTS.get(name)
        if semantic is None:
            unsupported.append(name)
        else:
            points[semantic] = value if isinstance(value, bool) else float(value)  # type: ignore[arg-type]
    return points, tuple(sorted(unsupported))


# -- the schedule: sans-IO ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Tracked:
    """A control the dispatcher follows, with the IEDs it targets."""

    control: Control
    primacy: int
    points: Mapping[DerSemantic, Value]
    unsupported: tuple[str, ...]
    ieds: frozenset[str]  # LFDIs

    @property
    def mrid(self) -> str:
        return self.control.mrid

    def active(self, now: float) -> bool:
        c = self.control
        return not c.cancelled and c.start <= now < c.end

    def rank(self) -> tuple[int, int, int]:
        """Lower wins: primacy, then the later start, then the later creation."""
        return (self.primacy, -self.control.start, -self.control.created)


class Schedule:
    """Controls by mRID; the envelope in force per IED at a given time."""

    def __init__(self) -> None:
        self.controls: dict[str, Tracked] = {}

    def track(self, tracked: Tracked) -> None:
        self.controls[tracked.mrid] = tracked

    def targeting(self, lfdi: str) -> list[Tracked]:
        return [t for t in self.controls.values() if lfdi in t.ieds]

    def desired(
        self, lfdi: str, now: float, refused: frozenset[tuple[str, DerSemantic]] = frozenset()
    ) -> dict[DerSemantic, tuple[Value, str]]:
        """Semantic -> (value, mRID of the control that sets it) in force for ``lfdi``."""
        out: dict[DerSemantic, tuple[Value, str]] = {}
        for t in sorted(self.targeting(lfdi), key=Tracked.rank):
            if not t.active(now):
                continue
            for semantic, value in t.points.items():
                if semantic not in out and (t.mrid, semantic) not in refused:
                    out[semantic] = (value, t.mrid)
        return out

    def next_change(self, now: float) -> float | None:
        """The next start or end after ``now`` (when the envelope of some IED changes)."""
        times = [
            moment
            for t in self.controls.values()
            if not t.control.cancelled
            for moment in (t.control.start, t.control.end)
            if moment > now
        ]
        return min(times, default=None)

    def ieds(self) -> set[str]:
        return {lfdi for t in self.controls.values() for lfdi in t.ieds}


# -- per-IED state ------------------------------------------------------------------------------


@dataclass
class IedState:
    """What the dispatcher did to one IED: the values before it, what it wrote, responses."""

    entry: IedEntry
    baseline: dict[DerSemantic, Value] = field(default_factory=dict)
    written: dict[DerSemantic, Value] = field(default_factory=dict)
    refused: set[tuple[str, DerSemantic]] = field(default_factory=set)
    reported: set[tuple[str, ResponseStatus]] = field(default_factory=set)
    failures: int = 0
    retry_at: float = 0.0
    last_error: str = ""


@dataclass
class PassOutcome:
    """What one reconciliation pass did, per control (for responses and audit)."""

    applied: dict[str, list[str]] = field(default_factory=dict)
    restored: dict[str, list[str]] = field(default_factory=dict)
    refused: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    unreachable: list[str] = field(default_factory=list)
    responses: list[Response] = field(default_factory=list)


# -- the dispatcher -----------------------------------------------------------------------------


class Dispatcher:
    """Consumes fleet changes and keeps every registered IED's envelope as the schedule says."""

    def __init__(
        self,
        fleet: FleetService,
        audit: AuditLog,
        centre: ControlCentre,
        *,
        node: str = "",
        clock: Callable[[], float] = time.time,
        concurrency: int = 64,
        operation_timeout: float = 10.0,
        actor: str = "derlink.iec61850.dispatch",
    ) -> None:
        self.fleet = fleet
        self.db = fleet.db
        self.audit = audit
        self.centre = centre
        self.node = node or f"dispatch-{id(self):x}"
        self.clock = clock
        self.concurrency = concurrency
        self.operation_timeout = operation_timeout
        self.actor = actor
        self.schedule = Schedule()
        self.states: dict[str, IedState] = {}
        self.feed = OutboxFeed(self.db, CURSOR, self.node)
        self._loaded = False
        self._gate = asyncio.Semaphore(concurrency)

    # -- the change outbox ----------------------------------------------------------------------

    async def consume(self) -> int:
        """Take pending changes into the schedule if this node holds the lease; how many."""
        if not await self.feed.hold(int(self.clock())):
            self._loaded = False  # whoever holds it now may move on: reload on taking it back
            return 0
        async with self.db.sessions() as s:
            position = await self.feed.position(s)
            if not self._loaded:
                # everything not yet ended is reloaded; older changes say nothing more
                latest = await s.scalar(select(func.max(ChangeRow.id))) or 0
                changes: list[ChangeRow] = []
            else:
                changes = await self.feed.pending(s, position)
                latest = changes[-1].id if changes else 0
        if not self._loaded:
            await self._reload_all()
            self._loaded = True
        elif changes:
            await self._take(changes)
        if latest and latest != position:
            async with self.db.transaction() as s:
                await self.feed.advance(s, latest)
        return len(changes)

    async def release(self) -> None:
        """Give the lease up (on shutdown), so another node takes over at once."""
        await self.feed.release()

    async def _take(self, changes: list[ChangeRow]) -> None:
        if any(c.kind in ("all", "group", "site", "device", "program") for c in changes):
            await self._reload_all()  # memberships or several controls may have changed
            return
        for change in changes:
            if change.kind == "control":
                await self._reload_control(change.key)

    async def _reload_all(self) -> None:
        programs = {p.id: p for p in await self.fleet.programs()}
        seen: set[str] = set()
        for program in programs.values():
            for control in await self.fleet.controls(program=program.id):
                seen.add(control.mrid)
                await self._follow(control, program)
        now = self.clock()
        for mrid, tracked in list(self.schedule.controls.items()):
            if mrid not in seen and tracked.control.end > now and not tracked.control.cancelled:
                # its program was removed: as good as cancelled
                self._cancelled(tracked)

    async def _reload_control(self, mrid: str) -> None:
        try:
            control = await self.fleet.control(mrid)
            program = await self.fleet.program(control.program)
        except NotFound:
            tracked = self.schedule.controls.get(mrid)
            if tracked is not None:
                self._cancelled(tracked)
            return
        await self._follow(control, program)

    async def _follow(self, control: Control, program: Program) -> None:
        known = self.schedule.controls.get(control.mrid)
        ieds = await ieds_in_groups(self.db, program.groups)
        if not ieds and known is None:
            return  # nobody speaks 61850 here
        new = [e for e in ieds if e.lfdi not in self.states]
        for entry in ieds:
            state = self.states.setdefault(entry.lfdi, IedState(entry))
            state.entry = entry
        if new:
            await self._load_baselines([e.lfdi for e in new])
        points, unsupported = envelope_points(control.base)
        curve = control.base.volt_var_curve
        if curve is not None:
            found = await self._curve(curve)
            if found is not None:
                points[DerSemantic.VOLT_VAR_CURVE] = found
                unsupported = tuple(u for u in unsupported if u != "volt_var_curve")
        lfdis = frozenset(e.lfdi for e in ieds)
        if known is not None:
            lfdis |= known.ieds  # an IED that left the group is still undone
        self.schedule.track(Tracked(control, program.primacy, points, unsupported, lfdis))
        if known is None:
            await self._load_responses(control.mrid, lfdis)

    async def _load_responses(self, mrid: str, lfdis: frozenset[str]) -> None:
        """What was already recorded for ``mrid`` (by an earlier run): not recorded again."""
        async with self.db.sessions() as s:
            rows = (
                await s.execute(
                    select(ResponseRow.lfdi, ResponseRow.status).where(
                        ResponseRow.subject == mrid, ResponseRow.lfdi.in_(sorted(lfdis))
                    )
                )
            ).all()
        for lfdi, status in rows:
            state = self.states.get(lfdi)
            if state is not None:
                with contextlib.suppress(ValueError):
                    state.reported.add((mrid, ResponseStatus(status)))

    async def _curve(self, curve_id: str) -> Curve | None:
        """The points of a volt-var curve (x: % of nominal voltage, y: % of var rating)."""
        async with self.db.sessions() as s:
            row = await s.get(CurveRow, curve_id)
        if row is None:
            return None
        points = curve_from_row(row).points
        return points if len(points) <= CURVE_POINTS else None

    def _cancelled(self, tracked: Tracked) -> None:
        control = replace(tracked.control, status=ControlStatus.CANCELLED)
        self.schedule.track(replace(tracked, control=control))

    # -- reconciliation -------------------------------------------------------------------------

    async def reconcile(self) -> PassOutcome:
        """Bring every IED of a followed control to the envelope in force now; record
        responses and audit."""
        now = self.clock()
        outcome = PassOutcome()
        lfdis = [x for x in sorted(self.schedule.ieds()) if x in self.states]
        await asyncio.gather(*(self._reconcile_one(self.states[x], now, outcome) for x in lfdis))
        await self._record(outcome)
        self._forget_finished(now)
        return outcome

    async def run_once(self) -> PassOutcome:
        await self.consume()
        return await self.reconcile()

    async def run(self, stop: asyncio.Event, *, interval: float = 0.5) -> None:
        """Consume and reconcile every ``interval`` seconds until ``stop`` is set."""
        try:
            while not stop.is_set():
                try:
                    await self.run_once()
                except DerlinkError as err:
                    log.warning("61850 dispatch pass failed: %s", err)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), interval)
        finally:
            with contextlib.suppress(DerlinkError):
                await self.release()

    def _plan(
        self, state: IedState, now: float
    ) -> tuple[dict[DerSemantic, tuple[Value, str | None]], dict[DerSemantic, tuple[Value, str]]]:
        desired = self.schedule.desired(state.entry.lfdi, now, frozenset(state.refused))
        changes: dict[DerSemantic, tuple[Value, str | None]] = {}
        for semantic, (value, mrid) in desired.items():
            if state.written.get(semantic) != value:
                changes[semantic] = (value, mrid)
        for semantic in list(state.baseline):  # what derlink changed and has not restored
            if semantic not in desired:
                changes[semantic] = (state.baseline[semantic], None)
        return changes, desired

    async def _reconcile_one(self, state: IedState, now: float, outcome: PassOutcome) -> None:
        changes, desired = self._plan(state, now)
        if changes and now < state.retry_at:
            return
        if changes:
            async with self._gate:
                try:
                    jid = await self._associate(state)
                    await self._apply(jid, state, changes, outcome)
                except DerlinkError as err:
                    state.failures += 1
                    state.last_error = str(err)[:200]
                    state.retry_at = now + RETRY_S[min(state.failures, len(RETRY_S)) - 1]
                    outcome.unreachable.append(state.entry.lfdi)
                    log.info("IED %s not reached: %s", state.entry.jid, err)
                    return
            state.failures = 0
            changes, desired = self._plan(state, now)
        self._responses(state, now, desired, pending=bool(changes), outcome=outcome)

    async def _associate(self, state: IedState) -> str:
        bare = state.entry.jid
        resources = self.centre.presence.resources(bare)
        if not resources:
            self.centre.watch([f"{bare}/{DEFAULT_RESOURCE}"])
            raise DispatchError(f"{bare} is not available")
        jid = resources[0]
        await self.centre.associate(jid, timeout=self.operation_timeout)
        return jid

    async def _apply(
        self,
        jid: str,
        state: IedState,
        changes: Mapping[DerSemantic, tuple[Value, str | None]],
        outcome: PassOutcome,
    ) -> None:
        name = state.entry.ied_name
        for semantic, (value, mrid) in changes.items():
            try:
                if mrid is not None and semantic not in state.baseline:
                    before = await self._read(jid, name, semantic)
                    await self._save_baseline(state.entry.lfdi, semantic, before)
                    state.baseline[semantic] = before
                await self._write(jid, name, semantic, value)
            except (ServiceError, ControlNotCompleted) as err:
                # the IED refused this one (transport failures propagate: unreachable, retried)
                log.warning("%s refused %s = %r: %s", state.entry.jid, semantic, value, err)
                if mrid is not None:
                    state.refused.add((mrid, semantic))
                    outcome.refused.setdefault(mrid, []).append((state.entry.lfdi, str(err)[:120]))
                else:
                    await self._forget_restore(state, semantic)
                continue
            if mrid is None:
                await self._forget_restore(state, semantic)
            else:
                state.written[semantic] = value
                outcome.applied.setdefault(mrid, []).append(state.entry.lfdi)

    async def _forget_restore(self, state: IedState, semantic: DerSemantic) -> None:
        """A restore is over (the IED took its value back, or refused it): nothing to undo."""
        state.written.pop(semantic, None)
        state.baseline.pop(semantic, None)
        await self._drop_baseline(state.entry.lfdi, semantic)

    # -- what to restore, durable -------------------------------------------------------------

    async def _load_baselines(self, lfdis: list[str]) -> None:
        async with self.db.sessions() as s:
            rows = (
                await s.scalars(select(IedBaselineRow).where(IedBaselineRow.lfdi.in_(lfdis)))
            ).all()
        for row in rows:
            state = self.states.get(row.lfdi)
            if state is not None:
                state.baseline[DerSemantic(row.point)] = _decode_value(row.value)

    async def _save_baseline(self, lfdi: str, semantic: DerSemantic, value: Value) -> None:
        """Durable before the IED is changed: a restart still knows what to restore."""
        async with self.db.transaction() as s:
            await s.merge(IedBaselineRow(lfdi=lfdi, point=str(semantic), value=_encode(value)))

    async def _drop_baseline(self, lfdi: str, semantic: DerSemantic) -> None:
        async with self.db.transaction() as s:
            await s.execute(
                delete(IedBaselineRow).where(
                    IedBaselineRow.lfdi == lfdi, IedBaselineRow.point == str(semantic)
                )
            )

    async def _read(self, jid: str, ied_name: str, semantic: DerSemantic) -> Value:
        point = DER_POINTS[semantic]
        ref = _ref(ied_name, f"{point.data}.{point.value}")
        if semantic is DerSemantic.VOLT_VAR_CURVE:
            count = await self.centre.read(jid, _ref(ied_name, f"{point.data}.numPts"), point.fc)
            pts = await self.centre.read(jid, ref, point.fc)
            return tuple((float(x), float(y)) for x, y in list(pts)[: int(count)])
        raw = await self.centre.read(jid, ref, point.fc)
        if semantic is DerSemantic.CONNECT:
            return int(raw) != DEROP_DISCONNECTED
        return float(raw)

    async def _write(self, jid: str, ied_name: str, semantic: DerSemantic, value: Value) -> None:
        point = DER_POINTS[semantic]
        if isinstance(value, tuple):
            await self._write_curve(jid, ied_name, point.data, value)
            return
        if point.access is Access.SETTING:
            ref = _ref(ied_name, f"{point.data}.{point.value}")
            data = mms_data.to_data(mms_data.td_float32(), float(value))
            await self.centre.write(jid, ref, point.fc, data)
            return
        if semantic is DerSemantic.CONNECT:
            ctl_val = enum_value(DEROP_CONNECTED if value else DEROP_DISCONNECTED)
        else:
            ctl_val = analogue(float(value))
        ended = await self.centre.sbo_operate(
            jid, _ref(ied_name, point.data), ctl_val, timeout=self.operation_timeout
        )
        if not ended.success:
            cause = ended.add_cause.name if ended.add_cause is not None else "unknown"
            raise ControlNotCompleted(f"{point.data}: CommandTermination negative ({cause})")

    async def _write_curve(self, jid: str, ied_name: str, data: str, points: Curve) -> None:
        """A CSG curve: the points (padded to the array's size), then how many count."""
        padded = list(points) + [(0.0, 0.0)] * (CURVE_POINTS - len(points))
        f32 = mms_data.td_float32()
        array = (
            "array",
            [
                ("structure", [mms_data.to_data(f32, x), mms_data.to_data(f32, y)])
                for x, y in padded
            ],
        )
        await self.centre.write(jid, _ref(ied_name, f"{data}.crvPts"), FC.SP, array)
        await self.centre.write(
            jid, _ref(ied_name, f"{data}.numPts"), FC.SP, ("unsigned", len(points))
        )

    # -- responses ------------------------------------------------------------------------------

    def _responses(
        self,
        state: IedState,
        now: float,
        desired: Mapping[DerSemantic, tuple[Value, str]],
        *,
        pending: bool,
        outcome: PassOutcome,
    ) -> None:
        lfdi = state.entry.lfdi

        def say(mrid: str, status: ResponseStatus) -> None:
            if (mrid, status) not in state.reported:
                state.reported.add((mrid, status))
                outcome.responses.append(Response(mrid, lfdi, status, int(now)))

        for t in self.schedule.targeting(lfdi):
            mrid, c = t.mrid, t.control
            started = (mrid, ResponseStatus.EVENT_STARTED) in state.reported
            rejected = (mrid, ResponseStatus.REJECTED_NOT_APPLICABLE) in state.reported
            if c.cancelled:
                if started and not pending:
                    say(mrid, ResponseStatus.EVENT_CANCELLED)
            elif now >= c.end:
                if started and not pending:
                    say(mrid, ResponseStatus.EVENT_COMPLETED)
            elif t.active(now) and not started and not rejected:
                if not t.points or any((mrid, s) in state.refused for s in t.points):
                    say(mrid, ResponseStatus.REJECTED_NOT_APPLICABLE)
                elif all(
                    s in desired and (desired[s][1] != mrid or state.written.get(s) == v)
                    for s, v in t.points.items()
                ):
                    say(mrid, ResponseStatus.EVENT_RECEIVED)
                    say(mrid, ResponseStatus.EVENT_STARTED)

    async def _record(self, outcome: PassOutcome) -> None:
        if outcome.responses:
            await self.fleet.record_responses(outcome.responses)
        events: list[AuditEvent] = []
        for mrid, lfdis in sorted(outcome.applied.items()):
            tracked = self.schedule.controls.get(mrid)
            details = {
                "ieds": len(set(lfdis)),
                "points": sorted(str(s) for s in tracked.points) if tracked else [],
                "unsupported": list(tracked.unsupported) if tracked else [],
            }
            events.append(
                self._event("iec61850.dispatch.apply", mrid, "IEC61850:Dispatch.1", details)
            )
        for mrid, refusals in sorted(outcome.refused.items()):
            details = {
                "ieds": len({lfdi for lfdi, _ in refusals}),
                "first": [f"{lfdi}: {why}" for lfdi, why in refusals[:5]],
            }
            events.append(
                self._event(
                    "iec61850.dispatch.refused", mrid, "IEC61850:Dispatch.2", details, failed=True
                )
            )
        restored = [r for r in outcome.responses if r.status in _FINAL]
        by_control: dict[str, int] = {}
        for response in restored:
            by_control[response.subject] = by_control.get(response.subject, 0) + 1
        for mrid, count in sorted(by_control.items()):
            events.append(
                self._event(
                    "iec61850.dispatch.restore", mrid, "IEC61850:Dispatch.3", {"ieds": count}
                )
            )
        if events:
            await self.audit.append_many(events)

    def _event(
        self,
        action: str,
        mrid: str,
        event_id: str,
        details: dict[str, Any],
        *,
        failed: bool = False,
    ) -> AuditEvent:
        """This dispatcher's audit record ``action`` about control ``mrid``: a notice, or a
        warning when it records a failure."""
        return AuditEvent(
            action=action,
            target=f"control:{mrid}",
            actor=self.actor,
            outcome=Outcome.FAILURE if failed else Outcome.SUCCESS,
            severity=Severity.WARNING if failed else Severity.NOTICE,
            event_id=event_id,
            source=SOURCE,
            details=details,
        )

    def _forget_finished(self, now: float) -> None:
        """Drop controls that ended (or were cancelled) once every IED was answered for."""
        for mrid, t in list(self.schedule.controls.items()):
            if t.active(now) or (not t.control.cancelled and now < t.control.start):
                continue
            waiting = False
            for lfdi in t.ieds:
                state = self.states.get(lfdi)
                if state is None:
                    continue
                started = (mrid, ResponseStatus.EVENT_STARTED) in state.reported
                final = any((mrid, s) in state.reported for s in _FINAL)
                if started and not final:
                    waiting = True
            if not waiting:
                del self.schedule.controls[mrid]

    # -- inspection -----------------------------------------------------------------------------

    def summary(self) -> dict[str, int]:
        """Counts for a console: IEDs known, followed controls, IEDs with derlink values."""
        return {
            "ieds": len(self.states),
            "controls": len(self.schedule.controls),
            "ieds_changed": sum(1 for s in self.states.values() if s.written),
            "unreachable": sum(1 for s in self.states.values() if s.failures),
        }


class ControlNotCompleted(DerlinkError):
    """An operate was accepted but its CommandTermination reported failure."""


DEFAULT_RESOURCE = "derlink"
_FINAL = (ResponseStatus.EVENT_COMPLETED, ResponseStatus.EVENT_CANCELLED)


def _encode(value: Value) -> str:
    return json.dumps(value)


def _decode_value(text: str) -> Value:
    value = json.loads(text)
    if isinstance(value, list):
        return tuple((float(x), float(y)) for x, y in value)
    return value if isinstance(value, bool) else float(value)


def _ref(ied_name: str, path: str) -> ObjectReference:
    return ObjectReference.parse(f"{ied_name}{DER_LD_INST}/{path}")


async def watch_ieds(centre: ControlCentre, ieds: Iterable[IedEntry]) -> None:
    """Announce the centre to these IEDs so their presence (and full JID) is known."""
    centre.watch(f"{e.jid}/{DEFAULT_RESOURCE}" for e in ieds)


__all__ = [
    "CURSOR",
    "ENVELOPE_POINTS",
    "ControlNotCompleted",
    "DispatchError",
    "Dispatcher",
    "IedState",
    "PassOutcome",
    "Schedule",
    "Tracked",
    "envelope_points",
    "watch_ieds",
]
