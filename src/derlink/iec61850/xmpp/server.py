"""Running the XMPP server (ejabberd or Prosody) that carries IEC 61850-8-2 traffic.

derlink writes the server's whole configuration into ``<home>/run/xmpp/<kind>/`` and starts the
server with it, never with the system configuration in /etc. What every generated configuration
enforces, whichever the server:

- client-to-server only, on one port, STARTTLS required; TLS 1.2 or later with ECDHE-ECDSA AEAD
  suites only; no server-to-server, no in-band registration, no HTTP;
- clients authenticate with a certificate from this data directory's PKI (SASL EXTERNAL, the JID
  taken from the certificate's id-on-xmppAddr); no password mechanism is offered;
- MUC at ``conference.<domain>`` and PubSub at ``pubsub.<domain>``, where only the configured
  admins (control-centre JIDs) create rooms and nodes; service discovery; stream management;
- revocation: the CRLs of the PKI are handed to the server (see each backend for how far it
  enforces them) and :meth:`XmppServer.reload_crl` pushes new ones to a running server.

Run as root, the server drops to its Debian package user (``prosody`` / ``ejabberd``), which
then owns the generated files; otherwise it runs as the current user.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import shutil
import signal
import socket
import ssl
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Literal, get_args

from cryptography import x509

from derlink.config import Config
from derlink.errors import DerlinkError
from derlink.home import Home, write_private, write_public
from derlink.pki import (
    Pki,
    PkiError,
    certificate_pem,
    load_certificates,
)

ServerKind = Literal["ejabberd", "prosody"]
KINDS: tuple[ServerKind, ...] = get_args(ServerKind)

#: TLS 1.2 suites offered (TLS 1.3 suites are all AEAD): ECDHE key exchange, ECDSA certificates
#: (derlink's PKI is ECDSA P-256 only), AEAD ciphers only.
TLS12_CIPHERS = (
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-CHACHA20-POLY1305"
)

#: A server certificate is issued again when it would expire within this time.
CERT_RENEW_BEFORE = timedelta(days=30)
#: CRLs are signed again when their nextUpdate is closer than this (a server refuses every
#: login once the CRL it holds is out of date).
CRL_RENEW_BEFORE = timedelta(days=2)

_STREAM_NS = "http://etherx.jabber.org/streams"
_TLS_NS = "urn:ietf:params:xml:ns:xmpp-tls"
_DOMAIN_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")
#: Occupants one MUC room admits by default: a DER group is one room, so this is the largest
#: group one group command reaches. ejabberd's own default (200) would split a feeder of a few
#: hundred DER over several rooms; 10,000 keeps a large group in one room while still bounding
#: what one room may cost the server.
DEFAULT_MAX_ROOM_OCCUPANTS = 10_000
MAX_ROOM_OCCUPANTS_LIMIT = 1_000_000
Clock = Callable[[], datetime]


class XmppServerError(DerlinkError):
    """The XMPP server cannot be configured, started, stopped or reloaded."""


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class XmppSettings:
    """What the generated configuration serves: where, for which domain, who administers it."""

    kind: ServerKind
    domain: str = "derlink.local"
    host: str = "127.0.0.1"
    port: int = 5222
    admins: tuple[str, ...] = ()
    max_room_occupants: int = DEFAULT_MAX_ROOM_OCCUPANTS
    """Occupants a MUC room admits (ejabberd ``max_users``; Prosody 0.12 has no such limit)."""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise XmppServerError(f"unknown XMPP server {self.kind!r} (ejabberd or prosody)")
        labels = self.domain.split(".")
        if len(self.domain) > 200 or not all(_DOMAIN_LABEL.fullmatch(lab) for lab in labels):
            raise XmppServerError(f"the XMPP domain {self.domain!r} is not a lower-case DNS name")
        if not 1 <= self.port <= 65535:
            raise XmppServerError(f"the XMPP port {self.port} is not between 1 and 65535")
        if not self.host or any(c.isspace() or c in "\"'\\" for c in self.host):
            raise XmppServerError(f"the XMPP listen address {self.host!r} is not usable")
        occupants = self.max_room_occupants
        if (
            isinstance(occupants, bool)
            or not isinstance(occupants, int)
            or not 2 <= occupants <= MAX_ROOM_OCCUPANTS_LIMIT
        ):
            raise XmppServerError(
                f"max_room_occupants {occupants!r} is not between 2 and {MAX_ROOM_OCCUPANTS_LIMIT}"
            )
        for admin in self.admins:
            local, at, domain = admin.partition("@")
            if not local or at != "@" or domain != self.domain or "/" in admin:
                raise XmppServerError(
                    f"admin {admin!r} is not a bare JID of the XMPP domain {self.domain}"
                )

    @property
    def muc_service(self) -> str:
        return f"conference.{self.domain}"

    @property
    def pubsub_service(self) -> str:
        return f"pubsub.{self.domain}"

    @property
    def service_names(self) -> tuple[str, ...]:
        """The DNS names the server certificate must carry."""
        return (self.domain, self.muc_service, self.pubsub_service)

    @classmethod
    def from_config(
        cls,
        config: Config,
        kind: str | None = None,
        *,
        host: str | None = None,
        port: int | None = None,
        admins: Sequence[str] | None = None,
    ) -> XmppSettings:
        """The settings of the ``[xmpp]`` section, with explicit values taking precedence."""
        chosen = kind or config.xmpp.server
        if chosen not in KINDS:
            raise XmppServerError(f"unknown XMPP server {chosen!r} (ejabberd or prosody)")
        return cls(
            kind=chosen,
            domain=config.xmpp.domain,
            host=host or config.xmpp.host,
            port=port or config.xmpp.port,
            admins=tuple(admins) if admins is not None else config.xmpp.admins,
            max_room_occupants=config.xmpp.max_room_occupants,
        )


@dataclass(frozen=True, slots=True)
class ServerFiles:
    """Where everything of one server lives: ``<home>/run/xmpp/<kind>/`` and the log."""

    directory: Path
    kind: ServerKind
    log_file: Path

    @classmethod
    def of(cls, home: Home, kind: ServerKind) -> ServerFiles:
        return cls(home.run_dir / "xmpp" / kind, kind, home.log_dir / f"xmpp-{kind}.log")

    @property
    def config_file(self) -> Path:
        return self.directory / ("prosody.cfg.lua" if self.kind == "prosody" else "ejabberd.yml")

    @property
    def tls_dir(self) -> Path:
        return self.directory / "tls"

    @property
    def cert_file(self) -> Path:
        """The server certificate followed by its chain."""
        return self.tls_dir / "server.pem"

    @property
    def leaf_file(self) -> Path:
        """The server certificate alone (ejabberd: its expiry timers overflow on the chain's
        CA certificates, which never expire)."""
        return self.tls_dir / "server-leaf.pem"

    @property
    def key_file(self) -> Path:
        return self.tls_dir / "server.key"

    @property
    def trust_file(self) -> Path:
        """CA certificates followed by the CRLs of the issuing CAs (clients are checked here)."""
        return self.tls_dir / "trust.pem"

    @property
    def ca_file(self) -> Path:
        """CA certificates only: what a client trusts to authenticate the server."""
        return self.tls_dir / "ca.pem"

    @property
    def data_dir(self) -> Path:
        return self.directory / "data"

    @property
    def server_log_dir(self) -> Path:
        """Logs the server writes itself (ejabberd); Prosody logs to standard output."""
        return self.directory / "log"

    @property
    def pid_file(self) -> Path:
        return self.directory / "server.pid"

    @property
    def state_file(self) -> Path:
        """Host and port of the running server, for ``derlink xmpp status``."""
        return self.directory / "server.state"

    @property
    def cookie_file(self) -> Path:
        """The Erlang cookie (ejabberd): ``$HOME/.erlang.cookie`` of the node, 0600."""
        return self.data_dir / ".erlang.cookie"


@dataclass(frozen=True, slots=True)
class Account:
    """The unprivileged account the server runs as (only when derlink runs as root)."""

    name: str
    uid: int
    gid: int


@dataclass
class XmppServer:
    """One derlink-run XMPP server: configure, start, stop, reload its CRLs.

    ``passphrase`` unlocks the CA keys (needed to issue the server certificate the first time
    and to sign fresh CRLs). ``clock`` gives the time for certificates and CRLs.
    """

    home: Home
    settings: XmppSettings
    passphrase: bytes | None = None
    clock: Clock = _utcnow
    files: ServerFiles = field(init=False)

    def __post_init__(self) -> None:
        self.files = ServerFiles.of(self.home, self.settings.kind)
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def kind(self) -> ServerKind:
        return self.settings.kind

    @property
    def backend(self) -> ModuleType:
        return backend_module(self.kind)

    # -- preparing ---------------------------------------------------------------------------

    def prepare(self) -> None:
        """Write certificates, trust file and configuration (regenerated at every start)."""
        if not shutil.which(self.backend.BINARY):
            raise XmppServerError(f"{self.kind} is not installed ({self.backend.BINARY} missing)")
        pki = self._pki()
        account = service_account(self.backend.SERVICE_USER)
        self.home.run_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.home.log_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        (self.home.run_dir / "xmpp").mkdir(mode=0o711, exist_ok=True)
        for directory in (
            self.files.directory,
            self.files.tls_dir,
            self.files.data_dir,
            self.files.server_log_dir,
        ):
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._write_server_certificate(pki)
        self._write_trust(pki, renew=False)
        self.backend.prepare(self.files)
        self._write_config()
        if account is not None:
            self._hand_over(account)

    def _write_config(self) -> None:
        text: str = self.backend.render_config(self.settings, self.files)
        write_public(self.files.config_file, text.encode())

    def _pki(self) -> Pki:
        try:
            return Pki.open(self.home.pki_dir, passphrase=self.passphrase)
        except PkiError as err:
            raise XmppServerError(f"no usable PKI in {self.home.pki_dir}: {err}") from None

    def _write_server_certificate(self, pki: Pki) -> None:
        if self._server_certificate_current():
            return
        try:
            issued = pki.issue_server(list(self.settings.service_names), now=self.clock())
        except PkiError as err:
            raise XmppServerError(f"cannot issue the XMPP server certificate: {err}") from None
        write_private(self.files.key_file, issued.key_pem())
        write_public(self.files.cert_file, issued.certificate_pem())
        write_public(self.files.leaf_file, certificate_pem([issued.certificate]))

    def _server_certificate_current(self) -> bool:
        needed = (self.files.cert_file, self.files.leaf_file, self.files.key_file)
        if not all(path.is_file() for path in needed):
            return False
        try:
            cert = load_certificates(self.files.cert_file)[0]
            names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        except (PkiError, x509.ExtensionNotFound):
            return False
        wanted = set(self.settings.service_names)
        fresh = cert.not_valid_after_utc - CERT_RENEW_BEFORE > self.clock()
        return fresh and wanted <= set(names.get_values_for_type(x509.DNSName))

    def _write_trust(self, pki: Pki, *, renew: bool) -> None:
        """CA bundle, and CA bundle + CRLs; the CRLs are signed again when (nearly) stale."""
        now = self.clock()
        try:
            crls = pki.crls()
        except PkiError as err:
            raise XmppServerError(f"cannot read the PKI's CRLs: {err}") from None
        stale = any(
            crl.next_update_utc is None or crl.next_update_utc - CRL_RENEW_BEFORE < now
            for crl in crls
        )
        if renew or stale:
            try:
                pki.crl(now=now)
            except PkiError as err:
                raise XmppServerError(f"cannot sign fresh CRLs: {err}") from None
        bundle = pki.ca_bundle_pem()
        write_public(self.files.ca_file, bundle)
        crl_pem = b"".join(path.read_bytes() for path in pki.paths.crls)
        write_public(self.files.trust_file, bundle + crl_pem)

    def _hand_over(self, account: Account) -> None:
        """Give the service account the generated tree and a way into it (traverse only)."""
        _make_traversable(self.files.directory.parent, self.home.root.parent)
        for path in _walk(self.files.directory):
            os.chown(path, account.uid, account.gid, follow_symlinks=False)

    # -- running -----------------------------------------------------------------------------

    def start(self, *, timeout: float = 30.0) -> None:
        """Start the server in the background and wait until it serves TLS on its port."""
        if self.running():
            raise XmppServerError(
                f"{self.kind} is already running (pid {self.pid()}); run 'derlink xmpp stop'"
            )
        _check_port_free(self.settings.host, self.settings.port)
        self.prepare()
        account = service_account(self.backend.SERVICE_USER)
        env = {
            "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
            "LANG": "C.UTF-8",
            **self.backend.environment(self.files),
        }
        log = self.files.log_file.open("ab")
        try:
            log.write(f"--- derlink starting {self.kind} at {_utcnow().isoformat()}\n".encode())
            log.flush()
            self._process = subprocess.Popen(
                self.backend.command(self.settings, self.files),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.files.data_dir,
                env=env,
                start_new_session=True,
                user=account.uid if account else None,
                group=account.gid if account else None,
                extra_groups=[] if account else None,
            )
        except OSError as err:
            raise XmppServerError(f"cannot start {self.kind}: {err}") from None
        finally:
            log.close()
        write_public(self.files.pid_file, f"{self._process.pid}\n".encode())
        state = f"{self.settings.host} {self.settings.port} {self.settings.domain}\n"
        write_public(self.files.state_file, state.encode())
        try:
            self._wait_ready(timeout)
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        last = "no answer yet"
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                raise XmppServerError(
                    f"{self.kind} exited with status {self._process.returncode} while "
                    f"starting; log tail:\n{self.log_tail()}"
                )
            problem = probe_tls(
                self.settings.host, self.settings.port, self.settings.domain, self.files.ca_file
            )
            if problem is None:
                return
            last = problem
            time.sleep(0.05)
        raise XmppServerError(
            f"{self.kind} did not serve TLS on {self.settings.host}:{self.settings.port} within "
            f"{timeout:.0f} s ({last}); log tail:\n{self.log_tail()}"
        )

    def wait(self, timeout: float | None = None) -> int:
        """Block until the server started by this object exits; its exit status.

        Raises :class:`subprocess.TimeoutExpired` when it still runs after ``timeout``.
        """
        if self._process is None:
            raise XmppServerError("this server was not started here")
        return self._process.wait(timeout)

    def pid(self) -> int | None:
        """The pid of the running server, or None (a stale pid file is ignored)."""
        try:
            pid = int(self.files.pid_file.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None
        if self._process is not None and self._process.pid == pid:
            return pid if self._process.poll() is None else None
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return None
        if stat.rsplit(")", 1)[-1].split()[0] == "Z":
            return None
        return pid if str(self.files.directory).encode() in cmdline else None

    def running(self) -> bool:
        return self.pid() is not None

    def stop(self, *, timeout: float = 15.0) -> bool:
        """Stop the server (SIGTERM to its process group, SIGKILL after ``timeout``).

        Returns False when it was not running.
        """
        pid = self.pid()
        if pid is None:
            self.files.pid_file.unlink(missing_ok=True)
            return False
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self._alive(pid):
            time.sleep(0.05)
        if self._alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
            while self._alive(pid):
                time.sleep(0.05)
        self.files.pid_file.unlink(missing_ok=True)
        return True

    def _alive(self, pid: int) -> bool:
        if self._process is not None and self._process.pid == pid:
            return self._process.poll() is None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return self.pid() == pid

    def reload_crl(self, *, renew: bool = False) -> None:
        """Regenerate the server's trust file (CA certificates + current CRLs) from the PKI and
        make a running server re-read it.

        After ``derlink pki revoke`` this is what makes the revocation take effect for new
        logins; sessions already open stay open until they reconnect (IEC 62351-3 lets a live
        session continue). CRLs are signed again when ``renew`` or when they are close to
        their nextUpdate (that needs the CA keys).
        """
        self.refresh(renew=renew, force=True)

    def refresh(self, *, renew: bool = False, force: bool = False) -> bool:
        """Rewrite trust file and configuration when the PKI changed (a revocation, a CRL
        near its nextUpdate) and reload a running server; True when something changed."""
        if not self.files.tls_dir.is_dir():
            raise XmppServerError(f"{self.kind} was never started in {self.home.root}")
        pki = self._pki()
        before = [_read(path) for path in (self.files.trust_file, self.files.config_file)]
        self._write_trust(pki, renew=renew)
        self._write_config()
        after = [_read(path) for path in (self.files.trust_file, self.files.config_file)]
        changed = before != after
        account = service_account(self.backend.SERVICE_USER)
        if account is not None:
            for path in (self.files.trust_file, self.files.ca_file, self.files.config_file):
                os.chown(path, account.uid, account.gid)
        pid = self.pid()
        if pid is not None and (changed or force):
            self.backend.reload(self.settings, self.files, pid)
        return changed

    # -- logs --------------------------------------------------------------------------------

    def log_text(self) -> str:
        """Everything logged so far: captured output, then the server's own log files."""
        parts = []
        for path in (self.files.log_file, *sorted(self.files.server_log_dir.glob("*.log"))):
            with contextlib.suppress(OSError):
                parts.append(path.read_text(errors="replace"))
        return "".join(parts)

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])


