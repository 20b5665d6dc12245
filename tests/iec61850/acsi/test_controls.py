"""Direct and SBO-with-enhanced-security controls end to end (through XER)."""

from __future__ import annotations

import pytest

from derlink.iec61850.acsi.client import CommandTerminated, analogue, boolean, enum_value
from derlink.iec61850.acsi.errors import AddCause, ControlRefused, ServiceErrorClass
from derlink.iec61850.acsi.server import ControlApplied
from derlink.iec61850.acsi.server import ControlRefused as RefusedEvent
from derlink.iec61850.model.refs import FC, FCDA, ObjectReference
from iec61850.acsi.harness import Link, Rig

LD = "DERIEDLD0"
WMAX = ObjectReference.parse(f"{LD}/DWMX1.WMaxSptPct")
MOD = ObjectReference.parse(f"{LD}/DWMX1.Mod")


def refused(link: Link, request_id: int) -> ControlRefused:
    with pytest.raises(ControlRefused) as err:
        link.call(request_id)
    return err.value


def test_sbo_enhanced_select_operate_terminates(rig: Rig) -> None:
    link = rig.link()
    link.call(link.client.select_with_value(WMAX, analogue(55.0)))
    assert rig.store.get(FCDA(WMAX.child("stSeld"), FC.ST)) is True
    link.events.clear()
    link.call(link.client.operate(WMAX, analogue(55.0)))
    assert rig.store.get(FCDA(WMAX.child("mxVal"), FC.MX)) == {"f": 55.0}
    assert rig.store.get(FCDA(WMAX.child("stSeld"), FC.ST)) is False
    terms = [e for e in link.events if isinstance(e, CommandTerminated)]
    assert terms == [CommandTerminated(str(WMAX), True, 0, None)]
    assert link.client.control_state(WMAX) == (0, False)
    applied = [e for e in rig.server.take_events() if isinstance(e, ControlApplied)]
    assert len(applied) == 1 and applied[0].ref == WMAX and applied[0].value == {"f": 55.0}
    assert applied[0].request.origin.or_ident == b"derlink"
    # the next command uses the next ctlNum
    link.call(link.client.select_with_value(WMAX, analogue(60.0)))
    link.call(link.client.operate(WMAX, analogue(60.0)))
    assert link.client.control_state(WMAX)[0] == 1
    assert rig.store.get(FCDA(WMAX.child("ctlNum"), FC.ST)) == 1


def test_operate_without_select(rig: Rig) -> None:
    link = rig.link()
    err = refused(link, link.client.operate(WMAX, analogue(10.0)))
    assert err.add_cause is AddCause.OBJECT_NOT_SELECTED
    assert err.service_class is ServiceErrorClass.ACCESS_VIOLATION
    assert rig.store.get(FCDA(WMAX.child("mxVal"), FC.MX)) == {"f": 0.0}
    events = [e for e in rig.server.take_events() if isinstance(e, RefusedEvent)]
    assert events[-1].add_cause is AddCause.OBJECT_NOT_SELECTED


def test_wrong_ctl_num_and_value(rig: Rig) -> None:
    link = rig.link()
    link.call(link.client.select_with_value(WMAX, analogue(10.0)))
    err = refused(link, link.client.operate(WMAX, analogue(10.0), new_ctl_num=True))
    assert err.add_cause is AddCause.INCONSISTENT_PARAMETERS
    err = refused(link, link.client.operate(WMAX, analogue(11.0)))
    assert err.add_cause is AddCause.INCONSISTENT_PARAMETERS
    assert rig.store.get(FCDA(WMAX.child("mxVal"), FC.MX)) == {"f": 0.0}


def test_select_timeout(rig: Rig) -> None:
    link = rig.link()
    link.call(link.client.select_with_value(WMAX, analogue(10.0)))
    link.tick(29.0)
    assert rig.store.get(FCDA(WMAX.child("stSeld"), FC.ST)) is True
    link.tick(1.5)  # sboTimeout 30 000 ms in the ICD
    assert rig.store.get(FCDA(WMAX.child("stSeld"), FC.ST)) is False
    err = refused(link, link.client.operate(WMAX, analogue(10.0)))
    assert err.add_cause is AddCause.TIME_LIMIT_OVER


def test_cancel_then_operate(rig: Rig) -> None:
    link = rig.link()
    link.call(link.client.select_with_value(WMAX, analogue(10.0)))
    link.call(link.client.cancel(WMAX, analogue(10.0)))
    assert rig.store.get(FCDA(WMAX.child("stSeld"), FC.ST)) is False
    err = refused(link, link.client.operate(WMAX, analogue(10.0)))
    assert err.add_cause is AddCause.OBJECT_NOT_SELECTED
    err = refused(link, link.client.cancel(WMAX, analogue(10.0)))
    assert err.add_cause is AddCause.OBJECT_NOT_SELECTED


