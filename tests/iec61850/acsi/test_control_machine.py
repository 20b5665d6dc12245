"""The control-model state machine on its own (no PDUs)."""

from __future__ import annotations

from derlink.iec61850.acsi.control import (
    ActivationDue,
    ControlModel,
    ControlObject,
    ControlRequest,
    ControlState,
    Origin,
    SelectExpired,
    Terminated,
)
from derlink.iec61850.acsi.errors import AddCause

ORIGIN = Origin(3, b"centre")


def req(ctl_num: int = 1, value: object = 50.0, **kw: object) -> ControlRequest:
    return ControlRequest(value, ctl_num, ORIGIN, **kw)  # type: ignore[arg-type]


def test_sbo_enhanced_select_operate_finish() -> None:
    co = ControlObject("LD/DWMX1.WMaxSptPct", ControlModel.SBO_ENHANCED, sbo_timeout_ms=1000)
    sel = co.select_with_value("a", req(), 0.0)
    assert sel.accepted and co.state is ControlState.READY and co.owner == "a"
    op = co.operate("a", req(), 0.5)
    assert op.accepted and op.execute == req()
    assert co.state is ControlState.EXECUTING
    assert co.finish() == req()
    assert co.state is ControlState.UNSELECTED


def test_operate_without_select_and_wrong_ctlnum() -> None:
    co = ControlObject("x", ControlModel.SBO_ENHANCED)
    out = co.operate("a", req(), 0.0)
    assert not out.accepted and out.add_cause is AddCause.OBJECT_NOT_SELECTED
    co.select_with_value("a", req(1), 0.0)
    wrong = co.operate("a", req(2), 0.1)
    assert not wrong.accepted and wrong.add_cause is AddCause.INCONSISTENT_PARAMETERS
    assert co.state is ControlState.READY  # a refused operate keeps the selection


def test_other_client_and_double_select() -> None:
    co = ControlObject("x", ControlModel.SBO_ENHANCED)
    co.select_with_value("a", req(), 0.0)
    assert co.select_with_value("b", req(), 0.0).add_cause is AddCause.LOCKED_BY_OTHER_CLIENT
    assert co.select_with_value("a", req(), 0.0).add_cause is AddCause.OBJECT_ALREADY_SELECTED
    assert co.operate("b", req(), 0.0).add_cause is AddCause.LOCKED_BY_OTHER_CLIENT
    assert co.cancel("b", req(), 0.0).add_cause is AddCause.LOCKED_BY_OTHER_CLIENT


def test_select_timeout_then_operate_is_time_limit_over() -> None:
    co = ControlObject("x", ControlModel.SBO_ENHANCED, sbo_timeout_ms=200)
    co.select_with_value("a", req(7), 0.0)
    assert co.tick(0.1) == []
    events = co.tick(0.25)
    assert events == [SelectExpired("a", req(7))]
    assert co.operate("a", req(7), 0.3).add_cause is AddCause.TIME_LIMIT_OVER
    assert co.operate("a", req(7), 0.3).add_cause is AddCause.OBJECT_NOT_SELECTED


def test_refusal_unselects_sbo_and_blocks_direct() -> None:
    co = ControlObject("x", ControlModel.SBO_ENHANCED)
    co.select_with_value("a", req(), 0.0)
    out = co.operate("a", req(), 0.0, refusal=AddCause.BLOCKED_BY_MODE)
    assert not out.accepted and out.add_cause is AddCause.BLOCKED_BY_MODE
    assert co.state is ControlState.UNSELECTED
    direct = ControlObject("y", ControlModel.DIRECT_NORMAL)
    assert direct.operate("a", req(), 0.0, refusal=AddCause.BLOCKED_BY_MODE).accepted is False
    ok = direct.operate("a", req(), 0.0)
    assert ok.accepted and ok.execute is not None and direct.state is ControlState.UNSELECTED


def test_cancel_and_time_activated_operate() -> None:
    co = ControlObject("x", ControlModel.SBO_ENHANCED)
    co.select_with_value("a", req(), 0.0)
    assert co.cancel("a", req(), 0.1).accepted
    assert co.state is ControlState.UNSELECTED
    assert co.cancel("a", req(), 0.1).add_cause is AddCause.OBJECT_NOT_SELECTED
    timed = req(oper_tm=10.0)
    co.select_with_value("a", timed, 1.0)
    out = co.operate("a", timed, 2.0)
    assert out.accepted and out.execute is None
    assert co.state is ControlState.WAIT_FOR_ACTIVATION
    assert co.operate("a", timed, 3.0).add_cause is AddCause.COMMAND_ALREADY_IN_EXECUTION
    assert co.tick(5.0) == []
    assert co.tick(10.0) == [ActivationDue("a", timed)]
    assert co.state is ControlState.EXECUTING
    co.finish()
    co.select_with_value("a", req(oper_tm=20.0), 12.0)
    co.operate("a", req(oper_tm=20.0), 12.0)
    cancelled = co.cancel("a", req(), 13.0)
    assert cancelled.accepted and cancelled.aborted == req(oper_tm=20.0)


def test_association_loss() -> None:
    co = ControlObject("x", ControlModel.SBO_ENHANCED)
    co.select_with_value("a", req(oper_tm=50.0), 0.0)
    co.operate("a", req(oper_tm=50.0), 0.0)
    assert co.peer_lost("b") == []
    events = co.peer_lost("a")
    assert events == [Terminated("a", req(oper_tm=50.0), AddCause.ABORTION_BY_COMMUNICATION_LOSS)]
    assert co.state is ControlState.UNSELECTED


def test_status_only_and_sbo_normal() -> None:
    st = ControlObject("x", ControlModel.STATUS_ONLY)
    assert st.operate("a", req(), 0.0).add_cause is AddCause.NOT_SUPPORTED
    normal = ControlObject("y", ControlModel.SBO_NORMAL)
    assert normal.select("a", 0.0).accepted
    assert normal.select("b", 0.0).add_cause is AddCause.OBJECT_ALREADY_SELECTED
    assert normal.operate("a", req(), 0.1).accepted
    assert normal.state is ControlState.UNSELECTED