def backend_module(kind: ServerKind) -> ModuleType:
    if kind == "prosody":
        from derlink.iec61850.xmpp import prosody

        return prosody
    from derlink.iec61850.xmpp import ejabberd

    return ejabberd


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


def service_account(name: str) -> Account | None:
    """The account to drop to when running as root; None when not root."""
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        raise XmppServerError(
            f"running as root but there is no user {name!r} to run the server as "
            "(install the Debian package, or run derlink as an unprivileged user)"
        ) from None
    return Account(name, entry.pw_uid, entry.pw_gid)


def _walk(root: Path) -> Iterator[Path]:
    yield root
    yield from sorted(root.rglob("*"))


def _make_traversable(directory: Path, stop: Path) -> None:
    """Let other users traverse (not list) each directory from ``directory`` up to ``stop``."""
    current = directory
    while current != stop and current != current.parent:
        mode = current.stat().st_mode
        if not mode & 0o001:
            current.chmod((mode & 0o7777) | 0o001)
        current = current.parent
    for ancestor in (stop, *stop.parents):
        mode = ancestor.stat().st_mode
        if not mode & 0o001:
            raise XmppServerError(
                f"{ancestor} is not traversable by other users, so the XMPP server account "
                "cannot reach its files; choose a data directory elsewhere or run derlink as "
                "an unprivileged user"
            )


