"""IEC 62351-8 roles and the IECUserRoles certificate extension that carries them.

The extension (OID 1.2.840.10070.8.1, non-critical, IEC 62351-8 9.5.1) is a SEQUENCE OF
UserRoleInfo, each naming one or more role ids, the area of responsibility (aor) where they
apply, the revision of the subject-to-role assignment and, optionally, the role definition the
ids refer to. derlink writes one UserRoleInfo whose roleDefinition is ``IEC62351-8`` (the
standard roles below).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from derlink.pki import asn1
from derlink.pki.errors import PkiError

ROLE_DEFINITION = "IEC62351-8"
MAX_AOR = 64


class Role(enum.IntEnum):
    """The standard roles of IEC 62351-8; ids -32768..-1 are private (IEC 62351-8 9.4.4.1)."""

    VIEWER = 0
    OPERATOR = 1
    ENGINEER = 2
    INSTALLER = 3
    SECADM = 4
    SECAUD = 5
    RBACMNT = 6


def parse_role(text: str) -> Role:
    """A role by its name, case-insensitive (``operator``, ``SECADM``); :class:`PkiError` else."""
    try:
        return Role[text.strip().upper()]
    except KeyError:
        names = ", ".join(r.name.lower() for r in Role)
        raise PkiError(f"unknown role {text!r} (one of {names})") from None


def unique_roles(roles: Iterable[Role]) -> tuple[Role, ...]:
    """Roles without duplicates, in id order."""
    return tuple(sorted(set(roles)))


@dataclass(frozen=True, slots=True)
class UserRoleInfo:
    """One UserRoleInfo of IEC 62351-8 9.5.1."""

    roles: tuple[Role, ...]
    aor: str
    revision: int = 1
    role_definition: str | None = ROLE_DEFINITION

    def to_asn1(self) -> dict[str, Any]:
        value: dict[str, Any] = {
            "userRole": [int(r) for r in self.roles],
            "aor": self.aor,
            "revision": self.revision,
        }
        if self.role_definition is not None:
            value["roleDefinition"] = self.role_definition
        return value

    @classmethod
    def from_asn1(cls, value: dict[str, Any]) -> UserRoleInfo:
        return cls(
            roles=tuple(_role(i) for i in value["userRole"]),
            aor=value["aor"],
            revision=value["revision"],
            role_definition=value.get("roleDefinition"),
        )


def _role(role_id: int) -> Role:
    try:
        return Role(role_id)
    except ValueError:
        raise asn1.Asn1Error(f"role id {role_id} is not a standard IEC 62351-8 role") from None


def encode_user_roles(infos: Sequence[UserRoleInfo]) -> bytes:
    """DER of the IECUserRoles extension value."""
    try:
        return asn1.encode("IECUserRoles", [info.to_asn1() for info in infos])
    except asn1.Asn1Error as err:
        raise PkiError(f"invalid roles: {err}") from None


def decode_user_roles(data: bytes) -> tuple[UserRoleInfo, ...]:
    """Decode the IECUserRoles extension value; :class:`~derlink.pki.asn1.Asn1Error` on junk."""
    infos = tuple(UserRoleInfo.from_asn1(v) for v in asn1.decode("IECUserRoles", data))
    if not infos:
        raise asn1.Asn1Error("IECUserRoles holds no UserRoleInfo")
    return infos


def user_roles_value(roles: Sequence[Role], aor: str) -> bytes:
    """The extension value derlink writes: one UserRoleInfo with ``roles`` in ``aor``."""
    if not roles:
        raise PkiError("an operator or aggregator certificate needs at least one role")
    if not 1 <= len(aor) <= MAX_AOR:
        raise PkiError(f"the area of responsibility must be 1 to {MAX_AOR} characters")
    return encode_user_roles([UserRoleInfo(unique_roles(roles), aor)])
