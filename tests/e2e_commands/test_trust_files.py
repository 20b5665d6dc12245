"""A running DER client picks up CRLs an agent drops in place (no CRL distribution in 2030.5)."""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from derlink.e2e.commands import UntrustedSigner
from derlink.sep2.client.signed import CommandTrust, TrustFiles
from e2e_commands.signing_keys import make_keys
from e2e_commands.test_signed_commands import check, signed_by


def test_crl_files_are_read_again_when_they_change(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    keys = make_keys(tmp_path)
    paths = keys.pki.paths
    files = TrustFiles(paths.root_cert, paths.crls)
    trust = CommandTrust(files.load(), tmp_path / "state", files=files)
    assert trust.refreshed() is trust  # nothing changed: no re-read
    signed = signed_by(keys, "bob")
    assert check(keys, signed, trust=trust.trust)

    keys.pki.revoke(keys.issued["bob"].certificate.serial_number, now=datetime.now(UTC))
    for crl in paths.crls:  # the revocation may land within the file system's time resolution
        os.utime(crl, ns=(os.stat(crl).st_atime_ns, os.stat(crl).st_mtime_ns + 1_000_000))
    revoked = trust.refreshed()
    assert revoked is not trust
    with pytest.raises(UntrustedSigner):
        check(keys, signed, trust=revoked.trust)

    paths.crls[0].write_text("not a CRL")  # a broken drop keeps the trust in force
    with caplog.at_level(logging.WARNING, logger="derlink.sep2.client"):
        assert revoked.refreshed().trust is revoked.trust
    assert "could not be read" in caplog.text
