"""IEC 62351-8 roles and the IECUserRoles extension codec."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from derlink.pki import (
    PkiError,
    Role,
    UserRoleInfo,
    asn1,
    decode_user_roles,
    encode_user_roles,
    parse_role,
)
from derlink.pki.asn1 import Asn1Error

# UserRoleInfo{userRole {0, 1}, aor "derlink", revision 1, roleDefinition "IEC62351-8"},
# worked out by hand from the ASN.1 of IEC 62351-8 9.5.1.
OUR_VECTOR = bytes.fromhex(
    "3022"  # IECUserRoles SEQUENCE OF
    "3020"  # UserRoleInfo SEQUENCE
    "3006020100020101"  # userRole SEQUENCE OF RoleId {0, 1}
    "0c07" + b"derlink".hex() + "020101"  # aor, revision
    "0c0a" + b"IEC62351-8".hex()  # roleDefinition
)
# A value seen in public interoperability tests of the extension: role 255 (no standard role),
# aor "Outstation", revision 255, roleDefinition "IEC62351-8", operation change (3).
PUBLIC_VECTOR = bytes.fromhex(
    "302730253004020200ff0c0a4f757473746174696f6e020200ff0c0a49454336323335312d380a0103"
)


def test_role_numbers_are_iec_62351_8() -> None:
    assert [(r.name, r.value) for r in Role] == [
        ("VIEWER", 0),
        ("OPERATOR", 1),
        ("ENGINEER", 2),
        ("INSTALLER", 3),
        ("SECADM", 4),
        ("SECAUD", 5),
        ("RBACMNT", 6),
    ]


def test_parse_role_is_case_insensitive() -> None:
    assert parse_role("operator") is Role.OPERATOR
    assert parse_role(" SecAdm ") is Role.SECADM
    with pytest.raises(PkiError, match="unknown role 'pilot'"):
        parse_role("pilot")


def test_encode_matches_the_hand_made_vector() -> None:
    info = UserRoleInfo((Role.VIEWER, Role.OPERATOR), "derlink")
    assert encode_user_roles([info]) == OUR_VECTOR
    assert decode_user_roles(OUR_VECTOR) == (info,)


def test_public_vector_decodes_structurally() -> None:
    value = asn1.decode("IECUserRoles", PUBLIC_VECTOR)
    assert value == [
        {
            "userRole": [255],
            "aor": "Outstation",
            "revision": 255,
            "roleDefinition": "IEC62351-8",
            "operation": "change",
        }
    ]
    with pytest.raises(Asn1Error, match="role id 255 is not a standard"):
        decode_user_roles(PUBLIC_VECTOR)


@given(
    st.lists(st.sampled_from(list(Role)), min_size=1, unique=True).map(tuple),
    st.text(min_size=1, max_size=64),
    st.integers(0, 255),
)
def test_round_trip(roles: tuple[Role, ...], aor: str, revision: int) -> None:
    info = UserRoleInfo(roles, aor, revision)
    assert decode_user_roles(encode_user_roles([info])) == (info,)


@pytest.mark.parametrize(
    "junk",
    [
        b"",
        b"\x30\x00",  # no UserRoleInfo
        bytes.fromhex("3003020101"),  # wrong tag inside SEQUENCE OF (hangs asn1tools' DER codec)
        bytes.fromhex("30093007300030"),  # truncated
        OUR_VECTOR + b"\x00",  # trailing byte
        bytes.fromhex("30233021300702020000020101") + OUR_VECTOR[12:],  # non-minimal INTEGER
    ],
)
def test_decode_refuses_junk(junk: bytes) -> None:
    with pytest.raises(Asn1Error):
        decode_user_roles(junk)


def test_encode_refuses_out_of_range_values() -> None:
    with pytest.raises(PkiError, match="invalid roles"):
        encode_user_roles([UserRoleInfo((Role.VIEWER,), "x" * 65)])
    with pytest.raises(PkiError, match="invalid roles"):
        encode_user_roles([UserRoleInfo((Role.VIEWER,), "aor", revision=256)])


@pytest.mark.timeout(120)
@settings(max_examples=400)
@given(st.binary(max_size=64))
def test_decode_of_arbitrary_bytes_ends_in_a_value_or_asn1_error(data: bytes) -> None:
    with contextlib.suppress(Asn1Error):
        decode_user_roles(data)


@pytest.mark.timeout(120)
@settings(max_examples=400)
@given(st.integers(0, len(OUR_VECTOR) - 1), st.integers(0, 255))
def test_decode_of_mutated_vector_ends_in_a_value_or_asn1_error(pos: int, byte: int) -> None:
    data = OUR_VECTOR[:pos] + bytes([byte]) + OUR_VECTOR[pos + 1 :]
    with contextlib.suppress(Asn1Error):
        decode_user_roles(data)
