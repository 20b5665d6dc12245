"""End-to-end protection for the commands that speak IEC 61850 over XMPP (``derlink ied ...``).

The options (:func:`e2e_options`): ``--e2e-cert``/``--e2e-key`` (from ``derlink pki issue e2e``,
naming the command's JID with ``--xmpp``), ``--e2e-ca`` (trust anchors; default: the ``--ca``
bundle), ``--crl`` (the CRLs of the issuing CAs, repeatable: a peer is never accepted without a
revocation check; the files are read again when they change) and ``--require-e2e``.

The default: **protected whenever end-to-end credentials are given.** Every MMS payload to and
from a peer is then sealed in an IEC 62351-4-style session bound to the peer's JID, group
commands use group keys, and a plaintext payload is refused and audited — there is no mixed
mode, because a downgrade path is exactly what an attacker at the XMPP server would use.
Without credentials the payloads cross the XMPP server in clear (hop-by-hop TLS only) and a
warning says so; ``--require-e2e`` (or ``DERLINK_REQUIRE_E2E=1``) makes that a refusal to start.

A passphrase-protected key is opened with ``DERLINK_E2E_PASSPHRASE``.

Commands run against a data directory (the control centre of ``derlink ied dispatch``, the
simulated IEDs of ``derlink ied sim`` and the demo) need no files: :func:`protect_centre` and
:func:`protect_simulated` issue each party's end-to-end certificate once from the data
directory's PKI (the centre's with the OPERATOR role) and keep it for the next run.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import click
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from derlink.e2e import AnchorVerifier, Credentials, PkiVerifier
from derlink.errors import DerlinkError
from derlink.home import Home
from derlink.iec61850.groupkeys import GroupKeyDistributor, GroupKeyReceiver
from derlink.iec61850.ied import IedRuntime
from derlink.iec61850.protection import AuditSink, E2eProtector, acsi_authorizer
from derlink.iec61850.xmpp.endpoint import Endpoint
from derlink.pki import (
    CertificateError,
    Pki,
    Role,
    load_certificates,
    load_crl,
    load_private_key,
)
from derlink.pki.checks import xmpp_addrs
from derlink.rbac import Policy
from derlink.rbac.policy import DEFAULT_POLICY

log = logging.getLogger(__name__)

E2E_PASSPHRASE_ENV = "DERLINK_E2E_PASSPHRASE"
REQUIRE_ENV = "DERLINK_REQUIRE_E2E"
PLAINTEXT_WARNING = (
    "warning: no end-to-end credentials (--e2e-cert/--e2e-key): MMS payloads cross the XMPP "
    "server in clear (hop-by-hop TLS only)"
)


class E2eSetupError(DerlinkError):
    """The end-to-end options do not make a working setup (missing, unreadable, mismatched)."""


_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


def e2e_options(command: Callable[..., None]) -> Callable[..., None]:
    """Add ``--e2e-cert --e2e-key --e2e-ca --crl --require-e2e`` (see the module docstring)."""
    options = [
        click.option(
            "--require-e2e",
            is_flag=True,
            envvar=REQUIRE_ENV,
            help="Refuse to run without end-to-end credentials (never send MMS in clear).",
        ),
        click.option(
            "--crl",
            "e2e_crls",
            type=_FILE,
            multiple=True,
            help="CRL (PEM or DER) of a CA issuing end-to-end certificates, repeatable "
            "(required with --e2e-cert; read again when the file changes).",
        ),
        click.option(
            "--e2e-ca",
            type=_FILE,
            default=None,
            help="PEM bundle holding the trust anchor of end-to-end certificates "
            "(default: the --ca bundle).",
        ),
        click.option(
            "--e2e-key",
            type=_FILE,
            default=None,
            help="Private key of --e2e-cert (passphrase from $DERLINK_E2E_PASSPHRASE).",
        ),
        click.option(
            "--e2e-cert",
            type=_FILE,
            default=None,
            help="End-to-end certificate with chain ('derlink pki issue e2e --xmpp JID'): "
            "turns on end-to-end protection of every MMS payload.",
        ),
    ]
    for option in options:
        command = option(command)
    return command


@dataclass(frozen=True)
class E2eSettings:
    """Where the end-to-end credentials, trust anchors and CRLs are."""

    cert: Path
    key: Path
    anchors: Path
    crls: tuple[Path, ...]


def e2e_settings(
    cert: Path | None,
    key: Path | None,
    anchors: Path | None,
    crls: Sequence[Path],
    *,
    require: bool,
) -> E2eSettings | None:
    """The settings from the options, None for plaintext (refused under ``require``)."""
    if cert is None and key is None:
        if require:
            raise E2eSetupError(
                "end-to-end protection is required (--require-e2e): give --e2e-cert and --e2e-key"
            )
        return None
    if cert is None or key is None:
        raise E2eSetupError("give both --e2e-cert and --e2e-key")
    if anchors is None:
        raise E2eSetupError("give --e2e-ca, the trust anchor of end-to-end certificates")
    if not crls:
        raise E2eSetupError(
            "give --crl with the CRLs of the CAs (pki/*.crl.pem): a peer's end-to-end "
            "certificate is never accepted without a revocation check"
        )
    return E2eSettings(cert, key, anchors, tuple(crls))


def load_credentials(cert: Path, key: Path) -> Credentials:
    """The end-to-end certificate (first in ``cert``), its CAs below the root, and the key."""
    chain = load_certificates(cert)
    secret = os.environ.get(E2E_PASSPHRASE_ENV)
    private = load_private_key(key, secret.encode() if secret else None)
    if not isinstance(private, ec.EllipticCurvePrivateKey):
        raise E2eSetupError(f"{key} is not an elliptic-curve key: not an end-to-end key")
    if private.public_key() != chain[0].public_key():
        raise E2eSetupError(f"{key} is not the key of the certificate in {cert}")
    return Credentials(chain[0], private, tuple(c for c in chain[1:] if c.subject != c.issuer))


@dataclass
class CrlFiles:
    """The CRL files of an :class:`AnchorVerifier`, read again when one of them changes."""

    paths: tuple[Path, ...]
    _seen: tuple[float, ...] = field(default=())

    def load(self) -> list[x509.CertificateRevocationList]:
        crls = [load_crl(p) for p in self.paths]
        self._seen = self._mtimes()
        return crls

    def changed(self) -> bool:
        return self._mtimes() != self._seen

    def _mtimes(self) -> tuple[float, ...]:
        out = []
        for path in self.paths:
            try:
                out.append(path.stat().st_mtime)
            except OSError:
                out.append(-1.0)
        return tuple(out)


def anchor_verifier(anchors: Path, crls: CrlFiles) -> AnchorVerifier:
    """Verification with the self-signed certificates of ``anchors`` as trust anchors (the
    bundle's other CA certificates as intermediates) and the CRLs."""
    bundle = load_certificates(anchors)
    roots = [c for c in bundle if c.subject == c.issuer]
    if not roots:
        raise E2eSetupError(f"{anchors} holds no self-signed trust anchor")
    others = [c for c in bundle if c.subject != c.issuer]
    return AnchorVerifier(roots, crls.load(), others)


def protect_ied(
    runtime: IedRuntime,
    protector: E2eProtector,
    *,
    kdc_jid: str,
    policy: Policy = DEFAULT_POLICY,
) -> GroupKeyReceiver:
    """Put ``protector`` on the IED's endpoint: every MMS payload sealed, plaintext refused,
    the roles of the peer's verified end-to-end certificate deciding each ACSI service, and
    group keys taken from the key server at ``kdc_jid`` (the centre) only."""
    protector.attach(runtime.endpoint)
    runtime.server.authorize = acsi_authorizer(protector, policy=policy)
    return GroupKeyReceiver(protector, kdc_jid)


def stored_credentials(
    open_pki: Callable[[], Pki],
    prefix: Path,
    name: str,
    jid: str,
    *,
    roles: Sequence[Role] | None = None,
    now: datetime,
) -> Credentials:
    """The end-to-end credentials at ``prefix`` (.pem/.key), issued there by the data
    directory's PKI first when missing or naming another JID than ``jid``."""
    bare = jid.partition("/")[0].lower()
    cert = prefix.with_suffix(".pem")
    if cert.exists():
        try:
            credentials = load_credentials(cert, prefix.with_suffix(".key"))
            if bare in xmpp_addrs(credentials.certificate):
                return credentials
        except DerlinkError as err:
            log.warning("%s is unusable (%s): issuing a new one", cert, err)
    issued = open_pki().issue_e2e(name, xmpp_address=bare, roles=roles, now=now)
    prefix.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    issued.write(prefix, overwrite=True)
    return Credentials.from_issued(issued)


def make_protector(
    settings: E2eSettings, jid: str, *, audit: AuditSink | None = None
) -> E2eProtector:
    """The protector for the endpoint of ``jid``; its CRLs are re-read at every tick when their
    files changed, and sessions of peers revoked since are ended."""
    credentials = load_credentials(settings.cert, settings.key)
    bare = jid.partition("/")[0].lower()
    try:
        names = xmpp_addrs(credentials.certificate)
    except CertificateError as err:
        raise E2eSetupError(f"{settings.cert}: {err}") from None
    if bare not in names:
        named = ", ".join(names) or "no JID"
        raise E2eSetupError(
            f"{settings.cert} names {named}, not {bare}: peers would refuse every session "
            "(issue it with 'derlink pki issue e2e NAME --xmpp JID')"
        )
    crls = CrlFiles(settings.crls)
    verifier = anchor_verifier(settings.anchors, crls)
    protector = E2eProtector(credentials, verifier, audit=audit)

    def reload(now: datetime) -> None:
        if not crls.changed():
            return
        try:
            verifier.update_crls(crls.load())
        except DerlinkError as err:
            log.warning("cannot read the CRLs again: %s (the old ones stay)", err)
            return
        ended = protector.revalidate(now)
        if ended:
            log.warning("end-to-end sessions ended after the CRL update: %s", ", ".join(ended))

    protector.on_tick(reload)
    return protector


# -- a data directory's centre and simulated IEDs ----------------------------------------------

CENTRE_E2E_PREFIX = "iec61850-centre-e2e"
E2E_SUFFIX = "-e2e"


@dataclass
class CentreE2e:
    """A centre's end-to-end protector and the key server of its group rooms."""

    protector: E2eProtector
    kdc: GroupKeyDistributor

    async def close(self) -> None:
        await self.protector.close()


def protect_centre(
    endpoint: Endpoint,
    home: Home,
    *,
    passphrase: bytes | None,
    cert: Path | None = None,
    key: Path | None = None,
    roles: Sequence[Role] = (Role.OPERATOR,),
    audit: AuditSink | None = None,
) -> CentreE2e:
    """End-to-end protection for a control centre of the data directory ``home``.

    Its credentials are ``cert``/``key`` when given, else the centre's own end-to-end
    certificate in ``<home>/run/`` (issued once with ``roles`` for the endpoint's JID); peers
    are verified against the data directory's PKI and its current CRLs. The centre is also the
    key server of its group rooms (:class:`GroupKeyDistributor`)."""
    if (cert is None) != (key is None):
        raise E2eSetupError("give both --e2e-cert and --e2e-key, or neither")
    if cert is not None and key is not None:
        credentials = load_credentials(cert, key)
    else:
        credentials = stored_credentials(
            lambda: Pki.open(home.pki_dir, passphrase=passphrase),
            home.root / "run" / CENTRE_E2E_PREFIX,
            endpoint.bare,
            endpoint.bare,
            roles=roles,
            now=datetime.now(UTC),
        )
    if endpoint.bare not in xmpp_addrs(credentials.certificate):
        raise E2eSetupError(f"the end-to-end certificate does not name {endpoint.bare}")
    verifier = PkiVerifier(Pki.open(home.pki_dir, passphrase=None))
    protector = E2eProtector(credentials, verifier, audit=audit)
    protector.attach(endpoint)
    return CentreE2e(protector, GroupKeyDistributor(protector))


def protect_simulated(
    home: Home,
    ieds: Sequence[tuple[Path, str, IedRuntime]],
    *,
    kdc_jid: str,
    passphrase: bytes | None,
) -> list[E2eProtector]:
    """End-to-end protection for simulated IEDs, each given as (its certificate prefix, its
    JID, its runtime): an end-to-end certificate next to its XMPP one (``PREFIX-e2e``, issued
    once), one verifier with the data directory's trust anchor and CRLs, group keys from
    ``kdc_jid``. About 6 ms per IED for the first handshake with its centre."""
    opened: list[Pki] = []

    def open_pki() -> Pki:
        if not opened:
            opened.append(Pki.open(home.pki_dir, passphrase=passphrase))
        return opened[0]

    public = Pki.open(home.pki_dir, passphrase=None)
    verifier = AnchorVerifier([public.root_certificate], public.crls())
    now = datetime.now(UTC)
    protectors = []
    for prefix, jid, runtime in ieds:
        e2e_prefix = prefix.with_name(prefix.name + E2E_SUFFIX)
        bare = jid.partition("/")[0]
        credentials = stored_credentials(open_pki, e2e_prefix, bare, bare, now=now)
        protector = E2eProtector(credentials, verifier)
        protect_ied(runtime, protector, kdc_jid=kdc_jid)
        protectors.append(protector)
    return protectors
