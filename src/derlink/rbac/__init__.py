"""derlink.rbac: IEC 62351-8 roles, rights and permissions; one place answers "may X do Y on Z".

Subjects come from operator and aggregator certificates (IECUserRoles), from signed access
tokens (compact JWS ES256 by the deployment's token signer), or from the data directory's local
administrator. :func:`authorize` is the one decision point every interface asks; a denial is
audited by the caller with :func:`denial_event`.
"""

from derlink.rbac.decision import (
    AccessDenied,
    Decision,
    Target,
    authorize,
    denial_event,
    require,
)
from derlink.rbac.interfaces import (
    ACSI_RIGHTS,
    acsi_decision,
    acsi_hook,
    authorize_acsi,
    authorize_api,
    authorize_sep2,
    sep2_permission,
)
from derlink.rbac.policy import DEFAULT_POLICY, Policy, RoleDef
from derlink.rbac.rights import (
    PERMISSION_RIGHTS,
    STANDARD_ROLE_RIGHTS,
    Permission,
    Right,
)
from derlink.rbac.subject import Source, Subject, subject_from_certificate
from derlink.rbac.tokens import TokenClaims, TokenError, issue_token, verify_token

__all__ = [
    "ACSI_RIGHTS",
    "DEFAULT_POLICY",
    "PERMISSION_RIGHTS",
    "STANDARD_ROLE_RIGHTS",
    "AccessDenied",
    "Decision",
    "Permission",
    "Policy",
    "Right",
    "RoleDef",
    "Source",
    "Subject",
    "Target",
    "TokenClaims",
    "TokenError",
    "acsi_decision",
    "acsi_hook",
    "authorize",
    "authorize_acsi",
    "authorize_api",
    "authorize_sep2",
    "denial_event",
    "issue_token",
    "require",
    "sep2_permission",
    "subject_from_certificate",
    "verify_token",
]
