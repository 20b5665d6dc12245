"""How a client is set up: its credentials, the EndDevices it acts for, and its options."""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from derlink.sep2.client.backoff import Backoff
from derlink.sep2.client.subscriptions import SubscribePolicy
from derlink.sep2.transport import client_context

if TYPE_CHECKING:
    from derlink.sep2.client.signed import CommandTrust


@dataclass(frozen=True, slots=True)
class Credentials:
    """A certificate and key (``PREFIX.pem``/``PREFIX.key``) and the CA that signs the server."""

    certfile: Path
    keyfile: Path
    cafile: Path

    @classmethod
    def from_prefix(cls, prefix: Path, cafile: Path) -> Credentials:
        return cls(prefix.with_suffix(".pem"), prefix.with_suffix(".key"), cafile)

    def lfdi(self) -> str:
        from derlink.pki import lfdi_of_certificate, load_certificate

        return lfdi_of_certificate(load_certificate(self.certfile))

    def tls(self, *, check_hostname: bool = False) -> ssl.SSLContext:
        """TLS 1.2 with the 2030.5 suite; the server's chain is verified against ``cafile``.

        Host names are not checked by default: 2030.5 server certificates, like device ones,
        need not carry one (the chain to the configured CA is what authenticates the server).
        """
        ctx = client_context(certfile=self.certfile, keyfile=self.keyfile, cafile=self.cafile)
        ctx.check_hostname = check_hostname
        return ctx


@dataclass(frozen=True, slots=True)
class EndDeviceSpec:
    """One EndDevice the client acts for (itself, or one of an aggregator's devices)."""

    lfdi: str
    sfdi: int
    pin: int | None = None
    device_category: int = 0

    @classmethod
    def of(cls, lfdi: str, pin: int | None = None, device_category: int = 0) -> EndDeviceSpec:
        from derlink.pki import sfdi_from_lfdi

        return cls(lfdi.upper(), sfdi_from_lfdi(lfdi), pin, device_category)


@dataclass(frozen=True, slots=True)
class ClientOptions:
    """Behaviour knobs; the defaults are a conforming field device's."""

    dcap_path: str = "/dcap"
    page_size: int = 100
    default_post_rate: int = 300
    status_interval: float = 300.0
    sample_interval: float = 5.0
    subscribe: SubscribePolicy = SubscribePolicy.AUTO
    notify_url: str | None = None
    register_missing: bool = True
    keepalive: float = 90.0
    timeout: float = 20.0
    max_connections: int = 1
    backoff: Backoff = field(default_factory=Backoff)
    max_body_bytes: int = 256 * 1024
    stagger: float = 0.0
    time_skew_tolerance: float = 2.0
    once: bool = False
    # Apply only controls carrying a valid operator signature (derlink.sep2.client.signed).
    require_signed: bool = False
    command_trust: CommandTrust | None = None
