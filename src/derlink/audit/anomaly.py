"""Anomaly detection: command rates per operator, group and device, failed authentications.

As in GB smart metering's anomaly detection, each deployment sets thresholds on how many
commands an operator may issue, and how many may reach one group or one device, within a
sliding window; and how many failed authentications one source may cause. Above a threshold a
command is *held* for a second operator's approval or *refused* (``[anomaly] action``), and a
security event (IEC 62351-14 style: severity, ``Domain:Group.Number``, text) is audited.

:class:`AnomalyDetector` is the sans-IO core: keys and times in, an :class:`Assessment` out;
time is always passed in. :class:`AnomalyGuard` is its thin database shell: the windows are
counts of ``anomaly_count`` rows, so every process (each CLI invocation, every head-end worker)
sees the same counts, and the rows of a key older than the window are deleted as it is counted.
A process that only needs its own view (the 2030.5 server's failed authentications) uses the
detector in memory; those counters restart with the process.

A control counts once for every device it reaches (the devices of the sites in its groups).
Those counts are set-based: one ``DELETE`` of the expired rows, one ``INSERT ... SELECT`` of a
row per reached device and one grouped ``SELECT`` of the devices above the threshold, whatever
the number of devices, so a group of 10,000 devices costs three statements, not 30,000.
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import BigInteger, delete, func, insert, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from derlink.audit.event import AuditEvent, Outcome, Severity
from derlink.errors import DerlinkError
from derlink.store.schema import AnomalyCountRow, DeviceRow, SiteGroupRow


class AnomalyError(DerlinkError):
    """A command was stopped by anomaly detection (held or refused)."""

    exit_code = 9


class CommandHeld(AnomalyError):
    """The command is held until a second operator approves it (``held_id``)."""

    def __init__(self, held_id: int, reason: str) -> None:
        super().__init__(
            f"held for a second operator's approval as held control {held_id}: {reason}"
        )
        self.held_id = held_id
        self.reason = reason


class CommandRefused(AnomalyError):
    """The command was refused: a rate threshold is exceeded and the action is ``refuse``."""


class Counter(enum.Enum):
    OPERATOR = "operator"
    GROUP = "group"
    DEVICE = "device"
    FAILED_AUTH = "auth"


class Action(enum.Enum):
    ALLOW = "allow"
    HOLD = "hold"
    REFUSE = "refuse"


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Per-deployment thresholds: at most ``per_*`` events per ``window`` seconds."""

    window: int = 60
    per_operator: int = 60
    per_group: int = 30
    per_device: int = 10
    failed_auth: int = 20
    action: Action = Action.HOLD

    @classmethod
    def from_config(cls, anomaly: Any) -> Thresholds:
        """From an ``AnomalyConfig`` (``[anomaly]`` section)."""
        return cls(
            window=anomaly.window_seconds,
            per_operator=anomaly.max_per_operator,
            per_group=anomaly.max_per_group,
            per_device=anomaly.max_per_device,
            failed_auth=anomaly.max_failed_auth,
            action=Action(anomaly.action),
        )

    def limit(self, counter: Counter) -> int:
        return {
            Counter.OPERATOR: self.per_operator,
            Counter.GROUP: self.per_group,
            Counter.DEVICE: self.per_device,
            Counter.FAILED_AUTH: self.failed_auth,
        }[counter]


def key_of(counter: Counter, name: str) -> str:
    return f"{counter.value}:{name}"[:300]


@dataclass(frozen=True, slots=True)
class Exceeded:
    counter: Counter
    name: str
    count: int
    limit: int

    def __str__(self) -> str:
        return f"{self.count} events of {self.counter.value} {self.name} (limit {self.limit})"


@dataclass(frozen=True, slots=True)
class Assessment:
    """What the detector says about one command or failed authentication."""

    action: Action
    exceeded: tuple[Exceeded, ...] = ()
    window: int = 60

    @property
    def anomalous(self) -> bool:
        return bool(self.exceeded)

    @property
    def reason(self) -> str:
        if not self.exceeded:
            return "within thresholds"
        return "; ".join(str(e) for e in self.exceeded) + f" in {self.window} s"

    def event(self, *, actor: str, target: str, source: str, action: str) -> AuditEvent:
        """The security event of an anomalous assessment (62351-14 style id and severity)."""
        failed_auth = any(e.counter is Counter.FAILED_AUTH for e in self.exceeded)
        if failed_auth:
            event_id, severity = "Anomaly:FailedAuth.1", Severity.ALARM
        elif self.action is Action.REFUSE:
            event_id, severity = "Anomaly:CommandRate.2", Severity.ALARM
        else:
            event_id, severity = "Anomaly:CommandRate.1", Severity.WARNING
        return AuditEvent(
            action=action,
            target=target,
            actor=actor,
            outcome=Outcome.SUCCESS if self.action is Action.HOLD else Outcome.DENIED,
            severity=severity,
            event_id=event_id,
            source=source,
            details={
                "anomaly": self.action.value,
                "reason": self.reason,
                "exceeded": [
                    {"counter": e.counter.value, "key": e.name, "count": e.count, "limit": e.limit}
                    for e in self.exceeded
                ],
            },
        )