def _check_port_free(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        try:
            sock.bind((host, port))
        except OSError as err:
            raise XmppServerError(
                f"cannot listen on {host}:{port}: {err.strerror} (another server there?)"
            ) from None


def probe_tls(host: str, port: int, domain: str, ca_file: Path, timeout: float = 2.0) -> str | None:
    """Open a client stream, STARTTLS and complete a TLS handshake verifying the server's
    certificate for ``domain``; None when that worked, else what went wrong."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(
                f"<?xml version='1.0'?><stream:stream to='{domain}' xmlns='jabber:client' "
                f"xmlns:stream='{_STREAM_NS}' version='1.0'>".encode()
            )
            features = _read_until(sock, b"</stream:features>", timeout)
            if b"starttls" not in features:
                return "the server offers no STARTTLS"
            sock.sendall(f"<starttls xmlns='{_TLS_NS}'/>".encode())
            answer = _read_until(sock, b"/>", timeout)
            if b"proceed" not in answer:
                return "the server refused STARTTLS"
            context = ssl.create_default_context(cafile=str(ca_file))
            with context.wrap_socket(sock, server_hostname=domain) as tls:
                tls.do_handshake()
    except ssl.SSLCertVerificationError as err:
        return f"the server certificate does not verify: {err.verify_message}"
    except ssl.SSLError as err:
        return f"TLS failed: {err}"
    except OSError as err:
        return f"cannot connect: {err}"
    return None


def _read_until(sock: socket.socket, marker: bytes, timeout: float) -> bytes:
    data = b""
    deadline = time.monotonic() + timeout
    while marker not in data:
        if time.monotonic() > deadline:
            raise TimeoutError(f"no {marker.decode()} from the server")
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError("the server closed the stream")
        data += chunk
        if len(data) > 65536:
            raise ConnectionError("the server sent too much before its features")
    return data
