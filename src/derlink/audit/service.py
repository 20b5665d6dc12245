"""Opening the audit log of a data directory: its database and its audit key.

The audit key (``pki/audit.key``) signs tree heads; its certificate (``pki/audit.pem``) is
what a verifier or an external witness needs. Components that only verify never load the key.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from derlink.audit.errors import AuditError
from derlink.audit.event import AuditEvent
from derlink.audit.log import AuditLog, StoredRecord
from derlink.home import Home
from derlink.store.database import Database
from derlink.store.migrate import require_current


def load_signer(home: Home) -> ec.EllipticCurvePrivateKey:
    """The audit private key of ``home``; a clear error when it is missing or not EC."""
    try:
        key = load_pem_private_key(home.audit_key_file.read_bytes(), password=None)
    except OSError as err:
        raise AuditError(
            f"cannot read the audit key {home.audit_key_file}: {err.strerror}"
        ) from None
    except (ValueError, TypeError) as err:
        raise AuditError(f"{home.audit_key_file} is not a usable audit key: {err}") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise AuditError(f"{home.audit_key_file} is not an EC key")
    return key


def load_public_key(home: Home) -> ec.EllipticCurvePublicKey:
    """The audit public key, from the audit certificate (first certificate of the file)."""
    try:
        cert = x509.load_pem_x509_certificates(home.audit_cert_file.read_bytes())[0]
    except OSError as err:
        raise AuditError(f"cannot read {home.audit_cert_file}: {err.strerror}") from None
    except ValueError as err:
        raise AuditError(f"{home.audit_cert_file} is not a certificate: {err}") from None
    key = cert.public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise AuditError(f"{home.audit_cert_file} does not hold an EC key")
    return key


@asynccontextmanager
async def open_audit_log(home: Home, url: str, *, write: bool) -> AsyncIterator[AuditLog]:
    """The audit log of ``home`` in the database at ``url``; ``write`` loads the signer."""
    async with Database(url) as db:
        await require_current(db)
        if write:
            yield AuditLog(db, signer=load_signer(home))
        else:
            yield AuditLog(db, public_key=load_public_key(home))


async def append_event(home: Home, url: str, event: AuditEvent) -> StoredRecord:
    async with open_audit_log(home, url, write=True) as log:
        return await log.append(event)


def append_event_sync(home: Home, url: str, event: AuditEvent) -> StoredRecord:
    """For synchronous callers such as CLI commands: append and return once durable."""
    return asyncio.run(append_event(home, url, event))
