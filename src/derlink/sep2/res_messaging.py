"""Messaging function set (IEEE 2030.5-2018): MessagingProgram(List), TextMessage(List) with
the active ones; TextResponses (e.g. 11, user acknowledged) at the messages' ``replyTo``.

"Multiple text messages can be active": a message is never superseded (Annex B EventStatus),
and a TextMessage is an Event, not a RandomizableEvent.
"""

from __future__ import annotations

from derlink.control.events import EventStatus
from derlink.domain import Event, Message, MessageProgram, Publication
from derlink.domain import PublicationKind as Kind
from derlink.sep2 import hrefs
from derlink.sep2.app import Router
from derlink.sep2.context import HeadEnd
from derlink.sep2.res_publications import (
    RECEIVED,
    USER,
    EventSpec,
    ListSpec,
    event_attrs,
    mrid,
    register_events,
    register_lists,
    register_responses,
)
from derlink.sep2.xml import (
    MessagingProgram,
    MessagingProgramList,
    TextMessage,
    TextMessageList,
    TextResponse,
)
from derlink.sep2.xml import Response as XmlResponse

MESSAGING = Kind.MESSAGING


def text_message(message: Event, status: EventStatus) -> TextMessage:
    assert isinstance(message, Message)
    return TextMessage(
        **event_attrs(
            message,
            status,
            href=f"{hrefs.msg_program(message.program, 'txt')}/{message.mrid}",
            reply_to=hrefs.event_responses("msg", message.program),
            required=RECEIVED | USER,
        ),
        originator=message.originator or None,
        priority=int(message.priority),
        textMessage=message.text,
    )


MESSAGES = EventSpec(
    MESSAGING,
    "/msg/{program}",
    ("txt", "acttxt"),
    ("TextMessageList", "ActiveTextMessageList", "TextMessage"),
    TextMessageList,
    "TextMessage",
    text_message,
    None,
)


async def program_resource(headend: HeadEnd, item: Publication) -> MessagingProgram:
    assert isinstance(item, MessageProgram)
    messages, active = await MESSAGES.links(headend, item.id)
    return MessagingProgram(
        href=hrefs.msg_program(item.id),
        subscribable=0,
        mRID=mrid(MESSAGING, item.id),
        description=(item.description or item.id)[:32],
        ActiveTextMessageListLink=active,
        locale=item.locale,
        primacy=item.primacy,
        TextMessageListLink=messages,
    )


def register(router: Router) -> None:
    spec = ListSpec(
        MESSAGING,
        "MessagingProgramList",
        MessagingProgramList,
        "MessagingProgram",
        program_resource,
    )
    register_lists(router, spec)
    register_events(router, MESSAGES)
    register_responses(router, MESSAGING, (TextResponse, XmlResponse))
