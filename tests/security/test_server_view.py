"""61850 over XMPP with end-to-end protection on a real server: services work, and the
server's own view of the traffic (every stanza, logged whole) never holds their plaintext."""

from __future__ import annotations

import asyncio
import base64
import uuid

import pytest

from derlink.audit.event import Outcome
from derlink.iec61850.acsi.client import analogue
from derlink.iec61850.acsi.errors import AcsiError
from derlink.iec61850.mms import data as mms_data
from derlink.iec61850.mms.codec import MMS_NS
from derlink.iec61850.model.refs import FC, ObjectReference
from derlink.iec61850.protection import E2E_NS
from derlink.iec61850.xmpp.endpoint import SEALED_NS
from derlink.pki import Role
from security.rig import CONTROL, LD, SETTING, Rig, ServerView, make_rig, until
from support.xmpp import XmppService

pytestmark = pytest.mark.xmpp


async def test_services_run_and_the_server_sees_only_ciphertext(rig: Rig) -> None:
    centre, ied = rig.centre, rig.ieds[0]
    view = ServerView(rig.service)  # the server's view from here on
    await centre.associate_all(rig.jids)
    # the centre authenticated each IED by its end-to-end certificate, and the other way round
    for each in rig.ieds:
        assert rig.protector.peer(each.jid) is not None
        assert rig.protector.peer(each.jid).name == each.protector.name  # type: ignore[union-attr]
        assert each.protector.roles(rig.centre.endpoint.bare) == (Role.OPERATOR, Role.ENGINEER)
    marker = 4242.125
    await centre.data_definition(ied.jid, SETTING, FC.SP)
    await centre.write(ied.jid, SETTING, FC.SP, marker)
    assert await centre.read(ied.jid, SETTING, FC.SP) == marker
    await until(lambda: {SETTING: marker} in ied.driver.applied)
    termination = await centre.sbo_operate(ied.jid, CONTROL, analogue(61.5))
    assert termination.success  # a CommandTermination: a protected <message> from the IED
    # a group command through the room, under the group key the KDC handed out in sessions
    room = await centre.create_group(f"view-{rig.tag}", rig.jids)
    await rig.kdc.create_group(room, rig.jids)
    group_marker = 3131.25
    group_value = mms_data.to_data(mms_data.td_float32(), group_marker)
    centre.group_write(f"view-{rig.tag}", SETTING, FC.SP, ("floating-point", group_value[1]))
    await until(lambda: all({SETTING: group_marker} in i.driver.applied for i in rig.ieds))
    group_keys = [k.key for k in rig.kdc.kdc.keys(room)]
    # control: an unprotected payload between two plain endpoints is visible to the server
    clear_marker = f"clear-{uuid.uuid4().hex}"
    sender, receiver = rig.endpoint(f"pa-{rig.tag}", "x"), rig.endpoint(f"pb-{rig.tag}", "x")
    receiver.add_payload_namespace("urn:derlink:test")
    receiver.on_request(lambda _s, p: p)
    await asyncio.gather(sender.start(), receiver.start())
    payload = f'<p xmlns="urn:derlink:test">{clear_marker}</p>'.encode()
    assert clear_marker.encode() in await sender.request(str(receiver.jid), payload)
    await until(lambda: clear_marker in view.text(), timeout=10)
    seen = view.text()
    assert SEALED_NS in seen and E2E_NS in seen  # the tap works and saw the protected traffic
    written = mms_data.to_data(mms_data.td_float32(), marker)[1].hex()  # as XER would carry it
    group_written = group_value[1].hex()
    for plaintext in (
        MMS_NS,
        "confirmed-RequestPDU",
        "WExpLim",
        "WMaxSptPct",
        written,
        group_written,
    ):
        assert plaintext.lower() not in seen.lower(), f"the server saw {plaintext!r}"
    for key in group_keys:  # nor any group key, in hex or base64
        assert key.hex() not in seen.lower() and base64.b64encode(key).decode() not in seen
    # the MMS payloads did go through the protector, both ways
    assert len(ied.protector.wire) >= 5 and len(rig.protector.wire) >= 5


async def test_roles_in_the_e2e_certificate_decide_at_the_ied(tapped: XmppService) -> None:
    """A centre whose end-to-end certificate says VIEWER browses but may not operate."""
    rig = await make_rig(tapped, ieds=1, roles=[Role.VIEWER])
    try:
        ied = rig.ieds[0]
        await rig.centre.associate(ied.jid)
        assert await rig.centre.server_directory(ied.jid) == [LD]
        with pytest.raises(AcsiError):
            await rig.centre.operate(ied.jid, f"{LD}/DWMX1.Mod", ("integer", 2))
        with pytest.raises(AcsiError):
            await rig.centre.read(ied.jid, SETTING, FC.SP)
        assert ied.driver.applied == []
        denied = [e for e in ied.runtime.audit_events if e.outcome is Outcome.DENIED]
        assert denied
    finally:
        await rig.stop()


async def test_a_dropped_link_ends_the_session_and_a_new_handshake_follows(rig: Rig) -> None:
    centre, ied = rig.centre, rig.ieds[0]
    await centre.associate(ied.jid)
    before = rig.protector.session(ied.jid)
    assert before is not None
    ied.runtime.endpoint.kill()  # the IED's TCP connection drops; it reconnects by itself
    await until(lambda: rig.protector.session(ied.jid) is None)  # its presence went away
    await until(lambda: centre.link(ied.jid).reassociations >= 1, timeout=15)
    after = rig.protector.session(ied.jid)
    assert after is not None and after.association_id != before.association_id
    assert await centre.server_directory(ied.jid) == [LD]


async def test_an_ied_without_a_session_sends_nothing_and_keeps_running(rig: Rig) -> None:
    centre, ied = rig.centre, rig.ieds[0]
    await centre.associate(ied.jid)
    reports: list[object] = []
    centre.on_report(lambda _jid, report: reports.append(report))
    await centre.enable_reporting(ied.jid, f"{LD}/LLN0.brcbMeas01", buffered=True)
    total_w = f"{LD}/MMXU1.TotW.mag.f[MX]"
    ied.driver.measure(total_w, 10.0)
    await until(lambda: len(reports) >= 1)
    ied.protector.forget(centre.endpoint.bare)  # e.g. keys expired without a rekey
    seen = len(reports)
    ied.driver.measure(total_w, 20.0)  # a report is due, and cannot be sealed
    ref = ObjectReference.parse(f"{LD}/MMXU1.TotW.mag.f")
    await until(lambda: ied.runtime.server.value_of(ref, FC.MX) == 20.0)
    ied.driver.measure(total_w, 30.0)  # the IED's timer loop is still alive
    await until(lambda: ied.runtime.server.value_of(ref, FC.MX) == 30.0)
    await asyncio.sleep(0.3)
    assert len(reports) == seen  # nothing went out unprotected
