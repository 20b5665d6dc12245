"""The shipped DER IED ICD: it loads, its directories and lookups, every DER point resolves."""

from __future__ import annotations

from importlib import resources

import pytest

from derlink.iec61850.model import (
    FC,
    FCDA,
    BasicType,
    DataAttribute,
    DataObject,
    LogicalNode,
    ObjectNotFound,
    ServerModel,
)
from derlink.iec61850.model.der import (
    CONNECTED,
    DER_POINTS,
    DISCONNECTED,
    Access,
    der_icd_bytes,
    load_der_ied,
)

NS420 = "IEC 61850-7-420:2019A"


@pytest.fixture(scope="module")
def model() -> ServerModel:
    return load_der_ied("DER001")


def test_icd_is_package_data() -> None:
    path = resources.files("derlink.iec61850.model").joinpath("data", "der_ied.icd")
    assert path.is_file()
    assert der_icd_bytes().startswith(b"<?xml")


def test_directories(model: ServerModel) -> None:
    assert model.ied_name == "DER001"
    assert model.logical_devices() == ("DER001LD0",)
    lns = model.logical_nodes("DER001LD0")
    assert lns[0] == "LLN0"
    for ln in (
        "LPHD1",
        "DGEN1",
        "DINV1",
        "DSTO1",
        "DLOD1",
        "DPCC1",
        "DECP1",
        "FSCH1",
        "FSCC1",
        "MMXU1",
        "MMTR1",
        "DWMX1",
        "DAGC1",
        "DVAR1",
        "DFPF1",
        "DVVR1",
        "DPFW1",
    ):
        assert ln in lns
    assert model.logical_nodes("LD0") == lns  # a bare LD inst resolves too
    dgen = model.ref("LD0/DGEN1")
    assert model.data_objects(dgen)[:4] == ("Beh", "Mod", "Health", "NamPlt")
    assert "DEROpStCtl" in model.data_objects_by_fc(dgen, FC.CO)
    assert "AvlUpW" not in model.data_objects_by_fc(dgen, FC.CO)


def test_mandatory_objects_and_namespace(model: ServerModel) -> None:
    for name in model.logical_nodes("LD0"):
        node = model.node(model.ref(f"LD0/{name}"))
        assert isinstance(node, LogicalNode)
        if name == "LPHD1":
            assert {"PhyNam", "PhyHealth", "Proxy"} <= set(node.objects)
            continue
        assert {"Beh", "Mod", "Health", "NamPlt"} <= set(node.objects), name
    for ln in ("DGEN1", "DSTO1", "DWMX1", "DVVR1", "DECP1"):
        ln_ns = model.find(model.ref(f"LD0/{ln}.NamPlt.lnNs"), FC.EX)
        assert isinstance(ln_ns, DataAttribute)
        assert ln_ns.value == NS420


def test_cdcs_and_fcs(model: ServerModel) -> None:
    expected = {
        "DGEN1.DEROpSt": "ENS",
        "DGEN1.DEROpStCtl": "ENC",
        "DGEN1.WSpt": "APC",
        "DGEN1.WMaxRtg": "ASG",
        "DGEN1.AvlUpW": "MV",
        "DSTO1.SocWh": "MV",
        "DSTO1.ChaWMax": "ASG",
        "MMXU1.PhV": "WYE",
        "MMXU1.PhV.phsA": "CMV",
        "MMTR1.SupWh": "BCR",
        "DVVR1.Crv": "CSG",
        "FSCH1.StrTm001": "TSG",
        "LLN0.NamPlt": "LPL",
        "LPHD1.PhyNam": "DPL",
        "LLN0.LEDRs": "SPC",
        "LPHD1.Proxy": "SPS",
        "FSCH1.SchdEntr": "INS",
        "DWMX1.WMaxSptPct": "APC",
    }
    for path, cdc in expected.items():
        obj = model.find(model.ref(f"LD0/{path}"))
        assert isinstance(obj, DataObject)
        assert obj.cdc == cdc, path
    apc = model.data(model.ref("LD0/DWMX1.WMaxSptPct"))
    assert apc.fcs() == {FC.ST, FC.MX, FC.CO, FC.CF, FC.DC}


