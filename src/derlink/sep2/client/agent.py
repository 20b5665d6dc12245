"""One EndDevice at work: the asyncio shell around the walker, the event engine, the mirror
clock and the subscription book.

:meth:`EndDeviceAgent.step` does whatever is due at ``now`` and returns; the owning
:class:`~derlink.sep2.client.client.DerClient` calls it again at :meth:`EndDeviceAgent.next_wake`
or when a notification arrives. A :class:`~derlink.sep2.client.errors.TransportFailure` is left
to the owner (it backs the whole connection off); a server's refusal of one request is handled
here, resource by resource.
"""

from __future__ import annotations

import logging
import random
from collections import deque
from dataclasses import dataclass

from derlink.domain import ControlBase
from derlink.sep2.client import documents, mirror
from derlink.sep2.client.config import ClientOptions, EndDeviceSpec
from derlink.sep2.client.device import DerDevice
from derlink.sep2.client.engine import Decision, EventEngine, Outgoing
from derlink.sep2.client.errors import (
    BadResource,
    ClientError,
    NotRegistered,
    PinMismatch,
    ServerAnswer,
    Unauthenticated,
)
from derlink.sep2.client.http import Sep2Http
from derlink.sep2.client.signed import SignedControls
from derlink.sep2.client.subscriptions import SubscriptionBook
from derlink.sep2.client.telemetry import Averager, Telemetry
from derlink.sep2.client.timebase import ServerClock
from derlink.sep2.client.walker import DeviceWalker
from derlink.sep2.xml import (
    DERControlResponse,
    EndDevice,
    MirrorUsagePoint,
    Notification,
    Registration,
    Sep2Object,
    SubscriptionList,
)

log = logging.getLogger("derlink.sep2.client")
FOREVER = float("inf")
MAX_ROUNDS = 8
RECHECK_SUBSCRIPTIONS = 60.0


@dataclass(slots=True)
class AgentStats:
    fetches: int = 0
    applied: int = 0
    responses: int = 0
    mirror_posts: int = 0
    notifications: int = 0
    last_fetch: float = 0.0


