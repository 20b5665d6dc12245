"""The head-end as 2030.5 clients see it, over real mutual TLS; every body XSD-validated."""

from __future__ import annotations

import ssl
from dataclasses import replace

import httpx
import pytest

from derlink.domain import ControlBase, Priority
from derlink.sep2.transport import client_context
from derlink.sep2.xml import (
    DERCapability,
    DERControlList,
    DERControlResponse,
    DERProgramList,
    DERStatus,
    DeviceCapability,
    EndDeviceList,
    FunctionSetAssignmentsList,
    Registration,
    Time,
    decode,
)

from .conftest import Deployment


def test_tls_is_2030_5(deployment: Deployment) -> None:
    ctx = client_context(
        certfile=deployment.certs["dev1"].with_suffix(".pem"),
        keyfile=deployment.certs["dev1"].with_suffix(".key"),
        cafile=deployment.home.pki_dir / "ca-bundle.pem",
    )
    ctx.check_hostname = False
    import socket

    with (
        socket.create_connection(("127.0.0.1", deployment.server.port)) as raw,
        ctx.wrap_socket(raw) as tls,
    ):
        assert tls.version() == "TLSv1.2"
        assert tls.cipher()[0] == "ECDHE-ECDSA-AES128-CCM8"


@pytest.mark.parametrize("how", ["no-certificate", "gcm-only"])
def test_tls_refuses_other_clients(deployment: Deployment, how: str) -> None:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.load_verify_locations(cafile=str(deployment.home.pki_dir / "ca-bundle.pem"))
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    if how == "gcm-only":
        ctx.set_ciphers("ECDHE-ECDSA-AES128-GCM-SHA256")
        prefix = deployment.certs["dev1"]
        ctx.load_cert_chain(prefix.with_suffix(".pem"), prefix.with_suffix(".key"))
    else:
        ctx.set_ciphers("ECDHE-ECDSA-AES128-CCM8")
    with (
        httpx.Client(base_url=deployment.server.url, verify=ctx) as http,
        pytest.raises(httpx.HTTPError),
    ):
        http.get("/dcap")


def test_discovery_time_and_own_end_device(deployment: Deployment) -> None:
    c = deployment.client("dev1")
    dcap = c.obj("/dcap")
    assert isinstance(dcap, DeviceCapability) and dcap.EndDeviceListLink is not None
    assert dcap.EndDeviceListLink.all == 1
    tm = c.obj(dcap.TimeLink.href if dcap.TimeLink else "")
    assert isinstance(tm, Time) and tm.currentTime > 1_700_000_000
    edevs = c.obj(dcap.EndDeviceListLink.href)
    assert isinstance(edevs, EndDeviceList) and edevs.all == 1
    me = edevs.EndDevice[0]
    assert me.lFDI is not None and me.lFDI.hex().upper() == deployment.lfdi("dev1")
    assert me.sFDI == deployment.sfdi("dev1")
    reg = c.obj(me.RegistrationLink.href if me.RegistrationLink else "")
    assert isinstance(reg, Registration) and reg.pIN == 123455


def test_aggregator_sees_its_end_devices_only(deployment: Deployment) -> None:
    c = deployment.client("agg")
    edevs = c.obj("/edev?l=10")
    assert isinstance(edevs, EndDeviceList)
    seen = {e.sFDI for e in edevs.EndDevice}
    assert seen == {deployment.sfdi(n) for n in ("agg", "aggdev1", "aggdev2")}
    paged = c.obj("/edev?s=1&l=1")
    assert isinstance(paged, EndDeviceList) and paged.all == 3 and paged.results == 1
    c.get(f"/edev/{deployment.sfdi('dev1')}", expect=403)


@pytest.mark.parametrize(("who", "expect"), [("stranger", 403), ("revoked", 403), ("blocked", 403)])
def test_unknown_revoked_and_blocked_clients_get_nothing(
    deployment: Deployment, who: str, expect: int
) -> None:
    c = deployment.client(who)
    for href in ("/dcap", "/edev", f"/edev/{deployment.sfdi(who)}", "/tm"):
        c.get(href, expect=expect)


def test_device_cannot_reach_another_device(deployment: Deployment) -> None:
    c = deployment.client("dev1")
    other = deployment.sfdi("dev2")
    for href in (f"/edev/{other}", f"/edev/{other}/fsa", f"/edev/{other}/der/1/ders"):
        c.get(href, expect=403)


