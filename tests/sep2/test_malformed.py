"""Hostile and broken requests: a clear status and Error body, no state change, no crash."""

from __future__ import annotations

import asyncio
import gzip

import pytest
from sqlalchemy import func, select

from derlink.config import load_config
from derlink.sep2.xml import MEDIA_TYPE, Error, decode
from derlink.store import Database
from derlink.store.schema import (
    ControlRow,
    DeviceResourceRow,
    DeviceRow,
    LogEventRow,
    MirrorUsagePointRow,
    ReadingRow,
    ResponseRow,
    SubscriptionRow,
)
from support.xsd import validate

from .conftest import Deployment

TABLES = (
    DeviceRow,
    ControlRow,
    ResponseRow,
    SubscriptionRow,
    MirrorUsagePointRow,
    ReadingRow,
    DeviceResourceRow,
    LogEventRow,
)

XXE = (
    b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    b'<DERStatus xmlns="urn:ieee:std:2030.5:ns"><readingTime>&x;</readingTime></DERStatus>'
)
LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa">'
    + b"".join(
        f'<!ENTITY a{i} "{"&a;" * 10 if i == 0 else f"&a{i - 1};" * 10}">'.encode()
        for i in range(9)
    )
    + b']><DERStatus xmlns="urn:ieee:std:2030.5:ns"><readingTime>&a8;</readingTime>'
    b"</DERStatus>"
)
EXTERNAL_DTD = (
    b'<?xml version="1.0"?><!DOCTYPE DERStatus SYSTEM "http://127.0.0.1:9/x.dtd">'
    b'<DERStatus xmlns="urn:ieee:std:2030.5:ns"><readingTime>1</readingTime>'
    b"</DERStatus>"
)
GOOD_STATUS = b'<DERStatus xmlns="urn:ieee:std:2030.5:ns"><readingTime>1</readingTime></DERStatus>'


def counts(deployment: Deployment) -> dict[str, int]:
    async def work() -> dict[str, int]:
        url = load_config(deployment.home).database_url(deployment.home)
        async with Database(url) as db, db.sessions() as s:
            return {
                t.__tablename__: int(await s.scalar(select(func.count()).select_from(t)) or 0)
                for t in TABLES
            }

    return asyncio.run(work())


def cases(sfdi: int) -> list[tuple[str, str, bytes, dict[str, str], int]]:
    ders = f"/edev/{sfdi}/der/1/ders"
    big = b"<DERStatus " + b" " * (300 * 1024) + b'xmlns="urn:ieee:std:2030.5:ns"/>'
    bomb = gzip.compress(b"<DERStatus>" + b" " * (20 * 1024 * 1024) + b"</DERStatus>")
    xml = {"content-type": MEDIA_TYPE}
    return [
        ("PUT", ders, b"this is not xml", xml, 400),
        ("PUT", ders, b"<DERStatus xmlns='urn:ieee:std:2030.5:ns'><readingTime>1", xml, 400),
        ("PUT", ders, XXE, xml, 400),
        ("PUT", ders, LAUGHS, xml, 400),
        ("PUT", ders, EXTERNAL_DTD, xml, 400),
        ("PUT", ders, GOOD_STATUS.replace(b"urn:ieee:std:2030.5:ns", b"urn:other"), xml, 400),
        ("PUT", ders, GOOD_STATUS.replace(b"DERStatus", b"DERSettings"), xml, 400),
        ("PUT", ders, GOOD_STATUS.replace(b">1<", b">-1x<"), xml, 400),
        ("PUT", ders, GOOD_STATUS, {"content-type": "application/json"}, 415),
        ("PUT", ders, GOOD_STATUS, {"content-type": MEDIA_TYPE, "content-encoding": "br"}, 415),
        ("PUT", ders, big, xml, 413),
        ("PUT", ders, bomb, {**xml, "content-encoding": "gzip"}, 413),
        ("PUT", "/no/such/resource", GOOD_STATUS, xml, 404),
        ("DELETE", "/dcap", b"", xml, 405),
        (
            "POST",
            f"/edev/{sfdi}/sub",
            b'<Subscription xmlns="urn:ieee:std:2030.5:ns">'
            b"<subscribedResource>/edev</subscribedResource>"
            b"<encoding>0</encoding><level>+S1</level><limit>1</limit>"
            b"<notificationURI>https://127.0.0.1:1/n</notificationURI></Subscription>",
            xml,
            400,
        ),
        (
            "POST",
            "/mup",
            b'<MirrorUsagePoint xmlns="urn:ieee:std:2030.5:ns"><mRID>00</mRID></MirrorUsagePoint>',
            xml,
            400,
        ),
        (
            "POST",
            "/rsps/feeder-1.red/rsp",
            b'<DERControlResponse xmlns="urn:ieee:std:2030.5:ns"><endDeviceLFDI>'
            + b"AB" * 20
            + b"</endDeviceLFDI><status>1</status><subject>"
            + b"00" * 16
            + b"</subject></DERControlResponse>",
            xml,
            404,
        ),
    ]


def test_bad_requests_get_errors_and_change_nothing(deployment: Deployment) -> None:
    c = deployment.client("dev1")
    before = counts(deployment)
    for method, href, body, headers, status in cases(deployment.sfdi("dev1")):
        response = c.http.request(method, href, content=body, headers=headers)
        assert response.status_code == status, (
            href,
            body[:60],
            response.status_code,
            response.headers.get("x-derlink-error"),
        )
        assert response.headers["x-derlink-error"]
        validate(response.content)
        assert isinstance(decode(response.content), Error)
    assert counts(deployment) == before
    c.get("/dcap")  # still serving


def test_the_good_request_after_them_is_stored(deployment: Deployment) -> None:
    c = deployment.client("dev1")
    ders = f"/edev/{deployment.sfdi('dev1')}/der/1/ders"
    c.send(
        "PUT", ders, gzip.compress(GOOD_STATUS), expect=204, headers={"content-encoding": "gzip"}
    )
    c.get(ders)


@pytest.mark.parametrize("namespace", [b"http://ieee.org/2030.5", b"urn:ieee:std:2030.5:ns"])
def test_both_namespaces_are_accepted(deployment: Deployment, namespace: bytes) -> None:
    c = deployment.client("dev1")
    body = GOOD_STATUS.replace(b"urn:ieee:std:2030.5:ns", namespace)
    c.send("PUT", f"/edev/{deployment.sfdi('dev1')}/der/1/ders", body, expect=204)


def test_refusals_are_audited(deployment: Deployment) -> None:
    c = deployment.client("dev1")
    c.http.put(
        f"/edev/{deployment.sfdi('dev2')}/der/1/ders",
        content=GOOD_STATUS,
        headers={"content-type": MEDIA_TYPE},
    )

    async def last() -> dict[str, object]:
        from derlink.audit.service import open_audit_log

        url = load_config(deployment.home).database_url(deployment.home)
        async with open_audit_log(deployment.home, url, write=False) as log:
            size = await log.size()
            return [r async for r in log.records(size - 1)][-1].record.to_json()

    record = asyncio.run(last())
    assert record["outcome"] == "denied"
    assert record["actor"] == f"lfdi:{deployment.lfdi('dev1')}"
