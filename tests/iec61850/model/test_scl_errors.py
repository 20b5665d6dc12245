"""Broken SCL: each snippet fails with an SclError that names the line and the problem."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from derlink.errors import DerlinkError
from derlink.iec61850.model import FC, DataAttribute, SclError, load_scl

GOOD = """<?xml version="1.0" encoding="UTF-8"?>
<SCL xmlns="http://www.iec.ch/61850/2003/SCL" version="2007" revision="B">
  <Header id="t"/>
  <IED name="IED1">
    <AccessPoint name="AP1">
      <Server>
        <LDevice inst="LD0">
          <LN0 lnClass="LLN0" inst="" lnType="LLN0_T">
            <DataSet name="Ds1">
              <FCDA ldInst="LD0" lnClass="MMXU" lnInst="1" doName="TotW" fc="MX"/>
            </DataSet>
            <ReportControl name="rcb" datSet="Ds1" confRev="1" buffered="true" intgPd="1000">
              <TrgOps dchg="true" period="true"/>
              <OptFields seqNum="true"/>
              <RptEnabled max="3"/>
            </ReportControl>
          </LN0>
          <LN lnClass="MMXU" inst="1" lnType="MMXU_T">
            <DOI name="Mod"><DAI name="stVal"><Val>on</Val></DAI></DOI>
          </LN>
        </LDevice>
      </Server>
    </AccessPoint>
  </IED>
  <DataTypeTemplates>
    <LNodeType id="LLN0_T" lnClass="LLN0">
      <DO name="Mod" type="ENS_T"/>
    </LNodeType>
    <LNodeType id="MMXU_T" lnClass="MMXU">
      <DO name="Mod" type="ENS_T"/>
      <DO name="TotW" type="MV_T"/>
    </LNodeType>
    <DOType id="ENS_T" cdc="ENS">
      <DA name="stVal" bType="Enum" type="Beh" fc="ST" dchg="true"/>
      <DA name="q" bType="Quality" fc="ST" qchg="true"/>
    </DOType>
    <DOType id="MV_T" cdc="MV">
      <DA name="mag" bType="Struct" type="AV" fc="MX" dchg="true"/>
      <DA name="db" bType="INT32U" fc="CF"><Val>500</Val></DA>
    </DOType>
    <DAType id="AV">
      <BDA name="f" bType="FLOAT32"/>
    </DAType>
    <EnumType id="Beh">
      <EnumVal ord="1">on</EnumVal>
      <EnumVal ord="5">off</EnumVal>
    </EnumType>
  </DataTypeTemplates>
