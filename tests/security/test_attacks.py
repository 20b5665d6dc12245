"""The attack suite over a real XMPP server: what an attacker in the XMPP path can do.

The attacker has the XMPP server's powers without the end-to-end keys: it sees every stanza (the
protectors record what came off the wire; the server's own stanza log holds the same), and it
can send stanzas *as* any JID — modelled by a rogue client logged in under the victim's bare JID
with its own XMPP certificate (another resource), which is exactly what a server forging
``from`` achieves. It alters, replays, withholds-then-delivers (reorders) and injects captured
payloads; every one is refused with a typed, audited error and changes nothing at the receiver.
"""

from __future__ import annotations

import asyncio
import copy
import xml.etree.ElementTree as ET
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from derlink.e2e import Revoked, records
from derlink.iec61850.acsi.client import analogue
from derlink.iec61850.mms import data as mms_data
from derlink.iec61850.model.refs import FC, ObjectReference
from derlink.iec61850.protection import HandshakeFailed, NoSession
from derlink.iec61850.xmpp.endpoint import Endpoint, StanzaError, seal
from derlink.pki import Role
from security.rig import (
    SETTING,
    Rig,
    TapProtector,
    device_verifier,
    e2e_credentials,
    until,
)
from support.xmpp import ADMIN

pytestmark = pytest.mark.xmpp

WEXPLIM = ObjectReference.parse(SETTING)


def setting_of(rig: Rig, index: int = 0) -> object:
    return rig.ieds[index].runtime.server.value_of(WEXPLIM, FC.SP)


async def write(rig: Rig, value: float, index: int = 0) -> tuple[bytes, bytes]:
    """A genuine write; (the record as the IED received it, its clear payload)."""
    ied = rig.ieds[index]
    await rig.centre.write(ied.jid, SETTING, FC.SP, value)
    centre_bare = rig.centre.endpoint.bare
    record = [m for j, m in ied.protector.wire if j == centre_bare][-1]
    clear = [m for j, m in ied.protector.clear if j == centre_bare][-1]
    return record, clear


async def inject(rogue: Endpoint, to: str, message: bytes, victim: TapProtector) -> str:
    """The rogue sends ``message`` as a protected payload to ``to``: it gets an error back and
    the victim's protector counts (and audits) one refusal, whose code is returned."""
    before = Counter(victim.refused)
    with pytest.raises(StanzaError) as refused:
        await rogue.iq(to, "set", seal(message))
    assert refused.value.condition == "bad-request" and "refused" in refused.value.text
    (code,) = (victim.refused - before).elements()
    return code


async def prepared(rig: Rig) -> tuple[Endpoint, str]:
    """Associated, the setting defined; a rogue speaking as the centre's bare JID."""
    jid = rig.jids[0]
    await rig.centre.associate(jid)
    await rig.centre.data_definition(jid, SETTING, FC.SP)
    rogue = rig.endpoint(ADMIN, f"rogue-{rig.tag}")
    await rogue.start()
    return rogue, jid


def flipped(message: bytes, index: int) -> bytes:
    return message[:index] + bytes([message[index] ^ 0x01]) + message[index + 1 :]


async def test_altered_requests_are_refused(rig: Rig) -> None:
    rogue, jid = await prepared(rig)
    ied = rig.ieds[0]
    record, _clear = await write(rig, 1000.0)
    # one bit flipped in each field: flags, association id, epoch, time, sequence, nonce,
    # length, payload, tag
    offsets = [2, 3, 19, 23, 31, 39, 54, records.HEADER_SIZE + 3, len(record) - 1]
    codes: list[str] = []
    for offset in offsets:
        codes.append(await inject(rogue, jid, flipped(record, offset), ied.protector))
    # a cut record, and one with a byte appended
    assert codes == [
        "e2e.malformed",  # integrity-only where confidentiality is due
        "e2e.wrong-association",
        "e2e.unknown-key",  # epoch
        "e2e.tampered",  # time
        "e2e.tampered",  # sequence (the nonce no longer matches)
        "e2e.tampered",  # nonce
        "e2e.truncated" if len(record) % 2 else "e2e.malformed",  # length: cut or padded
        "e2e.tampered",  # ciphertext
        "e2e.tampered",  # tag
    ]
    assert await inject(rogue, jid, record[:-5], ied.protector) == "e2e.truncated"
    assert await inject(rogue, jid, record + b"\x00", ied.protector) == "e2e.malformed"
    assert setting_of(rig) == 1000.0 and ied.driver.applied.count({SETTING: 1000.0}) == 1
    assert ied.protector.refused["e2e.tampered"] == 5
    assert any(e.details.get("code") == "e2e.tampered" for e in ied.protector.audit_events)
    # the genuine session is untouched by all this
    await rig.centre.write(jid, SETTING, FC.SP, 1001.0)
    assert setting_of(rig) == 1001.0


