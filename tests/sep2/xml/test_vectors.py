"""Test vectors: exact bytes derlink writes, and documents as other parties write them.

Decode vectors come from deployed practice: 2013-era namespace, other prefixes, CSIP-AUS v1.2,
pretty-printed bodies with declarations and comments, and documents written by envoy-schema
(BSGIP's CSIP-AUS head-end models), captured as literals so the tests do not need it installed.
"""

from __future__ import annotations

import pytest

from derlink.sep2.xml import (
    CSIPAUS_V12,
    NS,
    NS_2013,
    ActivePower,
    ConnectionPoint,
    DateTimeInterval,
    DERCapability,
    DERControl,
    DERControlBase,
    DERControlList,
    DERControlResponse,
    DERStatus,
    DeviceCapability,
    EndDevice,
    EndDeviceList,
    EventStatus,
    Link,
    ListLink,
    MirrorMeterReading,
    MirrorMeterReadingList,
    Notification,
    Reading,
    Resource,
    Response,
    ResponseList,
    Sep2Object,
    TariffProfile,
    Time,
    TimeTariffIntervalList,
    decode,
    encode,
)
from support.xsd import validate

LFDI = bytes.fromhex("3E4F45AB31EDFE5B67E343E5E4562E31984E23E5")
MRID = bytes.fromhex("B1A2C3D4E5F60718293A4B5C6D7E8F90")

DCAP = DeviceCapability(
    href="/dcap",
    pollRate=900,
    TimeLink=Link(href="/tm"),
    EndDeviceListLink=ListLink(href="/edev", all=1),
    MirrorUsagePointListLink=ListLink(href="/mup", all=0),
    SelfDeviceLink=Link(href="/sdev"),
)
EDEV = EndDevice(
    href="/edev/1",
    subscribable=0,
    DERListLink=ListLink(href="/edev/1/der", all=1),
    DeviceInformationLink=Link(href="/edev/1/di"),
    lFDI=LFDI,
    sFDI=167261211391,
    changedTime=1700000000,
    enabled=True,
    FunctionSetAssignmentsListLink=ListLink(href="/edev/1/fsa", all=1),
    RegistrationLink=Link(href="/edev/1/rg"),
)
DERC = DERControl(
    href="/derp/1/derc/1",
    replyTo="/rsp",
    responseRequired=b"\x03",
    mRID=MRID,
    description="export limit",
    creationTime=1700000000,
    EventStatus=EventStatus(currentStatus=0, dateTime=1700000000, potentiallySuperseded=False),
    interval=DateTimeInterval(duration=300, start=1700000300),
    DERControlBase=DERControlBase(
        opModConnect=True, opModMaxLimW=8000, opModExpLimW=ActivePower(multiplier=0, value=5000)
    ),
)

# --- what derlink writes -------------------------------------------------------------------


def test_device_capability_bytes() -> None:
    assert encode(DCAP) == (
        b'<DeviceCapability xmlns="urn:ieee:std:2030.5:ns" href="/dcap" pollRate="900">'
        b'<TimeLink href="/tm"/><EndDeviceListLink href="/edev" all="1"/>'
        b'<MirrorUsagePointListLink href="/mup" all="0"/><SelfDeviceLink href="/sdev"/>'
        b"</DeviceCapability>"
    )


def test_der_control_bytes_declare_csipaus_on_the_root() -> None:
    body = (
        b' href="/derp/1/derc/1" replyTo="/rsp" responseRequired="03">'
        b"<mRID>B1A2C3D4E5F60718293A4B5C6D7E8F90</mRID><description>export limit</description>"
        b"<creationTime>1700000000</creationTime><EventStatus><currentStatus>0</currentStatus>"
        b"<dateTime>1700000000</dateTime><potentiallySuperseded>false</potentiallySuperseded>"
        b"</EventStatus><interval><duration>300</duration><start>1700000300</start></interval>"
        b"<DERControlBase><opModConnect>true</opModConnect><opModMaxLimW>8000</opModMaxLimW>"
        b"<csipaus:opModExpLimW><multiplier>0</multiplier><value>5000</value>"
        b"</csipaus:opModExpLimW></DERControlBase></DERControl>"
    )
    root = b'<DERControl xmlns="urn:ieee:std:2030.5:ns" xmlns:csipaus="https://csipaus.org/ns'
    assert encode(DERC) == root + b'/v1.3"' + body
    assert encode(DERC, csipaus_ns=CSIPAUS_V12) == root + b'"' + body


