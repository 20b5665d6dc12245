"""Functional constraints and object references (IEC 61850-7-2 Ed.2 clause 6.2 / IEC 61850-6).

An object reference names something in a server: ``LDName/LNName[.DO[.SDO...][.DA[.BDA...]]]``,
where ``LDName`` is the logical-device name on the wire (IED name + LD inst unless the SCL
gives ``ldName``), ``LNName`` is ``prefix + lnClass + inst`` and every later element may carry
an array index ``name(n)``. A reference with only ``LDName`` names a logical device.

The rules enforced here are those of the SCL 2007B simple types (tLDName, tPrefix, tLNInst,
tDataName, tRestrName1stL, tAcsiName) and the 129-character limit of ObjectReference
(VISIBLE STRING129, 7-2 Ed.2). Names of datasets and control blocks share the reference syntax
(``LD/LLN0.dsName``), so :meth:`ObjectReference.parse` accepts any ACSI name after the LN; the
stricter DO/DA checks are :func:`check_do_name` and :func:`check_da_name`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from derlink.iec61850.model.errors import BadReference

MAX_REFERENCE = 129
MAX_LD_NAME = 64
MAX_PREFIX = 11
MAX_LN_INST = 12
MAX_DO_NAME = 12
MAX_DA_NAME = 60
MAX_ACSI_NAME = 32

_LD_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_]*")
_PREFIX = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
_LN_CLASS = re.compile(r"(?:LLN0|[A-Z]{4})")
_LN_NAME = re.compile(r"(?P<prefix>[A-Za-z][A-Za-z0-9_]*?)?(?P<cls>[A-Z]{4})(?P<inst>[0-9]*)")
_ELEMENT = re.compile(r"(?P<name>[A-Za-z][A-Za-z0-9_]*)(?:\((?P<index>0|[1-9][0-9]{0,9})\))?")
_DO_NAME = re.compile(r"[A-Z][A-Za-z0-9]*")
_DA_NAME = re.compile(r"[a-z][A-Za-z0-9]*")
_SDO_NAME = re.compile(r"[A-Za-z][A-Za-z0-9]*")
_ACSI_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")


class FC(StrEnum):
    """Functional constraints of IEC 61850-7-2 Ed.2 table 20 (two upper-case letters)."""

    ST = "ST"  # status information
    MX = "MX"  # measurands
    SP = "SP"  # set point
    SV = "SV"  # substitution
    CF = "CF"  # configuration
    DC = "DC"  # description
    SG = "SG"  # setting group
    SE = "SE"  # setting group editable
    SR = "SR"  # service response
    OR = "OR"  # operate received
    BL = "BL"  # blocking
    EX = "EX"  # extended definition
    CO = "CO"  # control
    US = "US"  # unicast SV
    MS = "MS"  # multicast SV
    RP = "RP"  # unbuffered report
    BR = "BR"  # buffered report
    LG = "LG"  # log
    GO = "GO"  # GOOSE

    @classmethod
    def parse(cls, text: str) -> FC:
        """The FC named by ``text``; :class:`BadReference` for anything else."""
        try:
            return cls(text)
        except ValueError:
            raise BadReference(f"unknown functional constraint {text!r}") from None


def check_ld_name(name: str) -> str:
    """``name`` if it is a valid LD name (tLDName/tLDInst, at most 64 characters)."""
    if not name or len(name) > MAX_LD_NAME or not _LD_NAME.fullmatch(name):
        raise BadReference(f"bad logical-device name {name!r} (letters, digits, _; max 64)")
    return name


def check_ied_name(name: str) -> str:
    """``name`` if it is a valid IED name (tIEDName: letter first, letters/digits/_, max 64)."""
    if len(name) > MAX_LD_NAME or not _ACSI_NAME.fullmatch(name):
        raise BadReference(f"bad IED name {name!r} (letter first, letters/digits/_, max 64)")
    return name


def split_ln_name(name: str) -> tuple[str, str, str]:
    """``(prefix, lnClass, inst)`` of an LN name such as ``CSWI1``, ``Q0XCBR1`` or ``LLN0``."""
    if name == "LLN0":
        return "", "LLN0", ""
    match = _LN_NAME.fullmatch(name)
    if match is None:
        raise BadReference(
            f"bad logical-node name {name!r} (want prefix + 4-letter class + instance number)"
        )
    prefix = match.group("prefix") or ""
    cls, inst = match.group("cls"), match.group("inst")
    if len(prefix) > MAX_PREFIX:
        raise BadReference(f"LN prefix of {name!r} is longer than {MAX_PREFIX} characters")
    if len(inst) > MAX_LN_INST:
        raise BadReference(f"LN instance of {name!r} is longer than {MAX_LN_INST} digits")
    return prefix, cls, inst


def ln_name(prefix: str, ln_class: str, inst: str) -> str:
    """The LN name for SCL's ``prefix``/``lnClass``/``inst``, checked."""
    if prefix and (len(prefix) > MAX_PREFIX or not _PREFIX.fullmatch(prefix)):
        raise BadReference(f"bad LN prefix {prefix!r}")
    if not _LN_CLASS.fullmatch(ln_class):
        raise BadReference(f"bad lnClass {ln_class!r} (four upper-case letters or LLN0)")
    if inst and (len(inst) > MAX_LN_INST or not inst.isdigit() or not inst.isascii()):
        raise BadReference(f"bad LN instance {inst!r} (1 to 12 digits)")
    if ln_class == "LLN0" and (inst or prefix):
        raise BadReference("LLN0 takes no prefix and no instance number")
    name = prefix + ln_class + inst
    if split_ln_name(name) != (prefix, ln_class, inst):
        raise BadReference(f"LN name {name!r} does not split back into its parts")
    return name


