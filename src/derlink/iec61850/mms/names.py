"""IEC 61850-8-1 naming on MMS.

A 61850 data attribute ``IED1LD0/MMXU1.TotW.mag.f`` with FC ``MX`` is the MMS variable
``domain-specific {domainID "IED1LD0", itemID "MMXU1$MX$TotW$mag$f"}``: the domain is the
logical device name (IED name + LD inst), the item is ``LN$FC$DO$DA...``. Datasets are named
variable lists ``LLN0$<name>`` in the LD domain; report control blocks are ``LLN0$BR$<name>``
(buffered) or ``LLN0$RP$<name>`` (unbuffered). Identifiers hold at most 64 characters
(8-1 Ed.2) of ``A-Z a-z 0-9 _ $``, not starting with a digit.

The report layout (``Report``, ``build_report``, ``parse_report``, ...) lives in
:mod:`derlink.iec61850.mms.reports`; it is re-exported here for existing callers.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from derlink.iec61850.mms.errors import MmsNameError
from derlink.iec61850.mms.reports import OPT_FLDS as OPT_FLDS
from derlink.iec61850.mms.reports import REASON_CODES as REASON_CODES
from derlink.iec61850.mms.reports import REPORT_VARIABLE as REPORT_VARIABLE
from derlink.iec61850.mms.reports import Report as Report
from derlink.iec61850.mms.reports import build_report as build_report
from derlink.iec61850.mms.reports import is_report as is_report
from derlink.iec61850.mms.reports import parse_report as parse_report
from derlink.iec61850.mms.reports import report_data as report_data

MAX_IDENTIFIER = 64
ObjectName = tuple[str, Any]
"""An asn1tools value of ``ObjectName``."""

_IDENT_RE = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")
_PART_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|[0-9]+")
_ITEM_RE = re.compile(
    r"[A-Za-z_][A-Za-z0-9_]*(?:\$(?P<fc>[A-Z]{2})(?:\$(?:[A-Za-z_][A-Za-z0-9_]*|[0-9]+))*)?"
)
"""A whole item id: an LN, then optionally an FC-shaped part and data-name parts."""
FUNCTIONAL_CONSTRAINTS = frozenset(
    {"ST", "MX", "SP", "SV", "CF", "DC", "SG", "SE", "SR", "OR", "BL", "EX", "CO", "US", "MS"}
    | {"RP", "BR", "LG", "GO", "GS", "SC"}
)


def check_identifier(text: str, what: str = "identifier") -> str:
    """``text`` if it is a valid MMS Identifier for 61850, else :class:`MmsNameError`."""
    if not isinstance(text, str) or not _IDENT_RE.fullmatch(text):
        raise MmsNameError(f"invalid MMS {what}: {text!r}")
    if len(text) > MAX_IDENTIFIER:
        raise MmsNameError(f"MMS {what} longer than {MAX_IDENTIFIER} characters: {text!r}")
    return text


def _check_part(part: str, what: str) -> str:
    if not isinstance(part, str) or not _PART_RE.fullmatch(part):
        raise MmsNameError(f"invalid {what} {part!r} in an MMS name")
    return part


def _check_fc(fc: str) -> str:
    if fc not in FUNCTIONAL_CONSTRAINTS:
        raise MmsNameError(f"unknown functional constraint {fc!r}")
    return fc


@dataclass(frozen=True)
class ItemName:
    """The parts of an 8-1 item id: logical node, FC (None for the LN itself) and path."""

    ln: str
    fc: str | None = None
    path: tuple[str, ...] = ()

    def __str__(self) -> str:
        return item_id(self.ln, self.fc, self.path)


def _well_formed(item: str, parts: int) -> bool:
    """One-pass check that ``item`` of ``parts`` components is a valid item id (what the
    component checks below accept); False sends the caller to those for the exact error."""
    if len(item) > MAX_IDENTIFIER or item.count("$") != parts - 1:
        return False
    match = _ITEM_RE.fullmatch(item)
    return match is not None and (match["fc"] is None or match["fc"] in FUNCTIONAL_CONSTRAINTS)


def item_id(ln: str, fc: str | None = None, path: Sequence[str] = ()) -> str:
    """``LN``, ``LN$FC`` or ``LN$FC$DO$DA...`` (array indices are path parts of digits)."""
    if fc is not None or not path:
        try:
            text = ln if fc is None else "$".join((ln, fc, *path))
            if isinstance(text, str) and _well_formed(text, 1 if fc is None else 2 + len(path)):
                return text
        except TypeError:
            pass
    parts = [_check_part(ln, "logical node")]
    if fc is None:
        if path:
            raise MmsNameError("a data path needs a functional constraint")
    else:
        parts.append(_check_fc(fc))
        parts.extend(_check_part(p, "data name") for p in path)
    return check_identifier("$".join(parts), "item id")


def parse_item_id(item: str) -> ItemName:
    """Inverse of :func:`item_id`."""
    if isinstance(item, str) and _well_formed(item, item.count("$") + 1):
        ln, *rest = item.split("$")
        return ItemName(ln, rest[0], tuple(rest[1:])) if rest else ItemName(ln)
    check_identifier(item, "item id")
    parts = item.split("$")
    if any(p == "" for p in parts):
        raise MmsNameError(f"empty component in item id {item!r}")
    ln = _check_part(parts[0], "logical node")
    if len(parts) == 1:
        return ItemName(ln)
    fc = _check_fc(parts[1])
    return ItemName(ln, fc, tuple(_check_part(p, "data name") for p in parts[2:]))


def domain_specific(domain: str, item: str) -> ObjectName:
    return (
        "domain-specific",
        {"domainID": check_identifier(domain, "domain"), "itemID": check_identifier(item)},
    )


def mms_name(
    ld_domain: str, ln: str, fc: str | None = None, path: Sequence[str] = ()
) -> ObjectName:
    """The ObjectName of a 61850 object: domain = LD name, item = ``LN$FC$DO$DA...``."""
    item = item_id(ln, fc, path)  # checked there
    return ("domain-specific", {"domainID": check_identifier(ld_domain, "domain"), "itemID": item})


def split_object_name(name: ObjectName) -> tuple[str, str]:
    """``(domain, item)`` of a domain-specific ObjectName."""
    try:
        kind, value = name
        if kind != "domain-specific":
            raise MmsNameError(f"expected a domain-specific name, got {kind}")
        return value["domainID"], value["itemID"]
    except (TypeError, ValueError, KeyError):
        raise MmsNameError(f"malformed ObjectName {name!r}") from None


def parse_mms_name(name: ObjectName) -> tuple[str, ItemName]:
    """Inverse of :func:`mms_name`: ``(ld_domain, ItemName)``."""
    domain, item = split_object_name(name)
    return check_identifier(domain, "domain"), parse_item_id(item)


def dataset_name(ld_domain: str, ln: str, name: str) -> ObjectName:
    """Named variable list of a dataset: ``LLN0$<name>`` in the LD domain."""
    _check_part(name, "dataset name")
    return domain_specific(ld_domain, check_identifier(f"{_check_part(ln, 'LN')}${name}"))


def parse_dataset_name(name: ObjectName) -> tuple[str, str, str]:
    """``(ld_domain, ln, dataset)`` of a dataset ObjectName."""
    domain, item = split_object_name(name)
    parts = item.split("$")
    if len(parts) != 2:
        raise MmsNameError(f"not a dataset item id: {item!r}")
    return domain, _check_part(parts[0], "LN"), _check_part(parts[1], "dataset name")


def rcb_name(ld_domain: str, ln: str, rcb: str, buffered: bool) -> ObjectName:
    """``LLN0$BR$<rcb>`` (buffered) or ``LLN0$RP$<rcb>`` (unbuffered)."""
    return mms_name(ld_domain, ln, "BR" if buffered else "RP", (rcb,))


def parse_rcb_name(name: ObjectName) -> tuple[str, str, str, bool]:
    """``(ld_domain, ln, rcb, buffered)`` of a report control block ObjectName."""
    domain, parsed = parse_mms_name(name)
    if parsed.fc not in ("BR", "RP") or len(parsed.path) != 1:
        raise MmsNameError(f"not a report control block: {parsed}")
    return domain, parsed.ln, parsed.path[0], parsed.fc == "BR"
