"""The CA on disk: creation, opening, passphrases, the index, revocation and CRLs."""

from __future__ import annotations

import json
import stat
import threading
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509

from derlink.pki import (
    CertificateError,
    PassphraseError,
    Pki,
    PkiError,
    Profile,
    Role,
    load_certificate,
    parse_crl,
)


def snapshot(directory: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(directory)): p.read_bytes() for p in directory.rglob("*") if p.is_file()
    }


def test_create_writes_the_layout_with_modes(pki: Pki) -> None:
    d = pki.directory
    assert sorted(p.name for p in d.iterdir()) == sorted(
        [
            ".lock",
            "ca-bundle.pem",
            "device-ca.crl.pem",
            "device-ca.key",
            "device-ca.pem",
            "index.jsonl",
            "issued",
            "operator-ca.crl.pem",
            "operator-ca.key",
            "operator-ca.pem",
            "root-ca.key",
            "root-ca.pem",
        ]
    )
    for name in ("root-ca.key", "device-ca.key", "operator-ca.key"):
        assert stat.S_IMODE((d / name).stat().st_mode) == 0o600
        assert (d / name).read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    for name in ("root-ca.pem", "device-ca.pem", "operator-ca.pem", "ca-bundle.pem", "index.jsonl"):
        assert stat.S_IMODE((d / name).stat().st_mode) == 0o644
    assert stat.S_IMODE(d.stat().st_mode) == 0o700
    assert pki.trust_anchor_pem() == pki.paths.root_cert.read_bytes()
    assert pki.paths.ca_bundle.read_bytes() == pki.ca_bundle_pem()
    assert [load_certificate(p) for p in (pki.paths.cert(c) for c in Profile if c.is_ca)]


def test_create_refuses_an_existing_pki_or_a_non_empty_directory(
    pki: Pki, now: datetime, tmp_path: Path
) -> None:
    before = snapshot(pki.directory)
    with pytest.raises(PkiError, match="a PKI already exists"):
        Pki.create(pki.directory, passphrase=None, now=now)
    assert snapshot(pki.directory) == before
    junk = tmp_path / "junk"
    junk.mkdir()
    (junk / "notes.txt").write_text("hello")
    with pytest.raises(PkiError, match="not empty"):
        Pki.create(junk, passphrase=None, now=now)
    with pytest.raises(PkiError, match="PKI name"):
        Pki.create(tmp_path / "new", passphrase=None, name="", now=now)
    assert not (tmp_path / "new").exists()


def test_create_in_an_existing_empty_directory(tmp_path: Path, now: datetime) -> None:
    (tmp_path / "pki").mkdir(mode=0o700)
    assert Pki.create(tmp_path / "pki", passphrase=None, now=now).name == "derlink"


def test_open_reads_what_create_wrote(pki: Pki, now: datetime) -> None:
    again = Pki.open(pki.directory, passphrase=None)
    assert again.name == pki.name
    assert again.root_certificate == pki.root_certificate
    issued = again.issue_device("INV-1", now=now)
    assert pki.find(issued.serial_number) is not None


def test_open_refuses_what_is_not_a_pki(tmp_path: Path, pki: Pki) -> None:
    with pytest.raises(PkiError, match="does not exist"):
        Pki.open(tmp_path / "missing", passphrase=None)
    (tmp_path / "empty").mkdir()
    with pytest.raises(PkiError, match="is not a derlink PKI"):
        Pki.open(tmp_path / "empty", passphrase=None)
    pki.paths.index.write_text("{not json")
    with pytest.raises(PkiError, match="is corrupt"):
        Pki.open(pki.directory, passphrase=None)


def test_open_refuses_a_pki_with_a_missing_ca_certificate(pki: Pki) -> None:
    pki.paths.cert(Profile.DEVICE_CA).unlink()
    with pytest.raises(PkiError, match=r"device-ca\.pem does not exist"):
        Pki.open(pki.directory, passphrase=None)