def test_csipaus_is_declared_only_when_used() -> None:
    plain = DERControlBase(opModConnect=False)
    assert encode(plain) == (
        b'<DERControlBase xmlns="urn:ieee:std:2030.5:ns"><opModConnect>false</opModConnect>'
        b"</DERControlBase>"
    )
    assert encode(EndDevice(sFDI=1, changedTime=0, ConnectionPointLink=Link(href="/cp"))).endswith(
        b'<csipaus:ConnectionPointLink href="/cp"/></EndDevice>'
    )


def test_csipaus_root_element() -> None:
    data = encode(ConnectionPoint(href="/edev/1/cp", connectionPointId="4102345678"))
    assert data == (
        b'<csipaus:ConnectionPoint xmlns="urn:ieee:std:2030.5:ns" '
        b'xmlns:csipaus="https://csipaus.org/ns/v1.3" href="/edev/1/cp">'
        b"<csipaus:connectionPointId>4102345678</csipaus:connectionPointId>"
        b"</csipaus:ConnectionPoint>"
    )
    validate(data)


def test_empty_list_and_escaping() -> None:
    assert encode(DERControlList(href="/a?b=1&c=2", all=0, results=0)) == (
        b'<DERControlList xmlns="urn:ieee:std:2030.5:ns" href="/a?b=1&amp;c=2" all="0" '
        b'results="0"/>'
    )
    control = DERControl(
        mRID=MRID,
        description='<&>"\r\n\t',
        creationTime=0,
        EventStatus=EventStatus(currentStatus=1, dateTime=0, potentiallySuperseded=True),
        interval=DateTimeInterval(duration=1, start=0),
        DERControlBase=DERControlBase(),
    )
    data = encode(control)
    assert b'<description>&lt;&amp;&gt;"&#13;\n\t</description>' in data
    assert b"<DERControlBase/>" in data
    assert decode(data, DERControl) == control


def test_notification_resource_carries_xsi_type() -> None:
    notification = Notification(
        href="/ntfy/1",
        subscribedResource="/derp/1/derc",
        Resource=DERC,
        status=0,
        subscriptionURI="/edev/1/sub/1",
    )
    data = encode(notification)
    assert (
        b'<Resource xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="DERControl" '
        b'href="/derp/1/derc/1"'
    ) in data
    validate(data)
    assert decode(data, Notification).Resource == DERC


def test_unknown_csipaus_namespace_is_refused() -> None:
    with pytest.raises(ValueError, match="csipaus_ns must be one of"):
        encode(DERC, csipaus_ns="https://csipaus.org/ns/v9")


# --- documents as deployed clients and servers write them -------------------------------------

RESEARCH_DCAP = b"""<DeviceCapability xmlns="urn:ieee:std:2030.5:ns" href="/dcap" pollRate="900">
  <TimeLink href="/tm"/>
  <EndDeviceListLink href="/edev" all="1"/>
  <MirrorUsagePointListLink href="/mup" all="0"/>
  <SelfDeviceLink href="/sdev"/>
</DeviceCapability>"""

