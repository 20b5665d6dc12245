"""Metering mirrors (CSIP-AUS site and device telemetry), LogEvents, DeviceInformation and
aggregator registration over the real server."""

from __future__ import annotations

from derlink.pki import sfdi_from_lfdi
from derlink.sep2.xml import (
    DateTimeInterval,
    EndDevice,
    EndDeviceList,
    LogEvent,
    LogEventList,
    MeterReadingList,
    MirrorMeterReading,
    MirrorReadingSet,
    MirrorUsagePoint,
    MirrorUsagePointList,
    Reading,
    ReadingList,
    ReadingSetList,
    ReadingType,
    UsagePointList,
)

from .conftest import Deployment

SITE, DEVICE = b"\x00\x03", b"\x00\x49"
UOMS = {"W": 38, "var": 63, "Hz": 33, "V": 29}


def _meter(mrid: int, uom: int, values: list[int], start: int) -> MirrorMeterReading:
    return MirrorMeterReading(
        mRID=mrid.to_bytes(16, "big"),
        description=f"avg uom {uom}",
        MirrorReadingSet=(
            MirrorReadingSet(
                mRID=(mrid + 1000).to_bytes(16, "big"),
                timePeriod=DateTimeInterval(duration=60 * len(values), start=start),
                Reading=tuple(
                    Reading(
                        value=v,
                        timePeriod=DateTimeInterval(duration=60, start=start + 60 * i),
                    )
                    for i, v in enumerate(values)
                ),
            ),
        ),
        ReadingType=ReadingType(
            accumulationBehaviour=12,
            commodity=1,
            dataQualifier=2,
            flowDirection=1,
            intervalLength=60,
            kind=37,
            phase=0,
            powerOfTenMultiplier=0,
            uom=uom,
        ),
    )


def test_site_and_device_mirrors_keep_every_reading(deployment: Deployment) -> None:
    c = deployment.client("dev1")
    lfdi = bytes.fromhex(deployment.lfdi("dev1"))
    start = 1_790_000_000
    locations = []
    for n, role in enumerate((SITE, DEVICE)):
        mup = MirrorUsagePoint(
            mRID=(0xA0 + n).to_bytes(16, "big"),
            description="site" if role == SITE else "der",
            roleFlags=role,
            serviceCategoryKind=0,
            status=1,
            deviceLFDI=lfdi,
            MirrorMeterReading=tuple(
                _meter(100 * n + i, uom, [1000 + i, 1010 + i], start)
                for i, uom in enumerate(UOMS.values())
            ),
        )
        created = c.send("POST", "/mup", mup, expect=201)
        locations.append(created.headers["location"])
        again = c.send("POST", "/mup", mup, expect=201)  # same mRID: same mirror, no duplicate
        assert again.headers["location"] == created.headers["location"]
    more = _meter(100 + 0, UOMS["W"], [2000, 2001, 2002], start + 600)
    c.send("POST", locations[1], more, expect=201)
    mirrors = c.obj("/mup?l=10")
    assert isinstance(mirrors, MirrorUsagePointList) and mirrors.all == 2
    assert {m.roleFlags for m in mirrors.MirrorUsagePoint} == {SITE, DEVICE}
    points = c.obj("/upt?l=10")
    assert isinstance(points, UsagePointList) and points.all == 2
    device_point = next(p for p in points.UsagePoint if p.roleFlags == DEVICE)
    assert device_point.MeterReadingListLink is not None
    meters = c.obj(f"{device_point.MeterReadingListLink.href}?l=10")
    assert isinstance(meters, MeterReadingList) and meters.all == 4
    watts = next(m for m in meters.MeterReading if m.mRID == (100).to_bytes(16, "big"))
    reading_type = c.obj(watts.ReadingTypeLink.href)
    assert isinstance(reading_type, ReadingType)
    assert (reading_type.uom, reading_type.kind, reading_type.dataQualifier) == (38, 37, 2)
    assert watts.ReadingSetListLink is not None
    sets = c.obj(watts.ReadingSetListLink.href)
    assert isinstance(sets, ReadingSetList) and sets.ReadingSet[0].ReadingListLink is not None
    readings = c.obj(f"{sets.ReadingSet[0].ReadingListLink.href}?l=10")
    assert isinstance(readings, ReadingList) and readings.all == 5  # re-post added nothing
    assert [r.value for r in readings.Reading] == [2002, 2001, 2000, 1010, 1000]
    # another device may not read or write them
    other = deployment.client("dev2")
    other.get(locations[0], expect=403)
    other.send("POST", locations[0], more, expect=403)


def test_log_events_and_device_information(deployment: Deployment) -> None:
    c = deployment.client("dev1")
    sfdi = deployment.sfdi("dev1")
    event = LogEvent(
        createdDateTime=1_790_000_123,
        details="ac over-voltage",
        functionSet=22,
        logEventCode=3,
        logEventID=17,
        logEventPEN=40732,
        profileID=3,
    )
    c.send("POST", f"/edev/{sfdi}/lel", event, expect=201)
    events = c.obj(f"/edev/{sfdi}/lel?l=10")
    assert isinstance(events, LogEventList) and events.all == 1
    assert events.LogEvent[0].createdDateTime == 1_790_000_123
    info = (
        b'<DeviceInformation xmlns="urn:ieee:std:2030.5:ns"><lFDI>'
        + deployment.lfdi("dev1").encode()
        + b"</lFDI><mfDate>1700000000</mfDate><mfHwVer>1.0</mfHwVer><mfID>40732</mfID>"
        b"<mfModel>INV-5K</mfModel><mfSerNum>SN-dev1</mfSerNum><primaryPower>1</primaryPower>"
        b"<secondaryPower>0</secondaryPower><swActTime>1700000000</swActTime>"
        b"<swVer>2.1.0</swVer></DeviceInformation>"
    )
    c.send("PUT", f"/edev/{sfdi}/di", info, expect=204)
    c.get(f"/edev/{sfdi}/di")


def test_aggregator_registers_an_end_device(deployment: Deployment) -> None:
    from datetime import UTC, datetime

    from derlink.pki import Pki

    pki = Pki.open(deployment.home.pki_dir, passphrase=None)
    new = pki.issue_device("SN-agg-new", now=datetime.now(UTC))
    agg = deployment.client("agg")
    body = EndDevice(lFDI=bytes.fromhex(new.lfdi), sFDI=new.sfdi, changedTime=0)
    created = agg.send("POST", "/edev", body, expect=201)
    got = agg.obj(created.headers["location"])
    assert isinstance(got, EndDevice) and got.sFDI == sfdi_from_lfdi(new.lfdi)
    listed = agg.obj("/edev?l=20")
    assert isinstance(listed, EndDeviceList) and new.sfdi in {e.sFDI for e in listed.EndDevice}
    wrong = EndDevice(lFDI=bytes.fromhex(new.lfdi), sFDI=new.sfdi + 1, changedTime=0)
    agg.send("POST", "/edev", wrong, expect=400)
    # a plain device may not register others when registration is by the operator
    other = pki.issue_device("SN-not-mine", now=datetime.now(UTC))
    deployment.client("dev1").send(
        "POST",
        "/edev",
        EndDevice(lFDI=bytes.fromhex(other.lfdi), sFDI=other.sfdi, changedTime=0),
        expect=403,
    )
