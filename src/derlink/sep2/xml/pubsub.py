"""Subscription/Notification function set."""

from __future__ import annotations

from typing import Annotated

from derlink.sep2.xml.common import List, Resource
from derlink.sep2.xml.model import ATTRIBUTE, XSI_TYPE, Sep2Object, sep2_type
from derlink.sep2.xml.simple import AnyURI, Int48, String16, UInt8, UInt32


@sep2_type
class Condition(Sep2Object):
    """Condition: notify only when ``attributeIdentifier`` leaves the thresholds."""

    attributeIdentifier: UInt8
    lowerThreshold: Int48
    upperThreshold: Int48


@sep2_type
class SubscriptionBase(Resource):
    """SubscriptionBase: the ``subscribedResource`` of a Subscription or Notification."""

    subscribedResource: AnyURI


@sep2_type
class Subscription(SubscriptionBase):
    """Subscription: a client's request to be notified at ``notificationURI``."""

    Condition: Condition | None = None
    encoding: UInt8
    level: String16
    limit: UInt32
    notificationURI: AnyURI


@sep2_type
class SubscriptionList(List):
    """SubscriptionList: the Subscriptions of a client."""

    pollRate: Annotated[UInt32 | None, ATTRIBUTE] = None
    Subscription: tuple[Subscription, ...] = ()


@sep2_type
class Notification(SubscriptionBase):
    """Notification: a changed resource pushed to a subscriber.

    ``Resource`` holds the resource itself, of any type, written ``<Resource xsi:type=...>``;
    ``status`` 0 is a normal notification, 1-4 say why the subscription ended.
    """

    newResourceURI: AnyURI | None = None
    Resource: Annotated[Resource | None, XSI_TYPE] = None
    status: UInt8
    subscriptionURI: AnyURI


@sep2_type
class NotificationList(List):
    """NotificationList: several Notifications in one body."""

    Notification: tuple[Notification, ...] = ()
