"""A real XMPP server (Prosody or ejabberd) for tests, run by derlink with a fresh PKI.

The pytest fixtures are registered for the whole suite by ``tests/conftest.py``
(``pytest_plugins``); do not import them into a ``conftest.py`` or a test module, since each
import would start servers of its own:

- ``prosody_server`` / ``ejabberd_server``: session-scoped :class:`XmppService` of that kind;
- ``xmpp_server``: parametrised over both kinds (``xmpp_server.kind`` says which), so a test
  using it runs once against each server.

A test is skipped locally (failed under ``CI=true``) when the server binary is missing. Mark such
tests ``@pytest.mark.xmpp``. The servers are shared by the whole session: use fresh JIDs, room
and node names per test (e.g. with ``uuid4().hex[:8]``) instead of assuming an empty server.

:class:`XmppService` API (all paths are :class:`pathlib.Path`):

- ``.kind`` ("prosody" | "ejabberd"), ``.domain`` ("derlink.local"), ``.host`` ("127.0.0.1"),
  ``.port`` (a free port), ``.muc_service`` ("conference.derlink.local"),
  ``.pubsub_service`` ("pubsub.derlink.local");
- ``.ca_file``: PEM bundle of the PKI's CA certificates; clients verify the server with it
  (the server certificate names ``.domain``, ``.muc_service`` and ``.pubsub_service``);
- ``.admin_jids``: bare JIDs that may create MUC rooms and PubSub nodes
  (``f"{ADMIN}@{domain}"``, i.e. ``centre@derlink.local``);
- ``.client(local, resource="x", roles=None) -> (jid, cert_path, key_path)``: issues an XMPP
  client certificate for ``local@domain`` (IEC 62351-8 ``roles`` optional) and returns the full
  JID ``local@domain/resource`` and the PEM files (certificate + chain, key 0600).
  ``.client(ADMIN)`` gives an admin identity;
- ``.revoke(cert_path)``: revokes that certificate and reloads the server's CRLs; new logins
  with it are refused from then on (on both servers, see docs/xmpp.md);
- ``.home`` (the derlink :class:`~derlink.home.Home`), ``.pki``, ``.server``
  (:class:`~derlink.iec61850.xmpp.server.XmppServer`), ``.stop()``, ``.log_text()``,
  ``.wait_for_log(text, timeout=5.0) -> bool``, ``.startup_seconds`` (Prosody about 0.1 s,
  ejabberd about 1 s here).

Module constants and helpers: ``DOMAIN``, ``ADMIN`` (the admin local part), ``free_port()``,
``make_client()``, ``login()``, ``LoginRefused``, ``endpoint_config()`` and ``endpoint_for()``
(derlink's own :class:`~derlink.iec61850.xmpp.endpoint.Endpoint` on the server).

Logging in with slixmpp (SASL EXTERNAL only): ``make_client(service, jid, cert, key)`` gives a
configured, unconnected ``slixmpp.ClientXMPP``; ``await login(service, jid, cert, key,
plugins=(...))`` connects and returns it once the session started, or raises
:class:`LoginRefused`::

    jid, cert, key = xmpp_server.client("ied1")
    client = await login(xmpp_server, jid, cert, key)
    ...
    client.disconnect()

MUC rooms are created locked (XEP-0045 10.1.1): the creating admin must submit the owner
configuration form (an empty ``jabber:x:data`` submit accepts the defaults, "instant room")
before anybody else can join. Ordinary clients cannot create rooms or nodes; they join rooms
they are invited to (members-only rooms: the owner grants membership) and subscribe to nodes.
"""

from __future__ import annotations

import shutil
import socket
import ssl
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from conftest import require_service
from derlink.config import DEFAULT_TOML
from derlink.home import Home
from derlink.iec61850.xmpp.server import (
    ServerKind,
    XmppServer,
    XmppSettings,
    backend_module,
)
from derlink.pki import Pki, Role, load_certificate

if TYPE_CHECKING:
    from derlink.iec61850.xmpp.endpoint import Endpoint, EndpointConfig

