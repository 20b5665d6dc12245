"""Time as the PKI sees it: aware UTC datetimes with whole seconds (X.509 has no fractions)."""

from __future__ import annotations

from datetime import UTC, datetime

#: notAfter of every IEEE 2030.5 device and CA certificate (IEEE 2030.5-2018 6.11: "no well-defined
#: expiration", encoded as the GeneralizedTime 99991231235959Z of RFC 5280 4.1.2.5).
NO_EXPIRY = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)


def as_utc(now: datetime) -> datetime:
    """``now`` in UTC truncated to the second; a naive datetime is a programming error."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("the PKI needs an aware datetime (for example datetime.now(UTC))")
    return now.astimezone(UTC).replace(microsecond=0)


def iso(moment: datetime) -> str:
    """RFC 3339 text of an aware datetime, in UTC, for the index and JSON output."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
