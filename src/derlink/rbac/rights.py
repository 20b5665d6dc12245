"""IEC 62351-8 rights, the standard role-to-right matrix, and derlink's permissions.

A *right* is what IEC 62351-8 grants a role (clause 6, table of pre-defined roles): VIEW
(discover what exists), READ (values), DATASET (define data sets), REPORTING (receive and send
reports), FILEREAD / FILEWRITE / FILEMNGT (files, logs), CONTROL (operate), CONFIG (change
configuration), SETTINGGROUP (setting groups) and SECURITY (security settings, credentials).

A *permission* is one thing derlink lets a subject do through any interface (CLI, 2030.5
server, 61850 ACSI, operator API); each needs a set of rights, all of them. The two tables below
are the whole policy: :func:`derlink.rbac.decision.authorize` only reads them.
"""

from __future__ import annotations

import enum

from derlink.pki import Role


class Right(enum.Enum):
    """The rights of IEC 62351-8."""

    VIEW = "view"
    READ = "read"
    DATASET = "dataset"
    REPORTING = "reporting"
    FILEREAD = "fileread"
    FILEWRITE = "filewrite"
    FILEMNGT = "filemngt"
    CONTROL = "control"
    CONFIG = "config"
    SETTINGGROUP = "settinggroup"
    SECURITY = "security"


R = Right

# IEC 62351-8 pre-defined roles and their rights (our reading of the standard's table):
# VIEWER sees and receives reports; OPERATOR adds reading values and operating; ENGINEER and
# INSTALLER configure (the installer without data sets, file management or setting groups);
# SECADM has every right but CONTROL; SECAUD reads (logs are files); RBACMNT maintains role
# assignments, which derlink keeps in files and configuration.
STANDARD_ROLE_RIGHTS: dict[Role, frozenset[Right]] = {
    Role.VIEWER: frozenset({R.VIEW, R.REPORTING}),
    Role.OPERATOR: frozenset({R.VIEW, R.READ, R.REPORTING, R.CONTROL}),
    Role.ENGINEER: frozenset(
        {
            R.VIEW,
            R.READ,
            R.DATASET,
            R.REPORTING,
            R.FILEREAD,
            R.FILEWRITE,
            R.FILEMNGT,
            R.CONFIG,
            R.SETTINGGROUP,
        }
    ),
    Role.INSTALLER: frozenset({R.VIEW, R.READ, R.REPORTING, R.FILEREAD, R.FILEWRITE, R.CONFIG}),
    Role.SECADM: frozenset(set(Right) - {R.CONTROL}),
    Role.SECAUD: frozenset({R.VIEW, R.READ, R.REPORTING, R.FILEREAD}),
    Role.RBACMNT: frozenset({R.VIEW, R.READ, R.FILEREAD, R.FILEWRITE, R.FILEMNGT, R.CONFIG}),
}


class Permission(enum.Enum):
    """What derlink lets a subject do, in every interface."""

    VIEW = "view"  # list what exists: groups, sites, devices, programs
    READ_TELEMETRY = "read-telemetry"  # values: readings, responses, control details
    REPORT = "report"  # a client posts responses, readings, status (2030.5 writes)
    CONTROL = "control"  # create and cancel controls, dispatch, operate
    APPROVE = "approve"  # approve or reject a control held by anomaly detection
    CONFIGURE = "configure"  # programs, curves, tariffs, rates, resources
    MANAGE_FLEET = "manage-fleet"  # groups, sites, enrolment, device access
    MANAGE_FILES = "manage-files"  # firmware and other files published to devices
    MANAGE_SECURITY = "manage-security"  # issue and revoke certificates, CRLs, tokens
    READ_AUDIT = "read-audit"  # read, export and verify the audit log
    SERVE = "serve"  # run the head-end and simulators of this data directory


P = Permission

PERMISSION_RIGHTS: dict[Permission, frozenset[Right]] = {
    P.VIEW: frozenset({R.VIEW}),
    P.READ_TELEMETRY: frozenset({R.VIEW, R.READ}),
    P.REPORT: frozenset({R.REPORTING}),
    P.CONTROL: frozenset({R.CONTROL}),
    P.APPROVE: frozenset({R.CONTROL, R.READ}),
    P.CONFIGURE: frozenset({R.CONFIG}),
    P.MANAGE_FLEET: frozenset({R.CONFIG, R.SETTINGGROUP}),
    P.MANAGE_FILES: frozenset({R.FILEWRITE, R.FILEMNGT}),
    P.MANAGE_SECURITY: frozenset({R.SECURITY}),
    P.READ_AUDIT: frozenset({R.READ, R.FILEREAD}),
    P.SERVE: frozenset({R.CONFIG, R.READ}),
}


def parse_right(text: str) -> Right:
    """A right by name (``control``, ``FILEREAD``); :class:`ValueError` names the choices."""
    try:
        return Right(text.strip().lower())
    except ValueError:
        names = ", ".join(r.value for r in Right)
        raise ValueError(f"unknown right {text!r} (one of {names})") from None


def parse_permission(text: str) -> Permission:
    try:
        return Permission(text.strip().lower())
    except ValueError:
        names = ", ".join(p.value for p in Permission)
        raise ValueError(f"unknown permission {text!r} (one of {names})") from None
