"""Association, directories, data definition, read/write, access control (through XER)."""

from __future__ import annotations

import pytest

from derlink.iec61850.acsi.client import AcsiClient, Associated, AssocState, analogue
from derlink.iec61850.acsi.errors import AssociationError, ServiceError, ServiceErrorClass
from derlink.iec61850.acsi.server import AccessDenied, AssociationChanged, SettingApplied
from derlink.iec61850.model.refs import FC, FCDA, ObjectReference
from iec61850.acsi.harness import Rig, wire

LD = "DERIEDLD0"


def ref(text: str) -> ObjectReference:
    return ObjectReference.parse(text)


def test_associate_release_and_refusal_before_associate(rig: Rig) -> None:
    link = rig.link(associate=False)
    with pytest.raises(AssociationError):
        link.client.get_server_directory()
    # a raw request before Associate is refused by the server
    pdu = ("confirmed-RequestPDU", {"invokeID": 1, "service": ("identify", None)})
    out = rig.server.handle(link.peer, pdu)
    assert out[0].pdu[0] == "confirmed-ErrorPDU"
    link.client.associate()
    events = link.pump()
    assert events == [Associated(8)] and link.client.state is AssocState.ASSOCIATED
    assert link.peer in rig.server.associations
    link.client.release()
    link.pump()
    assert link.client.state is AssocState.IDLE and link.peer not in rig.server.associations
    states = [e.state for e in rig.server.take_events() if isinstance(e, AssociationChanged)]
    assert states == ["associated", "released"]


def test_directories(rig: Rig) -> None:
    link = rig.link()
    assert link.call(link.client.get_server_directory()) == [LD]
    lns = link.call(link.client.get_logical_device_directory(LD))
    assert {"LLN0", "DGEN1", "DWMX1", "MMXU1", "DSTO1"} <= set(lns)
    dos = link.call(link.client.get_logical_node_directory(ref(f"{LD}/DWMX1")))
    assert {"Beh", "Mod", "WMaxSptPct", "FctOpSt"} <= set(dos)
    children = link.call(link.client.get_data_directory(ref(f"{LD}/DWMX1.WMaxSptPct")))
    assert {"mxVal", "q", "t", "Oper", "SBOw", "Cancel", "ctlModel"} <= set(children)
    assert link.call(link.client.get_data_set_names(LD)) == ["LLN0$DsMeas", "LLN0$DsStatus"]


def test_name_list_continuation(rig: Rig) -> None:
    link = rig.link()
    names = link.call(link.client._name_list_request("x", ("domainSpecific", LD), 0, list))
    assert len(names) > 200  # more than one page: continueAfter was used
    assert names == sorted(set(names))


def test_data_definition_and_typed_read(rig: Rig) -> None:
    link = rig.link()
    target = ref(f"{LD}/DWMX1.WMaxSptPct")
    td = link.call(link.client.get_data_definition(target, FC.MX))
    assert td[0] == "structure"
    names = [c["componentName"] for c in td[1]["components"]]
    assert names == ["mxVal", "q", "t"]
    value = link.call(link.client.get_data_values(target, FC.MX))
    assert value["mxVal"] == {"f": 0.0}
    with pytest.raises(ServiceError) as err:
        link.call(link.client.get_data_definition(ref(f"{LD}/DWMX1.Nope"), FC.MX))
    assert err.value.service_class is ServiceErrorClass.INSTANCE_NOT_AVAILABLE


def test_read_unknown_and_write_setpoint(rig: Rig) -> None:
    link = rig.link()
    with pytest.raises(ServiceError) as err:
        link.call(link.client.get_data_values(ref(f"{LD}/DGEN1.Nope"), FC.ST))
    assert err.value.service_class is ServiceErrorClass.INSTANCE_NOT_AVAILABLE
    wmax = ref(f"{LD}/DGEN1.WMax.setMag")
    rig.server.take_events()
    link.call(link.client.set_data_values(wmax, FC.SP, analogue(4200.0)))
    assert rig.store.get(FCDA(wmax, FC.SP)) == {"f": 4200.0}
    assert link.call(link.client.get_data_values(wmax, FC.SP)) == [4200.0]
    events = rig.server.take_events()
    assert any(isinstance(e, SettingApplied) and e.fcda.ref == wmax for e in events)