DOMAIN = "derlink.local"
ADMIN = "centre"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def traversable_directory(prefix: str) -> Path:
    """A new temporary directory the XMPP server's account can traverse: run as root, the
    server drops to its package user, which pytest's per-user temporary directory (0700) bars."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o711)
    return path


@contextmanager
def traversable_tree(prefix: str) -> Iterator[Path]:
    """:func:`traversable_directory`, removed with all it holds on the way out."""
    path = traversable_directory(prefix)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


class XmppService:
    """One derlink-run XMPP server with its own data directory and PKI (see module docstring).

    ``base`` (default: a new directory in the system temporary directory, removed by
    :meth:`stop`) holds the data directory; run as root, the server account must be able to
    traverse every directory above it.
    """

    def __init__(self, kind: ServerKind, base: Path | None = None) -> None:
        self.kind: ServerKind = kind
        self._own_base = base is None
        self.base = traversable_directory(f"derlink-{kind}-") if base is None else base
        self.base.chmod(0o711)
        self.home = Home(self.base / "home")
        self.home.create()
        self.home.config_file.write_text(DEFAULT_TOML)
        self.pki = Pki.create(self.home.pki_dir, passphrase=None, now=_now())
        self.domain = DOMAIN
        self.host = "127.0.0.1"
        self.port = free_port(self.host)
        self.admin_jids: tuple[str, ...] = (f"{ADMIN}@{DOMAIN}",)
        settings = XmppSettings(kind, self.domain, self.host, self.port, self.admin_jids)
        self.server = XmppServer(self.home, settings)
        self._clients = self.base / "clients"
        self._clients.mkdir(mode=0o700)
        self._count = 0
        started = time.monotonic()
        try:
            self.server.start(timeout=60)
        except BaseException:
            if self._own_base:
                shutil.rmtree(self.base, ignore_errors=True)
            raise
        self.startup_seconds = time.monotonic() - started

    @property
    def muc_service(self) -> str:
        return self.server.settings.muc_service

    @property
    def pubsub_service(self) -> str:
        return self.server.settings.pubsub_service

    @property
    def ca_file(self) -> Path:
        return self.server.files.ca_file

    def client(
        self, local: str, resource: str = "x", roles: Sequence[Role] | None = None
    ) -> tuple[str, Path, Path]:
        """A fresh client certificate for ``local@domain``: (full JID, cert path, key path)."""
        bare = f"{local}@{self.domain}"
        issued = self.pki.issue_xmpp_client(bare, roles=roles, now=_now())
        self._count += 1
        cert_path, key_path = issued.write(self._clients / f"{local}-{self._count}")
        return f"{bare}/{resource}", cert_path, key_path

    def revoke(self, cert_path: Path) -> None:
        """Revoke the certificate in ``cert_path`` and push the new CRL to the server."""
        self.pki.revoke(load_certificate(cert_path).serial_number, now=_now())
        self.server.reload_crl()

    def log_text(self) -> str:
        return self.server.log_text()

    def wait_for_log(self, text: str, timeout: float = 5.0) -> bool:
        """True once ``text`` appears in the server's logs (ejabberd writes them with a delay)."""
        deadline = time.monotonic() + timeout
        while text not in self.log_text():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True

    def stop(self) -> None:
        self.server.stop()
        if self._own_base:
            shutil.rmtree(self.base, ignore_errors=True)


def _now() -> datetime:
    return datetime.now(UTC)


def make_client(service: XmppService, jid: str, cert: Path, key: Path, **kwargs: Any) -> Any:
    """A slixmpp ``ClientXMPP`` that logs in with SASL EXTERNAL only, trusting ``ca_file``.

    Extra keyword arguments go to ``ClientXMPP`` (e.g. ``plugin_config``). Register plugins
    (``xep_0030``, ``xep_0045``, ``xep_0060``, ``xep_0198``...) before connecting.
    """
    import slixmpp

    client = slixmpp.ClientXMPP(jid, "", sasl_mech="EXTERNAL", **kwargs)
    context = ssl.create_default_context(cafile=str(service.ca_file))
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    client.ssl_context = context
    client.certfile = str(cert)
    client.keyfile = str(key)
    client.ca_certs = service.ca_file
    client.enable_plaintext = False
    client.enable_direct_tls = False
    return client