RESEARCH_EDEV = b"""<EndDevice xmlns="urn:ieee:std:2030.5:ns" href="/edev/1" subscribable="0">
  <DERListLink href="/edev/1/der" all="1"/>
  <DeviceInformationLink href="/edev/1/di"/>
  <lFDI>3E4F45AB31EDFE5B67E343E5E4562E31984E23E5</lFDI>
  <sFDI>167261211391</sFDI>
  <changedTime>1700000000</changedTime>
  <enabled>true</enabled>
  <FunctionSetAssignmentsListLink href="/edev/1/fsa" all="1"/>
  <RegistrationLink href="/edev/1/rg"/>
</EndDevice>"""

RESEARCH_DERC_V12 = b"""<DERControl xmlns="urn:ieee:std:2030.5:ns" xmlns:csipaus="https://csipaus.org/ns"
    href="/derp/1/derc/1" replyTo="/rsp" responseRequired="03">
  <mRID>B1A2C3D4E5F60718293A4B5C6D7E8F90</mRID>
  <description>export limit</description>
  <creationTime>1700000000</creationTime>
  <EventStatus><currentStatus>0</currentStatus><dateTime>1700000000</dateTime>
    <potentiallySuperseded>false</potentiallySuperseded></EventStatus>
  <interval><duration>300</duration><start>1700000300</start></interval>
  <DERControlBase>
    <opModConnect>true</opModConnect>
    <opModMaxLimW>8000</opModMaxLimW>
    <csipaus:opModExpLimW><multiplier>0</multiplier><value>5000</value></csipaus:opModExpLimW>
  </DERControlBase>
</DERControl>"""

RESEARCH_DERCAP_DOE = b"""<DERCapability xmlns="urn:ieee:std:2030.5:ns"
    xmlns:csipaus="https://csipaus.org/ns" href="/edev/1/der/1/dercap">
  <modesSupported>00500088</modesSupported>
  <rtgMaxW><multiplier>0</multiplier><value>10000</value></rtgMaxW>
  <type>4</type>
  <csipaus:doeModesSupported>03</csipaus:doeModesSupported>
</DERCapability>"""

DERCAP = DERCapability(
    href="/edev/1/der/1/dercap",
    modesSupported=bytes.fromhex("00500088"),
    rtgMaxW=ActivePower(multiplier=0, value=10000),
    type=4,
    doeModesSupported=b"\x03",
)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (RESEARCH_DCAP, DCAP),
        (RESEARCH_EDEV, EDEV),
        (RESEARCH_DERC_V12, DERC),
        (RESEARCH_DERCAP_DOE, DERCAP),
        (RESEARCH_EDEV.replace(NS.encode(), NS_2013.encode()), EDEV),
        (RESEARCH_DERC_V12.replace(NS.encode(), NS_2013.encode()), DERC),
        (b'<?xml version="1.0" encoding="UTF-8"?>\n' + RESEARCH_EDEV, EDEV),
        (b"\xef\xbb\xbf<?xml version='1.0' encoding='us-ascii'?>" + RESEARCH_DCAP, DCAP),
    ],
    ids=["dcap", "edev", "derc-v12", "dercap-doe", "edev-2013", "derc-2013", "decl", "bom"],
)
def test_deployed_documents_decode(data: bytes, expected: Sep2Object) -> None:
    assert decode(data, type(expected)) == expected


def test_any_prefixes() -> None:
    data = b"""<sep:EndDevice xmlns:sep="urn:ieee:std:2030.5:ns" href="/edev/1" subscribable="0">
      <sep:DERListLink href="/edev/1/der" all="1"/><sep:DeviceInformationLink href="/edev/1/di"/>
      <sep:lFDI>3e4f45ab31edfe5b67e343e5e4562e31984e23e5</sep:lFDI>
      <sep:sFDI> 167261211391 </sep:sFDI><sep:changedTime>1700000000</sep:changedTime>
      <sep:enabled>1</sep:enabled>
      <sep:FunctionSetAssignmentsListLink href="/edev/1/fsa" all="1"/>
      <sep:RegistrationLink href="/edev/1/rg"/></sep:EndDevice>"""
    assert decode(data, EndDevice) == EDEV
    mixed = RESEARCH_DERC_V12.replace(b"csipaus:", b"au:").replace(b"xmlns:csipaus", b"xmlns:au")
    mixed = mixed.replace(b'xmlns="urn:ieee:std:2030.5:ns"', b'xmlns:s="http://ieee.org/2030.5"')
    mixed = mixed.replace(b"<", b"<s:").replace(b"<s:/", b"</s:").replace(b"s:au:", b"au:")
    assert decode(mixed, DERControl) == DERC


