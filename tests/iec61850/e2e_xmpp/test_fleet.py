"""IEC 61850 over XMPP end to end: a control centre and a fleet of IEDs on a real server.

Runs against Prosody with 50 IEDs and against ejabberd with 10 (same tests, see conftest).
"""

from __future__ import annotations

import asyncio
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable

import pytest

from derlink.audit.event import Outcome
from derlink.iec61850.acsi.client import AssocState, analogue
from derlink.iec61850.acsi.errors import (
    AccessError,
    AssociationError,
    ControlRefused,
    ServiceError,
    ServiceErrorClass,
)
from derlink.iec61850.acsi.rpt import ReceivedReport
from derlink.iec61850.centre import CentreError, ControlCentre
from derlink.iec61850.ied import INITIATE_FOR_GROUP
from derlink.iec61850.mms import data as mms_data
from derlink.iec61850.mms.codec import MMS_NS, encode_payload
from derlink.iec61850.model.refs import FC, FCDA, ObjectReference
from derlink.iec61850.xmpp.endpoint import StanzaError
from support.xmpp import endpoint_for

from .conftest import Fleet

pytestmark = [pytest.mark.xmpp, pytest.mark.asyncio(loop_scope="module")]


async def until(condition: Callable[[], bool], timeout: float = 15.0) -> None:
    async def poll() -> None:
        while not condition():
            await asyncio.sleep(0.02)

    await asyncio.wait_for(poll(), timeout)


async def test_fleet_connects_and_is_discovered(fleet: Fleet) -> None:
    centre = fleet.centre
    await until(lambda: all(centre.presence.is_available(j) for j in fleet.jids))
    found = await centre.discover(fleet.jids)
    assert sorted(f.jid for f in found) == sorted(fleet.jids)
    assert all(f.logical_devices == (fleet.ld,) for f in found)
    assert all(centre.link(j).state is AssocState.ASSOCIATED for j in fleet.jids)


async def test_browse_read_write(fleet: Fleet) -> None:
    centre, jid, ld = fleet.centre, fleet.jids[0], fleet.ld
    assert await centre.server_directory(jid) == [ld]
    nodes = await centre.logical_node_directory(jid, f"{ld}/DWMX1")
    assert "WMaxSptPct" in nodes
    assert "DWMX1" in await centre.logical_device_directory(jid, ld)
    definition = await centre.data_definition(jid, f"{ld}/MMXU1.TotW", FC.MX)
    assert definition[0] == "structure"
    # a measurement the driver produced arrives in the value store and in reads
    fleet.driver(0).measure(f"{ld}/MMXU1.TotW.mag.f[MX]", 1234.5)
    await until(
        lambda: fleet.ied(0).server.value_of(_ref(f"{ld}/MMXU1.TotW.mag.f"), FC.MX) == 1234.5
    )
    value = await centre.read(jid, f"{ld}/MMXU1.TotW", FC.MX)
    assert value["mag"]["f"] == 1234.5
    # reads across the whole fleet at once
    started = time.perf_counter()
    values = await asyncio.gather(
        *(centre.read(j, f"{ld}/MMXU1.TotW.mag.f", FC.MX) for j in fleet.jids)
    )
    fleet.numbers["fleet_read_s"] = time.perf_counter() - started
    assert len(values) == len(fleet.jids)
    # a setting written by the centre reaches the value store and the DER
    setting = f"{ld}/DECP1.WExpLim.setMag.f"
    await centre.data_definition(jid, setting, FC.SP)
    await centre.write(jid, setting, FC.SP, 5000.0)
    assert await centre.read(jid, setting, FC.SP) == 5000.0
    await until(lambda: {setting: 5000.0} in fleet.driver(0).applied)


async def test_sbo_operate_end_to_end(fleet: Fleet) -> None:
    centre, jid, ld = fleet.centre, fleet.jids[1], fleet.ld
    control = f"{ld}/DWMX1.WMaxSptPct"
    termination = await centre.sbo_operate(jid, control, analogue(60.0))
    assert termination.success
    assert any(control in applied for applied in fleet.driver(1).applied)
    assert fleet.ied(1).server.value_of(_ref(f"{control}.mxVal.f"), FC.MX) == 60.0
    # without a selection the enhanced-security control refuses to operate
    with pytest.raises(ControlRefused):
        await centre.operate(jid, control, analogue(70.0), new_ctl_num=True)
    assert fleet.ied(1).server.value_of(_ref(f"{control}.mxVal.f"), FC.MX) == 60.0
    assert any(e.outcome is not Outcome.SUCCESS for e in fleet.ied(1).audit_events)