def test_encrypted_keys(encrypted_pki: Pki, now: datetime) -> None:
    d = encrypted_pki.directory
    for name in ("root-ca.key", "device-ca.key", "operator-ca.key"):
        assert (d / name).read_bytes().startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    right = Pki.open(d, passphrase=b"correct horse")
    right.unlock()
    assert right.issue_device("INV-1", now=now).profile is Profile.DEVICE


@pytest.mark.parametrize(
    ("passphrase", "message"),
    [
        (b"wrong", "wrong passphrase for the CA key device-ca.key"),
        (None, "the CA key device-ca.key is encrypted and no passphrase was given"),
    ],
)
def test_wrong_or_missing_passphrase_is_refused_and_changes_nothing(
    encrypted_pki: Pki, now: datetime, passphrase: bytes | None, message: str
) -> None:
    d = encrypted_pki.directory
    kept = encrypted_pki.issue_device("INV-0", now=now)
    before = snapshot(d)
    pki = Pki.open(d, passphrase=passphrase)
    with pytest.raises(PassphraseError, match=message):
        pki.issue_device("INV-1", now=now)
    with pytest.raises(PassphraseError, match=message):
        pki.revoke(kept.serial_number, now=now)
    with pytest.raises(PassphraseError, match=message):
        pki.crl(now=now)
    assert snapshot(d) == before
    # reading needs no key
    assert pki.verify(kept.certificate, now).profile is Profile.DEVICE
    assert [r.serial_number for r in pki.issued()] == [kept.serial_number]


def test_index_records_every_issued_certificate(pki: Pki, now: datetime) -> None:
    device = pki.issue_device("INV-1", now=now)
    operator = pki.issue_operator("alice", [Role.OPERATOR], now=now + timedelta(seconds=1))
    records = pki.issued()
    assert [r.serial_number for r in records] == [device.serial_number, operator.serial_number]
    first = pki.find(device.serial_number)
    assert first is not None
    assert (first.profile, first.issuer) == (Profile.DEVICE, Profile.DEVICE_CA)
    assert first.lfdi == device.lfdi and first.sfdi == device.sfdi
    assert first.hardware_serial == "INV-1" and first.subject == ""
    assert not first.revoked
    second = pki.find(operator.serial_number)
    assert second is not None and second.roles == (Role.OPERATOR,)
    assert pki.certificate(device.serial_number) == device.certificate
    assert pki.find(12345) is None
    with pytest.raises(PkiError, match="no certificate with serial 3039"):
        pki.certificate(12345)
    lines = [json.loads(line) for line in pki.paths.index.read_text().splitlines()]
    assert lines[0] == {"format": 1, "name": "derlink"}
    issued_serials = [e["issue"]["serial_number"] for e in lines if "issue" in e]
    assert issued_serials == [f"{device.serial_number:X}", f"{operator.serial_number:X}"]


def test_a_torn_last_line_is_ignored_and_cut_before_the_next_append(
    pki: Pki, now: datetime
) -> None:
    first = pki.issue_device("INV-1", now=now)
    with pki.paths.index.open("ab") as fh:
        fh.write(b'{"issue":{"serial_number":"AB')  # a crash in the middle of an append
    assert [r.serial_number for r in pki.issued()] == [first.serial_number]
    second = pki.issue_device("INV-2", now=now)
    assert {r.serial_number for r in pki.issued()} == {first.serial_number, second.serial_number}
    assert pki.paths.index.read_bytes().endswith(b"\n")
    assert b'"AB{' not in pki.paths.index.read_bytes()


