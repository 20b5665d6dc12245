"""Helpers every resource module uses: encode an answer, decode a body, page a list."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from derlink.sep2.app import Call
from derlink.sep2.http import Response
from derlink.sep2.xml import ListLink, Sep2Object, decode, encode

T = TypeVar("T", bound=Sep2Object)
ITEM = TypeVar("ITEM")


def answer(call: Call, obj: Sep2Object, status: int = 200) -> Response:
    return Response.xml(encode(obj, csipaus_ns=call.headend.settings.csipaus_ns), status)


def body(call: Call, expected: type[T] | tuple[type[T], ...]) -> T:
    limit = call.headend.settings.max_body_bytes
    return decode(call.request.body, expected, max_bytes=limit)


def page(call: Call, items: Sequence[ITEM], default_limit: int = 1) -> tuple[list[ITEM], int]:
    """The page of ``items`` the query asks for (``s``, ``l``; 6.4), and ``all``."""
    paging = call.request.paging(default_limit)
    return paging.window(list(items)), len(items)


def list_link(href: str, count: int | None) -> ListLink:
    return ListLink(href=href, all=count)
