"""What the ACSI server hands to its runtime: outgoing PDUs and typed events, and the hooks.

Kept apart from :mod:`derlink.iec61850.acsi.server` so that runtimes, auditors and drivers can
import the event vocabulary without the server's machinery (``server`` re-exports it all).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from derlink.iec61850.acsi.control import ControlRequest
from derlink.iec61850.acsi.errors import AddCause
from derlink.iec61850.model.refs import FCDA, ObjectReference

Pdu = tuple[str, Any]


class OutKind(StrEnum):
    """What an outgoing PDU is, for the transport (iq result vs message)."""

    RESPONSE = "response"
    REPORT = "report"
    COMMAND_TERMINATION = "command-termination"


@dataclass(frozen=True)
class Outgoing:
    """One PDU to send to ``peer``."""

    peer: str
    pdu: Pdu
    kind: OutKind


# --- events ------------------------------------------------------------------------------


@dataclass(frozen=True)
class AccessDenied:
    """The authorize hook refused ``right`` on ``ref`` (audit as a security event)."""

    peer: str
    right: str
    ref: str
    service: str


@dataclass(frozen=True)
class RequestRefused:
    """A request refused for protocol reasons (not associated, malformed, ...)."""

    peer: str
    service: str
    reason: str


@dataclass(frozen=True)
class AssociationChanged:
    """An association was established, released, aborted or refused."""

    peer: str
    state: str  # "associated" | "released" | "aborted" | "refused"
    detail: str = ""


@dataclass(frozen=True)
class ControlApplied:
    """An accepted Operate: the runtime hands ``value`` for ``ref`` (a DO) to its driver."""

    peer: str
    ref: ObjectReference
    value: Any
    request: ControlRequest


@dataclass(frozen=True)
class SettingApplied:
    """A SetDataValues of a set point or setting: the runtime applies it too."""

    peer: str
    fcda: FCDA
    value: Any


@dataclass(frozen=True)
class ControlRefused:
    """A control service refused with ``add_cause`` (audit it)."""

    peer: str
    ref: ObjectReference
    service: str
    add_cause: AddCause


ServerEvent = (
    AccessDenied
    | RequestRefused
    | AssociationChanged
    | ControlApplied
    | SettingApplied
    | ControlRefused
)


Authorize = Callable[[str, str, ObjectReference | None], bool]
Checker = Callable[[ObjectReference, ControlRequest], AddCause | None]


class Defer:
    """What an executor returns when the device applies the command later: the server then
    waits for :meth:`IedServer.complete_control` (or ``operTimeout``) before terminating."""


DEFER = Defer()
Executor = Callable[["ControlApplied"], "AddCause | Defer | None"]


def allow_all(peer: str, right: str, ref: ObjectReference | None) -> bool:
    """An authorize hook that grants everything (tests, local tools)."""
    return True


__all__ = [
    "DEFER",
    "AccessDenied",
    "AssociationChanged",
    "Authorize",
    "Checker",
    "ControlApplied",
    "ControlRefused",
    "Defer",
    "Executor",
    "OutKind",
    "Outgoing",
    "RequestRefused",
    "ServerEvent",
    "SettingApplied",
    "allow_all",
]
