"""MMS (ISO 9506-2) in XML Encoding Rules: the encoding layer of the IEC 61850-8-2 mapping.

Modules
-------
``mms.asn``   the ISO 9506-2 subset (module ISO-9506-MMS-1, 8-1 additions utc-time/mMSString).
``codec``     XER bytes <-> asn1tools values; the XMPP payload form.
``data``      MMS ``Data`` <-> Python values, typed by an MMS ``TypeDescription``.
``names``     IEC 61850-8-1 naming (``LN$FC$DO$DA`` item ids, datasets, RCBs).
``reports``   IEC 61850-8-1 layouts of reports (RPT), LastApplError and CommandTermination.
``errors``    DataAccessError / ServiceError / reject codes and the exceptions.

Codec API (``derlink.iec61850.mms.codec``)
-------------------------------------------
``MMS_NS = "urn:derlink:iec61850-8-2:mms"``
``encode(pdu) -> bytes``                     XER document ``<MMSpdu>...</MMSpdu>``
``decode(data: bytes, *, max_size=MAX_PDU_BYTES) -> pdu``  raises ``MmsDecodeError``
``encode_payload(pdu) -> bytes``             ``<mms xmlns=MMS_NS><MMSpdu>...</MMSpdu></mms>``
``payload_element(pdu) -> xml.etree.ElementTree.Element``  same, as an element for slixmpp
``decode_payload(data: bytes | Element) -> pdu``
``encode_value(type_name, value) -> bytes`` / ``decode_value(type_name, data)`` any ASN.1 type
Bad values raise ``MmsEncodeError``; everything is a ``DerlinkError``.

Value shapes (asn1tools): CHOICE ``(alternative, value)``, SEQUENCE ``dict`` (OPTIONAL members
absent; DEFAULT members filled in on decoding), SEQUENCE OF ``list``, BIT STRING
``(bytes, nbits)``, OCTET STRING ``bytes``, NULL ``None``, INTEGER ``int``, strings ``str``.

Example PDUs::

    name = ("domain-specific", {"domainID": "IED1LD0", "itemID": "MMXU1$MX$TotW"})

    read_request = ("confirmed-RequestPDU", {
        "invokeID": 7,
        "service": ("read", {"variableAccessSpecification": ("listOfVariable", [
            {"variableSpecification": ("name", name)},
        ])}),
    })
    # XER: <MMSpdu><confirmed-RequestPDU><invokeID>7</invokeID><service><read>
    #      <variableAccessSpecification><listOfVariable><SEQUENCE><variableSpecification>
    #      <name><domain-specific><domainID>IED1LD0</domainID><itemID>MMXU1$MX$TotW</itemID>
    #      </domain-specific></name></variableSpecification></SEQUENCE></listOfVariable>
    #      </variableAccessSpecification></read></service></confirmed-RequestPDU></MMSpdu>

    read_response = ("confirmed-ResponsePDU", {
        "invokeID": 7,
        "service": ("read", {"listOfAccessResult": [
            ("success", ("structure", [("floating-point", b"\\x08\\x42\\x28\\x00\\x00")])),
            ("failure", 10),                       # DataAccessError.OBJECT_NON_EXISTENT
        ]}),
    })

    write_request = ("confirmed-RequestPDU", {"invokeID": 8, "service": ("write", {
        "variableAccessSpecification": ("listOfVariable",
                                        [{"variableSpecification": ("name", name)}]),
        "listOfData": [("boolean", True)],
    })})
    write_response = ("confirmed-ResponsePDU", {"invokeID": 8,
                      "service": ("write", [("success", None)])})   # or ("failure", 3)

    error = ("confirmed-ErrorPDU", {"invokeID": 9,
             "serviceError": {"errorClass": ("access", 2)}})      # errors.service_error(...)
    report = ("unconfirmed-PDU", {"service": ("informationReport", {
        "variableAccessSpecification": ("variableListName", ("vmd-specific", "RPT")),
        "listOfAccessResult": [("success", ("visible-string", "rpt1")), ...],
    })})
    get_name_list = ("confirmed-RequestPDU", {"invokeID": 1, "service": ("getNameList", {
        "objectClass": ("basicObjectClass", 9),                   # domain
        "objectScope": ("vmdSpecific", None)})})
    gvaa = ("confirmed-RequestPDU", {"invokeID": 2,
            "service": ("getVariableAccessAttributes", ("name", name))})
    gvaa_response = ("confirmed-ResponsePDU", {"invokeID": 2,
        "service": ("getVariableAccessAttributes", {"mmsDeletable": False,
            "typeDescription": ("structure", {"components": [
                {"componentName": "mag",
                 "componentType": ("typeDescription", ("floating-point",
                                   {"format-width": 32, "exponent-width": 8}))}]})})})
    initiate = ("initiate-RequestPDU", {
        "localDetailCalling": 65000, "proposedMaxServOutstandingCalling": 5,
        "proposedMaxServOutstandingCalled": 5, "proposedDataStructureNestingLevel": 10,
        "initRequestDetail": {"proposedVersionNumber": 1,
            "proposedParameterCBB": (b"\\xf1\\x00", 11),            # BIT STRING (bytes, nbits)
            "servicesSupportedCalling": (b"\\xee\\x1c\\x00..." , 85)}})
    conclude = ("conclude-RequestPDU", None)

Data API (``data``): ``to_data(td, value) -> Data``, ``from_data(td, data) -> value``;
builders ``td_boolean() td_integer(bits) td_unsigned(bits) td_float32() td_float64()
td_bit_string(n) td_octet_string(n) td_visible_string(n) td_mms_string(n) td_utc_time()
td_binary_time(with_date) td_structure([(name, td)]) td_array(count, td)``;
``UtcTime(seconds, fraction, quality)``, ``BinaryTime(ms_of_day, days)``; bit strings are
``tuple[bool, ...]`` (``bits_from_int`` / ``bits_to_int``); wire primitives shared with the
ACSI mapping: ``pack_bits(bits) -> (bytes, n)``, ``unpack_bits((bytes, n))``,
``pack_positions(positions, size)``, ``encode_float(value, double=False)`` /
``decode_float(octets)``; errors ``MmsDataError``.

Names API (``names``): ``mms_name(ld_domain, ln, fc=None, path=()) -> ObjectName``,
``item_id(ln, fc, path)``, ``parse_item_id(item) -> ItemName(ln, fc, path)``,
``parse_mms_name(name) -> (domain, ItemName)``, ``dataset_name`` / ``parse_dataset_name``,
``rcb_name(ld, ln, rcb, buffered)`` / ``parse_rcb_name``; errors ``MmsNameError``.

Reports API (``reports``, also re-exported by ``names``): ``Report`` with
``build_report(report) -> unconfirmed-PDU``, ``parse_report(pdu) -> Report``,
``parse_report_info(info)``, ``is_report(pdu)`` / ``is_report_info(info)``, ``report_data``;
``information_report(names, results)``, ``last_appl_error_data(cntrl_obj, error, or_cat,
or_ident, ctl_num, add_cause)`` / ``parse_last_appl_error(data)``,
``last_appl_error_report(data)``, ``command_termination(oper_name, oper, error_data|None)``.

Errors (``errors``): ``DataAccessError`` (IntEnum 0..11, ``label`` the ISO 9506 spelling),
``ErrorClass`` + per-class enums (``AccessError``, ``DefinitionError``, ...),
``service_error(code, additional_code=..., additional_description=...) -> ServiceError value``,
``parse_service_error(value)``.
"""
