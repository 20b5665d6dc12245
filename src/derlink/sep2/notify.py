"""Subscriptions and notifications: from a change in the fleet to a POST at the subscriber.

Two stages, both durable and safe with several server nodes:

1. :class:`ChangeConsumer` reads the change outbox (written by the fleet service in the same
   transaction as the change) under a lease, so one node at a time does it. For each changed
   program it renders each subscribed resource once, wraps it in a ``Notification`` per
   subscriber that may see it, and queues those in the same transaction that advances its
   cursor: a change is turned into notifications exactly once.
2. :class:`Deliverer` claims due notifications (``claimed_by``/``claimed_until`` set in one
   UPDATE, so two nodes never claim the same row), POSTs each to its ``notificationURI`` over
   TLS, and marks it delivered on 2xx; otherwise retries with exponential back-off. A node that
   dies mid-batch leaves claims that expire and are taken over: a notification is delivered at
   least once, and twice only when a node dies between the client's 2xx and the mark.
"""

from __future__ import annotations

import asyncio
import logging
import re
import ssl
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import select, update

from derlink.control.errors import NotFound
from derlink.control.outbox import OutboxFeed
from derlink.domain import Program
from derlink.sep2 import hrefs
from derlink.sep2.http import HttpError
from derlink.sep2.outbound import OutboundClient, OutboundError
from derlink.sep2.xml import MEDIA_TYPE, Notification, Sep2Object, encode
from derlink.store.database import Database
from derlink.store.schema import (
    ChangeRow,
    ControlRow,
    DeviceRow,
    NotificationRow,
    SiteGroupRow,
    SubscriptionRow,
)

log = logging.getLogger("derlink.sep2.notify")

CURSOR = "sep2-notify"
CLAIM_SECONDS = 30
BATCH = 200
MAX_ATTEMPTS = 16
PROGRAM_PARTS = ("", "derc", "actderc", "dderc")
PROGRAM_HREF = re.compile(
    r"^/derp/(?P<program>[A-Za-z0-9._:-]{1,64})(?:/(?P<part>derc|actderc|dderc))?$"
)


async def subscribable_resource(call: object, href: str) -> None:
    """Refuse a subscription to anything but a program resource the caller may read."""
    from derlink.sep2.app import Call
    from derlink.sep2.res_der import visible_program

    assert isinstance(call, Call)
    match = PROGRAM_HREF.match(href)
    if match is None:
        raise HttpError(
            400,
            f"{href} is not subscribable here: subscribe to a DERProgram, its DERControlList, "
            "ActiveDERControlList or DefaultDERControl",
            reason=1,
        )
    await visible_program(call, match.group("program"))


def backoff(attempts: int) -> int:
    """Seconds before the next try: 2, 4, 8... capped at one hour."""
    return int(min(3600, 2 ** max(1, attempts)))


@dataclass
class ChangeConsumer:
    """Turns fleet changes into queued notifications (stage 1)."""

    db: Database
    render: Callable[[Program, str], Awaitable[Sep2Object | None]]
    programs: Callable[[str], Awaitable[Program]]
    node: str = ""
    clock: Callable[[], float] = lambda: 0.0
    _feed: OutboxFeed = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._feed = OutboxFeed(self.db, CURSOR, self.node)

    async def run_once(self) -> int:
        """Process the pending changes if this node holds the lease; returns how many."""
        now = int(self.clock())
        if not await self._feed.hold(now):
            return 0
        async with self.db.sessions() as s:
            changes = await self._feed.pending(s, await self._feed.position(s))
        if not changes:
            return 0
        programs = await self._programs_of(changes)
        items = await self._notifications(programs)
        async with self.db.transaction() as s:
            s.add_all(
                NotificationRow(
                    subscription_id=sub_id,
                    uri=uri,
                    body=body.decode(),
                    created=now,
                    next_attempt=now,
                )
                for sub_id, uri, body in items
            )
            await self._feed.advance(s, changes[-1].id)
        return len(changes)

    async def release(self) -> None:
        """Give the lease up (on shutdown), so another node takes over at once."""
        await self._feed.release()

    async def _programs_of(self, changes: Sequence[ChangeRow]) -> set[str]:
        ids: set[str] = set()
        mrids = [c.key for c in changes if c.kind == "control"]
        ids.update(c.key for c in changes if c.kind == "program")
        everything = any(c.kind in ("all", "group", "site") for c in changes)
        async with self.db.sessions() as s:
            if mrids:
                rows = await s.scalars(
                    select(ControlRow.program_id).where(ControlRow.mrid.in_(mrids))
                )
                ids.update(rows.all())
            if everything:
                from derlink.store.schema import ProgramRow

                ids.update((await s.scalars(select(ProgramRow.id))).all())
        return ids

    async def _notifications(self, program_ids: set[str]) -> list[tuple[int, str, bytes]]:
        items: list[tuple[int, str, bytes]] = []
        for program_id in sorted(program_ids):
            targets = [
                hrefs.program(program_id, p) if p else hrefs.program(program_id)
                for p in PROGRAM_PARTS
            ]
            subscribers = await self._subscribers(targets)
            if not subscribers:
                continue
            try:
                program = await self.programs(program_id)
            except NotFound:
                continue
            allowed = await self._lfdis_in_groups(program.groups)
            for target in targets:
                subs = [s for s in subscribers if s[0].resource == target and s[0].lfdi in allowed]
                if not subs:
                    continue
                resource = await self.render(program, target)
                if resource is None:
                    continue
                items.extend(_wrap(sub, sfdi, target, resource) for sub, sfdi in subs)
        return items

    async def _subscribers(self, targets: list[str]) -> list[tuple[SubscriptionRow, int]]:
        """Subscriptions to ``targets`` with the SFDI of the subscribing EndDevice."""
        async with self.db.sessions() as s:
            rows = await s.execute(
                select(SubscriptionRow, DeviceRow.sfdi)
                .join(DeviceRow, DeviceRow.lfdi == SubscriptionRow.lfdi)
                .where(SubscriptionRow.resource.in_(targets))
            )
            return [(sub, int(sfdi)) for sub, sfdi in rows.all()]

    async def _lfdis_in_groups(self, groups: frozenset[str]) -> set[str]:
        """Devices (and their aggregators) at a site of one of ``groups``."""
        async with self.db.sessions() as s:
            sites = select(SiteGroupRow.site_id).where(SiteGroupRow.group_id.in_(groups))
            rows = (
                await s.execute(
                    select(DeviceRow.lfdi, DeviceRow.aggregator).where(
                        DeviceRow.site_id.in_(sites), DeviceRow.enabled.is_(True)
                    )
                )
            ).all()
        return {lfdi for lfdi, _ in rows} | {agg for _, agg in rows if agg}