async def test_buffered_reports_survive_a_forced_disconnect(fleet: Fleet) -> None:
    centre, ld = fleet.centre, fleet.ld
    index = 2
    jid, ied, driver = fleet.jids[index], fleet.ied(index), fleet.driver(index)
    received: list[ReceivedReport] = []
    centre.on_report(lambda sender, report: received.append(report) if sender == jid else None)
    await centre.enable_reporting(jid, f"{ld}/LLN0.brcbMeas01", buffered=True)
    total_w = FCDA.parse(f"{ld}/MMXU1.TotW.mag.f[MX]")

    def seen() -> list[float]:
        return [_total_w(r) for r in received if _total_w(r) is not None]  # type: ignore[misc]

    async def produce(values: range, *, live: bool = True) -> None:
        for value in values:
            driver.measure(total_w, float(value))
            if live:  # one report per value: wait for it before the next change
                await until(lambda v=float(value): v in seen())  # type: ignore[misc]
            else:  # buffered while the link is down: more than BufTm apart
                await asyncio.sleep(0.3)

    await produce(range(1, 5))
    ied.endpoint.kill(reconnect=False)  # the IED's link drops, reports keep being buffered
    await until(lambda: centre.link(jid).state is AssocState.LOST)
    await produce(range(5, 10), live=False)
    await ied.endpoint.start()  # the link comes back: presence, re-association, resync
    await until(lambda: centre.link(jid).state is AssocState.ASSOCIATED)
    await produce(range(10, 13))
    await until(lambda: len(seen()) >= 12)
    await asyncio.sleep(0.3)
    assert seen() == [float(v) for v in range(1, 13)]
    entry_ids = [r.entry_id for r in received]
    assert len(set(entry_ids)) == len(entry_ids)
    assert entry_ids == sorted(entry_ids, key=lambda e: int.from_bytes(e or b"", "big"))
    assert centre.link(jid).reassociations >= 1


async def test_unbuffered_report_on_general_interrogation(fleet: Fleet) -> None:
    centre, ld = fleet.centre, fleet.ld
    jid = fleet.jids[5]
    received: list[ReceivedReport] = []
    centre.on_report(lambda sender, report: received.append(report) if sender == jid else None)
    await centre.enable_reporting(jid, f"{ld}/LLN0.urcbStatus01", buffered=False, gi=True)
    await until(lambda: len(received) >= 1)
    report = received[0]
    assert report.entry_id is None  # URCBs carry no EntryID
    assert len(report.values) == len(report.indices) > 0
    await centre.disable_reporting(jid, f"{ld}/LLN0.urcbStatus01", buffered=False)


async def test_presence_loss_and_return(fleet: Fleet) -> None:
    centre, ld = fleet.centre, fleet.ld
    jid, ied = fleet.jids[3], fleet.ied(3)
    states: list[str] = []
    centre.on_association(lambda j, s: states.append(s) if j == jid else None)
    await ied.stop()  # the IED goes away for good
    await until(lambda: not centre.presence.is_available(jid))
    assert centre.link(jid).state is AssocState.LOST
    with pytest.raises(AssociationError):  # no association: the client refuses at once
        await centre.read(jid, f"{ld}/MMXU1.TotW.mag.f", FC.MX)
    await ied.start()
    await until(lambda: centre.link(jid).state is AssocState.ASSOCIATED)
    assert isinstance(await centre.read(jid, f"{ld}/MMXU1.TotW.mag.f", FC.MX), float)
    assert states[:2] == ["lost", "associated"]


