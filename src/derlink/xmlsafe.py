"""The hardened XML parsing every derlink decoder shares (2030.5 bodies, MMS XER, SCL).

No entity is ever declared, expanded or fetched (XXE, billion laughs), no DTD is loaded, no
network is touched, and lxml's "huge tree" limits stay on. A document that declares a DOCTYPE
or an ENTITY is refused before it is parsed (:func:`declares_dtd`) and, for a DOCTYPE that
hides behind another encoding, after (:func:`has_dtd`). Each decoder raises its own error type
and applies its own size limit; this module only says yes or no.
"""

from __future__ import annotations

import threading
from typing import Any

from lxml import etree


def hardened_parser() -> etree.XMLParser:
    """A new lxml parser that resolves nothing and drops comments and processing
    instructions. lxml parsers must not be shared between threads: see :func:`parser`."""
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
        collect_ids=False,
    )


class _Parsers(threading.local):
    def __init__(self) -> None:
        self.parser = hardened_parser()


_PARSERS = _Parsers()


def parser() -> etree.XMLParser:
    """This thread's hardened parser (made once per thread)."""
    found: etree.XMLParser = _PARSERS.parser
    return found


def declares_dtd(data: bytes | bytearray | memoryview) -> bool:
    """Whether the raw document declares a DOCTYPE or an ENTITY (refused before parsing)."""
    raw = bytes(data) if isinstance(data, memoryview) else data
    return b"<!DOCTYPE" in raw or b"<!ENTITY" in raw


def has_dtd(root: Any) -> bool:
    """Whether the parsed document ``root`` belongs to carries a DOCTYPE or an internal DTD."""
    docinfo: Any = root.getroottree().docinfo
    return bool(docinfo.doctype) or docinfo.internalDTD is not None
