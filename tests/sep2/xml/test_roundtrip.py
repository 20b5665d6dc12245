"""Every declared type: encode → valid against the XSD → decode gives the same object.

Fully populated and minimal instances for all types, under both CSIP-AUS namespaces; then
Hypothesis over generated instances of every type.
"""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from derlink.sep2.xml import (
    CSIPAUS_V12,
    CSIPAUS_V13,
    DERCapability,
    Sep2Object,
    declared_types,
    decode,
    encode,
)
from sep2.xml.instances import full, minimal, strategy, strip_v13
from support.xsd import validate, validate_plain

TYPES = declared_types()
IDS = [cls.__name__ for cls in TYPES]


def roundtrip(obj: Sep2Object, csipaus_ns: str) -> bytes:
    data = encode(obj, csipaus_ns=csipaus_ns)
    validate(data, csipaus_ns)
    assert decode(data, type(obj)) == obj
    return data


@pytest.mark.parametrize("cls", TYPES, ids=IDS)
def test_full_instance_v13(cls: type[Sep2Object]) -> None:
    roundtrip(full(cls), CSIPAUS_V13)


@pytest.mark.parametrize("cls", TYPES, ids=IDS)
def test_full_instance_v12(cls: type[Sep2Object]) -> None:
    data = roundtrip(strip_v13(full(cls, v13=False)), CSIPAUS_V12)
    assert CSIPAUS_V13.encode() not in data


@pytest.mark.parametrize("cls", TYPES, ids=IDS)
def test_minimal_instance(cls: type[Sep2Object]) -> None:
    obj = minimal(cls)
    data = encode(obj)
    if cls is DERCapability:
        # csipaus-core.xsd requires doeModesSupported; without it the document is plain 2030.5.
        validate_plain(data)
    else:
        validate(data, CSIPAUS_V13)
        validate(encode(obj, csipaus_ns=CSIPAUS_V12), CSIPAUS_V12)
    assert decode(data, cls) == obj


PROPERTY = settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.mark.parametrize("cls", TYPES, ids=IDS)
@PROPERTY
@given(data=st.data())
def test_generated_instances_roundtrip_and_validate(
    cls: type[Sep2Object], data: st.DataObject
) -> None:
    v13 = data.draw(st.booleans(), label="v13")
    obj = data.draw(strategy(cls, v13=v13), label="obj")
    if isinstance(obj, DERCapability) and obj.doeModesSupported is None:
        obj = dataclasses.replace(obj, doeModesSupported=b"\x0f")  # mandatory in CSIP-AUS
    csipaus_ns = CSIPAUS_V13 if v13 else CSIPAUS_V12
    encoded = encode(obj, csipaus_ns=csipaus_ns)
    assert decode(encoded, cls) == obj
    validate(encoded, csipaus_ns)