async def test_group_command_through_the_room(fleet: Fleet) -> None:
    centre, ld = fleet.centre, fleet.ld
    group = f"der-group-{fleet.tag}"
    room = await centre.create_group(group, fleet.jids)
    setting = f"{ld}/DECP1.WExpLim.setMag.f"
    limit = 3300.0
    # a member that speaks in the room commands nobody
    rogue = fleet.ied(0)
    payload = encode_payload(
        (
            "confirmed-RequestPDU",
            {
                "invokeID": 1,
                "service": (
                    "write",
                    {
                        "variableAccessSpecification": (
                            "listOfVariable",
                            [
                                {
                                    "variableSpecification": (
                                        "name",
                                        (
                                            "domain-specific",
                                            {"domainID": ld, "itemID": "DECP1$SP$WExpLim$setMag$f"},
                                        ),
                                    )
                                }
                            ],
                        ),
                        "listOfData": [_float(1.0)],
                    },
                ),
            },
        )
    )
    rogue.endpoint.send_message(room, payload, mtype="groupchat")
    centre.group_write(group, setting, FC.SP, _float(limit))
    ref = _ref(setting)
    await until(lambda: all(ied.server.value_of(ref, FC.SP) == limit for ied in fleet.ieds))
    for index in range(len(fleet.ieds)):
        assert {setting: 1.0} not in fleet.driver(index).applied
    await until(
        lambda: any(
            e.action == "iec61850.group-command" and e.outcome is Outcome.DENIED
            for e in fleet.ied(1).audit_events
        )
    )


async def test_tariff_reaches_every_subscriber(fleet: Fleet) -> None:
    tariff = f'<tariff xmlns="urn:derlink:tariff:1" id="{uuid.uuid4().hex[:6]}" price="0.27"/>'
    item_id = await fleet.centre.publish_tariff(fleet.tariff_node, tariff.encode())
    await until(lambda: all(any(t.id == item_id for t in ied.tariffs) for ied in fleet.ieds))
    assert b'price="0.27"' in fleet.ied(0).tariffs[-1].payload


async def test_bad_input_gets_standard_errors(fleet: Fleet) -> None:
    centre, ld = fleet.centre, fleet.ld
    jid, ied = fleet.jids[4], fleet.ied(4)
    # unknown reference: the MMS DataAccessError object-non-existent
    with pytest.raises(ServiceError) as unknown:
        await centre.read(jid, f"{ld}/MMXU1.NoSuchThing", FC.MX)
    assert unknown.value.access_error is AccessError.OBJECT_NON_EXISTENT
    # wrong type: a boolean where a float is
    with pytest.raises(ServiceError) as wrong:
        await centre.write(jid, f"{ld}/DECP1.WExpLim.setMag.f", FC.SP, ("boolean", True))
    assert wrong.value.service_class is ServiceErrorClass.TYPE_CONFLICT
    # a payload in the MMS namespace that is no MMS PDU
    garbage = ET.Element(f"{{{MMS_NS}}}mms")
    ET.SubElement(garbage, "nonsense").text = "x"
    with pytest.raises(StanzaError) as malformed:
        await centre.endpoint.iq(jid, "set", garbage)
    assert malformed.value.condition == "bad-request"
    # a JID the IED does not know is refused before any ACSI processing
    stranger = endpoint_for(fleet.service, f"stranger-{fleet.tag}", "x")
    await stranger.start()
    try:
        with pytest.raises(StanzaError) as forbidden:
            await stranger.request(jid, encode_payload(INITIATE_FOR_GROUP))
        assert forbidden.value.condition == "forbidden"
    finally:
        await stranger.stop()
    assert stranger.bare + "/x" not in ied.server.associations
    assert any(e.actor.startswith(stranger.bare) for e in ied.audit_events)
    # a message with garbage in it is dropped (and audited), the connection stays up
    centre.endpoint.send_message(jid, f'<mms xmlns="{MMS_NS}"><junk/></mms>'.encode())
    await until(lambda: any(e.action == "iec61850.message" for e in ied.audit_events))
    # and the IED still serves its centre
    assert isinstance(await centre.read(jid, f"{ld}/MMXU1.TotW.mag.f", FC.MX), float)


async def test_centre_link_drop_reassociates_the_fleet(fleet: Fleet) -> None:
    centre, ld = fleet.centre, fleet.ld
    before = {j: centre.link(j).reassociations for j in fleet.jids}
    centre.endpoint.kill()  # the centre's own link drops and comes back by itself
    await until(lambda: not centre.endpoint.connected)
    await centre.endpoint.wait_connected(15)
    await until(
        lambda: all(
            centre.link(j).state is AssocState.ASSOCIATED
            and centre.link(j).reassociations > before[j]
            for j in fleet.jids
        ),
        timeout=30,
    )
    values = await asyncio.gather(
        *(centre.read(j, f"{ld}/MMXU1.Hz.mag.f", FC.MX) for j in fleet.jids)
    )
    assert all(isinstance(v, float) for v in values)


