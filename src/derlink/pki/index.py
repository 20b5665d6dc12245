"""The index of issued certificates: an append-only JSON Lines journal in the PKI directory.

The first line names the PKI; every later line is one event: a certificate issued, a certificate
revoked, a CRL number used (RFC 5280 5.2.3: increasing per CA). The state is the fold of the
events. Each event is appended and fsynced under an exclusive lock, so concurrent ``derlink``
processes never lose one, and issuing costs the same with ten or a million certificates (a
JSON snapshot rewritten per certificate made issuing O(n)). A crash in the middle of an append
leaves a last line without its newline: that line was never acknowledged, and it is ignored on
reading and cut off before the next append, so every event is written atomically.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from derlink.pki.clock import iso, parse_iso
from derlink.pki.errors import PkiError
from derlink.pki.profiles import Profile
from derlink.pki.roles import Role

INDEX_NAME = "index.jsonl"
LOCK_NAME = ".lock"
FORMAT = 1

Event = dict[str, Any]


@dataclass(frozen=True, slots=True)
class IssuedRecord:
    """One issued certificate as the index remembers it."""

    serial_number: int
    profile: Profile
    issuer: Profile
    subject: str
    lfdi: str
    sfdi: int
    not_before: datetime
    not_after: datetime
    hardware_serial: str | None = None
    roles: tuple[Role, ...] = ()
    revoked_at: datetime | None = None
    revocation_reason: str | None = None

    @property
    def serial_hex(self) -> str:
        return f"{self.serial_number:X}"

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None

    def to_json(self) -> dict[str, Any]:
        return {
            "serial_number": self.serial_hex,
            "profile": self.profile.value,
            "issuer": self.issuer.value,
            "subject": self.subject,
            "lfdi": self.lfdi,
            "sfdi": self.sfdi,
            "not_before": iso(self.not_before),
            "not_after": iso(self.not_after),
            "hardware_serial": self.hardware_serial,
            "roles": [r.name.lower() for r in self.roles],
            "revoked_at": iso(self.revoked_at) if self.revoked_at else None,
            "revocation_reason": self.revocation_reason,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> IssuedRecord:
        revoked_at = data.get("revoked_at")
        return cls(
            serial_number=int(data["serial_number"], 16),
            profile=Profile(data["profile"]),
            issuer=Profile(data["issuer"]),
            subject=data["subject"],
            lfdi=data["lfdi"],
            sfdi=int(data["sfdi"]),
            not_before=parse_iso(data["not_before"]),
            not_after=parse_iso(data["not_after"]),
            hardware_serial=data.get("hardware_serial"),
            roles=tuple(Role[r.upper()] for r in data.get("roles", [])),
            revoked_at=parse_iso(revoked_at) if revoked_at else None,
            revocation_reason=data.get("revocation_reason"),
        )


def issue_event(record: IssuedRecord) -> Event:
    return {"issue": record.to_json()}


def revoke_event(serial_number: int, when: datetime, reason: str) -> Event:
    return {"revoke": {"serial_number": f"{serial_number:X}", "at": iso(when), "reason": reason}}


def crl_event(ca: Profile, number: int) -> Event:
    return {"crl": {"ca": ca.value, "number": number}}


@dataclass
class Index:
    """The state of the index: the fold of its events."""

    name: str
    records: dict[int, IssuedRecord] = field(default_factory=dict)
    crl_numbers: dict[str, int] = field(default_factory=dict)

    def apply(self, event: Event) -> None:
        if "issue" in event:
            record = IssuedRecord.from_json(event["issue"])
            self.records[record.serial_number] = record
        elif "revoke" in event:
            self._apply_revoke(event["revoke"])
        elif "crl" in event:
            self.crl_numbers[str(event["crl"]["ca"])] = int(event["crl"]["number"])
        else:
            raise ValueError(f"unknown event {sorted(event)}")

    def _apply_revoke(self, data: dict[str, Any]) -> None:
        serial = int(data["serial_number"], 16)
        when, reason = parse_iso(data["at"]), str(data["reason"])
        self.records[serial] = replace(
            self.records[serial], revoked_at=when, revocation_reason=reason
        )

    def next_crl_number(self, ca: Profile) -> int:
        return self.crl_numbers.get(ca.value, 0) + 1

    def revoked_by(self, ca: Profile) -> list[IssuedRecord]:
        return [r for r in self.records.values() if r.issuer is ca and r.revoked]


def create_index(directory: Path, name: str, events: list[Event]) -> None:
    """Write a new index: the header line, then ``events``."""
    header = {"format": FORMAT, "name": name}
    data = b"".join(_line(e) for e in [header, *events])
    write_durably(directory / INDEX_NAME, data, 0o644)


def load_index(directory: Path) -> Index:
    path = directory / INDEX_NAME
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise PkiError(f"{directory} is not a derlink PKI (no {INDEX_NAME})") from None
    except OSError as err:
        raise PkiError(f"cannot read {path}: {err.strerror}") from None
    try:
        return _fold(data.split(b"\n")[:-1])  # the part after the last newline is torn
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        raise PkiError(f"the PKI index {path} is corrupt: {err}") from None


def _fold(lines: list[bytes]) -> Index:
    if not lines:
        raise ValueError("no header line")
    header = json.loads(lines[0])
    if header.get("format") != FORMAT:
        raise ValueError(f"unknown index format {header.get('format')!r}")
    index = Index(name=str(header["name"]))
    for line in lines[1:]:
        index.apply(json.loads(line))
    return index


def append_events(directory: Path, events: list[Event]) -> None:
    """Append ``events`` durably; the caller holds :func:`locked`."""
    fd = os.open(directory / INDEX_NAME, os.O_RDWR)
    try:
        _cut_torn_tail(fd)
        os.lseek(fd, 0, os.SEEK_END)
        os.write(fd, b"".join(_line(e) for e in events))
        os.fsync(fd)
    finally:
        os.close(fd)


def _cut_torn_tail(fd: int) -> None:
    size = os.lseek(fd, 0, os.SEEK_END)
    if size == 0 or os.pread(fd, 1, size - 1) == b"\n":
        return
    data = os.pread(fd, size, 0)
    os.ftruncate(fd, data.rfind(b"\n") + 1)


def _line(value: Event) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode() + b"\n"


def write_durably(path: Path, data: bytes, mode: int) -> None:
    """Atomic and durable replace of ``path``: temp file, fsync, rename, fsync directory."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_directory(path.parent)


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def locked(directory: Path) -> Iterator[None]:
    """Hold the PKI's exclusive lock (across processes) for a read-modify-write."""
    try:
        fd = os.open(directory / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as err:
        raise PkiError(f"cannot lock the PKI in {directory}: {err.strerror}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