def test_other_client_is_locked_out(rig: Rig) -> None:
    a, b = rig.link("a@x/1"), rig.link("b@x/1")
    a.call(a.client.select_with_value(WMAX, analogue(10.0)))
    err = refused(b, b.client.select_with_value(WMAX, analogue(20.0)))
    assert err.add_cause is AddCause.LOCKED_BY_OTHER_CLIENT
    assert err.service_class is ServiceErrorClass.ACCESS_NOT_ALLOWED_IN_CURRENT_STATE
    err = refused(b, b.client.operate(WMAX, analogue(20.0)))
    assert err.add_cause is AddCause.LOCKED_BY_OTHER_CLIENT
    err = refused(a, a.client.select_with_value(WMAX, analogue(10.0)))
    assert err.add_cause is AddCause.OBJECT_ALREADY_SELECTED
    # association loss frees the selection
    a.drop()
    b.call(b.client.select_with_value(WMAX, analogue(20.0)))


def test_blocked_by_mode_and_test_flag(rig: Rig) -> None:
    link = rig.link()
    beh = FCDA(MOD.ln_ref.child("Beh", "stVal"), FC.ST)
    link.call(link.client.select_with_value(MOD, enum_value(5)))  # off
    link.call(link.client.operate(MOD, enum_value(5)))
    assert rig.store.get(beh) == 5
    err = refused(link, link.client.select_with_value(WMAX, analogue(10.0)))
    assert err.add_cause is AddCause.BLOCKED_BY_MODE
    link.call(link.client.select_with_value(MOD, enum_value(1)))  # Mod stays controllable
    link.call(link.client.operate(MOD, enum_value(1)))
    assert rig.store.get(beh) == 1
    err = refused(link, link.client.select_with_value(WMAX, analogue(10.0), test=True))
    assert err.add_cause is AddCause.BLOCKED_BY_MODE
    link.call(link.client.select_with_value(WMAX, analogue(10.0)))


def test_interlock_checker(rig: Rig) -> None:
    def checker(ref: ObjectReference, req: object) -> AddCause | None:
        return AddCause.BLOCKED_BY_INTERLOCKING if getattr(req, "interlock_check", False) else None

    rig.server.checker = checker
    link = rig.link()
    err = refused(link, link.client.select_with_value(WMAX, analogue(1.0), check=(False, True)))
    assert err.add_cause is AddCause.BLOCKED_BY_INTERLOCKING
    link.call(link.client.select_with_value(WMAX, analogue(1.0)))


def test_control_access_denied(rig: Rig) -> None:
    link = rig.link()
    rig.denied.add((link.peer, "control"))
    err = refused(link, link.client.select_with_value(WMAX, analogue(1.0)))
    assert err.add_cause is AddCause.NO_ACCESS_AUTHORITY
    assert err.service_class is ServiceErrorClass.ACCESS_VIOLATION


def test_direct_normal_control(rig: Rig) -> None:
    link = rig.link()
    leds = ObjectReference.parse(f"{LD}/LLN0.LEDRs")
    link.events.clear()
    link.call(link.client.operate(leds, boolean(True), enhanced=False))
    assert rig.store.get(FCDA(leds.child("stVal"), FC.ST)) is True
    assert not [e for e in link.events if isinstance(e, CommandTerminated)]
    # SBOw on a direct control is not supported
    with pytest.raises(ControlRefused) as err:  # no SBOw attribute in the model
        link.call(link.client.select_with_value(leds, boolean(True)))
    assert err.value.service_class is ServiceErrorClass.INSTANCE_NOT_AVAILABLE


def test_negative_command_termination_from_the_device(rig: Rig) -> None:
    seen: list[ControlApplied] = []

    def executor(applied: ControlApplied) -> AddCause | None:
        seen.append(applied)
        return AddCause.BLOCKED_BY_PROCESS

    rig.server.executor = executor
    link = rig.link()
    link.call(link.client.select_with_value(WMAX, analogue(70.0)))
    link.events.clear()
    link.call(link.client.operate(WMAX, analogue(70.0)))  # accepted: the Write succeeds
    terms = [e for e in link.events if isinstance(e, CommandTerminated)]
    assert terms == [CommandTerminated(str(WMAX), False, 0, AddCause.BLOCKED_BY_PROCESS)]
    assert len(seen) == 1 and seen[0].value == {"f": 70.0}
    assert rig.store.get(FCDA(WMAX.child("mxVal"), FC.MX)) == {"f": 0.0}
    assert link.client.control_state(WMAX) == (0, False)


