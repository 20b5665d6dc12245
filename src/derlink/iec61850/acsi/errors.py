"""ACSI service errors (IEC 61850-7-2) and their MMS mapping (IEC 61850-8-1).

7-2 reports failures as a ``ServiceError`` class; 8-1 carries them as ISO 9506
``DataAccessError`` codes in Read/Write results, and control refusals additionally as a
``LastApplError`` (``Error`` + ``AddCause``). Both directions of the mapping live here so that
the server and the client agree on it.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any

from derlink.errors import DerlinkError
from derlink.iec61850.mms import errors as mms
from derlink.iec61850.mms.errors import DataAccessError, LabelledEnum

AccessError = DataAccessError
"""ISO 9506-2 ``DataAccessError`` (an INTEGER with named numbers on the wire), as ACSI
names it; defined once in :mod:`derlink.iec61850.mms.errors`."""


class ServiceErrorClass(LabelledEnum):
    """The ACSI ``ServiceError`` values of IEC 61850-7-2 Ed.2 (``label``: the 7-2 spelling,
    e.g. ``instance-not-available``)."""

    NO_ERROR = 0
    INSTANCE_NOT_AVAILABLE = 1
    INSTANCE_IN_USE = 2
    ACCESS_VIOLATION = 3
    ACCESS_NOT_ALLOWED_IN_CURRENT_STATE = 4
    PARAMETER_VALUE_INAPPROPRIATE = 5
    PARAMETER_VALUE_INCONSISTENT = 6
    CLASS_NOT_SUPPORTED = 7
    INSTANCE_LOCKED_BY_OTHER_CLIENT = 8
    CONTROL_MUST_BE_SELECTED = 9
    TYPE_CONFLICT = 10
    FAILED_DUE_TO_COMMUNICATIONS_CONSTRAINT = 11
    FAILED_DUE_TO_SERVER_CONSTRAINT = 12


class AddCause(LabelledEnum):
    """``AddCause`` of a control refusal or termination (IEC 61850-7-2 Ed.2)."""

    UNKNOWN = 0
    NOT_SUPPORTED = 1
    BLOCKED_BY_SWITCHING_HIERARCHY = 2
    SELECT_FAILED = 3
    INVALID_POSITION = 4
    POSITION_REACHED = 5
    PARAMETER_CHANGE_IN_EXECUTION = 6
    STEP_LIMIT = 7
    BLOCKED_BY_MODE = 8
    BLOCKED_BY_PROCESS = 9
    BLOCKED_BY_INTERLOCKING = 10
    BLOCKED_BY_SYNCHROCHECK = 11
    COMMAND_ALREADY_IN_EXECUTION = 12
    BLOCKED_BY_HEALTH = 13
    ONE_OF_N_CONTROL = 14
    ABORTION_BY_CANCEL = 15
    TIME_LIMIT_OVER = 16
    ABORTION_BY_TRIP = 17
    OBJECT_NOT_SELECTED = 18
    OBJECT_ALREADY_SELECTED = 19
    NO_ACCESS_AUTHORITY = 20
    ENDED_WITH_OVERSHOOT = 21
    ABORTION_DUE_TO_DEVIATION = 22
    ABORTION_BY_COMMUNICATION_LOSS = 23
    BLOCKED_BY_COMMAND = 24
    NONE = 25
    INCONSISTENT_PARAMETERS = 26
    LOCKED_BY_OTHER_CLIENT = 27

    @property
    def label(self) -> str:
        """The 7-2 spelling, e.g. ``blocked-by-mode``."""
        if self is AddCause.ONE_OF_N_CONTROL:
            return "1-of-n-control"
        return super().label


class ControlErrorCode(IntEnum):
    """``LastApplError.Error`` of IEC 61850-8-1 (the control service's own error)."""

    NO_ERROR = 0
    UNKNOWN = 1
    TIMEOUT_TEST_NOT_OK = 2
    OPERATOR_TEST_NOT_OK = 3


# 7-2 service error -> the DataAccessError a server puts in a Read/Write result.
_TO_ACCESS: dict[ServiceErrorClass, AccessError] = {
    ServiceErrorClass.INSTANCE_NOT_AVAILABLE: AccessError.OBJECT_NON_EXISTENT,
    ServiceErrorClass.INSTANCE_IN_USE: AccessError.TEMPORARILY_UNAVAILABLE,
    ServiceErrorClass.ACCESS_VIOLATION: AccessError.OBJECT_ACCESS_DENIED,
    ServiceErrorClass.ACCESS_NOT_ALLOWED_IN_CURRENT_STATE: AccessError.TEMPORARILY_UNAVAILABLE,
    ServiceErrorClass.PARAMETER_VALUE_INAPPROPRIATE: AccessError.OBJECT_VALUE_INVALID,
    ServiceErrorClass.PARAMETER_VALUE_INCONSISTENT: AccessError.OBJECT_ATTRIBUTE_INCONSISTENT,
    ServiceErrorClass.CLASS_NOT_SUPPORTED: AccessError.OBJECT_ACCESS_UNSUPPORTED,
    ServiceErrorClass.INSTANCE_LOCKED_BY_OTHER_CLIENT: AccessError.TEMPORARILY_UNAVAILABLE,
    ServiceErrorClass.CONTROL_MUST_BE_SELECTED: AccessError.OBJECT_ACCESS_DENIED,
    ServiceErrorClass.TYPE_CONFLICT: AccessError.TYPE_INCONSISTENT,
    ServiceErrorClass.FAILED_DUE_TO_COMMUNICATIONS_CONSTRAINT: AccessError.TEMPORARILY_UNAVAILABLE,
    ServiceErrorClass.FAILED_DUE_TO_SERVER_CONSTRAINT: AccessError.HARDWARE_FAULT,
}

# DataAccessError received by a client -> the 7-2 class it reports.
_FROM_ACCESS: dict[AccessError, ServiceErrorClass] = {
    AccessError.OBJECT_INVALIDATED: ServiceErrorClass.FAILED_DUE_TO_SERVER_CONSTRAINT,
    AccessError.HARDWARE_FAULT: ServiceErrorClass.FAILED_DUE_TO_SERVER_CONSTRAINT,
    AccessError.TEMPORARILY_UNAVAILABLE: ServiceErrorClass.ACCESS_NOT_ALLOWED_IN_CURRENT_STATE,
    AccessError.OBJECT_ACCESS_DENIED: ServiceErrorClass.ACCESS_VIOLATION,
    AccessError.OBJECT_UNDEFINED: ServiceErrorClass.INSTANCE_NOT_AVAILABLE,
    AccessError.INVALID_ADDRESS: ServiceErrorClass.PARAMETER_VALUE_INAPPROPRIATE,
    AccessError.TYPE_UNSUPPORTED: ServiceErrorClass.TYPE_CONFLICT,
    AccessError.TYPE_INCONSISTENT: ServiceErrorClass.TYPE_CONFLICT,
    AccessError.OBJECT_ATTRIBUTE_INCONSISTENT: ServiceErrorClass.PARAMETER_VALUE_INCONSISTENT,
    AccessError.OBJECT_ACCESS_UNSUPPORTED: ServiceErrorClass.CLASS_NOT_SUPPORTED,
    AccessError.OBJECT_NON_EXISTENT: ServiceErrorClass.INSTANCE_NOT_AVAILABLE,
    AccessError.OBJECT_VALUE_INVALID: ServiceErrorClass.PARAMETER_VALUE_INAPPROPRIATE,
}


def access_error_for(service_class: ServiceErrorClass) -> AccessError:
    """The DataAccessError a server answers for a 7-2 service error."""
    if service_class is ServiceErrorClass.NO_ERROR:
        raise ValueError("no-error has no DataAccessError")
    return _TO_ACCESS[service_class]


def service_class_for(code: int) -> ServiceErrorClass:
    """The 7-2 service error a client reports for a received DataAccessError code."""
    try:
        return _FROM_ACCESS[AccessError(code)]
    except ValueError:
        return ServiceErrorClass.FAILED_DUE_TO_SERVER_CONSTRAINT


# 7-2 service error -> the MMS ServiceError of a confirmed-ErrorPDU (others: service other).
_TO_MMS_SERVICE_ERROR: dict[ServiceErrorClass, mms.ErrorCode] = {
    ServiceErrorClass.INSTANCE_NOT_AVAILABLE: mms.AccessError.OBJECT_NON_EXISTENT,
    ServiceErrorClass.ACCESS_VIOLATION: mms.AccessError.OBJECT_ACCESS_DENIED,
    ServiceErrorClass.CLASS_NOT_SUPPORTED: mms.AccessError.OBJECT_ACCESS_UNSUPPORTED,
    ServiceErrorClass.TYPE_CONFLICT: mms.DefinitionError.TYPE_INCONSISTENT,
    ServiceErrorClass.PARAMETER_VALUE_INCONSISTENT: (
        mms.DefinitionError.OBJECT_ATTRIBUTE_INCONSISTENT
    ),
}


def _mms_key(code: mms.ErrorCode) -> tuple[mms.ErrorClass, int]:
    return mms.parse_service_error(mms.service_error(code)).error_class, int(code)


# MMS ServiceError received by a client -> the 7-2 class it reports (others: server constraint).
_FROM_MMS_SERVICE_ERROR: dict[tuple[mms.ErrorClass, int], ServiceErrorClass] = {
    **{_mms_key(code): cls for cls, code in _TO_MMS_SERVICE_ERROR.items()},
    _mms_key(mms.DefinitionError.OBJECT_UNDEFINED): ServiceErrorClass.INSTANCE_NOT_AVAILABLE,
    _mms_key(mms.ServiceProblem.PRIMITIVES_OUT_OF_SEQUENCE): (
        ServiceErrorClass.ACCESS_NOT_ALLOWED_IN_CURRENT_STATE
    ),
}


def mms_service_error(service_class: ServiceErrorClass, text: str = "") -> dict[str, Any]:
    """The MMS ``ServiceError`` value a server answers for a 7-2 service error."""
    code = _TO_MMS_SERVICE_ERROR.get(service_class, mms.ServiceProblem.OTHER)
    return mms.service_error(code, additional_description=text)


class AcsiError(DerlinkError):
    """Base of every ACSI failure (malformed PDUs, protocol misuse, refused services)."""


class ServiceError(AcsiError):
    """A service the peer refused, with its 7-2 class (and the 8-1 detail it came as)."""

    def __init__(
        self,
        service_class: ServiceErrorClass,
        message: str = "",
        *,
        access_error: AccessError | None = None,
        add_cause: AddCause | None = None,
        control_error: ControlErrorCode | None = None,
    ) -> None:
        self.service_class = service_class
        self.access_error = access_error
        self.add_cause = add_cause
        self.control_error = control_error
        parts = [service_class.label]
        if add_cause is not None:
            parts.append(f"add-cause {add_cause.label}")
        if message:
            parts.append(message)
        super().__init__(": ".join(parts))

    @classmethod
    def from_access(cls, code: int, message: str = "") -> ServiceError:
        """Build the error a client raises for a DataAccessError code."""
        try:
            access: AccessError | None = AccessError(code)
        except ValueError:
            access = None
        return cls(service_class_for(code), message, access_error=access)


def service_error_from_mms(value: Any) -> ServiceError:
    """The :class:`ServiceError` a client raises for a received MMS ``ServiceError``."""
    try:
        info = mms.parse_service_error(value)
    except (mms.MmsDecodeError, AttributeError):
        return ServiceError(ServiceErrorClass.FAILED_DUE_TO_SERVER_CONSTRAINT, "malformed error")
    code = int(info.code)
    cls = _FROM_MMS_SERVICE_ERROR.get(
        (info.error_class, code), ServiceErrorClass.FAILED_DUE_TO_SERVER_CONSTRAINT
    )
    text = info.additional_description or ""
    return ServiceError(cls, f"{info.error_class.value} {code} {text}".strip())


class ControlRefused(ServiceError):
    """A control service refused with a LastApplError, or a negative CommandTermination."""


class AssociationError(AcsiError):
    """The association is absent, lost, or was refused."""


class ProtocolError(AcsiError):
    """A PDU that does not fit the 8-1 mapping (bad layout, unknown invoke id, ...)."""


class TooManyRequests(AcsiError):
    """More requests outstanding than the negotiated or configured maximum."""