async def test_replayed_and_reordered_requests_are_refused(rig: Rig) -> None:
    rogue, jid = await prepared(rig)
    ied = rig.ieds[0]
    old, clear = await write(rig, 2000.0)
    await write(rig, 2001.0)
    # replay: the captured write of 2000 sent again
    assert await inject(rogue, jid, old, ied.protector) == "e2e.replay"
    assert setting_of(rig) == 2001.0
    # reorder: a genuine record withheld in transit, delivered after 64 newer ones
    centre_bare = rig.centre.endpoint.bare
    withheld = rig.protector.protect(ied.runtime.endpoint.bare, clear)
    await asyncio.gather(*(rig.centre.read(jid, SETTING, FC.SP) for _ in range(65)))
    assert await inject(rogue, jid, withheld, ied.protector) == "e2e.reordered"
    assert setting_of(rig) == 2001.0
    # within the window a late record is accepted once (RFC 4303), and never twice
    late = rig.protector.protect(ied.runtime.endpoint.bare, clear)
    await rig.centre.read(jid, SETTING, FC.SP)
    answer = await rogue.iq(jid, "set", seal(late))
    assert answer["type"] == "result"  # opened; the rogue's resource has no ACSI association
    assert await inject(rogue, jid, late, ied.protector) == "e2e.replay"
    assert setting_of(rig) == 2001.0
    assert ied.protector.refused["e2e.replay"] == 2
    assert ied.protector.refused["e2e.reordered"] == 1
    assert centre_bare in ied.protector.peers()


async def test_injected_payloads_are_refused(rig: Rig) -> None:
    rogue, jid = await prepared(rig)
    ied = rig.ieds[0]
    _record, clear = await write(rig, 3000.0)
    # a plaintext MMS write, as the endpoint would carry it unprotected
    with pytest.raises(StanzaError) as plain:
        await rogue.request(jid, clear.replace(b"3000", b"9999"))
    assert "refused" in plain.value.text
    # random bytes and a forged record under a made-up association
    assert await inject(rogue, jid, b"\x17" + bytes(120), ied.protector) == "e2e.malformed"
    forged = bytearray(clear.ljust(200, b" "))
    assert await inject(rogue, jid, b"\x17\x01\x01" + bytes(forged), ied.protector)
    # the rogue's own, valid end-to-end certificate cannot speak for the centre's JID
    mallory = rig.endpoint(f"mallory-{rig.tag}", "x")
    creds, _issued = e2e_credentials(rig.service, f"mallory-{rig.tag}", mallory.bare)
    impostor = TapProtector(creds, device_verifier(rig.service.pki))
    impostor.attach(rogue)  # the rogue client is logged in as the centre's bare JID
    with pytest.raises(HandshakeFailed) as refused:
        await impostor.connect(jid)
    assert refused.value.reason == "e2e.unexpected-peer"
    assert setting_of(rig) == 3000.0
    assert ied.driver.applied.count({SETTING: 3000.0}) == 1
    assert rig.centre.endpoint.bare in ied.protector.peers()  # the real session survives
    # reports and terminations towards the centre: replay and injection are refused there too
    termination = await rig.centre.sbo_operate(
        jid, f"{SETTING.split('/')[0]}/DWMX1.WMaxSptPct", analogue(55.0)
    )
    assert termination.success
    ied_bare = ied.runtime.endpoint.bare
    captured = [m for j, m in rig.protector.wire if j == ied_bare][-1]
    fake_ied = rig.endpoint(ied_bare.partition("@")[0], "rogue")
    await fake_ied.start()
    terminations = len(rig.centre.link(jid).terminations)
    for message in (captured, flipped(captured, 40), b"\x17garbage"):
        stanza = fake_ied.make_message(str(rig.centre.endpoint.jid))
        stanza.append(seal(message))
        fake_ied.send_stanza(stanza)
    await until(lambda: sum(rig.protector.refused.values()) >= 3)
    assert rig.protector.refused["e2e.replay"] == 1
    assert rig.protector.refused["e2e.tampered"] == 1
    assert len(rig.centre.link(jid).terminations) == terminations