def test_control_reaches_the_feeder_and_responses_are_kept(deployment: Deployment) -> None:
    async def dispatch(f: object) -> object:
        return await f.create_control(  # type: ignore[attr-defined]
            ControlBase(export_limit_w=5000, max_limit_pct=80.0),
            actor="test",
            start=int(__import__("time").time()),
            duration=3600,
            group="feeder-1",
            priority=Priority.RED,
        )

    control = deployment.fleet(dispatch)
    c = deployment.client("dev1")
    sfdi = deployment.sfdi("dev1")
    fsas = c.obj(f"/edev/{sfdi}/fsa?l=10")
    assert isinstance(fsas, FunctionSetAssignmentsList) and fsas.all == 1
    fsa = fsas.FunctionSetAssignments[0]
    assert fsa.DERProgramListLink is not None
    programs = c.obj(f"{fsa.DERProgramListLink.href}?l=10")
    assert isinstance(programs, DERProgramList)
    program = next(p for p in programs.DERProgram if p.primacy == Priority.RED.primacy)
    assert program.DERControlListLink is not None
    controls = c.obj(f"{program.DERControlListLink.href}?l=50")
    assert isinstance(controls, DERControlList)
    mine = next(x for x in controls.DERControl if x.mRID.hex().upper() == control.mrid)  # type: ignore[attr-defined]
    base = mine.DERControlBase
    assert (
        base.opModExpLimW is not None
        and base.opModExpLimW.value * 10**base.opModExpLimW.multiplier == 5000
    )
    assert base.opModMaxLimW == 8000
    assert mine.EventStatus.currentStatus == 1
    assert mine.replyTo is not None
    response = DERControlResponse(
        createdDateTime=mine.creationTime,
        endDeviceLFDI=bytes.fromhex(deployment.lfdi("dev1")),
        status=1,
        subject=mine.mRID,
    )
    c.send("POST", mine.replyTo, response, expect=201)
    c.send("POST", mine.replyTo, replace(response, status=2), expect=201)
    # the other feeder's device does not see it, and may not answer for dev1
    other = deployment.client("dev2")
    other.get(program.DERControlListLink.href, expect=403)
    other.send("POST", mine.replyTo, response, expect=403)

    async def summary(f: object) -> object:
        return await f.response_summary(control.mrid)  # type: ignore[attr-defined]

    assert deployment.fleet(summary) == {1: 1, 2: 1}


def test_der_reports_are_kept_exactly_as_sent(deployment: Deployment) -> None:
    c = deployment.client("dev1")
    base = f"/edev/{deployment.sfdi('dev1')}/der/1"
    c.get(f"{base}/ders", expect=404)
    status = decode(
        b'<DERStatus xmlns="urn:ieee:std:2030.5:ns"><readingTime>1234567890</readingTime>'
        b"<stateOfChargeStatus><dateTime>1234567000</dateTime><value>5500</value>"
        b"</stateOfChargeStatus></DERStatus>",
        DERStatus,
    )
    c.send("PUT", f"{base}/ders", status, expect=204)
    back = c.obj(f"{base}/ders")
    assert isinstance(back, DERStatus) and back.readingTime == 1234567890
    assert back.stateOfChargeStatus is not None and back.stateOfChargeStatus.dateTime == 1234567000
    cap = decode(
        b'<DERCapability xmlns="urn:ieee:std:2030.5:ns" xmlns:csipaus="https://csipaus.org/ns">'
        b"<modesSupported>00500088</modesSupported><rtgMaxW><multiplier>3</multiplier>"
        b"<value>5</value></rtgMaxW><type>4</type>"
        b"<csipaus:doeModesSupported>03</csipaus:doeModesSupported></DERCapability>",
        DERCapability,
    )
    c.send("PUT", f"{base}/dercap", cap, expect=204)
    got = c.obj(f"{base}/dercap")
    assert isinstance(got, DERCapability) and got.rtgMaxW.value == 5


def test_connection_point_is_the_sites_and_can_be_locked(deployment: Deployment) -> None:
    from derlink.sep2.xml import ConnectionPoint

    dev1 = deployment.client("dev1")
    cp = dev1.obj(f"/edev/{deployment.sfdi('dev1')}/cp")
    assert isinstance(cp, ConnectionPoint) and cp.connectionPointId == "NMI0000001"
    dev1.send(
        "PUT",
        f"/edev/{deployment.sfdi('dev1')}/cp",
        ConnectionPoint(connectionPointId="NMI0000009"),
        expect=204,
    )
    again = dev1.obj(f"/edev/{deployment.sfdi('dev1')}/cp")
    assert isinstance(again, ConnectionPoint) and again.connectionPointId == "NMI0000009"
    agg = deployment.client("agg")
    agg.send(
        "PUT",
        f"/edev/{deployment.sfdi('aggdev1')}/cp",
        ConnectionPoint(connectionPointId="NMI7"),
        expect=403,
    )