def test_comments_processing_instructions_and_foreign_extensions_are_skipped() -> None:
    data = RESEARCH_DERC_V12.replace(
        b"<opModConnect>",
        b'<!-- set by operator --><?vendor x?><v:tuning xmlns:v="urn:vendor"><v:k>1</v:k>'
        b"</v:tuning><csipaus:futureThing>7</csipaus:futureThing><opModConnect>",
    )
    assert decode(data, DERControl) == DERC


def test_unknown_attributes_are_skipped() -> None:
    data = b'<EndDeviceList xmlns="urn:ieee:std:2030.5:ns" all="0" results="0" x="1" y:z="2" ' \
        b'xmlns:y="urn:y"/>'  # fmt: skip
    assert decode(data, EndDeviceList) == EndDeviceList(all=0, results=0)


def test_expected_root_may_be_a_base_or_a_tuple() -> None:
    response = DERControlResponse(endDeviceLFDI=LFDI, status=1, subject=MRID)
    data = encode(response)
    assert decode(data, Response) == response
    assert decode(data, (EndDevice, DERControlResponse)) == response
    assert decode(data) == response


def test_response_list_items_with_xsi_type() -> None:
    data = b"""<ResponseList xmlns="urn:ieee:std:2030.5:ns"
        xmlns:x="http://www.w3.org/2001/XMLSchema-instance" xmlns:s="urn:ieee:std:2030.5:ns"
        all="2" results="2">
      <Response x:type="s:DERControlResponse"><endDeviceLFDI>3E4F45AB31EDFE5B67E343E5E4562E31984E23E5</endDeviceLFDI>
        <status>2</status><subject>B1A2C3D4E5F60718293A4B5C6D7E8F90</subject></Response>
      <Response><endDeviceLFDI>3E4F45AB31EDFE5B67E343E5E4562E31984E23E5</endDeviceLFDI>
        <subject>B1A2C3D4E5F60718293A4B5C6D7E8F90</subject></Response>
    </ResponseList>"""  # noqa: E501
    first, second = decode(data, ResponseList).Response
    assert type(first) is DERControlResponse and first.status == 2
    assert type(second) is Response


