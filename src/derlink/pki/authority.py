"""The certificate authority on disk: create or open it, issue, revoke, publish CRLs.

Layout of the PKI directory (the data directory's ``pki/``)::

    root-ca.pem  root-ca.key           self-signed root (like a 2030.5 SERCA)
    device-ca.pem  device-ca.key       issues 2030.5 device and TLS server certificates (MICA)
    operator-ca.pem  operator-ca.key   issues operator, aggregator and signer certificates
    device-ca.crl.pem  operator-ca.crl.pem   one CRL per issuing CA
    ca-bundle.pem                      root + both issuing CAs (a TLS server's cafile)
    issued/<SERIAL>.pem                every certificate issued
    index.json                         what was issued and revoked, CRL numbers

Keys are PEM (PKCS #8), encrypted when a passphrase is given, mode 0600; everything else 0644.
Keys are loaded on first use, so reading (list, show, verify) needs no passphrase.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec

from derlink.home import write_private, write_public
from derlink.pki import checks, inputs, oids
from derlink.pki.clock import as_utc, iso
from derlink.pki.crl import DEFAULT_NEXT_UPDATE, build_crl, crl_pem
from derlink.pki.errors import CertificateError, PkiError
from derlink.pki.files import certificate_pem, load_certificate, load_crl
from derlink.pki.identity import HardwareModuleName
from derlink.pki.index import (
    INDEX_NAME,
    LOCK_NAME,
    Event,
    Index,
    IssuedRecord,
    append_events,
    create_index,
    crl_event,
    issue_event,
    load_index,
    locked,
    revoke_event,
)
from derlink.pki.issued import Issued
from derlink.pki.keys import PrivateKey, generate_key, key_pem, load_private_key
from derlink.pki.profiles import (
    LEAF_SPECS,
    Profile,
    Signing,
    build_ca,
    build_device,
    build_e2e,
    build_person,
    build_server,
    build_xmpp_client,
    name,
    xmpp_addr_der,
)
from derlink.pki.roles import Role, user_roles_value
from derlink.pki.verify import VerifiedCertificate, verify_certificate

CA_FILES = {
    Profile.ROOT_CA: "root-ca",
    Profile.DEVICE_CA: "device-ca",
    Profile.OPERATOR_CA: "operator-ca",
}
ISSUING_CAS = (Profile.DEVICE_CA, Profile.OPERATOR_CA)
_CA_TITLES = {
    Profile.ROOT_CA: "Root CA",
    Profile.DEVICE_CA: "Device CA",
    Profile.OPERATOR_CA: "Operator CA",
}
MAX_PKI_NAME = 40  # leaves room for " Operator CA" in a 64-character common name

PublicKey = ec.EllipticCurvePublicKey
CRL = x509.CertificateRevocationList
BuildLeaf = Callable[[PublicKey, Signing, int], x509.Certificate]


@dataclass(frozen=True, slots=True)
class PkiPaths:
    """Where each file of a PKI directory lives."""

    directory: Path

    def cert(self, ca: Profile) -> Path:
        return self.directory / f"{CA_FILES[ca]}.pem"

    def key(self, ca: Profile) -> Path:
        return self.directory / f"{CA_FILES[ca]}.key"

    def crl(self, ca: Profile) -> Path:
        return self.directory / f"{CA_FILES[ca]}.crl.pem"

    def issued(self, serial_number: int) -> Path:
        return self.directory / "issued" / f"{serial_number:X}.pem"

    @property
    def root_cert(self) -> Path:
        return self.cert(Profile.ROOT_CA)

    @property
    def ca_bundle(self) -> Path:
        return self.directory / "ca-bundle.pem"

    @property
    def crls(self) -> tuple[Path, ...]:
        return tuple(self.crl(ca) for ca in ISSUING_CAS)

    @property
    def index(self) -> Path:
        return self.directory / INDEX_NAME


class Pki:
    """A derlink CA in one directory. Build with :meth:`create` or :meth:`open`."""

    def __init__(
        self,
        directory: Path,
        passphrase: bytes | None,
        name: str,
        certificates: dict[Profile, x509.Certificate],
        keys: dict[Profile, PrivateKey] | None = None,
    ) -> None:
        self.directory = directory
        self.paths = PkiPaths(directory)
        self.name = name
        self._passphrase = passphrase
        self._certs = certificates
        self._keys = dict(keys or {})
        self._crl_cache: dict[Path, tuple[tuple[int, int, int], CRL]] = {}

    # -- creation and opening ---------------------------------------------------------------

    @classmethod
    def create(
        cls,
        directory: Path,
        *,
        passphrase: bytes | None,
        name: str = "derlink",
        now: datetime,
    ) -> Pki:
        """Create root, device CA and operator CA (ECDSA P-256, notAfter 9999) and empty CRLs.

        Refuses when ``directory`` already holds a PKI or anything else.
        """
        directory = Path(directory)
        _check_empty(directory)
        pki_name = inputs.text(name, "PKI name", MAX_PKI_NAME)
        if passphrase is not None and not passphrase:
            raise PkiError("the passphrase is empty")
        keys = {ca: generate_key() for ca in CA_FILES}
        certs = _build_cas(pki_name, keys, as_utc(now))
        pki = cls(directory, passphrase, pki_name, certs, keys)
        pki._write_new(as_utc(now))
        return pki

    @classmethod
    def open(cls, directory: Path, *, passphrase: bytes | None) -> Pki:
        """Open the PKI in ``directory``; keys are read (and the passphrase checked) on use."""
        directory = Path(directory)
        if not directory.is_dir():
            raise PkiError(f"no PKI at {directory} (the directory does not exist)")
        index = load_index(directory)
        paths = PkiPaths(directory)
        certs = {ca: load_certificate(paths.cert(ca)) for ca in CA_FILES}
        return cls(directory, passphrase, index.name, certs)

    def _write_new(self, now: datetime) -> None:
        written: list[Path] = []
        try:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            self._write_ca_files(written)
            events = self._publish_crls(Index(self.name), now, DEFAULT_NEXT_UPDATE, written)
            (self.directory / "issued").mkdir(mode=0o755)
            written.append(self.directory / "issued")
            self._put(self.directory / LOCK_NAME, b"", written, private=True)
            create_index(self.directory, self.name, events)
        except BaseException:
            _remove(written)
            raise

    def _write_ca_files(self, written: list[Path]) -> None:
        for ca in CA_FILES:
            key_bytes = key_pem(self._keys[ca], self._passphrase)
            self._put(self.paths.key(ca), key_bytes, written, private=True)
            self._put(self.paths.cert(ca), certificate_pem([self._certs[ca]]), written)
        self._put(self.paths.ca_bundle, self.ca_bundle_pem(), written)

    @staticmethod
    def _put(path: Path, data: bytes, written: list[Path], *, private: bool = False) -> None:
        (write_private if private else write_public)(path, data)
        written.append(path)

    # -- certificates of the CA ------------------------------------------------------------

    def ca_certificate(self, ca: Profile) -> x509.Certificate:
        return self._certs[ca]

    @property
    def root_certificate(self) -> x509.Certificate:
        return self._certs[Profile.ROOT_CA]

    def trust_anchor_pem(self) -> bytes:
        """The root certificate: what relying parties trust."""
        return certificate_pem([self.root_certificate])

    def ca_bundle_pem(self) -> bytes:
        """Root then both issuing CAs: a TLS server's ``cafile``."""
        return certificate_pem(self._certs[ca] for ca in CA_FILES)

    def chain(self, ca: Profile) -> tuple[x509.Certificate, ...]:
        """The chain above a leaf issued by ``ca``: the issuing CA, then the root."""
        return (self._certs[ca], self.root_certificate)

    def unlock(self) -> None:
        """Load every CA key now: raises :class:`PassphraseError` on a missing or wrong one."""
        for ca in CA_FILES:
            self._key(ca)

    def _key(self, ca: Profile) -> PrivateKey:
        if ca not in self._keys:
            self._keys[ca] = load_private_key(self.paths.key(ca), self._passphrase)
        return self._keys[ca]

    # -- issuing ----------------------------------------------------------------------------

    def issue_device(
        self,
        serial: str,
        *,
        hw_type: x509.ObjectIdentifier | str = oids.DERLINK_HW_TYPE,
        policies: Sequence[x509.ObjectIdentifier | str] = (oids.SEP2_DEVICE_GENERIC,),
        now: datetime,
    ) -> Issued:
        """An IEEE 2030.5 device certificate for the device with hardware serial ``serial``."""
        hw_serial = inputs.text(serial, "device serial number", inputs.MAX_HW_SERIAL)
        hw_name = HardwareModuleName(inputs.oid(hw_type, "hardware type"), hw_serial.encode())
        policy_oids = inputs.sep2_policies(policies)
        moment = as_utc(now)

        def build(public_key: PublicKey, signer: Signing, sn: int) -> x509.Certificate:
            return build_device(hw_name, policy_oids, public_key, signer, sn, moment)

        return self._issue(Profile.DEVICE, build, moment)

    def issue_server(
        self, hostnames: Sequence[str], *, now: datetime, validity_days: int = 825
    ) -> Issued:
        """A TLS server certificate issued by the device CA (one chain for 2030.5 clients)."""
        alt_names = inputs.hosts(hostnames)
        subject = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, _cn(alt_names[0]))])
        validity = _validity(as_utc(now), inputs.days(validity_days))

        def build(public_key: PublicKey, signer: Signing, sn: int) -> x509.Certificate:
            return build_server(subject, alt_names, public_key, signer, sn, validity)

        return self._issue(Profile.SERVER, build, validity[0])

    def issue_operator(
        self,
        name: str,
        roles: Sequence[Role],
        *,
        now: datetime,
        validity_days: int = 365,
        area_of_responsibility: str = "derlink",
    ) -> Issued:
        """An operator's certificate with IEC 62351-8 roles (IECUserRoles)."""
        return self._issue_person(
            Profile.OPERATOR, name, roles, now, validity_days, area_of_responsibility
        )

    def issue_aggregator(
        self,
        name: str,
        roles: Sequence[Role],
        *,
        now: datetime,
        validity_days: int = 365,
        area_of_responsibility: str = "derlink",
    ) -> Issued:
        """An aggregator's client certificate with IEC 62351-8 roles."""
        return self._issue_person(
            Profile.AGGREGATOR, name, roles, now, validity_days, area_of_responsibility
        )

    def issue_signer(self, name: str, *, now: datetime, validity_days: int = 1825) -> Issued:
        """A certificate for signing audit-log tree heads (digitalSignature only)."""
        return self._issue_person(Profile.SIGNER, name, None, now, validity_days, None)

    def issue_xmpp_client(
        self,
        jid: str,
        *,
        roles: Sequence[Role] | None = None,
        now: datetime,
        validity_days: int = 365,
        area_of_responsibility: str = "derlink",
    ) -> Issued:
        """An XMPP client certificate for the bare ``jid`` (SASL EXTERNAL login).

        The JID is in subjectAltName as id-on-xmppAddr and in the common name; IEC 62351-8
        ``roles`` (for control-centre identities) are optional. Issued by the device CA, so the
        CA bundle that authenticates the XMPP server also authenticates its clients.
        """
        bare = inputs.jid(jid)
        subject = name(bare, self.name, LEAF_SPECS[Profile.XMPP_CLIENT].unit)
        roles_der = _roles_value(roles, area_of_responsibility)
        validity = _validity(as_utc(now), inputs.days(validity_days))

        def build(public_key: PublicKey, signer: Signing, sn: int) -> x509.Certificate:
            return build_xmpp_client(subject, bare, roles_der, public_key, signer, sn, validity)

        return self._issue(Profile.XMPP_CLIENT, build, validity[0])

    def issue_e2e(
        self,
        name: str,
        *,
        roles: Sequence[Role] | None = None,
        xmpp_address: str | None = None,
        hardware_serial: str | None = None,
        now: datetime,
        validity_days: int = 365,
        area_of_responsibility: str = "derlink",
    ) -> Issued:
        """An end-to-end certificate (derlink.e2e sessions and group keys), separate from TLS.

        keyUsage digitalSignature + keyAgreement and derlink's end-to-end EKU only. The
        optional ``xmpp_address`` (id-on-xmppAddr) and ``hardware_serial`` (HardwareModuleName,
        as in the holder's 2030.5 device certificate) tie it to the transport identity; IEC
        62351-8 ``roles`` are optional (operators, control centre).
        """
        if oids.POLICY_E2E not in checks.policy_oids(self._certs[Profile.DEVICE_CA]):
            raise PkiError(
                "this PKI was created before end-to-end certificates existed: its device CA "
                "does not assert the end-to-end policy (create a new PKI)"
            )
        subject = _e2e_subject(name, self.name)
        alt_names: list[x509.GeneralName] = []
        if xmpp_address is not None:
            jid = inputs.jid(xmpp_address)
            alt_names.append(x509.OtherName(oids.XMPP_ADDR, xmpp_addr_der(jid)))
        if hardware_serial is not None:
            hw_serial = inputs.text(hardware_serial, "device serial number", inputs.MAX_HW_SERIAL)
            hw_name = HardwareModuleName(oids.DERLINK_HW_TYPE, hw_serial.encode())
            alt_names.append(x509.OtherName(oids.HARDWARE_MODULE_NAME, hw_name.to_der()))
        roles_der = _roles_value(roles, area_of_responsibility)
        validity = _validity(as_utc(now), inputs.days(validity_days))

        def build(public_key: PublicKey, signer: Signing, sn: int) -> x509.Certificate:
            return build_e2e(subject, alt_names, roles_der, public_key, signer, sn, validity)

        return self._issue(Profile.E2E, build, validity[0])

    def _issue_person(
        self,
        profile: Profile,
        holder: str,
        roles: Sequence[Role] | None,
        now: datetime,
        validity_days: int,
        aor: str | None,
    ) -> Issued:
        subject = name(inputs.text(holder, "name"), self.name, LEAF_SPECS[profile].unit)
        roles_der = _roles_value(roles, aor or "")
        validity = _validity(as_utc(now), inputs.days(validity_days))

        def build(public_key: PublicKey, signer: Signing, sn: int) -> x509.Certificate:
            return build_person(profile, subject, roles_der, public_key, signer, sn, validity)

        return self._issue(profile, build, validity[0])

    def _issue(self, profile: Profile, build: BuildLeaf, now: datetime) -> Issued:
        ca = LEAF_SPECS[profile].issuer
        signer = Signing(self._key(ca), self._certs[ca])
        key = generate_key()
        with locked(self.directory):
            cert = build(key.public_key(), signer, self._new_serial())
            summary = self._self_check(cert, profile, now)
            write_public(self.paths.issued(cert.serial_number), certificate_pem([cert]))
            append_events(self.directory, [issue_event(_record(summary, ca, cert))])
        return Issued(cert, key, self.chain(ca), profile)

    def _self_check(
        self, cert: x509.Certificate, profile: Profile, now: datetime
    ) -> VerifiedCertificate:
        """Every certificate is verified as a relying party would before it is recorded."""
        return verify_certificate(
            cert,
            intermediates=[self._certs[ca] for ca in ISSUING_CAS],
            trust_roots=[self.root_certificate],
            now=now,
            profiles={profile},
        )

    def _new_serial(self) -> int:
        """A fresh random 64-bit serial number (RFC 5280 4.1.2.2: positive, unique).

        Unique against the CAs and every certificate in ``issued/`` (the caller holds the lock).
        """
        taken = {c.serial_number for c in self._certs.values()}
        while True:
            serial = secrets.randbits(64)
            if serial and serial not in taken and not self.paths.issued(serial).exists():
                return serial

    # -- revocation -------------------------------------------------------------------------

    def revoke(
        self,
        serial_number: int,
        *,
        reason: x509.ReasonFlags = x509.ReasonFlags.unspecified,
        now: datetime,
    ) -> IssuedRecord:
        """Revoke a certificate issued by this PKI and re-publish its issuer's CRL."""
        self._check_revocable(serial_number, reason)
        moment = as_utc(now)
        with locked(self.directory):
            index = load_index(self.directory)
            record = _revocable(index, serial_number)
            key = self._key(record.issuer)
            revocation = revoke_event(serial_number, moment, reason.value)
            index.apply(revocation)
            crl, numbered = self._build_crl(index, record.issuer, moment, DEFAULT_NEXT_UPDATE, key)
            append_events(self.directory, [revocation, numbered])
            write_public(self.paths.crl(record.issuer), crl_pem(crl))
        return index.records[serial_number]

    def _check_revocable(self, serial_number: int, reason: x509.ReasonFlags) -> None:
        if reason is x509.ReasonFlags.remove_from_crl:
            raise PkiError("removeFromCRL is for delta CRLs, not a revocation reason")
        for ca, cert in self._certs.items():
            if cert.serial_number == serial_number:
                raise PkiError(f"refusing to revoke the {ca.value} certificate itself")

    def crl(self, *, now: datetime, next_update: timedelta = DEFAULT_NEXT_UPDATE) -> bytes:
        """Issue a fresh CRL for each issuing CA, write them, return them as PEM."""
        if next_update <= timedelta(0):
            raise PkiError("the CRL validity (next update) must be positive")
        for ca in ISSUING_CAS:
            self._key(ca)
        with locked(self.directory):
            index = load_index(self.directory)
            self._publish_crls(index, as_utc(now), next_update, [])
        return b"".join(path.read_bytes() for path in self.paths.crls)

    def _publish_crls(
        self, index: Index, now: datetime, next_update: timedelta, written: list[Path]
    ) -> list[Event]:
        """Build, write and (unless the index is new) record a CRL for each issuing CA."""
        built = [self._build_crl(index, ca, now, next_update) for ca in ISSUING_CAS]
        events = [event for _, event in built]
        if (self.directory / INDEX_NAME).exists():
            append_events(self.directory, events)
        for ca, (crl, _) in zip(ISSUING_CAS, built, strict=True):
            self._put(self.paths.crl(ca), crl_pem(crl), written)
        return events

    def _build_crl(
        self,
        index: Index,
        ca: Profile,
        now: datetime,
        next_update: timedelta,
        key: PrivateKey | None = None,
    ) -> tuple[x509.CertificateRevocationList, Event]:
        signing_key = key if key is not None else self._key(ca)
        number = index.next_crl_number(ca)
        crl = build_crl(
            self._certs[ca], signing_key, index.revoked_by(ca), number, now, next_update
        )
        return crl, crl_event(ca, number)

    def crls(self) -> list[x509.CertificateRevocationList]:
        """The current CRL of each issuing CA, as on disk (parsed again only when changed)."""
        return [self._crl(path) for path in self.paths.crls]

    def _crl(self, path: Path) -> CRL:
        try:
            info = path.stat()
        except OSError:
            return load_crl(path)  # raises the clear error
        stamp = (info.st_ino, info.st_mtime_ns, info.st_size)
        cached = self._crl_cache.get(path)
        if cached is None or cached[0] != stamp:
            cached = (stamp, load_crl(path))
            self._crl_cache[path] = cached
        return cached[1]

    # -- reading ------------------------------------------------------------------------------

    def issued(self) -> list[IssuedRecord]:
        """Every certificate issued, oldest first."""
        records = load_index(self.directory).records.values()
        return sorted(records, key=lambda r: (r.not_before, r.serial_number))

    def find(self, serial_number: int) -> IssuedRecord | None:
        return load_index(self.directory).records.get(serial_number)

    def certificate(self, serial_number: int) -> x509.Certificate:
        """The issued certificate with ``serial_number``."""
        if self.find(serial_number) is None:
            raise PkiError(f"no certificate with serial {serial_number:X} was issued by this PKI")
        return load_certificate(self.paths.issued(serial_number))

    def verify(
        self,
        cert: x509.Certificate | bytes,
        now: datetime,
        profiles: set[Profile] | None = None,
    ) -> VerifiedCertificate:
        """:func:`verify_certificate` against this PKI's root, CAs and current CRLs."""
        return verify_certificate(
            cert,
            intermediates=[self._certs[ca] for ca in ISSUING_CAS],
            trust_roots=[self.root_certificate],
            crls=self.crls(),
            now=now,
            profiles=profiles,
        )

    def profile_of(self, cert: x509.Certificate) -> Profile:
        """The profile of a certificate issued by this PKI (or of one of its CAs)."""
        for ca, ca_cert in self._certs.items():
            if ca_cert == cert:
                return ca
        issuer = self._issuer_of(cert)
        profile = checks.classify(cert)
        try:
            checks.check_profile(profile, cert, issuer)
        except CertificateError as err:
            raise CertificateError(f"not a valid {profile.value} certificate: {err}") from None
        return profile

    def _issuer_of(self, cert: x509.Certificate) -> x509.Certificate:
        for ca in ISSUING_CAS:
            candidate = self._certs[ca]
            if candidate.subject != cert.issuer:
                continue
            try:
                cert.verify_directly_issued_by(candidate)
            except (ValueError, TypeError, InvalidSignature):
                continue
            return candidate
        raise CertificateError("the certificate was not issued by this PKI")


