"""ACSI (IEC 61850-7-2) services mapped to MMS PDUs as in IEC 61850-8-1 (reused by 8-2), sans-IO.

PDUs crossing this package are asn1tools values of ``mms/mms.asn`` (encode/decode them with
``derlink.iec61850.mms.codec``). Nothing here reads a clock or opens a socket.

API summary
-----------
server    ``IedServer(model, store, *, clock, authorize=allow_all, checker=None, executor=None,
          max_outstanding=8, buffer_entries=256)``;
          ``handle(peer, pdu) -> list[Outgoing]`` (``Outgoing(peer, pdu, kind)``, ``OutKind``
          RESPONSE | REPORT | COMMAND_TERMINATION; REPORT also carries LastApplError, sent
          before the negative Write response it explains), ``tick(now=None)`` (integrity,
          BufTm, sboTimeout, time-activated operate), ``next_deadline()``,
          ``peer_lost(peer)`` (abort / presence unavailable), ``take_pending()`` (reports
          caused by process-side ``store.set``), ``take_events()`` -> ``AccessDenied``,
          ``RequestRefused``, ``AssociationChanged``, ``ControlApplied`` (hand to the driver),
          ``SettingApplied`` (SetDataValues of SP/CF/...), ``ControlRefused``.
          ``authorize(peer, right, ref|None) -> bool`` with rights "view", "read",
          "reporting", "control" (Oper/SBOw/Cancel and SP writes), "settinggroup" (SE/SG
          writes), "config" (CF/DC/SV/BL/EX writes).
          ``checker(do_ref, ControlRequest) -> AddCause|None`` (interlocking, synchrocheck,
          ...); ``executor(ControlApplied) -> AddCause|DEFER|None`` (the device refuses:
          negative CommandTermination, store untouched; ``DEFER``: the device answers later
          with ``complete_control(do_ref, cause=None)``, or ``operTimeout`` ends it with
          time-limit-over).
events    the server's vocabulary (``Outgoing``, ``OutKind``, the events above, ``DEFER``,
          hook types, ``allow_all``); ``server`` re-exports it.
client    ``AcsiClient(*, max_outstanding=8, queue_when_full=True, origin=None, clock)``:
          ``associate()``, ``release()``, ``connection_lost()``, ``take_outgoing()``,
          ``receive(pdu) -> list[ClientEvent]`` (``Associated``, ``AssociationFailed``,
          ``Released``, ``Completed``, ``Failed``, ``ReportReceived``, ``CommandTerminated``),
          ``result(request_id)`` / ``done(request_id)``; services return a request id:
          ``get_server_directory``, ``get_logical_device_directory(ld)``,
          ``get_logical_node_directory(ln_ref)``, ``get_data_directory(ref)``,
          ``get_data_set_names(ld)``, ``get_data_definition(ref, fc)``,
          ``get_data_values(ref, fc, raw=False)``, ``set_data_values(ref, fc, value|Data)``,
          ``get_data_set_values(ds_ref)``, ``get_data_set_directory(ds_ref)``,
          ``get_rcb_values(rcb_ref, buffered)``, ``set_rcb_values(rcb_ref, buffered, {attr:
          Data})``, ``enable_reporting(rcb_ref, buffered, ...)`` (writes the last EntryID
          first to resync a BRCB), ``disable_reporting``, ``general_interrogation``,
          ``select_with_value(do_ref, ctl_val)``, ``operate(do_ref, ctl_val)``,
          ``cancel(do_ref, ctl_val)``; ``state`` (``AssocState``), ``control_state(do_ref)``,
          ``last_entry_id``, ``duplicates_dropped``. Value helpers ``analogue(f)``,
          ``boolean(b)``, ``enum_value(n)`` build ctlVal Data.
control   ``ControlModel``, ``ControlObject`` (the 7-2 §20 state machine), ``ControlRequest``,
          ``Origin``, ``ControlOutcome``.
reporting ``ReportControlBlock(RcbConfig)`` (URCB/BRCB state machine), ``Reason``, ``OptFlds``,
          ``Report``; bit-string helpers for TrgOps / OptFlds / ReasonCode.
rpt       ACSI values in the 8-1 layouts of ``mms.reports``: ``encode_report`` /
          ``decode_report`` (RPT), ``LastApplError``, ``command_termination``; RCB attribute
          types.
mapping   model values/types <-> MMS ``Data`` / ``TypeDescription``; 8-1 variable names
          (built on ``mms.data`` and ``mms.names``).
errors    ``ServiceErrorClass`` (7-2), ``AccessError`` (= ``mms.errors.DataAccessError``),
          ``AddCause``, ``ControlErrorCode``; 7-2 <-> MMS mappings (``access_error_for``,
          ``service_class_for``, ``mms_service_error``, ``service_error_from_mms``);
          exceptions ``AcsiError`` > ``ServiceError`` > ``ControlRefused``,
          ``AssociationError``, ``ProtocolError``, ``TooManyRequests``.
"""
