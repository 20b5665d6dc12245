"""Curves, pricing, demand response, messaging and files over real mutual TLS, as devices of
the targeted group (and of another) see them; every body validated against the XSD."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

import pytest

from derlink.control.publications import PublicationService
from derlink.control.service import new_mrid
from derlink.domain import (
    ControlBase,
    Curve,
    CurveKind,
    DemandProgram,
    Firmware,
    LoadControl,
    LoadModes,
    Message,
    MessagePriority,
    MessageProgram,
    PriceBlock,
    Program,
    RateComponent,
    Tariff,
    TariffInterval,
)
from derlink.sep2.xml import (
    ConsumptionTariffInterval,
    ConsumptionTariffIntervalList,
    DefaultDERControl,
    DemandResponseProgramList,
    DERControlList,
    DERCurve,
    DERCurveList,
    DERProgram,
    DeviceCapability,
    DrResponse,
    EndDevice,
    EndDeviceControl,
    EndDeviceControlList,
    File,
    FileList,
    FileStatus,
    FunctionSetAssignments,
    Link,
    MessagingProgramList,
    PriceResponse,
    RateComponentList,
    ReadingType,
    Sep2Object,
    TariffProfile,
    TariffProfileList,
    TextMessageList,
    TextResponse,
    TimeTariffIntervalList,
)
from derlink.sep2.xml import RateComponent as XmlRateComponent
from support.sep2 import Sep2Client, derlink

from .conftest import Deployment

CONTENT = os.urandom(150_000)
Clients = Callable[[str], Sep2Client]
F1 = frozenset({"feeder-1"})


@dataclass
class Published:
    control: str
    interval: str
    load: str
    message: str


def _timing(program: str, **more: Any) -> dict[str, Any]:
    now = int(time.time())
    return {
        "mrid": new_mrid(),
        "program": program,
        "start": now - 60,
        "duration": 3600,
        "created": now,
        **more,
    }


@pytest.fixture(scope="module")
def published(deployment: Deployment) -> Published:
    """What the operator publishes to feeder-1 (and a tariff to feeder-2)."""

    async def setup(fleet: Any) -> Published:
        p = PublicationService(fleet.db, fleet.audit)
        await p.add_program(Program("pc", 5, F1), actor="test")
        for curve_id, kind, points in (
            ("vv1", CurveKind.OPMOD_VOLT_VAR, ((0.92, 30.0), (1.08, -30.0))),
            ("vw1", CurveKind.OPMOD_VOLT_WATT, ((106.0, 100.0), (110.0, 0.0))),
        ):
            await p.add_curve("pc", Curve(curve_id, kind, points), actor="test")
        control = await p.create_control(
            ControlBase(volt_var_curve="vv1"),
            actor="test",
            start=int(time.time()),
            duration=3600,
            program="pc",
        )
        await p.set_default("pc", ControlBase(volt_watt_curve="vw1"), actor="test")
        tariff = Tariff(
            id="tou",
            groups=F1,
            primacy=1,
            currency=36,
            price_exponent=-4,
            rate_code="TOU-1",
            components=(RateComponent("imp"),),
        )
        await p.publish(tariff, actor="test")
        await p.publish(Tariff(id="tou2", groups=frozenset({"feeder-2"}), primacy=1), actor="t")
        blocks = (PriceBlock(0, 2500), PriceBlock(1000, 3100))
        interval = await p.schedule(
            TariffInterval(**_timing("tou"), component="imp", blocks=blocks, tou_tier=1),
            actor="test",
        )
        await p.publish(DemandProgram(id="dr1", groups=F1, primacy=2), actor="test")
        modes = LoadModes(
            duty_cycle_pct=50,
            cooling_offset_c=2.5,
            heating_setpoint_c=19.5,
            target_reduction=3,
            appliance_reduction=0,
        )
        load = await p.schedule(
            LoadControl(**_timing("dr1", randomize_start=120), device_category=0x18, modes=modes),
            actor="test",
        )
        await p.publish(
            MessageProgram(id="msg1", groups=F1, primacy=3, locale="en-AU"), actor="test"
        )
        message = await p.schedule(
            Message(
                **_timing("msg1"),
                text="Héllo, feeder 1",
                priority=MessagePriority.HIGH,
                originator="DNO",
            ),
            actor="test",
        )
        firmware = Firmware(
            id="fw-1",
            groups=F1,
            model="INV",
            version="1.2.3",
            size=len(CONTENT),
            sha256=hashlib.sha256(CONTENT).hexdigest(),
            manufacturer=40732,
            activate_time=int(time.time()) + 3600,
        )
        await p.publish(firmware, actor="test", content=CONTENT)
        return Published(control.mrid, interval.mrid, load.mrid, message.mrid)

    made = deployment.fleet(setup)
    assert isinstance(made, Published)
    return made


@pytest.fixture(scope="module")
def client(deployment: Deployment) -> Iterator[Callable[[str], Sep2Client]]:
    """One client per certificate, closed at the end (so the server stops at once)."""
    made: dict[str, Sep2Client] = {}

    def get(name: str) -> Sep2Client:
        if name not in made:
            made[name] = deployment.client(name)
        return made[name]

    yield get
    for c in made.values():
        c.close()


def obj(client: Sep2Client, href: str, kind: type[Sep2Object]) -> Any:
    found = client.obj(href)
    assert isinstance(found, kind), (href, found)
    return found


def follow(client: Sep2Client, link: Link | None, kind: type[Sep2Object], query: str = "") -> Any:
    assert link is not None
    return obj(client, link.href + query, kind)


def fsa_of(deployment: Deployment, c: Sep2Client, name: str) -> FunctionSetAssignments:
    return obj(c, f"/edev/{deployment.sfdi(name)}/fsa/feeder-1", FunctionSetAssignments)


def test_controls_link_the_curves_of_their_program(
    deployment: Deployment, published: Published, client: Clients
) -> None:
    c = client("dev1")
    program = obj(c, "/derp/pc", DERProgram)
    curves = follow(c, program.DERCurveListLink, DERCurveList, "?l=10")
    assert program.DERCurveListLink.all == curves.all == 2
    vv = next(x for x in curves.DERCurve if x.href == "/derp/pc/dc/vv1")
    assert [(p.xvalue, p.yvalue) for p in vv.CurveData] == [(92, 30), (108, -30)]
    assert (vv.xMultiplier, vv.yMultiplier, vv.curveType, vv.yRefType) == (-2, 0, 11, 2)
    controls = follow(c, program.DERControlListLink, DERControlList, "?l=10")
    mine = next(x for x in controls.DERControl if x.mRID.hex().upper() == published.control)
    assert follow(c, mine.DERControlBase.opModVoltVar, DERCurve).mRID == vv.mRID
    default = follow(c, program.DefaultDERControlLink, DefaultDERControl)
    assert follow(c, default.DERControlBase.opModVoltWatt, DERCurve).curveType == 12


def test_discovery_links_every_published_list(
    deployment: Deployment, published: Published, client: Clients
) -> None:
    c = client("dev1")
    dcap = obj(c, "/dcap", DeviceCapability)
    fsa = fsa_of(deployment, c, "dev1")
    for holder in (dcap, fsa):
        for name in ("TariffProfile", "DemandResponseProgram", "MessagingProgram", "File"):
            link = getattr(holder, f"{name}ListLink")
            assert link is not None and link.all == 1, (holder.href, name)
    assert fsa.TariffProfileListLink.href == f"/edev/{deployment.sfdi('dev1')}/fsa/feeder-1/tp"
    me = obj(c, f"/edev/{deployment.sfdi('dev1')}", EndDevice)
    assert me.FileStatusLink is not None
    other = obj(client("dev2"), "/tp?l=10", TariffProfileList)
    assert [t.href for t in other.TariffProfile] == ["/tp/tou2"]


def test_a_device_reads_its_tariff_and_answers(
    deployment: Deployment, published: Published, client: Clients
) -> None:
    c = client("dev1")
    profiles = follow(c, fsa_of(deployment, c, "dev1").TariffProfileListLink, TariffProfileList)
    tariff = profiles.TariffProfile[0]
    assert (tariff.currency, tariff.pricePowerOfTenMultiplier, tariff.rateCode) == (36, -4, "TOU-1")
    assert obj(c, tariff.href, TariffProfile) == tariff
    rc = follow(c, tariff.RateComponentListLink, RateComponentList).RateComponent[0]
    assert obj(c, rc.href, XmlRateComponent) == rc and rc.roleFlags == b"\x00\x02"
    reading = follow(c, rc.ReadingTypeLink, ReadingType)
    assert (reading.uom, reading.powerOfTenMultiplier, reading.flowDirection) == (72, 3, 1)
    active = follow(c, rc.ActiveTimeTariffIntervalListLink, TimeTariffIntervalList, "?l=5")
    assert active.all == rc.ActiveTimeTariffIntervalListLink.all == 1
    interval = active.TimeTariffInterval[0]
    assert interval.mRID.hex().upper() == published.interval and interval.touTier == 1
    assert interval.EventStatus.currentStatus == 1
    follow(c, rc.TimeTariffIntervalListLink, TimeTariffIntervalList)
    blocks = follow(
        c, interval.ConsumptionTariffIntervalListLink, ConsumptionTariffIntervalList, "?l=5"
    )
    assert [(b.startValue, b.price) for b in blocks.ConsumptionTariffInterval] == [
        (0, 2500),
        (1000, 3100),
    ]
    assert obj(c, blocks.ConsumptionTariffInterval[1].href, ConsumptionTariffInterval).price == 3100
    answer = PriceResponse(
        endDeviceLFDI=bytes.fromhex(deployment.lfdi("dev1")), status=1, subject=interval.mRID
    )
    assert interval.replyTo is not None
    c.send("POST", interval.replyTo, answer, expect=201)
    client("dev2").send("POST", interval.replyTo, answer, expect=403)


def test_load_controls_reach_the_group_and_its_aggregator(
    deployment: Deployment, published: Published, client: Clients
) -> None:
    agg = client("agg")
    programs = obj(agg, "/dr?l=5", DemandResponseProgramList)
    assert [p.href for p in programs.DemandResponseProgram] == ["/dr/dr1"]
    c = client("dev1")
    program = follow(
        c, fsa_of(deployment, c, "dev1").DemandResponseProgramListLink, DemandResponseProgramList
    ).DemandResponseProgram[0]
    controls = follow(c, program.EndDeviceControlListLink, EndDeviceControlList)
    edc = controls.EndDeviceControl[0]
    assert obj(c, edc.href, EndDeviceControl) == edc
    assert edc.deviceCategory == b"\x00\x00\x00\x18" and edc.randomizeStart == 120
    assert edc.DutyCycle is not None and edc.DutyCycle.normalValue == 50
    assert edc.Offset is not None and edc.Offset.coolingOffset == 25
    assert edc.SetPoint is not None and edc.SetPoint.heatingSetpoint == 1950
    assert edc.TargetReduction is not None and edc.TargetReduction.value == 3
    assert edc.EventStatus.currentStatus == 1
    follow(c, program.ActiveEndDeviceControlListLink, EndDeviceControlList)
    answer = DrResponse(
        endDeviceLFDI=bytes.fromhex(deployment.lfdi("aggdev1")), status=2, subject=edc.mRID
    )
    assert edc.replyTo is not None
    agg.send("POST", edc.replyTo, answer, expect=201)
    c.send("POST", edc.replyTo, answer, expect=403)


def test_text_messages_and_their_acknowledgement(
    deployment: Deployment, published: Published, client: Clients
) -> None:
    c = client("dev1")
    program = follow(
        c, fsa_of(deployment, c, "dev1").MessagingProgramListLink, MessagingProgramList
    ).MessagingProgram[0]
    assert program.locale == "en-AU"
    messages = follow(c, program.ActiveTextMessageListLink, TextMessageList)
    text = messages.TextMessage[0]
    assert (text.textMessage, text.priority, text.originator) == ("Héllo, feeder 1", 2, "DNO")
    assert text.mRID.hex().upper() == published.message
    follow(c, program.TextMessageListLink, TextMessageList)
    lfdi = bytes.fromhex(deployment.lfdi("dev1"))
    assert text.replyTo is not None
    c.send(
        "POST",
        text.replyTo,
        TextResponse(endDeviceLFDI=lfdi, status=11, subject=text.mRID),
        expect=201,
    )
    unknown = TextResponse(endDeviceLFDI=lfdi, status=11, subject=bytes(16))
    c.send("POST", text.replyTo, unknown, expect=400)
    bad_status = TextResponse(endDeviceLFDI=lfdi, status=99, subject=text.mRID)
    c.send("POST", text.replyTo, bad_status, expect=400)


def test_firmware_download_and_file_status(
    deployment: Deployment, published: Published, client: Clients
) -> None:
    c = client("dev1")
    files = follow(c, fsa_of(deployment, c, "dev1").FileListLink, FileList)
    item = files.File[0]
    assert obj(c, item.href, File) == item
    assert (item.mfModel, item.mfVer, item.mfID, item.size, item.type) == (
        "INV",
        "1.2.3",
        40732,
        len(CONTENT),
        b"\x00\x00",
    )
    whole = c.http.get(item.fileURI)
    assert whole.status_code == 200 and whole.content == CONTENT
    assert whole.headers["content-type"] == "application/octet-stream"
    assert whole.headers["content-length"] == str(len(CONTENT))
    part = c.http.get(item.fileURI, headers={"range": "bytes=100000-"})
    assert part.status_code == 206 and part.content == CONTENT[100000:]
    assert part.headers["content-range"] == f"bytes 100000-{len(CONTENT) - 1}/{len(CONTENT)}"
    assert c.http.get(item.fileURI, headers={"range": "bytes=9-1"}).status_code == 416
    assert client("dev2").http.get(item.fileURI).status_code == 403
    status_href = obj(c, f"/edev/{deployment.sfdi('dev1')}", EndDevice).FileStatusLink.href
    c.get(status_href, expect=404)
    sent = FileStatus(
        activateTime=item.activateTime,
        FileLink=Link(href=item.href),
        loadPercent=100,
        nextRequestAttempt=1234567890,
        request503Count=0,
        requestFailCount=1,
        status=5,
        statusTime=1234567000,
    )
    c.send("PUT", status_href, sent, expect=204)
    assert obj(c, status_href, FileStatus) == replace(sent, href=status_href)
    client("dev2").send("PUT", status_href, sent, expect=403)


def test_another_groups_device_is_refused_everything(
    deployment: Deployment, published: Published, client: Clients
) -> None:
    tti = f"/tp/tou/rc/imp/tti/{published.interval}"
    hrefs = [
        "/derp/pc/dc",
        "/derp/pc/dc/vv1",
        "/tp/tou",
        "/tp/tou/rc",
        "/tp/tou/rc/imp",
        "/tp/tou/rc/imp/rt",
        "/tp/tou/rc/imp/tti",
        "/tp/tou/rc/imp/acttti",
        tti,
        f"{tti}/cti",
        f"{tti}/cti/1",
        "/dr/dr1",
        "/dr/dr1/edc",
        "/dr/dr1/actedc",
        f"/dr/dr1/edc/{published.load}",
        "/msg/msg1",
        "/msg/msg1/txt",
        "/msg/msg1/acttxt",
        f"/msg/msg1/txt/{published.message}",
        "/file/fw-1",
        "/file/fw-1/content",
        f"/edev/{deployment.sfdi('dev1')}/fsa/feeder-1/tp",
    ]
    other = client("dev2")
    for href in hrefs:
        other.get(href, expect=403)
    mine = client("dev1")
    for href in ("/tp/nope", "/dr/dr1/edc/" + "0" * 32, f"{tti}/cti/3", "/file/none"):
        mine.get(href, expect=404)


def test_a_disabled_resource_is_gone_until_enabled(
    deployment: Deployment, published: Published, client: Clients
) -> None:
    c = client("dev1")
    fsa_list = f"/edev/{deployment.sfdi('dev1')}/fsa/feeder-1/msg"
    derlink(deployment.home, "resource", "disable", "MessagingProgramList")
    try:
        _eventually(lambda: c.http.get("/msg").status_code == 404)
        c.get(fsa_list, expect=404)
        assert obj(c, "/dcap", DeviceCapability).MessagingProgramListLink is None
        fsa = fsa_of(deployment, c, "dev1")
        assert fsa.MessagingProgramListLink is None and fsa.TariffProfileListLink is not None
        obj(c, "/msg/msg1", Sep2Object)  # only the list is disabled
    finally:
        derlink(deployment.home, "resource", "enable", "MessagingProgramList")
    _eventually(lambda: c.http.get("/msg").status_code == 200)
    assert obj(c, "/dcap", DeviceCapability).MessagingProgramListLink is not None


def _eventually(check: Any, seconds: float = 6.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "the head-end did not see the change in time"
        time.sleep(0.2)
