"""Certificate login to the derlink-run XMPP servers: who gets in and who does not."""

from __future__ import annotations

import shutil
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from cryptography.x509.oid import ExtendedKeyUsageOID

from conftest import require_service
from derlink.iec61850.xmpp.server import ServerKind, backend_module
from derlink.pki import Pki, Profile, certificate_pem, load_private_key
from support.xmpp import LoginRefused, XmppService, login

pytestmark = pytest.mark.xmpp


def _local(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def test_a_good_certificate_logs_in_with_its_jid(xmpp_server: XmppService) -> None:
    jid, cert, key = xmpp_server.client(_local("ied"), resource="r1")
    client = await login(xmpp_server, jid, cert, key)
    try:
        assert str(client.boundjid) == jid
    finally:
        client.disconnect()


async def test_a_certificate_of_another_ca_is_refused(
    xmpp_server: XmppService, tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    stranger = Pki.create(tmp_path / "other-pki", passphrase=None, name="elsewhere", now=now)
    local = _local("ied")
    issued = stranger.issue_xmpp_client(f"{local}@{xmpp_server.domain}", now=now)
    cert, key = issued.write(tmp_path / "stranger")
    with pytest.raises(LoginRefused):
        await login(xmpp_server, f"{local}@{xmpp_server.domain}/x", cert, key, timeout=5)


async def test_a_revoked_certificate_is_refused_after_reload(xmpp_server: XmppService) -> None:
    jid, cert, key = xmpp_server.client(_local("ied"))
    first = await login(xmpp_server, jid, cert, key)
    first.disconnect()
    xmpp_server.revoke(cert)
    with pytest.raises(LoginRefused):
        await login(xmpp_server, jid, cert, key, timeout=5)
    refusal = {
        "prosody": "certificate revoked",  # LuaSec's verification error, via mod_auth_ccert
        "ejabberd": "client certificate refused: certificate revoked",  # mod_derlink_crl
    }[xmpp_server.kind]
    assert xmpp_server.wait_for_log(refusal)
    other_jid, other_cert, other_key = xmpp_server.client(_local("ied"))
    other = await login(xmpp_server, other_jid, other_cert, other_key)
    other.disconnect()


async def test_a_certificate_for_another_domain_is_refused(
    xmpp_server: XmppService, tmp_path: Path
) -> None:
    local = _local("ied")
    issued = xmpp_server.pki.issue_xmpp_client(f"{local}@elsewhere.example", now=datetime.now(UTC))
    cert, key = issued.write(tmp_path / "elsewhere")
    with pytest.raises(LoginRefused):
        await login(xmpp_server, f"{local}@{xmpp_server.domain}/x", cert, key, timeout=5)


async def test_revocation_refuses_the_certificate_not_the_jid(xmpp_server: XmppService) -> None:
    """A compromised IED re-keyed under the same JID logs in with its new certificate."""
    local = _local("ied")
    jid, old_cert, old_key = xmpp_server.client(local)
    xmpp_server.revoke(old_cert)
    jid, new_cert, new_key = xmpp_server.client(local)
    client = await login(xmpp_server, jid, new_cert, new_key)
    client.disconnect()
    with pytest.raises(LoginRefused):
        await login(xmpp_server, jid, old_cert, old_key, timeout=5)


async def test_a_jid_only_in_the_common_name_is_refused(
    xmpp_server: XmppService, tmp_path: Path
) -> None:
    """Both servers take the JID from id-on-xmppAddr only, never from the subject."""
    ca = xmpp_server.pki.ca_certificate(Profile.DEVICE_CA)
    ca_key = load_private_key(xmpp_server.pki.paths.key(Profile.DEVICE_CA), None)
    ca_ski = ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    jid = f"{_local('ied')}@{xmpp_server.domain}"
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, jid)]))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, False, False, False, False), True
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cn.pem", tmp_path / "cn.key"
    cert_path.write_bytes(certificate_pem([cert, ca]))
    key_path.write_bytes(key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    with pytest.raises(LoginRefused):
        await login(xmpp_server, f"{jid}/x", cert_path, key_path, timeout=5)
    if xmpp_server.kind == "prosody":  # refused for the missing JID, not for a bad chain
        assert xmpp_server.wait_for_log("Client certificate contains no xmppAddrs")


@pytest.mark.parametrize("kind", ["prosody", "ejabberd"])
async def test_an_out_of_date_crl_refuses_every_login(kind: ServerKind) -> None:
    """Fail closed: once the CRL the server holds is past its nextUpdate, nobody logs in."""
    require_service(shutil.which(backend_module(kind).BINARY) is not None, f"{kind} missing")
    service = XmppService(kind)
    try:
        jid, cert, key = service.client(_local("ied"))
        client = await login(service, jid, cert, key)
        client.disconnect()
        past = datetime.now(UTC) - timedelta(days=3)
        service.pki.crl(now=past, next_update=timedelta(days=1))
        # A server clock from before that CRL: derlink then sees no reason to renew it.
        service.server.clock = lambda: past - timedelta(days=2)
        service.server.reload_crl()
        with pytest.raises(LoginRefused):
            await login(service, jid, cert, key, timeout=5)
        reason = {"prosody": "CRL has expired", "ejabberd": "CRL out of date"}[kind]
        assert service.wait_for_log(reason)
    finally:
        service.stop()