def check_do_name(name: str) -> str:
    """``name`` if it is a valid DO/SDO name (tDataName: upper-case first, max 12)."""
    if len(name) > MAX_DO_NAME or not _DO_NAME.fullmatch(name):
        raise BadReference(f"bad data-object name {name!r} (upper-case first letter, max 12)")
    return name


def check_sdo_name(name: str) -> str:
    """``name`` if it is a valid sub-data-object name (``phsA``, ``net``, ``Crv``: a letter
    first, letters and digits, max 60; 7-3 SDOs of WYE/DEL start lower-case)."""
    if len(name) > MAX_DA_NAME or not _SDO_NAME.fullmatch(name):
        raise BadReference(f"bad sub-data-object name {name!r}")
    return name


# Attribute names of 7-3 that start upper-case (SCL tPredefinedAttributeNameEnum).
PREDEFINED_UPPER_DA_NAMES = frozenset(
    {"SBO", "SBOw", "Oper", "Cancel", "T", "Test", "Check", "SIUnit"}
)


def check_da_name(name: str) -> str:
    """``name`` if it is a valid DA/BDA name (tRestrName1stL: lower-case first, max 60, or
    one of the predefined upper-case names such as ``Oper``, ``SBOw``, ``T``, ``SIUnit``)."""
    if name in PREDEFINED_UPPER_DA_NAMES:
        return name
    if len(name) > MAX_DA_NAME or not _DA_NAME.fullmatch(name):
        raise BadReference(f"bad data-attribute name {name!r} (lower-case first letter)")
    return name


def check_acsi_name(name: str, what: str = "name") -> str:
    """``name`` if it is a valid dataset / control-block name (tAcsiName, max 32)."""
    if len(name) > MAX_ACSI_NAME or not _ACSI_NAME.fullmatch(name):
        raise BadReference(f"bad {what} {name!r} (letter first, letters/digits/_, max 32)")
    return name


def split_element(element: str) -> tuple[str, int | None]:
    """``("crvPts", 3)`` for ``"crvPts(3)"``, ``("mag", None)`` for ``"mag"``."""
    match = _ELEMENT.fullmatch(element)
    if match is None:
        raise BadReference(f"bad reference element {element!r}")
    index = match.group("index")
    return match.group("name"), (int(index) if index is not None else None)


