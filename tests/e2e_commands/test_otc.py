"""One-time configuration codes: accepted once, on one device only; typos and forgeries refused."""

from __future__ import annotations

import contextlib

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given, settings
from hypothesis import strategies as st

from derlink.e2e import otc
from derlink.e2e.commands import BadSignature, CommandError, CounterCache, CounterReplay
from e2e_commands.signing_keys import Keys

NOW = 1_790_000_000


def issue(keys: Keys, device: str, counter: int, action: otc.Action, value: int) -> str:
    operator = keys.issued["alice"]
    public = keys.issued[device].certificate.public_key()
    assert isinstance(public, ec.EllipticCurvePublicKey)
    return otc.issue(
        otc.CodeContent(counter, action, value),
        issuer_key=operator.private_key,
        issuer_lfdi=operator.lfdi,
        device_public=public,
        device_lfdi=keys.lfdi(device),
    )


def enter(keys: Keys, device: str, code: str, cache: CounterCache) -> otc.CodeContent:
    operator = keys.issued["alice"]
    public = operator.certificate.public_key()
    assert isinstance(public, ec.EllipticCurvePublicKey)
    return otc.accept(
        code,
        device_key=keys.issued[device].private_key,
        device_lfdi=keys.lfdi(device),
        issuer_public=public,
        issuer_lfdi=operator.lfdi,
        counters=cache,
        now=NOW,
    )


def test_a_code_is_accepted_once_on_its_device_only(keys: Keys) -> None:
    code = issue(keys, "dev1", 1, otc.Action.EXPORT_LIMIT_100W, 50)
    assert len(code) == 20 and code.isdigit()
    other = CounterCache(otc.WINDOW)
    with pytest.raises(BadSignature):
        enter(keys, "dev2", code, other)
    assert other.originators == {}
    cache = CounterCache(otc.WINDOW)
    got = enter(keys, "dev1", otc.format_code(code), cache)
    assert (got.counter, got.action, got.value) == (1, otc.Action.EXPORT_LIMIT_100W, 50)
    with pytest.raises(CounterReplay):
        enter(keys, "dev1", code, cache)


def test_codes_out_of_order_within_the_window(keys: Keys) -> None:
    cache = CounterCache(otc.WINDOW)
    codes = {n: issue(keys, "dev1", n, otc.Action.CONNECT, n % 2) for n in (1, 2, 3, 40)}
    enter(keys, "dev1", codes[3], cache)
    enter(keys, "dev1", codes[1], cache)
    enter(keys, "dev1", codes[40], cache)
    with pytest.raises(CounterReplay):  # more than 32 below the highest
        enter(keys, "dev1", codes[2], cache)


def test_a_typo_is_caught_by_the_check_digit(keys: Keys) -> None:
    code = issue(keys, "dev1", 7, otc.Action.MAX_POWER_PCT, 60)
    for i in range(20):
        typo = code[:i] + str((int(code[i]) + 1) % 10) + code[i + 1 :]
        with pytest.raises(otc.MalformedCode):
            otc.read_code(typo)
    swapped = next(
        code[:i] + code[i + 1] + code[i] + code[i + 2 :]
        for i in range(19)
        if code[i] != code[i + 1] and {code[i], code[i + 1]} != {"0", "9"}
    )
    with pytest.raises(otc.MalformedCode):
        otc.read_code(swapped)
    for junk in ("", "1234", "x" * 20, "1" * 21):
        with pytest.raises(otc.MalformedCode):
            otc.read_code(junk)


def test_a_forged_code_with_a_valid_check_digit_is_refused(keys: Keys) -> None:
    code = issue(keys, "dev1", 9, otc.Action.EXPORT_LIMIT_100W, 50)
    payload = int(code[:-1]) ^ (1 << 31)  # another value, the same tag
    body = f"{payload:019d}"
    forged = body + str(otc.luhn_digit(body))
    cache = CounterCache(otc.WINDOW)
    with pytest.raises(BadSignature):
        enter(keys, "dev1", forged, cache)
    assert cache.originators == {}


def test_values_are_checked_at_issue() -> None:
    with pytest.raises(CommandError):
        otc.CodeContent(1, otc.Action.MAX_POWER_PCT, 101)
    with pytest.raises(CommandError):
        otc.CodeContent(0, otc.Action.CONNECT, 1)
    with pytest.raises(CommandError):
        otc.Action.parse("explode")
    assert otc.Action.parse("export-limit-100w") is otc.Action.EXPORT_LIMIT_100W


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=30))
def test_reading_any_text_never_crashes(text: str) -> None:
    with contextlib.suppress(otc.MalformedCode):
        otc.read_code(text)


@given(st.text("0123456789", min_size=1, max_size=30))
def test_luhn_digit_makes_a_valid_number(digits: str) -> None:
    full = digits + str(otc.luhn_digit(digits))
    total = 0
    for i, char in enumerate(reversed(full)):
        d = int(char) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    assert total % 10 == 0