def _wrap(
    sub: SubscriptionRow, sfdi: int, target: str, resource: Sep2Object
) -> tuple[int, str, bytes]:
    note = Notification(
        subscribedResource=target,
        Resource=resource,  # type: ignore[arg-type]
        status=0,
        subscriptionURI=hrefs.subscription(sfdi, sub.id),
    )
    return sub.id, sub.notification_uri, encode(note)


@dataclass
class Deliverer:
    """Delivers queued notifications (stage 2)."""

    db: Database
    tls: ssl.SSLContext | None
    clock: Callable[[], float]
    node: str = ""
    concurrency: int = 64

    def __post_init__(self) -> None:
        self.node = self.node or uuid.uuid4().hex[:16]

    async def run_once(self, client: OutboundClient) -> int:
        claimed = await self._claim()
        if not claimed:
            return 0
        gate = asyncio.Semaphore(self.concurrency)

        async def one(row: NotificationRow) -> tuple[int, str | None]:
            async with gate:
                return row.id, await self._post(client, row)

        results = await asyncio.gather(*(one(r) for r in claimed))
        await self._settle(claimed, dict(results))
        return len(claimed)

    async def _claim(self) -> list[NotificationRow]:
        now = int(self.clock())
        token = f"{self.node}:{uuid.uuid4().hex[:8]}"
        async with self.db.transaction() as s:
            due = (
                select(NotificationRow.id)
                .where(
                    NotificationRow.delivered == 0,
                    NotificationRow.next_attempt <= now,
                    NotificationRow.claimed_until < now,
                )
                .order_by(NotificationRow.id)
                .limit(BATCH)
            )
            claimed = await s.scalars(
                update(NotificationRow)
                .where(NotificationRow.id.in_(due.scalar_subquery()))
                .where(NotificationRow.claimed_until < now)
                .values(claimed_by=token, claimed_until=now + CLAIM_SECONDS)
                .returning(NotificationRow)
                .execution_options(synchronize_session=False)
            )
            return list(claimed.all())

    async def _post(self, client: OutboundClient, row: NotificationRow) -> str | None:
        try:
            status = await client.post(row.uri, row.body.encode(), MEDIA_TYPE)
        except OutboundError as err:
            return str(err)[:500]
        return None if 200 <= status < 300 else f"HTTP {status}"

    async def _settle(self, rows: list[NotificationRow], errors: dict[int, str | None]) -> None:
        now = int(self.clock())
        async with self.db.transaction() as s:
            for row in rows:
                error = errors[row.id]
                values: dict[str, object]
                if error is None:
                    values = {"delivered": now, "claimed_until": 0}
                else:
                    attempts = row.attempts + 1
                    values = {
                        "attempts": attempts,
                        "last_error": error,
                        "claimed_until": 0,
                        "next_attempt": now + backoff(attempts),
                        "delivered": -1 if attempts >= MAX_ATTEMPTS else 0,
                    }
                    log.info("notification %s to %s failed: %s", row.id, row.uri, error)
                await s.execute(
                    update(NotificationRow).where(NotificationRow.id == row.id).values(**values)
                )
