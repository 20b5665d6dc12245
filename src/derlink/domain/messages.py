"""Text messages to the displays of groups (IEEE 2030.5 Messaging).

A :class:`MessageProgram` (MessagingProgram) holds messages in one locale with a primacy; a
:class:`Message` (TextMessage) is an event: shown over its window, with a priority. Several
messages may be active at once, so a message is never superseded (Annex B EventStatus).
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from typing import ClassVar

from derlink.domain.errors import DomainError
from derlink.domain.events import Event, RankedPublication, check_event

LOCALE_RE = re.compile(r"^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$")
MAX_TEXT_BYTES = 4096


class MessagePriority(enum.IntEnum):
    """IEEE 2030.5 PriorityType."""

    LOW = 0
    NORMAL = 1
    HIGH = 2
    CRITICAL = 3


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageProgram(RankedPublication):
    """A messaging program for groups, in ``locale`` (RFC 5646, e.g. en-AU)."""

    LABEL: ClassVar[str] = "messaging program"

    locale: str = "en-US"

    def __post_init__(self) -> None:
        RankedPublication.__post_init__(self)
        if len(self.locale) > 42 or not LOCALE_RE.match(self.locale):
            raise DomainError(f"locale {self.locale!r} is not a language tag such as en-AU")


@dataclass(frozen=True, slots=True, kw_only=True)
class Message(Event):
    """A text message of messaging program ``program``. TextMessage is an Event, not a
    RandomizableEvent: it has no randomisation."""

    text: str
    priority: MessagePriority = MessagePriority.NORMAL
    originator: str = ""

    def __post_init__(self) -> None:
        check_event(self)
        object.__setattr__(self, "priority", MessagePriority(self.priority))
        if self.randomize_start or self.randomize_duration:
            raise DomainError("a text message cannot be randomised (2030.5 TextMessage)")
        if not self.text.strip() or len(self.text.encode()) > MAX_TEXT_BYTES:
            raise DomainError(f"a message has 1 to {MAX_TEXT_BYTES} bytes of text")
        if len(self.originator) > 20:
            raise DomainError("an originator has at most 20 characters (2030.5 String20)")
