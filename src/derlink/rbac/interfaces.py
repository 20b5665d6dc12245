"""What each interface asks of the decision point.

- 2030.5 server: an aggregator certificate carries roles; a GET (or a subscription) needs
  ``read-telemetry``, any other write (responses, mirror readings, DER status, registration)
  ``report``. A 2030.5 *device* certificate carries no roles: devices keep the head-end's own
  rules (a device acts for its own EndDevice only), which RBAC does not replace.
- IEC 61850 ACSI (over XMPP): the IED runtime's ``authorize`` hook maps each service class to a
  62351-8 right and asks :func:`authorize_acsi`.
- Operator API and CLI: a :class:`~derlink.rbac.rights.Permission` per operation, asked
  directly with :func:`~derlink.rbac.decision.authorize`.
"""

from __future__ import annotations

from collections.abc import Callable

from derlink.pki import Profile, Role
from derlink.rbac.decision import Decision, Target, authorize
from derlink.rbac.policy import DEFAULT_POLICY, Policy
from derlink.rbac.rights import Permission, Right
from derlink.rbac.subject import Source, Subject

READ_METHODS = frozenset({"GET", "HEAD"})
# 2030.5 resources a client writes to read: subscribing is asking for notifications.
SUBSCRIPTION_ROUTES = frozenset({"SubscriptionList", "Subscription"})


def sep2_permission(method: str, route: str) -> Permission:
    """The permission a 2030.5 request needs, by method and route name."""
    if method.upper() in READ_METHODS or route in SUBSCRIPTION_ROUTES:
        return Permission.READ_TELEMETRY
    return Permission.REPORT


def sep2_subject(lfdi: str, profile: Profile, roles: tuple[Role, ...], aor: str | None) -> Subject:
    return Subject(
        identity=f"lfdi:{lfdi}",
        roles=frozenset(int(r) for r in roles),
        source=Source.CERTIFICATE,
        aor=aor,
        profile=profile,
    )


def authorize_sep2(
    lfdi: str,
    profile: Profile,
    roles: tuple[Role, ...],
    aor: str | None,
    method: str,
    route: str,
    *,
    policy: Policy = DEFAULT_POLICY,
) -> Decision | None:
    """The decision for an aggregator's request; None for a device (rules of the head-end)."""
    if profile is not Profile.AGGREGATOR:
        return None
    subject = sep2_subject(lfdi, profile, roles, aor)
    return authorize(subject, sep2_permission(method, route), policy=policy)


# ACSI service classes (IEC 61850-7-2) as the IED runtime names them -> 62351-8 rights.
ACSI_RIGHTS: dict[str, Right] = {
    "view": Right.VIEW,  # GetServerDirectory, GetLogicalDeviceDirectory, GetDataDefinition
    "read": Right.READ,  # GetDataValues, GetDataSetValues
    "dataset": Right.DATASET,  # CreateDataSet, DeleteDataSet
    "reporting": Right.REPORTING,  # report control blocks, logs
    "control": Right.CONTROL,  # Select, SelectWithValue, Operate, Cancel
    "config": Right.CONFIG,  # SetDataValues on configuration data
    "settinggroup": Right.SETTINGGROUP,
    "fileread": Right.FILEREAD,
    "filewrite": Right.FILEWRITE,
    "filemngt": Right.FILEMNGT,
    "security": Right.SECURITY,
}


def acsi_decision(
    subject: Subject, acsi_right: str, ref: object | None, *, policy: Policy = DEFAULT_POLICY
) -> Decision:
    """Whether ``subject`` may use an ACSI service of class ``acsi_right`` on object ``ref``.

    The decision is by right, not by permission: the 62351-8 right is the whole question the
    IED asks. An unknown service class is refused."""
    right = ACSI_RIGHTS.get(acsi_right.strip().lower())
    ref = "server" if ref is None else str(ref)
    target = Target(key=ref)
    if right is None:
        return Decision(
            False, subject, Permission.VIEW, target, f"unknown ACSI service class {acsi_right!r}"
        )
    held = policy.rights_of(subject.roles)
    permission = _ACSI_PERMISSION[right]
    if right not in held:
        reason = (
            f"{subject.identity} may not use {acsi_right} services on {ref}: lacks {right.name}"
        )
        return Decision(False, subject, permission, target, reason, frozenset({right}))
    if not policy.covers(subject.aor, None):
        reason = f"{subject.identity} may not act on {ref}: outside area {subject.aor!r}"
        return Decision(False, subject, permission, target, reason)
    return Decision(True, subject, permission, target, f"{acsi_right} granted on {ref}")


_ACSI_PERMISSION: dict[Right, Permission] = {
    Right.VIEW: Permission.VIEW,
    Right.READ: Permission.READ_TELEMETRY,
    Right.DATASET: Permission.CONFIGURE,
    Right.REPORTING: Permission.REPORT,
    Right.CONTROL: Permission.CONTROL,
    Right.CONFIG: Permission.CONFIGURE,
    Right.SETTINGGROUP: Permission.MANAGE_FLEET,
    Right.FILEREAD: Permission.READ_AUDIT,
    Right.FILEWRITE: Permission.MANAGE_FILES,
    Right.FILEMNGT: Permission.MANAGE_FILES,
    Right.SECURITY: Permission.MANAGE_SECURITY,
}


def authorize_acsi(
    subject: Subject, acsi_right: str, ref: object | None, *, policy: Policy = DEFAULT_POLICY
) -> bool:
    """Whether ``subject`` may use ACSI services of class ``acsi_right`` on ``ref`` (an
    ObjectReference or its text; None: the server); see :func:`acsi_decision`."""
    return acsi_decision(subject, acsi_right, ref, policy=policy).allowed


def acsi_hook(
    subject_of: Callable[[str], Subject | None],
    *,
    policy: Policy = DEFAULT_POLICY,
    on_denied: Callable[[Decision], None] | None = None,
) -> Callable[[str, str, object | None], bool]:
    """An ``authorize(peer, right, ref)`` hook for ``IedServer``: ``subject_of`` maps the
    peer (its JID) to its subject, from its certificate or token; an unknown peer is refused.
    ``on_denied`` receives each refusal (to audit it with
    :func:`~derlink.rbac.decision.denial_event`)."""

    def hook(peer: str, right: str, ref: object | None) -> bool:
        subject = subject_of(peer)
        if subject is None:
            return False
        decision = acsi_decision(subject, right, ref, policy=policy)
        if not decision.allowed and on_denied is not None:
            on_denied(decision)
        return decision.allowed

    return hook


def authorize_api(
    subject: Subject,
    permission: Permission,
    target: Target | None = None,
    *,
    policy: Policy = DEFAULT_POLICY,
) -> Decision:
    """The operator API's question: the same decision as the CLI's."""
    return authorize(subject, permission, target, policy=policy)