def _check_empty(directory: Path) -> None:
    if (directory / INDEX_NAME).exists() or (directory / "root-ca.pem").exists():
        raise PkiError(f"a PKI already exists in {directory}; refusing to overwrite it")
    if directory.exists() and not directory.is_dir():
        raise PkiError(f"{directory} exists and is not a directory")
    if directory.is_dir() and any(directory.iterdir()):
        raise PkiError(f"{directory} is not empty; refusing to create a PKI there")


def _build_cas(
    pki_name: str, keys: dict[Profile, PrivateKey], now: datetime
) -> dict[Profile, x509.Certificate]:
    root_signer = Signing(keys[Profile.ROOT_CA])
    root = _ca(Profile.ROOT_CA, pki_name, keys, root_signer, now)
    issuer = Signing(keys[Profile.ROOT_CA], root)
    certs = {Profile.ROOT_CA: root}
    for ca in ISSUING_CAS:
        certs[ca] = _ca(ca, pki_name, keys, issuer, now)
    return certs


def _ca(
    ca: Profile,
    pki_name: str,
    keys: dict[Profile, PrivateKey],
    signer: Signing,
    now: datetime,
) -> x509.Certificate:
    subject = name(f"{pki_name} {_CA_TITLES[ca]}", pki_name)
    serial = secrets.randbits(64) | 1
    return build_ca(ca, subject, keys[ca].public_key(), signer, serial, now)


