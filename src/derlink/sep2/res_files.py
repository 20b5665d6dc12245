"""File Download function set (IEEE 2030.5-2018): File(List), the file content at each File's
``fileURI``, and the FileStatus an EndDevice writes about its download and activation.

The content is served as ``application/octet-stream`` with its length, whole or as one byte
range (RFC 9110 §14: a device resuming a download asks ``Range: bytes=first-``), to the
devices of a targeted group only. A FileStatus is kept exactly as the device sent it: its
times (statusTime, nextRequestAttempt) are the device's own.
"""

from __future__ import annotations

import re
from dataclasses import replace

from derlink.audit.event import Outcome
from derlink.domain import Firmware, Publication
from derlink.domain import PublicationKind as Kind
from derlink.sep2 import hrefs
from derlink.sep2.app import Call, Router
from derlink.sep2.context import HeadEnd
from derlink.sep2.http import HttpError, Response
from derlink.sep2.res_common import answer, body
from derlink.sep2.res_publications import ListSpec, register_lists, service, visible
from derlink.sep2.xml import File, FileList, FileStatus, decode, encode

FILE = Kind.FILE
OCTET_STREAM = b"application/octet-stream"
RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def register(router: Router) -> None:
    register_lists(router, ListSpec(FILE, "FileList", FileList, "File", _file, subscribable=False))
    router.add("GET", "/file/{item}/content", "File")(get_content)
    router.add("GET", "/edev/{sfdi:int}/fs", "FileStatus")(get_file_status)
    router.add("PUT", "/edev/{sfdi:int}/fs", "FileStatus")(put_file_status)


def file_resource(item: Firmware) -> File:
    return File(
        href=hrefs.file(item.id),
        activateTime=item.activate_time,
        fileURI=hrefs.file(item.id, "content"),
        mfHwVer=item.hardware_version,
        mfID=item.manufacturer,
        mfModel=item.model,
        mfSerNum=item.serial,
        mfVer=item.version,
        size=item.size,
        type=int(item.file_type).to_bytes(2, "big"),
    )


async def _file(_headend: HeadEnd, item: Publication) -> File:
    assert isinstance(item, Firmware)
    return file_resource(item)


async def get_content(call: Call, item: str) -> Response:
    await visible(call, FILE, item)
    data = await service(call.headend).file_content(item)
    wanted = call.request.headers.get("range")
    if wanted is None:
        return _octets(200, data, [])
    first, last = _byte_range(wanted, len(data))
    content_range = f"bytes {first}-{last}/{len(data)}".encode()
    return _octets(206, data[first : last + 1], [(b"content-range", content_range)])


def _byte_range(header: str, size: int) -> tuple[int, int]:
    """The one range ``bytes=a-b``, ``bytes=a-`` or ``bytes=-n`` asks, clipped; else 416."""
    match = RANGE.match(header.strip())
    if match is None or match.groups() == ("", ""):
        raise HttpError(416, f"unsupported range {header!r}: ask one range of bytes")
    first_text, last_text = match.groups()
    if first_text:
        first, last = int(first_text), min(int(last_text or size - 1), size - 1)
    else:
        first, last = max(0, size - int(last_text)), size - 1
    if first > last:
        raise HttpError(416, f"range {header!r} is outside the {size} bytes")
    return first, last


def _octets(status: int, data: bytes, headers: list[tuple[bytes, bytes]]) -> Response:
    base = [(b"content-type", OCTET_STREAM), (b"content-length", str(len(data)).encode())]
    return Response(status, data, [*base, (b"accept-ranges", b"bytes"), *headers])


async def get_file_status(call: Call, sfdi: int) -> Response:
    device = await call.headend.device_by_sfdi(call.caller, sfdi)
    stored = await call.headend.repo.document(device.lfdi, "FileStatus")
    if stored is None:
        raise HttpError(404, f"EndDevice {sfdi} has not written its FileStatus")
    return answer(call, decode(stored, FileStatus))


async def put_file_status(call: Call, sfdi: int) -> Response:
    """Keep the device's FileStatus as sent; audited, as it reports firmware activation."""
    device = await call.headend.device_by_sfdi(call.caller, sfdi)
    doc = body(call, FileStatus)
    href = hrefs.file_status(sfdi)
    stored = encode(replace(doc, href=href))
    await call.headend.repo.put_document(device.lfdi, "FileStatus", stored, call.headend.now())
    await call.headend.audit_event(
        call.caller.lfdi,
        "sep2.put",
        f"href:{href}",
        Outcome.SUCCESS,
        resource="FileStatus",
        status=doc.status,
        file=doc.FileLink.href if doc.FileLink else None,
    )
    return Response.no_content()