@dataclass(frozen=True, slots=True)
class ObjectReference:
    """``ld/ln.path[0].path[1]...``; ``ln == ""`` names the logical device itself."""

    ld: str
    ln: str = ""
    path: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        check_ld_name(self.ld)
        if not self.ln:
            if self.path:
                raise BadReference(f"reference {self.ld!r} has data names but no logical node")
            return
        split_ln_name(self.ln)
        for element in self.path:
            name, _ = split_element(element)
            limit = MAX_DA_NAME if name[0].islower() else MAX_ACSI_NAME
            if len(name) > limit:
                raise BadReference(f"name {name!r} is longer than {limit} characters")
        text = str(self)
        if len(text) > MAX_REFERENCE:
            raise BadReference(
                f"reference {text[:40]}... is longer than {MAX_REFERENCE} characters"
            )

    @classmethod
    def parse(cls, text: str) -> ObjectReference:
        """Parse ``LD/LN.DO.DA`` (or ``LD`` or ``LD/LN``); :class:`BadReference` if malformed."""
        if not isinstance(text, str):
            raise BadReference(f"object reference must be text, not {type(text).__name__}")
        if len(text) > MAX_REFERENCE:
            raise BadReference(f"reference {text[:40]!r}... is longer than {MAX_REFERENCE}")
        ld, slash, rest = text.partition("/")
        if not slash:
            return cls(ld)
        if not rest:
            raise BadReference(f"reference {text!r} has an empty logical-node part")
        ln, *path = rest.split(".")
        if any(not element for element in path):
            raise BadReference(f"reference {text!r} has an empty name between dots")
        return cls(ld, ln, tuple(path))

    def __str__(self) -> str:
        if not self.ln:
            return self.ld
        return "/".join((self.ld, ".".join((self.ln, *self.path))))

    @property
    def ln_ref(self) -> ObjectReference:
        """The reference of the logical node this reference lies in."""
        return ObjectReference(self.ld, self.ln)

    @property
    def ld_ref(self) -> ObjectReference:
        """The reference of the logical device this reference lies in."""
        return ObjectReference(self.ld)

    @property
    def parent(self) -> ObjectReference | None:
        """One level up (DA -> DO -> LN -> LD -> None)."""
        if self.path:
            return ObjectReference(self.ld, self.ln, self.path[:-1])
        if self.ln:
            return ObjectReference(self.ld)
        return None

    @property
    def name(self) -> str:
        """The last element of the reference (``ld`` or ``ln`` for LD / LN references)."""
        if self.path:
            return self.path[-1]
        return self.ln or self.ld

    def child(self, *names: str) -> ObjectReference:
        """This reference extended by ``names`` (one LN name first when this names an LD)."""
        if not self.ln:
            if not names:
                return self
            return ObjectReference(self.ld, names[0], tuple(names[1:]))
        return ObjectReference(self.ld, self.ln, (*self.path, *names))

    def with_ld(self, ld: str) -> ObjectReference:
        """The same reference in another logical device (e.g. bound to another IED name)."""
        return ObjectReference(ld, self.ln, self.path)

    def startswith(self, other: ObjectReference) -> bool:
        """Whether ``other`` is this reference or one of its ancestors."""
        if self.ld != other.ld:
            return False
        if not other.ln:
            return True
        return self.ln == other.ln and self.path[: len(other.path)] == other.path


@dataclass(frozen=True, slots=True)
class FCDA:
    """A functionally constrained data (attribute): ``ref[FC]`` (7-2 Ed.2 clause 7.3 / 7.4).

    The same class serves FCD (``ref`` ends at a DO) and FCDA (``ref`` ends at a DA); these
    are the dataset members and the unit of GetDataValues / SetDataValues.
    """

    ref: ObjectReference
    fc: FC

    def __post_init__(self) -> None:
        if not isinstance(self.ref, ObjectReference):
            raise BadReference(f"FCDA needs an ObjectReference, not {type(self.ref).__name__}")
        if not isinstance(self.fc, FC):
            raise BadReference(f"FCDA needs an FC, not {self.fc!r}")
        if not self.ref.path:
            raise BadReference(f"FCDA {self.ref} must name a data object or attribute")

    @classmethod
    def parse(cls, text: str) -> FCDA:
        """Parse ``LD/LN.DO.DA[FC]``."""
        if not isinstance(text, str) or not text.endswith("]") or "[" not in text:
            raise BadReference(f"FCDA {text!r} must look like LD/LN.DO[FC]")
        ref, _, fc = text[:-1].rpartition("[")
        return cls(ObjectReference.parse(ref), FC.parse(fc))

    @classmethod
    def of(cls, ref: str | ObjectReference, fc: str | FC) -> FCDA:
        """Convenience constructor from text or parsed parts."""
        parsed = ObjectReference.parse(ref) if isinstance(ref, str) else ref
        return cls(parsed, fc if isinstance(fc, FC) else FC.parse(fc))

    def __str__(self) -> str:
        return f"{self.ref}[{self.fc}]"


FCD = FCDA

__all__ = [
    "FC",
    "FCD",
    "FCDA",
    "MAX_REFERENCE",
    "ObjectReference",
    "check_acsi_name",
    "check_da_name",
    "check_do_name",
    "check_ied_name",
    "check_ld_name",
    "check_sdo_name",
    "ln_name",
    "split_element",
    "split_ln_name",
]