async def test_a_viewer_may_read_but_not_write(fleet: Fleet) -> None:
    ld, jid, ied = fleet.ld, fleet.jids[6], fleet.ied(6)
    viewer = ControlCentre(endpoint_for(fleet.service, f"viewer-{fleet.tag}", "x"))
    await viewer.start()
    try:
        await viewer.associate(jid)
        assert isinstance(await viewer.read(jid, f"{ld}/MMXU1.Hz.mag.f", FC.MX), float)
        setting = f"{ld}/DECP1.WExpLim.setMag.f"
        before = ied.server.value_of(_ref(setting), FC.SP)
        with pytest.raises(ServiceError) as denied:
            await viewer.write(jid, setting, FC.SP, _float(1.0))
        assert denied.value.service_class is ServiceErrorClass.ACCESS_VIOLATION
        assert ied.server.value_of(_ref(setting), FC.SP) == before
        assert any(
            e.event_id == "IEC61850:Access.1" and e.actor.startswith(f"viewer-{fleet.tag}@")
            for e in ied.audit_events
        )
    finally:
        await viewer.stop()


async def test_the_centre_keeps_only_the_latest_reports(fleet: Fleet) -> None:
    ld, jid, driver = fleet.ld, fleet.jids[7], fleet.driver(7)
    watcher = ControlCentre(
        endpoint_for(fleet.service, f"viewer-{fleet.tag}", "history"), report_history=3
    )
    await watcher.start()
    try:
        received: list[ReceivedReport] = []
        watcher.on_report(lambda sender, report: received.append(report))
        await watcher.associate(jid)
        await watcher.enable_reporting(jid, f"{ld}/LLN0.brcbMeas01", buffered=True)
        for value in range(1, 9):
            driver.measure(f"{ld}/MMXU1.TotW.mag.f[MX]", float(value))
            await until(lambda v=float(value): any(_total_w(r) == v for r in received))  # type: ignore[misc]
        kept = watcher.link(jid).reports
        # the listener saw all eight; the link holds the last three, no more
        assert [_total_w(r) for r in received if _total_w(r) is not None][-8:] == [
            float(v) for v in range(1, 9)
        ]
        assert len(kept) == 3 and [_total_w(r) for r in kept] == [6.0, 7.0, 8.0]
        assert watcher.link(jid).terminations.maxlen == 3
        await watcher.disable_reporting(jid, f"{ld}/LLN0.brcbMeas01", buffered=True)
    finally:
        await watcher.stop()
    with pytest.raises(CentreError):
        ControlCentre(watcher.endpoint, report_history=-1)


async def test_a_value_written_into_the_store_is_reported_when_the_runtime_is_told(
    fleet: Fleet,
) -> None:
    centre, ld, jid, ied = fleet.centre, fleet.ld, fleet.jids[8], fleet.ied(8)
    received: list[ReceivedReport] = []
    centre.on_report(lambda sender, report: received.append(report) if sender == jid else None)
    rcb = f"{ld}/LLN0.brcbMeas01"
    await centre.enable_reporting(jid, rcb, buffered=True, buf_tm_ms=0)
    sent: list[str] = []
    send = ied.endpoint.send_message

    def counting_send(to: str, payload: bytes, *args: object, **kwargs: object) -> None:
        sent.append(to)
        send(to, payload, *args, **kwargs)  # type: ignore[arg-type]

    ied.endpoint.send_message = counting_send  # type: ignore[method-assign]
    try:
        ied.server.store.set(FCDA.parse(f"{ld}/MMXU1.TotW.mag.f[MX]"), 4321.0)
        assert sent == []  # the report waits in the ACSI server until the runtime looks
        ied.process_changed()
        assert sent == [str(centre.endpoint.jid)]  # sent at once, not at the next tick
    finally:
        ied.endpoint.send_message = send  # type: ignore[method-assign]
    await until(lambda: any(_total_w(r) == 4321.0 for r in received))
    await centre.disable_reporting(jid, rcb, buffered=True)


def _ref(text: str) -> ObjectReference:
    return ObjectReference.parse(text)


def _float(value: float) -> tuple[str, bytes]:
    data = mms_data.to_data(mms_data.td_float32(), value)
    return ("floating-point", data[1])


def _total_w(report: ReceivedReport) -> float | None:
    for ref, value in zip(report.data_refs, report.python_values(), strict=False):
        if "TotW" in ref:
            return float(value[0][0]) if isinstance(value, list) else None
    values = report.python_values()
    if report.indices and report.indices[0] == 0:
        first = values[0]
        return float(first[0][0])
    return None
