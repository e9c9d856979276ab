"""Stamped PDFs as real producers write them (QA round 5): scan apps' watermarks, OCR
layers that could not read Chinese, print-to-PDF exports without a Unicode map,
black-and-white office scans and long merged scans."""
from __future__ import annotations

import io
from datetime import timedelta
from email.message import EmailMessage
from email.utils import format_datetime

import pikepdf
import pytest

from mail_corpus import OWN
from pipeline_harness import ON_TIME, Pipeline
from pipeline.checks import Context, _seal_present
from pipeline.forms.pdf import ocr_available, read_pdf
from pipeline.forms.seal import MAX_PAGES, find_seal
from pipeline.models import PdfFacts, SealEvidence
from pipeline.samples.apps import sample_applications
from pipeline.samples.forms import build_form_docx
from pipeline.samples.pdfs import (
    bilevel_scan_pdf,
    build_form_pdf,
    scan_app_pdf,
    unmapped_export_pdf,
)
from pipeline.units import unit_in_text

from test_seal import APP

needs_ocr = pytest.mark.skipif(not ocr_available(), reason="tesseract with chi_sim not installed")


@pytest.fixture(scope="module")
def form():
    app = sample_applications()[0]
    return app, build_form_docx(app), build_form_pdf(app, seal="red")


def mail(files, when=ON_TIME) -> bytes:
    msg = EmailMessage()
    msg["From"] = "lixiaoyan@163.com"
    msg["To"] = OWN
    msg["Subject"] = "试点申报材料"
    msg["Date"] = format_datetime(when)
    msg.set_content("附件为申报材料。")
    for name, data in files:
        msg.add_attachment(data, maintype="application", subtype="octet-stream", filename=name)
    return msg.as_bytes()


def typed_appendix() -> bytes:
    """A typed appendix: readable Chinese text, none of the form's headings."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    from pipeline.samples.pdfs import _font

    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4)
    c.setFont(_font(), 12)
    for i, line in enumerate(["附件：近三年科技志愿服务工作情况佐证材料", "1. 2024年科技活动周志愿服务照片",
                              "2. 科技志愿服务队成员名单（共62人）", "3. 大美志愿平台注册截图"]):
        c.drawString(72, 760 - 24 * i, line)
    c.showPage()
    c.save()
    return buf.getvalue()


# -- f1/f2: a scan app's watermark is no text layer ---------------------------------


def test_scan_app_watermark_is_not_the_files_text():
    """CamScanner's "扫描全能王 创建" on every page: the scan has no text of its own, and
    with OCR off nothing is read (the staff check the scan), instead of a "layer"."""
    facts = read_pdf(scan_app_pdf(build_form_pdf(APP, seal="red")), ocr=False)
    assert not facts.has_text_layer and facts.text_source == "" and facts.text == ""
    assert facts.seal.kind == "red"


@needs_ocr
def test_a_watermarked_scan_is_read_by_ocr_and_names_another_unit():
    """The watermark must not switch off our OCR: the unit check still sees another unit's form."""
    other = sample_applications()[3]
    facts = read_pdf(scan_app_pdf(build_form_pdf(other, seal="red")))
    assert facts.text_source == "ocr"
    assert other.unit != APP.unit_name and unit_in_text(other.unit, facts.text)


@needs_ocr
def test_a_scan_apps_ocr_layer_without_chinese_is_replaced_by_ocr():
    """Adobe Scan / Office Lens write Latin letters over a Chinese page: we OCR it ourselves."""
    facts = read_pdf(scan_app_pdf(build_form_pdf(APP, seal="red"), watermark=None, latin_layer=True, seed=3))
    assert facts.text_source == "ocr" and "申报" in facts.text.replace(" ", "")


