"""What the published function sets share: targeting groups, and time-bound events.

A *publication* (a tariff, a demand response program, a messaging program, a firmware file)
targets groups of sites, as a DER program does: a device sees what targets the groups of its
site, an aggregator what targets its devices' groups. An :class:`Event` is one time-bound item
of a publication (a price interval, a load control, a text message), with the timing, the
randomisation bounds and the operator's cancellation of IEEE 2030.5 Event / RandomizableEvent
(Annex B); its EventStatus is computed, never stored.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from typing import ClassVar

from derlink.domain.controls import MAX_RANDOMIZE, ControlStatus
from derlink.domain.errors import DomainError
from derlink.domain.fleet import check_name

MRID_RE = re.compile(r"^[0-9A-F]{32}$")


class PublicationKind(enum.Enum):
    """The function sets published to groups besides DER (2030.5 FSA list links)."""

    TARIFF = "tariff"
    DEMAND = "dr"
    MESSAGING = "message"
    FILE = "file"


@dataclass(frozen=True, slots=True, kw_only=True)
class Publication:
    """Something published to groups: its operator id, target groups and description."""

    LABEL: ClassVar[str] = "publication"

    id: str
    groups: frozenset[str] = field(default_factory=frozenset)
    description: str = ""

    def __post_init__(self) -> None:
        check_publication(self)


def check_publication(item: Publication) -> None:
    check_name(item.LABEL, item.id)
    for group in item.groups:
        check_name("group", group)
    if len(item.description) > 256:
        raise DomainError("a description has at most 256 characters")


@dataclass(frozen=True, slots=True, kw_only=True)
class RankedPublication(Publication):
    """A publication with a primacy (PrimacyType: lower wins), as programs and tariffs have."""

    primacy: int

    def __post_init__(self) -> None:
        check_publication(self)
        if not 0 <= self.primacy <= 255:
            raise DomainError(f"primacy {self.primacy} must be 0..255")


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """A time-bound event of publication ``program``, ``[start, start + duration)``.

    ``status`` holds only what an operator did (scheduled, or cancelled at ``status_time``);
    Active and Superseded are computed from the events and the time.
    """

    mrid: str
    program: str
    start: int
    duration: int
    created: int
    description: str = ""
    randomize_start: int = 0
    randomize_duration: int = 0
    status: ControlStatus = ControlStatus.SCHEDULED
    status_time: int = 0

    def __post_init__(self) -> None:
        check_event(self)

    @property
    def end(self) -> int:
        return self.start + self.duration

    @property
    def cancelled(self) -> bool:
        return self.status in (ControlStatus.CANCELLED, ControlStatus.CANCELLED_RANDOM)


def check_event(event: Event) -> None:
    """The rules every event obeys, whatever its function set."""
    if not MRID_RE.match(event.mrid):
        raise DomainError(f"mRID {event.mrid!r} must be 32 upper-case hex digits")
    check_name("program", event.program)
    if min(event.start, event.created, event.status_time) < 0:
        raise DomainError("start, creation and status times must be Unix seconds (>= 0)")
    if not 0 < event.duration <= 0xFFFFFFFF:
        raise DomainError(f"duration {event.duration} s must be 1..4294967295")
    if max(abs(event.randomize_start), abs(event.randomize_duration)) > MAX_RANDOMIZE:
        raise DomainError("randomization must be within -3600..3600 s")
    if len(event.description) > 32:
        raise DomainError("an event description has at most 32 characters (2030.5 String32)")
