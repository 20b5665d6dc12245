"""LFDI and SFDI (IEEE 2030.5 6.3) and HardwareModuleName (RFC 4108)."""

from __future__ import annotations

import hashlib

import pytest
from cryptography import x509
from hypothesis import given
from hypothesis import strategies as st

from derlink.pki import (
    HardwareModuleName,
    PkiError,
    is_valid_sfdi,
    lfdi,
    normalise_lfdi,
    sfdi_check_digit,
    sfdi_from_lfdi,
)
from derlink.pki.asn1 import Asn1Error

VECTOR_LFDI = "3E4F45AB31EDFE5B67E343E5E4562E31984E23E5"
VECTOR_SFDI = 167261211391

lfdis = st.text(alphabet="0123456789abcdefABCDEF", min_size=40, max_size=40)


def test_vector() -> None:
    assert sfdi_from_lfdi(VECTOR_LFDI) == VECTOR_SFDI
    assert sfdi_from_lfdi(VECTOR_LFDI.lower()) == VECTOR_SFDI


def test_lfdi_is_first_160_bits_of_sha256_upper_case() -> None:
    der = b"\x30\x03\x02\x01\x01"
    assert lfdi(der) == hashlib.sha256(der).hexdigest()[:40].upper()


def test_normalise_lfdi_accepts_any_case_and_refuses_junk() -> None:
    assert normalise_lfdi(f"  {VECTOR_LFDI.lower()}\n") == VECTOR_LFDI
    for junk in ["", "xyz", VECTOR_LFDI[:-1], VECTOR_LFDI + "0", "G" + VECTOR_LFDI[1:]]:
        with pytest.raises(PkiError, match="not an LFDI"):
            normalise_lfdi(junk)


def test_largest_sfdi_has_twelve_digits() -> None:
    assert sfdi_from_lfdi("F" * 40) == 687194767357  # 2**36 - 1, digit sum 63, check digit 7
    assert sfdi_from_lfdi("0" * 40) == 0


@given(lfdis)
def test_sfdi_digit_sum_is_a_multiple_of_ten(text: str) -> None:
    value = sfdi_from_lfdi(text)
    assert sum(int(d) for d in str(value)) % 10 == 0
    assert len(str(value)) <= 12
    assert is_valid_sfdi(value)
    assert value // 10 == int(text[:9], 16)


@given(lfdis, st.data())
def test_changing_any_single_digit_breaks_the_check(text: str, data: st.DataObject) -> None:
    digits = str(sfdi_from_lfdi(text)).zfill(12)
    position = data.draw(st.integers(0, len(digits) - 1))
    replacement = data.draw(st.sampled_from([d for d in "0123456789" if d != digits[position]]))
    changed = digits[:position] + replacement + digits[position + 1 :]
    assert not is_valid_sfdi(int(changed))


@given(st.integers(0, 2**36 - 1))
def test_check_digit_completes_the_digit_sum(number: int) -> None:
    assert (sum(int(d) for d in str(number)) + sfdi_check_digit(number)) % 10 == 0


def test_hardware_module_name_round_trip_and_der() -> None:
    name = HardwareModuleName(x509.ObjectIdentifier("1.2.3.4"), b"INV-1")
    der = name.to_der()
    # SEQUENCE { OID 1.2.3.4, OCTET STRING "INV-1" }
    assert der == bytes.fromhex("300c" + "06032a0304" + "0405" + b"INV-1".hex())
    assert HardwareModuleName.from_der(der) == name
    assert name.serial_text == "INV-1"


@pytest.mark.parametrize(
    "junk",
    [
        b"",
        b"\x30\x00",
        b"\x04\x01A",
        bytes.fromhex("300c06032a03040405494e562d31") + b"\x00",  # trailing byte
        bytes.fromhex("30810c06032a03040405494e562d31"),  # long-form length: BER, not DER
    ],
)
def test_hardware_module_name_refuses_junk(junk: bytes) -> None:
    with pytest.raises(Asn1Error):
        HardwareModuleName.from_der(junk)
