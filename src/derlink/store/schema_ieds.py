"""The IEC 61850 IED registry: which enrolled devices are 61850 IEDs, and where they answer.

A device enrolled with an XMPP client certificate (IEC 61850-8-2) is one row of ``device`` (its
LFDI is the hash of that certificate, as for every derlink client) plus one row here: the bare
JID from the certificate's id-on-xmppAddr, and the IED name its MMS domains are built from
(IED name + LD inst). The 61850 dispatcher finds the IEDs of a group through this table.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from derlink.store.schema import Base


class IedRow(Base):
    __tablename__ = "iec61850_ied"

    lfdi: Mapped[str] = mapped_column(
        ForeignKey("device.lfdi", ondelete="CASCADE"), primary_key=True
    )
    jid: Mapped[str] = mapped_column(String(255), unique=True)
    ied_name: Mapped[str] = mapped_column(String(64))
    created: Mapped[int] = mapped_column(BigInteger, default=0)


class IedBaselineRow(Base):
    """A value an IED had before the dispatcher changed it (JSON), kept until it is restored,
    so a dispatcher that restarts mid-control still restores what the device had."""

    __tablename__ = "iec61850_baseline"

    lfdi: Mapped[str] = mapped_column(
        ForeignKey("device.lfdi", ondelete="CASCADE"), primary_key=True
    )
    point: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