async def test_rekey_over_the_server_and_old_records_stay_dead(rig: Rig) -> None:
    rogue, jid = await prepared(rig)
    before, _clear = await write(rig, 4000.0)
    assert await rig.protector.rekey(jid) == 1
    assert rig.ieds[0].protector.session(rig.centre.endpoint.bare).epoch == 1  # type: ignore[union-attr]
    after, _ = await write(rig, 4001.0)
    assert after[19:23] == (1).to_bytes(4, "big")  # sealed under the new epoch
    assert await inject(rogue, jid, before, rig.ieds[0].protector) == "e2e.replay"
    assert await inject(rogue, jid, after, rig.ieds[0].protector) == "e2e.replay"
    assert setting_of(rig) == 4001.0


async def test_revoked_der_and_operator_cannot_complete_a_handshake(rig: Rig) -> None:
    service = rig.service
    ied_ok, ied_revoked = rig.ieds
    # a revoked DER: the centre (verifying through the PKI, current CRL) refuses its accept
    service.pki.revoke(ied_revoked.issued.certificate.serial_number, now=_now())
    with pytest.raises(Revoked):
        await rig.protector.connect(ied_revoked.jid)
    with pytest.raises(Exception):  # noqa: B017 - the association fails with the handshake
        await rig.centre.associate(ied_revoked.jid, timeout=5)
    assert rig.protector.refused["e2e.revoked"] >= 1
    assert rig.protector.session(ied_revoked.jid) is None
    # operators: accepted while valid; once revoked (the IED fetched the new CRL) a session
    # opened before ends at its next rekey or when the IED checks its peers again, and no
    # new handshake completes
    consoles = []
    for name in ("op", "op2"):
        operator = rig.endpoint(f"{name}-{rig.tag}", "console")
        creds, issued = e2e_credentials(
            service, f"{name}-{rig.tag}", operator.bare, [Role.OPERATOR]
        )
        console = TapProtector(creds, device_verifier(service.pki))
        console.attach(operator)
        await operator.start()
        assert (await console.connect(ied_ok.jid)).name == ied_ok.protector.name
        service.pki.revoke(issued.certificate.serial_number, now=_now())
        consoles.append((operator, console))
    (first, console), (second, _console2) = consoles
    ied_ok.verifier.update_crls(service.pki.crls())
    with pytest.raises(HandshakeFailed) as rekey:
        await console.rekey(ied_ok.jid)
    assert rekey.value.reason == "e2e.revoked"
    assert ied_ok.protector.session(first.bare) is None  # ended at once
    assert ied_ok.protector.revalidate() == [second.bare]
    assert ied_ok.protector.session(second.bare) is None
    console.forget(ied_ok.jid)
    with pytest.raises(HandshakeFailed) as fresh:
        await console.connect(ied_ok.jid)
    assert fresh.value.reason == "e2e.revoked"
    assert ied_ok.protector.refused["e2e.revoked"] == 3
    assert ied_ok.protector.peers() == []  # both revoked operators are out
    with pytest.raises(NoSession):
        console.protect(ied_ok.runtime.endpoint.bare, b"<x/>")


