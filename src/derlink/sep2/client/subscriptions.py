"""Which resources the client subscribes to, sans-IO (IEEE 2030.5-2018 §9.3, Subscription).

A resource is subscribed when the client has a notification endpoint and the policy agrees:
``AUTO`` follows what the server advertises (``subscribable`` 1 or 2), ``ALWAYS`` asks for the
program resources whatever they advertise (for servers that accept subscriptions they do not
advertise), ``NEVER`` polls only. A server that refuses is asked again only after
:data:`REFUSED_RETRY` seconds. Polling goes on at the normal rate either way: a notification only
brings the next fetch forward.

Subscriptions survive client restarts on the server; :meth:`SubscriptionBook.adopt` takes over
the client's own (same notificationURI) instead of piling up new ones, and names the surplus to
delete.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field

from derlink.sep2.xml import Subscription

REFUSED_RETRY = 3600.0
LEVEL = "+S1"
LIMIT = 100


class SubscribePolicy(enum.Enum):
    AUTO = "auto"
    ALWAYS = "always"
    NEVER = "never"


@dataclass
class SubscriptionBook:
    policy: SubscribePolicy
    notify_uri: str | None
    active: dict[str, str] = field(default_factory=dict)  # resource href -> subscription href
    refused: dict[str, float] = field(default_factory=dict)  # resource href -> ask again at
    adopted: bool = False

    @property
    def enabled(self) -> bool:
        return self.notify_uri is not None and self.policy is not SubscribePolicy.NEVER

    def wanted(self, candidates: Iterable[tuple[str, int | None]], now: float) -> set[str]:
        if not self.enabled:
            return set()
        chosen = set()
        for href, subscribable in candidates:
            if self.refused.get(href, 0.0) > now:
                continue
            if self.policy is SubscribePolicy.ALWAYS or (subscribable or 0) >= 1:
                chosen.add(href)
        return chosen

    def plan(
        self, candidates: Iterable[tuple[str, int | None]], now: float
    ) -> tuple[list[str], list[str]]:
        """(resources to subscribe to, subscription hrefs to delete)."""
        wanted = self.wanted(candidates, now)
        new = sorted(wanted - set(self.active))
        stale = sorted(self.active[r] for r in set(self.active) - wanted)
        return new, stale

    def request(self, resource: str) -> Subscription:
        assert self.notify_uri is not None
        return Subscription(
            subscribedResource=resource,
            encoding=0,
            level=LEVEL,
            limit=LIMIT,
            notificationURI=self.notify_uri,
        )

    def subscribed(self, resource: str, location: str) -> None:
        self.active[resource] = location
        self.refused.pop(resource, None)

    def refuse(self, resource: str, now: float) -> None:
        self.refused[resource] = now + REFUSED_RETRY

    def deleted(self, location: str) -> None:
        for resource, href in list(self.active.items()):
            if href == location:
                del self.active[resource]

    def ended(self, location: str) -> None:
        """The server ended the subscription (a Notification with status 1-4)."""
        self.deleted(location)

    def knows(self, location: str) -> bool:
        return location in self.active.values()

    def adopt(self, existing: Iterable[Subscription]) -> list[str]:
        """Take over this client's subscriptions on the server; returns duplicates to delete."""
        self.adopted = True
        surplus = []
        for sub in existing:
            if sub.notificationURI != self.notify_uri or sub.href is None:
                continue
            if sub.subscribedResource in self.active:
                surplus.append(sub.href)
            else:
                self.active[sub.subscribedResource] = sub.href
        return surplus
