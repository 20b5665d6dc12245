"""derlink's IEEE 2030.5 DER client: a device (or an aggregator) talking to any conforming
head-end over mutual TLS.

It follows links only (the DeviceCapability path is the one href it is given), honours every
resource's ``pollRate`` (900 s when absent) and list paging, checks its Registration PIN before
it takes any control, applies the envelope the IEEE 2030.5 event rules put in force
(:mod:`derlink.control.events`: its own randomisation, supersession, cancellation, defaults)
through a :class:`DerDevice`, posts Responses to each event's ``replyTo``, writes its DER
descriptions, mirrors CSIP-AUS telemetry, subscribes where it may and listens for
notifications, and backs off and resumes when the server goes away.

The decisions are sans-IO and take ``now``: :class:`DeviceWalker` (what to fetch, and what the
fetched resources add up to), :class:`EventEngine` (what to apply and which Responses to post),
:class:`MirrorClock` and :class:`Averager` (when and what to mirror), :class:`SubscriptionBook`.
:class:`EndDeviceAgent` and :class:`DerClient` are the asyncio/httpx shell::

    from derlink.sep2.client import Credentials, EndDeviceSpec, ManagedDevice, open_client

    creds = Credentials.from_prefix(Path("inverter"), cafile=Path("ca-bundle.pem"))
    spec = EndDeviceSpec.of(creds.lfdi(), pin=123455)
    async with open_client("https://headend:8443", creds, [ManagedDevice(spec, driver, meter)])\\
            as client:
        await client.run()
"""

from __future__ import annotations

from derlink.sep2.client.agent import AgentStats, EndDeviceAgent
from derlink.sep2.client.backoff import Backoff
from derlink.sep2.client.client import DerClient, ManagedDevice
from derlink.sep2.client.config import ClientOptions, Credentials, EndDeviceSpec
from derlink.sep2.client.convert import EventMeta, Rejected, convert_controls, program_id
from derlink.sep2.client.device import DEFAULT_MODES, DerDevice, DerState, Nameplate
from derlink.sep2.client.engine import Decision, EventEngine, Outgoing
from derlink.sep2.client.errors import (
    BadResource,
    ClientError,
    NotRegistered,
    PinMismatch,
    ServerAnswer,
    TransportFailure,
    Unauthenticated,
)
from derlink.sep2.client.http import CommandVerifier, IdentityTransport, Sep2Http, TrustTls
from derlink.sep2.client.listener import NotificationListener
from derlink.sep2.client.mirror import DEVICE_ROLE, SITE_ROLE, MirrorClock
from derlink.sep2.client.session import NotifyEndpoint, open_client
from derlink.sep2.client.subscriptions import SubscribePolicy, SubscriptionBook
from derlink.sep2.client.telemetry import Averager, Sample, Telemetry
from derlink.sep2.client.timebase import ServerClock
from derlink.sep2.client.tree import ResourceTree
from derlink.sep2.client.walker import DeviceWalker, ProgramView

__all__ = [
    "DEFAULT_MODES",
    "DEVICE_ROLE",
    "SITE_ROLE",
    "AgentStats",
    "Averager",
    "Backoff",
    "BadResource",
    "ClientError",
    "ClientOptions",
    "CommandVerifier",
    "Credentials",
    "Decision",
    "DerClient",
    "DerDevice",
    "DerState",
    "DeviceWalker",
    "EndDeviceAgent",
    "EndDeviceSpec",
    "EventEngine",
    "EventMeta",
    "IdentityTransport",
    "ManagedDevice",
    "MirrorClock",
    "Nameplate",
    "NotRegistered",
    "NotificationListener",
    "NotifyEndpoint",
    "Outgoing",
    "PinMismatch",
    "ProgramView",
    "Rejected",
    "ResourceTree",
    "Sample",
    "Sep2Http",
    "ServerAnswer",
    "ServerClock",
    "SubscribePolicy",
    "SubscriptionBook",
    "Telemetry",
    "TransportFailure",
    "TrustTls",
    "Unauthenticated",
    "convert_controls",
    "open_client",
    "program_id",
]
