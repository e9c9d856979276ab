"""The stamped PDF must be the same application as the Word form."""
from __future__ import annotations

import dataclasses

import pytest
from datetime import datetime, timedelta, timezone
from pathlib import Path

from pipeline.checks import Context
from pipeline.consistency import containment, pdf_units
from pipeline.models import Application, Document, PdfFacts, Section, SealEvidence, Submission
from pipeline.ruleset import load_rules

RULES = Path(__file__).resolve().parents[2] / "rules" / "xinxiang-2025-kjzyfw.toml"
CST = timezone(timedelta(hours=8))
T = datetime(2025, 6, 20, 10, tzinfo=CST)
BASIS = "本单位自2019年起组建科技志愿服务队，围绕乡村振兴和科学素质提升开展活动，累计服务群众三万余人次，与辖区内三所高校建立合作。"
PLAN = "组建不少于一支、每支不少于五十人的科技志愿服务队，在大美志愿小程序完成注册，全年开展活动不少于五次，建设服务站点一个。"
APP = Application(unit_name="新乡市红旗区科学技术协会", work_basis=Section(BASIS, 60), plan=Section(PLAN, 60))


def facts(text: str, *, layer: bool = True) -> PdfFacts:
    return PdfFacts(pages=5, text=text, has_text_layer=layer, seal=SealEvidence("red", 5, 0.9))


def _findings(app: Application, pdf: PdfFacts):
    rs = load_rules(RULES)
    doc = Document("0" * 64, "f", "docx", 1, T, "m")
    sub = Submission("k", "a@qq.com", doc, doc, T, T, T)
    return rs.evaluate(Context(rs.call, sub, app, pdf))


def codes(app: Application, pdf: PdfFacts):
    return [(f.code, f.severity, f.staff_only) for f in _findings(app, pdf) if f.code == "unit_mismatch"]


def test_same_application_passes():
    text = f"申报单位：新乡市红旗区科协\n三、工作基础\n{BASIS}\n四、试点建设方案\n{PLAN}"
    assert codes(APP, facts(text)) == []


def test_other_units_pdf_is_an_error():
    text = f"申报单位：新乡市卫滨区科学技术协会\n{BASIS}{PLAN}"
    assert codes(APP, facts(text)) == [("unit_mismatch", "error", False)]


def test_different_text_is_an_error_and_a_close_draft_a_staff_warning():
    assert codes(APP, facts("申报单位：新乡市红旗区科学技术协会\n完全不同的另一份申报书内容。" * 5)) == [("unit_mismatch", "error", False)]
    draft = f"申报单位：新乡市红旗区科学技术协会\n{BASIS}\n" + PLAN[:20]
    assert codes(APP, facts(draft)) == [("unit_mismatch", "warning", True)]


def test_scan_cannot_be_compared_and_says_so_to_staff_only():
    assert codes(APP, facts("", layer=False)) == [("unit_mismatch", "warning", True)]


def test_helpers():
    assert containment("短", "短") is None
    assert containment(BASIS, "x" + BASIS.replace("，", "，\n") + "y") > 0.9
    assert pdf_units("一、申报单位基本情况\n单位名称 新乡学院科学技术协会\n") == ["新乡学院科学技术协会"]


def test_budget_total_and_pilot_type_must_agree():
    import dataclasses
    from decimal import Decimal

    from pipeline.consistency import pdf_pilot_types, pdf_total
    from pipeline.forms.pdf import read_pdf
    from pipeline.samples.apps import sample_applications
    from pipeline.samples.pdfs import build_form_pdf

    app = sample_applications()[0]
    same = read_pdf(build_form_pdf(app))
    assert pdf_total(same.text) == app.budget_total
    assert pdf_pilot_types(same.text) == app.pilot_types
    assert codes(app, same) == []
    older = dataclasses.replace(app, budget_total=app.budget_total + Decimal("400"))
    assert codes(older, same) == [("unit_mismatch", "error", False)]
    other_type = dataclasses.replace(app, pilot_types=("其它单位",))
    assert codes(other_type, same) == [("unit_mismatch", "error", False)]


def test_pdf_total_skips_the_forms_own_note():
    from pipeline.consistency import pdf_total

    assert pdf_total("注：经费支出合计不超过 4000 元。\n序号 支出事项\n合计: 3,600.00 (单位:人民币元)") == 3600
    assert pdf_total("注：经费支出合计不超过 4000 元。") is None


