"""The running head-end reissues CRLs before they go stale, when it can open the CA keys."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from derlink.audit import AuditLog
from derlink.home import Home
from derlink.pki import Pki
from derlink.sep2 import crl_refresh
from derlink.store import Database, upgrade

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@pytest.fixture
async def audit(tmp_path: Path) -> AsyncIterator[AuditLog]:
    async with Database(f"sqlite:///{tmp_path / 'a.db'}") as db:
        await upgrade(db)
        yield AuditLog(db, signer=ec.generate_private_key(ec.SECP256R1()))


async def test_a_crl_about_to_go_stale_is_reissued(tmp_path: Path, audit: AuditLog) -> None:
    home = Home(tmp_path / "h")
    Pki.create(home.pki_dir, passphrase=None, now=NOW - timedelta(days=6)).crl(
        now=NOW - timedelta(days=6)
    )
    assert crl_refresh.stale_soon(Pki.open(home.pki_dir, passphrase=None), NOW)
    assert await crl_refresh.refresh(home, audit, "UNSET_VARIABLE_FOR_TEST", NOW)
    fresh = Pki.open(home.pki_dir, passphrase=None)
    assert not crl_refresh.stale_soon(fresh, NOW)
    assert all(
        c.next_update_utc and c.next_update_utc > NOW + timedelta(days=6) for c in fresh.crls()
    )
    assert await audit.size() == 1
    assert not await crl_refresh.refresh(home, audit, "UNSET_VARIABLE_FOR_TEST", NOW)


async def test_locked_keys_only_warn(
    tmp_path: Path, audit: AuditLog, caplog: pytest.LogCaptureFixture
) -> None:
    home = Home(tmp_path / "h")
    Pki.create(home.pki_dir, passphrase=b"secret", now=NOW - timedelta(days=6)).crl(
        now=NOW - timedelta(days=6)
    )
    assert not await crl_refresh.refresh(home, audit, "UNSET_VARIABLE_FOR_TEST", NOW)
    assert "derlink pki crl" in caplog.text
    assert await audit.size() == 0
