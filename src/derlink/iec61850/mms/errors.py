"""MMS error codes (ISO 9506-2 DataAccessError, ServiceError, RejectPDU) and the exceptions
raised by the MMS layer.

The enums carry the numbers the ASN.1 module gives; :func:`service_error` and
:func:`parse_service_error` convert between a typed error and the asn1tools value of
``ServiceError``, so code above the codec never spells class names or numbers by hand.
"""

from __future__ import annotations

import contextlib
import enum
from dataclasses import dataclass
from typing import Any

from derlink.errors import DerlinkError


class MmsError(DerlinkError):
    """Base of every failure raised by ``derlink.iec61850.mms``."""


class MmsDecodeError(MmsError):
    """An incoming document is not a well-formed, supported MMS PDU in XER."""


class MmsEncodeError(MmsError):
    """A Python value does not have the shape of the ASN.1 type it is encoded as."""


class MmsDataError(MmsError):
    """An MMS ``Data`` value does not match the ``TypeDescription`` it is read or written as."""


class MmsNameError(MmsError):
    """An MMS object name or IEC 61850-8-1 item name is malformed or too long."""


class LabelledEnum(enum.IntEnum):
    """An IntEnum whose members have the standard's spelling: ``OBJECT_NON_EXISTENT`` is
    ``object-non-existent``."""

    @property
    def label(self) -> str:
        """The standard's spelling of the member name."""
        return self.name.lower().replace("_", "-")


class DataAccessError(LabelledEnum):
    """ISO 9506-2 ``DataAccessError`` (failure of one variable in Read/Write/Report)."""

    OBJECT_INVALIDATED = 0
    HARDWARE_FAULT = 1
    TEMPORARILY_UNAVAILABLE = 2
    OBJECT_ACCESS_DENIED = 3
    OBJECT_UNDEFINED = 4
    INVALID_ADDRESS = 5
    TYPE_UNSUPPORTED = 6
    TYPE_INCONSISTENT = 7
    OBJECT_ATTRIBUTE_INCONSISTENT = 8
    OBJECT_ACCESS_UNSUPPORTED = 9
    OBJECT_NON_EXISTENT = 10
    OBJECT_VALUE_INVALID = 11


class ErrorClass(enum.Enum):
    """Alternatives of ``ServiceError.errorClass``; the value is the ASN.1 identifier."""

    VMD_STATE = "vmd-state"
    APPLICATION_REFERENCE = "application-reference"
    DEFINITION = "definition"
    RESOURCE = "resource"
    SERVICE = "service"
    SERVICE_PREEMPT = "service-preempt"
    TIME_RESOLUTION = "time-resolution"
    ACCESS = "access"
    INITIATE = "initiate"
    CONCLUDE = "conclude"
    CANCEL = "cancel"
    FILE = "file"
    OTHERS = "others"


class VmdStateError(enum.IntEnum):
    OTHER = 0
    VMD_STATE_CONFLICT = 1
    VMD_OPERATIONAL_PROBLEM = 2
    DOMAIN_TRANSFER_PROBLEM = 3
    STATE_MACHINE_ID_INVALID = 4


class ApplicationReferenceError(enum.IntEnum):
    OTHER = 0
    APPLICATION_UNREACHABLE = 1
    CONNECTION_LOST = 2
    APPLICATION_REFERENCE_INVALID = 3
    CONTEXT_UNSUPPORTED = 4


class DefinitionError(enum.IntEnum):
    OTHER = 0
    OBJECT_UNDEFINED = 1
    INVALID_ADDRESS = 2
    TYPE_UNSUPPORTED = 3
    TYPE_INCONSISTENT = 4
    OBJECT_EXISTS = 5
    OBJECT_ATTRIBUTE_INCONSISTENT = 6


class ResourceError(enum.IntEnum):
    OTHER = 0
    MEMORY_UNAVAILABLE = 1
    PROCESSOR_RESOURCE_UNAVAILABLE = 2
    MASS_STORAGE_UNAVAILABLE = 3
    CAPABILITY_UNAVAILABLE = 4
    CAPABILITY_UNKNOWN = 5


class ServiceProblem(enum.IntEnum):
    """``errorClass service`` (value 3 is reserved by ISO 9506-2)."""

    OTHER = 0
    PRIMITIVES_OUT_OF_SEQUENCE = 1
    OBJECT_STATE_CONFLICT = 2
    CONTINUATION_INVALID = 4
    OBJECT_CONSTRAINT_CONFLICT = 5


class ServicePreemptError(enum.IntEnum):
    OTHER = 0
    TIMEOUT = 1
    DEADLOCK = 2
    CANCEL = 3


class TimeResolutionError(enum.IntEnum):
    OTHER = 0
    UNSUPPORTABLE_TIME_RESOLUTION = 1


class AccessError(enum.IntEnum):
    OTHER = 0
    OBJECT_ACCESS_UNSUPPORTED = 1
    OBJECT_NON_EXISTENT = 2
    OBJECT_ACCESS_DENIED = 3
    OBJECT_INVALIDATED = 4


class InitiateError(enum.IntEnum):
    """``errorClass initiate`` (values 1 and 2 are reserved by ISO 9506-2)."""

    OTHER = 0
    MAX_SERVICES_OUTSTANDING_CALLING_INSUFFICIENT = 3
    MAX_SERVICES_OUTSTANDING_CALLED_INSUFFICIENT = 4
    SERVICE_CBB_INSUFFICIENT = 5
    PARAMETER_CBB_INSUFFICIENT = 6
    NESTING_LEVEL_INSUFFICIENT = 7


