"""Subscription/Notification: a client subscribes to a resource it may read; the server
notifies its ``notificationURI`` of changes (delivered by :mod:`derlink.sep2.notify`)."""

from __future__ import annotations

from derlink.audit.event import Outcome
from derlink.sep2 import hrefs
from derlink.sep2.app import Call, Router
from derlink.sep2.http import HttpError, Response
from derlink.sep2.res_common import answer, body, page
from derlink.sep2.xml import Subscription, SubscriptionList
from derlink.store.schema import SubscriptionRow

MAX_SUBSCRIPTIONS = 64


def register(router: Router) -> None:
    router.add("GET", "/edev/{sfdi:int}/sub", "SubscriptionList")(get_subscriptions)
    router.add("POST", "/edev/{sfdi:int}/sub", "SubscriptionList")(post_subscription)
    router.add("GET", "/edev/{sfdi:int}/sub/{n:int}", "Subscription")(get_subscription)
    router.add("DELETE", "/edev/{sfdi:int}/sub/{n:int}", "Subscription")(delete_subscription)


def _xml(sfdi: int, row: SubscriptionRow) -> Subscription:
    return Subscription(
        href=hrefs.subscription(sfdi, row.id),
        subscribedResource=row.resource,
        encoding=row.encoding,
        level=row.level,
        limit=row.limit,
        notificationURI=row.notification_uri,
    )


async def get_subscriptions(call: Call, sfdi: int) -> Response:
    device = await call.headend.device_by_sfdi(call.caller, sfdi)
    rows = await call.headend.repo.subscriptions(device.lfdi)
    shown, total = page(call, rows)
    return answer(
        call,
        SubscriptionList(
            href=hrefs.subscription(sfdi),
            all=total,
            results=len(shown),
            Subscription=tuple(_xml(sfdi, r) for r in shown),
        ),
    )


async def post_subscription(call: Call, sfdi: int) -> Response:
    from derlink.sep2.notify import subscribable_resource

    device = await call.headend.device_by_sfdi(call.caller, sfdi)
    doc = body(call, Subscription)
    if not doc.notificationURI.startswith(("https://", "http://")):
        raise HttpError(400, "notificationURI must be an http(s) URL", reason=1)
    if doc.encoding != 0:
        raise HttpError(400, "only XML notifications (encoding 0) are supported", reason=1)
    if doc.Condition is not None:
        raise HttpError(400, "conditional subscriptions are not supported", reason=3)
    await subscribable_resource(call, doc.subscribedResource)
    existing = await call.headend.repo.subscriptions(device.lfdi)
    if len(existing) >= MAX_SUBSCRIPTIONS:
        raise HttpError(400, f"at most {MAX_SUBSCRIPTIONS} subscriptions per device", reason=2)
    sub_id = await call.headend.repo.add_subscription(
        device.lfdi,
        doc.subscribedResource,
        doc.notificationURI,
        doc.limit,
        doc.encoding,
        doc.level,
        call.headend.now(),
    )
    href = hrefs.subscription(sfdi, sub_id)
    await call.headend.audit_event(
        call.caller.lfdi,
        "sep2.subscribe",
        f"href:{href}",
        Outcome.SUCCESS,
        resource=doc.subscribedResource,
        uri=doc.notificationURI,
    )
    return Response.created(href)


async def get_subscription(call: Call, sfdi: int, n: int) -> Response:
    device = await call.headend.device_by_sfdi(call.caller, sfdi)
    row = await call.headend.repo.subscription(device.lfdi, n)
    if row is None:
        raise HttpError(404, f"no subscription {n}")
    return answer(call, _xml(sfdi, row))


async def delete_subscription(call: Call, sfdi: int, n: int) -> Response:
    device = await call.headend.device_by_sfdi(call.caller, sfdi)
    if not await call.headend.repo.delete_subscription(device.lfdi, n):
        raise HttpError(404, f"no subscription {n}")
    return Response.no_content()