def endpoint_config(
    service: XmppService, jid: str, cert: Path, key: Path, **options: Any
) -> EndpointConfig:
    """How an endpoint logs in to ``service`` as ``jid`` with these files; ``options`` are the
    other :class:`EndpointConfig` fields (``request_timeout``, ``backoff_initial``...) or
    replace the service's ``cafile``, ``host`` or ``port``."""
    from derlink.iec61850.xmpp.endpoint import EndpointConfig

    where = {"cafile": service.ca_file, "host": service.host, "port": service.port}
    return EndpointConfig(jid=jid, certfile=cert, keyfile=key, **{**where, **options})


def endpoint_for(service: XmppService, local: str, resource: str = "x", **options: Any) -> Endpoint:
    """An (unstarted) endpoint for ``local@domain/resource`` with a fresh client certificate."""
    from derlink.iec61850.xmpp.endpoint import Endpoint

    jid, cert, key = service.client(local, resource)
    return Endpoint(endpoint_config(service, jid, cert, key, **options))


class LoginRefused(Exception):
    """The server did not open a session (authentication or binding refused, TLS failed)."""


async def login(
    service: XmppService,
    jid: str,
    cert: Path,
    key: Path,
    *,
    plugins: Sequence[str] = ("xep_0030", "xep_0045", "xep_0060", "xep_0199"),
    timeout: float = 10.0,
) -> Any:
    """A connected slixmpp client with its session started (presence not sent).

    Raises :class:`LoginRefused` with the reason when the server refuses the login. Call
    ``client.disconnect()`` (and await it, or ``await client.disconnected``) when done.
    """
    import asyncio

    client = make_client(service, jid, cert, key)
    for plugin in plugins:
        client.register_plugin(plugin)
    outcome: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    def settle(result: str) -> None:
        if not outcome.done():
            outcome.set_result(result)

    client.add_event_handler("session_start", lambda _: settle("ok"))
    client.add_event_handler("failed_auth", lambda _: settle("authentication failed"))
    client.add_event_handler("disconnected", lambda _: settle("disconnected"))
    # ejabberd refuses a denied JID at resource binding (after SASL succeeded).
    from slixmpp.xmlstream.handler import Callback
    from slixmpp.xmlstream.matcher import MatchXPath

    def bind_answer(iq: Any) -> None:
        if iq["type"] == "error":
            settle(f"binding refused: {iq['error']['condition']} {iq['error']['text']}")

    bind_path = "{jabber:client}iq/{urn:ietf:params:xml:ns:xmpp-bind}bind"
    client.register_handler(Callback("derlink bind error", MatchXPath(bind_path), bind_answer))
    client.connect(service.host, service.port)
    try:
        result = await asyncio.wait_for(outcome, timeout)
    except TimeoutError:
        result = "no session within the timeout"
    if result != "ok":
        client.abort()
        raise LoginRefused(result)
    return client


def _available(kind: ServerKind) -> bool:
    return shutil.which(backend_module(kind).BINARY) is not None


def running_service(
    kind: ServerKind, make: Callable[[ServerKind], XmppService] = XmppService
) -> Iterator[XmppService]:
    """For a fixture: the service ``make(kind)`` starts, stopped afterwards; skipped locally
    (failed under ``CI=true``) when that server is not installed."""
    require_service(_available(kind), f"{kind} is not installed")
    service = make(kind)
    try:
        yield service
    finally:
        service.stop()


@pytest.fixture(scope="session")
def prosody_server() -> Iterator[XmppService]:
    """A Prosody server for the whole test session."""
    yield from running_service("prosody")


@pytest.fixture(scope="session")
def ejabberd_server() -> Iterator[XmppService]:
    """An ejabberd server for the whole test session."""
    yield from running_service("ejabberd")


@pytest.fixture(params=["prosody", "ejabberd"])
def xmpp_server(request: pytest.FixtureRequest) -> XmppService:
    """Each test using it runs against Prosody and against ejabberd."""
    service: XmppService = request.getfixturevalue(f"{request.param}_server")
    return service