def test_own_text_drops_watermarks_and_lines_on_every_page_of_a_scan():
    from pipeline.consistency import own_text

    pages = ["申报单位：甲\n扫描全能王 创建\n由某某App生成", "三、工作基础\n  扫描全能王 创建\n由某某App生成"]
    assert own_text(pages) == ["申报单位：甲", "三、工作基础"]
    assert own_text(pages, repeated=False) == ["申报单位：甲\n由某某App生成", "三、工作基础\n由某某App生成"]
    assert own_text(["同一页\n同一行", "同一页\n同一行"], repeated=False) == ["同一页\n同一行"] * 2


def test_an_export_without_unicode_map_is_unreadable_but_kept_as_its_layer():
    from pipeline.consistency import readable_text

    facts = read_pdf(unmapped_export_pdf(build_form_pdf(APP, seal="none")), ocr=False)
    assert facts.has_text_layer and facts.text_source == "layer"
    assert not readable_text(facts.text)
    assert readable_text("Cooperation agreement 2025") and readable_text("附件：佐证材料清单共三项内容说明")


@pytest.mark.parametrize("second", ["scan_app", "unmapped"])
def test_a_stamped_pdf_sent_after_a_correction_is_judged_whatever_its_text_layer(tmp_path, form, second):
    """Word + unstamped export get a 补正通知; the stamped CamScanner scan (or a print-to-PDF
    export with the seal picture) that follows is the form, not an appendix."""
    app, docx, _ = form
    stamped = (scan_app_pdf(build_form_pdf(app, seal="red")) if second == "scan_app"
               else unmapped_export_pdf(build_form_pdf(app, seal="none")))
    p = Pipeline(tmp_path)
    try:
        p.feed(mail([("申报书.docx", docx), ("申报书.pdf", build_form_pdf(app, seal="none"))]))
        p.judge()
        later = ON_TIME + timedelta(days=1)
        p.feed(mail([("扫描全能王 2025-06-21 10.15.pdf", stamped)], later), later)
        p.judge()
        assert [r["status"] for r in p.rows("SELECT status FROM applicants")] == ["accepted"]
        assert [r["kind"] for r in p.rows("SELECT kind FROM outbox ORDER BY id")] == ["correction", "receipt"]
    finally:
        p.close()


def test_a_watermarked_scan_beats_a_typed_appendix_in_the_same_mail(tmp_path, form):
    app, docx, _ = form
    p = Pipeline(tmp_path)
    try:
        p.feed(mail([("申报书.docx", docx), ("新文档 2025-06-20 10.15.12.pdf", scan_app_pdf(build_form_pdf(app, seal="red"))),
                     ("附件1.pdf", typed_appendix())]))
        p.judge()
        assert [r["status"] for r in p.rows("SELECT status FROM applicants")] == ["accepted"]
    finally:
        p.close()


# -- f3: a black-and-white scan cannot show a red seal -------------------------------


def test_a_bilevel_scan_without_a_ring_is_a_black_and_white_verdict():
    facts = read_pdf(bilevel_scan_pdf(build_form_pdf(APP, seal="red")), ocr=False)
    assert facts.seal.kind == "grey" and facts.seal.page is None
    assert [f.code for f in facts.problems] == ["missing_stamp"]
    assert [h.variant for h in _seal_present(Context(None, None, None, facts), {})] == ["bw"]


def test_a_colour_export_without_a_seal_is_still_told_to_stamp():
    facts = read_pdf(build_form_pdf(APP, seal="none"), ocr=False)
    assert facts.seal.kind == "none"
    assert [h.variant for h in _seal_present(Context(None, None, None, facts), {})] == ["none"]


# -- f4: a long merged scan --------------------------------------------------------


def test_the_forms_own_pages_are_searched_before_a_long_appendix():
    """A 5-page stamped form with 60 appendix pages after it and no text naming 八 to
    search first: the form's last page is still among the pages searched."""
    pdf = pikepdf.open(io.BytesIO(build_form_pdf(APP, seal="red", seed=2)))
    appendix = pikepdf.open(io.BytesIO(build_form_pdf(APP, seal="none", seed=2)))
    for _ in range(60):
        pdf.pages.append(appendix.pages[1])
    out = io.BytesIO()
    pdf.save(out)
    evidence = find_seal(out.getvalue())
    assert (evidence.kind, evidence.page) == ("red", 5)


