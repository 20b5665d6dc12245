"""The one decision point: may ``subject`` exercise ``permission`` (on ``target``)?

Every interface asks :func:`authorize` (or :func:`require`) and audits a denial with
:func:`denial_event`, so the answer and its record are the same whether the request came from
the CLI, the 2030.5 server, the 61850 ACSI runtime or the operator API.
"""

from __future__ import annotations

from dataclasses import dataclass

from derlink.audit.event import AuditEvent, Outcome, Severity
from derlink.errors import DerlinkError
from derlink.rbac.policy import DEFAULT_POLICY, Policy
from derlink.rbac.rights import PERMISSION_RIGHTS, Permission, Right
from derlink.rbac.subject import Subject


class AccessDenied(DerlinkError):
    """The subject lacks a right, or the target is outside its area of responsibility."""

    exit_code = 8

    def __init__(self, decision: Decision) -> None:
        super().__init__(decision.reason)
        self.decision = decision


@dataclass(frozen=True, slots=True)
class Target:
    """What a request acts on, when the caller knows it: a group, a device, a free key."""

    group: str | None = None
    device: str | None = None
    key: str | None = None

    def __str__(self) -> str:
        for kind in ("group", "device", "key"):
            value = getattr(self, kind)
            if value is not None:
                return f"{kind}:{value}"
        return "deployment"


@dataclass(frozen=True, slots=True)
class Decision:
    """The answer, with why: ``missing`` rights, or an area-of-responsibility refusal."""

    allowed: bool
    subject: Subject
    permission: Permission
    target: Target | None
    reason: str
    missing: frozenset[Right] = frozenset()

    def __bool__(self) -> bool:
        return self.allowed


def authorize(
    subject: Subject,
    permission: Permission,
    target: Target | None = None,
    *,
    policy: Policy = DEFAULT_POLICY,
) -> Decision:
    """Decide; never raises. Rights come from every role of the subject (IEC 62351-8)."""
    needed = PERMISSION_RIGHTS[permission]
    held = policy.rights_of(subject.roles)
    missing = needed - held
    where = f" on {target}" if target is not None else ""
    if missing:
        roles = ", ".join(sorted(policy.name_of(r) for r in subject.roles)) or "no role"
        lacking = ", ".join(sorted(r.name for r in missing))
        reason = (
            f"{subject.identity} ({roles}) may not {permission.value}{where}: "
            f"lacks the right {lacking}"
        )
        return Decision(False, subject, permission, target, reason, missing)
    group = target.group if target is not None else None
    if not policy.covers(subject.aor, group):
        reason = (
            f"{subject.identity} may not {permission.value}{where}: outside its area of "
            f"responsibility {subject.aor!r}"
        )
        return Decision(False, subject, permission, target, reason)
    return Decision(True, subject, permission, target, f"{permission.value} granted{where}")


def require(
    subject: Subject,
    permission: Permission,
    target: Target | None = None,
    *,
    policy: Policy = DEFAULT_POLICY,
) -> Decision:
    """:func:`authorize`, raising :class:`AccessDenied` on a refusal."""
    decision = authorize(subject, permission, target, policy=policy)
    if not decision.allowed:
        raise AccessDenied(decision)
    return decision


def denial_event(decision: Decision, *, source: str, action: str | None = None) -> AuditEvent:
    """The audit record of a refusal (IEC 62351-14 style id ``RBAC:Denied.1``)."""
    details: dict[str, object] = {
        "permission": decision.permission.value,
        "roles": sorted(decision.subject.roles),
        "source": decision.subject.source.value,
        "reason": decision.reason,
    }
    if decision.missing:
        details["missing"] = sorted(r.value for r in decision.missing)
    return AuditEvent(
        action=action or f"rbac.{decision.permission.value}",
        target=str(decision.target) if decision.target is not None else "deployment",
        actor=decision.subject.identity,
        outcome=Outcome.DENIED,
        severity=Severity.WARNING,
        event_id="RBAC:Denied.1",
        source=source,
        details=details,
    )
