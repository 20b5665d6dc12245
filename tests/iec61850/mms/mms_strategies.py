"""Hypothesis strategies producing asn1tools values of the MMS module (mms.asn).

DEFAULT components are always present so that decode(encode(v)) == v exactly.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

identifiers = st.from_regex(r"[A-Za-z_$][A-Za-z0-9_$]{0,30}", fullmatch=True)
unsigned32 = st.integers(0, 2**31 - 1)
integer16 = st.integers(-(2**15), 2**15 - 1)
visible_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40)
xml_text = st.text(
    st.characters(
        blacklist_categories=["Cs"],
        blacklist_characters="".join(map(chr, [*range(0, 9), 11, 12, *range(14, 32)]))
        + "\ufffe\uffff",
    ),
    max_size=40,
)
oids = st.lists(st.integers(0, 2**32), min_size=1, max_size=6).map(
    lambda rest: ".".join(str(n) for n in [1, *rest])
)


@st.composite
def bit_strings(draw: Any, max_bits: int = 40) -> tuple[bytes, int]:
    count = draw(st.integers(0, max_bits))
    bits = draw(st.lists(st.booleans(), min_size=count, max_size=count))
    raw = bytearray((count + 7) // 8)
    for i, bit in enumerate(bits):
        if bit:
            raw[i // 8] |= 0x80 >> (i % 8)
    return bytes(raw), count


simple_data = st.one_of(
    st.tuples(st.just("boolean"), st.booleans()),
    st.tuples(st.just("bit-string"), bit_strings()),
    st.tuples(st.just("integer"), st.integers(-(2**70), 2**70)),
    st.tuples(st.just("unsigned"), st.integers(0, 2**70)),
    st.tuples(st.just("floating-point"), st.binary(min_size=1, max_size=9)),
    st.tuples(st.just("octet-string"), st.binary(max_size=40)),
    st.tuples(st.just("visible-string"), visible_text),
    st.tuples(
        st.just("binary-time"),
        st.one_of(st.binary(min_size=4, max_size=4), st.binary(min_size=6, max_size=6)),
    ),
    st.tuples(st.just("bcd"), st.integers(0, 10**12)),
    st.tuples(st.just("booleanArray"), bit_strings()),
    st.tuples(st.just("objId"), oids),
    st.tuples(st.just("mMSString"), xml_text),
    st.tuples(st.just("utc-time"), st.binary(min_size=8, max_size=8)),
)

data_values = st.recursive(
    simple_data,
    lambda children: st.one_of(
        st.tuples(st.just("array"), st.lists(children, max_size=4)),
        st.tuples(st.just("structure"), st.lists(children, max_size=4)),
    ),
    max_leaves=20,
)

object_names = st.one_of(
    st.tuples(st.just("vmd-specific"), identifiers),
    st.tuples(
        st.just("domain-specific"),
        st.fixed_dictionaries({"domainID": identifiers, "itemID": identifiers}),
    ),
    st.tuples(st.just("aa-specific"), identifiers),
)

addresses = st.one_of(
    st.tuples(st.just("numericAddress"), unsigned32),
    st.tuples(st.just("symbolicAddress"), xml_text),
    st.tuples(st.just("unconstrainedAddress"), st.binary(max_size=8)),
)

index_range = st.fixed_dictionaries({"lowIndex": unsigned32, "numberOfElements": unsigned32})


def _alternate_access(children: Any) -> Any:
    select_access = st.one_of(
        st.tuples(st.just("component"), identifiers),
        st.tuples(st.just("index"), unsigned32),
        st.tuples(st.just("indexRange"), index_range),
        st.tuples(st.just("allElements"), st.none()),
    )
    selection = st.one_of(
        st.tuples(st.just("selectAccess"), select_access),
        st.tuples(
            st.just("selectAlternateAccess"),
            st.fixed_dictionaries({"accessSelection": select_access, "alternateAccess": children}),
        ),
    )
    item = st.one_of(
        st.tuples(st.just("unnamed"), selection),
        st.tuples(
            st.just("named"),
            st.fixed_dictionaries({"componentName": identifiers, "access": selection}),
        ),
    )
    return st.lists(item, min_size=1, max_size=3)


alternate_access = st.recursive(
    st.just([("unnamed", ("selectAccess", ("index", 0)))]), _alternate_access, max_leaves=6
)

simple_types = st.one_of(
    st.tuples(st.just("boolean"), st.none()),
    st.tuples(st.just("bit-string"), st.integers(-64, 64)),
    st.tuples(st.just("integer"), st.integers(0, 127)),
    st.tuples(st.just("unsigned"), st.integers(0, 127)),
    st.tuples(
        st.just("floating-point"),
        st.fixed_dictionaries(
            {"format-width": st.integers(0, 127), "exponent-width": st.integers(0, 127)}
        ),
    ),
    st.tuples(st.just("octet-string"), st.integers(-255, 255)),
    st.tuples(st.just("visible-string"), st.integers(-255, 255)),
    st.tuples(st.just("generalized-time"), st.none()),
    st.tuples(st.just("binary-time"), st.booleans()),
    st.tuples(st.just("bcd"), st.integers(0, 127)),
    st.tuples(st.just("objId"), st.none()),
    st.tuples(st.just("mMSString"), st.integers(-255, 255)),
    st.tuples(st.just("utc-time"), st.none()),
)


def _type_spec(td: Any) -> Any:
    return st.one_of(
        st.tuples(st.just("typeDescription"), td), st.tuples(st.just("typeName"), object_names)
    )


type_descriptions = st.recursive(
    simple_types,
    lambda children: st.one_of(
        st.tuples(
            st.just("array"),
            st.fixed_dictionaries(
                {
                    "packed": st.booleans(),
                    "numberOfElements": unsigned32,
                    "elementType": _type_spec(children),
                }
            ),
        ),
        st.tuples(
            st.just("structure"),
            st.fixed_dictionaries(
                {
                    "packed": st.booleans(),
                    "components": st.lists(
                        st.fixed_dictionaries(
                            {"componentType": _type_spec(children)},
                            optional={"componentName": identifiers},
                        ),
                        max_size=4,
                    ),
                }
            ),
        ),
    ),
    max_leaves=10,
)

variable_specifications = st.one_of(
    st.tuples(st.just("name"), object_names),
    st.tuples(st.just("address"), addresses),
    st.tuples(
        st.just("variableDescription"),
        st.fixed_dictionaries(
            {"address": addresses, "typeSpecification": _type_spec(type_descriptions)}
        ),
    ),
    st.tuples(st.just("invalidated"), st.none()),
)

list_of_variable = st.lists(
    st.fixed_dictionaries(
        {"variableSpecification": variable_specifications},
        optional={"alternateAccess": alternate_access},
    ),
    max_size=4,
)

variable_access_specifications = st.one_of(
    st.tuples(st.just("listOfVariable"), list_of_variable),
    st.tuples(st.just("variableListName"), object_names),
)

access_results = st.one_of(
    st.tuples(st.just("failure"), st.integers(0, 11)), st.tuples(st.just("success"), data_values)
)

error_classes = st.sampled_from(
    [
        "vmd-state", "application-reference", "definition", "resource", "service",
        "service-preempt", "time-resolution", "access", "initiate", "conclude", "cancel",
        "file", "others",
    ]
)  # fmt: skip

service_errors = st.fixed_dictionaries(
    {"errorClass": st.tuples(error_classes, st.integers(0, 9))},
    optional={
        "additionalCode": st.integers(-(2**31), 2**31),
        "additionalDescription": visible_text,
        "serviceSpecificInfo": st.tuples(
            st.sampled_from(["deleteVariableAccess", "deleteNamedVariableList", "deleteNamedType"]),
            unsigned32,
        ),
    },
)

object_scopes = st.one_of(
    st.tuples(st.just("vmdSpecific"), st.none()),
    st.tuples(st.just("domainSpecific"), identifiers),
    st.tuples(st.just("aaSpecific"), st.none()),
)

named_list = st.lists(
    st.fixed_dictionaries(
        {"variableSpecification": variable_specifications},
        optional={"alternateAccess": alternate_access},
    ),
    max_size=4,
)

confirmed_requests = st.one_of(
    st.tuples(
        st.just("getNameList"),
        st.fixed_dictionaries(
            {
                "objectClass": st.one_of(
                    st.tuples(st.just("basicObjectClass"), st.integers(0, 13)),
                    st.tuples(st.just("csObjectClass"), st.integers(0, 1)),
                ),
                "objectScope": object_scopes,
            },
            optional={"continueAfter": identifiers},
        ),
    ),
    st.tuples(st.just("identify"), st.none()),
    st.tuples(
        st.just("read"),
        st.fixed_dictionaries(
            {
                "specificationWithResult": st.booleans(),
                "variableAccessSpecification": variable_access_specifications,
            }
        ),
    ),
    st.tuples(
        st.just("write"),
        st.fixed_dictionaries(
            {
                "variableAccessSpecification": variable_access_specifications,
                "listOfData": st.lists(data_values, max_size=4),
            }
        ),
    ),
    st.tuples(
        st.just("getVariableAccessAttributes"),
        st.one_of(
            st.tuples(st.just("name"), object_names), st.tuples(st.just("address"), addresses)
        ),
    ),
    st.tuples(
        st.just("defineNamedVariableList"),
        st.fixed_dictionaries({"variableListName": object_names, "listOfVariable": named_list}),
    ),
    st.tuples(st.just("getNamedVariableListAttributes"), object_names),
    st.tuples(
        st.just("deleteNamedVariableList"),
        st.fixed_dictionaries(
            {"scopeOfDelete": st.integers(0, 3)},
            optional={
                "listOfVariableListName": st.lists(object_names, max_size=3),
                "domainName": identifiers,
            },
        ),
    ),
)

confirmed_responses = st.one_of(
    st.tuples(
        st.just("getNameList"),
        st.fixed_dictionaries(
            {"listOfIdentifier": st.lists(identifiers, max_size=5), "moreFollows": st.booleans()}
        ),
    ),
    st.tuples(
        st.just("identify"),
        st.fixed_dictionaries(
            {"vendorName": xml_text, "modelName": xml_text, "revision": xml_text},
            optional={"listOfAbstractSyntaxes": st.lists(oids, max_size=3)},
        ),
    ),
    st.tuples(
        st.just("read"),
        st.fixed_dictionaries(
            {"listOfAccessResult": st.lists(access_results, max_size=5)},
            optional={"variableAccessSpecification": variable_access_specifications},
        ),
    ),
    st.tuples(
        st.just("write"),
        st.lists(
            st.one_of(
                st.tuples(st.just("failure"), st.integers(0, 11)),
                st.tuples(st.just("success"), st.none()),
            ),
            max_size=5,
        ),
    ),
    st.tuples(
        st.just("getVariableAccessAttributes"),
        st.fixed_dictionaries(
            {"mmsDeletable": st.booleans(), "typeDescription": type_descriptions},
            optional={
                "address": addresses,
                "accessControlList": identifiers,
                "meaning": visible_text,
            },
        ),
    ),
    st.tuples(st.just("defineNamedVariableList"), st.none()),
    st.tuples(
        st.just("getNamedVariableListAttributes"),
        st.fixed_dictionaries(
            {"mmsDeletable": st.booleans(), "listOfVariable": named_list},
            optional={"accessControlList": identifiers},
        ),
    ),
    st.tuples(
        st.just("deleteNamedVariableList"),
        st.fixed_dictionaries({"numberMatched": unsigned32, "numberDeleted": unsigned32}),
    ),
)


@st.composite
def support_bits(draw: Any, size: int) -> tuple[bytes, int]:
    bits = draw(st.lists(st.booleans(), min_size=size, max_size=size))
    raw = bytearray((size + 7) // 8)
    for i, bit in enumerate(bits):
        if bit:
            raw[i // 8] |= 0x80 >> (i % 8)
    return bytes(raw), size


def _initiate(prefix: str, detail: str, *names: str) -> Any:
    version, cbb, services, extra1, extra2, extra3 = names
    return st.fixed_dictionaries(
        {
            f"{prefix}MaxServOutstandingCalling": integer16,
            f"{prefix}MaxServOutstandingCalled": integer16,
            detail: st.fixed_dictionaries(
                {version: integer16, cbb: support_bits(18), services: support_bits(93)},
                optional={
                    extra1: support_bits(23),
                    extra2: support_bits(3),
                    extra3: visible_text,
                },
            ),
        },
        optional={
            ("localDetailCalling" if prefix == "proposed" else "localDetailCalled"): st.integers(
                -(2**31), 2**31 - 1
            ),
            f"{prefix}DataStructureNestingLevel": st.integers(-128, 127),
        },
    )


reject_reasons = st.tuples(
    st.sampled_from(
        [
            "confirmed-requestPDU", "confirmed-responsePDU", "confirmed-errorPDU",
            "unconfirmedPDU", "pdu-error", "cancel-requestPDU", "cancel-responsePDU",
            "cancel-errorPDU", "conclude-requestPDU", "conclude-responsePDU", "conclude-errorPDU",
        ]
    ),
    st.integers(0, 2),
)  # fmt: skip

pdus = st.one_of(
    st.tuples(
        st.just("confirmed-RequestPDU"),
        st.fixed_dictionaries({"invokeID": unsigned32, "service": confirmed_requests}),
    ),
    st.tuples(
        st.just("confirmed-ResponsePDU"),
        st.fixed_dictionaries({"invokeID": unsigned32, "service": confirmed_responses}),
    ),
    st.tuples(
        st.just("confirmed-ErrorPDU"),
        st.fixed_dictionaries(
            {"invokeID": unsigned32, "serviceError": service_errors},
            optional={"modifierPosition": unsigned32},
        ),
    ),
    st.tuples(
        st.just("unconfirmed-PDU"),
        st.fixed_dictionaries(
            {
                "service": st.tuples(
                    st.just("informationReport"),
                    st.fixed_dictionaries(
                        {
                            "variableAccessSpecification": variable_access_specifications,
                            "listOfAccessResult": st.lists(access_results, max_size=5),
                        }
                    ),
                )
            }
        ),
    ),
    st.tuples(
        st.just("rejectPDU"),
        st.fixed_dictionaries(
            {"rejectReason": reject_reasons}, optional={"originalInvokeID": unsigned32}
        ),
    ),
    st.tuples(st.just("cancel-RequestPDU"), unsigned32),
    st.tuples(st.just("cancel-ResponsePDU"), unsigned32),
    st.tuples(
        st.just("cancel-ErrorPDU"),
        st.fixed_dictionaries({"originalInvokeID": unsigned32, "serviceError": service_errors}),
    ),
    st.tuples(
        st.just("initiate-RequestPDU"),
        _initiate(
            "proposed",
            "initRequestDetail",
            "proposedVersionNumber",
            "proposedParameterCBB",
            "servicesSupportedCalling",
            "additionalSupportedCalling",
            "additionalCbbSupportedCalling",
            "privilegeClassIdentityCalling",
        ),
    ),
    st.tuples(
        st.just("initiate-ResponsePDU"),
        _initiate(
            "negotiated",
            "initResponseDetail",
            "negotiatedVersionNumber",
            "negotiatedParameterCBB",
            "servicesSupportedCalled",
            "additionalSupportedCalled",
            "additionalCbbSupportedCalled",
            "privilegeClassIdentityCalled",
        ),
    ),
    st.tuples(st.just("initiate-ErrorPDU"), service_errors),
    st.tuples(st.just("conclude-RequestPDU"), st.none()),
    st.tuples(st.just("conclude-ResponsePDU"), st.none()),
    st.tuples(st.just("conclude-ErrorPDU"), service_errors),
)