async def test_removed_member_cannot_read_or_forge_group_commands(rig: Rig) -> None:
    centre, (stays, leaves) = rig.centre, rig.ieds
    await centre.associate_all(rig.jids)
    room = await centre.create_group(f"g-{rig.tag}", rig.jids)
    await rig.kdc.create_group(room, rig.jids)
    centre.group_write(f"g-{rig.tag}", SETTING, FC.SP, _float(1500.0))
    await until(lambda: setting_of(rig, 0) == 1500.0 and setting_of(rig, 1) == 1500.0)
    # a member replays the captured group command: refused (per-sender window)
    captured = [m for j, m in leaves.protector.wire if j == room][-1]
    old_keys = copy.deepcopy(leaves.protector.groups[room])
    replay = leaves.runtime.endpoint.make_message(room, "groupchat")
    replay.append(seal(captured))
    leaves.runtime.endpoint.send_stanza(replay)
    await until(lambda: stays.protector.refused["e2e.replay"] >= 1)
    # removal: the group rolls over; the member stays in the room to show what it gets
    await rig.kdc.remove_member(room, leaves.jid, kick=False)
    assert rig.kdc.delivered.get(stays.protector.name, 0) >= 2
    centre.group_write(f"g-{rig.tag}", SETTING, FC.SP, _float(1700.0))
    await until(lambda: setting_of(rig, 0) == 1700.0)
    await until(lambda: leaves.protector.refused["e2e.unknown-key"] >= 1)
    # pulling the new keys: the member gets them, the removed one a refusal (keys dropped)
    assert await stays.receiver.pull(room)
    assert not await leaves.receiver.pull(room)
    assert room not in leaves.protector.groups
    assert rig.protector.refused["e2e.not-a-member"] == 1
    assert setting_of(rig, 1) == 1500.0  # it received the command and could not open it
    # it forges a command under the key it still holds, even naming the centre as sender
    old_keys.name = rig.protector.name
    forged = leaves.runtime.endpoint.make_message(room, "groupchat")
    clear = [m for j, m in stays.protector.clear if j == room][-1]
    forged.append(seal(old_keys.seal(clear.replace(b"1700", b"9000"), _now())))
    leaves.runtime.endpoint.send_stanza(forged)
    await until(lambda: stays.protector.refused["e2e.unknown-key"] >= 1)
    assert setting_of(rig, 0) == 1700.0
    # a plaintext group command is ignored as well
    plain = leaves.runtime.endpoint.make_message(room, "groupchat")
    plain.append(ET.fromstring(clear))
    leaves.runtime.endpoint.send_stanza(plain)
    await until(lambda: stays.protector.refused["e2e.malformed"] >= 1)
    assert setting_of(rig, 0) == 1700.0


async def test_revoked_member_is_rolled_out_of_its_groups(rig: Rig) -> None:
    centre, (_stays, revoked) = rig.centre, rig.ieds
    await centre.associate_all(rig.jids)
    room = await centre.create_group(f"r-{rig.tag}", rig.jids)
    await rig.kdc.create_group(room, rig.jids)
    keys_before = rig.kdc.kdc.keys(room)
    rig.service.pki.revoke(revoked.issued.certificate.serial_number, now=_now())
    await rig.kdc.revoke(revoked.jid)
    assert set(rig.kdc.kdc.keys(room)).isdisjoint(keys_before)
    assert revoked.protector.name not in rig.kdc.kdc.members(room)
    centre.group_write(f"r-{rig.tag}", SETTING, FC.SP, _float(1800.0))
    await until(lambda: setting_of(rig, 0) == 1800.0)
    assert setting_of(rig, 1) != 1800.0
    # and it cannot come back: its handshake is refused
    with pytest.raises(Revoked):
        await rig.protector.connect(revoked.jid)


def _float(value: float) -> tuple[str, bytes]:
    data = mms_data.to_data(mms_data.td_float32(), value)
    return ("floating-point", data[1])


def _now() -> datetime:
    return datetime.now(UTC)


async def test_the_next_group_key_is_pushed_on_schedule(rig: Rig) -> None:
    await rig.centre.associate_all(rig.jids)
    room = await rig.centre.create_group(f"s-{rig.tag}", rig.jids)
    await rig.kdc.create_group(room, rig.jids, lifetime=timedelta(minutes=2))
    current, future = rig.kdc.kdc.keys(room)
    assert all(
        ied.protector.groups[room].key_ids == (current.key_id, future.key_id) for ied in rig.ieds
    )
    delivered = dict(rig.kdc.delivered)
    await rig.kdc.tick(future.activation)  # the future key activates: a new one is pushed
    _, next_future = rig.kdc.kdc.keys(room)
    for ied in rig.ieds:
        assert rig.kdc.delivered[ied.protector.name] == delivered[ied.protector.name] + 1
        assert next_future.key_id in ied.protector.groups[room].key_ids
        assert current.key_id in ied.protector.groups[room].key_ids  # overlap: kept a while


async def test_scheduled_rekey_runs_over_the_server(rig: Rig) -> None:
    jid = rig.jids[0]
    await rig.centre.associate(jid)
    skew = [timedelta(0)]
    for protector in (rig.protector, *(ied.protector for ied in rig.ieds)):
        protector.clock = lambda: datetime.now(UTC) + skew[0]
    assert rig.protector.tick(_now()) == []  # nothing due yet
    skew[0] = timedelta(hours=1, seconds=1)  # everyone's clock an hour on: rekey is due
    await rig.protector.run_tick()
    await until(lambda: rig.protector.session(jid).epoch == 1)  # type: ignore[union-attr]
    assert rig.ieds[0].protector.session(rig.centre.endpoint.bare).epoch == 1  # type: ignore[union-attr]
    assert await rig.centre.server_directory(jid) == [SETTING.split("/")[0]]