</SCL>
"""


def load(text: str) -> object:
    return load_scl(text.encode())


def test_good_snippet_loads() -> None:
    model = load_scl(GOOD.encode())
    mod = model.find(model.ref("LD0/MMXU1.Mod.stVal"), FC.ST)
    assert isinstance(mod, DataAttribute) and mod.value == 1
    db = model.find(model.ref("LD0/MMXU1.TotW.db"), FC.CF)
    assert isinstance(db, DataAttribute) and db.value == 500
    rcb = model.report_controls()[0]
    assert rcb.max_clients == 3 and rcb.trg_ops.period and not rcb.trg_ops.qchg


def sub(old: str, new: str) -> str:
    assert old in GOOD, old
    return GOOD.replace(old, new, 1)


CASES = [
    ("not-xml", "<SCL><IED></SCL>", "not well-formed XML", 1),
    ("not-xml-line", GOOD.replace("</LN0>", "</LN1>"), "not well-formed XML", 17),
    (
        "wrong-root",
        '<?xml version="1.0"?>\n<Foo xmlns="http://www.iec.ch/61850/2003/SCL"/>',
        "root element",
        2,
    ),
    (
        "wrong-namespace",
        GOOD.replace("http://www.iec.ch/61850/2003/SCL", "urn:x"),
        "root element",
        2,
    ),
    (
        "doctype",
        '<?xml version="1.0"?>\n<!DOCTYPE SCL [<!ENTITY a "aaaa">]>\n<SCL/>',
        "DOCTYPE",
        None,
    ),
    (
        "no-ied",
        sub(GOOD[GOOD.index("  <IED") : GOOD.index("  <DataTypeTemplates")], ""),
        "no IED",
        2,
    ),
    (
        "no-access-point",
        sub('<AccessPoint name="AP1">', "<Other>").replace("</AccessPoint>", "</Other>"),
        "no AccessPoint",
        4,
    ),
    (
        "no-server",
        sub("<Server>", "<ServerAt>").replace("</Server>", "</ServerAt>"),
        "has a Server",
        5,
    ),
    ("unknown-lntype", sub('lnType="MMXU_T"', 'lnType="NOPE"'), "unknown lnType 'NOPE'", 18),
    (
        "lnclass-mismatch",
        sub('<LNodeType id="MMXU_T" lnClass="MMXU">', '<LNodeType id="MMXU_T" lnClass="MMTR">'),
        "is for lnClass",
        18,
    ),
    (
        "unknown-dotype",
        sub('<DO name="TotW" type="MV_T"/>', '<DO name="TotW" type="MV_X"/>'),
        "unknown DOType 'MV_X'",
        31,
    ),
    ("unknown-datype", sub('type="AV" fc="MX"', 'type="AVX" fc="MX"'), "unknown DAType 'AVX'", 38),
    (
        "unknown-enum",
        sub('type="Beh" fc="ST"', 'type="BehX" fc="ST"'),
        "unknown EnumType 'BehX'",
        34,
    ),
    ("bad-btype", sub('bType="INT32U"', 'bType="INT31U"'), "bad bType 'INT31U'", 39),
    ("bad-fc", sub('fc="CF"><Val>', 'fc="ZZ"><Val>'), "unknown functional constraint", 39),
    (
        "duplicate-lnodetype",
        sub('<LNodeType id="MMXU_T" lnClass="MMXU">', '<LNodeType id="LLN0_T" lnClass="MMXU">'),
        "duplicate LNodeType id 'LLN0_T'",
        29,
    ),
    (
        "duplicate-do",
        sub('<DO name="TotW" type="MV_T"/>', '<DO name="Mod" type="MV_T"/>'),
        "duplicate DO 'Mod'",
        31,
    ),
    (
        "duplicate-da",
        sub('<DA name="q" bType="Quality"', '<DA name="stVal" bType="Quality"'),
        "duplicate name 'stVal'",
        35,
    ),
    ("duplicate-enum-ord", sub('<EnumVal ord="5">', '<EnumVal ord="1">'), "duplicate ord 1", 46),
    (
        "duplicate-ln",
        sub(
            '<LN lnClass="MMXU" inst="1" lnType="MMXU_T">',
            '<LN lnClass="MMXU" inst="1" lnType="MMXU_T"/>\n'
            '          <LN lnClass="MMXU" inst="1" lnType="MMXU_T">',
        ),
        "duplicate logical node 'MMXU1'",
        19,
    ),
    (
        "bad-do-name",
        sub('<DO name="TotW" type="MV_T"/>', '<DO name="totW" type="MV_T"/>'),
        "bad data-object name 'totW'",
        31,
    ),
    ("bad-ln-class", sub('<LN lnClass="MMXU"', '<LN lnClass="Mmxu"'), "bad lnClass", 18),
    (
        "fcda-nowhere",
        sub('doName="TotW" fc="MX"', 'doName="TotVAr" fc="MX"'),
        "points to nothing",
        10,
    ),
    (
        "fcda-wrong-fc",
        sub('doName="TotW" fc="MX"', 'doName="TotW" fc="ST"'),
        "has no data under FC ST",
        10,
    ),
    (
        "fcda-unknown-ld",
        sub('<FCDA ldInst="LD0"', '<FCDA ldInst="LD9"'),
        "unknown LDevice 'LD9'",
        10,
    ),
    ("rcb-unknown-dataset", sub('datSet="Ds1"', 'datSet="Ds2"'), "no dataset 'Ds2'", 12),
    (
        "rcb-bad-max",
        sub('<RptEnabled max="3"/>', '<RptEnabled max="300"/>'),
        "RptEnabled max 300",
        15,
    ),
    ("rcb-bad-number", sub('intgPd="1000"', 'intgPd="-1"'), "intgPd='-1'", 12),
    ("bad-val-int", sub("<Val>500</Val>", "<Val>lots</Val>"), "does not parse", 39),
    ("bad-val-range", sub("<Val>500</Val>", "<Val>-5</Val>"), "does not parse", 39),
    ("bad-val-enum", sub("<Val>on</Val>", "<Val>maybe</Val>"), "does not parse", 19),
    ("doi-unknown", sub('<DOI name="Mod">', '<DOI name="Beh">'), "has no such DO", 19),
    ("dai-unknown", sub('<DAI name="stVal">', '<DAI name="stVol">'), "has no such member", 19),
    (
        "recursive-datype",
        sub('<BDA name="f" bType="FLOAT32"/>', '<BDA name="f" bType="Struct" type="AV"/>'),
        "contains itself",
        42,
    ),
    (
        "no-templates",
        sub(GOOD[GOOD.index("  <DataTypeTemplates") : GOOD.index("</SCL>")], ""),
        "no DataTypeTemplates",
        2,
    ),
    (
        "two-ln0",
        sub(
            '<LN lnClass="MMXU" inst="1" lnType="MMXU_T">',
            '<LN0 lnClass="LLN0" inst="" lnType="LLN0_T"/>\n'
            '          <LN lnClass="MMXU" inst="1" lnType="MMXU_T">',
        ),
        "duplicate logical node 'LLN0'",
        18,
    ),
    ("bad-flag", sub('buffered="true"', 'buffered="yes"'), "buffered='yes'", 12),
    ("bad-trigger-flag", sub('fc="ST" dchg="true"', 'fc="ST" dchg="maybe"'), "dchg='maybe'", 34),
    ("missing-attribute", sub('<LDevice inst="LD0">', "<LDevice>"), "needs attribute 'inst'", 7),
]


@pytest.mark.parametrize(
    ("text", "fragment", "line"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_broken_scl(text: str, fragment: str, line: int | None) -> None:
    with pytest.raises(SclError) as info:
        load(text)
    err = info.value
    assert isinstance(err, DerlinkError)
    assert fragment in str(err)
    assert err.line == line, str(err)
    assert str(err).startswith("<bytes>")


def test_ied_selection() -> None:
    two = GOOD.replace(
        "  <DataTypeTemplates>",
        '  <IED name="IED2"><AccessPoint name="A"/></IED>\n  <DataTypeTemplates>',
    )
    with pytest.raises(SclError, match="several IEDs"):
        load_scl(two.encode())
    assert load_scl(two.encode(), "IED1").ied_name == "IED1"
    with pytest.raises(SclError, match="no IED named 'IED3'"):
        load_scl(two.encode(), "IED3")
    with pytest.raises(SclError, match="has a Server"):
        load_scl(two.encode(), "IED2")


def test_rename() -> None:
    model = load_scl(GOOD.encode(), rename="DER042")
    assert model.logical_devices() == ("DER042LD0",)
    with pytest.raises(SclError, match="IED name"):
        load_scl(GOOD.encode(), rename="bad name")


def test_file_errors_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.icd"
    path.write_text(GOOD.replace('bType="INT32U"', 'bType="INT31U"'))
    with pytest.raises(SclError) as info:
        load_scl(path)
    assert str(info.value).startswith(f"{path}:39: ")
    with pytest.raises(SclError, match="cannot read"):
        load_scl(tmp_path / "missing.icd")
    with pytest.raises(SclError, match="larger than"):
        load_scl(path, max_bytes=100)
    with pytest.raises(SclError, match="larger than"):
        load_scl(GOOD.encode(), max_bytes=100)


def test_billion_laughs_refused_quickly() -> None:
    bomb = (
        '<?xml version="1.0"?>\n<!DOCTYPE SCL [<!ENTITY a "aaaaaaaaaa">'
        + "".join(f'<!ENTITY a{i} "{"&a;" * 10}">' for i in range(8))
        + ']>\n<SCL xmlns="http://www.iec.ch/61850/2003/SCL">&a7;</SCL>'
    )
    with pytest.raises(SclError, match="DOCTYPE"):
        load_scl(bomb.encode())


def test_external_entity_without_doctype_is_not_resolved() -> None:
    text = GOOD.replace("<Val>500</Val>", "<Val>&xxe;</Val>")
    with pytest.raises(SclError, match="not well-formed"):
        load_scl(text.encode())


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_mutated_scl_loads_or_fails_cleanly(data: st.DataObject) -> None:
    """Cut, duplicate or overwrite a piece of a good file: a model or an SclError, no crash."""
    text = GOOD.encode()
    start = data.draw(st.integers(0, len(text) - 1))
    end = data.draw(st.integers(start, min(len(text), start + 40)))
    action = data.draw(st.sampled_from(["cut", "dup", "junk"]))
    if action == "cut":
        mutated = text[:start] + text[end:]
    elif action == "dup":
        mutated = text[:end] + text[start:end] + text[end:]
    else:
        junk = data.draw(st.binary(min_size=1, max_size=8))
        mutated = text[:start] + junk + text[end:]
    with contextlib.suppress(SclError):
        load_scl(mutated)