class ConcludeError(enum.IntEnum):
    OTHER = 0
    FURTHER_COMMUNICATION_REQUIRED = 1


class CancelError(enum.IntEnum):
    OTHER = 0
    INVOKE_ID_UNKNOWN = 1
    CANCEL_NOT_POSSIBLE = 2


class FileError(enum.IntEnum):
    OTHER = 0
    FILENAME_AMBIGUOUS = 1
    FILE_BUSY = 2
    FILENAME_SYNTAX_ERROR = 3
    CONTENT_TYPE_INVALID = 4
    POSITION_INVALID = 5
    FILE_ACCESS_DENIED = 6
    FILE_NON_EXISTENT = 7
    DUPLICATE_FILENAME = 8
    INSUFFICIENT_SPACE_IN_FILESTORE = 9


ErrorCode = (
    VmdStateError
    | ApplicationReferenceError
    | DefinitionError
    | ResourceError
    | ServiceProblem
    | ServicePreemptError
    | TimeResolutionError
    | AccessError
    | InitiateError
    | ConcludeError
    | CancelError
    | FileError
)

_CLASS_ENUMS: dict[ErrorClass, type[enum.IntEnum]] = {
    ErrorClass.VMD_STATE: VmdStateError,
    ErrorClass.APPLICATION_REFERENCE: ApplicationReferenceError,
    ErrorClass.DEFINITION: DefinitionError,
    ErrorClass.RESOURCE: ResourceError,
    ErrorClass.SERVICE: ServiceProblem,
    ErrorClass.SERVICE_PREEMPT: ServicePreemptError,
    ErrorClass.TIME_RESOLUTION: TimeResolutionError,
    ErrorClass.ACCESS: AccessError,
    ErrorClass.INITIATE: InitiateError,
    ErrorClass.CONCLUDE: ConcludeError,
    ErrorClass.CANCEL: CancelError,
    ErrorClass.FILE: FileError,
}
_ENUM_CLASSES = {v: k for k, v in _CLASS_ENUMS.items()}


class RejectReason(enum.Enum):
    """Alternatives of ``RejectPDU.rejectReason``; the value is the ASN.1 identifier."""

    CONFIRMED_REQUEST = "confirmed-requestPDU"
    CONFIRMED_RESPONSE = "confirmed-responsePDU"
    CONFIRMED_ERROR = "confirmed-errorPDU"
    UNCONFIRMED = "unconfirmedPDU"
    PDU_ERROR = "pdu-error"
    CANCEL_REQUEST = "cancel-requestPDU"
    CANCEL_RESPONSE = "cancel-responsePDU"
    CANCEL_ERROR = "cancel-errorPDU"
    CONCLUDE_REQUEST = "conclude-requestPDU"
    CONCLUDE_RESPONSE = "conclude-responsePDU"
    CONCLUDE_ERROR = "conclude-errorPDU"


class ConfirmedRequestReject(enum.IntEnum):
    OTHER = 0
    UNRECOGNIZED_SERVICE = 1
    UNRECOGNIZED_MODIFIER = 2
    INVALID_INVOKE_ID = 3
    INVALID_ARGUMENT = 4
    INVALID_MODIFIER = 5
    MAX_SERV_OUTSTANDING_EXCEEDED = 6
    MAX_RECURSION_EXCEEDED = 8
    VALUE_OUT_OF_RANGE = 9


class PduErrorReject(enum.IntEnum):
    UNKNOWN_PDU_TYPE = 0
    INVALID_PDU = 1
    ILLEGAL_ACSE_MAPPING = 2


@dataclass(frozen=True)
class ServiceErrorInfo:
    """A decoded ``ServiceError``: class, code (an enum when the class has one) and extras."""

    error_class: ErrorClass
    code: int
    additional_code: int | None = None
    additional_description: str | None = None

    def __str__(self) -> str:
        name = self.code.name.lower() if isinstance(self.code, enum.Enum) else str(self.code)
        text = f"{self.error_class.value}: {name}"
        if self.additional_description:
            text += f" ({self.additional_description})"
        return text


def service_error(
    code: ErrorCode | tuple[ErrorClass, int],
    *,
    additional_code: int | None = None,
    additional_description: str | None = None,
) -> dict[str, Any]:
    """The asn1tools value of a ``ServiceError`` for ``code`` (an error-class enum member,
    or ``(ErrorClass.OTHERS, n)`` for the free ``others`` class)."""
    if isinstance(code, tuple):
        error_class, number = code[0], int(code[1])
    else:
        error_class, number = _ENUM_CLASSES[type(code)], int(code)
    value: dict[str, Any] = {"errorClass": (error_class.value, number)}
    if additional_code is not None:
        value["additionalCode"] = additional_code
    if additional_description is not None:
        value["additionalDescription"] = additional_description
    return value


def parse_service_error(value: dict[str, Any]) -> ServiceErrorInfo:
    """Turn the asn1tools value of a ``ServiceError`` into a :class:`ServiceErrorInfo`;
    unknown numbers are kept as plain ints."""
    try:
        name, number = value["errorClass"]
        error_class = ErrorClass(name)
    except (KeyError, TypeError, ValueError) as exc:
        raise MmsDecodeError(f"malformed ServiceError: {value!r}") from exc
    code: int = int(number)
    code_enum = _CLASS_ENUMS.get(error_class)
    if code_enum is not None:
        with contextlib.suppress(ValueError):
            code = code_enum(code)
    return ServiceErrorInfo(
        error_class=error_class,
        code=code,
        additional_code=value.get("additionalCode"),
        additional_description=value.get("additionalDescription"),
    )
