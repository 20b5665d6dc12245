"""The HTTPS transport of the head-end: TLS per IEEE 2030.5, and the peer certificate.

IEEE 2030.5 requires TLS 1.2 with TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8 and mutual
authentication (2030.5-2018 6.11). Python's ``ssl`` offers that suite only when asked by name,
with TLS 1.2 pinned. Common ASGI servers do not hand the client certificate to the application,
so the HTTP protocol classes here fill in the ASGI TLS extension
(``scope["extensions"]["tls"]["client_cert_chain"]``) from the handshake at connection time;
the application reads only that, and the hook can go once the server ships the extension.
"""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

SEP2_CIPHERS = "ECDHE-ECDSA-AES128-CCM8"
TLS_VERSIONS = {"TLSv1.2": 0x0303, "TLSv1.3": 0x0304}


def server_context(
    *, certfile: Path, keyfile: Path, cafile: Path, tls13: bool = False
) -> ssl.SSLContext:
    """A server context per 2030.5: TLS 1.2 (1.3 optional), the CCM-8 suite, client certs required.

    Chain validation is OpenSSL's, strict (``VERIFY_X509_STRICT``); profile and revocation are
    checked by derlink's own verification on the peer certificate after the handshake.
    """
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.maximum_version = ssl.TLSVersion.TLSv1_3 if tls13 else ssl.TLSVersion.TLSv1_2
    ctx.set_ciphers(SEP2_CIPHERS)
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.verify_flags |= ssl.VERIFY_X509_STRICT
    ctx.load_verify_locations(cafile=str(cafile))
    ctx.load_cert_chain(str(certfile), str(keyfile))
    ctx.options |= ssl.OP_NO_COMPRESSION | ssl.OP_NO_RENEGOTIATION
    return ctx


def client_context(
    *, certfile: Path, keyfile: Path, cafile: Path, tls13: bool = False
) -> ssl.SSLContext:
    """A client context per 2030.5, verifying the server against ``cafile``."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.maximum_version = ssl.TLSVersion.TLSv1_3 if tls13 else ssl.TLSVersion.TLSv1_2
    ctx.set_ciphers(SEP2_CIPHERS)
    ctx.verify_flags |= ssl.VERIFY_X509_STRICT
    ctx.load_verify_locations(cafile=str(cafile))
    ctx.load_cert_chain(str(certfile), str(keyfile))
    return ctx


def tls_extension(transport: asyncio.BaseTransport) -> dict[str, Any] | None:
    """The ASGI TLS extension (spec 0.2 keys) for a connection, from its completed handshake."""
    sslobj = transport.get_extra_info("ssl_object")
    if sslobj is None:
        return None
    der = sslobj.getpeercert(binary_form=True)
    cipher = sslobj.cipher()
    return {
        "server_cert": None,
        "client_cert_chain": [ssl.DER_cert_to_PEM_cert(der)] if der else [],
        "client_cert_name": None,
        "client_cert_error": None,
        "tls_version": TLS_VERSIONS.get(sslobj.version() or ""),
        "cipher_suite": cipher[0] if cipher else None,
        "derlink.peer_der": der,
    }


class _TLSExtensionMixin:
    """Adds the TLS extension to every request scope of the connection."""

    app: Any

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)  # type: ignore[misc]
        extension = tls_extension(transport)
        if extension is None:
            return
        inner = self.app

        async def app_with_tls(scope: dict[str, Any], receive: Any, send: Any) -> None:
            scope.setdefault("extensions", {})["tls"] = extension
            await inner(scope, receive, send)

        self.app = app_with_tls


class TLSHttpToolsProtocol(_TLSExtensionMixin, HttpToolsProtocol):
    """httptools parser (fast) with the TLS extension."""
