"""Keeping the CRLs fresh while the head-end runs.

A CRL past its nextUpdate makes verification refuse every certificate of that CA (fail closed),
so a server that runs for weeks must republish them. When the CA keys can be opened (clear keys,
or the passphrase in the environment variable the config names) the server reissues each CRL
two days before it would go stale and audits it; when they cannot, it warns loudly every hour
so an operator runs ``derlink pki crl``.
"""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime, timedelta

from derlink.audit.event import AuditEvent, Severity
from derlink.audit.log import AuditLog
from derlink.home import Home
from derlink.pki import Pki, PkiError

log = logging.getLogger("derlink.sep2.crl")

MARGIN = timedelta(days=2)


def stale_soon(pki: Pki, now: datetime) -> bool:
    """True when any CRL is missing or reaches its nextUpdate within MARGIN."""
    try:
        crls = pki.crls()
    except PkiError:
        return True
    return any(crl.next_update_utc is None or crl.next_update_utc - now < MARGIN for crl in crls)


async def refresh(home: Home, audit: AuditLog, passphrase_env: str, now: datetime) -> bool:
    """Reissue the CRLs if they go stale soon; True when it did."""
    pki = Pki.open(home.pki_dir, passphrase=_passphrase(passphrase_env))
    if not stale_soon(pki, now):
        return False
    try:
        pki.crl(now=now)
    except PkiError as err:
        log.warning(
            "CRLs go stale within %s and cannot be reissued here (%s): run 'derlink pki crl'",
            MARGIN,
            err,
        )
        return False
    await audit.append(
        AuditEvent(
            action="pki.crl",
            target="crl:all",
            actor="system:head-end",
            severity=Severity.NOTICE,
            event_id="PKI:Crl.1",
            source="derlink.sep2",
            details={"reason": "nextUpdate within two days"},
        )
    )
    log.info("CRLs reissued")
    return True


def _passphrase(variable: str) -> bytes | None:
    value = os.environ.get(variable)
    return value.encode() if value else None


def utcnow() -> datetime:
    return datetime.now(UTC)
