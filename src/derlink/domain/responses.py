"""Responses of devices to events: IEEE 2030.5 Response status codes (table 27).

The codes are the standard's; a control received over any protocol reports progress in them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from derlink.domain.errors import DomainError
from derlink.domain.fleet import check_lfdi


class ResponseStatus(enum.IntEnum):
    """IEEE 2030.5-2018 Table 27, ResponseType status values.

    Checked against two independent implementations that transcribe the table (envoy-schema's
    ``ResponseType`` and py20305's ``events/response.py``), which agree: 12 is "cannot be
    displayed" (text messages), 13/14 abort for another server/program event, 252 rejects a
    control whose parameters do not apply, 253 an invalid event, 254 an expired one.
    """

    EVENT_RECEIVED = 1
    EVENT_STARTED = 2
    EVENT_COMPLETED = 3
    USER_OPTED_OUT = 4
    USER_OPTED_IN = 5
    EVENT_CANCELLED = 6
    EVENT_SUPERSEDED = 7
    EVENT_PARTIALLY_OPTED_OUT = 8
    EVENT_PARTIALLY_OPTED_IN = 9
    EVENT_COMPLETED_NO_USER_PARTICIPATION = 10
    USER_ACKNOWLEDGED = 11
    EVENT_CANNOT_BE_DISPLAYED = 12
    EVENT_ABORTED_SERVER = 13
    EVENT_ABORTED_PROGRAM = 14
    REJECTED_NOT_APPLICABLE = 252
    REJECTED_INVALID = 253
    REJECTED_EXPIRED = 254


@dataclass(frozen=True, slots=True)
class Response:
    """One device's report on one control (``subject`` is the control's mRID)."""

    subject: str
    lfdi: str
    status: ResponseStatus
    created: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "lfdi", check_lfdi(self.lfdi))
        if not self.subject:
            raise DomainError("a response needs the subject it answers")
