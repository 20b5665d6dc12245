"""Property tests of the codecs and the replay window: round trips, and no crash on garbage."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from derlink.e2e import E2EError, MalformedMessage, Reordered, Replay, ReplayWindow, records, tokens
from derlink.e2e.errors import ConfigurationError

OIDS = st.sampled_from([tokens.OID_AES128_GCM, tokens.OID_AES256_GCM, tokens.OID_SHA256])

handshakes = st.builds(
    tokens.HandshakeTbs,
    kind=st.sampled_from(["request", "accept"]),
    association_id=st.binary(min_size=16, max_size=16),
    epoch=st.integers(0, 2**32 - 1),
    time_ms=st.integers(0, 2**64 - 1),
    certificate_path=st.lists(st.binary(min_size=1, max_size=300), min_size=1, max_size=4).map(
        tuple
    ),
    ecdh_key=st.binary(min_size=65, max_size=65),
    hkdf_hash=OIDS,
    aead=st.lists(OIDS, min_size=1, max_size=4).map(tuple),
    request_hash=st.none() | st.binary(min_size=32, max_size=32),
)


@given(handshakes, st.binary(min_size=8, max_size=80))
def test_handshake_tokens_round_trip(tbs: tokens.HandshakeTbs, signature: bytes) -> None:
    data = tokens.encode_token(tbs, signature)
    token = tokens.decode_token(data)
    assert token.tbs == tbs and token.signature == signature
    assert token.tbs_der == tbs.to_der()  # the signed bytes are the bytes on the wire


@given(handshakes, st.data())
def test_any_change_to_a_token_is_refused_or_decodes_differently(
    tbs: tokens.HandshakeTbs, data: st.DataObject
) -> None:
    encoded = tokens.encode_token(tbs, b"s" * 70)
    index = data.draw(st.integers(0, len(encoded) - 1))
    changed = bytearray(encoded)
    changed[index] ^= data.draw(st.integers(1, 255))
    try:
        token = tokens.decode_token(bytes(changed))
    except MalformedMessage:
        return
    original = (tbs, tokens.OID_ECDSA_SHA256, b"s" * 70)
    assert (token.tbs, token.signature_algorithm, token.signature) != original


@given(st.binary(max_size=600))
def test_random_bytes_are_never_a_crash(data: bytes) -> None:
    with contextlib.suppress(MalformedMessage):
        tokens.decode_token(data)
    with pytest.raises(E2EError):
        records.parse(bytes([records.CONTENT_RECORD + 1]) + data)
    with contextlib.suppress(E2EError):
        records.parse(bytes([records.CONTENT_RECORD, 1, 0]) + data)


@given(
    size=st.integers(1, 128),
    sequence=st.lists(st.integers(0, 300), max_size=200),
)
def test_replay_window_matches_a_model(size: int, sequence: list[int]) -> None:
    window = ReplayWindow(size)
    seen: set[int] = set()
    highest = -1
    for number in sequence:
        if number in seen and number > highest - size:
            with pytest.raises(Replay):
                window.accept(number)
        elif number <= highest - size:
            with pytest.raises(Reordered):
                window.accept(number)
        else:
            window.accept(number)
            seen.add(number)
            highest = max(highest, number)
        assert window.highest == highest


def test_a_huge_jump_does_not_blow_up() -> None:
    window = ReplayWindow(64)
    window.accept(0)
    window.accept(2**63)
    with pytest.raises(Reordered):
        window.accept(1)
    window.accept(2**63 - 1)


def test_window_size_bounds() -> None:
    for size in (0, 4097):
        with pytest.raises(ConfigurationError):
            ReplayWindow(size)


def test_times_must_be_aware() -> None:
    from datetime import datetime

    with pytest.raises(ValueError):
        tokens.to_millis(datetime(2025, 1, 1))


def test_wire_times_out_of_range_are_malformed() -> None:
    assert tokens.from_millis(0).year == 1970
    assert tokens.from_millis(253402300799999).year == 9999
    with pytest.raises(MalformedMessage):
        tokens.from_millis(2**64 - 1)
