"""Every IEC 62351-8 role against every permission, through each interface.

The expected matrix is written out by hand below; each interface must agree with it:
the decision point itself, the ``derlink`` CLI (real invocations with an operator certificate
of each role), the 2030.5 server (real mutual TLS with an aggregator certificate of each role)
and the IEC 61850 ACSI authorize hook.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from derlink.audit.service import open_audit_log
from derlink.config import load_config
from derlink.control.service import FleetService
from derlink.domain import Device, DeviceKind
from derlink.home import Home
from derlink.pki import Pki, Role
from derlink.rbac import (
    AccessDenied,
    Permission,
    Policy,
    Right,
    Source,
    Subject,
    Target,
    authorize,
    authorize_acsi,
    require,
)
from derlink.sep2.xml import EndDevice
from support.cli import Cli
from support.sep2 import Sep2Client, Server, derlink

P = Permission
V, RT, REP, C, A = P.VIEW, P.READ_TELEMETRY, P.REPORT, P.CONTROL, P.APPROVE
CF, MF, FI, SEC, AUD, SRV = (
    P.CONFIGURE,
    P.MANAGE_FLEET,
    P.MANAGE_FILES,
    P.MANAGE_SECURITY,
    P.READ_AUDIT,
    P.SERVE,
)

# What each standard role may do in derlink. Written out, not computed from the tables.
EXPECTED: dict[Role, set[Permission]] = {
    Role.VIEWER: {V, REP},
    Role.OPERATOR: {V, RT, REP, C, A},
    Role.ENGINEER: {V, RT, REP, CF, MF, FI, AUD, SRV},
    Role.INSTALLER: {V, RT, REP, CF, AUD, SRV},
    Role.SECADM: {V, RT, REP, CF, MF, FI, SEC, AUD, SRV},
    Role.SECAUD: {V, RT, REP, AUD},
    Role.RBACMNT: {V, RT, CF, FI, AUD, SRV},
}

# The ACSI service classes each role may use (IEC 62351-8 rights of the role).
EXPECTED_ACSI: dict[Role, set[str]] = {
    Role.VIEWER: {"view", "reporting"},
    Role.OPERATOR: {"view", "read", "reporting", "control"},
    Role.ENGINEER: {
        "view",
        "read",
        "dataset",
        "reporting",
        "fileread",
        "filewrite",
        "filemngt",
        "config",
        "settinggroup",
    },
    Role.INSTALLER: {"view", "read", "reporting", "fileread", "filewrite", "config"},
    Role.SECADM: {r.value for r in Right} - {"control"},
    Role.SECAUD: {"view", "read", "reporting", "fileread"},
    Role.RBACMNT: {"view", "read", "fileread", "filewrite", "filemngt", "config"},
}
CASES = [(role, permission) for role in Role for permission in Permission]


def subject(*roles: int, aor: str = "derlink") -> Subject:
    return Subject("test", frozenset(roles), Source.CERTIFICATE, aor)


@pytest.mark.parametrize(("role", "permission"), CASES, ids=lambda v: v.name.lower())
def test_decision(role: Role, permission: Permission) -> None:
    decision = authorize(subject(role), permission)
    assert decision.allowed == (permission in EXPECTED[role]), decision.reason
    if not decision.allowed:
        assert decision.missing and "lacks the right" in decision.reason
        with pytest.raises(AccessDenied) as raised:
            require(subject(role), permission)
        assert raised.value.exit_code == 8


@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.name.lower())
def test_acsi(role: Role) -> None:
    for right in Right:
        allowed = authorize_acsi(subject(role), right.value, "DER1/DRCC1.OutWSet")
        assert allowed == (right.value in EXPECTED_ACSI[role]), (role, right)
    assert not authorize_acsi(subject(role), "teleport", "DER1/LLN0")


def test_acsi_hook_maps_peers_to_subjects_and_reports_refusals() -> None:
    from derlink.rbac import acsi_hook

    peers = {"centre@derlink.local/ops": subject(Role.OPERATOR)}
    refused: list[str] = []
    hook = acsi_hook(peers.get, on_denied=lambda d: refused.append(d.reason))
    assert hook("centre@derlink.local/ops", "control", "DER1/DRCC1.OutWSet")
    assert hook("centre@derlink.local/ops", "read", None)
    assert not hook("centre@derlink.local/ops", "config", "DER1/DRCC1.OutWSet")
    assert not hook("stranger@elsewhere/x", "view", None)
    assert len(refused) == 1 and "lacks CONFIG" in refused[0]


def test_roles_add_up_and_no_role_may_nothing() -> None:
    both = subject(Role.VIEWER, Role.SECAUD)
    assert authorize(both, AUD) and authorize(both, REP)
    for permission in Permission:
        assert not authorize(subject(), permission)
        assert not authorize(subject(-7), permission)  # an undefined private role


def test_private_roles_from_config_and_area_of_responsibility() -> None:
    config = load_config(
        None,
        {"DERLINK_RBAC_AREA": "north"},
    )
    assert config.rbac.area == "north"

    @dataclass
    class Spec:
        id: int
        rights: tuple[str, ...]

    @dataclass
    class Rbac:
        area: str
        roles: dict[str, Spec]

    policy = Policy.from_config(
        Rbac("north", {"dispatcher": Spec(-1, ("view", "read", "control"))})
    )
    dispatcher = subject(-1, aor="north")
    assert authorize(dispatcher, C, policy=policy) and not authorize(dispatcher, CF, policy=policy)
    assert policy.role_id("dispatcher") == -1
    feeder = subject(Role.OPERATOR, aor="feeder-1")
    assert authorize(feeder, C, Target(group="feeder-1"), policy=policy)
    refused = authorize(feeder, C, Target(group="feeder-2"), policy=policy)
    assert not refused and "area of responsibility" in refused.reason
    assert not authorize(feeder, C, policy=policy)  # the whole deployment is outside it
    from derlink.errors import ConfigError

    for bad in (Spec(3, ("view",)), Spec(-2, ("fly",))):
        with pytest.raises(ConfigError):
            Policy.from_config(Rbac("north", {"x": bad}))


# --- through the CLI ---------------------------------------------------------------------------

# One command per permission, harmless to repeat; an allowed one must not be refused for access.
CLI_PROBES: dict[Permission, tuple[str, ...]] = {
    V: ("group", "list"),
    RT: ("control", "show", "{mrid}"),
    C: ("control", "create", "--program", "p1", "--export-limit", "5kW", "--duration", "1h"),
    A: ("control", "approve", "999999"),
    CF: ("rate", "--poll", "60s"),
    MF: ("group", "add", "g-{role}"),
    FI: ("file", "remove", "no-such-file"),
    SEC: ("pki", "crl"),
    AUD: ("audit", "head"),
}


@dataclass
class Lab:
    home: Home
    root: Path
    certs: dict[Role, Path]
    mrid: str


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Lab:
    root = tmp_path_factory.mktemp("rbac")
    home = Home(root / "home")
    derlink(home, "init")
    derlink(home, "group", "add", "g1")
    derlink(home, "program", "add", "p1", "--primacy", "1", "--group", "g1")
    out = derlink(
        home, "control", "create", "--program", "p1", "--export-limit", "1kW", "--duration", "2h"
    )
    mrid = out.split()[1]
    pki = Pki.open(home.pki_dir, passphrase=None)
    now = datetime.now(UTC)
    certs: dict[Role, Path] = {}
    for role in Role:
        certs[role] = root / f"op-{role.name.lower()}"
        pki.issue_operator(f"op {role.name.lower()}", [role], now=now).write(certs[role])
    return Lab(home, root, certs, mrid)


@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.name.lower())
def test_cli(lab: Lab, role: Role, capsys: pytest.CaptureFixture[str]) -> None:
    cli = Cli(lab.home, capsys)
    identity = str(lab.certs[role].with_suffix(".pem"))
    for permission, probe in CLI_PROBES.items():
        args = [a.format(mrid=lab.mrid, role=role.name.lower()) for a in probe]
        result = cli("--identity", identity, *args)
        if permission in EXPECTED[role]:
            assert result.code != 8, (role, permission, result.err)
            assert "may not" not in result.err
        else:
            assert result.code == 8, (role, permission, result.code, result.err)
            assert result.err.startswith("error: operator:") and "lacks the right" in result.err
            assert result.err.count("\n") == 1  # one readable line
    records = [
        json.loads(line)
        for line in cli("audit", "export").out.splitlines()
        if f":op {role.name.lower()}" in line
    ]
    denied = {r["details"]["permission"] for r in records if r["event_id"] == "RBAC:Denied.1"}
    probed = {p.value for p in CLI_PROBES}
    assert denied == probed - {p.value for p in EXPECTED[role]}


def test_cli_identity_needs_its_key_and_a_valid_certificate(
    lab: Lab, capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli = Cli(lab.home, capsys)
    cert_only = tmp_path / "nokey.pem"
    cert_only.write_bytes(lab.certs[Role.SECADM].with_suffix(".pem").read_bytes())
    refused = cli("--identity", str(cert_only), "group", "list")
    assert refused.code != 0 and "cannot read the key" in refused.err
    pki = Pki.open(lab.home.pki_dir, passphrase=None)
    device = pki.issue_device("SN-not-an-operator", now=datetime.now(UTC))
    device.write(tmp_path / "device")
    refused = cli("--identity", str(tmp_path / "device.pem"), "group", "list")
    assert refused.code != 0 and "expected" in refused.err
    last = cli("audit", "export").out.splitlines()[-1]
    assert json.loads(last)["event_id"] == "RBAC:AuthFailed.1"
    encrypted = pki.issue_operator("enc op", [Role.VIEWER], now=datetime.now(UTC))
    encrypted.write(tmp_path / "enc", passphrase=b"pass phrase")
    locked = cli("--identity", str(tmp_path / "enc.pem"), "group", "list")
    assert locked.code != 0 and "cannot load the private key" in locked.err
    monkeypatch.setenv("DERLINK_IDENTITY_PASSPHRASE", "pass phrase")
    assert cli("--identity", str(tmp_path / "enc.pem"), "group", "list").code == 0


# --- through the 2030.5 server -------------------------------------------------------------------


@dataclass
class Head:
    server: Server
    aggregators: dict[Role, Path]
    device: Path
    root: Path


@pytest.fixture(scope="module")
def head(lab: Lab) -> Iterator[Head]:
    pki = Pki.open(lab.home.pki_dir, passphrase=None)
    now = datetime.now(UTC)
    aggregators: dict[Role, Path] = {}
    enrol: list[Device] = []
    for role in Role:
        issued = pki.issue_aggregator(f"agg {role.name.lower()}", [role], now=now)
        aggregators[role] = lab.root / f"agg-{role.name.lower()}"
        issued.write(aggregators[role])
        enrol.append(Device(issued.lfdi, issued.sfdi, kind=DeviceKind.AGGREGATOR))
    device = pki.issue_device("SN-plain", now=now)
    device.write(lab.root / "plain")
    enrol.append(Device(device.lfdi, device.sfdi))

    async def setup() -> None:
        url = load_config(lab.home).database_url(lab.home)
        async with open_audit_log(lab.home, url, write=True) as log:
            fleet = FleetService(log.db, log)
            for d in enrol:
                await fleet.enrol(d, actor="test")

    asyncio.run(setup())
    server = Server(lab.home, env={"DERLINK_ANOMALY_MAX_FAILED_AUTH": "3"}).start()
    try:
        yield Head(server, aggregators, lab.root / "plain", lab.root)
    finally:
        server.stop()


@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.name.lower())
def test_sep2(head: Head, role: Role) -> None:
    client = Sep2Client(head.server, head.aggregators[role])
    try:
        read_ok = RT in EXPECTED[role]
        client.get("/dcap", expect=200 if read_ok else 403)
        pki = Pki.open(head.server.home.pki_dir, passphrase=None)
        new = pki.issue_device(f"SN-by-{role.name.lower()}", now=datetime.now(UTC))
        body = EndDevice(lFDI=bytes.fromhex(new.lfdi), sFDI=new.sfdi, changedTime=0)
        refused = client.send("POST", "/edev", body, expect=201 if REP in EXPECTED[role] else 403)
        if REP not in EXPECTED[role]:
            assert "lacks the right REPORTING" in refused.headers["x-derlink-error"]
    finally:
        client.close()


def test_sep2_devices_keep_their_own_rules(head: Head) -> None:
    client = Sep2Client(head.server, head.device)
    try:
        client.get("/dcap", expect=200)  # a device certificate carries no roles
    finally:
        client.close()


def test_sep2_failed_authentications_raise_a_security_event(
    head: Head, lab: Lab, capsys: pytest.CaptureFixture[str]
) -> None:
    client = Sep2Client(head.server, lab.certs[Role.SECADM])  # an operator is no 2030.5 client
    try:
        for _ in range(4):
            client.get("/dcap", expect=403)
    finally:
        client.close()
    records = [
        json.loads(line) for line in Cli(lab.home, capsys).ok("audit", "export").out.splitlines()
    ]
    alarms = [r for r in records if r["event_id"] == "Anomaly:FailedAuth.1"]
    assert len(alarms) == 1 and alarms[0]["severity"] == "alarm"
    assert (
        alarms[0]["target"] == "peer:127.0.0.1"
        and alarms[0]["details"]["exceeded"][0]["count"] == 4
    )


def test_every_cli_command_is_in_the_permission_table() -> None:
    import click

    from derlink.cli.main import cli
    from derlink.cli.permissions import COMMAND_PERMISSIONS, STRICTEST, needs

    ctx = click.Context(cli)
    leaves: list[str] = []

    def walk(command: click.Command, path: list[str]) -> None:
        if isinstance(command, click.Group):
            for name in command.list_commands(ctx):
                sub = command.get_command(ctx, name)
                assert sub is not None
                walk(sub, [*path, name])
        else:
            leaves.append(" ".join(path))

    walk(cli, [])
    assert not [k for k in COMMAND_PERMISSIONS if k not in leaves]  # no stale entries
    assert not [k for k in leaves if k not in COMMAND_PERMISSIONS]  # every command decided
    # a command not in the table yet fails closed: only the administrator may run it
    assert needs("xmpp frobnicate") == STRICTEST and needs("xmpp list") == (P.VIEW,)