class EndDeviceAgent:
    """The client logic of one EndDevice."""

    def __init__(
        self,
        spec: EndDeviceSpec,
        device: DerDevice,
        http: Sep2Http,
        *,
        telemetry: Telemetry | None = None,
        options: ClientOptions | None = None,
        clock: ServerClock | None = None,
        rng: random.Random | None = None,
        notify_uri: str | None = None,
    ) -> None:
        self.spec = spec
        self.device = device
        self.http = http
        self.telemetry = telemetry
        self.options = options or ClientOptions()
        self.clock = clock or ServerClock()
        self.rng = rng or random.Random()
        self.walker = DeviceWalker(
            spec.lfdi, spec.sfdi, spec.pin, device_category=spec.device_category
        )
        self.engine = EventEngine(seed=spec.lfdi)
        self.subs = SubscriptionBook(self.options.subscribe, notify_uri)
        self.signed = _signed_controls(spec, self.options)
        self.stats = AgentStats()
        self.error: ClientError | None = None
        self.decision: Decision | None = None
        self.applied: ControlBase | None = None
        self.mup_list: str | None = None
        self.mirrors: dict[int, str] = {}
        self.mirror_clock: mirror.MirrorClock | None = None
        self.averager = Averager(0.0)
        self.outbox: deque[Outgoing] = deque()
        self._decided: tuple[int, int] = (-1, -1)
        self._outbox_due = 0.0
        self._docs_written = False
        self._status_due = 0.0
        self._subs_due = 0.0
        self._subs_version = -1
        self._next_sample = 0.0
        self._mirror_recheck = 0.0
        self._posted_once = False

    # --- state -----------------------------------------------------------------------------------

    @property
    def stopped(self) -> bool:
        return self.error is not None

    @property
    def once_done(self) -> bool:
        """One full cycle: registered, controls read and applied, responses posted, the DER
        described, telemetry mirrored once."""
        return (
            self.walker.registered
            and self.decision is not None
            and not self.outbox
            and self._docs_written
            and (self.telemetry is None or self._posted_once)
        )

    def stop(self, error: ClientError) -> None:
        if self.error is None:
            log.error("EndDevice %s stops: %s", self.spec.sfdi, error)
        self.error = error

    def next_wake(self) -> float:
        """The local time at which :meth:`step` has something to do."""
        if self.stopped:
            return FOREVER
        times = [self.walker.tree.next_due() or FOREVER]
        if self.decision is not None and self.decision.wake_at is not None:
            times.append(self.clock.local(self.decision.wake_at))
        if self.outbox:
            times.append(self._outbox_due)
        if self.telemetry is not None:
            times.append(self._next_sample)
        if self.mirror_clock is not None:
            times.append(self.clock.local(self.mirror_clock.due_at()))
        if self._docs_written:
            times.append(self._status_due)
        if self.subs.enabled and self.walker.registered:
            times.append(self._subs_due)
        return min(times)

    def on_end_device(self, device: EndDevice, rate: int, now: float) -> None:
        try:
            self.walker.set_end_device(device, rate, now)
        except ClientError as err:
            self.stop(err)

    def notified(self, note: Notification, now: float) -> bool:
        """A Notification for this EndDevice: fetch the subscribed resource at once."""
        ours = self.subs.knows(note.subscriptionURI)
        if not ours and note.subscribedResource not in self.walker.tree.entries:
            return False
        if note.status != 0:
            self.subs.ended(note.subscriptionURI)
            self._subs_due = now
        self.walker.tree.refresh(note.subscribedResource, now)
        self.stats.notifications += 1
        return True

    # --- one step ----------------------------------------------------------------------------

    async def step(self, now: float) -> None:
        if self.stopped or self.walker.end_device is None:
            return
        try:
            await self._fetch(now)
            if self.walker.registered:
                await self._decide(now)
                await self._apply()
                await self._flush(now)
                await self._describe(now)
                await self._subscribe(now)
            await self._telemetry(now)
        except (PinMismatch, NotRegistered) as err:
            self.stop(err)

    async def _fetch(self, now: float) -> None:
        tree = self.walker.tree
        for _ in range(MAX_ROUNDS):
            due = tree.due(now)
            if not due:
                return
            for entry in due:
                if tree.entries.get(entry.href) is not entry:
                    continue
                obj = await self._get(entry.href, entry.kind, now)
                if obj is not None:
                    self.walker.received(entry.href, obj, now)
                    self.stats.fetches += 1
                    self.stats.last_fetch = now

    async def _get(self, href: str, kind: type[Sep2Object], now: float) -> Sep2Object | None:
        tree = self.walker.tree
        entry = tree.entries[href]
        try:
            return await self.http.get_any(href, kind)
        except ServerAnswer as err:
            if kind is Registration and err.status == 404:
                raise NotRegistered(f"EndDevice {self.spec.sfdi} has no Registration") from err
            log.info("EndDevice %s: %s", self.spec.sfdi, err)
        except (BadResource, Unauthenticated) as err:
            log.warning("EndDevice %s: not used: %s", self.spec.sfdi, err)
        tree.failed(href, now, self.options.backoff.delay(entry.failures, self.rng))
        return None

    async def _decide(self, now: float) -> None:
        view = self.walker.view()
        if self.decision is None and not view.complete:
            return
        server_now = self.clock.now(now)
        if self.signed is not None:
            view = await self.signed.screen(self.walker, view, self.http, server_now)
        version = (self.walker.version, self.signed.version if self.signed else 0)
        previous = self.decision
        if (
            previous is not None
            and self._decided == version
            and (previous.wake_at is None or server_now < previous.wake_at)
        ):
            return
        self.decision = self.engine.update(view, server_now)
        self._decided = version
        self.outbox.extend(self.decision.responses)

    async def _apply(self) -> None:
        if self.decision is None or self.decision.envelope == self.applied:
            return
        envelope = self.decision.envelope
        try:
            await self.device.set_envelope(envelope)
        except Exception:
            log.exception("EndDevice %s: the device did not take the envelope", self.spec.sfdi)
            return
        self.applied = envelope
        self.stats.applied += 1
        events = ",".join(self.decision.in_force.events) or "defaults"
        fields = " ".join(f"{k}={v}" for k, v in envelope.set_fields().items()) or "no limits"
        log.info("EndDevice %s applies %s (from %s)", self.spec.sfdi, fields, events)

    async def _flush(self, now: float) -> None:
        if now < self._outbox_due:
            return
        lfdi = bytes.fromhex(self.spec.lfdi)
        while self.outbox:
            item = self.outbox[0]
            response = DERControlResponse(
                createdDateTime=item.created,
                endDeviceLFDI=lfdi,
                status=int(item.status),
                subject=item.subject,
            )
            try:
                await self.http.post(item.reply_to, response)
            except ServerAnswer as err:
                if err.retryable:
                    self._outbox_due = now + self.options.backoff.delay(0, self.rng)
                    return
                log.warning("EndDevice %s: response dropped: %s", self.spec.sfdi, err)
            except BadResource as err:
                log.warning("EndDevice %s: response dropped: %s", self.spec.sfdi, err)
            self.outbox.popleft()
            self.stats.responses += 1
            log.debug("EndDevice %s: %s for %s", self.spec.sfdi, item.status.name, item.mrid)

    async def _describe(self, now: float) -> None:
        """DERCapability, DERSettings and DeviceInformation once; DERStatus and
        DERAvailability every ``status_interval`` (or post interval, if longer)."""
        end_device = self.walker.end_device
        der = self.walker.der()
        if end_device is None or der is None:
            return
        plate = self.device.nameplate()
        server_now = self.clock.now(now)
        if not self._docs_written:
            writes: list[tuple[str | None, Sep2Object]] = [
                (_href(der.DERCapabilityLink), documents.capability(plate)),
                (_href(der.DERSettingsLink), documents.settings(plate, server_now)),
                (
                    _href(end_device.DeviceInformationLink),
                    documents.device_information(plate, self.spec.lfdi),
                ),
            ]
            await self._put_all(writes)
            self._docs_written = True
        if now >= self._status_due:
            state = self.device.state(now)
            await self._put_all(
                [
                    (_href(der.DERStatusLink), documents.status(plate, state, server_now)),
                    (_href(der.DERAvailabilityLink), documents.availability(state, server_now)),
                ]
            )
            self._status_due = now + max(self._post_rate(), self.options.status_interval)

    async def _put_all(self, writes: list[tuple[str | None, Sep2Object]]) -> None:
        for href, doc in writes:
            if href is None:
                continue
            try:
                await self.http.put(href, doc)
            except (ServerAnswer, BadResource) as err:
                log.warning("EndDevice %s: %s", self.spec.sfdi, err)

    async def _subscribe(self, now: float) -> None:
        end_device = self.walker.end_device
        if not self.subs.enabled or end_device is None or end_device.SubscriptionListLink is None:
            return
        if now < self._subs_due and self._subs_version == self.walker.version:
            return
        self._subs_due = now + RECHECK_SUBSCRIPTIONS
        self._subs_version = self.walker.version
        link = end_device.SubscriptionListLink.href
        try:
            if not self.subs.adopted:
                existing = await self.http.get_any(link, SubscriptionList)
                for surplus in self.subs.adopt(existing.Subscription):
                    await self.http.delete(surplus)
            new, stale = self.subs.plan(self.walker.subscribable(), now)
            for resource in new:
                try:
                    location = await self.http.post(link, self.subs.request(resource))
                except ServerAnswer as err:
                    log.info("EndDevice %s: no subscription: %s", self.spec.sfdi, err)
                    self.subs.refuse(resource, now)
                    continue
                if location is None:
                    self.subs.refuse(resource, now)
                else:
                    self.subs.subscribed(resource, location)
            for location in stale:
                await self.http.delete(location)
                self.subs.deleted(location)
        except (ServerAnswer, BadResource) as err:
            log.info("EndDevice %s: subscriptions: %s", self.spec.sfdi, err)

    # --- telemetry ---------------------------------------------------------------------------

    def _post_rate(self) -> int:
        if self.mirror_clock is not None:
            return self.mirror_clock.interval
        end_device = self.walker.end_device
        rate = end_device.postRate if end_device is not None else None
        return rate or self.options.default_post_rate

    async def _telemetry(self, now: float) -> None:
        if self.telemetry is None:
            return
        if now >= self._next_sample:
            self.averager.add(self.telemetry.sample(now))
            self._next_sample = now + min(self.options.sample_interval, 5.0)
        if not self.walker.registered or self.mup_list is None:
            return
        server_now = self.clock.now(now)
        if len(self.mirrors) < 2:
            await self._create_mirrors(server_now)
            if len(self.mirrors) < 2:
                return
        assert self.mirror_clock is not None
        if now >= self._mirror_recheck:
            await self._read_post_rate()
            self._mirror_recheck = now + max(300, 10 * self.mirror_clock.interval)
        if self.mirror_clock.due(server_now) or (self.options.once and not self._posted_once):
            await self._post_readings(now, server_now)

    async def _create_mirrors(self, server_now: int) -> None:
        assert self.mup_list is not None
        storage = self.device.nameplate().storage
        interval = self._post_rate()
        for role in (mirror.SITE_ROLE, mirror.DEVICE_ROLE):
            if role in self.mirrors:
                continue
            body = mirror.usage_point(self.spec.lfdi, role, storage=storage, interval=interval)
            try:
                location = await self.http.post(self.mup_list, body)
            except (ServerAnswer, BadResource) as err:
                log.warning("EndDevice %s: mirror not created: %s", self.spec.sfdi, err)
                return
            if location is None:
                log.warning("EndDevice %s: the server gave no mirror location", self.spec.sfdi)
                return
            self.mirrors[role] = location
        self.mirror_clock = mirror.MirrorClock(interval, self.rng.uniform(0.0, 0.2))
        self.mirror_clock.start(server_now)
        self._mirror_recheck = 0.0

    async def _read_post_rate(self) -> None:
        assert self.mirror_clock is not None
        href = self.mirrors.get(mirror.SITE_ROLE)
        if href is None:
            return
        try:
            found = await self.http.get(href, MirrorUsagePoint)
        except (ServerAnswer, BadResource) as err:
            log.info("EndDevice %s: %s", self.spec.sfdi, err)
            return
        end_device = self.walker.end_device
        rate = found.postRate or (end_device.postRate if end_device else None)
        self.mirror_clock.set_interval(rate or self.options.default_post_rate)

    async def _post_readings(self, now: float, server_now: int) -> None:
        assert self.mirror_clock is not None and self.telemetry is not None
        average = self.averager.take(now)
        if average is None:
            average = self.telemetry.sample(now)
        if self.mirror_clock.due(server_now):
            start, duration = self.mirror_clock.advance(server_now)
        else:  # the first post of a --once run: what was sampled so far
            duration = max(1, int(self.options.sample_interval))
            start = server_now - duration
        storage = self.device.nameplate().storage
        for role, href in list(self.mirrors.items()):
            body = mirror.readings(self.spec.lfdi, role, average, start, duration, storage=storage)
            try:
                await self.http.post(href, body)
            except ServerAnswer as err:
                log.warning("EndDevice %s: readings not mirrored: %s", self.spec.sfdi, err)
                if err.status in (403, 404):
                    self.mirrors.pop(role)  # gone on the server: create it again
                continue
            self.stats.mirror_posts += 1
        self._posted_once = True


def _signed_controls(spec: EndDeviceSpec, options: ClientOptions) -> SignedControls | None:
    if not options.require_signed:
        return None
    if options.command_trust is None:
        raise ClientError("require_signed needs the trust anchors to verify commands with")
    return SignedControls(spec.lfdi, options.command_trust)


def _href(link: object) -> str | None:
    href = getattr(link, "href", None)
    return href if isinstance(href, str) else None
