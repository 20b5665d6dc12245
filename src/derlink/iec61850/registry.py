"""The IED registry: which enrolled devices are IEC 61850 IEDs, their JID and IED name.

An IED logs in to the XMPP server with a derlink XMPP client certificate whose
subjectAltName holds exactly one id-on-xmppAddr (RFC 6120 13.7.1.4): that bare JID is where
the control centre reaches it, so it is taken from the certificate at enrolment, never typed.
The device itself is enrolled like any other (LFDI = hash of the certificate, SFDI from the
LFDI) through :meth:`FleetService.enrol`, which stores the JID and IED name in the same
transaction (table ``iec61850_ied``), audited. The dispatcher asks :func:`ieds_in_groups`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from cryptography import x509
from sqlalchemy import select

from derlink.control.service import FleetService
from derlink.domain import Device
from derlink.errors import DerlinkError
from derlink.iec61850.model.refs import check_ied_name
from derlink.pki import lfdi_of_certificate, sfdi_from_lfdi
from derlink.pki.checks import xmpp_addrs
from derlink.store.database import Database
from derlink.store.schema import DeviceRow, SiteGroupRow
from derlink.store.schema_ieds import IedRow

DEFAULT_IED_NAME = "DERIED"
"""The IED name of the shipped 7-420 ICD (``model/data/der_ied.icd``)."""


class NotAnIedCertificate(DerlinkError):
    """The certificate names no (or more than one) XMPP address: it is not an IED's."""


@dataclass(frozen=True, slots=True)
class IedEntry:
    """One registered IED: device LFDI, bare JID, IED name, and its site."""

    lfdi: str
    jid: str
    ied_name: str
    site: str | None = None


def jid_of_certificate(cert: x509.Certificate) -> str | None:
    """The bare JID of an XMPP client certificate, or None when it names no XMPP address.

    More than one address is refused: an IED has one identity on the bus."""
    try:
        found = xmpp_addrs(cert)
    except DerlinkError as err:
        raise NotAnIedCertificate(str(err)) from None
    if not found:
        return None
    if len(found) > 1:
        raise NotAnIedCertificate(f"the certificate names {len(found)} XMPP addresses, not one")
    bare, slash, _ = found[0].partition("/")
    if slash or "@" not in bare:
        raise NotAnIedCertificate(f"{found[0]!r} is not a bare JID with a local part")
    return bare.lower()


def ied_device(
    cert: x509.Certificate,
    *,
    site: str | None = None,
    pin: int | None = None,
    ied_name: str = DEFAULT_IED_NAME,
) -> tuple[Device, tuple[str, str]]:
    """The device and its registry entry (JID, IED name) for an IED's certificate."""
    jid = jid_of_certificate(cert)
    if jid is None:
        raise NotAnIedCertificate("the certificate has no id-on-xmppAddr: not an XMPP identity")
    try:
        check_ied_name(ied_name)
    except DerlinkError as err:
        raise NotAnIedCertificate(str(err)) from None
    lfdi = lfdi_of_certificate(cert)
    return Device(lfdi, sfdi_from_lfdi(lfdi), site=site, pin=pin), (jid, ied_name)


async def enrol_ied(
    fleet: FleetService,
    cert: x509.Certificate,
    *,
    actor: str,
    site: str | None = None,
    pin: int | None = None,
    ied_name: str = DEFAULT_IED_NAME,
) -> tuple[Device, str]:
    """Enrol the IED holding ``cert``; returns the device and its JID."""
    device, entry = ied_device(cert, site=site, pin=pin, ied_name=ied_name)
    made = await fleet.enrol(device, actor=actor, ied=entry)
    return made, entry[0]


async def ieds_in_groups(db: Database, groups: Iterable[str]) -> list[IedEntry]:
    """The enabled IEDs at a site in any of ``groups``, by JID."""
    wanted = sorted(set(groups))
    if not wanted:
        return []
    sites = select(SiteGroupRow.site_id).where(SiteGroupRow.group_id.in_(wanted))
    query = (
        select(IedRow.lfdi, IedRow.jid, IedRow.ied_name, DeviceRow.site_id)
        .join(DeviceRow, DeviceRow.lfdi == IedRow.lfdi)
        .where(DeviceRow.site_id.in_(sites), DeviceRow.enabled.is_(True))
        .order_by(IedRow.jid)
    )
    async with db.sessions() as s:
        rows = (await s.execute(query)).all()
    return [IedEntry(lfdi, jid, name, site) for lfdi, jid, name, site in rows]


async def all_ieds(db: Database) -> list[IedEntry]:
    """Every registered IED (enabled or not), by JID."""
    query = (
        select(IedRow.lfdi, IedRow.jid, IedRow.ied_name, DeviceRow.site_id)
        .join(DeviceRow, DeviceRow.lfdi == IedRow.lfdi)
        .order_by(IedRow.jid)
    )
    async with db.sessions() as s:
        rows = (await s.execute(query)).all()
    return [IedEntry(lfdi, jid, name, site) for lfdi, jid, name, site in rows]


__all__ = [
    "DEFAULT_IED_NAME",
    "IedEntry",
    "NotAnIedCertificate",
    "all_ieds",
    "enrol_ied",
    "ied_device",
    "ieds_in_groups",
    "jid_of_certificate",
]
