"""The deployment's role table: the seven IEC 62351-8 roles plus private ones from config.

IEC 62351-8 reserves role ids -32768..-1 for private roles; a deployment defines them in the
``[rbac]`` section of its configuration, each with a name and its rights::

    [rbac.roles.dispatcher]
    id = -1
    rights = ["view", "read", "control"]

The area of responsibility (``[rbac] area``, default ``derlink``) names the whole deployment:
a subject whose certificate or token names that area (or ``*``) may act everywhere; any other
area names the one group the subject may act on.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from derlink.errors import ConfigError
from derlink.pki import Role
from derlink.rbac.rights import STANDARD_ROLE_RIGHTS, Right, parse_right

PRIVATE_MIN = -32768
PRIVATE_MAX = -1
WHOLE_AREA = "*"
DEFAULT_AREA = "derlink"


@dataclass(frozen=True, slots=True)
class RoleDef:
    """One role: its 62351-8 id, its name, its rights."""

    id: int
    name: str
    rights: frozenset[Right]


def _standard() -> dict[int, RoleDef]:
    return {
        int(role): RoleDef(int(role), role.name, rights)
        for role, rights in STANDARD_ROLE_RIGHTS.items()
    }


@dataclass(frozen=True, slots=True)
class Policy:
    """Role id -> definition, and the deployment's area of responsibility."""

    roles: Mapping[int, RoleDef] = field(default_factory=_standard)
    area: str = DEFAULT_AREA

    @classmethod
    def from_config(cls, rbac: Any) -> Policy:
        """From a ``RbacConfig`` (``area`` and ``roles: {name: {id, rights}}``)."""
        roles = _standard()
        for name, spec in dict(rbac.roles).items():
            role_id = int(spec.id)
            if not PRIVATE_MIN <= role_id <= PRIVATE_MAX:
                raise ConfigError(
                    f"rbac.roles.{name}: id {role_id} is not a private IEC 62351-8 role id "
                    f"({PRIVATE_MIN}..{PRIVATE_MAX})"
                )
            if role_id in roles:
                raise ConfigError(f"rbac.roles.{name}: id {role_id} is defined twice")
            if name.upper() in (r.name for r in roles.values()):
                raise ConfigError(f"rbac.roles.{name}: the name is taken")
            try:
                rights = frozenset(parse_right(r) for r in spec.rights)
            except ValueError as err:
                raise ConfigError(f"rbac.roles.{name}: {err}") from None
            roles[role_id] = RoleDef(role_id, name.upper(), rights)
        return cls(roles, str(rbac.area))

    def rights_of(self, role_ids: Iterable[int]) -> frozenset[Right]:
        """Every right any of ``role_ids`` grants; unknown ids grant nothing."""
        out: set[Right] = set()
        for role_id in role_ids:
            found = self.roles.get(role_id)
            if found is not None:
                out |= found.rights
        return frozenset(out)

    def role_id(self, text: str | int) -> int:
        """A role id from a name (standard or private) or a number; :class:`ValueError` else."""
        if isinstance(text, int):
            if text not in self.roles:
                raise ValueError(f"unknown role id {text}")
            return text
        wanted = text.strip().upper()
        for role in self.roles.values():
            if role.name == wanted:
                return role.id
        names = ", ".join(r.name.lower() for r in self.roles.values())
        raise ValueError(f"unknown role {text!r} (one of {names})")

    def name_of(self, role_id: int) -> str:
        found = self.roles.get(role_id)
        return found.name if found else str(role_id)

    def covers(self, aor: str | None, group: str | None) -> bool:
        """Whether area of responsibility ``aor`` covers ``group`` (None: the deployment)."""
        if aor in (WHOLE_AREA, self.area):
            return True
        return aor is not None and group is not None and aor == group


DEFAULT_POLICY = Policy()


def standard_role_ids(roles: Iterable[Role]) -> frozenset[int]:
    return frozenset(int(r) for r in roles)