def test_write_type_errors_and_read_only(rig: Rig) -> None:
    link = rig.link()
    wmax = ref(f"{LD}/DGEN1.WMax.setMag")
    before = rig.store.get(FCDA(wmax, FC.SP))
    with pytest.raises(ServiceError) as err:
        link.call(link.client.set_data_values(wmax, FC.SP, ("boolean", True)))
    assert err.value.service_class is ServiceErrorClass.TYPE_CONFLICT
    assert rig.store.get(FCDA(wmax, FC.SP)) == before  # unchanged
    with pytest.raises(ServiceError) as err:
        link.call(link.client.set_data_values(ref(f"{LD}/MMXU1.Hz.mag"), FC.MX, analogue(1.0)))
    assert err.value.service_class is ServiceErrorClass.ACCESS_VIOLATION
    with pytest.raises(ServiceError) as err:
        link.call(link.client.set_data_values(ref(f"{LD}/DGEN1.Nope"), FC.SP, analogue(1.0)))
    assert err.value.service_class is ServiceErrorClass.INSTANCE_NOT_AVAILABLE


def test_typed_write_uses_cached_definition(rig: Rig) -> None:
    link = rig.link()
    wrmp = ref(f"{LD}/DGEN1.WRmp.setMag")
    link.call(link.client.get_data_definition(wrmp, FC.SP))
    link.call(link.client.set_data_values(wrmp, FC.SP, {"f": 12.5}))
    assert link.call(link.client.get_data_values(wrmp, FC.SP)) == {"f": 12.5}


def test_data_sets(rig: Rig) -> None:
    link = rig.link()
    ds = ref(f"{LD}/LLN0.DsMeas")
    members = link.call(link.client.get_data_set_directory(ds))
    assert members[0] == (ref(f"{LD}/MMXU1.TotW"), FC.MX)
    assert len(members) == 10
    values = link.call(link.client.get_data_set_values(ds))
    assert len(values) == 10 and all(v is not None for v in values)
    with pytest.raises(ServiceError):
        link.call(link.client.get_data_set_values(ref(f"{LD}/LLN0.Nope")))


def test_access_denied_by_authorize_hook(rig: Rig) -> None:
    link = rig.link()
    rig.denied.add((link.peer, "read"))
    rig.denied.add((link.peer, "view"))
    rig.denied.add((link.peer, "control"))
    rig.server.take_events()
    with pytest.raises(ServiceError) as err:
        link.call(link.client.get_data_values(ref(f"{LD}/MMXU1.Hz"), FC.MX))
    assert err.value.service_class is ServiceErrorClass.ACCESS_VIOLATION
    with pytest.raises(ServiceError) as err:
        link.call(link.client.get_server_directory())
    assert err.value.service_class is ServiceErrorClass.ACCESS_VIOLATION
    wmax = ref(f"{LD}/DGEN1.WMax.setMag")
    before = rig.store.get(FCDA(wmax, FC.SP))
    with pytest.raises(ServiceError):
        link.call(link.client.set_data_values(wmax, FC.SP, analogue(1.0)))
    assert rig.store.get(FCDA(wmax, FC.SP)) == before
    denied = [e for e in rig.server.take_events() if isinstance(e, AccessDenied)]
    assert [(e.right, e.service) for e in denied] == [
        ("read", "GetDataValues"),
        ("view", "GetServerDirectory"),
        ("control", "SetDataValues"),
    ]