def test_direct_controls_take_new_ctl_nums(rig: Rig) -> None:
    link = rig.link()
    leds = ObjectReference.parse(f"{LD}/LLN0.LEDRs")
    link.call(link.client.operate(leds, boolean(True), enhanced=False))
    link.call(link.client.operate(leds, boolean(False), enhanced=False))
    assert link.client.control_state(leds)[0] == 1
    assert rig.store.get(FCDA(leds.child("ctlNum"), FC.ST)) == 1


def test_logical_device_mode_blocks_its_nodes(rig: Rig) -> None:
    link = rig.link()
    lln0_mod = ObjectReference.parse(f"{LD}/LLN0.Mod")
    link.call(link.client.select_with_value(lln0_mod, enum_value(5)))
    link.call(link.client.operate(lln0_mod, enum_value(5)))
    err = refused(link, link.client.select_with_value(WMAX, analogue(10.0)))
    assert err.add_cause is AddCause.BLOCKED_BY_MODE
    link.call(link.client.select_with_value(lln0_mod, enum_value(3)))  # test mode
    link.call(link.client.operate(lln0_mod, enum_value(3)))
    err = refused(link, link.client.select_with_value(WMAX, analogue(10.0)))
    assert err.add_cause is AddCause.BLOCKED_BY_MODE  # not a test command
    link.call(link.client.select_with_value(WMAX, analogue(10.0), test=True))
    link.call(link.client.operate(WMAX, analogue(10.0), test=True))
    assert rig.store.get(FCDA(WMAX.child("mxVal"), FC.MX)) == {"f": 10.0}


def test_sbo_normal_select_by_read(rig: Rig) -> None:
    leds = ObjectReference.parse(f"{LD}/LLN0.LEDRs")
    rig.store.set(FCDA(leds.child("ctlModel"), FC.CF), 2)  # sbo-with-normal-security
    a, b = rig.link("a@x/1"), rig.link("b@x/1")
    assert a.call(a.client.select(leds)) is True
    assert b.call(b.client.select(leds)) is False  # already selected: empty string
    err = refused(b, b.client.operate(leds, boolean(True), enhanced=False))
    assert err.add_cause is None  # normal security: no LastApplError
    assert err.service_class is ServiceErrorClass.ACCESS_NOT_ALLOWED_IN_CURRENT_STATE
    a.call(a.client.operate(leds, boolean(True), enhanced=False))
    assert rig.store.get(FCDA(leds.child("stVal"), FC.ST)) is True
    assert b.call(b.client.select(leds)) is True


def test_bad_originator_category(rig: Rig) -> None:
    from derlink.iec61850.acsi.control import Origin

    link = rig.link()
    link.client.origin = Origin(42, b"x")
    err = refused(link, link.client.select_with_value(WMAX, analogue(1.0)))
    assert err.add_cause is AddCause.SELECT_FAILED
    assert err.service_class is ServiceErrorClass.PARAMETER_VALUE_INAPPROPRIATE


def test_deferred_execution_and_oper_timeout(rig: Rig) -> None:
    from derlink.iec61850.acsi.server import DEFER

    rig.server.executor = lambda applied: DEFER
    link = rig.link()
    link.call(link.client.select_with_value(WMAX, analogue(30.0)))
    link.events.clear()
    link.call(link.client.operate(WMAX, analogue(30.0)))
    assert not [e for e in link.events if isinstance(e, CommandTerminated)]
    assert link.client.control_state(WMAX) == (0, True)  # waiting for the termination
    err = refused(link, link.client.select_with_value(WMAX, analogue(31.0)))
    assert err.add_cause is AddCause.COMMAND_ALREADY_IN_EXECUTION
    got = link.deliver(rig.server.complete_control(WMAX))
    assert [e for e in got if isinstance(e, CommandTerminated)] == [
        CommandTerminated(str(WMAX), True, 0, None)
    ]
    assert rig.store.get(FCDA(WMAX.child("mxVal"), FC.MX)) == {"f": 30.0}
    # the device never answers: operTimeout (10 s in the ICD) ends it negatively
    link.call(link.client.select_with_value(WMAX, analogue(40.0)))
    link.call(link.client.operate(WMAX, analogue(40.0)))
    assert link.tick(9.0) == []
    got = link.tick(1.5)
    assert [e for e in got if isinstance(e, CommandTerminated)] == [
        CommandTerminated(str(WMAX), False, 2, AddCause.TIME_LIMIT_OVER)
    ]
    assert rig.store.get(FCDA(WMAX.child("mxVal"), FC.MX)) == {"f": 30.0}
    assert rig.server.complete_control(WMAX) == []  # too late: nothing pending
