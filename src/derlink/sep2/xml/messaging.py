"""Messaging function set: programs and text messages."""

from __future__ import annotations

from typing import Annotated

from derlink.sep2.xml.common import Event, ListLink, SubscribableIdentifiedObject, SubscribableList
from derlink.sep2.xml.model import ATTRIBUTE, sep2_type
from derlink.sep2.xml.simple import LocaleType, PrimacyType, PriorityType, String, String20, UInt32


@sep2_type
class MessagingProgram(SubscribableIdentifiedObject):
    """MessagingProgram: a program of TextMessages in one ``locale``."""

    ActiveTextMessageListLink: ListLink | None = None
    locale: LocaleType
    primacy: PrimacyType
    TextMessageListLink: ListLink | None = None


@sep2_type
class MessagingProgramList(SubscribableList):
    """MessagingProgramList: the MessagingPrograms of an FSA."""

    pollRate: Annotated[UInt32 | None, ATTRIBUTE] = None
    MessagingProgram: tuple[MessagingProgram, ...] = ()


@sep2_type
class TextMessage(Event):
    """TextMessage: a message to display over an interval (an event)."""

    originator: String20 | None = None
    priority: PriorityType
    textMessage: String


@sep2_type
class TextMessageList(SubscribableList):
    """TextMessageList: the TextMessages of a MessagingProgram."""

    TextMessage: tuple[TextMessage, ...] = ()