def test_outstanding_cap_queues_or_raises(rig: Rig) -> None:
    link = rig.link()
    link.client.max_outstanding = 2
    ids = [link.client.get_server_directory() for _ in range(5)]
    assert link.client.outstanding == 2 and link.client.queued == 3
    link.pump()
    assert [link.client.result(i) for i in ids] == [[LD]] * 5
    link.client.queue_when_full = False
    link.client.get_server_directory()
    link.client.get_server_directory()
    from derlink.iec61850.acsi.errors import TooManyRequests

    with pytest.raises(TooManyRequests):
        link.client.get_server_directory()


def test_negotiated_outstanding_and_identify(rig: Rig) -> None:
    rig.server.max_outstanding = 3
    link = rig.link()
    assert link.client.negotiated_outstanding == 3
    ids = [link.client.get_server_directory() for _ in range(4)]
    assert link.client.outstanding == 3 and link.client.queued == 1
    link.pump()
    assert all(link.client.done(i) for i in ids)
    pdu = ("confirmed-RequestPDU", {"invokeID": 99, "service": ("identify", None)})
    out = rig.server.handle(link.peer, pdu)
    assert out[0].pdu[1]["service"][1]["modelName"] == "DERIED"


def test_rcb_and_logical_node_definitions(rig: Rig) -> None:
    link = rig.link()
    td = link.call(link.client.get_data_definition(ref(f"{LD}/LLN0.brcbMeas01"), FC.BR))
    names = [c["componentName"] for c in td[1]["components"]]
    assert names[:3] == ["RptID", "RptEna", "DatSet"] and "EntryID" in names
    td = link.call(link.client.get_data_definition(ref(f"{LD}/MMXU1"), FC.MX))
    assert [c["componentName"] for c in td[1]["components"]][:2] == ["TotW", "TotVAr"]
    whole = link.call(link.client.get_data_values(ref(f"{LD}/MMXU1"), FC.MX, raw=True))
    assert whole[0] == "structure" and len(whole[1]) == len(td[1]["components"])


def test_abort_fails_outstanding_and_reassociates(rig: Rig) -> None:
    link = rig.link()
    pending = link.client.get_server_directory()  # never sent: the link drops first
    link.drop()
    assert link.client.state is AssocState.LOST
    with pytest.raises(AssociationError):
        link.client.result(pending)
    assert link.peer not in rig.server.associations
    link.connected = True
    link.client.associate()
    assert link.client.state is AssocState.RE_ASSOCIATING
    link.pump()
    assert link.client.state is AssocState.ASSOCIATED
    assert link.call(link.client.get_server_directory()) == [LD]


def test_bad_initiate_and_unknown_response(rig: Rig) -> None:
    out = rig.server.handle("x", ("initiate-RequestPDU", {"bogus": 1}))
    assert out[0].pdu[0] == "initiate-ErrorPDU"
    link = rig.link()
    from derlink.iec61850.acsi.errors import ProtocolError

    stray = ("confirmed-ResponsePDU", {"invokeID": 12345, "service": ("identify", {})})
    with pytest.raises(ProtocolError):
        link.client.receive(stray)


def test_a_group_sender_builds_requests_nobody_answers(rig: Rig) -> None:
    """Group commands (8-2 multicast in a MUC room): built like any request, then forgotten;
    the sender stays usable and keeps nothing outstanding."""
    link = rig.link()  # the IED knows this peer: the group command arrives as from it
    sender = AcsiClient.group_sender()
    wmax = ref(f"{LD}/DGEN1.WMax.setMag")
    for value in (3100.0, 3200.0):
        sender.set_data_values(wmax, FC.SP, analogue(value))
        pdus = sender.take_unconfirmed()
        assert len(pdus) == 1 and sender.outstanding == 0 and sender.queued == 0
        assert sender.state is AssocState.ASSOCIATED
        rig.server.handle(link.peer, wire(pdus[0]))
        assert rig.store.get(FCDA(wmax, FC.SP)) == {"f": value}
    assert sender.take_unconfirmed() == []
