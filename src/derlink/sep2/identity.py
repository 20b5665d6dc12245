"""Who is calling: the client certificate, verified, turned into an LFDI.

The certificate comes from the TLS handshake (the ASGI TLS extension filled in by
:mod:`derlink.sep2.transport`). Only when a deployment names a trusted header explicitly
(``server.trusted_client_cert_header``, for a TLS-terminating proxy that it controls) is the
certificate taken from that header instead — never both, never by default.

Every certificate passes :func:`derlink.pki.verify_certificate` (chain, 2030.5 profile, validity,
revocation); results are cached by the certificate's hash, and the cache is dropped whenever the
PKI directory changes (a revocation, a new CRL), so a revoked certificate stops working at once.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import unquote

from cryptography import x509

from derlink.pki import CertificateError, Pki, Profile, Role
from derlink.sep2.http import HttpError, Request

CACHE_LIMIT = 100_000
RECHECK_SECONDS = 2.0


@dataclass(frozen=True, slots=True)
class Identity:
    """A verified client: a 2030.5 device or an aggregator (or an operator certificate)."""

    lfdi: str
    sfdi: int
    profile: Profile
    roles: tuple[Role, ...] = ()  # IEC 62351-8 roles of an aggregator certificate
    aor: str | None = None

    @property
    def is_aggregator(self) -> bool:
        return self.profile is Profile.AGGREGATOR


class IdentityResolver:
    def __init__(
        self,
        pki_dir: Path,
        *,
        trusted_header: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.pki_dir = pki_dir
        self.trusted_header = trusted_header.lower() if trusted_header else None
        self.clock = clock
        self._cache: dict[bytes, Identity | HttpError] = {}
        self._pki: Pki | None = None
        self._stamp = 0.0
        self._checked = 0.0

    def resolve(self, request: Request) -> Identity:
        """The verified identity of the caller; HttpError 403 when there is none."""
        der = self._certificate_der(request)
        self._refresh()
        key = hashlib.sha256(der).digest()
        found = self._cache.get(key)
        if found is None:
            found = self._verify(der)
            if len(self._cache) >= CACHE_LIMIT:
                self._cache.clear()
            self._cache[key] = found
        if isinstance(found, HttpError):
            raise found
        return found

    def _certificate_der(self, request: Request) -> bytes:
        if self.trusted_header is not None:
            pem = request.headers.get(self.trusted_header)
            if not pem:
                raise HttpError(403, "no client certificate in the trusted proxy header")
            try:
                cert = x509.load_pem_x509_certificate(unquote(pem).encode())
            except ValueError:
                raise HttpError(403, "the proxy header holds no PEM certificate") from None
            from cryptography.hazmat.primitives.serialization import Encoding

            return cert.public_bytes(Encoding.DER)
        if not request.peer_der:
            raise HttpError(403, "no client certificate in the TLS handshake")
        return request.peer_der

    def _refresh(self) -> None:
        now = self.clock()
        if now - self._checked < RECHECK_SECONDS and self._pki is not None:
            return
        self._checked = now
        stamp = max((p.stat().st_mtime for p in self.pki_dir.iterdir()), default=0.0)
        if self._pki is None or stamp != self._stamp:
            self._pki = Pki.open(self.pki_dir, passphrase=None)
            self._stamp = stamp
            self._cache.clear()

    def _verify(self, der: bytes) -> Identity | HttpError:
        assert self._pki is not None
        try:
            cert = x509.load_der_x509_certificate(der)
            verified = self._pki.verify(cert, now=datetime.fromtimestamp(self.clock(), UTC))
        except (CertificateError, ValueError) as err:
            return HttpError(403, f"client certificate refused: {err}")
        if verified.profile not in (Profile.DEVICE, Profile.AGGREGATOR):
            return HttpError(403, f"a {verified.profile.name.lower()} certificate is not a client")
        return Identity(
            verified.lfdi,
            verified.sfdi,
            verified.profile,
            verified.roles,
            verified.area_of_responsibility,
        )
