"""Tables of signed commands: each originator's counter, and the signed form of a control.

``originator_counter`` holds the last 64-bit counter allocated per originator (an operator's
certificate subject, or ``otc:ISSUER:DEVICE`` for one-time codes); allocation increments it in
the transaction that uses it, so counters are strictly increasing and never reused, across
processes and restarts. ``signed_command`` keeps the exact bytes served with a DERControl.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from derlink.store.schema import Base


class OriginatorCounterRow(Base):
    __tablename__ = "originator_counter"

    originator: Mapped[str] = mapped_column(String(512), primary_key=True)
    counter: Mapped[int] = mapped_column(BigInteger)


class SignedCommandRow(Base):
    __tablename__ = "signed_command"

    mrid: Mapped[str] = mapped_column(
        ForeignKey("control.mrid", ondelete="CASCADE"), primary_key=True
    )
    originator: Mapped[str] = mapped_column(String(512))
    counter: Mapped[int] = mapped_column(BigInteger)
    not_after: Mapped[int] = mapped_column(BigInteger)
    document: Mapped[bytes] = mapped_column(LargeBinary)