def test_control_structures(model: ServerModel) -> None:
    oper = model.definition(model.ref("LD0/DGEN1.DEROpStCtl.Oper"), FC.CO)
    assert isinstance(oper, DataAttribute)
    assert list(oper.children) == ["ctlVal", "origin", "ctlNum", "T", "Test", "Check"]
    assert oper.children["ctlVal"].enum_type == "DEROpStKind"
    cancel = model.data(model.ref("LD0/DGEN1.DEROpStCtl.Cancel"), FC.CO)
    assert "Check" not in cancel.children
    enum = model.enum("DEROpStKind")
    assert enum is not None
    enum.ord_of(CONNECTED)
    enum.ord_of(DISCONNECTED)
    co = model.definition(model.ref("LD0/DWMX1.WMaxSptPct"), FC.CO)
    assert list(co.children) == ["SBOw", "Oper", "Cancel"]
    models = {"sbo-with-enhanced-security": 4, "direct-with-normal-security": 1}
    ctl = model.data(model.ref("LD0/DGEN1.DEROpStCtl.ctlModel"), FC.CF)
    assert isinstance(ctl, DataAttribute) and ctl.value == models["sbo-with-enhanced-security"]
    direct = model.data(model.ref("LD0/LLN0.LEDRs.ctlModel"), FC.CF)
    assert (
        isinstance(direct, DataAttribute) and direct.value == models["direct-with-normal-security"]
    )
    assert "SBOw" not in model.data(model.ref("LD0/LLN0.LEDRs")).children


def test_attributes_flatten_in_model_order(model: ServerModel) -> None:
    leaves = model.attributes(model.ref("LD0/MMXU1.TotW"), FC.MX)
    assert [str(ref).split(".", 1)[1] for ref, _ in leaves] == ["TotW.mag.f", "TotW.q", "TotW.t"]
    assert [da.btype for _, da in leaves] == [
        BasicType.FLOAT32,
        BasicType.Quality,
        BasicType.Timestamp,
    ]
    mag = leaves[0][1]
    assert mag.trg.dchg and mag.trg.dupd and not mag.trg.qchg
    assert leaves[1][1].trg.qchg
    curve = model.attributes(model.ref("LD0/DVVR1.Crv"), FC.SP)
    names = [ref.name for ref, _ in curve]
    assert names == ["pointZ", "numPts", "crvPts"]
    assert curve[2][1].count == 10
    with pytest.raises(ObjectNotFound):
        model.attributes(model.ref("LD0/MMXU1.TotW"), FC.SP)


def test_find_errors(model: ServerModel) -> None:
    with pytest.raises(ObjectNotFound, match="no logical device"):
        model.find(model.ref("LD0/MMXU1").with_ld("NOPE"))
    with pytest.raises(ObjectNotFound, match="no logical node"):
        model.find(model.ref("LD0/MMXU2"))
    with pytest.raises(ObjectNotFound, match="no member"):
        model.find(model.ref("LD0/MMXU1.TotW.nope"))
    with pytest.raises(ObjectNotFound, match="index"):
        model.find(model.ref("LD0/DVVR1.Crv.crvPts(10)"))
    with pytest.raises(ObjectNotFound, match="needs an index"):
        model.find(model.ref("LD0/DVVR1.Crv.crvPts.xVal"))
    with pytest.raises(ObjectNotFound, match="functional constraint"):
        model.find(model.ref("LD0/MMXU1.TotW.mag"), FC.ST)


def test_datasets_and_reports(model: ServerModel) -> None:
    lln0 = model.ref("LD0/LLN0")
    meas = model.dataset(lln0.child("DsMeas"))
    assert FCDA(model.ref("LD0/MMXU1.TotW"), FC.MX) in meas.members
    for ds in model.datasets():
        for member in ds.members:
            model.find(member.ref, member.fc)
    brcb = model.report_control(lln0.child("brcbMeas"))
    assert brcb.buffered and brcb.fc is FC.BR and brcb.dataset == "DsMeas"
    assert brcb.trg_ops.period and brcb.intg_pd_ms > 0 and brcb.conf_rev == 1
    assert brcb.opt_fields.entry_id
    assert brcb.instance_names() == ("brcbMeas01", "brcbMeas02")
    assert model.report_control(lln0.child("brcbMeas02")) is brcb
    urcb = model.report_control(lln0.child("urcbStatus"))
    assert not urcb.buffered and urcb.fc is FC.RP and urcb.max_clients == 4
    assert urcb.rpt_id == "DER001LD0/LLN0.urcbStatus"


def test_every_der_point_resolves(model: ServerModel) -> None:
    for semantic, point in DER_POINTS.items():
        fcda = point.fcda(model)
        found = model.find(fcda.ref, fcda.fc)
        assert isinstance(found, DataAttribute), semantic
        assert isinstance(model.find(point.data_ref(model)), DataObject)
        if point.access is Access.CONTROL:
            oper = model.find(point.control(model).ref, FC.CO)
            assert isinstance(oper, DataAttribute) and "ctlVal" in oper.children
        else:
            with pytest.raises(ObjectNotFound):
                point.control(model)


def test_walk_covers_every_leaf(model: ServerModel) -> None:
    leaves = list(model.walk())
    assert len(leaves) > 500
    assert len({ref for ref, _ in leaves}) == len(leaves)
