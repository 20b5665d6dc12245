"""Signed commands, sans-IO: signing and verifying, every refusal, the counter cache, and the
canonical encoding (a vector and properties)."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from derlink.domain import ControlBase
from derlink.e2e.commands import (
    BadSignature,
    CommandContent,
    CommandError,
    CounterCache,
    CounterReplay,
    Expired,
    MalformedCommand,
    MessageCode,
    NotYetValid,
    Recipient,
    SignedCommand,
    Signer,
    UntrustedSigner,
    Verified,
    WrongRecipient,
    load_counters,
    save_counters,
    sign,
    verify,
)
from e2e_commands.signing_keys import Keys

NOW = int(time.time())  # the fixture's certificates are valid from an hour before
MRID = "0123456789ABCDEF0123456789ABCDEF"
# magic, version, code | originator | group recipient | counter | notBefore, notAfter | mRID |
# program | primacy, created, start | duration, randomizeStart, randomizeDuration | description |
# 2 envelope fields: connect = true, export_limit_w = 5000.0
VECTOR = (
    "444c5343"
    "01"
    "0101"
    "0008434e3d616c696365"
    "0201"
    "00086665656465722d31"
    "0102030405060708"
    "000000006ab13b80"
    "000000006ab14990"
    "0123456789abcdef0123456789abcdef"
    "000f6665656465722d312e79656c6c6f77"
    "0a"
    "000000006ab13b76"
    "000000006ab13b80"
    "00000708"
    "001e"
    "0000"
    "000a6578706f727420636170"
    "02"
    "0007636f6e6e656374"
    "0101"
    "000e6578706f72745f6c696d69745f77"
    "02"
    "40b3880000000000"
)


def content(originator: str, **changes: Any) -> CommandContent:
    fields: dict[str, Any] = {
        "message_code": MessageCode.DER_CONTROL,
        "originator": originator,
        "recipient": Recipient.groups(["feeder-1"]),
        "counter": 1,
        "not_before": NOW - 10,
        "not_after": NOW + 3600,
        "mrid": MRID,
        "program": "feeder-1.yellow",
        "primacy": 10,
        "created": NOW - 10,
        "start": NOW,
        "duration": 1800,
        "base": ControlBase(export_limit_w=5000, connect=True),
        "randomize_start": 30,
        "description": "export cap",
    }
    fields.update(changes)
    return CommandContent(**fields)


def signed_by(keys: Keys, name: str = "alice", **changes: Any) -> SignedCommand:
    signer = keys.signer(name)
    return sign(content(signer.originator, **changes), signer)


def check(keys: Keys, signed: SignedCommand, **kw: Any) -> Verified:
    args: dict[str, Any] = {
        "trust": keys.trust(),
        "now": NOW,
        "lfdi": keys.lfdi("dev1"),
        "groups": frozenset({"feeder-1"}),
    }
    args.update(kw)
    return verify(signed, **args)


def test_a_signed_command_verifies_and_carries_the_control(keys: Keys) -> None:
    signed = signed_by(keys)
    again = SignedCommand.decode(signed.encode())
    assert again == signed and SignedCommand.from_pem(signed.to_pem()) == signed
    verified = check(keys, again)
    assert verified.content.control().base.export_limit_w == 5000
    assert verified.signer.subject == keys.signer().originator
    assert verified.digest == hashlib.sha256(signed.content).digest()
    assert len(signed.certificates) == 2  # leaf and operator CA; the root is the device's own


def test_vector_of_the_canonical_encoding() -> None:
    fixed = {"not_before": 1790000000, "not_after": 1790003600, "start": 1790000000}
    data = content("CN=alice", counter=0x0102030405060708, created=1789999990, **fixed).encode()
    assert data.hex() == VECTOR
    assert data[:7] == b"DLSC\x01\x01\x01"  # magic, version 1, message code 0x0101
    assert data[7:17] == b"\x00\x08CN=alice"
    assert data[17:19] == b"\x02\x01"  # group recipient, one id
    assert b"\x00\x08feeder-1\x01\x02\x03\x04\x05\x06\x07\x08" in data
    assert bytes.fromhex(MRID) in data
    # envelope fields by name, sorted: connect (bool) before export_limit_w (binary64)
    tail = b"\x02\x00\x07connect\x01\x01\x00\x0eexport_limit_w\x02" + bytes.fromhex(
        "40b3880000000000"
    )
    assert data.endswith(tail)


def test_tampered_content_or_signature_is_refused(keys: Keys) -> None:
    signed = signed_by(keys)
    other = content(keys.signer().originator, base=ControlBase(export_limit_w=9000))
    with pytest.raises(BadSignature):
        check(keys, dataclasses.replace(signed, content=other.encode()))
    flipped = bytearray(signed.signature)
    flipped[-1] ^= 1
    with pytest.raises((BadSignature, MalformedCommand)):
        check(keys, dataclasses.replace(signed, signature=bytes(flipped)))


def test_another_signers_path_on_the_content_is_refused(keys: Keys) -> None:
    signed = signed_by(keys)
    bob = signed_by(keys, "bob")
    with pytest.raises(BadSignature):  # bob's path: the signature is not bob's
        check(keys, dataclasses.replace(signed, certificates=bob.certificates))
    forged = dataclasses.replace(bob, content=signed.content)
    with pytest.raises(BadSignature):
        check(keys, forged)
    claims_alice = sign(content(keys.signer("bob").originator), keys.signer("bob"))
    assert check(keys, claims_alice).content.originator != keys.signer().originator
    with pytest.raises(CommandError):  # a signer cannot sign as another originator
        sign(content(keys.signer().originator), keys.signer("bob"))


@pytest.mark.parametrize("name", ["viewer", "mallory", "agg", "rogue", "dev1"])
def test_untrusted_signers_are_refused(keys: Keys, name: str) -> None:
    cert = keys.issued[name]
    signer = Signer(cert.private_key, (cert.certificate, *cert.chain))
    signed = sign(content(signer.originator), signer)
    with pytest.raises(UntrustedSigner):
        check(keys, signed)


def test_wrong_recipient_is_refused(keys: Keys) -> None:
    to_dev2 = signed_by(keys, recipient=Recipient.device(keys.lfdi("dev2")))
    assert check(keys, to_dev2, lfdi=keys.lfdi("dev2")).content.recipient.ids
    with pytest.raises(WrongRecipient):
        check(keys, to_dev2)
    with pytest.raises(WrongRecipient):
        check(keys, signed_by(keys), groups=frozenset({"feeder-2"}))
    assert check(keys, signed_by(keys), groups=None)  # groups not configured: the server's word


def test_window(keys: Keys) -> None:
    signed = signed_by(keys, not_before=NOW + 600, not_after=NOW + 3600)
    with pytest.raises(NotYetValid):
        check(keys, signed)
    assert check(keys, signed, now=NOW + 600 - 30)  # within the skew allowance
    with pytest.raises(Expired):
        check(keys, signed, now=NOW + 3601)


def test_counter_cache_refuses_reuse_and_keeps_state_on_refusal(keys: Keys, tmp_path: Path) -> None:
    cache = CounterCache()
    first = check(keys, signed_by(keys, counter=5))
    assert cache.admit_verified(first, NOW)
    with pytest.raises(CounterReplay):
        cache.admit_verified(first, NOW)  # the same command again: field semantics
    assert not cache.admit_verified(first, NOW, allow_repeat=True)  # 2030.5 re-poll
    older = check(keys, signed_by(keys, counter=4))
    before = cache.to_json()
    with pytest.raises(CounterReplay):
        cache.admit_verified(older, NOW)
    other = check(keys, signed_by(keys, counter=5, description="other"))
    with pytest.raises(CounterReplay):
        cache.admit_verified(other, NOW, allow_repeat=True)  # same counter, other content
    assert cache.to_json() == before
    assert cache.admit_verified(check(keys, signed_by(keys, "bob", counter=1)), NOW)
    path = tmp_path / "state" / "counters.json"
    save_counters(path, cache)
    restored = load_counters(path)
    assert restored.to_json() == cache.to_json()
    with pytest.raises(CounterReplay):
        restored.admit_verified(first, NOW)


def test_the_replay_window_of_pull_devices() -> None:
    cache = CounterCache(window=4)
    digest = b"\x01" * 32
    assert cache.admit("op", 10, digest, NOW + 60, NOW)
    assert cache.admit("op", 8, b"\x02" * 32, NOW + 60, NOW)  # met later, never seen
    with pytest.raises(CounterReplay):
        cache.admit("op", 8, b"\x02" * 32, NOW + 60, NOW)
    with pytest.raises(CounterReplay):
        cache.admit("op", 6, b"\x03" * 32, NOW + 60, NOW)  # older than the window
    assert cache.admit("op", 11, digest, NOW + 60, NOW + 120)
    assert set(cache.originators["op"].seen) == {11}  # expired entries are forgotten


def test_damaged_state_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text("{not json")
    with pytest.raises(CommandError, match="not JSON"):
        load_counters(path)
    path.write_text('{"originators": {"x": {"highest": "a"}}}')
    with pytest.raises(CommandError, match="damaged"):
        load_counters(path)


def test_malformed_documents_are_refused() -> None:
    for junk in (b"", b"DLSG", b"DLSG\x02" + b"\x00" * 8, b"x" * 20000):
        with pytest.raises(MalformedCommand):
            SignedCommand.decode(junk)
    with pytest.raises(MalformedCommand):
        SignedCommand.from_pem(b"-----BEGIN DERLINK SIGNED COMMAND-----\n!!\n")
    good = content("CN=x").encode()
    for bad in (good + b"\x00", good[:-1], b"DLSC\x02" + good[5:]):
        with pytest.raises(MalformedCommand):
            CommandContent.decode(bad)


# --- properties of the canonical encoding -----------------------------------------------------

finite = st.floats(min_value=0.0, max_value=1e12, allow_nan=False, allow_infinity=False)
signed_power = st.floats(min_value=-1e12, max_value=1e12, allow_nan=False, allow_infinity=False)
pct = st.floats(min_value=0.0, max_value=100.0, allow_nan=False)
bases = st.builds(
    ControlBase,
    connect=st.none() | st.booleans(),
    energize=st.none() | st.booleans(),
    export_limit_w=st.none() | finite,
    import_limit_w=st.none() | finite,
    storage_target_w=st.none() | signed_power,
    max_limit_pct=st.none() | pct,
    fixed_pf_inject=st.none() | st.floats(min_value=0.01, max_value=1.0),
    volt_var_curve=st.none() | st.text(min_size=1, max_size=20),
    ramp_time_s=st.none() | st.floats(min_value=0.0, max_value=655.35),
).filter(lambda b: not b.is_empty())
texts = st.text(max_size=40)
contents = st.builds(
    CommandContent,
    message_code=st.just(MessageCode.DER_CONTROL),
    originator=st.text(min_size=1, max_size=60),
    recipient=st.one_of(
        st.lists(st.text(min_size=1, max_size=10), min_size=1, max_size=4).map(Recipient.groups),
        st.text("0123456789ABCDEF", min_size=40, max_size=40).map(Recipient.device),
    ),
    counter=st.integers(1, 2**64 - 1),
    not_before=st.integers(0, 2**40),
    not_after=st.just(2**41),
    mrid=st.text("0123456789ABCDEF", min_size=32, max_size=32),
    program=st.from_regex(r"[a-z][a-z0-9.-]{0,20}", fullmatch=True),
    primacy=st.integers(0, 255),
    created=st.integers(0, 2**40),
    start=st.integers(0, 2**40),
    duration=st.integers(1, 2**32 - 1),
    base=bases,
    randomize_start=st.integers(-3600, 3600),
    randomize_duration=st.integers(-3600, 3600),
    description=texts,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(contents)
def test_encoding_round_trips_exactly(item: CommandContent) -> None:
    data = item.encode()
    again = CommandContent.decode(data)
    assert again == item
    assert again.encode() == data  # one content, one encoding


@settings(max_examples=200, deadline=None)
@given(contents, contents)
def test_different_contents_encode_differently(a: CommandContent, b: CommandContent) -> None:
    if a != b:
        assert a.encode() != b.encode()


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300), st.integers(0, 400), st.binary(max_size=8))
def test_decoding_junk_or_mutations_never_crashes(junk: bytes, at: int, patch: bytes) -> None:
    base = content("CN=x").encode()
    mutated = base[:at] + patch + base[at + len(patch) :]
    for data in (junk, mutated, b"DLSC\x01" + junk):
        with contextlib.suppress(MalformedCommand):
            CommandContent.decode(data)
        with contextlib.suppress(MalformedCommand):
            SignedCommand.decode(b"DLSG\x01" + data)