def test_garbled_text_layer_is_only_a_staff_note():
    garbled = "\x01\x02 ÿþ #$%&' " * 40 + "abc def ghi " * 20
    assert codes(APP, facts(garbled)) == [("unit_mismatch", "warning", True)]
    note = next(f for f in _findings(APP, facts(garbled)) if f.code == "unit_mismatch")
    assert "文字层无法读出" in note.message and "扫描件" not in note.message  # it has a text layer, it is no scan


def test_a_scan_layer_that_is_not_the_form_is_no_font_problem():
    """A scanner's layer reading as no text of this form is a scan note, not "字体缺少编码映射"."""
    latin = "Il1 t;: rJ|! fj ,.-_ " * 40
    layer = dataclasses.replace(facts(latin), text_source="scan_layer")
    note = next(f for f in _findings(APP, layer) if f.code == "unit_mismatch")
    assert (note.severity, note.staff_only) == ("warning", True)
    assert "扫描件" in note.message and "编码映射" not in note.message


def test_pdf_total_survives_numbers_wrapped_in_narrow_cells():
    from pipeline.consistency import pdf_total

    assert pdf_total("注: 经费支出合计不超过 4000 元。\n合计:\n270\n0\n(单位:人\n民币元)") == 2700
    assert pdf_total("合计:\n3,6\n00.00\n(单位") == 3600


def test_libreoffice_export_of_the_same_form_matches(tmp_path):
    import subprocess

    import pytest

    from pipeline.convert import soffice
    from pipeline.forms.docx import read_form
    from pipeline.forms.pdf import read_pdf
    from pipeline.samples.apps import sample_applications
    from pipeline.samples.forms import build_form_docx

    if soffice() is None:
        pytest.skip("LibreOffice not installed")
    for i, app in enumerate(sample_applications()[:3]):
        src = tmp_path / f"f{i}.docx"
        src.write_bytes(build_form_docx(app))
        subprocess.run(
            [soffice(), f"-env:UserInstallation={(tmp_path / 'p').as_uri()}", "--headless", "--convert-to", "pdf", "--outdir", str(tmp_path), str(src)],
            check=True, capture_output=True, timeout=120,
        )
        pdf = read_pdf((tmp_path / f"f{i}.pdf").read_bytes())
        assert pdf.text_source == "layer"
        assert [c for c in codes(read_form(src.read_bytes()), pdf)] == []


def test_ocr_gaps_between_chinese_characters_do_not_cut_the_unit_name():
    ocr = "试点类型 : 国 县级科协试点\n申报单位 : 新乡市红旗区科 学技术协会\n\n主要负责人 : 王建国\n"
    assert pdf_units(ocr, ocr=True) == ["新乡市红旗区科学技术协会"]
    assert pdf_units("申报单位 : 新乡学院 科 协 主要负责人 : 王\n", ocr=True) == ["新乡学院科协"]
    ocr_facts = PdfFacts(pages=5, text=ocr, has_text_layer=False, text_source="ocr", seal=SealEvidence("red", 5, 0.9))
    assert codes(APP, ocr_facts) == []  # no staff note on an ordinary scan


def test_a_scanners_ocr_layer_is_compared_but_only_for_staff():
    """An invisible OCR layer over page images: one misread character is not the applicant's error."""
    misread = f"申报单位：新乡市红旗区科学技木协会\n三、工作基础\n{BASIS}\n四、试点建设方案\n{PLAN}"
    layer = PdfFacts(pages=5, text=misread, has_text_layer=True, text_source="scan_layer", seal=SealEvidence("red", 5, 0.9))
    assert codes(APP, layer) == [("unit_mismatch", "warning", True)]
    other = PdfFacts(pages=5, text=f"申报单位：新乡市卫滨区科学技术协会\n{BASIS}{PLAN}", has_text_layer=True,
                     text_source="scan_layer", seal=SealEvidence("red", 5, 0.9))
    assert codes(APP, other) == [("unit_mismatch", "warning", True)]  # two characters apart: OCR could do that
    clearly_other = dataclasses.replace(other, text=other.text.replace("新乡市卫滨区科学技术协会", "河南师范大学科学技术协会"))
    assert codes(APP, clearly_other) == [("unit_mismatch", "error", False)]  # no misread turns one unit into another
    assert codes(APP, facts(misread)) == [("unit_mismatch", "warning", True)]  # one character off: staff look
    note = next(f for f in _findings(APP, layer) if f.code == "unit_mismatch")
    assert "请工作人员核对" in note.message and "请发送" not in note.message  # a note for staff, not an order
    assert codes(APP, facts(misread.replace("红旗区", "卫滨区"))) == [("unit_mismatch", "error", False)]