def _roles_value(roles: Sequence[Role] | None, aor: str) -> bytes | None:
    """The IECUserRoles extension value of ``roles`` (None: the certificate has none)."""
    return None if roles is None else user_roles_value(inputs.roles(roles), aor)


def _e2e_subject(holder: str, pki_name: str) -> x509.Name:
    return name(inputs.text(holder, "name"), pki_name, LEAF_SPECS[Profile.E2E].unit)


def _validity(now: datetime, days: int) -> tuple[datetime, datetime]:
    return now, now + timedelta(days=days)


def _cn(general_name: x509.GeneralName) -> str:
    return str(general_name.value)


def _record(summary: VerifiedCertificate, issuer: Profile, cert: x509.Certificate) -> IssuedRecord:
    return IssuedRecord(
        serial_number=cert.serial_number,
        profile=summary.profile,
        issuer=issuer,
        subject=summary.subject,
        lfdi=summary.lfdi,
        sfdi=summary.sfdi,
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        hardware_serial=summary.hardware_serial,
        roles=summary.roles,
    )


def _revocable(index: Index, serial_number: int) -> IssuedRecord:
    record = index.records.get(serial_number)
    if record is None:
        raise PkiError(f"no certificate with serial {serial_number:X} was issued by this PKI")
    if record.revoked_at is not None:
        raise PkiError(
            f"certificate {serial_number:X} is already revoked (since {iso(record.revoked_at)})"
        )
    return record


def _remove(paths: list[Path]) -> None:
    for path in reversed(paths):
        if path.is_dir():
            path.rmdir()
        else:
            path.unlink(missing_ok=True)