@dataclass
class AnomalyDetector:
    """Sliding-window counters (sans-IO). Every assessed event counts, held or not."""

    thresholds: Thresholds = field(default_factory=Thresholds)
    _windows: dict[str, deque[int]] = field(default_factory=dict, repr=False)

    def observe(self, key: str, time: int) -> None:
        """Count one past event of ``key`` (loading history from storage)."""
        self._windows.setdefault(key, deque()).append(time)

    def count(self, key: str, now: int) -> int:
        window = self._windows.get(key)
        if window is None:
            return 0
        horizon = now - self.thresholds.window
        while window and window[0] <= horizon:
            window.popleft()
        if not window:
            del self._windows[key]
            return 0
        return len(window)

    def _assess(self, items: Iterable[tuple[Counter, str]], now: int, action: Action) -> Assessment:
        exceeded: list[Exceeded] = []
        for counter, name in items:
            key = key_of(counter, name)
            self.observe(key, now)
            count = self.count(key, now)
            limit = self.thresholds.limit(counter)
            if count > limit:
                exceeded.append(Exceeded(counter, name, count, limit))
        verdict = action if exceeded else Action.ALLOW
        return Assessment(verdict, tuple(exceeded), self.thresholds.window)

    def assess_command(
        self,
        *,
        operator: str,
        groups: Iterable[str] = (),
        devices: Iterable[str] = (),
        now: int,
    ) -> Assessment:
        """Count one command by ``operator`` reaching ``groups`` and ``devices``."""
        items = [(Counter.OPERATOR, operator)]
        items += [(Counter.GROUP, g) for g in sorted(set(groups))]
        items += [(Counter.DEVICE, d) for d in sorted(set(devices))]
        return self._assess(items, now, self.thresholds.action)

    def assess_failed_auth(self, source: str, *, now: int) -> Assessment:
        """Count one failed authentication from ``source``; anomalous above the threshold
        (the request is refused anyway: the assessment only raises the security event)."""
        return self._assess([(Counter.FAILED_AUTH, source)], now, Action.REFUSE)


def command_keys(operator: str, groups: Iterable[str], devices: Iterable[str]) -> list[str]:
    keys = [key_of(Counter.OPERATOR, operator)]
    keys += [key_of(Counter.GROUP, g) for g in sorted(set(groups))]
    keys += [key_of(Counter.DEVICE, d) for d in sorted(set(devices))]
    return keys


NAMED_DEVICES = 20
"""At most this many devices above the threshold are named in one assessment."""


@dataclass(frozen=True)
class AnomalyGuard:
    """The detector over the database: counts shared by every process of the deployment."""

    thresholds: Thresholds = field(default_factory=Thresholds)

    async def screen_command(
        self,
        session: AsyncSession,
        *,
        operator: str,
        groups: Iterable[str] = (),
        devices: Iterable[str] = (),
        now: int,
        reach: bool = True,
    ) -> Assessment:
        """Assess a command inside the caller's transaction and count it (rows written in
        ``session``'s transaction: they are durable only if the caller commits).

        With ``reach`` the command also counts for every device at a site of ``groups``
        (beyond those named in ``devices``), in the database, in a constant number of
        statements; the devices above ``per_device`` are named in the assessment."""
        groups, devices = sorted(set(groups)), sorted(set(devices))
        keys = command_keys(operator, groups, devices)
        horizon = now - self.thresholds.window
        await session.execute(
            delete(AnomalyCountRow).where(
                AnomalyCountRow.key.in_(keys), AnomalyCountRow.time <= horizon
            )
        )
        rows = await session.execute(
            select(AnomalyCountRow.key, AnomalyCountRow.time)
            .where(AnomalyCountRow.key.in_(keys), AnomalyCountRow.time > horizon)
            .order_by(AnomalyCountRow.time)
        )
        detector = AnomalyDetector(self.thresholds)
        for key, time in rows.all():
            detector.observe(key, time)
        await session.execute(insert(AnomalyCountRow), [{"key": k, "time": now} for k in keys])
        assessment = detector.assess_command(
            operator=operator, groups=groups, devices=devices, now=now
        )
        if not reach or not groups:
            return assessment
        reached = await self._count_reached(session, groups, devices, now)
        if not reached:
            return assessment
        exceeded = assessment.exceeded + reached
        return Assessment(self.thresholds.action, exceeded, self.thresholds.window)

    async def _count_reached(
        self, session: AsyncSession, groups: list[str], named: list[str], now: int
    ) -> tuple[Exceeded, ...]:
        """Count the command once for each device at a site of ``groups`` (those in ``named``
        are already counted) and return the devices above the threshold, most counted first
        (at most :data:`NAMED_DEVICES` of them). Three statements, whatever the fleet's size."""
        prefix = f"{Counter.DEVICE.value}:"
        reached = (
            select(DeviceRow.lfdi)
            .join(SiteGroupRow, SiteGroupRow.site_id == DeviceRow.site_id)
            .where(SiteGroupRow.group_id.in_(groups))
        )
        if named:
            reached = reached.where(DeviceRow.lfdi.not_in(named))
        keys = select((literal(prefix) + DeviceRow.lfdi).label("key")).where(
            DeviceRow.lfdi.in_(reached.scalar_subquery())
        )
        horizon = now - self.thresholds.window
        await session.execute(
            delete(AnomalyCountRow).where(
                AnomalyCountRow.key.in_(keys.scalar_subquery()), AnomalyCountRow.time <= horizon
            )
        )
        await session.execute(
            insert(AnomalyCountRow).from_select(
                ["key", "time"], keys.add_columns(literal(now, BigInteger).label("time"))
            )
        )
        count = func.count().label("n")
        limit = self.thresholds.per_device
        over = await session.execute(
            select(AnomalyCountRow.key, count)
            .where(AnomalyCountRow.key.in_(keys.scalar_subquery()), AnomalyCountRow.time > horizon)
            .group_by(AnomalyCountRow.key)
            .having(count > limit)
            .order_by(count.desc(), AnomalyCountRow.key)
            .limit(NAMED_DEVICES)
        )
        return tuple(
            Exceeded(Counter.DEVICE, key.removeprefix(prefix), n, limit) for key, n in over.all()
        )