def test_revocation_survives_reopening_and_updates_the_crl(pki: Pki, now: datetime) -> None:
    issued = pki.issue_device("INV-1", now=now)
    record = pki.revoke(issued.serial_number, reason=x509.ReasonFlags.superseded, now=now)
    assert record.revoked and record.revocation_reason == "superseded"
    reopened = Pki.open(pki.directory, passphrase=None)
    found = reopened.find(issued.serial_number)
    assert found is not None and found.revoked_at == now
    crl = parse_crl(pki.paths.crl(Profile.DEVICE_CA).read_bytes())
    entry = crl.get_revoked_certificate_by_serial_number(issued.serial_number)
    assert entry is not None
    assert entry.extensions.get_extension_for_class(x509.CRLReason).value.reason is (
        x509.ReasonFlags.superseded
    )
    assert crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == 2
    assert crl.is_signature_valid(pki.ca_certificate(Profile.DEVICE_CA).public_key())  # type: ignore[arg-type]


def test_unspecified_reason_is_not_written(pki: Pki, now: datetime) -> None:
    issued = pki.issue_device("INV-1", now=now)
    pki.revoke(issued.serial_number, now=now)
    crl = parse_crl(pki.paths.crl(Profile.DEVICE_CA).read_bytes())
    entry = crl.get_revoked_certificate_by_serial_number(issued.serial_number)
    assert entry is not None and len(entry.extensions) == 0


def test_revoke_refusals_change_nothing(pki: Pki, now: datetime) -> None:
    issued = pki.issue_device("INV-1", now=now)
    pki.revoke(issued.serial_number, now=now)
    before = snapshot(pki.directory)
    with pytest.raises(PkiError, match="no certificate with serial 1 was issued"):
        pki.revoke(1, now=now)
    with pytest.raises(PkiError, match="already revoked"):
        pki.revoke(issued.serial_number, now=now)
    for ca in (Profile.ROOT_CA, Profile.DEVICE_CA, Profile.OPERATOR_CA):
        with pytest.raises(PkiError, match=f"refusing to revoke the {ca.value}"):
            pki.revoke(pki.ca_certificate(ca).serial_number, now=now)
    other = pki.issue_device("INV-2", now=now)
    before = snapshot(pki.directory)
    with pytest.raises(PkiError, match="removeFromCRL"):
        pki.revoke(other.serial_number, reason=x509.ReasonFlags.remove_from_crl, now=now)
    assert snapshot(pki.directory) == before


def test_crl_issues_one_crl_per_issuing_ca(pki: Pki, now: datetime) -> None:
    pem = pki.crl(now=now, next_update=timedelta(days=2))
    assert pem.count(b"-----BEGIN X509 CRL-----") == 2
    crls = pki.crls()
    assert [c.issuer for c in crls] == [
        pki.ca_certificate(Profile.DEVICE_CA).subject,
        pki.ca_certificate(Profile.OPERATOR_CA).subject,
    ]
    for crl in crls:
        assert crl.last_update_utc == now and crl.next_update_utc == now + timedelta(days=2)
        assert crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == 2
        assert crl.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier)
    with pytest.raises(PkiError, match="must be positive"):
        pki.crl(now=now, next_update=timedelta(0))


def test_profile_of(pki: Pki, other_pki: Pki, now: datetime) -> None:
    assert pki.profile_of(pki.issue_device("INV-1", now=now).certificate) is Profile.DEVICE
    assert pki.profile_of(pki.issue_signer("s", now=now).certificate) is Profile.SIGNER
    with pytest.raises(CertificateError, match="not issued by this PKI"):
        pki.profile_of(other_pki.issue_signer("s", now=now).certificate)


def test_concurrent_issuance_loses_no_record(pki: Pki, now: datetime) -> None:
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            mine = Pki.open(pki.directory, passphrase=None)
            for i in range(3):
                mine.issue_device(f"T{n}-{i}", now=now)
        except BaseException as err:  # pragma: no cover - reported below
            errors.append(err)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(pki.issued()) == 18
    assert len(list((pki.directory / "issued").iterdir())) == 18


def test_naive_time_is_a_programming_error(pki: Pki) -> None:
    with pytest.raises(ValueError, match="aware datetime"):
        pki.issue_device("INV-1", now=datetime(2025, 1, 1))