# envoy-schema 2.7.0 (pydantic-xml) output, captured: it declares an unused xmlns:xsi, fills
# XSD defaults, and writes pollRate where sep.xsd has none.
ENVOY_EDEV_LIST = b'<EndDeviceList xmlns="urn:ieee:std:2030.5:ns" xmlns:csipaus="https://csipaus.org/ns/v1.3" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" href="/edev" all="1" results="1" pollRate="300"><EndDevice href="/edev/0" subscribable="0"><DERListLink href="/edev/0/der" all="1"/><DeviceInformationLink href="/edev/0/di"/><lFDI>3E4F45AB31EDFE5B67E343E5E4562E31984E23E5</lFDI><sFDI>167261211391</sFDI><changedTime>1700000000</changedTime><enabled>true</enabled><FunctionSetAssignmentsListLink href="/edev/0/fsa" all="1"/><RegistrationLink href="/edev/0/rg"/><csipaus:ConnectionPointLink href="/edev/0/cp"/></EndDevice></EndDeviceList>'  # noqa: E501
ENVOY_DERC_LIST = b'<DERControlList xmlns="urn:ieee:std:2030.5:ns" xmlns:csipaus="https://csipaus.org/ns/v1.3" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" href="/derp/1/derc" subscribable="1" all="2" results="1"><DERControl href="/derp/1/derc/0" replyTo="/rsp" responseRequired="03"><mRID>00000000000000000000000000000000</mRID><description>ctrl 0</description><creationTime>1700000000</creationTime><EventStatus><currentStatus>0</currentStatus><dateTime>1700000000</dateTime><potentiallySuperseded>false</potentiallySuperseded></EventStatus><interval><duration>300</duration><start>1700000300</start></interval><DERControlBase><opModConnect>true</opModConnect><opModMaxLimW>8000</opModMaxLimW><csipaus:opModImpLimW><multiplier>0</multiplier><value>1000</value></csipaus:opModImpLimW><csipaus:opModExpLimW><multiplier>0</multiplier><value>5000</value></csipaus:opModExpLimW></DERControlBase></DERControl></DERControlList>'  # noqa: E501
ENVOY_MMR = b'<MirrorMeterReading xmlns="urn:ieee:std:2030.5:ns" xmlns:csipaus="https://csipaus.org/ns/v1.3" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><mRID>0AF3C0DE0000000000000000000000A1</mRID><description>site W avg</description><lastUpdateTime>1700003600</lastUpdateTime><MirrorReadingSet><mRID>0AF3C0DE0000000000000000000000B1</mRID><timePeriod><duration>3600</duration><start>1700000000</start></timePeriod><Reading><consumptionBlock>0</consumptionBlock><qualityFlags>00</qualityFlags><timePeriod><duration>300</duration><start>1700000000</start></timePeriod><touTier>0</touTier><value>4200</value></Reading><Reading><consumptionBlock>0</consumptionBlock><qualityFlags>00</qualityFlags><timePeriod><duration>300</duration><start>1700000300</start></timePeriod><touTier>0</touTier><value>4201</value></Reading></MirrorReadingSet><nextUpdateTime>1700003900</nextUpdateTime><ReadingType><accumulationBehaviour>12</accumulationBehaviour><commodity>1</commodity><dataQualifier>2</dataQualifier><flowDirection>1</flowDirection><intervalLength>300</intervalLength><kind>37</kind><phase>0</phase><powerOfTenMultiplier>0</powerOfTenMultiplier><uom>38</uom></ReadingType></MirrorMeterReading>'  # noqa: E501
ENVOY_DERCAP = b'<DERCapability xmlns="urn:ieee:std:2030.5:ns" xmlns:csipaus="https://csipaus.org/ns/v1.3" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" href="/edev/1/der/1/dercap"><modesSupported>00500088</modesSupported><rtgMaxW><multiplier>0</multiplier><value>10000</value></rtgMaxW><type>4</type><csipaus:doeModesSupported>03</csipaus:doeModesSupported></DERCapability>'  # noqa: E501
ENVOY_DERSTATUS = b'<DERStatus xmlns="urn:ieee:std:2030.5:ns" xmlns:csipaus="https://csipaus.org/ns/v1.3" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" href="/edev/1/der/1/ders"><genConnectStatus><dateTime>1700000000</dateTime><value>07</value></genConnectStatus><inverterStatus><dateTime>1700000000</dateTime><value>4</value></inverterStatus><operationalModeStatus><dateTime>1700000000</dateTime><value>2</value></operationalModeStatus><readingTime>1700000000</readingTime></DERStatus>'  # noqa: E501
ENVOY_TIME = b'<Time xmlns="urn:ieee:std:2030.5:ns" xmlns:csipaus="https://csipaus.org/ns/v1.3" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" href="/tm"><currentTime>1700000000</currentTime><dstEndTime>1712412000</dstEndTime><dstOffset>3600</dstOffset><dstStartTime>1696089600</dstStartTime><localTime>1700036000</localTime><quality>4</quality><tzOffset>36000</tzOffset></Time>'  # noqa: E501
ENVOY_TTI_LIST = b'<TimeTariffIntervalList xmlns="urn:ieee:std:2030.5:ns" xmlns:csipaus="https://csipaus.org/ns/v1.3" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" all="0" results="0" pollRate="900"/>'  # noqa: E501
ENVOY_MMR_LIST_REQUEST = b'<MirrorMeterReadingList xmlns="urn:ieee:std:2030.5:ns" xmlns:csipaus="https://csipaus.org/ns/v1.3" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><MirrorMeterReading><mRID>0AF3C0DE0000000000000000000000A1</mRID></MirrorMeterReading></MirrorMeterReadingList>'  # noqa: E501
ENVOY_TARIFF = b'<TariffProfile xmlns="urn:ieee:std:2030.5:ns" xmlns:csipaus="https://csipaus.org/ns/v1.3" href="/tp/1"><mRID>0A</mRID><primacy>1</primacy><RateComponentListLink href="/tp/1/rc" all="1"/><serviceCategoryKind>0</serviceCategoryKind><csipaus:CombinedTimeTariffIntervalListLink href="/tp/1/ctti" all="24"/></TariffProfile>'  # noqa: E501