@pytest.mark.parametrize("opinion_page, variant", [(None, "too_long"), (5, "none")])
def test_past_the_page_cap_without_a_seal_asks_for_the_form_alone(opinion_page, variant):
    """Unless the page naming 八 was searched, a file longer than the pages searched was
    not seen whole: the reply asks for the form alone, not for a stamp."""
    facts = PdfFacts(pages=MAX_PAGES + 15, seal=SealEvidence("none", detail="检查了 60 页（共 75 页，其余未检查）"),
                     opinion_page=opinion_page)
    hits = list(_seal_present(Context(None, None, None, facts), {}))
    assert [h.variant for h in hits] == [variant]


@pytest.mark.parametrize("angle", [180, 90])
def test_a_scan_turned_sideways_or_upside_down_is_still_read(angle):
    """The seal was found but OCR read nothing: staff got "无法自动核对" and another unit's
    scan would have passed unnoticed."""
    from PIL import Image

    from pipeline.forms import ocr
    from pipeline.forms.pdf import read_pdf
    from pipeline.samples.apps import sample_applications
    from pipeline.samples.pdfs import build_form_pdf, scan_pdf

    if not ocr.available():
        pytest.skip("tesseract with chi_sim not installed")
    app = sample_applications()[0]
    upright = pdfium_images(scan_pdf(build_form_pdf(app)))
    turned = [im.rotate(angle, expand=True) for im in upright]
    out = io.BytesIO()
    turned[0].save(out, "PDF", save_all=True, append_images=turned[1:], resolution=150)
    facts = read_pdf(out.getvalue())
    assert facts.text_source == "ocr"
    assert "红旗区" in facts.text.replace(" ", "")


def pdfium_images(data: bytes):
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(data)
    try:
        return [doc[i].render(scale=150 / 72).to_pil().convert("RGB") for i in range(len(doc))]
    finally:
        doc.close()


@pytest.mark.parametrize("seed", [2, 6, 9, 11])
def test_a_colour_scan_of_an_unstamped_form_is_asked_to_stamp_not_to_scan_in_colour(seed):
    """Colour scans whose pages happen to show no colour (no seal, grey paper) were told they were
    black-and-white scans: the applicant who forgot the stamp would rescan the unstamped sheet."""
    from pipeline.forms.pdf import read_pdf
    from pipeline.samples.apps import sample_applications
    from pipeline.samples.pdfs import build_form_pdf

    facts = read_pdf(build_form_pdf(sample_applications()[0], seal="none", scan=True, seed=seed))
    assert facts.seal.kind == "none"
    (stamp,) = [p for p in facts.problems if p.code == "missing_stamp"]
    assert "加盖单位公章" in stamp.message and "黑白" not in stamp.message


def test_a_greyscale_jpeg_scan_without_a_ring_is_a_black_and_white_scan():
    """No ring at all on greyscale pictures: the seal, if any, cannot show (a grey ring found is
    the photocopy verdict, tested elsewhere)."""
    from PIL import Image

    from pipeline.forms.pdf import read_pdf
    from pipeline.samples.apps import sample_applications
    from pipeline.samples.pdfs import build_form_pdf

    pages = [im.convert("L") for im in pdfium_images(build_form_pdf(sample_applications()[0], seal="none"))]
    out = io.BytesIO()
    pages[0].save(out, "PDF", save_all=True, append_images=pages[1:], resolution=150)
    facts = read_pdf(out.getvalue())
    assert (facts.seal.kind, facts.seal.page) == ("grey", None)
    assert any("黑白" in p.message and "彩色模式扫描" in p.message for p in facts.problems)