def test_nearly_same_unit():
    from pipeline.units import nearly_same_unit

    assert nearly_same_unit("新乡市红旗区科学技术协会", "新乡市红旗区科学技木协会")
    assert nearly_same_unit("新乡市红旗区科协", "新乡市红旗区科协会")
    assert not nearly_same_unit("新乡市红旗区科协", "新乡市卫滨区科协")
    assert not nearly_same_unit("新乡学院", "新乡学校")  # too short to call it a typo
    assert not nearly_same_unit("新乡市红旗区科协", "新乡市红旗区科学技术协会")  # the same unit, not "nearly"


def test_pilot_type_on_the_pdf_cover_is_read_like_the_word_cover():
    """Boxes after the names on one line: the tick belongs to the option before it, not the next."""
    from pipeline.consistency import pdf_pilot_types

    after = "新乡市科技志愿服务试点建设\n申报书\n试点类型：县级科协试点☑  高校科协试点□  市级学会试点□  其它单位□\n申报单位：X\n"
    assert pdf_pilot_types(after) == ("县级科协试点",)
    assert pdf_pilot_types("试点类型：\n（√）县级科协试点\n（ ）高校科协试点\n") == ("县级科协试点",)
    assert pdf_pilot_types("试点类型：□县级科协试点 ✅高校科协试点\n") == ("高校科协试点",)
    # Text after the cover (与其它单位合作 in a section) is not an option left alone.
    body = "试点类型：☑县级科协试点 □高校科协试点\n填 报 说 明\n三、工作基础\n与其它单位合作开展活动。\n"
    assert pdf_pilot_types(body) == ("县级科协试点",)
    app = dataclasses.replace(APP, pilot_types=("县级科协试点",))
    pdf = facts(after + f"三、工作基础\n{BASIS}\n四、试点建设方案\n{PLAN}")
    assert codes(app, pdf) == []
    assert codes(dataclasses.replace(app, pilot_types=("高校科协试点",)), pdf) == [("unit_mismatch", "error", False)]


def test_a_long_unit_name_wrapped_in_the_pdf_is_the_same_unit():
    long_unit = "新乡市红旗区" + "科学技术普及与志愿服务促进中心" * 3 + "科学技术协会"
    app = dataclasses.replace(APP, unit_name=long_unit)
    wrapped = f"申报单位：{long_unit[:25]}\n{long_unit[25:]}\n三、工作基础\n{BASIS}\n四、试点建设方案\n{PLAN}"
    assert codes(app, facts(wrapped)) == []
    other = wrapped.replace("红旗区", "卫滨区")
    assert codes(app, facts(other)) == [("unit_mismatch", "error", False)]


def test_another_units_name_on_the_cover_is_not_excused_by_the_own_name_elsewhere():
    """A PDF printed from another unit's file (cover and 单位名称 say 新乡县科协) where the
    Word's unit shows only on the account-name line: not the same application."""
    text = (f"申报单位：新乡县科学技术协会\n一、申报单位基本情况\n单位名称 新乡县科学技术协会\n"
            f"三、工作基础\n{BASIS}\n四、试点建设方案\n{PLAN}\n账户名称：{APP.unit_name}")
    assert codes(APP, facts(text)) == [("unit_mismatch", "error", False)]


@pytest.mark.parametrize(
    "line, word_total",
    [("合计 2014 3600", 3600), ("合计 2014 3,600.00 按实际测算", 3600), ("合计 3600 800", 3600), ("合计 4项 3600", 3600),
     ("合计:\n270\n0\n(单位", 2700)],
    ids=["quantity_column", "basis_column", "own_funds_column", "count_column", "wrapped"],
)
def test_a_total_row_with_more_columns_matches_the_words_total(line, word_total):
    """Extra columns glued together read 20,143,600 元 and the applicant was told the two files
    were different versions."""
    from decimal import Decimal

    app = dataclasses.replace(APP, budget_total=Decimal(word_total))
    text = f"申报单位：新乡市红旗区科学技术协会\n{BASIS}\n{PLAN}\n七、经费支出预算表\n{line}\n"
    assert codes(app, facts(text)) == []


