"""derlink.audit: the tamper-evident audit log (RFC 6962 Merkle tree, signed tree heads).

Records follow IEC 62351-14's event shape (severity, event id, source) plus actor, action,
target and outcome; see :mod:`derlink.audit.event`, :mod:`derlink.audit.log`.
"""

from derlink.audit.errors import AuditError
from derlink.audit.event import AuditEvent, AuditRecord, Outcome, Severity
from derlink.audit.log import AuditLog, InclusionProof, StoredRecord, VerifyResult
from derlink.audit.treehead import TreeHead

__all__ = [
    "AuditError",
    "AuditEvent",
    "AuditLog",
    "AuditRecord",
    "InclusionProof",
    "Outcome",
    "Severity",
    "StoredRecord",
    "TreeHead",
    "VerifyResult",
]