def test_envoy_schema_documents_decode() -> None:
    edevs = decode(ENVOY_EDEV_LIST, EndDeviceList)
    assert edevs.pollRate == 300 and edevs.EndDevice[0].ConnectionPointLink == Link(
        href="/edev/0/cp"
    )
    controls = decode(ENVOY_DERC_LIST, DERControlList)
    base = controls.DERControl[0].DERControlBase
    assert (base.opModImpLimW, base.opModExpLimW) == (
        ActivePower(multiplier=0, value=1000),
        ActivePower(multiplier=0, value=5000),
    )
    mirror = decode(ENVOY_MMR, MirrorMeterReading)
    assert [r.value for r in mirror.MirrorReadingSet[0].Reading] == [4200, 4201]
    assert mirror.MirrorReadingSet[0].Reading[0] == Reading(
        consumptionBlock=0,
        qualityFlags=b"\x00",
        timePeriod=DateTimeInterval(duration=300, start=1700000000),
        touTier=0,
        value=4200,
    )
    assert decode(ENVOY_DERCAP, DERCapability) == DERCAP
    status = decode(ENVOY_DERSTATUS, DERStatus)
    assert status.genConnectStatus is not None and status.genConnectStatus.value == b"\x07"
    assert decode(ENVOY_TIME, Time).tzOffset == 36000
    assert decode(ENVOY_TTI_LIST, TimeTariffIntervalList) == TimeTariffIntervalList(
        all=0, results=0
    )
    posted = decode(ENVOY_MMR_LIST_REQUEST, MirrorMeterReadingList)
    assert (posted.all, posted.results, len(posted.MirrorMeterReading)) == (1, 1, 1)
    tariff = decode(ENVOY_TARIFF, TariffProfile)
    assert tariff.RateComponentListLink == ListLink(href="/tp/1/rc", all=1)


def test_envoy_schema_roundtrip_if_installed() -> None:
    """With envoy-schema installed, its models read derlink's output and derlink reads theirs."""
    envoy = pytest.importorskip(
        "envoy_schema.server.schema.sep2.der",
        reason="envoy-schema is not a derlink dependency; the captured vectors above stand in",
    )
    data = encode(DERControlList(all=1, results=1, DERControl=(DERC,)))
    theirs = envoy.DERControlListResponse.from_xml(data).to_xml(skip_empty=True)
    assert decode(theirs, DERControlList).DERControl == (DERC,)


def test_notification_of_a_deleted_resource() -> None:
    data = b"""<Notification xmlns="urn:ieee:std:2030.5:ns" href="/n">
      <subscribedResource>/edev/1/der/1/derp</subscribedResource>
      <Resource href="/edev/1/der/1/derp/3"/><status>4</status>
      <subscriptionURI>/edev/1/sub/2</subscriptionURI></Notification>"""
    assert decode(data, Notification).Resource == Resource(href="/edev/1/der/1/derp/3")