def test_a_different_total_is_an_error_when_unambiguous_and_a_staff_note_when_not():
    from decimal import Decimal

    app = dataclasses.replace(APP, budget_total=Decimal(3600))
    base = f"申报单位：新乡市红旗区科学技术协会\n{BASIS}\n{PLAN}\n七、经费支出预算表\n"
    assert codes(app, facts(base + "合计 3800\n")) == [("unit_mismatch", "error", False)]
    assert codes(app, facts(base + "合计 2014 3800\n")) == [("unit_mismatch", "warning", True)]


def test_a_traditional_character_ocr_layer_names_the_same_unit():
    """A scanner's OCR layer with mixed 简/繁 recognition: 申报单位：新鄉市紅旗區科學技術協會 made the
    applicant hear that the PDF named another unit."""
    text = f"申报单位：新鄉市紅旗區科學技術協會\n三、工作基础\n{BASIS}\n四、试点建设方案\n{PLAN}"
    assert codes(APP, facts(text)) == []
    (unit,) = pdf_units("申報單位：新鄉市紅旗區科學技術協會")
    assert unit == "新乡市红旗区科学技术协会"


def test_a_total_in_wan_yuan_matches_as_printed():
    """Under a 金额（万元） header the Word total is 3,600 元 but the PDF prints 0.36."""
    from decimal import Decimal

    app = dataclasses.replace(APP, budget_total=Decimal(3600), budget_total_text="0.36")
    text = f"申报单位：新乡市红旗区科学技术协会\n{BASIS}\n{PLAN}\n七、经费支出预算表（单位：万元）\n合计 0.36\n"
    assert codes(app, facts(text)) == []
    assert codes(dataclasses.replace(app, budget_total_text="0.38", budget_total=Decimal(3800)), facts(text)) == [("unit_mismatch", "error", False)]


def test_every_total_row_of_the_pdf_is_read():
    """Two forms in one file (a revision above its old draft): the PDF has a 合计 row for each.
    Only the last was read, so the PDF of the very same .docx was "not the same version"."""
    from decimal import Decimal

    from pipeline.consistency import pdf_total, pdf_total_readings

    two = "七、经费支出预算表\n合计: 3,600.00 (单位:人民币元)\n八、申报单位意见\n七、经费支出预算表\n合计: 4500 (单位:人民币元)"
    assert {Decimal(3600), Decimal(4500)} <= set(pdf_total_readings(two))
    assert pdf_total(two) == 4500  # the last row still comes first
    text = f"申报单位：新乡市红旗区科学技术协会\n三、工作基础\n{BASIS}\n四、试点建设方案\n{PLAN}\n"
    for word_total in (3600, 4500):
        app = dataclasses.replace(APP, budget_total=Decimal(word_total), budget_total_text=str(word_total))
        assert codes(app, facts(text + two)) == []


@pytest.mark.parametrize("ocr_text", ["个、申报单位\n申报单位意见\n", "申报单位意 同意申报\n", "八、申报单位意见：\n同意申报。\n"])
def test_the_opinion_heading_read_by_ocr_is_no_unit_name(ocr_text):
    """Staff read “盖章 PDF 版读出的申报单位是‘申报单位意见’” on phone photos whose OCR lost a character."""
    assert pdf_units(ocr_text, ocr=True) == []


def test_a_long_run_of_spaces_after_the_unit_label_is_read_in_linear_time():
    """`\\s*[:：]?\\s*` after 申报单位 split a run of spaces every way there is: quadratic
    (2.6 s for 20,000 spaces, minutes for a text layer of 200,000) in C code no deadline interrupts."""
    import subprocess
    import sys

    import pipeline

    root = str(Path(pipeline.__file__).resolve().parents[1])
    code = (f"import sys; sys.path.insert(0, {root!r})\nfrom pipeline.consistency import pdf_units\n"
            "print(pdf_units('申报单位' + ' ' * 200_000 + 'x\\n' + '单位名称：' + ' ' * 50_000 + '新乡市红旗区科协'))")
    try:
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=10)
    except subprocess.TimeoutExpired:
        raise AssertionError("pdf_units took more than 10 s") from None
    assert done.stdout.strip() == "['新乡市红旗区科协']", done.stderr
    assert pdf_units("申报单位 ： 新乡市红旗区科协") == ["新乡市红旗区科协"]
    assert pdf_units("申报单位：基本情况 单位名称：新乡学院") == ["新乡学院"]
