"""The shape of one audit event, following IEC 62351-14's security event model.

IEC 62351-14 describes an event by a severity, an identifier ``Domain:Group.Number`` and a text,
plus the UTC time, a sequence number, the source and the application that raised it; that is
what a later syslog (RFC 5424 over RFC 5425 TLS) forwarder needs. derlink adds the actor, the
action, the target and the outcome so that a record answers "who did what to what, and did it
work". The sequence number and time are assigned by the log when the event is appended.
"""

from __future__ import annotations

import enum
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

EVENT_ID_RE = re.compile(r"^[A-Za-z][A-Za-z0-9]*:[A-Za-z][A-Za-z0-9]*\.[0-9]+$")


class Severity(enum.Enum):
    """Event severities of IEC 62351-14, with the RFC 5424 syslog severity each maps to."""

    ALARM = "alarm"
    ERROR = "error"
    WARNING = "warning"
    NOTICE = "notice"
    INFO = "info"

    @property
    def syslog(self) -> int:
        return _SYSLOG[self]


_SYSLOG = {
    Severity.ALARM: 1,
    Severity.ERROR: 3,
    Severity.WARNING: 4,
    Severity.NOTICE: 5,
    Severity.INFO: 6,
}


class Outcome(enum.Enum):
    SUCCESS = "success"
    FAILURE = "failure"
    DENIED = "denied"


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """What a component reports; the log adds sequence number and time.

    ``event_id`` is ``Domain:Group.Number`` (for example ``PKI:Issue.1``); ``source`` names the
    component (``derlink.cli``, ``derlink.sep2``...); ``details`` must be JSON-serialisable.
    """

    action: str
    target: str
    actor: str = "system"
    outcome: Outcome = Outcome.SUCCESS
    severity: Severity = Severity.INFO
    event_id: str = "Derlink:Event.0"
    source: str = "derlink"
    details: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.action:
            raise ValueError("an audit event needs an action")
        if not EVENT_ID_RE.match(self.event_id):
            raise ValueError(f"event id {self.event_id!r} is not of the form Domain:Group.Number")
        json.dumps(self.details)  # fail at the caller, not inside the log


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """An event as stored: sequence number (0-based, gapless) and UTC time added."""

    seq: int
    time: datetime
    event: AuditEvent

    def canonical(self) -> bytes:
        """The exact bytes hashed into the Merkle tree (RFC 6962 leaf input).

        Canonical JSON: sorted keys, no insignificant white space, UTF-8, time as RFC 3339
        with microseconds in UTC. Any change to any field changes these bytes.
        """
        return json.dumps(self.to_json(), sort_keys=True, separators=(",", ":")).encode()

    def to_json(self) -> dict[str, Any]:
        e = self.event
        return {
            "seq": self.seq,
            "time": self.time.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "actor": e.actor,
            "action": e.action,
            "target": e.target,
            "outcome": e.outcome.value,
            "severity": e.severity.value,
            "event_id": e.event_id,
            "source": e.source,
            "details": e.details,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AuditRecord:
        time = datetime.strptime(data["time"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
        event = AuditEvent(
            action=data["action"],
            target=data["target"],
            actor=data["actor"],
            outcome=Outcome(data["outcome"]),
            severity=Severity(data["severity"]),
            event_id=data["event_id"],
            source=data["source"],
            details=data["details"],
        )
        return cls(seq=int(data["seq"]), time=time, event=event)
