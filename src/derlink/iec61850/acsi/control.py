"""Control models of IEC 61850-7-2 §20 as a sans-IO state machine (one per controllable DO).

Supports direct and select-before-operate control, each with normal or enhanced security
(``ctlModel`` 1..4), SelectWithValue, time-activated Operate, Cancel, ``sboTimeout`` and the
``AddCause`` a refusal carries. The server works out conditions that depend on the data
model (mode/behaviour blocking, interlocking, position reached, ...) and passes them in as a
``refusal``; this machine owns the sequencing: who selected, with what parameters, until when.
Time is passed in as seconds (float).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum, IntEnum
from typing import Any

from derlink.iec61850.acsi.errors import AddCause, ControlErrorCode


class ControlModel(IntEnum):
    """``ctlModel`` (IEC 61850-7-3)."""

    STATUS_ONLY = 0
    DIRECT_NORMAL = 1
    SBO_NORMAL = 2
    DIRECT_ENHANCED = 3
    SBO_ENHANCED = 4

    @property
    def enhanced(self) -> bool:
        """Enhanced security: CommandTermination and LastApplError are sent."""
        return self in (ControlModel.DIRECT_ENHANCED, ControlModel.SBO_ENHANCED)

    @property
    def sbo(self) -> bool:
        """Select-before-operate."""
        return self in (ControlModel.SBO_NORMAL, ControlModel.SBO_ENHANCED)


class OrCat(IntEnum):
    """``orCat`` of an ``Originator`` (IEC 61850-7-3)."""

    NOT_SUPPORTED = 0
    BAY_CONTROL = 1
    STATION_CONTROL = 2
    REMOTE_CONTROL = 3
    AUTOMATIC_BAY = 4
    AUTOMATIC_STATION = 5
    AUTOMATIC_REMOTE = 6
    MAINTENANCE = 7
    PROCESS = 8


@dataclass(frozen=True)
class Origin:
    """Who issued a command: ``orCat`` and ``orIdent`` (octets, at most 64)."""

    or_cat: int = OrCat.REMOTE_CONTROL
    or_ident: bytes = b""


@dataclass(frozen=True)
class ControlRequest:
    """The parameters of SBOw/Oper/Cancel (the 8-1 ``Oper`` structure, decoded).

    ``t`` is the originator's timestamp in seconds; ``oper_tm`` (seconds, or ``None``) asks
    for a time-activated operate; ``synchro_check``/``interlock_check`` are the two bits of
    ``Check``.
    """

    ctl_val: Any
    ctl_num: int
    origin: Origin = field(default_factory=Origin)
    t: float = 0.0
    test: bool = False
    synchro_check: bool = False
    interlock_check: bool = False
    oper_tm: float | None = None

    def same_command(self, other: ControlRequest) -> bool:
        """True when ``other`` repeats this command (7-2: Operate must match SelectWithValue)."""
        return (
            self.ctl_val == other.ctl_val
            and self.ctl_num == other.ctl_num
            and self.origin == other.origin
            and self.test == other.test
        )


class ControlState(Enum):
    """The states of 7-2 §20 (figures 31-36), merged over the four models."""

    UNSELECTED = "unselected"
    READY = "ready"  # selected, waiting for Operate
    WAIT_FOR_ACTIVATION = "wait-for-activation"  # time-activated operate pending
    EXECUTING = "executing"  # operate accepted, termination pending


class Service(Enum):
    """The control service an outcome answers (names the 8-1 CO attribute)."""

    SELECT = "SBO"
    SELECT_WITH_VALUE = "SBOw"
    OPERATE = "Oper"
    CANCEL = "Cancel"


@dataclass(frozen=True)
class ControlOutcome:
    """What the server answers for one control service.

    ``accepted`` gives a positive response; otherwise the server answers with a negative
    response and, for enhanced security, a LastApplError carrying ``add_cause``/``error``.
    ``execute`` is the request to apply now (accepted Operate that is not time-activated).
    """

    service: Service
    accepted: bool
    request: ControlRequest | None = None
    add_cause: AddCause = AddCause.UNKNOWN
    error: ControlErrorCode = ControlErrorCode.NO_ERROR
    execute: ControlRequest | None = None
    aborted: ControlRequest | None = None


@dataclass(frozen=True)
class SelectExpired:
    """``sboTimeout`` ran out for a selection (the control is unselected)."""

    peer: str
    request: ControlRequest | None


@dataclass(frozen=True)
class ActivationDue:
    """A time-activated operate reached ``operTm``: apply ``request`` now."""

    peer: str
    request: ControlRequest


@dataclass(frozen=True)
class Terminated:
    """A time-activated operate ended without being applied (cancel, association loss)."""

    peer: str
    request: ControlRequest
    add_cause: AddCause


ControlEvent = SelectExpired | ActivationDue | Terminated


DEFAULT_SBO_TIMEOUT_MS = 30_000


class ControlObject:
    """The control state of one controllable data object."""

    def __init__(
        self,
        ref: str,
        model: ControlModel,
        *,
        sbo_timeout_ms: int = DEFAULT_SBO_TIMEOUT_MS,
    ) -> None:
        self.ref = ref
        self.model = model
        self.sbo_timeout_ms = sbo_timeout_ms if sbo_timeout_ms > 0 else DEFAULT_SBO_TIMEOUT_MS
        self.state = ControlState.UNSELECTED
        self.owner: str | None = None
        self.selected_request: ControlRequest | None = None
        self.pending: ControlRequest | None = None
        self._selected_at = 0.0
        # peer -> ctlNum of a selection that timed out (reported as time-limit-over).
        self._expired: dict[str, int | None] = {}

    # -- helpers -----------------------------------------------------------------------------

    def _refuse(
        self,
        service: Service,
        req: ControlRequest | None,
        cause: AddCause,
        error: ControlErrorCode = ControlErrorCode.UNKNOWN,
    ) -> ControlOutcome:
        return ControlOutcome(service, False, req, cause, error)

    def _unselect(self) -> None:
        self.state = ControlState.UNSELECTED
        self.owner = None
        self.selected_request = None
        self.pending = None

    def _select(self, peer: str, req: ControlRequest | None, now: float) -> None:
        self.state = ControlState.READY
        self.owner = peer
        self.selected_request = req
        self._selected_at = now
        self._expired.pop(peer, None)

    def _start(
        self, peer: str, service: Service, req: ControlRequest, now: float
    ) -> ControlOutcome:
        if req.oper_tm is not None and req.oper_tm > now:
            self.state = ControlState.WAIT_FOR_ACTIVATION
            self.owner = peer
            self.pending = req
            return ControlOutcome(service, True, req)
        if self.model.enhanced:
            self.state = ControlState.EXECUTING
            self.owner = peer
            self.pending = req
        else:
            self._unselect()
        return ControlOutcome(service, True, req, execute=req)

    # -- services ------------------------------------------------------------------------------

    def select(self, peer: str, now: float, refusal: AddCause | None = None) -> ControlOutcome:
        """Select (Read of ``SBO``) for sbo-with-normal-security."""
        if self.model is not ControlModel.SBO_NORMAL:
            return self._refuse(Service.SELECT, None, AddCause.NOT_SUPPORTED)
        if self.state is not ControlState.UNSELECTED:
            return self._refuse(Service.SELECT, None, AddCause.OBJECT_ALREADY_SELECTED)
        if refusal is not None:
            return self._refuse(Service.SELECT, None, refusal)
        self._select(peer, None, now)
        return ControlOutcome(Service.SELECT, True)

    def select_with_value(
        self, peer: str, req: ControlRequest, now: float, refusal: AddCause | None = None
    ) -> ControlOutcome:
        """SelectWithValue (Write of ``SBOw``) for sbo-with-enhanced-security."""
        svc = Service.SELECT_WITH_VALUE
        if self.model is not ControlModel.SBO_ENHANCED:
            return self._refuse(svc, req, AddCause.NOT_SUPPORTED)
        if self.state is ControlState.READY:
            if self.owner != peer:
                return self._refuse(svc, req, AddCause.LOCKED_BY_OTHER_CLIENT)
            return self._refuse(svc, req, AddCause.OBJECT_ALREADY_SELECTED)
        if self.state is not ControlState.UNSELECTED:
            return self._refuse(svc, req, AddCause.COMMAND_ALREADY_IN_EXECUTION)
        if refusal is not None:
            return self._refuse(svc, req, refusal)
        self._select(peer, req, now)
        return ControlOutcome(svc, True, req)

    def operate(
        self, peer: str, req: ControlRequest, now: float, refusal: AddCause | None = None
    ) -> ControlOutcome:
        """Operate (Write of ``Oper``)."""
        svc = Service.OPERATE
        if self.model is ControlModel.STATUS_ONLY:
            return self._refuse(svc, req, AddCause.NOT_SUPPORTED)
        if self.state in (ControlState.EXECUTING, ControlState.WAIT_FOR_ACTIVATION):
            if self.owner != peer:
                return self._refuse(svc, req, AddCause.LOCKED_BY_OTHER_CLIENT)
            return self._refuse(svc, req, AddCause.COMMAND_ALREADY_IN_EXECUTION)
        if self.model.sbo:
            if self.state is ControlState.UNSELECTED:
                if peer in self._expired and self._expired[peer] in (None, req.ctl_num):
                    del self._expired[peer]
                    return self._refuse(svc, req, AddCause.TIME_LIMIT_OVER)
                return self._refuse(svc, req, AddCause.OBJECT_NOT_SELECTED)
            if self.owner != peer:
                return self._refuse(svc, req, AddCause.LOCKED_BY_OTHER_CLIENT)
            selected = self.selected_request
            if selected is not None and not selected.same_command(req):
                return self._refuse(svc, req, AddCause.INCONSISTENT_PARAMETERS)
        if refusal is not None:
            if self.model.sbo:
                self._unselect()
            return self._refuse(svc, req, refusal)
        return self._start(peer, svc, req, now)

    def cancel(self, peer: str, req: ControlRequest, now: float) -> ControlOutcome:
        """Cancel (Write of ``Cancel``): drops a selection or a pending time-activated operate."""
        svc = Service.CANCEL
        if self.model is ControlModel.STATUS_ONLY:
            return self._refuse(svc, req, AddCause.NOT_SUPPORTED)
        if self.state is ControlState.EXECUTING:
            return self._refuse(svc, req, AddCause.COMMAND_ALREADY_IN_EXECUTION)
        if self.state is ControlState.UNSELECTED:
            if self.model.sbo:
                return self._refuse(svc, req, AddCause.OBJECT_NOT_SELECTED)
            return self._refuse(svc, req, AddCause.NOT_SUPPORTED)
        if self.owner != peer:
            return self._refuse(svc, req, AddCause.LOCKED_BY_OTHER_CLIENT)
        reference = self.pending or self.selected_request
        if reference is not None and reference.ctl_num != req.ctl_num:
            return self._refuse(svc, req, AddCause.INCONSISTENT_PARAMETERS)
        aborted = self.pending if self.state is ControlState.WAIT_FOR_ACTIVATION else None
        self._unselect()
        return ControlOutcome(svc, True, req, aborted=aborted)

    def finish(self) -> ControlRequest | None:
        """The execution of an accepted operate ended (after CommandTermination)."""
        req = self.pending
        self._unselect()
        return req

    # -- time and association --------------------------------------------------------------

    def tick(self, now: float) -> list[ControlEvent]:
        """Expire selections after ``sboTimeout`` and fire due time-activated operates."""
        if self.state is ControlState.READY and self.owner is not None:
            if now - self._selected_at + 1e-6 >= self.sbo_timeout_ms / 1000.0:
                peer, req = self.owner, self.selected_request
                self._unselect()
                self._expired[peer] = req.ctl_num if req is not None else None
                return [SelectExpired(peer, req)]
        elif (
            self.state is ControlState.WAIT_FOR_ACTIVATION
            and self.pending is not None
            and self.owner is not None
            and self.pending.oper_tm is not None
            and now >= self.pending.oper_tm
        ):
            peer, req = self.owner, self.pending
            if self.model.enhanced:
                self.state = ControlState.EXECUTING
            else:
                self._unselect()
            return [ActivationDue(peer, req)]
        return []

    def peer_lost(self, peer: str) -> list[ControlEvent]:
        """The association of ``peer`` ended: drop its selection and pending operate."""
        self._expired.pop(peer, None)
        if self.owner != peer:
            return []
        events: list[ControlEvent] = []
        if self.state is ControlState.WAIT_FOR_ACTIVATION and self.pending is not None:
            events.append(Terminated(peer, self.pending, AddCause.ABORTION_BY_COMMUNICATION_LOSS))
        if self.state is not ControlState.EXECUTING:
            self._unselect()
        return events
