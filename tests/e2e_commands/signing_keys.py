"""A PKI for the signed-command tests: operators with and without CONTROL, devices, a rogue CA."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from derlink.e2e.commands import Signer, Trust
from derlink.pki import Issued, Pki, Role


@dataclass
class Keys:
    pki: Pki
    issued: dict[str, Issued]

    def signer(self, name: str = "alice") -> Signer:
        cert = self.issued[name]
        return Signer(cert.private_key, (cert.certificate, *cert.chain))

    def trust(self, *, crls: bool = True) -> Trust:
        return Trust((self.pki.root_certificate,), tuple(self.pki.crls()) if crls else ())

    def lfdi(self, name: str) -> str:
        return self.issued[name].lfdi


def make_keys(root: Path) -> Keys:
    # An hour back, so tests that fix their own "now" at import time stay inside the validity
    # however late in a long run the fixture is built.
    now = datetime.now(UTC) - timedelta(hours=1)
    pki = Pki.create(root / "pki", passphrase=None, now=now)
    issued = {
        "alice": pki.issue_operator("alice", [Role.OPERATOR], now=now),
        "bob": pki.issue_operator("bob", [Role.OPERATOR], now=now),
        "viewer": pki.issue_operator("victor", [Role.VIEWER], now=now),
        "mallory": pki.issue_operator("mallory", [Role.OPERATOR], now=now),
        "agg": pki.issue_aggregator("vpp", [Role.OPERATOR], now=now),
        "dev1": pki.issue_device("SN-1", now=now),
        "dev2": pki.issue_device("SN-2", now=now),
    }
    pki.revoke(issued["mallory"].certificate.serial_number, now=now)
    other = Pki.create(root / "other", passphrase=None, name="rogue", now=now)
    issued["rogue"] = other.issue_operator("alice", [Role.OPERATOR], now=now)
    return Keys(pki, issued)
